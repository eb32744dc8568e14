/*
 * tree_bits.h — the bin-and-bitmask layout: a second derived, in-memory form of a shallow
 * numeric ensemble (built from the perfect-tree layout when a model is opened), for kernels
 * that decide every node of a tree's first six levels at once instead of walking them.
 *
 * Bins. For each feature f the model splits on, the distinct non-NaN thresholds of its splits,
 * sorted (K_f ≤ 65,535 of them), define bin(x) = #{thresholds of f ≤ x} ∈ [0, K_f] for a
 * non-NaN x. A node of feature f and threshold t, the R-th smallest of them (R ≥ 1), sends x
 * right iff x ≥ t ⇔ bin(x) ≥ R, exactly, for every float x (±0, ±inf included): the thresholds
 * ≤ t are the first R ones and all of them are ≤ x.
 *
 * Columns. Bins are bytes: feature f gets nseg = max(1, ⌈K_f / 254⌉) columns (segments), column
 * s holding clamp(bin − 254·s, 0, 254) for a non-NaN x and 255 for NaN. The node of global rank
 * R uses column s = (R − 1) / 254 with rank r = R − 254·s ∈ [1, 254]: bin ≥ R ⇔ column byte ≥ r
 * (a bin past the segment saturates at 254 ≥ r, one before it reads 0 < r). Only features the
 * model uses get columns (a dense remap), so a row becomes V = Σ nseg bytes whatever the row's
 * width: V ≤ 128 fits a pair of 64-byte registers, up to 512 take ⌈V / 128⌉ pairs (npairs).
 *
 * Words. The first six levels of a tree (63 nodes; levels below the tree's depth D are
 * pass-through nodes that never go right) occupy the 63 low positions of a 64-bit word: the
 * depth-3 subtree at the root in positions 0–6, then the eight depth-3 subtrees rooted at level
 * 3, left to right, in positions 7 + 7k … 13 + 7k; inside each, heap order (root, left, right,
 * then their children). Per position three bytes: the column (its low 7 bits: an index into a
 * pair of the row's bins; with npairs > 1 two 64-bit masks per tree hold bits 7 and 8),
 * the rank and a limit such that the node sends bin b right iff (u8)(b − rank) < limit:
 *   default right: limit = 256 − rank   (NaN = 255 goes right);
 *   default left:  limit = 255 − rank   (NaN goes left);
 *   NaN threshold: rank 255, so only NaN can go right (limit 1 default right, 0 default left);
 *   pass-through or unused position: limit 0 (never right).
 * Three byte-vector instructions (a byte permute of the row's 128-byte bin table, a
 * subtraction, an unsigned compare; npairs > 1: one permute per pair and blends) decide the 63
 * nodes for one row: one 64-bit word per
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
 * Deeper trees (depth 9 to LM_BITS_MAX_DEPTH) use records of six levels each (below).
 *
 * Eligible (lm__bits_eligible): decision 0 (XGBoost), categorical splits only where the
 * comment above lm__bits_cat allows them, depth ≤
 * LM_BITS_MAX_DEPTH, at most 65,535 distinct thresholds per feature and LM_BITS_MAX_COLUMNS columns (any
 * number of row features). Built from the perfect layout (also its top layout of deep trees)
 * by the planner, which owns it (runtime/plan.c); NULL when not eligible.
 */
#ifndef LM_KERNELS_TREE_BITS_H
#define LM_KERNELS_TREE_BITS_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"
#include "kernels/layout_alloc.h"

/* Columns: a row's bins are bytes in a table of 128 · npairs bytes (npairs = 1, 2, 3, 4, 6 or
 * 8 pairs of 64-byte registers; 5 and 7 are rounded up, the extra pair zero and never
 * selected, so that kernels are instantiated for six pair counts rather than eight): at most
 * LM_BITS_MAX_COLUMNS columns. 1,024 rather than 512: the zoo's 600-feature model
 * (hist256-bin600: 594 used features) used to miss this layout. */
