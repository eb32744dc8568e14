/*
 * test_tools.c — end-to-end tests of the command-line tools as users run them: each test spawns
 * the built lmconvert / lmscore / lminfo from $LM_BIN (default build/bin) with posix_spawn,
 * capturing stdout, stderr and the exit status, against the bundled example
 * ($LM_SRC/examples/model.tar.gz, rows.csv, expected.csv) and the XGBoost parity fixtures
 * ($LM_SRC/tests/fixtures/xgb/<case>/: model.json, input.csv, expected_{value,margin,leaf}.csv).
 *
 * It checks values, not just statuses: scores equal XGBoost's within 1e-6·max(1,|expected|)
 * (leaf ids exactly), --check passes on the right file and exits 3 on a perturbed one, errors
 * are one line naming the file (and line), failed conversions leave no file behind and never
 * replace an existing one, and lminfo's text and JSON agree with what the source model says
 * (read independently with json-c; the source hash recomputed with XXH64). Every run's stderr is
 * also checked for sanitizer reports, since under ASan a crash could pass for "exit 1".
 * All files go to a mkdtemp directory, removed at the end.
 *
 * This file: flags and usage, lmconvert, examples/run.sh; lmscore is test_lmscore.c, lminfo
 * test_lminfo.c; what they share (spawning a tool, CSV output, fixtures) tests/util_tools.h.
 */
#include "tests/util_tools.h"

/* ---- tests: flags and usage ------------------------------------------------------------ */

static void test_help_version_usage(void **state) {
  (void)state;
  const char *tools[] = {"lmconvert", "lmscore", "lminfo"};
  for (size_t i = 0; i < 3; i++) {
    char want[64];
    result r = RUN(NULL, (char *)tools[i], "--help");
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "Usage: %s ", tools[i]);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    assert_non_null(strstr(r.out, "Exit status"));
    assert_string_equal(r.err, "");
    if (i == 0) {
      /* every accepted source, formats and pickled classes (issue 16) */
      static const char *const src[] = {"UBJSON", "legacy binary", "LightGBM", "Linear Learner",
                                        "joblib.dump", "lz4", "XGBClassifier", "LGBMRegressor",
                                        "RandomForest*", "HistGradientBoosting*", "IsolationForest",
                                        "LogisticRegression", "LinearSVC", "MaxAbsScaler"};
      for (size_t k = 0; k < sizeof src / sizeof src[0]; k++)
        if (!strstr(r.out, src[k])) fail_msg("lmconvert --help lacks '%s'", src[k]);
    }
    result_free(&r);

    r = RUN(NULL, (char *)tools[i], "-h");
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    result_free(&r);

    r = RUN(NULL, (char *)tools[i], "--version");
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "%s %s\n", tools[i], LM_VERSION_STRING);
    assert_string_equal(r.out, want);
    result_free(&r);

    r = RUN(NULL, (char *)tools[i], "--no-such-option");
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "unknown option '--no-such-option'"));
    assert_non_null(strstr(r.err, "--help"));
    result_free(&r);

    r = RUN(NULL, (char *)tools[i]); /* no arguments */
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "missing"));
    result_free(&r);
  }
  result r = RUN(NULL, "lmconvert", "in.json"); /* no -o */
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "missing -o"));
  result_free(&r);
  r = RUN(NULL, "lmconvert", "in.json", "-o");
  assert_int_equal(r.status, 2);
  result_free(&r);
  r = RUN(NULL, "lmscore", "m.lm", "--margin", "--leaf");
  assert_int_equal(r.status, 2);
  result_free(&r);
  r = RUN(NULL, "lmscore", "m.lm", "a.csv", "b.csv");
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "unexpected argument 'b.csv'"));
  result_free(&r);
  r = RUN(NULL, "lmscore", "m.lm", "--block-rows", "0");
  assert_int_equal(r.status, 2);
  result_free(&r);
}

/* ---- tests: lmconvert ------------------------------------------------------------------ */

static void test_convert_example(void **state) {
  (void)state;
  char *in = spath("examples/model.tar.gz"), *out = tpath("ex.lm");
  if (!exists(in)) fail_msg("%s is missing", in);
  result r = RUN(NULL, "lmconvert", in, "-o", out);
  if (r.status != 0) fail_msg("lmconvert failed: %s", r.err);
  assert_string_equal(r.out, "");
  assert_one_line(&r, "wrote ", out, " trees, ");
  /* the byte count in the summary is the file's size */
  char want[64];
  snprintf(want, sizeof want, ", %lld bytes in ", file_size(out));
  assert_non_null(strstr(r.err, want));
  result_free(&r);

  /* --quiet: nothing at all; --member names the archive member explicitly */
  r = RUN(NULL, "lmconvert", "-q", in, "--member", "xgboost-model", "-o", out);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "");
  result_free(&r);

  /* a member that is not there: one line naming it, nothing written */
  char *out2 = tpath("ex2.lm");
  r = RUN(NULL, "lmconvert", in, "--member=no-such-member", "-o", out2);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmconvert: ", "no-such-member", NULL);
  assert_false(exists(out2));
  result_free(&r);

  const char *allowed[] = {"ex.lm"};
  assert_int_equal(count_other_files(allowed, 1), 0);
  unlink(out);
  free(out2);
  free(out);
  free(in);
}

