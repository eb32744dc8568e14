/*
 * kernels.h — the kernel families, their one signature and their descriptors. A kernel reads a
 * verified model view (formats/lmf.h: every index already checked), the derived layouts the
 * planner built for it, and rows, and writes margins; the link functions then turn margins into
 * values in place. A kernel does no fallback: the planner (runtime/plan.c) runs it only on models,
 * CPUs and batch sizes its descriptor admits. The scalar reference kernels
 * (*_scalar.c) define the semantics (formats/SPEC.md, "Decisions"); SIMD variants (*_avx2.c,
 * *_avx512.c) must make identical tree decisions.
 */
#ifndef LM_KERNELS_H
#define LM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/export.h"
#include "formats/lmf.h"

/* Derived layouts a kernel may read besides the verified view: built by the planner when a model
 * is opened (runtime/plan.c) from kernels/tree_perfect.c and kernels/tree_bits.c, owned by the
 * plan, NULL when not built. A kernel's descriptor says which it needs (LM_NEED_*); kernels do
 * not test for them. */
typedef struct lm__layouts {
  const struct lm__perfect *perfect; /* perfect-tree layout: whole trees (≤ depth 8) or a top */
  const struct lm__bits *bits;       /* bin-and-bitmask layout (tree_bits.h) */
} lm__layouts;

/* The one kernel signature: margins of n rows of x (float32 or float64 per entry point) into
 * out[r·G + g], G = num_outputs. scratch: at least lm__kernel_scratch(k, v) bytes, 64-byte
 * aligned (NULL when that is 0). */
typedef void (*lm__f32_fn)(const lmf_view *v, const lm__layouts *L, const float *x, size_t n,
                           float *out, void *scratch);
typedef void (*lm__f64_fn)(const lmf_view *v, const lm__layouts *L, const double *x, size_t n,
                           float *out, void *scratch);
/* Leaf ids of n rows: out[r·T + t] = trainer id of the leaf reached in tree t. */
typedef void (*lm__leaf_fn)(const lmf_view *v, const float *x, size_t n, uint32_t *out);

/* Kernel families: which models a kernel scores (the model's kind and decision rule). */
enum lm__family {
  LM_FAM_TREE = 0,   /* decision 0 (XGBoost) trees: float32 decisions, float32 sums */
  LM_FAM_LGBM = 1,   /* decision 1 (LightGBM) trees: double decisions and sums */
  LM_FAM_LINEAR = 2, /* linear models */
  LM_FAM_FM = 3,     /* factorization machines (format 1.2): sums in double */
};

/* What a kernel requires of the model, its layouts and the CPU (beyond its ISA). */
enum lm__need {
  LM_NEED_PERFECT = 1u << 0,   /* L->perfect of whole trees (depth ≤ LM_PERFECT_MAX_DEPTH) */
  LM_NEED_TOP = 1u << 1,       /* L->perfect as a top layout (deeper trees) */
  LM_NEED_BITS = 1u << 2,      /* L->bits */
  LM_NEED_VBMI = 1u << 3,      /* AVX-512 VBMI byte permutes (and VPOPCNTDQ: lm__cpu_has_vbmi) */
  LM_NEED_I32 = 1u << 4,       /* 32-bit lane offsets: 64 rows of features, NODES words and
                                  perfect slots index below 2^31 */
  LM_NEED_ONE_OUTPUT = 1u << 5,
  LM_NEED_MULTI_OUTPUT = 1u << 6,
  LM_NEED_NO_CAT = 1u << 7,    /* no categorical split */
  LM_NEED_NO_LINEAR_TREES = 1u << 8, /* no LightGBM linear tree */
  LM_NEED_G16 = 1u << 9,       /* at most 16 outputs (a block's sums on the stack) */
  LM_NEED_G64 = 1u << 10,      /* at least 64 outputs: where the OpenBLAS product measured
                                  faster than the hand-written kernels (kernels/registry.c) */
  LM_NEED_LINEAR_TREES = 1u << 11, /* a LightGBM linear tree (the kernel's float64 entry must
                                      evaluate linear leaves) */
  LM_NEED_BLAS = 1u << 12,     /* OpenBLAS, loaded on demand (lm__blas_load): checked after
                                  every other need, so only a plan that would pick the kernel
                                  loads the library */
};

