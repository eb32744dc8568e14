"""srv_sklearn.py — issue 16's "from lmconvert, lmscore and lmserve": every scikit-learn, pickled
LightGBM and pickled XGBoost fixture of tests/fixtures/sklearn/ (pickle and joblib files, every
compression), put inside a model.tar.gz as SageMaker leaves it, converted with lmconvert,
served by one lmserve, and scored over the V2 protocol with a binary FP32 request of the
fixture's rows (missing values as NaN): every output within 1e-6 of scikit-learn's own values
(expected.csv; relative to the larger of 1, the value and, for linear models, the size of the
row's sum: scale.csv, the bound of tests/test_pickle.c). Standard library only.
"""
import io
import os
import struct
import tarfile

from srv_harness import BIN, SRC, Server, binary_request, check, csv_rows, run

FIX = os.path.join(SRC, "tests/fixtures/sklearn")


def _model_file(d):
    for f in sorted(os.listdir(d)):
        if f.startswith("model."):
            return f
    return None


def _expected(path):
    with open(path) as f:
        return [[float(v) for v in line.split(",")] for line in f if line.strip()]


def sklearn(tmp):
    models = os.path.join(tmp, "models_sklearn")
    os.mkdir(models)
    cases = []
    for name in sorted(os.listdir(FIX)):
        d = os.path.join(FIX, name)
        mf = _model_file(d) if os.path.isdir(d) else None
        if not mf or not os.path.exists(os.path.join(d, "expected.csv")):
            continue  # bad/ and evil/ hold refusal cases (tests/test_pickle.c)
        tgz = os.path.join(tmp, f"sk-{name}.tar.gz")
        with tarfile.open(tgz, "w:gz") as t:
            t.add(os.path.join(d, mf), arcname=mf)
        # model names: letters, digits, '-', '_' (lmserve's rule), as the fixture's directory
        run(f"{BIN}/lmconvert", "-q", tgz, "-o", os.path.join(models, name + ".lm"))
        cases.append(name)
    check(len(cases) >= 70, f"scikit-learn fixtures converted from model.tar.gz: {len(cases)}")
    srv = Server(models, "--threads", "2", "--max-models", "256")
    try:
        bad = []
        for name in cases:
            d = os.path.join(FIX, name)
            rows = csv_rows(os.path.join(d, "input.csv"))
            want = _expected(os.path.join(d, "expected.csv"))
            n, nfeat, width = len(rows), len(rows[0]), len(want[0])
            body, hdrs = binary_request(rows, nfeat, True)
            st, h, data = srv.req("POST", f"/v2/models/{name}/infer", body, hdrs)
            vals = []
            if st == 200:
                out = data[int(h.get("inference-header-content-length", "0")):]
                if len(out) >= 4 * n * width:
                    vals = struct.unpack(f"<{n * width}f", out[:4 * n * width])
            # linear models: float32 weights and sums round relative to the size of the sum,
            # |x|·|coef| + |intercept| per row (scale.csv), as tests/test_pickle.c judges them
            sc = os.path.join(d, "scale.csv")
            scale = [max(r) for r in _expected(sc)] if os.path.exists(sc) else [0.0] * n
            refs = [max(1.0, abs(w), scale[i // width])
                    for i, w in enumerate(v for r in want for v in r)]
            worst = max((abs(g - w) / ref for g, w, ref in
                         zip(vals, [v for r in want for v in r], refs)), default=1.0)
            if st != 200 or len(vals) != n * width or worst > 1e-6:
                bad.append(f"{name} ({st}, {len(vals)}/{n * width} values, worst {worst:.2e})")
        check(not bad, f"lmserve serves {len(cases)} scikit-learn/pickle models within 1e-6 of "
              f"scikit-learn: {bad[:5]}")
    finally:
        srv.stop()
