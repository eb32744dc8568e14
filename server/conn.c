/*
 * conn.c — the request-path state of lmserve's workers and connections: their preallocated
 * buffers and scratch arrays (grown to the largest request seen up to LS_SCRATCH_KEEP bytes each
 * and reused; an outsized request's scratch is given back after its response), set up, reset
 * between connections and freed; a connection's timeouts and whether it may be evicted (the
 * decisions the event loop's 100 ms sweep and the fuzz target share); and the monotonic clock
 * the request path times itself with.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/ls.h"

uint64_t ls_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ls_conn_init(ls_conn *c, size_t in_fixed, size_t out_fixed) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  return ls_conn_alloc_buffers(c, in_fixed, out_fixed);
}

int ls_conn_alloc_buffers(ls_conn *c, size_t in_fixed, size_t out_fixed) {
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
  c->held = c->served = 0;
  c->t_start_ns = c->t_last_ns = c->t_accept_ns = 0;
  c->want_out = 0;
  c->fd = -1;
}

void ls_conn_free(ls_conn *c) {
  ls_conn_reset(c);
  free(c->in.fixed);
  free(c->out.fixed);
  c->in.fixed = c->out.fixed = c->in.p = c->out.p = NULL;
  c->in.cap = c->out.cap = c->in.fixed_cap = c->out.fixed_cap = 0;
}

int ls_conn_evictable(const ls_conn *c) {
  return c->in_use && (c->lingering || (!c->want_out && !c->have_head && !c->held &&
                                        c->out.len == c->out_off));
}

static void dec_inflight(ls_worker *w) {
  atomic_store_explicit(&w->m.inflight,
                        atomic_load_explicit(&w->m.inflight, memory_order_relaxed) - 1,
                        memory_order_relaxed);
}

static int respond_408(ls_worker *w, ls_conn *c) {
  ls_inc(&w->m.timeouts);
  c->closing = 1;
  if (c->have_head) {
    dec_inflight(w);
    c->have_head = 0;
  }
  c->req.keep_alive = 0;
  c->req.method = LS_GET;
  ls_respond(w, c, 408, "application/json", NULL, "{\"error\":\"request timeout\"}", 27);
  ls_inc(&w->m.req[LS_MAX_MODELS][ls_code_index(408)]);
  c->t_start_ns = 0;
  c->in.len = c->in_off = 0;
  return LS_TO_408;
}

int ls_conn_timeouts(ls_worker *w, ls_conn *c, uint64_t now) {
  ls_server *s = w->srv;
  int state = atomic_load_explicit(&s->state, memory_order_relaxed);
  uint64_t req_to = (uint64_t)(s->cfg.request_timeout_s * 1e9),
           idle_to = (uint64_t)(s->cfg.idle_timeout_s * 1e9),
           hdr_to = (uint64_t)(s->cfg.header_timeout_s * 1e9), linger_to = 2000000000ull;
  uint64_t since = now > c->t_last_ns ? now - c->t_last_ns : 0;
  int idle = c->in.len == c->in_off && !c->have_head && c->out.len == 0;
  if (c->lingering) return since > linger_to || state == LS_CLOSING ? LS_TO_CLOSE : LS_TO_NONE;
  if (c->want_out) return since > req_to ? LS_TO_CLOSE : LS_TO_NONE;
  if (hdr_to && !c->have_head && !c->closing) {
    /* No complete head yet: bytes of one arrived (408), or none since accept (closed). */
    if (c->t_start_ns && now > c->t_start_ns && now - c->t_start_ns > hdr_to) {
      ls_inc(&w->m.header_timeouts);
      return respond_408(w, c);
    }
    if (!c->t_start_ns && !c->served && idle && now > c->t_accept_ns &&
        now - c->t_accept_ns > hdr_to) {
      ls_inc(&w->m.header_timeouts);
      return LS_TO_CLOSE;
    }
  }
  if (c->t_start_ns && now > c->t_start_ns && now - c->t_start_ns > req_to && !c->closing)
    return respond_408(w, c);
  if (idle && (since > idle_to || state == LS_CLOSING)) return LS_TO_CLOSE;
  return LS_TO_NONE;
}

/* Shrink one scratch array to LS_SCRATCH_KEEP bytes if it grew past that. */
static void trim_array(ls_worker *w, void **p, size_t *cap, size_t elem) {
  size_t keep = LS_SCRATCH_KEEP / elem;
  if (*cap <= keep) return;
  void *n = realloc(*p, keep * elem);
  if (!n) return;
  *p = n;
  *cap = keep;
  ls_inc(&w->m.scratch_shrinks);
}

void ls_worker_trim(ls_worker *w) {
  trim_array(w, (void **)&w->vals, &w->vals_cap, sizeof *w->vals);
  trim_array(w, (void **)&w->fvals, &w->fvals_cap, sizeof *w->fvals);
  trim_array(w, (void **)&w->outs, &w->outs_cap, sizeof *w->outs);
  trim_array(w, (void **)&w->cols, &w->cols_cap, sizeof *w->cols);
  trim_array(w, (void **)&w->leaves, &w->leaves_cap, sizeof *w->leaves);
  trim_array(w, (void **)&w->contribs, &w->contribs_cap, sizeof *w->contribs);
  trim_array(w, (void **)&w->ins, &w->ins_cap, sizeof *w->ins);
  trim_array(w, (void **)&w->fseen, &w->fseen_cap, sizeof *w->fseen);
  if (w->body.p != w->body.fixed && w->body.cap > LS_SCRATCH_KEEP) {
    ls_buf_free(&w->body);
    ls_inc(&w->m.scratch_shrinks);
  }
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
  free(w->cols);
  free(w->leaves);
  free(w->contribs);
  free(w->ins);
  free(w->fseen);
  ls_buf_free(&w->body);
  w->vals = w->cols = NULL;
  w->fvals = w->outs = NULL;
  w->leaves = NULL;
  w->contribs = NULL;
  w->ins = NULL;
  w->fseen = NULL;
}
