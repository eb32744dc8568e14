/*
 * util_contrib.h — what the contribution tests share (test_contrib.c against XGBoost,
 * test_contrib_lgbm.c against the LightGBM oracle). Header only. A test names its scratch
 * directory (TU_TMPDIR, as for tests/util.h) and its reference before including it alone:
 *
 *   static char tmpdir[] = "/tmp/lm_test_NAME_XXXXXX";
 *   #define TU_TMPDIR tmpdir
 *   #define TU_CONTRIB_REF "xgboost", 1   (the reference's name in messages; 1: its values
 *                                          are rounded to float32 before comparing)
 *   #include "tests/util_contrib.h"
 *
 *   src                                the source tree ($LM_SRC, else "."), set by
 *                                      tu_contrib_setup, the cmocka group set-up (which also
 *                                      makes TU_TMPDIR; tu_tmpdir_teardown removes it).
 *   compare(cs, what, ours, want,      tu_contrib_compare against TU_CONTRIB_REF.
 *       width, ta)
 *   tally                              values compared, how many outside tolerance, the largest
 *                                      absolute and relative differences.
 *   tu_contrib_compare(who, f32, cs,   ours[] against the table want (width columns): each
 *       what, ours, want, width, ta)   value within 1e-6 absolute or 1e-5 relative of want's
 *                                      (rounded to float32 first when f32); the first 5 misses
 *                                      printed naming case, what, row, column and `who` (the
 *                                      reference's name); counted in ta.
 *   tu_tally_add(all, ta, more_bad)    a case's tally into the run's (more_bad: other misses).
 *   tu_contrib_sums(cs, out, n, G, F,  each row's contributions of an output (out: n rows of
 *       margin, rstride, gstride,      G × (F + 1)) sum to its margin (margin[r·rstride +
 *       &max)                          g·gstride]) within 1e-5 · max(1, |margin|); the first 5
 *                                      misses printed; returns how many, *max the largest
 *                                      relative difference.
 *   convert(model, name)               lm_convert(model) quietly to TU_TMPDIR/name.lm (a static
 *                                      buffer); the test fails naming the model.
 *   tu_shap_kernels(cs, tag, v, sh, x, every quadrature kernel this CPU runs against the scalar
 *       xd, n, &worst)                 reference, on rows x (float32) and xd (their float64
 *                                      twins, or NULL), in blocks of lm__shap_block_rows as
 *                                      lm_predict_contrib passes them: each value within
 *                                      1e-9 · (1 + |ref|), else the test fails (first 5 printed,
 *                                      naming case, kernel and tag). Returns the kernel runs;
 *                                      *worst: the largest |diff| / (1 + |ref|) so far.
 */
#ifndef LMRT_TESTS_UTIL_CONTRIB_H
#define LMRT_TESTS_UTIL_CONTRIB_H

#include <math.h>

#include "kernels/cpu.h"
#include "kernels/shap.h"
#include "tests/util.h"
#include "tests/util_table.h"

static char src[1024];

static inline int tu_contrib_setup(void **state) {
  snprintf(src, sizeof src, "%s", tu_env_or("LM_SRC", "."));
  return tu_tmpdir_setup(state);
}

typedef struct tally {
  size_t values, bad;
  double max_abs, max_rel;
} tally;

static inline void tu_contrib_compare(const char *who, int f32, const char *cs, const char *what,
                                      const float *ours, const table *want, size_t width,
                                      tally *ta) {
  if (want->cols != width)
    fail_msg("%s %s: expected %zu columns, file has %zu", cs, what, width, want->cols);
  for (size_t i = 0; i < want->rows * want->cols; i++) {
    double w = f32 ? (double)(float)want->v[i] : want->v[i], d = fabs((double)ours[i] - w);
    ta->values++;
    if (!(d <= 1e-6 || d <= 1e-5 * fabs(w))) {
      if (ta->bad++ < 5)
        print_error("%s %s: row %zu column %zu: ours %.9g, %s %.9g\n", cs, what, i / width,
                    i % width, ours[i], who, w);
    }
    if (d > ta->max_abs) ta->max_abs = d;
    if (w != 0.0 && d / fabs(w) > ta->max_rel && d > 1e-6) ta->max_rel = d / fabs(w);
  }
}

