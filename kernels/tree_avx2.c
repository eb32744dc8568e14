/*
 * tree_avx2.c — AVX2 tree-ensemble kernels (compiled with -mavx2 -mfma; run only when the
 * planner saw AVX2 and FMA with OS support). The same two shapes as tree_avx512.c — rows in
 * lanes for batches, trees in lanes for a single row — with 8 lanes, masks held as all-ones
 * vectors instead of mask registers. Sums follow tree order per row: bit-identical to the scalar
 * reference.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tree_common.h"
#include "kernels/tree_perfect.h"

#define LM__V 4
#define LM__L 8

/* map: NULL when idx holds NODES indices, else the perfect layout's slot → NODES index */
static inline __m256i lm__resolve_cat(const lmf_view *v, int cat, __m256i idx, __m256 xv,
                                      __m256i right, const uint32_t *map) {
  uint32_t id[LM__L];
  float xs[LM__L];
  int32_t rt[LM__L];
  _mm256_storeu_si256((__m256i *)id, idx);
  _mm256_storeu_ps(xs, xv);
  _mm256_storeu_si256((__m256i *)rt, right);
  while (cat) {
    int j = __builtin_ctz((unsigned)cat);
    cat &= cat - 1;
    rt[j] = -(int32_t)lm__cat_goes_right(v, &v->nodes[map ? map[id[j]] : id[j]], xs[j]);
  }
  return _mm256_loadu_si256((const __m256i *)rt);
}

/* The decision of 8 lanes at nodes with split words `split` and thresholds thr, feature values
 * xv gathered from rows at xbase + off: an all-ones lane goes right. idx/map: see
 * lm__resolve_cat (categorical splits only). */
static inline __m256i lm__right(const lmf_view *v, __m256i split, __m256 thr, const float *xbase,
                                __m256i off, __m256i idx, const uint32_t *map, int has_cat) {
  const __m256i fmask = _mm256_set1_epi32((int)LMF_SPLIT_FEATURE_MASK);
  const __m256i dlbit = _mm256_set1_epi32((int)LMF_SPLIT_DEFAULT_LEFT);
  __m256i fidx = _mm256_add_epi32(off, _mm256_and_si256(split, fmask));
  __m256 xv = _mm256_i32gather_ps(xbase, fidx, 4);
  __m256i ge = _mm256_castps_si256(_mm256_cmp_ps(xv, thr, _CMP_GE_OQ));
  __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(xv, xv, _CMP_UNORD_Q));
  __m256i dr = _mm256_cmpeq_epi32(_mm256_and_si256(split, dlbit), _mm256_setzero_si256());
  /* right = (ge & ~nan) | (nan & default-right) */
  __m256i right = _mm256_or_si256(_mm256_andnot_si256(nan, ge), _mm256_and_si256(nan, dr));
  if (has_cat) {
    /* the categorical bit is the sign bit of split */
    int cat = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_andnot_si256(nan, split)));
    if (cat) right = lm__resolve_cat(v, cat, idx, xv, right, map);
  }
  return right;
}

/* One step of 8 lanes over NODES; right is an all-ones lane mask, so child = left - mask. */
static inline __m256i lm__step(const lmf_view *v, const int *nw, const float *xbase, __m256i idx,
                               __m256i off, int has_cat) {
  __m256i w = _mm256_slli_epi32(idx, 2);
  __m256i split = _mm256_i32gather_epi32(nw, w, 4);
  __m256 thr = _mm256_i32gather_ps((const float *)nw, _mm256_add_epi32(w, _mm256_set1_epi32(1)), 4);
  __m256i left = _mm256_i32gather_epi32(nw, _mm256_add_epi32(w, _mm256_set1_epi32(2)), 4);
  return _mm256_sub_epi32(left, lm__right(v, split, thr, xbase, off, idx, NULL, has_cat));
}

/* Batches, rows in lanes. With p (the perfect-tree layout of whole trees, tree_perfect.h) node
 * i's children are 2i+1 and 2i+2: a level needs no child index, levels 0–2 (7 nodes) come from
 * one register of thresholds and one of split words by permute, and deeper levels gather two
 * words (threshold, split) instead of the NODES walk's three; the feature value is gathered
 * either way. */
