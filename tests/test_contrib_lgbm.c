/*
 * test_contrib_lgbm.c — lm_predict_contrib on LightGBM models against the independent oracle
 * tests/lgbm_contrib_oracle.py (LightGBM's pred_contrib=True: textbook TreeSHAP over the text
 * model's data counts, cross-checked by brute-force Shapley values), and the pool's
 * contributions.
 *
 * Cases: the real models of tests/fixtures/lightgbm/real (expected_contrib.csv: the oracle on
 * input.csv as doubles; expected_contrib_f32.csv: on the rows rounded to float32) and the
 * handmade ones (NAME.contrib.csv, NAME.f32.contrib.csv), every tree model of the MANIFEST
 * except those with linear trees. Float32 rows through lm_predict_contrib (batch and one row
 * per call) must match the f32 file, float64 rows through lm_predict_contrib_f64 the double
 * file, each value within 1e-6 absolute or 1e-5 relative; each row's contributions of an output
 * sum to lm_predict's margin within 1e-5 · max(1, |margin|) — times the iterations for random
 * forests, whose contributions LightGBM does not average. All of it under the CPU's best
 * kernels, LM_ISA=avx2 and LM_ISA=scalar. Every quadrature kernel this CPU runs
 * is compared with the scalar reference on float32 and float64 rows within 1e-9 · (1 + |ref|).
 * Also: linear trees and a model without data counts refused with clear errors; lminfo's cover
 * line; lm_predict_contrib_pool with 1 and 2 threads gives the single-thread floats exactly.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/lmf.h"
#include "kernels/cpu.h"
#include "kernels/shap.h"
#include "runtime/model.h"
#include "runtime/numa.h"
#include "lmrt.h"
#include "tools/csv.h"

static char tmpdir[] = "/tmp/lm_test_contrib_lgbm_XXXXXX";
#define TU_TMPDIR tmpdir
#define TU_CONTRIB_REF "oracle", 0
#include "tests/util_contrib.h"

/* The case's files: model, rows, oracle on doubles, oracle on float32 rows. */
typedef struct lcase {
  char name[128], dir[1000], model[1200], input[64], c64[64], c32[64];
} lcase;

static int next_case(FILE *f, lcase *c) {
  char line[256], kind[32], name[128];
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%31s %127s", kind, name) != 2 || kind[0] == '#') continue;
    int real = strcmp(kind, "real") == 0;
    snprintf(c->name, sizeof c->name, "%s", name);
    if (real) {
      snprintf(c->dir, sizeof c->dir, "%.800s/tests/fixtures/lightgbm/real/%.100s", src, name);
      snprintf(c->model, sizeof c->model, "%.990s/model.txt", c->dir);
      snprintf(c->input, sizeof c->input, "input.csv");
      snprintf(c->c64, sizeof c->c64, "expected_contrib.csv");
      snprintf(c->c32, sizeof c->c32, "expected_contrib_f32.csv");
    } else {
      snprintf(c->dir, sizeof c->dir, "%.900s/tests/fixtures/lightgbm/handmade", src);
      snprintf(c->model, sizeof c->model, "%.990s/%.100s.txt", c->dir, name);
      snprintf(c->input, sizeof c->input, "%.40s.csv", name);
      snprintf(c->c64, sizeof c->c64, "%.40s.contrib.csv", name);
      snprintf(c->c32, sizeof c->c32, "%.40s.f32.contrib.csv", name);
    }
    char p[1300];
    snprintf(p, sizeof p, "%s/%s", c->dir, c->c64);
    if (access(p, R_OK) != 0) continue; /* linear trees: the oracle refuses, no file */
    return 1;
  }
  return 0;
}

static FILE *manifest(void) {
  return tu_manifest_open(src, "lightgbm", "");
}

