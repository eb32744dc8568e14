/*
 * sklearn_linear.c — the linear half of the scikit-learn importer (sklearn.c): the scaling steps
 * of a Pipeline (StandardScaler, MinMaxScaler, MaxAbsScaler: folded into affine maps, kept as
 * sklearn's own operations for mapping tree thresholds back), and the linear models
 * (LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor, LinearSVR, LogisticRegression,
 * SGDClassifier, LinearSVC) mapped onto the IR's linear model kind. sklearn.c describes what is
 * supported and how; the dispatch over classes and pipelines stays there. Shared state and
 * helpers: sklearn_internal.h.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickled.h"
#include "formats/import/sklearn_internal.h"
#include "base/error.h"


/* A copy of array key of the step's state (F numbers, each finite; divisors > 0), or NULL when
 * the step skips that operation. */
static int step_arr(sk *k, const lm_pv *st, const char *key, uint32_t F, int divisor, double **out) {
  const lm_pv *v = st_get(st, key);
  uint64_t want[1] = {F};
  int rc = lm__sk_need_arr(k, v, key, 1, want);
  if (rc) return rc;
  if (!(*out = malloc(F * sizeof **out))) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  for (uint32_t f = 0; f < F; f++) {
    double x = lm__nd_get(v, f, NULL, 0);
    if (!isfinite(x) || (divisor && !(x > 0)))
      return SKFAIL(LM_EFORMAT, v, "%s[%u] = %g: %s", key, f, x, divisor ? "not > 0" : "not finite");
    (*out)[f] = x;
  }
  return LM_OK;
}

static int exact_step(sk *k, const lm_pv *step, const lm_pv *st, uint32_t F, affine *af) {
  int i = af->n++, rc = LM_OK;
  af->step[i].p = af->step[i].q = NULL;
  if (lm__pv_obj_name_is(step, "StandardScaler")) {
    const lm_pv *wm = st_get(st, "with_mean"), *ws = st_get(st, "with_std");
    af->step[i].op = 's';
    if (!(wm && wm->kind == LM_PV_BOOL && !wm->i)) rc = step_arr(k, st, "mean_", F, 0, &af->step[i].p);
    if (!rc && !(ws && ws->kind == LM_PV_BOOL && !ws->i)) rc = step_arr(k, st, "scale_", F, 1, &af->step[i].q);
  } else if (lm__pv_obj_name_is(step, "MinMaxScaler")) {
    af->step[i].op = 'm';
    rc = step_arr(k, st, "scale_", F, 1, &af->step[i].p);
    if (!rc) rc = step_arr(k, st, "min_", F, 0, &af->step[i].q);
  } else {
    af->step[i].op = 'a';
    rc = step_arr(k, st, "scale_", F, 1, &af->step[i].p);
  }
  return rc;
}

