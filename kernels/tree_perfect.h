/*
 * tree_perfect.h — the perfect-tree layout: a derived, in-memory copy of a shallow ensemble
 * (every tree of depth ≤ LM_PERFECT_MAX_DEPTH) in which each tree is padded to a complete binary
 * tree of the ensemble's depth D. Node i's children are 2i+1 and 2i+2, so the walk needs no
 * child index at all (one gather fewer per level than NODES), and the first 63 nodes of a tree
 * fit in four vector registers, where they are selected with permutes instead of gathered.
 *
 * Padding keeps decisions exact: a leaf above the bottom level becomes a chain of pass-through
 * nodes (feature 0, threshold NaN, DEFAULT_LEFT: always left) ending on the bottom leaf that
 * holds its value. It is built from the verified NODES when a model is opened (runtime/model.c)
 * and is only used by kernels that declare they need it.
 */
#ifndef LM_KERNELS_TREE_PERFECT_H
#define LM_KERNELS_TREE_PERFECT_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"
#include "kernels/layout_alloc.h"

#define LM_PERFECT_MAX_DEPTH 8
/* Deeper ensembles get a top layout: the first LM_PERFECT_TOP_DEPTH levels of every tree in
 * this form (what the batch kernels keep in registers), and for each position below them the
 * NODES index the walk continues from (leaf_orig; leaf[] is zero). */
#define LM_PERFECT_TOP_DEPTH 6
/* A categorical slot's set packed into its threshold's 32 bits: its first word in CAT_WORDS
 * (< 2^24) and its words (< 256: up to 8,160 categories). Models with a larger set get no
 * perfect layout (the NODES kernels score them). */
static inline uint32_t lm__perfect_cat_pack(uint32_t word_offset, uint32_t n_words) {
  return word_offset << 8 | n_words;
}

typedef struct lm__perfect {
  uint32_t depth;        /* D: every tree is complete to this depth (1..LM_PERFECT_MAX_DEPTH) */
  uint32_t top;          /* 1: a top layout (D = LM_PERFECT_TOP_DEPTH of deeper trees) */
  uint32_t n_int;        /* internal slots per tree: 2^D - 1 */
  uint32_t n_leaf;       /* leaf slots per tree: 2^D */
  uint32_t stride;       /* internal-slot stride between trees (n_int rounded up to 64) */
  uint32_t *split;       /* n_trees × stride: NODES split word (pass-through: DEFAULT_LEFT) */
  float *thr;            /* n_trees × stride: threshold (pass-through: NaN); at a categorical
                            slot, in place of its unused threshold, the bits of its category
                            set: word_offset << 8 | n_words (LM_PERFECT_CAT_PACK), so that a
                            kernel has the set where it reads the threshold, without another
                            gather */
  uint32_t *orig;        /* n_trees × stride: NODES index, to resolve categorical splits */
  float *leaf;           /* n_trees × n_leaf: leaf values (before the tree weight) */
  uint32_t *leaf_orig;   /* n_trees × n_leaf: NODES index of each bottom leaf */
  void *block;           /* the single allocation holding the arrays */
  size_t block_bytes;
  const lm__alloc *alloc; /* what block and this struct came from */
} lm__perfect;

/* Build the layout for a verified view — the whole trees up to LM_PERFECT_MAX_DEPTH, else their
 * top — with memory from a; NULL if the model is not eligible (linear, decision 1) or on out of
 * memory, with the reason in why (LM__WHY_LEN bytes). Free with lm__perfect_free. */
lm__perfect *lm__perfect_build(const lmf_view *v, const lm__alloc *a, char *why);
void lm__perfect_free(lm__perfect *p);

#endif
