#!/usr/bin/python3
"""Write a large, schema-valid XGBoost 1.7 model (JSON or UBJSON) without training one.

    gen_big_model.py OUT.json --trees 5000 --depth 10 [--nodes 700] [--features 100] [--seed 1]
    gen_big_model.py OUT.ubj  ...            (UBJSON, the layout XGBoost's UBJWriter writes)

Training 5,000 trees of depth 10 with XGBoost takes a long time; the converter's memory bound
(docs/lmconvert.md, "Memory") only needs a model of that shape. Trees are grown breadth-first
from the root to --depth, each node below depth 2 splitting and deeper ones with the probability
that makes trees of about --nodes nodes; values are float32 (thresholds, leaves, statistics) as
XGBoost writes them. The document follows model.schema.v1.7.6.json; `xgb.Booster(model_file=…)`
loads it (tests/test_convert_memory.c uses the JSON/UBJSON pair of a 20–40 MB model; the 281 MB
figures in docs/lmconvert.md come from --trees 5000 --depth 10, written under build/).
Deterministic for a given seed. Writes tree by tree: the generator's own memory stays small.
"""
import argparse
import struct
import sys

import numpy as np


def grow(rng, depth, p_split):
    """Node arrays of one tree in breadth-first id order."""
    left, right, parent, level = [-1], [-1], [2147483647], [0]
    head = 0
    while head < len(left):
        d = level[head]
        if d < depth and (d < 2 or rng.random() < p_split):
            for side in (0, 1):
                nid = len(left)
                left.append(-1)
                right.append(-1)
                parent.append(head)
                level.append(d + 1)
                if side == 0:
                    left[head] = nid
                else:
                    right[head] = nid
        head += 1
    return np.array(left, np.int32), np.array(right, np.int32), np.array(parent, np.int32)


def tree_arrays(rng, depth, p_split, nf):
    left, right, parent = grow(rng, depth, p_split)
    n = len(left)
    leaf = left == -1
    thr = rng.normal(0, 1, n).astype(np.float32)
    lv = (rng.normal(0, 0.05, n)).astype(np.float32)
    return {
        "base_weights": rng.normal(0, 0.05, n).astype(np.float32),
        "default_left": rng.integers(0, 2, n).astype(np.uint8),
        "left_children": left,
        "loss_changes": np.where(leaf, 0, rng.random(n) * 10).astype(np.float32),
        "parents": parent,
        "right_children": right,
        "split_conditions": np.where(leaf, lv, thr).astype(np.float32),
        "split_indices": np.where(leaf, 0, rng.integers(0, nf, n)).astype(np.int32),
        "split_type": np.zeros(n, np.uint8),
        "sum_hessian": (rng.random(n) * 100 + 1).astype(np.float32),
    }


def json_array(a):
    if a.dtype == np.float32:
        # numpy's str of a float32 is the shortest text that round-trips it, as XGBoost writes
        return "[" + ",".join(map(str, a)) + "]"
    return "[" + ",".join(str(v) for v in a.tolist()) + "]"


def json_tree(i, t, nf):
    parts = ['"base_weights":' + json_array(t["base_weights"]),
             '"categories":[]', '"categories_nodes":[]', '"categories_segments":[]',
             '"categories_sizes":[]',
             '"default_left":' + json_array(t["default_left"]),
             '"id":%d' % i]
    for k in ("left_children", "loss_changes", "parents", "right_children", "split_conditions",
              "split_indices", "split_type", "sum_hessian"):
        parts.append('"%s":%s' % (k, json_array(t[k])))
    n = len(t["left_children"])
    parts.append('"tree_param":{"num_deleted":"0","num_feature":"%d","num_nodes":"%d",'
                 '"size_leaf_vector":"0"}' % (nf, n))
    return "{" + ",".join(parts) + "}"


# ---- UBJSON (XGBoost's UBJWriter: big-endian, 'L' lengths, typed arrays without ']') --------

def u_key(k):
    b = k.encode()
    return b"L" + struct.pack(">q", len(b)) + b


def u_str(s):
    return b"S" + u_key(s)


def u_typed(a):
    code = {np.dtype(np.float32): (b"d", ">f4"), np.dtype(np.int32): (b"l", ">i4"),
            np.dtype(np.uint8): (b"U", "u1"), np.dtype(np.int64): (b"L", ">i8")}[a.dtype]
    return b"[$" + code[0] + b"#L" + struct.pack(">q", len(a)) + a.astype(code[1]).tobytes()


