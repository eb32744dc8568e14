/*
 * tree_perfect_avx512.c — AVX-512 kernels over the perfect-tree layout (tree_perfect.h).
 *
 * Batch (rows in lanes, 4 vectors = 64 rows in flight per tree): a tree's first 63 nodes
 * (levels 0–5) are loaded once per row block into eight registers (thresholds and split words)
 * and selected per lane with permutes; deeper levels (6–7) are gathered. A level then costs one
 * gather (the feature value) instead of four. Single row (trees in lanes, 4 × 16 trees in
 * flight): two gathers per level (threshold, split), the feature value selected from the row
 * held in registers when the model has ≤ 64 features. Leaves are added per row in tree order,
 * so sums are bit-identical to the scalar reference.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tree_common.h"
#include "kernels/tree_nodes_avx512.h"
#include "kernels/tree_perfect.h"

/* The categorical lanes `cat` (a categorical slot, x not NaN) decided from their sets, packed
 * in the slots' thresholds tv (tree_perfect.h). A category is x itself, valid when 0 ≤ x < 2^24
 * and below the set's size; invalid ones go left (SPEC.md, Decisions: the rule of
 * LM__CAT_GOES_RIGHT for decision 0, the only one this layout holds). One gather (the set's
 * word) for 16 lanes, where resolving lane by lane through NODES and CATSETS made batches of
 * the cat-hist model slower per row than single rows. */
static inline __mmask16 lm__cat(__m512 tv, const uint32_t *words, __mmask16 cat, __m512 xv,
                                __mmask16 right) {
  const __m512i z = _mm512_setzero_si512(), info = _mm512_castps_si512(tv);
  __m512i off = _mm512_srli_epi32(info, 8);
  __m512i lim = _mm512_slli_epi32(_mm512_and_si512(info, _mm512_set1_epi32(255)), 5);
  __mmask16 ok = _mm512_mask_cmp_ps_mask(cat, xv, _mm512_setzero_ps(), _CMP_GE_OQ) &
                 _mm512_cmp_ps_mask(xv, _mm512_set1_ps(16777216.0f), _CMP_LT_OQ);
  __m512i c = _mm512_maskz_cvttps_epi32(ok, xv);
  ok = _mm512_mask_cmplt_epu32_mask(ok, c, lim);
  __m512i w = _mm512_mask_i32gather_epi32(z, ok, _mm512_add_epi32(off, _mm512_srli_epi32(c, 5)),
                                          (const int *)words, 4);
  __mmask16 in = _mm512_mask_test_epi32_mask(
      ok, _mm512_srlv_epi32(w, _mm512_and_si512(c, _mm512_set1_epi32(31))), _mm512_set1_epi32(1));
  return (__mmask16)((right & ~cat) | in);
}

/* right lanes for split words spl, thresholds thr and feature values xv */
static inline __mmask16 lm__right(__m512i spl, __m512 thr, __m512 xv) {
  __mmask16 ge = _mm512_cmp_ps_mask(xv, thr, _CMP_GE_OQ);
  __mmask16 nan = _mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q);
  __mmask16 dl = _mm512_test_epi32_mask(spl, _mm512_set1_epi32((int)LMF_SPLIT_DEFAULT_LEFT));
  return (__mmask16)((ge & ~nan) | (nan & ~dl));
}

static inline __mmask16 lm__cat_lanes(__m512i spl, __m512 xv) {
  return (__mmask16)(_mm512_test_epi32_mask(spl, _mm512_set1_epi32((int)LMF_SPLIT_CATEGORICAL)) &
                     _mm512_cmp_ps_mask(xv, xv, _CMP_ORD_Q));
}

static inline __m512i lm__descend(__m512i idx, __mmask16 right) {
  __m512i c = _mm512_add_epi32(_mm512_slli_epi32(idx, 1), _mm512_set1_epi32(1));
  return _mm512_mask_add_epi32(c, right, c, _mm512_set1_epi32(1));
}

