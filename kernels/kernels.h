/*
 * kernels.h — the kernel families and their signatures. A kernel reads a verified model view
 * (formats/lmf.h: every index already checked) and rows of float32, and writes margins; the
 * link functions then turn margins into values in place. The scalar reference kernels
 * (*_scalar.c) define the semantics (formats/SPEC.md, "Decisions"); SIMD variants (*_avx2.c,
 * *_avx512.c) must make identical tree decisions.
 */
#ifndef LM_KERNELS_H
#define LM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"

/* Margins of n rows: out[r·G + g] for G = num_outputs. */
typedef void (*lm__margin_fn)(const lmf_view *v, const float *x, size_t n, float *out);
/* Leaf ids of n rows: out[r·T + t] = trainer id of the leaf reached in tree t. */
typedef void (*lm__leaf_fn)(const lmf_view *v, const float *x, size_t n, uint32_t *out);

void lm__tree_margin__scalar(const lmf_view *v, const float *x, size_t n, float *out);
void lm__tree_margin__avx2(const lmf_view *v, const float *x, size_t n, float *out);
void lm__tree_margin__avx512(const lmf_view *v, const float *x, size_t n, float *out);
/* Over the perfect-tree layout (v->perfect); falls back to the NODES kernel without it. */
void lm__tree_margin_perfect__avx512(const lmf_view *v, const float *x, size_t n, float *out);
/* Over the perfect-tree layout with AVX2 (batches and single rows); the NODES kernel without
 * the layout (or with a top layout). */
void lm__tree_margin_perfect__avx2(const lmf_view *v, const float *x, size_t n, float *out);
/* Batches of trees deeper than LM_PERFECT_MAX_DEPTH over the top layout (levels 0–5 from
 * registers, then the NODES walk); the NODES kernel for single rows and without that layout. */
void lm__tree_margin_top__avx512(const lmf_view *v, const float *x, size_t n, float *out);
/* Over the bin-and-bitmask layout (v->perfect->bits, tree_bits.h; needs VBMI); falls back to the
 * perfect-layout kernel without it. */
void lm__tree_margin_bits__avx512(const lmf_view *v, const float *x, size_t n, float *out);
/* Trees deeper than LM_PERFECT_MAX_DEPTH over the records of the bin-and-bitmask layout (levels
 * by 64-bit words, six at a time; needs VBMI); falls back to the top-layout kernel without them. */
void lm__tree_margin_bits_deep__avx512(const lmf_view *v, const float *x, size_t n, float *out);
void lm__tree_leaf__scalar(const lmf_view *v, const float *x, size_t n, uint32_t *out);
void lm__linear_margin__scalar(const lmf_view *v, const float *x, size_t n, float *out);
void lm__linear_margin__avx2(const lmf_view *v, const float *x, size_t n, float *out);
void lm__linear_margin__avx512(const lmf_view *v, const float *x, size_t n, float *out);

/* Decision 1 (LightGBM) models: sums in double (acc: num_outputs doubles of scratch). The
 * __scalar entry points run the reference, or the SIMD variant the planner installed in
 * v->lgbm_f32 / v->lgbm_f64 (formats/lmf.h). */
typedef void (*lm__lgbm_fn)(const lmf_view *v, const float *x, size_t n, float *out, double *acc);
typedef void (*lm__lgbm_f64_fn)(const lmf_view *v, const double *x, size_t n, float *out,
                                double *acc);
void lm__tree_margin_lgbm__scalar(const lmf_view *v, const float *x, size_t n, float *out,
                                  double *acc);
void lm__tree_margin_lgbm_f64__scalar(const lmf_view *v, const double *x, size_t n, float *out,
                                      double *acc);
/* The reference itself, whatever the view holds. */
void lm__tree_margin_lgbm__reference(const lmf_view *v, const float *x, size_t n, float *out,
                                     double *acc);
void lm__tree_margin_lgbm_f64__reference(const lmf_view *v, const double *x, size_t n,
                                         float *out, double *acc);
/* Batches (≥ 8 rows) of models without categorical splits; other calls run the reference (on
 * this CPU class the trees-in-lanes walk loses to the scalar one: see docs/performance.md). */
void lm__tree_margin_lgbm__avx512(const lmf_view *v, const float *x, size_t n, float *out,
                                  double *acc);
void lm__tree_margin_lgbm_f64__avx512(const lmf_view *v, const double *x, size_t n, float *out,
                                      double *acc);
/* Test variants: trees in lanes for every row; rows in lanes for every batch size. */
void lm__tree_margin_lgbm_one__avx512(const lmf_view *v, const float *x, size_t n, float *out,
                                      double *acc);
void lm__tree_margin_lgbm_one_f64__avx512(const lmf_view *v, const double *x, size_t n,
                                          float *out, double *acc);
void lm__tree_margin_lgbm_rows__avx512(const lmf_view *v, const float *x, size_t n, float *out,
                                       double *acc);
void lm__tree_margin_lgbm_rows_f64__avx512(const lmf_view *v, const double *x, size_t n,
                                           float *out, double *acc);
/* 1 if the SIMD LightGBM kernels handle this model (no linear trees; 32-bit lane offsets). */
int lm__lgbm_simd_ok(const lmf_view *v);
typedef struct lm__lgbm_kernel {
  int isa;
  const char *name;
  lm__lgbm_fn f32;      /* NULL: the reference (the scalar entry) */
  lm__lgbm_f64_fn f64;
  int planned;          /* 0: a test-only variant the planner skips */
} lm__lgbm_kernel;
extern const lm__lgbm_kernel lm__tree_margin_lgbm_kernels[];

/* One family's variants, best first; the scalar reference is always last and always runs.
 * Tests and benchmarks iterate these lists, the planner picks the first the CPU allows. */
typedef struct lm__kernel {
  int isa;              /* enum lm__isa (kernels/cpu.h) */
  const char *name;     /* "tree_margin__avx512" */
  lm__margin_fn fn;
  int needs_perfect;    /* 1: runs only when the perfect-tree layout of whole trees was built
                           (tree depth ≤ 8); 2: and its bin-and-bitmask layout (v->perfect->bits)
                           and a VBMI CPU; 3: only with a top layout (deeper trees); 4: a top
                           layout, its bin-and-bitmask records and a VBMI CPU */
} lm__kernel;
extern const lm__kernel lm__tree_margin_kernels[];
extern const lm__kernel lm__linear_margin_kernels[];

/* Apply the output transform `link` (enum lm_link) to n rows of G margins in place. Returns the
 * number of values written per row (1 for argmax, else G); row r's values start at out[r·width]. */
size_t lm__link_apply__scalar(unsigned link, double param, float *out, size_t n, size_t G);
/* The same with sigmoid, logistic, exp and softmax eight values at a time, within 1e-6 relative
 * of the scalar reference (the others are the reference's); planned for linear models. */
size_t lm__link_apply__avx2(unsigned link, double param, float *out, size_t n, size_t G);
typedef size_t (*lm__link_fn)(unsigned link, double param, float *out, size_t n, size_t G);

#endif
