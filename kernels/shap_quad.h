/*
 * shap_quad.h — the quadrature TreeSHAP kernel (the layout and the formula: kernels/shap.h,
 * lm__shap_grp), written once in plain C over arrays of eight lanes and compiled once per ISA:
 * shap_quad.c (baseline x86-64), shap_quad_avx2.c, shap_quad_avx512.c each define
 * LM__SQ_NAME and include this file; the per-file flags (Makefile) let the compiler turn the
 * lane loops into 4- or 8-double vectors. Per row and tree: one decision per internal node
 * gives every leaf its pattern of one fractions (as the reference does), then per group of
 * eight leaves and per quadrature point the factors (1 − t) z + o t, their products leaving one
 * slot out (suffix products, then a running prefix), the weighted sum over points, and the
 * contributions v (o − z) ∫… added to the row's accumulators. No division, no allocation:
 * O(k) multiplications per leaf and point instead of the reference's O(k²) per leaf.
 */
#include <string.h>

#include "kernels/shap.h"
#include "kernels/tree_common.h"

#define LM__SQ_LN LM__SHAP_LANES

/* Every node's pattern of one fractions for one row (bit j: unique feature j of the path
 * followed so far), as in the reference (shap_scalar.c). */
static inline void lm__sq_pat(const lmf_view *v, const lm__shap *s, const lm__shap_tree *st,
                              const float *x, const double *xd, uint32_t *pat_of) {
  const lm__shap_split *sp = s->sn + st->first_split;
  const lmf_node *nodes = v->nodes + st->first_node;
  pat_of[0] = 0;
  for (uint32_t i = 0; i < st->n_splits; i++, sp++) {
    uint32_t sl = sp->split;
    uint32_t r;
    if (__builtin_expect(xd != NULL, 0)) { /* LightGBM, float64 rows: decided on the double */
      r = lm__goes_right_f64(v, st->first_node + sp->node, xd[sl & LMF_SPLIT_FEATURE_MASK]);
    } else if (__builtin_expect(sl & (LMF_SPLIT_CATEGORICAL | LMF_SPLIT_ZERO_MISSING), 0)) {
      r = lm__goes_right(v, &nodes[sp->node], x[sl & LMF_SPLIT_FEATURE_MASK]);
    } else { /* NaN: x >= t is false, so r is the default direction alone */
      float xv = x[sl & LMF_SPLIT_FEATURE_MASK];
      r = (uint32_t)(xv >= sp->threshold) | ((uint32_t)(xv != xv) & ~(sl >> 30) & 1u);
    }
    uint32_t e = sp->info & 0xFFFFu, bit = e < 32 ? 1u << e : 0u, p = pat_of[sp->node];
    uint32_t keep = sp->info >> 16 ? p | bit : p, drop = p & ~bit;
    uint32_t mr = 0u - r; /* all ones when the row goes right */
    pat_of[sp->left] = (drop & mr) | (keep & ~mr);
    pat_of[sp->left + 1] = (keep & mr) | (drop & ~mr);
  }
}

