/*
 * handler.c — lmserve's request path: from the bytes a connection has received to the bytes of
 * its responses, with no socket in sight. ls_conn_process frames requests (strict head parser,
 * Content-Length and chunked bodies, pipelining, Expect: 100-continue), routes them — KServe
 * V2 health, server and model metadata, model readiness, inference (JSON and the binary tensor
 * data extension), Prometheus /metrics, SageMaker's /ping and /invocations (sagemaker.c) — and
 * appends each response to the connection's output
 * buffer.
 * The epoll loop (lmserve.c) and the libFuzzer target (server/fuzz/fuzz_request.c) both drive
 * this same function, so what is fuzzed is what serves. What routes lead to lives next door:
 * inference in infer.c, /metrics in metrics.c, chunked bodies in chunked.c, buffers in buf.c,
 * connection and worker state in conn.c.
 *
 * Allocation: responses and request values go to per-worker and per-connection buffers that are
 * preallocated and only grow when a request is larger than any before it (high-water marks, up
 * to LS_SCRATCH_KEEP bytes each: larger scratch is given back after the request); once warm, a
 * request that fits allocates nothing. A connection's input buffer grows with the bytes that
 * arrive, not with a declared Content-Length; while its unsent responses exceed
 * --max-queued-bytes its further requests wait (pipelined small requests cannot make it queue
 * unbounded output). Models are read through the registry's
 * published pointers (registry.c), without locks.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/ls.h"

/* ---- responses ---- */

static const char *reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 204: return "No Content";
  case 406: return "Not Acceptable";
  case 415: return "Unsupported Media Type";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

void ls_respond(ls_worker *w, ls_conn *c, int status, const char *ctype, const char *extra,
                const char *body, size_t len) {
  time_t t = time(NULL);
  if ((int64_t)t != w->date_sec) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    w->date_sec = (int64_t)t;
  }
  int close = c->closing || !c->req.keep_alive ||
              (w->srv && atomic_load_explicit(&w->srv->state, memory_order_relaxed) == LS_CLOSING);
  if (close) c->closing = 1;
  if (ls_buf_reserve(&c->out, len + 256 + (extra ? strlen(extra) : 0))) {
    c->closing = 1;
    return;
  }
  /* appended piece by piece, not by snprintf: see ls_buf_u64 (the space is reserved above) */
  ls_buf *o = &c->out;
  ls_buf_puts(o, "HTTP/1.1 ");
  ls_buf_u64(o, (unsigned)status);
  ls_buf_puts(o, " ");
  ls_buf_puts(o, reason(status));
  ls_buf_puts(o, "\r\nDate: ");
  ls_buf_puts(o, w->date);
  ls_buf_puts(o, "\r\nServer: lmserve\r\nContent-Type: ");
  ls_buf_puts(o, ctype);
  ls_buf_puts(o, "\r\nContent-Length: ");
  ls_buf_u64(o, len);
  ls_buf_puts(o, "\r\n");
  if (extra) ls_buf_puts(o, extra);
  ls_buf_puts(o, close ? "Connection: close\r\n\r\n"
                       : c->req.http10 ? "Connection: keep-alive\r\n\r\n" : "\r\n");
  if (c->req.method == LS_HEAD) return; /* the length a GET would get, no body (RFC 9110 §9.3.2) */
  memcpy(c->out.p + c->out.len, body, len);
  c->out.len += len;
}

void ls_respond_json(ls_worker *w, ls_conn *c, int status, const char *extra) {
  ls_respond(w, c, status, "application/json", extra, w->body.p, w->body.len);
}

void ls_respond_error(ls_worker *w, ls_conn *c, int status, const char *extra,
                      const char *msg) {
  char esc[512];
  ls_json_escape(esc, sizeof esc, msg, strlen(msg));
  w->body.len = 0;
  ls_buf_printf(&w->body, "{\"error\":\"%s\"}", esc);
  ls_respond_json(w, c, status, extra);
}

/* ---- routing ---- */

static int pfx(const char *p, size_t n, const char *lit, size_t *rest) {
  size_t l = strlen(lit);
  if (n < l || memcmp(p, lit, l) != 0) return 0;
  *rest = l;
  return 1;
}

