/*
 * linear_avx512.c — AVX-512 linear kernels (gblinear semantics, see linear_scalar.c).
 *
 * - Several outputs (G > 1): outputs in lanes, features in order — each output is summed in
 *   exactly the reference's order: bit-identical.
 * - One output, ≥ 16 rows: rows in lanes, features in order (a gather per feature): also
 *   bit-identical.
 * - One output, a single row (the latency case): products x·w are formed in float32 as in the
 *   reference, but summed 16 at a time in double; the result is closer to the exact sum than the
 *   reference's sequential float sum, and differs from it by at most the reference's own
 *   rounding error (tested against 1e-6 · max(1, Σ|x·w|)). Missing values contribute nothing.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

#define LM__L 16

static void lm__outputs_in_lanes(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  const float base = v->meta->base_margin;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    for (size_t g0 = 0; g0 < G; g0 += LM__L) {
      __mmask16 m = G - g0 >= LM__L ? (__mmask16)0xFFFF : (__mmask16)((1u << (G - g0)) - 1);
      __m512 acc = _mm512_add_ps(_mm512_maskz_loadu_ps(m, v->lin_bias + g0), _mm512_set1_ps(base));
      for (size_t f = 0; f < F; f++) {
        if (isnan(row[f])) continue;
        __m512 w = _mm512_maskz_loadu_ps(m, v->lin_weights + f * G + g0);
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(row[f]), w));
      }
      _mm512_mask_storeu_ps(out + r * G + g0, m, acc);
    }
  }
}

static void lm__rows_in_lanes(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features;
  const float start = v->lin_bias[0] + v->meta->base_margin;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (size_t r0 = 0; r0 < n; r0 += LM__L) {
    size_t rows = n - r0 < LM__L ? n - r0 : LM__L;
    __m512i off = _mm512_mullo_epi32(_mm512_min_epu32(lane, _mm512_set1_epi32((int)rows - 1)),
                                     _mm512_set1_epi32((int)F));
    const float *xb = x + r0 * F;
    __m512 acc = _mm512_set1_ps(start);
    for (size_t f = 0; f < F; f++) {
      __m512 xv = _mm512_i32gather_ps(_mm512_add_epi32(off, _mm512_set1_epi32((int)f)), xb, 4);
      __mmask16 ok = _mm512_cmp_ps_mask(xv, xv, _CMP_ORD_Q);
      acc = _mm512_mask_add_ps(acc, ok, acc, _mm512_mul_ps(xv, _mm512_set1_ps(v->lin_weights[f])));
    }
    _mm512_mask_storeu_ps(out + r0, (__mmask16)((1u << rows) - 1), acc);
  }
}

static float lm__dot_row(const lmf_view *v, const float *row) {
  const size_t F = v->meta->num_features;
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  for (size_t f = 0; f < F; f += LM__L) {
    __mmask16 m = F - f >= LM__L ? (__mmask16)0xFFFF : (__mmask16)((1u << (F - f)) - 1);
    __m512 xv = _mm512_maskz_loadu_ps(m, row + f);
    __mmask16 ok = (__mmask16)(m & _mm512_cmp_ps_mask(xv, xv, _CMP_ORD_Q));
    __m512 p = _mm512_maskz_mul_ps(ok, xv, _mm512_maskz_loadu_ps(m, v->lin_weights + f));
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(p)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(p), 1))));
  }
  double start = (double)(v->lin_bias[0] + v->meta->base_margin);
  return (float)(start + _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)));
}

void lm__linear_margin__avx512(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features;
  if (v->meta->num_outputs > 1) {
    lm__outputs_in_lanes(v, x, n, out);
  } else if (n >= LM__L && (uint64_t)F * LM__L < (1u << 31)) {
    lm__rows_in_lanes(v, x, n, out);
  } else {
    for (size_t r = 0; r < n; r++) out[r] = lm__dot_row(v, x + r * F);
  }
}
