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

/* One step of 16 lanes: idx → child, for rows at xbase + off (float offsets). */
static inline __m512i lm__step(const lmf_view *v, const int *nw, const float *xbase, __m512i idx,
                               __m512i off, int has_cat) {
  const __m512i fmask = _mm512_set1_epi32((int)LMF_SPLIT_FEATURE_MASK);
  const __m512i dlbit = _mm512_set1_epi32((int)LMF_SPLIT_DEFAULT_LEFT);
  const __m512i catbit = _mm512_set1_epi32((int)LMF_SPLIT_CATEGORICAL);
  __m512i w = _mm512_slli_epi32(idx, 2);
  __m512i split = _mm512_i32gather_epi32(w, nw, 4);
  __m512 thr = _mm512_i32gather_ps(_mm512_add_epi32(w, _mm512_set1_epi32(1)), nw, 4);
  __m512i left = _mm512_i32gather_epi32(_mm512_add_epi32(w, _mm512_set1_epi32(2)), nw, 4);
  __m512i fidx = _mm512_add_epi32(off, _mm512_and_si512(split, fmask));
  __m512 xv = _mm512_i32gather_ps(fidx, xbase, 4);
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
