/*
 * tree_bits_avx512.c — AVX-512 (+ VBMI byte permutes) kernels over the bin-and-bitmask layout
 * (tree_bits.h): no gather on the walk at all.
 *
 * A row is first turned into one bin byte per feature (two compares of 16 thresholds per
 * feature: bucket, then place in the bucket). Then, per tree and 64-slot chunk, one byte permute
 * picks each node's bin from the row's 128-byte table, a subtraction and an unsigned compare
 * decide all 64 nodes: a 64-bit word per (row, tree, chunk). The leaf is found from the words
 * 8 at a time in 64-bit lanes (j = 2j + bit j of the words, D times) and its value (× weight,
 * precomputed) gathered.
 *
 * - Single row: trees in lanes (8 per vector); the row's leaves are then added in tree order.
 * - Batch: 16 rows per block, rows in lanes for the leaf search and the sums (two 8-row halves);
 *   each row adds its trees' leaves in tree order. The words of tree t are written while the
 *   leaves of tree t − 1 are found (a one-tree pipeline: the words are stored from mask
 *   registers and reloaded as vectors once their stores have retired).
 * Sums are bit-identical to the scalar reference; decisions are identical by construction.
 * Falls back to the perfect-layout kernel when the layout was not built or the CPU lacks VBMI.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"

#pragma GCC target("avx512vbmi,popcnt")

#define LM__BLOCK 16 /* rows per batch block */
#define LM__TB 64    /* trees per single-row pass */

/* The bins of one row: tbl[f] for f < F (tbl has 128 bytes; the rest is never selected). */
static inline void lm__bin_row(const lm__bits *b, const float *row, uint8_t *tbl) {
  const uint32_t F = b->num_features;
  for (uint32_t f = 0; f < F; f++) {
    float x = row[f];
    __m512 xb = _mm512_set1_ps(x);
    unsigned c1 = (unsigned)_mm_popcnt_u32(
        _mm512_cmp_ps_mask(_mm512_load_ps(b->split16 + 16 * f), xb, _CMP_LE_OQ));
    unsigned c2 = (unsigned)_mm_popcnt_u32(
        _mm512_cmp_ps_mask(_mm512_load_ps(b->thr + 256 * (size_t)f + 16 * c1), xb, _CMP_LE_OQ));
    unsigned bin = 16 * c1 + c2;
    tbl[f] = (uint8_t)(x != x ? 255u : bin);
  }
}

/* The 64 decisions of one chunk for a row whose bins are lo (features 0–63) and hi (64–127). */
static inline __mmask64 lm__word(const uint8_t *chunk, __m512i lo, __m512i hi) {
  __m512i bins = _mm512_permutex2var_epi8(lo, _mm512_load_si512(chunk), hi);
  __m512i d = _mm512_sub_epi8(bins, _mm512_load_si512(chunk + 64));
  return _mm512_cmplt_epu8_mask(d, _mm512_load_si512(chunk + 128));
}

/* Leaf positions (0 … 2^D − 1) of 8 (row, tree) pairs from their chunk words w[c][0..8). */
static inline __m512i lm__leaf8(const uint64_t *w0, const uint64_t *w1, const uint64_t *w2,
                                const uint64_t *w3, uint32_t D) {
  const __m512i one = _mm512_set1_epi64(1), m63 = _mm512_set1_epi64(63);
  __m512i W0 = _mm512_loadu_si512(w0);
  __m512i j = one;
  uint32_t l = 0;
  for (; l < D && l < 6; l++)
    j = _mm512_add_epi64(_mm512_add_epi64(j, j), _mm512_and_si512(_mm512_srlv_epi64(W0, j), one));
  if (D > 6) {
    __m512i W1 = _mm512_loadu_si512(w1);
    __m512i s = _mm512_and_si512(j, m63);
    j = _mm512_add_epi64(_mm512_add_epi64(j, j), _mm512_and_si512(_mm512_srlv_epi64(W1, s), one));
  }
  if (D > 7) {
    __mmask8 hi = _mm512_test_epi64_mask(j, _mm512_set1_epi64(64));
    __m512i W = _mm512_mask_blend_epi64(hi, _mm512_loadu_si512(w2), _mm512_loadu_si512(w3));
    __m512i s = _mm512_and_si512(j, m63);
    j = _mm512_add_epi64(_mm512_add_epi64(j, j), _mm512_and_si512(_mm512_srlv_epi64(W, s), one));
  }
  return _mm512_sub_epi64(j, _mm512_set1_epi64((long long)1 << D));
}