#define LM_BITS_MAX_COLUMNS 1024
#define LM_BITS_MAX_PAIRS 8
#define LM_BITS_SEG 254                /* thresholds per column (segment) */
#define LM_BITS_MAX_THRESHOLDS 65535   /* distinct thresholds per feature */
#define LM_BITS_WORD_BYTES 192 /* per tree, npairs = 1: feature[64], rank[64], limit[64] */
#define LM_BITS_WORD_BYTES_WIDE 256 /* npairs > 1: then, at byte 192, two 64-bit masks: the
                                       positions whose column has bit 7 set, bit 8 set; at
                                       byte 224 (npairs > 4) those with bit 9 set */
/* Bottom block of a level-6 position (trees of depth 7 or 8): two bytes per node, for the
 * position's node (bytes 0–1) and, for depth 8, its left (2–3) and right (4–5) children: the
 * column's low 7 bits with the default direction in bit 7 (c | 128 when NaN goes left), then
 * the rank (bytes 2–5 are 0 for depth 7); byte 6: bit i = bit 7 of node i's column, bit 3 + i =
 * its bit 8 (npairs > 1); byte 7: bit i = its bit 9 (npairs > 4); from byte 16 its 2^(D−6) leaves (× weight) as floats, left to right.
 * A node sends a row right iff bin[c] ≥ rank, except a NaN (bin 255) at a default-left node,
 * which goes left: a NaN reaches every rank ≤ 255 (also a NaN threshold's 255), a real bin
 * (≤ 254) exactly the ranks ≤ bin; pass-through nodes (NaN threshold, default left) never go
 * right. The kernels read the header of 8 trees' blocks with one gather, the 8 trees of a row in
 * lanes (kernels/tree_bits_avx512.c, lm__bottom8). */
#define LM_BITS_BLOCK_BYTES 32
/* Deep trees (depth > LM_PERFECT_MAX_DEPTH, up to LM_BITS_MAX_DEPTH): levels by words. Each
 * tree is a hierarchy of records, one per subtree of six levels: the tree's root record (record
 * t for tree t), then one record below each level-6 position that is not a leaf, and so on; the
 * records below one record are consecutive, in position order. Record (LM_BITS_REC_BYTES):
 * bytes 0–191 the word layout above for its six levels (leaves above its bottom become
 * pass-through nodes), 192–207 the two column-bit masks (always present), 208–215 a 64-bit
 * mask of the positions that end on a leaf, 216–219 the index of its first child record,
 * 220–223 the index (in recleaf) of its first leaf, 224–231 the bit-9 column mask (npairs > 4). Position p continues at record first_child
 * + #{non-leaf positions < p}, or ends on leaf first_leaf + #{leaf positions < p}: no per-
 * position entries, so a step of the walk reads one record's four lines at once. About two
 * records per tree of depth 12. */
#define LM_BITS_REC_BYTES 256
#define LM_BITS_MAX_DEPTH 64

struct lm__perfect;

/* Categorical splits (tree_bits.c; not in bottom blocks, so XGBoost trees of depth 7–8 with
 * one stay on the perfect-tree kernels). A categorical feature gets membership columns after
 * the bins: each distinct (category set, default direction) of its nodes is a key, key k being
 * bit k % 8 of column k / 8. A row's category c (x truncated; NaN and invalid categories as
 * tree_common.h rules them) selects row c of the feature's table (64 bytes per category, then
 * a row for NaN — bit k = key k's default direction is right — and an all-zero row for invalid
 * ones), copied to its columns. A categorical position of a word holds the key's column, the
 * bit as its rank byte and limit 0, and is set in a 64-bit mask at byte 232 of the word (the
 * wide word layout) or record: the kernels OR in (column byte & rank byte) ≠ 0 there. */
#define LM_BITS_CAT_MAX_COLS 64    /* membership columns per categorical feature */
#define LM_BITS_CAT_MAX_CATS 4096  /* table rows (categories) per categorical feature */
typedef struct lm__bits_cat {
  uint32_t f;    /* the row's feature */
  uint32_t col;  /* its first column */
  uint32_t ncol; /* its columns */
  uint32_t ncat; /* categories with a table row: 0 … ncat − 1; row ncat: NaN; ncat + 1: invalid */
  uint32_t tab;  /* byte offset of its table in lm__bits.cattab: (ncat + 2) rows of 64 bytes */
} lm__bits_cat;

