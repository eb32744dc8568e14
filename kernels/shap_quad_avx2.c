/*
 * shap_quad_avx2.c — the quadrature TreeSHAP kernel (kernels/shap_quad.h) with AVX2/FMA
 * intrinsics: as shap_quad_avx512.c, a group's eight lanes as two vectors of four doubles, the
 * one fractions as 0/1 doubles; lanes that do not share a feature add one by one into their own
 * copies (no scatter in AVX2).
 */
#include <immintrin.h>

#include "kernels/shap.h"

#define LM__SQ_UNROLL _Pragma("GCC unroll 32")
#define LM__SQ_BODY                                                                            \
  const uint32_t Q = (K + 1) / 2;                                                              \
  const double *qt = s->quad_t[Q], *qw = s->quad_w[Q];                                         \
  const double *zz = s->gz + g->off * LM__SHAP_LANES;                                          \
  const uint32_t *ff = s->gf + g->off * LM__SHAP_LANES;                                        \
  __m256i p = _mm256_i32gather_epi32((const int *)pat_of,                                      \
                                     _mm256_loadu_si256((const __m256i *)g->node), 4);         \
  p = _mm256_or_si256(p, _mm256_loadu_si256((const __m256i *)g->pad));                         \
  const __m256i one_i = _mm256_set1_epi32(1);                                                  \
  __m256d z[LM__SHAP_QK][2], d[LM__SHAP_QK][2], acc[LM__SHAP_QK][2], f[LM__SHAP_QK][2],        \
      suf[LM__SHAP_QK][2];                                                                     \
  LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {                                             \
    __m256i b = _mm256_and_si256(_mm256_srli_epi32(p, (int)e), one_i);                         \
    __m256d o0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(b));                                \
    __m256d o1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(b, 1));                           \
    z[e][0] = _mm256_loadu_pd(zz + e * LM__SHAP_LANES);                                        \
    z[e][1] = _mm256_loadu_pd(zz + e * LM__SHAP_LANES + 4);                                    \
    d[e][0] = _mm256_sub_pd(o0, z[e][0]);                                                      \
    d[e][1] = _mm256_sub_pd(o1, z[e][1]);                                                      \
    acc[e][0] = acc[e][1] = _mm256_setzero_pd();                                               \
  }                                                                                            \
  for (uint32_t q = 0; q < Q; q++) {                                                           \
    const __m256d t = _mm256_set1_pd(qt[q]);                                                   \
    LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {                                           \
      f[e][0] = _mm256_fmadd_pd(t, d[e][0], z[e][0]);                                          \
      f[e][1] = _mm256_fmadd_pd(t, d[e][1], z[e][1]);                                          \
    }                                                                                          \
    suf[K - 1][0] = suf[K - 1][1] = _mm256_set1_pd(1.0);                                       \
    LM__SQ_UNROLL for (uint32_t e = K - 1; e > 0; e--) {                                       \
      suf[e - 1][0] = _mm256_mul_pd(suf[e][0], f[e][0]);                                       \
      suf[e - 1][1] = _mm256_mul_pd(suf[e][1], f[e][1]);                                       \
    }                                                                                          \
    __m256d pre0 = _mm256_set1_pd(qw[q]), pre1 = pre0;                                         \
    LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {                                           \
      acc[e][0] = _mm256_fmadd_pd(pre0, suf[e][0], acc[e][0]);                                 \
      acc[e][1] = _mm256_fmadd_pd(pre1, suf[e][1], acc[e][1]);                                 \
      pre0 = _mm256_mul_pd(pre0, f[e][0]);                                                     \
      pre1 = _mm256_mul_pd(pre1, f[e][1]);                                                     \
    }                                                                                          \
  }                                                                                            \
  const __m256d v0 = _mm256_loadu_pd(g->v), v1 = _mm256_loadu_pd(g->v + 4);                   \
  LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {                                             \
    __m256d r0 = _mm256_mul_pd(acc[e][0], _mm256_mul_pd(v0, d[e][0]));                         \
    __m256d r1 = _mm256_mul_pd(acc[e][1], _mm256_mul_pd(v1, d[e][1]));                         \
    if (g->uni >> e & 1u) { /* one feature: its eight copies are two vectors */                \
      double *c = ph + (size_t)ff[e * LM__SHAP_LANES] * LM__SHAP_LANES;                        \
      _mm256_storeu_pd(c, _mm256_add_pd(_mm256_loadu_pd(c), r0));                              \
      _mm256_storeu_pd(c + 4, _mm256_add_pd(_mm256_loadu_pd(c + 4), r1));                      \
      continue;                                                                                \
    }                                                                                          \
    double o[LM__SHAP_LANES] __attribute__((aligned(32)));                                     \
    _mm256_store_pd(o, r0);                                                                    \
    _mm256_store_pd(o + 4, r1);                                                                \
    for (uint32_t l = 0; l < LM__SHAP_LANES; l++)                                              \
      ph[(size_t)ff[e * LM__SHAP_LANES + l] * LM__SHAP_LANES + l] += o[l];                     \
  }

/* K a constant (the caller's switch, K ≤ 8): loops unrolled */
static inline __attribute__((always_inline)) void
lm__sq_grp256(const lm__shap *s, const lm__shap_grp *g, const uint32_t K, const uint32_t *pat_of,
              double *ph) {
  LM__SQ_BODY
}
/* any other K (9 to LM__SHAP_QK): the same, loops kept */
#undef LM__SQ_UNROLL
#define LM__SQ_UNROLL
static __attribute__((noinline)) void lm__sq_grp256_any(const lm__shap *s, const lm__shap_grp *g,
                                                        const uint32_t K, const uint32_t *pat_of,
                                                        double *ph) {
  LM__SQ_BODY
}
#define lm__sq_grp256_sel(s, g, K, pat_of, ph, vd)                                                 \
  (__builtin_constant_p(K) ? lm__sq_grp256(s, g, K, pat_of, ph)                                \
                           : lm__sq_grp256_any(s, g, K, pat_of, ph))

#define LM__SQ_GRP lm__sq_grp256_sel
#define LM__SQ_NAME lm__shap_rows__quad_avx2
#include "kernels/shap_quad.h"
