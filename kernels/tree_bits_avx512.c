/*
 * tree_bits_avx512.c — AVX-512 (+ VBMI byte permutes) kernels over the bin-and-bitmask layout
 * (tree_bits.h). Hand-written because the layout only pays with these instructions: byte
 * permutes as 128-entry table lookups, compares into masks, and control over which work sits
 * in lanes (rows, trees or features) at each step.
 *
 * Bins. Rows become bytes, one per column (tree_bits.h: 254-threshold segments of the used
 * features). One row (single-row calls): a 16-ary search per used feature outside the counted
 * groups, one compare of 16 thresholds per level (2 levels up to 255 thresholds, 3 up to 4,095,
 * 4 beyond), then its columns; the counted groups as in a block (lm__bits_bin_lin). A batch
 * block: rows in lanes, a branch-free binary search per used feature over its Eytzinger-ordered
 * thresholds (levels 1–7 held in registers, 8 by permutes from memory, deeper ones by gathers,
 * the block's 16-row groups side by side), with 16 × 16 transposes in and out; only
 * 16-feature tiles holding a used feature are read.
 *
 * Words. Per (row, tree), one byte permute picks each node's bin from the row's 128-byte table,
 * a subtraction and an unsigned compare decide the tree's first 63 nodes: a 64-bit word. More
 * than 128 columns (2, 3 or 4 register pairs): one permute per pair and blends on the column's
 * bits 7 and 8 (per-tree masks), the same in the bottom blocks (bits from header byte 6). The
 * level-6 position comes from the words 8 at a time (two exit-table permutes). Every function
 * taking `np` is instantiated for 1, 2, 3, 4, 6 and 8 pairs (always inlined, dispatched once per
 * call: LM__NP_DISPATCH).
 *
 * Leaves. Depth ≤ 6: the tree's leaves by permutes, 16 rows in lanes. Depth 7–8: levels 6–7 of
 * 8 trees at a time, in lanes, from one gather of their bottom-block headers (lm__bottom8).
 *
 * - Single row: trees in lanes (8 per vector); the row's leaves are then added in tree order.
 * - Batch, depth ≤ 6: blocks of 64 rows; 4 trees' words per pass over the rows, then each
 *   tree's leaves with rows in lanes, added to per-row sums (vectors of 16 rows) tree by tree.
 * - Batch, depth 7–8: blocks of 64 rows, groups of 8 trees: words (4 trees per pass), then per
 *   row the 8 trees' positions and leaves in lanes, then per row the leaves added in tree order
 *   with the sum in a register.
 * - Deep trees (records, tree_bits.h): tree_bits_deep_avx512.c, with what both files share
 *   (binning, a row's table in registers, words, exit tables) in tree_bits_avx512.h.
 * Leaves are stored × tree weight and added per row in tree order: sums are bit-identical to
 * the scalar reference; decisions are identical by construction. The planner gives
 * them only models whose layout was built, on CPUs with VBMI and VPOPCNTDQ.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_bits_avx512.h" /* switches VBMI on for this file */
#include "kernels/tree_perfect.h"

#define LM__DBLOCK 64 /* rows per block (as LM__BLOCK) for trees of depth 7–8, whose bottom blocks (2 KB per tree)
                          make the model larger than L2 */
#define LM__GMAX 16  /* outputs summed on the stack in a block (10-class models included) */
#define LM__TB 64    /* trees per single-row pass */

/* 16 × 16 floats transposed in registers: r[i] holds row i on entry, column i on exit. */
static inline void lm__tr16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) { /* per 128-bit lane: rows i, i+1 interleaved */
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) { /* u[i + c]: lane-relative column c of rows i … i+3 */
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) { /* column 4·lane + c: lane `lane` of u[c], u[4+c], u[8+c], u[12+c] */
    __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), v2 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
    __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    __m512 v4 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    r[4 + c] = _mm512_shuffle_f32x4(v2, v4, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(v2, v4, 0xDD);
  }
}

/* The bins of one counted group (tree_bits.h, lm__bits_lin) for R rows (lanes past `rows`
 * repeat the last row): per row, its 16 features in lanes, bin = #{j : t_j ≤ x} over the K
 * threshold vectors. K is a constant (one instantiation per K ≤ LM_BITS_LIN_K): the thresholds
 * stay in registers across the rows, and the compares are counted in two accumulators, so that
 * no chain of K dependent subtractions sets the pace (hist256-bin600: binning was two thirds of
 * a batch, most of it in that chain). */
LM__AI void lm__lin_rows(const lm__bits *b, const lm__bits_lin *q, const float *x, size_t rows,
                         size_t R, uint8_t *tbl, const int K) {
  const size_t F = b->num_features, stride = 128 * (size_t)b->npairs;
  const float *T = b->thr + q->thr + 16;
  const __m512i pidx = _mm512_load_si512(b->thr + q->thr), m1 = _mm512_set1_epi32(-1);
  const __m512i nanbin = _mm512_set1_epi32(255);
  const __mmask16 mhi = (__mmask16)((1u << q->hi_n) - 1);
  __m512 t[LM_BITS_LIN_K];
  for (int j = 0; j < K; j++) t[j] = _mm512_load_ps(T + 16 * j);
  for (size_t r = 0; r < R; r++) {
    const float *row = x + (r < rows ? r : rows - 1) * F + q->f0;
    __m512 xv = _mm512_loadu_ps(row);
    if (q->wide) xv = _mm512_permutex2var_ps(xv, pidx, _mm512_maskz_loadu_ps(mhi, row + 16));
    __m512i c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512();
    for (int j = 0; j < K; j += 2) {
      c0 = _mm512_mask_sub_epi32(c0, _mm512_cmp_ps_mask(t[j], xv, _CMP_LE_OQ), c0, m1);
      if (j + 1 < K)
        c1 = _mm512_mask_sub_epi32(c1, _mm512_cmp_ps_mask(t[j + 1], xv, _CMP_LE_OQ), c1, m1);
    }
    __m512i c = _mm512_add_epi32(c0, c1);
    uint8_t *o = tbl + stride * r + q->col;
    if (b->dual) _mm_storeu_si128((__m128i *)(o + 64), _mm512_cvtepi32_epi8(c)); /* NaN: 0 */
    c = _mm512_mask_mov_epi32(c, _mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q), nanbin);
    _mm_storeu_si128((__m128i *)o, _mm512_cvtepi32_epi8(c));
  }
}

