#!/usr/bin/python3
"""Generate the LightGBM test fixtures (tests/fixtures/lightgbm/), standard library only:

    /usr/bin/python3 tests/gen_lightgbm_fixtures.py [--real SRC]

LightGBM is not installable here, so the fixtures are of two kinds:

handmade/  Small model files written by this script in the exact layout LightGBM's
           save_model() writes (header, Tree= blocks with every field LightGBM writes, correct
           tree_sizes, `end of trees`, feature importances, parameters), built the way
           LightGBM's Tree::Split numbers nodes. Together they exercise every decision_type
           (numeric x default_left 0/1 x missing None/Zero/NaN; categorical with single-word,
           multi-word, very large and empty bitsets, shared sets), thresholds written as inf /
           -inf / 1e300 / beyond float32 range / subnormal, one-leaf trees, linear trees (NaN in
           a leaf feature falls back to leaf_value), average_output (random forest, also
           multiclass), and the objectives binary (sigmoid != 1), multiclass, multiclassova,
           regression, regression sqrt, poisson, gamma, tweedie, cross_entropy,
           cross_entropy_lambda, plus a v2-style file (no `end of trees`, no is_linear).
           For each NAME: NAME.txt (the model), NAME.csv (rows, %.17g; values at every
           threshold, one double ulp and one float32 ulp either side, NaN, +-0, +-1e-36,
           +-1e-35, +-kZeroThreshold, +-inf, huge, negative and non-integer categories),
           and the oracle's outputs (tests/lgbm_reference.py): NAME.margin.csv /
           NAME.value.csv for the rows as doubles, NAME.f32.margin.csv / NAME.f32.value.csv
           for the rows rounded to float32 (what lm_predict receives), and NAME.f32.leaf.csv,
           per tree LightGBM's index of the leaf each float32 row reaches (as pred_leaf).
real/      Copies of the real LightGBM models under ../shared/fixtures/lightgbm/ (--real SRC,
           default /work/shared/fixtures/lightgbm): model.txt, input.csv, expected_margin.csv,
           expected_value.csv (computed from LightGBM's own predictions, see their README and
           meta.json, which give each origin), plus the oracle's outputs for the float32-rounded
           rows (oracle_f32_margin.csv, oracle_f32_value.csv, oracle_f32_leaf.csv). Before
           copying, the oracle must reproduce every expected value of every real fixture bit
           for bit, else nothing is written.

MANIFEST (one line per model: "handmade NAME" or "real NAME") lists what tests/test_lightgbm*.c
runs. Re-running gives byte-identical files (fixed seeds).
"""
import ctypes
import math
import os
import random
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lgbm_reference as ref  # noqa: E402

OUT = os.path.join(HERE, "fixtures", "lightgbm")
KZ = ref.K_ZERO_THRESHOLD
FLT_MAX = 3.4028234663852886e38


def f32(x):
    return ctypes.c_float(x).value


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f32_from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


def f32_next(x, up):
    """The float32 after x (x a float32 value) toward +inf (up) or -inf."""
    if math.isnan(x):
        return x
    if x == (math.inf if up else -math.inf):
        return x
    if x == 0.0:
        return f32_from_bits(1) if up else -f32_from_bits(1)
    b = f32_bits(x)
    if (x > 0) == up:
        b += 1
    else:
        b -= 1
    return f32_from_bits(b)


def f32_down(t):
    """The largest float32 <= t."""
    f = f32(t)
    if f > t:
        f = f32_next(f, False)
    return f


def f32_up(t):
    f = f32(t)
    if f < t:
        f = f32_next(f, True)
    return f


def g17(v):
    return "%.17g" % v


# ---- model building -------------------------------------------------------------------------

