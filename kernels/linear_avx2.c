/*
 * linear_avx2.c — AVX2 linear kernels: the same three shapes as linear_avx512.c (outputs in
 * lanes and rows in lanes are bit-identical to the reference; the single-row dot product sums
 * float32 products in double), with 8 lanes and masks as integer vectors.
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

static float lm__dot_row(const lmf_view *v, const float *row) {
  const size_t F = v->meta->num_features;
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  for (size_t f = 0; f < F; f += LM__L) {
    __m256i m = lm__tail_mask(F - f);
    __m256 xv = _mm256_maskload_ps(row + f, m);
    __m256 ok = _mm256_cmp_ps(xv, xv, _CMP_ORD_Q); /* masked-off lanes load 0: ordered */
    __m256 p = _mm256_and_ps(ok, _mm256_mul_ps(xv, _mm256_maskload_ps(v->lin_weights + f, m)));
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
  }
  __m256d s = _mm256_add_pd(a0, a1);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
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
