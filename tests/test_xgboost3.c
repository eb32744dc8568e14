/*
 * test_xgboost3.c — XGBoost 2.x/3.x models as SageMaker's current containers save them (issue 17).
 * Two fixture sets under tests/fixtures/xgboost-3/:
 *   real/       real XGBoost 3.0.5 artifacts (model.tar.gz as SageMaker packs it, JSON or
 *               UBJSON), 300 rows each with XGBoost's own predictions and margins;
 *   synthetic/  later versions' layouts (3.1 vector base_score and categories container, 3.2
 *               leaf_weights, 3.3 DART saved as gbtree, best_iteration) made from the real files
 *               by tests/gen_xgb3_fixtures.py, and inputs that must be refused
 *               (expected_error.txt: a fragment the error message must contain, naming the field).
 * Each scoring case is converted through the public API and scored in batches (float32 and
 * float64 entry points) and one row per call. Required: every value within 1e-6 relative of
 * XGBoost's (|ours − xgboost| ≤ 1e-6 · max(1, |xgboost|)) and every margin bit-identical: these
 * are tree models, so identical decisions give identical float32 sums. Each refused case must
 * fail with its message and leave no output file.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lmrt.h"
#include "tools/csv.h"

static char tmpdir[] = "/tmp/lm_test_xgboost3_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tests/util_table.h"
static char src[1024];

typedef tu_tally tally;

static void run_case(const char *set, const char *cs, tally *all) {
  char dir[1200], model[1300], lm[1300], err[1300];
  snprintf(dir, sizeof dir, "%.900s/tests/fixtures/xgboost-3/%s/%.100s", src, set, cs);
  snprintf(model, sizeof model, "%s/%s", dir,
           strcmp(set, "real") == 0 ? "model.tar.gz" : "model.json");
  snprintf(lm, sizeof lm, "%s/%s.lm", tmpdir, cs);
  snprintf(err, sizeof err, "%s/expected_error.txt", dir);
  lm_convert_options opt = {.quiet = 1};
  if (access(err, F_OK) == 0) {
    char want[512] = "";
    FILE *f = fopen(err, "r");
    assert_non_null(f);
    if (!fgets(want, sizeof want, f)) want[0] = 0;
    fclose(f);
    want[strcspn(want, "\r\n")] = 0;
    assert_true(want[0] != 0);
    int rc = lm_convert(model, lm, &opt);
    if (rc == 0) fail_msg("%s: converted, but must be refused (%s)", cs, want);
    if (!strstr(lm_last_error(), want))
      fail_msg("%s: error \"%s\" lacks \"%s\"", cs, lm_last_error(), want);
    assert_int_not_equal(access(lm, F_OK), 0);
    print_message("%-34s refused: %s\n", cs, lm_last_error());
    return;
  }
  if (lm_convert(model, lm, &opt) != 0) fail_msg("%s: convert: %s", cs, lm_last_error());
  lm_model *m;
  if (lm_model_open(lm, &m) != 0) fail_msg("%s: open: %s", cs, lm_last_error());
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  table in = {0}, val = {0}, mar = {0};
  tu_load_table(dir, "input.csv", &in, 0);
  tu_load_table(dir, "expected_value.csv", &val, 0);
  tu_load_table(dir, "expected_margin.csv", &mar, 0);
  size_t n = in.rows, F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  if (in.cols != F) fail_msg("%s: input has %zu columns, model %zu features", cs, in.cols, F);
  assert_int_equal(val.rows, n);
  assert_int_equal(mar.rows, n);
  float *x = malloc(sizeof *x * n * F), *out = malloc(sizeof *out * n * G);
  assert_non_null(x);
  assert_non_null(out);
  for (size_t i = 0; i < n * F; i++) x[i] = (float)in.v[i];
  tally ta = {0};
  size_t W = lm_model_output_width(m, 0);
  assert_int_equal(lm_predict(s, x, n, 0, out), 0);
  tu_compare(cs, "value", out, &val, W, 0, &ta);
  assert_int_equal(lm_predict_f64(s, in.v, n, 0, out), 0);
  tu_compare(cs, "value(f64)", out, &val, W, 0, &ta);
  assert_int_equal(lm_predict(s, x, n, LM_PREDICT_MARGIN, out), 0);
  tu_compare(cs, "margin", out, &mar, G, 1, &ta);
  for (size_t r = 0; r < n; r++)
    assert_int_equal(lm_predict(s, x + r * F, 1, LM_PREDICT_MARGIN, out + r * G), 0);
  tu_compare(cs, "margin(1 row/call)", out, &mar, G, 1, &ta);
  for (size_t r = 0; r < n; r++)
    assert_int_equal(lm_predict(s, x + r * F, 1, 0, out + r * W), 0);
  tu_compare(cs, "value(1 row/call)", out, &val, W, 0, &ta);
  print_message("%-34s %3zu rows %5zu outputs: %5zu bit-identical, %zu outside tolerance, "
                "max rel diff %.3g\n",
                cs, n, ta.outputs, ta.bitexact, ta.bad, ta.max_rel);
  all->outputs += ta.outputs;
  all->bitexact += ta.bitexact;
  all->bad += ta.bad;
  free(x);
  free(out);
  free(in.v), free(val.v), free(mar.v);
  lm_session_free(s);
  lm_model_close(m);
}

static size_t run_set(const char *set, tally *all) {
  char sub[64], line[256];
  snprintf(sub, sizeof sub, "xgboost-3/%s", set);
  FILE *f = tu_manifest_open(src, sub, "");
  size_t cases = 0;
  for (; tu_manifest_next(f, line, sizeof line); cases++) run_case(set, line, all);
  fclose(f);
  return cases;
}

static void test_real_xgboost_305(void **state) {
  (void)state;
  tally all = {0};
  size_t cases = run_set("real", &all);
  print_message("real 3.0.5: %zu cases, %zu outputs, %zu bit-identical, %zu bad\n", cases,
                all.outputs, all.bitexact, all.bad);
  assert_int_equal(cases, 8);
  assert_int_equal(all.bad, 0);
}

static void test_synthetic_later_layouts(void **state) {
  (void)state;
  tally all = {0};
  size_t cases = run_set("synthetic", &all);
  print_message("synthetic 3.1-3.3: %zu cases, %zu outputs, %zu bit-identical, %zu bad\n", cases,
                all.outputs, all.bitexact, all.bad);
  assert_true(cases >= 11);
  assert_int_equal(all.bad, 0);
}

/* What the mappings look like from outside: vector leaves are one scalar tree per target; a
 * 3.1 per-target base score adds one one-leaf tree per output before the boosted trees, and
 * best_iteration keeps those while dropping rounds. */
