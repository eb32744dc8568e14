/*
 * mxnet_ndarray.c — the MXNet NDArray list reader (mxnet_ndarray.h): the layout of
 * NDArray::Save / NDArray::Load in MXNet's src/ndarray/ndarray.cc, versions v1, v2, v3 and the
 * legacy layout, dense arrays of any mshadow dtype. Used by the Linear Learner importer (its
 * params member) and to name bare NDArray files (SageMaker PCA/KMeans) for what they are.
 *
 * Untrusted input: every count and size is checked against the bytes that remain before use,
 * overflow-safe, and every error names the input, the byte offset and the field, through the
 * byte cursor (base/cursor.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/mxnet_ndarray.h"
#include "base/cursor.h"
#include "base/error.h"

#define ND_V1_MAGIC 0xF993FAC8u
#define ND_V2_MAGIC 0xF993FAC9u
#define ND_V3_MAGIC 0xF993FACAu

/* "(20, 1)" into dst. */
const char *lm__nd_shape_str(char *dst, size_t n, const lm_nd_array *a) {
  size_t k = 0;
  int w = snprintf(dst, n, "(");
  k = w > 0 ? (size_t)w : 0;
  for (uint32_t i = 0; i < a->ndim && k < n; i++) {
    w = snprintf(dst + k, n - k, "%s%" PRId64, i ? ", " : "", a->dims[i]);
    if (w < 0) break;
    k += (size_t)w;
  }
  if (k < n) snprintf(dst + k, n - k, a->ndim == 1 ? ",)" : ")");
  return dst;
}

