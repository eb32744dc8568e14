#!/usr/bin/python3
"""srv_contrib.py — feature contributions over the V2 protocol (issue 21 item 3), run by
test_server.py: the `contrib` output that the request parameter `pred_contribs` (XGBoost's
name) or an `outputs` entry asks for, end to end on a repository of its own:

- metadata lists `contrib` FP32 `[-1, features + 1]` (one output) or `[-1, outputs,
  features + 1]` (several) for models that have contributions, and not for those without;
- values equal, float for float, to `lmscore --contrib` on the same rows: the example (binary,
  missing values) from FP64 and FP32 JSON, binary tensors in and out, one tensor per feature,
  together with output-0 and leaf; a 4-class model; a gblinear model; each row's contributions
  sum to its margin;
- a LightGBM model (cover from its counts): equal to `lmscore --contrib` and, within 1e-5, to
  the independent oracle's values committed with the fixture;
- errors: a LightGBM model of linear trees (LightGBM has no contributions for them), a file
  without cover (the COVER section hidden, re-sealed), a factorization machine: 400s saying why; output_margin on contrib, pred_contribs not a
  boolean: 400s; --max-response-bytes counts the contrib output: 413.
Standard library only.
"""
import json
import os
import struct

from srv_harness import BIN, BUILD, SRC, Server, check, csv_rows, f32, infer_raw, run


def _lmscore(model, csv_path, *flags):
    out = run(f"{BIN}/lmscore", model, csv_path, *flags).stdout
    return [[float(x) for x in line.split(",")] for line in out.strip().split("\n")]


def _hide_cover(path):
    """Turn the file's COVER section (kind 10) into an unknown optional kind, as a file of a
    converter before format 1.1 has none; re-seal the checksums."""
    with open(path, "r+b") as f:
        b = bytearray(f.read())
        (nsec,) = struct.unpack_from("<I", b, 24)
        (table,) = struct.unpack_from("<Q", b, 32)
        for i in range(nsec):
            if struct.unpack_from("<I", b, table + 32 * i)[0] == 10:
                struct.pack_into("<I", b, table + 32 * i, 200)
        f.seek(0)
        f.write(b)
    run(os.path.join(BUILD, "tests/lmf_reseal"), path)


