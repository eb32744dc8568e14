#!/usr/bin/python3
"""gen_models.py — the benchmark models and rows, generated deterministically (nothing large is
committed).

Run with Debian's /usr/bin/python3 (xgboost 1.7.4, numpy):

    /usr/bin/python3 bench/gen_models.py [--out build/bench/models] [--set core|ci|zoo]
                                         [--only NAMES] [--stamp FILE] [--force]

Two families of models:

core   the original nine (small, large, deep, multi5, dart, linear-*): `hist` with max_bin 64,
       the shapes of shared/reference/anchors.md. bench-ci's callgrind baseline and bench-check's
       committed baseline use them; they are trained exactly as before (byte-identical JSON).
zoo    models trained as users train them (ZOO below): XGBoost with the default tree_method
       (auto = exact on this data), approx, hist with 256 bins; 30 to 600 features; depths
       4-12; 100-2,000 trees; binary, regression, 5- and 10-class softprob; categorical splits
       (1.7 enable_categorical, hist); LightGBM: the eight real models of
       tests/fixtures/lightgbm/real/ and LightGBM-shaped models generated as LightGBM text
       (an XGBoost model grown leaf-wise like LightGBM — lossguide, 31 or 255 leaves, 255 bins,
       learning rate 0.1 — converted tree by tree to LightGBM's text format). Every LightGBM
       model has an XGBoost "twin" of the same shape (<name>.xgb.json) that bench/lmbench's
       xgboost engine scores instead: for a converted model, the very XGBoost model it came
       from (same trees, same decisions); for a real one, an XGBoost model grown leaf-wise with
       the same features, trees and leaves per tree, trained on that fixture's rows.
--set core trains the core models, --set ci the core models plus the zoo models bench-ci
counts (CI_ZOO), --set zoo everything. Each model is retrained only when its recipe (its spec
and the source of the functions that train it, and xgboost's version) changed: <name>.meta.json
keeps the recipe's hash.

Writes, into --out:
  <name>.json | <name>.txt    the model as users ship it: XGBoost JSON (Booster.save_model) or
                              LightGBM text
  <name>.xgb.json             LightGBM models: the XGBoost twin
  <name>.meta.json            recipe hash, training time, the manifest line's fields
  rows-f<F>.f32, rows-<name>.f32
                              benchmark rows: raw little-endian float32, row-major; 5% NaN,
                              drawn from the training distribution with another seed (per
                              feature count F), or for the real LightGBM models resampled from
                              the fixture's own rows (the rows from its origin repository)
  models.tsv                  the manifest the harnesses read, one line per model whose files
                              are current (header first; readers look columns up by name):
      name kind booster objective features outputs trees max_depth rows_file pool_rows
      (the original ten columns, same order) then
      source       the file lmrt converts (<name>.json or <name>.txt)
      xgb_model    the file XGBoost's engine loads (<name>.json, or the twin <name>.xgb.json;
                   "-" if none)
      xgb_trees    trees of that XGBoost model (ratios of LightGBM models are per tree·row)
      max_batch    largest batch benchmarked (zoo: 10,000 rows; core: 100,000)
      thr_max thr_median thr_features
                   distinct numeric split thresholds per feature: the largest count, the median
                   count over the features that have numeric splits, and how many features do
      cat_splits   categorical splits
      leaves_mean  mean leaves per tree
      xgb_depth xgb_leaves_mean
                   the XGBoost model's depth and mean leaves per tree (a LightGBM model's twin)
      group        core or zoo
      trainer      how it was trained (a short text: tree_method, bins, learning rate, ...)
      parity       what bench/lmbench compares lmrt's values with at start-up: xgboost (the
                   same trees) or scalar (lmrt's scalar reference: a real LightGBM model's twin
                   computes something else)
  .stamp-<set>                --stamp: written once the set is current (for make)

Every XGBoost model: seed 0, nthread 2, labels from a fixed nonlinear function of the features
plus noise. Core trees: tree_method hist (deterministic for a fixed nthread) with max_bin 64;
"large" and "deep" lower min_child_weight so that late trees still grow to full depth once the
training rows are fitted: rows visit ~600 nodes in "small" and ~4,000 in "large", as in
shared/reference/anchors.md. gblinear uses the coord_descent updater (the default, shotgun, is
not deterministic). Zoo trees keep XGBoost's defaults (learning rate 0.3, min_child_weight 1,
max_depth 6 unless the shape says otherwise); models of 1,000 trees or more use learning rate
0.05, as people who train that many trees do.
"""
import argparse
import hashlib
import inspect
import json
import os
import statistics
import struct
import sys
import time

# Passive OpenMP waiting: on a busy 2-core machine spinning threads of nthread=2 fight for the
# CPUs (training took 5-40x longer); results do not depend on it.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import gen_lightgbm_fixtures as lgbfix  # noqa: E402  (LightGBM text writer of the tests)
import lgbm_reference as lgbref  # noqa: E402
import gen_fm_fixtures as fmfix  # noqa: E402  (the Factorization Machines artifact writer)

LGBM_REAL = os.path.join(ROOT, "tests", "fixtures", "lightgbm", "real")

MISSING = 0.05          # fraction of NaN in training data and benchmark rows
POOL_FLOATS = 10_000_000  # a row pool holds min(100,000, POOL_FLOATS / F) rows (≤ 40 MB)
POOL_ROWS_MAX = 100_000
ZOO_MAX_BATCH = 10_000    # zoo models are benchmarked up to 10k-row batches (bench time)

