"""srv_fm.py — lmserve serving SageMaker Factorization Machines (.lm format 1.2, issue 17):
the synthetic binary_classifier (k = 32) and regressor (k = 8) artifacts of tests/fixtures/fm/,
converted with lmconvert, served from their own model directory, and scored over the V2
protocol as a JSON FP64 batch, single JSON rows and a binary FP32 request whose missing values
are NaN: every value within 1e-6 relative of the double-precision expected values the fixture
generator (tests/gen_fm_fixtures.py) recorded. Standard library only.
"""
import json
import os
import struct

from srv_harness import BIN, SRC, Server, binary_request, check, csv_rows, infer_body, run


def _expected(path):
    with open(path) as f:
        return [float(line) for line in f if line.strip()]


def _close(got, want):
    return abs(got - want) <= 1e-6 * max(1.0, abs(want))


def fm(tmp):
    models = os.path.join(tmp, "models_fm")
    os.mkdir(models)
    cases = {"fmbin": "binary-k32", "fmreg": "regressor-k8"}
    for name, case in cases.items():
        run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "tests/fixtures/fm", case, "model.tar.gz"),
            "-o", os.path.join(models, name + ".lm"))
    srv = Server(models, "--threads", "2")
    try:
        for name, case in cases.items():
            d = os.path.join(SRC, "tests/fixtures/fm", case)
            rows = csv_rows(os.path.join(d, "rows.csv"))
            want = _expected(os.path.join(d, "expected.csv"))
            nfeat = len(rows[0])
            st, m = srv.json("GET", f"/v2/models/{name}")
            check(st == 200 and m["inputs"][0]["shape"] == [-1, nfeat], f"FM {name} metadata {m}")
            # JSON batch of the rows without missing values, FP64
            full = [i for i, r in enumerate(rows) if None not in r]
            st, b = srv.json("POST", f"/v2/models/{name}/infer",
                             infer_body([rows[i] for i in full], nfeat, "FP64"))
            got = b["outputs"][0]["data"] if st == 200 else []
            check(st == 200 and len(got) == len(full) and
                  all(_close(g, want[i]) for g, i in zip(got, full)),
                  f"FM {name}: JSON batch within 1e-6 of the double reference ({st})")
            # single rows
            ok = True
            for i in full[:5]:
                st, b = srv.json("POST", f"/v2/models/{name}/infer", infer_body([rows[i]], nfeat))
                ok = ok and st == 200 and _close(b["outputs"][0]["data"][0], want[i])
            check(ok, f"FM {name}: single JSON rows")
            # every row, missing values as NaN, binary tensors in and out
            body, hdrs = binary_request(rows, nfeat, True)
            st, h, data = srv.req("POST", f"/v2/models/{name}/infer", body, hdrs)
            n = len(rows)
            vals = []
            if st == 200:
                hl = int(h.get("inference-header-content-length", "0"))
                out = data[hl:]
                vals = list(struct.unpack(f"<{n}f", out[:4 * n])) if len(out) >= 4 * n else []
            check(st == 200 and len(vals) == n and all(_close(g, w) for g, w in zip(vals, want)),
                  f"FM {name}: binary batch with missing values ({st}, {len(vals)} values)")
    finally:
        srv.stop()
