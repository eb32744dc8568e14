#!/usr/bin/python3
"""Record XGBoost 1.7.4's pred_contribs (exact TreeSHAP) for the parity fixtures.

Run with Debian's interpreter (python3-xgboost 1.7.4):

    /usr/bin/python3 tests/gen_contrib_fixtures.py

For every case of tests/fixtures/xgb/MANIFEST it loads model.json and input.csv (parsed as
double, rounded to float32, as the tests feed lmrt), scores the rows with
booster.predict(dmat, pred_contribs=True) and writes tests/fixtures/xgb/<case>/expected_contrib.csv:
one line per row, G x (F + 1) values '%.9g' (for G outputs, output-major: output g's F feature
contributions then its bias, the layout XGBoost returns as [rows][G][F+1]).

Rows holding +-inf (meta.json "inf_rows") are scored with +-FLT_MAX instead: XGBoost 1.7.4
refuses inf in a DMatrix, and gen_fixtures.py already proves the routing identical.

Self-check: each row's contributions of output g must sum to expected_margin.csv's value within
1e-4 relative (XGBoost sums in float32); the script aborts otherwise.
"""
import csv
import json
import pathlib
import sys

import numpy as np
import xgboost as xgb

ROOT = pathlib.Path(__file__).resolve().parent / "fixtures" / "xgb"
F32 = np.float32
FLT_MAX = np.finfo(F32).max


def read_rows(path, nf):
    rows = []
    with open(path, newline="") as f:
        for rec in csv.reader(f):
            vals = []
            for cell in rec:
                c = cell.strip()
                vals.append(np.nan if c in ("", "nan", "NaN", "NA") else float(c))
            assert len(vals) == nf, (path, len(vals), nf)
            rows.append(vals)
    return np.array(rows, dtype=np.float64).astype(F32)


def main():
    assert xgb.__version__ == "1.7.4", xgb.__version__
    cases = [c for c in (ROOT / "MANIFEST").read_text().split() if c]
    for case in cases:
        d = ROOT / case
        meta = json.loads((d / "meta.json").read_text())
        nf = meta["num_features"]
        X = read_rows(d / "input.csv", nf)
        X = np.where(np.isposinf(X), FLT_MAX, np.where(np.isneginf(X), -FLT_MAX, X)).astype(F32)
        bst = xgb.Booster(model_file=str(d / "model.json"))
        bst.set_param({"nthread": 1})
        if meta.get("feature_types"):
            dm = xgb.DMatrix(X, missing=np.nan, feature_names=bst.feature_names,
                             feature_types=meta["feature_types"], enable_categorical=True,
                             nthread=1)
        else:
            dm = xgb.DMatrix(X, missing=np.nan, feature_names=bst.feature_names, nthread=1)
        c = bst.predict(dm, pred_contribs=True)
        margin = bst.predict(dm, output_margin=True).reshape(X.shape[0], -1)
        c = c.reshape(X.shape[0], -1, nf + 1)
        G = c.shape[1]
        s = c.astype(np.float64).sum(axis=2)
        err = np.abs(s - margin) / np.maximum(1.0, np.abs(margin))
        if err.max() > 1e-4:
            sys.exit(f"{case}: contributions do not sum to the margin (max rel err {err.max()})")
        with open(d / "expected_contrib.csv", "w") as f:
            for r in range(X.shape[0]):
                f.write(",".join("%.9g" % v for v in c[r].reshape(-1)) + "\n")
        print(f"{case}: {X.shape[0]} rows, {G} x {nf + 1} columns, sum-to-margin err {err.max():.2g}")


if __name__ == "__main__":
    main()
