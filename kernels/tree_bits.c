/*
 * tree_bits.c — builds the bin-and-bitmask layout (tree_bits.h) from a perfect-tree layout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"

/* A threshold of the ensemble as a sortable key: feature in bits 32–38, then the float's bits
 * mapped to an unsigned order (−0 folded into +0: they are the same threshold); and the
 * perfect-layout slot (tree · stride + node) it came from. */
typedef struct {
  uint64_t key;
  uint32_t slot;
} lm__ft;

static uint64_t lm__key(uint32_t f, float t) {
  uint32_t u;
  if (t == 0.0f) t = 0.0f;
  memcpy(&u, &t, 4);
  u ^= (u >> 31) ? 0xFFFFFFFFu : 0x80000000u;
  return ((uint64_t)f << 32) | u;
}

/* LSD radix sort of n keys of 39 bits (3 passes of 13 bits); tmp: n more entries. Linear time:
 * opening a 500-tree depth-8 model sorts 127,500 thresholds. */
static lm__ft *lm__sort(lm__ft *a, lm__ft *tmp, size_t n) {
  enum { BITS = 13, NB = 1 << BITS };
  size_t *count = calloc(NB, sizeof *count);
  if (!count) return NULL;
  for (int pass = 0; pass < 3; pass++) {
    int sh = pass * BITS;
    memset(count, 0, NB * sizeof *count);
    for (size_t i = 0; i < n; i++) count[(a[i].key >> sh) & (NB - 1)]++;
    size_t sum = 0;
    for (size_t d = 0; d < NB; d++) {
      size_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) tmp[count[(a[i].key >> sh) & (NB - 1)]++] = a[i];
    lm__ft *x = a;
    a = tmp;
    tmp = x;
  }
  free(count);
  return a;
}

