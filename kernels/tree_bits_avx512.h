/*
 * tree_bits_avx512.h — what the AVX-512 + VBMI kernels over the bin-and-bitmask layout share
 * (tree_bits_avx512.c: single rows and batches of depth ≤ 8; tree_bits_deep_avx512.c: the
 * records of deeper trees): binning a row or a block of rows, a row's bin table in registers,
 * a tree's 64-bit word, and the exit-table lookups of level-6 positions. Include only from
 * files compiled for AVX-512 whose kernels run where the planner saw VBMI: it switches VBMI on
 * for the rest of the including file (under clang the includer pops the attribute at its end).
 */
#ifndef LM_KERNELS_TREE_BITS_AVX512_H
#define LM_KERNELS_TREE_BITS_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/tree_bits.h"

/* VBMI byte permutes for the including file only (callers check lm__cpu_has_vbmi); clang ignores
 * the GCC pragma, so it gets its own (the libFuzzer build uses clang). */
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx512vbmi,avx512vpopcntdq,popcnt"))), apply_to = function)
#else
#pragma GCC target("avx512vbmi,avx512vpopcntdq,popcnt")
#endif

#define LM__BLOCK 64 /* rows per batch block: the model streams once per block */

#define LM__AI static inline __attribute__((always_inline))

/* The categorical features' membership columns of one row (tree_bits.h, lm__bits_cat): the
 * category as tree_common.h's rule reads it (NaN, invalid: their own table rows), its 64-byte
 * table row copied to the feature's columns. */
LM__AI void lm__bin_cats(const lm__bits *b, const float *row, uint8_t *tbl) {
  for (uint32_t i = 0; i < b->n_catf; i++) {
    const lm__bits_cat *q = &b->catf[i];
    float x = row[q->f];
    uint32_t c = q->ncat + 1; /* invalid: goes left at every node */
    if (x != x)
      c = q->ncat;
    else if ((b->lgbm_cats ? x > -1.0f : x >= 0.0f) && x < 16777216.0f && (uint32_t)x < q->ncat)
      c = (uint32_t)x;
    __mmask64 m = q->ncol >= 64 ? ~0ull : (1ull << q->ncol) - 1;
    _mm512_mask_storeu_epi8(tbl + q->col, m, _mm512_load_si512(b->cattab + q->tab + 64 * (size_t)c));
  }
}

/* The bins of the counted groups (tree_bits.h, lm__bits_lin) of R rows (lanes past `rows` repeat
 * the last row) into tbl[stride·r + c]: tree_bits_avx512.c. Single rows use it too. */
void lm__bits_bin_lin(const lm__bits *b, const float *x, size_t rows, size_t R, uint8_t *tbl);

/* The bins of one row: tbl[c] for the columns c < V (tbl has 128 · npairs bytes; the caller
 * zeroes it once: bytes past V are never selected). Per used feature outside the counted groups
 * (b->srch), a 16-ary search: one compare of 16 thresholds per level (two up to 255 thresholds,
 * three up to 4,095), then its columns (tree_bits.h); the counted groups as a block's
 * (lm__bits_bin_lin, one row). */
LM__AI void lm__bin_row(const lm__bits *b, const float *row, uint8_t *tbl) {
  /* locals: the byte stores below could alias b's fields for all the compiler knows */
  const uint32_t U = b->n_srch, *srch = b->srch;
  const float *thr = b->thr;
  const lm__bits_feat *feat = b->feat;
  /* the row's lines requested at once: the loads below (searched features anywhere, then the
   * counted groups' windows) would otherwise meet its misses one after the other (a single row
   * of 500–600 features, not in cache: 13–17% of the call) */
  for (size_t i = 0; i < (size_t)b->num_features * sizeof(float); i += 64)
    _mm_prefetch((const char *)row + i, _MM_HINT_T0);
  if (b->two) { /* one column per feature, two levels: no branch on the data */
    for (uint32_t i = 0; i < U; i++) {
      const lm__bits_feat *u = &feat[srch[i]];
      float x = row[u->f];
      __m512 xb = _mm512_set1_ps(x);
      unsigned c = (unsigned)_mm_popcnt_u32(
          _mm512_cmp_ps_mask(_mm512_load_ps(thr + u->lv[0]), xb, _CMP_LE_OQ));
      c = 16 * c + (unsigned)_mm_popcnt_u32(
                       _mm512_cmp_ps_mask(_mm512_load_ps(thr + u->lv[1] + 16 * c), xb, _CMP_LE_OQ));
      tbl[u->col] = (uint8_t)(x != x ? 255u : c);
    }
  } else
  for (uint32_t i = 0; i < U; i++) {
    const lm__bits_feat *u = &feat[srch[i]];
    float x = row[u->f];
    __m512 xb = _mm512_set1_ps(x);
    unsigned c = 0;
    for (uint32_t l = 0; l < u->h; l++)
      c = 16 * c + (unsigned)_mm_popcnt_u32(
                       _mm512_cmp_ps_mask(_mm512_load_ps(thr + u->lv[l] + 16 * c), xb, _CMP_LE_OQ));
    uint8_t *t = tbl + u->col;
    if (x != x) {
      for (uint32_t s = 0; s < u->nseg; s++) t[s] = 255;
    } else if (u->nseg == 1) {
      t[0] = (uint8_t)c;
    } else {
      for (uint32_t s = 0; s < u->nseg; s++, c = c > LM_BITS_SEG ? c - LM_BITS_SEG : 0)
        t[s] = (uint8_t)(c < LM_BITS_SEG ? c : LM_BITS_SEG);
    }
  }
  if (b->n_lin) lm__bits_bin_lin(b, row, 1, 1, tbl);
  lm__bin_cats(b, row, tbl);
  if (b->dual) { /* bytes 64 + c: the same bins, NaN → 0 (tree_bits.h) */
    __m512i v = _mm512_load_si512(tbl);
    _mm512_store_si512(tbl + 64, _mm512_maskz_mov_epi8(_mm512_cmpneq_epi8_mask(v, _mm512_set1_epi8(-1)), v));
  }
}

