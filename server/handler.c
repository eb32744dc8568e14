/*
 * handler.c — lmserve's request path: from the bytes a connection has received to the bytes of
 * its responses, with no socket in sight. ls_conn_process frames requests (strict head parser,
 * Content-Length and chunked bodies, pipelining, Expect: 100-continue), routes them — KServe
 * V2 health, server and model metadata, model readiness, inference (JSON and the binary tensor
 * data extension), Prometheus /metrics — and appends each response to the connection's output
 * buffer.
 * The epoll loop (lmserve.c) and the libFuzzer target (server/fuzz/fuzz_request.c) both drive
 * this same function, so what is fuzzed is what serves.
 *
 * Allocation: responses and request values go to per-worker and per-connection buffers that are
 * preallocated and only grow when a request is larger than any before it (high-water marks);
 * once warm, a request that fits allocates nothing. Models are read through the registry's
 * published pointers (registry.c), without locks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/ls.h"

uint64_t ls_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- buffers ---- */

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

/* printf into a buffer */
static void bprintf(ls_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void bprintf(ls_buf *b, const char *fmt, ...) {
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

static void bputs(ls_buf *b, const char *s) { ls_buf_append(b, s, strlen(s)); }

/* ---- connections and workers ---- */

int ls_conn_init(ls_conn *c, size_t in_fixed, size_t out_fixed) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->in.fixed = malloc(in_fixed);
  c->out.fixed = malloc(out_fixed);
  if (!c->in.fixed || !c->out.fixed) {
    free(c->in.fixed);
    free(c->out.fixed);
    c->in.fixed = c->out.fixed = NULL;
    return -1;
  }
  c->in.p = c->in.fixed;
  c->in.cap = c->in.fixed_cap = in_fixed;
  c->out.p = c->out.fixed;
  c->out.cap = c->out.fixed_cap = out_fixed;
  return 0;
}

void ls_conn_reset(ls_conn *c) {
  ls_buf_free(&c->in);
  ls_buf_free(&c->out);
  c->in_off = c->out_off = 0;
  c->have_head = c->sent_continue = c->closing = 0;
  c->t_start_ns = c->t_last_ns = 0;
  c->want_out = 0;
  c->fd = -1;
}

void ls_conn_free(ls_conn *c) {
  ls_conn_reset(c);
  free(c->in.fixed);
  free(c->out.fixed);
  c->in.fixed = c->out.fixed = c->in.p = c->out.p = NULL;
}

int ls_worker_init(ls_worker *w, ls_server *s, int idx) {
  memset(w, 0, sizeof *w);
  w->idx = idx;
  w->srv = s;
  w->epfd = -1;
  w->cpu = -1;
  w->body.fixed = w->body_fixed;
  w->body.p = w->body_fixed;
  w->body.cap = w->body.fixed_cap = sizeof w->body_fixed;
  w->vals_cap = w->fvals_cap = w->outs_cap = 4096;
  w->vals = malloc(w->vals_cap * sizeof *w->vals);
  w->fvals = malloc(w->fvals_cap * sizeof *w->fvals);
  w->outs = malloc(w->outs_cap * sizeof *w->outs);
  if (!w->vals || !w->fvals || !w->outs) return -1;
  return 0;
}

void ls_worker_free(ls_worker *w) {
  free(w->vals);
  free(w->fvals);
  free(w->outs);
  ls_buf_free(&w->body);
  w->vals = NULL;
  w->fvals = w->outs = NULL;
}

/* ---- responses ---- */

static const char *reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
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
  int n = snprintf(c->out.p + c->out.len, c->out.cap - c->out.len,
                   "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: lmserve\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\n%s%s\r\n",
                   status, reason(status), w->date, ctype, len, extra ? extra : "",
                   close ? "Connection: close\r\n"
                         : c->req.http10 ? "Connection: keep-alive\r\n" : "");
  c->out.len += (size_t)n;
  if (c->req.method == LS_HEAD) return; /* the length a GET would get, no body (RFC 9110 §9.3.2) */
  memcpy(c->out.p + c->out.len, body, len);
  c->out.len += len;
}

static void respond_json(ls_worker *w, ls_conn *c, int status, const char *extra) {
  ls_respond(w, c, status, "application/json", extra, w->body.p, w->body.len);
}

