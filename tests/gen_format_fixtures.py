#!/usr/bin/python3
"""Generate the XGBoost serialisation fixtures (tests/fixtures/xgb_formats/).

Run with Debian's interpreter, which has python3-xgboost 1.7.4 and numpy:

    /usr/bin/python3 tests/gen_format_fixtures.py

What it is for
--------------
SageMaker has written XGBoost models in four serialisations over its container versions
(/work/shared/reference/input-formats.md section 1): pickles (1.0/1.2 containers), the legacy
binary format with and without the "binf" magic (1.3-1.7), JSON, and UBJSON (3.0). lmconvert must
turn the same trained model into the same .lm whatever the serialisation.  For every case below
this script trains one small model and writes it in every serialisation, together with
XGBoost's own predictions, so that tests/test_xgboost_formats.c can check that all of them
convert to .lm files that score identically and match XGBoost.

One folder per case, tests/fixtures/xgb_formats/<case>/:

    model.json         booster.save_model("x.json")
    model.ubj          booster.save_model("x.ubj")  (UBJSON, section 3)
    model.bin          booster.save_model("x.bin")  (legacy binary; 1.7.4 writes "binf" first)
    model_nobinf.bin   model.bin without its 4-byte "binf" magic, as files before 1.0 were
    model_13.bin       model_nobinf.bin with the header of XGBoost 1.3 (section 4): no num_target
                       (0) and no boost_from_average (0) in LearnerModelParamLegacy, version 1.3,
                       and GBTreeModelParam @4 = the deprecated num_roots (1) instead of
                       num_parallel_tree — what SageMaker's 1.3-1 container leaves
    model_p2.pkl       pickle.dumps(booster, protocol=2): the handle as
                       bytearray(_codecs.encode(str, 'latin1')) via REDUCE; UBJSON snapshot
    model_p5.pkl       pickle.dumps(booster, protocol=5): FRAME, STACK_GLOBAL, BYTEARRAY8
    model_cfgoff.pkl   a hand-built pickle in the layout of XGBoost 1.0-1.2 (section 1, what
                       SageMaker's 1.0/1.2 containers leave): protocol 4, xgboost.core.Booster via
                       NEWOBJ, state {'handle': bytearray("CONFIG-offset:" + int64 N + N bytes of
                       1.2-style legacy binary (model_13.bin's layout, version 1.2, "binf" first,
                       without the best_ntree_limit attribute, which 1.2 kept only as a Python
                       attribute) + JSON config), 'best_ntree_limit', 'best_iteration',
                       'best_score', 'feature_names', 'feature_types'}
    model_jsonsnap.pkl (some cases) a protocol-4 pickle whose handle is the JSON-text snapshot
                       {"Config": ..., "Model": ...} of XGBoost 1.3-1.5
    input.csv, expected_value.csv, expected_margin.csv, expected_leaf.csv
                       the conventions of tests/gen_fixtures.py (its helpers are reused): rows of
                       float32 '%.9g' values with missing cells as '', 'nan', 'NaN', 'NA';
                       XGBoost's predict() / predict(output_margin=True) / predict(pred_leaf=True)
                       as SageMaker's endpoint calls it (section 1): for XGBoost 1.x with
                       ntree_limit=best_ntree_limit, i.e. iteration_range=(0, best_iteration+1)
    expected_*_all.csv (early-stopping cases) the same with every tree (--all-trees)
    meta.json          objective, booster, outputs, features, trees (all and kept), best_iteration,
                       best_ntree_limit, num_parallel_tree, the files, value/margin columns.
tests/fixtures/xgb_formats/MANIFEST lists the cases; tests/fixtures/xgb_formats/kfold.tar.gz is a
k-fold archive (members xgboost-model-0 = gbtree_binary/model.bin, xgboost-model-1 =
rf_binary/model.bin), as SageMaker's k-fold training leaves it.

Checks made here before anything is written: every file loads back into XGBoost 1.7.4 (binary
files with Booster(model_file=...), pickles with pickle.loads — including the hand-built ones,
which 1.7.4 still reads) and predicts bit for bit what the original booster predicts; for
early stopping, predict(ntree_limit=best_ntree_limit) equals predict(iteration_range=(0,
best_iteration+1)) and pred_leaf has (best_iteration + 1) x num_parallel_tree x outputs columns.
A small independent reader of the legacy binary layout (below) rewrites the headers; it also
checks that the layout is what section 4 says (every byte accounted for).

Determinism: fixed seeds, nthread=1, so re-running writes the same files.
"""

