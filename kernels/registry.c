/*
 * registry.c — every kernel variant described once (BLIS-style: the scalar reference of each
 * family is always there, optimised variants override it where the model, its layouts, the CPU
 * and the batch size allow), and the one test of whether a variant can run. The planner
 * (runtime/plan.c), the kernel tests and the benchmarks all read this table, so a new variant is
 * planned, tested and measured by adding one line here.
 */
#include <stdio.h>

#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"

#define P LM_NEED_PERFECT
#define I LM_NEED_I32
#define B (LM_NEED_BITS | LM_NEED_VBMI)
#define F32(fn) fn, NULL

const lm__kernel lm__kernels[] = {
#if defined(__x86_64__)
    /* decision 0 (XGBoost) trees */
    {"tree_margin_bits__avx512", LM_FAM_TREE, LM_ISA_AVX512, B | P, 12, 1, 0,
     F32(lm__tree_margin_bits__avx512)},
    {"tree_margin_bits_one__avx512", LM_FAM_TREE, LM_ISA_AVX512, B | P, 1, 1, 0,
     F32(lm__tree_margin_bits_one__avx512)},
    /* trees deeper than 8: the layout's records, six levels per word */
    {"tree_margin_bits_deep__avx512", LM_FAM_TREE, LM_ISA_AVX512, B | LM_NEED_TOP, 12, 1, 0,
     F32(lm__tree_margin_bits_deep__avx512)},
    {"tree_margin_bits_deep_one__avx512", LM_FAM_TREE, LM_ISA_AVX512, B | LM_NEED_TOP, 1, 1, 0,
     F32(lm__tree_margin_bits_deep_one__avx512)},
    {"tree_margin_perfect__avx512", LM_FAM_TREE, LM_ISA_AVX512, P | I, 16, 1, 0,
     F32(lm__tree_margin_perfect__avx512)},
    {"tree_margin_perfect_one__avx512", LM_FAM_TREE, LM_ISA_AVX512, P | I, 1, 1, 0,
     F32(lm__tree_margin_perfect_one__avx512)},
    {"tree_margin_top__avx512", LM_FAM_TREE, LM_ISA_AVX512, LM_NEED_TOP | I, 16, 1, 0,
     F32(lm__tree_margin_top__avx512)},
    {"tree_margin__avx512", LM_FAM_TREE, LM_ISA_AVX512, I, 16, 1, 0, F32(lm__tree_margin__avx512)},
    {"tree_margin_one__avx512", LM_FAM_TREE, LM_ISA_AVX512, I, 1, 1, 0,
     F32(lm__tree_margin_one__avx512)},
    /* A 32-row AVX2 block costs about as much as 16 single rows (small model, 8 rows: 16.9 µs as
     * a block, 9.5 µs one by one): the perfect batch kernel from 16 rows. */
    {"tree_margin_perfect__avx2", LM_FAM_TREE, LM_ISA_AVX2, P | I, 16, 1, 0,
     F32(lm__tree_margin_perfect__avx2)},
    {"tree_margin_perfect_one__avx2", LM_FAM_TREE, LM_ISA_AVX2, P | I, 1, 1, 0,
     F32(lm__tree_margin_perfect_one__avx2)},
    {"tree_margin__avx2", LM_FAM_TREE, LM_ISA_AVX2, I, 8, 1, 0, F32(lm__tree_margin__avx2)},
    {"tree_margin_one__avx2", LM_FAM_TREE, LM_ISA_AVX2, I, 1, 1, 0, F32(lm__tree_margin_one__avx2)},
#endif
    {"tree_margin__scalar", LM_FAM_TREE, LM_ISA_SCALAR, 0, 1, 1, 0, F32(lm__tree_margin__scalar)},

    /* decision 1 (LightGBM) trees: sums in double (scratch: one double per output) */
#if defined(__x86_64__)
    /* numeric models without zero-as-missing or linear trees, over their records of the
     * bin-and-bitmask layout (tree_bits.h); float64 rows go to the double-threshold kernels
     * (their f64 entries), which also serve every batch size */
    {"tree_margin_lgbm_bits__avx512", LM_FAM_LGBM, LM_ISA_AVX512,
     B | LM_NEED_NO_LINEAR_TREES | LM_NEED_G16 | I, 12, 1, 8 * 64 /* a 64-row block's sums */,
     lm__tree_margin_lgbm_bits__avx512,
     lm__tree_margin_lgbm_rows_f64__avx512},
    {"tree_margin_lgbm_bits_one__avx512", LM_FAM_LGBM, LM_ISA_AVX512,
     B | LM_NEED_NO_LINEAR_TREES | I, 1, 1, 8, lm__tree_margin_lgbm_bits_one__avx512,
     lm__tree_margin_lgbm_one_f64__avx512},
    /* models with linear trees: the same records find the leaves, whose linear values are then
     * evaluated per row as the reference does; float64 rows go to the reference (the double
     * kernels have no linear leaves) */
    {"tree_margin_lgbm_bits_linear__avx512", LM_FAM_LGBM, LM_ISA_AVX512,
     B | LM_NEED_LINEAR_TREES | LM_NEED_G16 | I, 12, 1, 8 * 64, lm__tree_margin_lgbm_bits__avx512,
     lm__tree_margin_lgbm_f64__scalar},
    {"tree_margin_lgbm_bits_linear_one__avx512", LM_FAM_LGBM, LM_ISA_AVX512,
     B | LM_NEED_LINEAR_TREES | I, 1, 1, 8, lm__tree_margin_lgbm_bits_one__avx512,
     lm__tree_margin_lgbm_f64__scalar},
    {"tree_margin_lgbm__avx512", LM_FAM_LGBM, LM_ISA_AVX512,
     LM_NEED_NO_CAT | LM_NEED_NO_LINEAR_TREES | LM_NEED_G16 | I, 8, 1, 8,
     lm__tree_margin_lgbm_rows__avx512, lm__tree_margin_lgbm_rows_f64__avx512},
    /* test variants: rows in lanes for every batch size (categorical lanes resolved per lane),
     * trees in lanes for every row */
    {"tree_margin_lgbm_rows__avx512", LM_FAM_LGBM, LM_ISA_AVX512,
     LM_NEED_NO_LINEAR_TREES | LM_NEED_G16 | I, 1, 0, 8, lm__tree_margin_lgbm_rows__avx512,
     lm__tree_margin_lgbm_rows_f64__avx512},
    {"tree_margin_lgbm_one__avx512", LM_FAM_LGBM, LM_ISA_AVX512, LM_NEED_NO_LINEAR_TREES | I, 1, 0,
     8, lm__tree_margin_lgbm_one__avx512, lm__tree_margin_lgbm_one_f64__avx512},
#endif
    {"tree_margin_lgbm__scalar", LM_FAM_LGBM, LM_ISA_SCALAR, 0, 1, 1, 8,
     lm__tree_margin_lgbm__scalar, lm__tree_margin_lgbm_f64__scalar},

    /* linear models: one output as a dot product per row; several outputs in lanes, or rows in
     * lanes from a vector's worth of rows */
#if defined(__x86_64__)
    /* OpenBLAS's sgemm for batches of wide multi-output models (kernels/linear_blas.c; ISA AVX2:
     * Debian's OpenBLAS runs its own SIMD kernels, so LM_ISA=scalar excludes it). From 8 rows
     * and 64 outputs (LM_NEED_G64; G64 implies several outputs). Measured 2026-12-07 with
     * `make bench`'s kernel table (bench/lmbench: engines lmrt-hand and openblas, Linear
     * Learner-shaped models on dense rows, ns per row of the median call, hand-written /
     * OpenBLAS; 2-core machine shared with other work, load 5-8, so ±10% is noise):
     *   300 features x 64 outputs:   4 rows 1,052 / 1,125   8 rows 1,051 / 972   16 rows 912 / 826
     *                                64 rows 814 / 743      256 rows 801 / 764   1,000 rows 781 / 757
     *                                10,000 rows 1,645 / 1,973 and 1,991 / 1,594 (two runs: a tie)
     *   1000 x 100:                  1 row 7,063 / 23,545   4 rows 7,339 / 4,799   8 rows 7,041 /
     *                                4,003   64 rows 3,768 / 3,013   1,000 rows 8,616 / 7,057
     *                                10,000 rows 9,043 / 6,754
     *   500 x 32 (hand-written wins): 8 rows 854 / 880   64 rows 632 / 725   1,000 rows 626 / 760
     *   make bench-blas (best of 5, same day), 16 and 64 rows: 200 x 64 845 / 479, 677 / 371;
     *   100 x 100 691 / 567, 682 / 276; 1000 x 64 2,072 / 1,838, 8,139 / 1,614.
     * So with 64 outputs or more OpenBLAS is ahead from about 8 rows (was 256: the earlier,
     * noisier bench-blas runs of docs/architecture.md); single rows and batches under 8 stay
     * with linear_margin_outputs__avx512 (3-4x faster than a product at 1 row); below 64 outputs
     * the hand-written kernels win or tie. Sums reordered: within a stated bound of the
     * reference (tests/test_kernels.c). OpenBLAS is loaded on demand (LM_NEED_BLAS): where it
     * cannot be, the hand-written kernels are planned and the plan's notes say why. */
    {"linear_margin_blas", LM_FAM_LINEAR, LM_ISA_AVX2, LM_NEED_G64 | I | LM_NEED_BLAS, 8,
     1, 0, F32(lm__linear_margin_blas)},
    {"linear_margin_dot__avx512", LM_FAM_LINEAR, LM_ISA_AVX512, LM_NEED_ONE_OUTPUT, 1, 1, 0,
     F32(lm__linear_margin_dot__avx512)},
    {"linear_margin_rows__avx512", LM_FAM_LINEAR, LM_ISA_AVX512, LM_NEED_MULTI_OUTPUT | I, 16, 1,
     0, F32(lm__linear_margin_rows__avx512)},
    {"linear_margin_outputs__avx512", LM_FAM_LINEAR, LM_ISA_AVX512, LM_NEED_MULTI_OUTPUT, 1, 1, 0,
     F32(lm__linear_margin_outputs__avx512)},
    {"linear_margin_dot__avx2", LM_FAM_LINEAR, LM_ISA_AVX2, LM_NEED_ONE_OUTPUT, 1, 1, 0,
     F32(lm__linear_margin_dot__avx2)},
    {"linear_margin_rows__avx2", LM_FAM_LINEAR, LM_ISA_AVX2, LM_NEED_MULTI_OUTPUT | I, 8, 1, 0,
     F32(lm__linear_margin_rows__avx2)},
    {"linear_margin_outputs__avx2", LM_FAM_LINEAR, LM_ISA_AVX2, LM_NEED_MULTI_OUTPUT, 1, 1, 0,
     F32(lm__linear_margin_outputs__avx2)},
#endif
    {"linear_margin__scalar", LM_FAM_LINEAR, LM_ISA_SCALAR, 0, 1, 1, 0,
     F32(lm__linear_margin__scalar)},

    /* factorization machines (format 1.2): every product and sum in double; float64 rows are
     * rounded to float32 first (SageMaker's FM reads float32 tensors). One kernel per ISA for
     * every batch size: rows are independent, the factors fill the lanes. */
#if defined(__x86_64__)
    {"fm_margin__avx512", LM_FAM_FM, LM_ISA_AVX512, 0, 1, 1, 0, F32(lm__fm_margin__avx512)},
    {"fm_margin__avx2", LM_FAM_FM, LM_ISA_AVX2, 0, 1, 1, 0, F32(lm__fm_margin__avx2)},
#endif
    {"fm_margin__scalar", LM_FAM_FM, LM_ISA_SCALAR, 0, 1, 1, 0, F32(lm__fm_margin__scalar)},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};

