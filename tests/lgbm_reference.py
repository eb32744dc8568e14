#!/usr/bin/python3
"""lgbm_reference.py — an independent reference evaluator for LightGBM text models (model.txt,
v2–v4), in pure Python (standard library only, IEEE double precision). It is the oracle of the
LightGBM tests (tests/test_lightgbm_parity.c): it shares no code with the C importer
(formats/import/lightgbm_txt.c) and follows LightGBM's own prediction code path step by step:

  * the dense-row predictor (c_api.cpp RowPairFunctionFromDenseMatric): a value v with
    |v| <= kZeroThreshold that is not NaN is dropped from the row, i.e. read as 0.0;
    kZeroThreshold is the float32 constant 1e-35f widened to double (1.0000000180025095e-35);
  * Tree::NumericalDecision: NaN with missing type != NaN becomes 0.0; missing type Zero and
    |v| <= kZeroThreshold, or missing type NaN and v NaN, take the default direction; otherwise
    left iff v <= threshold (double);
  * Tree::CategoricalDecision: NaN goes right; i = static_cast<int>(v) (truncation; on x86-64 a
    value outside int32 becomes INT_MIN); i < 0 goes right; left iff bit i is set in the node's
    bitset cat_threshold[cat_boundaries[t] .. cat_boundaries[t+1]), t = (int)threshold;
  * linear trees: leaf_const + sum(coeff * v) over the leaf's features, added in order; any of
    those v NaN: the leaf's leaf_value;
  * GBDT::PredictRaw: per output, 0.0 plus the trees in file order (tree i goes to output
    i % num_tree_per_iteration), in double; average_output: divided by the number of iterations;
  * ObjectiveFunction::ConvertOutput of the objective in the model's objective= line.

Usage:
  lgbm_reference.py MODEL.txt ROWS.csv [--float32] [--margin OUT.csv] [--value OUT.csv]
                    [--leaf OUT.csv]
      Score the CSV rows (no header; empty, nan, NaN, NA = missing). --float32 first rounds
      every input to float32 (what a float32 row holds), as lm_predict receives it. Without
      --margin/--value/--leaf, prints "margins ; values" per row. Numbers are written with
      %.17g; --leaf writes per tree LightGBM's index of the leaf reached (as pred_leaf).
  lgbm_reference.py --check FIXTURE_DIR...
      Compare against a fixture's expected_margin.csv / expected_value.csv (outputs of
      LightGBM itself, see tests/fixtures/lightgbm/README.md); prints the largest differences
      and exits non-zero if any exceeds 1e-12 relative.
"""
import ctypes
import math
import sys

K_ZERO_THRESHOLD = ctypes.c_float(1e-35).value  # 1e-35f as double
INT_MIN = -(2 ** 31)


def f32(x):
    """x rounded to the nearest float32 (overflow to +-inf), as a C cast does."""
    return ctypes.c_float(x).value


class ModelError(Exception):
    pass


def _tokens(s):
    return s.split()


def _ints(s, n, what):
    t = _tokens(s)
    if len(t) != n:
        raise ModelError("%s: %d values, expected %d" % (what, len(t), n))
    return [int(v) for v in t]


def _doubles(s, n, what):
    t = _tokens(s)
    if len(t) != n:
        raise ModelError("%s: %d values, expected %d" % (what, len(t), n))
    return [float(v) for v in t]