import os
os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/xgboost load OpenMP

import copyreg  # noqa: E402
import warnings  # noqa: E402
import gzip  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_fixtures as gf  # noqa: E402  (CSV conventions, synthetic data, scoring rows)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "xgb_formats"
F32 = np.float32
NTHREAD = 1
N_SCORE = 60


# ----------------------------------------------------------------------------------------------
# The legacy binary layout (input-formats.md section 4), little-endian
# ----------------------------------------------------------------------------------------------

class Bin:
    """Offsets of the parts of a legacy binary model, parsed independently of lmrt."""

    def __init__(self, b):
        self.b = b
        p = 0
        self.binf = b[:4] == b"binf"
        if self.binf:
            p = 4
        self.hdr = p                      # LearnerModelParamLegacy, 136 bytes
        (self.base_score, self.num_feature, self.num_class, self.extra, self.metrics,
         self.major, self.minor, self.num_target, self.bfa) = struct.unpack_from("<fIiiiIIIi", b, p)
        p += 136
        self.objective, p = self._str(p)
        self.booster, p = self._str(p)
        self.gbm = p
        if self.booster in (b"gbtree", b"dart"):
            nt, npt = struct.unpack_from("<ii", b, p)
            self.num_trees, self.npt = nt, npt
            p += 160
            for _ in range(nt):
                nn = struct.unpack_from("<i", b, p + 4)[0]
                p += 148 + nn * (20 + 16)
            if nt:
                p += 4 * nt
            if self.booster == b"dart" and nt:
                n = struct.unpack_from("<Q", b, p)[0]
                assert n == nt
                p += 8 + 4 * n
        else:
            p += 136
            n = struct.unpack_from("<Q", b, p)[0]
            p += 8 + 4 * n
        self.attrs_at = p
        self.attrs = []
        if self.extra:
            n = struct.unpack_from("<Q", b, p)[0]
            p += 8
            for _ in range(n):
                k, p = self._str(p)
                v, p = self._str(p)
                self.attrs.append((k, v))
        assert p == len(b), f"legacy binary layout: {len(b) - p} bytes unaccounted for"

    def _str(self, p):
        n = struct.unpack_from("<Q", self.b, p)[0]
        return self.b[p + 8:p + 8 + n], p + 8 + n

    def rewrite(self, binf, major, minor, num_target, bfa, num_roots=None, drop_attrs=()):
        """The same model with another header (and GBTreeModelParam @4, attributes)."""
        b = bytearray(self.b)
        struct.pack_into("<IIIi", b, self.hdr + 20, major, minor, num_target, bfa)
        if num_roots is not None and self.booster in (b"gbtree", b"dart"):
            struct.pack_into("<i", b, self.gbm + 4, num_roots)
        body = bytes(b[self.hdr:self.attrs_at])
        if self.extra:
            attrs = [(k, v) for k, v in self.attrs if k.decode() not in drop_attrs]
            tail = struct.pack("<Q", len(attrs)) + b"".join(
                struct.pack("<Q", len(k)) + k + struct.pack("<Q", len(v)) + v for k, v in attrs)
        else:
            tail = b""
        return (b"binf" if binf else b"") + body + tail


# ----------------------------------------------------------------------------------------------
# Hand-built pickles
# ----------------------------------------------------------------------------------------------

class _BoosterPickler(pickle.Pickler):
    """Pickles a bare xgboost.core.Booster instance (made without __init__, so it has no C
    handle) with a given state dict, the way Python pickles a real Booster: NEWOBJ of the class
    with no arguments, then BUILD with the state."""

    def __init__(self, f, protocol, state):
        super().__init__(f, protocol=protocol)
        self.state = state

    def reducer_override(self, obj):
        if type(obj) is xgb.core.Booster:
            return (copyreg.__newobj__, (xgb.core.Booster,), self.state)
        return NotImplemented


