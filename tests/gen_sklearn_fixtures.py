#!/usr/bin/python3
"""Generate tests/fixtures/sklearn/: pickled and joblib-dumped models with the rows they are
scored on and what their trainer predicts for them (tests/test_pickle.c compares lmrt with it).

Run with Debian's /usr/bin/python3 (python3-sklearn 1.2.1, python3-xgboost 1.7.4,
python3-joblib 1.2.0, python3-lz4): `make fixtures`. Deterministic data and seeds; the
pickles themselves depend on the library versions.

Each case is a directory: the model file (model.pkl / model.joblib[.z|.gz|.bz2|.xz|.lzma|.lz4]),
input.csv (float64 rows, 'nan' = missing), expected.csv (the values lmrt must give: see each
case's `what` in MANIFEST.json), and, for tree models, leaves.csv (sklearn's apply(): the leaf
node id reached in each tree, the decisions lmrt must make exactly).

LightGBM is not in Debian: its pickles are built with stand-in classes of the same module
(lightgbm.basic, lightgbm.sklearn, lightgbm.compat), class name and state as LightGBM's own
Booster.__getstate__ (LightGBM 3.x: the model text under `handle`; 4.x: under `_handle`) and
its scikit-learn wrappers (their __dict__, the Booster under `_Booster`) lay them out — read
from LightGBM's python-package, not copied — around real model texts of
tests/fixtures/lightgbm/real/. They must score exactly as those texts do.
"""
import os

# one BLAS thread: sums in a fixed order, so that regenerating gives the same bytes
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import json
import pickle
import sys
import types
import warnings

import joblib
import numpy as np

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "sklearn")
MANIFEST = {}


def write_csv(path, a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    with open(path, "w") as f:
        for row in a:
            f.write(",".join("nan" if np.isnan(v) else repr(float(v)) for v in row) + "\n")


def case(name, model, X, expected, what, fmt="joblib", compress=0, protocol=None, leaves=None,
         obj=None, scale=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    obj = model if obj is None else obj
    if fmt == "pickle":
        fn = "model.pkl"
        with open(os.path.join(d, fn), "wb") as f:
            pickle.dump(obj, f, protocol=protocol if protocol is not None else 4)
    else:
        ext = {0: "", "zlib": ".z", "gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "lzma": ".lzma",
               "lz4": ".lz4"}[compress if isinstance(compress, str) else 0]
        fn = "model.joblib" + ext
        comp = (compress, 3) if isinstance(compress, str) else compress
        joblib.dump(obj, os.path.join(d, fn), compress=comp,
                    protocol=protocol if protocol is not None else None)
    write_csv(os.path.join(d, "input.csv"), X)
    if expected is not None:
        write_csv(os.path.join(d, "expected.csv"), expected)
    if leaves is not None:
        write_csv(os.path.join(d, "leaves.csv"), leaves)
    if scale is not None:
        write_csv(os.path.join(d, "scale.csv"), scale)
    MANIFEST[name] = {"file": fn, "what": what, "rows": int(len(X))}


def data(n=60, f=6, seed=0, nan=False):
    r = np.random.RandomState(seed)
    X = r.normal(size=(n, f)) * np.array([1, 10, 0.1, 100, 1, 3])[:f]
    X[:, 1] = np.round(X[:, 1])          # ties with thresholds
    if nan:
        m = r.rand(n, f) < 0.08
        X[m] = np.nan
    return X


def rows(X, seed=1):
    """Scoring rows: training rows, values equal to thresholds and values between float32s."""
    r = np.random.RandomState(seed)
    extra = X[r.randint(0, len(X), 20)] + r.normal(size=(20, X.shape[1])) * 1e-7
    return np.vstack([X[:40], extra])


# ---- XGBoost's scikit-learn wrappers (python3-xgboost 1.7.4) -------------------------------
def gen_xgboost():
    import xgboost as xgb
    X = data(nan=True)
    y2 = (np.nan_to_num(X[:, 0]) + 0.1 * np.nan_to_num(X[:, 1]) > 0).astype(int)
    y3 = np.digitize(np.nan_to_num(X[:, 0]), [-0.5, 0.5])
    yr = np.nan_to_num(X[:, 0]) * 3 + np.nan_to_num(X[:, 3]) * 0.01
    R = rows(X)
    c2 = xgb.XGBClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X, y2)
    c3 = xgb.XGBClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y3)
    rg = xgb.XGBRegressor(n_estimators=8, max_depth=3, random_state=0).fit(X, yr)
    p2 = c2.predict_proba(R)[:, 1]
    what2 = "predict_proba[:, 1]"
    case("xgb_clf_p4", c2, R, p2, what2, fmt="pickle", protocol=4)
    case("xgb_clf_p0", c2, R, p2, what2, fmt="pickle", protocol=0)
    case("xgb_clf_p1", c2, R, p2, what2, fmt="pickle", protocol=1)
    case("xgb_clf_p2", c2, R, p2, what2, fmt="pickle", protocol=2)
    case("xgb_clf_p5", c2, R, p2, what2, fmt="pickle", protocol=5)
    for comp in [0, "zlib", "gzip", "bz2", "xz", "lzma", "lz4"]:
        case("xgb_clf_joblib_%s" % (comp or "raw"), c2, R, p2, what2, compress=comp)
    case("xgb_multi_joblib", c3, R, c3.predict_proba(R), "predict_proba")
    case("xgb_reg_joblib", rg, R, rg.predict(R), "predict")


