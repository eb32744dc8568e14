/*
 * pickle.c — walks a Python pickle without executing it (pickle.h), for importers of pickled
 * models (xgboost_pickle.c, pickled.c, sklearn.c) — plain pickles and joblib's files.
 *
 * The walker (protocols 0–5: every opcode Python's pickler writes, text and binary, with the
 * framing of protocols 4 and 5) keeps a stack of inert values: None, booleans, integers,
 * floats, str, bytes, tuples, lists, dicts, globals (module + name, never looked up) and
 * objects (a class or callable with its arguments and BUILD state, never constructed).
 *
 * Globals are checked against an allow-list when GLOBAL, STACK_GLOBAL or INST reads them
 * (allowed() below: the numpy, joblib, copyreg and builtins names that pickles of models use,
 * and the xgboost, lightgbm and sklearn packages, whose classes the importers then match one by
 * one); any other name — posix.system, builtins.eval — is refused right there, naming it. No
 * callable is ever called: REDUCE records an object, except for constructions whose result is
 * known data and is decoded as such — byte strings (bytearray(str, 'latin-1'),
 * _codecs.encode(str, 'latin1'), bytearray(bytes), bytes()), set/frozenset of a list,
 * collections.OrderedDict(), copyreg._reconstructor / copyreg.__newobj__ (objects of protocols
 * 0 and 1), and numpy's own: numpy.dtype(descr) with its BUILD state, the arrays of
 * numpy.core.multiarray._reconstruct + BUILD (protocols 0–4) and numpy.core.numeric._frombuffer
 * (protocol 5), and numpy.core.multiarray.scalar (numpy scalars become ints and floats).
 *
 * joblib (joblib.dump): each array is a joblib.numpy_pickle.NumpyArrayWrapper object whose
 * BUILD state gives dtype, shape and order; its bytes follow the BUILD opcode in the stream
 * (joblib ≥ 1.2 first writes one byte of padding length and that many padding bytes), or, for
 * arrays of Python objects, a nested protocol-2 pickle of the array (walked here too, one level
 * only). The wrapper becomes the array. Compressed joblib files are decompressed first
 * (joblib.c).
 *
 * Not supported (an error naming the opcode and its offset): PERSID/BINPERSID (references to
 * outside objects), EXT1/2/4 (the copyreg extension registry), NEXT_BUFFER/READONLY_BUFFER
 * (out-of-band buffers). Memory stays linear in the input: each opcode creates at most one
 * value, memo indices may not exceed the number of bytes read, arrays are views of the input.
 *
 * The numpy part (dtypes, arrays, scalars, joblib's array wrapper and the element accessors) is
 * in pickle_numpy.c; the two share pickle_internal.h.
 *
 * Errors name the input and the byte offset of the opcode ("model.pkl: byte 5: pickle opcode
 * 0x51 (BINPERSID) is not supported"), through the byte cursor (base/cursor.h).
 * Opcode names and protocol 0's text operands are in pickle_text.c.
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

/* ---- values ------------------------------------------------------------------------------- */

/* pv, pk (struct lm_pickle), OOM() and FAIL(): pickle_internal.h */


pv *lm__pk_pv_new(pk *k, uint8_t kind) {
  pv *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->kind = kind;
  v->at = k->c.at;
  v->next_alloc = k->all;
  k->all = v;
  return v;
}

static void free_values(pv *v) {
  for (pv *nx; v; v = nx) {
    nx = v->next_alloc;
    free(v->items);
    free(v->owned);
    free(v->nd_objs);
    free(v);
  }
}

void lm__pickle_free(pk *k) {
  if (!k) return;
  free_values(k->all);
  free(k->stack);
  free(k->marks);
  free(k->memo);
  free(k);
}


static int grow(void **p, size_t *cap, size_t need_n, size_t elem) {
  if (need_n <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need_n) c *= 2;
  void *np = realloc(*p, c * elem);
  if (!np) return -1;
  *p = np;
  *cap = c;
  return 0;
}

static int push(pk *k, pv *v) {
  if (!v) return OOM();
  if (grow((void **)&k->stack, &k->stack_cap, k->sp + 1, sizeof *k->stack)) return OOM();
  k->stack[k->sp++] = v;
  return LM_OK;
}

/* The stack floor: values below the innermost mark are out of reach. */
static size_t floor_(const pk *k) { return k->nmarks ? k->marks[k->nmarks - 1] : 0; }

static int pop(pk *k, pv **out) {
  if (k->sp <= floor_(k)) return FAIL(LM_EFORMAT, "pickle opcode %s: stack underflow", lm__pk_op_name(k->op));
  *out = k->stack[--k->sp];
  return LM_OK;
}