static void run_case(const lcase *c, tally *all) {
  lm_model *m;
  if (lm_model_open(convert(c->model, c->name), &m) != 0)
    fail_msg("%s: open: %s", c->name, lm_last_error());
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_int_equal(info.has_cover, 1);
  const char *cap = getenv("LM_ISA");
  int isa = lm__model_plan(m, 0)->isa;
  if (cap && !strcmp(cap, "scalar")) assert_int_equal(isa, LM_ISA_SCALAR);
  if (cap && !strcmp(cap, "avx2")) assert_true(isa <= LM_ISA_AVX2);
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  table in = {0}, w64 = {0}, w32 = {0};
  tu_load_table(c->dir, c->input, &in, 0);
  tu_load_table(c->dir, c->c64, &w64, 0);
  tu_load_table(c->dir, c->c32, &w32, 0);
  size_t n = in.rows, F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  size_t W = lm_model_contrib_width(m);
  assert_int_equal(W, G * (F + 1));
  assert_int_equal(w64.rows, n);
  assert_int_equal(w32.rows, n);
  assert_int_equal(in.cols, F);
  float *x = malloc(sizeof *x * n * F), *out = malloc(sizeof *out * n * W);
  float *mg = malloc(sizeof *mg * n * G);
  for (size_t i = 0; i < n * F; i++) x[i] = (float)in.v[i];
  tally ta = {0};
  assert_int_equal(lm_predict_contrib(s, x, n, out), 0);
  compare(c->name, "contrib(f32)", out, &w32, W, &ta);
  /* rows sum to the margin (× iterations for a random forest: LightGBM does not average) */
  assert_int_equal(lm_predict(s, x, n, LM_PREDICT_MARGIN, mg), 0);
  double iters = m->v.meta->average_over ? (double)m->v.meta->average_over : 1.0;
  double *want = malloc(sizeof *want * n * G), sum_max;
  for (size_t i = 0; i < n * G; i++) want[i] = (double)mg[i] * iters;
  size_t sum_bad = tu_contrib_sums(c->name, out, n, G, F, want, G, 1, &sum_max);
  free(want);
  for (size_t r = 0; r < n; r++)
    assert_int_equal(lm_predict_contrib(s, x + r * F, 1, out + r * W), 0);
  compare(c->name, "contrib(f32, 1 row/call)", out, &w32, W, &ta);
  memset(out, 0, sizeof *out * n * W);
  assert_int_equal(lm_predict_contrib_f64(s, in.v, n, out), 0);
  compare(c->name, "contrib(f64)", out, &w64, W, &ta);
  print_message("%-28s %4zu rows %6zu values: max abs diff %.3g, max rel diff (abs > 1e-6) "
                "%.3g, %zu outside tolerance; sum-to-margin max rel %.3g\n",
                c->name, n, ta.values, ta.max_abs, ta.max_rel, ta.bad, sum_max);
  tu_tally_add(all, &ta, sum_bad);
  free(x), free(out), free(mg);
  free(in.v), free(w64.v), free(w32.v);
  lm_session_free(s);
  lm_model_close(m);
}

/* Every case under each kernel cap (the plan's ISA picks the quadrature kernel): the CPU's
 * best, LM_ISA=avx2 and LM_ISA=scalar — or only the LM_ISA the test was started with. */
static void test_lgbm_contrib_parity(void **state) {
  (void)state;
  const char *given = getenv("LM_ISA");
  const char *caps[] = {"", "avx2", "scalar"};
  size_t ncaps = given && *given ? 1 : 3;
  char keep[32] = "";
  if (given) snprintf(keep, sizeof keep, "%s", given);
  for (size_t k = 0; k < ncaps; k++) {
    if (ncaps > 1) setenv("LM_ISA", caps[k], 1);
    FILE *f = manifest();
    lcase c;
    tally all = {0};
    size_t cases = 0;
    while (next_case(f, &c)) {
      run_case(&c, &all);
      cases++;
    }
    fclose(f);
    const char *isa = getenv("LM_ISA") && *getenv("LM_ISA") ? getenv("LM_ISA") : "auto";
    print_message("LightGBM contrib parity (LM_ISA %s): %zu cases, %zu values, max abs diff "
                  "%.3g, max rel diff %.3g, %zu outside tolerance\n",
                  isa, cases, all.values, all.max_abs, all.max_rel, all.bad);
    assert_true(cases >= 20);
    assert_int_equal(all.bad, 0);
  }
  if (ncaps > 1) {
    if (given) setenv("LM_ISA", keep, 1);
    else unsetenv("LM_ISA");
  }
}

/* Every quadrature kernel this CPU runs against the scalar reference, float32 rows (x) and
 * float64 rows (xd: LightGBM's double decisions), in blocks as lm_predict_contrib passes them. */