class Tree:
    def __init__(self, kv, index):
        self.index = index
        L = int(kv["num_leaves"])
        self.num_leaves = L
        self.num_cat = int(kv.get("num_cat", "0"))
        self.leaf_value = _doubles(kv["leaf_value"], L, "leaf_value")
        self.is_linear = int(kv.get("is_linear", "0")) != 0
        n = L - 1
        if n > 0:
            self.split_feature = _ints(kv["split_feature"], n, "split_feature")
            self.threshold = _doubles(kv["threshold"], n, "threshold")
            self.decision_type = (_ints(kv["decision_type"], n, "decision_type")
                                  if "decision_type" in kv else [0] * n)
            self.left = _ints(kv["left_child"], n, "left_child")
            self.right = _ints(kv["right_child"], n, "right_child")
        if self.num_cat > 0:
            self.cat_boundaries = _ints(kv["cat_boundaries"], self.num_cat + 1, "cat_boundaries")
            self.cat_threshold = _ints(kv["cat_threshold"], self.cat_boundaries[-1],
                                       "cat_threshold")
        if self.is_linear:
            self.leaf_const = _doubles(kv["leaf_const"], L, "leaf_const")
            nf = _ints(kv["num_features"], L, "num_features")
            feats = _ints(kv.get("leaf_features", ""), sum(nf), "leaf_features")
            coeffs = _doubles(kv.get("leaf_coeff", ""), sum(nf), "leaf_coeff")
            self.leaf_features, self.leaf_coeff = [], []
            k = 0
            for j in range(L):
                self.leaf_features.append(feats[k:k + nf[j]])
                self.leaf_coeff.append(coeffs[k:k + nf[j]])
                k += nf[j]

    # -- Tree::NumericalDecision / CategoricalDecision -----------------------------------
    def _numerical(self, v, node):
        dt = self.decision_type[node]
        missing = (dt >> 2) & 3
        if math.isnan(v) and missing != 2:
            v = 0.0
        if (missing == 1 and -K_ZERO_THRESHOLD <= v <= K_ZERO_THRESHOLD) or \
                (missing == 2 and math.isnan(v)):
            return self.left[node] if dt & 2 else self.right[node]
        return self.left[node] if v <= self.threshold[node] else self.right[node]

    def _categorical(self, v, node):
        if math.isnan(v):
            return self.right[node]
        if math.isinf(v):
            i = INT_MIN
        else:
            i = math.trunc(v)
            if i < INT_MIN or i > 2 ** 31 - 1:
                i = INT_MIN  # cvttsd2si's "integer indefinite"
        if i < 0:
            return self.right[node]
        t = int(self.threshold[node])
        lo, hi = self.cat_boundaries[t], self.cat_boundaries[t + 1]
        w = i // 32
        if w < hi - lo and (self.cat_threshold[lo + w] >> (i % 32)) & 1:
            return self.left[node]
        return self.right[node]

    def leaf(self, x):
        """Leaf index (LightGBM's) reached by row x."""
        if self.num_leaves <= 1:
            return 0
        node = 0
        while node >= 0:
            v = x[self.split_feature[node]]
            if self.decision_type[node] & 1:
                node = self._categorical(v, node)
            else:
                node = self._numerical(v, node)
        return ~node

    def predict(self, x):
        j = self.leaf(x)
        if not self.is_linear:
            return self.leaf_value[j]
        out = self.leaf_const[j]
        for f, c in zip(self.leaf_features[j], self.leaf_coeff[j]):
            v = x[f]
            if math.isnan(v):
                return self.leaf_value[j]
            out += c * v
        return out


class Model:
    def __init__(self, text):
        lines = text.replace("\r\n", "\n").split("\n")
        if not lines or lines[0] != "tree":
            raise ModelError("not a LightGBM text model (first line is not 'tree')")
        self.header = {}
        self.average_output = False
        i = 1
        while i < len(lines) and not lines[i].startswith("Tree="):
            ln = lines[i]
            if ln == "average_output":
                self.average_output = True
            elif "=" in ln:
                k, v = ln.split("=", 1)
                self.header[k] = v
            i += 1
        h = self.header
        self.version = h.get("version", "")
        self.num_class = int(h["num_class"])
        self.K = int(h.get("num_tree_per_iteration", h["num_class"]))
        self.num_features = int(h["max_feature_idx"]) + 1
        self.objective = h.get("objective", "").split()
        self.trees = []
        while i < len(lines):
            ln = lines[i]
            if ln.startswith("Tree="):
                kv = {}
                i += 1
                while i < len(lines) and lines[i] != "":
                    k, v = lines[i].split("=", 1)
                    kv[k] = v
                    i += 1
                self.trees.append(Tree(kv, len(self.trees)))
            elif ln == "end of trees" or ln.startswith("feature importances:") or \
                    ln.startswith("feature_importances:") or ln.startswith("parameters:"):
                break
            else:
                i += 1
        if len(self.trees) % self.K:
            raise ModelError("%d trees for %d per iteration" % (len(self.trees), self.K))
        self.n_iter = len(self.trees) // self.K
        self._objective_setup()

    def _objective_setup(self):
        name = self.objective[0] if self.objective else "custom"
        self.obj_name = name
        self.sigmoid = 1.0
        self.sqrt = False
        for p in self.objective[1:]:
            if p == "sqrt":
                self.sqrt = True
            elif p.startswith("sigmoid:"):
                self.sigmoid = float(p.split(":", 1)[1])

    def _row(self, row):
        if len(row) != self.num_features:
            raise ModelError("row has %d values, model %d features"
                             % (len(row), self.num_features))
        # LightGBM's dense predictor drops |v| <= kZeroThreshold (not NaN): they read as 0.0
        return [v if (math.isnan(v) or abs(v) > K_ZERO_THRESHOLD) else 0.0 for v in row]

    def leaf_ids(self, row):
        """Per tree, LightGBM's leaf index of the leaf reached (what pred_leaf gives, and what
        lm_predict_leaf returns for LightGBM models)."""
        x = self._row(row)
        return [t.leaf(x) for t in self.trees[:self.n_iter * self.K]]

    def margins(self, row):
        x = self._row(row)
        out = [0.0] * self.K
        for it in range(self.n_iter):
            for k in range(self.K):
                out[k] += self.trees[it * self.K + k].predict(x)
        if self.average_output:
            out = [o / self.n_iter for o in out]
        return out

    def transform(self, m):
        n = self.obj_name
        if n in ("binary", "multiclassova"):
            return [1.0 / (1.0 + _exp(-self.sigmoid * v)) for v in m]
        if n == "multiclass":
            wmax = max(m)
            e = [_exp(v - wmax) for v in m]
            s = 0.0
            for v in e:
                s += v
            return [v / s for v in e]
        if n == "cross_entropy":
            return [1.0 / (1.0 + _exp(-m[0]))]
        if n == "cross_entropy_lambda":
            # xentropy_objective.hpp: std::log(1.0f + std::exp(x)) (not log1p)
            return [math.log(1.0 + _exp(m[0]))]
        if n in ("poisson", "gamma", "tweedie"):
            return [_exp(m[0])]
        if n in ("regression", "regression_l1", "quantile", "fair", "mape") and self.sqrt:
            # RegressionL2loss::ConvertOutput: Sign(x) * x * x (huber disables sqrt)
            return [float((v > 0) - (v < 0)) * v * v for v in m]
        return list(m)

    def predict(self, row):
        m = self.margins(row)
        return m, self.transform(m)


