/*
 * http.c — lmserve's strict HTTP/1.1 request-head parser (RFC 9112), written for the request
 * path: no allocation, no copy, one pass over the bytes of the request line and headers, and a
 * status code for everything it refuses. It is deliberately strict where leniency lets two
 * parsers disagree about where a request ends (request smuggling): CRLF line ends only (a bare
 * CR or LF is a 400), no obsolete line folding, no whitespace between a field name and its
 * colon, one Content-Length of digits only (duplicates and lists are a 400), Transfer-Encoding
 * with Content-Length, in HTTP/1.0, repeated, or not ending in chunked is a 400; exactly
 * "chunked" marks a chunked body (decoded by chunked.c), other codings before it are a 501;
 * a POST without either is a 411, a missing or repeated Host in HTTP/1.1 a 400. Heads larger
 * than the limit are a 431, declared bodies over the limit a 413, HTTP versions other than 1.0
 * and 1.1 a 505. It is fuzzed as part of the whole request path (server/fuzz/fuzz_request.c).
 */
#include <string.h>

#include "server/ls.h"

static int is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Case-insensitive comparison of a field name with a lower-case literal. */
static int name_is(const char *p, size_t n, const char *lit) {
  size_t l = strlen(lit);
  if (n != l) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    if (c != (unsigned char)lit[i]) return 0;
  }
  return 1;
}

/* Does the comma-separated value contain token lit (case-insensitive)? */
static int has_token(const char *v, size_t n, const char *lit) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e > s && name_is(v + s, e - s, lit)) return 1;
  }
  return 0;
}

/* Is the last token of the comma-separated list v (length n) lit (case-insensitive)? */
static int last_token_is(const char *v, size_t n, const char *lit) {
  size_t e = n;
  while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
  size_t s = e;
  while (s > 0 && v[s - 1] != ',') s--;
  while (s < e && (v[s] == ' ' || v[s] == '\t')) s++;
  return e > s && name_is(v + s, e - s, lit);
}

