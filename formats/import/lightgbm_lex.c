/*
 * lightgbm_lex.c — the lexical layer of the LightGBM text importer (lightgbm_txt.c): lines
 * (with their numbers and byte offsets), key=value fields, whitespace-separated tokens, integers
 * and doubles parsed whole and range-checked, growing arrays, and errors that name the input and
 * the line ("model.txt: line 57: Tree=2: left_child[3]: …").
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/lightgbm_txt.h"
#include "formats/objective.h"

/* ---- errors ---------------------------------------------------------------------------- */

/* "name: line N: message" (line 0: "name: message"). */
LM__PRINTF(4, 5)
int lm__lg_fail(const lg *c, int code, size_t line, const char *fmt, ...) {
  char ctx[512];
  if (line) snprintf(ctx, sizeof ctx, "%s: line %zu", c->name, line);
  else snprintf(ctx, sizeof ctx, "%s", c->name);
  va_list ap;
  va_start(ap, fmt);
  int rc = lm__vfail(code, ctx, fmt, ap);
  va_end(ap);
  return rc;
}

int lm__lg_nomem(const lg *c) { return lm__fail(LM_ENOMEM, "%s: out of memory", c->name); }

/* ---- lines and tokens ------------------------------------------------------------------ */

/* The next line (without "\n" or "\r\n"); 0 at the end of the input, <0 on a NUL byte. */
int lm__lg_next_line(lg *c, lg_line *l) {
  if (c->pos >= c->len) return 0;
  const char *b = c->data + c->pos;
  const char *nl = memchr(b, '\n', c->len - c->pos);
  size_t n = nl ? (size_t)(nl - b) : c->len - c->pos;
  l->p = b;
  l->off = c->pos;
  l->no = ++c->line;
  c->pos += n + (nl ? 1 : 0);
  if (n && b[n - 1] == '\r') n--;
  l->n = n;
  if (memchr(b, '\0', n)) return lm__lg_fail(c, LM_EFORMAT, l->no, "NUL byte in the text");
  return 1;
}

int lm__lg_line_is(const lg_line *l, const char *s) {
  size_t n = strlen(s);
  return l->n == n && memcmp(l->p, s, n) == 0;
}

int lm__lg_line_starts(const lg_line *l, const char *s) {
  size_t n = strlen(s);
  return l->n >= n && memcmp(l->p, s, n) == 0;
}

/* The lines that end the tree list. */
int lm__lg_is_trees_end(const lg_line *l) {
  return lm__lg_line_is(l, "end of trees") || lm__lg_line_starts(l, "feature importances:") ||
         lm__lg_line_starts(l, "feature_importances:") || lm__lg_line_starts(l, "parameters:");
}

static int is_space(char ch) { return ch == ' ' || ch == '\t'; }

int lm__lg_tok_next(lg_toks *t, const char **s, size_t *n) {
  while (t->p < t->end && is_space(*t->p)) t->p++;
  if (t->p == t->end) return 0;
  *s = t->p;
  while (t->p < t->end && !is_space(*t->p)) t->p++;
  *n = (size_t)(t->p - *s);
  return 1;
}

size_t lm__lg_count_tokens(const char *p, size_t n) {
  lg_toks t = {p, p + n};
  const char *s;
  size_t len, k = 0;
  while (lm__lg_tok_next(&t, &s, &len)) k++;
  return k;
}

/* ---- numbers --------------------------------------------------------------------------- */

/* A double from a whole token (strtod: "1e-35", "inf", "-inf"; NaN is returned as parsed). */
int lm__lg_tok_double(const char *s, size_t n, double *out) {
  char buf[LG_TOKEN];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + n) return -1;
  *out = v; /* beyond double range: ±inf or 0 (errno ERANGE), as LightGBM's parser gives */
  return 0;
}

/* A decimal integer from a whole token; -1 malformed, -2 out of int64 range. */
int lm__lg_tok_int(const char *s, size_t n, int64_t *out) {
  char buf[32];
  if (n == 0 || n >= sizeof buf) return n ? -2 : -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  const char *q = buf;
  if (*q == '-' || *q == '+') q++;
  if (*q < '0' || *q > '9') return -1;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (end != buf + n) return -1;
  if (errno == ERANGE) return -2;
  *out = v;
  return 0;
}

/* ctx: "Tree=3: " or "" — prefixes field names in messages. */

