/*
 * test_link.c — the output transforms (kernels/link_scalar.c) and base margins
 * (formats/objective.c) on values worked out by hand, including the edges XGBoost's float32
 * code defines: the sigmoid's clamp at 88.7, softmax's max subtraction, argmax's first maximum.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "formats/objective.h"
#include "kernels/kernels.h"

static void test_sigmoid(void **state) {
  (void)state;
  float v[] = {0.0f, 1000.0f, -1000.0f, 2.0f, -88.7f, -90.0f};
  assert_int_equal(lm__link_apply__scalar(LM_LINK_SIGMOID, 1.0, v, 6, 1), 1);
  assert_true(v[0] == 0.5f);
  assert_true(v[1] == 1.0f);
  assert_true(v[2] == 1.0f / (expf(88.7f) + 1.0f)); /* clamped: never exactly 0 */
  assert_true(v[2] > 0.0f);
  assert_true(v[3] == 1.0f / (expf(-2.0f) + 1.0f));
  assert_true(v[4] == v[5]); /* both clamp at exp(88.7) */
  /* XGBoost 1.7.4 (a DMatrix with base_margin NaN, +inf, -inf) predicts NaN, 1 and
   * 3.006636e-39: std::min(-x, 88.7f) keeps NaN, where fminf would clamp it too */
  float e[] = {NAN, INFINITY, -INFINITY};
  lm__link_apply__scalar(LM_LINK_SIGMOID, 1.0, e, 3, 1);
  assert_true(isnan(e[0]));
  assert_true(e[1] == 1.0f);
  assert_true(e[2] == 3.006636e-39f && e[2] == v[2]);
}

static void test_exp_hinge_identity(void **state) {
  (void)state;
  float e[] = {0.0f, 1.0f, -2.5f};
  lm__link_apply__scalar(LM_LINK_EXP, 1.0, e, 3, 1);
  assert_true(e[0] == 1.0f && e[1] == expf(1.0f) && e[2] == expf(-2.5f));
  float h[] = {0.0f, -0.0f, 1e-30f, -3.0f};
  lm__link_apply__scalar(LM_LINK_HINGE, 1.0, h, 4, 1);
  assert_true(h[0] == 0.0f && h[1] == 0.0f && h[2] == 1.0f && h[3] == 0.0f);
  float i[] = {-7.25f, 3.5f};
  lm__link_apply__scalar(LM_LINK_IDENTITY, 1.0, i, 1, 2);
  assert_true(i[0] == -7.25f && i[1] == 3.5f);
}

static void test_softmax(void **state) {
  (void)state;
  float v[] = {1.0f, 2.0f, 3.0f, 1000.0f, 1000.0f, -1000.0f};
  assert_int_equal(lm__link_apply__scalar(LM_LINK_SOFTMAX, 1.0, v, 2, 3), 3);
  double s = exp(-2.0) + exp(-1.0) + 1.0;
  assert_float_equal(v[0], exp(-2.0) / s, 1e-7);
  assert_float_equal(v[2], 1.0 / s, 1e-7);
  assert_true(v[3] == 0.5f && v[4] == 0.5f && v[5] == 0.0f); /* no overflow: max subtracted */
}

static void test_argmax(void **state) {
  (void)state;
  float v[] = {0.1f, 0.7f, 0.7f, /* */ 5.0f, -1.0f, 2.0f, /* */ -3.0f, -2.0f, -1.0f};
  assert_int_equal(lm__link_apply__scalar(LM_LINK_ARGMAX, 1.0, v, 3, 3), 1);
  assert_true(v[0] == 1.0f); /* first of equal maxima */
  assert_true(v[1] == 0.0f);
  assert_true(v[2] == 2.0f);
}

static void test_base_margin(void **state) {
  (void)state;
  const lm_objective *o = lm__objective_by_name("binary:logistic");
  assert_non_null(o);
  assert_true(lm__base_margin(o, 0.5f) == 0.0f);
  assert_true(lm__base_margin(o, 0.3f) == -logf(1.0f / 0.3f - 1.0f));
  o = lm__objective_by_name("count:poisson");
  assert_true(lm__base_margin(o, 2.0f) == logf(2.0f));
  o = lm__objective_by_name("reg:squarederror");
  assert_true(lm__base_margin(o, 12.5f) == 12.5f);
  assert_null(lm__objective_by_name("reg:nonsense"));
  /* ids are fixed forever: a few spot checks against formats/SPEC.md */
  assert_int_equal(lm__objective_by_name("reg:squarederror")->id, 1);
  assert_int_equal(lm__objective_by_name("binary:logistic")->id, 12);
  assert_int_equal(lm__objective_by_name("multi:softmax")->id, 20);
  assert_string_equal(lm__objective_by_id(19)->name, "multi:softprob");
  assert_string_equal(lm__link_name(LM_LINK_SOFTMAX), "softmax");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigmoid), cmocka_unit_test(test_exp_hinge_identity),
      cmocka_unit_test(test_softmax), cmocka_unit_test(test_argmax),
      cmocka_unit_test(test_base_margin),
  };
  return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
