#!/usr/bin/python3
"""Generate the XGBoost parity fixtures (tests/fixtures/xgb/) and the embedded example (examples/).

Run with Debian's interpreter, which has python3-xgboost 1.7.4, numpy and pandas:

    make fixtures            # = /usr/bin/python3 tests/gen_fixtures.py
    /usr/bin/python3 tests/gen_fixtures.py

What it does
------------
For every case below it trains a small XGBoost model on synthetic data (fixed seeds, nthread=1,
so re-running gives byte-identical files), builds 100-200 scoring rows, and records what XGBoost
itself predicts for them.  One folder per case, tests/fixtures/xgb/<case>/:

    model.json           booster.save_model("model.json") as written by XGBoost 1.7.4
    input.csv            scoring rows; no header; ',' separated; each value '%.9g' of its float32
                         (parse as double, round to float32 = the exact float32 XGBoost saw).
                         Missing cells are written as a mix of '', 'nan', 'NaN' and 'NA'.
    expected_value.csv   booster.predict(dmat)                      (rows x value_columns)
    expected_margin.csv  booster.predict(dmat, output_margin=True)  (rows x margin_columns)
    expected_leaf.csv    booster.predict(dmat, pred_leaf=True), integers, rows x num_trees
                         (tree-index order; absent for gblinear)
    meta.json            objective, booster, num_outputs, num_features, num_trees, rows, notes,
                         xgboost_version, plus value_columns / margin_columns (multi:softmax
                         predicts 1 value column but has num_class margin columns), base_score,
                         the training params, and inf_rows (see below).
tests/fixtures/xgb/MANIFEST lists the case names, one per line, sorted.

The scoring DMatrix is built exactly as the tests feed lmrt: a float32 numpy array,
missing=np.nan, and for categorical cases feature_types with 'c' + enable_categorical=True.

How the tests use it: each parity test converts model.json with lmconvert (or the importer
directly), scores input.csv with lmscore / lm_predict_f64 and compares with expected_value.csv
(and expected_margin.csv with --margin / LM_PREDICT_MARGIN).  expected_leaf.csv pins every tree
decision, so a wrong split direction is caught even where it barely moves the sum.

What the rows exercise
----------------------
* missing values (NaN) in training and scoring data; one all-missing row, one complete row;
* values exactly equal to split thresholds (taken from the trained model's split_conditions of
  numeric nodes) and the next float32 below them (strict '<' test);
* +0.0 / -0.0, huge magnitudes (+-3e38, +-FLT_MAX, 1e30), subnormals, and +-inf (tree models);
* categorical features: NaN, categories unseen in training, negative (-1, -3, -0.0), beyond the
  largest category (K, 31, 32, 50, 1000), >= 2^24 (16777216, 3e7), non-integer (2.5, 3.99), +-inf.

+-inf: XGBoost 1.7.4 refuses inf in a DMatrix ("Input data contains `inf` or `nan`").  For rows
listed in meta.json "inf_rows" the expected files therefore come from the same row with +-inf
replaced by +-FLT_MAX (identical routing: no split threshold is +-inf or FLT_MAX, and both are
invalid categories).  The generator verifies this: for gbtree models inplace_predict (which does
accept inf) on the true rows gives bit-identical values and margins, and an independent reference
evaluator (tests/fixture_reference.py) walking the trees with the true inf values reproduces
every leaf index.

Self-check
----------
After writing each case the generator re-implements prediction from model.json alone (the rules
of /work/shared/reference/input-formats.md section 5) and compares with XGBoost: leaf indices must
match exactly, margins bit for bit, transformed values are compared with the C library's
expf/logf; any mismatch aborts.  It prints, per case: trees, depth reached, categorical splits,
weight_drop values (dart), threshold-equal cells hit, and the categorical routing observed.

Observed XGBoost 1.7.4 behaviour these fixtures pin (all confirmed bit for bit by the self-check)
------------------------------------------------------------------------------------------------
* Numeric split: NaN -> default child, else left iff x < threshold (float32, strict).
* Categorical split: NaN -> default child; x < 0 or x >= 2^24 (incl. +-inf) -> LEFT whatever the
  default direction; else (int)x (truncation) and left iff that category is NOT in the node's
  set, so unseen categories and values beyond the set (K, 31, 32, 50, 1000 ...) go left.
  Categorical nodes have split_conditions written as a bare `NaN` token in model.json.
* Margin = float32 base margin + float32 leaf values in tree-index order (dart: + leaf*w in
  float32, w = weight_drop[i]); gblinear: (bias + base margin) then + x*w per present feature in
  feature order, float32.
* Base margin: logistic objectives -logf(1/p - 1); poisson/gamma/tweedie/cox/aft log(p);
  everything else identity, including binary:hinge (base_score 0.5 -> margin 0.5).
* reg:absoluteerror estimates base_score from the labels even when unset (a median, stored in
  learner_model_param.base_score); the other objectives keep 0.5 when unset.
* xgb.train always writes attributes best_iteration / best_ntree_limit (full model here).
"""

