/*
 * pickle.c — walks a Python pickle without executing it (pickle.h), for importers of pickled
 * models (xgboost_pickle.c; scikit-learn and joblib next).
 *
 * The walker (protocol 2–5, the binary opcodes Python's pickler emits for objects, their state
 * dicts and ordinary values) keeps a stack of inert values: None, booleans, integers, floats,
 * str, bytes, tuples, lists, dicts, globals (module + name, never looked up) and objects
 * (a class or callable with its arguments and BUILD state, never constructed). REDUCE is not
 * executed: the result is an opaque object, except for the three constructions Python's pickler
 * itself uses to write byte strings under protocol 2 — bytearray(str, 'latin-1'),
 * _codecs.encode(str, 'latin1') and bytearray(bytes) / bytes() — whose result is known data and
 * is decoded as such. Every other opcode (the text opcodes of protocols 0/1, PERSID, EXT*,
 * out-of-band buffers) is an error naming the opcode and its byte offset. Memory stays linear
 * in the input: each opcode creates at most one value, and memo indices may not exceed the
 * number of bytes read.
 *
 * Errors name the input and the byte offset of the opcode ("model.pkl: byte 5: pickle opcode
 * 0x69 (INST) is not supported"), through the byte cursor (base/cursor.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickle.h"
#include "base/cursor.h"
#include "base/error.h"

/* ---- values ------------------------------------------------------------------------------- */

typedef lm_pv pv;

typedef struct lm_pickle {
  lm_cursor c;  /* the input; c.at is the opcode being executed: errors are at the opcode */
  char fld[32]; /* "pickle opcode NAME", the field of operand reads */
  pv *all;      /* allocation list */
  pv **stack;
  size_t sp, stack_cap;
  size_t *marks;
  size_t nmarks, marks_cap;
  pv **memo;
  size_t memo_n, memo_cap;
  uint8_t op;
} pk;

static const char *op_name(uint8_t op) {
  switch (op) {
  case 0x80: return "PROTO";
  case 0x95: return "FRAME";
  case 'c': return "GLOBAL";
  case 0x93: return "STACK_GLOBAL";
  case '}': return "EMPTY_DICT";
  case ']': return "EMPTY_LIST";
  case ')': return "EMPTY_TUPLE";
  case 0x8f: return "EMPTY_SET";
  case '(': return "MARK";
  case 's': return "SETITEM";
  case 'u': return "SETITEMS";
  case 'a': return "APPEND";
  case 'e': return "APPENDS";
  case 0x90: return "ADDITEMS";
  case 0x91: return "FROZENSET";
  case 't': return "TUPLE";
  case 0x85: return "TUPLE1";
  case 0x86: return "TUPLE2";
  case 0x87: return "TUPLE3";
  case 'l': return "LIST";
  case 'd': return "DICT";
  case 'b': return "BUILD";
  case 0x81: return "NEWOBJ";
  case 0x92: return "NEWOBJ_EX";
  case 'R': return "REDUCE";
  case 0x94: return "MEMOIZE";
  case 'q': return "BINPUT";
  case 'r': return "LONG_BINPUT";
  case 'h': return "BINGET";
  case 'j': return "LONG_BINGET";
  case 'N': return "NONE";
  case 0x88: return "NEWTRUE";
  case 0x89: return "NEWFALSE";
  case 'J': return "BININT";
  case 'K': return "BININT1";
  case 'M': return "BININT2";
  case 0x8a: return "LONG1";
  case 0x8b: return "LONG4";
  case 'G': return "BINFLOAT";
  case 'X': return "BINUNICODE";
  case 0x8c: return "SHORT_BINUNICODE";
  case 0x8d: return "BINUNICODE8";
  case 'B': return "BINBYTES";
  case 'C': return "SHORT_BINBYTES";
  case 0x8e: return "BINBYTES8";
  case 0x96: return "BYTEARRAY8";
  case 'T': return "BINSTRING";
  case 'U': return "SHORT_BINSTRING";
  case '0': return "POP";
  case '1': return "POP_MARK";
  case '2': return "DUP";
  case '.': return "STOP";
  /* known, not supported */
  case 'I': return "INT";
  case 'L': return "LONG";
  case 'S': return "STRING";
  case 'V': return "UNICODE";
  case 'F': return "FLOAT";
  case 'g': return "GET";
  case 'p': return "PUT";
  case 'o': return "OBJ";
  case 'i': return "INST";
  case 'P': return "PERSID";
  case 'Q': return "BINPERSID";
  case 0x82: return "EXT1";
  case 0x83: return "EXT2";
  case 0x84: return "EXT4";
  case 0x97: return "NEXT_BUFFER";
  case 0x98: return "READONLY_BUFFER";
  }
  return NULL;
}