def u_obj(items):
    return b"{" + b"".join(u_key(k) + v for k, v in items) + b"}"


def ubj_tree(i, t, nf):
    empty = u_typed(np.zeros(0, np.int32))
    n = len(t["left_children"])
    items = [("base_weights", u_typed(t["base_weights"])), ("categories", empty),
             ("categories_nodes", empty), ("categories_segments", u_typed(np.zeros(0, np.int64))),
             ("categories_sizes", u_typed(np.zeros(0, np.int64))),
             ("default_left", u_typed(t["default_left"])), ("id", b"L" + struct.pack(">q", i))]
    for k in ("left_children", "loss_changes", "parents", "right_children", "split_conditions",
              "split_indices", "split_type", "sum_hessian"):
        items.append((k, u_typed(t[k])))
    items.append(("tree_param", u_obj([("num_deleted", u_str("0")),
                                       ("num_feature", u_str(str(nf))),
                                       ("num_nodes", u_str(str(n))),
                                       ("size_leaf_vector", u_str("0"))])))
    return u_obj(items)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--trees", type=int, default=5000)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=700, help="about this many nodes per tree")
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ubj", action="store_true", help="UBJSON (also when OUT ends in .ubj)")
    a = ap.parse_args()
    ubj = a.ubj or a.out.endswith(".ubj")
    # expected size of a tree grown with split probability p below depth 2: solve numerically
    def size(p):
        n, width = 1, 1
        for d in range(a.depth):
            width = width * 2 * (1 if d < 2 else p)
            n += width
        return n
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if size(mid) < a.nodes else (lo, mid)
    p = lo
    rng = np.random.default_rng(a.seed)
    nf = a.features
    with open(a.out, "wb") as f:
        if ubj:
            head = (b"{" + u_key("learner") + b"{" + u_key("attributes") + b"{}" +
                    u_key("feature_names") + b"[#L" + struct.pack(">q", 0) +
                    u_key("feature_types") + b"[#L" + struct.pack(">q", 0) +
                    u_key("gradient_booster") + b"{" + u_key("model") + b"{" +
                    u_key("gbtree_model_param") +
                    u_obj([("num_parallel_tree", u_str("1")), ("num_trees", u_str(str(a.trees))),
                           ("size_leaf_vector", u_str("0"))]) +
                    u_key("tree_info") + b"[#L" + struct.pack(">q", a.trees) + b"i\x00" * a.trees +
                    u_key("trees") + b"[#L" + struct.pack(">q", a.trees))
            f.write(head)
            for i in range(a.trees):
                f.write(ubj_tree(i, tree_arrays(rng, a.depth, p, nf), nf))
            tail = (b"}" + u_key("name") + u_str("gbtree") + b"}" +
                    u_key("learner_model_param") +
                    u_obj([("base_score", u_str("5E-1")), ("boost_from_average", u_str("1")),
                           ("num_class", u_str("0")), ("num_feature", u_str(str(nf))),
                           ("num_target", u_str("1"))]) +
                    u_key("name") + u_str("generic") + u_key("objective") +
                    u_obj([("name", u_str("binary:logistic")),
                           ("reg_loss_param", u_obj([("scale_pos_weight", u_str("1"))]))]) +
                    b"}" + u_key("version") + b"[#L" + struct.pack(">q", 3) +
                    b"".join(b"L" + struct.pack(">q", v) for v in (1, 7, 6)) + b"}")
            f.write(tail)
        else:
            f.write(('{"learner":{"attributes":{},"feature_names":[],"feature_types":[],'
                     '"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1",'
                     '"num_trees":"%d","size_leaf_vector":"0"},"tree_info":[%s],"trees":['
                     % (a.trees, ",".join(["0"] * a.trees))).encode())
            for i in range(a.trees):
                if i:
                    f.write(b",")
                f.write(json_tree(i, tree_arrays(rng, a.depth, p, nf), nf).encode())
            f.write((']},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1",'
                     '"boost_from_average":"1","num_class":"0","num_feature":"%d",'
                     '"num_target":"1"},"name":"generic","objective":{"name":"binary:logistic",'
                     '"reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,6]}\n'
                     % nf).encode())


if __name__ == "__main__":
    sys.exit(main())
