/*
 * v2json.c — a strict, allocation-free parser for one JSON document shape: the KServe Open
 * Inference Protocol (V2) inference request. A general JSON library builds a tree of heap nodes
 * (json-c allocates per value); lmserve instead walks the bytes once, keeps spans into the body
 * for the strings it needs (the request id is echoed byte for byte, escapes and all: strings
 * must be valid UTF-8, so the echo is valid JSON) and writes
 * the input tensor's numbers straight into the worker's value buffer (doubles; JSON null = NaN =
 * a missing value). Grammar is RFC 8259 without extensions: no comments, no trailing commas, no
 * NaN/Infinity literals, no leading zeros or '+', no control characters in strings, nesting at
 * most 32 deep, strings valid UTF-8; keys are compared with their escapes decoded, a member
 * lmserve reads given twice in one object is refused, nested data must be regular (no ragged
 * rows); anything else is a 400 naming the byte offset. Each input tensor is recorded in the
 * worker's w->ins (per-feature requests); parameters lmserve does not know are remembered
 * for a 400 naming them; true/false are read as 1/0 for BOOL tensors. The same data grammar
 * reads SageMaker's application/json rows (ls_rows_json_parse).
 *
 * Numbers: decimal literals whose significand fits 2^53 and whose decimal exponent is within
 * ±22 are converted exactly (Clinger's fast path: one IEEE multiplication or division of two
 * exact doubles is correctly rounded); all others go through strtod. Both give the correctly
 * rounded double, so a value scores exactly as lmscore scores the same CSV text.
 * Fuzzed as part of the request path (server/fuzz/fuzz_request.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ls.h"

typedef struct jp {
  const char *b, *p, *e;
  ls_worker *w;
  ls_infer_req *q;
} jp;

#define JERR(msg)                                                                   \
  do {                                                                              \
    snprintf(j->q->errbuf, sizeof j->q->errbuf, "%s at byte %zu", (msg),            \
             (size_t)(j->p - j->b));                                                \
    j->q->err = j->q->errbuf;                                                       \
    return -1;                                                                      \
  } while (0)

static void ws(jp *j) {
  while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int expect(jp *j, char c) {
  ws(j);
  if (j->p >= j->e || *j->p != c) {
    char m[40];
    snprintf(m, sizeof m, "malformed JSON: expected '%c'", c);
    JERR(m);
  }
  j->p++;
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A string: *s, *n = its raw content between the quotes (escapes validated, kept). */
static int string(jp *j, const char **s, size_t *n) {
  ws(j);
  if (j->p >= j->e || *j->p != '"') JERR("malformed JSON: expected a string");
  const char *p = ++j->p;
  while (p < j->e && *p != '"') {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20) {
      j->p = p;
      JERR("malformed JSON: control character in a string");
    }
    if (c == '\\') {
      if (p + 1 >= j->e) break;
      char x = p[1];
      if (x == 'u') {
        if (j->e - p < 6 || hexval(p[2]) < 0 || hexval(p[3]) < 0 || hexval(p[4]) < 0 ||
            hexval(p[5]) < 0) {
          j->p = p;
          JERR("malformed JSON: bad \\u escape");
        }
        p += 6;
        continue;
      }
      if (!strchr("\"\\/bfnrt", x) || x == 0) {
        j->p = p;
        JERR("malformed JSON: bad escape");
      }
      p += 2;
      continue;
    }
    p++;
  }
  if (p >= j->e) {
    j->p = p;
    JERR("malformed JSON: unterminated string");
  }
  if (!ls_utf8_valid(j->p, (size_t)(p - j->p))) {
    const char *q = j->p;
    while (q < p && ls_utf8_valid(q, 1)) q++; /* near the first bad byte */
    j->p = q;
    JERR("malformed JSON: invalid UTF-8 in a string");
  }
  *s = j->p;
  *n = (size_t)(p - j->p);
  j->p = p + 1;
  return 0;
}

/* The value of a string's content s[0..n) (escapes validated by string()) decoded into out
 * (cap bytes, NUL-terminated, cut at a character when full): its length. Every name lmserve
 * compares against is shorter than cap - 1, so a cut string matches none. Keys and the
 * strings lmserve compares (datatype, output names) are compared decoded: "\u0069nputs" is
 * "inputs". A lone surrogate decodes to U+FFFD. */
