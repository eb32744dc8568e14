#!/usr/bin/python3
"""lgbm_contrib_oracle.py — an independent oracle for LightGBM's pred_contrib=True.

LightGBM's Python package is not available here, so this script reads a LightGBM text model
itself (no code shared with the C importer, nor with tests/lgbm_reference.py) and computes the
feature contributions LightGBM's Predictor returns with predict_contrib:

  (a) by the textbook recursive TreeSHAP (Lundberg, Erion, Lee 2018, "Consistent
      individualized feature attribution for tree ensembles", Algorithm 2: EXTEND, UNWIND,
      UNWOUND-SUM over the unique path), with each node's cover the data count LightGBM stores
      (internal_count / leaf_count: what its Tree::TreeSHAP reads through data_count()), and
      the bias the cover-weighted mean of the leaves (Tree::ExpectedValue);
  (b) on small trees (at most --brute-max features), cross-checked by brute force: the exact
      Shapley values over the tree's own features of v(S) = E[f(x) | x_S], the cover-weighted
      conditional expectation (Algorithm 1, EXPVALUE), summed over all subsets with the weights
      |S|! (M − |S| − 1)! / M!. (a) and (b) must agree within 1e-9 relative.

Layout as LightGBM's GBDT::PredictContrib: per row, per class k (num_tree_per_iteration),
num_features = max_feature_idx + 1 contributions then the bias; trees of class k are those with
index ≡ k mod num_class. Like LightGBM, random forests (average_output) are NOT averaged: the
contributions sum to the sum of the trees' outputs (LightGBM issue #6217), and linear trees are
refused ("Predicting SHAP feature contributions is not implemented for linear trees.").

Decisions as LightGBM's dense-row predictor: every |x| <= kZeroThreshold (1e-35f) is read as
0.0 before the trees see it; Tree::NumericalDecision (NaN is 0 unless missing type NaN; missing
type Zero or NaN sends such values to the default side; x <= threshold goes left) and
Tree::CategoricalDecision (NaN or a negative int cast goes right; the int cast in the bitset goes
left). Rows are doubles; --f32 rounds them to float32 first (what lm_predict_contrib sees).

Usage:
  lgbm_contrib_oracle.py MODEL.txt INPUT.csv [--f32] [-o OUT.csv] [--brute-rows N]
  lgbm_contrib_oracle.py --gen DIR...   writes DIR/expected_contrib.csv and
                                        DIR/expected_contrib_f32.csv (model.txt, input.csv),
                                        brute-force cross-checks the first rows, prints the
                                        largest difference (a) vs (b)
  lgbm_contrib_oracle.py --gen-handmade DIR NAME...
                                        the same for DIR/NAME.txt and DIR/NAME.csv, written
                                        to DIR/NAME.contrib.csv and DIR/NAME.f32.contrib.csv
Output: one line per row, values %.12g (1e-12 relative: far below the tests' 1e-5),
comma-separated.
"""
import itertools
import math
import os
import struct
import sys

KZERO = struct.unpack("f", struct.pack("f", 1e-35))[0]  # kZeroThreshold, a float widened