static void lm__rows(const lmf_view *v, const lm__perfect *p, const float *x, size_t n,
                     float *out) {
  const lmf_meta *m = v->meta;
  const int has_cat = m->n_cat_splits > 0;
  const size_t F = m->num_features, G = m->num_outputs, B = LM__V * LM__L;
  const __m512i fmask = _mm512_set1_epi32((int)LMF_SPLIT_FEATURE_MASK);
  const uint32_t D = p->depth, Dp = D < 6 ? D : 6;
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t rows = n - r0 < B ? n - r0 : B;
    const float *xb = x + r0 * F;
    __m512i off[LM__V];
    __m512 acc[LM__V];
    lm__block_start(m, r0, rows, out, off, acc);
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const float *thr = p->thr + (size_t)t * p->stride;
      const int *spl = (const int *)p->split + (size_t)t * p->stride;
      __m512 T0 = _mm512_load_ps(thr), T1 = _mm512_load_ps(thr + 16);
      __m512 T2 = _mm512_load_ps(thr + 32), T3 = _mm512_load_ps(thr + 48);
      __m512i S0 = _mm512_load_si512(spl), S1 = _mm512_load_si512(spl + 16);
      __m512i S2 = _mm512_load_si512(spl + 32), S3 = _mm512_load_si512(spl + 48);
      __m512i idx[LM__V];
      for (int k = 0; k < LM__V; k++) idx[k] = _mm512_setzero_si512();
      for (uint32_t l = 0; l < D; l++) {
        for (int k = 0; k < LM__V; k++) {
          __m512 tv;
          __m512i sv;
          if (l < 5) {
            tv = _mm512_permutex2var_ps(T0, idx[k], T1);
            sv = _mm512_permutex2var_epi32(S0, idx[k], S1);
          } else if (l < Dp) {
            __mmask16 hi = _mm512_test_epi32_mask(idx[k], _mm512_set1_epi32(32));
            tv = _mm512_mask_blend_ps(hi, _mm512_permutex2var_ps(T0, idx[k], T1),
                                      _mm512_permutex2var_ps(T2, idx[k], T3));
            sv = _mm512_mask_blend_epi32(hi, _mm512_permutex2var_epi32(S0, idx[k], S1),
                                         _mm512_permutex2var_epi32(S2, idx[k], S3));
          } else {
            tv = _mm512_i32gather_ps(idx[k], thr, 4);
            sv = _mm512_i32gather_epi32(idx[k], spl, 4);
          }
          __m512 xv = _mm512_i32gather_ps(_mm512_add_epi32(off[k], _mm512_and_si512(sv, fmask)), xb, 4);
          __mmask16 right = lm__right(sv, tv, xv);
          if (has_cat) {
            __mmask16 cat = lm__cat_lanes(sv, xv);
            if (cat) right = lm__cat(tv, v->cat_words, cat, xv, right);
          }
          idx[k] = lm__descend(idx[k], right);
        }
      }
      const float *lf = p->leaf + (size_t)t * p->n_leaf;
      __m512 wt = _mm512_set1_ps(v->trees[t].weight);
      __m512i nint = _mm512_set1_epi32((int)p->n_int);
      uint32_t group = v->trees[t].group;
      for (int k = 0; k < LM__V; k++)
        lm__block_add(_mm512_mul_ps(_mm512_i32gather_ps(_mm512_sub_epi32(idx[k], nint), lf, 4), wt), k,
                      r0, rows, G, group, out, &acc[k]);
    }
    if (G == 1) lm__block_store(acc, r0, rows, out);
  }
}

