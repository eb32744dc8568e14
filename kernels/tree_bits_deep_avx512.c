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
#include "kernels/tree_common.h"
#include "kernels/transpose8.h"

/* Population count of each 64-bit lane (VPOPCNTDQ: the planner requires it with VBMI). */
LM__AI __m512i lm__popcnt64(__m512i x) { return _mm512_popcnt_epi64(x); }

/* Deep trees (records, tree_bits.h): a row's walk of a group of trees, its bins at tb. 64 trees
 * at a time, 8 in the lanes of each of 8 vectors: per step, each live lane's record gives a
 * word (one byte permute per register pair), the 8 level-6 positions of a vector come from the
 * exit tables at once, and two gathers read the records' headers (leaf mask, first child,
 * first leaf): a lane on a leaf keeps the leaf's index, the others move to their next record
 * (first child + the non-leaf positions before theirs, by popcounts). Records of deep models
 * outgrow L2 (1.4 MB for 100 trees of depth 12), so what counts is how many record loads are
 * in flight: a step reads one record's four lines at once (its header line is prefetched with
 * its node bytes), 64 walks side by side (32: ≈ 25% slower batches), and no branch on the
 * data but the step count. The leaves are gathered at the end and added in tree order.
 * LightGBM (lgbm, a constant: b->lgbm): the leaves are doubles (recleaf64), added in double. */
#define LM__DV 8 /* vectors of 8 trees per group */
#define LM__DG (8 * LM__DV) /* trees per group */


/* One step of the walks of 8 trees (one per lane) for the row whose bin table is tb: each live
 * lane's record (byte offset in *rec) gives a word, the exit tables its level-6 position, and
 * its header (leaf mask, first child, first leaf) either the leaf's index (into *val, the lane
 * leaving *live) or the next record (first child + the non-leaf positions before it, by
 * popcounts). */
LM__AI void lm__deep_next_hd(__m512i w, __m512i lm, __m512i hd, const lm__luts *lut, __m512i *rec,
                             __m512i *val, __mmask8 *live) {
  const __m512i one = _mm512_set1_epi64(1), lo32 = _mm512_set1_epi64(0xFFFFFFFFll);
  __m512i pos = lm__pos8(lut, w);
  __m512i below = _mm512_sub_epi64(_mm512_sllv_epi64(one, pos), one);
  __mmask8 leaf = _mm512_mask_test_epi64_mask(*live, _mm512_srlv_epi64(lm, pos), one);
  __m512i li = _mm512_add_epi64(_mm512_srli_epi64(hd, 32), lm__popcnt64(_mm512_and_si512(lm, below)));
  __m512i ci = _mm512_add_epi64(_mm512_and_si512(hd, lo32), lm__popcnt64(_mm512_andnot_si512(lm, below)));
  *val = _mm512_mask_mov_epi64(*val, leaf, li);
  *live &= (__mmask8)~leaf;
  *rec = _mm512_mask_mov_epi64(*rec, *live, _mm512_slli_epi64(ci, 8));
}
/* The same with the records' headers (leaf mask at byte 208, first child and first leaf at 216)
 * gathered here. */
LM__AI void lm__deep_next(const lm__bits *b, __m512i w, const lm__luts *lut, __m512i *rec,
                          __m512i *val, __mmask8 *live) {
  const uint8_t *recs = b->recs;
  __m512i lm = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), *live, *rec, recs + 208, 1);
  __m512i hd = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), *live, *rec, recs + 216, 1);
  lm__deep_next_hd(w, lm, hd, lut, rec, val, live);
}
LM__AI void lm__deep_step(const lm__bits *b, const __m512i *tb, int np, const lm__luts *lut,
                          __m512i *rec, __m512i *val, __mmask8 *live) {
  const uint8_t *recs = b->recs;
  _Alignas(64) uint64_t W[8], Rr[8];
  _mm512_store_si512(Rr, *rec);
  for (int i = 0; i < 8; i++) _mm_prefetch((const char *)recs + Rr[i] + 192, _MM_HINT_T0);
  if (np == 1 && b->dual)
    for (int i = 0; i < 8; i++) W[i] = lm__word(recs + Rr[i], tb, 1, 1, 0);
  else
    for (int i = 0; i < 8; i++) W[i] = lm__word(recs + Rr[i], tb, np, 0, (int)b->cat);
  lm__deep_next(b, _mm512_load_si512(W), lut, rec, val, live);
}