/* Counted groups (block binning of wide rows): 16 consecutive used features of at most
 * LM_BITS_LIN_K distinct thresholds each, one column each, spanning at most 32 row floats, are
 * binned with the features in lanes, a row at a time: bin = #{j : t_j ≤ x} over K threshold
 * vectors (lane i of vector j: feature i's j-th smallest threshold, NaN past its own count), no
 * transposition of the rows or of the bins. The other used features keep the rows-in-lanes
 * search (lm__bits_bin_block). */
#define LM_BITS_LIN_K 12
typedef struct lm__bits_lin {
  uint32_t f0;   /* the row index of the group's first feature: the window starts there */
  uint32_t col;  /* its first column: the group's columns are col … col + 15 */
  uint32_t K;    /* threshold vectors: the most distinct thresholds of its features */
  uint32_t wide; /* the features span more than 16 row floats: a second (masked) load of hi_n
                    floats and a two-source permute by the indices at thr */
  uint32_t hi_n;
  uint32_t thr;  /* offset in lm__bits.thr: 16 permute indices (uint32), then K × 16 thresholds */
} lm__bits_lin;

/* One feature the model splits on (a used feature): where its bins go and its search tables.
 * Offsets are in floats from lm__bits.thr. */
typedef struct lm__bits_feat {
  uint32_t f;        /* the row's feature index */
  uint32_t col;      /* its first column; segment s (thresholds 254·s + 1 … 254·s + 254 in sorted
                        order) is column col + s */
  uint32_t nseg;     /* columns: max(1, ⌈K / 254⌉) */
  uint32_t K;        /* distinct non-NaN thresholds */
  uint32_t L;        /* Eytzinger levels: the smallest L ≥ 1 with 2^L − 1 ≥ K */
  uint32_t h;        /* levels of the 16-ary search (single rows), 1–4 */
  uint32_t eyt;      /* offset of the Eytzinger table: max(32, 2^L) floats (lm__bits_eyt) */
  uint32_t lin;      /* 1: binned in a counted group (lm__bits_lin), not by the search below */
  uint32_t lv[4];    /* offsets of the 16-ary levels, top first; the last is the sorted
                        thresholds, NaN-padded to a multiple of 16 with at least one NaN; level
                        k − 1 entry i is level k entry 16·i + 15, NaN-padded likewise */
} lm__bits_feat;

typedef struct lm__bits {
  uint32_t num_features; /* F: the row's features (row stride) */
  uint32_t n_used;       /* used features (entries of feat) */
  uint32_t n_cols;       /* V: columns (Σ nseg) ≤ LM_BITS_MAX_COLUMNS */
  uint32_t npairs;       /* ⌈V / 128⌉ (1, 2, 3, 4, 6, 8: 5 and 7 rounded up): 64-byte register
                            pairs of a row's bin table,
                            128 · npairs bytes */
  uint32_t word_bytes;   /* LM_BITS_WORD_BYTES, or LM_BITS_WORD_BYTES_WIDE for npairs > 1 */
  uint32_t n_trees;
  uint32_t depth;        /* D, as the perfect layout's; deep trees: the ensemble's max depth */
  uint32_t n_leaf;       /* 2^D */
  uint32_t max_L;        /* the largest Eytzinger L of a used feature */
  uint32_t dual;         /* V ≤ 64: a row's 128-byte bin table holds the bins twice, bytes
                            64 + c with NaN's 255 turned into 0; a default-left node's column
                            byte is c + 64 and unused positions are (64, rank 255, limit 0), so
                            that a node goes right iff table[column byte] ≥ rank (no limit
                            needed; the limit rule stays valid too) */
  float *thr;            /* the search tables of every used feature (offsets in feat) */
  lm__bits_feat *feat;   /* n_used entries, by increasing f */
  lm__bits_cat *catf;    /* n_catf categorical features (after the bins' columns) */
  uint8_t *cattab;       /* their tables */
  uint32_t n_catf;
  uint32_t cat;          /* 1 if the ensemble has categorical splits */
  uint32_t lgbm_cats;    /* decision 1: a category is trunc(x) for x > −1 (else x ≥ 0) */
  lm__bits_lin *lin;     /* n_lin counted groups (block binning), by increasing f */
  uint32_t n_lin;
  uint32_t *srch;        /* n_srch: the indices (in feat) of the used features binned by the
                            search, not in a counted group, increasing */
  uint32_t n_srch;
  uint64_t tchunks;      /* bit k: columns 16k … 16k + 15 hold a column binned by the search */
  uint8_t *nodes;        /* n_trees × word_bytes: the word layout above */
  float *leafw;          /* D ≤ 6: n_trees × n_leaf, leaf × tree weight; else NULL */
  uint8_t *bottom;       /* D > 6: n_trees × 64 blocks of LM_BITS_BLOCK_BYTES; else NULL */
  uint8_t *recs;         /* D > LM_PERFECT_MAX_DEPTH: n_recs records (above); else NULL (and
                            nodes, leafw, bottom are NULL when recs is set) */
  uint32_t n_recs;
  float *recleaf;        /* deep trees: the records' leaves × tree weight (64·n_recs − (n_recs −
                            n_trees) of them, a leaf per position that ends on one) */
  double *recleaf64;     /* decision 1 (LightGBM) instead of recleaf: its leaves in double
                            (NODE_F64 × the tree's weight, as the reference forms them), which
                            the kernels add in double (tree_bits_deep_avx512.c) */
  uint32_t lgbm;         /* decision 1: always records (every depth), leaves in recleaf64 */
  uint32_t *recnode;     /* decision 1 with linear trees: per record leaf its NODES index (the
                            kernels evaluate a linear tree's leaf for the row); else NULL */
  uint32_t two;          /* every used feature has one column and exactly two 16-ary levels
                            (h = 2, K ≤ 254): lm__bin_row's loop without branches */
  uint32_t *group;       /* n_trees: output of each tree */
  uint8_t *lut;          /* 3 × 128 bytes: for the 7 decision bits of a depth-3 subtree, its
                            exit e (0–7), 8e, and the shift 7 + 7e */
  void *block;           /* the single allocation holding the arrays above (thr, feat, nodes,
                            leafw, bottom, recs, recleaf, group, lut) */
  size_t block_bytes;
  const lm__alloc *alloc; /* what block and this struct came from (a NUMA replica's plan builds
                             its own in node memory: runtime/numa.c) */
} lm__bits;

