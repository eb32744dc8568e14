/*
 * linear_avx2.c — AVX2 linear kernels: the same three shapes as linear_avx512.c (outputs in
 * lanes and rows in lanes are bit-identical to the reference; the single-row dot product sums
 * with fused multiply-adds in float32 lanes, then in double), with 8 lanes and masks as
 * integer vectors.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

#define LM__L 8

static inline __m256i lm__tail_mask(size_t k) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(k < LM__L ? k : LM__L)), lane);
}

static void lm__outputs_in_lanes(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  const float base = v->meta->base_margin;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    for (size_t g0 = 0; g0 < G; g0 += LM__L) {
      __m256i m = lm__tail_mask(G - g0);
      __m256 acc = _mm256_add_ps(_mm256_maskload_ps(v->lin_bias + g0, m), _mm256_set1_ps(base));
      for (size_t f = 0; f < F; f++) {
        if (isnan(row[f])) continue;
        __m256 w = _mm256_maskload_ps(v->lin_weights + f * G + g0, m);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(row[f]), w));
      }
      _mm256_maskstore_ps(out + r * G + g0, m, acc);
    }
  }
}

static void lm__rows_in_lanes(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features;
  const float start = v->lin_bias[0] + v->meta->base_margin;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (size_t r0 = 0; r0 < n; r0 += LM__L) {
    size_t rows = n - r0 < LM__L ? n - r0 : LM__L;
    __m256i off = _mm256_mullo_epi32(_mm256_min_epu32(lane, _mm256_set1_epi32((int)rows - 1)),
                                     _mm256_set1_epi32((int)F));
    const float *xb = x + r0 * F;
    __m256 acc = _mm256_set1_ps(start);
    for (size_t f = 0; f < F; f++) {
      __m256 xv = _mm256_i32gather_ps(xb, _mm256_add_epi32(off, _mm256_set1_epi32((int)f)), 4);
      __m256 ok = _mm256_cmp_ps(xv, xv, _CMP_ORD_Q);
      __m256 p = _mm256_and_ps(ok, _mm256_mul_ps(xv, _mm256_set1_ps(v->lin_weights[f])));
      /* adding +0 for a missing value leaves acc unchanged, as skipping it does, except that
       * -0 + +0 = +0: keep acc itself where the value is missing */
      acc = _mm256_blendv_ps(acc, _mm256_add_ps(acc, p), ok);
    }
    _mm256_maskstore_ps(out + r0, lm__tail_mask(rows), acc);
  }
}

/* acc + x·w over 8 features, fused; NaN (and lanes the mask loaded as 0 · 0) add nothing. */
static inline __m256 lm__fma8(__m256 acc, __m256 xv, __m256 wv) {
  __m256 ok = _mm256_cmp_ps(xv, xv, _CMP_ORD_Q);
  return _mm256_fmadd_ps(_mm256_and_ps(ok, xv), wv, acc);
}

/* One row, as linear_avx512.c's: four float32 sums with fused multiply-adds (F/32 products per
 * lane), combined in float32, the 8 lanes and the bias summed in double. */
static float lm__dot_row(const lmf_view *v, const float *row) {
  const size_t F = v->meta->num_features;
  const float *w = v->lin_weights;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t f = 0;
  for (; f + 4 * LM__L <= F; f += 4 * LM__L) {
    a0 = lm__fma8(a0, _mm256_loadu_ps(row + f), _mm256_loadu_ps(w + f));
    a1 = lm__fma8(a1, _mm256_loadu_ps(row + f + LM__L), _mm256_loadu_ps(w + f + LM__L));
    a2 = lm__fma8(a2, _mm256_loadu_ps(row + f + 2 * LM__L), _mm256_loadu_ps(w + f + 2 * LM__L));
    a3 = lm__fma8(a3, _mm256_loadu_ps(row + f + 3 * LM__L), _mm256_loadu_ps(w + f + 3 * LM__L));
  }
  for (int k = 0; f < F; f += LM__L, k = (k + 1) & 3) { /* ≤ 3 full blocks and a masked tail */
    __m256i m = lm__tail_mask(F - f);
    __m256 xv = _mm256_maskload_ps(row + f, m), wv = _mm256_maskload_ps(w + f, m);
    if (k == 0) a0 = lm__fma8(a0, xv, wv);
    else if (k == 1) a1 = lm__fma8(a1, xv, wv);
    else a2 = lm__fma8(a2, xv, wv);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)),
                            _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1)));
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
  double total = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
  return (float)((double)(v->lin_bias[0] + v->meta->base_margin) + total);
}

void lm__linear_margin__avx2(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features;
  if (v->meta->num_outputs > 1) {
    lm__outputs_in_lanes(v, x, n, out);
  } else if (n >= LM__L && (uint64_t)F * LM__L < (1u << 31)) {
    lm__rows_in_lanes(v, x, n, out);
  } else {
    for (size_t r = 0; r < n; r++) out[r] = lm__dot_row(v, x + r * F);
  }
}
