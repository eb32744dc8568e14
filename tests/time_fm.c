/*
 * time_fm.c — `make bench-fm` (issue 17): the factorization machine kernels of the registry
 * against each other and against OpenBLAS products on the same model and rows, ns per row, best
 * of 7 rounds, for k = 8, 32, 64 factors over 100 dense features (1,000 random rows in [-1, 1];
 * single rows one call each). The OpenBLAS candidates compute A = X·V and B = X²·V² as two
 * products and then Σ(A² − B): `dgemm` (X converted to double, missing values zeroed: the
 * double-precision contract) and `sgemm` (float32 products: not the contract; its largest
 * relative difference from the reference is printed). These are the numbers behind the FM
 * paragraph of docs/performance.md: neither product is planned. Separate from lmbench on purpose.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "formats/ir.h"
#include "formats/lmf_write.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "lmrt.h"

void openblas_set_num_threads(int num_threads);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* [0, 1) */
  rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
  return (float)((rng * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

typedef struct blas_buf {
  double *Vd, *V2d, *Xd, *X2d, *A, *B;
  float *V2s, *X2s, *As, *Bs;
} blas_buf;

/* The two products and the pair term in double (dbl) or float32 (!dbl) products. */
static void blas_score(const lmf_view *v, const float *x, size_t n, float *out, blas_buf *b,
                       int dbl) {
  const size_t F = v->meta->num_features, k = v->fm->num_factors;
  if (dbl) {
    for (size_t i = 0; i < n * F; i++) {
      double q = isnan(x[i]) ? 0.0 : x[i];
      b->Xd[i] = q, b->X2d[i] = q * q;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)F, 1.0, b->Xd,
                (int)F, b->Vd, (int)k, 0.0, b->A, (int)k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)F, 1.0, b->X2d,
                (int)F, b->V2d, (int)k, 0.0, b->B, (int)k);
  } else {
    for (size_t i = 0; i < n * F; i++) b->X2s[i] = x[i] * x[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)F, 1.0f, x,
                (int)F, v->fm_v, (int)k, 0.0f, b->As, (int)k);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)F, 1.0f, b->X2s,
                (int)F, b->V2s, (int)k, 0.0f, b->Bs, (int)k);
  }
  for (size_t r = 0; r < n; r++) {
    double s = v->fm->w0, p = 0.0;
    for (size_t i = 0; i < F; i++) s += (double)v->fm_w[i] * x[r * F + i];
    for (size_t f = 0; f < k; f++) {
      double a = dbl ? b->A[r * k + f] : b->As[r * k + f];
      p += a * a - (dbl ? b->B[r * k + f] : (double)b->Bs[r * k + f]);
    }
    out[r] = (float)(s + 0.5 * p);
  }
}

int main(void) {
  openblas_set_num_threads(1);
  const int cpu = lm__cpu_isa();
  static const uint32_t ks[] = {8, 32, 64};
  const size_t N = 1000, F = 100;
  printf("factorization machines, %zu dense features: ns per row, best of 7 (cpu %s)\n", F,
         lm__isa_name(cpu));
  for (size_t a = 0; a < 3; a++) {
    const uint32_t k = ks[a];
    lm_ir_model *ir = lm_ir_new();
    snprintf(ir->source_format, sizeof ir->source_format, "factorization-machines");
    snprintf(ir->source_version, sizeof ir->source_version, "time_fm");
    snprintf(ir->objective, sizeof ir->objective, "factorization-machines:regressor");
    ir->booster = LM_BOOSTER_FM;
    ir->num_features = (uint32_t)F, ir->num_outputs = 1, ir->fm_factors = k;
    ir->fm_w = malloc(4 * F);
    ir->fm_v = malloc(4 * F * k);
    for (size_t i = 0; i < F; i++) ir->fm_w[i] = frand() - 0.5f;
    for (size_t i = 0; i < F * k; i++) ir->fm_v[i] = (frand() - 0.5f) * 0.2f;
    uint8_t *img;
    size_t len;
    lmf_view v;
    if (lm__lmf_write(ir, "time_fm", &img, &len) || lm__lmf_verify(img, len, "time_fm", &v)) {
      fprintf(stderr, "time_fm: %s\n", lm_last_error());
      return 1;
    }
    const lm__layouts L = {NULL, NULL};
    float *x = malloc(4 * N * F), *ref = malloc(4 * N), *o = malloc(4 * N);
    for (size_t i = 0; i < N * F; i++) x[i] = frand() * 2 - 1;
    blas_buf b = {malloc(8 * F * k), malloc(8 * F * k), malloc(8 * N * F), malloc(8 * N * F),
                  malloc(8 * N * k), malloc(8 * N * k), malloc(4 * F * k), malloc(4 * N * F),
                  malloc(4 * N * k), malloc(4 * N * k)};
    for (size_t i = 0; i < F * k; i++) {
      b.Vd[i] = v.fm_v[i], b.V2d[i] = b.Vd[i] * b.Vd[i], b.V2s[i] = v.fm_v[i] * v.fm_v[i];
    }
    lm__fm_margin__scalar(&v, &L, x, N, ref, NULL);
    printf("k = %u:\n", k);
    for (const lm__kernel *kk = lm__kernels; kk->name; kk++) {
      if (kk->family != LM_FAM_FM || !lm__kernel_usable(kk, &v, &L, cpu, 0, NULL)) continue;
      double one = 1e30, batch = 1e30;
      for (int round = 0; round < 7; round++) {
        double t0 = now();
        for (size_t r = 0; r < N; r++) kk->f32(&v, &L, x + r * F, 1, o + r, NULL);
        double t = (now() - t0) / (double)N * 1e9;
        if (t < one) one = t;
        t0 = now();
        kk->f32(&v, &L, x, N, o, NULL);
        t = (now() - t0) / (double)N * 1e9;
        if (t < batch) batch = t;
      }
      printf("  %-22s single rows %7.0f   %zu-row batch %7.0f\n", kk->name, one, N, batch);
    }
    for (int dbl = 1; dbl >= 0; dbl--) {
      double best = 1e30;
      for (int round = 0; round < 7; round++) {
        double t0 = now();
        blas_score(&v, x, N, o, &b, dbl);
        double t = (now() - t0) / (double)N * 1e9;
        if (t < best) best = t;
      }
      double worst = 0;
      for (size_t r = 0; r < N; r++)
        worst = fmax(worst, fabs((double)o[r] - ref[r]) / fmax(1.0, fabs((double)ref[r])));
      printf("  %-22s                       %zu-row batch %7.0f   (max relative difference "
             "from the reference %.2g)\n",
             dbl ? "OpenBLAS dgemm x 2" : "OpenBLAS sgemm x 2", N, best, worst);
    }
    free(b.Vd), free(b.V2d), free(b.Xd), free(b.X2d), free(b.A), free(b.B);
    free(b.V2s), free(b.X2s), free(b.As), free(b.Bs);
    free(x), free(ref), free(o), free(img);
    lm_ir_free(ir);
  }
  return 0;
}