/* One kernel variant, described once: the planner (runtime/plan.c), the kernel tests and the
 * benchmarks all walk lm__kernels[]. */
typedef struct lm__kernel {
  const char *name;     /* "tree_margin_bits__avx512" */
  int family;           /* enum lm__family */
  int isa;              /* enum lm__isa (kernels/cpu.h) */
  unsigned needs;       /* enum lm__need */
  uint32_t min_rows;    /* serves calls of at least this many rows: the planner gives it the
                           batch sizes from here up to the next better kernel's min_rows */
  int planned;          /* 0: a variant for tests and measurements only */
  uint32_t scratch_per_output; /* scratch bytes per model output (LightGBM: a double each) */
  lm__f32_fn f32;
  lm__f64_fn f64;       /* NULL: float64 rows are rounded to float32 first (XGBoost semantics) */
} lm__kernel;

/* Every variant, grouped by family, best first within a family; a family's scalar reference
 * (min_rows 1, no needs) is its last entry. Terminated by an entry with name NULL. */
extern const lm__kernel lm__kernels[];

/* 1 if k can score v with layouts L on a CPU allowed isa (vbmi: the CPU has VBMI); else 0 and
 * *why (if not NULL) says why, e.g. "needs the bin-and-bitmask layout (feature 3: 300 distinct
 * thresholds, at most 254)" with why_layout the layout builders' reason. The planner and the
 * tests decide with this one function. */
int lm__kernel_usable(const lm__kernel *k, const lmf_view *v, const lm__layouts *L, int isa,
                      int vbmi, const char **why);
/* 1 if k sums in another order than its family's reference (a library's blocked product:
 * kernels/linear_blas.c), so its margins are within a stated bound of the reference, not
 * bit-identical; 0 for every hand-written kernel (the reference's order, or the one-output dot
 * product with its own 1e-6 bound). The kernel tests decide which check applies with this. */
int lm__kernel_reordered(const lm__kernel *k);
/* The family of a verified model. */
int lm__model_family(const lmf_view *v);
/* Scratch bytes a call of k on v needs (0: none). */
static inline size_t lm__kernel_scratch(const lm__kernel *k, const lmf_view *v) {
  return (size_t)k->scratch_per_output * v->meta->num_outputs;
}

/* The scalar references (the test oracle; the converter's self-test scorer uses them too). */
LM_INTERNAL void lm__tree_margin__scalar(const lmf_view *v, const lm__layouts *L, const float *x,
                                         size_t n, float *out, void *scratch);
LM_INTERNAL void lm__linear_margin__scalar(const lmf_view *v, const lm__layouts *L,
                                           const float *x, size_t n, float *out, void *scratch);
void lm__tree_margin_lgbm__scalar(const lmf_view *v, const lm__layouts *L, const float *x,
                                  size_t n, float *out, void *scratch);
LM_INTERNAL void lm__tree_margin_lgbm_f64__scalar(const lmf_view *v, const lm__layouts *L,
                                                  const double *x, size_t n, float *out,
                                                  void *scratch);
void lm__tree_leaf__scalar(const lmf_view *v, const float *x, size_t n, uint32_t *out);
/* Factorization machine margins (kernels/fm_scalar.c): w0 + Σ w_i·x_i + ½ Σ_f [(Σ_i v_if·x_i)²
 * − Σ_i v_if²·x_i²], every product and sum in double, NaN (missing) and 0 skipped, rounded to
 * float32 once. */
LM_INTERNAL void lm__fm_margin__scalar(const lmf_view *v, const lm__layouts *L, const float *x,
                                       size_t n, float *out, void *scratch);

