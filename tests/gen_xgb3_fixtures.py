#!/usr/bin/python3
"""gen_xgb3_fixtures.py — synthetic XGBoost 2.x/3.x model files for what the real 3.0.5 artifacts
(tests/fixtures/xgboost-3/real/, trained with XGBoost 3.0.5) do not cover: later versions' layouts
of the same models. No XGBoost later than 1.7.4 is installable here, so each synthetic file is a
real 3.0.5 model rewritten field by field into the layout a later version writes, as XGBoost's own
source at that tag saves it (dmlc/xgboost, tags v3.1.0, v3.2.0, v3.3.0):

- 3.1 (src/learner.cc LearnerModelParamLegacy::ToJson): base_score is a vector string, one
  intercept per output ("[1E-1,-2.5E-1,3E-1]"); gbtree's model has a categories container "cats"
  ({"enc": [], "feature_segments": [], "sorted_idx": []} when no DataFrame categories were seen;
  src/data/cat_container.cc CatContainer::Save).
- 3.2 (src/tree/multi_target_tree_model.cc SaveModel): vector-leaf trees carry "leaf_weights", one
  vector per leaf in node order, and a leaf's right_children entry is its row in leaf_weights.
- 3.3 (src/gbm/gbtree.cc GBTree::SaveModel): DART is saved under name "gbtree" with "weight_drop"
  beside "model" (no separate "dart" object).

Expected outputs: where only the layout changes, XGBoost 3.0.5's own recorded predictions (the
prediction is the same by construction); where values change (per-output base scores,
best_iteration truncation) a float32 reference scorer below, checked first against every real
fixture it can score (bit-identical, or the script stops). Outputs go to
tests/fixtures/xgboost-3/synthetic/<case>/ (model file, input.csv, expected_*.csv or
expected_error.txt) and a MANIFEST. Run with Debian's /usr/bin/python3 (numpy); deterministic.
"""
import json
import os
import shutil
import struct
import sys
import tarfile
import io

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.path.join(HERE, "fixtures", "xgboost-3", "real")
OUT = os.path.join(HERE, "fixtures", "xgboost-3", "synthetic")


# ---- UBJSON (XGBoost's dialect: big-endian, counted arrays without ']', typed arrays) ----------
def ubj_load(b):
    pos = 0

    def rd(n):
        nonlocal pos
        v = b[pos:pos + n]
        pos += n
        return v

    def num(t):
        if t == b"i": return struct.unpack(">b", rd(1))[0]
        if t == b"U": return struct.unpack(">B", rd(1))[0]
        if t == b"I": return struct.unpack(">h", rd(2))[0]
        if t == b"l": return struct.unpack(">i", rd(4))[0]
        if t == b"L": return struct.unpack(">q", rd(8))[0]
        if t == b"d": return float(str(np.float32(struct.unpack(">f", rd(4))[0])))  # shortest text
        if t == b"D": return struct.unpack(">d", rd(8))[0]
        raise ValueError("type %r at %d" % (t, pos))

    def length():
        return num(rd(1))

    def val(t=None):
        if t is None: t = rd(1)
        if t == b"{":
            o = {}
            while True:
                if b[pos:pos + 1] == b"}":
                    rd(1)
                    return o
                k = rd(length()).decode()
                o[k] = val()
        if t == b"[":
            if b[pos:pos + 1] == b"$":
                rd(1)
                et = rd(1)
                assert rd(1) == b"#"
                n = length()
                return [num(et) for _ in range(n)]
            if b[pos:pos + 1] == b"#":
                rd(1)
                n = length()
                return [val() for _ in range(n)]
            a = []
            while b[pos:pos + 1] != b"]":
                a.append(val())
            rd(1)
            return a
        if t == b"S": return rd(length()).decode()
        if t == b"T": return True
        if t == b"F": return False
        if t == b"Z": return None
        return num(t)

    return val()


def fstr(x):
    """XGBoost's float text: shortest round-trip float32 ("5E-1"); repr of the float32 works."""
    s = np.format_float_scientific(np.float32(x), unique=True, trim="-").upper()
    m, e = s.split("E")
    return "%sE%d" % (m, int(e))


def load_real(case):
    with tarfile.open(os.path.join(REAL, case, "model.tar.gz")) as t:
        raw = t.extractfile("xgboost-model").read()
    return json.loads(raw) if raw[:1] == b"{" and raw[1:2] == b'"' else ubj_load(raw)


def read_csv(path):
    rows = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line: continue
        rows.append([np.float32(v) if v != "" else np.float32("nan") for v in line.split(",")])
    return np.array(rows, dtype=np.float32)


# ---- float32 reference scorer (XGBoost's prediction, input-formats.md §5) ----------------------
def leaf_of(tree, x):
    lc, rc = tree["left_children"], tree["right_children"]
    si, sc, dl = tree["split_indices"], tree["split_conditions"], tree["default_left"]
    n = 0
    while lc[n] != -1:
        v = x[si[n]]
        if np.isnan(v): n = lc[n] if dl[n] else rc[n]
        else: n = lc[n] if v < np.float32(sc[n]) else rc[n]
    return n


