/*
 * tree_lgbm_avx512.c — AVX-512 kernels for decision 1 (LightGBM) models: the semantics of
 * tree_lgbm_scalar.c (decisions of formats/SPEC.md, leaves summed per output in double in tree
 * order, averaged, rounded to float32), 8 lanes of doubles.
 *
 * Over NODES and NODE_F64 (any depth), every lane running its tree's depth in steps, branch
 * free: a lane on a leaf stays there (left == self and go-right masked off). A step gathers the
 * split word, the left child, the threshold and the feature value. Float32 rows decide as the
 * float32 reference does (x ≥ the normalised float32 threshold, |x| ≤ 1e-35f as missing);
 * float64 rows as the float64 reference (x > the double threshold). Categorical lanes are
 * resolved with the shared scalar rule (tree_common.h).
 *
 * - Batch (rows in lanes): 8 rows per vector, 4 vectors (32 rows) in flight per tree; each row
 *   adds its leaves in tree order in double: bit-identical to the reference.
 * - Single row (trees in lanes): 8 trees per vector, 4 vectors in flight; the leaves are then
 *   added in tree order.
 * Linear trees (LMF_TREE_LINEAR) are not handled: the planner installs these kernels only for
 * models without them (LM_NEED_NO_LINEAR_TREES).
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tree_common.h"

#define LM__V 4
#define LM__L 8
#define LM__GMAX 16 /* batch outputs kept per row on the stack; more: the single-row path */

typedef struct {
  __m256 x;
  __mmask8 miss, gt;
} lm__lanes_f32;
typedef struct {
  __m512d x;
  __mmask8 miss, gt;
} lm__lanes_f64;

/* Feature values of 8 lanes, their missing mask and their comparison with the thresholds. */
static inline lm__lanes_f32 lm__decide_f32(const lmf_view *v, const float *xb, __m256i off,
                                           __m256i idx, __m256i split, __m256i w4) {
  (void)idx;
  __m256i f = _mm256_and_si256(split, _mm256_set1_epi32((int)LMF_SPLIT_FEATURE_MASK));
  __m256 x = _mm256_i32gather_ps(xb, _mm256_add_epi32(off, f), 4);
  __m256 t = _mm256_i32gather_ps((const float *)v->nodes, _mm256_add_epi32(w4, _mm256_set1_epi32(1)), 4);
  __mmask8 nan = _mm256_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  __mmask8 zm = (__mmask8)(_mm256_test_epi32_mask(split, _mm256_set1_epi32((int)LMF_SPLIT_ZERO_MISSING)) &
                           _mm256_cmp_ps_mask(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
                                              _mm256_set1_ps(LMF_ZERO_THRESHOLD), _CMP_LE_OQ));
  lm__lanes_f32 r = {x, (__mmask8)(nan | zm), _mm256_cmp_ps_mask(x, t, _CMP_GE_OQ)};
  return r;
}

static inline lm__lanes_f64 lm__decide_f64(const lmf_view *v, const double *xb, __m256i off,
                                           __m256i idx, __m256i split, __m256i w4) {
  (void)w4;
  __m256i f = _mm256_and_si256(split, _mm256_set1_epi32((int)LMF_SPLIT_FEATURE_MASK));
  __m512d x = _mm512_i32gather_pd(_mm256_add_epi32(off, f), xb, 8);
  __m512d t = _mm512_i32gather_pd(idx, v->node_f64, 8);
  __mmask8 nan = _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q);
  __mmask8 zm = (__mmask8)(_mm256_test_epi32_mask(split, _mm256_set1_epi32((int)LMF_SPLIT_ZERO_MISSING)) &
                           _mm512_cmp_pd_mask(_mm512_abs_pd(x), _mm512_set1_pd((double)LMF_ZERO_THRESHOLD),
                                              _CMP_LE_OQ));
  lm__lanes_f64 r = {x, (__mmask8)(nan | zm), _mm512_cmp_pd_mask(x, t, _CMP_GT_OQ)};
  return r;
}