static void test_lgbm_contrib_kernels(void **state) {
  (void)state;
  FILE *f = manifest();
  lcase c;
  size_t runs = 0;
  double worst = 0;
  while (next_case(f, &c)) {
    lm_model *m;
    if (lm_model_open(convert(c.model, c.name), &m) != 0) fail_msg("%s", lm_last_error());
    lm__shap *sh;
    if (lm__shap_build(&m->v, c.name, &sh) != 0) fail_msg("%s: %s", c.name, lm_last_error());
    table in = {0};
    tu_load_table(c.dir, c.input, &in, 0);
    size_t F = sh->num_features, n = in.rows;
    float *x = malloc(sizeof *x * n * F);
    for (size_t i = 0; i < n * F; i++) x[i] = (float)in.v[i];
    runs += tu_shap_kernels(c.name, "", &m->v, sh, x, NULL, n, &worst);
    runs += tu_shap_kernels(c.name, " (f64)", &m->v, sh, x, in.v, n, &worst);
    free(x), free(in.v);
    lm__shap_free(sh);
    lm_model_close(m);
  }
  fclose(f);
  print_message("LightGBM kernels vs reference: %zu runs, worst |diff| / (1 + |ref|) %.3g\n", runs,
                worst);
  assert_true(runs >= 40);
}

/* Linear trees refused as LightGBM refuses them; a model without data counts: no cover, a
 * clear error, and lminfo says so; lmscore --contrib on a LightGBM model. */
static void test_lgbm_contrib_errors(void **state) {
  (void)state;
  const char *bin = tu_env_or("LM_BIN", "build/bin");
  const char *linear[] = {"real/jpmml_linear_regression_auto/model.txt", "handmade/linear.txt",
                          "handmade/tiny_values.txt"};
  char p[1300], cmd[4096];
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%.900s/tests/fixtures/lightgbm/%s", src, linear[i]);
    lm_model *m;
    lm_session *s;
    assert_int_equal(lm_model_open(convert(p, "linear"), &m), 0);
    assert_int_equal(lm_session_new(m, &s), 0);
    float *x = calloc(lm_model_num_features(m), sizeof *x);
    float *o = calloc(lm_model_contrib_width(m), sizeof *o);
    assert_int_equal(lm_predict_contrib(s, x, 1, o), LM_EUNSUPPORTED);
    assert_non_null(strstr(lm_last_error(), "linear trees"));
    free(x), free(o);
    lm_session_free(s);
    lm_model_close(m);
  }
  /* the binary model without leaf_count / internal_count lines (nor tree_sizes, which would
   * no longer match) */
  snprintf(p, sizeof p, "%.900s/tests/fixtures/lightgbm/handmade/binary.txt", src);
  char nocount[1200];
  snprintf(nocount, sizeof nocount, "%s/nocount.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "grep -v -e '^leaf_count=' -e '^internal_count=' -e '^tree_sizes=' '%s' > '%s'", p,
           nocount);
  assert_int_equal(system(cmd), 0);
  lm_model *m;
  lm_session *s;
  const char *lm = convert(nocount, "nocount");
  assert_int_equal(lm_model_open(lm, &m), 0);
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_int_equal(info.has_cover, 0);
  assert_int_equal(lm_session_new(m, &s), 0);
  float x[8] = {0}, o[64];
  assert_true(lm_model_num_features(m) <= 8 && lm_model_contrib_width(m) <= 64);
  assert_int_equal(lm_predict_contrib(s, x, 1, o), LM_EUNSUPPORTED);
  assert_non_null(strstr(lm_last_error(), "no cover"));
  lm_session_free(s);
  lm_model_close(m);
  snprintf(cmd, sizeof cmd, "'%s/lminfo' '%s' | grep -q '^cover: *no'", bin, lm);
  assert_int_equal(system(cmd), 0);
  lm = convert(p, "withcount");
  snprintf(cmd, sizeof cmd, "'%s/lminfo' '%s' | grep -q '^cover: *yes$'", bin, lm);
  assert_int_equal(system(cmd), 0);
  /* a malformed count is an error naming the field, as for every other array */
  snprintf(cmd, sizeof cmd,
           "sed -e '/^tree_sizes=/d' -e '0,/^leaf_count=/s/^leaf_count=.*/leaf_count=5 x/' "
           "'%s' > '%s/badcount.txt'", p, tmpdir);
  assert_int_equal(system(cmd), 0);
  snprintf(nocount, sizeof nocount, "%s/badcount.txt", tmpdir);
  char badlm[1300];
  snprintf(badlm, sizeof badlm, "%s/badcount.lm", tmpdir);
  lm_convert_options copt = {.quiet = 1};
  assert_true(lm_convert(nocount, badlm, &copt) < 0);
  assert_non_null(strstr(lm_last_error(), "leaf_count"));
  /* lmscore --contrib (float64 rows through the pool, 2 threads) prints the oracle's values */
  char dir[1100], outp[1200];
  snprintf(dir, sizeof dir, "%.900s/tests/fixtures/lightgbm/real/jpmml_multiclass_iris", src);
  snprintf(p, sizeof p, "%s/model.txt", dir);
  lm = convert(p, "tool_iris");
  snprintf(outp, sizeof outp, "%s/contrib_out.csv", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s/lmscore' '%s' '%s/input.csv' --contrib --threads 2 > '%s'", bin,
           lm, dir, outp);
  assert_int_equal(system(cmd), 0);
  table got = {0}, want = {0};
  tu_load_table(tmpdir, "contrib_out.csv", &got, 0);
  tu_load_table(dir, "expected_contrib.csv", &want, 0);
  assert_int_equal(got.rows, want.rows);
  float *g = malloc(sizeof *g * got.rows * got.cols);
  for (size_t i = 0; i < got.rows * got.cols; i++) g[i] = (float)got.v[i];
  tally ta = {0};
  compare("lmscore --contrib", "jpmml_multiclass_iris", g, &want, got.cols, &ta);
  assert_int_equal(ta.bad, 0);
  free(g), free(got.v), free(want.v);
}

