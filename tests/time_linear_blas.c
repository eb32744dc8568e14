/*
 * time_linear_blas.c — `make bench-blas`: times every linear kernel of the registry this CPU can run
 * (hand-written AVX2/AVX-512 and the OpenBLAS product, kernels/linear_blas.c: OpenBLAS loaded on
 * demand by lm__kernel_usable, as for the planner; this program does not link it) on the same rows of
 * the same random multi-output linear models, for several shapes (features × outputs) and batch
 * sizes, and prints ns per row for each plus which kernel the planner picks. The min_rows and
 * the shape rule of linear_margin_blas in kernels/registry.c come from these numbers
 * (docs/architecture.md has the table). It lives in tests/ because it calls the kernels
 * directly (bench/ may use only the public API: docs/architecture.md, layers). Rows have no missing values (a NaN row is rescored by the
 * reference: measured separately with --nan). Usage: time_linear_blas [--nan] [--reps N] [F:G ...]
 * (shapes F features × G outputs; default a fixed list).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "runtime/plan.h"
#include "tests/util_trees.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int nan_rows = 0, reps = 5;
  uint32_t shapes[32][2] = {{50, 5},   {200, 5},   {200, 16},  {100, 50}, {500, 20},
                            {1000, 10}, {1000, 50}, {1000, 100}, {2000, 200}};
  size_t n_shapes = 9, given = 0;
  for (int i = 1; i < argc; i++) {
    unsigned f, g;
    if (!strcmp(argv[i], "--nan")) nan_rows = 1;
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (sscanf(argv[i], "%u:%u", &f, &g) == 2 && f > 0 && g > 1 && given < 32) {
      shapes[given][0] = f, shapes[given][1] = g;
      n_shapes = ++given;
    } else {
      fprintf(stderr, "usage: time_linear_blas [--nan] [--reps N] [F:G ...]\n");
      return 2;
    }
  }
  static const size_t batches[] = {1, 4, 16, 64, 256, 1000, 4096};
  const int isa = lm__cpu_isa();
  printf("cpu %s; ns per row (best of %d), lower is better%s\n", lm__isa_name(isa), reps,
         nan_rows ? "; 10% NaN values" : "");
  for (size_t s = 0; s < n_shapes; s++) {
    uint32_t F = shapes[s][0], G = shapes[s][1];
    lm_ir_model *ir = tu_random_linear("multi:softprob", F, G, rnd);
    uint8_t *img;
    size_t len;
    lmf_view v;
    if (lm__lmf_write(ir, "bench", &img, &len) || lm__lmf_verify(img, len, "bench", &v)) return 1;
    size_t maxn = batches[sizeof batches / sizeof batches[0] - 1];
    float *x = malloc(sizeof *x * maxn * F), *out = malloc(sizeof *out * maxn * G);
    for (size_t k = 0; k < maxn * F; k++)
      x[k] = nan_rows && rnd() % 10 == 0 ? NAN : (float)((int)(rnd() % 20001) - 10000) / 333.0f;
    lm__plan plan;
    if (lm__plan_build(&plan, &v, isa, NULL, "bench")) return 1;
    printf("\nF=%u G=%u\n%-34s", F, G, "rows:");
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) printf("%9zu", batches[b]);
    printf("\n");
    const lm__layouts none = {NULL, NULL};
    for (const lm__kernel *k = lm__kernels; k->name; k++) {
      if (k->family != LM_FAM_LINEAR || !lm__kernel_usable(k, &v, &none, isa, 0, NULL)) continue;
      printf("%-34s", k->name);
      for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        size_t n = batches[b], calls = 1 + 2000000 / (n * (F + 1) * (G + 1) / 64 + 1);
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
          double t0 = now();
          for (size_t c = 0; c < calls; c++) k->f32(&v, &none, x, n, out, NULL);
          double t = (now() - t0) / (double)(calls * n) * 1e9;
          if (t < best) best = t;
        }
        printf("%9.1f", best);
      }
      printf("\n");
    }
    printf("%-34s", "planned:");
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
      const lm__kernel *k = NULL;
      for (int i = 0; i < plan.n_bands; i++)
        if (batches[b] >= plan.band[i].min_rows) {
          k = plan.band[i].k;
          break;
        }
      printf(" %8.8s", k ? k->name + 14 : "?");
    }
    printf("\n");
    lm__plan_free(&plan);
    free(x), free(out), free(img);
    lm_ir_free(ir);
  }
  return 0;
}
