/*
 * pickled.c — lm__import_pickle: a model saved with pickle.dump or joblib.dump (compressed or
 * not), walked without executing anything (pickle.c; joblib.c decompresses), then imported by
 * the class of the pickle's top-level object:
 *
 *   xgboost.core.Booster                      xgboost_pickle.c (its `handle` bytes)
 *   xgboost.sklearn.XGBClassifier, XGBRegressor, XGBRFClassifier, XGBRFRegressor, XGBRanker,
 *   XGBModel                                  the Booster in their `_Booster` attribute
 *   lightgbm.basic.Booster                    the model text in its state: `handle` (LightGBM
 *                                             3.x) or `_handle` (4.x), as Booster.__getstate__
 *                                             writes it (model_to_string), read by
 *                                             lightgbm_txt.c
 *   lightgbm.sklearn.LGBMClassifier, LGBMRegressor, LGBMRanker, LGBMModel
 *                                             the Booster in their `_Booster` attribute
 *   sklearn.*                                 sklearn.c
 *
 * SageMaker's built-in LightGBM and scikit-learn containers, and script-mode jobs, leave such
 * files (model.joblib, model.pkl, inside model.tar.gz). The wrappers' own settings that change
 * predictions are checked: an XGBoost `missing` other than NaN is refused (lmrt reads only NaN
 * as missing); a classifier's class count must agree with the model's outputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/import.h"
#include "formats/import/joblib.h"
#include "formats/import/pickle.h"
#include "formats/import/pickled.h"
#include "base/error.h"

static int is_mod(const lm_pv *v, const char *prefix) {
  size_t pl = strlen(prefix);
  return v && v->kind == LM_PV_OBJ && v->cls && v->cls->kind == LM_PV_GLOBAL &&
         v->cls->len >= pl && memcmp(v->cls->s, prefix, pl) == 0 &&
         (v->cls->len == pl || v->cls->s[pl] == '.');
}

/* A classifier's n_classes_ (or _n_classes) against the model's outputs: binary models have one
 * output (the probability of the second class), K classes K outputs. */
static int check_classes(const lm_pv *st, const char *key, const char *name, const char *cls,
                         const lm_ir_model *ir) {
  const lm_pv *nc = lm__pv_dict_get(st, key);
  if (!nc || nc->kind == LM_PV_NONE) return LM_OK;
  if (nc->kind != LM_PV_INT || nc->i < 1)
    return lm__fail(LM_EFORMAT, "%s: %s state '%s': expected an int >= 1, got %s", name, cls, key,
                    lm__pv_kind_name(nc));
  uint64_t want = nc->i <= 2 ? 1 : (uint64_t)nc->i;
  if (want != ir->num_outputs)
    return lm__fail(LM_EFORMAT, "%s: %s state '%s' = %lld but its model has %u output(s)", name,
                    cls, key, (long long)nc->i, ir->num_outputs);
  return LM_OK;
}

int lm__pickled_xgboost(const lm_pv *v, const char *name, lm_ir_model **out) {
  *out = NULL;
  static const char *const wrappers[] = {"XGBClassifier", "XGBRegressor", "XGBRFClassifier",
                                         "XGBRFRegressor", "XGBRanker", "XGBModel"};
  for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
    if (!lm__pv_obj_is(v, "xgboost.sklearn", wrappers[i])) continue;
    const lm_pv *st = lm__pv_state(v);
    if (!st) return lm__fail(LM_EFORMAT, "%s: pickled %s without a state dict", name, wrappers[i]);
    const lm_pv *b = lm__pv_dict_get(st, "_Booster");
    if (!b || b->kind == LM_PV_NONE)
      return lm__fail(LM_ENOMODEL, "%s: pickled %s without a fitted '_Booster' (not trained?)",
                      name, wrappers[i]);
    const lm_pv *miss = lm__pv_dict_get(st, "missing");
    if (miss && ((miss->kind == LM_PV_FLOAT && !isnan(miss->d)) || miss->kind == LM_PV_INT))
      return lm__fail(LM_EUNSUPPORTED,
                      "%s: %s state 'missing' = %g: XGBoost reads that value as missing, lmrt "
                      "reads only NaN as missing (replace it by NaN in the rows, or retrain "
                      "with missing=nan)",
                      name, wrappers[i], miss->kind == LM_PV_FLOAT ? miss->d : (double)miss->i);
    char nm[600];
    snprintf(nm, sizeof nm, "%s:%s._Booster", name, wrappers[i]);
    int rc = lm__xgboost_booster_obj(b, nm, out);
    if (!rc && strstr(wrappers[i], "Classifier"))
      rc = check_classes(st, "n_classes_", name, wrappers[i], *out);
    if (rc) lm_ir_free(*out), *out = NULL;
    return rc;
  }
  return lm__xgboost_booster_obj(v, name, out);
}

