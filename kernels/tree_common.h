/*
 * tree_common.h — the pieces of the tree decision rule (formats/SPEC.md, "Decisions") shared by
 * the scalar reference and the SIMD kernels, so that every variant resolves categorical splits
 * with literally the same code.
 */
#ifndef LM_KERNELS_TREE_COMMON_H
#define LM_KERNELS_TREE_COMMON_H

#include <math.h>

#include "formats/lmf.h"

/* 1 if categorical node n sends the (non-NaN) value x right. Works for float and double x
 * (a double row keeps LightGBM's integer cast of the double itself). */
#define LM__CAT_GOES_RIGHT(v, n, x)                                                              \
  do {                                                                                           \
    const lmf_catset *s_ = &(v)->catsets[(n)->u.cat_set];                                        \
    /* Invalid categories — negative (XGBoost: x < 0; LightGBM: its int cast < 0, so −0.5 is    \
     * category 0), ≥ 2^24, or beyond the set — go left (SPEC.md, Decisions). */                  \
    int neg_ = (v)->meta->decision == LMF_DECISION_LIGHTGBM ? !((x) > -1.0) : !((x) >= 0.0);      \
    if (neg_ || (x) >= 16777216.0 || (uint32_t)(x) >= s_->n_words * 32u) return 0;               \
    uint32_t c_ = (uint32_t)(x);                                                                 \
    return ((v)->cat_words[s_->word_offset + c_ / 32] >> (c_ % 32)) & 1u;                         \
  } while (0)

static inline uint32_t lm__cat_goes_right(const lmf_view *v, const lmf_node *n, float x) {
  LM__CAT_GOES_RIGHT(v, n, x);
}
static inline uint32_t lm__cat_goes_right_f64(const lmf_view *v, const lmf_node *n, double x) {
  LM__CAT_GOES_RIGHT(v, n, x);
}

/* 1 if node n (not a leaf) sends float32 x right: the reference rule of SPEC.md. */
static inline uint32_t lm__goes_right(const lmf_view *v, const lmf_node *n, float x) {
  if (isnan(x) || ((n->split & LMF_SPLIT_ZERO_MISSING) && fabsf(x) <= LMF_ZERO_THRESHOLD))
    return (n->split & LMF_SPLIT_DEFAULT_LEFT) ? 0 : 1;
  if (n->split & LMF_SPLIT_CATEGORICAL) return lm__cat_goes_right(v, n, x);
  return x >= n->threshold;
}

/* 1 if node i (index into v->nodes, not a leaf) of a decision 1 (LightGBM) model sends float64
 * x right: LightGBM's own comparison of doubles against the exact NODE_F64 threshold (`x > t`
 * goes right), missing types and categorical sets as above. The f64 scoring kernels and the
 * TreeSHAP path walk for float64 rows (kernels/shap*.c) share it. */
static inline uint32_t lm__goes_right_f64(const lmf_view *v, uint32_t i, double x) {
  const lmf_node *n = &v->nodes[i];
  if (isnan(x) ||
      ((n->split & LMF_SPLIT_ZERO_MISSING) && fabs(x) <= (double)LMF_ZERO_THRESHOLD))
    return (n->split & LMF_SPLIT_DEFAULT_LEFT) ? 0 : 1;
  if (n->split & LMF_SPLIT_CATEGORICAL) return lm__cat_goes_right_f64(v, n, x);
  return x > v->node_f64[i];
}

/* The same for decision 0 (XGBoost) nodes, which never carry ZERO_MISSING (the verifier rejects
 * it there): the rule without that test, for the reference's hot loop. */
static inline uint32_t lm__goes_right_xgb(const lmf_view *v, const lmf_node *n, float x) {
  if (isnan(x)) return (n->split & LMF_SPLIT_DEFAULT_LEFT) ? 0 : 1;
  if (n->split & LMF_SPLIT_CATEGORICAL) return lm__cat_goes_right(v, n, x);
  return x >= n->threshold;
}

/* Value of leaf i of tree tr reached by row (float or double): NODE_F64, or in a linear tree
 * constant + Σ coeff·x over the leaf's terms in double, unless one of those x is NaN. */
#define LM__DEFINE_LEAF_VALUE(name, T)                                                           \
  static inline double name(const lmf_view *v, const lmf_tree *tr, uint32_t i, const T *row) {   \
    if (!(tr->flags & LMF_TREE_LINEAR)) return v->node_f64[i];                                   \
    const lmf_linear_leaf *ll = &v->lin_leaves[i];                                               \
    double s = ll->constant;                                                                     \
    for (uint32_t k = 0; k < ll->count; k++) {                                                   \
      const lmf_linear_term *t = &v->lin_terms[ll->first + k];                                   \
      double x = (double)row[t->feature];                                                        \
      if (isnan(x)) return v->node_f64[i];                                                       \
      if (fabs(x) <= (double)LMF_ZERO_THRESHOLD) x = 0.0; /* LightGBM reads tiny values as 0 */  \
      s += t->coeff * x;                                                                         \
    }                                                                                            \
    return s;                                                                                    \
  }
LM__DEFINE_LEAF_VALUE(lm__leaf_value_f32, float)
LM__DEFINE_LEAF_VALUE(lm__leaf_value_f64, double)

#endif
