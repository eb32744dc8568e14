/*
 * tree_scalar.c — the scalar reference tree kernels: the test oracle for every SIMD variant and
 * the definition, in code, of the decision rule of formats/SPEC.md. Rows outer, trees inner:
 * each output is summed in tree order in float32, exactly as XGBoost's CPU predictor does, so
 * margins are bit-identical to XGBoost's. Leaves are fixed points of the walk (SPEC.md), but the
 * reference stops at the leaf instead of running `depth` steps: it is written to be obviously
 * right, not fast.
 */
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/tree_common.h"

static inline uint32_t lm__walk(const lmf_view *v, uint32_t i, const float *row) {
  for (;;) {
    const lmf_node *n = &v->nodes[i];
    if (n->left == i) return i;
    i = n->left + lm__goes_right(v, n, row[n->split & LMF_SPLIT_FEATURE_MASK]);
  }
}
/* Decision 0 only (no ZERO_MISSING node): the same walk without that test. */
static inline uint32_t lm__walk_xgb(const lmf_view *v, uint32_t i, const float *row) {
  for (;;) {
    const lmf_node *n = &v->nodes[i];
    if (n->left == i) return i;
    i = n->left + lm__goes_right_xgb(v, n, row[n->split & LMF_SPLIT_FEATURE_MASK]);
  }
}

LM__KERNEL_F32(lm__tree_margin__scalar) {
  (void)L, (void)scratch;
  const lmf_meta *m = v->meta;
  size_t F = m->num_features, G = m->num_outputs;
  const int xgb = m->decision == LMF_DECISION_XGBOOST;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    float *o = out + r * G;
    for (size_t g = 0; g < G; g++) o[g] = m->base_margin;
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const lmf_tree *tr = &v->trees[t];
      uint32_t leaf = xgb ? lm__walk_xgb(v, tr->first_node, row) : lm__walk(v, tr->first_node, row);
      o[tr->group] += v->nodes[leaf].u.leaf * tr->weight;
    }
  }
}

void lm__tree_leaf__scalar(const lmf_view *v, const float *x, size_t n, uint32_t *out) {
  const lmf_meta *m = v->meta;
  size_t F = m->num_features, T = m->n_trees;
  for (size_t r = 0; r < n; r++)
    for (uint32_t t = 0; t < T; t++)
      out[r * T + t] = v->leaf_ids[lm__walk(v, v->trees[t].first_node, x + r * F)];
}