static void lm__one_row(const lm__bits *b, const lmf_meta *m, const float *row, float *o) {
  const uint32_t T = b->n_trees, C = b->chunks, D = b->depth, G = m->num_outputs;
  _Alignas(64) uint8_t tbl[128];
  _Alignas(64) uint64_t W[4][LM__TB];
  _Alignas(64) float lv[LM__TB];
  memset(tbl, 0, sizeof tbl);
  lm__bin_row(b, row, tbl);
  __m512i lo = _mm512_load_si512(tbl), hi = _mm512_load_si512(tbl + 64);
  const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  const __m512i last = _mm512_set1_epi64(T - 1);
  for (uint32_t g = 0; g < G; g++) o[g] = m->base_margin;
  for (uint32_t t0 = 0; t0 < T; t0 += LM__TB) {
    uint32_t nt = T - t0 < LM__TB ? T - t0 : LM__TB, n8 = (nt + 7) & ~7u;
    for (uint32_t i = 0; i < n8; i++) {
      uint32_t t = t0 + i < T ? t0 + i : T - 1;
      const uint8_t *nd = b->nodes + (size_t)t * C * LM_BITS_CHUNK_BYTES;
      for (uint32_t c = 0; c < C; c++) W[c][i] = lm__word(nd + c * LM_BITS_CHUNK_BYTES, lo, hi);
    }
    for (uint32_t q = 0; q < n8; q += 8) {
      __m512i leaf = lm__leaf8(&W[0][q], &W[1][q], &W[2][q], &W[3][q], D);
      __m512i t = _mm512_min_epu64(_mm512_add_epi64(_mm512_set1_epi64(t0 + q), lane), last);
      __m512i at = _mm512_add_epi64(_mm512_slli_epi64(t, D), leaf);
      _mm256_store_ps(lv + q, _mm512_i64gather_ps(at, b->leafw, 4));
    }
    if (G == 1)
      for (uint32_t i = 0; i < nt; i++) o[0] += lv[i];
    else
      for (uint32_t i = 0; i < nt; i++) o[b->group[t0 + i]] += lv[i];
  }
}

/* Words of tree t for the 16 rows of a block into w[c][r]. */
static inline void lm__block_words(const lm__bits *b, uint32_t t, const uint8_t *tbl,
                                   uint64_t (*w)[LM__BLOCK]) {
  const uint32_t C = b->chunks;
  const uint8_t *nd = b->nodes + (size_t)t * C * LM_BITS_CHUNK_BYTES;
  for (int r = 0; r < LM__BLOCK; r++) {
    __m512i lo = _mm512_load_si512(tbl + 128 * r), hi = _mm512_load_si512(tbl + 128 * r + 64);
    for (uint32_t c = 0; c < C; c++) w[c][r] = lm__word(nd + c * LM_BITS_CHUNK_BYTES, lo, hi);
  }
}

static void lm__block(const lm__bits *b, const lmf_meta *m, const float *x, size_t rows,
                      float *out) {
  const uint32_t T = b->n_trees, D = b->depth, G = m->num_outputs, F = b->num_features;
  _Alignas(64) uint8_t tbl[LM__BLOCK * 128];
  _Alignas(64) uint64_t W[2][4][LM__BLOCK];
  for (size_t r = 0; r < LM__BLOCK; r++) {
    if (r < rows) {
      lm__bin_row(b, x + r * F, tbl + 128 * r);
      memset(tbl + 128 * r + F, 0, 128 - F);
    } else {
      memcpy(tbl + 128 * r, tbl + 128 * (rows - 1), 128); /* tail lanes repeat the last row */
    }
  }
  __m256 acc[2] = {_mm256_set1_ps(m->base_margin), _mm256_set1_ps(m->base_margin)};
  if (G > 1)
    for (size_t r = 0; r < rows; r++)
      for (size_t g = 0; g < G; g++) out[r * G + g] = m->base_margin;
  lm__block_words(b, 0, tbl, W[0]);
  for (uint32_t t = 0; t < T; t++) {
    if (t + 1 < T) lm__block_words(b, t + 1, tbl, W[(t + 1) & 1]);
    uint64_t(*w)[LM__BLOCK] = W[t & 1];
    for (int h = 0; h < 2; h++) {
      __m512i leaf = lm__leaf8(&w[0][8 * h], &w[1][8 * h], &w[2][8 * h], &w[3][8 * h], D);
      __m512i at = _mm512_add_epi64(_mm512_set1_epi64((long long)t << D), leaf);
      __m256 l = _mm512_i64gather_ps(at, b->leafw, 4);
      if (G == 1) {
        acc[h] = _mm256_add_ps(acc[h], l);
      } else {
        _Alignas(32) float lv[8];
        _mm256_store_ps(lv, l);
        uint32_t g = b->group[t];
        for (size_t r = 8 * (size_t)h; r < rows && r < 8 * (size_t)h + 8; r++)
          out[r * G + g] += lv[r - 8 * (size_t)h];
      }
    }
  }
  if (G == 1) {
    _Alignas(64) float a[LM__BLOCK];
    _mm256_store_ps(a, acc[0]);
    _mm256_store_ps(a + 8, acc[1]);
    memcpy(out, a, rows * sizeof(float));
  }
}

void lm__tree_margin_bits__avx512(const lmf_view *v, const float *x, size_t n, float *out) {
  const lm__bits *b = v->perfect ? v->perfect->bits : NULL;
  if (!b || !lm__cpu_has_vbmi()) {
    lm__tree_margin_perfect__avx512(v, x, n, out);
    return;
  }
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  if (n < 4) {
    for (size_t r = 0; r < n; r++) lm__one_row(b, v->meta, x + r * F, out + r * G);
    return;
  }
  for (size_t r0 = 0; r0 < n; r0 += LM__BLOCK) {
    size_t rows = n - r0 < LM__BLOCK ? n - r0 : LM__BLOCK;
    lm__block(b, v->meta, x + r0 * F, rows, out + r0 * G);
  }
}