size_t ls_json_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    unsigned cp;
    if (s[i] != '\\') {
      if (o + 2 > cap) break;
      out[o++] = s[i++];
      continue;
    }
    char x = s[i + 1];
    if (x != 'u') {
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
      if (o + 2 > cap) break;
      out[o++] = to[strchr(from, x) - from];
      i += 2;
      continue;
    }
    cp = (unsigned)(hexval(s[i + 2]) << 12 | hexval(s[i + 3]) << 8 | hexval(s[i + 4]) << 4 |
                    hexval(s[i + 5]));
    i += 6;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
      unsigned lo = (unsigned)(hexval(s[i + 2]) << 12 | hexval(s[i + 3]) << 8 |
                               hexval(s[i + 4]) << 4 | hexval(s[i + 5]));
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i += 6;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    char u[4];
    size_t ul;
    if (cp < 0x80) u[0] = (char)cp, ul = 1;
    else if (cp < 0x800) u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), ul = 2;
    else if (cp < 0x10000)
      u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 63)),
      u[2] = (char)(0x80 | (cp & 63)), ul = 3;
    else
      u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 63)),
      u[2] = (char)(0x80 | (cp >> 6 & 63)), u[3] = (char)(0x80 | (cp & 63)), ul = 4;
    if (o + ul + 1 > cap) break;
    memcpy(out + o, u, ul);
    o += ul;
  }
  out[o] = 0;
  return o;
}

/* A string, decoded into out (cap bytes; see decode). */
static int string_decoded(jp *j, char *out, size_t cap, size_t *len) {
  const char *s;
  size_t n;
  if (string(j, &s, &n)) return -1;
  *len = ls_json_decode(s, n, out, cap);
  return 0;
}

static int key_is(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A JSON number (strict grammar), correctly rounded to double. */
static int number(jp *j, double *out) {
  ws(j);
  const char *p = j->p, *s = p;
  int neg = 0;
  if (p < j->e && *p == '-') neg = 1, p++;
  if (p >= j->e || *p < '0' || *p > '9') JERR("malformed JSON: expected a number");
  uint64_t m = 0;
  int digits = 0, exp10 = 0, exact = 1;
  if (*p == '0') {
    p++;
  } else {
    while (p < j->e && *p >= '0' && *p <= '9') {
      if (digits < 19) m = m * 10 + (uint64_t)(*p - '0');
      else exact = 0;
      if (m || *p != '0') digits++;
      p++;
    }
  }
  if (p < j->e && *p == '.') {
    p++;
    if (p >= j->e || *p < '0' || *p > '9') {
      j->p = p;
      JERR("malformed JSON: digit expected after '.'");
    }
    while (p < j->e && *p >= '0' && *p <= '9') {
      if (digits < 19) {
        m = m * 10 + (uint64_t)(*p - '0');
        exp10--;
        if (m) digits++;
      } else {
        exact = 0;
      }
      p++;
    }
  }
  if (p < j->e && (*p == 'e' || *p == 'E')) {
    p++;
    int eneg = 0, ev = 0;
    if (p < j->e && (*p == '+' || *p == '-')) eneg = *p == '-', p++;
    if (p >= j->e || *p < '0' || *p > '9') {
      j->p = p;
      JERR("malformed JSON: digit expected in exponent");
    }
    while (p < j->e && *p >= '0' && *p <= '9') {
      if (ev < 100000) ev = ev * 10 + (*p - '0');
      p++;
    }
    exp10 += eneg ? -ev : ev;
  }
  size_t len = (size_t)(p - s);
  if (exact && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
    double v = (double)m;
    v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
    *out = neg ? -v : v;
  } else {
    char tmp[128];
    if (len >= sizeof tmp) JERR("number literal too long");
    memcpy(tmp, s, len);
    tmp[len] = 0;
    *out = strtod(tmp, NULL);
  }
  j->p = p;
  return 0;
}

static int lit(jp *j, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(j->e - j->p) < n || memcmp(j->p, word, n) != 0) JERR("malformed JSON: bad literal");
  j->p += n;
  return 0;
}

