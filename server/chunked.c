/*
 * chunked.c — chunked request bodies (RFC 9112 §7.1) on lmserve's request path.
 * Decoded in place as bytes arrive: b[0..ck_len) holds the data decoded so far and the encoded
 * rest follows it; each call decodes what it can and closes the gap, so a chunked body takes no
 * more buffer than the same body sent with Content-Length (plus one size line or trailer line).
 * Strict like the head parser: CRLF line ends only (a bare LF is a 400 as soon as it arrives),
 * 1-15 hex digits, extensions (";name=value")
 * skipped but limited to the line, trailer fields checked as field lines and ignored, the
 * decoded size limited to max_body (413). Hand-written because it is framing on the request
 * path, fuzzed with the rest of it (server/fuzz/fuzz_request.c).
 */
#include <stdint.h>
#include <string.h>

#include "server/ls.h"

enum { CK_SIZE, CK_DATA, CK_DATA_END, CK_TRAILER, CK_DONE };

void ls_dechunk_start(ls_conn *c) {
  c->ck_len = c->ck_trailer = 0;
  c->ck_left = 0;
  c->ck_state = CK_SIZE;
}
#define CK_LINE_MAX 1024

int ls_dechunk(ls_server *s, ls_conn *c, char *b, size_t n, const char **err) {
  size_t src = c->ck_len;
  int rc = 0;
  while (rc == 0) {
    if (c->ck_state == CK_DATA) {
      size_t k = n - src < c->ck_left ? n - src : (size_t)c->ck_left;
      if (k == 0) break;
      memmove(b + c->ck_len, b + src, k);
      c->ck_len += k, src += k, c->ck_left -= k;
      if (c->ck_left == 0) c->ck_state = CK_DATA_END;
      continue;
    }
    if (c->ck_state == CK_DATA_END) {
      if (n - src < 2) break;
      if (b[src] != '\r' || b[src + 1] != '\n') {
        *err = "chunk data not followed by CRLF", rc = -400;
        break;
      }
      src += 2;
      c->ck_state = CK_SIZE;
      continue;
    }
    if (c->ck_state == CK_DONE) {
      rc = 1;
      break;
    }
    /* A line: a chunk-size line, or a trailer field line, or the empty line that ends it all. */
    size_t lim = c->ck_state == CK_SIZE ? CK_LINE_MAX : s->cfg.max_header - c->ck_trailer;
    const char *l = b + src, *cr = memchr(l, '\r', n - src);
    /* A bare LF ends nothing: refused at once rather than waited on until a CR (or the
     * request timeout) comes. */
    const char *lf = memchr(l, '\n', (size_t)((cr ? cr : b + n) - l));
    if (lf) {
      *err = "bare LF in a chunk-size or trailer line", rc = -400;
      break;
    }
    if (!cr) {
      if (n - src >= lim) goto too_long;
      break;
    }
    size_t ll = (size_t)(cr - l);
    if (ll + 2 > lim) goto too_long;
    if (ll + 1 >= n - src) break; /* the LF has not arrived */
    if (cr[1] != '\n') {
      *err = "bare CR in a chunked body", rc = -400;
      break;
    }
    for (size_t i = 0; i < ll; i++) {
      unsigned char u = (unsigned char)l[i];
      if ((u < 0x20 && u != '\t') || u == 0x7f) {
        *err = "control character in a chunk-size or trailer line", rc = -400;
        break;
      }
    }
    if (rc) break;
    src += ll + 2;
    if (c->ck_state == CK_TRAILER) {
      c->ck_trailer += ll + 2;
      if (ll == 0) c->ck_state = CK_DONE;
      else if (!memchr(l, ':', ll) || l[0] == ' ' || l[0] == '\t') {
        *err = "malformed trailer field", rc = -400;
      }
      continue;
    }
    uint64_t size = 0;
    size_t i = 0;
    for (; i < ll && i < 16; i++) {
      unsigned char u = (unsigned char)l[i];
      int lc = u | 32;
      int d = u >= '0' && u <= '9' ? u - '0' : lc >= 'a' && lc <= 'f' ? lc - 'a' + 10 : -1;
      if (d < 0) break;
      size = size << 4 | (uint64_t)d;
    }
    if (i == 0 || i == 16 || (i < ll && l[i] != ';' && l[i] != ' ' && l[i] != '\t')) {
      *err = "malformed chunk size", rc = -400;
      break;
    }
    if (size > s->cfg.max_body - c->ck_len) {
      *err = "request body too large", rc = -413;
      break;
    }
    c->ck_left = size;
    c->ck_state = size ? CK_DATA : CK_TRAILER;
  }
  /* Close the gap between the decoded data and the rest of the input. */
  if (src > c->ck_len) {
    memmove(b + c->ck_len, b + src, n - src);
    c->in.len -= src - c->ck_len;
  }
  return rc;
too_long:
  *err = c->ck_state == CK_SIZE ? "chunk-size line too long" : "trailer section too large";
  return c->ck_state == CK_SIZE ? -400 : -431;
}