def booster_pickle(state, protocol=4):
    buf = io.BytesIO()
    _BoosterPickler(buf, protocol, state).dump(xgb.core.Booster.__new__(xgb.core.Booster))
    return buf.getvalue()


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

BASE = {"nthread": NTHREAD, "seed": 0, "tree_method": "hist", "max_depth": 3, "eta": 0.3}


def C(name, notes, params, rounds, labels, early=None, linear=False, jsonsnap=False, noise=2.0):
    p = dict(BASE)
    p.update(params)
    if p.get("booster") == "gblinear":
        del p["max_depth"], p["tree_method"]
    return dict(name=name, notes=notes, params=p, rounds=rounds, labels=labels, early=early,
                linear=linear, jsonsnap=jsonsnap, noise=noise)


CASES = [
    C("gbtree_binary", "gbtree binary:logistic, depth 3", {"objective": "binary:logistic"}, 8,
      "binary", jsonsnap=True),
    C("gbtree_multi_softprob3", "gbtree multi:softprob, 3 classes (tree_info groups)",
      {"objective": "multi:softprob", "num_class": 3}, 4, "multi3"),
    C("dart_multi_softmax3", "dart multi:softmax, 3 classes, rate_drop 0.3 (weight_drop != 1)",
      {"objective": "multi:softmax", "num_class": 3, "booster": "dart", "rate_drop": 0.3}, 5,
      "multi3"),
    C("dart_reg", "dart reg:squarederror, base_score 7.5, rate_drop 0.25",
      {"objective": "reg:squarederror", "booster": "dart", "rate_drop": 0.25, "base_score": 7.5},
      6, "reg"),
    C("gblinear_reg", "gblinear reg:squarederror", {"objective": "reg:squarederror",
                                                    "booster": "gblinear"}, 10, "reg",
      linear=True),
    C("gblinear_multi_softprob3", "gblinear multi:softprob, 3 classes",
      {"objective": "multi:softprob", "num_class": 3, "booster": "gblinear"}, 10, "multi3",
      linear=True),
    C("rf_binary", "gbtree num_parallel_tree=3 binary:logistic (3 trees a round)",
      {"objective": "binary:logistic", "num_parallel_tree": 3, "subsample": 0.8,
       "colsample_bynode": 0.8}, 3, "binary"),
    C("early_stop_binary", "early stopping: binary:logistic on noisy labels, 40 rounds at most, "
      "early_stopping_rounds 4 on a validation set: best_ntree_limit < trees",
      {"objective": "binary:logistic", "max_depth": 4, "eta": 0.5}, 40, "binary", early=4,
      jsonsnap=True, noise=1.0),
    C("early_stop_multi_rf", "early stopping with multi:softprob 3 classes and "
      "num_parallel_tree 2: a round is 6 trees",
      {"objective": "multi:softprob", "num_class": 3, "num_parallel_tree": 2, "eta": 0.5,
       "subsample": 0.8, "max_depth": 2}, 30, "multi3", early=3, noise=1.5),
]


def train(spec, rng):
    n = 400
    X = gf.add_missing(rng, gf.numeric_block(rng, n), 0.07)
    s = gf.signal(X)
    y = gf.labels_for(spec["labels"], rng, s, n)
    if spec["early"]:
        # noisy validation labels so that the validation loss turns early
        Xv = gf.add_missing(rng, gf.numeric_block(rng, 200), 0.07)
        noisy = gf.signal(Xv) + rng.normal(size=200) * spec["noise"]
        yv = gf.labels_for(spec["labels"], rng, noisy, 200)
        dtr = xgb.DMatrix(X, y, missing=np.nan, nthread=NTHREAD)
        dva = xgb.DMatrix(Xv, yv, missing=np.nan, nthread=NTHREAD)
        bst = xgb.train(spec["params"], dtr, spec["rounds"], evals=[(dva, "val")],
                        early_stopping_rounds=spec["early"], verbose_eval=False)
    else:
        bst = xgb.train(spec["params"], xgb.DMatrix(X, y, missing=np.nan, nthread=NTHREAD),
                        spec["rounds"])
    return bst