static int top(pk *k, pv **out) {
  if (k->sp <= floor_(k)) return FAIL(LM_EFORMAT, "pickle opcode %s: stack underflow", lm__pk_op_name(k->op));
  *out = k->stack[k->sp - 1];
  return LM_OK;
}

/* Pop everything down to the innermost mark (and the mark): items [*first, *first + *count). */
static int pop_mark(pk *k, size_t *first, size_t *count) {
  if (!k->nmarks) return FAIL(LM_EFORMAT, "pickle opcode %s: no MARK", lm__pk_op_name(k->op));
  size_t m = k->marks[--k->nmarks];
  *first = m;
  *count = k->sp - m;
  k->sp = m;
  return LM_OK;
}

static int add_items(pk *k, pv *c, pv **items, size_t n) {
  if (n == 0) return LM_OK; /* c->items may still be NULL: no pointer arithmetic on it */
  if (grow((void **)&c->items, &c->cap, c->n + n, sizeof *c->items)) return OOM();
  memcpy(c->items + c->n, items, n * sizeof *items);
  c->n += n;
  return LM_OK;
}

/* n bytes of operand at the cursor. */
static int operand(pk *k, size_t n, const uint8_t **q) {
  snprintf(k->fld, sizeof k->fld, "pickle opcode %s", lm__pk_op_name(k->op));
  k->c.field = k->fld; /* the offset stays the opcode's */
  int rc = lm__cur_take(&k->c, NULL, n, q);
  k->c.field = NULL;
  return rc;
}

/* A length-prefixed operand (nb-byte little-endian length), checked against the bytes left. */
static int sized(pk *k, int nb, const uint8_t **s, size_t *len) {
  const uint8_t *q = NULL;
  int rc = operand(k, (size_t)nb, &q);
  if (rc) return rc;
  uint64_t n = lm__le_n(q, nb);
  if (nb == 4 && k->op == 'T' && (int32_t)n < 0)
    return FAIL(LM_EFORMAT, "pickle opcode %s: negative length", lm__pk_op_name(k->op));
  if (n > lm__cur_left(&k->c))
    return FAIL(LM_EFORMAT, "pickle opcode %s: length %llu exceeds the %zu bytes left (truncated?)",
                lm__pk_op_name(k->op), (unsigned long long)n, lm__cur_left(&k->c));
  *s = lm__cur_here(&k->c);
  *len = (size_t)n;
  k->c.pos += (size_t)n;
  return LM_OK;
}

/* The "...\n" operand of a text opcode (GLOBAL's module and name, INT, FLOAT, STRING, …). */
int lm__pk_line(pk *k, const uint8_t **s, size_t *len) {
  const uint8_t *q = lm__cur_here(&k->c);
  const uint8_t *nl = memchr(q, '\n', lm__cur_left(&k->c));
  if (!nl) return FAIL(LM_EFORMAT, "pickle opcode %s: truncated: no end of line", lm__pk_op_name(k->op));
  *s = q;
  *len = (size_t)(nl - q);
  k->c.pos += *len + 1;
  return LM_OK;
}

/* A decimal integer line (INT, LONG with its optional 'L', GET, PUT): 0 and the value; 1 when
 * it is a valid integer beyond int64; an error otherwise. */
static int dec_line(pk *k, int64_t *v, int long_ok) {
  const uint8_t *s;
  size_t n;
  int rc = lm__pk_line(k, &s, &n);
  if (rc) return rc;
  if (long_ok && n && s[n - 1] == 'L') n--;
  size_t i = 0;
  int neg = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  if (i == n) return FAIL(LM_EFORMAT, "pickle opcode %s: not a decimal integer", lm__pk_op_name(k->op));
  uint64_t u = 0;
  int big = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return FAIL(LM_EFORMAT, "pickle opcode %s: not a decimal integer", lm__pk_op_name(k->op));
    if (u > (UINT64_MAX - 9) / 10) big = 1;
    else u = u * 10 + (uint64_t)(s[i] - '0');
  }
  if (big || u > (uint64_t)INT64_MAX + (uint64_t)neg) return 1;
  *v = neg ? (int64_t)(0 - u) : (int64_t)u;
  return 0;
}

/* ---- globals: the allow-list --------------------------------------------------------------- */

static int g_is(const uint8_t *m, size_t ml, const uint8_t *n, size_t nl, const char *mod,
                const char *name) {
  return ml == strlen(mod) && memcmp(m, mod, ml) == 0 && nl == strlen(name) &&
         memcmp(n, name, nl) == 0;
}

