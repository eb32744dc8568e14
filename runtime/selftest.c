/*
 * selftest.c — model self-tests: rows and the outputs they must produce, embedded in the .lm
 * file at conversion (SPEC.md, SELFTEST section), checked on the serving machine with the
 * kernels actually planned there, so a deployment can refuse a model that does not reproduce
 * its outputs (a miscompiled kernel, an unexpected CPU, a corrupted-but-consistent file).
 */
#include <math.h>
#include <stdlib.h>

#include "formats/objective.h"
#include "base/error.h"
#include "runtime/model.h"

int lm_model_selftest(const lm_model *m) {
  if (!m) return lm__fail(LM_EINVAL, "lm_model_selftest: NULL model");
  const lmf_selftest *st = m->v.selftest;
  if (!st || st->n_rows == 0) return 0;
  /* Rows are scored in blocks, so the buffer is bounded by the block, not by n_rows ×
   * num_outputs (which the file does not bound for the argmax link). */
  enum { BLOCK = 64 };
  size_t n = st->n_rows, W = st->width, F = m->v.meta->num_features;
  float *out = malloc(sizeof *out * BLOCK * m->v.meta->num_outputs);
  lm_session *s = NULL;
  int rc = out ? lm_session_new(m, &s) : lm__fail(LM_ENOMEM, "out of memory");
  for (size_t r0 = 0; rc == LM_OK && r0 < n; r0 += BLOCK) {
    size_t k = n - r0 < BLOCK ? n - r0 : BLOCK;
    rc = lm_predict_f64(s, m->v.selftest_rows + r0 * F, k, 0, out);
    for (size_t i = 0; rc == LM_OK && i < k * W; i++) {
      float e = m->v.selftest_expected[r0 * W + i], g = out[i];
      if (g == e || (isnan(g) && isnan(e))) continue;
      if (!(fabs((double)g - e) <= 1e-6 * fmax(1.0, fabs((double)e))))
        rc = lm__fail(LM_ESELFTEST,
                      "%s: self-test row %zu output %zu: got %.9g, expected %.9g (kernel %s)",
                      m->path, r0 + i / W, i % W, g, e, lm__plan_kernel(&m->plan, k)->name);
    }
  }
  lm_session_free(s);
  free(out);
  return rc == LM_OK ? (int)n : rc;
}