int lm__kernel_reordered(const lm__kernel *k) { return k->f32 == lm__linear_margin_blas; }

int lm__model_family(const lmf_view *v) {
  if (v->meta->model_kind == LMF_MODEL_LINEAR) return LM_FAM_LINEAR;
  if (v->meta->model_kind == LMF_MODEL_FM) return LM_FAM_FM;
  return v->meta->decision == LMF_DECISION_LIGHTGBM ? LM_FAM_LGBM : LM_FAM_TREE;
}

/* 32-bit lane offsets (LM_NEED_I32): the features of a 64-row block, the NODES words and the
 * perfect layout's slots must index below 2^31. */
static int lm__fits_i32(const lmf_view *v, const lm__layouts *L) {
  const lmf_meta *m = v->meta;
  if ((uint64_t)m->num_features * 64 >= (1u << 31) || (uint64_t)m->n_nodes * 4 >= (1u << 31))
    return 0;
  return !L->perfect || (uint64_t)m->n_trees * L->perfect->stride < (1u << 31);
}

static int lm__has_linear_trees(const lmf_view *v) {
  if (v->meta->decision != LMF_DECISION_LIGHTGBM) return 0;
  for (uint32_t t = 0; t < v->meta->n_trees; t++)
    if (v->trees[t].flags & LMF_TREE_LINEAR) return 1;
  return 0;
}

