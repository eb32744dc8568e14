/*
 * link.h — the scalar sigmoid of XGBoost 1.7 (src/common/math.h) and the logistic, inline: kernels/link_scalar.c
 * applies it to whole outputs, runtime/session.c to a single-row, single-output call without the
 * dispatch (the latency of a one-row linear model is a few tens of nanoseconds; the call and the
 * switch were a tenth of it).
 */
#ifndef LM_KERNELS_LINK_H
#define LM_KERNELS_LINK_H

#include <math.h>

/* XGBoost clamps with std::min(-x, 88.7f), which keeps a NaN margin NaN (its prediction for a
 * NaN base_margin is NaN); fminf would return 88.7 (and is a libm call, not one instruction). */
static inline float lm__sigmoid(float x) {
  float t = -x;
  if (88.7f < t) t = 88.7f;
  return 1.0f / (expf(t) + 1.0f + 1e-16f);
}

/* MXNet's LogisticRegressionOutput (SageMaker Linear Learner): 1 / (1 + e^-x) in float. */
static inline float lm__logistic(float x) { return 1.0f / (1.0f + expf(-x)); }

#endif
