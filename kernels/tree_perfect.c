/*
 * tree_perfect.c — builds the perfect-tree layout (tree_perfect.h) from verified NODES.
 */
#include <math.h>
#include <stdio.h>
#include <mimalloc.h>
#include <string.h>

#include "kernels/tree_perfect.h"

static void lm__place(const lmf_view *v, const lm__perfect *p, size_t t, uint32_t node,
                      uint32_t pos, uint32_t level) {
  const lmf_node *n = &v->nodes[node];
  size_t base = t * p->stride;
  if (level == p->depth) {
    /* Bottom level: n is a leaf (the tree's depth ≤ D; pass-through chains end here), or, in a
     * top layout, the node the NODES walk continues from. */
    p->leaf[t * p->n_leaf + (pos - p->n_int)] = n->left == node ? n->u.leaf : 0.0f;
    p->leaf_orig[t * p->n_leaf + (pos - p->n_int)] = node;
    return;
  }
  p->orig[base + pos] = node;
  if (n->left == node) {
    /* A leaf above the bottom: always go left, carrying the leaf down. */
    p->split[base + pos] = LMF_SPLIT_DEFAULT_LEFT;
    p->thr[base + pos] = NAN;
    lm__place(v, p, t, node, 2 * pos + 1, level + 1);
    return;
  }
  p->split[base + pos] = n->split;
  p->thr[base + pos] = n->threshold;
  if (n->split & LMF_SPLIT_CATEGORICAL) {
    const lmf_catset *s = &v->catsets[n->u.cat_set];
    uint32_t bits = lm__perfect_cat_pack(s->word_offset, s->n_words);
    memcpy(&p->thr[base + pos], &bits, 4);
  }
  lm__place(v, p, t, n->left, 2 * pos + 1, level + 1);
  lm__place(v, p, t, n->left + 1, 2 * pos + 2, level + 1);
}

static void *lm__mi_zalloc(const lm__alloc *a, size_t bytes) {
  (void)a;
  return mi_zalloc_aligned(bytes, 64);
}
static void lm__mi_free(const lm__alloc *a, void *p, size_t bytes) {
  (void)a, (void)bytes;
  mi_free(p);
}
const lm__alloc lm__alloc_default = {lm__mi_zalloc, lm__mi_free, -1};

lm__perfect *lm__perfect_build(const lmf_view *v, const lm__alloc *a, char *why) {
  const lmf_meta *m = v->meta;
  if (m->model_kind != LMF_MODEL_TREES || m->decision != LMF_DECISION_XGBOOST) {
    snprintf(why, LM__WHY_LEN, "not a decision-0 (XGBoost) tree model");
    return NULL;
  }
  for (uint32_t i = 0; i < v->n_catsets; i++)
    if (v->catsets[i].word_offset >= (1u << 24) || v->catsets[i].n_words >= 256) {
      snprintf(why, LM__WHY_LEN, "category set %u: %u words from word %u (at most 255 from "
               "below 2^24)", i, v->catsets[i].n_words, v->catsets[i].word_offset);
      return NULL;
    }
  lm__perfect *p = a->zalloc(a, sizeof *p);
  if (!p) {
    snprintf(why, LM__WHY_LEN, "out of memory");
    return NULL;
  }
  p->alloc = a;
  p->top = m->max_depth > LM_PERFECT_MAX_DEPTH;
  p->depth = p->top ? LM_PERFECT_TOP_DEPTH : m->max_depth ? m->max_depth : 1;
  p->n_int = (1u << p->depth) - 1;
  p->n_leaf = 1u << p->depth;
  p->stride = (p->n_int + 63) & ~63u;
  size_t T = m->n_trees, ni = T * p->stride, nl = T * p->n_leaf;
  /* One block; kernels may read up to 64 slots (256 bytes) past a tree: pad every array. */
  size_t pad = 64 * 4 + LM_PAD_BYTES;
  size_t sz = 3 * (ni * 4 + pad) + 2 * (nl * 4 + pad);
  uint8_t *b = a->zalloc(a, sz);
  if (!b) {
    a->free(a, p, sizeof *p);
    snprintf(why, LM__WHY_LEN, "out of memory for the perfect-tree layout (%zu bytes)", sz);
    return NULL;
  }
  p->block = b;
  p->block_bytes = sz;
  p->split = (uint32_t *)b;
  p->thr = (float *)(b + (ni * 4 + pad));
  p->orig = (uint32_t *)(b + 2 * (ni * 4 + pad));
  p->leaf = (float *)(b + 3 * (ni * 4 + pad));
  p->leaf_orig = (uint32_t *)(b + 3 * (ni * 4 + pad) + (nl * 4 + pad));
  for (size_t t = 0; t < T; t++) lm__place(v, p, t, v->trees[t].first_node, 0, 0);
  return p;
}

void lm__perfect_free(lm__perfect *p) {
  if (!p) return;
  const lm__alloc *a = p->alloc;
  a->free(a, p->block, p->block_bytes);
  a->free(a, p, sizeof *p);
}
