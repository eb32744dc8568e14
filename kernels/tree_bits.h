/*
 * tree_bits.h — the bin-and-bitmask layout: a second derived, in-memory form of a shallow
 * numeric ensemble (built from the perfect-tree layout when a model is opened), for kernels
 * that decide every node of a tree's first six levels at once instead of walking them.
 *
 * Bins. For each feature f the distinct non-NaN thresholds of its splits, sorted (K_f ≤ 254 of
 * them), define bin(x) = #{thresholds of f ≤ x} ∈ [0, K_f] for a non-NaN x, and 255 for NaN.
 * A node of feature f and threshold t, the rank-th smallest of them (rank ≥ 1), sends x right
 * iff x ≥ t ⇔ bin(x) ≥ rank, exactly, for every float x (±0, ±inf included): the thresholds ≤ t
 * are the first rank ones and all of them are ≤ x. A row becomes one byte per feature.
 *
 * Words. The first six levels of a tree (63 nodes; levels below the tree's depth D are
 * pass-through nodes that never go right) occupy the 63 low positions of a 64-bit word: the
 * depth-3 subtree at the root in positions 0–6, then the eight depth-3 subtrees rooted at level
 * 3, left to right, in positions 7 + 7k … 13 + 7k; inside each, heap order (root, left, right,
 * then their children). Per position three bytes: the feature (an index into the row's bins),
 * the rank and a limit such that the node sends bin b right iff (u8)(b − rank) < limit:
 *   default right: limit = 256 − rank   (NaN = 255 goes right);
 *   default left:  limit = 255 − rank   (NaN goes left);
 *   NaN threshold: rank 255, so only NaN can go right (limit 1 default right, 0 default left);
 *   pass-through or unused position: limit 0 (never right).
 * Three byte-vector instructions (a byte permute of the row's 128-byte bin table, a
 * subtraction, an unsigned compare) decide the 63 nodes for one row: one 64-bit word per
 * (row, tree). The level-6 position is then read from the word with two 128-entry byte tables
 * (the exit of a depth-3 subtree from its 7 decision bits): exit e of the top subtree, then
 * exit l of subtree e (the word shifted right by 7 + 7e): position 8e + l, in 0…63.
 *
 * Leaves. D ≤ 6: leaf = position >> (6 − D). D = 7 or 8: the position selects one of the tree's
 * 64 bottom blocks (32 bytes: the one or three nodes below it and its 2 or 4 leaves). Leaves are
 * stored multiplied by the tree weight (the float product the reference forms) and added per
 * row in tree order: sums are bit-identical to the scalar reference, decisions identical by
 * construction.
 *
 * Eligible: decision 0 (XGBoost), no categorical split, depth ≤ LM_PERFECT_MAX_DEPTH, at most
 * 128 features, at most 254 distinct thresholds per feature. Built and owned by the perfect
 * layout (lm__perfect.bits); NULL when not eligible.
 */
#ifndef LM_KERNELS_TREE_BITS_H
#define LM_KERNELS_TREE_BITS_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"
#include "kernels/layout_alloc.h"

#define LM_BITS_MAX_FEATURES 128
#define LM_BITS_MAX_THRESHOLDS 254
#define LM_BITS_WORD_BYTES 192 /* per tree: feature[64], rank[64], limit[64] */
/* Bottom block of a level-6 position (trees of depth 7 or 8): two bytes per node, for the
 * position's node (bytes 0–1) and, for depth 8, its left (2–3) and right (4–5) children: the
 * feature with the default direction in bit 7 (f | 128 when NaN goes left), then the rank
 * (bytes 2–5 are 0 for depth 7); from byte 16 its 2^(D−6) leaves (× weight) as floats, left to
 * right. A node sends a row right iff bin[f] ≥ rank, except a NaN (bin 255) at a default-left
 * node, which goes left: a NaN reaches every rank ≤ 255 (also a NaN threshold's 255), a real
 * bin (≤ 254) exactly the ranks ≤ bin; pass-through nodes (NaN threshold, default left) never
 * go right. The kernels read the header of 8 trees' blocks with one gather, the 8 trees of a
 * row in lanes (kernels/tree_bits_avx512.c, lm__bottom8). */
#define LM_BITS_BLOCK_BYTES 32

struct lm__perfect;

typedef struct lm__bits {
  uint32_t num_features; /* F ≤ 128 */
  uint32_t n_trees;
  uint32_t depth;        /* D, as the perfect layout's */
  uint32_t n_leaf;       /* 2^D */
  uint32_t levels;       /* L: the smallest L ≥ 1 with 2^L − 1 ≥ the largest K_f (≤ 8) */
  uint32_t dual;         /* F ≤ 64: a row's 128-byte bin table holds the bins twice, bytes
                            64 + f with NaN's 255 turned into 0; a default-left node's feature
                            byte is f + 64 and unused positions are (64, rank 255, limit 0), so
                            that a node goes right iff table[feature byte] ≥ rank (no limit
                            needed; the limit rule stays valid too) */
  uint32_t eyt_stride;   /* floats per feature in the search tables: max(32, 2^L) */
  float *thr;            /* F × 256: sorted distinct thresholds, then NaN; followed in the same
                            region by the search tables (lm__bits_eyt): F × eyt_stride */
  float *split16;        /* F × 16: thr[f][16·i + 15], the bucket splitters */
  uint8_t *nodes;        /* n_trees × 192: the word layout above */
  float *leafw;          /* D ≤ 6: n_trees × n_leaf, leaf × tree weight; else NULL */
  uint8_t *bottom;       /* D > 6: n_trees × 64 blocks of LM_BITS_BLOCK_BYTES; else NULL */
  uint32_t *group;       /* n_trees: output of each tree */
  uint8_t *lut;          /* 3 × 128 bytes: for the 7 decision bits of a depth-3 subtree, its
                            exit e (0–7), 8e, and the shift 7 + 7e */
  void *block;           /* the single allocation holding the arrays above */
  size_t block_bytes;
  const lm__alloc *alloc; /* what block and this struct came from */
} lm__bits;

/* Search tables for binning many rows at once (rows in lanes): per feature, entry j (1 ≤ j <
 * 2^L) is node j of the implicit binary search tree (Eytzinger order) over the feature's sorted
 * thresholds padded with NaN to 2^L − 1: the node of level k (2^(k−1) ≤ j < 2^k) holds sorted
 * threshold ((j − 2^(k−1))·2 + 1)·2^(L−k) − 1. Starting from j = 1, L steps j = 2j + [t_j ≤ x]
 * end on j = 2^L + #{thresholds ≤ x} for a non-NaN x: the bin, exactly (the predicate is
 * monotone over the sorted thresholds and false on the NaN padding). They live right after thr
 * in its region. */
static inline const float *lm__bits_eyt(const lm__bits *b) {
  return b->thr + (size_t)b->num_features * 256;
}

/* Build from a verified view and its perfect layout with memory from a; NULL if not eligible or
 * out of memory, with the reason in why (LM__WHY_LEN bytes). */
lm__bits *lm__bits_build(const lmf_view *v, const struct lm__perfect *p, const lm__alloc *a,
                         char *why);
void lm__bits_free(lm__bits *b);

#endif
