/*
 * tree_nodes_avx512.h — what the AVX-512 tree kernels over NODES (tree_avx512.c) and over the
 * perfect and top layouts (tree_perfect_avx512.c, whose top kernel continues the NODES walk below
 * the levels it keeps in registers) share: one level of the NODES walk for 16 lanes, a NODES leaf,
 * and the row blocks of the batch kernels (LM__V vectors of LM__L rows in lanes: lane offsets,
 * leaves added in tree order, the sums stored). Include only from files compiled for AVX-512.
 */
#ifndef LM_KERNELS_TREE_NODES_AVX512_H
#define LM_KERNELS_TREE_NODES_AVX512_H

#include <immintrin.h>
#include <string.h>

#include "kernels/tree_common.h"

#define LM__V 4  /* vectors in flight: 64 rows (batches) or 64 trees (single rows) */
#define LM__L 16 /* lanes per vector */
#define LM__AI512 static inline __attribute__((always_inline))

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

/* The leaf values (node word 3) of the NODES indices idx (leaves are fixed points). */
LM__AI512 __m512 lm__node_leaf(const int *nw, __m512i idx) {
  return _mm512_i32gather_ps(_mm512_add_epi32(_mm512_slli_epi32(idx, 2), _mm512_set1_epi32(3)), nw, 4);
}

/* A block of `rows` rows (at most LM__V · LM__L) from row r0, rows in lanes: off[k], each lane's
 * row offset in floats (tail lanes repeat the last row); acc[k], the base margin; with several
 * outputs, out's rows of the block start at the base margin instead (sums go there). */
LM__AI512 void lm__block_start(const lmf_meta *m, size_t r0, size_t rows, float *out,
                               __m512i off[LM__V], __m512 acc[LM__V]) {
  const size_t F = m->num_features, G = m->num_outputs;
  for (int k = 0; k < LM__V; k++) {
    int o[LM__L];
    for (int j = 0; j < LM__L; j++) {
      size_t r = (size_t)(k * LM__L + j);
      o[j] = (int)((r < rows ? r : rows - 1) * F); /* tail lanes repeat the last row */
    }
    off[k] = _mm512_loadu_si512(o);
    acc[k] = _mm512_set1_ps(m->base_margin);
  }
  if (G > 1)
    for (size_t r = 0; r < rows; r++)
      for (size_t g = 0; g < G; g++) out[(r0 + r) * G + g] = m->base_margin;
}

/* One tree's leaves for the block's vector k (rows r0 + 16k …): added to acc (one output) or to
 * the rows' output `group` in out (G outputs), in tree order either way. */
LM__AI512 void lm__block_add(__m512 leaf, int k, size_t r0, size_t rows, size_t G, uint32_t group,
                             float *out, __m512 *acc) {
  if (G == 1) {
    *acc = _mm512_add_ps(*acc, leaf);
  } else {
    float l[LM__L];
    _mm512_storeu_ps(l, leaf);
    for (int j = 0; j < LM__L && (size_t)(k * LM__L + j) < rows; j++)
      out[(r0 + (size_t)(k * LM__L + j)) * G + group] += l[j];
  }
}

/* The block's sums (one output) to out[r0 …]. */
LM__AI512 void lm__block_store(const __m512 acc[LM__V], size_t r0, size_t rows, float *out) {
  float a[LM__V * LM__L];
  for (int k = 0; k < LM__V; k++) _mm512_storeu_ps(a + k * LM__L, acc[k]);
  memcpy(out + r0, a, rows * sizeof(float));
}

#endif
