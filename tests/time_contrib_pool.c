/*
 * time_contrib_pool.c — `make contrib-pool-time` (tests/contrib.mk): lm_predict_contrib on one
 * thread against lm_predict_contrib_pool with 1 and 2 threads (every batch split:
 * min_parallel_rows 1), on a batch of N random rows (default 10,000; 5% missing values) of each
 * .lm file given; best of 5 rounds after a warm-up, ms per batch and µs per row, and a check that
 * the pool's floats equal the single-thread ones; the CPU time of the best 2-thread round, the
 * caller's and the worker's, shows how the work was split (on a loaded machine the wall time
 * may not show it). The numbers behind docs/performance.md's
 * contributions-through-the-pool line. Separate from lmbench on purpose.
 *
 *     time_contrib_pool [-n ROWS] MODEL.lm...
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmrt.h"

static double clock_ms(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}
static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

int main(int argc, char **argv) {
  size_t n = 10000;
  int a = 1;
  if (argc > 2 && !strcmp(argv[1], "-n")) n = (size_t)strtoull(argv[2], NULL, 10), a = 3;
  if (a >= argc) {
    fprintf(stderr, "usage: time_contrib_pool [-n ROWS] MODEL.lm...\n");
    return 2;
  }
  printf("%-32s %6s %12s %12s %12s %7s\n", "model", "rows", "1 thread", "pool 1", "pool 2",
         "speedup");
  for (; a < argc; a++) {
    lm_model *m;
    lm_session *s;
    if (lm_model_open(argv[a], &m) || lm_session_new(m, &s)) {
      fprintf(stderr, "%s: %s\n", argv[a], lm_last_error());
      return 1;
    }
    size_t F = lm_model_num_features(m), W = lm_model_contrib_width(m);
    float *x = malloc(sizeof *x * n * F), *ref = malloc(sizeof *ref * n * W),
          *got = malloc(sizeof *got * n * W);
    uint32_t st = 1;
    for (size_t i = 0; i < n * F; i++) {
      st = st * 1664525u + 1013904223u;
      x[i] = st % 20 == 0 ? NAN : (float)(st >> 8) / (float)(1u << 24) * 8.0f - 2.0f;
    }
    double best[3] = {1e300, 1e300, 1e300}, cpu2 = 0, me2 = 0;
    if (lm_predict_contrib(s, x, n, ref)) {
      fprintf(stderr, "%s: %s\n", argv[a], lm_last_error());
      return 1;
    }
    for (int r = 0; r < 5; r++) {
      double t0 = now_ms();
      lm_predict_contrib(s, x, n, ref);
      double d = now_ms() - t0;
      if (d < best[0]) best[0] = d;
    }
    int same = 1;
    for (size_t th = 1; th <= 2; th++) {
      lm_pool_options o = {0};
      o.threads = th;
      o.min_parallel_rows = 1;
      lm_pool *p;
      if (lm_pool_new(&o, &p)) return 1;
      lm_predict_contrib_pool(p, s, x, n, got); /* warm-up */
      for (int r = 0; r < 5; r++) {
        double t0 = now_ms(), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        double m0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
        lm_predict_contrib_pool(p, s, x, n, got);
        double d = now_ms() - t0;
        if (d < best[th])
          best[th] = d, cpu2 = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0,
          me2 = clock_ms(CLOCK_THREAD_CPUTIME_ID) - m0;
      }
      same &= memcmp(got, ref, sizeof *got * n * W) == 0;
      lm_pool_free(p);
    }
    const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
    printf("%-32s %6zu %9.1f ms %9.1f ms %9.1f ms %6.2fx  (%.2f / %.2f us/row; 2 threads: "
           "%.1f ms CPU, caller %.1f, worker %.1f)%s\n", name, n, best[0], best[1], best[2],
           best[0] / best[2], best[0] * 1e3 / (double)n, best[2] * 1e3 / (double)n, cpu2, me2,
           cpu2 - me2, same ? "" : "  POOL DIFFERS");
    free(x), free(ref), free(got);
    lm_session_free(s);
    lm_model_close(m);
    if (!same) return 1;
  }
  return 0;
}