def predictions(bst, dm, linear, iteration_range=None):
    kw = {} if iteration_range is None else {"iteration_range": iteration_range}
    v = bst.predict(dm, **kw)
    m = bst.predict(dm, output_margin=True, **kw)
    leaf = None if linear else bst.predict(dm, pred_leaf=True, **kw).astype(np.int64)
    return v, m, leaf


def same(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint32) if a.dtype == F32 else a,
                                                 b.view(np.uint32) if b.dtype == F32 else b)


def check_loads(name, path_or_bytes, dm, ref, linear, kind, ntree_limit=0):
    """The file loads back into XGBoost and predicts bit for bit `ref` (values, margins)."""
    if kind == "pickle":
        b2 = pickle.loads(path_or_bytes)
        ntree_limit = getattr(b2, "best_ntree_limit", 0)
    else:
        b2 = xgb.Booster(model_file=str(path_or_bytes))
    v = b2.predict(dm, ntree_limit=ntree_limit)
    m = b2.predict(dm, output_margin=True, ntree_limit=ntree_limit)
    if not (same(v, ref[0]) and same(m, ref[1])):
        raise SystemExit(f"{name}: {path_or_bytes if kind != 'pickle' else 'pickle'} does not "
                         "predict what the booster does")


def run_case(spec, summary):
    name = spec["name"]
    rng = np.random.default_rng(gf.case_seed("formats:" + name))
    bst = train(spec, rng)
    out = OUT / name
    out.mkdir(parents=True)
    linear = spec["linear"]

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        bst.save_model(str(td / "m.json"))
        bst.save_model(str(td / "m.ubj"))
        bst.save_model(str(td / "m.bin"))
        js, ubj, binf = [(td / f).read_bytes() for f in ("m.json", "m.ubj", "m.bin")]
    mj = json.loads(js)
    assert binf[:4] == b"binf", "XGBoost 1.7.4 writes 'binf' first"
    B = Bin(binf)
    lr = mj["learner"]
    nf = int(lr["learner_model_param"]["num_feature"])
    nclass = int(lr["learner_model_param"]["num_class"])
    G = max(nclass, 1)
    gb = lr["gradient_booster"]
    booster = gb["name"]
    attrs = lr.get("attributes", {})
    best_it = int(attrs["best_iteration"]) if "best_iteration" in attrs else None
    bntl = int(attrs["best_ntree_limit"]) if "best_ntree_limit" in attrs else None
    if booster == "gblinear":
        npt, ntrees = 1, 0
    else:
        gm = (gb["gbtree"] if booster == "dart" else gb)["model"]
        npt = int(gm["gbtree_model_param"]["num_parallel_tree"])
        ntrees = len(gm["trees"])
        assert B.npt == npt and B.num_trees == ntrees

    # the variants
    files = {"model.json": js, "model.ubj": ubj, "model.bin": binf}
    files["model_nobinf.bin"] = B.rewrite(False, B.major, B.minor, B.num_target, B.bfa)
    files["model_13.bin"] = B.rewrite(False, 1, 3, 0, 0, num_roots=1)
    files["model_p2.pkl"] = pickle.dumps(bst, protocol=2)
    files["model_p5.pkl"] = pickle.dumps(bst, protocol=5)
    # 1.0-1.2: CONFIG-offset + legacy binary + JSON config (Learner::Save before 1.3)
    bin12 = B.rewrite(True, 1, 2, 0, 0, num_roots=1, drop_attrs=("best_ntree_limit",))
    config = bst.save_config().encode()
    handle = b"CONFIG-offset:" + struct.pack("<q", len(bin12)) + bin12 + config
    state = {"handle": bytearray(handle), "feature_names": None, "feature_types": None}
    if best_it is not None and spec["early"]:
        state["best_score"] = float(attrs.get("best_score", "0"))
        state["best_iteration"] = best_it
        state["best_ntree_limit"] = (best_it + 1) * npt
    files["model_cfgoff.pkl"] = booster_pickle(state, protocol=4)
    if spec["jsonsnap"]:
        snap = json.dumps({"Config": json.loads(config), "Model": mj}).encode()
        st = {"handle": bytearray(snap)}
        for k in ("best_score", "best_iteration", "best_ntree_limit"):
            if hasattr(bst, k):
                st[k] = getattr(bst, k)
        files["model_jsonsnap.pkl"] = booster_pickle(st, protocol=4)
    for f, data in files.items():
        (out / f).write_bytes(data)
    Bin(files["model_13.bin"])  # the rewritten layouts parse back
    Bin(bin12)

    # scoring rows and XGBoost's predictions
    thr = gf.numeric_thresholds(mj)
    X = gf.scoring_rows(rng, N_SCORE, nf, thr, allow_inf=False, linear=linear)
    gf.write_rows_csv(out / "input.csv", X, rng)
    dm = xgb.DMatrix(X, missing=np.nan, nthread=NTHREAD)
    allp = predictions(bst, dm, linear)
    kept = ntrees
    if spec["early"]:
        assert best_it is not None and bntl == (best_it + 1) * npt
        endp = predictions(bst, dm, linear, iteration_range=(0, best_it + 1))
        # what SageMaker's 1.x endpoint calls gives the same
        v2 = bst.predict(dm, ntree_limit=bntl)
        assert same(v2, endp[0]), name
        kept = (best_it + 1) * npt * G
        assert kept < ntrees, f"{name}: early stopping did not stop early"
        assert endp[2].reshape(len(X), -1).shape[1] == kept
    else:
        endp = allp
        assert bntl in (None, 0) or (bntl // max(npt, 1)) * max(npt, 1) * G >= ntrees, name
    for suffix, (v, m, leaf) in [("", endp)] + ([("_all", allp)] if spec["early"] else []):
        gf.write_matrix_csv(out / f"expected_value{suffix}.csv", v)
        gf.write_matrix_csv(out / f"expected_margin{suffix}.csv", m)
        if leaf is not None:
            gf.write_matrix_csv(out / f"expected_leaf{suffix}.csv", leaf.reshape(len(X), -1),
                                as_int=True)

    # every serialisation loads back into XGBoost and predicts the same
    for f in files:
        if f.endswith(".pkl"):  # the pickle's own best_ntree_limit decides, as at the endpoint
            check_loads(name, files[f], dm, endp, linear, "pickle")
        else:
            check_loads(name, out / f, dm, endp, linear, "file",
                        ntree_limit=bntl if spec["early"] else 0)

    v, m = allp[0], allp[1]
    meta = {
        "objective": lr["objective"]["name"],
        "booster": booster,
        "num_outputs": G,
        "num_features": nf,
        "num_trees": ntrees,
        "num_trees_kept": kept,
        "num_parallel_tree": npt,
        "best_iteration": best_it,
        "best_ntree_limit": bntl,
        "early_stopping": bool(spec["early"]),
        "rows": int(X.shape[0]),
        "notes": spec["notes"],
        "xgboost_version": xgb.__version__,
        "value_columns": 1 if v.ndim == 1 else v.shape[1],
        "margin_columns": 1 if m.ndim == 1 else m.shape[1],
        "params": spec["params"],
        "files": sorted(files),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir())
    summary[name] = size
    print(f"{name}: {booster} {meta['objective']}, trees {ntrees} (kept {kept}), npt {npt}, "
          f"best_iteration {best_it}, best_ntree_limit {bntl}, {size} bytes", flush=True)


def kfold_archive():
    """xgboost-model-0 / -1 in a deterministic tar.gz (SageMaker k-fold training output)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for member, src in (("xgboost-model-0", "gbtree_binary"), ("xgboost-model-1",
                                                                    "rf_binary")):
            data = (OUT / src / "model.bin").read_bytes()
            ti = tarfile.TarInfo(member)
            ti.size, ti.mtime, ti.mode, ti.uid, ti.gid = len(data), 0, 0o644, 0, 0
            ti.uname = ti.gname = ""
            tf.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue())
    (OUT / "kfold.tar.gz").write_bytes(out.getvalue())


def main():
    warnings.filterwarnings("ignore", message="ntree_limit is deprecated")
    summary = gf.generate_cases(__doc__, xgb.__version__, OUT, CASES, run_case)
    if summary is None:
        return
    kfold_archive()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(summary)} cases, {total} bytes in {OUT.relative_to(ROOT)}")
    if total > 1_500_000:
        raise SystemExit("fixtures exceed 1.5 MB")


if __name__ == "__main__":
    main()
