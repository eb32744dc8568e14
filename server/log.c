/*
 * log.c — lmserve's structured logs: one JSON object per line on stderr, written with a single
 * write(2) so that lines from different threads never interleave. Every line has "ts" (UTC,
 * RFC 3339 with microseconds), "level" and "msg"; callers add fields as preformatted JSON
 * members. Logs are for events (startup, listening, model loads and rejections, signals,
 * shutdown), never for request payloads; per-request lines exist only at debug level.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "server/ls.h"

int ls_log_level = LS_LOG_INFO;

size_t ls_json_escape(char *dst, size_t cap, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  if (cap == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e[7];
    size_t el;
    if (c == '"' || c == '\\') {
      e[0] = '\\', e[1] = (char)c, el = 2;
    } else if (c == '\n') {
      e[0] = '\\', e[1] = 'n', el = 2;
    } else if (c < 0x20 || c == 0x7f) {
      e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
      el = 6;
    } else if (c >= 0x80) {
      e[0] = '?', el = 1; /* not echoing possibly invalid UTF-8 */
    } else {
      e[0] = (char)c, el = 1;
    }
    if (o + el + 1 > cap) break;
    memcpy(dst + o, e, el);
    o += el;
  }
  dst[o] = 0;
  return o;
}

void ls_log(int level, const char *msg, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (level < ls_log_level) return;
  char line[2048];
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32], m[512];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  ls_json_escape(m, sizeof m, msg, strlen(msg));
  int n = snprintf(line, sizeof line, "{\"ts\":\"%s.%06ldZ\",\"level\":\"%s\",\"msg\":\"%s\"", ts,
                   (long)tv.tv_usec, names[level], m);
  if (fmt && *fmt && n > 0 && (size_t)n < sizeof line) {
    line[n++] = ',';
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (k > 0) n += k;
  }
  if (n < 0) return;
  if ((size_t)n > sizeof line - 3) n = (int)sizeof line - 3;
  line[n++] = '}';
  line[n++] = '\n';
  ssize_t wr = write(2, line, (size_t)n);
  (void)wr;
}
