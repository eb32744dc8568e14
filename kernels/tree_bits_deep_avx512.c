/*
 * tree_bits_deep_avx512.c — AVX-512 (+ VBMI) kernels for trees deeper than the perfect layout
 * (LM_PERFECT_MAX_DEPTH) over the records of the bin-and-bitmask layout (tree_bits.h):
 * lm__tree_margin_bits_deep__avx512 (batches, binned 64-row blocks at a time) and
 * lm__tree_margin_bits_deep_one__avx512 (single rows). Per row, 64 trees' walks side by side, a
 * record (six levels) per step; leaves are added per row in tree order, so sums are
 * bit-identical to the scalar reference. Binning, words and exit tables: tree_bits_avx512.h.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_bits_avx512.h"

/* Population count of each 64-bit lane (AVX512BW only: nibble table, byte sums). */
LM__AI __m512i lm__popcnt64(__m512i x) {
  const __m512i tab = _mm512_set4_epi32(0x04030302, 0x03020201, 0x03020201, 0x02010100);
  const __m512i low = _mm512_set1_epi8(0x0F);
  __m512i lo = _mm512_and_si512(x, low), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), low);
  __m512i c = _mm512_add_epi8(_mm512_shuffle_epi8(tab, lo), _mm512_shuffle_epi8(tab, hi));
  return _mm512_sad_epu8(c, _mm512_setzero_si512());
}

/* Deep trees (records, tree_bits.h): one row's walk of every tree, its bins at tbl. 64 trees
 * at a time, 8 in the lanes of each of 8 vectors: per step, each live lane's record gives a
 * word (one byte permute per register pair), the 8 level-6 positions of a vector come from the
 * exit tables at once, and two gathers read the records' headers (leaf mask, first child,
 * first leaf): a lane on a leaf keeps the leaf's index, the others move to their next record
 * (first child + the non-leaf positions before theirs, by popcounts). Records of deep models
 * outgrow L2 (1.4 MB for 100 trees of depth 12), so what counts is how many record loads are
 * in flight: a step reads one record's four lines at once (its header line is prefetched with
 * its node bytes), 64 walks side by side (32: ≈ 25% slower batches), and no branch on the
 * data but the step count. The leaves are gathered at the end and added in tree order. */
#define LM__DV 8 /* vectors of 8 trees per group */
LM__AI void lm__deep_row(const lm__bits *b, const lmf_meta *m, const uint8_t *tbl, float *o,
                         int np, const lm__luts *lut) {
  const uint32_t T = b->n_trees, G = m->num_outputs, dual = b->dual;
  const uint8_t *recs = b->recs;
  const uint32_t *group = b->group;
  const __m512i one = _mm512_set1_epi64(1), lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFFll);
  _Alignas(64) uint64_t W[8], Rr[8];
  _Alignas(64) float lv[8 * LM__DV];
  __m512i tb[8];
  lm__load_tb(tb, tbl, np);
  float acc = m->base_margin;
  for (uint32_t g = 0; g < G; g++) o[g] = m->base_margin;
  for (uint32_t t0 = 0; t0 < T; t0 += 8 * LM__DV) {
    const uint32_t nt = T - t0 < 8 * LM__DV ? T - t0 : 8 * LM__DV;
    __mmask8 live[LM__DV], valid[LM__DV];
    __m512i rec[LM__DV], val[LM__DV];
    unsigned any = 0;
    for (int k = 0; k < LM__DV; k++) {
      uint32_t tk = t0 + 8 * k, nk = nt > 8u * k ? (nt - 8 * k < 8 ? nt - 8 * k : 8) : 0;
      valid[k] = live[k] = (__mmask8)((1u << nk) - 1);
      any |= live[k];
      /* record byte offsets: tree tk + i's root; lanes past the last tree repeat it (dead) */
      rec[k] = _mm512_min_epu64(_mm512_add_epi64(_mm512_set1_epi64(tk), lane), _mm512_set1_epi64(T - 1));
      rec[k] = _mm512_slli_epi64(rec[k], 8); /* × LM_BITS_REC_BYTES */
      val[k] = _mm512_setzero_si512();
    }
    while (any) {
      any = 0;
      for (int k = 0; k < LM__DV; k++) {
        if (!live[k]) continue;
        _mm512_store_si512(Rr, rec[k]);
        for (int i = 0; i < 8; i++) _mm_prefetch((const char *)recs + Rr[i] + 192, _MM_HINT_T0);
        for (int i = 0; i < 8; i++) W[i] = lm__word(recs + Rr[i], tb, np, dual);
        __m512i pos = lm__pos8(lut, _mm512_load_si512(W));
        __m512i lm = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), live[k], rec[k], recs + 208, 1);
        __m512i hd = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), live[k], rec[k], recs + 216, 1);
        __m512i below = _mm512_sub_epi64(_mm512_sllv_epi64(one, pos), one);
        __mmask8 leaf = _mm512_mask_test_epi64_mask(live[k], _mm512_srlv_epi64(lm, pos), one);
        __m512i li = _mm512_add_epi64(_mm512_srli_epi64(hd, 32), lm__popcnt64(_mm512_and_si512(lm, below)));
        __m512i ci = _mm512_add_epi64(_mm512_and_si512(hd, lo32), lm__popcnt64(_mm512_andnot_si512(lm, below)));
        val[k] = _mm512_mask_mov_epi64(val[k], leaf, li);
        live[k] &= (__mmask8)~leaf;
        rec[k] = _mm512_mask_mov_epi64(rec[k], live[k], _mm512_slli_epi64(ci, 8));
        any |= live[k];
      }
    }
    for (int k = 0; k < LM__DV; k++)
      _mm256_store_ps(lv + 8 * k, _mm512_mask_i64gather_ps(_mm256_setzero_ps(), valid[k], val[k], b->recleaf, 4));
    if (G == 1)
      for (uint32_t i = 0; i < nt; i++) acc += lv[i];
    else
      for (uint32_t i = 0; i < nt; i++) o[group[t0 + i]] += lv[i];
  }
  if (G == 1) o[0] = acc;
}