def margins(model, X, keep_rounds=None):
    L = model["learner"]
    p = L["learner_model_param"]
    G = max(int(p["num_class"]), int(p.get("num_target", "1")), 1)
    bs = p["base_score"].strip("[]").split(",")
    base = [np.float32(float(v)) for v in bs]
    if len(base) == 1: base = base * G
    assert L["objective"]["name"] in ("reg:squarederror", "reg:quantileerror")  # identity link
    gb = L["gradient_booster"]
    m = gb["model"]
    trees, info = m["trees"], m["tree_info"]
    if keep_rounds is not None:
        ip = m["iteration_indptr"]
        trees, info = trees[:ip[keep_rounds]], info[:ip[keep_rounds]]
    out = np.zeros((len(X), G), dtype=np.float32)
    for r, x in enumerate(X):
        acc = [np.float32(b) for b in base]
        for t, g in zip(trees, info):
            T = int(t["tree_param"]["size_leaf_vector"])
            n = leaf_of(t, x)
            if T > 1:
                for k in range(T):
                    acc[k] = np.float32(acc[k] + np.float32(t["base_weights"][n * T + k]))
            else:
                acc[g] = np.float32(acc[g] + np.float32(t["split_conditions"][n]))
        out[r] = acc
    return out


def write_csv(path, a):
    with open(path, "w") as f:
        for row in a:
            f.write(",".join("%.9g" % v for v in row) + "\n")


def self_check():
    for case in ("vector_leaf_3targets_json", "one_output_per_tree_3targets_ubj",
                 "quantile_3alpha_json"):
        X = read_csv(os.path.join(REAL, case, "input.csv"))
        want = read_csv(os.path.join(REAL, case, "expected_margin.csv"))
        got = margins(load_real(case), X)
        if not np.array_equal(got, want):
            sys.exit("reference scorer disagrees with XGBoost 3.0.5 on %s" % case)
    print("reference scorer: bit-identical to XGBoost 3.0.5 on 3 real multi-output fixtures")


# ---- layout rewrites ---------------------------------------------------------------------------
def to_v31(model, bases=None):
    model["version"] = [3, 1, 0]
    p = model["learner"]["learner_model_param"]
    G = max(int(p["num_class"]), int(p["num_target"]), 1)
    if bases is None: bases = [float(p["base_score"])] * G
    p["base_score"] = "[" + ",".join(fstr(b) for b in bases) + "]"
    gb = model["learner"]["gradient_booster"]
    m = gb["model"] if "model" in gb else gb["gbtree"]["model"]
    m["cats"] = {"enc": [], "feature_segments": [], "sorted_idx": []}
    return model


def to_v32_leaf_weights(model):
    to_v31(model)
    model["version"] = [3, 2, 0]
    for t in model["learner"]["gradient_booster"]["model"]["trees"]:
        T = int(t["tree_param"]["size_leaf_vector"])
        if T <= 1: continue
        lw = []
        for n, l in enumerate(t["left_children"]):
            if l == -1:
                t["right_children"][n] = len(lw) // T
                lw.extend(t["base_weights"][n * T:(n + 1) * T])
        t["leaf_weights"] = lw
    return model


def to_v33_dart(model):
    to_v31(model)
    model["version"] = [3, 3, 0]
    gb = model["learner"]["gradient_booster"]
    assert gb["name"] == "dart"
    inner = gb["gbtree"]
    model["learner"]["gradient_booster"] = {"name": "gbtree", "model": inner["model"],
                                            "weight_drop": gb["weight_drop"]}
    return model


def emit(case, model, src_case, expected=None, error=None, note=""):
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump(model, f, separators=(",", ":"))
    if not error:
        shutil.copy(os.path.join(REAL, src_case, "input.csv"), os.path.join(d, "input.csv"))
    if error:
        open(os.path.join(d, "expected_error.txt"), "w").write(error + "\n")
    elif expected is None:
        for f in ("expected_value.csv", "expected_margin.csv"):
            shutil.copy(os.path.join(REAL, src_case, f), os.path.join(d, f))
    else:
        write_csv(os.path.join(d, "expected_margin.csv"), expected)
        write_csv(os.path.join(d, "expected_value.csv"), expected)  # identity link
    with open(os.path.join(d, "NOTE"), "w") as f:
        f.write("from real/%s: %s\n" % (src_case, note))
    return case