/* The bins of a block of rows into tbl[stride·r + c] (stride = 128 · npairs; R = rows rounded
 * up to 16 ≤ LM__BLOCK; lanes past `rows` repeat the last row): tree_bits_avx512.c. */
void lm__bits_bin_block(const lm__bits *b, const float *x, size_t rows, size_t R, uint8_t *tbl);

/* A row's bin table as lm__sel reads it: tb[2p], tb[2p + 1] = bytes 128p … 128p + 127 (pair
 * p). Up to 4 pairs in registers (regs: 8 vectors, loaded here); more are read from the table
 * itself (64-byte aligned), as memory operands of the permutes: an array of 16 vectors is not
 * kept in registers by the compiler, and spilling it slowed the 4-pair kernels by half. */
LM__AI const __m512i *lm__tb(__m512i regs[8], const uint8_t *tbl, int np) {
  if (np > 4) return (const __m512i *)(const void *)tbl;
  for (int i = 0; i < 2 * np; i++) regs[i] = _mm512_load_si512(tbl + 64 * i);
  return regs;
}

/* The bins of 64 columns (idx: their low 7 bits per byte; m7, m8, m9: which have bit 7, 8, 9
 * set) from a row's table of np pairs: one byte permute per pair, blended as soon as its
 * partner is there (pairs 2k and 2k + 1 by bit 7, then by bit 8, then by bit 9; np − 1 blends):
 * computing every permute first kept more vectors live and made the 4-pair kernels spill. */
LM__AI __m512i lm__perm(const __m512i *tb, __m512i idx, int p) {
  return _mm512_permutex2var_epi8(tb[2 * p], idx, tb[2 * p + 1]);
}
LM__AI __m512i lm__sel4(const __m512i *tb, __m512i idx, __mmask64 m7, __mmask64 m8, int np) {
  __m512i r = lm__perm(tb, idx, 0);
  if (np == 1) return r;
  r = _mm512_mask_blend_epi8(m7, r, lm__perm(tb, idx, 1));
  if (np == 2) return r;
  __m512i r2 = lm__perm(tb, idx, 2);
  if (np > 3) r2 = _mm512_mask_blend_epi8(m7, r2, lm__perm(tb, idx, 3));
  return _mm512_mask_blend_epi8(m8, r, r2);
}
LM__AI __m512i lm__sel(const __m512i *tb, __m512i idx, __mmask64 m7, __mmask64 m8, __mmask64 m9,
                       int np) {
  __m512i r = lm__sel4(tb, idx, m7, m8, np < 4 ? np : 4);
  if (np <= 4) return r;
  return _mm512_mask_blend_epi8(m9, r, lm__sel4(tb + 8, idx, m7, m8, np - 4));
}

/* Calls CALL(np) with np a constant for the layout's pair count (tree_bits.h: 1–4, 6, 8). */
#define LM__NP_DISPATCH(np, CALL)                                                                 \
  switch (np) {                                                                                  \
  case 1: CALL(1); break;                                                                        \
  case 2: CALL(2); break;                                                                        \
  case 3: CALL(3); break;                                                                        \
  case 4: CALL(4); break;                                                                        \
  case 6: CALL(6); break;                                                                        \
  default: CALL(8); break;                                                                       \
  }

/* A tree's node bytes held in registers across rows. */
/* cat (a constant where it matters): the layout has categorical positions (byte 232 of the word
 * or record: their mask), where a node goes right iff column byte & rank byte ≠ 0. */