import os
os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/xgboost load OpenMP

import gzip  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

# Data, rows and CSV writers; the reference evaluator. gen_format_fixtures.py reaches the data
# helpers through this module (gf.scoring_rows, gf.write_matrix_csv, ...).
from fixture_data import (F32, N_SCORE, N_TRAIN, NTHREAD, add_missing, case_seed,  # noqa: F401
                          generate_cases, labels_for, no_inf, numeric_block, scoring_rows, signal,
                          write_matrix_csv, write_rows_csv)
from fixture_reference import Tree, numeric_thresholds, reference_check

ROOT = Path(__file__).resolve().parent.parent
FIXDIR = ROOT / "tests" / "fixtures" / "xgb"
EXDIR = ROOT / "examples"


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

CAT_K = [16, 12, 5]          # categorical columns of the categorical cases
CAT_TRAIN_MAX = [14, 12, 5]  # training only uses categories < this (14, 15 never seen in c0)


def build_numeric(name, spec, rng):
    n = spec.get("n_train", N_TRAIN)
    X = add_missing(rng, numeric_block(rng, n), spec.get("train_missing", 0.07))
    s = signal(X)
    d = xgb.DMatrix(X, missing=np.nan, nthread=NTHREAD)
    kind = spec["labels"]
    if kind == "cox":
        t = np.exp(-0.5 * s + 0.3 * rng.normal(size=n)) * 10 + 0.1
        y = np.where(rng.uniform(size=n) < 0.25, -t, t)        # negative = censored
        d.set_label(y)
    elif kind == "aft":
        t = np.exp(0.5 * s + 0.3 * rng.normal(size=n)) * 10 + 0.1
        lo = t.copy()
        hi = t.copy()
        cens = rng.uniform(size=n) < 0.25
        hi[cens] = np.inf                                     # right-censored
        inter = (~cens) & (rng.uniform(size=n) < 0.2)
        lo[inter] = t[inter] * 0.8                            # interval-censored
        hi[inter] = t[inter] * 1.2
        d.set_float_info("label_lower_bound", lo)
        d.set_float_info("label_upper_bound", hi)
    else:
        d.set_label(labels_for(kind, rng, s, n))
    if spec.get("groups"):
        gs = spec["groups"]
        d.set_group([gs] * (n // gs))
    return d, None


def build_categorical(name, spec, rng):
    n = spec.get("n_train", 400)
    Xn = add_missing(rng, numeric_block(rng, n, 3), 0.07)
    cats = []
    for k, kmax in zip(CAT_K, CAT_TRAIN_MAX):
        c = rng.integers(0, kmax, size=n).astype(float)
        c[rng.uniform(size=n) < 0.07] = np.nan
        cats.append(c)
    C = np.stack(cats, axis=1)
    z = np.nan_to_num(C, nan=0)
    eff0 = np.array([0.9, -0.4, 0.1, 1.1, -1.0, 0.3, 0.0, -0.7, 0.6, -0.2, 0.8, -1.2, 0.4, -0.5,
                     0, 0])[z[:, 0].astype(int)]
    eff1 = np.sin(z[:, 1] * 1.7)
    eff2 = np.array([0.5, -0.5, 0.2, -0.3, 0.4])[z[:, 2].astype(int)]
    Zn = np.nan_to_num(Xn.astype(float), nan=0)
    s = eff0 + eff1 + eff2 + 0.7 * Zn[:, 0] - 0.5 * (Zn[:, 1] - 1) / 3 + (Zn[:, 2] - 0.5)
    df = pd.DataFrame({"n0": Xn[:, 0], "n1": Xn[:, 1], "n2": Xn[:, 2]})
    for j, k in enumerate(CAT_K):
        df[f"c{j}"] = pd.Categorical(C[:, j], categories=list(range(k)))
    d = xgb.DMatrix(df, labels_for(spec["labels"], rng, s, n), enable_categorical=True,
                    nthread=NTHREAD)
    return d, {"names": list(df.columns), "types": ["q", "q", "q", "c", "c", "c"]}


BASE = {"nthread": NTHREAD, "seed": 0, "tree_method": "hist", "max_depth": 4, "eta": 0.3}


def C(name, notes, params, rounds, labels, build=build_numeric, **kw):
    p = dict(BASE)
    p.update(params)
    if p.get("booster") == "gblinear":     # tree parameters would only draw warnings
        del p["max_depth"], p["tree_method"]
    return dict(name=name, notes=notes, params=p, rounds=rounds, labels=labels, build=build, **kw)


CASES = [
    C("binary_logistic", "gbtree binary:logistic, hist, base_score unset (default 0.5); missing "
      "values in training and scoring; threshold-equal and next-below values; +-0, +-inf, huge, "
      "subnormal values", {"objective": "binary:logistic"}, 20, "binary"),
    C("binary_logistic_base03", "binary:logistic with base_score=0.3 (margin starts at "
      "logit(0.3)); exact tree method (midpoint thresholds)",
      {"objective": "binary:logistic", "base_score": 0.3, "tree_method": "exact"}, 15, "binary"),
    C("binary_logitraw", "binary:logitraw: identity transform, value == margin",
      {"objective": "binary:logitraw", "max_depth": 3}, 15, "binary"),
    C("binary_hinge", "binary:hinge: value = margin > 0 ? 1 : 0; base_score 0.5 is used as the "
      "margin untransformed; approx tree method",
      {"objective": "binary:hinge", "max_depth": 3, "tree_method": "approx"}, 15, "binary"),
    C("reg_logistic", "reg:logistic with labels in [0,1]: sigmoid transform",
      {"objective": "reg:logistic"}, 15, "unit"),
    C("reg_squarederror", "reg:squarederror, base_score unset (0.5), depth 5",
      {"objective": "reg:squarederror", "max_depth": 5}, 20, "reg"),
    C("reg_squarederror_base12_5", "reg:squarederror with base_score=12.5; exact tree method",
      {"objective": "reg:squarederror", "base_score": 12.5, "tree_method": "exact"}, 20, "reg"),
    C("reg_squaredlogerror", "reg:squaredlogerror (identity transform), labels >= 0",
      {"objective": "reg:squaredlogerror"}, 15, "nonneg"),
    C("reg_pseudohubererror", "reg:pseudohubererror (identity transform), huber_slope 2",
      {"objective": "reg:pseudohubererror", "huber_slope": 2.0, "max_depth": 3}, 20, "reg"),
    C("reg_absoluteerror", "reg:absoluteerror (1.7 adaptive leaves; identity transform)",
      {"objective": "reg:absoluteerror"}, 15, "reg"),
    C("count_poisson", "count:poisson: margin = log(base_score) + sum, value = exp(margin)",
      {"objective": "count:poisson", "max_depth": 3}, 20, "count"),
    C("reg_gamma", "reg:gamma: log link", {"objective": "reg:gamma", "max_depth": 3}, 15,
      "positive"),
    C("reg_tweedie", "reg:tweedie (variance power 1.5): log link, labels with zeros",
      {"objective": "reg:tweedie", "tweedie_variance_power": 1.5, "max_depth": 3}, 15,
      "tweedie"),
    C("survival_cox", "survival:cox (negative labels = censored): value = exp(margin)",
      {"objective": "survival:cox", "max_depth": 3}, 15, "cox"),
    C("survival_aft", "survival:aft, normal distribution, right- and interval-censored labels "
      "via label_lower_bound/label_upper_bound: value = exp(margin)",
      {"objective": "survival:aft", "aft_loss_distribution": "normal",
       "aft_loss_distribution_scale": 1.0, "max_depth": 3}, 15, "aft"),
    C("rank_pairwise", "rank:pairwise, groups of 10 (identity transform)",
      {"objective": "rank:pairwise"}, 15, "rel4", groups=10),
    C("rank_ndcg", "rank:ndcg, groups of 10, relevance 0..3", {"objective": "rank:ndcg"}, 15,
      "rel4", groups=10),
    C("rank_map", "rank:map, groups of 10, binary relevance", {"objective": "rank:map"}, 15,
      "rel2", groups=10),
    C("multi_softprob4", "multi:softprob, 4 classes: tree_info groups, softmax",
      {"objective": "multi:softprob", "num_class": 4, "max_depth": 3}, 10, "multi4"),
    C("multi_softmax3", "multi:softmax, 3 classes: value = index of the largest margin "
      "(1 value column, 3 margin columns); exact tree method",
      {"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "tree_method": "exact"},
      10, "multi3"),
    C("dart_binary_logistic", "dart booster, rate_drop 0.2: leaf values scaled by weight_drop "
      "(values != 1)", {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.2,
                        "max_depth": 3}, 20, "binary"),
    C("dart_reg_squarederror_base", "dart reg:squarederror with base_score=7.5, rate_drop 0.2",
      {"objective": "reg:squarederror", "booster": "dart", "rate_drop": 0.2,
       "base_score": 7.5, "max_depth": 3, "seed": 1}, 20, "reg"),
    C("dart_multi_softprob3", "dart multi:softprob, 3 classes, rate_drop 0.25",
      {"objective": "multi:softprob", "num_class": 3, "booster": "dart", "rate_drop": 0.25,
       "max_depth": 3}, 8, "multi3"),
    C("gblinear_reg_squarederror", "gblinear reg:squarederror: bias + base + sum x*w over "
      "present features (missing contributes nothing)",
      {"objective": "reg:squarederror", "booster": "gblinear"}, 20, "reg", linear=True),
    C("gblinear_binary_logistic", "gblinear binary:logistic",
      {"objective": "binary:logistic", "booster": "gblinear"}, 20, "binary", linear=True),
    C("gblinear_multi_softprob3", "gblinear multi:softprob, 3 classes (weights f*G+g, then G "
      "biases)", {"objective": "multi:softprob", "num_class": 3, "booster": "gblinear"}, 20,
      "multi3", linear=True),
    C("cat_partition", "categorical, max_cat_to_onehot=1: partition splits with multi-category "
      "sets (K=16,12,5; categories 14,15 of c0 unseen in training) + 3 numeric features; rows "
      "with NaN, unseen, negative, beyond-max, >= 2^24, non-integer and +-inf categories",
      {"objective": "binary:logistic", "max_cat_to_onehot": 1}, 20, "binary",
      build=build_categorical),
    C("cat_onehot", "categorical, max_cat_to_onehot=64: one-hot splits (set of one category, "
      "category goes right); same special category values",
      {"objective": "binary:logistic", "max_cat_to_onehot": 64}, 20, "binary",
      build=build_categorical),
    C("cat_multi_softprob3", "categorical multi:softprob 3 classes, partition splits",
      {"objective": "multi:softprob", "num_class": 3, "max_cat_to_onehot": 1, "max_depth": 3},
      8, "multi3", build=build_categorical),
    C("rf_binary_logistic", "gbtree num_parallel_tree=3 (random-forest style, subsample 0.8, "
      "colsample_bynode 0.8): 3 trees per round, all summed",
      {"objective": "binary:logistic", "num_parallel_tree": 3, "subsample": 0.8,
       "colsample_bynode": 0.8}, 8, "binary"),
    C("deep_reg_squarederror", "deep trees: max_depth 10, reg:squarederror, min_child_weight 3",
      {"objective": "reg:squarederror", "max_depth": 10, "min_child_weight": 3}, 20, "reg",
      n_train=300),
]


def run_case(spec, summary):
    name = spec["name"]
    rng = np.random.default_rng(case_seed(name))
    spec = dict(spec)
    dtrain, catinfo = spec["build"](name, spec, rng)
    params = dict(spec["params"])
    bst = xgb.train(params, dtrain, spec["rounds"])
    out = FIXDIR / name
    out.mkdir(parents=True)
    bst.save_model(str(out / "model.json"))
    mj = json.loads((out / "model.json").read_text())
    lr = mj["learner"]
    nf = int(lr["learner_model_param"]["num_feature"])
    booster = lr["gradient_booster"]["name"]
    linear = booster == "gblinear"

    thr = numeric_thresholds(mj)
    if catinfo:
        cat_cols = [j for j, t in enumerate(catinfo["types"]) if t == "c"]
        unseen = [list(range(m, k)) for k, m in zip(CAT_K, CAT_TRAIN_MAX)]

        def make(r, n):
            Xn = numeric_block(r, n, 3)
            Cc = np.stack([r.integers(0, m, size=n) for m in CAT_TRAIN_MAX], axis=1)
            return np.concatenate([Xn, Cc.astype(F32)], axis=1).astype(F32)
        X = scoring_rows(rng, N_SCORE, nf, thr, cat_cols=cat_cols, cat_k=CAT_K,
                         cat_unseen=unseen, make=make)
    else:
        X = scoring_rows(rng, N_SCORE, nf, thr, linear=linear)
    write_rows_csv(out / "input.csv", X, rng)

    inf_rows = [int(i) for i in np.where(np.isinf(X).any(axis=1))[0]]
    Xd = no_inf(X)
    if catinfo:
        dm = xgb.DMatrix(Xd, missing=np.nan, feature_names=catinfo["names"],
                         feature_types=catinfo["types"], enable_categorical=True, nthread=NTHREAD)
    else:
        dm = xgb.DMatrix(Xd, missing=np.nan, nthread=NTHREAD)
    value = bst.predict(dm)
    margin = bst.predict(dm, output_margin=True)
    leaf = None if linear else bst.predict(dm, pred_leaf=True).astype(np.int64)
    write_matrix_csv(out / "expected_value.csv", value)
    write_matrix_csv(out / "expected_margin.csv", margin)
    if leaf is not None:
        leaf = leaf.reshape(X.shape[0], -1)
        write_matrix_csv(out / "expected_leaf.csv", leaf, as_int=True)

    report = {}
    # inf rows: gbtree inplace_predict accepts inf and must agree bit for bit
    if inf_rows and booster == "gbtree":
        iv = bst.inplace_predict(X, missing=np.nan)
        im = bst.inplace_predict(X, missing=np.nan, predict_type="margin")
        if not (np.array_equal(iv, value) and np.array_equal(im, margin)):
            raise SystemExit(f"{name}: inplace_predict on +-inf rows differs from DMatrix "
                             "predict on +-FLT_MAX rows")
        report["inf rows checked by inplace_predict"] = len(inf_rows)
    reference_check(name, mj, X, leaf, margin, value, report)

    gbm = lr["gradient_booster"]
    model = gbm["gbtree"]["model"] if booster == "dart" else gbm.get("model", {})
    trees = model.get("trees", [])
    ntrees = len(trees)
    obj = lr["objective"]["name"]
    nclass = int(lr["learner_model_param"]["num_class"])
    vcols = 1 if value.ndim == 1 else value.shape[1]
    mcols = 1 if margin.ndim == 1 else margin.shape[1]
    meta = {
        "objective": obj,
        "booster": booster,
        "num_outputs": max(nclass, 1),
        "num_features": nf,
        "num_trees": ntrees,
        "rows": int(X.shape[0]),
        "notes": spec["notes"],
        "xgboost_version": xgb.__version__,
        "value_columns": vcols,
        "margin_columns": mcols,
        "base_score": lr["learner_model_param"]["base_score"],
        "params": {k: v for k, v in params.items()},
        "inf_rows": inf_rows,
    }
    if catinfo:
        meta["feature_types"] = catinfo["types"]
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")

    # sanity on the outputs
    assert value.shape[0] == X.shape[0] and margin.shape[0] == X.shape[0]
    assert not np.isnan(value).any() and not np.isnan(margin).any(), name
    nsplit_cat = sum(t.get("split_type", []).count(1) for t in trees)
    multi_cat = sum(1 for t in trees for s in t.get("categories_sizes", []) if s > 1)
    info = {
        "trees": ntrees,
        "max_depth": max((Tree(t).depth() for t in trees), default=0),
        "nodes": sum(len(t["left_children"]) for t in trees),
    }
    if nsplit_cat:
        info["cat_splits"] = nsplit_cat
        info["cat_splits_multi"] = multi_cat
    if booster == "dart":
        info["weight_drop"] = sorted(set(round(w, 6) for w in gbm["weight_drop"]))
    if linear:
        info["weights"] = len(gbm["model"]["weights"])
    info.update(report)
    info["base_score"] = meta["base_score"]
    summary[name] = info
    print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)


# ----------------------------------------------------------------------------------------------
# examples/: a SageMaker-style model.tar.gz ("trip dispatch")
# ----------------------------------------------------------------------------------------------

TRIP_FEATURES = [
    "distance_km", "eta_min", "surge", "hour", "weekday", "driver_rating",
    "driver_acceptance_rate", "driver_idle_min", "zone_demand", "zone_supply", "rain_mm",
    "temperature_c", "traffic_index", "fare_estimate", "is_airport", "is_weekend",
    "driver_trips_today", "rider_rating", "rider_cancel_rate", "vehicle_age_years",
]


def trip_data(rng, n):
    dist = rng.gamma(2.0, 3.0, n)
    eta = np.clip(rng.normal(6, 3, n), 0.5, None)
    surge = np.round(1 + rng.exponential(0.3, n), 1)
    hour = rng.integers(0, 24, n).astype(float)
    weekday = rng.integers(0, 7, n).astype(float)
    drating = np.round(np.clip(rng.normal(4.7, 0.2, n), 3, 5), 2)
    accept = np.clip(rng.beta(8, 2, n), 0, 1)
    idle = rng.exponential(8, n)
    demand = rng.poisson(20, n).astype(float)
    supply = rng.poisson(15, n).astype(float)
    rain = np.where(rng.uniform(size=n) < 0.7, 0.0, rng.exponential(3, n))
    temp = rng.normal(15, 8, n)
    traffic = rng.uniform(0, 1, n)
    fare = 3 + 1.2 * dist * surge + rng.normal(0, 1, n)
    airport = (rng.uniform(size=n) < 0.1).astype(float)
    weekend = (weekday >= 5).astype(float)
    trips = rng.integers(0, 25, n).astype(float)
    rrating = np.round(np.clip(rng.normal(4.8, 0.2, n), 3, 5), 2)
    rcancel = rng.beta(1, 12, n)
    vage = rng.integers(0, 12, n).astype(float)
    X = np.stack([dist, eta, surge, hour, weekday, drating, accept, idle, demand, supply, rain,
                  temp, traffic, fare, airport, weekend, trips, rrating, rcancel, vage],
                 axis=1).astype(F32)
    s = (1.5 * (accept - 0.8) * 5 - 0.15 * eta + 0.08 * fare - 0.05 * dist + 0.8 * (surge - 1)
         - 0.3 * rain + 0.02 * idle + 0.6 * airport - 0.5 * (hour < 6) - 2 * rcancel
         + 0.03 * (demand - supply) + 0.5 * (drating - 4.7))
    y = ((s + rng.logistic(0, 0.7, n)) > 0).astype(float)
    # missing: ratings of new drivers/riders, sensor gaps
    for col, rate in [(5, 0.08), (17, 0.1), (10, 0.06), (12, 0.05), (1, 0.03)]:
        X[rng.uniform(size=n) < rate, col] = np.nan
    return X, y


def deterministic_targz(path, member, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        ti = tarfile.TarInfo(member)
        ti.size = len(data)
        ti.mtime = 0
        ti.mode = 0o644
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw)
    Path(path).write_bytes(out.getvalue())


def build_example():
    rng = np.random.default_rng(20240601)
    X, y = trip_data(rng, 2000)
    d = xgb.DMatrix(X, y, missing=np.nan, feature_names=TRIP_FEATURES, nthread=NTHREAD)
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 5, "eta": 0.1,
              "nthread": NTHREAD, "seed": 0, "eval_metric": "logloss"}
    bst = xgb.train(params, d, 50)
    tmp = EXDIR / ".xgboost-model.tmp.json"  # .json: save_model picks JSON by extension
    bst.save_model(str(tmp))
    data = tmp.read_bytes()
    tmp.unlink()
    deterministic_targz(EXDIR / "model.tar.gz", "xgboost-model", data)
    Xs, _ = trip_data(np.random.default_rng(7), 40)
    Xs[0, :] = np.nan                   # a row with nothing known
    write_rows_csv(EXDIR / "rows.csv", Xs, np.random.default_rng(8))
    ds = xgb.DMatrix(Xs, missing=np.nan, feature_names=TRIP_FEATURES, nthread=NTHREAD)
    pv = bst.predict(ds)
    write_matrix_csv(EXDIR / "expected.csv", pv)
    # the archive's member must load back to the same predictions
    with tarfile.open(EXDIR / "model.tar.gz") as tf:
        names = tf.getnames()
        assert names == ["xgboost-model"], names
        blob = tf.extractfile("xgboost-model").read()
    b2 = xgb.Booster(model_file=bytearray(blob))
    assert np.array_equal(b2.predict(ds), pv)
    mj = json.loads(blob)
    ntrees = len(mj["learner"]["gradient_booster"]["model"]["trees"])
    print(f"example: trees={ntrees}, features={len(TRIP_FEATURES)}, rows={Xs.shape[0]}, "
          f"member bytes={len(blob)}, tar.gz bytes={(EXDIR / 'model.tar.gz').stat().st_size}")


def main():
    summary = generate_cases(__doc__, xgb.__version__, FIXDIR, CASES, run_case)
    if summary is None:
        return
    EXDIR.mkdir(exist_ok=True)
    build_example()
    total = sum(p.stat().st_size for p in FIXDIR.rglob("*") if p.is_file())
    print(f"{len(summary)} cases, {total} bytes in {FIXDIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
