/*
 * tree_bits.c — builds the bin-and-bitmask layout (tree_bits.h) from a perfect-tree layout.
 */
#include <math.h>
#include <mimalloc.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"

typedef struct {
  uint32_t f;
  float t;
} lm__ft;

static int lm__ft_cmp(const void *a, const void *b) {
  const lm__ft *x = a, *y = b;
  if (x->f != y->f) return x->f < y->f ? -1 : 1;
  return x->t < y->t ? -1 : x->t > y->t ? 1 : 0;
}

/* 1-based position of t among the K sorted distinct thresholds th[0..K). */
static uint32_t lm__rank(const float *th, uint32_t K, float t) {
  uint32_t lo = 0, hi = K;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (th[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1; /* th[lo] == t: t was collected */
}

lm__bits *lm__bits_build(const lmf_view *v, const lm__perfect *p) {
  const lmf_meta *m = v->meta;
  if (!p || m->decision != LMF_DECISION_XGBOOST || m->n_cat_splits ||
      m->num_features > LM_BITS_MAX_FEATURES || m->num_features == 0 || m->n_trees == 0)
    return NULL;
  const uint32_t F = m->num_features, T = m->n_trees, D = p->depth;
  const uint32_t n_leaf = 1u << D, C = (n_leaf + 63) / 64;
  /* Every (feature, threshold) of the ensemble, sorted: distinct thresholds per feature. */
  size_t n_int = (size_t)T * p->n_int, n = 0;
  lm__ft *all = malloc(sizeof *all * (n_int ? n_int : 1));
  if (!all) return NULL;
  for (uint32_t t = 0; t < T; t++)
    for (uint32_t i = 0; i < p->n_int; i++) {
      uint32_t s = p->split[(size_t)t * p->stride + i];
      float th = p->thr[(size_t)t * p->stride + i];
      if (s & (LMF_SPLIT_CATEGORICAL | LMF_SPLIT_ZERO_MISSING)) {
        free(all);
        return NULL;
      }
      if (!isnan(th)) all[n++] = (lm__ft){s & LMF_SPLIT_FEATURE_MASK, th};
    }
  qsort(all, n, sizeof *all, lm__ft_cmp);
  size_t sz_thr = (size_t)F * 256 * 4, sz_spl = (size_t)F * 16 * 4;
  /* leaves: kernels load a tree's 64 first leaves whatever its n_leaf: 256 bytes of slack */
  size_t sz_nodes = (size_t)T * C * LM_BITS_CHUNK_BYTES, sz_leaf = (size_t)T * n_leaf * 4 + 256;
  size_t sz_group = (size_t)T * 4;
  size_t sz_bottom = D > 6 ? (size_t)T * 64 * LM_BITS_BLOCK_BYTES : 0;
  size_t pad = LM_PAD_BYTES;
  size_t sz = sz_thr + sz_spl + sz_nodes + sz_leaf + sz_group + sz_bottom + 6 * pad + 64;
  lm__bits *b = mi_zalloc(sizeof *b);
  uint8_t *blk = mi_zalloc_aligned(sz, 64);
  if (!b || !blk) {
    mi_free(b), mi_free(blk), free(all);
    return NULL;
  }
  b->block = blk;
  b->num_features = F, b->n_trees = T, b->depth = D, b->chunks = C, b->n_leaf = n_leaf;
  b->thr = (float *)blk;
  b->split16 = (float *)(blk + sz_thr + pad);
  b->nodes = blk + sz_thr + sz_spl + 2 * pad;
  b->leafw = (float *)(blk + sz_thr + sz_spl + sz_nodes + 3 * pad);
  b->group = (uint32_t *)(blk + sz_thr + sz_spl + sz_nodes + sz_leaf + 4 * pad);
  if (D > 6) b->bottom = blk + ((sz_thr + sz_spl + sz_nodes + sz_leaf + sz_group + 5 * pad + 63) & ~(size_t)63);
  uint32_t *K = calloc(F, sizeof *K);
  if (!K) goto fail;
  for (size_t i = 0; i < (size_t)F * 256; i++) b->thr[i] = NAN;
  for (size_t i = 0; i < n; i++) {
    float *th = b->thr + (size_t)all[i].f * 256;
    uint32_t *k = &K[all[i].f];
    if (*k && th[*k - 1] == all[i].t) continue; /* also folds −0 into +0 */
    if (*k == LM_BITS_MAX_THRESHOLDS) goto fail;
    th[(*k)++] = all[i].t;
  }
  for (uint32_t f = 0; f < F; f++)
    for (uint32_t i = 0; i < 16; i++) b->split16[f * 16 + i] = b->thr[(size_t)f * 256 + 16 * i + 15];
  for (uint32_t t = 0; t < T; t++) {
    uint8_t *nd = b->nodes + (size_t)t * C * LM_BITS_CHUNK_BYTES;
    for (uint32_t j = 1; j < n_leaf; j++) { /* heap slot j = perfect node j − 1 */
      uint32_t s = p->split[(size_t)t * p->stride + j - 1];
      float th = p->thr[(size_t)t * p->stride + j - 1];
      uint32_t f = s & LMF_SPLIT_FEATURE_MASK;
      uint32_t rank = isnan(th) ? 255 : lm__rank(b->thr + (size_t)f * 256, K[f], th);
      uint32_t lim = (s & LMF_SPLIT_DEFAULT_LEFT) ? 255 - rank : 256 - rank;
      uint8_t *c = nd + (j / 64) * LM_BITS_CHUNK_BYTES;
      c[j % 64] = (uint8_t)f;
      c[64 + j % 64] = (uint8_t)rank;
      c[128 + j % 64] = (uint8_t)lim;
    }
    float w = v->trees[t].weight;
    for (uint32_t l = 0; l < n_leaf; l++)
      b->leafw[(size_t)t * n_leaf + l] = p->leaf[(size_t)t * p->n_leaf + l] * w;
    for (uint32_t s = 0; D > 6 && s < 64; s++) {
      uint8_t *blkb = b->bottom + ((size_t)t * 64 + s) * LM_BITS_BLOCK_BYTES;
      uint32_t js[3] = {64 + s, 2 * (64 + s), 2 * (64 + s) + 1}, nn = D == 8 ? 3 : 1;
      for (uint32_t k = 0; k < nn; k++) {
        const uint8_t *c = nd + (js[k] / 64) * LM_BITS_CHUNK_BYTES;
        blkb[k] = c[js[k] % 64];
        blkb[3 + k] = c[64 + js[k] % 64];
        blkb[6 + k] = c[128 + js[k] % 64];
      }
      uint32_t nl = 1u << (D - 6);
      memcpy(blkb + 16, b->leafw + (size_t)t * n_leaf + (size_t)s * nl, nl * sizeof(float));
    }
    b->group[t] = v->trees[t].group;
  }
  free(K);
  free(all);
  return b;
fail:
  free(K);
  free(all);
  lm__bits_free(b);
  return NULL;
}

void lm__bits_free(lm__bits *b) {
  if (!b) return;
  mi_free(b->block);
  mi_free(b);
}
