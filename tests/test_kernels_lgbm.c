/*
 * test_kernels_lgbm.c — every decision-1 (LightGBM) kernel variant of the registry
 * (lm__tree_margin_lgbm_kernels, kernels/registry.c) that this CPU runs, against the reference
 * (kernels/tree_lgbm_scalar.c), on random LightGBM-shaped models (IR with double thresholds and
 * leaves, the three missing types, default directions, categorical splits, one-leaf trees,
 * several outputs, averaging) and rows built to break kernels: NaN, ±0, ±inf, values equal to a
 * threshold and one double ulp either side, values around LightGBM's 1e-35 zero threshold,
 * valid and invalid categories. Float32 rows go through the float32 kernels, float64 rows
 * through the float64 ones. Decisions are identical and the double sums in the same order, so
 * margins must be bit-identical; nothing may be written past the last row. Variants the CPU
 * lacks are skipped, visibly.
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
#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "kernels/tree_bits.h"
#include "lmrt.h"
#include "tests/util_trees.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static int nozero; /* no zero-as-missing split: the bin-and-bitmask records can be built */
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static const double pool[] = {-INFINITY, -3.1, -1e-36, -0.0, 0.0, 1e-36, (double)1e-35f,
                              1.0 / 3.0, 0.5, 2.0 / 3.0, 7.25, 100.0, INFINITY, -1e-30};
#define NP (sizeof pool / sizeof pool[0])

static void leaf(lm_ir_node *n) {
  n->value_d = (double)((int)(rnd() % 2001) - 1000) / 3.0;
  n->value = (float)n->value_d;
}
static void split(lm_ir_node *n) {
  n->value_d = pool[rnd() % NP];
  n->value = (float)n->value_d;
  n->missing_type = (uint8_t)(rnd() % 3);
  if (nozero && n->missing_type == 1) n->missing_type = rnd() & 1 ? 0 : 2;
}
static const tu_grower grower = {rnd, 4, 5, leaf, split};

/* Linear trees (every other tree when lin): each leaf gets 0–3 terms over random features and a
 * constant (LightGBM's linear_tree leaves). */
static void make_linear(lm_ir_model *m) {
  size_t cap = 0;
  for (uint32_t t = 0; t < m->n_trees; t++) cap += 3 * m->trees[t].n_nodes;
  m->lin_feat = calloc(cap + 1, sizeof *m->lin_feat);
  m->lin_coeff = calloc(cap + 1, sizeof *m->lin_coeff);
  for (uint32_t t = 0; t < m->n_trees; t += 2) {
    lm_ir_tree *tr = &m->trees[t];
    tr->linear = 1;
    for (uint32_t i = 0; i < tr->n_nodes; i++) {
      lm_ir_node *n = &tr->nodes[i];
      if (n->left != -1) continue;
      n->lin_begin = (uint32_t)m->n_lin_terms;
      n->lin_count = rnd() % 4;
      n->lin_const = n->value_d / 2;
      for (uint32_t k = 0; k < n->lin_count; k++, m->n_lin_terms++) {
        m->lin_feat[m->n_lin_terms] = rnd() % m->num_features;
        m->lin_coeff[m->n_lin_terms] = (double)((int)(rnd() % 2001) - 1000) / 7.0;
      }
    }
  }
}

static lm_ir_model *random_model(uint32_t F, uint32_t G, uint32_t T, int maxd, int cat, int avg) {
  lm_ir_model *m = lm_ir_new();
  strcpy(m->source_format, "lightgbm-text");
  strcpy(m->objective, G > 1 ? "lightgbm:multiclass" : "lightgbm:regression");
  m->decision = LM_DECISION_LIGHTGBM;
  m->booster = LM_BOOSTER_GBTREE;
  m->num_features = F;
  m->num_outputs = G;
  m->average_over = avg ? T / G : 0;
  tu_random_trees(m, &grower, T, G, maxd, cat, 0);
  return m;
}

static double special(void) {
  double t = pool[rnd() % NP];
  switch (rnd() % 14) {
  case 0: return NAN;
  case 1: return 0.0;
  case 2: return -0.0;
  case 3: return INFINITY;
  case 4: return -INFINITY;
  case 5: return (double)(rnd() % 40);      /* categories, mostly valid */
  case 6: return -1.0 - (double)(rnd() % 3); /* invalid categories */
  case 7: return -0.5;                       /* category 0 for LightGBM */
  case 8: return 16777216.0;
  case 9: return nextafter(t, INFINITY);
  case 10: return nextafter(t, -INFINITY);
  case 11: return (rnd() & 1 ? -1.0 : 1.0) * (double)1e-35f * (rnd() % 3 == 0 ? 1.0000001 : 1.0);
  default: return t;
  }
}