/* The leaves of 8 trees (record-leaf indices in val, lanes `valid`) into lv (floats) or, lgbm,
 * dv (doubles), in tree order. */
LM__AI void lm__deep_leaves8(const lm__bits *b, __m512i val, __mmask8 valid, int lgbm, float *lv,
                             double *dv) {
  if (lgbm)
    _mm512_storeu_pd(dv, _mm512_mask_i64gather_pd(_mm512_setzero_pd(), valid, val, b->recleaf64, 8));
  else
    _mm256_storeu_ps(lv, _mm512_mask_i64gather_ps(_mm256_setzero_ps(), valid, val, b->recleaf, 4));
}

/* The leaves of trees t0 … t0 + nt − 1 (nt ≤ LM__DG) for the row whose bin table is tb: into
 * lv (floats) or, lgbm, dv (doubles), in tree order. */
LM__AI void lm__deep_group(const lm__bits *b, const __m512i *tb, uint32_t t0, uint32_t nt, int np,
                           const lm__luts *lut, int lgbm, float *lv, double *dv, uint64_t *li) {
  const uint32_t T = b->n_trees;
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
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
      lm__deep_step(b, tb, np, lut, &rec[k], &val[k], &live[k]);
      any |= live[k];
    }
  }
  for (int k = 0; li && k < LM__DV; k++) _mm512_store_si512(li + 8 * k, val[k]);
  for (int k = 0; k < LM__DV; k++) lm__deep_leaves8(b, val[k], valid[k], lgbm, lv + 8 * k, dv + 8 * k);
}

/* Linear trees (b->recnode): their leaves' values for the row, constant + Σ coeff·x as the
 * reference evaluates them (tree_common.h), times the tree's weight, in place of the stored
 * constant leaves; li: the record-leaf index of each tree's leaf (lm__deep_group). */
LM__AI void lm__deep_linear(const lmf_view *v, const lm__bits *b, uint32_t t0, uint32_t nt,
                            const uint64_t *li, const float *row, double *dv) {
  for (uint32_t i = 0; i < nt; i++) {
    const lmf_tree *tr = &v->trees[t0 + i];
    if (tr->flags & LMF_TREE_LINEAR)
      dv[i] = lm__leaf_value_f32(v, tr, b->recnode[li[i]], row) * tr->weight;
  }
}

/* A group's leaves added, in tree order, to one row's sums: o (floats, num_outputs of them) or,
 * lgbm, d (doubles). */
LM__AI void lm__deep_add(const lm__bits *b, uint32_t G, uint32_t t0, uint32_t nt, int lgbm,
                         const float *lv, const double *dv, float *o, double *d) {
  if (lgbm) {
    if (G == 1) {
      double a = d[0];
      for (uint32_t i = 0; i < nt; i++) a += dv[i];
      d[0] = a;
    } else {
      for (uint32_t i = 0; i < nt; i++) d[b->group[t0 + i]] += dv[i];
    }
  } else if (G == 1) {
    float a = o[0];
    for (uint32_t i = 0; i < nt; i++) a += lv[i];
    o[0] = a;
  } else {
    for (uint32_t i = 0; i < nt; i++) o[b->group[t0 + i]] += lv[i];
  }
}

/* A row's sums from the base margin (d: LightGBM's doubles), and LightGBM's rounding at the end:
 * averaged if the model says so, then float32, as the reference does
 * (kernels/tree_lgbm_scalar.c). */
static inline void lm__deep_init(const lmf_meta *m, int lgbm, float *o, double *d) {
  for (uint32_t g = 0; g < m->num_outputs; g++) {
    if (lgbm) d[g] = m->base_margin;
    else o[g] = m->base_margin;
  }
}
static inline void lm__deep_finish(const lmf_meta *m, const double *d, float *o) {
  for (uint32_t g = 0; g < m->num_outputs; g++)
    o[g] = (float)(m->average_over ? d[g] / m->average_over : d[g]);
}

