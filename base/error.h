/*
 * error.h — internal error reporting: every failing internal function returns a negative LM_E*
 * code and records a one-line, thread-local detail with lm__fail(). The detail names the file
 * (when known), the field or byte offset, and what was wrong; the public lm_last_error() returns
 * it. Untrusted input never reaches assert/abort: it always comes back through here.
 */
#ifndef LM_BASE_ERROR_H
#define LM_BASE_ERROR_H

#include <stdarg.h>

#include "base/export.h"
#include "lmrt.h"

#if defined(__GNUC__)
#define LM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LM__PRINTF(a, b)
#endif

/* Record "fmt…" as the thread's last error detail and return code (a negative LM_E*). */
LM_INTERNAL int lm__fail(int code, const char *fmt, ...) LM__PRINTF(2, 3);
/* The same under a context: "ctx: fmt…" (ctx NULL: no prefix), e.g. ctx "model.txt: line 12".
 * Readers with a context of their own (a line, a JSON path) wrap these in one-line helpers. */
LM_INTERNAL int lm__fail_in(int code, const char *ctx, const char *fmt, ...) LM__PRINTF(3, 4);
LM_INTERNAL int lm__vfail(int code, const char *ctx, const char *fmt, va_list ap);
/* Prefix the current detail with "prefix: " (e.g. a file name added by an outer layer) and
 * return code unchanged. */
LM_INTERNAL int lm__fail_prefix(int code, const char *prefix);
LM_INTERNAL void lm__clear_error(void);

#endif