/* Search tables for binning many rows at once (rows in lanes): per used feature, entry j (1 ≤ j <
 * 2^L) is node j of the implicit binary search tree (Eytzinger order) over the feature's sorted
 * thresholds padded with NaN to 2^L − 1: the node of level k (2^(k−1) ≤ j < 2^k) holds sorted
 * threshold ((j − 2^(k−1))·2 + 1)·2^(L−k) − 1. Starting from j = 1, L steps j = 2j + [t_j ≤ x]
 * end on j = 2^L + #{thresholds ≤ x} for a non-NaN x: the bin, exactly (the predicate is
 * monotone over the sorted thresholds and false on the NaN padding). Levels 1–7 are read from
 * registers, deeper ones with gathers. */
static inline const float *lm__bits_eyt(const lm__bits *b, const lm__bits_feat *u) {
  return b->thr + u->eyt;
}

/* Decision 1 (LightGBM) models get the layout too, always as records (LightGBM grows trees
 * leaf-wise: deep and unbalanced), when every split is numeric without zero-as-missing and no
 * tree is linear: their float32 decisions are then XGBoost's rule on NODES' normalised
 * thresholds (the reference, kernels/tree_lgbm_scalar.c, decides float32 rows that way), the
 * missing types None and NaN being a default direction. lm__bits_build takes p = NULL for them.
 *
 * 1 if the bin-and-bitmask layout can be built for this verified view (trees, decision 0,
 * numeric splits, depth ≤ LM_BITS_MAX_DEPTH, ≤ LM_BITS_MAX_THRESHOLDS distinct thresholds per
 * feature, ≤ LM_BITS_MAX_COLUMNS columns): the one test of eligibility, which lm__bits_build
 * applies too (it returns NULL exactly when this returns 0, or on out of memory). Costs a radix
 * sort of the ensemble's thresholds. Kernels over the layout also need AVX-512 VBMI. */
int lm__bits_eligible(const lmf_view *v);

/* Build from a verified view and its perfect layout with memory from a; NULL if not eligible or
 * out of memory, with the reason in why (LM__WHY_LEN bytes). */
lm__bits *lm__bits_build(const lmf_view *v, const struct lm__perfect *p, const lm__alloc *a,
                         char *why);
void lm__bits_free(lm__bits *b);

#endif