/* The SIMD variants (kernels/registry.c lists them with their needs). */
#define LM__KERNEL_F32(name)                                                                      \
  void name(const lmf_view *v, const lm__layouts *L, const float *x, size_t n, float *out,      \
            void *scratch)
#define LM__KERNEL_F64(name)                                                                      \
  void name(const lmf_view *v, const lm__layouts *L, const double *x, size_t n, float *out,     \
            void *scratch)
LM__KERNEL_F32(lm__tree_margin__avx2);
LM__KERNEL_F32(lm__tree_margin_one__avx2);
LM__KERNEL_F32(lm__tree_margin_perfect__avx2);
LM__KERNEL_F32(lm__tree_margin_perfect_one__avx2);
LM__KERNEL_F32(lm__tree_margin__avx512);
LM__KERNEL_F32(lm__tree_margin_one__avx512);
LM__KERNEL_F32(lm__tree_margin_perfect__avx512);
LM__KERNEL_F32(lm__tree_margin_perfect_one__avx512);
LM__KERNEL_F32(lm__tree_margin_top__avx512);
LM__KERNEL_F32(lm__tree_margin_bits__avx512);
LM__KERNEL_F32(lm__tree_margin_bits_one__avx512);
LM__KERNEL_F32(lm__tree_margin_bits_deep__avx512);
LM__KERNEL_F32(lm__tree_margin_bits_deep_one__avx512);
LM__KERNEL_F32(lm__tree_margin_lgbm_bits__avx512);
LM__KERNEL_F32(lm__tree_margin_lgbm_bits_one__avx512);
LM__KERNEL_F32(lm__linear_margin_dot__avx2);
LM__KERNEL_F32(lm__linear_margin_outputs__avx2);
LM__KERNEL_F32(lm__linear_margin_rows__avx2);
LM__KERNEL_F32(lm__linear_margin_dot__avx512);
LM__KERNEL_F32(lm__linear_margin_outputs__avx512);
LM__KERNEL_F32(lm__linear_margin_rows__avx512);
/* Factorization machines: factors in double lanes (kernels/fm_avx2.c, fm_avx512.c). */
LM__KERNEL_F32(lm__fm_margin__avx2);
LM__KERNEL_F32(lm__fm_margin__avx512);
/* One OpenBLAS matrix product per batch (kernels/linear_blas.c): reordered sums. */
LM__KERNEL_F32(lm__linear_margin_blas);
/* Loads OpenBLAS and resolves cblas_sgemm, once per process (thread-safe; later calls return
 * the first call's answer): NULL when loaded, else why not ("OpenBLAS not found (dlerror)").
 * liblmrt does not link OpenBLAS (kernels/linear_blas.c). */
const char *lm__blas_load(void);
/* Decision 1: rows in lanes (batches), trees in lanes (single rows; slower than the reference on
 * this CPU class, so a test variant: docs/performance.md). */
LM__KERNEL_F32(lm__tree_margin_lgbm_rows__avx512);
LM__KERNEL_F64(lm__tree_margin_lgbm_rows_f64__avx512);
LM__KERNEL_F32(lm__tree_margin_lgbm_one__avx512);
LM__KERNEL_F64(lm__tree_margin_lgbm_one_f64__avx512);

/* Apply the output transform `link` (enum lm_link) to n rows of G margins in place. Returns the
 * number of values written per row (1 for argmax, else G); row r's values start at out[r·width]. */
LM_INTERNAL size_t lm__link_apply__scalar(unsigned link, double param, float *out, size_t n, size_t G);
/* The same with sigmoid, logistic, exp and softmax eight values at a time, within 1e-6 relative
 * of the scalar reference (the others are the reference's); planned for linear models. */
size_t lm__link_apply__avx2(unsigned link, double param, float *out, size_t n, size_t G);
typedef size_t (*lm__link_fn)(unsigned link, double param, float *out, size_t n, size_t G);

#endif