# Core: name: (booster, objective, features, classes, rounds, depth, train_rows, extra params)
MODELS = {
    "small":         ("gbtree",   "binary:logistic", 30,   1, 100, 6,  10_000, {}),
    "large":         ("gbtree",   "binary:logistic", 100,  1, 500, 8,  10_000,
                      {"min_child_weight": 0.01}),
    "deep":          ("gbtree",   "binary:logistic", 50,   1, 100, 12, 10_000,
                      {"min_child_weight": 0.0}),
    "multi5":        ("gbtree",   "multi:softprob",  30,   5, 50,  6,  10_000, {}),
    "dart":          ("dart",     "binary:logistic", 30,   1, 100, 6,  10_000,
                      {"rate_drop": 0.1, "skip_drop": 0.5}),
    "linear-50":     ("gblinear", "binary:logistic", 50,   1, 20,  0,  5_000, {}),
    "linear-200":    ("gblinear", "binary:logistic", 200,  1, 20,  0,  5_000, {}),
    "linear-1000":   ("gblinear", "binary:logistic", 1000, 1, 10,  0,  5_000, {}),
    "linear-multi5": ("gblinear", "multi:softprob",  200,  5, 10,  0,  5_000, {}),
}

# The zoo. XGBoost entries: trainer (tree_method as passed; None = XGBoost's default, which
# is exact for data this size), objective, features, classes, rounds, max_depth (None = the
# default 6), training rows, extra params. "cat": that many of the features are categorical.
# LightGBM entries ("lgbm-conv"): an XGBoost model grown leaf-wise (hist, 255 bins,
# lossguide, max_leaves, learning rate 0.1 — LightGBM's defaults) converted to LightGBM text.
# "lgbm-real": a fixture of tests/fixtures/lightgbm/real/.
ZOO = {
    "exact-bin30":     dict(tm=None, obj="binary:logistic", f=30, k=1, rounds=150, depth=None,
                            n=8_000),
    "exact-reg30-d8":  dict(tm=None, obj="reg:squarederror", f=30, k=1, rounds=150, depth=8,
                            n=10_000),
    "exact-bin500":    dict(tm=None, obj="binary:logistic", f=500, k=1, rounds=100, depth=None,
                            n=2_500),
    "exact-deep12":    dict(tm=None, obj="binary:logistic", f=40, k=1, rounds=100, depth=12,
                            n=6_000),
    "exact-multi5":    dict(tm=None, obj="multi:softprob", f=30, k=5, rounds=40, depth=None,
                            n=6_000),
    "approx-bin60":    dict(tm="approx", obj="binary:logistic", f=60, k=1, rounds=100, depth=8,
                            n=8_000),
    "hist256-bin100":  dict(tm="hist", obj="binary:logistic", f=100, k=1, rounds=500, depth=8,
                            n=10_000),
    "hist256-reg2000": dict(tm="hist", obj="reg:squarederror", f=60, k=1, rounds=2000,
                            depth=4, n=10_000, extra={"eta": 0.05}),
    "hist256-multi10": dict(tm="hist", obj="multi:softprob", f=50, k=10, rounds=60,
                            depth=None, n=10_000),
    "hist256-bin600":  dict(tm="hist", obj="binary:logistic", f=600, k=1, rounds=100,
                            depth=None, n=5_000),
    "cat-hist":        dict(tm="hist", obj="binary:logistic", f=40, k=1, rounds=200,
                            depth=None, n=10_000, cat=10),
    "lgb-bin100":      dict(kind="lgbm-conv", obj="binary:logistic", f=100, k=1, rounds=300,
                            leaves=31, n=10_000),
    "lgb-reg255":      dict(kind="lgbm-conv", obj="reg:squarederror", f=50, k=1, rounds=100,
                            leaves=255, n=10_000),
    "lgb-multi5":      dict(kind="lgbm-conv", obj="multi:softprob", f=40, k=5, rounds=60,
                            leaves=31, n=10_000),
}
# SageMaker Factorization Machines ("fm"): synthetic model.tar.gz artifacts written by the
# tests' generator (tests/gen_fm_fixtures.py: no real artifact was available), random weights,
# k factors over f features; benchmarked on the zoo's dense rows (5% missing). No XGBoost
# counterpart: lmrt is checked against its scalar reference.
for _k in (8, 32, 64):
    ZOO["fm-bin-k%d" % _k] = dict(kind="fm", pred="binary_classifier", f=100, factors=_k)
ZOO["fm-reg-k32"] = dict(kind="fm", pred="regressor", f=100, factors=32)
# Linear Learner-shaped linear models ("ll", issue 17's hand-written vs OpenBLAS table): the
# shapes and links SageMaker Linear Learner produces (binary_classifier: sigmoid, regressor:
# identity, multiclass_classifier: softmax over many classes, wide feature counts), written as
# XGBoost gblinear JSON with random weights so that XGBoost's C API scores the very same model
# (lmrt reads Linear Learner's MXNet artifacts into the same linear section and kernels). Rows
# are dense (no missing value: Linear Learner accepts none, and the OpenBLAS kernel rescores a
# row holding a NaN with the reference).
for _n, _obj, _f, _k in (("ll-bin-200", "binary:logistic", 200, 1),
                         ("ll-reg-1000", "reg:squarederror", 1000, 1),
                         ("ll-multi10-200", "multi:softprob", 200, 10),
                         ("ll-multi32-500", "multi:softprob", 500, 32),
                         ("ll-multi64-300", "multi:softprob", 300, 64),
                         ("ll-multi100-1000", "multi:softprob", 1000, 100)):
    ZOO[_n] = dict(kind="ll", obj=_obj, f=_f, k=_k)
