/*
 * test_blas.c — OpenBLAS is loaded on demand (issue 14, kernels/linear_blas.c): liblmrt does not
 * link it; the first plan that would pick linear_margin_blas (≥ 64 outputs, AVX2) dlopen()s it.
 *
 *   - absent: this program sets LM_BLAS_LIB (the loader's test hook: the one path tried, read at
 *     the process's one load) to a missing file before any plan. A wide linear model is then
 *     planned on the hand-written kernels for every batch size, the plan's notes say
 *     "linear_margin_blas: OpenBLAS not found (...)", its predictions equal the scalar
 *     reference's bit for bit, and forcing the kernel (LM_KERNEL=linear_margin_blas) fails
 *     with LM_EINVAL naming the reason: a clear error, no silent fallback.
 *   - lminfo: a program that does not link OpenBLAS (lminfo, from $LM_BIN) plans
 *     linear_margin_blas for 8+ rows when Debian's serial OpenBLAS is installed (make test
 *     installs it), and the hand-written kernels with the note under LM_BLAS_LIB=/nonexistent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[] = "/tmp/lm_test_blas_XXXXXX";
#define TU_TMPDIR tmpdir
#include "kernels/cpu.h"
#include "tests/util.h"
#include "tests/util_trees.h"

extern char **environ;

#define MISSING "/nonexistent/libopenblas.so.0"
/* The serial build the loader tries first (Debian's libopenblas0-serial). */
#define SERIAL "/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

enum { F = 100, G = 64, N = 100 };

/* A gblinear multi:softprob model of F features and G outputs, written as dir/name. */
static lm_model *wide_model(const char *name) {
  rng = 0x2545F4914F6CDD1Dull; /* the same weights every time */
  return tu_open_ir(tmpdir, name, tu_random_linear("multi:softprob", F, G, rnd));
}

static int has_avx2(void) {
  if (lm__cpu_isa() >= LM_ISA_AVX2) return 1;
  print_message("SKIP: no AVX2 on this CPU (linear_margin_blas is an AVX2 kernel)\n");
  return 0;
}

static void test_absent_plans_hand_written(void **state) {
  (void)state;
  if (!has_avx2()) return;
  lm_model *m = wide_model("wide.lm");
  lm_plan_band b[4];
  const char *notes = NULL;
  size_t n = lm_model_plan(m, b, 4, &notes);
  assert_true(n >= 1);
  for (size_t i = 0; i < n; i++) assert_string_not_equal(b[i].kernel, "linear_margin_blas");
  assert_int_equal(b[0].max_rows, SIZE_MAX);
  print_message("plan without OpenBLAS: %s for %zu+ rows; notes: %s\n", b[0].kernel, b[0].min_rows,
                notes);
  assert_non_null(strstr(notes, "linear_margin_blas: OpenBLAS not found (" MISSING));

  /* the hand-written kernels keep the reference's sums: the same predictions as the model
   * forced onto the scalar reference, bit for bit */
  setenv("LM_KERNEL", "linear_margin__scalar", 1);
  lm_model *ref = wide_model("ref.lm");
  unsetenv("LM_KERNEL");
  float *x = malloc(sizeof *x * N * F), *got = malloc(sizeof *got * N * G),
        *want = malloc(sizeof *want * N * G);
  for (size_t k = 0; k < (size_t)N * F; k++) x[k] = (float)((int)(rnd() % 2001) - 1000) / 77.0f;
  lm_session *s, *sr;
  assert_int_equal(lm_session_new(m, &s), 0);
  assert_int_equal(lm_session_new(ref, &sr), 0);
  assert_int_equal(lm_predict(s, x, N, 0, got), 0);
  assert_int_equal(lm_predict(sr, x, N, 0, want), 0);
  assert_memory_equal(got, want, sizeof *got * N * G);
  lm_session_free(s), lm_session_free(sr);
  lm_model_close(ref), lm_model_close(m);
  free(x), free(got), free(want);

  /* forcing the kernel without the library is an error that says why */
  setenv("LM_KERNEL", "linear_margin_blas", 1);
  lm_model *forced = (lm_model *)1;
  assert_int_equal(lm_model_open(tu_path(tmpdir, "wide.lm"), &forced), LM_EINVAL);
  unsetenv("LM_KERNEL");
  print_message("LM_KERNEL=linear_margin_blas without OpenBLAS: %s\n", lm_last_error());
  assert_non_null(strstr(lm_last_error(), "LM_KERNEL=linear_margin_blas: OpenBLAS not found"));
}

/* lminfo's text output for dir/wide.lm, with LM_BLAS_LIB set to blas_lib (NULL: unset). */
static char *lminfo(const char *blas_lib) {
  char exe[1024];
  snprintf(exe, sizeof exe, "%s/lminfo", tu_env_or("LM_BIN", "build/bin"));
  char model[512];
  snprintf(model, sizeof model, "%s", tu_path(tmpdir, "wide.lm"));
  char out[512], err[512];
  snprintf(out, sizeof out, "%s", tu_path(tmpdir, "out"));
  snprintf(err, sizeof err, "%s", tu_path(tmpdir, "err"));
  if (blas_lib) setenv("LM_BLAS_LIB", blas_lib, 1);
  else unsetenv("LM_BLAS_LIB");
  int st = tu_spawn(exe, (char *const[]){"lminfo", model, NULL}, "/dev/null", out, err);
  setenv("LM_BLAS_LIB", MISSING, 1);
  size_t len;
  char *text = tu_read_file(out, &len), *errs = tu_read_file(err, &len);
  if (st != 0) fail_msg("lminfo exited %d: %s", st, errs);
  free(errs);
  return text;
}

static void test_lminfo(void **state) {
  (void)state;
  if (!has_avx2()) return;
  lm_model_close(wide_model("wide.lm"));
  char *text = lminfo(MISSING);
  assert_null(strstr(text, ": linear_margin_blas"));
  assert_non_null(strstr(text, "linear_margin_blas: OpenBLAS not found (" MISSING));
  free(text);
  if (access(SERIAL, R_OK) != 0) {
    print_message("SKIP: %s not installed (libopenblas0-serial): OpenBLAS-present case\n", SERIAL);
    return;
  }
  text = lminfo(NULL);
  if (!strstr(text, "8+ rows: linear_margin_blas"))
    fail_msg("lminfo did not plan linear_margin_blas from 8 rows with OpenBLAS installed:\n%s",
             text);
  assert_null(strstr(text, "OpenBLAS not found"));
  free(text);
}

int main(void) {
  setenv("LM_BLAS_LIB", MISSING, 1); /* before any plan: the loader reads it once */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_absent_plans_hand_written),
      cmocka_unit_test(test_lminfo),
  };
  return cmocka_run_group_tests_name("blas", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
