/*
 * metrics.c — the counters and histograms behind lmserve's /metrics. Each worker owns one
 * ls_metrics and is its only writer: an update is a relaxed load and store of its own cache
 * lines (no atomic read-modify-write, no sharing), and the /metrics handler sums every worker's
 * values with relaxed loads. Histogram buckets follow Prometheus conventions (seconds,
 * cumulative at output, +Inf last) and start at 10 µs, the scale of a single-row request.
 * ls_metrics_respond writes them as Prometheus text (version 0.0.4) into the worker's body
 * buffer and answers GET /metrics with it.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server/ls.h"

const double ls_bucket_s[LS_NBUCKETS] = {
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
    2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

static const uint64_t bucket_ns[LS_NBUCKETS] = {
    10000ull, 25000ull, 50000ull, 100000ull, 250000ull, 500000ull, 1000000ull,
    2500000ull, 5000000ull, 10000000ull, 25000000ull, 50000000ull, 100000000ull,
    250000000ull, 500000000ull, 1000000000ull, 2500000000ull, 5000000000ull,
    10000000000ull, 30000000000ull};

int ls_code_index(int status) {
  switch (status) {
  case 200: return LS_C200;
  case 400: return LS_C400;
  case 404: return LS_C404;
  case 405: return LS_C405;
  case 408: return LS_C408;
  case 411: return LS_C411;
  case 413: return LS_C413;
  case 431: return LS_C431;
  case 500: return LS_C500;
  case 501: return LS_C501;
  case 503: return LS_C503;
  case 505: return LS_C505;
  case 204: return LS_C204;
  case 406: return LS_C406;
  case 415: return LS_C415;
  default: return -1;
  }
}

/* Non-cumulative per bucket; /metrics accumulates. */
void ls_hist_observe(ls_hist *h, uint64_t ns) {
  int i = 0;
  while (i < LS_NBUCKETS && ns > bucket_ns[i]) i++;
  ls_inc(&h->b[i]);
  ls_inc(&h->count);
  atomic_store_explicit(&h->sum_ns, atomic_load_explicit(&h->sum_ns, memory_order_relaxed) + ns,
                        memory_order_relaxed);
}

/* ---- Prometheus text ---- */

static void hist_out(ls_buf *b, const char *name, const char *labels, ls_worker *ws, int nw,
                     size_t off) {
  uint64_t cum = 0, count = 0, sum = 0;
  for (int i = 0; i <= LS_NBUCKETS; i++) {
    for (int k = 0; k < nw; k++) {
      ls_hist *h = (ls_hist *)((char *)&ws[k].m + off);
      cum += atomic_load_explicit(&h->b[i], memory_order_relaxed);
    }
    if (i < LS_NBUCKETS)
      ls_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
              ls_bucket_s[i], (unsigned long long)cum);
    else
      ls_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
              (unsigned long long)cum);
  }
  for (int k = 0; k < nw; k++) {
    ls_hist *h = (ls_hist *)((char *)&ws[k].m + off);
    count += atomic_load_explicit(&h->count, memory_order_relaxed);
    sum += atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
  }
  const char *l = *labels ? "{" : "", *r = *labels ? "}" : "";
  ls_buf_printf(b, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name, l, labels, r, (double)sum * 1e-9,
          name, l, labels, r, (unsigned long long)count);
}

/* process_* metrics as the Prometheus client libraries export them (Linux: /proc/self),
 * read with plain read(2) into stack buffers and getdents64: no allocation. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n >= 0) buf[n] = 0;
  return n;
}

static void process_metrics(ls_buf *b) {
  char st[1024];
  double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
  if (read_small("/proc/self/stat", st, sizeof st) > 0) {
    const char *p = strrchr(st, ')'); /* the command name may hold spaces and parentheses */
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                    "%*d %*d %llu %llu %llu", &utime, &stime, &start, &vsize, &rss) == 5) {
      double btime = 0;
      char ps[8192];
      if (read_small("/proc/stat", ps, sizeof ps) > 0) {
        const char *bt = strstr(ps, "\nbtime ");
        if (bt) btime = strtod(bt + 7, NULL);
      }
      ls_buf_printf(b,
          "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
          "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
          "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
          "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
          "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %.0f\n"
          "# HELP process_start_time_seconds Start time of the process since unix epoch in "
          "seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
          (double)(utime + stime) / ticks, vsize, (double)rss * page,
          btime + (double)start / ticks);
    }
  }
  int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    char d[4096];
    long n, count = 0;
    while ((n = syscall(SYS_getdents64, fd, d, sizeof d)) > 0)
      for (long off = 0; off < n;) {
        unsigned short reclen;
        memcpy(&reclen, d + off + 16, sizeof reclen); /* d_ino 8, d_off 8, d_reclen 2 */
        const char *name = d + off + 19;
        if (name[0] != '.') count++;
        off += reclen;
      }
    close(fd);
    ls_buf_printf(b, "# HELP process_open_fds Number of open file descriptors.\n"
                  "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n", count - 1);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    ls_buf_printf(b, "# HELP process_max_fds Maximum number of open file descriptors.\n"
                  "# TYPE process_max_fds gauge\nprocess_max_fds %.0f\n",
                  rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur);
}

