/*
 * contrib.c — lm_predict_contrib{,_f64}: feature contributions (SHAP values) as XGBoost's
 * pred_contribs returns them, [rows][outputs][num_features + 1] with the bias last.
 *
 * Tree models go through the TreeSHAP path tables of kernels/shap.h: built from the verified
 * view on the first call (the model then keeps them; a race between two first calls is settled
 * by a compare-and-swap, the loser frees its copy), so later calls only read them. Per call the
 * session's scratch holds the double accumulators of one row, the kernel's scratch and, for
 * float64 rows, one row rounded to float32: after the first call of a given size there is no
 * heap allocation. Linear models need no table: weight × value, and bias + base margin, in
 * float32 as XGBoost's gblinear computes them.
 *
 * Each row's contributions depend on that row alone (the kernels keep one accumulator set per
 * row), so any split of a batch gives the same floats: runtime/pool.c splits large batches
 * across its threads through lm__contrib_rows (lm_predict_contrib_pool).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/error.h"
#include "kernels/cpu.h"
#include "kernels/shap.h"
#include "runtime/model.h"
#include "runtime/numa.h"
#include "runtime/pool.h"

size_t lm_model_contrib_width(const lm_model *m) {
  if (!m) return 0;
  return (size_t)m->v.meta->num_outputs * ((size_t)m->v.meta->num_features + 1);
}

/* The model's TreeSHAP table, built on first use. */
static int lm__contrib_table(const lm_model *m, const lm__shap **out) {
  lm__shap *s = atomic_load_explicit(&((lm_model *)m)->shap, memory_order_acquire);
  if (!s) {
    lm__shap *mine;
    int rc = lm__shap_build(&m->v, m->path ? m->path : "model", &mine);
    if (rc) return rc;
    lm__shap *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&((lm_model *)m)->shap, &expected, mine,
                                                memory_order_acq_rel, memory_order_acquire)) {
      s = mine;
    } else {
      lm__shap_free(mine);
      s = expected;
    }
  }
  *out = s;
  return LM_OK;
}

static void lm__contrib_linear(const lmf_view *v, const float *row, float *o) {
  const lmf_meta *m = v->meta;
  size_t F = m->num_features, G = m->num_outputs;
  for (size_t g = 0; g < G; g++) {
    float *og = o + g * (F + 1);
    for (size_t f = 0; f < F; f++)
      og[f] = isnan(row[f]) ? 0.0f : row[f] * v->lin_weights[f * G + g];
    og[F] = v->lin_bias[g] + m->base_margin;
  }
}

/* Scratch bytes of one call of at most lm__shap_block_rows rows (tree models: a block's W
 * doubles per row, the kernel's; float64 rows: the block's rows as float32). */
size_t lm__contrib_scratch_need(const lm_model *m, const struct lm__shap *sh, int f64) {
  const lmf_meta *mt = m->v.meta;
  size_t F = mt->num_features, W = lm_model_contrib_width(m);
  size_t B = sh ? lm__shap_block_rows(sh) : 1;
  size_t phi_b = sh ? (B * W * sizeof(double) + 63) & ~(size_t)63 : 0;
  size_t ker_b = sh ? (lm__shap_scratch(sh) + 63) & ~(size_t)63 : 0;
  return phi_b + ker_b + (f64 ? B * F * sizeof(float) : 0);
}

int lm__contrib_prepare(lm_session *s, const void *x, size_t n, const float *out,
                        const struct lm__shap **sh) {
  if (!s) return lm__fail(LM_EINVAL, "lm_predict_contrib: NULL session");
  if (n && (!x || !out))
    return lm__fail(LM_EINVAL, "lm_predict_contrib: NULL rows or output with %zu rows", n);
  const lm_model *m = s->m;
  const lmf_meta *mt = m->v.meta;
  size_t total;
  if (__builtin_mul_overflow(n, lm_model_contrib_width(m) * sizeof(float), &total))
    return lm__fail(LM_ERANGE, "lm_predict_contrib: %zu rows overflow the output size", n);
  *sh = NULL;
  if (mt->model_kind == LMF_MODEL_FM)
    return lm__fail(LM_EUNSUPPORTED, "%s: contributions of a factorization machine are not "
                    "supported", m->path);
  if (mt->model_kind == LMF_MODEL_TREES) return lm__contrib_table(m, sh);
  return LM_OK;
}