static int ident(uint8_t c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* What a pickle may name. Exact names for the helpers; for the three model packages any
 * identifier of theirs (the importers accept only the classes they know, by name). */
static int allowed(const uint8_t *m, size_t ml, const uint8_t *n, size_t nl) {
  static const char *const exact[][2] = {
      {"builtins", "bytearray"}, {"builtins", "bytes"}, {"builtins", "set"},
      {"builtins", "frozenset"}, {"builtins", "object"}, {"builtins", "slice"},
      {"builtins", "complex"}, {"__builtin__", "bytearray"}, {"__builtin__", "set"},
      {"__builtin__", "frozenset"}, {"__builtin__", "object"}, {"_codecs", "encode"},
      {"copyreg", "_reconstructor"}, {"copy_reg", "_reconstructor"}, {"copyreg", "__newobj__"},
      {"collections", "OrderedDict"}, {"numpy", "ndarray"}, {"numpy", "dtype"},
      {"numpy.core.multiarray", "_reconstruct"}, {"numpy.core.multiarray", "scalar"},
      {"numpy.core.numeric", "_frombuffer"}, {"numpy._core.multiarray", "_reconstruct"},
      {"numpy._core.multiarray", "scalar"}, {"numpy._core.numeric", "_frombuffer"},
      {"numpy.random._pickle", "__randomstate_ctor"},
      {"numpy.random._pickle", "__bit_generator_ctor"},
      {"numpy.random._pickle", "__generator_ctor"}, {"numpy.random.mtrand", "RandomState"},
      {"numpy.random._mt19937", "MT19937"}, {"numpy.random.bit_generator", "SeedSequence"},
      {"joblib.numpy_pickle", "NumpyArrayWrapper"},
      {"sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"},
  };
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    if (g_is(m, ml, n, nl, exact[i][0], exact[i][1])) return 1;
  static const char *const pkgs[] = {"sklearn", "xgboost", "lightgbm"};
  for (size_t i = 0; i < 3; i++) {
    size_t pl = strlen(pkgs[i]);
    if (ml >= pl && memcmp(m, pkgs[i], pl) == 0 && (ml == pl || m[pl] == '.')) {
      for (size_t j = 0; j < ml; j++)
        if (!(m[j] == '.' || ident(m[j]))) return 0;
      if (nl == 0) return 0;
      for (size_t j = 0; j < nl; j++)
        if (!ident(n[j])) return 0;
      return 1;
    }
  }
  return 0;
}

static int make_global(pk *k, const uint8_t *m, size_t ml, const uint8_t *n, size_t nl, pv **out) {
  if (!allowed(m, ml, n, nl)) {
    char a[64], b[64];
    return FAIL(LM_EUNSUPPORTED,
                "pickle global %s.%s is not allowed (not a class or helper of the models "
                "lmconvert reads; nothing in a pickle is ever called)",
                lm__printable(a, sizeof a, m, ml), lm__printable(b, sizeof b, n, nl));
  }
  pv *v = lm__pk_pv_new(k, LM_PV_GLOBAL);
  if (!v) return OOM();
  v->s = m, v->len = ml, v->s2 = n, v->len2 = nl;
  *out = v;
  return LM_OK;
}

int lm__pv_str_is(const pv *v, const char *lit) {
  return v && (v->kind == LM_PV_STR) && v->len == strlen(lit) && memcmp(v->s, lit, v->len) == 0;
}

int lm__pv_global_is(const pv *g, const char *module, const char *name) {
  return g && g->kind == LM_PV_GLOBAL && g_is(g->s, g->len, g->s2, g->len2, module, name);
}

int lm__pv_obj_is(const pv *v, const char *module, const char *name) {
  return v && v->kind == LM_PV_OBJ && lm__pv_global_is(v->cls, module, name);
}

int lm__pv_obj_name_is(const pv *v, const char *name) {
  return v && v->kind == LM_PV_OBJ && v->cls && v->cls->kind == LM_PV_GLOBAL &&
         v->cls->len2 == strlen(name) && memcmp(v->cls->s2, name, v->cls->len2) == 0;
}

static int is_builtin(const pv *g, const char *name) {
  return lm__pv_global_is(g, "builtins", name) || lm__pv_global_is(g, "__builtin__", name);
}

static int is_np(const pv *g, const char *mod, const char *name) {
  char m2[40];
  snprintf(m2, sizeof m2, "numpy._core.%s", mod);
  char m1[40];
  snprintf(m1, sizeof m1, "numpy.core.%s", mod);
  return lm__pv_global_is(g, m1, name) || lm__pv_global_is(g, m2, name);
}

/* str (UTF-8) → latin-1 bytes, every code point ≤ U+00FF (what str.encode('latin-1') accepts).
 * Returns 0, or -1 with *bad the offset of the first offending byte. */
static int utf8_to_latin1(const uint8_t *s, size_t n, uint8_t *out, size_t *olen, size_t *bad) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) {
      out[o++] = s[i++];
    } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n && (s[i + 1] & 0xc0) == 0x80) {
      out[o++] = (uint8_t)((s[i] & 0x03) << 6 | (s[i + 1] & 0x3f));
      i += 2;
    } else {
      *bad = i;
      return -1;
    }
  }
  *olen = o;
  return 0;
}