class Tree:
    """A LightGBM tree grown as Tree::Split grows it: splitting leaf `leaf` makes internal node
    num_leaves-1 whose left child is that leaf and right child the new leaf num_leaves."""

    def __init__(self, value=0.0):
        self.split_feature, self.threshold, self.decision_type = [], [], []
        self.left, self.right = [], []
        self.leaf_value = [value]
        self.leaf_parent = [-1]
        self.cat_sets = []  # list of sorted category lists; threshold = index
        self.linear = None  # per leaf: (const, [(feature, coeff)])
        self.threshold_text = {}  # node -> text to write instead of %.17g

    @property
    def num_leaves(self):
        return len(self.leaf_value)

    def split(self, leaf, feature, threshold, dtype, left_value, right_value, cats=None,
              text=None):
        node = self.num_leaves - 1
        parent = self.leaf_parent[leaf]
        if parent >= 0:
            if self.left[parent] == ~leaf:
                self.left[parent] = node
            else:
                self.right[parent] = node
        if cats is not None:
            dtype |= 1
            if cats in self.cat_sets:
                threshold = self.cat_sets.index(cats)
            else:
                self.cat_sets.append(cats)
                threshold = len(self.cat_sets) - 1
        self.split_feature.append(feature)
        self.threshold.append(float(threshold))
        if text is not None:
            self.threshold_text[node] = text
        self.decision_type.append(dtype)
        self.left.append(~leaf)
        self.right.append(~self.num_leaves)
        new = self.num_leaves
        self.leaf_value[leaf] = left_value
        self.leaf_value.append(right_value)
        self.leaf_parent[leaf] = node
        self.leaf_parent.append(node)
        return leaf, new  # leaf ids of the two children

    def words(self, cats):
        n = max(cats) // 32 + 1 if cats else 1
        w = [0] * n
        for c in cats:
            w[c // 32] |= 1 << (c % 32)
        return w

    def text(self, version):
        L = self.num_leaves
        n = L - 1
        out = ["num_leaves=%d" % L, "num_cat=%d" % len(self.cat_sets)]
        thr = [self.threshold_text.get(i, g17(self.threshold[i])) for i in range(n)]
        out += ["split_feature=" + " ".join(map(str, self.split_feature)),
                "split_gain=" + " ".join("%g" % (100.0 / (i + 1)) for i in range(n)),
                "threshold=" + " ".join(thr),
                "decision_type=" + " ".join(map(str, self.decision_type)),
                "left_child=" + " ".join(map(str, self.left)),
                "right_child=" + " ".join(map(str, self.right)),
                "leaf_value=" + " ".join(g17(v) for v in self.leaf_value),
                "leaf_weight=" + " ".join("%d" % (10 + i) for i in range(L)),
                "leaf_count=" + " ".join("%d" % (10 + i) for i in range(L)),
                "internal_value=" + " ".join("0" for _ in range(n)),
                # placeholder weights and counts, positive (a count is a cover: lmconvert
                # refuses a negative one); trees of fewer than 100 splits as they always were
                "internal_weight=" + " ".join("%d" % max(1, 100 - i) for i in range(n)),
                "internal_count=" + " ".join("%d" % max(1, 100 - i) for i in range(n))]
        if self.cat_sets:
            bounds, words = [0], []
            for s in self.cat_sets:
                words += self.words(s)
                bounds.append(len(words))
            out += ["cat_boundaries=" + " ".join(map(str, bounds)),
                    "cat_threshold=" + " ".join(map(str, words))]
        if version == "v4":
            out.append("is_linear=%d" % (1 if self.linear else 0))
            if self.linear:
                out.append("leaf_const=" + " ".join(g17(c) for c, _ in self.linear))
                out.append("num_features=" + " ".join(str(len(t)) for _, t in self.linear))
                # LightGBM writes each leaf's list followed by a space, then one more space
                out.append("leaf_features=" + "".join(
                    "".join("%d " % f for f, _ in t) + " " for _, t in self.linear))
                out.append("leaf_coeff=" + "".join(
                    "".join("%s " % g17(c) for _, c in t) + " " for _, t in self.linear))
        out.append("shrinkage=1")
        return "\n".join(out) + "\n\n"


def model_text(trees, num_features, objective, num_class=1, version="v4", average=False,
               cat_features=(), v2_tail=False):
    K = num_class
    names = ["f%d" % i for i in range(num_features)]
    infos = ["-1:0:1:2:3" if i in cat_features else "[-10:10]" for i in range(num_features)]
    blocks = []
    for i, t in enumerate(trees):
        blocks.append("Tree=%d\n" % i + t.text(version) + "\n")
    head = ["tree", "version=" + version, "num_class=%d" % K, "num_tree_per_iteration=%d" % K,
            "label_index=0", "max_feature_idx=%d" % (num_features - 1), "objective=" + objective]
    if average:
        head.append("average_output")
    head += ["feature_names=" + " ".join(names), "feature_infos=" + " ".join(infos),
             "tree_sizes=" + " ".join(str(len(b)) for b in blocks)]
    text = "\n".join(head) + "\n\n" + "".join(blocks)
    imp = "".join("%s=%d\n" % (n, num_features - i) for i, n in enumerate(names))
    if v2_tail:
        return text + "\n\nfeature importances:\n" + imp + "\npandas_categorical:null\n"
    return (text + "end of trees\n\nfeature_importances:\n" + imp +
            "\nparameters:\n[boosting: gbdt]\n[objective: %s]\n[num_class: %d]\n"
            "end of parameters\n\npandas_categorical:null\n" % (objective.split()[0], K))


# ---- rows -----------------------------------------------------------------------------------

SPECIALS = [math.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, KZ, -KZ,
            math.nextafter(KZ, math.inf), math.nextafter(-KZ, -math.inf), math.inf, -math.inf,
            1e300, -1e300, FLT_MAX, -FLT_MAX, 1.5, -1.5, 5e-324]
CAT_SPECIALS = [math.nan, 0.0, -0.0, 1e-36, -1e-36, -0.5, -0.99999999999999989, -1.0, -1.5,
                0.5, 0.99999999999999989, 2.5, 31.999999999999996, 32.0, 16777215.0,
                16777216.0, 16777217.0, 2147483647.0, 2147483648.0, 4294967296.0, 1e10, 1e300,
                -1e300, math.inf, -math.inf, -2147483648.0, -2147483649.0]


def around(t):
    """Values at threshold t, one double ulp and one float32 ulp either side."""
    if math.isinf(t) or math.isnan(t):
        return [t]
    vals = [t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)]
    fd, fu = f32_down(t), f32_up(t)
    vals += [fd, fu, f32_next(fd, False), f32_next(fu, True)]
    return vals