class Tree:
    def __init__(self, kv):
        self.num_leaves = int(kv["num_leaves"])
        self.linear = kv.get("is_linear", "0").strip() == "1"
        self.leaf_value = [float(t) for t in kv["leaf_value"].split()]
        n = self.num_leaves - 1
        ints = lambda k: [int(t) for t in kv[k].split()] if n > 0 else []
        self.split_feature = ints("split_feature")
        self.threshold = [float(t) for t in kv["threshold"].split()] if n > 0 else []
        self.decision_type = ints("decision_type") if "decision_type" in kv else [0] * n
        self.left = ints("left_child")
        self.right = ints("right_child")
        if n > 0:
            self.leaf_count = [float(t) for t in kv["leaf_count"].split()]
            self.internal_count = [float(t) for t in kv["internal_count"].split()]
        self.cat_boundaries = [int(t) for t in kv.get("cat_boundaries", "").split()]
        self.cat_threshold = [int(t) for t in kv.get("cat_threshold", "").split()]

    # node ids as LightGBM: internal >= 0, leaf ~j < 0
    def count(self, node):
        return self.internal_count[node] if node >= 0 else self.leaf_count[~node]

    def decide(self, x, node):
        fval = x[self.split_feature[node]]
        dt = self.decision_type[node]
        if dt & 1:  # categorical
            if math.isnan(fval):
                return self.right[node]
            i = int(fval) if -2147483648.0 < fval < 2147483648.0 else -2147483648
            if i < 0:
                return self.right[node]
            c = int(self.threshold[node])
            lo, hi = self.cat_boundaries[c], self.cat_boundaries[c + 1]
            if i // 32 < hi - lo and (self.cat_threshold[lo + i // 32] >> (i % 32)) & 1:
                return self.left[node]
            return self.right[node]
        missing = (dt >> 2) & 3
        if math.isnan(fval) and missing != 2:
            fval = 0.0
        if (missing == 1 and -KZERO <= fval <= KZERO) or (missing == 2 and math.isnan(fval)):
            return self.left[node] if dt & 2 else self.right[node]
        return self.left[node] if fval <= self.threshold[node] else self.right[node]

    def expected_value(self):
        if self.num_leaves == 1:
            return self.leaf_value[0]
        total = self.internal_count[0]
        return sum(self.leaf_count[j] / total * self.leaf_value[j] for j in range(self.num_leaves))

    def features(self):
        return sorted(set(self.split_feature))

    # ---- (a) Algorithm 2 of Lundberg et al., written from the paper ----
    def treeshap(self, x, phi):
        if self.num_leaves == 1:
            return

        def extend(m, pz, po, pi):
            m = [list(e) for e in m]  # elements [feature, zero, one, weight]
            l = len(m)
            m.append([pi, pz, po, 1.0 if l == 0 else 0.0])
            for i in range(l - 1, -1, -1):
                m[i + 1][3] += po * m[i][3] * (i + 1) / (l + 1)
                m[i][3] = pz * m[i][3] * (l - i) / (l + 1)
            return m

        def unwind(m, i):
            l = len(m) - 1
            n = m[l][3]
            m = [list(e) for e in m]
            z, o = m[i][1], m[i][2]
            for j in range(l - 1, -1, -1):
                if o != 0:
                    t = m[j][3]
                    m[j][3] = n * (l + 1) / ((j + 1) * o)
                    n = t - m[j][3] * z * (l - j) / (l + 1)
                else:
                    m[j][3] = m[j][3] * (l + 1) / (z * (l - j))
            for j in range(i, l):
                m[j][0], m[j][1], m[j][2] = m[j + 1][0], m[j + 1][1], m[j + 1][2]
            return m[:l]

        def recurse(j, m, pz, po, pi):
            m = extend(m, pz, po, pi)
            if j < 0:  # leaf
                v = self.leaf_value[~j]
                for i in range(1, len(m)):
                    w = sum(e[3] for e in unwind(m, i))
                    phi[m[i][0]] += w * (m[i][2] - m[i][1]) * v
                return
            h = self.decide(x, j)
            c = self.right[j] if h == self.left[j] else self.left[j]
            iz = io = 1.0
            d = self.split_feature[j]
            for k in range(1, len(m)):
                if m[k][0] == d:
                    iz, io = m[k][1], m[k][2]
                    m = unwind(m, k)
                    break
            rj = self.count(j)
            recurse(h, m, iz * self.count(h) / rj, io, d)
            recurse(c, m, iz * self.count(c) / rj, 0.0, d)

        recurse(0, [], 1.0, 1.0, -1)

    # ---- (b) brute force: exact Shapley values of v(S) = E[f(x) | x_S] ----
    def expvalue(self, x, S, j=0):
        if j < 0:
            return self.leaf_value[~j]
        if self.split_feature[j] in S:
            return self.expvalue(x, S, self.decide(x, j))
        l, r = self.left[j], self.right[j]
        return (self.count(l) * self.expvalue(x, S, l) +
                self.count(r) * self.expvalue(x, S, r)) / self.count(j)

    def brute(self, x, phi):
        if self.num_leaves == 1:
            return
        feats = self.features()
        M = len(feats)
        v = {}
        for k in range(M + 1):
            for S in itertools.combinations(feats, k):
                v[frozenset(S)] = self.expvalue(x, frozenset(S))
        for i in feats:
            rest = [f for f in feats if f != i]
            for k in range(M):
                w = math.factorial(k) * math.factorial(M - k - 1) / math.factorial(M)
                for S in itertools.combinations(rest, k):
                    s = frozenset(S)
                    phi[i] += w * (v[s | {i}] - v[s])