/* REDUCE: known constructions become their data (see the file comment); anything else an
 * opaque object. */
static int reduce(pk *k, pv *fn, pv *args, pv **out) {
  int ctor_ba = is_builtin(fn, "bytearray"), ctor_b = is_builtin(fn, "bytes");
  int enc = lm__pv_global_is(fn, "_codecs", "encode");
  pv *v = NULL;
  if (ctor_ba || ctor_b || enc) {
    if ((ctor_ba || ctor_b) && args->n == 0) {
      if (!(v = lm__pk_pv_new(k, LM_PV_BYTES))) return OOM();
      v->s = (const uint8_t *)"";
    } else if (ctor_ba && args->n == 1 && args->items[0]->kind == LM_PV_BYTES) {
      if (!(v = lm__pk_pv_new(k, LM_PV_BYTES))) return OOM();
      v->s = args->items[0]->s;
      v->len = args->items[0]->len;
    } else if (args->n == 2 && args->items[0]->kind == LM_PV_STR &&
               (lm__pv_str_is(args->items[1], "latin-1") ||
                lm__pv_str_is(args->items[1], "latin1"))) {
      pv *s = args->items[0];
      if (!(v = lm__pk_pv_new(k, LM_PV_BYTES)) || !(v->owned = malloc(s->len ? s->len : 1))) return OOM();
      size_t bad = 0;
      if (utf8_to_latin1(s->s, s->len, v->owned, &v->len, &bad))
        return FAIL(LM_EFORMAT, "pickle opcode REDUCE: %s of a str that is not latin-1 (byte %zu of it)",
                    enc ? "_codecs.encode" : "bytearray", bad);
      v->s = v->owned;
    }
    if (v) v->bytearray = (uint8_t)ctor_ba;
  } else if ((is_builtin(fn, "set") || is_builtin(fn, "frozenset")) &&
             (args->n == 0 || (args->n == 1 && args->items[0]->kind == LM_PV_LIST))) {
    if (!(v = lm__pk_pv_new(k, LM_PV_SET))) return OOM();
    if (args->n) {
      int rc = add_items(k, v, args->items[0]->items, args->items[0]->n);
      if (rc) return rc;
    }
  } else if (lm__pv_global_is(fn, "collections", "OrderedDict") && args->n == 0) {
    if (!(v = lm__pk_pv_new(k, LM_PV_DICT))) return OOM();
  } else if ((lm__pv_global_is(fn, "copyreg", "_reconstructor") ||
              lm__pv_global_is(fn, "copy_reg", "_reconstructor") ||
              lm__pv_global_is(fn, "copyreg", "__newobj__")) &&
             args->n >= 1 && args->items[0]->kind == LM_PV_GLOBAL) {
    if (!(v = lm__pk_pv_new(k, LM_PV_OBJ))) return OOM();
    v->cls = args->items[0];
    v->args = args;
  } else if (lm__pv_global_is(fn, "numpy", "dtype") && args->n >= 1 &&
             args->items[0]->kind == LM_PV_STR) {
    int rc = lm__np_dtype(k, args->items[0], &v);
    if (rc) return rc;
  } else if (is_np(fn, "multiarray", "_reconstruct")) {
    if (args->n != 3 || !lm__pv_global_is(args->items[0], "numpy", "ndarray")) {
      char d[160];
      return FAIL(LM_EUNSUPPORTED, "numpy array of class %s: not supported (numpy.ndarray is)",
                  args->n ? lm__pv_describe(args->items[0], d, sizeof d) : "(none)");
    }
    if (!(v = lm__pk_pv_new(k, LM_PV_NDARRAY))) return OOM(); /* filled by BUILD */
  } else if (is_np(fn, "numeric", "_frombuffer")) {
    if (args->n != 4 || args->items[1]->kind != LM_PV_DTYPE || args->items[3]->kind != LM_PV_STR)
      return FAIL(LM_EFORMAT, "numpy _frombuffer: arguments are not (buffer, dtype, shape, order)");
    if (!(v = lm__pk_pv_new(k, LM_PV_NDARRAY))) return OOM();
    int rc = lm__np_shape(k, v, args->items[2]);
    if (rc || (rc = lm__np_data(k, v, args->items[1], args->items[0]))) return rc;
    v->nd_fortran = lm__pv_str_is(args->items[3], "F");
  } else if (is_np(fn, "multiarray", "scalar")) {
    v = lm__np_scalar(k, args);
  }
  if (!v) {
    if (!(v = lm__pk_pv_new(k, LM_PV_OBJ))) return OOM();
    v->cls = fn;
    v->args = args;
  }
  *out = v;
  return LM_OK;
}

