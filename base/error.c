/*
 * error.c — error codes and their messages (generated from LM_ERRNO_MAP in lmrt.h) and the
 * thread-local detail string behind lm_last_error().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static _Thread_local char lm__detail[1024];

const char *lm_strerror(int err) {
  switch (err) {
  case LM_OK: return "success";
#define LM__X(name, msg) case LM_E##name: return msg;
  LM_ERRNO_MAP(LM__X)
#undef LM__X
  default: return "unknown error";
  }
}

const char *lm_err_name(int err) {
  switch (err) {
  case LM_OK: return "OK";
#define LM__X(name, msg) case LM_E##name: return #name;
  LM_ERRNO_MAP(LM__X)
#undef LM__X
  default: return "UNKNOWN";
  }
}

const char *lm_last_error(void) { return lm__detail; }

void lm__clear_error(void) { lm__detail[0] = '\0'; }

int lm__fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lm__vfail(code, NULL, fmt, ap);
  va_end(ap);
  return code;
}

int lm__vfail(int code, const char *ctx, const char *fmt, va_list ap) {
  /* Formatted into a copy first: an argument may be the current detail itself. */
  char tmp[sizeof lm__detail];
  size_t n = 0;
  if (ctx) {
    n = (size_t)snprintf(tmp, sizeof tmp, "%s: ", ctx);
    if (n >= sizeof tmp) n = sizeof tmp - 1;
  }
  vsnprintf(tmp + n, sizeof tmp - n, fmt, ap);
  memcpy(lm__detail, tmp, sizeof tmp);
  return code;
}

int lm__fail_in(int code, const char *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lm__vfail(code, ctx, fmt, ap);
  va_end(ap);
  return code;
}

int lm__fail_prefix(int code, const char *prefix) {
  char tmp[sizeof lm__detail];
  size_t n = strlen(prefix);
  if (n > sizeof tmp - 3) n = sizeof tmp - 3;
  memcpy(tmp, prefix, n);
  tmp[n++] = ':';
  tmp[n++] = ' ';
  const char *rest = lm__detail[0] ? lm__detail : lm_strerror(code);
  size_t r = strlen(rest);
  if (r > sizeof tmp - 1 - n) r = sizeof tmp - 1 - n;
  memcpy(tmp + n, rest, r);
  tmp[n + r] = '\0';
  memcpy(lm__detail, tmp, n + r + 1);
  return code;
}
