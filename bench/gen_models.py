#!/usr/bin/python3
"""gen_models.py — the benchmark models and rows, generated deterministically (nothing large is
committed).

Run with Debian's /usr/bin/python3 (xgboost 1.7.4, numpy):

    /usr/bin/python3 bench/gen_models.py [--out build/bench/models] [--force]

Writes, into --out:
  <model>.json           the XGBoost model, saved with Booster.save_model (what users ship)
  rows-f<F>.f32          a pool of benchmark rows for models with F features: raw little-endian
                         float32, row-major, 5% NaN, drawn from the training distribution with
                         a different seed (so the rows are not the training rows)
  models.tsv             the manifest the harnesses read (one line per model, tab-separated,
                         header line first): name kind booster objective features outputs
                         trees max_depth rows_file pool_rows
  .stamp                 sha256 of this script and the xgboost version: when it matches, nothing
                         is regenerated (the outputs depend on nothing else)

Every model: seed 0, nthread 2, labels from a fixed nonlinear function of the features plus noise.
Trees: tree_method hist (deterministic for a fixed nthread) with max_bin 64 (256 bins make
"large" train 5x slower and change nothing the kernels see but the threshold values); "large"
and "deep" lower min_child_weight so that late trees still grow to full depth once the training
rows are fitted: rows visit ~600 nodes in "small" and ~4,000 in "large", as in
shared/reference/anchors.md. gblinear uses the coord_descent updater (the default, shotgun, is
not deterministic).
"""
import argparse
import hashlib
import json
import os
import sys
import time

# Passive OpenMP waiting: on a busy 2-core machine spinning threads of nthread=2 fight for the
# CPUs (training took 5-40x longer); results do not depend on it.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

MISSING = 0.05          # fraction of NaN in training data and benchmark rows
POOL_FLOATS = 10_000_000  # a row pool holds min(100,000, POOL_FLOATS / F) rows (≤ 40 MB)
POOL_ROWS_MAX = 100_000

# name: (booster, objective, features, classes, rounds, depth, train_rows, extra params)
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


def train(name, spec):
    booster, objective, f, classes, rounds, depth, n, extra = spec
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
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


def pool_rows(f):
    return min(POOL_ROWS_MAX, POOL_FLOATS // f)


def write_rows(path, f):
    rng = np.random.default_rng(1000 + f)
    x = with_missing(rng, features(rng, pool_rows(f), f))
    tmp = path + ".tmp"
    x.astype("<f4").tofile(tmp)
    os.replace(tmp, path)


def tree_stats(bst):
    """(number of trees, max depth, number of nodes) from the model's JSON dump."""
    trees, depth, nodes = 0, 0, 0

    def d(node):
        nonlocal nodes
        nodes += 1
        kids = node.get("children")
        return 0 if not kids else 1 + max(d(c) for c in kids)
    for t in bst.get_dump(dump_format="json"):
        trees += 1
        depth = max(depth, d(json.loads(t)))
    return trees, depth, nodes


def stamp_of():
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as fh:
        h.update(fh.read())
    h.update(xgb.__version__.encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/bench/models")
    ap.add_argument("--force", action="store_true", help="regenerate even if the stamp matches")
    ap.add_argument("--only", help="comma-separated model names (for debugging; no stamp)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    stamp_path = os.path.join(args.out, ".stamp")
    stamp = stamp_of()
    if not args.force and not args.only and os.path.exists(stamp_path):
        with open(stamp_path) as fh:
            if fh.read().strip() == stamp:
                os.utime(stamp_path)  # newer than the script again (for make)
                print(f"gen_models: {args.out} is up to date")
                return 0
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)
    names = args.only.split(",") if args.only else list(MODELS)
    t_all = time.time()
    rows_done = set()
    lines = ["name\tkind\tbooster\tobjective\tfeatures\toutputs\ttrees\tmax_depth\trows_file\tpool_rows"]
    for name in names:
        spec = MODELS[name]
        booster, objective, f, classes = spec[:4]
        t0 = time.time()
        bst = train(name, spec)
        path = os.path.join(args.out, name + ".json")
        bst.save_model(path + ".tmp.json")
        os.replace(path + ".tmp.json", path)
        if booster == "gblinear":
            kind, trees, depth, nodes = "linear", 0, 0, 0
        else:
            kind = "trees"
            trees, depth, nodes = tree_stats(bst)
        rows_file = f"rows-f{f}.f32"
        if f not in rows_done:
            write_rows(os.path.join(args.out, rows_file), f)
            rows_done.add(f)
        lines.append("\t".join(str(v) for v in (name, kind, booster, objective, f, classes, trees,
                                                depth, rows_file, pool_rows(f))))
        print(f"gen_models: {name:14s} {booster:8s} {objective:16s} F={f:<5d} outputs={classes} "
              f"trees={trees:<4d} depth={depth:<3d} nodes={nodes:<7d} {time.time() - t0:5.1f} s", flush=True)
    with open(os.path.join(args.out, "models.tsv"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    if not args.only:
        with open(stamp_path, "w") as fh:
            fh.write(stamp + "\n")
    print(f"gen_models: {len(names)} models in {time.time() - t_all:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