void lm__bits_bin_lin(const lm__bits *b, const float *x, size_t rows, size_t R, uint8_t *tbl) {
  for (uint32_t g = 0; g < b->n_lin; g++) {
    const lm__bits_lin *q = &b->lin[g];
#define LM__LIN(K) lm__lin_rows(b, q, x, rows, R, tbl, K)
    switch (q->K) {
    case 1: LM__LIN(1); break;
    case 2: LM__LIN(2); break;
    case 3: LM__LIN(3); break;
    case 4: LM__LIN(4); break;
    case 5: LM__LIN(5); break;
    case 6: LM__LIN(6); break;
    case 7: LM__LIN(7); break;
    case 8: LM__LIN(8); break;
    case 9: LM__LIN(9); break;
    case 10: LM__LIN(10); break;
    case 11: LM__LIN(11); break;
    default: LM__LIN(LM_BITS_LIN_K); break;
    }
#undef LM__LIN
  }
}

/* The bins of a block of rows (R = rows rounded up to 16 ≤ LM__BLOCK; lanes past `rows`
 * repeat the last row) into tbl[stride·r + c] (stride = 128 · npairs), rows in lanes: per 16
 * row features holding a used feature, the block is transposed (16 × 16 tiles); then per used
 * feature, its search tables in registers (lm__bits_eyt), L steps j = 2j + [t_j ≤ x] per 16
 * rows: one permute, one compare and two additions per step (levels 1–7 from registers, deeper
 * ones by a gather) instead of the per-row kernel's compares and their mask-to-integer moves
 * per (row, feature) — binning was 40% of a `small` batch. The bin then gives each of the
 * feature's columns (a clamp), feature-major (16 rows per column), transposed back as bytes
 * with permutes. Identical bins: the same predicate t ≤ x on the same thresholds
 * (tree_bits.h). */
