/*
 * test_kernels.c — every tree-kernel variant of the registry (kernels/registry.c) that this CPU
 * can run, against the scalar reference, on random models: random shapes (depth 0–18, several
 * outputs, dart weights), numeric and categorical splits, and rows full of the values that break
 * kernels (NaN, ±0, ±inf, values exactly equal to thresholds, invalid categories). Decisions are
 * identical and sums are in the same order, so margins must be bit-identical. Batch sizes cover
 * every tile edge (1, lanes ± 1, block ± 1, …). Variants the CPU lacks are skipped, visibly.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "lmrt.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"
#include "runtime/plan.h"
#include "tests/util_trees.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}
static const float thresholds[] = {-2.5f, -1.0f, 0.0f, 0.5f, 1.0f, 3.25f, 7.0f, 100.0f};
#define NT (sizeof thresholds / sizeof thresholds[0])
/* Wide mode: thresholds (and row values) from 600 distinct values, so that features carry
 * hundreds of distinct thresholds (the bin-and-bitmask layout's 254-threshold columns, its
 * buckets); wide 2: from 20,000, so that a feature of a big model carries thousands (16-ary
 * searches of 3–4 levels, Eytzinger searches of 9–14 levels with gathers). */
static int wide;
static int min_depth; /* check_model fails when the random trees stay shallower */
static float threshold(void) {
  if (wide == 2) return (float)((int)(rnd() % 20000) - 10000) * 0.0137f; /* thousands per feature */
  if (wide) return (float)((int)(rnd() % 600) - 300) * 0.37f;
  return thresholds[rnd() % NT];
}

static void leaf(lm_ir_node *n) { n->value = (float)((int)(rnd() % 2001) - 1000) / 512.0f; }
static void split(lm_ir_node *n) { n->value = threshold(); }
static const tu_grower grower = {rnd, 5, 4, leaf, split};

static lm_ir_model *random_model(uint32_t F, uint32_t G, uint32_t T, int maxd, int dart,
                                 int nocat) {
  lm_ir_model *m = lm_ir_new();
  strcpy(m->objective, G > 1 ? "multi:softprob" : "reg:squarederror");
  m->booster = dart ? LM_BOOSTER_DART : LM_BOOSTER_GBTREE;
  m->base_score = 0.25f;
  m->num_features = F;
  m->num_outputs = G;
  tu_random_trees(m, &grower, T, G, maxd, !nocat, dart);
  return m;
}

static float special(void) {
  switch (rnd() % 12) {
  case 0: return NAN;
  case 1: return 0.0f;
  case 2: return -0.0f;
  case 3: return INFINITY;
  case 4: return -INFINITY;
  case 5: return (float)(rnd() % 40);        /* categories, mostly valid */
  case 6: return -1.0f - (float)(rnd() % 3); /* invalid categories */
  case 7: return 16777216.0f;
  case 8: return 1e30f;
  default: return threshold() + (rnd() % 3 == 0 ? 1e-6f : 0.0f);
  }
}

/* expect_bits: 1 if the bin-and-bitmask layout must be built for this model, 0 if it must not,
 * -1 if either is fine. */
