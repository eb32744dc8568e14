/*
 * metrics.c — the counters and histograms behind lmserve's /metrics. Each worker owns one
 * ls_metrics and is its only writer: an update is a relaxed load and store of its own cache
 * lines (no atomic read-modify-write, no sharing), and the /metrics handler sums every worker's
 * values with relaxed loads. Histogram buckets follow Prometheus conventions (seconds,
 * cumulative at output, +Inf last) and start at 10 µs, the scale of a single-row request.
 */
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