static inline __attribute__((always_inline)) void lm__rows(const lmf_view *v,
                                                           const lm__perfect *p, const float *x,
                                                           size_t n, float *out) {
  const lmf_meta *m = v->meta;
  const int *nw = (const int *)v->nodes;
  const int has_cat = m->n_cat_splits > 0;
  const size_t F = m->num_features, G = m->num_outputs, B = LM__V * LM__L;
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t rows = n - r0 < B ? n - r0 : B;
    const float *xb = x + r0 * F;
    __m256i off[LM__V];
    __m256 acc[LM__V];
    for (int k = 0; k < LM__V; k++) {
      int o[LM__L];
      for (int j = 0; j < LM__L; j++) {
        size_t r = (size_t)(k * LM__L + j);
        o[j] = (int)((r < rows ? r : rows - 1) * F);
      }
      off[k] = _mm256_loadu_si256((const __m256i *)o);
      acc[k] = _mm256_set1_ps(m->base_margin);
    }
    if (G > 1)
      for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < G; g++) out[(r0 + r) * G + g] = m->base_margin;
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const lmf_tree *tr = &v->trees[t];
      __m256i idx[LM__V];
      if (p) {
        const float *thr = p->thr + (size_t)t * p->stride;
        const int *spl = (const int *)p->split + (size_t)t * p->stride;
        const uint32_t *orig = p->orig + (size_t)t * p->stride;
        const __m256 T0 = _mm256_loadu_ps(thr);
        const __m256i S0 = _mm256_loadu_si256((const __m256i *)spl), one = _mm256_set1_epi32(1);
        for (int k = 0; k < LM__V; k++) idx[k] = _mm256_setzero_si256();
        for (uint32_t l = 0; l < p->depth; l++)
          for (int k = 0; k < LM__V; k++) {
            __m256 tv = l < 3 ? _mm256_permutevar8x32_ps(T0, idx[k]) : _mm256_i32gather_ps(thr, idx[k], 4);
            __m256i sv = l < 3 ? _mm256_permutevar8x32_epi32(S0, idx[k]) : _mm256_i32gather_epi32(spl, idx[k], 4);
            __m256i right = lm__right(v, sv, tv, xb, off[k], idx[k], orig, has_cat);
            idx[k] = _mm256_sub_epi32(_mm256_add_epi32(_mm256_slli_epi32(idx[k], 1), one), right);
          }
      } else {
        for (int k = 0; k < LM__V; k++) idx[k] = _mm256_set1_epi32((int)tr->first_node);
        for (uint32_t d = 0; d < tr->depth; d++)
          for (int k = 0; k < LM__V; k++) idx[k] = lm__step(v, nw, xb, idx[k], off[k], has_cat);
      }
      __m256 wt = _mm256_set1_ps(tr->weight);
      for (int k = 0; k < LM__V; k++) {
        __m256 lv = p ? _mm256_i32gather_ps(p->leaf + (size_t)t * p->n_leaf,
                                            _mm256_sub_epi32(idx[k], _mm256_set1_epi32((int)p->n_int)), 4)
                      : _mm256_i32gather_ps((const float *)nw,
                                            _mm256_add_epi32(_mm256_slli_epi32(idx[k], 2), _mm256_set1_epi32(3)), 4);
        __m256 leaf = _mm256_mul_ps(lv, wt);
        if (G == 1) {
          acc[k] = _mm256_add_ps(acc[k], leaf);
        } else {
          float l[LM__L];
          _mm256_storeu_ps(l, leaf);
          for (int j = 0; j < LM__L && (size_t)(k * LM__L + j) < rows; j++)
            out[(r0 + (size_t)(k * LM__L + j)) * G + tr->group] += l[j];
        }
      }
    }
    if (G == 1) {
      float a[B];
      for (int k = 0; k < LM__V; k++) _mm256_storeu_ps(a + k * LM__L, acc[k]);
      memcpy(out + r0, a, rows * sizeof(float));
    }
  }
}

/* The two instances of each: NODES (p folded away) and perfect. */
static void lm__rows_nodes(const lmf_view *v, const float *x, size_t n, float *out) {
  lm__rows(v, NULL, x, n, out);
}
static void lm__rows_perfect(const lmf_view *v, const lm__perfect *p, const float *x, size_t n,
                             float *out) {
  lm__rows(v, p, x, n, out);
}

/* A single row, trees in lanes. With p (perfect-tree layout): two gathers per level (threshold,
 * split word at tree·stride + slot) and the feature value, against NODES' three and one. */