typedef struct { __m512i idx, rank, lim; __mmask64 m7, m8, m9, cat; } lm__tw;
LM__AI lm__tw lm__tw_load(const uint8_t *nd, int np, int cat) {
  lm__tw w = {_mm512_load_si512(nd), _mm512_load_si512(nd + 64), _mm512_load_si512(nd + 128), 0, 0, 0, 0};
  if (np > 1) w.m7 = *(const uint64_t *)(nd + 192), w.m8 = *(const uint64_t *)(nd + 200);
  if (np > 4) w.m9 = *(const uint64_t *)(nd + 224);
  if (cat) w.cat = *(const uint64_t *)(nd + 232);
  return w;
}
LM__AI __mmask64 lm__tw_word(const lm__tw *w, const __m512i *tb, int np, int cat) {
  __m512i s = lm__sel(tb, w->idx, w->m7, w->m8, w->m9, np);
  __mmask64 r = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(s, w->rank), w->lim);
  if (cat) r |= _mm512_mask_test_epi8_mask(w->cat, s, w->rank);
  return r;
}

/* The word of one tree (its node bytes at nd) for a row whose bin table is tb. */
LM__AI __mmask64 lm__word(const uint8_t *nd, const __m512i *tb, int np, uint32_t dual, int cat) {
  if (np == 1 && dual) /* V ≤ 64: right iff bin ≥ rank (tree_bits.h; never with cat) */
    return _mm512_cmpge_epu8_mask(_mm512_permutex2var_epi8(tb[0], _mm512_load_si512(nd), tb[1]),
                                  _mm512_load_si512(nd + 64));
  lm__tw w = lm__tw_load(nd, np, cat);
  return lm__tw_word(&w, tb, np, cat);
}

/* Words of 4 trees (nd) for R rows of bins (tbl, stride bytes apart) into W[r·rs + i·ts]; pc:
 * prefetches of pf (up to pf_end bytes) spread over the rows, step bytes per row. */
LM__AI void lm__words4(const uint8_t *const nd[4], const uint8_t *tbl, size_t stride, size_t R,
                       uint64_t *W, size_t rs, size_t ts, const uint8_t *pf, size_t *pc,
                       size_t step, size_t pf_end, int np, int cat) {
  lm__tw w0 = lm__tw_load(nd[0], np, cat), w1 = lm__tw_load(nd[1], np, cat);
  lm__tw w2 = lm__tw_load(nd[2], np, cat), w3 = lm__tw_load(nd[3], np, cat);
  for (size_t r = 0; r < R; r++) {
    __m512i regs[8];
    const __m512i *tb = lm__tb(regs, tbl + stride * r, np);
    W[r * rs] = lm__tw_word(&w0, tb, np, cat);
    W[r * rs + ts] = lm__tw_word(&w1, tb, np, cat);
    W[r * rs + 2 * ts] = lm__tw_word(&w2, tb, np, cat);
    W[r * rs + 3 * ts] = lm__tw_word(&w3, tb, np, cat);
    for (size_t e = *pc + step; *pc < e && *pc < pf_end; *pc += 64)
      _mm_prefetch((const char *)pf + *pc, _MM_HINT_T0);
  }
}

/* 8 × 8 doubles transposed: r[j] holds row j on entry, column j on exit. */
LM__AI void lm__tr8d(__m512d r[8]) {
  __m512d a[8], c[8];
  for (int i = 0; i < 8; i += 2) { /* a[i]: columns 0, 2, 4, 6 of rows i, i+1; a[i+1]: 1, 3, 5, 7 */
    a[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
    a[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
  }
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int h = 0; h < 8; h += 4) /* rows h … h+3: c[h + k] holds columns k | k + 4 (k < 4) */
    for (int k = 0; k < 2; k++) {
      c[h + k] = _mm512_permutex2var_pd(a[h + k], lo, a[h + 2 + k]);
      c[h + 2 + k] = _mm512_permutex2var_pd(a[h + k], hi, a[h + 2 + k]);
    }
  for (int k = 0; k < 4; k++) {
    r[k] = _mm512_shuffle_f64x2(c[k], c[4 + k], 0x44);
    r[k + 4] = _mm512_shuffle_f64x2(c[k], c[4 + k], 0xEE);
  }
}

/* The exit-table lookups (tree_bits.h): level-6 positions (0–63) of 8 words in 64-bit lanes.
 * A byte permute indexes with the low 7 bits of every byte; only byte 0 of each lane counts. */
typedef struct { __m512i e0, e1, h0, h1, s0, s1; } lm__luts;
static inline lm__luts lm__load_luts(const lm__bits *b) {
  lm__luts t = {_mm512_load_si512(b->lut), _mm512_load_si512(b->lut + 64),
                _mm512_load_si512(b->lut + 128), _mm512_load_si512(b->lut + 192),
                _mm512_load_si512(b->lut + 256), _mm512_load_si512(b->lut + 320)};
  return t;
}
static inline __m512i lm__pos8(const lm__luts *t, __m512i W) {
  const __m512i ff = _mm512_set1_epi64(0xFF);
  __m512i sh = _mm512_and_si512(_mm512_permutex2var_epi8(t->s0, W, t->s1), ff);
  __m512i hi = _mm512_permutex2var_epi8(t->h0, W, t->h1);
  __m512i lo = _mm512_permutex2var_epi8(t->e0, _mm512_srlv_epi64(W, sh), t->e1);
  return _mm512_and_si512(_mm512_add_epi8(hi, lo), ff);
}

#endif
