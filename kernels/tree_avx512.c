/*
 * tree_avx512.c — AVX-512 tree-ensemble kernels (compiled with -mavx512f/bw/dq/vl only; run
 * only when the planner saw the CPU and OS support them).
 *
 * Both kernels rely on the NODES layout of formats/SPEC.md: next = left + go_right, and leaves
 * are fixed points, so every lane runs exactly `depth` steps with no leaf test and no branch.
 * Node fields are gathered as 32-bit words at index 4·node + field. Categorical splits are
 * resolved per lane with the shared scalar rule (tree_common.h) — only when a lane actually sits
 * on a categorical node.
 *
 * - Batch (rows in lanes): 16 rows per vector, LM__V vectors (64 rows) in flight per tree so the
 *   gathers of independent rows overlap; each row adds its trees' leaves in tree order, so sums
 *   are bit-identical to the scalar reference.
 * - Single row (trees in lanes): 16 trees per vector, 4 vectors (64 trees) in flight, each lane
 *   running the longest depth among its vector's trees; the leaves are then added to the output
 *   one by one in tree order (again bit-identical to the reference).
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tree_common.h"
#include "kernels/tree_nodes_avx512.h"

static void lm__rows(const lmf_view *v, const float *x, size_t n, float *out) {
  const lmf_meta *m = v->meta;
  const int *nw = (const int *)v->nodes;
  const int has_cat = m->n_cat_splits > 0;
  const size_t F = m->num_features, G = m->num_outputs, B = LM__V * LM__L;
  for (size_t r0 = 0; r0 < n; r0 += B) {
    size_t rows = n - r0 < B ? n - r0 : B;
    const float *xb = x + r0 * F;
    __m512i off[LM__V];
    __m512 acc[LM__V];
    lm__block_start(m, r0, rows, out, off, acc);
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const lmf_tree *tr = &v->trees[t];
      __m512i idx[LM__V];
      for (int k = 0; k < LM__V; k++) idx[k] = _mm512_set1_epi32((int)tr->first_node);
      for (uint32_t d = 0; d < tr->depth; d++)
        for (int k = 0; k < LM__V; k++) idx[k] = lm__step(v, nw, xb, idx[k], off[k], has_cat, NULL, F);
      __m512 wt = _mm512_set1_ps(tr->weight);
      for (int k = 0; k < LM__V; k++)
        lm__block_add(_mm512_mul_ps(lm__node_leaf(nw, idx[k]), wt), k, r0, rows, G, tr->group, out, &acc[k]);
    }
    if (G == 1) lm__block_store(acc, r0, rows, out);
  }
}

static void lm__one_row(const lmf_view *v, const float *row, float *o) {
  const lmf_meta *m = v->meta;
  const int *nw = (const int *)v->nodes, *tw = (const int *)v->trees;
  const int has_cat = m->n_cat_splits > 0;
  const uint32_t T = m->n_trees, G = m->num_outputs;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i zero = _mm512_setzero_si512();
  const size_t F = m->num_features;
  __m512 R[4];
  lm__row_regs(row, F, R);
  for (uint32_t g = 0; g < G; g++) o[g] = m->base_margin;
  for (uint32_t t0 = 0; t0 < T; t0 += LM__V * LM__L) {
    __m512i idx[LM__V], tsel[LM__V];
    uint32_t depth = 0;
    for (int k = 0; k < LM__V; k++) {
      __m512i t = _mm512_add_epi32(_mm512_set1_epi32((int)(t0 + (uint32_t)k * LM__L)), lane);
      t = _mm512_min_epu32(t, _mm512_set1_epi32((int)(T - 1))); /* tail lanes repeat a tree */
      tsel[k] = _mm512_slli_epi32(t, 3);                        /* 8 words per lmf_tree */
      idx[k] = _mm512_i32gather_epi32(tsel[k], tw, 4);
      __m512i dk = _mm512_i32gather_epi32(_mm512_add_epi32(tsel[k], _mm512_set1_epi32(3)), tw, 4);
      uint32_t dm = (uint32_t)_mm512_reduce_max_epu32(dk);
      if (dm > depth) depth = dm;
    }
    for (uint32_t d = 0; d < depth; d++)
      for (int k = 0; k < LM__V; k++) idx[k] = lm__step(v, nw, row, idx[k], zero, has_cat, R, F);
    for (int k = 0; k < LM__V; k++) {
      uint32_t tb = t0 + (uint32_t)k * LM__L;
      if (tb >= T) break;
      __m512 wt = _mm512_i32gather_ps(_mm512_add_epi32(tsel[k], _mm512_set1_epi32(4)), tw, 4);
      float l[LM__L];
      _mm512_storeu_ps(l, _mm512_mul_ps(lm__node_leaf(nw, idx[k]), wt));
      uint32_t cnt = T - tb < LM__L ? T - tb : LM__L;
      if (G == 1)
        for (uint32_t j = 0; j < cnt; j++) o[0] += l[j];
      else
        for (uint32_t j = 0; j < cnt; j++) o[v->trees[tb + j].group] += l[j];
    }
  }
}

/* Entry points (kernels/registry.c: lane offsets are 32-bit float indices, LM_NEED_I32). */
LM__KERNEL_F32(lm__tree_margin__avx512) {
  (void)L, (void)scratch;
  lm__rows(v, x, n, out);
}
LM__KERNEL_F32(lm__tree_margin_one__avx512) {
  (void)L, (void)scratch;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row(v, x + r * F, out + r * G);
}