static inline __attribute__((always_inline)) void lm__one_row(const lmf_view *v,
                                                              const lm__perfect *p,
                                                              const float *row, float *o) {
  const lmf_meta *m = v->meta;
  const int *nw = (const int *)v->nodes, *tw = (const int *)v->trees;
  const int has_cat = m->n_cat_splits > 0;
  const uint32_t T = m->n_trees, G = m->num_outputs;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i zero = _mm256_setzero_si256();
  for (uint32_t g = 0; g < G; g++) o[g] = m->base_margin;
  for (uint32_t t0 = 0; t0 < T; t0 += LM__V * LM__L) {
    __m256i idx[LM__V], tsel[LM__V];
    uint32_t depth = 0;
    for (int k = 0; k < LM__V; k++) {
      __m256i t = _mm256_add_epi32(_mm256_set1_epi32((int)(t0 + (uint32_t)k * LM__L)), lane);
      t = _mm256_min_epu32(t, _mm256_set1_epi32((int)(T - 1)));
      tsel[k] = _mm256_slli_epi32(t, 3);
      if (p) {
        idx[k] = _mm256_setzero_si256();
        depth = p->depth;
        continue;
      }
      idx[k] = _mm256_i32gather_epi32(tw, tsel[k], 4);
      uint32_t dk[LM__L];
      _mm256_storeu_si256((__m256i *)dk,
                          _mm256_i32gather_epi32(tw, _mm256_add_epi32(tsel[k], _mm256_set1_epi32(3)), 4));
      for (int j = 0; j < LM__L; j++) if (dk[j] > depth) depth = dk[j];
    }
    if (p) {
      const __m256i one = _mm256_set1_epi32(1), stride = _mm256_set1_epi32((int)p->stride);
      __m256i base[LM__V]; /* tree · stride: slot 0 of each lane's tree */
      for (int k = 0; k < LM__V; k++) base[k] = _mm256_mullo_epi32(_mm256_srli_epi32(tsel[k], 3), stride);
      for (uint32_t d = 0; d < depth; d++)
        for (int k = 0; k < LM__V; k++) {
          __m256i at = _mm256_add_epi32(base[k], idx[k]);
          __m256 tv = _mm256_i32gather_ps(p->thr, at, 4);
          __m256i sv = _mm256_i32gather_epi32((const int *)p->split, at, 4);
          __m256i right = lm__right(v, sv, tv, row, zero, at, p->orig, has_cat);
          idx[k] = _mm256_sub_epi32(_mm256_add_epi32(_mm256_slli_epi32(idx[k], 1), one), right);
        }
    } else {
      for (uint32_t d = 0; d < depth; d++)
        for (int k = 0; k < LM__V; k++) idx[k] = lm__step(v, nw, row, idx[k], zero, has_cat);
    }
    for (int k = 0; k < LM__V; k++) {
      uint32_t tb = t0 + (uint32_t)k * LM__L;
      if (tb >= T) break;
      __m256 wt = _mm256_i32gather_ps((const float *)tw, _mm256_add_epi32(tsel[k], _mm256_set1_epi32(4)), 4);
      __m256 lv;
      if (p) {
        __m256i t = _mm256_srli_epi32(tsel[k], 3);
        __m256i li = _mm256_add_epi32(_mm256_mullo_epi32(t, _mm256_set1_epi32((int)p->n_leaf)),
                                      _mm256_sub_epi32(idx[k], _mm256_set1_epi32((int)p->n_int)));
        lv = _mm256_i32gather_ps(p->leaf, li, 4);
      } else {
        __m256i lw = _mm256_add_epi32(_mm256_slli_epi32(idx[k], 2), _mm256_set1_epi32(3));
        lv = _mm256_i32gather_ps((const float *)nw, lw, 4);
      }
      float l[LM__L];
      _mm256_storeu_ps(l, _mm256_mul_ps(lv, wt));
      uint32_t cnt = T - tb < LM__L ? T - tb : LM__L;
      if (G == 1)
        for (uint32_t j = 0; j < cnt; j++) o[0] += l[j];
      else
        for (uint32_t j = 0; j < cnt; j++) o[v->trees[tb + j].group] += l[j];
    }
  }
}

static void lm__one_row_nodes(const lmf_view *v, const float *row, float *o) {
  lm__one_row(v, NULL, row, o);
}
static void lm__one_row_perfect(const lmf_view *v, const lm__perfect *p, const float *row,
                                float *o) {
  lm__one_row(v, p, row, o);
}

/* Entry points (kernels/registry.c: their needs and batch sizes; the planner checks them). */
LM__KERNEL_F32(lm__tree_margin__avx2) {
  (void)L, (void)scratch;
  lm__rows_nodes(v, x, n, out);
}
LM__KERNEL_F32(lm__tree_margin_one__avx2) {
  (void)L, (void)scratch;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row_nodes(v, x + r * F, out + r * G);
}
/* Batches of at least 16 rows: whole 32-row blocks, and a tail of fewer than 16 rows one by one
 * (a 32-row block costs about as much as 16 single rows). */
LM__KERNEL_F32(lm__tree_margin_perfect__avx2) {
  (void)scratch;
  const lm__perfect *p = L->perfect;
  const size_t F = v->meta->num_features, B = LM__V * LM__L, G = v->meta->num_outputs;
  size_t tail = n % B < B / 2 ? n % B : 0, head = n - tail;
  if (head) lm__rows_perfect(v, p, x, head, out);
  for (size_t r = head; r < n; r++) lm__one_row_perfect(v, p, x + r * F, out + r * G);
}
LM__KERNEL_F32(lm__tree_margin_perfect_one__avx2) {
  (void)scratch;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row_perfect(v, L->perfect, x + r * F, out + r * G);
}
