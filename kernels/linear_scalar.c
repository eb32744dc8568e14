/*
 * linear_scalar.c — the scalar reference linear kernel (XGBoost gblinear semantics): output g
 * starts at bias[g] + base_margin, then every present (non-NaN) feature adds x·w in increasing
 * feature order, in float32, without fused multiply-add (the Makefile builds with
 * -ffp-contract=off), so the result is bit-identical to XGBoost's.
 */
#include <math.h>

#include "kernels/kernels.h"

LM__KERNEL_F32(lm__linear_margin__scalar) {
  (void)L, (void)scratch;
  const lmf_meta *m = v->meta;
  size_t F = m->num_features, G = m->num_outputs;
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    for (size_t g = 0; g < G; g++) {
      float psum = v->lin_bias[g] + m->base_margin;
      for (size_t f = 0; f < F; f++)
        if (!isnan(row[f])) psum += row[f] * v->lin_weights[f * G + g];
      out[r * G + g] = psum;
    }
  }
}