/* lm_predict_contrib_pool{,_f64}: 1 and 2 threads, every batch split, give exactly the
 * single-thread floats (a row's contributions depend on that row alone). */
static void test_lgbm_contrib_pool(void **state) {
  (void)state;
  const char *models[] = {"real/jpmml_multiclass_iris/model.txt",
                          "real/leaves_poisson_fmtp/model.txt", "handmade/numeric.txt"};
  for (size_t k = 0; k < 3; k++) {
    char p[1300];
    snprintf(p, sizeof p, "%.900s/tests/fixtures/lightgbm/%s", src, models[k]);
    lm_model *m;
    lm_session *s;
    assert_int_equal(lm_model_open(convert(p, "pool"), &m), 0);
    assert_int_equal(lm_session_new(m, &s), 0);
    size_t F = lm_model_num_features(m), W = lm_model_contrib_width(m), n = 3001;
    float *x = malloc(sizeof *x * n * F), *ref = malloc(sizeof *ref * n * W),
          *got = malloc(sizeof *got * n * W);
    double *xd = malloc(sizeof *xd * n * F);
    uint32_t st = 7;
    for (size_t i = 0; i < n * F; i++) {
      st = st * 1664525u + 1013904223u;
      xd[i] = (st >> 28) == 0 ? NAN : (double)(st >> 8) / (double)(1u << 24) * 8.0 - 2.0;
      x[i] = (float)xd[i];
    }
    for (int f64 = 0; f64 < 2; f64++) {
      if (f64) assert_int_equal(lm_predict_contrib_f64(s, xd, n, ref), 0);
      else assert_int_equal(lm_predict_contrib(s, x, n, ref), 0);
      for (size_t threads = 1; threads <= 2; threads++) {
        lm_pool_options o = {0};
        o.threads = threads;
        o.min_parallel_rows = 1;
        lm_pool *pool;
        assert_int_equal(lm_pool_new(&o, &pool), 0);
        const size_t sizes[] = {1, 10, 73, 514, n};
        for (size_t si = 0; si < 5; si++) {
          size_t rows = sizes[si];
          memset(got, 0xFF, sizeof *got * n * W);
          int rc = f64 ? lm_predict_contrib_pool_f64(pool, s, xd, rows, got)
                       : lm_predict_contrib_pool(pool, s, x, rows, got);
          assert_int_equal(rc, 0);
          assert_memory_equal(got, ref, sizeof *got * rows * W);
        }
        assert_int_equal(lm_predict_contrib_pool(NULL, s, x, 1, got), LM_EINVAL);
        assert_int_equal(lm_predict_contrib_pool(pool, s, NULL, 1, got), LM_EINVAL);
        lm_pool_free(pool);
      }
    }
    free(x), free(xd), free(ref), free(got);
    lm_session_free(s);
    lm_model_close(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_lgbm_contrib_parity),
                                     cmocka_unit_test(test_lgbm_contrib_kernels),
                                     cmocka_unit_test(test_lgbm_contrib_errors),
                                     cmocka_unit_test(test_lgbm_contrib_pool)};
  return cmocka_run_group_tests_name("contrib_lgbm", tests, tu_contrib_setup, tu_tmpdir_teardown);
}
