/*
 * cursor.c — the checked reads and the messages of lm_cursor (base/cursor.h): one place that
 * says how a binary reader reports a bad byte (input, byte offset, field, what was wrong).
 */
#include <stdarg.h>
#include <stdio.h>

#include "base/cursor.h"

static int cur_vfail(const lm_cursor *c, int code, size_t at, const char *field, const char *fmt,
                     va_list ap) {
  char ctx[320];
  if (field) snprintf(ctx, sizeof ctx, "%s: byte %zu: %s", c->name, at, field);
  else snprintf(ctx, sizeof ctx, "%s: byte %zu", c->name, at);
  return lm__vfail(code, ctx, fmt, ap);
}

int lm__cur_fail(const lm_cursor *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cur_vfail(c, code, c->at, c->field, fmt, ap);
  va_end(ap);
  return rc;
}

int lm__cur_fail_at(const lm_cursor *c, int code, size_t at, const char *field, const char *fmt,
                    ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cur_vfail(c, code, at, field, fmt, ap);
  va_end(ap);
  return rc;
}

int lm__cur_need(const lm_cursor *c, size_t k) {
  if (c->n - c->pos >= k) return LM_OK;
  return lm__cur_fail(c, LM_EFORMAT, "truncated: needs %zu bytes, %zu left (of %zu)", k,
                      c->n - c->pos, c->n);
}

int lm__cur_take(lm_cursor *c, const char *field, size_t k, const uint8_t **q) {
  if (field) lm__cur_field(c, field);
  int rc = lm__cur_need(c, k);
  if (rc) return rc;
  *q = c->p + c->pos;
  c->pos += k;
  return LM_OK;
}

/* The little-endian readers: take the value's bytes under field, decode them (one definition
 * for the four widths and signs). */
#define LM__CUR_READER(fn, type, nb, decode)                                                     \
  int fn(lm_cursor *c, const char *field, type *v) {                                             \
    const uint8_t *q;                                                                            \
    int rc = lm__cur_take(c, field, nb, &q);                                                     \
    if (!rc) *v = (type)decode(q);                                                               \
    return rc;                                                                                   \
  }
LM__CUR_READER(lm__cur_u32, uint32_t, 4, lm__le32)
LM__CUR_READER(lm__cur_i32, int32_t, 4, lm__le32)
LM__CUR_READER(lm__cur_u64, uint64_t, 8, lm__le64)
LM__CUR_READER(lm__cur_i64, int64_t, 8, lm__le64)

int lm__cur_count(lm_cursor *c, const char *field, int nb, size_t unit, uint64_t *v) {
  const uint8_t *q;
  if (field) lm__cur_field(c, field);
  int rc = lm__cur_need(c, (size_t)nb);
  if (rc) return rc;
  q = c->p + c->pos;
  uint64_t x = lm__le_n(q, nb);
  size_t left = c->n - c->pos - (size_t)nb;
  if (x > left / (unit ? unit : 1))
    return lm__cur_fail(c, LM_EFORMAT,
                        "count %llu needs more than the %zu bytes left (truncated or corrupt)",
                        (unsigned long long)x, left);
  c->pos += (size_t)nb;
  *v = x;
  return LM_OK;
}

long lm__text_bad_at(const char *s, int controls_ok) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; p[i];) {
    unsigned c = p[i], n, cp;
    if (!controls_ok && (c < 0x20 || c == 0x7f)) return (long)i;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
    else return (long)i;
    for (unsigned k = 1; k <= n; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return (long)i; /* also stops at the NUL */
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (!controls_ok && cp >= 0x80 && cp <= 0x9f))
      return (long)i;
    i += n + 1;
  }
  return -1;
}

const char *lm__printable(char *dst, size_t n, const void *src, size_t len) {
  const uint8_t *s = src;
  size_t i = 0, lim = n - 1 < 60 ? n - 1 : 60;
  for (; i < len && i < lim; i++) dst[i] = (s[i] < 0x20 || s[i] >= 0x7f) ? '?' : (char)s[i];
  dst[i] = '\0';
  if (i < len && i >= 3) memcpy(dst + i - 3, "...", 4);
  return dst;
}

const char *lm__printable_utf8(char *dst, size_t n, const char *src) {
  size_t i = 0, lim = n - 1 < 60 ? n - 1 : 60;
  for (; src[i] && i < lim; i++) {
    unsigned char ch = (unsigned char)src[i];
    dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
  }
  dst[i] = '\0';
  if (src[i] && n > 4 && i >= 3) memcpy(dst + i - 3, "...", 4);
  return dst;
}