static int boolean(jp *j, int *out) {
  ws(j);
  if (j->p < j->e && *j->p == 't') {
    *out = 1;
    return lit(j, "true");
  }
  if (j->p < j->e && *j->p == 'f') {
    *out = 0;
    return lit(j, "false");
  }
  JERR("expected true or false");
}

static int skip_value(jp *j, int depth) {
  if (depth > 32) JERR("JSON nested too deeply");
  ws(j);
  if (j->p >= j->e) JERR("malformed JSON: value expected");
  char c = *j->p;
  const char *s;
  size_t n;
  double d;
  switch (c) {
  case '"':
    return string(j, &s, &n);
  case 't':
    return lit(j, "true");
  case 'f':
    return lit(j, "false");
  case 'n':
    return lit(j, "null");
  case '{':
    j->p++;
    ws(j);
    if (j->p < j->e && *j->p == '}') return j->p++, 0;
    for (;;) {
      if (string(j, &s, &n) || expect(j, ':') || skip_value(j, depth + 1)) return -1;
      ws(j);
      if (j->p < j->e && *j->p == ',') { j->p++; continue; }
      return expect(j, '}');
    }
  case '[':
    j->p++;
    ws(j);
    if (j->p < j->e && *j->p == ']') return j->p++, 0;
    for (;;) {
      if (skip_value(j, depth + 1)) return -1;
      ws(j);
      if (j->p < j->e && *j->p == ',') { j->p++; continue; }
      return expect(j, ']');
    }
  default:
    return number(j, &d);
  }
}

static int push_val(jp *j, double v) {
  ls_worker *w = j->w;
  if (w->vals_limit && j->q->nvals >= w->vals_limit) {
    j->q->too_many_values = 1;
    JERR("data: more values than --max-batch-rows rows of the model's features");
  }
  if (j->q->nvals == w->vals_cap) {
    size_t cap = w->vals_cap ? 2 * w->vals_cap : 1024;
    double *nv = realloc(w->vals, cap * sizeof *nv);
    if (!nv) JERR("out of memory");
    w->vals = nv;
    w->vals_cap = cap;
  }
  w->vals[j->q->nvals++] = v;
  return 0;
}

/* "data": numbers and nulls, possibly nested (row-major), flattened. Nesting must be regular:
 * numbers only at one depth (q->data_ndim levels), and every array at a depth as long as the
 * first one there (q->data_dims); infer.c then checks these lengths against the shape. */
static int data_array(jp *j, int depth) {
  ls_infer_req *q = j->q;
  if (depth > 8) JERR("data nested too deeply");
  if (expect(j, '[')) return -1;
  int64_t count = 0;
  ws(j);
  if (j->p < j->e && *j->p == ']') {
    j->p++;
  } else {
    for (;;) {
      ws(j);
      if (j->p >= j->e) JERR("malformed JSON: value expected");
      char c = *j->p;
      if (c == '[') {
        if (q->data_ndim && depth + 2 > q->data_ndim)
          JERR("ragged data: an array where the rows before had numbers");
        if (data_array(j, depth + 1)) return -1;
      } else if (c == 'n' || c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9')) {
        if (!q->data_ndim) q->data_ndim = depth + 1;
        else if (q->data_ndim != depth + 1)
          JERR("ragged data: a number where the rows before had arrays");
        double v = NAN;
        if (c == 't' || c == 'f') { /* BOOL tensors (infer.c refuses them for other types) */
          int b;
          if (boolean(j, &b)) return -1;
          v = b;
          q->has_bool = 1;
        } else if (c == 'n' ? lit(j, "null") : number(j, &v)) {
          return -1;
        }
        if (push_val(j, v)) return -1;
      } else {
        JERR("malformed JSON: data: expected a number or null");
      }
      count++;
      ws(j);
      if (j->p < j->e && *j->p == ',') { j->p++; continue; }
      if (expect(j, ']')) return -1;
      break;
    }
  }
  if (q->data_dims[depth] < 0) {
    q->data_dims[depth] = count;
  } else if (q->data_dims[depth] != count) {
    char m[120];
    snprintf(m, sizeof m, "ragged data: an array of %lld values at depth %d where the first had %lld",
             (long long)count, depth + 1, (long long)q->data_dims[depth]);
    JERR(m);
  }
  return 0;
}