void lm__bits_bin_block(const lm__bits *b, const float *x, size_t rows, size_t R, uint8_t *tbl) {
  const uint32_t F = b->num_features, U = b->n_used, V = b->n_cols;
  const uint32_t V16 = (V + 15) & ~15u;
  const size_t stride = 128 * (size_t)b->npairs;
  _Alignas(64) float xT[16 * LM__BLOCK]; /* xT[i·64 + r]: feature f0 + i of row r */
  _Alignas(64) uint8_t binT[(LM__BLOCK / 16) * LM_BITS_MAX_COLUMNS * 16]; /* [g][c][16 rows] */
  const __m512i one = _mm512_set1_epi32(1), b5 = _mm512_set1_epi32(32), b6 = _mm512_set1_epi32(64);
  const __m512i nanbin = _mm512_set1_epi32(255), seg = _mm512_set1_epi32(LM_BITS_SEG);
  const __m512i zero = _mm512_setzero_si512();
  /* The block's rows are one contiguous region, read below in 16-column tiles, 64 rows apart:
   * touch it in order first, so that the hardware streams it in (wide rows: 60% of binning
   * went to those loads' misses). */
  for (size_t i = 0; i < rows * F * sizeof(float); i += 64) _mm_prefetch((const char *)x + i, _MM_HINT_T0);
  for (uint32_t ui = 0; ui < U;) {
    if (b->feat[ui].lin) { /* counted below */
      ui++;
      continue;
    }
    const uint32_t f0 = b->feat[ui].f & ~15u;
    __mmask16 m = F - f0 >= 16 ? 0xFFFF : (__mmask16)((1u << (F - f0)) - 1);
    for (size_t r0 = 0; r0 < R; r0 += 16) {
      __m512 t[16];
      for (int i = 0; i < 16; i++) {
        size_t r = r0 + i < rows ? r0 + i : rows - 1;
        t[i] = _mm512_maskz_loadu_ps(m, x + r * F + f0);
      }
      lm__tr16(t);
      for (uint32_t i = 0; i < 16; i++) _mm512_store_ps(xT + i * LM__BLOCK + r0, t[i]);
    }
    for (; ui < U && b->feat[ui].f < f0 + 16; ui++) {
      const lm__bits_feat *u = &b->feat[ui];
      if (u->lin) continue;
      const uint32_t L = u->L;
      const float *e = lm__bits_eyt(b, u), *xf = xT + (u->f - f0) * LM__BLOCK;
      const __m512i base = _mm512_set1_epi32(1 << L);
      __m512 E0 = _mm512_load_ps(e), E1 = _mm512_load_ps(e + 16), E2, E3, E4, E5, E6, E7;
      E2 = E3 = E4 = E5 = E6 = E7 = E0;
      if (L >= 6) E2 = _mm512_load_ps(e + 32), E3 = _mm512_load_ps(e + 48);
      if (L >= 7)
        E4 = _mm512_load_ps(e + 64), E5 = _mm512_load_ps(e + 80), E6 = _mm512_load_ps(e + 96),
        E7 = _mm512_load_ps(e + 112);
      /* the 16-row groups' searches side by side: levels past 8 are dependent gathers, whose
       * latency the groups hide from each other */
      __m512i jg[LM__BLOCK / 16];
      for (size_t r0 = 0; r0 < R; r0 += 16) {
        __m512 xv = _mm512_load_ps(xf + r0);
        __m512i j = one;
        for (uint32_t k = 1; k <= L && k <= 5; k++) { /* nodes 1–31: one two-register table */
          __mmask16 ge = _mm512_cmp_ps_mask(_mm512_permutex2var_ps(E0, j, E1), xv, _CMP_LE_OQ);
          j = _mm512_add_epi32(j, j);
          j = _mm512_mask_add_epi32(j, ge, j, one);
        }
        if (L >= 6) { /* nodes 32–63 */
          __mmask16 ge = _mm512_cmp_ps_mask(_mm512_permutex2var_ps(E2, j, E3), xv, _CMP_LE_OQ);
          j = _mm512_add_epi32(j, j);
          j = _mm512_mask_add_epi32(j, ge, j, one);
        }
        if (L >= 7) { /* nodes 64–127: bit 5 of j picks the register pair */
          __m512 tv = _mm512_mask_blend_ps(_mm512_test_epi32_mask(j, b5), _mm512_permutex2var_ps(E4, j, E5),
                                           _mm512_permutex2var_ps(E6, j, E7));
          __mmask16 ge = _mm512_cmp_ps_mask(tv, xv, _CMP_LE_OQ);
          j = _mm512_add_epi32(j, j);
          j = _mm512_mask_add_epi32(j, ge, j, one);
        }
        if (L >= 8) { /* nodes 128–255, from memory by permutes */
          const float *e8 = e + 128;
          __mmask16 s5 = _mm512_test_epi32_mask(j, b5), s6 = _mm512_test_epi32_mask(j, b6);
          __m512 lo = _mm512_mask_blend_ps(s5, _mm512_permutex2var_ps(_mm512_load_ps(e8), j, _mm512_load_ps(e8 + 16)),
                                           _mm512_permutex2var_ps(_mm512_load_ps(e8 + 32), j, _mm512_load_ps(e8 + 48)));
          __m512 hi = _mm512_mask_blend_ps(s5, _mm512_permutex2var_ps(_mm512_load_ps(e8 + 64), j, _mm512_load_ps(e8 + 80)),
                                           _mm512_permutex2var_ps(_mm512_load_ps(e8 + 96), j, _mm512_load_ps(e8 + 112)));
          __mmask16 ge = _mm512_cmp_ps_mask(_mm512_mask_blend_ps(s6, lo, hi), xv, _CMP_LE_OQ);
          j = _mm512_add_epi32(j, j);
          j = _mm512_mask_add_epi32(j, ge, j, one);
        }
        jg[r0 / 16] = j;
      }
      for (uint32_t k = 9; k <= L; k++) /* nodes 256 … 2^L − 1: gathers */
        for (size_t g = 0; g < R / 16; g++) {
          __mmask16 ge = _mm512_cmp_ps_mask(_mm512_i32gather_ps(jg[g], e, 4),
                                            _mm512_load_ps(xf + 16 * g), _CMP_LE_OQ);
          jg[g] = _mm512_add_epi32(jg[g], jg[g]);
          jg[g] = _mm512_mask_add_epi32(jg[g], ge, jg[g], one);
        }
      for (size_t r0 = 0; r0 < R; r0 += 16) {
        __m512 xv = _mm512_load_ps(xf + r0);
        __m512i bin = _mm512_sub_epi32(jg[r0 / 16], base);
        const __mmask16 nan = _mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q);
        uint8_t *o = binT + ((r0 / 16) * LM_BITS_MAX_COLUMNS + u->col) * 16;
        for (uint32_t s = 0; s < u->nseg; s++, bin = _mm512_sub_epi32(bin, seg)) {
          __m512i c = _mm512_min_epi32(_mm512_max_epi32(bin, zero), seg);
          _mm_store_si128((__m128i *)(o + 16 * s), _mm512_cvtepi32_epi8(_mm512_mask_mov_epi32(c, nan, nanbin)));
        }
      }
    }
  }
  for (size_t g = 0; g < R / 16; g++) /* columns past V (to a multiple of 16): bin 0 */
    memset(binT + (g * LM_BITS_MAX_COLUMNS + V) * 16, 0, (size_t)(V16 - V) * 16);
  for (size_t r = 0; r < R; r++) /* bytes ≥ V16 are never selected; zeroed all the same */
    for (size_t c = V16 & ~63u; c < stride; c += 64)
      _mm512_mask_storeu_epi8(tbl + stride * r + c, c < V16 ? ~0ull << (V16 - c) : ~0ull,
                              _mm512_setzero_si512());
  /* 16 columns × 16 rows per step: Z_q holds columns c0+4q … c0+4q+3 (16 rows each);
   * O_p (rows 4p … 4p+3, 16 columns each) byte 16·ri + ci = Z_{ci/4} byte 16·(ci%4) + 4p + ri:
   * two two-register permutes (Z0|Z1 and Z2|Z3, same index) and a blend on ci ≥ 8. */
  _Alignas(64) uint8_t ix[64];
  for (int pos = 0; pos < 64; pos++) {
    int ri = pos / 16, fi = pos % 16;
    ix[pos] = (uint8_t)(64 * ((fi >> 2) & 1) + 16 * (fi & 3) + ri);
  }
  const __m512i idx0 = _mm512_load_si512(ix), four = _mm512_set1_epi8(4);
  const __mmask64 hi8 = 0xFF00FF00FF00FF00ull;
  const __m512i ff = _mm512_set1_epi8(-1);
  for (size_t g = 0; g < R / 16; g++)
    for (uint32_t c0 = 0; c0 < V16; c0 += 16) {
      if (!(b->tchunks >> (c0 / 16) & 1)) continue; /* only counted columns: written below */
      const uint8_t *z = binT + (g * LM_BITS_MAX_COLUMNS + c0) * 16;
      __m512i Z0 = _mm512_load_si512(z), Z1 = _mm512_load_si512(z + 64);
      __m512i Z2 = _mm512_load_si512(z + 128), Z3 = _mm512_load_si512(z + 192);
      __m512i idx = idx0;
      for (int p = 0; p < 4; p++) {
        __m512i O = _mm512_mask_blend_epi8(hi8, _mm512_permutex2var_epi8(Z0, idx, Z1),
                                           _mm512_permutex2var_epi8(Z2, idx, Z3));
        uint8_t *o = tbl + (16 * g + 4 * p) * stride + c0;
        _mm_store_si128((__m128i *)o, _mm512_castsi512_si128(O));
        _mm_store_si128((__m128i *)(o + stride), _mm512_extracti32x4_epi32(O, 1));
        _mm_store_si128((__m128i *)(o + 2 * stride), _mm512_extracti32x4_epi32(O, 2));
        _mm_store_si128((__m128i *)(o + 3 * stride), _mm512_extracti32x4_epi32(O, 3));
        if (b->dual) { /* bytes 64 + c: NaN → 0 (tree_bits.h) */
          O = _mm512_maskz_mov_epi8(_mm512_cmpneq_epi8_mask(O, ff), O);
          _mm_store_si128((__m128i *)(o + 64), _mm512_castsi512_si128(O));
          _mm_store_si128((__m128i *)(o + 64 + stride), _mm512_extracti32x4_epi32(O, 1));
          _mm_store_si128((__m128i *)(o + 64 + 2 * stride), _mm512_extracti32x4_epi32(O, 2));
          _mm_store_si128((__m128i *)(o + 64 + 3 * stride), _mm512_extracti32x4_epi32(O, 3));
        }
        idx = _mm512_add_epi8(idx, four);
      }
    }
  /* the counted groups, after the chunks above (which may share a chunk with them) */
  lm__bits_bin_lin(b, x, rows, R, tbl);
  for (size_t r = 0; b->n_catf && r < R; r++)
    lm__bin_cats(b, x + (r < rows ? r : rows - 1) * F, tbl + stride * r);
}