def cat_values(cats):
    vals = []
    for c in cats:
        vals += [float(c), c + 0.5, c - 0.5, c + 1.0, c - 1.0, math.nextafter(float(c), 0.0)]
    return vals


def feature_values(trees, num_features):
    """Per feature: the values worth trying (thresholds' neighbourhoods, set members)."""
    per = [[] for _ in range(num_features)]
    for t in trees:
        for i, f in enumerate(t.split_feature):
            if t.decision_type[i] & 1:
                per[f] += cat_values(t.cat_sets[int(t.threshold[i])]) + CAT_SPECIALS
            else:
                per[f] += around(t.threshold[i])
    for f in range(num_features):
        per[f] += SPECIALS
        seen, uniq = set(), []
        for v in per[f]:
            k = struct.pack("<d", v) if not math.isnan(v) else b"nan"
            if k not in seen:
                seen.add(k)
                uniq.append(v)
        per[f] = uniq
    return per


def make_rows(trees, num_features, seed):
    """Every feature runs through all its values (feature f offset by 7f rows so the values of
    different features meet in many combinations), then random mixtures, an all-NaN row, an
    all-zero row, an all -0 row and an all-tiny row."""
    per = feature_values(trees, num_features)
    n = max(len(p) for p in per)
    rows = []
    for r in range(n):
        rows.append([per[f][(r + 7 * f) % len(per[f])] for f in range(num_features)])
    rnd = random.Random(seed)
    for _ in range(40):
        rows.append([rnd.choice(per[f]) for f in range(num_features)])
    rows += [[math.nan] * num_features, [0.0] * num_features, [-0.0] * num_features,
             [1e-36] * num_features, [-KZ] * num_features]
    return rows


def write_csv(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(g17(v) for v in r) + "\n")


# ---- the handmade models --------------------------------------------------------------------

