/*
 * linear_avx512.c — AVX-512 linear kernels (gblinear semantics, see linear_scalar.c).
 *
 * - Several outputs (G > 1), each summed in exactly the reference's order (bit-identical):
 *   16 rows or more, rows in lanes over 16 × 16 transposed tiles (lm__rows_in_lanes_multi);
 *   fewer, outputs in lanes, features in order.
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

/* t[j] ← feature j of the 16 rows r[0..15] (a 16 × 16 transpose: unpacks within 128-bit lanes,
 * then 4 × 4 blocks of lanes). */
static inline void lm__transpose16(const __m512 r[16], __m512 t[16]) {
  __m512 a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]); /* rows i, i+1: features 0 1 | 4 5 | 8 9 | 12 13 */
    a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); /* features 2 3 | 6 7 | 10 11 | 14 15 */
  }
  for (int i = 0; i < 16; i += 4) { /* b[i + j]: rows i..i+3 of features j, j+4, j+8, j+12 */
    b[i] = _mm512_shuffle_ps(a[i], a[i + 2], 0x44);
    b[i + 1] = _mm512_shuffle_ps(a[i], a[i + 2], 0xEE);
    b[i + 2] = _mm512_shuffle_ps(a[i + 1], a[i + 3], 0x44);
    b[i + 3] = _mm512_shuffle_ps(a[i + 1], a[i + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    __m512 e0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0x88);  /* lanes 0, 2 of rows 0–7 */
    __m512 e1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0x88);
    __m512 o0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0xDD);  /* lanes 1, 3 */
    __m512 o1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0xDD);
    t[j] = _mm512_shuffle_f32x4(e0, e1, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(e0, e1, 0xDD);
    t[4 + j] = _mm512_shuffle_f32x4(o0, o1, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(o0, o1, 0xDD);
  }
}

/* Several outputs, 16 rows at a time: rows in lanes, up to 8 outputs' sums in registers, each
 * summed in the reference's order (bias + base, then features in order, product then sum, no
 * fused multiply-add): bit-identical. Rows are transposed 16 features at a time in registers
 * (gathers cost 5× more on this CPU); a missing value keeps the sum itself (masked add), as the
 * reference's skip does (adding +0 would turn a sum of -0 into +0); outputs are scattered back
 * to their rows. One row at a time (outputs in lanes, kept for fewer than 16 rows) is a chain
 * of F dependent additions. */
#define LM__GB 8
static void lm__rows_in_lanes_multi(const lmf_view *v, const float *x, size_t n, float *out) {
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  const float base = v->meta->base_margin;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i dst = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)G));
  for (size_t r0 = 0; r0 < n; r0 += LM__L) {
    size_t rows = n - r0 < LM__L ? n - r0 : LM__L;
    __mmask16 valid = (__mmask16)(rows == LM__L ? 0xFFFF : (1u << rows) - 1);
    for (size_t g0 = 0; g0 < G; g0 += LM__GB) {
      size_t kk = G - g0 < LM__GB ? G - g0 : LM__GB;
      __m512 acc[LM__GB];
#pragma GCC unroll 8
      for (size_t k = 0; k < LM__GB; k++)
        acc[k] = _mm512_set1_ps(k < kk ? v->lin_bias[g0 + k] + base : 0.0f);
      for (size_t f0 = 0; f0 < F; f0 += LM__L) {
        size_t nf = F - f0 < LM__L ? F - f0 : LM__L;
        __mmask16 fm = (__mmask16)(nf == LM__L ? 0xFFFF : (1u << nf) - 1);
        __m512 r[16], t[16];
        for (size_t i = 0; i < LM__L; i++) /* rows past the end read the last row (not stored) */
          r[i] = _mm512_maskz_loadu_ps(fm, x + (r0 + (i < rows ? i : rows - 1)) * F + f0);
        /* the same columns of the next 16 rows: 16 strided streams are more than the hardware
         * prefetcher follows (without this, the loads took two thirds of the time) */
        if (g0 == 0 && r0 + 2 * LM__L <= n)
          for (size_t i = 0; i < LM__L; i++)
            _mm_prefetch((const char *)(x + (r0 + LM__L + i) * F + f0), _MM_HINT_T0);
        lm__transpose16(r, t);
        for (size_t j = 0; j < nf; j++) {
          const float *w = v->lin_weights + (f0 + j) * G + g0;
          __mmask16 ok = _mm512_cmp_ps_mask(t[j], t[j], _CMP_ORD_Q);
#pragma GCC unroll 8
          for (size_t k = 0; k < LM__GB; k++)
            if (k < kk)
              acc[k] = _mm512_mask_add_ps(acc[k], ok, acc[k],
                                          _mm512_mul_ps(t[j], _mm512_set1_ps(w[k])));
        }
      }
      float *o = out + r0 * G + g0;
#pragma GCC unroll 8
      for (size_t k = 0; k < LM__GB; k++)
        if (k < kk) _mm512_mask_i32scatter_ps(o + k, valid, dst, acc[k], 4);
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

/* Entry points (kernels/registry.c: dot products for one output; several outputs in lanes, or
 * rows in lanes from 16 rows). */
LM__KERNEL_F32(lm__linear_margin_dot__avx512) {
  (void)L, (void)scratch;
  const size_t F = v->meta->num_features;
  for (size_t r = 0; r < n; r++) out[r] = lm__dot_row(v, x + r * F);
}
LM__KERNEL_F32(lm__linear_margin_rows__avx512) {
  (void)L, (void)scratch;
  lm__rows_in_lanes_multi(v, x, n, out);
}
LM__KERNEL_F32(lm__linear_margin_outputs__avx512) {
  (void)L, (void)scratch;
  lm__outputs_in_lanes(v, x, n, out);
}