static const int code_of[LS_NCODES] = {200, 400, 404, 405, 408, 411, 413, 431, 500, 501, 503, 505,
                                       204, 406, 415};

void ls_metrics_respond(ls_worker *w, ls_conn *c) {
  ls_server *s = w->srv;
  ls_buf *b = &w->body;
  b->len = 0;
  ls_worker *ws = s->workers ? s->workers : w;
  int nw = s->workers ? s->nworkers : 1;
  int ns = atomic_load_explicit(&s->reg.nslots, memory_order_acquire);
  char lab[LS_NAME_MAX + 64];
  #define LIVE(m) atomic_load_explicit(&s->reg.slots[m].live, memory_order_acquire)

  ls_buf_puts(b, "# HELP lmserve_requests_total HTTP requests answered, by model (empty: none) and "
           "status code.\n# TYPE lmserve_requests_total counter\n");
  for (int m = 0; m <= LS_MAX_MODELS; m++) {
    if (m < LS_MAX_MODELS && (m >= ns || !LIVE(m))) continue;
    for (int k = 0; k < LS_NCODES; k++) {
      uint64_t v = 0;
      for (int i = 0; i < nw; i++) v += atomic_load_explicit(&ws[i].m.req[m][k], memory_order_relaxed);
      if (!v) continue;
      ls_buf_printf(b, "lmserve_requests_total{model=\"%s\",code=\"%d\"} %llu\n",
              m < LS_MAX_MODELS ? s->reg.slots[m].name : "", code_of[k], (unsigned long long)v);
    }
  }
  ls_buf_puts(b, "# HELP lmserve_request_duration_seconds Time from a request's first byte to its "
           "response being queued.\n# TYPE lmserve_request_duration_seconds histogram\n");
  hist_out(b, "lmserve_request_duration_seconds", "", ws, nw, offsetof(ls_metrics, req_dur));
  ls_buf_puts(b, "# HELP lmserve_model_request_duration_seconds Time from a request's first "
           "byte to its response being queued, by model (requests routed to one).\n"
           "# TYPE lmserve_model_request_duration_seconds histogram\n");
  for (int m = 0; m < ns; m++) {
    if (!LIVE(m)) continue;
    snprintf(lab, sizeof lab, "model=\"%s\"", s->reg.slots[m].name);
    hist_out(b, "lmserve_model_request_duration_seconds", lab, ws, nw,
             offsetof(ls_metrics, model_dur) + (size_t)m * sizeof(ls_hist));
  }
  ls_buf_puts(b, "# HELP lmserve_model_errors_total Requests to a model answered with a 4xx or "
           "5xx status.\n# TYPE lmserve_model_errors_total counter\n");
  for (int m = 0; m < ns; m++) {
    if (!LIVE(m)) continue;
    uint64_t e = 0;
    for (int k = 0; k < LS_NCODES; k++)
      if (code_of[k] >= 400)
        for (int i = 0; i < nw; i++) e += atomic_load_explicit(&ws[i].m.req[m][k], memory_order_relaxed);
    ls_buf_printf(b, "lmserve_model_errors_total{model=\"%s\"} %llu\n", s->reg.slots[m].name,
                  (unsigned long long)e);
  }
  ls_buf_puts(b, "# HELP lmserve_inference_duration_seconds Time spent scoring in lm_predict, by "
           "model.\n# TYPE lmserve_inference_duration_seconds histogram\n");
  for (int m = 0; m < ns; m++) {
    if (!LIVE(m)) continue;
    snprintf(lab, sizeof lab, "model=\"%s\"", s->reg.slots[m].name);
    hist_out(b, "lmserve_inference_duration_seconds", lab, ws, nw,
             offsetof(ls_metrics, inf_dur) + (size_t)m * sizeof(ls_hist));
  }
  int64_t inflight = 0, open = 0;
  uint64_t total = 0, rejected = 0, timeouts = 0, evicted = 0, htimeouts = 0, held = 0,
           shrinks = 0;
  for (int i = 0; i < nw; i++) {
    inflight += atomic_load_explicit(&ws[i].m.inflight, memory_order_relaxed);
    open += atomic_load_explicit(&ws[i].m.conns_open, memory_order_relaxed);
    total += atomic_load_explicit(&ws[i].m.conns_total, memory_order_relaxed);
    rejected += atomic_load_explicit(&ws[i].m.conns_rejected, memory_order_relaxed);
    timeouts += atomic_load_explicit(&ws[i].m.timeouts, memory_order_relaxed);
    evicted += atomic_load_explicit(&ws[i].m.conns_evicted, memory_order_relaxed);
    htimeouts += atomic_load_explicit(&ws[i].m.header_timeouts, memory_order_relaxed);
    held += atomic_load_explicit(&ws[i].m.output_held, memory_order_relaxed);
    shrinks += atomic_load_explicit(&ws[i].m.scratch_shrinks, memory_order_relaxed);
  }
  ls_buf_printf(b,
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
  ls_buf_printf(b,
          "# HELP lmserve_connections_evicted_total Idle connections closed to admit a new one "
          "at --max-connections.\n# TYPE lmserve_connections_evicted_total counter\n"
          "lmserve_connections_evicted_total %llu\n"
          "# HELP lmserve_header_timeouts_total Connections closed because no complete request "
          "head arrived within --header-timeout.\n"
          "# TYPE lmserve_header_timeouts_total counter\nlmserve_header_timeouts_total %llu\n"
          "# HELP lmserve_output_held_total Times a connection's input waited because its unsent "
          "responses passed --max-queued-bytes.\n"
          "# TYPE lmserve_output_held_total counter\nlmserve_output_held_total %llu\n"
          "# HELP lmserve_scratch_shrinks_total Scratch buffers given back after a request "
          "larger than the kept size.\n"
          "# TYPE lmserve_scratch_shrinks_total counter\nlmserve_scratch_shrinks_total %llu\n"
          "# HELP lmserve_models_skipped Model files not served: more than --max-models.\n"
          "# TYPE lmserve_models_skipped gauge\nlmserve_models_skipped %llu\n"
          "# HELP lmserve_model_files_ignored .lm files whose names are not model names.\n"
          "# TYPE lmserve_model_files_ignored gauge\nlmserve_model_files_ignored %llu\n",
          (unsigned long long)evicted, (unsigned long long)htimeouts, (unsigned long long)held,
          (unsigned long long)shrinks, (unsigned long long)atomic_load(&s->reg.skipped),
          (unsigned long long)atomic_load(&s->reg.bad_names));
  ls_buf_puts(b, "# HELP lmserve_model_info The model version served, with its content hash "
           "(XXH64 of the .lm file).\n# TYPE lmserve_model_info gauge\n");
  for (int m = 0; m < ns; m++) {
    ls_version *v = LIVE(m) ? atomic_load(&s->reg.slots[m].cur) : NULL;
    if (!v) continue;
    /* Strings from the .lm file: escaped as label values (a newline must not start a line). */
    char src[256], obj[256], ker[256];
    const char *so = v->info.source_format ? v->info.source_format : "",
               *ob = v->info.objective ? v->info.objective : "",
               *ke = v->info.kernel ? v->info.kernel : "";
    ls_prom_escape(src, sizeof src, so, strlen(so));
    ls_prom_escape(obj, sizeof obj, ob, strlen(ob));
    ls_prom_escape(ker, sizeof ker, ke, strlen(ke));
    ls_buf_printf(b,
            "lmserve_model_info{model=\"%s\",version=\"%s\",hash=\"%016llx\",source=\"%s\","
            "objective=\"%s\",kernel=\"%s\"} 1\n",
            s->reg.slots[m].name, v->vstr, (unsigned long long)v->hash, src, obj, ker);
  }
  ls_buf_puts(b, "# HELP lmserve_model_reloads_total New versions of a model swapped in after "
           "startup.\n# TYPE lmserve_model_reloads_total counter\n");
  for (int m = 0; m < ns; m++)
    if (LIVE(m))
    ls_buf_printf(b, "lmserve_model_reloads_total{model=\"%s\"} %llu\n", s->reg.slots[m].name,
            (unsigned long long)atomic_load(&s->reg.slots[m].reloads));
  ls_buf_puts(b, "# HELP lmserve_model_reload_failures_total Model files rejected (unreadable, "
           "corrupt, failing self-test); the previous version keeps serving.\n"
           "# TYPE lmserve_model_reload_failures_total counter\n");
  for (int m = 0; m < ns; m++)
    if (LIVE(m))
    ls_buf_printf(b, "lmserve_model_reload_failures_total{model=\"%s\"} %llu\n", s->reg.slots[m].name,
            (unsigned long long)atomic_load(&s->reg.slots[m].reload_failures));
  int ready = ls_ready(s, NULL);
  ls_buf_printf(b,
          "# HELP lmserve_ready 1 when /v2/health/ready answers 200.\n"
          "# TYPE lmserve_ready gauge\nlmserve_ready %d\n"
          "# HELP lmserve_build_info lmserve and liblmrt version.\n"
          "# TYPE lmserve_build_info gauge\nlmserve_build_info{version=\"%s\"} 1\n",
          ready, LM_VERSION_STRING);
  #undef LIVE
  process_metrics(b);
  ls_respond(w, c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b->p, b->len);
}
