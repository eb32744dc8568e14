/*
 * objective.c — the objective table (see objective.h). Ids are fixed forever: they are stored in
 * .lm files (formats/SPEC.md lists them). Retired ids stay as comments.
 */
#include <math.h>
#include <string.h>

#include "formats/lmf.h"
#include "formats/objective.h"

static const lm_objective lm__objectives[] = {
    /* name                       id  link              base_xform        multi */
    {"reg:squarederror", 1, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"reg:linear", 2, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"reg:squaredlogerror", 3, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"reg:pseudohubererror", 4, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"reg:absoluteerror", 5, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"reg:quantileerror", 6, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"binary:logitraw", 7, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"rank:pairwise", 8, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"rank:ndcg", 9, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"rank:map", 10, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"reg:logistic", 11, LM_LINK_SIGMOID, LM_BASE_LOGIT, 0},
    {"binary:logistic", 12, LM_LINK_SIGMOID, LM_BASE_LOGIT, 0},
    {"binary:hinge", 13, LM_LINK_HINGE, LM_BASE_IDENTITY, 0},
    {"count:poisson", 14, LM_LINK_EXP, LM_BASE_LOG, 0},
    {"reg:gamma", 15, LM_LINK_EXP, LM_BASE_LOG, 0},
    {"reg:tweedie", 16, LM_LINK_EXP, LM_BASE_LOG, 0},
    {"survival:cox", 17, LM_LINK_EXP, LM_BASE_LOG, 0},
    {"survival:aft", 18, LM_LINK_EXP, LM_BASE_LOG, 0},
    {"multi:softprob", 19, LM_LINK_SOFTMAX, LM_BASE_IDENTITY, 1},
    {"multi:softmax", 20, LM_LINK_ARGMAX, LM_BASE_IDENTITY, 1},
    /* SageMaker Linear Learner: predictor_type */
    {"linear-learner:regressor", 21, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"linear-learner:binary_classifier", 22, LM_LINK_LOGISTIC, LM_BASE_IDENTITY, 0},
    {"linear-learner:multiclass_classifier", 23, LM_LINK_SOFTMAX, LM_BASE_IDENTITY, 1},
    /* SageMaker Factorization Machines (format 1.2): predictor_type; the classifier's score is
     * the logistic sigmoid of the margin, here in double (link_param 1) */
    {"factorization-machines:regressor", 24, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"factorization-machines:binary_classifier", 25, LM_LINK_SIGMOID_F64, LM_BASE_IDENTITY, 0},
    /* LightGBM: "lightgbm:" + the objective's first word in model.txt (regression sqrt is the
     * regression objective with the sqrt option). Initial scores are inside the leaves. */
    {"lightgbm:regression", 30, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:regression_l1", 31, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:huber", 32, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:fair", 33, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:quantile", 34, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:mape", 35, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:regression_sqrt", 36, LM_LINK_SIGNED_SQUARE, LM_BASE_IDENTITY, 0},
    {"lightgbm:binary", 37, LM_LINK_SIGMOID_F64, LM_BASE_IDENTITY, 0},
    {"lightgbm:multiclass", 38, LM_LINK_SOFTMAX_F64, LM_BASE_IDENTITY, 1},
    {"lightgbm:multiclassova", 39, LM_LINK_SIGMOID_F64, LM_BASE_IDENTITY, 1},
    {"lightgbm:cross_entropy", 40, LM_LINK_SIGMOID_F64, LM_BASE_IDENTITY, 0},
    {"lightgbm:cross_entropy_lambda", 41, LM_LINK_LOG1P_EXP, LM_BASE_IDENTITY, 0},
    {"lightgbm:poisson", 42, LM_LINK_EXP_F64, LM_BASE_IDENTITY, 0},
    {"lightgbm:gamma", 43, LM_LINK_EXP_F64, LM_BASE_IDENTITY, 0},
    {"lightgbm:tweedie", 44, LM_LINK_EXP_F64, LM_BASE_IDENTITY, 0},
    {"lightgbm:lambdarank", 45, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    {"lightgbm:rank_xendcg", 46, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0},
    /* the `sqrt` option also squares these objectives' outputs (huber, poisson, gamma and
     * tweedie ignore it) */
    {"lightgbm:regression_l1_sqrt", 47, LM_LINK_SIGNED_SQUARE, LM_BASE_IDENTITY, 0},
    {"lightgbm:quantile_sqrt", 48, LM_LINK_SIGNED_SQUARE, LM_BASE_IDENTITY, 0},
    {"lightgbm:fair_sqrt", 49, LM_LINK_SIGNED_SQUARE, LM_BASE_IDENTITY, 0},
    {"lightgbm:mape_sqrt", 50, LM_LINK_SIGNED_SQUARE, LM_BASE_IDENTITY, 0},
    {"lightgbm:custom", 51, LM_LINK_IDENTITY, LM_BASE_IDENTITY, 0}, /* no objective= line */
    /* scikit-learn's IsolationForest: the margin is the summed path lengths */
    {"sklearn:isolation_forest", 52, LM_LINK_NEG_EXP2, LM_BASE_IDENTITY, 0},
};

const lm_objective *lm__objective_by_name(const char *name) {
  for (size_t i = 0; i < sizeof lm__objectives / sizeof lm__objectives[0]; i++)
    if (strcmp(lm__objectives[i].name, name) == 0) return &lm__objectives[i];
  return NULL;
}

const lm_objective *lm__objective_by_id(uint32_t id) {
  for (size_t i = 0; i < sizeof lm__objectives / sizeof lm__objectives[0]; i++)
    if (lm__objectives[i].id == id) return &lm__objectives[i];
  return NULL;
}

const char *lm__link_name(unsigned link) {
  static const char *const names[LM_LINK__COUNT] = {
      "identity", "sigmoid",     "exp",         "softmax",        "argmax",        "hinge",
      "logistic", "sigmoid-f64", "softmax-f64", "exp-f64",        "signed-square", "log1p-exp",
      "neg-exp2"};
  return link < LM_LINK__COUNT ? names[link] : "unknown";
}

float lm__base_margin(const lm_objective *obj, float base_score) {
  switch (obj->base_xform) {
  case LM_BASE_LOGIT: return -logf(1.0f / base_score - 1.0f);
  case LM_BASE_LOG: return logf(base_score);
  default: return base_score;
  }
}

static const char *const lm__sources[] = {
    "unknown", "xgboost-json", "xgboost-ubj", "xgboost-binary", "xgboost-pickle", "lightgbm-text",
    "linear-learner", "sklearn-pickle", "lightgbm-pickle", "factorization-machines",
};

uint32_t lm__source_format_id(const char *name) {
  for (uint32_t i = 1; i < sizeof lm__sources / sizeof lm__sources[0]; i++)
    if (strcmp(lm__sources[i], name) == 0) return i;
  return 0;
}

const char *lm__source_format_name(uint32_t id) {
  return id < sizeof lm__sources / sizeof lm__sources[0] ? lm__sources[id] : "unknown";
}
