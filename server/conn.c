/*
 * conn.c — the request-path state of lmserve's workers and connections: their preallocated
 * buffers and scratch arrays (grown to the largest request seen, then reused), set up, reset
 * between connections and freed; and the monotonic clock the request path times itself with.
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