/* Generic object walk: calls field(j, key, keylen, seen) for each member, the key decoded (its
 * escapes resolved); seen: the object's bit set of members already read (see once()). */
typedef int (*field_fn)(jp *j, const char *k, size_t n, void *ctx);
static int object(jp *j, field_fn f, void *ctx) {
  (void)ctx;
  unsigned seen = 0;
  if (expect(j, '{')) return -1;
  ws(j);
  if (j->p < j->e && *j->p == '}') return j->p++, 0;
  for (;;) {
    char k[64];
    size_t n;
    if (string_decoded(j, k, sizeof k, &n) || expect(j, ':') || f(j, k, n, &seen)) return -1;
    ws(j);
    if (j->p < j->e && *j->p == ',') { j->p++; continue; }
    return expect(j, '}');
  }
}

static int array_of_objects(jp *j, field_fn f, void (*each)(jp *), int (*after)(jp *),
                            void *ctx) {
  if (expect(j, '[')) return -1;
  ws(j);
  if (j->p < j->e && *j->p == ']') return j->p++, 0;
  for (;;) {
    if (each) each(j);
    if (object(j, f, ctx)) return -1;
    if (after && after(j)) return -1;
    ws(j);
    if (j->p < j->e && *j->p == ',') { j->p++; continue; }
    return expect(j, ']');
  }
}

/* A member lmserve reads may appear once per object: a duplicate is refused (parsers that keep
 * the first and those that keep the last would disagree about the request). */
static int once(jp *j, void *seen, int bit, const char *key) {
  unsigned *s = seen;
  if (*s >> bit & 1) {
    char m[64];
    snprintf(m, sizeof m, "duplicate key \"%s\"", key);
    JERR(m);
  }
  *s |= 1u << bit;
  return 0;
}

/* A parameter lmserve does not know: remembered (the first one) for a 400 naming it. */
static int unknown_param(jp *j, const char *k, size_t n) {
  if (!j->q->unknown_param[0]) {
    size_t l = n < sizeof j->q->unknown_param - 1 ? n : sizeof j->q->unknown_param - 1;
    memcpy(j->q->unknown_param, k, l);
    j->q->unknown_param[l] = 0;
  }
  return skip_value(j, 2);
}

static int input_params_field(jp *j, const char *k, size_t n, void *ctx) {
  if (key_is(k, n, "binary_data_size")) {
    if (once(j, ctx, 0, "binary_data_size")) return -1;
    double v;
    if (number(j, &v)) return -1;
    if (!(v >= 0 && v <= 1e15) || v != floor(v)) JERR("binary_data_size: expected a count");
    j->q->binary_size = (int64_t)v;
    return 0;
  }
  if (key_is(k, n, "content_type")) /* MLServer's codec hint ("np"): informational */
    return once(j, ctx, 1, "content_type") || skip_value(j, 2) ? -1 : 0;
  return unknown_param(j, k, n);
}

static int input_field(jp *j, const char *k, size_t n, void *ctx) {
  ls_infer_req *q = j->q;
  if (key_is(k, n, "name"))
    return once(j, ctx, 0, "name") || string(j, &q->in_name, &q->in_name_len) ? -1 : 0;
  if (key_is(k, n, "datatype")) {
    size_t l;
    if (once(j, ctx, 1, "datatype") || string_decoded(j, q->datatype, sizeof q->datatype, &l))
      return -1;
    return 0;
  }
  if (key_is(k, n, "shape")) {
    if (once(j, ctx, 2, "shape") || expect(j, '[')) return -1;
    q->ndim = 0;
    ws(j);
    if (j->p < j->e && *j->p == ']') return j->p++, 0;
    for (;;) {
      double v;
      if (number(j, &v)) return -1;
      if (!(v >= 0 && v <= 1e12) || v != floor(v)) JERR("shape: expected non-negative integers");
      if (q->ndim >= 8) JERR("shape: too many dimensions");
      q->shape[q->ndim++] = (int64_t)v;
      ws(j);
      if (j->p < j->e && *j->p == ',') { j->p++; continue; }
      return expect(j, ']');
    }
  }
  if (key_is(k, n, "data")) {
    if (q->has_data) JERR("duplicate key \"data\"");
    q->has_data = 1;
    return data_array(j, 0);
  }
  if (key_is(k, n, "parameters"))
    return once(j, ctx, 3, "parameters") || object(j, input_params_field, NULL) ? -1 : 0;
  return skip_value(j, 2);
}

