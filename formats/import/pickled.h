/*
 * pickled.h — the importers of pickled models, over the values of the pickle walker
 * (pickle.h): XGBoost's Booster and scikit-learn wrappers (xgboost_pickle.c), LightGBM's
 * Booster and wrappers and the dispatch on the pickle's top-level class (pickled.c),
 * scikit-learn's estimators (sklearn.c). Each takes the walked top-level value and the input's
 * name for messages.
 */
#ifndef LM_FORMATS_IMPORT_PICKLED_H
#define LM_FORMATS_IMPORT_PICKLED_H

#include "formats/import/pickle.h"
#include "formats/ir.h"

/* An xgboost.core.Booster object. */
int lm__xgboost_booster_obj(const lm_pv *booster, const char *name, lm_ir_model **out);
/* A Booster, or an xgboost.sklearn wrapper (XGBClassifier, XGBRegressor, XGBRF*) holding one. */
int lm__pickled_xgboost(const lm_pv *v, const char *name, lm_ir_model **out);
/* lightgbm.basic.Booster, or a lightgbm.sklearn wrapper (LGBMClassifier, LGBMRegressor,
 * LGBMRanker, LGBMModel) holding one. */
int lm__pickled_lightgbm(const lm_pv *v, const char *name, lm_ir_model **out);
/* A scikit-learn estimator (sklearn.c lists which); len: the (decompressed) pickle's size,
 * which bounds the tree nodes made (shared objects cannot multiply memory). */
int lm__pickled_sklearn(const lm_pv *v, const char *name, size_t len, lm_ir_model **out);

/* scikit-learn's trees go left iff float32(x) <= t (t a double): the double t' with
 * x <= t' ⇔ float32(x) <= t for every double x (round to nearest, ties to even). */
double lm__sklearn_f32_boundary(double t);

#endif