int lm__contrib_rows(lm_session *s, const lm__plan *pl, const struct lm__shap *sh, const void *x,
                     int f64, size_t n, float *out) {
  const lmf_view *v = pl->v;
  const lmf_meta *mt = v->meta;
  size_t F = mt->num_features, G = mt->num_outputs, W = G * (F + 1);
  /* the quadrature kernel of the plan's ISA (LM_ISA caps it, as for lm_predict) */
  void (*kern)(const lmf_view *, const lm__shap *, const float *, const double *, size_t, double *,
               void *) =
      pl->isa >= LM_ISA_AVX512 ? lm__shap_rows__quad_avx512
      : pl->isa >= LM_ISA_AVX2 ? lm__shap_rows__quad_avx2
                               : lm__shap_rows__quad;
  /* scratch (lm__contrib_scratch_need): phi of a block, the kernel's, the block's rows as
   * float32 (float64 input) */
  size_t B = sh ? lm__shap_block_rows(sh) : 1;
  size_t phi_b = sh ? (B * W * sizeof(double) + 63) & ~(size_t)63 : 0;
  size_t ker_b = sh ? (lm__shap_scratch(sh) + 63) & ~(size_t)63 : 0;
  size_t need = lm__contrib_scratch_need(s->m, sh, f64);
  uint8_t *sc = NULL;
  if (need && !(sc = lm__session_scratch(s, need)))
    return lm__fail(LM_ENOMEM, "out of memory for contribution scratch");
  double *phi = (double *)sc;
  float *rowbuf = sc ? (float *)(sc + phi_b + ker_b) : NULL;
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t c = n - r0 < B ? n - r0 : B;
    const float *rows;
    if (f64) {
      const double *xd = (const double *)x + r0 * F;
      for (size_t i = 0; i < c * F; i++) rowbuf[i] = (float)xd[i];
      rows = rowbuf;
    } else {
      rows = (const float *)x + r0 * F;
    }
    float *o = out + r0 * W;
    if (!sh) {
      for (size_t r = 0; r < c; r++) lm__contrib_linear(v, rows + r * F, o + r * W);
      continue;
    }
    for (size_t r = 0; r < c; r++) {
      memset(phi + r * W, 0, W * sizeof(double));
      for (size_t g = 0; g < G; g++) phi[r * W + g * (F + 1) + F] = sh->bias[g];
    }
    /* LightGBM decides float64 rows on the doubles themselves (as lm_predict_f64) */
    const double *xd = f64 && mt->decision == LMF_DECISION_LIGHTGBM ? (const double *)x + r0 * F
                                                                       : NULL;
    kern(v, sh, rows, xd, c, phi, sc + phi_b);
    for (size_t i = 0; i < c * W; i++) o[i] = (float)phi[i];
  }
  return LM_OK;
}

static int lm__contrib(lm_session *s, const void *x, int f64, size_t n, float *out) {
  const lm__shap *sh;
  int rc = lm__contrib_prepare(s, x, n, out, &sh);
  if (rc) return rc;
  return lm__contrib_rows(s, lm__model_plan(s->m, s->node), sh, x, f64, n, out);
}

int lm_predict_contrib(lm_session *s, const float *x, size_t n, float *out) {
  return lm__contrib(s, x, 0, n, out);
}

int lm_predict_contrib_f64(lm_session *s, const double *x, size_t n, float *out) {
  return lm__contrib(s, x, 1, n, out);
}