static void test_tree_counts(void **state) {
  (void)state;
  static const struct {
    const char *set, *cs, *file;
    size_t trees;
  } want[] = {
      {"real", "vector_leaf_3targets_json", "model.tar.gz", 30 * 3},
      {"real", "quantile_3alpha_json", "model.tar.gz", 90},
      {"synthetic", "v31_base_score_vector", "model.json", 3 + 60},
      {"synthetic", "v31_base_score_uniform", "model.json", 90},
      {"synthetic", "v31_vector_leaf_base_vector", "model.json", 3 + 30 * 3},
      {"synthetic", "v32_leaf_weights_best_iteration", "model.json", 13 * 3},
      {"synthetic", "v33_dart_as_gbtree", "model.json", 20},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    char model[1300], lm[1300];
    snprintf(model, sizeof model, "%.900s/tests/fixtures/xgboost-3/%s/%s/%s", src, want[i].set,
             want[i].cs, want[i].file);
    snprintf(lm, sizeof lm, "%s/count_%zu.lm", tmpdir, i);
    lm_convert_options opt = {.quiet = 1};
    if (lm_convert(model, lm, &opt) != 0) fail_msg("%s: %s", want[i].cs, lm_last_error());
    lm_model *m;
    assert_int_equal(lm_model_open(lm, &m), 0);
    if (lm_model_num_trees(m) != want[i].trees)
      fail_msg("%s: %zu trees, expected %zu", want[i].cs, lm_model_num_trees(m), want[i].trees);
    lm_model_close(m);
  }
}

static int setup(void **state) {
  snprintf(src, sizeof src, "%s", tu_env_or("LM_SRC", "."));
  return tu_tmpdir_setup(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_xgboost_305),
      cmocka_unit_test(test_synthetic_later_layouts),
      cmocka_unit_test(test_tree_counts),
  };
  return cmocka_run_group_tests_name("xgboost3", tests, setup, tu_tmpdir_teardown);
}