for _d in sorted(os.listdir(LGBM_REAL)) if os.path.isdir(LGBM_REAL) else []:
    if os.path.isfile(os.path.join(LGBM_REAL, _d, "model.txt")):
        ZOO["lgbr-" + _d] = dict(kind="lgbm-real", fixture=_d)

# The zoo models bench-ci counts (trained by `--set ci`; cheap to train).
CI_ZOO = ["exact-bin30", "cat-hist", "lgb-multi5", "lgbr-jpmml_binary_audit"]


# --------------------------------------------------------------------------------------------
# Data.

def features(rng, n, f):
    """n rows of f float32 features: a mix of normal and uniform columns, then 5% NaN."""
    x = np.empty((n, f), dtype=np.float32)
    half = f // 2
    x[:, :half] = rng.standard_normal((n, half), dtype=np.float32)
    x[:, half:] = rng.random((n, f - half), dtype=np.float32) * 4.0 - 2.0
    return x


def with_missing(rng, x):
    x = x.copy()
    x[rng.random(x.shape) < MISSING] = np.nan
    return x


def labels(rng, x, classes):
    """A fixed nonlinear score of (at most) the first 20 features, plus noise."""
    z = np.nan_to_num(x[:, :20].astype(np.float64))
    k = z.shape[1]
    w = np.linspace(1.0, 0.2, k)
    s = z @ w
    s += 1.5 * np.sin(2.0 * z[:, 0] * z[:, 1 % k]) + z[:, 2 % k] * z[:, 3 % k]
    s += 0.8 * np.abs(z[:, 4 % k]) - 0.5 * z[:, 5 % k] ** 2
    s += rng.standard_normal(len(s)) * 1.0
    if classes == 1:
        return (s > np.median(s)).astype(np.float32)
    edges = np.quantile(s, np.linspace(0, 1, classes + 1)[1:-1])
    return np.searchsorted(edges, s).astype(np.float32)


def zoo_labels(rng, x, obj, classes, cat_cols=0):
    """Labels for a zoo model: the core score (on standardised columns), plus per-category
    effects of the categorical columns (the last cat_cols), shaped for the objective."""
    xf = x.astype(np.float64)
    mu, sd = np.nanmean(xf, axis=0), np.nanstd(xf, axis=0)
    z = np.nan_to_num((xf - mu) / np.where(sd > 0, sd, 1.0))
    s = z[:, :20] @ np.linspace(1.0, 0.2, min(20, z.shape[1]))
    k = z.shape[1]
    s += 1.5 * np.sin(2.0 * z[:, 0] * z[:, 1 % k]) + z[:, 2 % k] * z[:, 3 % k]
    s += 0.8 * np.abs(z[:, 4 % k]) - 0.5 * z[:, 5 % k] ** 2
    for j in range(x.shape[1] - cat_cols, x.shape[1]) if cat_cols else []:
        codes = np.nan_to_num(x[:, j], nan=0).astype(np.int64)
        eff = rng.standard_normal(int(codes.max()) + 1)
        s += 0.8 * eff[codes]
    s += rng.standard_normal(len(s)) * 1.0
    if obj.startswith("binary:"):
        return (s > np.median(s)).astype(np.float32)
    if obj.startswith("multi:"):
        edges = np.quantile(s, np.linspace(0, 1, classes + 1)[1:-1])
        return np.searchsorted(edges, s).astype(np.float32)
    if obj in ("count:poisson", "reg:tweedie"):
        return rng.poisson(np.exp(np.clip(s / (2 * s.std()), -3, 3))).astype(np.float32)
    return s.astype(np.float32)


CAT_SIZES = [3, 5, 8, 12, 16, 24, 32, 48, 64, 100]


def cat_features(rng, n, f, cat_cols):
    """features(), the last cat_cols columns replaced by category codes 0..c-1 (skewed)."""
    x = features(rng, n, f)
    for i, j in enumerate(range(f - cat_cols, f)):
        c = CAT_SIZES[i % len(CAT_SIZES)]
        p = 1.0 / np.arange(1, c + 1)
        x[:, j] = rng.choice(c, size=n, p=p / p.sum()).astype(np.float32)
    return x


# --------------------------------------------------------------------------------------------
# Training.

def seed_of(name):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def train(name, spec):
    booster, objective, f, classes, rounds, depth, n, extra = spec
    rng = np.random.default_rng(seed_of(name))
    x = features(rng, n, f)
    y = labels(rng, x, classes)
    x = with_missing(rng, x)
    params = {"booster": booster, "objective": objective, "nthread": 2, "seed": 0}
    if booster == "gblinear":
        params.update({"updater": "coord_descent", "eta": 0.5})
    else:
        params.update({"tree_method": "hist", "max_bin": 64, "max_depth": depth, "eta": 0.1})
    if classes > 1:
        params["num_class"] = classes
    params.update(extra)
    bst = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), rounds)
    return bst


