/*
 * buf.c — lmserve's growable buffers (ls_buf, server/ls.h): fixed storage first, the heap only
 * when a message outgrows it, and back to the fixed storage when it is empty again; so a warm
 * request path appends without allocating.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ls.h"

int ls_buf_reserve(ls_buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  size_t need = b->len + extra, cap = b->cap * 2 > need ? b->cap * 2 : need;
  if (b->p == b->fixed) {
    char *n = malloc(cap);
    if (!n) return -1;
    memcpy(n, b->p, b->len);
    b->p = n;
  } else {
    char *n = realloc(b->p, cap);
    if (!n) return -1;
    b->p = n;
  }
  b->cap = cap;
  return 0;
}

int ls_buf_append(ls_buf *b, const void *s, size_t n) {
  if (ls_buf_reserve(b, n)) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

void ls_buf_shrink(ls_buf *b) {
  if (b->p != b->fixed && b->len <= b->fixed_cap) {
    memcpy(b->fixed, b->p, b->len);
    free(b->p);
    b->p = b->fixed;
    b->cap = b->fixed_cap;
  }
}

void ls_buf_free(ls_buf *b) {
  if (b->p != b->fixed) free(b->p);
  b->p = b->fixed;
  b->cap = b->fixed_cap;
  b->len = 0;
}

void ls_buf_printf(ls_buf *b, const char *fmt, ...) {
  for (int tries = 0; tries < 2; tries++) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    if (ls_buf_reserve(b, (size_t)n + 1)) return;
  }
}

void ls_buf_puts(ls_buf *b, const char *s) { ls_buf_append(b, s, strlen(s)); }

/* Decimal digits without printf: OpenBLAS (dlopen()ed when a wide linear model is planned on it)
 * brings libgfortran and with it libquadmath, whose
 * printf hooks (the %Q type) send every printf-family call of the process down glibc's slow
 * positional path (vfprintf: "any printf handler registered") — about 6% of a small request's
 * CPU. The per-request answer (status line, headers, shapes, values) avoids printf for that. */
void ls_buf_u64(ls_buf *b, unsigned long long v) {
  char d[20];
  int n = 0;
  do d[sizeof d - 1 - n++] = (char)('0' + v % 10); while ((v /= 10) && n < (int)sizeof d);
  ls_buf_append(b, d + sizeof d - n, (size_t)n);
}

/* *p grown to at least need elements of elem bytes (doubling): 0, or -1 on out of memory. */
int ls_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap * 2 > need ? *cap * 2 : need;
  void *n = realloc(*p, c * elem);
  if (!n) return -1;
  *p = n;
  *cap = c;
  return 0;
}

/* ls_grow for a request's scratch: 0, or 500 with the answer written. */
int ls_grow_or_500(ls_worker *w, ls_conn *c, void **p, size_t *cap, size_t need, size_t elem) {
  if (!ls_grow(p, cap, need, elem)) return 0;
  ls_respond_error(w, c, 500, NULL, "out of memory");
  return 500;
}
