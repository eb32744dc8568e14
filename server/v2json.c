/*
 * v2json.c — a strict, allocation-free parser for one JSON document shape: the KServe Open
 * Inference Protocol (V2) inference request. A general JSON library builds a tree of heap nodes
 * (json-c allocates per value); lmserve instead walks the bytes once, keeps spans into the body
 * for the strings it needs (the request id is echoed byte for byte, escapes and all) and writes
 * the input tensor's numbers straight into the worker's value buffer (doubles; JSON null = NaN =
 * a missing value). Grammar is RFC 8259 without extensions: no comments, no trailing commas, no
 * NaN/Infinity literals, no leading zeros or '+', no control characters in strings, nesting at
 * most 32 deep; anything else is a 400 naming the byte offset.
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
  *s = j->p;
  *n = (size_t)(p - j->p);
  j->p = p + 1;
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

/* "data": numbers and nulls, possibly nested (row-major), flattened. */
static int data_array(jp *j, int depth) {
  if (depth > 8) JERR("data nested too deeply");
  if (expect(j, '[')) return -1;
  ws(j);
  if (j->p < j->e && *j->p == ']') return j->p++, 0;
  for (;;) {
    ws(j);
    if (j->p >= j->e) JERR("malformed JSON: value expected");
    char c = *j->p;
    if (c == '[') {
      if (data_array(j, depth + 1)) return -1;
    } else if (c == 'n') {
      if (lit(j, "null") || push_val(j, NAN)) return -1;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      double v;
      if (number(j, &v) || push_val(j, v)) return -1;
    } else {
      JERR("malformed JSON: data: expected a number or null");
    }
    ws(j);
    if (j->p < j->e && *j->p == ',') { j->p++; continue; }
    return expect(j, ']');
  }
}

/* Generic object walk: calls field(j, key, keylen, ctx) for each member. */
typedef int (*field_fn)(jp *j, const char *k, size_t n, void *ctx);
static int object(jp *j, field_fn f, void *ctx) {
  if (expect(j, '{')) return -1;
  ws(j);
  if (j->p < j->e && *j->p == '}') return j->p++, 0;
  for (;;) {
    const char *k;
    size_t n;
    if (string(j, &k, &n) || expect(j, ':') || f(j, k, n, ctx)) return -1;
    ws(j);
    if (j->p < j->e && *j->p == ',') { j->p++; continue; }
    return expect(j, '}');
  }
}

static int array_of_objects(jp *j, field_fn f, void (*each)(jp *), void *ctx) {
  if (expect(j, '[')) return -1;
  ws(j);
  if (j->p < j->e && *j->p == ']') return j->p++, 0;
  for (;;) {
    if (each) each(j);
    if (object(j, f, ctx)) return -1;
    ws(j);
    if (j->p < j->e && *j->p == ',') { j->p++; continue; }
    return expect(j, ']');
  }
}

static int input_params_field(jp *j, const char *k, size_t n, void *ctx) {
  (void)ctx;
  if (key_is(k, n, "binary_data_size")) {
    double v;
    if (number(j, &v)) return -1;
    if (!(v >= 0 && v <= 1e15) || v != floor(v)) JERR("binary_data_size: expected a count");
    j->q->binary_size = (int64_t)v;
    return 0;
  }
  return skip_value(j, 2);
}

static int input_field(jp *j, const char *k, size_t n, void *ctx) {
  (void)ctx;
  ls_infer_req *q = j->q;
  if (q->ninputs > 1) return skip_value(j, 2);
  if (key_is(k, n, "name")) return string(j, &q->in_name, &q->in_name_len);
  if (key_is(k, n, "datatype")) {
    const char *s;
    size_t l;
    if (string(j, &s, &l)) return -1;
    if (l >= sizeof q->datatype) l = sizeof q->datatype - 1;
    memcpy(q->datatype, s, l);
    q->datatype[l] = 0;
    return 0;
  }
  if (key_is(k, n, "shape")) {
    if (expect(j, '[')) return -1;
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
    if (q->has_data) JERR("duplicate data");
    q->has_data = 1;
    return data_array(j, 0);
  }
  if (key_is(k, n, "parameters")) return object(j, input_params_field, NULL);
  return skip_value(j, 2);
}

static void count_input(jp *j) { j->q->ninputs++; }

static int output_params_field(jp *j, const char *k, size_t n, void *ctx) {
  (void)ctx;
  if (key_is(k, n, "binary_data")) {
    int b;
    if (boolean(j, &b)) return -1;
    if (b) j->q->binary_output = 1;
    return 0;
  }
  return skip_value(j, 2);
}

static int output_field(jp *j, const char *k, size_t n, void *ctx) {
  (void)ctx;
  if (key_is(k, n, "name")) {
    const char *s;
    size_t l;
    if (string(j, &s, &l)) return -1;
    if (!key_is(s, l, "output-0")) j->q->bad_output_name = 1;
    return 0;
  }
  if (key_is(k, n, "parameters")) return object(j, output_params_field, NULL);
  return skip_value(j, 2);
}

static int top_params_field(jp *j, const char *k, size_t n, void *ctx) {
  (void)ctx;
  if (key_is(k, n, "binary_data_output")) {
    int b;
    if (boolean(j, &b)) return -1;
    if (b) j->q->binary_output = 1;
    return 0;
  }
  return skip_value(j, 1);
}

static int top_field(jp *j, const char *k, size_t n, void *ctx) {
  (void)ctx;
  if (key_is(k, n, "id")) return string(j, &j->q->id, &j->q->id_len);
  if (key_is(k, n, "parameters")) return object(j, top_params_field, NULL);
  if (key_is(k, n, "inputs")) return array_of_objects(j, input_field, count_input, NULL);
  if (key_is(k, n, "outputs")) return array_of_objects(j, output_field, NULL, NULL);
  return skip_value(j, 1);
}

int ls_v2_parse(ls_worker *w, const char *p, size_t n, ls_infer_req *q) {
  memset(q, 0, offsetof(ls_infer_req, errbuf));
  q->binary_size = -1;
  jp j = {p, p, p + n, w, q};
  if (object(&j, top_field, NULL)) return -1;
  ws(&j);
  if (j.p != j.e) {
    snprintf(q->errbuf, sizeof q->errbuf, "malformed JSON: trailing bytes at byte %zu",
             (size_t)(j.p - j.b));
    q->err = q->errbuf;
    return -1;
  }
  return 0;
}
