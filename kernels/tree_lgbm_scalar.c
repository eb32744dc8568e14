/*
 * tree_lgbm_scalar.c — the scalar reference kernels for decision 1 (LightGBM) models
 * (formats/SPEC.md, "Decisions"): leaves add their exact double value (NODE_F64) or their
 * linear-leaf value, summed per output in double in tree order, averaged when the model says
 * so, then rounded to float32 — as LightGBM computes and then our float32 API returns.
 *
 * Two kernels: float32 rows use the normalised float32 thresholds of NODES (exact for
 * float32 inputs by construction); float64 rows are decided against the exact double thresholds
 * of NODE_F64 (`x > t` goes right), so a double row one double ulp from a threshold goes where
 * LightGBM sends it.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "kernels/tree_common.h"


static void lm__finish_row(const lmf_meta *m, const double *acc, float *o) {
  for (uint32_t g = 0; g < m->num_outputs; g++)
    o[g] = (float)(m->average_over ? acc[g] / m->average_over : acc[g]);
}

/* One kernel per row type: T the row element, DECIDE(i, x) the go-right rule of node i.
 * scratch holds num_outputs doubles (the registry's scratch_per_output; the session's arena). */
#define LM__DEFINE_LGBM_KERNEL(name, T, DECIDE, LEAF_VALUE)                                      \
  void name(const lmf_view *v, const lm__layouts *L, const T *x, size_t n, float *out,           \
            void *scratch) {                                                                     \
    (void)L;                                                                                     \
    double *acc = scratch;                                                                       \
    const lmf_meta *m = v->meta;                                                                 \
    size_t F = m->num_features, G = m->num_outputs;                                              \
    for (size_t r = 0; r < n; r++) {                                                             \
      const T *row = x + r * F;                                                                  \
      for (size_t g = 0; g < G; g++) acc[g] = m->base_margin;                                    \
      for (uint32_t t = 0; t < m->n_trees; t++) {                                                \
        const lmf_tree *tr = &v->trees[t];                                                       \
        uint32_t i = tr->first_node;                                                             \
        while (v->nodes[i].left != i) {                                                          \
          const lmf_node *nd = &v->nodes[i];                                                     \
          i = nd->left + DECIDE(i, row[nd->split & LMF_SPLIT_FEATURE_MASK]);                     \
        }                                                                                        \
        acc[tr->group] += LEAF_VALUE(v, tr, i, row) * tr->weight;                                \
      }                                                                                          \
      lm__finish_row(m, acc, out + r * G);                                                       \
    }                                                                                            \
  }

#define LM__DECIDE_F32(i, x) lm__goes_right(v, &v->nodes[i], x)
#define LM__DECIDE_F64(i, x) lm__goes_right_f64(v, i, x)
LM__DEFINE_LGBM_KERNEL(lm__tree_margin_lgbm__scalar, float, LM__DECIDE_F32, lm__leaf_value_f32)
LM__DEFINE_LGBM_KERNEL(lm__tree_margin_lgbm_f64__scalar, double, LM__DECIDE_F64,
                       lm__leaf_value_f64)
