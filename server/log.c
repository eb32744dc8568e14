/*
 * log.c — lmserve's structured logs: one JSON object per line on stderr, written with a single
 * write(2) so that lines from different threads never interleave. Every line has "ts" (UTC,
 * RFC 3339 with microseconds), "level" and "msg"; callers add fields as preformatted JSON
 * members, every string in them escaped with ls_json_escape (below, with its Prometheus twin
 * ls_prom_escape and the UTF-8 check the request parser uses). Logs are for events (startup, listening, model loads and rejections, signals,
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

/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 if the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;      /* overlong */
    if (c == 0xed) hi = 0x9f;      /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;      /* overlong */
    if (c == 0xf4) hi = 0x8f;      /* above U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

int ls_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_seq(u + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

/* One escaper for both output kinds: prom = 0 writes JSON string content, 1 a Prometheus label
 * value. */
static size_t escape(char *dst, size_t cap, const char *s, size_t n, int prom) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0;
  if (cap == 0) return 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i];
    char e[8];
    size_t el, used = 1;
    if (c == '"' || c == '\\') {
      e[0] = '\\', e[1] = (char)c, el = 2;
    } else if (c == '\n') {
      e[0] = '\\', e[1] = 'n', el = 2;
    } else if (c < 0x20 || c == 0x7f) {
      if (prom) {
        e[0] = '?', el = 1;
      } else {
        e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
        el = 6;
      }
    } else if (c >= 0x80) {
      size_t k = utf8_seq(u + i, n - i);
      if (k) {
        memcpy(e, u + i, k);
        el = used = k;
      } else if (prom) {
        e[0] = '?', el = 1;
      } else {
        memcpy(e, "\\ufffd", 6), el = 6; /* not echoing invalid UTF-8 */
      }
    } else {
      e[0] = (char)c, el = 1;
    }
    if (o + el + 1 > cap) break;
    memcpy(dst + o, e, el);
    o += el;
    i += used;
  }
  dst[o] = 0;
  return o;
}

size_t ls_json_escape(char *dst, size_t cap, const char *s, size_t n) {
  return escape(dst, cap, s, n, 0);
}

size_t ls_prom_escape(char *dst, size_t cap, const char *s, size_t n) {
  return escape(dst, cap, s, n, 1);
}

void ls_log(int level, const char *msg, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if (level < ls_log_level) return;
  char line[4096];
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