def parse_model(path):
    with open(path) as fh:
        lines = fh.read().split("\n")
    head, trees, cur, linear_param = {}, [], None, False
    for ln in lines:
        if ln.startswith("Tree="):
            cur = {}
            trees.append(cur)
            continue
        if ln.startswith("end of trees"):
            cur = None
            continue
        if ln.startswith("[linear_tree: 1]"):
            linear_param = True
        if "=" in ln:
            k, v = ln.split("=", 1)
            (cur if cur is not None else head).setdefault(k, v)
    nf = int(head["max_feature_idx"]) + 1
    nc = int(head.get("num_tree_per_iteration", head.get("num_class", "1")))
    ts = [Tree(t) for t in trees]
    if linear_param or any(t.linear for t in ts):
        raise SystemExit("%s: Predicting SHAP feature contributions is not implemented for "
                         "linear trees." % path)
    return nf, nc, ts


def read_rows(path, f32):
    rows = []
    with open(path) as fh:
        for ln in fh:
            ln = ln.strip()
            if not ln:
                continue
            r = [float(t) if t not in ("", "NA") else math.nan for t in ln.split(",")]
            if f32:
                r = [struct.unpack("f", struct.pack("f", v))[0] if not math.isnan(v) else v
                     for v in r]
            rows.append(r)
    return rows


def prepare(x):
    # the dense-row predictor: non-NaN |x| <= kZeroThreshold is not stored (read as 0.0)
    return [0.0 if (not math.isnan(v) and abs(v) <= KZERO) else v for v in x]


def contrib(model, x, method="treeshap"):
    nf, nc, trees = model
    x = prepare(x) + [0.0] * max(0, nf - len(x))
    out = [0.0] * (nc * (nf + 1))
    for t, tr in enumerate(trees):
        k = t % nc
        phi = [0.0] * (nf + 1)
        getattr(tr, method)(x, phi)
        phi[nf] += tr.expected_value()
        for i in range(nf + 1):
            out[k * (nf + 1) + i] += phi[i]
    return out


def write(path, rows):
    with open(path, "w") as fh:
        for r in rows:
            fh.write(",".join("%.12g" % v for v in r) + "\n")


def brute_check(model, rows, nrows, max_feats):
    """Largest |(a) − (b)| / (1 + |(a)|) over the first nrows rows, trees of ≤ max_feats."""
    nf, nc, trees = model
    small = [t for t in trees if len(t.features()) <= max_feats]
    sub = (nf, nc, small)
    worst = 0.0
    for x in rows[:nrows]:
        a = contrib(sub, x, "treeshap")
        b = contrib(sub, x, "brute")
        for u, v in zip(a, b):
            worst = max(worst, abs(u - v) / (1 + abs(u)))
    return worst, len(small), len(trees)


def main(argv):
    brute_rows, brute_max = 20, 8
    if "--brute-rows" in argv:
        i = argv.index("--brute-rows")
        brute_rows = int(argv[i + 1])
        del argv[i:i + 2]
    if argv and argv[0] in ("--gen", "--gen-handmade"):
        jobs = []
        if argv[0] == "--gen":
            for d in argv[1:]:
                jobs.append((d, os.path.join(d, "model.txt"), os.path.join(d, "input.csv"),
                             os.path.join(d, "expected_contrib.csv"),
                             os.path.join(d, "expected_contrib_f32.csv")))
        else:
            for n in argv[2:]:
                b = os.path.join(argv[1], n)
                jobs.append((b, b + ".txt", b + ".csv", b + ".contrib.csv", b + ".f32.contrib.csv"))
        for d, mp, ip, o64, o32 in jobs:
            try:
                model = parse_model(mp)
            except SystemExit as e:
                print("%s: skipped: %s" % (d, e))
                continue
            for f32, name in ((False, o64), (True, o32)):
                rows = read_rows(ip, f32)
                write(name, [contrib(model, x) for x in rows])
            rows = read_rows(ip, False)
            worst, ns, nt = brute_check(model, rows, brute_rows, brute_max)
            if worst > 1e-9:
                raise SystemExit("%s: TreeSHAP and brute force differ by %g" % (d, worst))
            print("%s: written; brute force on %d rows, %d of %d trees: max rel diff %.3g" %
                  (d, min(brute_rows, len(rows)), ns, nt, worst))
        return 0
    f32 = "--f32" in argv
    argv = [a for a in argv if a != "--f32"]
    out = None
    if "-o" in argv:
        i = argv.index("-o")
        out = argv[i + 1]
        del argv[i:i + 2]
    model = parse_model(argv[0])
    rows = read_rows(argv[1], f32)
    res = [contrib(model, x) for x in rows]
    if out:
        write(out, res)
    else:
        for r in res:
            print(",".join("%.17g" % v for v in r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