/* Each input object starts with fresh per-input fields and ends saved in w->ins. */
static void begin_input(jp *j) {
  ls_infer_req *q = j->q;
  q->ninputs++;
  q->in_name = NULL;
  q->in_name_len = 0;
  q->datatype[0] = 0;
  q->ndim = 0;
  q->has_data = q->has_bool = 0;
  q->data_ndim = 0;
  for (size_t d = 0; d < sizeof q->data_dims / sizeof *q->data_dims; d++) q->data_dims[d] = -1;
  q->binary_size = -1;
  q->in_off = q->nvals;
}

static int end_input(jp *j) {
  ls_infer_req *q = j->q;
  ls_worker *w = j->w;
  size_t i = (size_t)q->ninputs - 1;
  if (i >= w->ins_cap) {
    size_t cap = w->ins_cap ? 2 * w->ins_cap : 16;
    ls_input *ni = realloc(w->ins, cap * sizeof *ni);
    if (!ni) JERR("out of memory");
    w->ins = ni;
    w->ins_cap = cap;
  }
  ls_input *in = &w->ins[i];
  in->name = q->in_name;
  in->name_len = q->in_name_len;
  memcpy(in->datatype, q->datatype, sizeof in->datatype);
  memcpy(in->shape, q->shape, sizeof in->shape);
  in->ndim = q->ndim;
  in->has_data = q->has_data;
  in->has_bool = q->has_bool;
  in->off = q->in_off;
  in->nvals = q->nvals - q->in_off;
  in->data_ndim = q->data_ndim;
  memcpy(in->data_dims, q->data_dims, sizeof in->data_dims);
  in->binary_size = q->binary_size;
  return 0;
}

/* One requested output: its name (output-0: the prediction, leaf: pred_leaf's leaf ids,
 * contrib: pred_contribs' feature contributions) and
 * parameters (binary_data, output_margin), applied once the object is complete (end_output). */
static int output_params_field(jp *j, const char *k, size_t n, void *ctx) {
  int b;
  if (key_is(k, n, "binary_data")) {
    if (once(j, ctx, 0, "binary_data") || boolean(j, &b)) return -1;
    j->q->out_binary = (unsigned)b;
    return 0;
  }
  if (key_is(k, n, "output_margin")) {
    if (once(j, ctx, 1, "output_margin") || boolean(j, &b)) return -1;
    j->q->out_margin = b;
    return 0;
  }
  return unknown_param(j, k, n);
}

static int output_field(jp *j, const char *k, size_t n, void *ctx) {
  if (key_is(k, n, "name")) {
    char s[16];
    size_t l;
    if (once(j, ctx, 0, "name") || string_decoded(j, s, sizeof s, &l)) return -1;
    if (key_is(s, l, "output-0")) j->q->out_bit = LS_OUT_PRED;
    else if (key_is(s, l, "leaf")) j->q->out_bit = LS_OUT_LEAF;
    else if (key_is(s, l, "contrib")) j->q->out_bit = LS_OUT_CONTRIB;
    else j->q->bad_output_name = 1;
    return 0;
  }
  if (key_is(k, n, "parameters"))
    return once(j, ctx, 1, "parameters") || object(j, output_params_field, NULL) ? -1 : 0;
  return skip_value(j, 2);
}

static void begin_output(jp *j) {
  j->q->out_bit = j->q->out_binary = 0;
  j->q->out_margin = 0;
}

