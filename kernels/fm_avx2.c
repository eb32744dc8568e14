/*
 * fm_avx2.c — the AVX2 factorization machine kernel: the reference's terms (fm_scalar.c), each
 * v·x product and both sums in double, four factors per 256-bit lane set. Factors go in blocks
 * of 16 (four vectors of sums Σ v·x and four of Σ (v·x)², in registers across the features),
 * then of 4 (the tail, its loads masked to k); a missing (NaN) or zero feature is skipped, so
 * sparse rows cost what their non-zeros cost. Sums are in another order than the reference's
 * (per lane, then across lanes; fused multiply-adds), all in double, so the float32 result is
 * the reference's or an ulp from it (tests/test_fm.c).
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

/* Lanes [0, m) of a 4-float mask (m ≤ 4). */
static inline __m128i lm__mask4(size_t m) {
  return _mm_cmpgt_epi32(_mm_set1_epi32((int)m), _mm_setr_epi32(0, 1, 2, 3));
}

static inline double lm__hsum(__m256d a) {
  __m128d lo = _mm256_castpd256_pd128(a), hi = _mm256_extractf128_pd(a, 1);
  lo = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

/* ½ Σ_f (a_f² − b_f) over factors [f0, f0 + 16). */
static inline double lm__block16(const float *V, size_t k, size_t f0, const float *row, size_t F) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  for (size_t i = 0; i < F; i++) {
    float xi = row[i];
    if (xi == 0.0f || isnan(xi)) continue;
    const __m256d x = _mm256_set1_pd((double)xi);
    const float *vr = V + i * k + f0;
    __m256d t0 = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(vr)), x);
    __m256d t1 = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(vr + 4)), x);
    __m256d t2 = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(vr + 8)), x);
    __m256d t3 = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(vr + 12)), x);
    a0 = _mm256_add_pd(a0, t0), b0 = _mm256_fmadd_pd(t0, t0, b0);
    a1 = _mm256_add_pd(a1, t1), b1 = _mm256_fmadd_pd(t1, t1, b1);
    a2 = _mm256_add_pd(a2, t2), b2 = _mm256_fmadd_pd(t2, t2, b2);
    a3 = _mm256_add_pd(a3, t3), b3 = _mm256_fmadd_pd(t3, t3, b3);
  }
  __m256d d = _mm256_sub_pd(_mm256_mul_pd(a0, a0), b0);
  d = _mm256_add_pd(d, _mm256_sub_pd(_mm256_mul_pd(a1, a1), b1));
  d = _mm256_add_pd(d, _mm256_sub_pd(_mm256_mul_pd(a2, a2), b2));
  d = _mm256_add_pd(d, _mm256_sub_pd(_mm256_mul_pd(a3, a3), b3));
  return lm__hsum(d);
}

/* The same over factors [f0, f0 + m), m ≤ 4 (masked loads: lanes past k add 0). */
static inline double lm__block4(const float *V, size_t k, size_t f0, size_t m, const float *row,
                                size_t F) {
  const __m128i mk = lm__mask4(m);
  __m256d a = _mm256_setzero_pd(), b = a;
  for (size_t i = 0; i < F; i++) {
    float xi = row[i];
    if (xi == 0.0f || isnan(xi)) continue;
    __m256d t = _mm256_mul_pd(_mm256_cvtps_pd(_mm_maskload_ps(V + i * k + f0, mk)),
                              _mm256_set1_pd((double)xi));
    a = _mm256_add_pd(a, t), b = _mm256_fmadd_pd(t, t, b);
  }
  return lm__hsum(_mm256_sub_pd(_mm256_mul_pd(a, a), b));
}

/* Σ w_i·x_i in double, NaN as 0. */
static inline double lm__linear(const float *w, const float *row, size_t F) {
  __m256d acc = _mm256_setzero_pd();
  for (size_t i = 0; i < F; i += 4) {
    const __m128i mk = lm__mask4(F - i < 4 ? F - i : 4);
    __m128 xv = _mm_maskload_ps(row + i, mk);
    xv = _mm_and_ps(xv, _mm_cmpord_ps(xv, xv)); /* NaN → +0 */
    acc = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_maskload_ps(w + i, mk)), _mm256_cvtps_pd(xv), acc);
  }
  return lm__hsum(acc);
}

LM__KERNEL_F32(lm__fm_margin__avx2) {
  (void)L, (void)scratch;
  const size_t F = v->meta->num_features, k = v->fm->num_factors;
  const float *V = v->fm_v;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    double pair = 0.0;
    size_t f0 = 0;
    for (; f0 + 16 <= k; f0 += 16) pair += lm__block16(V, k, f0, row, F);
    for (; f0 < k; f0 += 4) pair += lm__block4(V, k, f0, k - f0 < 4 ? k - f0 : 4, row, F);
    double s = (double)v->fm->w0 + (double)v->meta->base_margin + lm__linear(v->fm_w, row, F);
    out[r] = (float)(s + 0.5 * pair);
  }
}
