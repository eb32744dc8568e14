/*
 * fm_scalar.c — the scalar reference kernel of factorization machines (SageMaker Factorization
 * Machines; formats/SPEC.md, FM section): for each row
 *
 *   margin = w0 + Σ_i w_i·x_i + ½ Σ_f [ (Σ_i v_if·x_i)² − Σ_i (v_if·x_i)² ]
 *
 * with every product and sum in double (a float32 product v·x is exact in double, so
 * (v·x)² = v²·x² rounded once, the formula), features in increasing order, then rounded
 * to float32 once. A missing value (NaN) counts as 0, as SageMaker's sparse inputs treat absent
 * entries (formats/import/factorization_machines.c); zeros are skipped (they add nothing), which
 * makes sparse rows cheap. It is the test oracle of the SIMD variants, which sum the same terms
 * in double in another order, so their float32 results differ from it by at most an ulp or so
 * (tests/test_fm.c checks 1e-6 relative, the tolerance, and reports the largest seen).
 */
#include <math.h>

#include "kernels/kernels.h"

LM__KERNEL_F32(lm__fm_margin__scalar) {
  (void)L, (void)scratch;
  const size_t F = v->meta->num_features, k = v->fm->num_factors;
  const float *w = v->fm_w, *V = v->fm_v;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    double s = (double)v->fm->w0 + (double)v->meta->base_margin, pair = 0.0;
    for (size_t i = 0; i < F; i++)
      if (row[i] != 0.0f && !isnan(row[i])) s += (double)w[i] * (double)row[i];
    for (size_t f = 0; f < k; f++) {
      double a = 0.0, b = 0.0;
      for (size_t i = 0; i < F; i++) {
        if (row[i] == 0.0f || isnan(row[i])) continue;
        double t = (double)V[i * k + f] * (double)row[i];
        a += t;
        b += t * t;
      }
      pair += a * a - b;
    }
    out[r] = (float)(s + 0.5 * pair);
  }
}
