/*
 * linear_avx512.c — AVX-512 linear kernels (gblinear semantics, see linear_scalar.c).
 *
 * - Several outputs (G > 1): outputs in lanes, features in order — each output is summed in
 *   exactly the reference's order: bit-identical.
 * - One output, any number of rows, row by row (lm__dot_row below): fused multiply-adds in 64
 *   float32 lanes, then summed in double; the result differs from the reference's sequential
 *   float sum by about the reference's own rounding error (tested against
 *   1e-6 · max(1, Σ|x·w|)). Missing values contribute nothing. (Rows in lanes kept the
 *   reference's order bit for bit, with gathers or 16 × 16 transposes, but cost 3-4× more per
 *   row: 130 vs 37 ns for 200 features.)
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

/* acc + x·w over 16 features, fused (one rounding); lanes off in `m` or NaN add nothing. */
static inline __m512 lm__fma16(__m512 acc, __m512 xv, __m512 wv, __mmask16 m) {
  __mmask16 ok = _mm512_mask_cmp_ps_mask(m, xv, xv, _CMP_ORD_Q);
  return _mm512_mask3_fmadd_ps(xv, wv, acc, ok);
}

/* One row, written for the latency of a single-row call (the dispatch-pod case). Four float32
 * sums of 16 lanes with fused multiply-adds (each lane adds F/64 products: 200 features, at most
 * four), combined in float32, then the 16 lanes and the bias summed in double. Summing in double
 * from the start (products converted with vcvtps2pd) was closer to exact but 1.6× slower here
 * (38 vs 24 ns for 200 features: the conversions dominate); this order's error stays within
 * (F/64 + 2) float32 roundings of Σ|x·w|, below the reference's own sequential F roundings.
 * Full blocks load without masks; the tail is masked once. */
static inline float lm__dot_row(const lmf_view *v, const float *row) {
  const size_t F = v->meta->num_features;
  const float *w = v->lin_weights;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
#define LM__BLOCK(A, k) A = lm__fma16(A, _mm512_loadu_ps(row + f + (k)*LM__L), \
                                      _mm512_loadu_ps(w + f + (k)*LM__L), 0xFFFF)
  size_t f = 0;
  for (; f + 4 * LM__L <= F; f += 4 * LM__L) {
    LM__BLOCK(a0, 0);
    LM__BLOCK(a1, 1);
    LM__BLOCK(a2, 2);
    LM__BLOCK(a3, 3);
  }
  /* up to three more full blocks, then the masked tail, each into its own sum */
  if (f + LM__L <= F) {
    LM__BLOCK(a0, 0);
    f += LM__L;
    if (f + LM__L <= F) {
      LM__BLOCK(a1, 0);
      f += LM__L;
      if (f + LM__L <= F) {
        LM__BLOCK(a2, 0);
        f += LM__L;
      }
    }
  }
#undef LM__BLOCK
  if (f < F) {
    __mmask16 m = (__mmask16)((1u << (F - f)) - 1);
    a3 = lm__fma16(a3, _mm512_maskz_loadu_ps(m, row + f), _mm512_maskz_loadu_ps(m, w + f), m);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
  __m512d d = _mm512_add_pd(
      _mm512_cvtps_pd(_mm512_castps512_ps256(s)),
      _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))));
  return (float)((double)(v->lin_bias[0] + v->meta->base_margin) + _mm512_reduce_add_pd(d));
}

void lm__linear_margin__avx512(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features;
  if (v->meta->num_outputs > 1) {
    lm__outputs_in_lanes(v, x, n, out);
  } else {
    for (size_t r = 0; r < n; r++) out[r] = lm__dot_row(v, x + r * F);
  }
}