static pv *pv_new(pk *k, uint8_t kind) {
  pv *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->kind = kind;
  v->next_alloc = k->all;
  k->all = v;
  return v;
}

void lm__pickle_free(pk *k) {
  if (!k) return;
  for (pv *v = k->all, *nx; v; v = nx) {
    nx = v->next_alloc;
    free(v->items);
    free(v->owned);
    free(v);
  }
  free(k->stack);
  free(k->marks);
  free(k->memo);
  free(k);
}

#define OOM() lm__fail(LM_ENOMEM, "%s: out of memory", k->c.name)

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
  if (k->sp <= floor_(k))
    return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: stack underflow", op_name(k->op));
  *out = k->stack[--k->sp];
  return LM_OK;
}

static int top(pk *k, pv **out) {
  if (k->sp <= floor_(k))
    return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: stack underflow", op_name(k->op));
  *out = k->stack[k->sp - 1];
  return LM_OK;
}

/* Pop everything down to the innermost mark (and the mark): items [*first, *first + *count). */
static int pop_mark(pk *k, size_t *first, size_t *count) {
  if (!k->nmarks)
    return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: no MARK", op_name(k->op));
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
  snprintf(k->fld, sizeof k->fld, "pickle opcode %s", op_name(k->op));
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
    return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: negative length", op_name(k->op));
  if (n > lm__cur_left(&k->c))
    return lm__cur_fail(&k->c, LM_EFORMAT,
                        "pickle opcode %s: length %llu exceeds the %zu bytes left (truncated?)",
                        op_name(k->op), (unsigned long long)n, lm__cur_left(&k->c));
  *s = lm__cur_here(&k->c);
  *len = (size_t)n;
  k->c.pos += (size_t)n;
  return LM_OK;
}

/* A "module\n" / "name\n" line of GLOBAL. */
static int line(pk *k, const uint8_t **s, size_t *len) {
  const uint8_t *q = lm__cur_here(&k->c);
  const uint8_t *nl = memchr(q, '\n', lm__cur_left(&k->c));
  if (!nl)
    return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode GLOBAL: truncated: no end of line");
  *s = q;
  *len = (size_t)(nl - q);
  k->c.pos += *len + 1;
  return LM_OK;
}

int lm__pv_str_is(const pv *v, const char *lit) {
  return v && (v->kind == LM_PV_STR) && v->len == strlen(lit) && memcmp(v->s, lit, v->len) == 0;
}

int lm__pv_global_is(const pv *g, const char *module, const char *name) {
  return g && g->kind == LM_PV_GLOBAL && g->len == strlen(module) &&
         memcmp(g->s, module, g->len) == 0 && g->len2 == strlen(name) &&
         memcmp(g->s2, name, g->len2) == 0;
}

