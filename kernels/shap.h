/*
 * shap.h — exact TreeSHAP feature contributions (XGBoost's pred_contribs) over per-leaf path
 * tables. The table is derived once from a verified view that carries COVER (formats/SPEC.md):
 * for every leaf, the unique features on its root path, each with its zero fraction (the
 * product of cover(child) / cover(parent) over the path's edges on that feature) and the edges
 * a row must follow for its one fraction to be 1. Scoring a row then needs no recursion and no
 * allocation: per tree, one decision per internal node, then per leaf the unique-path
 * polynomial (extend every element, then the unwound sum of each) — O(leaves × depth²) in the
 * scalar reference, O(leaves × depth²/2) multiplications in eight lanes in the quadrature
 * kernels (lm__shap_grp, kernels/shap_quad.h).
 * The runtime owns the table (runtime/contrib.c builds it on first use and keeps it with the
 * model); the kernels only read it.
 */
#ifndef LM_KERNELS_SHAP_H
#define LM_KERNELS_SHAP_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"

typedef struct lm__shap_elem {
  uint32_t feature;    /* split feature of this unique path element */
  uint32_t first_edge; /* its edges: edges[first_edge, +n_edges) */
  uint32_t n_edges;
  uint32_t pad;
  double zero;         /* zero fraction: product of cover(child) / cover(parent) on its edges */
} lm__shap_elem;

typedef struct lm__shap_leaf {
  double value;        /* leaf value × tree weight */
  uint32_t node;       /* its index inside the tree */
  uint32_t pad;
  uint32_t first_elem; /* elems[first_elem, +n_elems): the unique features of the path */
  uint32_t n_elems;
  uint64_t pat;        /* UINT64_MAX, or where in pat this leaf's 2^n_elems × n_elems
                          contributions start (row p: bit j set when element j is followed) */
} lm__shap_leaf;

/* An internal node as the kernels' pattern pass reads it: no leaf test, no pointer chase. */
typedef struct lm__shap_split {
  uint32_t split;      /* as lmf_node.split (feature, DEFAULT_LEFT, CATEGORICAL) */
  float threshold;
  uint32_t node;       /* its index inside the tree */
  uint32_t left;       /* its left child's index inside the tree (right: + 1) */
  uint32_t info;       /* as ninfo */
} lm__shap_split;

typedef struct lm__shap_tree {
  uint32_t first_node, n_nodes; /* as TREES */
  uint32_t first_leaf, n_leaves;
  uint32_t group;
  uint32_t first_split, n_splits; /* its internal nodes in sn (NODES order) */
  uint32_t vdec;                /* 1: no categorical or ZERO_MISSING split, the AVX-512 kernel
                                   decides all its nodes at once (sx_*, float32 rows) and takes
                                   one fractions from edges */
  uint32_t first_grp, n_grps;   /* its lane groups (lm__shap_grp); n_grps 0: a leaf has more
                                   than LM__SHAP_QK unique features, the tree keeps the
                                   reference evaluation */
} lm__shap_tree;

/* Quadrature layout (kernels/shap_quad.h). The unique-path weights of a leaf of k unique
 * features, zero fractions z_i and one fractions o_i, are an integral (the Beta function
 * behind |U|!(k−|U|−1)!/k!): feature j receives
 *     v · (o_j − z_j) · ∫₀¹ Π_{i≠j} ((1 − t) z_i + o_i t) dt,
 * a polynomial of degree k − 1 in t, so Gauss–Legendre quadrature with ⌈k/2⌉ points is exact.
 * Leaves go by eight (lanes) of the same tree: K element slots (the largest k of the group;
 * missing slots have z = 1 and are forced followed, a factor of 1 and a contribution of 0),
 * slot-major zero fractions and features. */
#define LM__SHAP_LANES 8
#define LM__SHAP_QK 32 /* most unique features of a leaf in the quadrature layout */
typedef struct lm__shap_grp {
  uint32_t K, Q;                    /* element slots; quadrature points ⌈K/2⌉ */
  uint64_t off;                     /* slot rows: gz/gf[(off + e) × 8 + lane] */
  uint64_t eoff;                    /* edge rows: ge[(eoff + …) × 8 + lane], E[0] rows for slot
                                       0, then E[1] for slot 1, … */
  uint8_t E[LM__SHAP_QK];           /* per slot: most edges behind one lane's element */
  uint32_t une;                     /* bit e: slot e has one edge row naming one split in every
                                       lane (a load and a broadcast instead of a gather) */
  uint32_t uni;                     /* bit e: every lane of slot e names the same feature (or
                                       adds 0), so the slot adds as one vector */
  uint32_t node[LM__SHAP_LANES];    /* each lane's leaf (index inside the tree) */
  uint32_t pad[LM__SHAP_LANES];     /* bits of the slots a lane does not use (forced 1) */
  double v[LM__SHAP_LANES];         /* leaf value × tree weight (0 in an empty lane) */
  uint8_t k[LM__SHAP_LANES];        /* unique features of each lane's leaf (0: empty lane) */
} lm__shap_grp;

