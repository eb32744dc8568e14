/*
 * shap_quad_avx512.c — the quadrature TreeSHAP kernel (kernels/shap_quad.h) with AVX-512
 * intrinsics: a group's eight leaves are the eight doubles of a vector, the one fractions of
 * each slot a mask (a test of the lanes' patterns, gathered), the slots' factors, suffix
 * products and sums stay in registers for K ≤ 8 (the caller's switch makes K a constant).
 * The contributions go to the row's accumulators one by one (lanes of a slot may name the
 * same feature, so no scatter).
 */
#include <immintrin.h>

#include "kernels/shap.h"

/* K a constant (the caller's switch, K ≤ 8): every loop unrolled, all in registers */
#define LM__SQ_UNROLL _Pragma("GCC unroll 32")
static inline __attribute__((always_inline)) void
lm__sq_grp512(const lm__shap *s, const lm__shap_grp *g, const uint32_t K, const uint32_t *pat_of,
              double *ph, int vd) {
  const uint32_t Q = (K + 1) / 2;
  const double *qt = s->quad_t[Q], *qw = s->quad_w[Q];
  const double *zz = s->gz + g->off * LM__SHAP_LANES;
  const uint32_t *ff = s->gf + g->off * LM__SHAP_LANES;
  /* pattern mode: each lane's pattern of one fractions (bits), gathered; decision mode (vd):
   * pat_of holds every split's decision (−1: right), each slot's edges are gathered */
  __m256i p = _mm256_setzero_si256(), kl = _mm256_setzero_si256();
  const uint32_t *ge = s->ge + g->eoff * LM__SHAP_LANES;
  if (vd) {
    kl = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)g->k));
  } else {
    p = _mm256_i32gather_epi32((const int *)pat_of,
                               _mm256_loadu_si256((const __m256i *)g->node), 4);
    p = _mm256_or_si256(p, _mm256_loadu_si256((const __m256i *)g->pad));
  }
  /* d = o − z: the factor (1 − t) z + o t is z + t d, the contribution v d ∫… */
  __m512d z[LM__SHAP_QK], d[LM__SHAP_QK], acc[LM__SHAP_QK], f[LM__SHAP_QK], suf[LM__SHAP_QK];
  const __m512d one = _mm512_set1_pd(1.0);
  LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {
    z[e] = _mm512_loadu_pd(zz + e * LM__SHAP_LANES);
    __mmask8 m;
    if (vd) { /* followed: every edge agrees with its split's decision; empty slots forced */
      m = _mm256_cmp_epi32_mask(kl, _mm256_set1_epi32((int)e), _MM_CMPINT_LE);
      __mmask8 a = 0xFF;
      if (g->une >> e & 1u) { /* one split: its decision against each lane's direction */
        __m256i w = _mm256_loadu_si256((const __m256i *)ge);
        __m256i dcs = _mm256_set1_epi32((int)pat_of[ge[0] & 0x7FFFFFFFu]);
        a = _mm256_cmpeq_epi32_mask(dcs, _mm256_srai_epi32(w, 31));
        ge += LM__SHAP_LANES;
      } else
      for (uint32_t j = 0; j < g->E[e]; j++, ge += LM__SHAP_LANES) {
        __m256i w = _mm256_loadu_si256((const __m256i *)ge);
        __m256i dcs = _mm256_i32gather_epi32(
            (const int *)pat_of, _mm256_and_si256(w, _mm256_set1_epi32(0x7FFFFFFF)), 4);
        a &= _mm256_cmpeq_epi32_mask(dcs, _mm256_srai_epi32(w, 31));
      }
      m |= a;
    } else {
      m = _mm256_test_epi32_mask(p, _mm256_set1_epi32((int)(1u << e)));
    }
    d[e] = _mm512_mask_sub_pd(_mm512_sub_pd(_mm512_setzero_pd(), z[e]), m, one, z[e]);
    acc[e] = _mm512_setzero_pd();
  }
  for (uint32_t q = 0; q < Q; q++) {
    const __m512d t = _mm512_set1_pd(qt[q]);
    LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) f[e] = _mm512_fmadd_pd(t, d[e], z[e]);
    suf[K - 1] = _mm512_set1_pd(1.0);
    LM__SQ_UNROLL for (uint32_t e = K - 1; e > 0; e--) suf[e - 1] = _mm512_mul_pd(suf[e], f[e]);
    __m512d pre = _mm512_set1_pd(qw[q]);
    LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {
      acc[e] = _mm512_fmadd_pd(pre, suf[e], acc[e]);
      pre = _mm512_mul_pd(pre, f[e]);
    }
  }
  const __m512d v = _mm512_loadu_pd(g->v);
  LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++)
    acc[e] = _mm512_mul_pd(acc[e], _mm512_mul_pd(v, d[e]));
  /* each lane adds into its own copy (ph[feature × 8 + lane]): no conflict in a scatter;
   * empty slots and lanes add exactly 0 to feature 0 */
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  LM__SQ_UNROLL for (uint32_t e = 0; e < K; e++) {
    if (g->uni >> e & 1u) { /* one feature: its eight copies are one aligned vector */
      double *c = ph + (size_t)ff[e * LM__SHAP_LANES] * LM__SHAP_LANES;
      _mm512_storeu_pd(c, _mm512_add_pd(_mm512_loadu_pd(c), acc[e]));
      continue;
    }
    __m256i idx = _mm256_add_epi32(
        _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(ff + e * LM__SHAP_LANES)), 3),
        lane);
    __m512d a = _mm512_i32gather_pd(idx, ph, 8);
    _mm512_i32scatter_pd(ph, idx, _mm512_add_pd(a, acc[e]), 8);
  }
}