def zoo_params(z):
    p = {"objective": z["obj"], "nthread": 2, "seed": 0}
    if z.get("tm"):
        p["tree_method"] = z["tm"]
    if z.get("depth") is not None:
        p["max_depth"] = z["depth"]
    if z["k"] > 1:
        p["num_class"] = z["k"]
    p.update(z.get("extra", {}))
    return p


def train_zoo_xgb(name, z):
    """A zoo XGBoost model trained with the trainer's defaults but for the spec's settings."""
    rng = np.random.default_rng(seed_of(name))
    cat = z.get("cat", 0)
    x = cat_features(rng, z["n"], z["f"], cat) if cat else features(rng, z["n"], z["f"])
    y = zoo_labels(rng, x, z["obj"], z["k"], cat)
    x = with_missing(rng, x)
    params = zoo_params(z)
    if cat:
        ft = ["q"] * (z["f"] - cat) + ["c"] * cat
        dm = xgb.DMatrix(x, label=y, missing=np.nan, feature_types=ft, enable_categorical=True)
    else:
        dm = xgb.DMatrix(x, label=y, missing=np.nan)
    return xgb.train(params, dm, z["rounds"]), params


def lgbm_like_params(obj, k, leaves):
    """XGBoost grown as LightGBM grows trees by default: leaf-wise up to num_leaves, 255 bins,
    learning rate 0.1, min_sum_hessian_in_leaf 1e-3."""
    p = {"objective": obj, "nthread": 2, "seed": 0, "tree_method": "hist", "max_bin": 255,
         "grow_policy": "lossguide", "max_leaves": leaves, "max_depth": 0, "eta": 0.1,
         "min_child_weight": 1e-3}
    if k > 1:
        p["num_class"] = k
    return p


def train_lgbm_conv(name, z):
    rng = np.random.default_rng(seed_of(name))
    x = features(rng, z["n"], z["f"])
    y = zoo_labels(rng, x, z["obj"], z["k"])
    x = with_missing(rng, x)
    params = lgbm_like_params(z["obj"], z["k"], z["leaves"])
    return xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), z["rounds"]), params


LGBM_TO_XGB_OBJ = {"binary": "binary:logistic", "regression": "reg:squarederror",
                   "multiclass": "multi:softprob", "poisson": "count:poisson",
                   "tweedie": "reg:tweedie"}


def real_fixture(z):
    d = os.path.join(LGBM_REAL, z["fixture"])
    with open(os.path.join(d, "model.txt")) as fh:
        text = fh.read()
    with open(os.path.join(d, "meta.json")) as fh:
        meta = json.load(fh)
    return d, text, lgbref.Model(text), meta


def real_pool(name, z):
    """real_rows() resampled (with replacement) to a benchmark pool of 20,000 rows."""
    x, model = real_rows(z)
    rng = np.random.default_rng(seed_of(name) + 1)
    return x[rng.integers(0, len(x), 20_000)], model


def real_rows(z):
    """The fixture's rows from its origin repository (not its synthetic edge rows); values
    that are not finite float32 become NaN."""
    d, _, model, meta = real_fixture(z)
    rows = lgbref.read_rows(os.path.join(d, "input.csv"))[:meta.get("rows_from_repo", 10**9)]
    x = np.array(rows, dtype=np.float64)
    x[~np.isfinite(x) | (np.abs(x) > 3e38)] = np.nan
    return x.astype(np.float32), model


def train_lgbm_twin(name, z):
    """The XGBoost twin of a real LightGBM model: same features, trees (rounds × classes) and
    (at most) leaves per tree, grown leaf-wise on the fixture's rows."""
    x, model = real_rows(z)
    obj = LGBM_TO_XGB_OBJ.get(model.objective[0], "reg:squarederror")
    rng = np.random.default_rng(seed_of(name))
    y = zoo_labels(rng, x, obj, model.num_class)
    leaves = max(t.num_leaves for t in model.trees)
    params = lgbm_like_params(obj, model.num_class, leaves)
    return xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), model.n_iter), params


# --------------------------------------------------------------------------------------------
# XGBoost JSON → LightGBM text (the LightGBM-shaped zoo models).

def f32_below(t):
    """The largest float32 strictly below float32 t: for a float32 x, x < t ⇔ x <= it."""
    b = struct.unpack("<I", struct.pack("<f", t))[0]
    if t > 0:
        b -= 1
    elif t < 0:
        b += 1
    else:
        return -struct.unpack("<f", struct.pack("<I", 1))[0]
    return struct.unpack("<f", struct.pack("<I", b))[0]


def xgb_trees(model_json):
    gb = model_json["learner"]["gradient_booster"]
    m = gb["model"] if "model" in gb else gb["gbtree"]["model"]
    return m["trees"], m.get("tree_info", [0] * len(m["trees"]))


def base_margin(model_json):
    lp = model_json["learner"]["learner_model_param"]
    base = float(lp["base_score"])
    obj = model_json["learner"]["objective"]["name"]
    if obj in ("binary:logistic", "reg:logistic"):
        return float(np.log(base / (1.0 - base)))
    if obj in ("count:poisson", "reg:tweedie", "reg:gamma"):
        return float(np.log(base))
    return base


