/*
 * bench_cloop.c — the C reference of bindings/bench_overhead.py: lm_predict on one row, called
 * in a loop from C and timed with clock_gettime, so that the bindings' figures can be read as
 * "the C call + the binding's overhead".
 *
 *   cloop MODEL.lm CALLS REPS     prints REPS lines: ns per call (each over CALLS calls)
 *
 * The row is the same pseudo-random row as bench_overhead.py's (uniform [0,1) floats from a
 * fixed LCG, so both score the same decisions). Links liblmrt.a and its libraries only.
 */
#include <lmrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: cloop MODEL.lm CALLS REPS\n");
    return 2;
  }
  lm_model *m;
  lm_session *s;
  int rc = lm_model_open(argv[1], &m);
  if (rc < 0 || (rc = lm_session_new(m, &s)) < 0) {
    fprintf(stderr, "cloop: %s: %s\n", lm_strerror(rc), lm_last_error());
    return 1;
  }
  long calls = atol(argv[2]), reps = atol(argv[3]);
  size_t nf = lm_model_num_features(m);
  float *x = malloc(nf * sizeof *x), *out = malloc((lm_model_num_outputs(m) + 1) * sizeof *out);
  unsigned long long st = 12345;
  for (size_t i = 0; i < nf; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (float)((st >> 40) & 0xffffff) / 16777216.0f;
  }
  for (long i = 0; i < calls; i++) lm_predict(s, x, 1, 0, out); /* warm-up */
  for (long r = 0; r < reps; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < calls; i++) lm_predict(s, x, 1, 0, out);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.2f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)calls);
  }
  lm_session_free(s);
  lm_model_close(m);
  free(x), free(out);
  return 0;
}