static inline void compare(const char *cs, const char *what, const float *ours, const table *want,
                           size_t width, tally *ta) {
  tu_contrib_compare(TU_CONTRIB_REF, cs, what, ours, want, width, ta);
}

static inline void tu_tally_add(tally *all, const tally *ta, size_t more_bad) {
  all->values += ta->values;
  all->bad += ta->bad + more_bad;
  if (ta->max_abs > all->max_abs) all->max_abs = ta->max_abs;
  if (ta->max_rel > all->max_rel) all->max_rel = ta->max_rel;
}

static inline size_t tu_contrib_sums(const char *cs, const float *out, size_t n, size_t G,
                                     size_t F, const double *margin, size_t rstride,
                                     size_t gstride, double *max) {
  size_t W = G * (F + 1), bad = 0;
  *max = 0;
  for (size_t r = 0; r < n; r++)
    for (size_t g = 0; g < G; g++) {
      double sum = 0, mg = margin[r * rstride + g * gstride];
      for (size_t f = 0; f <= F; f++) sum += out[r * W + g * (F + 1) + f];
      double d = fabs(sum - mg) / fmax(1.0, fabs(mg));
      if (d > *max) *max = d;
      if (d > 1e-5 && bad++ < 5)
        print_error("%s: row %zu output %zu: contributions sum to %.9g, margin %.9g\n", cs, r,
                    g, sum, mg);
    }
  return bad;
}

static inline char *convert(const char *model, const char *name) {
  static char lm[1200];
  snprintf(lm, sizeof lm, "%s/%s.lm", TU_TMPDIR, name);
  lm_convert_options opt = {.quiet = 1};
  if (lm_convert(model, lm, &opt) != 0) fail_msg("%s: convert: %s", model, lm_last_error());
  return lm;
}

typedef void (*tu_shap_kernel)(const lmf_view *, const lm__shap *, const float *,
                               const double *, size_t, double *, void *);

static inline size_t tu_shap_kernels(const char *cs, const char *tag, const lmf_view *v,
                                     const lm__shap *sh, const float *x, const double *xd,
                                     size_t n, double *worst) {
  static const struct {
    const char *name;
    tu_shap_kernel k;
    int isa;
  } ks[] = {{"quad", lm__shap_rows__quad, LM_ISA_SCALAR},
            {"quad_avx2", lm__shap_rows__quad_avx2, LM_ISA_AVX2},
            {"quad_avx512", lm__shap_rows__quad_avx512, LM_ISA_AVX512}};
  size_t F = sh->num_features, W = (size_t)sh->num_outputs * (F + 1), B = lm__shap_block_rows(sh);
  double *ref = calloc(n * W, sizeof *ref), *got = malloc(sizeof *got * n * W);
  void *scratch = aligned_alloc(64, (lm__shap_scratch(sh) + 63) & ~(size_t)63);
  for (size_t r0 = 0; r0 < n; r0 += B)
    lm__shap_rows__scalar(v, sh, x + r0 * F, xd ? xd + r0 * F : NULL, n - r0 < B ? n - r0 : B,
                          ref + r0 * W, scratch);
  size_t runs = 0;
  for (size_t k = 0; k < sizeof ks / sizeof *ks; k++) {
    if (lm__cpu_isa() < ks[k].isa) continue;
    memset(got, 0, sizeof *got * n * W);
    for (size_t r0 = 0; r0 < n; r0 += B)
      ks[k].k(v, sh, x + r0 * F, xd ? xd + r0 * F : NULL, n - r0 < B ? n - r0 : B, got + r0 * W,
              scratch);
    size_t bad = 0;
    for (size_t i = 0; i < n * W; i++) {
      double d = fabs(got[i] - ref[i]), tol = 1e-9 * (1.0 + fabs(ref[i]));
      if (d / (1.0 + fabs(ref[i])) > *worst) *worst = d / (1.0 + fabs(ref[i]));
      if (!(d <= tol) && bad++ < 5)
        print_error("%s %s%s: row %zu column %zu: %.17g, reference %.17g\n", cs, ks[k].name, tag,
                    i / W, i % W, got[i], ref[i]);
    }
    assert_int_equal(bad, 0);
    runs++;
  }
  free(scratch), free(ref), free(got);
  return runs;
}

#endif