# ---- LightGBM stand-ins ---------------------------------------------------------------------
def lightgbm_modules():
    """Modules lightgbm, lightgbm.basic, lightgbm.sklearn, lightgbm.compat holding classes with
    LightGBM's names whose pickled state is laid out as LightGBM's."""
    pkg = types.ModuleType("lightgbm")
    basic = types.ModuleType("lightgbm.basic")
    skl = types.ModuleType("lightgbm.sklearn")
    compat = types.ModuleType("lightgbm.compat")
    for m in (pkg, basic, skl, compat):
        sys.modules[m.__name__] = m

    class Booster:
        def __getstate__(self):
            return dict(self.__dict__)
    Booster.__module__ = "lightgbm.basic"
    Booster.__qualname__ = "Booster"
    basic.Booster = Booster

    class _LGBMLabelEncoder:
        pass
    _LGBMLabelEncoder.__module__ = "lightgbm.compat"
    _LGBMLabelEncoder.__qualname__ = "_LGBMLabelEncoder"
    compat._LGBMLabelEncoder = _LGBMLabelEncoder

    wrappers = {}
    for nm in ("LGBMClassifier", "LGBMRegressor"):
        c = type(nm, (), {})
        c.__module__ = "lightgbm.sklearn"
        c.__qualname__ = nm
        setattr(skl, nm, c)
        wrappers[nm] = c
    return Booster, _LGBMLabelEncoder, wrappers


def lgb_booster(Booster, text, v4, num_class):
    b = Booster.__new__(Booster)
    # Booster.__dict__ after training, as __getstate__ returns it: train_set/valid_sets popped,
    # the handle replaced by model_to_string(num_iteration=-1)
    st = {("_handle" if v4 else "handle"): text,
          ("_network" if v4 else "network"): False,
          "_Booster__need_reload_eval_info": True,
          "_train_data_name": "training",
          "_Booster__set_objective_to_none": False,
          "best_iteration": 0 if not v4 else -1,
          "best_score": {},
          "_Booster__num_dataset": 0,
          "_Booster__inner_predict_buffer": [None],
          "_Booster__is_predicted_cur_iter": [False],
          "_Booster__num_class": num_class,
          "_Booster__attr": {},
          "_Booster__num_inner_eval": 0,
          "_Booster__name_inner_eval": None,
          "_Booster__higher_better_inner_eval": None,
          "pandas_categorical": None,
          "params": {"objective": "binary" if num_class == 1 else "regression", "verbose": -1}}
    b.__dict__.update(st)
    return b


def gen_lightgbm():
    Booster, LE, W = lightgbm_modules()
    real = os.path.join(HERE, "fixtures", "lightgbm", "real")
    for src, kind in (("jpmml_binary_audit", "clf"), ("jpmml_regression_housing", "reg")):
        text = open(os.path.join(real, src, "model.txt")).read()
        X = np.loadtxt(os.path.join(real, src, "input.csv"), delimiter=",")[:60]
        exp = np.loadtxt(os.path.join(real, src, "expected_value.csv"), delimiter=",")[:60]
        what = "the text model's expected_value.csv (%s)" % src
        for v4 in (False, True):
            b = lgb_booster(Booster, text, v4, 1)
            tag = "v4" if v4 else "v3"
            case("lgbm_booster_%s_%s" % (kind, tag), None, X, exp, what, obj=b, compress="zlib")
        if kind == "reg":
            # early stopping: best_iteration 10 — Booster.predict scores 10 iterations
            b = lgb_booster(Booster, text, True, 1)
            b.__dict__["best_iteration"] = 10
            case("lgbm_booster_best10", None, X[:5], None, "10 of the text's iterations", obj=b,
                 compress="lz4")
        w = W["LGBMClassifier" if kind == "clf" else "LGBMRegressor"].__new__(
            W["LGBMClassifier" if kind == "clf" else "LGBMRegressor"])
        params = dict(boosting_type="gbdt", objective=None, num_leaves=31, max_depth=-1,
                      learning_rate=0.1, n_estimators=100, subsample_for_bin=200000,
                      min_split_gain=0.0, min_child_weight=0.001, min_child_samples=20,
                      subsample=1.0, subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0,
                      reg_lambda=0.0, random_state=None, n_jobs=None, importance_type="split",
                      class_weight=None)
        w.__dict__.update(params)
        w.__dict__.update(_Booster=lgb_booster(Booster, text, True, 1), _evals_result={},
                          _best_score={}, _best_iteration=-1, _other_params={},
                          _objective="binary" if kind == "clf" else "regression",
                          _class_weight=None, _class_map=None, _n_features=X.shape[1],
                          _n_features_in=X.shape[1], fitted_=True)
        if kind == "clf":
            le = LE.__new__(LE)
            le.__dict__["classes_"] = np.array([0, 1])
            w.__dict__.update(_le=le, _classes=np.array([0, 1]), _n_classes=2)
        case("lgbm_%s_joblib" % ("classifier" if kind == "clf" else "regressor"), None, X, exp,
             what, obj=w)


# ---- a pickle that would run a command ------------------------------------------------------
class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/lmrt_pickle_was_executed",))


def gen_evil():
    d = os.path.join(OUT, "evil")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.pkl"), "wb") as f:
        pickle.dump({"model": Evil()}, f, protocol=4)
    MANIFEST["evil"] = {"file": "model.pkl", "what": "must be refused: os.system (posix.system)",
                        "rows": 0}


def main():
    os.makedirs(OUT, exist_ok=True)
    gen_xgboost()
    gen_lightgbm()
    gen_evil()
    if "--no-sklearn" not in sys.argv:
        import gen_sklearn_estimators
        gen_sklearn_estimators.generate(case, data, rows)
        gen_sklearn_estimators.generate_bad(OUT)
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