static void respond_error(ls_worker *w, ls_conn *c, int status, const char *extra,
                          const char *msg) {
  char esc[512];
  ls_json_escape(esc, sizeof esc, msg, strlen(msg));
  w->body.len = 0;
  bprintf(&w->body, "{\"error\":\"%s\"}", esc);
  respond_json(w, c, status, extra);
}

/* ---- metrics output ---- */

static void hist_out(ls_buf *b, const char *name, const char *labels, ls_worker *ws, int nw,
                     size_t off) {
  uint64_t cum = 0, count = 0, sum = 0;
  for (int i = 0; i <= LS_NBUCKETS; i++) {
    for (int k = 0; k < nw; k++) {
      ls_hist *h = (ls_hist *)((char *)&ws[k].m + off);
      cum += atomic_load_explicit(&h->b[i], memory_order_relaxed);
    }
    if (i < LS_NBUCKETS)
      bprintf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
              ls_bucket_s[i], (unsigned long long)cum);
    else
      bprintf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
              (unsigned long long)cum);
  }
  for (int k = 0; k < nw; k++) {
    ls_hist *h = (ls_hist *)((char *)&ws[k].m + off);
    count += atomic_load_explicit(&h->count, memory_order_relaxed);
    sum += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
  }
  const char *l = *labels ? "{" : "", *r = *labels ? "}" : "";
  bprintf(b, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name, l, labels, r, (double)sum * 1e-9,
          name, l, labels, r, (unsigned long long)count);
}

static const int code_of[LS_NCODES] = {200, 400, 404, 405, 408, 411, 413, 431, 500, 501, 503, 505};

