/*
 * link_avx2.c — the float32 output transforms that need an exponential (sigmoid, logistic, exp,
 * softmax) eight values at a time, within 1e-6 relative of the scalar reference
 * (link_scalar.c), for the kernels whose margins are not bit-identical to the trainer's anyway:
 * the planner (runtime/model.c) installs it for linear models. Tree models keep the scalar
 * reference, whose libm expf makes their outputs equal XGBoost's bit for bit.
 *
 * Hand-written rather than a vector math library: none in Debian is a well-kept, header-only
 * fit for a kernel that must stay within a stated bound of glibc's expf, and the function is
 * small. exp(x) = 2^n · p(r), n = round(x / ln 2), r = x − n·ln 2 in two parts (Cody–Waite),
 * p the degree-7 Taylor polynomial of e^r (|r| ≤ ln2/2: truncation 3e-9, float rounding
 * ≈ 3e-7 relative), 2^n from its exponent bits. That holds for x ∈ [−87, 88] (2^n normal);
 * lanes outside it, NaN included, are recomputed with the scalar reference, so every edge the
 * reference defines (the sigmoid clamp at 88.7, NaN, ±inf, results below FLT_MIN) is its own.
 *
 * One 8-lane variant serves AVX2 and AVX-512 planning: the transform is a small share of a
 * row's time (≈ 1 ns of 30 for a 200-feature linear row) and needs no wider kernel.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "formats/objective.h"
#include "kernels/kernels.h"
#include "kernels/link.h"

#define LM__L 8

static inline __m256 lm__exp8(__m256 x) {
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x); /* ln 2, high 10 bits */
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);    /* and the rest */
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* Lanes whose exponent argument lies in [−87, 88] (false for NaN). */
static inline int lm__in_range(__m256 a) {
  __m256 ok = _mm256_and_ps(_mm256_cmp_ps(a, _mm256_set1_ps(-87.0f), _CMP_GE_OQ),
                            _mm256_cmp_ps(a, _mm256_set1_ps(88.0f), _CMP_LE_OQ));
  return _mm256_movemask_ps(ok);
}

static inline __m256 lm__apply8(unsigned link, __m256 x, int *ok) {
  const __m256 one = _mm256_set1_ps(1.0f);
  switch (link) {
  case LM_LINK_SIGMOID: { /* 1 / (e^min(−x, 88.7) + 1 + 1e-16), the clamp left to the fix-up */
    __m256 t = _mm256_sub_ps(_mm256_setzero_ps(), x);
    *ok = lm__in_range(t);
    __m256 d = _mm256_add_ps(_mm256_add_ps(lm__exp8(t), one), _mm256_set1_ps(1e-16f));
    return _mm256_div_ps(one, d);
  }
  case LM_LINK_LOGISTIC: {
    __m256 t = _mm256_sub_ps(_mm256_setzero_ps(), x);
    *ok = lm__in_range(t);
    return _mm256_div_ps(one, _mm256_add_ps(one, lm__exp8(t)));
  }
  default: /* LM_LINK_EXP */
    *ok = lm__in_range(x);
    return lm__exp8(x);
  }
}

static inline float lm__apply1(unsigned link, float x) {
  return link == LM_LINK_SIGMOID ? lm__sigmoid(x) : link == LM_LINK_LOGISTIC ? lm__logistic(x)
                                                                             : expf(x);
}

/* out[0, n) ← link(out[0, n)), for the three element-wise links above. */
static void lm__elementwise(unsigned link, float *out, size_t n) {
  size_t i = 0;
  int ok;
  for (; i + LM__L <= n; i += LM__L) {
    __m256 x = _mm256_loadu_ps(out + i), y = lm__apply8(link, x, &ok);
    _mm256_storeu_ps(out + i, y);
    if (ok != 0xFF) {
      float in[LM__L];
      _mm256_storeu_ps(in, x);
      for (int j = 0; j < LM__L; j++)
        if (!(ok >> j & 1)) out[i + j] = lm__apply1(link, in[j]);
    }
  }
  if (i < n) { /* the tail, through a zero-padded copy */
    float in[LM__L] = {0}, res[LM__L];
    for (size_t j = 0; j < n - i; j++) in[j] = out[i + j];
    _mm256_storeu_ps(res, lm__apply8(link, _mm256_loadu_ps(in), &ok));
    for (size_t j = 0; j < n - i; j++)
      out[i + j] = (ok >> j & 1) ? res[j] : lm__apply1(link, in[j]);
  }
}

size_t lm__link_apply__avx2(unsigned link, double param, float *out, size_t n, size_t G) {
  switch (link) {
  case LM_LINK_SIGMOID:
  case LM_LINK_LOGISTIC:
  case LM_LINK_EXP:
    lm__elementwise(link, out, n * G);
    return G;
  case LM_LINK_SOFTMAX:
    /* as the reference: subtract each row's maximum, exponentiate (all rows at once: full
     * vectors whatever G), sum each row in double, divide */
    for (size_t r = 0; r < n; r++) {
      float *o = out + r * G, mx = o[0];
      for (size_t g = 1; g < G; g++) if (o[g] > mx) mx = o[g];
      for (size_t g = 0; g < G; g++) o[g] -= mx;
    }
    lm__elementwise(LM_LINK_EXP, out, n * G);
    for (size_t r = 0; r < n; r++) {
      float *o = out + r * G;
      double sum = 0.0;
      for (size_t g = 0; g < G; g++) sum += o[g];
      for (size_t g = 0; g < G; g++) o[g] /= (float)sum;
    }
    return G;
  default:
    return lm__link_apply__scalar(link, param, out, n, G);
  }
}