/* Single rows: each group of trees walked for the row (a row's table on the stack). */
LM__AI void lm__deep_rows_np(const lmf_view *v, const lm__bits *b, const float *x, size_t n,
                             float *out, int np, int lgbm, double *dacc) {
  const lmf_meta *m = v->meta;
  _Alignas(64) uint64_t li[LM__DG];
  uint64_t *lip = b->recnode ? li : NULL;
  const size_t F = b->num_features, G = m->num_outputs;
  const lm__luts lut = lm__load_luts(b);
  _Alignas(64) uint8_t t1[128 * LM_BITS_MAX_PAIRS];
  _Alignas(64) float lv[LM__DG];
  _Alignas(64) double dv[LM__DG];
  memset(t1, 0, 128 * (size_t)np);
  for (size_t r = 0; r < n; r++) {
    float *o = out + r * G;
    lm__bin_row(b, x + r * F, t1);
    __m512i regs[8];
    const __m512i *tb = lm__tb(regs, t1, np);
    lm__deep_init(m, lgbm, o, dacc);
    for (uint32_t t0 = 0; t0 < b->n_trees; t0 += LM__DG) {
      uint32_t nt = b->n_trees - t0 < LM__DG ? b->n_trees - t0 : LM__DG;
      lm__deep_group(b, tb, t0, nt, np, &lut, lgbm, lv, dv, lip);
      if (lip) lm__deep_linear(v, b, t0, nt, li, x + r * F, dv);
      lm__deep_add(b, (uint32_t)G, t0, nt, lgbm, lv, dv, o, dacc);
    }
    if (lgbm) lm__deep_finish(m, dacc, o);
  }
}

/* A group of LightGBM trees that all end in their root records (every position a leaf): the words
 * tree-major (W[64·i + r]), then per tree its 64 leaves (doubles) in 8 registers and, 8 rows in
 * lanes, the level-6 positions looked up there (four two-register permutes, three blends) and
 * added to the rows' sums (dacc, one output) in tree order: no gathers. */
LM__AI void lm__deep_shallow(const lm__bits *b, const uint8_t *const nd[8], uint32_t nt, __m512i li0,
                             const uint8_t *tbl, size_t stride, size_t rows, uint64_t *W,
                             const lm__luts *lut, double *dacc, int np) {
  for (uint32_t i = 0; i < 8; i += 4) {
    size_t pc = 0;
#define LM__W4(cat) lm__words4(nd + i, tbl, stride, rows, W + 64 * i, 1, 64, NULL, &pc, 0, 0, np, cat)
    if (b->cat) LM__W4(1); else LM__W4(0);
#undef LM__W4
  }
  _Alignas(64) uint64_t first[8];
  _mm512_store_si512(first, li0);
  const __m512i b4 = _mm512_set1_epi64(16), b5 = _mm512_set1_epi64(32);
  for (uint32_t i = 0; i < nt; i++) {
    const double *lw = b->recleaf64 + first[i];
    __m512d L0 = _mm512_loadu_pd(lw), L1 = _mm512_loadu_pd(lw + 8), L2 = _mm512_loadu_pd(lw + 16);
    __m512d L3 = _mm512_loadu_pd(lw + 24), L4 = _mm512_loadu_pd(lw + 32), L5 = _mm512_loadu_pd(lw + 40);
    __m512d L6 = _mm512_loadu_pd(lw + 48), L7 = _mm512_loadu_pd(lw + 56);
    for (size_t r = 0; r < rows; r += 8) {
      __mmask8 mr = rows - r >= 8 ? 0xFF : (__mmask8)((1u << (rows - r)) - 1);
      __m512i pos = lm__pos8(lut, _mm512_maskz_loadu_epi64(mr, W + 64 * i + r));
      __m512d a = _mm512_mask_blend_pd(_mm512_test_epi64_mask(pos, b4), _mm512_permutex2var_pd(L0, pos, L1),
                                       _mm512_permutex2var_pd(L2, pos, L3));
      __m512d c = _mm512_mask_blend_pd(_mm512_test_epi64_mask(pos, b4), _mm512_permutex2var_pd(L4, pos, L5),
                                       _mm512_permutex2var_pd(L6, pos, L7));
      __m512d l = _mm512_mask_blend_pd(_mm512_test_epi64_mask(pos, b5), a, c);
      _mm512_mask_storeu_pd(dacc + r, mr, _mm512_add_pd(_mm512_maskz_loadu_pd(mr, dacc + r), l));
    }
  }
}