def numeric_model():
    """Every numeric decision_type (0, 2, 4, 6, 8, 10) on awkward thresholds, each tree on its
    own feature; leaves are powers of two so the margin spells out every decision. Thresholds
    in [-kZeroThreshold, kZeroThreshold) appear only with missing type Zero here (where reading
    tiny values as 0 changes nothing); tiny_model() covers the other types."""
    specs = [  # (decision_type, threshold, text or None)
        (0, 0.1, None),                       # None, default right
        (2, -0.5, None),                      # None, default left (irrelevant for None)
        (4, KZ, None),                        # Zero, default right, t = kZeroThreshold
        (6, -2.5, None),                      # Zero, default left
        (8, 16777217.0, None),                # NaN, default right; 2^24+1 (not a float32)
        (10, 1e-30, None),                    # NaN, default left; not a float32
        (0, math.inf, "inf"),                 # never right
        (2, -math.inf, "-inf"),               # right unless -inf
        (8, 1e300, None),                     # LightGBM's AvoidInf clamp
        (10, -1e300, None),
        (4, 3.4028235677973366e+38, None),    # above FLT_MAX, below its rounding midpoint
        (6, 0.0, None),                       # Zero type at threshold 0
        (4, 5e-324, None),                    # Zero type; smallest double subnormal
        (8, 1.7976931348623157e308, None),    # DBL_MAX
        (2, -3.4028235677973366e+38, None),
        (4, -1e-36, None),
    ]
    trees = []
    for k, (dt, t, text) in enumerate(specs):
        tr = Tree()
        tr.split(0, k, t, dt, -(2.0 ** k) / 4, 2.0 ** k, text=text)
        trees.append(tr)
    nf = len(specs)
    # a deeper tree, internal nodes not in breadth-first order: root splits leaf 0 into
    # leaves 0 / 1, node 1 splits leaf 1 into 1 / 2, node 2 splits leaf 0 into 0 / 3
    tr = Tree()
    a, b = tr.split(0, nf, 123456.789, 8, 2.0 ** 20, 2.0 ** 21)
    b1, b2 = tr.split(b, nf + 1, -3.25, 2, 2.0 ** 21, 2.0 ** 22)
    tr.split(a, 0, 0.30000000000000004, 10, 2.0 ** 20, 2.0 ** 23)
    trees.append(tr)
    trees.append(Tree(0.5))  # a one-leaf tree
    return trees, nf + 2


def categorical_model():
    trees = []
    # single-word set {0, 3, 31} (bit 31 set: word 2147483657), then multi-word {1,32,33,95}
    t = Tree()
    l, r = t.split(0, 0, 0, 0, 1.0, 2.0, cats=[0, 3, 31])
    t.split(r, 1, 0, 8, 4.0, 8.0, cats=[1, 32, 33, 95])  # missing type NaN: ignored
    trees.append(t)
    # a very large set (3125 words), then an empty set (one zero word); default_left bits set
    # on categorical splits, which LightGBM ignores
    t = Tree()
    l, r = t.split(0, 2, 0, 2, 16.0, 32.0, cats=[5, 1000, 99999])
    t.split(r, 2, 0, 10, 64.0, 128.0, cats=[])
    trees.append(t)
    # numeric root, and two categorical nodes naming the same set
    t = Tree()
    l, r = t.split(0, 3, 2.5, 2, 256.0, 512.0)
    t.split(l, 4, 0, 0, 1024.0, 2048.0, cats=[2, 7])
    t.split(r, 4, 0, 0, 4096.0, 8192.0, cats=[2, 7])
    trees.append(t)
    # the highest category lmrt accepts: 2^24 - 1 (524288 words) is generated by the C test;
    # here one set ending exactly at a word boundary, {63}
    t = Tree()
    t.split(0, 0, 0, 0, 16384.0, 32768.0, cats=[63])
    trees.append(t)
    return trees, 5


def tiny_model():
    """Thresholds in [-kZeroThreshold, kZeroThreshold), where LightGBM reading |x| <= 1e-35f
    as 0.0 (its dense-row predictor drops such values) changes decisions, and a linear leaf
    that multiplies a tiny x by 1e30."""
    trees = []
    specs = [(0, 0.0), (8, -KZ), (10, -1e-36), (2, 5e-36), (8, 1e-40), (0, 5e-324),
             (10, -KZ), (0, KZ)]
    for k, (dt, t) in enumerate(specs):
        tr = Tree()
        tr.split(0, k, t, dt, -(2.0 ** k) / 4, 2.0 ** k)
        trees.append(tr)
    tr = Tree(0.0)
    tr.linear = [(0.0, [(len(specs), 1e30)])]
    trees.append(tr)
    return trees, len(specs) + 1


