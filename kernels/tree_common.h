/*
 * tree_common.h — the pieces of the tree decision rule (formats/SPEC.md, "Decisions") shared by
 * the scalar reference and the SIMD kernels, so that every variant resolves categorical splits
 * with literally the same code.
 */
#ifndef LM_KERNELS_TREE_COMMON_H
#define LM_KERNELS_TREE_COMMON_H

#include "formats/lmf.h"

/* 1 if categorical node n sends the (non-NaN) value x right. */
static inline uint32_t lm__cat_goes_right(const lmf_view *v, const lmf_node *n, float x) {
  const lmf_catset *s = &v->catsets[n->u.cat_set];
  /* Invalid categories — negative, ≥ 2^24 (not exactly representable), or beyond the set —
   * go left, as XGBoost routes them (pinned by the cat_* parity fixtures). */
  if (!(x >= 0.0f) || x >= 16777216.0f || (uint32_t)x >= s->n_words * 32u) return 0;
  uint32_t c = (uint32_t)x;
  return (v->cat_words[s->word_offset + c / 32] >> (c % 32)) & 1u;
}

#endif
