#!/usr/bin/python3
"""Synthetic SageMaker Factorization Machines artifacts for tests/test_fm.c (and the benchmarks).

No real FM artifact was available: every model here is built byte by byte in the layout that
AWS's and MXNet's public material describes (tests/fixtures/fm/README.md cites each fact):

  model.tar.gz            a gzip'd tar holding one member, model_algo-1
  model_algo-1            a ZIP (members stored) of an MXNet Module checkpoint:
    symbol.json           the graph (synthetic: data, the three weight variables, the operators,
                          out_label, and the output operator LogisticRegressionOutput or
                          LinearRegressionOutput; attrs.mxnet_version)
    params                an MXNet NDArray list (MXNet src/ndarray/ndarray.cc NDArray::Save, v2):
                          arg:w0_weight (1,), arg:w1_weight (F, 1), arg:v (F, k), float32
    meta.json             {"training_parameters": {feature_dim, num_factors, predictor_type, ...}}

and the rows with the values SageMaker's formula gives, computed here in double precision from
the float32 weights and float32 rows:

  score = w0 + sum_i w_i x_i + 1/2 sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]
  binary_classifier: 1 / (1 + exp(-score)); regressor: score.
  A missing value (empty field in rows.csv, NaN to lmrt) counts as 0 (sparse input).

Run with /usr/bin/python3 (numpy); writes tests/fixtures/fm/<case>/ deterministically.
"""
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "fm")

# name, predictor_type, features, factors, seed, naming ("w" = w0/w1_weight, "lpb" = the older
# Linear_Plus_Bias_* naming with transposed arrays)
CASES = [
    ("binary-k8", "binary_classifier", 24, 8, 1, "w"),
    ("regressor-k8", "regressor", 24, 8, 2, "w"),
    ("binary-k32", "binary_classifier", 60, 32, 3, "w"),
    ("regressor-k32", "regressor", 60, 32, 4, "w"),
    ("binary-k64", "binary_classifier", 100, 64, 5, "w"),
    ("regressor-k64", "regressor", 100, 64, 6, "w"),
    ("regressor-k12-lpb", "regressor", 30, 12, 7, "lpb"),
]

V2_MAGIC = 0xF993FAC9  # NDARRAY_V2_MAGIC (ndarray.cc)
LIST_MAGIC = 0x112  # kMXAPINDArrayListMagic (c_api)


def nd_array(a):
    """One dense float32 cpu array, NDArray::Save v2: magic, stype, shape (u32 ndim, i64 dims),
    context (dev_type, dev_id), type flag (0 = float32), raw little-endian data."""
    a = np.ascontiguousarray(a, dtype="<f4")
    b = struct.pack("<Ii", V2_MAGIC, 0)
    b += struct.pack("<I", a.ndim) + b"".join(struct.pack("<q", d) for d in a.shape)
    b += struct.pack("<iii", 1, 0, 0)
    return b + a.tobytes()


def nd_list(named):
    """NDArray::Save(stream, arrays, names): u64 magic, u64 reserved, u64 count, the arrays, u64
    name count, each name as u64 length + bytes."""
    b = struct.pack("<QQQ", LIST_MAGIC, 0, len(named))
    b += b"".join(nd_array(a) for _, a in named)
    b += struct.pack("<Q", len(named))
    for n, _ in named:
        nb = n.encode()
        b += struct.pack("<Q", len(nb)) + nb
    return b


