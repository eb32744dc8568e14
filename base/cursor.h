/*
 * cursor.h — a cursor over an untrusted byte buffer, for the readers of binary inputs (XGBoost's
 * legacy binary model, MXNet NDArray files, pickles). It remembers the input's name, the field
 * being read and where that field starts, so that every failure names all three:
 *
 *   "model.bin: byte 1234: num_trees: truncated: needs 4 bytes, 2 left (of 1236)"
 *
 * Reads are little-endian and bounds-checked; a failed read leaves the cursor where it was and
 * returns the negative LM_E* code lm__fail() recorded. Blocks that were checked once with
 * lm__cur_need() may be decoded with the unchecked loads lm__le32() and friends.
 *
 *   lm_cursor c;
 *   lm__cur_init(&c, data, len, "model.bin");
 *   uint32_t n;
 *   if ((rc = lm__cur_u32(&c, "num_trees", &n))) return rc;
 *   if (n > 64) return lm__cur_fail(&c, LM_ERANGE, "%u out of range [0, 64]", n);
 *
 * Fields are plain strings the caller keeps alive while the cursor refers to them (string
 * literals, or a buffer of the caller's). A NULL field reads on under the current field and its
 * start offset (several reads that make one field, or a field chosen with lm__cur_field()).
 */
#ifndef LM_BASE_CURSOR_H
#define LM_BASE_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/error.h"

typedef struct lm_cursor {
  const uint8_t *p;  /* the bytes */
  size_t n;          /* how many */
  size_t pos;        /* the next byte to read */
  const char *name;  /* the input, first in every message ("model.bin") */
  const char *field; /* what is being read (NULL: nothing named) */
  size_t at;         /* where field starts: the offset messages give */
} lm_cursor;

/* Little-endian loads from bytes already known to be there. */
static inline uint32_t lm__le32(const uint8_t *q) {
  return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}
static inline uint64_t lm__le64(const uint8_t *q) {
  return (uint64_t)lm__le32(q) | (uint64_t)lm__le32(q + 4) << 32;
}
static inline int32_t lm__le_i32(const uint8_t *q) { return (int32_t)lm__le32(q); }
static inline float lm__le_f32(const uint8_t *q) {
  uint32_t b = lm__le32(q);
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}
/* An unsigned little-endian integer of nb (1..8) bytes. */
static inline uint64_t lm__le_n(const uint8_t *q, int nb) {
  uint64_t v = 0;
  for (int i = nb - 1; i >= 0; i--) v = v << 8 | q[i];
  return v;
}

/* The same, big-endian (UBJSON). */
static inline uint64_t lm__be_n(const uint8_t *q, int nb) {
  uint64_t v = 0;
  for (int i = 0; i < nb; i++) v = v << 8 | q[i];
  return v;
}

static inline void lm__cur_init(lm_cursor *c, const void *p, size_t n, const char *name) {
  c->p = (const uint8_t *)p;
  c->n = p ? n : 0;
  c->pos = 0;
  c->name = name ? name : "(input)";
  c->field = NULL;
  c->at = 0;
}
static inline size_t lm__cur_left(const lm_cursor *c) { return c->n - c->pos; }
static inline const uint8_t *lm__cur_here(const lm_cursor *c) { return c->p + c->pos; }

/* Name the field that starts at the cursor (NULL: none). */
static inline void lm__cur_field(lm_cursor *c, const char *field) {
  c->field = field;
  c->at = c->pos;
}

/* "name: byte at: field: <fmt…>" (without "field: " when there is none), at the field's start
 * (lm__cur_fail) or at a given offset and field (lm__cur_fail_at; the cursor is unchanged). */
LM_INTERNAL int lm__cur_fail(const lm_cursor *c, int code, const char *fmt, ...) LM__PRINTF(3, 4);
LM_INTERNAL int lm__cur_fail_at(const lm_cursor *c, int code, size_t at, const char *field,
                                const char *fmt, ...) LM__PRINTF(5, 6);

/* k bytes left at the cursor, or LM_EFORMAT "…: truncated: needs k bytes, m left (of n)". */
LM_INTERNAL int lm__cur_need(const lm_cursor *c, size_t k);
/* The next k bytes (*q points at them) under field (NULL: the current one); the cursor moves. */
LM_INTERNAL int lm__cur_take(lm_cursor *c, const char *field, size_t k, const uint8_t **q);
/* Little-endian values under field (NULL: the current one); the cursor moves past them. */
LM_INTERNAL int lm__cur_u32(lm_cursor *c, const char *field, uint32_t *v);
LM_INTERNAL int lm__cur_i32(lm_cursor *c, const char *field, int32_t *v);
LM_INTERNAL int lm__cur_u64(lm_cursor *c, const char *field, uint64_t *v);
LM_INTERNAL int lm__cur_i64(lm_cursor *c, const char *field, int64_t *v);
/* A count of unit-byte elements that must fit in the bytes after it: nb (4 or 8) bytes of
 * unsigned count, else "count N needs more than the M bytes left (truncated or corrupt)". */
LM_INTERNAL int lm__cur_count(lm_cursor *c, const char *field, int nb, size_t unit, uint64_t *v);


/* Untrusted bytes for a message: at most 60 of them (fewer if n is smaller), control and
 * non-ASCII bytes as '?', "..." at the end when cut. Returns dst. */
LM_INTERNAL const char *lm__printable(char *dst, size_t n, const void *src, size_t len);
/* The same for a NUL-terminated string whose bytes >= 0x80 are kept (UTF-8 names stay readable):
 * only control bytes become '?'. */
LM_INTERNAL const char *lm__printable_utf8(char *dst, size_t n, const char *src);
/* Is the NUL-terminated s valid UTF-8 (no overlong form, no surrogate, at most U+10FFFF) and,
 * unless controls_ok, free of control characters (C0, DEL, C1)? Returns -1 if so, else the
 * offset of the first offending byte. */
LM_INTERNAL long lm__text_bad_at(const char *s, int controls_ok);

#endif