def linear_model():
    trees = []
    t = Tree()
    l, r = t.split(0, 0, 1.5, 10, 0.4, -1.2)
    r1, r2 = t.split(r, 1, 0.25, 2, -1.2, 2.9)
    # leaves: 0 (x0 <= 1.5), 1 (x1 <= 0.25), 2
    t.linear = [(0.5, [(0, 0.1), (2, -2.5)]),
                (-1.25, []),
                (3.0, [(1, 1e-3), (2, 0.75), (3, -0.33333333333333331)])]
    trees.append(t)
    t = Tree(0.1)  # one-leaf linear tree
    t.linear = [(0.125, [(3, 2.0)])]
    trees.append(t)
    t = Tree()  # a plain tree in a linear model
    t.split(0, 2, -0.75, 8, 0.015625, -0.03125)
    trees.append(t)
    return trees, 4


def random_tree(rnd, num_features, n_leaves, thresholds, cat_feature=None):
    t = Tree(rnd.uniform(-1, 1))
    while t.num_leaves < n_leaves:
        leaf = rnd.randrange(t.num_leaves)
        lv, rv = rnd.uniform(-1, 1), rnd.uniform(-1, 1)
        if cat_feature is not None and rnd.random() < 0.25:
            cats = sorted(rnd.sample(range(40), rnd.randrange(1, 6)))
            t.split(leaf, cat_feature, 0, rnd.choice([0, 8]), lv, rv, cats=cats)
        else:
            f = rnd.randrange(num_features)
            if f == cat_feature:
                f = (f + 1) % num_features
            t.split(leaf, f, rnd.choice(thresholds[f]), rnd.choice([0, 2, 4, 6, 8, 10]), lv, rv)
    return t


def random_model(seed, n_trees, num_features, scale=1.0, cat_feature=None, one_leaf_every=0):
    rnd = random.Random(seed)
    thresholds = [[round(rnd.uniform(-3, 3), rnd.randrange(1, 6)) for _ in range(4)] + [KZ]
                  for _ in range(num_features)]
    trees = []
    for i in range(n_trees):
        if one_leaf_every and i % one_leaf_every == one_leaf_every - 1:
            trees.append(Tree(rnd.uniform(-1, 1) * scale))
            continue
        t = random_tree(rnd, num_features, rnd.randrange(2, 9), thresholds, cat_feature)
        t.leaf_value = [v * scale for v in t.leaf_value]
        trees.append(t)
    return trees


HANDMADE = []  # (name, trees, num_features, objective, num_class, version, average, cat, v2)


def define():
    tr, nf = numeric_model()
    HANDMADE.append(("numeric", tr, nf, "regression", 1, "v4", False, (), False))
    tr, nf = categorical_model()
    HANDMADE.append(("categorical", tr, nf, "regression", 1, "v4", False, (0, 1, 2, 4), False))
    tr, nf = tiny_model()
    HANDMADE.append(("tiny_values", tr, nf, "regression", 1, "v4", False, (), False))
    tr, nf = linear_model()
    HANDMADE.append(("linear", tr, nf, "regression", 1, "v4", False, (), False))
    HANDMADE.append(("rf_binary", random_model(11, 5, 4), 4, "binary sigmoid:1", 1, "v4", True,
                     (), False))
    HANDMADE.append(("rf_multiclass", random_model(12, 6, 4), 4, "multiclass num_class:3", 3,
                     "v4", True, (), False))
    HANDMADE.append(("binary", random_model(13, 6, 5, 2.0, cat_feature=4), 5,
                     "binary sigmoid:0.69999999999999996", 1, "v4", False, (4,), False))
    HANDMADE.append(("multiclass", random_model(14, 9, 4, 3.0, one_leaf_every=4), 4,
                     "multiclass num_class:3", 3, "v4", False, (), False))
    HANDMADE.append(("multiclassova", random_model(15, 6, 4, 2.0), 4,
                     "multiclassova num_class:3 sigmoid:1.5", 3, "v4", False, (), False))
    HANDMADE.append(("regression_sqrt", random_model(16, 5, 4, 3.0), 4, "regression sqrt", 1,
                     "v4", False, (), False))
    HANDMADE.append(("poisson", random_model(17, 5, 4), 4, "poisson", 1, "v3", False, (),
                     False))
    HANDMADE.append(("gamma", random_model(18, 5, 4), 4, "gamma", 1, "v3", False, (), False))
    HANDMADE.append(("tweedie", random_model(19, 5, 4), 4,
                     "tweedie tweedie_variance_power:1.5", 1, "v4", False, (), False))
    HANDMADE.append(("xentropy", random_model(20, 5, 4, 2.0), 4, "cross_entropy", 1, "v4",
                     False, (), False))
    HANDMADE.append(("xentlambda", random_model(21, 5, 4, 12.0), 4, "cross_entropy_lambda", 1,
                     "v4", False, (), False))
    HANDMADE.append(("v2_style", random_model(22, 4, 3, cat_feature=2), 3, "regression", 1,
                     "v2", False, (2,), True))