/* Categorical lanes `cat` (x not missing) decided in lanes: the node's set (its CATSETS entry,
 * by the node's cat_set word) and the set's word holding the category, by gathers. ok0: the
 * lanes whose x is a valid category so far (LightGBM: x > −1, so that −0.5 is category 0, and
 * x < 2^24), c: x truncated toward zero; a category past the set goes left (SPEC.md,
 * Decisions: LM__CAT_GOES_RIGHT's rule). Lane by lane through NODES and CATSETS, categorical
 * models ran slower in lanes than the scalar reference, which they were left to. */
static inline __mmask8 lm__cat_lanes(const lmf_view *v, __mmask8 cat, __m256i w4, __mmask8 ok0,
                                     __m256i c, __mmask8 right) {
  const __m256i z = _mm256_setzero_si256();
  __m256i cs = _mm256_mmask_i32gather_epi32(z, cat, _mm256_add_epi32(w4, _mm256_set1_epi32(3)),
                                            (const int *)v->nodes, 4);
  __m512i set = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), cat, cs,
                                            (const long long *)(const void *)v->catsets, 8);
  __m256i off = _mm512_cvtepi64_epi32(set), nwords = _mm512_cvtepi64_epi32(_mm512_srli_epi64(set, 32));
  __m256i wi = _mm256_srli_epi32(c, 5);
  __mmask8 ok = (__mmask8)(ok0 & cat & _mm256_cmplt_epu32_mask(wi, nwords));
  __m256i w = _mm256_mmask_i32gather_epi32(z, ok, _mm256_add_epi32(off, wi),
                                           (const int *)v->cat_words, 4);
  __mmask8 in = _mm256_mask_test_epi32_mask(
      ok, _mm256_srlv_epi32(w, _mm256_and_si256(c, _mm256_set1_epi32(31))), _mm256_set1_epi32(1));
  return (__mmask8)((right & ~cat) | in);
}
static inline __mmask8 lm__cat_f32(const lmf_view *v, __mmask8 cat, __m256i w4, __m256 x,
                                   __mmask8 right) {
  __mmask8 ok0 = (__mmask8)(_mm256_cmp_ps_mask(x, _mm256_set1_ps(-1.0f), _CMP_GT_OQ) &
                            _mm256_cmp_ps_mask(x, _mm256_set1_ps(16777216.0f), _CMP_LT_OQ));
  return lm__cat_lanes(v, cat, w4, ok0, _mm256_maskz_cvttps_epi32(ok0, x), right);
}
static inline __mmask8 lm__cat_f64(const lmf_view *v, __mmask8 cat, __m256i w4, __m512d x,
                                   __mmask8 right) {
  __mmask8 ok0 = (__mmask8)(_mm512_cmp_pd_mask(x, _mm512_set1_pd(-1.0), _CMP_GT_OQ) &
                            _mm512_cmp_pd_mask(x, _mm512_set1_pd(16777216.0), _CMP_LT_OQ));
  return lm__cat_lanes(v, cat, w4, ok0, _mm512_maskz_cvttpd_epi32(ok0, x), right);
}

/* One step of 8 lanes (T: f32 or f64). */
#define LM__DEFINE_STEP(T, ROW)                                                                  \
  static inline __m256i lm__step_##T(const lmf_view *v, const ROW *xb, __m256i off, __m256i idx, \
                                     int has_cat, __mmask8 *inner) {                             \
    const int *nw = (const int *)v->nodes;                                                       \
    __m256i w4 = _mm256_slli_epi32(idx, 2);                                                      \
    __m256i split = _mm256_i32gather_epi32(nw, w4, 4);                                           \
    __m256i left = _mm256_i32gather_epi32(nw, _mm256_add_epi32(w4, _mm256_set1_epi32(2)), 4);    \
    lm__lanes_##T d = lm__decide_##T(v, xb, off, idx, split, w4);                                \
    __mmask8 dl = _mm256_test_epi32_mask(split, _mm256_set1_epi32((int)LMF_SPLIT_DEFAULT_LEFT)); \
    __mmask8 right = (__mmask8)((d.gt & ~d.miss) | (d.miss & ~dl));                              \
    if (has_cat) {                                                                               \
      __mmask8 cat = (__mmask8)(_mm256_test_epi32_mask(                                          \
                                    split, _mm256_set1_epi32((int)LMF_SPLIT_CATEGORICAL)) &      \
                                ~d.miss);                                                        \
      if (cat) right = lm__cat_##T(v, cat, w4, d.x, right);                                      \
    }                                                                                            \
    *inner = _mm256_cmpneq_epi32_mask(left, idx); /* leaves are fixed points */                  \
    right &= *inner;                                                                             \
    return _mm256_mask_add_epi32(left, right, left, _mm256_set1_epi32(1));                       \
  }
