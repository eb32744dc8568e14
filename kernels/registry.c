/*
 * registry.c — one list per kernel family, best ISA first, scalar reference last (BLIS-style:
 * the reference is always installed, optimised variants override it where the CPU allows). The
 * planner (runtime/model.c), the kernel tests and the benchmarks all read these lists, so a new
 * variant is tested and measured by adding one line here.
 */
#include "kernels/cpu.h"
#include "kernels/kernels.h"

const lm__kernel lm__tree_margin_kernels[] = {
#if defined(__x86_64__)
    {LM_ISA_AVX512, "tree_margin_bits__avx512", lm__tree_margin_bits__avx512, 2},
    {LM_ISA_AVX512, "tree_margin_perfect__avx512", lm__tree_margin_perfect__avx512, 1},
    {LM_ISA_AVX512, "tree_margin_bits_deep__avx512", lm__tree_margin_bits_deep__avx512, 4},
    {LM_ISA_AVX512, "tree_margin_top__avx512", lm__tree_margin_top__avx512, 3},
    {LM_ISA_AVX512, "tree_margin__avx512", lm__tree_margin__avx512, 0},
    {LM_ISA_AVX2, "tree_margin_perfect__avx2", lm__tree_margin_perfect__avx2, 1},
    {LM_ISA_AVX2, "tree_margin__avx2", lm__tree_margin__avx2, 0},
#endif
    {LM_ISA_SCALAR, "tree_margin__scalar", lm__tree_margin__scalar, 0},
};

const lm__kernel lm__linear_margin_kernels[] = {
#if defined(__x86_64__)
    {LM_ISA_AVX512, "linear_margin__avx512", lm__linear_margin__avx512, 0},
    {LM_ISA_AVX2, "linear_margin__avx2", lm__linear_margin__avx2, 0},
#endif
    {LM_ISA_SCALAR, "linear_margin__scalar", lm__linear_margin__scalar, 0},
};

/* Decision 1 (LightGBM): float32 and float64 rows. The scalar entry has NULL functions: the
 * runtime's calls then run the reference (kernels/tree_lgbm_scalar.c). */
const lm__lgbm_kernel lm__tree_margin_lgbm_kernels[] = {
#if defined(__x86_64__)
    {LM_ISA_AVX512, "tree_margin_lgbm__avx512", lm__tree_margin_lgbm__avx512,
     lm__tree_margin_lgbm_f64__avx512, 1},
    {LM_ISA_AVX512, "tree_margin_lgbm_one__avx512", lm__tree_margin_lgbm_one__avx512,
     lm__tree_margin_lgbm_one_f64__avx512, 0},
    {LM_ISA_AVX512, "tree_margin_lgbm_rows__avx512", lm__tree_margin_lgbm_rows__avx512,
     lm__tree_margin_lgbm_rows_f64__avx512, 0},
#endif
    {LM_ISA_SCALAR, "tree_margin_lgbm__scalar", NULL, NULL, 1},
};
