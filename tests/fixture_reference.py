"""The reference evaluator of tests/gen_fixtures.py (its self-check): prediction re-implemented
from model.json alone (trees, categorical routing, dart weights, gblinear, base margins and
objective transforms with the C library's expf/logf) and compared with XGBoost; and
numeric_thresholds, the split conditions that scoring rows hit exactly."""
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads OpenMP

import collections  # noqa: E402
import ctypes  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402

from fixture_data import F32  # noqa: E402

_libm = ctypes.CDLL("libm.so.6")
_libm.expf.restype = ctypes.c_float
_libm.expf.argtypes = [ctypes.c_float]
_libm.logf.restype = ctypes.c_float
_libm.logf.argtypes = [ctypes.c_float]
_libm.exp.restype = ctypes.c_double
_libm.exp.argtypes = [ctypes.c_double]
_libm.log.restype = ctypes.c_double
_libm.log.argtypes = [ctypes.c_double]


# ----------------------------------------------------------------------------------------------
# Model inspection and the reference evaluator (self-check)
# ----------------------------------------------------------------------------------------------

class Tree:
    def __init__(self, t):
        self.left = t["left_children"]
        self.right = t["right_children"]
        self.feat = t["split_indices"]
        self.cond = [F32(v) for v in t["split_conditions"]]
        self.dleft = t["default_left"]
        self.stype = t.get("split_type", [0] * len(self.left))
        self.cats = {}
        nodes = t.get("categories_nodes", [])
        segs = t.get("categories_segments", [])
        sizes = t.get("categories_sizes", [])
        allc = t.get("categories", [])
        for i, nid in enumerate(nodes):
            self.cats[nid] = set(allc[segs[i]:segs[i] + sizes[i]])

    def depth(self, nid=0):
        if self.left[nid] == -1:
            return 0
        return 1 + max(self.depth(self.left[nid]), self.depth(self.right[nid]))


def cat_route(v, cset, dleft, stats):
    """XGBoost 1.7.4 categorical decision, as observed on these fixtures (every leaf index of
    the categorical cases agrees; the alternatives "invalid -> default child" and "rounding"
    disagree on some rows):
      NaN                                   -> default child
      v < 0 (incl. -1, -3, -inf; not -0.0)  -> left
      v >= 2^24 (16777216, 3e7, +inf)       -> left
      otherwise c = (int)v (truncation: 2.5 -> 2, 3.99 -> 3); left iff c NOT in the node's set
      (so categories beyond the set's largest, unseen ones, 50, 1000 ... -> left).
    Returns True for left.  `stats` counts the rules that fired where the alternative
    would have chosen differently (evidence that the fixtures pin the rule)."""
    if math.isnan(v):
        stats["cat NaN->default"] += 1
        return bool(dleft)
    if v < 0 or v >= 16777216.0:
        stats["cat invalid->left"] += 1
        if not dleft:
            stats["cat invalid->left (default is right)"] += 1
        return True
    c = int(v)
    if c != v and ((c in cset) != (int(round(v)) in cset)):
        stats["cat non-integer: truncation differs from rounding"] += 1
    if c > max(cset):
        stats["cat beyond set max->left"] += 1
        if not dleft:
            stats["cat beyond set max->left (default is right)"] += 1
    return c not in cset


def eval_tree(tree, x, stats):
    nid = 0
    while tree.left[nid] != -1:
        v = float(x[tree.feat[nid]])
        if tree.stype[nid] == 1:
            go_left = cat_route(v, tree.cats[nid], tree.dleft[nid], stats)
        elif math.isnan(v):
            go_left = bool(tree.dleft[nid])
        else:
            if v == float(tree.cond[nid]):
                stats["threshold-equal"] += 1
            go_left = v < float(tree.cond[nid])
        nid = tree.left[nid] if go_left else tree.right[nid]
    return nid, tree.cond[nid]


def prob_to_margin(obj, base):
    b = F32(base)
    if obj in ("binary:logistic", "reg:logistic"):
        return F32(-_libm.logf(F32(F32(1.0) / b - F32(1.0))))
    if obj in ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox"):
        return F32(_libm.logf(b))
    if obj == "survival:aft":
        return F32(_libm.log(float(b)))
    return b   # identity: squarederror & co, logitraw, hinge (observed), rank:*, multi:*