static int end_output(jp *j) {
  ls_infer_req *q = j->q;
  if (q->want & j->q->out_bit) JERR("output requested twice");
  q->want |= j->q->out_bit;
  if (j->q->out_binary) q->binary_want |= j->q->out_bit ? j->q->out_bit : 0;
  if (j->q->out_margin && j->q->out_bit == LS_OUT_PRED) q->output_margin = 1;
  else if (j->q->out_margin) JERR("output_margin applies to output-0 only");
  return 0;
}

static int top_params_field(jp *j, const char *k, size_t n, void *ctx) {
  int b;
  if (key_is(k, n, "binary_data_output")) {
    if (once(j, ctx, 0, "binary_data_output") || boolean(j, &b)) return -1;
    if (b) j->q->binary_output = 1;
    return 0;
  }
  if (key_is(k, n, "output_margin")) {
    if (once(j, ctx, 1, "output_margin") || boolean(j, &b)) return -1;
    if (b) j->q->output_margin = 1;
    return 0;
  }
  if (key_is(k, n, "pred_leaf")) {
    if (once(j, ctx, 2, "pred_leaf") || boolean(j, &b)) return -1;
    j->q->pred_leaf = b;
    return 0;
  }
  if (key_is(k, n, "pred_contribs")) { /* XGBoost's name: predict(pred_contribs=True) */
    if (once(j, ctx, 3, "pred_contribs") || boolean(j, &b)) return -1;
    j->q->pred_contribs = b;
    return 0;
  }
  return unknown_param(j, k, n);
}

static int top_field(jp *j, const char *k, size_t n, void *ctx) {
  if (key_is(k, n, "id"))
    return once(j, ctx, 0, "id") || string(j, &j->q->id, &j->q->id_len) ? -1 : 0;
  if (key_is(k, n, "parameters"))
    return once(j, ctx, 1, "parameters") || object(j, top_params_field, NULL) ? -1 : 0;
  if (key_is(k, n, "inputs"))
    return once(j, ctx, 2, "inputs") || array_of_objects(j, input_field, begin_input, end_input, NULL) ? -1 : 0;
  if (key_is(k, n, "outputs"))
    return once(j, ctx, 3, "outputs") || array_of_objects(j, output_field, begin_output, end_output, NULL) ? -1 : 0;
  return skip_value(j, 1);
}

static int instances_field(jp *j, const char *k, size_t n, void *ctx) {
  if (key_is(k, n, "instances")) {
    if (once(j, ctx, 0, "instances")) return -1;
    j->q->has_data = 1;
    return data_array(j, 0);
  }
  char m[128];
  snprintf(m, sizeof m, "unknown member \"%.60s\": expected {\"instances\": rows}", k);
  JERR(m);
}

/* After the document: only whitespace may follow (0), else a 400's message (-1). */
static int at_end(jp *j) {
  ws(j);
  if (j->p == j->e) return 0;
  snprintf(j->q->errbuf, sizeof j->q->errbuf, "malformed JSON: trailing bytes at byte %zu",
           (size_t)(j->p - j->b));
  j->q->err = j->q->errbuf;
  return -1;
}

int ls_rows_json_parse(ls_worker *w, const char *p, size_t n, ls_infer_req *q) {
  memset(q, 0, offsetof(ls_infer_req, errbuf));
  for (size_t d = 0; d < sizeof q->data_dims / sizeof *q->data_dims; d++) q->data_dims[d] = -1;
  jp j = {p, p, p + n, w, q};
  ws(&j);
  int rc = j.p < j.e && *j.p == '{' ? object(&j, instances_field, NULL) : data_array(&j, 0);
  if (rc) return -1;
  if (q->has_bool) {
    q->err = "application/json: true/false in rows";
    return -1;
  }
  return at_end(&j);
}

int ls_v2_parse(ls_worker *w, const char *p, size_t n, ls_infer_req *q) {
  memset(q, 0, offsetof(ls_infer_req, errbuf));
  q->binary_size = -1;
  for (size_t d = 0; d < sizeof q->data_dims / sizeof *q->data_dims; d++) q->data_dims[d] = -1;
  jp j = {p, p, p + n, w, q};
  if (object(&j, top_field, NULL)) return -1;
  return at_end(&j);
}