/* 1*DIGIT, at most 18 digits (no overflow). -1 if not. */
static int64_t parse_digits(const char *v, size_t n) {
  if (n == 0 || n > 18) return -1;
  int64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

#define FAIL(code, msg) \
  do {                  \
    r->err = (msg);     \
    return -(code);     \
  } while (0)

int ls_http_parse(const char *p, size_t n, size_t max_header, uint64_t max_body, ls_req *r) {
  memset(r, 0, sizeof *r);
  r->infer_header_len = -1;
  /* Find the end of the head; refuse bare LF/CR and NUL on the way. */
  size_t lim = n < max_header ? n : max_header;
  size_t end = 0;
  for (size_t i = 0; i < lim; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\r') {
      if (i + 1 >= n) goto more;                      /* need the next byte */
      if (p[i + 1] != '\n') FAIL(400, "bare CR in the request head");
      if (i + 3 < n && p[i + 2] == '\r' && p[i + 3] == '\n') {
        end = i + 4;
        break;
      }
      if (i + 2 < n && p[i + 2] == '\r' && i + 3 >= n) goto more;
      i++; /* skip the LF */
    } else if (c == '\n') {
      FAIL(400, "bare LF in the request head");
    } else if (c == 0) {
      FAIL(400, "NUL byte in the request head");
    }
  }
  if (end == 0) {
  more:
    if (n >= max_header) FAIL(431, "request head too large");
    return 0;
  }
  if (end > max_header) FAIL(431, "request head too large");

  /* Request line: METHOD SP TARGET SP HTTP/1.x CRLF */
  const char *q = p, *line_end = memchr(p, '\r', end);
  size_t i = 0, ll = (size_t)(line_end - p);
  while (i < ll && q[i] >= 'A' && q[i] <= 'Z') i++;
  if (i == 0 || i > 16 || i >= ll || q[i] != ' ') FAIL(400, "malformed request line");
  if (i == 3 && memcmp(q, "GET", 3) == 0) r->method = LS_GET;
  else if (i == 4 && memcmp(q, "POST", 4) == 0) r->method = LS_POST;
  else if (i == 4 && memcmp(q, "HEAD", 4) == 0) r->method = LS_HEAD;
  else r->method = LS_OTHER;
  size_t t0 = ++i;
  while (i < ll && (unsigned char)q[i] > 0x20 && (unsigned char)q[i] < 0x7f) i++;
  if (i == t0 || i >= ll || q[i] != ' ') FAIL(400, "malformed request target");
  if (q[t0] != '/') FAIL(400, "request target must be an absolute path");
  r->path = q + t0;
  const char *qm = memchr(q + t0, '?', i - t0);
  r->path_len = qm ? (size_t)(qm - (q + t0)) : i - t0;
  i++;
  if (ll - i != 8 || memcmp(q + i, "HTTP/", 5) != 0 || q[i + 6] != '.' || q[i + 5] < '0' ||
      q[i + 5] > '9' || q[i + 7] < '0' || q[i + 7] > '9')
    FAIL(400, "malformed HTTP version");
  if (q[i + 5] != '1' || (q[i + 7] != '0' && q[i + 7] != '1')) FAIL(505, "HTTP version not supported");
  int minor = q[i + 7] - '0';
  r->keep_alive = minor == 1;
  r->http10 = minor == 0;

  /* Header fields. */
  int nfields = 0, te = 0, host = 0, conn_close = 0, conn_keep = 0;
  const char *h = line_end + 2, *hend = p + end - 2; /* hend: the final CRLF */
  while (h < hend) {
    const char *e = memchr(h, '\r', (size_t)(hend - h) + 1);
    if (++nfields > 100) FAIL(431, "too many header fields");
    size_t k = 0, hl = (size_t)(e - h);
    while (k < hl && is_tchar((unsigned char)h[k])) k++;
    if (k == 0 || k >= hl || h[k] != ':') {
      if (hl > 0 && (h[0] == ' ' || h[0] == '\t')) FAIL(400, "obsolete header line folding");
      FAIL(400, "malformed header field");
    }
    const char *v = h + k + 1, *ve = e;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    for (const char *c = v; c < ve; c++) {
      unsigned char u = (unsigned char)*c;
      if ((u < 0x20 && u != '\t') || u == 0x7f) FAIL(400, "control character in a header value");
    }
    size_t vl = (size_t)(ve - v);
    if (name_is(h, k, "content-length")) {
      if (r->has_content_length) FAIL(400, "duplicate Content-Length");
      int64_t x = parse_digits(v, vl);
      if (x < 0) {
        if (vl > 18 && parse_digits(v, 18) >= 0) FAIL(413, "request body too large");
        FAIL(400, "malformed Content-Length");
      }
      r->has_content_length = 1;
      r->content_length = (uint64_t)x;
    } else if (name_is(h, k, "transfer-encoding")) {
      if (te) FAIL(400, "repeated Transfer-Encoding");
      te = name_is(v, vl, "chunked") ? 1 : last_token_is(v, vl, "chunked") ? 2 : 3;
    } else if (name_is(h, k, "host")) {
      if (host) FAIL(400, "duplicate Host");
      host = 1;
    } else if (name_is(h, k, "connection")) {
      if (has_token(v, vl, "close")) conn_close = 1;
      if (has_token(v, vl, "keep-alive")) conn_keep = 1;
    } else if (name_is(h, k, "expect")) {
      if (name_is(v, vl, "100-continue")) r->expect_continue = 1;
    } else if (name_is(h, k, "content-type")) {
      r->ctype = v, r->ctype_len = vl;
    } else if (name_is(h, k, "accept")) {
      r->accept = v, r->accept_len = vl;
    } else if (name_is(h, k, "inference-header-content-length")) {
      if (r->infer_header_len >= 0) FAIL(400, "duplicate Inference-Header-Content-Length");
      int64_t x = parse_digits(v, vl);
      if (x < 0) FAIL(400, "malformed Inference-Header-Content-Length");
      r->infer_header_len = x;
    }
    h = e + 2;
  }
  if (te && r->has_content_length) FAIL(400, "both Transfer-Encoding and Content-Length");
  if (te && minor == 0) FAIL(400, "Transfer-Encoding in an HTTP/1.0 request");
  if (te == 3) FAIL(400, "chunked must be the final transfer coding");
  if (te == 2) FAIL(501, "transfer coding not supported: only chunked");
  r->chunked = te == 1;
  if (minor == 1 && !host) FAIL(400, "missing Host");
  if (r->method == LS_POST && !r->has_content_length && !r->chunked)
    FAIL(411, "POST without Content-Length or chunked Transfer-Encoding");
  if (r->content_length > max_body) FAIL(413, "request body too large");
  if (conn_close) r->keep_alive = 0;
  else if (minor == 0 && conn_keep) r->keep_alive = 1;
  if (!r->has_content_length && !r->chunked) r->expect_continue = 0;
  r->head_len = end;
  return (int)end;
}