/* Batches: 64-row blocks binned at once (rows in lanes), then per group of 8 trees, in passes
 * over the block's rows (each pass's stores retired before the next reloads them as vectors):
 * the words of the 8 root records for every row (a record's bytes in registers, 4 trees per
 * pass: lm__words4); per row, the 8 trees in lanes, their level-6 positions against the roots'
 * headers (loaded once per group): the leaf, or the next record; then, while any walk goes on,
 * the words of every walking (row, tree) from its record with the record's header (scalar
 * loads), and per row the positions and again the leaf or the next record; last, the leaves
 * added in tree order (one output: 8 rows in lanes, the 8 trees' leaves transposed; LightGBM
 * groups whose trees all end in their root records: lm__deep_shallow). A group's records
 * (≈ 16 KB a tree of depth 12) stay in L2 while the block's rows walk them. Measured against
 * the walk of 64 trees per row (lm__deep_group, what single rows still use), thread CPU time on
 * 2,048–10,000 rows, min of interleaved runs: deep 0.93 → 0.36–0.45 µs a row, exact-deep12
 * 0.82 → 0.34–0.39, lgb-bin100 2.5 → 1.1, lgb-reg255 1.35 → 0.81; 16 or 32 trees a group,
 * 128- or 256-row blocks, prefetching the next group's records and scalar loads of the leaves
 * were no faster. dacc: LM__BLOCK doubles per output (LightGBM). */