def contrib(tmp):
    models = os.path.join(tmp, "models-contrib")
    os.makedirs(models, exist_ok=True)
    fx = os.path.join(SRC, "tests/fixtures")
    conv = f"{BIN}/lmconvert"
    paths = {
        "example": os.path.join(SRC, "examples/model.tar.gz"),
        "multi": os.path.join(fx, "xgb/multi_softprob4/model.json"),
        "linear": os.path.join(fx, "xgb/gblinear_multi_softprob3/model.json"),
        "lgb": os.path.join(fx, "lightgbm/real/jpmml_binary_audit/model.txt"),
        "lgblin": os.path.join(fx, "lightgbm/real/jpmml_linear_regression_auto/model.txt"),
        "nocover": os.path.join(fx, "xgb/binary_logistic/model.json"),
        "fm": os.path.join(fx, "fm/regressor-k8/model.tar.gz"),
    }
    lm = {}
    for name, src in paths.items():
        lm[name] = os.path.join(models, name + ".lm")
        run(conv, "-q", src, "-o", lm[name])
    _hide_cover(lm["nocover"])

    rows_csv = os.path.join(tmp, "contrib_rows.csv")
    with open(os.path.join(SRC, "examples/rows.csv")) as f, open(rows_csv, "w") as g:
        g.writelines(f.readlines()[:10])
    rows = csv_rows(rows_csv)
    n = len(rows)
    want = _lmscore(lm["example"], rows_csv, "--contrib")
    flat = [x for r in want for x in r]
    margin = [r[0] for r in _lmscore(lm["example"], rows_csv, "--margin")]
    value = [r[0] for r in _lmscore(lm["example"], rows_csv)]
    leaves = [int(x) for r in _lmscore(lm["example"], rows_csv, "--leaf") for x in r]
    check(len(want) == n and all(len(r) == 21 for r in want),
          "lmscore --contrib: 21 columns per row of the example")
    check(all(abs(sum(r) - m) <= 1e-5 * max(1, abs(m)) for r, m in zip(want, margin)),
          "the example's contributions sum to its margins")

    srv = Server(models, "--threads", "2", "--max-response-bytes", "100000")
    try:
        # ---- metadata
        outs = {}
        for name in lm:
            st, m = srv.json("GET", f"/v2/models/{name}")
            outs[name] = {o["name"]: o for o in m.get("outputs", [])} if st == 200 else None
        check(outs["example"] and outs["example"].get("contrib") ==
              {"name": "contrib", "datatype": "FP32", "shape": [-1, 21]},
              f"metadata: example's contrib output {outs['example']}")
        check(outs["multi"] and outs["multi"].get("contrib", {}).get("shape") == [-1, 4, 11],
              f"metadata: 4-class contrib [-1, 4, 11] {outs['multi']}")
        check(outs["linear"] and outs["linear"].get("contrib", {}).get("shape") == [-1, 3, 11],
              f"metadata: gblinear contrib [-1, 3, 11] {outs['linear']}")
        check(outs["lgb"] and outs["lgb"].get("contrib", {}).get("shape") == [-1, 10],
              f"metadata: LightGBM contrib [-1, 10] {outs['lgb']}")
        for name in ("nocover", "fm"):
            check(outs[name] is not None and "contrib" not in outs[name] and "output-0" in outs[name],
                  f"metadata: no contrib output for {name} ({outs[name]})")

        # ---- values: JSON, FP64 and FP32 rows
        single = {"name": "input-0", "datatype": "FP64", "shape": [n, 20], "data": rows}
        for dt in ("FP64", "FP32"):
            st, j = infer_raw(srv, "example", {"inputs": [dict(single, datatype=dt)],
                                               "parameters": {"pred_contribs": True}})
            o = j["outputs"] if st == 200 else []
            check(st == 200 and len(o) == 1 and o[0]["name"] == "contrib" and
                  o[0]["datatype"] == "FP32" and o[0]["shape"] == [n, 21] and
                  o[0]["data"] == flat,
                  f"V2 pred_contribs ({dt} rows) equals lmscore --contrib: {st} {str(j)[:300]}")
        # with output-0 and leaf, named in outputs
        st, j = infer_raw(srv, "example", {
            "inputs": [single], "parameters": {"output_margin": True},
            "outputs": [{"name": "contrib"}, {"name": "output-0"}, {"name": "leaf"}]})
        o = {x["name"]: x for x in j["outputs"]} if st == 200 else {}
        check(st == 200 and [x["name"] for x in j["outputs"]] == ["output-0", "leaf", "contrib"]
              and o["contrib"]["data"] == flat and o["leaf"]["data"] == leaves and
              all(abs(a - f32(b)) <= 1e-6 * max(1, abs(b)) for a, b in zip(o["output-0"]["data"], margin)),
              f"V2 outputs output-0 (margin), leaf and contrib together: {st} {str(j)[:300]}")
        st, j = infer_raw(srv, "example", {"inputs": [single],
                                           "parameters": {"pred_contribs": True, "pred_leaf": True}})
        check(st == 200 and [x["name"] for x in j["outputs"]] == ["leaf", "contrib"] and
              j["outputs"][1]["data"] == flat,
              f"V2 pred_leaf and pred_contribs: leaf and contrib: {st} {str(j)[:200]}")
        st, j = infer_raw(srv, "example", {"inputs": [single], "parameters": {"pred_contribs": False}})
        check(st == 200 and [x["name"] for x in j["outputs"]] == ["output-0"] and
              all(abs(a - f32(b)) <= 1e-6 for a, b in zip(j["outputs"][0]["data"], value)),
              f"V2 pred_contribs false: output-0: {st}")
        # binary tensors in and out
        hdr = json.dumps({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [n, 20],
                                      "parameters": {"binary_data_size": 4 * 20 * n}}],
                          "outputs": [{"name": "output-0", "parameters": {"binary_data": True}},
                                      {"name": "contrib", "parameters": {"binary_data": True}}]}).encode()
        data = b"".join(struct.pack("<f", float("nan") if v is None else v) for r in rows for v in r)
        st, h, body = srv.req("POST", "/v2/models/example/infer", hdr + data,
                              {"Inference-Header-Content-Length": str(len(hdr)),
                               "Content-Type": "application/octet-stream"})
        hl = int(h.get("inference-header-content-length", "-1"))
        ok = st == 200 and hl > 0
        if ok:
            jh = json.loads(body[:hl])
            sizes = [o["parameters"]["binary_data_size"] for o in jh["outputs"]]
            ok = sizes == [4 * n, 4 * 21 * n] and jh["outputs"][1]["shape"] == [n, 21] and \
                len(body) == hl + 4 * n + 4 * 21 * n
            got = list(struct.unpack(f"<{21 * n}f", body[hl + 4 * n:])) if ok else []
            ok = ok and got == [f32(x) for x in flat]
        check(ok, f"V2 contrib as binary data after output-0, binary rows in: {st}")
        # one tensor per feature
        st, m = srv.json("GET", "/v2/models/example")
        names = m["inputs"][0]["parameters"]["feature_names"]
        ins = [{"name": names[i], "datatype": "FP64", "shape": [n], "data": [r[i] for r in rows]}
               for i in range(20)][::-1]
        st, j = infer_raw(srv, "example", {"inputs": ins, "parameters": {"pred_contribs": True}})
        check(st == 200 and j["outputs"][0]["data"] == flat,
              f"V2 contrib from one tensor per feature: {st} {str(j)[:200]}")

        # ---- a 4-class model and a linear one: [rows, outputs, features + 1]
        for name, fixture, k in (("multi", "xgb/multi_softprob4", 4),
                                 ("linear", "xgb/gblinear_multi_softprob3", 3)):
            src_csv = os.path.join(fx, fixture, "input.csv")
            part = os.path.join(tmp, f"contrib_{name}.csv")
            with open(src_csv) as f, open(part, "w") as g:
                g.writelines(f.readlines()[:6])
            r = csv_rows(part)
            exp = [x for row in _lmscore(lm[name], part, "--contrib") for x in row]
            nf = len(r[0])
            st, j = infer_raw(srv, name, {"inputs": [{"name": "input-0", "datatype": "FP64",
                                                      "shape": [len(r), nf], "data": r}],
                                          "parameters": {"pred_contribs": True}})
            o = j["outputs"][0] if st == 200 else {}
            check(st == 200 and o["shape"] == [len(r), k, nf + 1] and o["data"] == exp,
                  f"V2 {name}: contrib [rows, {k}, {nf + 1}] equals lmscore --contrib: {st} {str(j)[:200]}")

        # ---- a LightGBM model: lmscore's values, and the oracle's (tests/lgbm_contrib_oracle.py)
        lgd = os.path.join(fx, "lightgbm/real/jpmml_binary_audit")
        part = os.path.join(tmp, "contrib_lgb.csv")
        with open(os.path.join(lgd, "input.csv")) as f, open(part, "w") as g:
            g.writelines(f.readlines()[:8])
        r = csv_rows(part)
        exp = _lmscore(lm["lgb"], part, "--contrib")
        with open(os.path.join(lgd, "expected_contrib_f32.csv")) as f:
            oracle = [[float(x) for x in line.split(",")] for line in f.readlines()[:len(r)]]
        st, j = infer_raw(srv, "lgb", {"inputs": [{"name": "input-0", "datatype": "FP32",
                                                   "shape": [len(r), 9], "data": r}],
                                       "parameters": {"pred_contribs": True}})
        got = j["outputs"][0]["data"] if st == 200 else []
        check(st == 200 and j["outputs"][0]["shape"] == [len(r), 10] and
              got == [x for row in exp for x in row] and
              all(abs(a - b) <= max(1e-6, 1e-5 * abs(b))
                  for a, b in zip(got, [x for row in oracle for x in row])),
              f"V2 LightGBM contrib equals lmscore --contrib and the oracle: {st} {str(j)[:200]}")

        # ---- errors
        def err(model, req, status, text, what):
            st, j = infer_raw(srv, model, req)
            e = j.get("error", "") if isinstance(j, dict) else ""
            check(st == status and all(t in e for t in text), f"V2 contrib {what}: {st} {j}")
        one = lambda nf: {"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [1, nf],
                                      "data": [0.5] * nf}], "parameters": {"pred_contribs": True}}
        st, m = srv.json("GET", "/v2/models/lgblin")
        nlin = m["inputs"][0]["shape"][1] if st == 200 else 1
        err("lgblin", one(nlin), 400, ["linear trees"], "of LightGBM linear trees")
        err("nocover", one(10), 400, ["model 'nocover' has no contributions", "cover"],
            "of a file without cover")
        st, m = srv.json("GET", "/v2/models/fm")
        nfm = m["inputs"][0]["shape"][1] if st == 200 else 1
        err("fm", one(nfm), 400, ["model 'fm' has no contributions", "factorization"],
            "of a factorization machine")
        err("nocover", {"inputs": one(10)["inputs"], "outputs": [{"name": "contrib"}]}, 400,
            ["no contributions"], "output named in outputs of a file without cover")
        err("example", {"inputs": [single], "outputs": [{"name": "contrib",
                                                         "parameters": {"output_margin": True}}]},
            400, ["output_margin applies to output-0 only"], "with output_margin")
        err("example", {"inputs": [single], "parameters": {"pred_contribs": 1}}, 400,
            ["expected true or false"], "pred_contribs not a boolean")
        many = [rows[i % n] for i in range(400)]  # 400 x 21 values x 16 bytes > 100000
        err("example", {"inputs": [dict(single, shape=[400, 20], data=many)],
                        "parameters": {"pred_contribs": True}}, 413,
            ["--max-response-bytes"], "response over --max-response-bytes")
        st, j = infer_raw(srv, "example", {"inputs": [dict(single, shape=[400, 20], data=many)]})
        check(st == 200, f"the same rows without contrib fit the response limit: {st}")
    finally:
        check(srv.stop() == 0, "contrib server: exit 0")