static void lm__one_row(const lmf_view *v, const lm__perfect *p, const float *row, float *o) {
  const lmf_meta *m = v->meta;
  const int has_cat = m->n_cat_splits > 0;
  const uint32_t T = m->n_trees, G = m->num_outputs, D = p->depth;
  const size_t F = m->num_features;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512 R[4];
  lm__row_regs(row, F, R);
  for (uint32_t g = 0; g < G; g++) o[g] = m->base_margin;
  for (uint32_t t0 = 0; t0 < T; t0 += LM__V * LM__L) {
    __m512i idx[LM__V], tb[LM__V];
    for (int k = 0; k < LM__V; k++) {
      __m512i t = _mm512_add_epi32(_mm512_set1_epi32((int)(t0 + (uint32_t)k * LM__L)), lane);
      t = _mm512_min_epu32(t, _mm512_set1_epi32((int)(T - 1)));
      tb[k] = _mm512_mullo_epi32(t, _mm512_set1_epi32((int)p->stride));
      idx[k] = _mm512_setzero_si512();
    }
    for (uint32_t l = 0; l < D; l++) {
      for (int k = 0; k < LM__V; k++) {
        __m512i at = _mm512_add_epi32(tb[k], idx[k]);
        __m512 tv = _mm512_i32gather_ps(at, p->thr, 4);
        __m512i sv = _mm512_i32gather_epi32(at, (const int *)p->split, 4);
        __m512 xv = lm__row_x(row, F, R, _mm512_and_si512(sv, _mm512_set1_epi32((int)LMF_SPLIT_FEATURE_MASK)));
        __mmask16 right = lm__right(sv, tv, xv);
        if (has_cat) {
          __mmask16 cat = lm__cat_lanes(sv, xv);
          if (cat) right = lm__cat(tv, v->cat_words, cat, xv, right);
        }
        idx[k] = lm__descend(idx[k], right);
      }
    }
    for (int k = 0; k < LM__V; k++) {
      uint32_t tbk = t0 + (uint32_t)k * LM__L;
      if (tbk >= T) break;
      float l[LM__L];
      uint32_t li[LM__L];
      __m512i leafpos = _mm512_sub_epi32(idx[k], _mm512_set1_epi32((int)p->n_int));
      _mm512_storeu_si512(li, leafpos);
      uint32_t cnt = T - tbk < LM__L ? T - tbk : LM__L;
      for (uint32_t j = 0; j < cnt; j++) {
        const lmf_tree *tr = &v->trees[tbk + j];
        l[j] = p->leaf[(size_t)(tbk + j) * p->n_leaf + li[j]] * tr->weight;
      }
      if (G == 1)
        for (uint32_t j = 0; j < cnt; j++) o[0] += l[j];
      else
        for (uint32_t j = 0; j < cnt; j++) o[v->trees[tbk + j].group] += l[j];
    }
  }
}

LM__KERNEL_F32(lm__tree_margin_perfect__avx512) {
  (void)scratch;
  lm__rows(v, L->perfect, x, n, out);
}
LM__KERNEL_F32(lm__tree_margin_perfect_one__avx512) {
  (void)scratch;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row(v, L->perfect, x + r * F, out + r * G);
}

/* Batches of deeper trees over the top layout: levels 0–5 as in lm__rows (registers and
 * permutes: one gather per level, the feature value), then the bottom position selects, again by
 * permute, the NODES index each lane continues from, and the NODES walk finishes the tree's
 * remaining levels (four gathers per level) before the leaf is gathered from NODES. Decisions
 * and the order of sums are the reference's, so margins are bit-identical. Kept apart from
 * lm__rows on purpose: one always-inlined body with a `top` flag measured 2.0-2.3 ms against
 * 1.76 ms for 1,000 rows of the deep model (the compiler no longer kept the tree's registers). */