lm__bits *lm__bits_build(const lmf_view *v, const lm__perfect *p, const lm__alloc *a,
                         char *why) {
  const lmf_meta *m = v->meta;
  if (!p || p->top || m->decision != LMF_DECISION_XGBOOST) {
    snprintf(why, LM__WHY_LEN, p && p->top ? "trees deeper than %d" : "no perfect-tree layout",
             LM_PERFECT_MAX_DEPTH);
    return NULL;
  }
  if (m->n_cat_splits) {
    snprintf(why, LM__WHY_LEN, "%u categorical splits", m->n_cat_splits);
    return NULL;
  }
  if (m->num_features > LM_BITS_MAX_FEATURES || m->num_features == 0 || m->n_trees == 0) {
    snprintf(why, LM__WHY_LEN, "%u features (1 to %d)", m->num_features, LM_BITS_MAX_FEATURES);
    return NULL;
  }
  const uint32_t F = m->num_features, T = m->n_trees, D = p->depth;
  const uint32_t n_leaf = 1u << D;
  /* Every (feature, threshold) of the ensemble, sorted: distinct thresholds per feature. */
  size_t n_int = (size_t)T * p->n_int, n = 0, n_slots = (size_t)T * p->stride;
  lm__ft *all = malloc(sizeof *all * 2 * (n_int ? n_int : 1));
  uint8_t *rank_of = malloc(n_slots); /* rank of every slot's threshold; 255: NaN threshold */
  if (!all || !rank_of) {
    free(all), free(rank_of);
    snprintf(why, LM__WHY_LEN, "out of memory");
    return NULL;
  }
  memset(rank_of, 255, n_slots);
  for (uint32_t t = 0; t < T; t++)
    for (uint32_t i = 0; i < p->n_int; i++) {
      uint32_t s = p->split[(size_t)t * p->stride + i];
      float th = p->thr[(size_t)t * p->stride + i];
      if (s & (LMF_SPLIT_CATEGORICAL | LMF_SPLIT_ZERO_MISSING)) {
        free(all), free(rank_of);
        snprintf(why, LM__WHY_LEN, "tree %u has a categorical or zero-as-missing split", t);
        return NULL;
      }
      if (!isnan(th))
        all[n++] = (lm__ft){lm__key(s & LMF_SPLIT_FEATURE_MASK, th), (uint32_t)((size_t)t * p->stride + i)};
    }
  lm__ft *sorted = lm__sort(all, all + n_int, n);
  if (!sorted) {
    free(all), free(rank_of);
    snprintf(why, LM__WHY_LEN, "out of memory");
    return NULL;
  }
  uint32_t Kmax = 0, fmax = 0; /* distinct thresholds of the busiest feature: how deep the search goes */
  for (size_t i = 0, k = 0; i < n; i++) {
    if (i && (sorted[i].key >> 32) != (sorted[i - 1].key >> 32)) k = 0;
    if (!i || sorted[i].key != sorted[i - 1].key) k++;
    if (k > Kmax) Kmax = (uint32_t)k, fmax = (uint32_t)(sorted[i].key >> 32);
  }
  if (Kmax > LM_BITS_MAX_THRESHOLDS) {
    free(all), free(rank_of);
    snprintf(why, LM__WHY_LEN, "feature %u has %u distinct thresholds (at most %d)", fmax, Kmax,
             LM_BITS_MAX_THRESHOLDS);
    return NULL;
  }
  uint32_t L = 1;
  while (L < 8 && (1u << L) - 1 < Kmax) L++;
  const uint32_t S = (1u << L) < 32 ? 32 : 1u << L;
  size_t sz_thr = (size_t)F * 256 * 4 + (size_t)F * S * 4, sz_spl = (size_t)F * 16 * 4;
  size_t sz_nodes = (size_t)T * LM_BITS_WORD_BYTES;
  /* leaves: kernels load a tree's 64 first leaves whatever its n_leaf: 256 bytes of slack */
  size_t sz_leaf = D <= 6 ? (size_t)T * n_leaf * 4 + 256 : 0;
  size_t sz_bottom = D > 6 ? (size_t)T * 64 * LM_BITS_BLOCK_BYTES : 0;
  size_t sz_group = (size_t)T * 4, sz_lut = 3 * 128;
  size_t sizes[7] = {sz_thr, sz_spl, sz_nodes, sz_leaf, sz_bottom, sz_group, sz_lut}, sz = 0;
  for (int i = 0; i < 7; i++) sz += (sizes[i] + LM_PAD_BYTES + 63) & ~(size_t)63;
  lm__bits *b = a->zalloc(a, sizeof *b);
  uint8_t *blk = b ? a->zalloc(a, sz) : NULL;
  uint32_t *K = calloc(F, sizeof *K);
  if (!b || !blk || !K) {
    if (b) a->free(a, b, sizeof *b);
    if (blk) a->free(a, blk, sz);
    free(all), free(K), free(rank_of);
    snprintf(why, LM__WHY_LEN, "out of memory for the bin-and-bitmask layout");
    return NULL;
  }
  b->alloc = a;
  b->block = blk;
  b->block_bytes = sz;
  b->num_features = F, b->n_trees = T, b->depth = D, b->n_leaf = n_leaf;
  b->levels = L, b->eyt_stride = S, b->dual = F <= 64;
  uint8_t *parts[7], *q = blk;
  for (int i = 0; i < 7; i++) {
    parts[i] = q;
    q += (sizes[i] + LM_PAD_BYTES + 63) & ~(size_t)63;
  }
  b->thr = (float *)parts[0];
  b->split16 = (float *)parts[1];
  b->nodes = parts[2];
  b->leafw = D <= 6 ? (float *)parts[3] : NULL;
  b->bottom = D > 6 ? parts[4] : NULL;
  b->group = (uint32_t *)parts[5];
  b->lut = parts[6];
  for (size_t i = 0; i < (size_t)F * 256; i++) b->thr[i] = NAN;
  for (size_t i = 0; i < n; i++) {
    uint32_t f = (uint32_t)(sorted[i].key >> 32), *k = &K[f];
    if (!i || sorted[i].key != sorted[i - 1].key) { /* a new distinct threshold of f */
      if (*k == LM_BITS_MAX_THRESHOLDS) goto fail;
      b->thr[(size_t)f * 256 + (*k)++] = p->thr[sorted[i].slot] == 0.0f ? 0.0f : p->thr[sorted[i].slot];
    }
    rank_of[sorted[i].slot] = (uint8_t)*k; /* 1-based */
  }
  for (uint32_t f = 0; f < F; f++)
    for (uint32_t i = 0; i < 16; i++) b->split16[f * 16 + i] = b->thr[(size_t)f * 256 + 16 * i + 15];
  float *eyt = b->thr + (size_t)F * 256; /* lm__bits_eyt: search tables (tree_bits.h) */
  for (uint32_t f = 0; f < F; f++)
    for (uint32_t j = 0; j < S; j++) {
      float t = NAN; /* entry 0 and entries ≥ 2^L are never selected */
      if (j >= 1 && j < (1u << L)) {
        uint32_t k = 1;
        while ((2u << (k - 1)) <= j) k++; /* level of node j: 2^(k−1) ≤ j < 2^k */
        uint32_t idx = ((j - (1u << (k - 1))) * 2 + 1) * (1u << (L - k)) - 1;
        t = idx < K[f] ? b->thr[(size_t)f * 256 + idx] : NAN;
      }
      eyt[(size_t)f * S + j] = t;
    }
  for (uint32_t w = 0; w < 128; w++) {
    uint32_t i = 1;
    for (int l = 0; l < 3; l++) i = 2 * i + ((w >> (i - 1)) & 1);
    b->lut[w] = (uint8_t)(i - 8);
    b->lut[128 + w] = (uint8_t)(8 * (i - 8));
    b->lut[256 + w] = (uint8_t)(7 + 7 * (i - 8));
  }
  for (uint32_t t = 0; t < T; t++) {
    uint8_t *nd = b->nodes + (size_t)t * LM_BITS_WORD_BYTES;
    if (b->dual) /* positions without a node: never right under either rule */
      for (uint32_t pos = 0; pos < 64; pos++) nd[pos] = 64, nd[64 + pos] = 255, nd[128 + pos] = 0;
    const uint32_t *ps = p->split + (size_t)t * p->stride;
    /* heap slot j (perfect node j − 1) of the first six levels → word position */
    for (uint32_t L = 0; L < 6 && L < D; L++)
      for (uint32_t j = 1u << L; j < 2u << L; j++) {
        uint32_t pos = L < 3 ? j - 1
                             : 7 + 7 * ((j >> (L - 3)) - 8) + (1u << (L - 3)) +
                                   (j & ((1u << (L - 3)) - 1)) - 1;
        uint32_t s = ps[j - 1], f = s & LMF_SPLIT_FEATURE_MASK;
        uint32_t rank = rank_of[(size_t)t * p->stride + j - 1];
        nd[pos] = (uint8_t)(f + (b->dual && (s & LMF_SPLIT_DEFAULT_LEFT) ? 64u : 0u));
        nd[64 + pos] = (uint8_t)rank;
        nd[128 + pos] = (uint8_t)((s & LMF_SPLIT_DEFAULT_LEFT) ? 255 - rank : 256 - rank);
      }
    float w = v->trees[t].weight;
    if (D <= 6) {
      for (uint32_t l = 0; l < n_leaf; l++)
        b->leafw[(size_t)t * n_leaf + l] = p->leaf[(size_t)t * p->n_leaf + l] * w;
    } else {
      for (uint32_t s = 0; s < 64; s++) {
        uint8_t *k = b->bottom + ((size_t)t * 64 + s) * LM_BITS_BLOCK_BYTES;
        uint32_t js[3] = {64 + s, 2 * (64 + s), 2 * (64 + s) + 1}, nn = D == 8 ? 3 : 1;
        for (uint32_t i = 0; i < nn; i++) { /* (feature | default-left << 7, rank) */
          uint32_t sp = ps[js[i] - 1], f = sp & LMF_SPLIT_FEATURE_MASK;
          uint32_t rank = rank_of[(size_t)t * p->stride + js[i] - 1];
          k[2 * i] = (uint8_t)(f | ((sp & LMF_SPLIT_DEFAULT_LEFT) ? 128u : 0u));
          k[2 * i + 1] = (uint8_t)rank;
        }
        uint32_t nl = 1u << (D - 6);
        for (uint32_t l = 0; l < nl; l++)
          memcpy(k + 16 + 4 * l, &(float){p->leaf[(size_t)t * p->n_leaf + s * nl + l] * w}, 4);
      }
    }
    b->group[t] = v->trees[t].group;
  }
  free(K);
  free(all);
  free(rank_of);
  return b;
fail:
  free(K);
  free(all);
  free(rank_of);
  lm__bits_free(b);
  snprintf(why, LM__WHY_LEN, "more than %d distinct thresholds in a feature", LM_BITS_MAX_THRESHOLDS);
  return NULL;
}

void lm__bits_free(lm__bits *b) {
  if (!b) return;
  const lm__alloc *a = b->alloc;
  a->free(a, b->block, b->block_bytes);
  a->free(a, b, sizeof *b);
}