static void check_model(lm_ir_model *ir, const char *what, int expect_bits) {
  uint8_t *img;
  size_t len;
  assert_int_equal(lm__lmf_write(ir, "test", &img, &len), 0);
  lmf_view v;
  if (lm__lmf_verify(img, len, what, &v) != 0) fail_msg("%s: %s", what, lm_last_error());
  /* the layouts as the planner builds them for this CPU */
  lm__plan plan;
  assert_int_equal(lm__plan_build(&plan, &v, lm__cpu_isa(), &lm__alloc_default, what), 0);
  const lm__perfect *perfect = plan.perfect;
  int has_bits = plan.bits != NULL;
  if (!perfect || (int)perfect->top != (v.meta->max_depth > LM_PERFECT_MAX_DEPTH))
    fail_msg("%s (depth %u): %s", what, v.meta->max_depth,
             perfect ? "top layout built or not built wrongly" : "no perfect-tree layout");
  if (min_depth && v.meta->max_depth < (uint32_t)min_depth)
    fail_msg("%s: random trees reached depth %u only (the test wants %d)", what, v.meta->max_depth,
             min_depth);
  /* the one eligibility test agrees with the build (built on VBMI CPUs only) and with the test's
   * expectation */
  int eligible = lm__bits_eligible(&v);
  if (lm__cpu_has_vbmi() && eligible != has_bits)
    fail_msg("%s: lm__bits_eligible says %d, the build %s", what, eligible,
             has_bits ? "built it" : "did not");
  if (expect_bits >= 0 && eligible != expect_bits)
    fail_msg("%s: bin-and-bitmask layout %s", what, eligible ? "eligible (should not be)" : "not eligible");
  if (has_bits)
    print_message("%s: bin-and-bitmask layout, %u used features, %u columns, %u register pairs, "
                  "%u counted groups, %u categorical features\n", what, plan.bits->n_used,
                  plan.bits->n_cols, plan.bits->npairs, plan.bits->n_lin, plan.bits->n_catf);
  if (expect_bits == 1 && !lm__cpu_has_vbmi())
    print_message("SKIP tree_margin_bits__avx512 on %s: this CPU lacks VBMI\n", what);
  const size_t sizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 300};
  const size_t maxn = 300, F = ir->num_features, G = ir->num_outputs;
  /* rows start at row 0 or, every other size, at row 3 of x (odd offsets into the rows) */
  float *x0 = malloc(sizeof *x0 * (maxn + 3) * F);
  float *want = malloc(sizeof *want * maxn * G), *got = malloc(sizeof *got * maxn * G);
  for (size_t i = 0; i < (maxn + 3) * F; i++) x0[i] = special();
  int isa = lm__cpu_isa(), vbmi = lm__cpu_has_vbmi(), ran = 0;
  /* every variant of the family the registry has, planned or not, at every batch size (the
   * planner gives a kernel only the sizes from its min_rows up; below that it must still be
   * right: a kernel's batch sizes are a speed choice) */
  for (const lm__kernel *k = lm__kernels; k->name; k++) {
    const char *why;
    if (k->family != LM_FAM_TREE) continue;
    if (!lm__kernel_usable(k, &v, &plan.L, isa, vbmi, &why)) {
      if (k->isa <= isa) print_message("SKIP %s on %s: %s\n", k->name, what, why);
      continue;
    }
    ran++;
    {
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        const float *x = x0 + (s % 2 ? 3 * F : 0);
        lm__tree_margin__scalar(&v, &plan.L, x, n, want, NULL);
        memset(got, 0xA5, sizeof *got * maxn * G);
        k->f32(&v, &plan.L, x, n, got, NULL);
        if (memcmp(want, got, sizeof *got * n * G) != 0) {
          for (size_t i = 0; i < n * G; i++)
            if (memcmp(&want[i], &got[i], sizeof(float)))
              fail_msg("%s %s n=%zu: row %zu output %zu: %.9g vs reference %.9g", what, k->name,
                       n, i / G, i % G, got[i], want[i]);
        }
        /* nothing past n rows is written */
        for (size_t i = n * G; i < maxn * G; i++) {
          uint32_t u;
          memcpy(&u, &got[i], 4);
          if (u != 0xA5A5A5A5u) fail_msg("%s %s n=%zu wrote past its output", what, k->name, n);
        }
      }
    }
  }
  assert_true(ran >= 1);
  lm__plan_free(&plan);
  free(x0), free(want), free(got), free(img);
}

