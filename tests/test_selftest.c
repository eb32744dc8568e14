/*
 * test_selftest.c — embedded model self-tests (lm_convert's selftest options,
 * lm_model_selftest, the SELFTEST section): expected outputs computed at conversion or given by
 * the trainer, checked under every ISA this CPU allows; a wrong expectation fails naming the row
 * and output; bad self-test input is refused at conversion.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "lmrt.h"
#include "tools/csv.h"

static char dir[] = "/tmp/lm_test_selftest_XXXXXX";
#define TU_TMPDIR dir
#include "tests/util.h"
static char src[900];

static double *load(const char *cs, const char *file, size_t *rows, size_t *cols) {
  char path[1100], err[512];
  double *v;
  snprintf(path, sizeof path, "%s/tests/fixtures/xgb/%s/%s", src, cs, file);
  if (lm_csv_read_path(path, &v, rows, cols, err, sizeof err) != 0) fail_msg("%s", err);
  return v;
}

static int convert_w(const char *cs, const char *out, const double *rows, size_t n, size_t F,
                     const float *expected, size_t width) {
  char in[1100];
  snprintf(in, sizeof in, "%s/tests/fixtures/xgb/%s/model.json", src, cs);
  lm_convert_options o = {.quiet = 1, .selftest_rows = rows, .selftest_n = n,
                          .selftest_features = F, .selftest_expected = expected,
                          .selftest_width = width};
  return lm_convert(in, out, &o);
}

static int convert(const char *cs, const char *out, const double *rows, size_t n, size_t F,
                   const float *expected) {
  return convert_w(cs, out, rows, n, F, expected, 1);
}

static void run_case(const char *cs) {
  size_t n, F, en, ew;
  double *rows = load(cs, "input.csv", &n, &F);
  double *ev = load(cs, "expected_value.csv", &en, &ew);
  assert_int_equal(en, n);
  float *expected = malloc(sizeof *expected * n * ew);
  for (size_t i = 0; i < n * ew; i++) expected[i] = (float)ev[i];
  char out[200];
  snprintf(out, sizeof out, "%s/%s.lm", dir, cs);
  const char *isas[] = {"scalar", "avx2", "avx512"};
  /* computed at conversion, then given by the trainer (XGBoost's own predictions) */
  for (int given = 0; given < 2; given++) {
    assert_int_equal(convert_w(cs, out, rows, n, F, given ? expected : NULL, ew), 0);
    for (int k = 0; k < 3; k++) {
      setenv("LM_ISA", isas[k], 1);
      lm_model *m;
      assert_int_equal(lm_model_open(out, &m), 0);
      int rc = lm_model_selftest(m);
      if (rc != (int)n) fail_msg("%s %s given=%d: %d: %s", cs, isas[k], given, rc, lm_last_error());
      lm_model_close(m);
    }
    unsetenv("LM_ISA");
  }
  /* a wrong expectation is refused at conversion, naming the row and output, and the file
   * already there is left as it was (issue 18 finding 14) */
  expected[7 * ew] += 0.25f;
  char before[64];
  FILE *f = fopen(out, "rb");
  assert_non_null(f);
  assert_int_equal(fread(before, 1, sizeof before, f), sizeof before);
  fclose(f);
  assert_int_equal(convert_w(cs, out, rows, n, F, expected, ew), LM_ESELFTEST);
  assert_non_null(strstr(lm_last_error(), "not written: self-test row 7 output 0"));
  lm_model *m;
  assert_int_equal(lm_model_open(out, &m), 0);
  assert_int_equal(lm_model_selftest(m), (int)n); /* still the good file */
  lm_model_close(m);
  /* a file whose expectation is wrong (changed after conversion, re-sealed) is caught by
   * lm_model_selftest, naming the row and output */
  expected[7 * ew] -= 0.25f;
  assert_int_equal(convert_w(cs, out, rows, n, F, expected, ew), 0);
  f = fopen(out, "rb");
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  uint8_t *img = malloc((size_t)len);
  assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  const lmf_section *t = (const lmf_section *)(img + 64);
  for (uint32_t i = 0; i < ((lmf_header *)img)->n_sections; i++)
    if (t[i].kind == LMF_SELFTEST) {
      lmf_selftest *st = (lmf_selftest *)(img + t[i].offset);
      float *e = (float *)((double *)(st + 1) + (size_t)st->n_rows * st->num_features);
      e[7 * ew] += 0.25f;
    }
  lm__lmf_seal(img, (size_t)len);
  f = fopen(out, "wb");
  assert_int_equal(fwrite(img, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  free(img);
  assert_int_equal(lm_model_open(out, &m), 0);
  assert_int_equal(lm_model_selftest(m), LM_ESELFTEST);
  assert_non_null(strstr(lm_last_error(), "self-test row 7 output 0"));
  lm_model_close(m);
  /* expectations of the wrong width are refused at conversion */
  assert_int_equal(convert_w(cs, out, rows, n, F, expected, ew + 1), LM_EINVAL);
  assert_non_null(strstr(lm_last_error(), "self-test expectations have"));
  /* rows of the wrong width are refused at conversion */
  assert_int_equal(convert(cs, out, rows, n, F - 1, NULL), LM_EINVAL);
  assert_non_null(strstr(lm_last_error(), "self-test rows have"));
  free(rows), free(ev), free(expected);
}

static void test_selftest_binary(void **state) {
  (void)state;
  run_case("binary_logistic");
}
static void test_selftest_multiclass_argmax(void **state) {
  (void)state;
  run_case("multi_softmax3");
}
static void test_selftest_linear(void **state) {
  (void)state;
  run_case("gblinear_multi_softprob3");
}

static void test_no_selftest(void **state) {
  (void)state;
  char out[200];
  snprintf(out, sizeof out, "%s/plain.lm", dir);
  assert_int_equal(convert("reg_gamma", out, NULL, 0, 0, NULL), 0);
  lm_model *m;
  assert_int_equal(lm_model_open(out, &m), 0);
  assert_int_equal(lm_model_selftest(m), 0);
  lm_model_close(m);
}

/* A SELFTEST section whose size does not match its header is refused by the verifier. */
static void test_corrupt_section(void **state) {
  (void)state;
  size_t n, F;
  double *rows = load("reg_gamma", "input.csv", &n, &F);
  char out[200];
  snprintf(out, sizeof out, "%s/st.lm", dir);
  assert_int_equal(convert("reg_gamma", out, rows, 5, F, NULL), 0);
  FILE *f = fopen(out, "rb");
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  uint8_t *img = aligned_alloc(64, (size_t)(len + 63) / 64 * 64);
  assert_int_equal(fread(img, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  lmf_header *h = (lmf_header *)img;
  lmf_section *t = (lmf_section *)(img + 64);
  int found = 0;
  for (uint32_t i = 0; i < h->n_sections; i++)
    if (t[i].kind == LMF_SELFTEST) {
      ((lmf_selftest *)(img + t[i].offset))->n_rows = 6;
      found = 1;
    }
  assert_true(found);
  lm__lmf_seal(img, (size_t)len);
  lmf_view v;
  assert_int_equal(lm__lmf_verify(img, (size_t)len, "st.lm", &v), LM_EFORMAT);
  assert_non_null(strstr(lm_last_error(), "SELFTEST section"));
  free(img), free(rows);
}

static int setup(void **state) {
  snprintf(src, sizeof src, "%s", tu_env_or("LM_SRC", "."));
  return tu_tmpdir_setup(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_selftest_binary), cmocka_unit_test(test_selftest_multiclass_argmax),
      cmocka_unit_test(test_selftest_linear), cmocka_unit_test(test_no_selftest),
      cmocka_unit_test(test_corrupt_section),
  };
  return cmocka_run_group_tests_name("selftest", tests, setup, tu_tmpdir_teardown);
}
