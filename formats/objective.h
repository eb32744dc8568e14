/*
 * objective.h — the table of trainer objectives lmrt knows: name → fixed id (stored in .lm
 * files, so ids never change), output transform (link) and how a base score in output space
 * becomes the starting margin (XGBoost's ProbToMargin). Used by importers (to reject unknown
 * objectives), by the writer (to compute the base margin) and by lminfo.
 */
#ifndef LM_FORMATS_OBJECTIVE_H
#define LM_FORMATS_OBJECTIVE_H

#include <stdint.h>

#include "base/export.h"

/* Output transforms. Fixed numbers: stored in .lm files. */
enum lm_link {
  LM_LINK_IDENTITY = 0,
  LM_LINK_SIGMOID = 1,   /* XGBoost: 1 / (expf(min(-x, 88.7)) + 1 + 1e-16), float */
  LM_LINK_EXP = 2,       /* expf */
  LM_LINK_SOFTMAX = 3,   /* per row over outputs: XGBoost's softmax (sum in double) */
  LM_LINK_ARGMAX = 4,    /* multi:softmax: index of the first maximum, as float */
  LM_LINK_HINGE = 5,     /* x > 0 ? 1 : 0 */
  LM_LINK_LOGISTIC = 6,  /* 1 / (1 + expf(-x)), float (MXNet's LogisticRegressionOutput) */
  LM_LINK_SIGMOID_F64 = 7,   /* LightGBM: 1 / (1 + exp(-s·x)) in double, s = META.link_param */
  LM_LINK_SOFTMAX_F64 = 8,   /* LightGBM: softmax in double */
  LM_LINK_EXP_F64 = 9,       /* LightGBM: exp in double */
  LM_LINK_SIGNED_SQUARE = 10,/* LightGBM regression sqrt: sign(x)·x² */
  LM_LINK_LOG1P_EXP = 11,    /* LightGBM cross_entropy_lambda: log(1 + exp(x)) */
  LM_LINK_NEG_EXP2 = 12,     /* scikit-learn IsolationForest.score_samples: −2^(−x / d) in
                                double, d = META.link_param (trees × c(max_samples)) */
  LM_LINK__COUNT
};

/* How the base score becomes the starting margin. */
enum lm_base_xform {
  LM_BASE_IDENTITY = 0,
  LM_BASE_LOGIT = 1,     /* -logf(1/p - 1) */
  LM_BASE_LOG = 2,       /* logf(p) */
};

typedef struct lm_objective {
  const char *name;      /* trainer's name */
  uint32_t id;           /* fixed number stored in .lm files */
  uint8_t link;          /* enum lm_link */
  uint8_t base_xform;    /* enum lm_base_xform */
  uint8_t multiclass;    /* needs num_outputs > 1 */
} lm_objective;

/* NULL if unknown. */
LM_INTERNAL const lm_objective *lm__objective_by_name(const char *name);
const lm_objective *lm__objective_by_id(uint32_t id);
const char *lm__link_name(unsigned link);
/* The starting margin for base_score under this objective. */
LM_INTERNAL float lm__base_margin(const lm_objective *obj, float base_score);

#endif