static void test_random_models(void **state) {
  (void)state;
  /* bits: whether the bin-and-bitmask layout (categorical splits only at depth ≤ 6 or in records, ≤ 65,535
   * distinct thresholds per feature, ≤ 1,024 columns) must be built: 1 yes, 0 no, -1 either */
  struct { uint32_t F, G, T; int maxd, dart, nocat, wide, bits; } shapes[] = {
      {1, 1, 1, 0, 0, 0, 0, -1},  {3, 1, 5, 3, 0, 0, 0, -1},   {30, 1, 100, 6, 0, 0, 0, -1},
      {10, 3, 37, 5, 0, 0, 0, -1}, {50, 1, 70, 9, 1, 0, 0, -1},  {7, 4, 129, 4, 1, 0, 0, -1},
      {200, 1, 20, 8, 0, 0, 0, 0}, {5, 1, 17, 1, 0, 0, 0, -1},   {64, 1, 40, 7, 0, 0, 0, -1},
      {33, 2, 50, 6, 1, 0, 0, -1}, {100, 1, 30, 8, 0, 0, 0, -1},
      /* numeric only: the bin-and-bitmask kernels run */
      {1, 1, 1, 0, 0, 1, 0, 1},   {3, 1, 5, 3, 0, 1, 0, 1},    {30, 1, 100, 6, 0, 1, 0, 1},
      {30, 1, 100, 6, 0, 1, 1, 1}, {10, 3, 37, 5, 1, 1, 1, 1},  {7, 4, 129, 4, 1, 1, 0, 1},
      {64, 1, 40, 7, 0, 1, 1, 1},  {65, 1, 40, 7, 0, 1, 1, 1},  {100, 1, 70, 8, 0, 1, 1, 1},
      {128, 2, 33, 8, 1, 1, 1, 1}, {5, 1, 17, 1, 0, 1, 1, 1},   {40, 1, 300, 2, 0, 1, 1, 1},
      /* 64–127 and 128–254 distinct thresholds on a feature: the deepest searches (7 and 8
       * steps) of the batch binning */
      {6, 1, 80, 6, 0, 1, 1, 1},   {4, 1, 60, 6, 0, 1, 1, 1},  {3, 1, 30, 8, 0, 1, 1, 1},
      {5, 2, 40, 8, 0, 1, 1, 1},   {20, 10, 50, 8, 0, 1, 0, 1}, {9, 11, 44, 7, 1, 1, 1, 1},
      /* more than 254 distinct thresholds on a feature (several columns per feature), more
       * than 4,096 (a 16-ary search of 4 levels, 13–14 Eytzinger levels), more than 128 and
       * 64 features (2 and 4 register pairs of columns), several outputs */
      {129, 1, 20, 6, 0, 1, 1, 1}, {2, 1, 200, 6, 0, 1, 1, 1},  {2, 1, 400, 6, 0, 1, 2, 1},
      {3, 2, 150, 8, 0, 1, 2, 1},  {1, 1, 300, 7, 1, 1, 2, 1},  {40, 1, 300, 6, 0, 1, 2, 1},
      {200, 1, 60, 6, 0, 1, 1, 1}, {200, 3, 60, 8, 1, 1, 1, 1}, {500, 1, 80, 6, 0, 1, 1, 1},
      {500, 5, 100, 8, 0, 1, 1, 1}, {300, 1, 40, 7, 0, 1, 2, 1}, {130, 2, 50, 8, 0, 1, 2, 1},
      {1000, 1, 9, 5, 0, 1, 0, 1}, {10, 4, 400, 6, 0, 1, 2, 1}, {64, 1, 100, 8, 0, 1, 2, 1},
      {1, 1, 700, 8, 0, 1, 2, 1},  {20, 1, 1500, 6, 0, 1, 2, 1}, {12, 3, 900, 8, 1, 1, 2, 1},
      {100, 1, 3000, 6, 0, 1, 2, 1}, {70, 2, 2000, 8, 0, 1, 2, 1},
      {30, 17, 170, 6, 0, 1, 1, 1}, {30, 17, 170, 8, 1, 1, 1, 1}, {12, 10, 200, 8, 0, 1, 2, 1},
      {350, 1, 80, 8, 0, 1, 1, 1}, {350, 2, 50, 11, 0, 1, 1, 1},
      /* more than 512 columns: 6 and 8 register pairs (5 and 7 rounded up), the bit-9 masks
       * of words, bottom blocks (depth 7–8) and records (deeper) */
      {600, 1, 200, 6, 0, 1, 1, 1}, {900, 1, 300, 6, 0, 1, 1, 1}, {650, 2, 150, 8, 0, 1, 1, 1},
      {700, 1, 120, 10, 0, 1, 1, 1},
      /* few thresholds per feature on many features: counted groups of 16 features (tree_bits.h,
       * lm__bits_lin), contiguous and with gaps (two windows), beside searched features */
      {600, 2, 150, 6, 0, 1, 0, 1}, {100, 1, 200, 8, 0, 1, 0, 1}, {300, 1, 25, 6, 0, 1, 0, 1},
      {48, 3, 120, 11, 0, 1, 0, 1},
      /* not eligible: more than 1,024 columns */
      {1500, 1, 300, 6, 0, 1, 1, 0},
      /* deeper than 8: the top layout (levels 0-5 in registers, then the NODES walk) and,
       * numeric, the bin-and-bitmask records (six levels per word) */
      {30, 1, 40, 12, 0, 1, 1, 1}, {50, 3, 30, 11, 1, 0, 0, -1}, {20, 1, 25, 10, 0, 0, 1, -1},
      {8, 2, 20, 14, 1, 1, 0, 1},  {20, 1, 30, 9, 0, 1, 1, 1},  {200, 2, 40, 12, 0, 1, 1, 1},
      {3, 1, 200, 13, 1, 1, 2, 1}, {500, 3, 60, 10, 0, 1, 1, 1}, {64, 1, 50, 18, 0, 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    char what[128];
    snprintf(what, sizeof what, "model F=%u G=%u T=%u depth≤%d%s%s%s", shapes[i].F, shapes[i].G,
             shapes[i].T, shapes[i].maxd, shapes[i].dart ? " dart" : "",
             shapes[i].nocat ? " numeric" : "", shapes[i].wide ? " wide" : "");
    wide = shapes[i].wide;
    min_depth = shapes[i].maxd > LM_PERFECT_MAX_DEPTH ? shapes[i].maxd - 1 : 0;
    lm_ir_model *ir = random_model(shapes[i].F, shapes[i].G, shapes[i].T, shapes[i].maxd,
                                   shapes[i].dart, shapes[i].nocat);
    check_model(ir, what, shapes[i].bits);
    lm_ir_free(ir);
    wide = 0;
  }
}

/* Linear kernels: several outputs (G > 1: outputs in lanes below 8 or 16 rows, rows in lanes
 * from there) keep the reference's summation order and must be bit-identical; the dot product
 * of one output sums in a different order and must stay within 1e-6 · max(1, Σ|x·w|) of it.
 * A kernel lm__kernel_reordered() names (the OpenBLAS product, kernels/linear_blas.c) sums
 * the F + 1 float32 terms of an output in its own blocked order: both it and the reference are
 * within γ(F+1)·Σ|terms| of the exact sum (γ(k) = k·u/(1 − k·u), u = 2^-24), so they must
 * differ by at most 2·γ(F+1)·Σ|terms|, terms = bias + base margin and every present x·w; rows
 * holding a NaN are the reference's own, bit for bit. The largest error seen is printed as a
 * fraction of that bound. */
static void test_linear_kernels(void **state) {
  (void)state;
  const uint32_t shapes[][2] = {{1, 1}, {5, 1}, {16, 1}, {17, 1}, {48, 1}, {64, 1}, {80, 1}, {127, 1},
                                {200, 1}, {1000, 1},
                                {7, 3}, {50, 16}, {33, 17}, {200, 5}, {1000, 64}, {60, 64}};
  const size_t sizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 33, 100};
  int isa = lm__cpu_isa();
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    uint32_t F = shapes[i][0], G = shapes[i][1];
    lm_ir_model *ir =
        tu_random_linear(G > 1 ? "multi:softprob" : "reg:squarederror", F, G, rnd);
    uint8_t *img;
    size_t len;
    assert_int_equal(lm__lmf_write(ir, "t", &img, &len), 0);
    lmf_view v;
    assert_int_equal(lm__lmf_verify(img, len, "linear", &v), 0);
    size_t maxn = 100;
    float *x = malloc(sizeof *x * maxn * F), *want = malloc(sizeof *want * maxn * G),
          *got = malloc(sizeof *got * maxn * G);
    /* odd rows without missing values: wide rows would otherwise all hold a NaN */
    for (size_t k = 0; k < maxn * F; k++)
      x[k] = (k / F) % 2 == 0 && rnd() % 10 == 0 ? NAN
                                                 : (float)((int)(rnd() % 20001) - 10000) / 333.0f;
    const lm__layouts none = {NULL, NULL};
    for (const lm__kernel *k = lm__kernels; k->name; k++) {
      const char *why;
      if (k->family != LM_FAM_LINEAR) continue;
      if (!lm__kernel_usable(k, &v, &none, isa, 0, &why)) {
        if (k->isa <= isa) print_message("SKIP %s F=%u G=%u: %s\n", k->name, F, G, why);
      } else {
        double worst = 0;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
          size_t n = sizes[s];
          lm__linear_margin__scalar(&v, &none, x, n, want, NULL);
          k->f32(&v, &none, x, n, got, NULL);
          for (size_t r = 0; r < n; r++)
            for (size_t g = 0; g < G; g++) {
              float a = got[r * G + g], b = want[r * G + g];
              if (lm__kernel_reordered(k)) {
                double mag = fabs((double)v.lin_bias[g] + v.meta->base_margin), u = 0x1p-24;
                int has_nan = 0;
                for (size_t f = 0; f < F; f++) {
                  float xf = x[r * F + f];
                  if (isnan(xf)) has_nan = 1;
                  else mag += fabs((double)xf * v.lin_weights[f * G + g]);
                }
                double gam = (F + 1) * u / (1 - (F + 1) * u), bound = 2 * gam * mag;
                if (has_nan ? memcmp(&a, &b, 4) != 0 : !(fabs((double)a - b) <= bound))
                  fail_msg("%s F=%u G=%u n=%zu row %zu: %.9g vs reference %.9g (%s %.3g)",
                           k->name, F, G, n, r, a, b,
                           has_nan ? "NaN row: must be bit-identical; bound" : "bound", bound);
                if (!has_nan && bound > 0 && fabs((double)a - b) / bound > worst)
                  worst = fabs((double)a - b) / bound;
              } else if (G > 1) {
                if (memcmp(&a, &b, 4))
                  fail_msg("%s F=%u G=%u n=%zu row %zu: %.9g vs reference %.9g (must be "
                           "bit-identical)", k->name, F, G, n, r, a, b);
              } else {
                double mag = 1.0;
                for (size_t f = 0; f < F; f++)
                  if (!isnan(x[r * F + f])) mag += fabs((double)x[r * F + f] * ir->linear_weights[f]);
                if (fabs((double)a - b) > 1e-6 * mag)
                  fail_msg("%s F=%u n=%zu row %zu: %.9g vs reference %.9g", k->name, F, n, r, a, b);
              }
            }
        }
        if (lm__kernel_reordered(k))
          print_message("%s F=%u G=%u: largest difference %.3g of the 2*gamma(F+1)*sum|terms| "
                        "bound\n", k->name, F, G, worst);
        if (lm__kernel_reordered(k) && k->planned) {
          /* the planner gives it the batches from its min_rows, the hand-written ones below */
          lm__plan p;
          assert_int_equal(lm__plan_build(&p, &v, isa, NULL, "linear"), 0);
          assert_ptr_equal(p.band[0].k, k);
          assert_int_equal(p.band[0].min_rows, k->min_rows);
          assert_true(p.n_bands >= 2 && !lm__kernel_reordered(p.band[1].k));
          lm__plan_free(&p);
          /* LM_KERNEL (runtime/plan.c, for benchmarks): "NAME" plans NAME alone for every batch
           * size, "-NAME" plans without it, an unknown name fails */
          setenv("LM_KERNEL", k->name, 1);
          assert_int_equal(lm__plan_build(&p, &v, isa, NULL, "linear"), 0);
          assert_int_equal(p.n_bands, 1);
          assert_ptr_equal(lm__plan_kernel(&p, 1), k);
          lm__plan_free(&p);
          char minus[64];
          snprintf(minus, sizeof minus, "-%s", k->name);
          setenv("LM_KERNEL", minus, 1);
          assert_int_equal(lm__plan_build(&p, &v, isa, NULL, "linear"), 0);
          for (int b = 0; b < p.n_bands; b++) assert_ptr_not_equal(p.band[b].k, k);
          assert_ptr_not_equal(lm__plan_kernel(&p, 100000), k);
          lm__plan_free(&p);
          setenv("LM_KERNEL", "no_such_kernel", 1);
          assert_int_equal(lm__plan_build(&p, &v, isa, NULL, "linear"), LM_EINVAL);
          unsetenv("LM_KERNEL");
        }
      }
    }
    if (G == 1 && F == 200 && isa >= LM_ISA_AVX2) {
      /* a one-output model forced onto the OpenBLAS kernel (the benchmarks' table): planned for
       * every batch size, its margins within the reordering bound's order of the reference */
      setenv("LM_KERNEL", "linear_margin_blas", 1);
      lm__plan p;
      assert_int_equal(lm__plan_build(&p, &v, isa, NULL, "linear"), 0);
      const lm__kernel *k = lm__plan_kernel(&p, 1);
      assert_string_equal(k->name, "linear_margin_blas");
      unsetenv("LM_KERNEL");
      k->f32(&v, &none, x, maxn, got, NULL);
      lm__linear_margin__scalar(&v, &none, x, maxn, want, NULL);
      for (size_t r = 0; r < maxn; r++) {
        double mag = 1.0;
        for (size_t f = 0; f < F; f++)
          if (!isnan(x[r * F + f])) mag += fabs((double)x[r * F + f] * ir->linear_weights[f]);
        assert_true(fabs((double)got[r] - want[r]) <= 2 * (F + 1) * 0x1p-24 * mag);
      }
      lm__plan_free(&p);
    }
    free(x), free(want), free(got), free(img);
    lm_ir_free(ir);
  }
}

static void test_isa_cap(void **state) {
  (void)state;
  setenv("LM_ISA", "scalar", 1);
  assert_int_equal(lm__isa_allowed(), LM_ISA_SCALAR);
  setenv("LM_ISA", "avx512", 1);
  assert_int_equal(lm__isa_allowed(), lm__cpu_isa());
  setenv("LM_ISA", "avx2", 1);
  assert_true(lm__isa_allowed() <= LM_ISA_AVX2);
  setenv("LM_ISA", "sse9", 1);
  assert_int_equal(lm__isa_allowed(), LM_EINVAL);
  unsetenv("LM_ISA");
  print_message("cpu: %s\n", lm__isa_name(lm__cpu_isa()));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_models),
                                     cmocka_unit_test(test_linear_kernels),
                                     cmocka_unit_test(test_isa_cap)};
  return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
