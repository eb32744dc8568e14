/*
 * pickle_numpy.c — the numpy part of the pickle walker (pickle.c): numpy.dtype(descr) and its
 * BUILD state, the arrays of numpy.core.multiarray._reconstruct + BUILD and
 * numpy.core.numeric._frombuffer, numpy scalars, joblib's NumpyArrayWrapper (the array's bytes,
 * or a nested pickle of an object array, read from the stream after BUILD), and the accessors
 * importers use to read array elements (lm__nd_get, lm__nd_get_i, lm__nd_at2, lm__dt_field;
 * pickle.h). Shares the walker's state and helpers through pickle_internal.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickle.h"
#include "formats/import/pickle_internal.h"
#include "base/cursor.h"
#include "base/error.h"

/* numpy.dtype(descr): "f8", "i4", "u1", "b1", "V64", "O8", "U3", … (the byte order comes with
 * BUILD). */
int lm__np_dtype(pk *k, const pv *descr, pv **out) {
  const uint8_t *s = descr->s;
  size_t n = descr->len, i = 0;
  if (n && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) i++;
  if (i >= n || !((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || n - i > 12)
    return FAIL(LM_EFORMAT, "numpy.dtype: descriptor is not a kind and a size");
  char kind = (char)s[i++];
  uint64_t size = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return FAIL(LM_EFORMAT, "numpy.dtype: descriptor is not a kind and a size");
    size = size * 10 + (uint64_t)(s[i] - '0');
  }
  if (kind == 'U') size *= 4;
  if (size > (1u << 30)) return FAIL(LM_EFORMAT, "numpy.dtype: item size %llu out of range", (unsigned long long)size);
  pv *v = lm__pk_pv_new(k, LM_PV_DTYPE);
  if (!v) return OOM();
  v->dt_kind = kind;
  v->dt_size = (uint32_t)size;
  v->dt_big = n && s[0] == '>';
  *out = v;
  return LM_OK;
}

/* dtype BUILD state: (version, byte order, subarray, names, fields, elsize, alignment, flags
 * [, metadata]). */
int lm__np_dtype_build(pk *k, pv *dt, const pv *st) {
  if (st->kind != LM_PV_TUPLE || st->n < 8 || st->items[0]->kind != LM_PV_INT ||
      st->items[1]->kind != LM_PV_STR || st->items[1]->len != 1 || st->items[5]->kind != LM_PV_INT)
    return FAIL(LM_EFORMAT, "pickle opcode BUILD: numpy dtype state is not (version, byte order, "
                            "subarray, names, fields, elsize, alignment, flags)");
  if (st->items[2]->kind != LM_PV_NONE)
    return FAIL(LM_EUNSUPPORTED, "numpy dtype with a subarray: not supported");
  dt->dt_big = st->items[1]->s[0] == '>';
  const pv *f = st->items[4];
  if (f->kind == LM_PV_DICT) dt->dt_fields = f;
  else if (f->kind != LM_PV_NONE) return FAIL(LM_EFORMAT, "numpy dtype fields: expected a dict or None");
  int64_t es = st->items[5]->i;
  if (es > 0 && (dt->dt_kind == 'V' || dt->dt_kind == 'U' || dt->dt_kind == 'S')) {
    if (es > (1 << 30)) return FAIL(LM_EFORMAT, "numpy dtype elsize %lld out of range", (long long)es);
    dt->dt_size = (uint32_t)es;
  }
  return LM_OK;
}

/* shape tuple → a's shape and element count. */
int lm__np_shape(pk *k, pv *a, const pv *shape) {
  if (shape->kind != LM_PV_TUPLE) return FAIL(LM_EFORMAT, "numpy array shape: expected a tuple, got %s", lm__pv_kind_name(shape));
  if (shape->n > LM_ND_MAXDIM) return FAIL(LM_EUNSUPPORTED, "numpy array of %zu dimensions (at most %d)", shape->n, LM_ND_MAXDIM);
  uint64_t count = 1;
  for (size_t i = 0; i < shape->n; i++) {
    const pv *d = shape->items[i];
    if (d->kind != LM_PV_INT || d->i < 0) return FAIL(LM_EFORMAT, "numpy array shape[%zu]: expected an int >= 0", i);
    a->nd_shape[i] = (uint64_t)d->i;
    if (d->i && count > ((uint64_t)1 << 62) / (uint64_t)d->i)
      return FAIL(LM_EFORMAT, "numpy array shape: more than 2^62 elements");
    count *= (uint64_t)d->i;
  }
  a->nd_ndim = (uint32_t)shape->n;
  a->nd_count = count;
  return LM_OK;
}

/* Elements of a (shape set) from bytes data[0, len) or a list of objects. */
int lm__np_data(pk *k, pv *a, const pv *dt, const pv *data) {
  a->nd_dtype = dt;
  if (dt->dt_kind == 'O') {
    if (data->kind != LM_PV_LIST || data->n != a->nd_count)
      return FAIL(LM_EFORMAT, "numpy object array: expected a list of %llu values, got %s",
                  (unsigned long long)a->nd_count, lm__pv_kind_name(data));
    if (data->n && !(a->nd_objs = malloc(data->n * sizeof *a->nd_objs))) return OOM();
    if (data->n) memcpy(a->nd_objs, data->items, data->n * sizeof *a->nd_objs);
    return LM_OK;
  }
  if (data->kind != LM_PV_BYTES)
    return FAIL(LM_EFORMAT, "numpy array data: expected bytes, got %s", lm__pv_kind_name(data));
  if (dt->dt_size && a->nd_count > UINT64_MAX / dt->dt_size)
    return FAIL(LM_EFORMAT, "numpy array: size overflows");
  if ((uint64_t)data->len != a->nd_count * dt->dt_size)
    return FAIL(LM_EFORMAT, "numpy array data: %zu bytes for %llu elements of %u bytes", data->len,
                (unsigned long long)a->nd_count, dt->dt_size);
  a->nd_data = data->s;
  return LM_OK;
}

/* ndarray BUILD state (after _reconstruct): (version, shape, dtype, is_fortran, data). */
int lm__np_array_build(pk *k, pv *a, const pv *st) {
  if (st->kind != LM_PV_TUPLE || st->n != 5 || st->items[2]->kind != LM_PV_DTYPE ||
      (st->items[3]->kind != LM_PV_BOOL && st->items[3]->kind != LM_PV_INT))
    return FAIL(LM_EFORMAT, "pickle opcode BUILD: numpy array state is not (version, shape, dtype, "
                            "is_fortran, data)");
  int rc = lm__np_shape(k, a, st->items[1]);
  if (rc) return rc;
  a->nd_fortran = st->items[3]->i != 0;
  return lm__np_data(k, a, st->items[2], st->items[4]);
}

/* joblib: the wrapper's BUILD state, then the array's bytes (or nested pickle) in the stream. */
int lm__joblib_array(pk *k, pv *w, const pv *st) {
  if (st->kind != LM_PV_DICT) return FAIL(LM_EFORMAT, "joblib NumpyArrayWrapper: state is not a dict");
  const pv *dt = lm__pv_dict_get(st, "dtype"), *shape = lm__pv_dict_get(st, "shape"),
           *order = lm__pv_dict_get(st, "order"), *sub = lm__pv_dict_get(st, "subclass"),
           *align = lm__pv_dict_get(st, "numpy_array_alignment_bytes");
  if (!dt || dt->kind != LM_PV_DTYPE || !shape || !order)
    return FAIL(LM_EFORMAT, "joblib NumpyArrayWrapper: state without dtype, shape or order");
  if (sub && !lm__pv_global_is(sub, "numpy", "ndarray")) {
    char d[160];
    return FAIL(LM_EUNSUPPORTED, "joblib array of subclass %s: not supported (numpy.ndarray is)",
                lm__pv_describe(sub, d, sizeof d));
  }
  if (!lm__pv_str_is(order, "C") && !lm__pv_str_is(order, "F"))
    return FAIL(LM_EFORMAT, "joblib NumpyArrayWrapper: order is not 'C' or 'F'");
  pv a = {0};
  int rc = lm__np_shape(k, &a, shape);
  if (rc) return rc;
  a.nd_fortran = order->s[0] == 'F';
  if (dt->dt_kind == 'O') {
    if (k->nested) return FAIL(LM_EFORMAT, "joblib object array inside a joblib object array");
    pk *k2 = calloc(1, sizeof *k2);
    if (!k2) return OOM();
    k2->c = k->c;
    k2->nested = 1;
    pv *res = NULL;
    rc = lm__pk_run(k2, &res);
    k->c.pos = k2->c.pos;
    /* its values join ours, whatever happened */
    if (k2->all) {
      pv *last = k2->all;
      while (last->next_alloc) last = last->next_alloc;
      last->next_alloc = k->all;
      k->all = k2->all;
    }
    free(k2->stack), free(k2->marks), free(k2->memo), free(k2);
    if (rc) return rc;
    if (res->kind != LM_PV_NDARRAY || !res->nd_dtype || res->nd_dtype->dt_kind != 'O' ||
        res->nd_count != a.nd_count)
      return FAIL(LM_EFORMAT, "joblib object array: the nested pickle does not hold the %llu "
                              "objects announced", (unsigned long long)a.nd_count);
    a.nd_objs = res->nd_objs, res->nd_objs = NULL;
    a.nd_dtype = dt;
  } else {
    const uint8_t *q;
    if (align && align->kind != LM_PV_NONE) {
      if ((rc = lm__cur_take(&k->c, "joblib array padding", 1, &q))) return rc;
      if ((rc = lm__cur_take(&k->c, "joblib array padding", q[0], &q))) return rc;
    }
    if (dt->dt_size && a.nd_count > (uint64_t)SIZE_MAX / dt->dt_size)
      return FAIL(LM_EFORMAT, "joblib array: size overflows");
    size_t nb = (size_t)(a.nd_count * dt->dt_size);
    size_t at = k->c.pos;
    if ((rc = lm__cur_take(&k->c, "joblib array data", nb, &q))) return rc;
    k->c.at = at;
    a.nd_data = q;
    a.nd_dtype = dt;
  }
  w->kind = LM_PV_NDARRAY;
  w->nd_dtype = a.nd_dtype;
  w->nd_ndim = a.nd_ndim;
  w->nd_fortran = a.nd_fortran;
  memcpy(w->nd_shape, a.nd_shape, sizeof w->nd_shape);
  w->nd_count = a.nd_count;
  w->nd_data = a.nd_data;
  w->nd_objs = a.nd_objs;
  return LM_OK;
}

static double load_num(const uint8_t *p, char kind, uint32_t size, int big, int64_t *iv) {
  uint8_t b[8];
  if (size > 8) size = 8;
  for (uint32_t j = 0; j < size; j++) b[j] = big ? p[size - 1 - j] : p[j];
  uint64_t u = lm__le_n(b, (int)size);
  *iv = 0;
  switch (kind) {
  case 'f':
    if (size == 8) {
      double d;
      memcpy(&d, &u, 8);
      *iv = d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : 0;
      return d;
    } else if (size == 4) {
      uint32_t u32 = (uint32_t)u;
      float f;
      memcpy(&f, &u32, 4);
      *iv = f >= -9.2e18f && f <= 9.2e18f ? (int64_t)f : 0;
      return f;
    }
    return NAN;
  case 'i':
    if (size < 8 && (u >> (8 * size - 1) & 1)) u |= ~(uint64_t)0 << (8 * size);
    *iv = (int64_t)u;
    return (double)(int64_t)u;
  case 'u':
  case 'b':
    *iv = u > INT64_MAX ? INT64_MAX : (int64_t)u;
    return (double)u;
  }
  return NAN;
}

double lm__nd_get(const pv *a, uint64_t i, const pv *fdt, uint32_t off) {
  const pv *dt = fdt ? fdt : a->nd_dtype;
  int64_t iv;
  return load_num(a->nd_data + i * a->nd_dtype->dt_size + off, dt->dt_kind, dt->dt_size,
                  dt->dt_big, &iv);
}

int64_t lm__nd_get_i(const pv *a, uint64_t i, const pv *fdt, uint32_t off) {
  const pv *dt = fdt ? fdt : a->nd_dtype;
  int64_t iv;
  load_num(a->nd_data + i * a->nd_dtype->dt_size + off, dt->dt_kind, dt->dt_size, dt->dt_big, &iv);
  return iv;
}

uint64_t lm__nd_at2(const pv *a, uint64_t r, uint64_t c) {
  return a->nd_fortran ? r + c * a->nd_shape[0] : r * a->nd_shape[1] + c;
}

int lm__dt_field(const pv *dt, const char *name, const pv **fdt, uint32_t *off) {
  if (!dt || dt->kind != LM_PV_DTYPE || !dt->dt_fields) return -1;
  const pv *f = lm__pv_dict_get(dt->dt_fields, name);
  if (!f || f->kind != LM_PV_TUPLE || f->n < 2 || f->items[0]->kind != LM_PV_DTYPE ||
      f->items[1]->kind != LM_PV_INT || f->items[1]->i < 0)
    return -1;
  const pv *t = f->items[0];
  if ((uint64_t)f->items[1]->i + t->dt_size > dt->dt_size) return -1;
  *fdt = t;
  *off = (uint32_t)f->items[1]->i;
  return 0;
}

/* numpy.core.multiarray.scalar(dtype, bytes): a number. */
pv *lm__np_scalar(pk *k, const pv *args) {
  if (args->n != 2 || args->items[0]->kind != LM_PV_DTYPE || args->items[1]->kind != LM_PV_BYTES)
    return NULL;
  const pv *dt = args->items[0], *b = args->items[1];
  if (b->len != dt->dt_size || !strchr("fiub", dt->dt_kind) || dt->dt_kind == 0 ||
      (dt->dt_kind == 'f' && dt->dt_size != 4 && dt->dt_size != 8) || dt->dt_size > 8 ||
      dt->dt_size == 0)
    return NULL;
  int64_t iv;
  double d = load_num(b->s, dt->dt_kind, dt->dt_size, dt->dt_big, &iv);
  pv *v = lm__pk_pv_new(k, dt->dt_kind == 'f' ? LM_PV_FLOAT : dt->dt_kind == 'b' ? LM_PV_BOOL : LM_PV_INT);
  if (!v) return NULL;
  v->d = d, v->i = iv;
  return v;
}