static int eq(const char *p, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* GET resources answer HEAD too (headers only). */
static int method_ok(ls_worker *w, ls_conn *c, int want) {
  if (c->req.method == want || (want == LS_GET && c->req.method == LS_HEAD)) return 1;
  ls_respond_error(w, c, 405, want == LS_GET ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n",
                want == LS_GET ? "method not allowed: use GET" : "method not allowed: use POST");
  return 0;
}

/* Handle one complete request; returns its status; *model = slot index or LS_MAX_MODELS. */
static int route(ls_worker *w, ls_conn *c, const char *body, size_t blen, int *model) {
  ls_server *s = w->srv;
  const char *p = c->req.path;
  size_t n = c->req.path_len, r;
  *model = LS_MAX_MODELS;
  if (eq(p, n, "/v2/health/live")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    w->body.len = 0;
    ls_buf_puts(&w->body, "{\"live\":true}");
    ls_respond_json(w, c, 200, NULL);
    return 200;
  }
  if (eq(p, n, "/v2/health/ready")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    w->body.len = 0;
    int ready = ls_ready(s, &w->body);
    ls_respond_json(w, c, ready ? 200 : 503, NULL);
    return ready ? 200 : 503;
  }
  if (eq(p, n, "/v2") || eq(p, n, "/v2/")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    w->body.len = 0;
    ls_buf_puts(&w->body, "{\"name\":\"lmserve\",\"version\":\"" LM_VERSION_STRING
                    "\",\"extensions\":[\"binary_tensor_data\"]}");
    ls_respond_json(w, c, 200, NULL);
    return 200;
  }
  if (eq(p, n, "/metrics")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    ls_metrics_respond(w, c);
    return 200;
  }
  if (eq(p, n, "/ping")) { /* SageMaker (sagemaker.c) */
    if (!method_ok(w, c, LS_GET)) return 405;
    return ls_sagemaker(w, c, 0, body, blen, model);
  }
  if (eq(p, n, "/invocations")) {
    if (!method_ok(w, c, LS_POST)) return 405;
    return ls_sagemaker(w, c, 1, body, blen, model);
  }
  if (eq(p, n, "/execution-parameters")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    return ls_sagemaker(w, c, 2, body, blen, model);
  }
  if (!pfx(p, n, "/v2/models/", &r)) {
    ls_respond_error(w, c, 404, NULL, "not found");
    return 404;
  }
  p += r, n -= r;
  const char *name = p;
  size_t nl = 0;
  while (nl < n && p[nl] != '/') nl++;
  p += nl, n -= nl;
  const char *ver = NULL;
  size_t vl = 0;
  if (pfx(p, n, "/versions/", &r)) {
    p += r, n -= r;
    ver = p;
    while (vl < n && p[vl] != '/') vl++;
    p += vl, n -= vl;
  }
  int kind; /* 0 metadata, 1 ready, 2 infer */
  if (n == 0) kind = 0;
  else if (eq(p, n, "/ready")) kind = 1;
  else if (eq(p, n, "/infer")) kind = 2;
  else {
    ls_respond_error(w, c, 404, NULL, "not found");
    return 404;
  }
  ls_slot *slot = nl ? ls_registry_find(&s->reg, name, nl) : NULL;
  ls_version *v = slot ? atomic_load(&slot->cur) : NULL;
  char msg[2 * LS_NAME_MAX + 64];
  if (!v) {
    char e[LS_NAME_MAX + 8];
    ls_json_escape(e, sizeof e, name, nl < LS_NAME_MAX ? nl : LS_NAME_MAX);
    snprintf(msg, sizeof msg, "model '%s' not found", e);
    ls_respond_error(w, c, 404, NULL, msg);
    return 404;
  }
  *model = (int)(slot - s->reg.slots);
  if (ver && !eq(ver, vl, v->vstr)) {
    char e[40];
    ls_json_escape(e, sizeof e, ver, vl < 32 ? vl : 32);
    snprintf(msg, sizeof msg, "model '%s' version '%s' not found (serving version %s)",
             slot->name, e, v->vstr);
    ls_respond_error(w, c, 404, NULL, msg);
    return 404;
  }
  if (kind == 2) {
    if (!method_ok(w, c, LS_POST)) return 405;
    return ls_infer(w, c, slot, v, body, blen);
  }
  if (!method_ok(w, c, LS_GET)) return 405;
  if (kind == 1) {
    w->body.len = 0;
    ls_buf_printf(&w->body, "{\"name\":\"%s\",\"ready\":true}", slot->name);
    ls_respond_json(w, c, 200, NULL);
    return 200;
  }
  ls_respond(w, c, 200, "application/json", NULL, v->meta, v->meta_len);
  return 200;
}

static void account(ls_worker *w, int model, int status, uint64_t t0) {
  int k = ls_code_index(status);
  if (k >= 0) ls_inc(&w->m.req[model][k]);
  uint64_t t1 = ls_now_ns(), d = t0 && t1 > t0 ? t1 - t0 : 0;
  ls_hist_observe(&w->m.req_dur, d);
  if (model < LS_MAX_MODELS) ls_hist_observe(&w->m.model_dur[model], d);
}

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* A request whose framing cannot be trusted: answer, then close (nothing after it is read). */
static void framing_error(ls_worker *w, ls_conn *c, int status, const char *err) {
  c->closing = 1;
  c->req.keep_alive = 0;
  if (c->have_head) {
    c->have_head = 0;
    atomic_store_explicit(&w->m.inflight,
                          atomic_load_explicit(&w->m.inflight, memory_order_relaxed) - 1,
                          memory_order_relaxed);
  }
  ls_respond_error(w, c, status, NULL, err);
  account(w, LS_MAX_MODELS, status, c->t_start_ns);
  c->t_start_ns = 0;
}

void ls_conn_process(ls_worker *w, ls_conn *c, uint64_t now_ns) {
  ls_server *s = w->srv;
  int was_held = c->held;
  c->held = 0;
  while (!c->closing) {
    const char *base = c->in.p + c->in_off;
    size_t avail = c->in.len - c->in_off;
    if (avail == 0) break;
    /* Amplification guard: small requests can ask for large responses (GET /metrics); while
     * more than --max-queued-bytes of this connection's responses are unsent, its input waits
     * (the event loop stops reading it and resumes once the output has drained). */
    if (s->cfg.max_queued && !c->have_head && c->out.len - c->out_off >= s->cfg.max_queued) {
      c->held = 1;
      if (!was_held) ls_inc(&w->m.output_held);
      break;
    }
    int fresh = 0;
    if (!c->have_head) {
      fresh = 1;
      if (!c->t_start_ns) c->t_start_ns = now_ns;
      int rc = ls_http_parse(base, avail, s->cfg.max_header, s->cfg.max_body, &c->req);
      if (rc == 0) break;
      if (rc < 0) {
        framing_error(w, c, -rc, c->req.err);
        break;
      }
      c->have_head = 1;
      c->sent_continue = 0;
      ls_dechunk_start(c);
      atomic_store_explicit(&w->m.inflight,
                            atomic_load_explicit(&w->m.inflight, memory_order_relaxed) + 1,
                            memory_order_relaxed);
    }
    if (c->req.chunked) {
      const char *err = NULL;
      int rc = ls_dechunk(s, c, c->in.p + c->in_off + c->req.head_len,
                       avail - c->req.head_len, &err);
      avail = c->in.len - c->in_off;
      if (rc < 0) {
        framing_error(w, c, -rc, err);
        break;
      }
      if (rc == 0) {
        if (c->req.expect_continue && !c->sent_continue) {
          ls_buf_append(&c->out, continue_100, sizeof continue_100 - 1);
          c->sent_continue = 1;
        }
        break;
      }
      c->req.content_length = c->ck_len;
    }
    size_t need = c->req.head_len + (size_t)c->req.content_length;
    if (avail < need) {
      if (c->in.cap - c->in_off < need && c->in_off > 0) {
        /* The request does not fit behind what was consumed: move it to the front. The buffer
         * grows as the body's bytes arrive (the reader doubles it when full), never by the
         * declared Content-Length at once: memory follows what was sent, not what was said. */
        memmove(c->in.p, base, avail);
        c->in.len = avail;
        c->in_off = 0;
      }
      if (c->req.expect_continue && !c->sent_continue) {
        ls_buf_append(&c->out, continue_100, sizeof continue_100 - 1);
        c->sent_continue = 1;
      }
      break;
    }
    /* A head parsed in an earlier call points into bytes since moved (compaction, growth):
     * parse it again where it now is. */
    if (!fresh) {
      if (ls_http_parse(base, avail, s->cfg.max_header, s->cfg.max_body, &c->req) <= 0) {
        c->closing = 1;
        break;
      }
      if (c->req.chunked) c->req.content_length = c->ck_len;
    }
    int model;
    int st = route(w, c, base + c->req.head_len, (size_t)c->req.content_length, &model);
    account(w, model, st, c->t_start_ns);
    c->served++;
    c->in_off += need;
    c->have_head = 0;
    atomic_store_explicit(&w->m.inflight,
                          atomic_load_explicit(&w->m.inflight, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    c->t_start_ns = c->in_off < c->in.len ? now_ns : 0;
    if (!c->req.keep_alive) c->closing = 1;
  }
  /* An outsized request's scratch goes back to the allocator (nothing for one that fits). */
  ls_worker_trim(w);
  /* Compact the input. */
  if (c->in_off == c->in.len) {
    c->in.len = c->in_off = 0;
    ls_buf_shrink(&c->in);
  } else if (c->in_off > 0 && !c->closing) {
    memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_off = 0;
  }
}