def transform(obj, m):
    """m: float32 margins of one row (array).  Returns float32 values."""
    if obj in ("binary:logistic", "reg:logistic"):
        out = []
        for x in m:
            e = _libm.expf(F32(min(-F32(x), F32(88.7))))
            out.append(F32(F32(1.0) / F32(F32(F32(e) + F32(1.0)) + F32(1e-16))))
        return np.array(out, dtype=F32)
    if obj in ("count:poisson", "reg:gamma", "reg:tweedie", "survival:cox"):
        return np.array([_libm.expf(F32(x)) for x in m], dtype=F32)
    if obj == "survival:aft":
        return np.array([_libm.exp(float(F32(x))) for x in m], dtype=F32)
    if obj == "binary:hinge":
        return np.array([1.0 if x > 0 else 0.0 for x in m], dtype=F32)
    if obj == "multi:softprob":
        wmax = max(m)
        e = [F32(_libm.expf(F32(F32(x) - F32(wmax)))) for x in m]
        s = 0.0
        for v in e:
            s += float(v)
        return np.array([F32(v / F32(s)) for v in e], dtype=F32)
    if obj == "multi:softmax":
        return np.array([float(int(np.argmax(m)))], dtype=F32)
    return np.asarray(m, dtype=F32)


def reference_check(name, mj, X, leaf, margin, value, report):
    """Re-predict from model.json alone and compare with XGBoost's outputs (aborts on mismatch)."""
    lr = mj["learner"]
    obj = lr["objective"]["name"]
    gb = lr["gradient_booster"]
    booster = gb["name"]
    base = float(lr["learner_model_param"]["base_score"])
    nclass = int(lr["learner_model_param"]["num_class"])
    G = max(nclass, 1)
    bm = prob_to_margin(obj, base)
    n = X.shape[0]
    stats = collections.Counter()
    ref_margin = np.zeros((n, G), dtype=F32)
    if booster == "gblinear":
        w = gb["model"]["weights"]
        F = int(lr["learner_model_param"]["num_feature"])
        for r in range(n):
            for g in range(G):
                ps = F32(F32(w[F * G + g]) + bm)
                for f in range(F):
                    v = X[r, f]
                    if not np.isnan(v):
                        ps = F32(ps + F32(F32(v) * F32(w[f * G + g])))
                ref_margin[r, g] = ps
    else:
        model = gb["gbtree"]["model"] if booster == "dart" else gb["model"]
        wd = gb.get("weight_drop") if booster == "dart" else None
        trees = [Tree(t) for t in model["trees"]]
        info = model["tree_info"]
        for r in range(n):
            acc = [bm] * G
            for i, t in enumerate(trees):
                nid, lv = eval_tree(t, X[r], stats)
                if leaf is not None and leaf[r, i] != nid:
                    raise SystemExit(f"{name}: row {r} tree {i}: reference leaf {nid}, "
                                     f"XGBoost leaf {leaf[r, i]}")
                g = info[i]
                if wd is not None:
                    acc[g] = F32(acc[g] + F32(lv * F32(wd[i])))
                else:
                    acc[g] = F32(acc[g] + lv)
            ref_margin[r] = acc
    xm = margin.reshape(n, -1)
    if not np.array_equal(ref_margin.view(np.uint32), xm.astype(F32).view(np.uint32)):
        bad = np.argwhere(ref_margin != xm)
        raise SystemExit(f"{name}: margin mismatch at {bad[:5].tolist()}: "
                         f"ref {ref_margin[tuple(bad[0])]!r} xgb {xm[tuple(bad[0])]!r}")
    xv = value.reshape(n, -1).astype(F32)
    ref_v = np.stack([transform(obj, ref_margin[r]) for r in range(n)])
    exact = int(np.sum(ref_v.view(np.uint32) == xv.view(np.uint32)))
    close = np.allclose(ref_v, xv, rtol=2e-6, atol=1e-30)
    if not close:
        bad = np.argwhere(~np.isclose(ref_v, xv, rtol=2e-6, atol=1e-30))
        raise SystemExit(f"{name}: value mismatch at {bad[:5].tolist()}: "
                         f"ref {ref_v[tuple(bad[0])]!r} xgb {xv[tuple(bad[0])]!r}")
    report["value_bits_equal"] = f"{exact}/{xv.size}"
    report["base_margin"] = float(bm)
    report.update({k: v for k, v in stats.items() if v})


def numeric_thresholds(mj):
    gb = mj["learner"]["gradient_booster"]
    if gb["name"] == "gblinear":
        return []
    model = gb["gbtree"]["model"] if gb["name"] == "dart" else gb["model"]
    out = set()
    for t in model["trees"]:
        st = t.get("split_type", [0] * len(t["left_children"]))
        for nid, lc in enumerate(t["left_children"]):
            if lc != -1 and st[nid] == 0:
                out.add((t["split_indices"][nid], float(F32(t["split_conditions"][nid]))))
    return sorted(out)