const char *lm__nd_dtype_name(int32_t t) {
  static const char *const names[] = {"float32", "float64", "float16", "uint8", "int32",
                                      "int8",    "int64",   "bool",    "int16", "uint16",
                                      "uint32",  "uint64",  "bfloat16"};
  return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

/* mshadow type flag → element size; 0 if unknown. */
static size_t dtype_size(int32_t t) {
  static const uint8_t sizes[] = {4, 8, 2, 1, 4, 1, 8, 1, 2, 2, 4, 8, 2};
  return t >= 0 && t < (int32_t)sizeof sizes ? sizes[t] : 0;
}

static const char *stype_name(int32_t s) {
  switch (s) {
  case 0: return "dense";
  case 1: return "row_sparse";
  case 2: return "csr";
  case -1: return "undefined";
  }
  return "unknown";
}

/* Field names "array 3 dtype" into buf. */
static const char *fld(char *buf, size_t n, uint64_t i, const char *what) {
  snprintf(buf, n, "array %" PRIu64 " %s", i, what);
  return buf;
}

/* One array (src/ndarray/ndarray.cc: NDArray::Load, LegacyLoad). */
static int nd_read_array(lm_cursor *k, uint64_t i, lm_nd_array *a) {
  char f[64];
  int rc;
  a->offset = k->pos;
  uint32_t magic;
  if ((rc = lm__cur_u32(k, fld(f, sizeof f, i, "magic"), &magic))) return rc;
  int v3 = magic == ND_V3_MAGIC, i64dims = 1;
  if (magic == ND_V2_MAGIC || magic == ND_V3_MAGIC) {
    a->magic = magic;
    if ((rc = lm__cur_i32(k, fld(f, sizeof f, i, "storage type"), &a->stype))) return rc;
    if (a->stype != 0)
      return lm__cur_fail_at(k, LM_EUNSUPPORTED, k->pos - 4, NULL,
                             "array %" PRIu64
                             " has storage type %d (%s): only dense arrays are supported",
                             i, a->stype, stype_name(a->stype));
  } else if (magic == ND_V1_MAGIC) {
    a->magic = magic;
  } else {
    /* Legacy layout: the word just read is ndim, then ndim uint32 dimensions. */
    a->magic = 0;
    i64dims = 0;
    if (magic > LM_ND_MAX_NDIM)
      return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 4, NULL,
                             "array %" PRIu64 ": bad array magic 0x%08" PRIx32
                             " (not 0xF993FAC8/9/A, nor a legacy ndim ≤ %d)",
                             i, magic, LM_ND_MAX_NDIM);
    a->ndim = magic;
  }
  if (a->magic) {
    if ((rc = lm__cur_u32(k, fld(f, sizeof f, i, "ndim"), &a->ndim))) return rc;
    if (v3 && a->ndim == UINT32_MAX) { /* -1: unknown shape, saved as a "none" array */
      a->empty = 1;
      a->ndim = 0;
      return LM_OK;
    }
    if (a->ndim > LM_ND_MAX_NDIM)
      return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 4, NULL,
                             "array %" PRIu64 ": ndim %" PRIu32 " > %d", i, a->ndim,
                             LM_ND_MAX_NDIM);
  }
  for (uint32_t d = 0; d < a->ndim; d++) {
    snprintf(f, sizeof f, "array %" PRIu64 " dims[%" PRIu32 "]", i, d);
    size_t at = k->pos;
    if (i64dims) {
      uint64_t u;
      if ((rc = lm__cur_u64(k, f, &u))) return rc;
      memcpy(&a->dims[d], &u, sizeof u);
    } else {
      uint32_t u;
      if ((rc = lm__cur_u32(k, f, &u))) return rc;
      a->dims[d] = u;
    }
    /* v3 (numpy shapes) allows 0-size dimensions; before v3 a 0 meant "unknown" and MXNet
     * versions disagree on what follows, so it is refused. */
    if (a->dims[d] < 0 || (a->dims[d] == 0 && !v3))
      return lm__cur_fail_at(k, LM_EFORMAT, at, NULL, "%s = %" PRId64 " is not a valid dimension",
                             f, a->dims[d]);
  }
  /* Before v3 a shape of ndim 0 is a "none" array: nothing else follows. */
  if (a->ndim == 0 && !v3) {
    a->empty = 1;
    return LM_OK;
  }
  if ((rc = lm__cur_i32(k, fld(f, sizeof f, i, "context dev_type"), &a->dev_type))) return rc;
  if (a->dev_type != 1 && a->dev_type != 2 && a->dev_type != 3 && a->dev_type != 5)
    return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 4, NULL,
                           "array %" PRIu64 ": context dev_type %d is not cpu(1), gpu(2), "
                           "cpu_pinned(3) or cpu_shared(5)",
                           i, a->dev_type);
  if ((rc = lm__cur_i32(k, fld(f, sizeof f, i, "context dev_id"), &a->dev_id))) return rc;
  if ((rc = lm__cur_i32(k, fld(f, sizeof f, i, "dtype"), &a->dtype))) return rc;
  size_t esz = dtype_size(a->dtype);
  if (!esz)
    return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 4, NULL, "array %" PRIu64 ": unknown dtype %d",
                           i, a->dtype);
  /* Element count and byte size, overflow-safe; they must fit in the bytes that remain. */
  uint64_t n = 1;
  int overflow = 0;
  for (uint32_t d = 0; d < a->ndim; d++) {
    uint64_t dim = (uint64_t)a->dims[d];
    if (dim == 0) {
      n = 0;
      overflow = 0;
      break;
    }
    if (n > UINT64_MAX / esz / dim) overflow = 1; /* keep looking: a later 0 makes it empty */
    else n *= dim;
  }
  a->data_off = k->pos;
  if (overflow || n * esz > k->n - k->pos) {
    char s[160];
    if (overflow)
      return lm__cur_fail_at(
          k, LM_EFORMAT, k->pos, NULL,
          "truncated: array %" PRIu64 " data of shape %s %s needs more than 2^64 "
          "bytes, %zu left",
          i, lm__nd_shape_str(s, sizeof s, a), lm__nd_dtype_name(a->dtype), k->n - k->pos);
    return lm__cur_fail_at(
        k, LM_EFORMAT, k->pos, NULL,
        "truncated: array %" PRIu64 " data of shape %s %s needs %" PRIu64 " bytes, %zu left", i,
        lm__nd_shape_str(s, sizeof s, a), lm__nd_dtype_name(a->dtype), n * esz, k->n - k->pos);
  }
  a->n_elems = n;
  k->pos += (size_t)(n * esz);
  return LM_OK;
}