def to_lightgbm_text(model_json, num_features):
    """LightGBM text of an XGBoost numeric gbtree model, decision for decision: XGBoost goes
    left iff x < t (float32), missing to default_left; LightGBM goes left iff x <= threshold
    (double) with missing type NaN and the default_left bit. The threshold written is the
    largest float32 below t, so float32 rows take the same paths in both. Tree i goes to
    output i % K in both. XGBoost's base margin is added to the leaves of each output's first
    tree (LightGBM has none)."""
    trees, info = xgb_trees(model_json)
    K = int(model_json["learner"]["learner_model_param"]["num_class"]) or 1
    base = base_margin(model_json)
    out = []
    for i, t in enumerate(trees):
        L, R = t["left_children"], t["right_children"]
        feat, cond, dl = t["split_indices"], t["split_conditions"], t["default_left"]
        add = base if i < K else 0.0
        if L[0] == -1:
            out.append(lgbfix.Tree(float(np.float32(cond[0])) + add))
            continue
        lt = lgbfix.Tree(0.0)
        queue = [(0, 0)]  # (xgb node, lgb leaf it currently is)
        while queue:
            node, leaf = queue.pop(0)
            if L[node] == -1:
                lt.leaf_value[leaf] = float(np.float32(cond[node])) + add
                continue
            dtype = 8 | (2 if dl[node] else 0)
            thr = f32_below(float(np.float32(cond[node])))
            a, b = lt.split(leaf, int(feat[node]), thr, dtype, 0.0, 0.0)
            queue.append((L[node], a))
            queue.append((R[node], b))
        out.append(lt)
    obj = model_json["learner"]["objective"]["name"]
    lobj = {"binary:logistic": "binary sigmoid:1", "reg:squarederror": "regression",
            "multi:softprob": "multiclass num_class:%d" % K}[obj]
    return lgbfix.model_text(out, num_features, lobj, K)


# --------------------------------------------------------------------------------------------
# Shape statistics.

def depth_of(left, right, node=0):
    if left[node] < 0 and right[node] < 0:
        return 0
    stack, best = [(node, 0)], 0
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        for c in (left[n], right[n]):
            if c >= 0:
                stack.append((c, d + 1))
    return best


def threshold_stats(per_feature):
    counts = [len(s) for s in per_feature.values() if s]
    if not counts:
        return 0, 0, 0
    return max(counts), int(statistics.median(counts)), len(counts)


def stats_xgb(path):
    """trees, max depth, mean leaves, distinct thresholds (max, median, features), categorical
    splits — from the saved XGBoost JSON."""
    with open(path) as fh:
        mj = json.load(fh)
    gb = mj["learner"]["gradient_booster"]
    if gb["name"] == "gblinear":
        return dict(trees=0, depth=0, leaves_mean=0, thr_max=0, thr_median=0, thr_features=0,
                    cat_splits=0)
    trees, _ = xgb_trees(mj)
    per, depth, leaves, cats = {}, 0, 0, 0
    for t in trees:
        L, R = t["left_children"], t["right_children"]
        st = t.get("split_type", [0] * len(L))
        for i in range(len(L)):
            if L[i] == -1:
                leaves += 1
            elif st[i] == 1:
                cats += 1
            else:
                per.setdefault(t["split_indices"][i], set()).add(t["split_conditions"][i])
        depth = max(depth, depth_of(L, R))
    mx, md, nf = threshold_stats(per)
    return dict(trees=len(trees), depth=depth, leaves_mean=round(leaves / max(1, len(trees)), 1),
                thr_max=mx, thr_median=md, thr_features=nf, cat_splits=cats)


def stats_lgbm(path):
    with open(path) as fh:
        m = lgbref.Model(fh.read())
    per, depth, leaves, cats = {}, 0, 0, 0
    for t in m.trees:
        leaves += t.num_leaves
        if t.num_leaves <= 1:
            continue
        for i, f in enumerate(t.split_feature):
            if t.decision_type[i] & 1:
                cats += 1
            else:
                per.setdefault(f, set()).add(t.threshold[i])
        # LightGBM: children >= 0 are internal nodes, < 0 leaves
        left = [c for c in t.left]
        right = [c for c in t.right]
        stack, best = [(0, 1)], 1
        while stack:
            n, d = stack.pop()
            best = max(best, d)
            for c in (left[n], right[n]):
                if c >= 0:
                    stack.append((c, d + 1))
        depth = max(depth, best)
    mx, md, nf = threshold_stats(per)
    return dict(trees=len(m.trees), depth=depth, leaves_mean=round(leaves / max(1, len(m.trees)), 1),
                thr_max=mx, thr_median=md, thr_features=nf, cat_splits=cats,
                features=m.num_features, outputs=m.num_class,
                objective=" ".join(m.objective))


# --------------------------------------------------------------------------------------------
# Rows.