static int build(pk *k, pv *v, pv *st) {
  if (v->kind == LM_PV_DTYPE) return lm__np_dtype_build(k, v, st);
  if (v->kind == LM_PV_NDARRAY && !v->nd_dtype) return lm__np_array_build(k, v, st);
  if (v->kind != LM_PV_OBJ) return FAIL(LM_EFORMAT, "pickle opcode BUILD: target is not an object");
  if (lm__pv_global_is(v->cls, "joblib.numpy_pickle", "NumpyArrayWrapper") ||
      lm__pv_global_is(v->cls, "sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"))
    return lm__joblib_array(k, v, st);
  v->state = st;
  return LM_OK;
}

static int memo_put(pk *k, size_t idx, pv *v) {
  if (idx > k->c.pos) /* Python numbers memo entries 0, 1, 2, …: bounded by the input */
    return FAIL(LM_EFORMAT, "pickle opcode %s: memo index %zu out of range", lm__pk_op_name(k->op), idx);
  if (idx >= k->memo_n) {
    if (grow((void **)&k->memo, &k->memo_cap, idx + 1, sizeof *k->memo)) return OOM();
    memset(k->memo + k->memo_n, 0, (idx + 1 - k->memo_n) * sizeof *k->memo);
    k->memo_n = idx + 1;
  }
  k->memo[idx] = v;
  return LM_OK;
}

static int memo_get(pk *k, size_t idx) {
  if (idx >= k->memo_n || !k->memo[idx])
    return FAIL(LM_EFORMAT, "pickle opcode %s: memo index %zu not set", lm__pk_op_name(k->op), idx);
  return push(k, k->memo[idx]);
}

/* ---- the walk ----------------------------------------------------------------------------- */