/* Levels 6–7 (trees of depth 7 and 8) of 8 trees of one row, in lanes: q holds the byte
 * offsets (from bl) of their bottom blocks (lanes outside `lanes` are not read), lo and hi the
 * row's bins. One gather of the 8 block headers (bytes 0–5: three (feature | dl·128, rank)
 * pairs), the bins of their features by one byte permute of the row's bins (the index's bit 7
 * is ignored: the table where NaN's bin is 255), one compare against the ranks, NaN sent left
 * where the node's default is left (tree_bits.h), and the leaf from the three decision bits
 * (d0 + 2·d1 + 4·d2 by a byte sum, then an 8-entry table): about 4 vector instructions per
 * (row, tree) where the scalar walk of the two levels took 18. Returns the byte offsets of the
 * 8 leaves; the caller adds them in tree order. */
LM__AI __m512i lm__bottom8(const uint8_t *bl, __m512i q, __mmask8 lanes, const __m512i *tb,
                          uint32_t D, int np) {
  /* the leaf from d0 + 2·d1 + 4·d2 (d1, d2: the left and right child's decisions; depth 7:
   * d0 alone, the other bytes of its header being 0) */
  const __m512i lutD = D == 8 ? _mm512_setr_epi64(0, 2, 1, 2, 0, 3, 1, 3)
                              : _mm512_setr_epi64(0, 1, 0, 1, 0, 1, 0, 1);
  const __m512i bitv = _mm512_set1_epi64(0x0000000400020001ll), ffv = _mm512_set1_epi8(-1);
  __m512i hdr = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), lanes, q, bl, 1);
  __mmask64 m7 = 0, m8 = 0, m9 = 0;
  if (np > 1) { /* byte 6 of each header, spread over its bytes, holds columns' bits 7 and 8 */
    const __m512i ctl = _mm512_set4_epi64(0x0E0E0E0E0E0E0E0Ell, 0x0606060606060606ll,
                                          0x0E0E0E0E0E0E0E0Ell, 0x0606060606060606ll);
    __m512i sel = _mm512_shuffle_epi8(hdr, ctl);
    m7 = _mm512_test_epi8_mask(sel, bitv);
    m8 = _mm512_test_epi8_mask(sel, _mm512_set1_epi64(0x0000002000100008ll));
  }
  if (np > 4) { /* byte 7: bit 9 */
    const __m512i ctl = _mm512_set4_epi64(0x0F0F0F0F0F0F0F0Fll, 0x0707070707070707ll,
                                          0x0F0F0F0F0F0F0F0Fll, 0x0707070707070707ll);
    m9 = _mm512_test_epi8_mask(_mm512_shuffle_epi8(hdr, ctl), bitv);
  }
  __m512i bins = lm__sel(tb, hdr, m7, m8, m9, np);
  __mmask64 dlnan = _mm512_movepi8_mask(hdr) & _mm512_cmpeq_epi8_mask(bins, ffv);
  __mmask64 right = _mm512_cmpge_epu8_mask(bins, _mm512_srli_epi64(hdr, 8)) & ~dlnan;
  __m512i sum3 = _mm512_sad_epu8(_mm512_maskz_mov_epi8(right, bitv), _mm512_setzero_si512());
  __m512i leaf = _mm512_permutexvar_epi64(sum3, lutD);
  return _mm512_add_epi64(_mm512_add_epi64(q, _mm512_set1_epi64(16)), _mm512_slli_epi64(leaf, 2));
}

