/*
 * test_link.c — the output transforms (kernels/link_scalar.c) and base margins
 * (formats/objective.c) on values worked out by hand, including the edges XGBoost's float32
 * code defines: the sigmoid's clamp at 88.7, softmax's max subtraction, argmax's first maximum.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "formats/objective.h"
#include "kernels/cpu.h"
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

/* a ≈ b within 1e-6 relative (NaN matches NaN, infinities and zeros match exactly) */
static int close_rel(float a, float b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (isinf(a) || isinf(b) || b == 0.0f) return a == b;
  return fabs((double)a - b) <= 1e-6 * fabs((double)b);
}

/* The 8-lane transforms (kernels/link_avx2.c) against the scalar reference: a sweep over the
 * whole useful range, the edges (±0, ±inf, NaN, the fast range's bounds ±87/88, the sigmoid's
 * clamp, FLT_MAX, subnormals), every row width 1…17 for softmax and every length 0…17 (tails);
 * links without a vector form must come out bit-identical. */
static void test_link_avx2(void **state) {
  (void)state;
  if (lm__cpu_isa() < LM_ISA_AVX2) {
    print_message("SKIP link__avx2: this CPU lacks AVX2\n");
    return;
  }
  enum { N = 4096 };
  static float in[N], want[N], got[N];
  const float edges[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 87.0f, -87.0f, 88.0f, -88.0f,
                         88.7f, -88.7f, 87.0001f, -87.0001f, 88.0001f, -88.0001f, 89.0f, -89.0f,
                         103.9f, -103.9f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-40f, -1e-40f, 1e-7f};
  size_t ne = sizeof edges / sizeof edges[0], n = 0;
  for (; n < ne; n++) in[n] = edges[n];
  uint32_t seed = 1;
  for (; n < N; n++) {
    seed = seed * 1664525u + 1013904223u;
    in[n] = ((float)(seed >> 8) / (float)(1u << 24) - 0.5f) * (n % 2 ? 240.0f : 12.0f);
  }
  const unsigned links[] = {LM_LINK_SIGMOID, LM_LINK_LOGISTIC, LM_LINK_EXP, LM_LINK_SOFTMAX,
                            LM_LINK_IDENTITY, LM_LINK_HINGE, LM_LINK_ARGMAX, LM_LINK_SIGMOID_F64};
  for (size_t l = 0; l < sizeof links / sizeof links[0]; l++) {
    unsigned link = links[l];
    int vector = link == LM_LINK_SIGMOID || link == LM_LINK_LOGISTIC || link == LM_LINK_EXP ||
                 link == LM_LINK_SOFTMAX;
    for (size_t G = 1; G <= 17; G++) {
      size_t rows = N / G;
      for (size_t len = 0; len <= rows; len = len < 17 ? len + 1 : rows) {
        memcpy(want, in, sizeof(float) * len * G);
        memcpy(got, in, sizeof(float) * len * G);
        size_t w1 = lm__link_apply__scalar(link, 0.5, want, len, G);
        size_t w2 = lm__link_apply__avx2(link, 0.5, got, len, G);
        assert_int_equal(w1, w2);
        for (size_t i = 0; i < len * w1; i++)
          if (vector ? !close_rel(got[i], want[i]) : memcmp(&got[i], &want[i], 4))
            fail_msg("link %u G=%zu n=%zu value %zu (in %.9g): %.9g vs reference %.9g", link, G,
                     len, i, in[i], got[i], want[i]);
        if (len == rows) break;
      }
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigmoid), cmocka_unit_test(test_exp_hinge_identity),
      cmocka_unit_test(test_softmax), cmocka_unit_test(test_argmax),
      cmocka_unit_test(test_base_margin), cmocka_unit_test(test_link_avx2),
  };
  return cmocka_run_group_tests_name("link", tests, NULL, NULL);
}