def _exp(v):
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def parse_value(s):
    s = s.strip()
    if s in ("", "nan", "NaN", "NA", "-nan"):
        return math.nan
    return float(s)


def read_rows(path, as_float32=False):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            r = [parse_value(c) for c in line.split(",")]
            if as_float32:
                r = [f32(v) for v in r]
            rows.append(r)
    return rows


def fmt(v):
    return "%.17g" % v


def check_fixture(d):
    import os
    with open(os.path.join(d, "model.txt")) as f:
        model = Model(f.read())
    rows = read_rows(os.path.join(d, "input.csv"))

    def read_expected(name):
        with open(os.path.join(d, name)) as f:
            return [[float(c) for c in ln.strip().split(",")] for ln in f if ln.strip()]
    em, ev = read_expected("expected_margin.csv"), read_expected("expected_value.csv")
    assert len(em) == len(rows) == len(ev), (len(em), len(rows), len(ev))
    worst = {"margin": 0.0, "value": 0.0}
    exact = {"margin": 0, "value": 0}
    for r, wm, wv in zip(rows, em, ev):
        m, v = model.predict(r)
        for kind, got, want in (("margin", m, wm), ("value", v, wv)):
            assert len(got) == len(want)
            same = True
            for a, b in zip(got, want):
                if a != b:
                    same = False
                    rel = abs(a - b) / max(1.0, abs(b))
                    worst[kind] = max(worst[kind], rel)
            exact[kind] += same
    print("%-32s rows %3d  margins exact %3d (max rel diff %.3g)  values exact %3d "
          "(max rel diff %.3g)" % (os.path.basename(d.rstrip("/")), len(rows), exact["margin"],
                                   worst["margin"], exact["value"], worst["value"]))
    return max(worst.values()) <= 1e-12


def main(argv):
    if len(argv) >= 2 and argv[1] == "--check":
        ok = all([check_fixture(d) for d in argv[2:]])
        return 0 if ok else 1
    args = [a for a in argv[1:]]
    as_f32 = "--float32" in args
    if as_f32:
        args.remove("--float32")
    out_m = out_v = out_l = None
    if "--leaf" in args:
        i = args.index("--leaf")
        out_l = args[i + 1]
        del args[i:i + 2]
    if "--margin" in args:
        i = args.index("--margin")
        out_m = args[i + 1]
        del args[i:i + 2]
    if "--value" in args:
        i = args.index("--value")
        out_v = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(args[0]) as f:
        model = Model(f.read())
    rows = read_rows(args[1], as_f32)
    res = [model.predict(r) for r in rows]
    if out_l:
        with open(out_l, "w") as f:
            for r in rows:
                f.write(",".join(map(str, model.leaf_ids(r))) + "\n")
    if out_m is None and out_v is None and out_l is None:
        for m, v in res:
            print(",".join(map(fmt, m)) + " ; " + ",".join(map(fmt, v)))
    for path, idx in ((out_m, 0), (out_v, 1)):
        if path:
            with open(path, "w") as f:
                for r in res:
                    f.write(",".join(map(fmt, r[idx])) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