typedef struct lm__shap {
  uint32_t n_trees, n_leaves, n_elems, num_features, num_outputs;
  uint32_t max_nodes;  /* nodes of the largest tree */
  uint32_t max_elems;  /* unique features on the longest path */
  lm__shap_tree *trees;
  lm__shap_leaf *leaves;
  lm__shap_elem *elems;
  uint32_t *edges;     /* (node index inside the tree << 1) | 1 when the edge goes right */
  uint32_t *ninfo;     /* per node (NODES order) of a split: the index, among the unique
                          features of any path through it, of its feature (bits 0–15), and
                          bit 16 when it is that feature's first split on the path */
  float *pat;          /* pattern tables of the leaves that have one (see lm__shap_leaf.pat),
                          float32: half the memory traffic; each value is within 6e-8
                          relative of its double, and sums are kept in double */
  uint32_t *efeat;     /* elems[i].feature again, packed, for the pattern-table loop */
  lm__shap_split *sn;  /* every tree's internal nodes (lm__shap_tree.first_split) */
  uint32_t *sx_feat;   /* sn again, as arrays (the AVX-512 decision pass): feature, */
  float *sx_thr;       /* threshold, */
  int32_t *sx_dr;      /* −1 when a missing value goes right, else 0 */
  uint32_t *ge;        /* edge rows of 8 lanes: (the edge's node among its tree's splits, sn
                          order) | (1 << 31 when the edge goes right); a lane with fewer edges
                          repeats its first, an empty slot names split 0 (forced anyway) */
  lm__shap_grp *grps;  /* quadrature layout: the groups of every tree */
  double *gz;          /* zero fractions, slot rows of 8 lanes */
  uint32_t *gf;        /* features, slot rows of 8 lanes */
  uint32_t n_grps;
  double quad_t[LM__SHAP_QK / 2 + 1][LM__SHAP_QK / 2 + 1]; /* [Q][q]: Gauss–Legendre nodes */
  double quad_w[LM__SHAP_QK / 2 + 1][LM__SHAP_QK / 2 + 1]; /* and weights on [0, 1] */
  double *bias;        /* num_outputs: base_margin + Σ over the output's trees of weight ×
                          the root's cover-weighted mean value */
  size_t bytes;        /* memory the table holds */
} lm__shap;

/* Build the table of a tree model whose view has COVER (XGBoost or LightGBM decisions).
 * LM_EUNSUPPORTED (message naming `name`) without COVER, for linear trees (LightGBM refuses
 * them too) or linear models; LM_ENOMEM. */
LM_INTERNAL int lm__shap_build(const lmf_view *v, const char *name, lm__shap **out);
LM_INTERNAL void lm__shap_free(lm__shap *s);
/* Scratch bytes the kernels need for a block of lm__shap_block_rows rows: the reference's,
 * then, for the quadrature kernels, a block's accumulators with one copy per lane (a group's
 * lanes may name the same feature: each adds into its own copy, no dependency between them;
 * the kernel sums the copies into phi at the end). */
LM_INTERNAL size_t lm__shap_scratch(const lm__shap *s);
/* Add the contributions of n rows x (n × num_features floats) to phi (n × num_outputs ×
 * (num_features + 1) doubles, bias last per output; the caller initialises it, e.g. the bias
 * column with s->bias). Trees outer, rows inner: callers pass blocks of rows small enough for
 * phi to stay in cache (lm__shap_block_rows). xd: NULL, or the same rows as float64 for a
 * LightGBM model scored on float64 rows: the path walk then decides every node on the double
 * (lm__goes_right_f64, kernels/tree_common.h: as lm_predict_f64 does) and x is not read. */
LM_INTERNAL void lm__shap_rows__scalar(const lmf_view *v, const lm__shap *s, const float *x,
                                       const double *xd, size_t n, double *phi, void *scratch);
/* The same contributions through the quadrature layout, one per ISA (kernels/shap_quad.h;
 * trees with n_grps 0 go through the reference). Same scratch. */
LM_INTERNAL void lm__shap_rows__quad(const lmf_view *v, const lm__shap *s, const float *x,
                                     const double *xd, size_t n, double *phi, void *scratch);
LM_INTERNAL void lm__shap_rows__quad_avx2(const lmf_view *v, const lm__shap *s, const float *x,
                                          const double *xd, size_t n, double *phi,
                                          void *scratch);
LM_INTERNAL void lm__shap_rows__quad_avx512(const lmf_view *v, const lm__shap *s,
                                            const float *x, const double *xd, size_t n,
                                            double *phi, void *scratch);
/* One tree of the reference, for n rows (what lm__shap_rows__scalar does per tree). */
LM_INTERNAL void lm__shap_tree_rows__scalar(const lmf_view *v, const lm__shap *s, uint32_t t,
                                            const float *x, const double *xd, size_t n,
                                            double *phi, void *scratch);
/* Rows per block: phi of a block within 128 KiB and the quadrature kernels' lane-replicated
 * accumulators (8 per value) within 256 KiB, between 1 and 64 rows. */
static inline size_t lm__shap_block_rows(const lm__shap *s) {
  size_t w = (size_t)s->num_outputs * ((size_t)s->num_features + 1) * sizeof(double);
  size_t b = ((size_t)32 << 10) / w;
  return b < 1 ? 1 : b > 64 ? 64 : b;
}
/* Where in the scratch the quadrature kernels' accumulators start: after the reference's. */
static inline size_t lm__shap_scratch_ref(const lm__shap *s) {
  size_t k = (size_t)s->max_elems + 2;
  return (((4 * (size_t)s->max_nodes + 63) & ~(size_t)63) + 5 * k * sizeof(double) + 63) &
         ~(size_t)63;
}

#endif