int lm__sk_scaler(sk *k, const lm_pv *step, const char *sname, uint32_t F, affine *af) {
  const lm_pv *st = lm__pv_state(step);
  uint64_t want[1] = {F};
  int rc;
  double *na = calloc(F, sizeof *na), *nc = calloc(F, sizeof *nc);
  if (!na || !nc) {
    free(na), free(nc);
    return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  }
  for (uint32_t f = 0; f < F; f++) na[f] = 1.0, nc[f] = 0.0;
  if (lm__pv_obj_is(step, "sklearn.preprocessing._data", "StandardScaler")) {
    /* transform: X -= mean_ if with_mean; X /= scale_ if with_std */
    const lm_pv *wm = st_get(st, "with_mean"), *ws = st_get(st, "with_std");
    if (!(wm && wm->kind == LM_PV_BOOL && !wm->i)) {
      const lm_pv *mean = st_get(st, "mean_");
      if ((rc = lm__sk_need_arr(k, mean, "StandardScaler.mean_", 1, want))) goto fail;
      for (uint32_t f = 0; f < F; f++) nc[f] = -lm__nd_get(mean, f, NULL, 0);
    }
    if (!(ws && ws->kind == LM_PV_BOOL && !ws->i)) {
      const lm_pv *scale = st_get(st, "scale_");
      if ((rc = lm__sk_need_arr(k, scale, "StandardScaler.scale_", 1, want))) goto fail;
      for (uint32_t f = 0; f < F; f++) {
        double s = lm__nd_get(scale, f, NULL, 0);
        na[f] = 1.0 / s, nc[f] /= s;
      }
    }
  } else if (lm__pv_obj_is(step, "sklearn.preprocessing._data", "MinMaxScaler")) {
    const lm_pv *scale = st_get(st, "scale_"), *mn = st_get(st, "min_");
    if ((rc = lm__sk_need_arr(k, scale, "MinMaxScaler.scale_", 1, want)) ||
        (rc = lm__sk_need_arr(k, mn, "MinMaxScaler.min_", 1, want)))
      goto fail;
    const lm_pv *clip = st_get(st, "clip");
    if (clip && clip->kind == LM_PV_BOOL && clip->i) {
      rc = SKFAIL(LM_EUNSUPPORTED, step, "Pipeline step '%s': MinMaxScaler(clip=True) is not linear", sname);
      goto fail;
    }
    for (uint32_t f = 0; f < F; f++) na[f] = lm__nd_get(scale, f, NULL, 0), nc[f] = lm__nd_get(mn, f, NULL, 0);
  } else if (lm__pv_obj_is(step, "sklearn.preprocessing._data", "MaxAbsScaler")) {
    const lm_pv *scale = st_get(st, "scale_");
    if ((rc = lm__sk_need_arr(k, scale, "MaxAbsScaler.scale_", 1, want))) goto fail;
    for (uint32_t f = 0; f < F; f++) na[f] = 1.0 / lm__nd_get(scale, f, NULL, 0);
  } else {
    char d[160];
    rc = SKFAIL(LM_EUNSUPPORTED, step, "Pipeline step '%s' is %s: only StandardScaler, MinMaxScaler "
                "and MaxAbsScaler steps are supported (before a linear model)", sname,
                lm__pv_describe(step, d, sizeof d));
    goto fail;
  }
  if (af->n == SK_MAX_STEPS) {
    rc = SKFAIL(LM_EUNSUPPORTED, step, "Pipeline: more than %d scaling steps", SK_MAX_STEPS);
    goto fail;
  }
  if ((rc = exact_step(k, step, st, F, af))) goto fail;
  /* compose: the new step applies after the earlier ones: x'' = na·(a·x + c) + nc */
  for (uint32_t f = 0; f < F; f++) {
    af->c[f] = na[f] * af->c[f] + nc[f];
    af->a[f] = na[f] * af->a[f];
  }
  free(na), free(nc);
  return LM_OK;
fail:
  free(na), free(nc);
  return rc;
}

enum lin_out { OUT_IDENTITY, OUT_LOGISTIC, OUT_SOFTMAX };

