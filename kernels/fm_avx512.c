/*
 * fm_avx512.c — the AVX-512 factorization machine kernel: fm_avx2.c's scheme with eight doubles
 * per vector (factors in blocks of 32, then of 8 with masked loads), every product and sum in
 * double; the float32 result is the reference's or an ulp from it (tests/test_fm.c).
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

/* Per lane, a_f² − b_f summed over factors [f0, f0 + 32). */
static inline __m512d lm__block32(const float *V, size_t k, size_t f0, const float *row,
                                  size_t F) {
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (size_t i = 0; i < F; i++) {
    float xi = row[i];
    if (xi == 0.0f || isnan(xi)) continue;
    const __m512d x = _mm512_set1_pd((double)xi);
    const float *vr = V + i * k + f0;
    __m512d t0 = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(vr)), x);
    __m512d t1 = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(vr + 8)), x);
    __m512d t2 = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(vr + 16)), x);
    __m512d t3 = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(vr + 24)), x);
    a0 = _mm512_add_pd(a0, t0), b0 = _mm512_fmadd_pd(t0, t0, b0);
    a1 = _mm512_add_pd(a1, t1), b1 = _mm512_fmadd_pd(t1, t1, b1);
    a2 = _mm512_add_pd(a2, t2), b2 = _mm512_fmadd_pd(t2, t2, b2);
    a3 = _mm512_add_pd(a3, t3), b3 = _mm512_fmadd_pd(t3, t3, b3);
  }
  __m512d d = _mm512_fmsub_pd(a0, a0, b0);
  d = _mm512_add_pd(d, _mm512_fmsub_pd(a1, a1, b1));
  d = _mm512_add_pd(d, _mm512_fmsub_pd(a2, a2, b2));
  return _mm512_add_pd(d, _mm512_fmsub_pd(a3, a3, b3));
}

/* The same over factors [f0, f0 + m), m ≤ 8 (masked loads: lanes past k add 0). */
static inline __m512d lm__block8(const float *V, size_t k, size_t f0, size_t m, const float *row,
                                 size_t F) {
  const __mmask8 mk = (__mmask8)((1u << m) - 1u);
  __m512d a = _mm512_setzero_pd(), b = a;
  for (size_t i = 0; i < F; i++) {
    float xi = row[i];
    if (xi == 0.0f || isnan(xi)) continue;
    __m512d t = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk, V + i * k + f0)),
                              _mm512_set1_pd((double)xi));
    a = _mm512_add_pd(a, t), b = _mm512_fmadd_pd(t, t, b);
  }
  return _mm512_fmsub_pd(a, a, b);
}

/* Σ w_i·x_i in double, NaN as 0. */
static inline double lm__linear(const float *w, const float *row, size_t F) {
  __m512d acc = _mm512_setzero_pd();
  for (size_t i = 0; i < F; i += 8) {
    const __mmask8 mk = (__mmask8)((1u << (F - i < 8 ? F - i : 8)) - 1u);
    __m256 xv = _mm256_maskz_loadu_ps(mk, row + i);
    __mmask8 ok = _mm256_cmp_ps_mask(xv, xv, _CMP_ORD_Q); /* NaN → 0 */
    acc = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk, w + i)),
                          _mm512_cvtps_pd(_mm256_maskz_mov_ps(ok, xv)), acc);
  }
  return _mm512_reduce_add_pd(acc);
}

LM__KERNEL_F32(lm__fm_margin__avx512) {
  (void)L, (void)scratch;
  const size_t F = v->meta->num_features, k = v->fm->num_factors;
  const float *V = v->fm_v;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    __m512d d = _mm512_setzero_pd();
    size_t f0 = 0;
    for (; f0 + 32 <= k; f0 += 32) d = _mm512_add_pd(d, lm__block32(V, k, f0, row, F));
    for (; f0 < k; f0 += 8) d = _mm512_add_pd(d, lm__block8(V, k, f0, k - f0 < 8 ? k - f0 : 8, row, F));
    double s = (double)v->fm->w0 + (double)v->meta->base_margin + lm__linear(v->fm_w, row, F);
    out[r] = (float)(s + 0.5 * _mm512_reduce_add_pd(d));
  }
}