/* Bad inputs: exit 1, one line naming the input, no output file, an existing output untouched,
 * no temporary file left over. */
static void test_convert_bad_inputs(void **state) {
  (void)state;
  char *missing = tpath("missing.json"), *trunc = tpath("truncated.json"),
       *text = tpath("notes.txt"), *empty = tpath("empty.json"), *badgz = tpath("bad.tar.gz"),
       *out = tpath("out.lm");

  /* truncated JSON: half of a real model when there is one, else a synthetic prefix */
  size_t len = 0;
  char *json = NULL;
  if (n_cases) {
    char *p = fpath(&cases[0], "model.json");
    json = slurp(p, &len);
    free(p);
  }
  if (json && len > 64) write_bytes(trunc, json, len / 2);
  else write_text(trunc, "{\"learner\": {\"attributes\": {}, \"gradient_booster\": {\"model\": {");
  free(json);
  write_text(text, "these are notes, not a model\n");
  write_text(empty, "");
  write_bytes(badgz, "\x1f\x8b\x08\x00garbage", 12);

  const char *inputs[] = {missing, trunc, text, empty, badgz};
  const char *names[] = {"missing.json", "truncated.json", "notes.txt", "empty.json",
                         "bad.tar.gz"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    print_message("bad input: %s\n", names[i]);
    unlink(out);
    result r = RUN(NULL, "lmconvert", (char *)inputs[i], "-o", out);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    assert_one_line(&r, "lmconvert: ", names[i], NULL);
    assert_false(exists(out));
    result_free(&r);

    /* an existing output stays as it was */
    write_text(out, "OLD");
    r = RUN(NULL, "lmconvert", (char *)inputs[i], "-o", out);
    assert_int_equal(r.status, 1);
    size_t n;
    char *kept = slurp(out, &n);
    assert_non_null(kept);
    assert_string_equal(kept, "OLD");
    free(kept);
    result_free(&r);
  }
  const char *allowed[] = {"truncated.json", "notes.txt", "empty.json", "bad.tar.gz", "out.lm"};
  assert_int_equal(count_other_files(allowed, 5), 0);

  /* an output directory that does not exist */
  if (n_cases) {
    char *in = fpath(&cases[0], "model.json"), *bad_out = tpath("no/such/dir/x.lm");
    result r = RUN(NULL, "lmconvert", in, "-o", bad_out);
    assert_int_equal(r.status, 1);
    assert_one_line(&r, "lmconvert: ", NULL, NULL);
    result_free(&r);
    free(in);
    free(bad_out);
  }
  const char *files[] = {trunc, text, empty, badgz, out};
  for (size_t i = 0; i < 5; i++) unlink(files[i]);
  free(missing), free(trunc), free(text), free(empty), free(badgz), free(out);
}

static void test_example_run_sh(void **state) {
  (void)state;
  char *script = spath("examples/run.sh"), *expected = spath("examples/expected.csv");
  if (!exists(script)) fail_msg("%s is missing", script);
  result r = RUN(NULL, "sh", script, tmp);
  if (r.status != 0) { /* cmocka cuts long messages: show the ends, where the failure is */
    size_t lo = strlen(r.out), le = strlen(r.err);
    print_error("run.sh stdout (end):\n%s\n", r.out + (lo > 700 ? lo - 700 : 0));
    print_error("run.sh stderr (end):\n%s\n", r.err + (le > 700 ? le - 700 : 0));
    fail_msg("run.sh failed (%d)", r.status);
  }
  table want = load_csv(expected);
  char line[128];
  snprintf(line, sizeof line, "parity: %zu/%zu rows, ", want.rows, want.rows);
  assert_non_null(strstr(r.err, line));
  assert_non_null(strstr(r.err, "wrote "));
  assert_non_null(strstr(r.out, "objective:"));
  result_free(&r);
  table_free(&want);
  char *ex = tpath("example.lm");
  assert_true(exists(ex));
  unlink(ex);
  free(ex), free(expected);

  r = RUN(NULL, "sh", script); /* no BUILD_DIR: usage */
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "usage"));
  result_free(&r);
  free(script);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_version_usage),
      cmocka_unit_test(test_convert_example),
      cmocka_unit_test(test_convert_bad_inputs),
      cmocka_unit_test(test_example_run_sh),
  };
  return cmocka_run_group_tests_name("tools", tests, group_setup, group_teardown);
}
