/*
 * tree_bits.h — the bin-and-bitmask layout: a second derived, in-memory form of a shallow
 * numeric ensemble (built from the perfect-tree layout when a model is opened), for kernels
 * that compare every node of a tree at once instead of walking it.
 *
 * Bins. For each feature f the distinct non-NaN thresholds of its splits, sorted (K_f ≤ 254 of
 * them), define bin(x) = #{thresholds of f ≤ x} ∈ [0, K_f] for a non-NaN x, and 255 for NaN.
 * A node of feature f and threshold t, the rank-th smallest of them (rank ≥ 1), sends x right
 * iff x ≥ t ⇔ bin(x) ≥ rank, exactly, for every float x (±0, ±inf included): the thresholds ≤ t
 * are the first rank ones and all of them are ≤ x. A row becomes one byte per feature.
 *
 * Nodes. The internal slots of a perfect tree of depth D are numbered in heap order from 1
 * (slot j's children are 2j and 2j+1; slot j is perfect-layout node j−1) and cut into chunks of
 * 64 slots. Per chunk and slot three bytes: the feature (an index into the row's bins), the
 * rank, and a limit, such that the node sends a bin b right iff (u8)(b − rank) < limit:
 *   default right: limit = 256 − rank   (NaN = 255 goes right);
 *   default left:  limit = 255 − rank   (NaN goes left);
 *   NaN threshold: rank 255, so only NaN can go right (limit 1 default right, 0 default left);
 *   unused slot:   limit 0 (never right).
 * Three byte-vector instructions (a byte permute of the row's bins, a subtraction, an unsigned
 * compare) then decide 64 nodes of a tree for one row, giving a 64-bit word; the leaf is found
 * from the words by D bit lookups (j = 2j + bit j). The decisions are those of the reference
 * rule (SPEC.md) by construction; leaves are kept pre-multiplied by the tree weight (the same
 * float product the reference forms), and added per row in tree order: bit-identical sums.
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

#define LM_BITS_MAX_FEATURES 128
#define LM_BITS_MAX_THRESHOLDS 254
#define LM_BITS_CHUNK_BYTES 192 /* feature[64], rank[64], limit[64] */

struct lm__perfect;

typedef struct lm__bits {
  uint32_t num_features; /* F ≤ 128 */
  uint32_t n_trees;
  uint32_t depth;        /* D, as the perfect layout's */
  uint32_t chunks;       /* C = ceil(2^D / 64): 64-slot chunks per tree (1, 2 or 4) */
  uint32_t n_leaf;       /* 2^D */
  float *thr;            /* F × 256: sorted distinct thresholds, then NaN */
  float *split16;        /* F × 16: thr[f][16·i + 15], the bucket splitters */
  uint8_t *nodes;        /* n_trees × C × 192 */
  float *leafw;          /* n_trees × n_leaf: leaf × tree weight */
  uint8_t *bottom;       /* D > 6: n_trees × 64 blocks of 32 bytes, one per level-6 slot
                            (heap slot 64 + s): the nodes below it and their leaves, so that a
                            row's walk below level 6 reads one half cache line per tree (see
                            lm__bits_block); NULL when D ≤ 6 */
  uint32_t *group;       /* n_trees: output of each tree */
  void *block;
} lm__bits;

/* Bottom block of a level-6 slot (trees of depth 7 or 8): bytes 0–2 features, 3–5 ranks, 6–8
 * limits of the slot's node (index 0) and, for depth 8, of its left (1) and right (2) children;
 * then from byte 16 its 2^(D−6) leaves (× weight) as floats, left to right. */
#define LM_BITS_BLOCK_BYTES 32

/* Build from a verified view and its perfect layout; NULL if not eligible or out of memory. */
lm__bits *lm__bits_build(const lmf_view *v, const struct lm__perfect *p);
void lm__bits_free(lm__bits *b);

#endif