def oracle_outputs(model, rows, base):
    for suffix, as32 in (("", False), (".f32", True)):
        rr = [[ref.f32(v) for v in r] for r in rows] if as32 else rows
        res = [model.predict(r) for r in rr]
        for kind, idx in (("margin", 0), ("value", 1)):
            with open("%s%s.%s.csv" % (base, suffix, kind), "w") as f:
                for m in res:
                    f.write(",".join(g17(v) for v in m[idx]) + "\n")
        if as32:
            write_leaves("%s.f32.leaf.csv" % base, model, rr)


def write_leaves(path, model, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(map(str, model.leaf_ids(r))) + "\n")


def main(argv):
    real_src = "/work/shared/fixtures/lightgbm"
    if "--real" in argv:
        real_src = argv[argv.index("--real") + 1]
    define()
    manifest = []
    hdir = os.path.join(OUT, "handmade")
    os.makedirs(hdir, exist_ok=True)
    for i, (name, trees, nf, obj, K, ver, avg, cats, v2) in enumerate(HANDMADE):
        text = model_text(trees, nf, obj, K, ver, avg, cats, v2)
        base = os.path.join(hdir, name)
        with open(base + ".txt", "w") as f:
            f.write(text)
        model = ref.Model(text)
        rows = make_rows(trees, nf, 1000 + i)
        write_csv(base + ".csv", rows)
        oracle_outputs(model, rows, base)
        manifest.append("handmade " + name)
        print("handmade/%-16s trees %3d features %2d rows %4d" % (name, len(trees), nf,
                                                                  len(rows)))
    # real fixtures: the oracle must reproduce LightGBM's outputs before anything is copied
    if os.path.isdir(real_src):
        names = sorted(d for d in os.listdir(real_src)
                       if os.path.isfile(os.path.join(real_src, d, "model.txt")))
        if not all([ref.check_fixture(os.path.join(real_src, d)) for d in names]):
            sys.exit("the oracle does not reproduce the real fixtures: nothing copied")
        for d in names:
            src, dst = os.path.join(real_src, d), os.path.join(OUT, "real", d)
            os.makedirs(dst, exist_ok=True)
            for fn in ("model.txt", "input.csv", "expected_margin.csv", "expected_value.csv",
                       "meta.json"):
                shutil.copyfile(os.path.join(src, fn), os.path.join(dst, fn))
                os.chmod(os.path.join(dst, fn), 0o644)
            with open(os.path.join(src, "model.txt")) as f:
                model = ref.Model(f.read())
            rows = [[ref.f32(v) for v in r] for r in ref.read_rows(os.path.join(src, "input.csv"))]
            res = [model.predict(r) for r in rows]
            write_leaves(os.path.join(dst, "oracle_f32_leaf.csv"), model, rows)
            for kind, idx in (("margin", 0), ("value", 1)):
                with open(os.path.join(dst, "oracle_f32_%s.csv" % kind), "w") as f:
                    for m in res:
                        f.write(",".join(g17(v) for v in m[idx]) + "\n")
            manifest.append("real " + d)
    else:
        print("note: %s not found: real fixtures left as they are" % real_src)
        rdir = os.path.join(OUT, "real")
        if os.path.isdir(rdir):
            manifest += ["real " + d for d in sorted(os.listdir(rdir))]
    with open(os.path.join(OUT, "MANIFEST"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