#ifndef LM__SQ_GRP
#define LM__SQ_GRP lm__sq_grp
/* One group of eight leaves for one row; K is a constant where the caller's switch makes it. */
static inline __attribute__((always_inline)) void
lm__sq_grp(const lm__shap *s, const lm__shap_grp *g, const uint32_t K, const uint32_t *pat_of,
           double *ph, int vd) {
  (void)vd;
  const uint32_t Q = (K + 1) / 2;
  const double *qt = s->quad_t[Q], *qw = s->quad_w[Q];
  const double *zz = s->gz + g->off * LM__SQ_LN;
  const uint32_t *ff = s->gf + g->off * LM__SQ_LN;
  uint32_t p[LM__SQ_LN];
  double o[LM__SHAP_QK][LM__SQ_LN], acc[LM__SHAP_QK][LM__SQ_LN], f[LM__SHAP_QK][LM__SQ_LN],
      suf[LM__SHAP_QK][LM__SQ_LN], pre[LM__SQ_LN];
  for (uint32_t l = 0; l < LM__SQ_LN; l++) p[l] = pat_of[g->node[l]] | g->pad[l];
  for (uint32_t e = 0; e < K; e++)
    for (uint32_t l = 0; l < LM__SQ_LN; l++) {
      o[e][l] = (double)((p[l] >> e) & 1u);
      acc[e][l] = 0.0;
    }
  for (uint32_t q = 0; q < Q; q++) {
    const double t = qt[q], u = 1.0 - t, w = qw[q];
    for (uint32_t e = 0; e < K; e++)
      for (uint32_t l = 0; l < LM__SQ_LN; l++) f[e][l] = u * zz[e * LM__SQ_LN + l] + t * o[e][l];
    for (uint32_t l = 0; l < LM__SQ_LN; l++) suf[K - 1][l] = 1.0, pre[l] = w;
    for (uint32_t e = K - 1; e > 0; e--)
      for (uint32_t l = 0; l < LM__SQ_LN; l++) suf[e - 1][l] = suf[e][l] * f[e][l];
    for (uint32_t e = 0; e < K; e++)
      for (uint32_t l = 0; l < LM__SQ_LN; l++) {
        acc[e][l] += pre[l] * suf[e][l];
        pre[l] *= f[e][l];
      }
  }
  for (uint32_t e = 0; e < K; e++)
    for (uint32_t l = 0; l < LM__SQ_LN; l++)
      acc[e][l] *= g->v[l] * (o[e][l] - zz[e * LM__SQ_LN + l]);
  for (uint32_t l = 0; l < LM__SQ_LN; l++)
    for (uint32_t e = 0; e < K; e++) ph[ff[e * LM__SQ_LN + l] * LM__SQ_LN + l] += acc[e][l];
}
#endif

void LM__SQ_NAME(const lmf_view *v, const lm__shap *s, const float *x, const double *xd, size_t n,
                 double *phi, void *scratch) {
  const size_t F = s->num_features, W = (size_t)s->num_outputs * (F + 1);
  uint32_t *pat_of = scratch;
  /* accumulators, one per lane: rep[(row × W + column) × 8 + lane] */
  double *rep = (double *)((uint8_t *)scratch + lm__shap_scratch_ref(s));
  memset(rep, 0, n * W * LM__SQ_LN * sizeof *rep);
  for (uint32_t t = 0; t < s->n_trees; t++) {
    const lm__shap_tree *st = &s->trees[t];
    if (!st->n_grps) {
      lm__shap_tree_rows__scalar(v, s, t, x, xd, n, phi, scratch);
      continue;
    }
    const lm__shap_grp *g0 = s->grps + st->first_grp;
#ifdef LM__SQ_DECIDE /* all decisions at once; the groups take one fractions from edges */
    const int vd = (int)st->vdec && !xd;
#else
    const int vd = 0;
    (void)vd;
#endif
    for (size_t r = 0; r < n; r++) {
#ifdef LM__SQ_DECIDE
      if (vd) LM__SQ_DECIDE(s, st, x + r * F, pat_of);
      else
#endif
        lm__sq_pat(v, s, st, x + r * F, xd ? xd + r * F : NULL, pat_of);
      double *ph = rep + (r * W + (size_t)st->group * (F + 1)) * LM__SQ_LN;
      for (uint32_t gi = 0; gi < st->n_grps; gi++) {
        const lm__shap_grp *g = g0 + gi;
        switch (g->K) {
        case 0: break;
        case 1: LM__SQ_GRP(s, g, 1, pat_of, ph, vd); break;
        case 2: LM__SQ_GRP(s, g, 2, pat_of, ph, vd); break;
        case 3: LM__SQ_GRP(s, g, 3, pat_of, ph, vd); break;
        case 4: LM__SQ_GRP(s, g, 4, pat_of, ph, vd); break;
        case 5: LM__SQ_GRP(s, g, 5, pat_of, ph, vd); break;
        case 6: LM__SQ_GRP(s, g, 6, pat_of, ph, vd); break;
        case 7: LM__SQ_GRP(s, g, 7, pat_of, ph, vd); break;
        case 8: LM__SQ_GRP(s, g, 8, pat_of, ph, vd); break;
        default: LM__SQ_GRP(s, g, g->K, pat_of, ph, vd); break;
        }
      }
    }
  }
  for (size_t i = 0; i < n * W; i++) {
    const double *c = rep + i * LM__SQ_LN;
    phi[i] += ((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7]));
  }
}