def pool_rows(f):
    return min(POOL_ROWS_MAX, POOL_FLOATS // f)


def write_f32(path, x):
    tmp = path + ".tmp"
    np.ascontiguousarray(x, dtype="<f4").tofile(tmp)
    os.replace(tmp, path)


def write_rows(path, f):
    rng = np.random.default_rng(1000 + f)
    write_f32(path, with_missing(rng, features(rng, pool_rows(f), f)))


def write_dense_rows(path, f):
    """The rows of the "ll" models: write_rows' distribution without missing values."""
    rng = np.random.default_rng(2000 + f)
    write_f32(path, features(rng, pool_rows(f), f))


def make_ll(name, z):
    """A gblinear model of the spec's shape with random weights (a one-round fit gives XGBoost's
    JSON layout: weights[f * G + g], the G biases last)."""
    rng = np.random.default_rng(seed_of(name))
    f, k = z["f"], z["k"]
    x = features(rng, max(64, 2 * k), f)
    y = (np.arange(len(x)) % k).astype(np.float32) if k > 1 else \
        (rng.random(len(x)) < 0.5).astype(np.float32)
    params = {"booster": "gblinear", "objective": z["obj"], "nthread": 1, "seed": 0,
              "updater": "coord_descent", "base_score": 0.5}
    if k > 1:
        params["num_class"] = k
    bst = xgb.train(params, xgb.DMatrix(x, label=y), 1)
    mj = json.loads(bst.save_raw("json"))
    w = (rng.normal(0, 1.0, (f + 1) * k) / np.sqrt(f)).astype(np.float32)
    mj["learner"]["gradient_booster"]["model"]["weights"] = [float(v) for v in w]
    return mj


def write_fm_weights(path, w0, w, V):
    """FM weights for bench/lmbench's OpenBLAS formulation: float32 w0, w[F], V[F x k]."""
    write_f32(path, np.concatenate([np.array([w0], np.float32), w.ravel(), V.ravel()]))


def write_cat_rows(path, name, z):
    rng = np.random.default_rng(seed_of(name) + 2)
    n = pool_rows(z["f"])
    write_f32(path, with_missing(rng, cat_features(rng, n, z["f"], z["cat"])))
    return n


# --------------------------------------------------------------------------------------------
# Recipes, stamps, manifest.

TRAIN_CODE = [features, with_missing, labels, zoo_labels, cat_features, seed_of, train,
              zoo_params, train_zoo_xgb, lgbm_like_params, train_lgbm_conv, real_pool,
              real_fixture, real_rows, train_lgbm_twin, f32_below, xgb_trees, base_margin, to_lightgbm_text,
              write_rows, write_cat_rows, pool_rows]
STATS_CODE = [depth_of, threshold_stats, stats_xgb, stats_lgbm]


_CODE_HASH = {}


def code_hash(funcs):
    """sha256 of the functions' source, read once per run (inspect reads the file on disk:
    an edit during a run must not change the hash halfway)."""
    key = tuple(fn.__name__ for fn in funcs)
    if key not in _CODE_HASH:
        h = hashlib.sha256()
        for fn in funcs:
            h.update(inspect.getsource(fn).encode())
        _CODE_HASH[key] = h.hexdigest()
    return _CODE_HASH[key]


def recipe_key(name):
    h = hashlib.sha256()
    h.update(xgb.__version__.encode())
    h.update(code_hash(TRAIN_CODE).encode())
    spec = MODELS.get(name) or ZOO[name]
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    if isinstance(spec, dict) and spec.get("kind") == "ll":
        h.update(code_hash([make_ll, write_dense_rows]).encode())
    if isinstance(spec, dict) and spec.get("kind") == "fm":
        h.update(code_hash([write_fm_weights]).encode())
    if name in ZOO and ZOO[name].get("kind") == "lgbm-real":
        d = os.path.join(LGBM_REAL, ZOO[name]["fixture"])
        for fn in ("model.txt", "input.csv", "meta.json"):
            with open(os.path.join(d, fn), "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    h.update(("pool=%d/%d" % (POOL_FLOATS, POOL_ROWS_MAX)).encode())
    return h.hexdigest()


COLUMNS = ["name", "kind", "booster", "objective", "features", "outputs", "trees", "max_depth",
           "rows_file", "pool_rows", "source", "xgb_model", "xgb_trees", "max_batch", "thr_max",
           "thr_median", "thr_features", "cat_splits", "leaves_mean", "xgb_depth",
           "xgb_leaves_mean", "group", "trainer", "parity"]


def trainer_text(params, extra=""):
    keys = ["tree_method", "max_bin", "grow_policy", "max_leaves", "max_depth", "eta",
            "min_child_weight"]
    parts = []
    if "tree_method" not in params:
        parts.append("tree_method default (exact)")
    for k in keys:
        if k in params:
            parts.append("%s %s" % (k, params[k]))
    return (", ".join(parts) + extra) or "-"


def save_json(bst, path):
    bst.save_model(path + ".tmp.json")
    os.replace(path + ".tmp.json", path)


def build(name, out, rows_written):
    """Train (or convert) one model; returns its manifest record (without the stats)."""
    if name in MODELS:
        spec = MODELS[name]
        booster, objective, f, classes = spec[:4]
        bst = train(name, spec)
        save_json(bst, os.path.join(out, name + ".json"))
        rows_file = "rows-f%d.f32" % f
        if rows_file not in rows_written:
            write_rows(os.path.join(out, rows_file), f)
            rows_written.add(rows_file)
        tr = "core: hist max_bin 64, eta 0.1" if booster != "gblinear" else \
            "core: gblinear coord_descent, eta 0.5"
        extra = spec[7]
        if extra:
            tr += ", " + ", ".join("%s %s" % kv for kv in sorted(extra.items()))
        return dict(name=name, kind="linear" if booster == "gblinear" else "trees",
                    booster=booster, objective=objective, features=f, outputs=classes,
                    rows_file=rows_file, pool_rows=pool_rows(f), source=name + ".json",
                    xgb_model=name + ".json", max_batch=POOL_ROWS_MAX, group="core",
                    trainer=tr, parity="xgboost")
    z = ZOO[name]
    kind = z.get("kind", "xgb")
    if kind == "fm":
        f, k = z["f"], z["factors"]
        rng = np.random.default_rng(seed_of(name))
        w0 = np.float32(rng.normal(0, 0.5))
        w = rng.normal(0, 0.3, f).astype(np.float32)
        V = rng.normal(0, 0.08, (f, k)).astype(np.float32)
        arrays = [("arg:w0_weight", np.array([w0], np.float32)),
                  ("arg:w1_weight", w.reshape(f, 1)), ("arg:v", V)]
        meta = {"training_parameters": {"feature_dim": str(f), "num_factors": str(k),
                                        "predictor_type": z["pred"]}}
        algo = fmfix.zip_bytes([("symbol.json", fmfix.symbol_json(z["pred"], "w")),
                                ("params", fmfix.nd_list(arrays)),
                                ("meta.json", json.dumps(meta).encode())])
        src = name + ".model.tar.gz"
        with open(os.path.join(out, src + ".tmp"), "wb") as fh:
            fh.write(fmfix.tar_gz_bytes("model_algo-1", algo))
        os.replace(os.path.join(out, src + ".tmp"), os.path.join(out, src))
        write_fm_weights(os.path.join(out, name + ".fm.f32"), w0, w, V)
        rows_file = "rows-f%d.f32" % f
        if rows_file not in rows_written:
            write_rows(os.path.join(out, rows_file), f)
            rows_written.add(rows_file)
        return dict(name=name, kind="fm", booster="fm",
                    objective="factorization-machines:" + z["pred"], features=f, outputs=1,
                    rows_file=rows_file, pool_rows=pool_rows(f), source=src, xgb_model="-",
                    max_batch=ZOO_MAX_BATCH, group="zoo",
                    trainer="synthetic SageMaker FM artifact, %d factors (no XGBoost "
                            "counterpart)" % k, parity="scalar")
    if kind == "ll":
        mj = make_ll(name, z)
        path = os.path.join(out, name + ".json")
        with open(path + ".tmp", "w") as fh:
            json.dump(mj, fh)
        os.replace(path + ".tmp", path)
        rows_file = "rows-dense-f%d.f32" % z["f"]
        if rows_file not in rows_written:
            write_dense_rows(os.path.join(out, rows_file), z["f"])
            rows_written.add(rows_file)
        link = {"binary:logistic": "binary_classifier", "reg:squarederror": "regressor"}.get(
            z["obj"], "multiclass_classifier")
        return dict(name=name, kind="linear", booster="gblinear", objective=z["obj"],
                    features=z["f"], outputs=z["k"], rows_file=rows_file,
                    pool_rows=pool_rows(z["f"]), source=name + ".json", xgb_model=name + ".json",
                    max_batch=ZOO_MAX_BATCH, group="zoo",
                    trainer="Linear Learner-shaped (%s): gblinear JSON, random weights, "
                            "dense rows" % link, parity="xgboost")
    if kind == "xgb":
        bst, params = train_zoo_xgb(name, z)
        save_json(bst, os.path.join(out, name + ".json"))
        if z.get("cat"):
            rows_file, n = "rows-%s.f32" % name, write_cat_rows(
                os.path.join(out, "rows-%s.f32" % name), name, z)
        else:
            rows_file, n = "rows-f%d.f32" % z["f"], pool_rows(z["f"])
            if rows_file not in rows_written:
                write_rows(os.path.join(out, rows_file), z["f"])
                rows_written.add(rows_file)
        tr = trainer_text(params, ", %d categorical features (enable_categorical)" % z["cat"]
                          if z.get("cat") else "")
        return dict(name=name, kind="trees", booster="gbtree", objective=z["obj"],
                    features=z["f"], outputs=z["k"], rows_file=rows_file, pool_rows=n,
                    source=name + ".json", xgb_model=name + ".json", max_batch=ZOO_MAX_BATCH,
                    group="zoo", trainer=tr, parity="xgboost")
    if kind == "lgbm-conv":
        bst, params = train_lgbm_conv(name, z)
        twin = os.path.join(out, name + ".xgb.json")
        save_json(bst, twin)
        with open(twin) as fh:
            text = to_lightgbm_text(json.load(fh), z["f"])
        with open(os.path.join(out, name + ".txt.tmp"), "w") as fh:
            fh.write(text)
        os.replace(os.path.join(out, name + ".txt.tmp"), os.path.join(out, name + ".txt"))
        rows_file = "rows-f%d.f32" % z["f"]
        if rows_file not in rows_written:
            write_rows(os.path.join(out, rows_file), z["f"])
            rows_written.add(rows_file)
        return dict(name=name, kind="trees", booster="lightgbm", features=z["f"],
                    outputs=z["k"], rows_file=rows_file, pool_rows=pool_rows(z["f"]),
                    source=name + ".txt", xgb_model=name + ".xgb.json", max_batch=ZOO_MAX_BATCH,
                    group="zoo", trainer="LightGBM text converted from XGBoost: " +
                    trainer_text(params), parity="xgboost")
    # lgbm-real
    d, text, model, meta = real_fixture(z)
    with open(os.path.join(out, name + ".txt"), "w") as fh:
        fh.write(text)
    x, _ = real_pool(name, z)
    rows_file = "rows-%s.f32" % name
    write_f32(os.path.join(out, rows_file), x)
    bst, params = train_lgbm_twin(name, z)
    save_json(bst, os.path.join(out, name + ".xgb.json"))
    what = "real LightGBM model (%s, %s)" % (meta.get("source_repo", "?"), meta.get("path", "?"))
    if meta.get("linear"):
        what += ", linear trees"
    if meta.get("average_output"):
        what += ", random forest"
    return dict(name=name, kind="trees", booster="lightgbm", features=model.num_features,
                outputs=model.num_class, rows_file=rows_file, pool_rows=len(x),
                source=name + ".txt", xgb_model=name + ".xgb.json", max_batch=ZOO_MAX_BATCH,
                group="zoo", trainer=what + "; twin: " + trainer_text(params), parity="scalar")


def add_stats(rec, out):
    if rec.get("kind") == "fm":  # no trees
        rec.update(trees=0, max_depth=0, leaves_mean=0, thr_max=0, thr_median=0,
                   thr_features=0, cat_splits=0, stats_key=code_hash(STATS_CODE))
        return rec
    src = os.path.join(out, rec["source"])
    s = stats_lgbm(src) if src.endswith(".txt") else stats_xgb(src)
    rec.update(trees=s["trees"], max_depth=s["depth"], leaves_mean=s["leaves_mean"],
               thr_max=s["thr_max"], thr_median=s["thr_median"], thr_features=s["thr_features"],
               cat_splits=s["cat_splits"])
    if "objective" in s and rec.get("booster") == "lightgbm":
        rec["objective"] = s["objective"].replace(" ", ",")
    xm = rec.get("xgb_model")
    if xm and xm != "-":
        xs = stats_xgb(os.path.join(out, xm))
        rec["xgb_trees"] = xs["trees"]
        rec["xgb_depth"] = xs["depth"]
        rec["xgb_leaves_mean"] = xs["leaves_mean"]
    rec["stats_key"] = code_hash(STATS_CODE)
    return rec


def meta_path(out, name):
    return os.path.join(out, name + ".meta.json")


def current_meta(out, name):
    try:
        with open(meta_path(out, name)) as fh:
            m = json.load(fh)
    except (OSError, ValueError):
        return None
    if m.get("key") != recipe_key(name):
        return None
    for fn in (m["rec"]["source"], m["rec"]["rows_file"], m["rec"].get("xgb_model", "-")):
        if fn != "-" and not os.path.exists(os.path.join(out, fn)):
            return None
    return m


def write_manifest(out):
    lines = ["\t".join(COLUMNS)]
    for name in list(MODELS) + list(ZOO):
        m = current_meta(out, name)
        if not m:
            continue
        rec = m["rec"]
        lines.append("\t".join(str(rec.get(c, "-")).replace("\t", " ") for c in COLUMNS))
    tmp = os.path.join(out, "models.tsv.tmp")
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out, "models.tsv"))
    return len(lines) - 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/bench/models")
    ap.add_argument("--set", choices=["core", "ci", "zoo"], default="core",
                    help="core: the nine original models; ci: core + the zoo models bench-ci "
                         "counts; zoo: everything")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--stamp", help="touch this file once the set is current")
    ap.add_argument("--force", action="store_true", help="retrain even if current")
    ap.add_argument("--list", action="store_true", help="print the names of --set and exit")
    args = ap.parse_args()
    if args.only:
        names = args.only.split(",")
        for n in names:
            if n not in MODELS and n not in ZOO:
                sys.exit("gen_models: unknown model %s" % n)
    elif args.set == "core":
        names = list(MODELS)
    elif args.set == "ci":
        names = list(MODELS) + CI_ZOO
    else:
        names = list(MODELS) + list(ZOO)
    if args.list:
        print(" ".join(names))
        return 0
    os.makedirs(args.out, exist_ok=True)
    t_all = time.time()
    rows_written = set()
    trained = 0
    for name in names:
        m = None if args.force else current_meta(args.out, name)
        if m and m["rec"].get("stats_key") == code_hash(STATS_CODE):
            continue
        t0 = time.time()
        if m:  # the model is current, only its statistics are not
            rec = add_stats(m["rec"], args.out)
            secs = m.get("train_seconds", 0)
        else:
            if os.path.exists(meta_path(args.out, name)):
                os.unlink(meta_path(args.out, name))
            rec = add_stats(build(name, args.out, rows_written), args.out)
            secs = round(time.time() - t0, 1)
            trained += 1
        with open(meta_path(args.out, name) + ".tmp", "w") as fh:
            json.dump({"key": recipe_key(name), "train_seconds": secs, "rec": rec}, fh,
                      indent=1, sort_keys=True)
        os.replace(meta_path(args.out, name) + ".tmp", meta_path(args.out, name))
        print("gen_models: %-32s %-9s F=%-5d trees=%-5d depth=%-3d thresholds max %-5d median "
              "%-5d %6.1f s" % (name, rec["booster"], rec["features"], rec["trees"],
                                rec["max_depth"], rec["thr_max"], rec["thr_median"],
                                time.time() - t0), flush=True)
    n = write_manifest(args.out)
    if args.stamp:
        with open(args.stamp, "w") as fh:
            fh.write(" ".join(names) + "\n")
    print("gen_models: %d trained, %d in models.tsv, %.1f s -> %s" % (
        trained, n, time.time() - t_all, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