/* any other K (9 to LM__SHAP_QK): the same body, called with K unknown at compile time (its
 * loops then run, at most unrolled by the pragma), kept out of line */
static __attribute__((noinline)) void
lm__sq_grp512_any(const lm__shap *s, const lm__shap_grp *g, const uint32_t K, const uint32_t *pat_of,
                  double *ph, int vd) {
  lm__sq_grp512(s, g, K, pat_of, ph, vd);
}

/* The driver's switch gives constant K up to 8; others take the loop version. */
#define lm__sq_grp512_sel(s, g, K, pat_of, ph, vd) \
  (__builtin_constant_p(K) ? lm__sq_grp512(s, g, K, pat_of, ph, vd) \
                           : lm__sq_grp512_any(s, g, K, pat_of, ph, vd))

/* Every split of a tree decided at once, sixteen at a time: dec[j] = −1 when split j (sn order)
 * sends the row right (x ≥ threshold, or missing and its default is right), else 0. dec has
 * room for the splits rounded up to 16 (the scratch's pat_of). */
static inline void lm__sq_decide512(const lm__shap *s, const lm__shap_tree *st, const float *x,
                                    uint32_t *dec) {
  const uint32_t b = st->first_split, n = st->n_splits;
  for (uint32_t j = 0; j < n; j += 16) {
    __mmask16 live = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1u);
    __m512i f = _mm512_maskz_loadu_epi32(live, s->sx_feat + b + j);
    __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, f, x, 4);
    __m512 t = _mm512_maskz_loadu_ps(live, s->sx_thr + b + j);
    __m512i dr = _mm512_maskz_loadu_epi32(live, s->sx_dr + b + j);
    __mmask16 right = _mm512_cmp_ps_mask(xv, t, _CMP_GE_OQ) |
                      (_mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q) & _mm512_test_epi32_mask(dr, dr));
    _mm512_storeu_si512(dec + j, _mm512_maskz_set1_epi32(right, -1));
  }
}
#define LM__SQ_DECIDE lm__sq_decide512
#define LM__SQ_GRP lm__sq_grp512_sel
#define LM__SQ_NAME lm__shap_rows__quad_avx512
#include "kernels/shap_quad.h"