static void metrics(ls_worker *w, ls_conn *c) {
  ls_server *s = w->srv;
  ls_buf *b = &w->body;
  b->len = 0;
  ls_worker *ws = s->workers ? s->workers : w;
  int nw = s->workers ? s->nworkers : 1;
  int ns = atomic_load_explicit(&s->reg.nslots, memory_order_acquire);
  char lab[LS_NAME_MAX + 64];

  bputs(b, "# HELP lmserve_requests_total HTTP requests answered, by model (empty: none) and "
           "status code.\n# TYPE lmserve_requests_total counter\n");
  for (int m = 0; m <= LS_MAX_MODELS; m++) {
    if (m < LS_MAX_MODELS && m >= ns) continue;
    for (int k = 0; k < LS_NCODES; k++) {
      uint64_t v = 0;
      for (int i = 0; i < nw; i++) v += atomic_load_explicit(&ws[i].m.req[m][k], memory_order_relaxed);
      if (!v) continue;
      bprintf(b, "lmserve_requests_total{model=\"%s\",code=\"%d\"} %llu\n",
              m < LS_MAX_MODELS ? s->reg.slots[m].name : "", code_of[k], (unsigned long long)v);
    }
  }
  bputs(b, "# HELP lmserve_request_duration_seconds Time from a request's first byte to its "
           "response being queued.\n# TYPE lmserve_request_duration_seconds histogram\n");
  hist_out(b, "lmserve_request_duration_seconds", "", ws, nw, offsetof(ls_metrics, req_dur));
  bputs(b, "# HELP lmserve_inference_duration_seconds Time spent scoring in lm_predict, by "
           "model.\n# TYPE lmserve_inference_duration_seconds histogram\n");
  for (int m = 0; m < ns; m++) {
    snprintf(lab, sizeof lab, "model=\"%s\"", s->reg.slots[m].name);
    hist_out(b, "lmserve_inference_duration_seconds", lab, ws, nw,
             offsetof(ls_metrics, inf_dur) + (size_t)m * sizeof(ls_hist));
  }
  int64_t inflight = 0, open = 0;
  uint64_t total = 0, rejected = 0, timeouts = 0;
  for (int i = 0; i < nw; i++) {
    inflight += atomic_load_explicit(&ws[i].m.inflight, memory_order_relaxed);
    open += atomic_load_explicit(&ws[i].m.conns_open, memory_order_relaxed);
    total += atomic_load_explicit(&ws[i].m.conns_total, memory_order_relaxed);
    rejected += atomic_load_explicit(&ws[i].m.conns_rejected, memory_order_relaxed);
    timeouts += atomic_load_explicit(&ws[i].m.timeouts, memory_order_relaxed);
  }
  bprintf(b,
          "# HELP lmserve_requests_in_flight Requests received and not yet answered.\n"
          "# TYPE lmserve_requests_in_flight gauge\nlmserve_requests_in_flight %lld\n"
          "# HELP lmserve_connections Open client connections.\n"
          "# TYPE lmserve_connections gauge\nlmserve_connections %lld\n"
          "# HELP lmserve_connections_accepted_total Client connections accepted.\n"
          "# TYPE lmserve_connections_accepted_total counter\n"
          "lmserve_connections_accepted_total %llu\n"
          "# HELP lmserve_connections_rejected_total Connections refused at --max-connections.\n"
          "# TYPE lmserve_connections_rejected_total counter\n"
          "lmserve_connections_rejected_total %llu\n"
          "# HELP lmserve_timeouts_total Connections closed by --request-timeout (408).\n"
          "# TYPE lmserve_timeouts_total counter\nlmserve_timeouts_total %llu\n",
          (long long)inflight, (long long)open, (unsigned long long)total,
          (unsigned long long)rejected, (unsigned long long)timeouts);
  bputs(b, "# HELP lmserve_model_info The model version served, with its content hash "
           "(XXH64 of the .lm file).\n# TYPE lmserve_model_info gauge\n");
  for (int m = 0; m < ns; m++) {
    ls_version *v = atomic_load(&s->reg.slots[m].cur);
    if (!v) continue;
    bprintf(b,
            "lmserve_model_info{model=\"%s\",version=\"%s\",hash=\"%016llx\",source=\"%s\","
            "objective=\"%s\",kernel=\"%s\"} 1\n",
            s->reg.slots[m].name, v->vstr, (unsigned long long)v->hash,
            v->info.source_format ? v->info.source_format : "",
            v->info.objective ? v->info.objective : "", v->info.kernel ? v->info.kernel : "");
  }
  bputs(b, "# HELP lmserve_model_reloads_total New versions of a model swapped in after "
           "startup.\n# TYPE lmserve_model_reloads_total counter\n");
  for (int m = 0; m < ns; m++)
    bprintf(b, "lmserve_model_reloads_total{model=\"%s\"} %llu\n", s->reg.slots[m].name,
            (unsigned long long)atomic_load(&s->reg.slots[m].reloads));
  bputs(b, "# HELP lmserve_model_reload_failures_total Model files rejected (unreadable, "
           "corrupt, failing self-test); the previous version keeps serving.\n"
           "# TYPE lmserve_model_reload_failures_total counter\n");
  for (int m = 0; m < ns; m++)
    bprintf(b, "lmserve_model_reload_failures_total{model=\"%s\"} %llu\n", s->reg.slots[m].name,
            (unsigned long long)atomic_load(&s->reg.slots[m].reload_failures));
  int ready = atomic_load(&s->state) == LS_RUNNING && ls_registry_count_ready(&s->reg) > 0;
  bprintf(b,
          "# HELP lmserve_ready 1 when /v2/health/ready answers 200.\n"
          "# TYPE lmserve_ready gauge\nlmserve_ready %d\n"
          "# HELP lmserve_build_info lmserve and liblmrt version.\n"
          "# TYPE lmserve_build_info gauge\nlmserve_build_info{version=\"%s\"} 1\n",
          ready, LM_VERSION_STRING);
  ls_respond(w, c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b->p, b->len);
}

/* ---- inference ---- */

static void fmt_float(ls_buf *b, float f) {
  if (!isfinite(f)) {
    ls_buf_append(b, "null", 4);
    return;
  }
  if (ls_buf_reserve(b, 32)) return;
  b->len += (size_t)snprintf(b->p + b->len, 32, "%.9g", (double)f);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap * 2 > need ? *cap * 2 : need;
  void *n = realloc(*p, c * elem);
  if (!n) return -1;
  *p = n;
  *cap = c;
  return 0;
}

