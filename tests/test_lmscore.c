/*
 * test_lmscore.c — lmscore end to end, as users run it (spawned from $LM_BIN): scores of every
 * XGBoost parity fixture (tests/fixtures/xgb/<case>/) equal XGBoost's within
 * 1e-6·max(1,|expected|), leaf ids exactly; streaming from stdin, --check passing on the right
 * file and exiting 3 on a perturbed one; bad CSV input named by file and line. Helpers in
 * tests/util_tools.h (see test_tools.c).
 */
#include "tests/util_tools.h"

/* ---- tests: lmscore parity on every fixture ---------------------------------------- */

/* Soft checks for the per-fixture loop: report and count, so one run lists every failing case
 * rather than stopping at the first. */
#define SOFT(cond, ...)                                                                       \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      print_error(__VA_ARGS__);                                                               \
      print_error("\n");                                                                      \
      bad++;                                                                                  \
      goto out;                                                                               \
    }                                                                                         \
  } while (0)

/* The first mismatch as text, or "" when got matches want (see assert_tables_match). */
static void table_mismatch(const table *got, const table *want, int exact, char *msg, size_t n) {
  msg[0] = '\0';
  if (got->rows != want->rows || got->cols != want->cols) {
    snprintf(msg, n, "shape %zux%zu, expected %zux%zu", got->rows, got->cols, want->rows,
             want->cols);
    return;
  }
  for (size_t i = 0; i < got->rows * got->cols; i++) {
    double g = got->v[i], w = want->v[i];
    if ((isnan(g) && isnan(w)) || g == w || (!exact && fabs(g - w) <= TOL * fmax(1.0, fabs(w))))
      continue;
    snprintf(msg, n, "row %zu col %zu: got %.17g, expected %.17g", i / got->cols + 1,
             i % got->cols, g, w);
    return;
  }
}

/* Score a fixture's input.csv with flag and compare with expected_file; then --check on it.
 * Returns the number of failures (0 or 1), each printed. */
static int score_and_compare(const char *model, const fixture *c, const char *flag,
                             const char *expected_file, int exact) {
  int bad = 0;
  char *input = fpath(c, "input.csv"), *expected = fpath(c, expected_file);
  result r = {0}, k = {0};
  table got = {0}, want = {0};
  const char *fl = flag ? flag : "(values)";
  if (!exists(expected)) {
    /* only linear models have no leaf file: --leaf is refused in one line naming the model */
    assert_true(exact);
    r = RUN(NULL, "lmscore", (char *)model, input, (char *)flag);
    SOFT(r.status == 1 && count_lines(r.err) == 1 && strstr(r.err, "--leaf") && !r.out[0],
         "%s: lmscore --leaf on a linear model: status %d, stderr: %s", c->name, r.status, r.err);
    goto out;
  }
  r = flag ? RUN(NULL, "lmscore", (char *)model, input, (char *)flag)
           : RUN(NULL, "lmscore", (char *)model, input);
  SOFT(r.status == 0 && !r.err[0], "%s: lmscore %s: status %d: %s", c->name, fl, r.status,
       r.err);
  got = parse_text(r.out, r.out_len);
  want = load_csv(expected);
  char msg[256];
  table_mismatch(&got, &want, exact, msg, sizeof msg);
  SOFT(!msg[0], "%s: lmscore %s vs %s: %s", c->name, fl, expected_file, msg);
  if (exact) /* leaf ids print as plain integers */
    SOFT(!strpbrk(r.out, ".eE"), "%s: leaf ids are not integers", c->name);

  /* --check against the same file passes and says so */
  k = flag ? RUN(NULL, "lmscore", (char *)model, input, (char *)flag, "--check", expected)
           : RUN(NULL, "lmscore", (char *)model, input, "--check", expected);
  char line[128];
  snprintf(line, sizeof line, "parity: %zu/%zu rows, ", want.rows, want.rows);
  SOFT(k.status == 0 && !strcmp(k.out, r.out) && !strncmp(k.err, line, strlen(line)) &&
           count_lines(k.err) == 1,
       "%s: lmscore %s --check %s: status %d, stderr: %s", c->name, fl, expected_file, k.status,
       k.err);
out:
  table_free(&got), table_free(&want);
  result_free(&r), result_free(&k);
  free(input), free(expected);
  return bad;
}

static void test_score_fixtures(void **state) {
  (void)state;
  require_cases();
  char failed[4096] = "";
  size_t n_failed = 0;
  for (size_t i = 0; i < n_cases; i++) {
    const fixture *c = &cases[i];
    print_message("fixture: %s\n", c->name);
    char *model = convert_case(c, "case.lm");
    int bad = score_and_compare(model, c, NULL, "expected_value.csv", 0);
    bad += score_and_compare(model, c, "--margin", "expected_margin.csv", 0);
    bad += score_and_compare(model, c, "--leaf", "expected_leaf.csv", 1);
    if (bad) {
      n_failed++;
      size_t l = strlen(failed);
      snprintf(failed + l, sizeof failed - l, " %s", c->name);
    }
    unlink(model);
    free(model);
  }
  if (n_failed) fail_msg("%zu of %zu fixtures differ from XGBoost:%s", n_failed, n_cases, failed);
}