/* A single integer field in [lo, hi]. */
int lm__lg_field_int(const lg *c, const lg_field *f, const char *ctx, const char *key, int64_t lo,
                     int64_t hi, int range_code, int64_t *out) {
  lg_toks t = {f->v, f->v + f->n};
  const char *s;
  size_t n;
  char b[48];
  if (!lm__lg_tok_next(&t, &s, &n))
    return lm__lg_fail(c, LM_EFORMAT, f->line, "%s%s: empty", ctx, key);
  const char *s2;
  size_t n2;
  int64_t v = 0;
  int r = lm__lg_tok_int(s, n, &v);
  if (r == -1 || lm__lg_tok_next(&t, &s2, &n2))
    return lm__lg_fail(c, LM_EFORMAT, f->line, "%s%s: expected an integer, got '%s'", ctx, key,
                       lm__lg_printable(b, sizeof b, f->v, f->n));
  if (r == -2 || v < lo || v > hi)
    return lm__lg_fail(c, range_code, f->line, "%s%s: %s out of range [%lld, %lld]", ctx, key,
                       lm__lg_printable(b, sizeof b, s, n), (long long)lo, (long long)hi);
  *out = v;
  return LM_OK;
}

/* An array field of exactly `want` values: integers in [lo, hi] into iout, or, when iout is
 * NULL, numbers (NaN refused) into dout. what_want describes want in the length message
 * ("num_leaves - 1"); the output may be NULL when want is 0. */
static int field_array(const lg *c, const lg_field *f, const char *ctx, const char *key,
                       size_t want, const char *what_want, int64_t lo, int64_t hi, int range_code,
                       int64_t *iout, double *dout) {
  size_t have = lm__lg_count_tokens(f->v, f->n);
  if (have != want)
    return lm__lg_fail(c, LM_EFORMAT, f->line, "%s%s: %zu values, expected %zu (%s)", ctx, key,
                       have, want, what_want);
  lg_toks t = {f->v, f->v + f->n};
  const char *s;
  size_t n;
  char b[48];
  for (size_t k = 0; lm__lg_tok_next(&t, &s, &n); k++) {
    if (!iout) {
      double v;
      if (lm__lg_tok_double(s, n, &v))
        return lm__lg_fail(c, LM_EFORMAT, f->line, "%s%s[%zu]: expected a number, got '%s'", ctx,
                           key, k, lm__lg_printable(b, sizeof b, s, n));
      if (isnan(v)) return lm__lg_fail(c, LM_EFORMAT, f->line, "%s%s[%zu]: NaN", ctx, key, k);
      dout[k] = v;
      continue;
    }
    int64_t v = 0;
    int r = lm__lg_tok_int(s, n, &v);
    if (r == -1)
      return lm__lg_fail(c, LM_EFORMAT, f->line, "%s%s[%zu]: expected an integer, got '%s'", ctx,
                         key, k, lm__lg_printable(b, sizeof b, s, n));
    if (r == -2 || v < lo || v > hi)
      return lm__lg_fail(c, range_code, f->line, "%s%s[%zu]: %s out of range [%lld, %lld]", ctx,
                         key, k, lm__lg_printable(b, sizeof b, s, n), (long long)lo, (long long)hi);
    iout[k] = v;
  }
  return LM_OK;
}

/* An array field of exactly `want` integers in [lo, hi] into out (may be NULL when want is
 * 0). what_want describes want in the length message ("num_leaves - 1"). */
int lm__lg_field_ints(const lg *c, const lg_field *f, const char *ctx, const char *key, size_t want,
                      const char *what_want, int64_t lo, int64_t hi, int range_code, int64_t *out) {
  return field_array(c, f, ctx, key, want, what_want, lo, hi, range_code, out, NULL);
}

/* An array field of exactly `want` doubles; NaN refused. */
int lm__lg_field_doubles(const lg *c, const lg_field *f, const char *ctx, const char *key,
                         size_t want, const char *what_want, double *out) {
  return field_array(c, f, ctx, key, want, what_want, 0, 0, LM_EFORMAT, NULL, out);
}

/* ---- growing arrays -------------------------------------------------------------------- */

int lm__lg_grow(const lg *c, void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return LM_OK;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2 / elem) return lm__lg_nomem(c);
    nc *= 2;
  }
  void *p = realloc(*arr, nc * elem);
  if (!p) return lm__lg_nomem(c);
  *arr = p;
  *cap = nc;
  return LM_OK;
}

int lm__lg_split_kv(const lg_line *l, size_t *klen, const char **v, size_t *vlen) {
  const char *eq = memchr(l->p, '=', l->n);
  if (!eq) return 0;
  *klen = (size_t)(eq - l->p);
  *v = eq + 1;
  *vlen = l->n - *klen - 1;
  return 1;
}

int lm__lg_key_index(const char *const *keys, int n, const char *k, size_t klen) {
  for (int i = 0; i < n; i++)
    if (strlen(keys[i]) == klen && memcmp(keys[i], k, klen) == 0) return i;
  return -1;
}

/* Header lines up to the first Tree= line (left in *first). */