int lm__pk_run(pk *k, pv **result) {
  int rc = LM_OK;
  for (;;) {
    if (k->c.pos >= k->c.n)
      return lm__cur_fail_at(&k->c, LM_EFORMAT, k->c.pos, NULL, "truncated pickle: no STOP opcode");
    lm__cur_field(&k->c, NULL);
    uint8_t op = k->c.p[k->c.pos++];
    k->op = op;
    const uint8_t *q = NULL, *s = NULL;
    size_t len = 0, first = 0, cnt = 0;
    int64_t iv = 0;
    pv *v = NULL, *a = NULL, *b = NULL;
    switch (op) {
    case 0x80: /* PROTO */
      if ((rc = operand(k, 1, &q))) return rc;
      if (q[0] > 5) return FAIL(LM_EUNSUPPORTED, "pickle protocol %u: not supported (0 to 5 are)", q[0]);
      break;
    case 0x95: /* FRAME: a length hint; the opcodes follow inline */
      if ((rc = operand(k, 8, &q))) return rc;
      if (lm__le_n(q, 8) > lm__cur_left(&k->c))
        return FAIL(LM_EFORMAT, "pickle opcode FRAME: length %llu exceeds the %zu bytes left",
                    (unsigned long long)lm__le_n(q, 8), lm__cur_left(&k->c));
      break;
    case 'c': /* GLOBAL */
    case 'i': { /* INST: module and name, then MARK args */
      const uint8_t *m, *nm;
      size_t ml, nl;
      if ((rc = lm__pk_line(k, &m, &ml)) || (rc = lm__pk_line(k, &nm, &nl)) ||
          (rc = make_global(k, m, ml, nm, nl, &v)))
        return rc;
      if (op == 'i') {
        if ((rc = pop_mark(k, &first, &cnt))) return rc;
        if (!(a = lm__pk_pv_new(k, LM_PV_TUPLE)) || (rc = add_items(k, a, k->stack + first, cnt))) return rc ? rc : OOM();
        if (!(b = lm__pk_pv_new(k, LM_PV_OBJ))) return OOM();
        b->cls = v, b->args = a, v = b;
      }
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 'o': /* OBJ: MARK cls args… */
      if ((rc = pop_mark(k, &first, &cnt))) return rc;
      if (cnt < 1 || k->stack[first]->kind != LM_PV_GLOBAL)
        return FAIL(LM_EFORMAT, "pickle opcode OBJ: no class after the MARK");
      if (!(a = lm__pk_pv_new(k, LM_PV_TUPLE)) || (rc = add_items(k, a, k->stack + first + 1, cnt - 1)))
        return rc ? rc : OOM();
      if (!(v = lm__pk_pv_new(k, LM_PV_OBJ))) return OOM();
      v->cls = k->stack[first], v->args = a;
      if ((rc = push(k, v))) return rc;
      break;
    case 0x93: /* STACK_GLOBAL */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (a->kind != LM_PV_STR || b->kind != LM_PV_STR)
        return FAIL(LM_EFORMAT, "pickle opcode STACK_GLOBAL: module and name must be str");
      if ((rc = make_global(k, a->s, a->len, b->s, b->len, &v)) || (rc = push(k, v))) return rc;
      break;
    case '}':
      if ((rc = push(k, lm__pk_pv_new(k, LM_PV_DICT)))) return rc;
      break;
    case ']':
      if ((rc = push(k, lm__pk_pv_new(k, LM_PV_LIST)))) return rc;
      break;
    case ')':
      if ((rc = push(k, lm__pk_pv_new(k, LM_PV_TUPLE)))) return rc;
      break;
    case 0x8f:
      if ((rc = push(k, lm__pk_pv_new(k, LM_PV_SET)))) return rc;
      break;
    case '(': /* MARK */
      if (grow((void **)&k->marks, &k->marks_cap, k->nmarks + 1, sizeof *k->marks)) return OOM();
      k->marks[k->nmarks++] = k->sp;
      break;
    case 's': /* SETITEM */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a)) || (rc = top(k, &v))) return rc;
      if (v->kind != LM_PV_DICT) return FAIL(LM_EFORMAT, "pickle opcode SETITEM: target is not a dict");
      {
        pv *kv[2] = {a, b};
        if ((rc = add_items(k, v, kv, 2))) return rc;
      }
      break;
    case 'u':  /* SETITEMS */
    case 'e':  /* APPENDS */
    case 0x90: /* ADDITEMS */
      if ((rc = pop_mark(k, &first, &cnt)) || (rc = top(k, &v))) return rc;
      if (op == 'u'   ? v->kind != LM_PV_DICT || cnt % 2
          : op == 'e' ? v->kind != LM_PV_LIST
                      : v->kind != LM_PV_SET)
        return FAIL(LM_EFORMAT, "pickle opcode %s: wrong target or odd item count", lm__pk_op_name(op));
      if ((rc = add_items(k, v, cnt ? k->stack + first : NULL, cnt))) return rc;
      break;
    case 'a': /* APPEND */
      if ((rc = pop(k, &b)) || (rc = top(k, &v))) return rc;
      if (v->kind != LM_PV_LIST) return FAIL(LM_EFORMAT, "pickle opcode APPEND: target is not a list");
      if ((rc = add_items(k, v, &b, 1))) return rc;
      break;
    case 't':
    case 'l':
    case 'd':
    case 0x91: /* TUPLE, LIST, DICT, FROZENSET */
      if ((rc = pop_mark(k, &first, &cnt))) return rc;
      if (op == 'd' && cnt % 2) return FAIL(LM_EFORMAT, "pickle opcode DICT: odd item count %zu", cnt);
      if (!(v = lm__pk_pv_new(k, op == 't'   ? LM_PV_TUPLE
                          : op == 'l' ? LM_PV_LIST
                          : op == 'd' ? LM_PV_DICT
                                      : LM_PV_SET)))
        return OOM();
      if ((rc = add_items(k, v, cnt ? k->stack + first : NULL, cnt)) || (rc = push(k, v))) return rc;
      break;
    case 0x85:
    case 0x86:
    case 0x87: { /* TUPLE1..3 */
      size_t m = (size_t)(op - 0x84);
      if (k->sp - floor_(k) < m) return FAIL(LM_EFORMAT, "pickle opcode %s: stack underflow", lm__pk_op_name(op));
      if (!(v = lm__pk_pv_new(k, LM_PV_TUPLE))) return OOM();
      if ((rc = add_items(k, v, k->stack + k->sp - m, m))) return rc;
      k->sp -= m;
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 'b': /* BUILD: state on top of the object */
      if ((rc = pop(k, &b)) || (rc = top(k, &v)) || (rc = build(k, v, b))) return rc;
      break;
    case 0x81: /* NEWOBJ: cls, args */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (b->kind != LM_PV_TUPLE) return FAIL(LM_EFORMAT, "pickle opcode NEWOBJ: arguments are not a tuple");
      if (!(v = lm__pk_pv_new(k, LM_PV_OBJ))) return OOM();
      v->cls = a, v->args = b;
      if ((rc = push(k, v))) return rc;
      break;
    case 0x92: /* NEWOBJ_EX: cls, args, kwargs */
      if ((rc = pop(k, &v)) || (rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (b->kind != LM_PV_TUPLE || v->kind != LM_PV_DICT)
        return FAIL(LM_EFORMAT, "pickle opcode NEWOBJ_EX: bad arguments");
      if (!(v = lm__pk_pv_new(k, LM_PV_OBJ))) return OOM();
      v->cls = a, v->args = b;
      if ((rc = push(k, v))) return rc;
      break;
    case 'R': /* REDUCE: callable, args — never called */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (b->kind != LM_PV_TUPLE) return FAIL(LM_EFORMAT, "pickle opcode REDUCE: arguments are not a tuple");
      if ((rc = reduce(k, a, b, &v)) || (rc = push(k, v))) return rc;
      break;
    case 0x94:
    case 'q':
    case 'r': { /* MEMOIZE, BINPUT, LONG_BINPUT */
      size_t idx = k->memo_n;
      if (op != 0x94) {
        if ((rc = operand(k, op == 'q' ? 1 : 4, &q))) return rc;
        idx = (size_t)lm__le_n(q, op == 'q' ? 1 : 4);
      }
      if ((rc = top(k, &v)) || (rc = memo_put(k, idx, v))) return rc;
      break;
    }
    case 'p': /* PUT */
      if ((rc = dec_line(k, &iv, 0)) < 0) return rc;
      if (rc || iv < 0) return FAIL(LM_EFORMAT, "pickle opcode PUT: memo index out of range");
      if ((rc = top(k, &v)) || (rc = memo_put(k, (size_t)iv, v))) return rc;
      break;
    case 'h':
    case 'j': /* BINGET, LONG_BINGET */
      if ((rc = operand(k, op == 'h' ? 1 : 4, &q))) return rc;
      if ((rc = memo_get(k, (size_t)lm__le_n(q, op == 'h' ? 1 : 4)))) return rc;
      break;
    case 'g': /* GET */
      if ((rc = dec_line(k, &iv, 0)) < 0) return rc;
      if (rc || iv < 0) return FAIL(LM_EFORMAT, "pickle opcode GET: memo index out of range");
      if ((rc = memo_get(k, (size_t)iv))) return rc;
      break;
    case 'N':
      if ((rc = push(k, lm__pk_pv_new(k, LM_PV_NONE)))) return rc;
      break;
    case 0x88:
    case 0x89:
      if (!(v = lm__pk_pv_new(k, LM_PV_BOOL))) return OOM();
      v->i = op == 0x88;
      if ((rc = push(k, v))) return rc;
      break;
    case 'J':
    case 'K':
    case 'M': { /* BININT, BININT1, BININT2 */
      int nb = op == 'J' ? 4 : op == 'K' ? 1 : 2;
      if ((rc = operand(k, (size_t)nb, &q))) return rc;
      if (!(v = lm__pk_pv_new(k, LM_PV_INT))) return OOM();
      v->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)lm__le_n(q, 4) : (int64_t)lm__le_n(q, nb);
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 'I':   /* INT: decimal, or 01 / 00 for True / False */
    case 'L': { /* LONG: decimal with an 'L' */
      size_t left = lm__cur_left(&k->c);
      const uint8_t *h = lm__cur_here(&k->c);
      int boolean = op == 'I' && left >= 3 && h[0] == '0' && (h[1] == '0' || h[1] == '1') && h[2] == '\n';
      if ((rc = dec_line(k, &iv, op == 'L')) < 0) return rc;
      if (!(v = lm__pk_pv_new(k, boolean ? LM_PV_BOOL : rc ? LM_PV_BIGINT : LM_PV_INT))) return OOM();
      v->i = iv;
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 0x8a:
    case 0x8b: /* LONG1, LONG4: little-endian two's complement */
      if ((rc = sized(k, op == 0x8a ? 1 : 4, &s, &len))) return rc;
      if (!(v = lm__pk_pv_new(k, len <= 8 ? LM_PV_INT : LM_PV_BIGINT))) return OOM();
      if (len > 0 && len <= 8) {
        uint64_t u = lm__le_n(s, (int)len);
        if (len < 8 && (s[len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len);
        v->i = (int64_t)u;
      }
      if ((rc = push(k, v))) return rc;
      break;
    case 'G': { /* BINFLOAT: big-endian double */
      if ((rc = operand(k, 8, &q))) return rc;
      if (!(v = lm__pk_pv_new(k, LM_PV_FLOAT))) return OOM();
      uint64_t u = lm__be_n(q, 8);
      memcpy(&v->d, &u, 8);
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 'F':
      if ((rc = lm__pk_text_float(k, &v)) || (rc = push(k, v))) return rc;
      break;
    case 'S':
    case 'V':
      if ((rc = lm__pk_text_str(k, &v)) || (rc = push(k, v))) return rc;
      break;
    case 'X':
    case 0x8c:
    case 0x8d:
    case 'T':
    case 'U': /* str */
      if ((rc = sized(k, op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4, &s, &len))) return rc;
      if (!(v = lm__pk_pv_new(k, LM_PV_STR))) return OOM();
      v->s = s, v->len = len;
      if ((rc = push(k, v))) return rc;
      break;
    case 'B':
    case 'C':
    case 0x8e:
    case 0x96: /* bytes, bytearray */
      if ((rc = sized(k, op == 'C' ? 1 : op == 'B' ? 4 : 8, &s, &len))) return rc;
      if (!(v = lm__pk_pv_new(k, LM_PV_BYTES))) return OOM();
      v->s = s, v->len = len, v->bytearray = op == 0x96;
      if ((rc = push(k, v))) return rc;
      break;
    case '0':
      if ((rc = pop(k, &v))) return rc;
      break;
    case '1':
      if ((rc = pop_mark(k, &first, &cnt))) return rc;
      break;
    case '2':
      if ((rc = top(k, &v)) || (rc = push(k, v))) return rc;
      break;
    case '.': /* STOP */
      if ((rc = pop(k, result))) return rc;
      return LM_OK;
    default: {
      const char *nm = lm__pk_op_name(op);
      if (nm)
        return FAIL(LM_EUNSUPPORTED,
                    "pickle opcode 0x%02x (%s) is not supported (references to outside objects, "
                    "the extension registry and out-of-band buffers are not model data)",
                    op, nm);
      return FAIL(LM_EFORMAT, "unknown pickle opcode 0x%02x", op);
    }
    }
  }
}

/* ---- values for importers ---------------------------------------------------------------- */

const char *lm__pv_kind_name(const pv *v) {
  static const char *const names[] = {"None",  "a bool", "an int",   "an int",  "a float",
                                      "a str", "bytes",  "a tuple",  "a list",  "a dict",
                                      "a set", "a global", "an object", "a numpy dtype",
                                      "a numpy array"};
  return v->kind < sizeof names / sizeof names[0] ? names[v->kind] : "?";
}

/* "a dict", "an object of class xgboost.sklearn.XGBClassifier", … (printable, ≤ ~140 chars) */
const char *lm__pv_describe(const pv *v, char *buf, size_t n) {
  const pv *g = v->kind == LM_PV_OBJ ? v->cls : v->kind == LM_PV_GLOBAL ? v : NULL;
  if (g && g->kind == LM_PV_GLOBAL) {
    snprintf(buf, n, "%s%.*s.%.*s", v->kind == LM_PV_OBJ ? "an object of class " : "",
             (int)(g->len < 60 ? g->len : 60), (const char *)g->s,
             (int)(g->len2 < 60 ? g->len2 : 60), (const char *)g->s2);
    for (char *c = buf; *c; c++)
      if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    return buf;
  }
  if (v->kind == LM_PV_NDARRAY && v->nd_dtype) {
    snprintf(buf, n, "a numpy array of dtype %c%u, %u dimension(s), %llu element(s)",
             v->nd_dtype->dt_kind >= 0x20 && v->nd_dtype->dt_kind < 0x7f ? v->nd_dtype->dt_kind : '?',
             v->nd_dtype->dt_size, v->nd_ndim, (unsigned long long)v->nd_count);
    return buf;
  }
  return lm__pv_kind_name(v);
}

const pv *lm__pv_dict_get(const pv *d, const char *key) {
  if (!d || d->kind != LM_PV_DICT) return NULL;
  for (size_t i = 0; i + 1 < d->n; i += 2)
    if (lm__pv_str_is(d->items[i], key)) return d->items[i + 1];
  return NULL;
}

const pv *lm__pv_state(const pv *obj) {
  if (!obj || obj->kind != LM_PV_OBJ || !obj->state) return NULL;
  const pv *s = obj->state;
  if (s->kind == LM_PV_DICT) return s;
  if (s->kind == LM_PV_TUPLE && s->n == 2 && s->items[0]->kind == LM_PV_DICT) return s->items[0];
  return NULL;
}

int lm__pickle_load(const uint8_t *data, size_t len, const char *name, pk **out,
                    const pv **result) {
  pk *k = calloc(1, sizeof *k);
  *out = k;
  *result = NULL;
  if (!k) return lm__fail(LM_ENOMEM, "%s: out of memory", name ? name : "(input)");
  lm__cur_init(&k->c, data, len, name);
  pv *res = NULL;
  int rc = lm__pk_run(k, &res);
  if (!rc) *result = res;
  return rc;
}