static void lm__rows_top(const lmf_view *v, const lm__perfect *p, const float *x, size_t n,
                         float *out) {
  const lmf_meta *m = v->meta;
  const int has_cat = m->n_cat_splits > 0;
  const int *nw = (const int *)v->nodes;
  const size_t F = m->num_features, G = m->num_outputs, B = LM__V * LM__L;
  const __m512i fmask = _mm512_set1_epi32((int)LMF_SPLIT_FEATURE_MASK);
  const __m512i b32 = _mm512_set1_epi32(32);
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t rows = n - r0 < B ? n - r0 : B;
    const float *xb = x + r0 * F;
    __m512i off[LM__V];
    __m512 acc[LM__V];
    lm__block_start(m, r0, rows, out, off, acc);
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const lmf_tree *tr = &v->trees[t];
      const float *thr = p->thr + (size_t)t * p->stride;
      const int *spl = (const int *)p->split + (size_t)t * p->stride;
      const int *cont = (const int *)p->leaf_orig + (size_t)t * p->n_leaf;
      __m512 T0 = _mm512_load_ps(thr), T1 = _mm512_load_ps(thr + 16);
      __m512 T2 = _mm512_load_ps(thr + 32), T3 = _mm512_load_ps(thr + 48);
      __m512i S0 = _mm512_load_si512(spl), S1 = _mm512_load_si512(spl + 16);
      __m512i S2 = _mm512_load_si512(spl + 32), S3 = _mm512_load_si512(spl + 48);
      __m512i idx[LM__V];
      for (int k = 0; k < LM__V; k++) idx[k] = _mm512_setzero_si512();
      for (uint32_t l = 0; l < LM_PERFECT_TOP_DEPTH; l++) {
        for (int k = 0; k < LM__V; k++) {
          __m512 tv;
          __m512i sv;
          if (l < 5) {
            tv = _mm512_permutex2var_ps(T0, idx[k], T1);
            sv = _mm512_permutex2var_epi32(S0, idx[k], S1);
          } else {
            __mmask16 hi = _mm512_test_epi32_mask(idx[k], b32);
            tv = _mm512_mask_blend_ps(hi, _mm512_permutex2var_ps(T0, idx[k], T1),
                                      _mm512_permutex2var_ps(T2, idx[k], T3));
            sv = _mm512_mask_blend_epi32(hi, _mm512_permutex2var_epi32(S0, idx[k], S1),
                                         _mm512_permutex2var_epi32(S2, idx[k], S3));
          }
          __m512 xv = _mm512_i32gather_ps(_mm512_add_epi32(off[k], _mm512_and_si512(sv, fmask)), xb, 4);
          __mmask16 right = lm__right(sv, tv, xv);
          if (has_cat) {
            __mmask16 cat = lm__cat_lanes(sv, xv);
            if (cat) right = lm__cat(tv, v->cat_words, cat, xv, right);
          }
          idx[k] = lm__descend(idx[k], right);
        }
      }
      /* bottom positions 63..126 → slots 0..63 → the NODES index to continue from */
      __m512i C0 = _mm512_loadu_si512(cont), C1 = _mm512_loadu_si512(cont + 16);
      __m512i C2 = _mm512_loadu_si512(cont + 32), C3 = _mm512_loadu_si512(cont + 48);
      for (int k = 0; k < LM__V; k++) {
        __m512i slot = _mm512_sub_epi32(idx[k], _mm512_set1_epi32((int)p->n_int));
        __mmask16 hi = _mm512_test_epi32_mask(slot, b32);
        idx[k] = _mm512_mask_blend_epi32(hi, _mm512_permutex2var_epi32(C0, slot, C1),
                                         _mm512_permutex2var_epi32(C2, slot, C3));
      }
      for (uint32_t d = LM_PERFECT_TOP_DEPTH; d < tr->depth; d++)
        for (int k = 0; k < LM__V; k++) idx[k] = lm__step(v, nw, xb, idx[k], off[k], has_cat, NULL, F);
      __m512 wt = _mm512_set1_ps(tr->weight);
      for (int k = 0; k < LM__V; k++)
        lm__block_add(_mm512_mul_ps(lm__node_leaf(nw, idx[k]), wt), k, r0, rows, G, tr->group, out, &acc[k]);
    }
    if (G == 1) lm__block_store(acc, r0, rows, out);
  }
}

/* Batches of at least 16 rows (single rows keep the NODES kernel's trees-in-lanes walk: no
 * per-tree registers to reuse). */
LM__KERNEL_F32(lm__tree_margin_top__avx512) {
  (void)scratch;
  lm__rows_top(v, L->perfect, x, n, out);
}
