/*
 * lmcount.c — a tiny driver for counting instructions (bench/icount runs it under valgrind's
 * callgrind): open a .lm model, read rows, make one warm-up call (the session's scratch grows
 * once), then make CALLS calls of BATCH rows each inside lmcount_measure(), the only function
 * callgrind collects (--toggle-collect=lmcount_measure). Instructions per call are then a
 * deterministic function of the library, the model and the rows: no timer noise.
 *
 *   lmcount MODEL.lm ROWS.f32 BATCH CALLS
 *
 * ROWS.f32: raw little-endian float32 rows of the model's feature count (bench/gen_models.py).
 * Call i scores rows [i·BATCH, (i+1)·BATCH) modulo the rows read. Prints the number of calls,
 * the kernel that ran and a checksum of the outputs (so the work cannot be optimised away, and
 * two builds can be seen to compute the same thing). LM_BENCH_SLOWDOWN=P (percent): every call
 * also scores P% of its rows again (spread evenly over the calls: batch 1 scores every
 * (100/P)-th row twice), the instruction-count twin of bench/lmbench.cc's timed slowdown: a
 * deliberately slowed kernel, seen only by the harnesses.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmrt.h"

static double slowdown_pct;

static int die(const char *what, int rc) {
  fprintf(stderr, "lmcount: %s: %s: %s\n", what, lm_strerror(rc), lm_last_error());
  return 1;
}

/* The measured region. noinline so that callgrind can toggle collection on its name. */
__attribute__((noinline)) int lmcount_measure(lm_session *s, const float *rows, size_t n_rows,
                                              size_t F, size_t batch, size_t calls, float *out,
                                              size_t width) {
  size_t windows = n_rows / batch;
  double acc = 0;
  for (size_t i = 0; i < calls; i++) {
    const float *x = rows + (i % windows) * batch * F;
    int rc = lm_predict(s, x, batch, 0, out + (i % 2) * batch * width);
    if (rc) return rc;
    if (slowdown_pct > 0) {
      acc += (double)batch * slowdown_pct / 100.0;
      size_t k = (size_t)acc;
      acc -= (double)k;
      while (k) {
        size_t c = k < batch ? k : batch;
        rc = lm_predict(s, x, c, 0, out + 2 * batch * width);
        if (rc) return rc;
        k -= c;
      }
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: lmcount MODEL.lm ROWS.f32 BATCH CALLS\n");
    return 2;
  }
  const char *env = getenv("LM_BENCH_SLOWDOWN");
  slowdown_pct = env ? atof(env) : 0.0;
  size_t batch = strtoull(argv[3], NULL, 10), calls = strtoull(argv[4], NULL, 10);
  if (!batch || !calls) {
    fprintf(stderr, "lmcount: BATCH and CALLS must be positive\n");
    return 2;
  }
  lm_model *m;
  lm_session *s;
  int rc = lm_model_open(argv[1], &m);
  if (rc) return die(argv[1], rc);
  if ((rc = lm_session_new(m, &s))) return die("lm_session_new", rc);
  size_t F = lm_model_num_features(m), width = lm_model_num_outputs(m);

  /* Read only the rows the calls use (at most 4096 windows' worth). */
  FILE *fp = fopen(argv[2], "rb");
  if (!fp) {
    perror(argv[2]);
    return 1;
  }
  size_t want = batch * (calls < 4096 ? calls : 4096);
  float *rows = malloc(want * F * sizeof(float));
  float *out = malloc(3 * batch * width * sizeof(float));
  if (!rows || !out) {
    fprintf(stderr, "lmcount: out of memory\n");
    return 1;
  }
  size_t n_rows = fread(rows, F * sizeof(float), want, fp);
  fclose(fp);
  if (n_rows < batch) {
    fprintf(stderr, "lmcount: %s: fewer than %zu rows of %zu features\n", argv[2], batch, F);
    return 1;
  }

  if ((rc = lm_predict(s, rows, batch, 0, out))) return die("warm-up lm_predict", rc);
  if ((rc = lmcount_measure(s, rows, n_rows, F, batch, calls, out, width)))
    return die("lm_predict", rc);

  double sum = 0;
  for (size_t i = 0; i < 2 * batch * width; i++) sum += isnan(out[i]) ? 0.0 : out[i];
  lm_model_info info;
  const char *kernel = lm_model_get_info(m, &info) == 0 && info.kernel ? info.kernel : "?";
  printf("calls %zu batch %zu kernel %s checksum %.9g\n", calls, batch, kernel, sum);
  free(rows);
  free(out);
  lm_session_free(s);
  lm_model_close(m);
  return 0;
}
