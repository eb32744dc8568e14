/*
 * selftest.h — scoring with the scalar reference kernels straight from a verified view, used
 * by the converter to compute a self-test's expected outputs.
 */
#ifndef LM_RUNTIME_SELFTEST_H
#define LM_RUNTIME_SELFTEST_H

#include "formats/lmf.h"

/* Values (not margins) of n float64 rows, rounded to float32 first as XGBoost does:
 * out receives n × output-width floats. */
int lm__score_reference(const lmf_view *v, const double *rows, size_t n, float *out);

#endif
