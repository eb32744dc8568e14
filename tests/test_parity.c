/*
 * test_parity.c — parity with XGBoost itself. For every case of tests/fixtures/xgb/MANIFEST
 * (made by tests/gen_fixtures.py with Debian's XGBoost 1.7.4: model.json, input.csv and
 * XGBoost's own value, margin and leaf predictions), convert the model, score the rows through
 * the public API (float32 and float64 entry points) and require
 *     |ours − xgboost| ≤ 1e-6 · max(1, |xgboost|)   for every output of every row,
 * and identical leaf indices. It also counts bit-identical outputs and prints them per case, so
 * any departure from bit parity is visible in the test log.
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

static char tmpdir[] = "/tmp/lm_test_parity_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tests/util_table.h"
static char src[1024];

typedef tu_tally tally;

static void compare(const char *cs, const char *what, const float *ours, const table *want,
                    size_t width, tally *ta) {
  tu_compare(cs, what, ours, want, width, 0, ta);
}

static void run_case(const char *cs, tally *all) {
  char dir[1024], model[1100], lm[1100];
  snprintf(dir, sizeof dir, "%.900s/tests/fixtures/xgb/%.100s", src, cs);
  snprintf(model, sizeof model, "%s/model.json", dir);
  snprintf(lm, sizeof lm, "%s/%s.lm", tmpdir, cs);
  lm_convert_options opt = {.quiet = 1};
  if (lm_convert(model, lm, &opt) != 0) fail_msg("%s: convert: %s", cs, lm_last_error());
  lm_model *m;
  if (lm_model_open(lm, &m) != 0) fail_msg("%s: open: %s", cs, lm_last_error());
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  table in = {0}, val = {0}, mar = {0}, leaf = {0};
  tu_load_table(dir, "input.csv", &in, 0);
  tu_load_table(dir, "expected_value.csv", &val, 0);
  tu_load_table(dir, "expected_margin.csv", &mar, 0);
  int has_leaf = tu_load_table(dir, "expected_leaf.csv", &leaf, 1);
  size_t n = in.rows, F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  if (in.cols != F) fail_msg("%s: input has %zu columns, model %zu features", cs, in.cols, F);
  assert_int_equal(val.rows, n);
  assert_int_equal(mar.rows, n);
  float *x = malloc(sizeof *x * n * F), *out = malloc(sizeof *out * n * G);
  for (size_t i = 0; i < n * F; i++) x[i] = (float)in.v[i];
  tally ta = {0};
  assert_int_equal(lm_predict(s, x, n, 0, out), 0);
  compare(cs, "value", out, &val, lm_model_output_width(m, 0), &ta);
  assert_int_equal(lm_predict_f64(s, in.v, n, 0, out), 0);
  compare(cs, "value(f64)", out, &val, lm_model_output_width(m, 0), &ta);
  assert_int_equal(lm_predict(s, x, n, LM_PREDICT_MARGIN, out), 0);
  compare(cs, "margin", out, &mar, G, &ta);
  /* one row per call: the single-row (latency) kernels */
  for (size_t r = 0; r < n; r++)
    assert_int_equal(lm_predict(s, x + r * F, 1, LM_PREDICT_MARGIN, out + r * G), 0);
  compare(cs, "margin(1 row/call)", out, &mar, G, &ta);
  size_t leaf_bad = 0;
  if (has_leaf) {
    size_t T = lm_model_num_trees(m);
    assert_int_equal(leaf.cols, T);
    uint32_t *lo = malloc(sizeof *lo * n * T);
    assert_int_equal(lm_predict_leaf(s, x, n, lo), 0);
    for (size_t i = 0; i < n * T; i++)
      if ((double)lo[i] != leaf.v[i] && leaf_bad++ < 5)
        print_error("%s leaf: row %zu tree %zu: ours %u, xgboost %.0f\n", cs, i / T, i % T,
                    lo[i], leaf.v[i]);
    free(lo);
  }
  print_message("%-28s %4zu rows %5zu outputs: %5zu bit-identical, %zu outside tolerance, "
                "max rel diff %.3g, leaf mismatches %zu\n",
                cs, n, ta.outputs, ta.bitexact, ta.bad, ta.max_rel, leaf_bad);
  all->outputs += ta.outputs;
  all->bitexact += ta.bitexact;
  all->bad += ta.bad + leaf_bad;
  free(x);
  free(out);
  free(in.v), free(val.v), free(mar.v), free(leaf.v);
  lm_session_free(s);
  lm_model_close(m);
}

static void test_parity_all_cases(void **state) {
  (void)state;
  char line[256];
  FILE *f = tu_manifest_open(src, "xgb", " (run `make fixtures`)");
  tally all = {0};
  size_t cases = 0;
  for (; tu_manifest_next(f, line, sizeof line); cases++) run_case(line, &all);
  fclose(f);
  print_message("parity: %zu cases, %zu outputs, %zu bit-identical, %zu outside tolerance\n",
                cases, all.outputs, all.bitexact, all.bad);
  assert_true(cases >= 20);
  assert_int_equal(all.bad, 0);
}

static int setup(void **state) {
  snprintf(src, sizeof src, "%s", tu_env_or("LM_SRC", "."));
  return tu_tmpdir_setup(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_parity_all_cases)};
  return cmocka_run_group_tests_name("parity", tests, setup, tu_tmpdir_teardown);
}