LM__DEFINE_STEP(f32, float)
LM__DEFINE_STEP(f64, double)

static void lm__finish(const lmf_meta *m, const double *acc, float *o) {
  for (uint32_t g = 0; g < m->num_outputs; g++)
    o[g] = (float)(m->average_over ? acc[g] / m->average_over : acc[g]);
}

#define LM__DEFINE_KERNELS(T, ROW)                                                    \
  static void lm__one_row_##T(const lmf_view *v, const ROW *row, float *o, double *acc) {        \
    const lmf_meta *m = v->meta;                                                                 \
    const int *tw = (const int *)v->trees;                                                       \
    const int has_cat = m->n_cat_splits > 0;                                                     \
    const uint32_t T_ = m->n_trees, G = m->num_outputs;                                          \
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), zero = _mm256_setzero_si256(); \
    for (uint32_t g = 0; g < G; g++) acc[g] = m->base_margin;                                    \
    for (uint32_t t0 = 0; t0 < T_; t0 += LM__V * LM__L) {                                        \
      __m256i idx[LM__V];                                                                        \
      uint32_t depth = 0;                                                                        \
      for (int k = 0; k < LM__V; k++) {                                                          \
        __m256i t = _mm256_add_epi32(_mm256_set1_epi32((int)(t0 + (uint32_t)k * LM__L)), lane);  \
        t = _mm256_min_epu32(t, _mm256_set1_epi32((int)(T_ - 1)));                               \
        __m256i ts = _mm256_slli_epi32(t, 3); /* 8 words per lmf_tree */                         \
        idx[k] = _mm256_i32gather_epi32(tw, ts, 4);                                              \
        __m256i dk = _mm256_i32gather_epi32(tw, _mm256_add_epi32(ts, _mm256_set1_epi32(3)), 4);  \
        uint32_t dd[LM__L];                                                                      \
        _mm256_storeu_si256((__m256i *)dd, dk);                                                  \
        for (int j = 0; j < LM__L; j++) depth = dd[j] > depth ? dd[j] : depth;                   \
      }                                                                                          \
      for (uint32_t d = 0; d < depth; d++) { /* until every lane sits on a leaf */               \
        __mmask8 in[LM__V];                                                                      \
        for (int k = 0; k < LM__V; k++) idx[k] = lm__step_##T(v, row, zero, idx[k], has_cat, &in[k]); \
        if (!(in[0] | in[1] | in[2] | in[3])) break;                                             \
      }                                                                                          \
      for (int k = 0; k < LM__V; k++) {                                                          \
        uint32_t tb = t0 + (uint32_t)k * LM__L;                                                  \
        if (tb >= T_) break;                                                                     \
        uint32_t id[LM__L];                                                                      \
        _mm256_storeu_si256((__m256i *)id, idx[k]);                                              \
        uint32_t cnt = T_ - tb < LM__L ? T_ - tb : LM__L;                                        \
        for (uint32_t j = 0; j < cnt; j++) {                                                     \
          const lmf_tree *tr = &v->trees[tb + j];                                                \
          acc[tr->group] += v->node_f64[id[j]] * tr->weight;                                     \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
    lm__finish(m, acc, o);                                                                       \
  }                                                                                              \
                                                                                                 \
  static void lm__rows_##T(const lmf_view *v, const ROW *x, size_t n, float *out) {              \
    const lmf_meta *m = v->meta;                                                                 \
    const int has_cat = m->n_cat_splits > 0;                                                     \
    const size_t F = m->num_features, G = m->num_outputs, B = LM__V * LM__L;                     \
    double accb[LM__V * LM__L * LM__GMAX];                                                       \
    for (size_t r0 = 0; r0 < n; r0 += B) {                                                       \
      size_t rows = n - r0 < B ? n - r0 : B;                                                     \
      const ROW *xb = x + r0 * F;                                                                \
      __m256i off[LM__V];                                                                        \
      __m512d acc[LM__V];                                                                        \
      for (int k = 0; k < LM__V; k++) {                                                          \
        int o[LM__L];                                                                            \
        for (int j = 0; j < LM__L; j++) {                                                        \
          size_t r = (size_t)(k * LM__L + j);                                                    \
          o[j] = (int)((r < rows ? r : rows - 1) * F); /* tail lanes repeat the last row */      \
        }                                                                                        \
        off[k] = _mm256_loadu_si256((const __m256i *)o);                                         \
        acc[k] = _mm512_set1_pd((double)m->base_margin);                                         \
      }                                                                                          \
      if (G > 1)                                                                                 \
        for (size_t i = 0; i < rows * G; i++) accb[i] = m->base_margin;                          \
      for (uint32_t t = 0; t < m->n_trees; t++) {                                                \
        const lmf_tree *tr = &v->trees[t];                                                       \
        __m256i idx[LM__V];                                                                      \
        for (int k = 0; k < LM__V; k++) idx[k] = _mm256_set1_epi32((int)tr->first_node);         \
        for (uint32_t d = 0; d < tr->depth; d++) {                                               \
          __mmask8 in[LM__V];                                                                    \
          for (int k = 0; k < LM__V; k++)                                                        \
            idx[k] = lm__step_##T(v, xb, off[k], idx[k], has_cat, &in[k]);                       \
          if (!(in[0] | in[1] | in[2] | in[3])) break;                                           \
        }                                                                                        \
        __m512d wt = _mm512_set1_pd((double)tr->weight);                                         \
        for (int k = 0; k < LM__V; k++) {                                                        \
          __m512d leaf = _mm512_mul_pd(_mm512_i32gather_pd(idx[k], v->node_f64, 8), wt);         \
          if (G == 1) {                                                                          \
            acc[k] = _mm512_add_pd(acc[k], leaf);                                                \
          } else {                                                                               \
            double l[LM__L];                                                                     \
            _mm512_storeu_pd(l, leaf);                                                           \
            for (int j = 0; j < LM__L && (size_t)(k * LM__L + j) < rows; j++)                    \
              accb[(size_t)(k * LM__L + j) * G + tr->group] += l[j];                             \
          }                                                                                      \
        }                                                                                        \
      }                                                                                          \
      if (G == 1) {                                                                              \
        double a[LM__V * LM__L];                                                                 \
        for (int k = 0; k < LM__V; k++) _mm512_storeu_pd(a + k * LM__L, acc[k]);                 \
        for (size_t r = 0; r < rows; r++) lm__finish(m, a + r, out + r0 + r);                    \
      } else {                                                                                   \
        for (size_t r = 0; r < rows; r++) lm__finish(m, accb + r * G, out + (r0 + r) * G);       \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \

LM__DEFINE_KERNELS(f32, float)
LM__DEFINE_KERNELS(f64, double)

/* Entry points (kernels/registry.c). Rows in lanes: the planned batch kernel (≥ 8 rows, no
 * categorical split: below that the reference wins on this CPU class) and a test variant for
 * every batch size and model (categorical lanes decided in lanes by gathers: measured against
 * the reference on the five categorical LightGBM fixtures of the zoo, from 8 to 10,000 rows,
 * between 30% faster and 40% slower, so categorical models stay on the reference). Trees in
 * lanes (single rows):
 * kept for the tests and for CPUs with cheaper gathers; not planned (docs/performance.md). */
LM__KERNEL_F32(lm__tree_margin_lgbm_rows__avx512) {
  (void)L, (void)scratch;
  lm__rows_f32(v, x, n, out);
}
LM__KERNEL_F64(lm__tree_margin_lgbm_rows_f64__avx512) {
  (void)L, (void)scratch;
  lm__rows_f64(v, x, n, out);
}
LM__KERNEL_F32(lm__tree_margin_lgbm_one__avx512) {
  (void)L;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row_f32(v, x + r * F, out + r * G, scratch);
}
LM__KERNEL_F64(lm__tree_margin_lgbm_one_f64__avx512) {
  (void)L;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row_f64(v, x + r * F, out + r * G, scratch);
}