LM__AI void lm__one_row_np(const lm__bits *b, const lmf_meta *m, const float *row, float *o,
                           int np, int cat) {
  const uint32_t T = b->n_trees, D = b->depth, G = m->num_outputs;
  const uint32_t sh = D < 6 ? 6 - D : 0, dual = b->dual;
  _Alignas(64) uint8_t tbl[128 * LM_BITS_MAX_PAIRS];
  _Alignas(64) uint64_t W[LM__TB], P[LM__TB];
  memset(tbl, 0, 128 * (size_t)np);
  lm__bin_row(b, row, tbl);
  __m512i regs[8];
  const __m512i *tb = lm__tb(regs, tbl, np);
  lm__luts lut = lm__load_luts(b);
  for (uint32_t g = 0; g < G; g++) o[g] = m->base_margin;
  for (uint32_t t0 = 0; t0 < T; t0 += LM__TB) {
    uint32_t nt = T - t0 < LM__TB ? T - t0 : LM__TB, n8 = (nt + 7) & ~7u;
    /* the words of trees t0 … t0 + nt − 1 (past them: 0, whose positions are not read), the
     * dual test hoisted (a branch per tree cost a third of the loop) */
    const uint8_t *nd = b->nodes + (size_t)t0 * b->word_bytes;
    if (np == 1 && dual && !cat)
      for (uint32_t i = 0; i < nt; i++, nd += LM_BITS_WORD_BYTES)
        W[i] = _mm512_cmpge_epu8_mask(_mm512_permutex2var_epi8(tb[0], _mm512_load_si512(nd), tb[1]),
                                      _mm512_load_si512(nd + 64));
    else
      for (uint32_t i = 0; i < nt; i++, nd += b->word_bytes) W[i] = lm__word(nd, tb, np, 0, cat);
    for (uint32_t i = nt; i < n8; i++) W[i] = 0;
    for (uint32_t q = 0; q < n8; q += 8)
      _mm512_store_si512(P + q, lm__pos8(&lut, _mm512_load_si512(W + q)));
    if (D <= 6) {
      const float *lw = b->leafw + ((size_t)t0 << D);
      if (G == 1) {
        float acc = o[0]; /* a register: o may alias the tables for all the compiler knows */
        for (uint32_t i = 0; i < nt; i++) acc += lw[((size_t)i << D) + (P[i] >> sh)];
        o[0] = acc;
      } else {
        for (uint32_t i = 0; i < nt; i++) o[b->group[t0 + i]] += lw[((size_t)i << D) + (P[i] >> sh)];
      }
    } else {
      const uint8_t *bl = b->bottom + (size_t)t0 * 64 * LM_BITS_BLOCK_BYTES;
      const __m512i step = _mm512_set1_epi64(8 * 64 * LM_BITS_BLOCK_BYTES);
      __m512i toff = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
      toff = _mm512_slli_epi64(toff, 11); /* tree i's blocks: i · 64 · 32 bytes */
      for (uint32_t q = 0; q < n8; q += 8, toff = _mm512_add_epi64(toff, step)) {
        __mmask8 lanes = nt - q >= 8 ? 0xFF : (__mmask8)((1u << (nt - q)) - 1);
        __m512i off = _mm512_add_epi64(_mm512_slli_epi64(_mm512_load_si512(P + q), 5), toff);
        _mm512_store_si512(P + q, lm__bottom8(bl, off, lanes, tb, D, np));
      }
      if (G == 1) {
        float acc = o[0];
        for (uint32_t i = 0; i < nt; i++) acc += *(const float *)(bl + P[i]);
        o[0] = acc;
      } else {
        for (uint32_t i = 0; i < nt; i++) o[b->group[t0 + i]] += *(const float *)(bl + P[i]);
      }
    }
  }
}

static void lm__one_row(const lm__bits *b, const lmf_meta *m, const float *row, float *o) {
  if (b->cat) { /* categorical positions: their own instances (one more test per word) */
#define LM__CALL(np) lm__one_row_np(b, m, row, o, np, 1)
    LM__NP_DISPATCH(b->npairs, LM__CALL)
#undef LM__CALL
  } else {
#define LM__CALL(np) lm__one_row_np(b, m, row, o, np, 0)
    LM__NP_DISPATCH(b->npairs, LM__CALL)
#undef LM__CALL
  }
}

/* Slice i of n of [p, p + bytes) into the cache: the next block's rows, spread over this block's
 * tree loop, so that they arrive while the trees are scored instead of when they are binned. */
LM__AI void lm__pf_slice(const char *p, size_t bytes, uint32_t i, uint32_t n) {
  size_t per = ((bytes + 63) / 64 + n - 1) / n * 64, a = per * i, e = a + per < bytes ? a + per : bytes;
  for (; a < e; a += 64) _mm_prefetch(p + a, _MM_HINT_T0);
}

