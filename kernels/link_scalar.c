/*
 * link_scalar.c — output transforms (formats/objective.h, enum lm_link), written to round
 * exactly as XGBoost 1.7's float32 code does (src/common/math.h: Sigmoid, Softmax,
 * FindMaxIndex), so values match the trainer bit for bit where libm agrees.
 */
#include <math.h>

#include "formats/objective.h"
#include "kernels/kernels.h"
#include "kernels/link.h"

size_t lm__link_apply__scalar(unsigned link, double param, float *out, size_t n, size_t G) {
  size_t total = n * G;
  switch (link) {
  case LM_LINK_SIGMOID_F64:
    for (size_t i = 0; i < total; i++) out[i] = (float)(1.0 / (1.0 + exp(-param * out[i])));
    return G;
  case LM_LINK_EXP_F64:
    for (size_t i = 0; i < total; i++) out[i] = (float)exp((double)out[i]);
    return G;
  case LM_LINK_SIGNED_SQUARE:
    for (size_t i = 0; i < total; i++) out[i] = (float)((double)out[i] * fabs((double)out[i]));
    return G;
  case LM_LINK_LOG1P_EXP:
    /* LightGBM computes log(1 + exp(x)), not log1p: they differ below x ≈ −37 */
    for (size_t i = 0; i < total; i++) out[i] = (float)log(1.0 + exp((double)out[i]));
    return G;
  case LM_LINK_NEG_EXP2:
    /* IsolationForest.score_samples: -(2 ** -(depths / (n_estimators · c(max_samples)))) */
    for (size_t i = 0; i < total; i++) out[i] = (float)-exp2(-((double)out[i] / param));
    return G;
  case LM_LINK_SOFTMAX_F64:
    for (size_t r = 0; r < n; r++) {
      float *o = out + r * G;
      double mx = o[0], sum = 0.0;
      for (size_t g = 1; g < G; g++) if (o[g] > mx) mx = o[g];
      for (size_t g = 0; g < G; g++) sum += exp((double)o[g] - mx);
      for (size_t g = 0; g < G; g++) o[g] = (float)(exp((double)o[g] - mx) / sum);
    }
    return G;
  case LM_LINK_SIGMOID:
    for (size_t i = 0; i < total; i++) out[i] = lm__sigmoid(out[i]);
    return G;
  case LM_LINK_EXP:
    for (size_t i = 0; i < total; i++) out[i] = expf(out[i]);
    return G;
  case LM_LINK_LOGISTIC:
    for (size_t i = 0; i < total; i++) out[i] = lm__logistic(out[i]);
    return G;
  case LM_LINK_HINGE:
    for (size_t i = 0; i < total; i++) out[i] = out[i] > 0.0f ? 1.0f : 0.0f;
    return G;
  case LM_LINK_SOFTMAX:
    for (size_t r = 0; r < n; r++) {
      float *o = out + r * G, mx = o[0];
      for (size_t g = 1; g < G; g++) if (o[g] > mx) mx = o[g];
      double sum = 0.0;
      for (size_t g = 0; g < G; g++) { o[g] = expf(o[g] - mx); sum += o[g]; }
      for (size_t g = 0; g < G; g++) o[g] /= (float)sum;
    }
    return G;
  case LM_LINK_ARGMAX:
    /* Row r's result goes to out[r], which lies in rows already read: safe in place. */
    for (size_t r = 0; r < n; r++) {
      const float *o = out + r * G;
      size_t best = 0;
      for (size_t g = 1; g < G; g++) if (o[g] > o[best]) best = g;
      out[r] = (float)best;
    }
    return 1;
  default:
    return G;
  }
}
