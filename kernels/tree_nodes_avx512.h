/*
 * tree_nodes_avx512.h — one level of the NODES walk for 16 lanes (AVX-512), shared by the NODES
 * kernels (tree_avx512.c) and the top-layout kernel (tree_perfect_avx512.c, which continues the
 * walk below the levels it keeps in registers). Include only from files compiled for AVX-512.
 */
#ifndef LM_KERNELS_TREE_NODES_AVX512_H
#define LM_KERNELS_TREE_NODES_AVX512_H

#include <immintrin.h>

#include "kernels/tree_common.h"

static inline __mmask16 lm__resolve_cat(const lmf_view *v, __mmask16 cat, __m512i idx, __m512 xv,
                                         __mmask16 right) {
  uint32_t id[16];
  float xs[16];
  _mm512_storeu_si512(id, idx);
  _mm512_storeu_ps(xs, xv);
  while (cat) {
    int j = __builtin_ctz(cat);
    cat &= (__mmask16)(cat - 1);
    uint32_t r = lm__cat_goes_right(v, &v->nodes[id[j]], xs[j]);
    right = (__mmask16)((right & ~(1u << j)) | (r << j));
  }
  return right;
}

/* A single row's first 64 features in four registers (zeros past F), for lm__row_x. */
static inline void lm__row_regs(const float *row, size_t F, __m512 R[4]) {
  for (int q = 0; q < 4; q++) {
    size_t lo = (size_t)q * 16;
    __mmask16 mk = F <= lo ? 0 : F - lo >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (F - lo)) - 1);
    R[q] = F <= 64 ? _mm512_maskz_loadu_ps(mk, row + lo) : _mm512_setzero_ps();
  }
}

/* Feature values f (feature indices) of a single row: from registers when F ≤ 64. */
static inline __m512 lm__row_x(const float *row, size_t F, const __m512 *R, __m512i f) {
  if (F <= 32) return _mm512_permutex2var_ps(R[0], f, R[1]);
  if (F <= 64) {
    __mmask16 hi = _mm512_test_epi32_mask(f, _mm512_set1_epi32(32));
    return _mm512_mask_blend_ps(hi, _mm512_permutex2var_ps(R[0], f, R[1]),
                                _mm512_permutex2var_ps(R[2], f, R[3]));
  }
  return _mm512_i32gather_ps(f, row, 4);
}

/* One step of 16 lanes: idx → child, for rows at xbase + off (float offsets), or, with R, for
 * the single row xbase whose features R holds (lm__row_regs; off unused). */
static inline __m512i lm__step(const lmf_view *v, const int *nw, const float *xbase, __m512i idx,
                               __m512i off, int has_cat, const __m512 *R, size_t F) {
  const __m512i fmask = _mm512_set1_epi32((int)LMF_SPLIT_FEATURE_MASK);
  const __m512i dlbit = _mm512_set1_epi32((int)LMF_SPLIT_DEFAULT_LEFT);
  const __m512i catbit = _mm512_set1_epi32((int)LMF_SPLIT_CATEGORICAL);
  __m512i w = _mm512_slli_epi32(idx, 2);
  __m512i split = _mm512_i32gather_epi32(w, nw, 4);
  __m512 thr = _mm512_i32gather_ps(_mm512_add_epi32(w, _mm512_set1_epi32(1)), nw, 4);
  __m512i left = _mm512_i32gather_epi32(_mm512_add_epi32(w, _mm512_set1_epi32(2)), nw, 4);
  __m512i feat = _mm512_and_si512(split, fmask);
  __m512 xv = R ? lm__row_x(xbase, F, R, feat) : _mm512_i32gather_ps(_mm512_add_epi32(off, feat), xbase, 4);
  __mmask16 ge = _mm512_cmp_ps_mask(xv, thr, _CMP_GE_OQ);
  __mmask16 nan = _mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q);
  __mmask16 dl = _mm512_test_epi32_mask(split, dlbit);
  __mmask16 right = (__mmask16)((ge & ~nan) | (nan & ~dl));
  if (has_cat) {
    __mmask16 cat = (__mmask16)(_mm512_test_epi32_mask(split, catbit) & ~nan);
    if (cat) right = lm__resolve_cat(v, cat, idx, xv, right);
  }
  return _mm512_mask_add_epi32(left, right, left, _mm512_set1_epi32(1));
}

#endif
