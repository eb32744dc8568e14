/*
 * bench_cloop.c — the C reference of bindings/bench_overhead.py: lm_predict on one row, called
 * in a loop from C and timed with clock_gettime, so that the bindings' figures can be read as
 * "the C call + the binding's overhead".
 *
 *   cloop MODEL.lm CALLS REPS [ROW.f32]   prints REPS lines: ns per call (each over CALLS calls)
 *
 * ROW.f32: the row to score, raw float32 (bench_overhead.py passes the row it times itself, so
 * both make the same decisions); without it, a fixed pseudo-random row. Links liblmrt.a and its
 * libraries only.
 */
#include <lmrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: cloop MODEL.lm CALLS REPS [ROW.f32]\n");
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
  /* 64-byte aligned, padded rows and outputs, as numpy and Go give them */
  float *x = aligned_alloc(64, (nf * sizeof(float) + 127) / 64 * 64);
  float *out = aligned_alloc(64, ((lm_model_num_outputs(m) + 1) * sizeof(float) + 127) / 64 * 64);
  unsigned long long st = 12345;
  for (size_t i = 0; i < nf; i++) {
    st = st * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (float)((st >> 40) & 0xffffff) / 16777216.0f;
  }
  if (argc == 5) {
    FILE *f = fopen(argv[4], "rb");
    if (!f || fread(x, sizeof *x, nf, f) != nf) {
      fprintf(stderr, "cloop: %s: cannot read %zu float32 values\n", argv[4], nf);
      return 1;
    }
    fclose(f);
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