/* Single rows (a row's table on the stack) and batches (64-row blocks: binned rows in lanes,
 * then walked row by row; their 32 KB table in a function of its own, so that single rows do
 * not reserve it). */
LM__AI void lm__deep_rows_np(const lm__bits *b, const lmf_meta *m, const float *x, size_t n,
                             float *out, int np) {
  const size_t F = b->num_features, G = m->num_outputs;
  const lm__luts lut = lm__load_luts(b);
  _Alignas(64) uint8_t t1[128 * 4];
  memset(t1, 0, 128 * (size_t)np);
  for (size_t r = 0; r < n; r++) {
    lm__bin_row(b, x + r * F, t1);
    lm__deep_row(b, m, t1, out + r * G, np, &lut);
  }
}

LM__AI void lm__deep_batch_np(const lm__bits *b, const lmf_meta *m, const float *x, size_t n,
                              float *out, int np) {
  const size_t F = b->num_features, G = m->num_outputs, stride = 128 * (size_t)np;
  const lm__luts lut = lm__load_luts(b);
  _Alignas(64) uint8_t tbl[LM__BLOCK * 128 * 4];
  for (size_t r0 = 0; r0 < n; r0 += LM__BLOCK) {
    size_t rows = n - r0 < LM__BLOCK ? n - r0 : LM__BLOCK;
    lm__bits_bin_block(b, x + r0 * F, rows, (rows + 15) & ~(size_t)15, tbl);
    for (size_t r = 0; r < rows; r++)
      lm__deep_row(b, m, tbl + stride * r, out + (r0 + r) * G, np, &lut);
  }
}

static __attribute__((noinline)) void lm__deep_batch(const lm__bits *b, const lmf_meta *m,
                                                     const float *x, size_t n, float *out) {
  switch (b->npairs) {
  case 1: lm__deep_batch_np(b, m, x, n, out, 1); break;
  case 2: lm__deep_batch_np(b, m, x, n, out, 2); break;
  case 3: lm__deep_batch_np(b, m, x, n, out, 3); break;
  default: lm__deep_batch_np(b, m, x, n, out, 4); break;
  }
}

static void lm__deep_rows(const lm__bits *b, const lmf_meta *m, const float *x, size_t n,
                          float *out) {
  switch (b->npairs) {
  case 1: lm__deep_rows_np(b, m, x, n, out, 1); break;
  case 2: lm__deep_rows_np(b, m, x, n, out, 2); break;
  case 3: lm__deep_rows_np(b, m, x, n, out, 3); break;
  default: lm__deep_rows_np(b, m, x, n, out, 4); break;
  }
}

/* Trees deeper than LM_PERFECT_MAX_DEPTH over the records of the bin-and-bitmask layout
 * (LM_NEED_BITS | LM_NEED_TOP): batches binned a block at a time, and single rows (the planner
 * gives them calls below 12 rows). */
LM__KERNEL_F32(lm__tree_margin_bits_deep__avx512) {
  (void)scratch;
  lm__deep_batch(L->bits, v->meta, x, n, out);
}
LM__KERNEL_F32(lm__tree_margin_bits_deep_one__avx512) {
  (void)scratch;
  lm__deep_rows(L->bits, v->meta, x, n, out);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