static int is_builtin(const pv *g, const char *name) {
  return lm__pv_global_is(g, "builtins", name) || lm__pv_global_is(g, "__builtin__", name);
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

/* REDUCE: known byte-string constructions become bytes; anything else an opaque object. */
static int reduce(pk *k, pv *fn, pv *args, pv **out) {
  int ctor_ba = is_builtin(fn, "bytearray"), ctor_b = is_builtin(fn, "bytes");
  int enc = lm__pv_global_is(fn, "_codecs", "encode");
  if ((ctor_ba || ctor_b || enc) && args->kind == LM_PV_TUPLE) {
    pv *v = NULL;
    if ((ctor_ba || ctor_b) && args->n == 0) {
      v = pv_new(k, LM_PV_BYTES);
      if (!v) return OOM();
      v->s = (const uint8_t *)"";
    } else if (ctor_ba && args->n == 1 && args->items[0]->kind == LM_PV_BYTES) {
      v = pv_new(k, LM_PV_BYTES);
      if (!v) return OOM();
      v->s = args->items[0]->s;
      v->len = args->items[0]->len;
    } else if (args->n == 2 && args->items[0]->kind == LM_PV_STR &&
               (lm__pv_str_is(args->items[1], "latin-1") ||
                lm__pv_str_is(args->items[1], "latin1"))) {
      pv *s = args->items[0];
      v = pv_new(k, LM_PV_BYTES);
      if (!v || !(v->owned = malloc(s->len ? s->len : 1))) return OOM();
      size_t bad = 0;
      if (utf8_to_latin1(s->s, s->len, v->owned, &v->len, &bad))
        return lm__cur_fail(
            &k->c, LM_EFORMAT,
            "pickle opcode REDUCE: %s of a str that is not latin-1 (byte %zu of it)",
            enc ? "_codecs.encode" : "bytearray", bad);
      v->s = v->owned;
    }
    if (v) {
      v->bytearray = (uint8_t)ctor_ba;
      *out = v;
      return LM_OK;
    }
  }
  pv *o = pv_new(k, LM_PV_OBJ);
  if (!o) return OOM();
  o->cls = fn;
  o->args = args;
  *out = o;
  return LM_OK;
}

/* ---- the walk ----------------------------------------------------------------------------- */

static int run(pk *k, pv **result) {
  int rc = LM_OK;
  for (;;) {
    if (k->c.pos >= k->c.n)
      return lm__cur_fail_at(&k->c, LM_EFORMAT, k->c.pos, NULL, "truncated pickle: no STOP opcode");
    lm__cur_field(&k->c, NULL);
    uint8_t op = k->c.p[k->c.pos++];
    k->op = op;
    const uint8_t *q = NULL, *s = NULL;
    size_t len = 0, first = 0, cnt = 0;
    pv *v = NULL, *a = NULL, *b = NULL;
    switch (op) {
    case 0x80: /* PROTO */
      if ((rc = operand(k, 1, &q))) return rc;
      if (q[0] < 2 || q[0] > 5)
        return lm__cur_fail(&k->c, LM_EUNSUPPORTED,
                            "pickle protocol %u: not supported (2 to 5 are)", q[0]);
      break;
    case 0x95: /* FRAME: a length hint; the opcodes follow inline */
      if ((rc = operand(k, 8, &q))) return rc;
      if (lm__le_n(q, 8) > lm__cur_left(&k->c))
        return lm__cur_fail(&k->c, LM_EFORMAT,
                            "pickle opcode FRAME: length %llu exceeds the %zu bytes left",
                            (unsigned long long)lm__le_n(q, 8), lm__cur_left(&k->c));
      break;
    case 'c': /* GLOBAL */
      if (!(v = pv_new(k, LM_PV_GLOBAL))) return OOM();
      if ((rc = line(k, &v->s, &v->len)) || (rc = line(k, &v->s2, &v->len2))) return rc;
      if ((rc = push(k, v))) return rc;
      break;
    case 0x93: /* STACK_GLOBAL */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (a->kind != LM_PV_STR || b->kind != LM_PV_STR)
        return lm__cur_fail(&k->c, LM_EFORMAT,
                            "pickle opcode STACK_GLOBAL: module and name must be str");
      if (!(v = pv_new(k, LM_PV_GLOBAL))) return OOM();
      v->s = a->s, v->len = a->len, v->s2 = b->s, v->len2 = b->len;
      if ((rc = push(k, v))) return rc;
      break;
    case '}':
      if ((rc = push(k, pv_new(k, LM_PV_DICT)))) return rc;
      break;
    case ']':
      if ((rc = push(k, pv_new(k, LM_PV_LIST)))) return rc;
      break;
    case ')':
      if ((rc = push(k, pv_new(k, LM_PV_TUPLE)))) return rc;
      break;
    case 0x8f:
      if ((rc = push(k, pv_new(k, LM_PV_SET)))) return rc;
      break;
    case '(': /* MARK */
      if (grow((void **)&k->marks, &k->marks_cap, k->nmarks + 1, sizeof *k->marks)) return OOM();
      k->marks[k->nmarks++] = k->sp;
      break;
    case 's': /* SETITEM */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a)) || (rc = top(k, &v))) return rc;
      if (v->kind != LM_PV_DICT)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode SETITEM: target is not a dict");
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
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: wrong target or odd item count",
                            op_name(op));
      if ((rc = add_items(k, v, cnt ? k->stack + first : NULL, cnt))) return rc;
      break;
    case 'a': /* APPEND */
      if ((rc = pop(k, &b)) || (rc = top(k, &v))) return rc;
      if (v->kind != LM_PV_LIST)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode APPEND: target is not a list");
      if ((rc = add_items(k, v, &b, 1))) return rc;
      break;
    case 't':
    case 'l':
    case 'd':
    case 0x91: /* TUPLE, LIST, DICT, FROZENSET */
      if ((rc = pop_mark(k, &first, &cnt))) return rc;
      if (op == 'd' && cnt % 2)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode DICT: odd item count %zu", cnt);
      if (!(v = pv_new(k, op == 't'   ? LM_PV_TUPLE
                          : op == 'l' ? LM_PV_LIST
                          : op == 'd' ? LM_PV_DICT
                                      : LM_PV_SET)))
        return OOM();
      if ((rc = add_items(k, v, cnt ? k->stack + first : NULL, cnt)) || (rc = push(k, v)))
        return rc;
      break;
    case 0x85:
    case 0x86:
    case 0x87: { /* TUPLE1..3 */
      size_t m = (size_t)(op - 0x84);
      if (k->sp - floor_(k) < m)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: stack underflow", op_name(op));
      if (!(v = pv_new(k, LM_PV_TUPLE))) return OOM();
      if ((rc = add_items(k, v, k->stack + k->sp - m, m))) return rc;
      k->sp -= m;
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 'b': /* BUILD: state on top of the object */
      if ((rc = pop(k, &b)) || (rc = top(k, &v))) return rc;
      if (v->kind != LM_PV_OBJ)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode BUILD: target is not an object");
      v->state = b;
      break;
    case 0x81: /* NEWOBJ: cls, args */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (b->kind != LM_PV_TUPLE)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode NEWOBJ: arguments are not a tuple");
      if (!(v = pv_new(k, LM_PV_OBJ))) return OOM();
      v->cls = a, v->args = b;
      if ((rc = push(k, v))) return rc;
      break;
    case 0x92: /* NEWOBJ_EX: cls, args, kwargs */
      if ((rc = pop(k, &v)) || (rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (b->kind != LM_PV_TUPLE || v->kind != LM_PV_DICT)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode NEWOBJ_EX: bad arguments");
      if (!(v = pv_new(k, LM_PV_OBJ))) return OOM();
      v->cls = a, v->args = b;
      if ((rc = push(k, v))) return rc;
      break;
    case 'R': /* REDUCE: callable, args — never called */
      if ((rc = pop(k, &b)) || (rc = pop(k, &a))) return rc;
      if (b->kind != LM_PV_TUPLE)
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode REDUCE: arguments are not a tuple");
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
      if ((rc = top(k, &v))) return rc;
      if (idx > k->c.pos) /* Python numbers memo entries 0, 1, 2, …: bounded by the input */
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: memo index %zu out of range",
                            op_name(op), idx);
      if (idx >= k->memo_n) {
        if (grow((void **)&k->memo, &k->memo_cap, idx + 1, sizeof *k->memo)) return OOM();
        memset(k->memo + k->memo_n, 0, (idx + 1 - k->memo_n) * sizeof *k->memo);
        k->memo_n = idx + 1;
      }
      k->memo[idx] = v;
      break;
    }
    case 'h':
    case 'j': { /* BINGET, LONG_BINGET */
      if ((rc = operand(k, op == 'h' ? 1 : 4, &q))) return rc;
      size_t idx = (size_t)lm__le_n(q, op == 'h' ? 1 : 4);
      if (idx >= k->memo_n || !k->memo[idx])
        return lm__cur_fail(&k->c, LM_EFORMAT, "pickle opcode %s: memo index %zu not set",
                            op_name(op), idx);
      if ((rc = push(k, k->memo[idx]))) return rc;
      break;
    }
    case 'N':
      if ((rc = push(k, pv_new(k, LM_PV_NONE)))) return rc;
      break;
    case 0x88:
    case 0x89:
      if (!(v = pv_new(k, LM_PV_BOOL))) return OOM();
      v->i = op == 0x88;
      if ((rc = push(k, v))) return rc;
      break;
    case 'J':
    case 'K':
    case 'M': { /* BININT, BININT1, BININT2 */
      int nb = op == 'J' ? 4 : op == 'K' ? 1 : 2;
      if ((rc = operand(k, (size_t)nb, &q))) return rc;
      if (!(v = pv_new(k, LM_PV_INT))) return OOM();
      v->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)lm__le_n(q, 4) : (int64_t)lm__le_n(q, nb);
      if ((rc = push(k, v))) return rc;
      break;
    }
    case 0x8a:
    case 0x8b: /* LONG1, LONG4: little-endian two's complement */
      if ((rc = sized(k, op == 0x8a ? 1 : 4, &s, &len))) return rc;
      if (!(v = pv_new(k, len <= 8 ? LM_PV_INT : LM_PV_BIGINT))) return OOM();
      if (len > 0 && len <= 8) {
        uint64_t u = lm__le_n(s, (int)len);
        if (len < 8 && (s[len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len);
        v->i = (int64_t)u;
      }
      if ((rc = push(k, v))) return rc;
      break;
    case 'G': /* BINFLOAT: big-endian double */
      if ((rc = operand(k, 8, &q))) return rc;
      if ((rc = push(k, pv_new(k, LM_PV_FLOAT)))) return rc;
      break;
    case 'X':
    case 0x8c:
    case 0x8d:
    case 'T':
    case 'U': /* str */
      if ((rc = sized(k, op == 0x8c || op == 'U' ? 1 : op == 0x8d ? 8 : 4, &s, &len))) return rc;
      if (!(v = pv_new(k, LM_PV_STR))) return OOM();
      v->s = s, v->len = len;
      if ((rc = push(k, v))) return rc;
      break;
    case 'B':
    case 'C':
    case 0x8e:
    case 0x96: /* bytes, bytearray */
      if ((rc = sized(k, op == 'C' ? 1 : op == 'B' ? 4 : 8, &s, &len))) return rc;
      if (!(v = pv_new(k, LM_PV_BYTES))) return OOM();
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
      const char *nm = op_name(op);
      if (nm)
        return lm__cur_fail(&k->c, LM_EUNSUPPORTED,
                            "pickle opcode 0x%02x (%s) is not supported (pickles of plain data and "
                            "objects, protocol 2-5, do not use it)",
                            op, nm);
      return lm__cur_fail(&k->c, LM_EFORMAT, "unknown pickle opcode 0x%02x", op);
    }
    }
  }
}