int lm__kernel_usable(const lm__kernel *k, const lmf_view *v, const lm__layouts *L, int isa,
                      int vbmi, const char **why) {
  const char *no = NULL;
  const lmf_meta *m = v->meta;
  const unsigned n = k->needs;
  if (k->family != lm__model_family(v))
    no = "another model family";
  else if (k->isa > isa)
    no = k->isa == LM_ISA_AVX512 ? "needs AVX-512 (CPU or LM_ISA cap)" : "needs AVX2 (CPU or LM_ISA cap)";
  else if ((n & LM_NEED_VBMI) && !vbmi)
    no = "needs AVX-512 VBMI and VPOPCNTDQ";
  else if ((n & LM_NEED_BITS) && !L->bits)
    no = "no bin-and-bitmask layout";
  else if ((n & LM_NEED_PERFECT) && (!L->perfect || L->perfect->top))
    no = m->max_depth > LM_PERFECT_MAX_DEPTH ? "trees deeper than 8" : "no perfect-tree layout";
  else if ((n & LM_NEED_TOP) && (!L->perfect || !L->perfect->top))
    no = "no top layout (trees of depth <= 8 or no layout)";
  else if ((n & LM_NEED_I32) && !lm__fits_i32(v, L))
    no = "offsets beyond 32 bits";
  else if ((n & LM_NEED_ONE_OUTPUT) && m->num_outputs != 1)
    no = "several outputs";
  else if ((n & LM_NEED_MULTI_OUTPUT) && m->num_outputs < 2)
    no = "one output";
  else if ((n & LM_NEED_NO_CAT) && m->n_cat_splits)
    no = "categorical splits";
  else if ((n & LM_NEED_G16) && m->num_outputs > 16)
    no = "more than 16 outputs";
  else if ((n & LM_NEED_G64) && m->num_outputs < 64)
    no = "fewer than 64 outputs";
  else if ((n & LM_NEED_NO_LINEAR_TREES) && (!v->node_f64 || m->n_trees == 0 || lm__has_linear_trees(v)))
    no = "linear trees";
  else if ((n & LM_NEED_LINEAR_TREES) && !(v->node_f64 && m->n_trees && lm__has_linear_trees(v)))
    no = "no linear trees";
  else if (n & LM_NEED_BLAS) /* last: the library is loaded only where nothing else rules it out */
    no = lm__blas_load();
  if (why) *why = no;
  return no == NULL;
}