int lm__pickled_lightgbm(const lm_pv *v, const char *name, lm_ir_model **out) {
  *out = NULL;
  static const char *const wrappers[] = {"LGBMClassifier", "LGBMRegressor", "LGBMRanker",
                                         "LGBMModel"};
  const char *wrapper = NULL;
  const lm_pv *wst = NULL;
  char d[160];
  for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
    if (lm__pv_obj_is(v, "lightgbm.sklearn", wrappers[i])) {
      wrapper = wrappers[i];
      if (!(wst = lm__pv_state(v)))
        return lm__fail(LM_EFORMAT, "%s: pickled %s without a state dict", name, wrapper);
      v = lm__pv_dict_get(wst, "_Booster");
      if (!v || v->kind == LM_PV_NONE)
        return lm__fail(LM_ENOMODEL, "%s: pickled %s without a fitted '_Booster' (not trained?)",
                        name, wrapper);
      break;
    }
  if (!lm__pv_obj_is(v, "lightgbm.basic", "Booster"))
    return lm__fail(LM_EFORMAT, "%s: %s%s holds %s, not a LightGBM Booster", name,
                    wrapper ? wrapper : "the pickle", wrapper ? "._Booster" : "",
                    lm__pv_describe(v, d, sizeof d));
  const lm_pv *st = lm__pv_state(v);
  if (!st) return lm__fail(LM_EFORMAT, "%s: pickled LightGBM Booster without a state dict", name);
  const char *key = "_handle";
  const lm_pv *h = lm__pv_dict_get(st, key);
  if (!h) h = lm__pv_dict_get(st, key = "handle");
  if (!h)
    return lm__fail(LM_ENOMODEL, "%s: pickled LightGBM Booster without '_handle' (4.x) or "
                                 "'handle' (3.x) in its state", name);
  if (h->kind == LM_PV_NONE)
    return lm__fail(LM_ENOMODEL, "%s: pickled LightGBM Booster whose %s is None (no model)", name, key);
  if (h->kind != LM_PV_STR && h->kind != LM_PV_BYTES)
    return lm__fail(LM_EFORMAT, "%s: LightGBM Booster state '%s': expected the model text (a str), "
                                "got %s", name, key, lm__pv_kind_name(h));
  char nm[600];
  snprintf(nm, sizeof nm, "%s:%s%s", name, wrapper ? "_Booster." : "", key);
  int rc = lm__import_lightgbm_text(h->s, h->len, nm, out);
  if (rc) return rc;
  snprintf((*out)->source_format, sizeof(*out)->source_format, "lightgbm-pickle");
  /* Booster.predict scores best_iteration iterations by default (sniff.c lm__ir_keep_best) */
  const lm_pv *bi = lm__pv_dict_get(st, "best_iteration");
  if (bi && bi->kind == LM_PV_INT && bi->i > 0) (*out)->best_iteration = bi->i;
  if (wrapper && !strcmp(wrapper, "LGBMClassifier")) {
    rc = check_classes(wst, "_n_classes", name, wrapper, *out);
    if (rc) lm_ir_free(*out), *out = NULL;
  }
  return rc;
}

int lm__import_pickle(const uint8_t *data, size_t len, const char *name, lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  uint8_t *raw = NULL;
  size_t rawn = 0;
  char zname[600];
  const char *comp = lm__joblib_compressor(data, len);
  if (comp) {
    int rc = lm__joblib_decompress(data, len, name, &raw, &rawn);
    if (rc) return rc;
    snprintf(zname, sizeof zname, "%s (%s-decompressed)", name, comp);
    data = raw, len = rawn, name = zname;
  }
  lm_pickle *k = NULL;
  const lm_pv *res = NULL;
  char d[160];
  int rc = lm__pickle_load(data, len, name, &k, &res);
  if (rc) goto done;
  if (is_mod(res, "xgboost"))
    rc = lm__pickled_xgboost(res, name, out);
  else if (is_mod(res, "lightgbm"))
    rc = lm__pickled_lightgbm(res, name, out);
  else if (is_mod(res, "sklearn"))
    rc = lm__pickled_sklearn(res, name, len, out);
  else
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: the pickle holds %s: not a model lmconvert reads (an XGBoost or LightGBM "
                  "Booster, their scikit-learn wrappers, or a scikit-learn estimator)",
                  name, lm__pv_describe(res, d, sizeof d));
done:
  lm__pickle_free(k);
  free(raw);
  return rc;
}