def main():
    self_check()
    if os.path.isdir(OUT): shutil.rmtree(OUT)
    os.makedirs(OUT)
    cases = []
    X = read_csv(os.path.join(REAL, "vector_leaf_3targets_json", "input.csv"))

    # 3.1: per-target intercepts, scalar trees (one output per tree)
    m = to_v31(load_real("one_output_per_tree_3targets_ubj"), [0.25, -1.5, 3.0625])
    cases.append(emit("v31_base_score_vector", m, "one_output_per_tree_3targets_ubj",
                      expected=margins(m, X),
                      note="version 3.1.0, base_score [2.5E-1,-1.5E0,3.0625E0], empty cats"))
    # 3.1: the same intercept for every output, written as a vector
    m = to_v31(load_real("quantile_3alpha_json"))
    cases.append(emit("v31_base_score_uniform", m, "quantile_3alpha_json",
                      note="version 3.1.0, base_score written as a 3-vector of one value"))
    # 3.1: vector leaves with per-target intercepts
    m = to_v31(load_real("vector_leaf_3targets_json"), [-0.5, 0.125, 2.0])
    cases.append(emit("v31_vector_leaf_base_vector", m, "vector_leaf_3targets_json",
                      expected=margins(m, X), note="version 3.1.0, vector leaves, base_score vector"))
    # 3.2: leaf_weights, leaves' right_children = leaf rows
    m = to_v32_leaf_weights(load_real("vector_leaf_3targets_json"))
    cases.append(emit("v32_leaf_weights", m, "vector_leaf_3targets_json",
                      note="version 3.2.0, leaf_weights layout"))
    # 3.2: leaf_weights and best_iteration (SageMaker 3.x endpoints predict rounds 0..best)
    m = load_real("vector_leaf_3targets_json")
    ref = margins(m, X, keep_rounds=13)
    m = to_v32_leaf_weights(m)
    m["learner"]["attributes"] = {"best_iteration": "12", "best_score": "0.5"}
    cases.append(emit("v32_leaf_weights_best_iteration", m, "vector_leaf_3targets_json",
                      expected=ref, note="version 3.2.0, best_iteration 12: first 13 rounds"))
    # 3.3: DART without a "dart" booster name
    m = to_v33_dart(load_real("dart_reg_ubj"))
    cases.append(emit("v33_dart_as_gbtree", m, "dart_reg_ubj",
                      note="version 3.3.0, name gbtree + weight_drop beside model"))
    # 3.1: a non-empty categories container: refused
    m = to_v31(load_real("binary_logistic_json"))
    m["learner"]["gradient_booster"]["model"]["cats"] = {
        "enc": [{"offsets": [0, 1, 2], "values": [97, 98]}], "feature_segments": [0, 2],
        "sorted_idx": [0, 1]}
    cases.append(emit("v31_cats_refused", m, "binary_logistic_json",
                      error="learner.gradient_booster.model.cats.enc: categories container",
                      note="version 3.1.0, one string-category feature recoded: refused"))
    # 3.2: a leaf's leaf_weights row out of range: refused naming the field
    m = to_v32_leaf_weights(load_real("vector_leaf_3targets_json"))
    t = m["learner"]["gradient_booster"]["model"]["trees"][4]
    t["right_children"][t["left_children"].index(-1)] = 100000
    cases.append(emit("v32_leaf_weights_bad_row", m, "vector_leaf_3targets_json",
                      error="learner.gradient_booster.model.trees[4].right_children[",
                      note="version 3.2.0, a leaf's leaf_weights row 100000: refused"))
    # 3.1: two intercepts for three outputs: refused
    m = to_v31(load_real("quantile_3alpha_json"), [0.5, 0.25, 0.125])
    m["learner"]["learner_model_param"]["base_score"] = "[5E-1,2.5E-1]"
    cases.append(emit("v31_base_score_count", m, "quantile_3alpha_json",
                      error="learner.learner_model_param.base_score: 2 values for 3 outputs",
                      note="version 3.1.0, 2 base scores for 3 outputs: refused"))
    # 3.1: gblinear with per-class intercepts that differ: refused (built to the schema)
    m = {"version": [3, 1, 0], "learner": {
        "attributes": {}, "feature_names": [], "feature_types": [],
        "gradient_booster": {"name": "gblinear", "model": {
            "weights": [0.5] * (10 * 3 + 3), "boosted_rounds": 1}},
        "learner_model_param": {"base_score": "[1E-1,2E-1,7E-1]", "boost_from_average": "1",
                                "num_class": "3", "num_feature": "10", "num_target": "1"},
        "objective": {"name": "multi:softprob",
                      "softmax_multiclass_param": {"num_class": "3"}}}}
    cases.append(emit("v31_gblinear_base_vector", m, "binary_logistic_json",
                      error="learner.learner_model_param.base_score: per-output base scores",
                      note="version 3.1.0 gblinear, per-class intercepts: refused"))
    # 3.1: vector leaves whose size is not the number of targets: refused
    m = to_v31(load_real("vector_leaf_3targets_json"))
    m["learner"]["gradient_booster"]["model"]["trees"][0]["tree_param"]["size_leaf_vector"] = "2"
    cases.append(emit("v31_leaf_vector_size", m, "vector_leaf_3targets_json",
                      error="trees[0].tree_param.size_leaf_vector: leaf vectors of size 2",
                      note="version 3.1.0, size_leaf_vector 2 for 3 targets: refused"))
    with open(os.path.join(OUT, "MANIFEST"), "w") as f:
        f.write("# synthetic XGBoost 2.x/3.x cases (tests/gen_xgb3_fixtures.py)\n")
        for c in cases: f.write(c + "\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