static void lm__block(const lm__bits *b, const lmf_meta *m, const float *x, size_t rows,
                      float *out, const float *next, size_t next_bytes) {
  const uint32_t T = b->n_trees, D = b->depth, G = m->num_outputs;
  const size_t R = (rows + 15) & ~(size_t)15; /* lanes: rows rounded up to 16 */
  const uint32_t np = b->npairs, WB = b->word_bytes;
  const size_t stride = 128 * (size_t)np;
  _Alignas(64) uint8_t tbl[LM__BLOCK * 128 * LM_BITS_MAX_PAIRS];
  _Alignas(64) uint64_t W[4 * LM__BLOCK];
  /* per output, per row sums (in tree order); more outputs than LM__GMAX: added to out */
  _Alignas(64) float accs[LM__GMAX * LM__BLOCK];
  const int in_acc = G <= LM__GMAX;
  lm__bits_bin_block(b, x, rows, R, tbl);
  for (size_t i = 0; in_acc && i < G * LM__BLOCK; i++) accs[i] = m->base_margin;
  if (!in_acc)
    for (size_t r = 0; r < rows; r++)
      for (size_t g = 0; g < G; g++) out[r * G + g] = m->base_margin;
  lm__luts lut = lm__load_luts(b);
  const __m512i bit5 = _mm512_set1_epi32(32);
  const __m128i sh = _mm_cvtsi32_si128(D < 6 ? 6 - (int)D : 0);
  for (uint32_t t0 = 0; t0 < T; t0 += 4) {
    if (next) lm__pf_slice((const char *)next, next_bytes, t0 / 4, (T + 3) / 4);
    /* the words of 4 trees per pass over the rows (a row's bins loaded once for 4 trees), every
     * row's words before any is reloaded as a vector; then each tree's leaves, in tree order */
    const uint32_t nt = T - t0 < 4 ? T - t0 : 4;
    const uint8_t *nd[4];
    for (uint32_t i = 0; i < 4; i++) /* past the last tree: repeat it (its words are unused) */
      nd[i] = b->nodes + (size_t)(t0 + i < T ? t0 + i : T - 1) * WB;
    if (t0 + 4 < T) /* the next trees' words and leaves, while these are scored */
      for (uint32_t i = 0; i < 4 * WB && (t0 + 4) * WB + i < T * WB; i += 64)
        _mm_prefetch((const char *)b->nodes + (size_t)(t0 + 4) * WB + i, _MM_HINT_T0);
    if (b->cat) { /* categorical positions: any pair count */
      size_t pc = 0;
#define LM__CALL(np) lm__words4(nd, tbl, stride, R, W, 1, LM__BLOCK, NULL, &pc, 0, 0, np, 1)
      LM__NP_DISPATCH(np, LM__CALL)
#undef LM__CALL
    } else if (np > 1) {
      size_t pc = 0;
#define LM__CALL(np) lm__words4(nd, tbl, stride, R, W, 1, LM__BLOCK, NULL, &pc, 0, 0, np, 0)
      LM__NP_DISPATCH(np, LM__CALL)
#undef LM__CALL
    } else {
    if (t0 + 4 < T)
      for (size_t i = 0; i < ((size_t)16 << D); i += 64)
        _mm_prefetch((const char *)(b->leafw + ((size_t)(t0 + 4) << D)) + i, _MM_HINT_T0);
    __m512i f0 = _mm512_load_si512(nd[0]), r0_ = _mm512_load_si512(nd[0] + 64), l0 = _mm512_load_si512(nd[0] + 128);
    __m512i f1 = _mm512_load_si512(nd[1]), r1 = _mm512_load_si512(nd[1] + 64), l1 = _mm512_load_si512(nd[1] + 128);
    __m512i f2 = _mm512_load_si512(nd[2]), r2 = _mm512_load_si512(nd[2] + 64), l2 = _mm512_load_si512(nd[2] + 128);
    __m512i f3 = _mm512_load_si512(nd[3]), r3 = _mm512_load_si512(nd[3] + 64), l3 = _mm512_load_si512(nd[3] + 128);
    if (b->dual) /* F ≤ 64: right iff bin ≥ rank, one instruction fewer (tree_bits.h) */
      for (size_t r = 0; r < R; r++) {
        __m512i lo = _mm512_load_si512(tbl + 128 * r), hi = _mm512_load_si512(tbl + 128 * r + 64);
        W[r] = _mm512_cmpge_epu8_mask(_mm512_permutex2var_epi8(lo, f0, hi), r0_);
        W[LM__BLOCK + r] = _mm512_cmpge_epu8_mask(_mm512_permutex2var_epi8(lo, f1, hi), r1);
        W[2 * LM__BLOCK + r] = _mm512_cmpge_epu8_mask(_mm512_permutex2var_epi8(lo, f2, hi), r2);
        W[3 * LM__BLOCK + r] = _mm512_cmpge_epu8_mask(_mm512_permutex2var_epi8(lo, f3, hi), r3);
      }
    else
    for (size_t r = 0; r < R; r++) {
      __m512i lo = _mm512_load_si512(tbl + 128 * r), hi = _mm512_load_si512(tbl + 128 * r + 64);
      W[r] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f0, hi), r0_), l0);
      W[LM__BLOCK + r] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f1, hi), r1), l1);
      W[2 * LM__BLOCK + r] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f2, hi), r2), l2);
      W[3 * LM__BLOCK + r] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f3, hi), r3), l3);
    }
    }
    for (uint32_t ti = 0; ti < nt; ti++) {
    const uint32_t t = t0 + ti;
    const uint64_t *Wt = W + (size_t)ti * LM__BLOCK;
    float *acc = accs + (in_acc ? (size_t)b->group[t] * LM__BLOCK : 0);
    if (D <= 6) {
      /* leaf values by permutes from the tree's (up to) 64 leaves */
      const float *lw = b->leafw + ((size_t)t << D);
      __m512 L0 = _mm512_loadu_ps(lw), L1 = _mm512_loadu_ps(lw + 16);
      __m512 L2 = _mm512_loadu_ps(lw + 32), L3 = _mm512_loadu_ps(lw + 48);
      for (size_t r0 = 0; r0 < R; r0 += 16) {
        __m512i p0 = _mm512_srl_epi64(lm__pos8(&lut, _mm512_load_si512(Wt + r0)), sh);
        __m512i p1 = _mm512_srl_epi64(lm__pos8(&lut, _mm512_load_si512(Wt + r0 + 8)), sh);
        __m512i i16 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(p0)),
                                         _mm512_cvtepi64_epi32(p1), 1);
        __m512 l = _mm512_mask_blend_ps(_mm512_test_epi32_mask(i16, bit5),
                                        _mm512_permutex2var_ps(L0, i16, L1),
                                        _mm512_permutex2var_ps(L2, i16, L3));
        if (in_acc) {
          _mm512_store_ps(acc + r0, _mm512_add_ps(_mm512_load_ps(acc + r0), l));
        } else {
          _Alignas(64) float lv[16];
          _mm512_store_ps(lv, l);
          uint32_t g = b->group[t];
          for (size_t r = r0; r < rows && r < r0 + 16; r++) out[r * G + g] += lv[r - r0];
        }
      }
    }
    }
  }
  if (G == 1)
    memcpy(out, accs, rows * sizeof(float));
  else if (in_acc)
    for (size_t r = 0; r < rows; r++)
      for (size_t g = 0; g < G; g++) out[r * G + g] = accs[g * LM__BLOCK + r];
}

