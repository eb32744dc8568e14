/*
 * reference.c — scoring with the scalar reference kernels straight from a verified view, used by
 * the converter to compute a self-test's expected outputs (the runtime checks them on the serving
 * machine with the kernels planned there: runtime/selftest.c).
 */
#include <stdlib.h>

#include "base/error.h"
#include "convert/reference.h"
#include "kernels/kernels.h"

int lm__score_reference(const lmf_view *v, const double *rows, size_t n, float *out) {
  size_t F = v->meta->num_features, G = v->meta->num_outputs;
  float *x = malloc(sizeof *x * (n * F + 1));
  float *m = malloc(sizeof *m * (n * G + 1));
  double *acc = malloc(sizeof *acc * G);
  if (!x || !m || !acc) {
    free(x), free(m), free(acc);
    return lm__fail(LM_ENOMEM, "out of memory for %zu self-test rows", n);
  }
  for (size_t i = 0; i < n * F; i++) x[i] = (float)rows[i];
  const lm__layouts none = {NULL, NULL}; /* the references read no derived layout */
  if (v->meta->decision == LMF_DECISION_LIGHTGBM)
    lm__tree_margin_lgbm_f64__scalar(v, &none, rows, n, m, acc);
  else if (v->meta->model_kind == LMF_MODEL_FM)
    lm__fm_margin__scalar(v, &none, x, n, m, NULL);
  else if (v->meta->model_kind == LMF_MODEL_LINEAR)
    lm__linear_margin__scalar(v, &none, x, n, m, NULL);
  else
    lm__tree_margin__scalar(v, &none, x, n, m, NULL);
  size_t width = lm__link_apply__scalar(v->meta->link, v->meta->link_param, m, n, G);
  for (size_t i = 0; i < n * width; i++) out[i] = m[i];
  free(x), free(m), free(acc);
  return LM_OK;
}