/* scikit-learn pickles through the tools (tests/fixtures/sklearn/): lmconvert, then lmscore's
 * values within 1e-6·max(1,|expected|) of sklearn's and --leaf equal to apply()'s node ids —
 * a forest, gradient boosting (3 classes), an IsolationForest bagged on feature subsets,
 * categorical HistGradientBoosting (no apply() in sklearn). A forest classifier of K > 2 classes
 * has K .lm trees per sklearn tree, each reaching the same node (test_pickle.c checks those). */
static void test_score_sklearn(void **state) {
  (void)state;
  static const char *const cases[][2] = {{"rf_clf", "model.joblib"},
                                         {"gb_clf3", "model.joblib"},
                                         {"iforest_features", "model.joblib"},
                                         {"hgb_cat_clf", "model.joblib.gz"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char rel[200], *model = tpath("sk.lm");
    snprintf(rel, sizeof rel, "tests/fixtures/sklearn/%s/%s", cases[i][0], cases[i][1]);
    char *src = spath(rel);
    result r = RUN(NULL, "lmconvert", "-q", src, "-o", model);
    if (r.status) fail_msg("%s: lmconvert: %s", rel, r.err);
    result_free(&r);
    snprintf(rel, sizeof rel, "tests/fixtures/sklearn/%s/input.csv", cases[i][0]);
    char *rows = spath(rel);
    static const char *const what[2][2] = {{NULL, "expected.csv"}, {"--leaf", "leaves.csv"}};
    for (int leaf = 0; leaf < 2; leaf++) {
      snprintf(rel, sizeof rel, "tests/fixtures/sklearn/%s/%s", cases[i][0], what[leaf][1]);
      char *want_path = spath(rel);
      if (!exists(want_path)) { free(want_path); continue; }
      r = leaf ? RUN(NULL, "lmscore", model, rows, "--leaf") : RUN(NULL, "lmscore", model, rows);
      assert_int_equal(r.status, 0);
      table got = parse_text(r.out, r.out_len), want = load_csv(want_path);
      assert_tables_match(&got, &want, leaf, rel);
      assert_true(want.rows >= 60);
      table_free(&got), table_free(&want);
      result_free(&r);
      free(want_path);
    }
    unlink(model);
    free(model), free(src), free(rows);
  }
}

/* stdin and FILE give the same output; so do blocks of 7 rows and the default; --check fails
 * with exit 3 on a perturbed expected file and on one with a row missing. */
static void test_score_streaming_and_check(void **state) {
  (void)state;
  char *model = convert_example("ex.lm");
  char *rows = spath("examples/rows.csv"), *expected = spath("examples/expected.csv");
  char *perturbed = tpath("perturbed.csv"), *short_exp = tpath("short.csv");

  result a = RUN(NULL, "lmscore", model, rows);
  assert_int_equal(a.status, 0);
  assert_true(a.out_len > 0);
  result b = RUN(rows, "lmscore", model);
  assert_int_equal(b.status, 0);
  assert_string_equal(b.out, a.out);
  result_free(&b);
  b = RUN(rows, "lmscore", model, "-");
  assert_int_equal(b.status, 0);
  assert_string_equal(b.out, a.out);
  result_free(&b);
  b = RUN(NULL, "lmscore", model, rows, "--block-rows", "7");
  assert_int_equal(b.status, 0);
  assert_string_equal(b.out, a.out);
  result_free(&b);

  /* the example's predictions match examples/expected.csv */
  table got = parse_text(a.out, a.out_len), want = load_csv(expected);
  assert_tables_match(&got, &want, 0, "examples/rows.csv");
  assert_true(want.rows >= 3);

  /* perturb row 3 beyond the tolerance */
  FILE *f = fopen(perturbed, "w");
  assert_non_null(f);
  for (size_t i = 0; i < want.rows; i++) {
    for (size_t j = 0; j < want.cols; j++) {
      double v = want.v[i * want.cols + j];
      if (i == 2 && j == 0) v += 1e-3 * fmax(1.0, fabs(v));
      fprintf(f, "%s%.17g", j ? "," : "", v);
    }
    fputc('\n', f);
  }
  fclose(f);
  result k = RUN(NULL, "lmscore", model, rows, "--check", perturbed);
  assert_int_equal(k.status, 3);
  assert_string_equal(k.out, a.out); /* predictions are still printed */
  char line[160];
  snprintf(line, sizeof line, "parity: %zu/%zu rows, %zu/%zu outputs within", want.rows - 1,
           want.rows, want.rows * want.cols - 1, want.rows * want.cols);
  if (!strstr(k.err, line)) fail_msg("no '%s' in:\n%s", line, k.err);
  assert_non_null(strstr(k.err, "perturbed.csv:3 output 0"));
  result_free(&k);

  /* one row fewer in the expected file */
  f = fopen(short_exp, "w");
  for (size_t i = 0; i + 1 < want.rows; i++) {
    for (size_t j = 0; j < want.cols; j++)
      fprintf(f, "%s%.17g", j ? "," : "", want.v[i * want.cols + j]);
    fputc('\n', f);
  }
  fclose(f);
  k = RUN(NULL, "lmscore", model, rows, "--check", short_exp);
  assert_int_equal(k.status, 3);
  snprintf(line, sizeof line, "has %zu rows", want.rows - 1);
  assert_non_null(strstr(k.err, line));
  result_free(&k);

  /* an expected file of the wrong width is bad input naming file:line */
  write_text(short_exp, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20\n");
  k = RUN(NULL, "lmscore", model, rows, "--check", short_exp);
  assert_int_equal(k.status, 1);
  assert_non_null(strstr(k.err, "short.csv:1:"));
  assert_non_null(strstr(k.err, "too many fields"));
  result_free(&k);

  table_free(&got), table_free(&want);
  result_free(&a);
  unlink(perturbed), unlink(short_exp), unlink(model);
  free(perturbed), free(short_exp), free(rows), free(expected), free(model);
}

/* Bad rows, files and models: exit 1, one line naming the file (and line:col for rows). */
static void test_score_bad_input(void **state) {
  (void)state;
  char *model = convert_example("ex.lm");
  char *rows = spath("examples/rows.csv");
  char *bad = tpath("bad.csv"), *trunc = tpath("trunc.lm");
  table in = load_csv(rows);
  assert_true(in.cols >= 1);

  /* line 2 has one field too many */
  FILE *f = fopen(bad, "w");
  for (int i = 0; i < 3; i++) {
    for (size_t j = 0; j < in.cols + (i == 1); j++) fprintf(f, "%s1", j ? "," : "");
    fputc('\n', f);
  }
  fclose(f);
  result r = RUN(NULL, "lmscore", model, bad);
  assert_int_equal(r.status, 1);
  char want[128];
  snprintf(want, sizeof want, "expected %zu", in.cols);
  assert_one_line(&r, "lmscore: ", "bad.csv:2:", want);
  assert_non_null(strstr(r.err, "too many fields"));
  result_free(&r);

  /* a bad number: file:line:col and the text (on line 2: on line 1 it makes a header) */
  f = fopen(bad, "w");
  for (int k = 0; k < 2; k++) {
    fputs(k ? "x1y" : "1", f);
    for (size_t j = 1; j < in.cols; j++) fputs(",1", f);
    fputc('\n', f);
  }
  fclose(f);
  r = RUN(NULL, "lmscore", model, bad);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "bad.csv:2:1: bad number \"x1y\"", NULL);
  assert_string_equal(r.out, "");
  result_free(&r);

  /* the same from stdin names <stdin> */
  r = RUN(bad, "lmscore", model);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "<stdin>:2:1:", NULL);
  result_free(&r);

  /* missing input, missing model, a model that is not one, a truncated model */
  char *nofile = tpath("nofile.csv");
  r = RUN(NULL, "lmscore", model, nofile);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "nofile.csv", NULL);
  result_free(&r);
  r = RUN(NULL, "lmscore", nofile, rows);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "nofile.csv", NULL);
  result_free(&r);
  r = RUN(NULL, "lmscore", rows, rows);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "rows.csv", NULL);
  result_free(&r);
  size_t len;
  char *bytes = slurp(model, &len);
  assert_non_null(bytes);
  write_bytes(trunc, bytes, len / 2);
  free(bytes);
  r = RUN(NULL, "lmscore", trunc, rows);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "trunc.lm", NULL);
  result_free(&r);
  r = RUN(NULL, "lminfo", trunc);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lminfo: ", "trunc.lm", NULL);
  assert_string_equal(r.out, "");
  result_free(&r);

  /* empty input: no output, success */
  write_text(bad, "");
  r = RUN(NULL, "lmscore", model, bad);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  result_free(&r);

  table_free(&in);
  unlink(bad), unlink(trunc), unlink(model);
  free(nofile), free(bad), free(trunc), free(rows), free(model);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_score_fixtures),
      cmocka_unit_test(test_score_streaming_and_check),
      cmocka_unit_test(test_score_sklearn),
      cmocka_unit_test(test_score_bad_input),
  };
  return cmocka_run_group_tests_name("lmscore", tests, group_setup, group_teardown);
}