/* Batch block of trees of depth 7–8: rows outer, trees in groups of 8. Per row and group, the 8
 * words come from the row's bins held in two registers, the 8 level-6 positions from one
 * exit-table step (trees in lanes), turned into bottom-block offsets; then the 8 bottoms are
 * walked with the row's sum in a register, in tree order. Against trees outer (the depth ≤ 6
 * block below): no per-(row, tree) load and store of the sum, and the bins are loaded once per
 * row and group instead of once per (row, tree). The next group's bottom blocks (16 KB) are
 * prefetched a few lines per row while this group is walked. */
static void lm__block_deep(const lm__bits *b, const lmf_meta *m, const float *x, size_t rows,
                           float *out, const float *next, size_t next_bytes) {
  const uint32_t T = b->n_trees, D = b->depth, G = m->num_outputs;
  const uint32_t np = b->npairs, WB = b->word_bytes;
  const size_t stride = 128 * (size_t)np;
  _Alignas(64) uint8_t tbl[LM__DBLOCK * 128 * LM_BITS_MAX_PAIRS];
  _Alignas(64) uint64_t W[8 * LM__DBLOCK]; /* the words, then in place the block offsets */
  _Alignas(64) float accs[LM__GMAX * LM__DBLOCK];
  const int in_acc = G <= LM__GMAX;
  for (size_t c = 0; c < rows; c += LM__BLOCK) { /* binned 64 rows at a time */
    size_t rc = rows - c < LM__BLOCK ? rows - c : LM__BLOCK;
    lm__bits_bin_block(b, x + c * b->num_features, rc, (rc + 15) & ~(size_t)15, tbl + stride * c);
  }
  for (size_t i = 0; in_acc && i < G * LM__DBLOCK; i++) accs[i] = m->base_margin;
  if (!in_acc)
    for (size_t r = 0; r < rows; r++)
      for (size_t g = 0; g < G; g++) out[r * G + g] = m->base_margin;
  lm__luts lut = lm__load_luts(b);
  /* bottom-block byte offset of tree i of a group: i · 64 blocks */
  const __m512i toff = _mm512_setr_epi64(0, 1 * 64 * LM_BITS_BLOCK_BYTES, 2 * 64 * LM_BITS_BLOCK_BYTES,
                                         3 * 64 * LM_BITS_BLOCK_BYTES, 4 * 64 * LM_BITS_BLOCK_BYTES,
                                         5 * 64 * LM_BITS_BLOCK_BYTES, 6 * 64 * LM_BITS_BLOCK_BYTES,
                                         7 * 64 * LM_BITS_BLOCK_BYTES);
  const size_t grp_bytes = 8 * 64 * LM_BITS_BLOCK_BYTES;
  for (uint32_t t0 = 0; t0 < T; t0 += 8) {
    if (next) lm__pf_slice((const char *)next, next_bytes, t0 / 8, (T + 7) / 8);
    const uint32_t nt = T - t0 < 8 ? T - t0 : 8;
    const uint8_t *bl = b->bottom + (size_t)t0 * 64 * LM_BITS_BLOCK_BYTES;
    const uint8_t *nds[8];
    for (uint32_t i = 0; i < 8; i++) /* past the last tree: repeat it (its words are unused) */
      nds[i] = b->nodes + (size_t)(t0 + i < T ? t0 + i : T - 1) * WB;
    /* Prefetches: the next group's bottom blocks into L2 (T1) while this group's are walked,
     * spread over the rows; this group's into L1 while its words are computed (the words pass
     * touches little else), so that the walk's dependent loads hit L1; the next group's node
     * bytes. */
    const size_t next_bytes = t0 + 8 < T ? (size_t)(T - t0 - 8 < 8 ? T - t0 - 8 : 8) * 64 * LM_BITS_BLOCK_BYTES : 0;
    const size_t pf_step = next_bytes ? ((next_bytes / 64 + rows - 1) / rows) * 64 : 0;
    const size_t cur_bytes = (size_t)nt * 64 * LM_BITS_BLOCK_BYTES;
    const size_t cur_step = ((cur_bytes / 64 + 2 * rows - 1) / (2 * rows)) * 64;
    size_t pf = 0, pc = 0;
    if (t0 + 8 < T)
      for (size_t i = 0; i < 8 * WB; i += 64)
        _mm_prefetch((const char *)b->nodes + (size_t)(t0 + 8) * WB + i, _MM_HINT_T0);
    /* three passes over the rows, so that every store has retired before it is reloaded and
     * each pass has rows × 8 independent pieces of work: words (trees outer: a tree's node
     * bytes stay in registers); positions → block offsets; bottoms (rows outer: the row's sum
     * in a register, its trees in order) */
    if (np > 1)
      for (uint32_t i = 0; i < 8; i += 4) {
#define LM__CALL(np) lm__words4(nds + i, tbl, stride, rows, W + i, 8, 1, bl, &pc, cur_step, cur_bytes, np, 0)
        LM__NP_DISPATCH(np, LM__CALL)
#undef LM__CALL
      }
    else
    for (uint32_t i = 0; i < 8; i += 4) { /* 4 trees per pass: a row's bins loaded once */
      __m512i f0 = _mm512_load_si512(nds[i]), r0 = _mm512_load_si512(nds[i] + 64);
      __m512i l0 = _mm512_load_si512(nds[i] + 128);
      __m512i f1 = _mm512_load_si512(nds[i + 1]), r1 = _mm512_load_si512(nds[i + 1] + 64);
      __m512i l1 = _mm512_load_si512(nds[i + 1] + 128);
      __m512i f2 = _mm512_load_si512(nds[i + 2]), r2 = _mm512_load_si512(nds[i + 2] + 64);
      __m512i l2 = _mm512_load_si512(nds[i + 2] + 128);
      __m512i f3 = _mm512_load_si512(nds[i + 3]), r3 = _mm512_load_si512(nds[i + 3] + 64);
      __m512i l3 = _mm512_load_si512(nds[i + 3] + 128);
      for (size_t r = 0; r < rows; r++) {
        __m512i lo = _mm512_load_si512(tbl + 128 * r), hi = _mm512_load_si512(tbl + 128 * r + 64);
        W[8 * r + i] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f0, hi), r0), l0);
        W[8 * r + i + 1] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f1, hi), r1), l1);
        W[8 * r + i + 2] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f2, hi), r2), l2);
        W[8 * r + i + 3] = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_permutex2var_epi8(lo, f3, hi), r3), l3);
        for (size_t e = pc + cur_step; pc < e && pc < cur_bytes; pc += 64)
          _mm_prefetch((const char *)bl + pc, _MM_HINT_T0);
      }
    }
    /* Levels 6–7 with the 8 trees of a row in lanes: one gather of the 8 bottom-block headers
     * (bytes 0–5: three (feature | dl·128, rank) pairs), the bins of their features by one
     * byte permute of the row's bins (the index's bit 7 is ignored: the NaN-right table; a
     * default-left node turns NaN's 255 into "left"), one compare against the ranks, and the
     * leaf from the three decision bits (d0 + 2·d1 + 4·d2 by a byte sum, then a table): about
     * 4 vector instructions per (row, tree) instead of 18 scalar ones. What is stored is the
     * byte offset of each tree's leaf; the sums are added afterwards per row, in tree order. */
    /* levels 6–7 (lm__bottom8): each tree's leaf offset, stored in place of its word */
    const __mmask8 lanes = (__mmask8)((1u << nt) - 1);
    for (size_t r = 0; r < rows; r++) {
      __m512i regs[8], q = _mm512_add_epi64(_mm512_slli_epi64(lm__pos8(&lut, _mm512_load_si512(W + 8 * r)), 5), toff);
#define LM__CALL(np)                                                                       \
  _mm512_store_si512(W + 8 * r, lm__bottom8(bl, q, lanes, lm__tb(regs, tbl + stride * r, np), D, np))
      LM__NP_DISPATCH(np, LM__CALL)
#undef LM__CALL
      for (size_t e = pf + pf_step; pf < e && pf < next_bytes; pf += 64)
        _mm_prefetch((const char *)bl + grp_bytes + pf, _MM_HINT_T1);
    }
    for (size_t r = 0; r < rows; r++) {
      const uint64_t *q = W + 8 * r;
      if (G == 1) {
        float acc = accs[r];
        if (nt == 8)
          for (uint32_t i = 0; i < 8; i++) acc += *(const float *)(bl + q[i]);
        else
          for (uint32_t i = 0; i < nt; i++) acc += *(const float *)(bl + q[i]);
        accs[r] = acc;
      } else {
        for (uint32_t i = 0; i < nt; i++) {
          float v = *(const float *)(bl + q[i]);
          uint32_t g = b->group[t0 + i];
          if (in_acc)
            accs[(size_t)g * LM__DBLOCK + r] += v;
          else
            out[r * G + g] += v;
        }
      }
    }
  }
  if (G == 1)
    memcpy(out, accs, rows * sizeof(float));
  else if (in_acc)
    for (size_t r = 0; r < rows; r++)
      for (size_t g = 0; g < G; g++) out[r * G + g] = accs[g * LM__DBLOCK + r];
}


/* Single rows; the planner gives them calls below 12 rows (a 16-lane block costs about 16
 * single rows). */
LM__KERNEL_F32(lm__tree_margin_bits_one__avx512) {
  (void)scratch;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  for (size_t r = 0; r < n; r++) lm__one_row(L->bits, v->meta, x + r * F, out + r * G);
}

LM__KERNEL_F32(lm__tree_margin_bits__avx512) {
  (void)scratch;
  const lm__bits *b = L->bits;
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  const size_t blk = b->depth > 6 ? LM__DBLOCK : LM__BLOCK;
  for (size_t r0 = 0; r0 < n; r0 += blk) {
    size_t rows = n - r0 < blk ? n - r0 : blk, nr = n - r0 - rows < blk ? n - r0 - rows : blk;
    const float *next = nr ? x + (r0 + rows) * F : NULL;
    if (b->depth > 6)
      lm__block_deep(b, v->meta, x + r0 * F, rows, out + r0 * G, next, nr * F * sizeof(float));
    else
      lm__block(b, v->meta, x + r0 * F, rows, out + r0 * G, next, nr * F * sizeof(float));
  }
}

#ifdef __clang__
#pragma clang attribute pop
#endif
