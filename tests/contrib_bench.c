/*
 * contrib_bench.c — a standalone timing of lm_predict_contrib against XGBoost's C API
 * (XGBoosterPredictFromDMatrix with type 2: exact contributions, what pred_contribs=True runs)
 * on the same model, single-threaded on both sides (XGBoost nthread=1). Not a cmocka test and
 * not part of `make check`: `make contrib-bench` (tests/contrib.mk) builds and runs it on the
 * `small` bench model (make bench-models).
 *
 *   contrib_bench MODEL.json MODEL.lm [ROWS]
 *
 * Rows are random (normal, 5% missing, fixed seed). It times a batch of ROWS rows (default
 * 10,000) in one call each side, and single rows: one call per row over 1,000 rows (XGBoost's
 * one-row DMatrices are built before the clock starts, so only its predict call is timed). It
 * prints the time per row of each and the ratio, and the largest difference between the two
 * engines' contributions (a sanity check; tests/test_contrib.c is the parity test). Both sides
 * run in the calling thread (XGBoost with nthread=1), so it also prints the ratio of thread CPU
 * time, which a shared machine disturbs less than the wall clock.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xgboost/c_api.h>

#include "lmrt.h"

#define XGB(call)                                                                   \
  do {                                                                              \
    if ((call) != 0) {                                                              \
      fprintf(stderr, "xgboost: %s: %s\n", #call, XGBGetLastError());               \
      exit(1);                                                                      \
    }                                                                               \
  } while (0)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double unif(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}
static float normal(void) {
  double u = unif() + 1e-12, v = unif();
  return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static const char *cfg = "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, "
                         "\"iteration_end\": 0, \"strict_shape\": false}";

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.json MODEL.lm [ROWS]\n", argv[0]);
    return 2;
  }
  size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000, n1 = 1000;
  lm_model *m;
  lm_session *s;
  if (lm_model_open(argv[2], &m) || lm_session_new(m, &s)) {
    fprintf(stderr, "lmrt: %s\n", lm_last_error());
    return 1;
  }
  size_t F = lm_model_num_features(m), W = lm_model_contrib_width(m);
  float *x = malloc(sizeof *x * n * F), *ours = malloc(sizeof *ours * n * W);
  for (size_t i = 0; i < n * F; i++) x[i] = unif() < 0.05 ? NAN : normal();

  BoosterHandle b;
  XGB(XGBoosterCreate(NULL, 0, &b));
  XGB(XGBoosterLoadModel(b, argv[1]));
  XGB(XGBoosterSetParam(b, "nthread", "1"));
  DMatrixHandle d;
  XGB(XGDMatrixCreateFromMat(x, n, F, NAN, &d));
  const bst_ulong *shape;
  bst_ulong dim;
  const float *res;
  /* warm-up both (XGBoost fills its node mean values on the first contribution call) */
  XGB(XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, &res));
  if (lm_predict_contrib(s, x, n, ours)) {
    fprintf(stderr, "lmrt: %s\n", lm_last_error());
    return 1;
  }

  double best_x = 1e30, best_l = 1e30, cpu_x = 1e30, cpu_l = 1e30;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now(), c0 = cpu();
    XGB(XGBoosterPredictFromDMatrix(b, d, cfg, &shape, &dim, &res));
    double t1 = now(), c1 = cpu();
    lm_predict_contrib(s, x, n, ours);
    double t2 = now(), c2 = cpu();
    if (t1 - t0 < best_x) best_x = t1 - t0;
    if (t2 - t1 < best_l) best_l = t2 - t1;
    if (c1 - c0 < cpu_x) cpu_x = c1 - c0;
    if (c2 - c1 < cpu_l) cpu_l = c2 - c1;
  }
  double maxd = 0;
  for (size_t i = 0; i < n * W; i++) {
    double dd = fabs((double)ours[i] - res[i]);
    if (dd > maxd) maxd = dd;
  }
  printf("model %s: %zu features, %zu outputs, %zu trees\n", argv[2], F,
         lm_model_num_outputs(m), lm_model_num_trees(m));
  printf("batch of %zu rows:  xgboost %9.2f us/row  lmrt %9.2f us/row  ratio %.1fx  "
         "(cpu: %.2f / %.2f us/row, ratio %.1fx)  (max |diff| %.3g)\n", n, best_x / n * 1e6,
         best_l / n * 1e6, best_x / best_l, cpu_x / n * 1e6, cpu_l / n * 1e6, cpu_x / cpu_l,
         maxd);

  /* single rows */
  if (n1 > n) n1 = n;
  DMatrixHandle *d1 = malloc(sizeof *d1 * n1);
  for (size_t r = 0; r < n1; r++) XGB(XGDMatrixCreateFromMat(x + r * F, 1, F, NAN, &d1[r]));
  best_x = best_l = cpu_x = cpu_l = 1e30;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now(), c0 = cpu();
    for (size_t r = 0; r < n1; r++)
      XGB(XGBoosterPredictFromDMatrix(b, d1[r], cfg, &shape, &dim, &res));
    double t1 = now(), c1 = cpu();
    for (size_t r = 0; r < n1; r++) lm_predict_contrib(s, x + r * F, 1, ours + r * W);
    double t2 = now(), c2 = cpu();
    if (t1 - t0 < best_x) best_x = t1 - t0;
    if (t2 - t1 < best_l) best_l = t2 - t1;
    if (c1 - c0 < cpu_x) cpu_x = c1 - c0;
    if (c2 - c1 < cpu_l) cpu_l = c2 - c1;
  }
  printf("single row (x%zu):  xgboost %9.2f us/row  lmrt %9.2f us/row  ratio %.1fx  "
         "(cpu: %.2f / %.2f us/row, ratio %.1fx)\n", n1, best_x / n1 * 1e6, best_l / n1 * 1e6,
         best_x / best_l, cpu_x / n1 * 1e6, cpu_l / n1 * 1e6, cpu_x / cpu_l);
  for (size_t r = 0; r < n1; r++) XGDMatrixFree(d1[r]);
  free(d1);
  XGDMatrixFree(d);
  XGBoosterFree(b);
  lm_session_free(s);
  lm_model_close(m);
  free(x);
  free(ours);
  return 0;
}
