/*
 * reference.h — scoring with the scalar reference kernels straight from a verified view, used
 * by the converter to compute a self-test's expected outputs.
 */
#ifndef LM_CONVERT_REFERENCE_H
#define LM_CONVERT_REFERENCE_H

#include "formats/lmf.h"

/* Values (not margins) of n float64 rows with the scalar reference, as lm_predict_f64 scores
 * them (XGBoost models round rows to float32 first; LightGBM models compare doubles):
 * out receives n × output-width floats. */
int lm__score_reference(const lmf_view *v, const double *rows, size_t n, float *out);

#endif