int lm__sk_linear(sk *k, const lm_pv *est, const lm_pv *st, const affine *af) {
  int rc;
  lm_ir_model *ir = k->ir;
  const char *c = k->cls;
  int clf = !strcmp(c, "LogisticRegression") || !strcmp(c, "SGDClassifier") || !strcmp(c, "LinearSVC");
  uint64_t K = 0;
  if (clf && (rc = lm__sk_classes(k, st, &K))) return rc;
  const lm_pv *coef = st_get(st, "coef_"), *icpt = st_get(st, "intercept_");
  char d[160];
  if (!coef || coef->kind != LM_PV_NDARRAY || !lm__sk_is_num_dt(coef->nd_dtype) || coef->nd_ndim < 1 ||
      coef->nd_ndim > 2)
    return SKFAIL(LM_ENOMODEL, coef ? coef : st, "coef_: expected a 1-D or 2-D numeric array (fitted?), got %s",
                  coef ? lm__pv_describe(coef, d, sizeof d) : "nothing");
  uint64_t G = coef->nd_ndim == 1 ? 1 : coef->nd_shape[0];
  uint64_t F = coef->nd_ndim == 1 ? coef->nd_shape[0] : coef->nd_shape[1];
  if (F != ir->num_features)
    return SKFAIL(LM_EFORMAT, coef, "coef_: %llu features, n_features_in_ is %u", (unsigned long long)F, ir->num_features);
  if (G < 1 || G > (1 << 16)) return SKFAIL(LM_ERANGE, coef, "coef_: %llu rows", (unsigned long long)G);
  if (clf && G != (K == 2 ? 1 : K))
    return SKFAIL(LM_EFORMAT, coef, "coef_: %llu rows for %llu classes", (unsigned long long)G, (unsigned long long)K);
  double *b = calloc(G, sizeof *b);
  if (!b) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  if (icpt && icpt->kind == LM_PV_NDARRAY && lm__sk_is_num_dt(icpt->nd_dtype) && icpt->nd_count == G) {
    for (uint64_t g = 0; g < G; g++) b[g] = lm__nd_get(icpt, g, NULL, 0);
  } else if (icpt && (icpt->kind == LM_PV_FLOAT || icpt->kind == LM_PV_INT) && G == 1) {
    b[0] = icpt->kind == LM_PV_FLOAT ? icpt->d : (double)icpt->i;
  } else {
    free(b);
    return SKFAIL(LM_EFORMAT, icpt ? icpt : st, "intercept_: expected %llu number(s)", (unsigned long long)G);
  }
  /* what predict_proba / decision_function / predict gives */
  int out = OUT_IDENTITY;
  double mul = 1.0;
  if (!strcmp(c, "LogisticRegression")) {
    const lm_pv *mc = st_get(st, "multi_class");
    int ovr = lm__pv_str_is(mc, "ovr") || lm__pv_str_is(mc, "warn") ||
              (lm__pv_str_is(mc, "auto") && (K <= 2 || lm__pv_str_is(st_get(st, "solver"), "liblinear")));
    if (!ovr && !lm__pv_str_is(mc, "multinomial") && !lm__pv_str_is(mc, "auto")) {
      free(b);
      return SKFAIL(LM_EFORMAT, mc ? mc : st, "multi_class: expected 'auto', 'ovr' or 'multinomial'");
    }
    if (K == 2) out = OUT_LOGISTIC, mul = ovr ? 1.0 : 2.0; /* softmax of (-d, d) = logistic(2d) */
    else if (!ovr) out = OUT_SOFTMAX;
  } else if (!strcmp(c, "SGDClassifier")) {
    if (K == 2 && (lm__pv_str_is(st_get(st, "loss"), "log_loss") || lm__pv_str_is(st_get(st, "loss"), "log")))
      out = OUT_LOGISTIC;
  }
  lm__sk_set_obj(k, out == OUT_LOGISTIC ? "linear-learner:binary_classifier"
             : out == OUT_SOFTMAX ? "linear-learner:multiclass_classifier"
                                  : "reg:squarederror");
  ir->booster = LM_BOOSTER_LINEAR;
  ir->num_outputs = (uint32_t)G;
  float *w = calloc((size_t)(F * G + G), sizeof *w);
  if (!w) {
    free(b);
    return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  }
  rc = LM_OK;
  for (uint64_t g = 0; g < G && !rc; g++) {
    double bias = b[g];
    for (uint64_t f = 0; f < F; f++) {
      double x = lm__nd_get(coef, coef->nd_ndim == 1 ? f : lm__nd_at2(coef, g, f), NULL, 0);
      if (af) bias += x * af->c[f], x *= af->a[f];
      x *= mul;
      if (!(fabs(x) <= FLT_MAX)) {
        rc = SKFAIL(LM_ERANGE, coef, "coef_[%llu, %llu] = %g: not a finite float32", (unsigned long long)g,
                    (unsigned long long)f, x);
        break;
      }
      w[f * G + g] = (float)x;
    }
    bias *= mul;
    if (!rc && !(fabs(bias) <= FLT_MAX))
      rc = SKFAIL(LM_ERANGE, icpt, "intercept_[%llu] = %g: not a finite float32", (unsigned long long)g, bias);
    w[F * G + g] = (float)bias;
  }
  free(b);
  if (rc) {
    free(w);
    return rc;
  }
  ir->linear_weights = w;
  (void)est;
  return LM_OK;
}