LM__AI void lm__deep_batch_np(const lmf_view *v, const lm__bits *b, const float *x, size_t n,
                              float *out, int np, int lgbm, double *dacc) {
  const lmf_meta *m = v->meta;
  const uint32_t T = b->n_trees;
  const size_t F = b->num_features, G = m->num_outputs, stride = 128 * (size_t)np;
  const int sum8 = G == 1 && !b->recnode; /* leaves added with rows in lanes */
  /* where a row's float sums go: acc (one output, XGBoost: copied to out per block) or out */
  const int in_acc = sum8 && !lgbm;
  const lm__luts lut = lm__load_luts(b);
  const uint8_t *recs = b->recs;
  const __m512i one = _mm512_set1_epi64(1), lo32 = _mm512_set1_epi64(0xFFFFFFFFll);
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  _Alignas(64) uint8_t tbl[LM__BLOCK * 128 * LM_BITS_MAX_PAIRS];
  /* per row r, tree t0 + i at 8r + i: its word, its record (byte offset), its leaf's index */
  _Alignas(64) uint64_t W[8 * LM__BLOCK], C[8 * LM__BLOCK], V[8 * LM__BLOCK];
  _Alignas(64) uint64_t HL[8 * LM__BLOCK], HC[8 * LM__BLOCK]; /* its record's header */
  uint8_t L[LM__BLOCK]; /* per row: bit i, tree t0 + i is still walking */
  _Alignas(64) float lv[8], acc[LM__BLOCK];
  _Alignas(64) double dv[8];
  for (size_t r0 = 0; r0 < n; r0 += LM__BLOCK) {
    const size_t rows = n - r0 < LM__BLOCK ? n - r0 : LM__BLOCK, rows8 = sum8 ? rows & ~(size_t)7 : 0;
    lm__bits_bin_block(b, x + r0 * F, rows, (rows + 15) & ~(size_t)15, tbl);
    for (size_t r = 0; r < rows; r++)
      lm__deep_init(m, lgbm, in_acc ? acc + r : out + (r0 + r) * G, lgbm ? dacc + r * G : NULL);
    for (uint32_t t0 = 0; t0 < T; t0 += 8) {
      const uint32_t nt = T - t0 < 8 ? T - t0 : 8;
      const __mmask8 valid = (__mmask8)((1u << nt) - 1);
      const uint8_t *nd[8];
      for (uint32_t i = 0; i < 8; i++) /* past the last tree: repeat it (words unused) */
        nd[i] = recs + (size_t)(t0 + i < T ? t0 + i : T - 1) * LM_BITS_REC_BYTES;
      const __m512i rec0 = _mm512_slli_epi64(
          _mm512_min_epu64(_mm512_add_epi64(_mm512_set1_epi64(t0), lane), _mm512_set1_epi64(T - 1)), 8);
      const __m512i lm0 = _mm512_i64gather_epi64(rec0, recs + 208, 1);
      const __m512i hd0 = _mm512_i64gather_epi64(rec0, recs + 216, 1);
      const __m512i li0 = _mm512_srli_epi64(hd0, 32), ci0 = _mm512_and_si512(hd0, lo32);
      if (lgbm && sum8 && _mm512_mask_cmpeq_epi64_mask(valid, lm0, _mm512_set1_epi64(-1)) == valid) {
        /* every tree of the group ends in its root record (depth ≤ 6: LightGBM's small trees):
         * per tree, its 64 leaves in registers, 8 rows in lanes, added to their sums in double */
        lm__deep_shallow(b, nd, nt, li0, tbl, stride, rows, W, &lut, dacc, np);
        continue;
      }
      for (uint32_t i = 0; i < 8; i += 4) {
        size_t pc = 0;
#define LM__W4(cat) lm__words4(nd + i, tbl, stride, rows, W + i, 8, 1, NULL, &pc, 0, 0, np, cat)
        if (b->cat) LM__W4(1); else LM__W4(0);
#undef LM__W4
      }
      unsigned any = 0;
      for (size_t r = 0; r < rows; r++) {
        __m512i pos = lm__pos8(&lut, _mm512_load_si512(W + 8 * r));
        __m512i below = _mm512_sub_epi64(_mm512_sllv_epi64(one, pos), one);
        __mmask8 leaf = _mm512_mask_test_epi64_mask(valid, _mm512_srlv_epi64(lm0, pos), one);
        _mm512_store_si512(V + 8 * r, _mm512_maskz_mov_epi64(
            leaf, _mm512_add_epi64(li0, lm__popcnt64(_mm512_and_si512(lm0, below)))));
        _mm512_store_si512(C + 8 * r, _mm512_slli_epi64(
            _mm512_add_epi64(ci0, lm__popcnt64(_mm512_andnot_si512(lm0, below))), 8));
        any |= L[r] = valid & (__mmask8)~leaf;
      }
      while (any) {
        for (size_t r = 0; r < rows; r++) {
          if (!L[r]) continue;
          __m512i regs[8];
          const __m512i *tb = lm__tb(regs, tbl + stride * r, np);
          /* each walking tree's word and its record's header (scalar loads: cheaper than the
           * next pass gathering them); the dual test hoisted (lm__word's first case) */
          if (np == 1 && b->dual)
            for (unsigned mk = L[r]; mk; mk &= mk - 1) {
              unsigned i = (unsigned)__builtin_ctz(mk);
              const uint8_t *nd = recs + C[8 * r + i];
              W[8 * r + i] = _mm512_cmpge_epu8_mask(
                  _mm512_permutex2var_epi8(tb[0], _mm512_load_si512(nd), tb[1]), _mm512_load_si512(nd + 64));
              memcpy(&HL[8 * r + i], nd + 208, 8), memcpy(&HC[8 * r + i], nd + 216, 8);
            }
          else
            for (unsigned mk = L[r]; mk; mk &= mk - 1) {
              unsigned i = (unsigned)__builtin_ctz(mk);
              const uint8_t *nd = recs + C[8 * r + i];
              W[8 * r + i] = lm__word(nd, tb, np, 0, (int)b->cat);
              memcpy(&HL[8 * r + i], nd + 208, 8), memcpy(&HC[8 * r + i], nd + 216, 8);
            }
        }
        any = 0;
        for (size_t r = 0; r < rows; r++) {
          __mmask8 live = L[r];
          if (!live) continue;
          __m512i rec = _mm512_load_si512(C + 8 * r), val = _mm512_load_si512(V + 8 * r);
          lm__deep_next_hd(_mm512_load_si512(W + 8 * r), _mm512_load_si512(HL + 8 * r),
                           _mm512_load_si512(HC + 8 * r), &lut, &rec, &val, &live);
          _mm512_store_si512(C + 8 * r, rec);
          _mm512_store_si512(V + 8 * r, val);
          any |= L[r] = live;
        }
      }
      for (size_t r = 0; lgbm && r < rows8; r += 8) { /* the same in double (G = 1: dacc[r]) */
        __m512d l[8];
        for (int j = 0; j < 8; j++)
          l[j] = _mm512_mask_i64gather_pd(_mm512_setzero_pd(), valid, _mm512_load_si512(V + 8 * (r + j)),
                                          b->recleaf64, 8);
        lm__tr8d(l);
        __m512d a = _mm512_loadu_pd(dacc + r);
        for (uint32_t i = 0; i < nt; i++) a = _mm512_add_pd(a, l[i]);
        _mm512_storeu_pd(dacc + r, a);
      }
      for (size_t r = 0; !lgbm && r < rows8; r += 8) { /* 8 rows in lanes, their 8 leaves transposed */
        __m256 g[8], l[8];
        for (int j = 0; j < 8; j++)
          g[j] = _mm512_mask_i64gather_ps(_mm256_setzero_ps(), valid, _mm512_load_si512(V + 8 * (r + j)),
                                          b->recleaf, 4);
        lm__transpose8(g, l);
        __m256 a = _mm256_load_ps(acc + r);
        for (uint32_t i = 0; i < nt; i++) a = _mm256_add_ps(a, l[i]);
        _mm256_store_ps(acc + r, a);
      }
      for (size_t r = rows8; r < rows; r++) {
        lm__deep_leaves8(b, _mm512_load_si512(V + 8 * r), valid, lgbm, lv, dv);
        if (b->recnode) lm__deep_linear(v, b, t0, nt, V + 8 * r, x + (r0 + r) * F, dv);
        lm__deep_add(b, (uint32_t)G, t0, nt, lgbm, lv, dv, in_acc ? acc + r : out + (r0 + r) * G,
                     lgbm ? dacc + r * G : NULL);
      }
    }
    if (in_acc) memcpy(out + r0, acc, rows * sizeof(float));
    if (lgbm)
      for (size_t r = 0; r < rows; r++) lm__deep_finish(m, dacc + r * G, out + (r0 + r) * G);
  }
}

