/*
 * sklearn.c — scikit-learn estimators (placeholder: filled in below).
 */
#include "formats/import/pickled.h"
#include "base/error.h"

int lm__pickled_sklearn(const lm_pv *v, const char *name, lm_ir_model **out) {
  char d[160];
  *out = NULL;
  return lm__fail(LM_EUNSUPPORTED, "%s: the pickle holds %s: not a scikit-learn estimator lmconvert reads", name,
                  lm__pv_describe(v, d, sizeof d));
}