/* NDArray::Load(Stream*, vector<NDArray>*, vector<string>*): u64 magic 0x112, u64 reserved,
 * u64 count, the arrays, u64 name count (0 or count), names (u64 length + bytes). */
int lm__nd_read_list(lm_cursor *k, lm_nd_list *l) {
  uint64_t magic, reserved, n, nn;
  int rc;
  if ((rc = lm__cur_u64(k, "file magic", &magic))) return rc;
  if (magic != LM_ND_LIST_MAGIC)
    return lm__cur_fail_at(k, LM_EFORMAT, 0, NULL,
                           "bad magic 0x%016" PRIx64 " (an MXNet NDArray file starts with 0x112)",
                           magic);
  if ((rc = lm__cur_u64(k, "reserved", &reserved))) return rc;
  if ((rc = lm__cur_u64(k, "array count", &n))) return rc;
  /* Every array takes at least 4 bytes. */
  if (n > (k->n - k->pos) / 4)
    return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 8, NULL,
                           "array count %" PRIu64 " cannot fit in the %zu bytes left", n,
                           k->n - k->pos);
  l->n = n;
  l->a = calloc(n ? (size_t)n : 1, sizeof *l->a);
  if (!l->a) return lm__fail(LM_ENOMEM, "%s: out of memory for %" PRIu64 " arrays", k->name, n);
  for (uint64_t i = 0; i < n; i++)
    if ((rc = nd_read_array(k, i, &l->a[i]))) return rc;
  if ((rc = lm__cur_u64(k, "name count", &nn))) return rc;
  if (nn != 0 && nn != n)
    return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 8, NULL,
                           "name count %" PRIu64 " is neither 0 nor the array count %" PRIu64, nn,
                           n);
  l->named = nn != 0;
  for (uint64_t i = 0; i < nn; i++) {
    char f[64];
    uint64_t sl;
    snprintf(f, sizeof f, "name %" PRIu64 " length", i);
    if ((rc = lm__cur_u64(k, f, &sl))) return rc;
    if (sl > k->n - k->pos)
      return lm__cur_fail_at(k, LM_EFORMAT, k->pos - 8, NULL,
                             "truncated: name %" PRIu64 " is %" PRIu64 " bytes, %zu left", i, sl,
                             k->n - k->pos);
    l->a[i].name_off = k->pos;
    l->a[i].name_len = (size_t)sl;
    k->pos += (size_t)sl;
  }
  if (k->pos != k->n)
    return lm__cur_fail_at(k, LM_EFORMAT, k->pos, NULL, "%zu unexpected bytes after the last name",
                           k->n - k->pos);
  return LM_OK;
}

/* "arg:fc0_bias (1, 1) float32, …" for messages. */
const char *lm__nd_summary(const lm_nd_list *l, const uint8_t *d, char *dst, size_t n) {
  size_t k = 0;
  dst[0] = '\0';
  for (uint64_t i = 0; i < l->n && k + 1 < n; i++) {
    char nm[64], s[160];
    const lm_nd_array *a = &l->a[i];
    if (l->named) lm__printable(nm, sizeof nm, d + a->name_off, a->name_len);
    else snprintf(nm, sizeof nm, "unnamed");
    int w = a->empty ? snprintf(dst + k, n - k, "%s%s (empty)", i ? ", " : "", nm)
                     : snprintf(dst + k, n - k, "%s%s %s %s", i ? ", " : "", nm,
                                lm__nd_shape_str(s, sizeof s, a), lm__nd_dtype_name(a->dtype));
    if (w < 0 || (size_t)w >= n - k) {
      if (n > 4) memcpy(dst + n - 4, "...", 4);
      break;
    }
    k += (size_t)w;
  }
  return dst;
}