def symbol_json(pred, naming):
    """A plausible graph (synthetic: no real symbol.json was available); the importer reads only
    the output operator and attrs.mxnet_version."""
    out_op = "LogisticRegressionOutput" if pred == "binary_classifier" else "LinearRegressionOutput"
    w1, w0 = ("w1_weight", "w0_weight") if naming == "w" else (
        "Linear_Plus_Bias_weight", "Linear_Plus_Bias_bias")
    nodes = [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": w1, "inputs": []},
        {"op": "null", "name": w0, "inputs": []},
        {"op": "FullyConnected", "name": "Linear_Plus_Bias", "attrs": {"num_hidden": "1"},
         "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        {"op": "null", "name": "v", "inputs": []},
        {"op": "dot", "name": "xv", "inputs": [[0, 0, 0], [4, 0, 0]]},
        {"op": "square", "name": "xv_sq", "inputs": [[5, 0, 0]]},
        {"op": "square", "name": "x_sq", "inputs": [[0, 0, 0]]},
        {"op": "square", "name": "v_sq", "inputs": [[4, 0, 0]]},
        {"op": "dot", "name": "x_sq_v_sq", "inputs": [[7, 0, 0], [8, 0, 0]]},
        {"op": "elemwise_sub", "name": "pair", "inputs": [[6, 0, 0], [9, 0, 0]]},
        {"op": "sum", "name": "pair_sum", "attrs": {"axis": "1", "keepdims": "True"},
         "inputs": [[10, 0, 0]]},
        {"op": "_mul_scalar", "name": "half", "attrs": {"scalar": "0.5"}, "inputs": [[11, 0, 0]]},
        {"op": "elemwise_add", "name": "score", "inputs": [[3, 0, 0], [12, 0, 0]]},
        {"op": "null", "name": "out_label", "inputs": []},
        {"op": out_op, "name": "out", "inputs": [[13, 0, 0], [14, 0, 0]]},
    ]
    return json.dumps({"nodes": nodes, "arg_nodes": [0, 1, 2, 4, 14],
                       "node_row_ptr": list(range(len(nodes) + 1)), "heads": [[15, 0, 0]],
                       "attrs": {"mxnet_version": ["int", 10301]}}, indent=2).encode()


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=(2019, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def tar_gz_bytes(name, data):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = len(data), 1546300800, 0o644
        t.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return out.getvalue()


def rows_for(F, rng):
    """Dense, sparse (a few one-hot-like non-zeros), with missing values, zeros, ones."""
    rows = []
    for _ in range(12):
        rows.append(rng.uniform(-1, 1, F))
    for _ in range(12):
        r = np.zeros(F)
        idx = rng.choice(F, size=rng.integers(1, 6), replace=False)
        r[idx] = rng.choice([1.0, 0.5, 2.0, -1.0], size=len(idx))
        rows.append(r)
    for _ in range(8):
        r = rng.uniform(-2, 2, F)
        r[rng.random(F) < 0.3] = np.nan
        rows.append(r)
    rows.append(np.zeros(F))
    rows.append(np.ones(F))
    r = np.full(F, np.nan)
    rows.append(r)
    return np.array(rows, dtype=np.float32)  # the rows lmrt sees are float32


def score(w0, w, V, X):
    """Double precision, NaN = 0."""
    X = np.nan_to_num(X.astype(np.float64), nan=0.0)
    w0, w, V = np.float64(w0), w.astype(np.float64), V.astype(np.float64)
    xv = X @ V
    pair = 0.5 * np.sum(xv * xv - (X * X) @ (V * V), axis=1)
    return w0 + X @ w + pair


def fmt_row(r):
    return ",".join("" if np.isnan(x) else "%.9g" % x for x in r)


def build(case):
    name, pred, F, k, seed, naming = case
    rng = np.random.default_rng(seed)
    w0 = np.float32(rng.normal(0, 0.5) if pred == "binary_classifier" else 3.5 + rng.normal(0, 0.2))
    w = rng.normal(0, 0.3, F).astype(np.float32)
    V = rng.normal(0, 0.15 if k <= 8 else 0.08, (F, k)).astype(np.float32)
    if naming == "w":
        arrays = [("arg:w0_weight", np.array([w0], np.float32)),
                  ("arg:w1_weight", w.reshape(F, 1)), ("arg:v", V)]
    else:  # older naming: bias (1,), weight (1, F), v (k, F)
        arrays = [("arg:Linear_Plus_Bias_bias", np.array([w0], np.float32)),
                  ("arg:Linear_Plus_Bias_weight", w.reshape(1, F)), ("arg:v", V.T.copy())]
    meta = {"training_parameters": {"feature_dim": str(F), "num_factors": str(k),
                                    "predictor_type": pred, "epochs": "10",
                                    "mini_batch_size": "1000"}}
    algo = zip_bytes([("symbol.json", symbol_json(pred, naming)), ("params", nd_list(arrays)),
                      ("meta.json", json.dumps(meta, indent=2).encode())])
    X = rows_for(F, rng)
    s = score(w0, w, V, X)
    value = 1.0 / (1.0 + np.exp(-s)) if pred == "binary_classifier" else s
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    files = {
        "model_algo-1": algo,
        "model.tar.gz": tar_gz_bytes("model_algo-1", algo),
        "rows.csv": "".join(fmt_row(r) + "\n" for r in X).encode(),
        "expected.csv": "".join("%.17g\n" % x for x in value).encode(),
        "expected_margin.csv": "".join("%.17g\n" % x for x in s).encode(),
    }
    for fn, data in files.items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    return name, F, k, pred


def bad_variants():
    """Broken model_algo-1 files for the importer's refusals (tests/test_fm.c): each file name
    says what is wrong; bad/README.txt lists the field the error must name."""
    F, k = 6, 4
    rng = np.random.default_rng(99)
    w0 = np.array([0.25], np.float32)
    w = rng.normal(0, 0.3, (F, 1)).astype(np.float32)
    V = rng.normal(0, 0.1, (F, k)).astype(np.float32)
    good = [("arg:w0_weight", w0), ("arg:w1_weight", w), ("arg:v", V)]
    meta = lambda **kw: json.dumps({"training_parameters": dict(
        {"feature_dim": str(F), "num_factors": str(k), "predictor_type": "regressor"}, **kw)}).encode()
    sym = symbol_json("regressor", "w")
    vinf = V.copy()
    vinf[2, 3] = np.inf
    cases = {
        "missing-v": ([good[0], good[1]], meta(), sym, "no array named 'arg:v'"),
        "v-shape": ([good[0], good[1], ("arg:v", V[:5])], meta(), sym, "shape mismatch"),
        "w1-shape": ([good[0], ("arg:w1_weight", w.reshape(2, 3)), good[2]], meta(), sym,
                     "'arg:w1_weight' has shape (2, 3)"),
        "bias-shape": ([("arg:w0_weight", np.zeros(2, np.float32)), good[1], good[2]], meta(), sym,
                       "'arg:w0_weight' has shape (2,)"),
        "v-not-finite": ([good[0], good[1], ("arg:v", vinf)], meta(), sym, "arg:v[2, 3] is not finite"),
        "extra-array": (good + [("arg:extra", w0)], meta(), sym, "unexpected array 'arg:extra'"),
        "feature-dim": (good, meta(feature_dim="7"), sym, "training_parameters.feature_dim 7"),
        "num-factors": (good, meta(num_factors="5"), sym, "training_parameters.num_factors 5"),
        "predictor-mismatch": (good, meta(predictor_type="binary_classifier"), sym,
                               "does not match the output operator LinearRegressionOutput"),
        "predictor-unknown": (good, meta(predictor_type="multiclass_classifier"), sym,
                              "predictor_type 'multiclass_classifier'"),
    }
    d = os.path.join(OUT, "bad")
    os.makedirs(d, exist_ok=True)
    readme = ["Broken Factorization Machines model_algo-1 files (tests/gen_fm_fixtures.py) and the",
              "text lmconvert's error must contain for each:", ""]
    for name, (arrays, m, sy, want) in sorted(cases.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(zip_bytes([("symbol.json", sy), ("params", nd_list(arrays)), ("meta.json", m)]))
        readme.append("%s\t%s" % (name, want))
    # float64 weights: the dtype flag is 1 (mshadow kFloat64)
    b = nd_list(good).replace(struct.pack("<iii", 1, 0, 0) + V.tobytes(),
                              struct.pack("<iii", 1, 0, 1) + V.astype("<f8").tobytes())
    with open(os.path.join(d, "v-float64"), "wb") as f:
        f.write(zip_bytes([("symbol.json", sym), ("params", b), ("meta.json", meta())]))
    readme.append("v-float64\tdtype float64")
    with open(os.path.join(d, "README.txt"), "w") as f:
        f.write("\n".join(readme) + "\n")


def main():
    for c in CASES:
        print("%s: %d features, %d factors, %s" % build(c))
    bad_variants()
    return 0


if __name__ == "__main__":
    sys.exit(main())