static int infer(ls_worker *w, ls_conn *c, ls_slot *slot, ls_version *v, const char *body,
                 size_t blen) {
  char msg[320];
  int64_t ihl = c->req.infer_header_len;
  if (ihl > (int64_t)blen) {
    respond_error(w, c, 400, NULL, "Inference-Header-Content-Length exceeds the body");
    return 400;
  }
  size_t jlen = ihl >= 0 ? (size_t)ihl : blen;
  ls_infer_req q;
  if (ls_v2_parse(w, body, jlen, &q)) {
    respond_error(w, c, 400, NULL, q.err);
    return 400;
  }
  if (q.ninputs != 1) {
    snprintf(msg, sizeof msg, "expected exactly one input tensor [rows, %zu], got %d", v->nfeat,
             q.ninputs);
    respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if (q.bad_output_name) {
    respond_error(w, c, 400, NULL, "unknown output requested: the model's output is output-0");
    return 400;
  }
  size_t esz = 0;
  int f32 = 0;
  const char *dt = q.datatype;
  if (strcmp(dt, "FP32") == 0) esz = 4, f32 = 1;
  else if (strcmp(dt, "FP64") == 0) esz = 8;
  else if (!strcmp(dt, "INT8") || !strcmp(dt, "INT16") || !strcmp(dt, "INT32") ||
           !strcmp(dt, "INT64") || !strcmp(dt, "UINT8") || !strcmp(dt, "UINT16") ||
           !strcmp(dt, "UINT32") || !strcmp(dt, "UINT64"))
    esz = 0;
  else {
    char e[40];
    ls_json_escape(e, sizeof e, dt, strlen(dt));
    snprintf(msg, sizeof msg, "unsupported datatype '%s': expected FP32 or FP64%s", e,
             dt[0] ? "" : " (datatype missing)");
    respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  int64_t rows, cols;
  if (q.ndim == 2) rows = q.shape[0], cols = q.shape[1];
  else if (q.ndim == 1) rows = 1, cols = q.shape[0];
  else {
    snprintf(msg, sizeof msg, "shape must be [rows, %zu] (or [%zu] for one row), got %d dimensions",
             v->nfeat, v->nfeat, q.ndim);
    respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if ((uint64_t)cols != v->nfeat) {
    snprintf(msg, sizeof msg, "shape [%lld, %lld]: model '%s' expects %zu features per row",
             (long long)rows, (long long)cols, slot->name, v->nfeat);
    respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  uint64_t total;
  if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)cols, &total) || total > (1ull << 40)) {
    respond_error(w, c, 400, NULL, "shape too large");
    return 400;
  }
  size_t n = (size_t)rows;
  if (q.binary_size >= 0) {
    if (ihl < 0) {
      respond_error(w, c, 400, NULL,
                    "binary_data_size without an Inference-Header-Content-Length header");
      return 400;
    }
    if (q.has_data || esz == 0) {
      respond_error(w, c, 400, NULL,
                    q.has_data ? "input has both data and binary_data_size"
                               : "binary tensor data supports FP32 and FP64 only");
      return 400;
    }
    if ((uint64_t)q.binary_size != total * esz || blen - jlen != (size_t)q.binary_size) {
      snprintf(msg, sizeof msg,
               "binary_data_size %lld, binary bytes %zu: shape [%lld, %lld] %s needs %llu",
               (long long)q.binary_size, blen - jlen, (long long)rows, (long long)cols, dt,
               (unsigned long long)(total * esz));
      respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (f32 ? grow((void **)&w->fvals, &w->fvals_cap, total, sizeof(float))
            : grow((void **)&w->vals, &w->vals_cap, total, sizeof(double))) {
      respond_error(w, c, 500, NULL, "out of memory");
      return 500;
    }
    memcpy(f32 ? (void *)w->fvals : (void *)w->vals, body + jlen, (size_t)q.binary_size);
  } else {
    if (ihl >= 0 && blen != jlen) {
      respond_error(w, c, 400, NULL, "binary data after the JSON header but no binary_data_size");
      return 400;
    }
    if (!q.has_data) {
      respond_error(w, c, 400, NULL, "input has no data");
      return 400;
    }
    if (q.nvals != total) {
      snprintf(msg, sizeof msg, "data has %zu values; shape [%lld, %lld] needs %llu", q.nvals,
               (long long)rows, (long long)cols, (unsigned long long)total);
      respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (f32) {
      if (grow((void **)&w->fvals, &w->fvals_cap, total, sizeof(float))) {
        respond_error(w, c, 500, NULL, "out of memory");
        return 500;
      }
      for (size_t i = 0; i < total; i++) w->fvals[i] = (float)w->vals[i];
    }
  }
  size_t width = v->width, nout = n * width;
  if (grow((void **)&w->outs, &w->outs_cap, nout ? nout : 1, sizeof(float))) {
    respond_error(w, c, 500, NULL, "out of memory");
    return 500;
  }
  int rc = 0;
  if (n) {
    lm_session *sess = v->sess[w->idx];
    uint64_t t0 = ls_now_ns();
    rc = f32 ? lm_predict(sess, w->fvals, n, 0, w->outs) : lm_predict_f64(sess, w->vals, n, 0, w->outs);
    uint64_t t1 = ls_now_ns();
    ls_hist_observe(&w->m.inf_dur[slot - w->srv->reg.slots], t1 - t0);
  }
  if (rc < 0) {
    snprintf(msg, sizeof msg, "scoring failed: %s: %s", lm_strerror(rc), lm_last_error());
    respond_error(w, c, 500, NULL, msg);
    return 500;
  }
  ls_buf *b = &w->body;
  b->len = 0;
  bputs(b, "{\"model_name\":\"");
  ls_buf_append(b, slot->name, slot->name_len);
  bputs(b, "\",\"model_version\":\"");
  bputs(b, v->vstr);
  if (q.id) {
    bputs(b, "\",\"id\":\"");
    ls_buf_append(b, q.id, q.id_len);
  }
  bprintf(b, "\",\"outputs\":[{\"name\":\"output-0\",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],", n,
          width);
  if (q.binary_output) {
    bprintf(b, "\"parameters\":{\"binary_data_size\":%zu}}]}", nout * sizeof(float));
    size_t hlen = b->len;
    ls_buf_append(b, w->outs, nout * sizeof(float));
    char extra[64];
    snprintf(extra, sizeof extra, "Inference-Header-Content-Length: %zu\r\n", hlen);
    ls_respond(w, c, 200, "application/octet-stream", extra, b->p, b->len);
    return 200;
  }
  bputs(b, "\"data\":[");
  for (size_t i = 0; i < nout; i++) {
    if (i) ls_buf_append(b, ",", 1);
    fmt_float(b, w->outs[i]);
  }
  bputs(b, "]}]}");
  respond_json(w, c, 200, NULL);
  return 200;
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
  respond_error(w, c, 405, want == LS_GET ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n",
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
    bputs(&w->body, "{\"live\":true}");
    respond_json(w, c, 200, NULL);
    return 200;
  }
  if (eq(p, n, "/v2/health/ready")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    int ready = atomic_load_explicit(&s->state, memory_order_relaxed) == LS_RUNNING &&
                ls_registry_count_ready(&s->reg) > 0;
    w->body.len = 0;
    bputs(&w->body, ready ? "{\"ready\":true}" : "{\"ready\":false}");
    respond_json(w, c, ready ? 200 : 503, NULL);
    return ready ? 200 : 503;
  }
  if (eq(p, n, "/v2") || eq(p, n, "/v2/")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    w->body.len = 0;
    bputs(&w->body, "{\"name\":\"lmserve\",\"version\":\"" LM_VERSION_STRING
                    "\",\"extensions\":[\"binary_tensor_data\"]}");
    respond_json(w, c, 200, NULL);
    return 200;
  }
  if (eq(p, n, "/metrics")) {
    if (!method_ok(w, c, LS_GET)) return 405;
    metrics(w, c);
    return 200;
  }
  if (!pfx(p, n, "/v2/models/", &r)) {
    respond_error(w, c, 404, NULL, "not found");
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
    respond_error(w, c, 404, NULL, "not found");
    return 404;
  }
  ls_slot *slot = nl ? ls_registry_find(&s->reg, name, nl) : NULL;
  ls_version *v = slot ? atomic_load(&slot->cur) : NULL;
  char msg[2 * LS_NAME_MAX + 64];
  if (!v) {
    char e[LS_NAME_MAX + 8];
    ls_json_escape(e, sizeof e, name, nl < LS_NAME_MAX ? nl : LS_NAME_MAX);
    snprintf(msg, sizeof msg, "model '%s' not found", e);
    respond_error(w, c, 404, NULL, msg);
    return 404;
  }
  *model = (int)(slot - s->reg.slots);
  if (ver && !eq(ver, vl, v->vstr)) {
    char e[40];
    ls_json_escape(e, sizeof e, ver, vl < 32 ? vl : 32);
    snprintf(msg, sizeof msg, "model '%s' version '%s' not found (serving version %s)",
             slot->name, e, v->vstr);
    respond_error(w, c, 404, NULL, msg);
    return 404;
  }
  if (kind == 2) {
    if (!method_ok(w, c, LS_POST)) return 405;
    return infer(w, c, slot, v, body, blen);
  }
  if (!method_ok(w, c, LS_GET)) return 405;
  if (kind == 1) {
    w->body.len = 0;
    bprintf(&w->body, "{\"name\":\"%s\",\"ready\":true}", slot->name);
    respond_json(w, c, 200, NULL);
    return 200;
  }
  ls_respond(w, c, 200, "application/json", NULL, v->meta, v->meta_len);
  return 200;
}

static void account(ls_worker *w, int model, int status, uint64_t t0) {
  int k = ls_code_index(status);
  if (k >= 0) ls_inc(&w->m.req[model][k]);
  uint64_t t1 = ls_now_ns();
  ls_hist_observe(&w->m.req_dur, t0 && t1 > t0 ? t1 - t0 : 0);
}

/* ---- chunked request bodies (RFC 9112 §7.1) ----
 * Decoded in place as bytes arrive: b[0..ck_len) holds the data decoded so far and the encoded
 * rest follows it; each call decodes what it can and closes the gap, so a chunked body takes no
 * more buffer than the same body sent with Content-Length (plus one size line or trailer line).
 * Strict like the head parser: CRLF line ends only, 1-15 hex digits, extensions (";name=value")
 * skipped but limited to the line, trailer fields checked as field lines and ignored, the
 * decoded size limited to max_body (413). Hand-written because it is framing on the request
 * path, fuzzed with the rest of it (server/fuzz/fuzz_request.c). */
enum { CK_SIZE, CK_DATA, CK_DATA_END, CK_TRAILER, CK_DONE };
#define CK_LINE_MAX 1024

/* Returns 1 when the body is complete (its length in c->ck_len), 0 when more bytes are needed,
 * or -STATUS with *err set. n: bytes from b to the end of the input (c->in.len shrinks as the
 * gap closes). */
static int dechunk(ls_server *s, ls_conn *c, char *b, size_t n, const char **err) {
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
  respond_error(w, c, status, NULL, err);
  account(w, LS_MAX_MODELS, status, c->t_start_ns);
  c->t_start_ns = 0;
}

void ls_conn_process(ls_worker *w, ls_conn *c, uint64_t now_ns) {
  ls_server *s = w->srv;
  while (!c->closing) {
    const char *base = c->in.p + c->in_off;
    size_t avail = c->in.len - c->in_off;
    if (avail == 0) break;
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
      c->ck_len = c->ck_trailer = 0;
      c->ck_left = 0;
      c->ck_state = CK_SIZE;
      atomic_store_explicit(&w->m.inflight,
                            atomic_load_explicit(&w->m.inflight, memory_order_relaxed) + 1,
                            memory_order_relaxed);
    }
    if (c->req.chunked) {
      const char *err = NULL;
      int rc = dechunk(s, c, c->in.p + c->in_off + c->req.head_len,
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
      if (c->in.cap - c->in_off < need) {
        /* The request does not fit: move it to the front, grow the buffer to hold it. */
        memmove(c->in.p, base, avail);
        c->in.len = avail;
        c->in_off = 0;
        if (ls_buf_reserve(&c->in, need - avail)) {
          c->closing = 1;
          break;
        }
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
    c->in_off += need;
    c->have_head = 0;
    atomic_store_explicit(&w->m.inflight,
                          atomic_load_explicit(&w->m.inflight, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    c->t_start_ns = c->in_off < c->in.len ? now_ns : 0;
    if (!c->req.keep_alive) c->closing = 1;
  }
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