static void check_model(lm_ir_model *ir, const char *what) {
  uint8_t *img;
  size_t len;
  if (lm__lmf_write(ir, "test", &img, &len) != 0) fail_msg("%s: write: %s", what, lm_last_error());
  lmf_view v;
  if (lm__lmf_verify(img, len, what, &v) != 0) fail_msg("%s: %s", what, lm_last_error());
  /* decision-1 kernels read no derived layout but the bin-and-bitmask records (built when the
   * CPU has VBMI and the model is eligible: the planner's rule) */
  const int vbmi = lm__cpu_isa() >= LM_ISA_AVX512 && lm__cpu_has_vbmi();
  char why_bits[LM__WHY_LEN] = "";
  lm__bits *bits = vbmi ? lm__bits_build(&v, NULL, &lm__alloc_default, why_bits) : NULL;
  if (bits) print_message("%s: bin-and-bitmask records, %u columns\n", what, bits->n_cols);
  else if (vbmi) print_message("%s: no bin-and-bitmask records: %s\n", what, why_bits);
  if (nozero && vbmi && !bits) fail_msg("%s: records not built: %s", what, why_bits);
  const lm__layouts none = {NULL, bits};
  const size_t sizes[] = {1, 2, 7, 8, 9, 31, 32, 33, 64, 100};
  const size_t maxn = 100, F = ir->num_features, G = ir->num_outputs;
  /* scratch: the most any variant asks (lm__kernel_scratch; checked per kernel below) */
  const size_t scratch_doubles = 64 * G;
  double *x = malloc(sizeof *x * maxn * F), *acc = malloc(sizeof *acc * scratch_doubles);
  float *xf = malloc(sizeof *xf * maxn * F);
  float *want = malloc(sizeof *want * maxn * G), *got = malloc(sizeof *got * maxn * G);
  for (size_t i = 0; i < maxn * F; i++) xf[i] = (float)(x[i] = special());
  int isa = lm__cpu_isa(), ran = 0;
  for (const lm__kernel *k = lm__kernels; k->name; k++) {
    const char *why;
    if (k->family != LM_FAM_LGBM || k->isa == LM_ISA_SCALAR) continue;
    if (!lm__kernel_usable(k, &v, &none, isa, vbmi, &why)) {
      print_message("SKIP %s on %s: %s\n", k->name, what, why);
    } else {
      ran++;
      if (lm__kernel_scratch(k, &v) > scratch_doubles * sizeof *acc)
        fail_msg("%s: %s asks %zu bytes of scratch", what, k->name, lm__kernel_scratch(k, &v));
      for (int f64 = 0; f64 < 2; f64++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
          size_t n = sizes[s];
          memset(got, 0xA5, sizeof *got * maxn * G);
          if (f64) {
            lm__tree_margin_lgbm_f64__scalar(&v, &none, x, n, want, acc);
            k->f64(&v, &none, x, n, got, acc);
          } else {
            lm__tree_margin_lgbm__scalar(&v, &none, xf, n, want, acc);
            k->f32(&v, &none, xf, n, got, acc);
          }
          for (size_t i = 0; i < n * G; i++)
            if (memcmp(&want[i], &got[i], sizeof(float)))
              fail_msg("%s %s %s n=%zu: row %zu output %zu: %.9g vs reference %.9g", what,
                       k->name, f64 ? "f64" : "f32", n, i / G, i % G, got[i], want[i]);
          for (size_t i = n * G; i < maxn * G; i++) {
            uint32_t u;
            memcpy(&u, &got[i], 4);
            if (u != 0xA5A5A5A5u) fail_msg("%s %s n=%zu wrote past its output", what, k->name, n);
          }
        }
    }
  }
  if (isa >= LM_ISA_AVX512 && !ran) fail_msg("%s: no SIMD LightGBM variant ran", what);
  lm__bits_free(bits);
  free(x), free(xf), free(acc), free(want), free(got), free(img);
}

static void test_random_lightgbm_models(void **state) {
  (void)state;
  struct { uint32_t F, G, T; int maxd, cat, avg, nozero, lin; } shapes[] = {
      {1, 1, 1, 0, 0, 0, 0, 0},   {3, 1, 5, 3, 0, 0, 0, 0},   {10, 1, 50, 6, 0, 0, 0, 0},
      {30, 1, 100, 12, 1, 0, 0, 0}, {7, 3, 30, 5, 0, 1, 0, 0},  {7, 3, 31, 9, 1, 0, 0, 0},
      {20, 17, 34, 4, 0, 0, 0, 0}, {5, 1, 40, 1, 1, 1, 0, 0},   {64, 1, 70, 8, 0, 0, 0, 0},
      {50, 2, 64, 15, 1, 0, 0, 0},
      /* numeric, missing types None and NaN only: the bin-and-bitmask records (LightGBM's
       * leaf-wise trees of any depth), one and several outputs, averaging, 2 register pairs */
      {1, 1, 1, 0, 0, 0, 1, 0},   {10, 1, 50, 6, 0, 0, 1, 0},  {30, 1, 100, 12, 0, 0, 1, 0},
      {7, 3, 30, 5, 0, 1, 1, 0},  {20, 17, 34, 4, 0, 0, 1, 0}, {64, 1, 70, 8, 0, 0, 1, 0},
      {50, 2, 64, 15, 0, 0, 1, 0}, {200, 1, 80, 10, 0, 0, 1, 0}, {5, 1, 40, 1, 0, 1, 1, 0},
      /* categorical splits (membership columns) and linear trees over the records */
      {10, 1, 50, 6, 1, 0, 1, 0},  {30, 3, 60, 12, 1, 0, 1, 0}, {10, 1, 50, 6, 0, 0, 1, 1},
      {30, 2, 60, 12, 1, 0, 1, 1}, {7, 3, 30, 5, 0, 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    char what[96];
    snprintf(what, sizeof what, "lightgbm F=%u G=%u T=%u depth≤%d%s%s", shapes[i].F, shapes[i].G,
             shapes[i].T, shapes[i].maxd, shapes[i].cat ? " categorical" : "",
             shapes[i].avg ? " averaged" : "");
    nozero = shapes[i].nozero;
    lm_ir_model *ir = random_model(shapes[i].F, shapes[i].G, shapes[i].T, shapes[i].maxd,
                                   shapes[i].cat, shapes[i].avg);
    if (shapes[i].lin) make_linear(ir), strcat(what, " linear trees");
    check_model(ir, what);
    nozero = 0;
    lm_ir_free(ir);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_lightgbm_models)};
  return cmocka_run_group_tests_name("kernels_lgbm", tests, NULL, NULL);
}