/* ---- values for importers ---------------------------------------------------------------- */

const char *lm__pv_kind_name(const pv *v) {
  static const char *const names[] = {"None",  "a bool",   "an int",   "an int", "a float",
                                      "a str", "bytes",    "a tuple",  "a list", "a dict",
                                      "a set", "a global", "an object"};
  return names[v->kind];
}

/* "a dict", "an object of class xgboost.sklearn.XGBClassifier", … (printable, ≤ ~140 chars) */
const char *lm__pv_describe(const pv *v, char *buf, size_t n) {
  if (v->kind == LM_PV_OBJ && v->cls && v->cls->kind == LM_PV_GLOBAL) {
    snprintf(buf, n, "an object of class %.*s.%.*s", (int)(v->cls->len < 60 ? v->cls->len : 60),
             (const char *)v->cls->s, (int)(v->cls->len2 < 60 ? v->cls->len2 : 60),
             (const char *)v->cls->s2);
    for (char *c = buf; *c; c++)
      if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
    return buf;
  }
  return lm__pv_kind_name(v);
}

const pv *lm__pv_dict_get(const pv *d, const char *key) {
  for (size_t i = 0; i + 1 < d->n; i += 2)
    if (lm__pv_str_is(d->items[i], key)) return d->items[i + 1];
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
  int rc = run(k, &res);
  if (!rc) *result = res;
  return rc;
}