/* Single rows (one) or batches, np and lgbm made constants. dacc: NULL for XGBoost models, the
 * kernel's scratch for LightGBM ones (a double per output; batches: a block's). */
static __attribute__((noinline)) void lm__deep(const lmf_view *v, const lm__bits *b, const float *x,
                                               size_t n, float *out, double *dacc, int one) {
#define LM__CALL(np)                                                                              \
  one ? lm__deep_rows_np(v, b, x, n, out, np, 0, NULL) : lm__deep_batch_np(v, b, x, n, out, np, 0, NULL)
#define LM__CALL_LGBM(np)                                                                         \
  one ? lm__deep_rows_np(v, b, x, n, out, np, 1, dacc) : lm__deep_batch_np(v, b, x, n, out, np, 1, dacc)
  if (dacc) {
    LM__NP_DISPATCH(b->npairs, LM__CALL_LGBM)
  } else {
    LM__NP_DISPATCH(b->npairs, LM__CALL)
  }
#undef LM__CALL
#undef LM__CALL_LGBM
}

/* Trees deeper than LM_PERFECT_MAX_DEPTH over the records of the bin-and-bitmask layout
 * (LM_NEED_BITS | LM_NEED_TOP): batches binned a block at a time, and single rows (the planner
 * gives them calls below 12 rows). */
LM__KERNEL_F32(lm__tree_margin_bits_deep__avx512) {
  (void)scratch;
  lm__deep(v, L->bits, x, n, out, NULL, 0);
}
LM__KERNEL_F32(lm__tree_margin_bits_deep_one__avx512) {
  (void)scratch;
  lm__deep(v, L->bits, x, n, out, NULL, 1);
}

/* LightGBM models over their records (tree_bits.h: decision 1): the same walks, leaves added
 * in double into scratch (the registry's 8 bytes per output). Float32 rows only: the registry
 * pairs these with the double-threshold kernels for float64 rows, whose decisions a float32
 * bin cannot reproduce. */
LM__KERNEL_F32(lm__tree_margin_lgbm_bits__avx512) {
  lm__deep(v, L->bits, x, n, out, scratch, 0);
}
LM__KERNEL_F32(lm__tree_margin_lgbm_bits_one__avx512) {
  lm__deep(v, L->bits, x, n, out, scratch, 1);
}

#ifdef __clang__
#pragma clang attribute pop
#endif
