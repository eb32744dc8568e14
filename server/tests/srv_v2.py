#!/usr/bin/python3
"""srv_v2.py — lmserve's KServe V2 protocol, end to end (run by test_server.py): health,
server and model metadata, inference values equal to lmscore's (JSON, FP64, nested data, a
[features] shape, binary tensors in and out, a multi-output model), the errors of a request
(malformed JSON, datatypes, shapes, feature counts, unknown models and outputs, body size,
methods, HEAD), and V2 as clients use it (protocols(): parameters, named and typed outputs,
feature names, one tensor per feature).
"""
import json
import os
import struct

from srv_harness import (BIN, SRC, Server, binary_request, check, csv_rows, f32, infer_body,
                         infer_raw, lmscore, run)


def metadata_and_inference(srv, fix):
    """Placement of the main server's sessions, health and metadata, inference values."""
    ex_rows = fix.ex_rows
    ex_expect, multi_rows, multi_expect = fix.ex_expect, fix.multi_rows, fix.multi_expect
    # ---------------- placement: sessions (and, forced, a model replica) on the workers' CPUs
    lines = [json.loads(l) for l in srv.logs().splitlines() if l.startswith("{")]
    start = [l for l in lines if l.get("msg") == "starting"]
    loaded = [l for l in lines if l.get("msg") == "model loaded"]
    want = 1 if start and start[0].get("pinned") else 0
    check(start and len(loaded) >= 3 and all(l.get("numa_replicas") == want for l in loaded),
          f"forced NUMA replicas: {want} per model ({[l.get('numa_replicas') for l in loaded]})")
    # ---------------- health and metadata ----------------
    check(srv.json("GET", "/v2/health/live") == (200, {"live": True}), "live")
    check(srv.json("GET", "/v2/health/ready") == (200, {"ready": True}), "ready")
    st, meta = srv.json("GET", "/v2")
    check(st == 200 and meta["name"] == "lmserve" and "binary_tensor_data" in meta["extensions"],
          "server metadata")
    st, m = srv.json("GET", "/v2/models/example")
    check(st == 200 and m["name"] == "example" and m["versions"] == ["1"] and
          m["inputs"][0]["shape"] == [-1, 20] and m["outputs"][0]["shape"] == [-1, 1] and
          m["inputs"][0]["datatype"] == "FP32", f"model metadata {m}")
    check(srv.json("GET", "/v2/models/example/versions/1")[0] == 200, "versioned metadata")
    check(srv.json("GET", "/v2/models/example/ready") == (200, {"name": "example", "ready": True}),
          "model ready")
    check(srv.json("GET", "/v2/models/example/versions/1/ready")[0] == 200, "versioned ready")
    st, m = srv.json("GET", "/v2/models/other")
    check(st == 200 and m["parameters"]["selftest_rows"] == 8, "self-test ran before serving")
    st, m = srv.json("GET", "/v2/models/multi")
    check(st == 200 and m["outputs"][0]["shape"] == [-1, 4], "multi-output metadata")
    for path in ("/v2/models/nope", "/v2/models/nope/ready", "/v2/models/example/versions/7",
                 "/v2/models/example/versions/7/ready", "/nothing", "/v2/models/example/what",
                 "/v2/models/"):
        st, b = srv.json("GET", path)
        check(st == 404 and "error" in b, f"404 for {path}: {st} {b}")
    st, b = srv.json("POST", "/v2/models/nope/infer", infer_body([ex_rows[1]], 20))
    check(st == 404 and b["error"] == "model 'nope' not found", f"infer unknown model: {b}")

    # ---------------- inference: values equal lmscore's ----------------
    st, b = srv.json("POST", "/v2/models/example/infer", infer_body(ex_rows, 20, rid="batch-1"))
    check(st == 200, f"batch infer status {st} {b}")
    if st == 200:
        o = b["outputs"][0]
        check(b["id"] == "batch-1" and b["model_name"] == "example" and
              b["model_version"] == "1", "id echoed, model name and version")
        check(o["name"] == "output-0" and o["datatype"] == "FP32" and o["shape"] == [40, 1],
              f"output tensor {o['shape']}")
        check([repr(f32(x)) for x in o["data"]] == [repr(f32(float(x))) for x in ex_expect],
              "40 rows (missing values as null) equal lmscore's")
        raw_txt = srv.req("POST", "/v2/models/example/infer",
                          json.dumps(infer_body(ex_rows, 20)).encode())[2].decode()
        check(all(x in raw_txt for x in ex_expect), "values printed as lmscore prints them (%.9g)")
    c = srv.conn()  # keep-alive: one row per request on one connection
    ok = True
    for i, row in enumerate(ex_rows):
        st, b = srv.json("POST", "/v2/models/example/versions/1/infer",
                         infer_body([row], 20, rid=f"r{i}"), conn=c)
        ok = ok and st == 200 and b["id"] == f"r{i}" and f32(b["outputs"][0]["data"][0]) == f32(
            float(ex_expect[i]))
    c.close()
    check(ok, "40 single-row requests on one keep-alive connection")
    st, b = srv.json("POST", "/v2/models/example/infer",
                     infer_body(ex_rows[:5], 20, datatype="FP64", nested=True))
    check(st == 200 and [f32(x) for x in b["outputs"][0]["data"]] ==
          [f32(float(x)) for x in ex_expect[:5]], "FP64, nested data")
    one = {"inputs": [{"name": "x", "shape": [20], "datatype": "FP32", "data": ex_rows[3]}]}
    st, b = srv.json("POST", "/v2/models/example/infer", one)
    check(st == 200 and b["outputs"][0]["shape"] == [1, 1] and
          f32(b["outputs"][0]["data"][0]) == f32(float(ex_expect[3])), "shape [features]")
    st, b = srv.json("POST", "/v2/models/multi/infer", infer_body(multi_rows, 10))
    check(st == 200 and b["outputs"][0]["shape"] == [30, 4] and
          [f32(x) for x in b["outputs"][0]["data"]] ==
          [f32(float(x)) for r in multi_expect for x in r], "multi-output model equals lmscore")
    # binary tensor data extension
    body, hdrs = binary_request(ex_rows, 20, True)
    st, h, data = srv.req("POST", "/v2/models/example/infer", body, hdrs)
    check(st == 200 and "inference-header-content-length" in h, f"binary infer {st} {h}")
    if st == 200:
        hl = int(h["inference-header-content-length"])
        j = json.loads(data[:hl])
        vals = struct.unpack("<40f", data[hl:])
        check(j["outputs"][0]["parameters"]["binary_data_size"] == 160 and
              [f32(v) for v in vals] == [f32(float(x)) for x in ex_expect],
              "binary FP32 in and out equal lmscore")
    body, hdrs = binary_request(ex_rows[:3], 20, False)
    st, h, data = srv.req("POST", "/v2/models/example/infer", body, hdrs)
    check(st == 200 and [f32(x) for x in json.loads(data)["outputs"][0]["data"]] ==
          [f32(float(x)) for x in ex_expect[:3]], "binary in, JSON out")


def errors(srv, fix):
    """A request's errors on the main server: JSON, datatype, shape, features, size, methods, HEAD."""
    ex_rows = fix.ex_rows
    # ---------------- errors ----------------
    def err(path, body, status, contains, headers=None):
        st, _, data = srv.req("POST", path, body, headers or {"Content-Type": "application/json"})
        try:
            msg = json.loads(data)["error"]
        except Exception:
            msg = None
        check(st == status and msg is not None and contains in msg,
              f"{status} '{contains}' for {body[:60]!r}: got {st} {msg!r}")

    inf = "/v2/models/example/infer"
    good = infer_body([ex_rows[1]], 20)
    err(inf, b'{"inputs": [', 400, "malformed JSON")
    err(inf, b'{"inputs": []} x', 400, "trailing")
    err(inf, b'{"inputs": [{"shape":[1,20],"datatype":"FP32","data":[1,2,]}]}', 400, "malformed JSON")
    err(inf, b'{"inputs": [{"shape":[1,20],"datatype":"FP32","data":[NaN]}]}', 400, "data")
    err(inf, b'{"inputs": [{"shape":[1,20],"datatype":"FP32","data":[01]}]}', 400, "malformed JSON")
    err(inf, b'{"inputs": [{"shape":[1,20],"datatype":"FP32","data":[true]}]}', 400, "true/false")
    for dt in ("BYTES", "FP16", "fp32", ""):
        b2 = dict(good)
        b2["inputs"] = [dict(good["inputs"][0], datatype=dt)]
        err(inf, json.dumps(b2).encode(), 400, "unsupported datatype")
    b2 = infer_body([r[:10] for r in ex_rows[:2]], 10)
    err(inf, json.dumps(b2).encode(), 400, "expects 20 features")
    b2 = infer_body([ex_rows[1]], 20)
    b2["inputs"][0]["shape"] = [2, 20]
    err(inf, json.dumps(b2).encode(), 400, "data has 20 values; shape [2, 20] needs 40")
    b2["inputs"][0]["shape"] = [1, 1, 20]
    err(inf, json.dumps(b2).encode(), 400, "shape must be")
    b2 = infer_body([ex_rows[1]], 20)
    b2["inputs"] = b2["inputs"] * 2
    err(inf, json.dumps(b2).encode(), 400, "send it alone, or one input per feature")
    b2 = dict(infer_body([ex_rows[1]], 20), outputs=[{"name": "proba"}])
    err(inf, json.dumps(b2).encode(), 400, "unknown output")
    b2 = infer_body([ex_rows[1]], 20)
    del b2["inputs"][0]["data"]
    err(inf, json.dumps(b2).encode(), 400, "no data")
    body, hdrs = binary_request(ex_rows[:2], 20, False)
    err(inf, body[:-4], 400, "binary_data_size", hdrs)
    hdrs2 = dict(hdrs, **{"Inference-Header-Content-Length": str(len(body) + 5)})
    err(inf, body, 400, "exceeds the body", hdrs2)
    err(inf, b"x" * 200001, 413, "too large")
    st, b = srv.json("GET", inf)
    check(st == 405 and "POST" in b["error"], "GET on infer is 405")
    st, b = srv.json("POST", "/v2/health/live", {})
    check(st == 405, "POST on live is 405")
    # HEAD: a GET's status and headers (Content-Length included), no body; the next request
    # on the connection is framed right after the head
    out = srv.raw(b"HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /v2/models/example/infer HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    heads = out.split(b"\r\n\r\n")
    check(len(heads) == 4 and heads[0].startswith(b"HTTP/1.1 200") and b"Content-Length: 13" in heads[0]
          and heads[1].startswith(b"HTTP/1.1 405") and b"Allow: POST" in heads[1] and
          heads[2].startswith(b"HTTP/1.1 200") and heads[3] == b'{"live":true}',
          f"HEAD answers headers only, pipelined ({out[:400]!r})")


def protocols(tmp, models0, ex0, multi0):
    """Issue 20 part 1: V2 as clients use it — parameters (output_margin, pred_leaf, unknown ones
    refused), outputs named and typed, feature names in the metadata, one tensor per feature."""
    # a repository of its own (main's hot-reload tests rewrote the others)
    models = os.path.join(tmp, "models-protocols")
    os.makedirs(models, exist_ok=True)
    ex, multi = os.path.join(models, "example.lm"), os.path.join(models, "multi.lm")
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o", ex)
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "tests/fixtures/xgb/multi_softprob4/model.json"),
        "-o", multi)
    rows_csv = os.path.join(SRC, "examples/rows.csv")
    rows = csv_rows(rows_csv)[:12]
    small = os.path.join(tmp, "rows12.csv")
    with open(rows_csv) as f, open(small, "w") as g:
        g.writelines(f.readlines()[:12])
    val = [float(r[0]) for r in lmscore(ex, small)]
    margin = [float(r.split(",")[0]) for r in run(f"{BIN}/lmscore", ex, small, "--margin").stdout.split()]
    leaves = [[int(x) for x in line.split(",")]
              for line in run(f"{BIN}/lmscore", ex, small, "--leaf").stdout.split()]
    ntrees = len(leaves[0])
    check(margin != val and ntrees > 1, "the example model's margins differ from its values")
    srv = Server(models, "--threads", "1")
    try:
        st, m = srv.json("GET", "/v2/models/example")
        names = m["inputs"][0]["parameters"]["feature_names"]
        types = m["inputs"][0]["parameters"]["feature_types"]
        check(st == 200 and len(names) == 20 and len(types) == 20 and
              all(t in ("q", "c") for t in types), f"metadata: feature names and types {m['inputs']}")
        check([o["name"] for o in m["outputs"]] == ["output-0", "leaf", "contrib"] and
              m["outputs"][1] == {"name": "leaf", "datatype": "UINT32", "shape": [-1, ntrees]},
              f"metadata: outputs {m['outputs']}")
        single = {"name": "input-0", "datatype": "FP64", "shape": [len(rows), 20], "data": rows}

        def close(a, b):
            return len(a) == len(b) and all(abs(x - y) <= 1e-6 * max(1, abs(y)) for x, y in zip(a, b))
        # table: (what, request extras, expected outputs [(name, datatype, data)])
        cases = [
            ("default: value", {}, [("output-0", "FP32", val)]),
            ("parameters.output_margin", {"parameters": {"output_margin": True}},
             [("output-0", "FP32", margin)]),
            ("output parameters.output_margin",
             {"outputs": [{"name": "output-0", "parameters": {"output_margin": True}}]},
             [("output-0", "FP32", margin)]),
            ("output_margin false", {"parameters": {"output_margin": False}},
             [("output-0", "FP32", val)]),
            ("parameters.pred_leaf", {"parameters": {"pred_leaf": True}},
             [("leaf", "UINT32", sum(leaves, []))]),
            ("outputs: leaf and output-0", {"outputs": [{"name": "leaf"}, {"name": "output-0"}]},
             [("output-0", "FP32", val), ("leaf", "UINT32", sum(leaves, []))]),
        ]
        for what, extra, outs in cases:
            req = dict({"inputs": [single]}, **extra)
            st, j = infer_raw(srv, "example", req)
            ok = st == 200 and len(j["outputs"]) == len(outs)
            for o, (nm, dt, data) in zip(j.get("outputs", []) if ok else [], outs):
                ok = ok and o["name"] == nm and o["datatype"] == dt
                if dt == "UINT32":
                    ok = ok and o["data"] == data and o["shape"] == [len(rows), ntrees]
                else:
                    ok = ok and close(o["data"], data)
            check(ok, f"V2 {what}: {st} {str(j)[:300]}")
        # binary leaf output
        hdr = json.dumps({"inputs": [single], "parameters": {"pred_leaf": True},
                          "outputs": [{"name": "leaf", "parameters": {"binary_data": True}}]}).encode()
        st, h, data = srv.req("POST", "/v2/models/example/infer", hdr, {"Content-Type": "application/json"})
        hl = int(h.get("inference-header-content-length", "-1"))
        got = list(struct.unpack(f"<{len(rows) * ntrees}I", data[hl:])) if hl > 0 else None
        check(st == 200 and got == sum(leaves, []), "V2 leaf output as binary data")
        # one tensor per feature, any order, [rows] or [rows,1], mixed datatypes
        order = list(range(20))[::-1]
        ins = []
        for k, i in enumerate(order):
            col = [r[i] for r in rows]
            if k % 3 == 0:
                ins.append({"name": names[i], "datatype": "FP64", "shape": [len(rows)], "data": col})
            else:
                ins.append({"name": names[i], "datatype": "FP64", "shape": [len(rows), 1],
                            "data": [[x] for x in col]})
        st, j = infer_raw(srv, "example", {"inputs": ins})
        check(st == 200 and close(j["outputs"][0]["data"], val),
              f"V2 one tensor per feature, any order: {st} {str(j)[:200]}")
        # errors: table of (what, request, status, text in the error)
        bad = [
            ("unknown request parameter", {"inputs": [single], "parameters": {"top_k": 3}}, 400,
             "unknown parameter 'top_k'"),
            ("unknown output parameter",
             {"inputs": [single], "outputs": [{"name": "output-0", "parameters": {"classification": 2}}]},
             400, "unknown parameter 'classification'"),
            ("unknown input parameter",
             {"inputs": [dict(single, parameters={"shm_region": "x"})]}, 400,
             "unknown parameter 'shm_region'"),
            ("unknown output", {"inputs": [single], "outputs": [{"name": "probabilities"}]}, 400,
             "unknown output requested"),
            ("missing feature", {"inputs": ins[1:]}, 400, "1 feature missing, the first '" + names[order[0]] + "'"),
            ("unknown feature", {"inputs": ins + [{"name": "nope", "datatype": "FP32", "shape": [len(rows)],
                                                  "data": [0] * len(rows)}]}, 400, "unknown feature 'nope'"),
            ("feature twice", {"inputs": ins + [ins[0]]}, 400, "given twice"),
            ("rows differ", {"inputs": [dict(ins[0], shape=[1], data=[1.0])] + ins[1:]}, 400,
             "same"),
            ("bool in FP32", {"inputs": [dict(single, datatype="FP32",
                                               data=[[True] * 20] * len(rows))]}, 400, "true/false"),
            ("INT out of range", {"inputs": [dict(ins[0], datatype="INT8", shape=[len(rows)],
                                                   data=[300] * len(rows))] + ins[1:]}, 400, "INT8"),
            ("output_margin not a boolean", {"inputs": [single], "parameters": {"output_margin": 1}}, 400,
             "expected true or false"),
            ("duplicate parameter", None, 400, "duplicate key"),
        ]
        for what, req, want_st, text in bad:
            if req is None:
                body = (b'{"inputs":[' + json.dumps(single).encode() +
                        b'],"parameters":{"pred_leaf":true,"pred_leaf":false}}')
                st, _, data = srv.req("POST", "/v2/models/example/infer", body, {})
                j = json.loads(data)
            else:
                st, j = infer_raw(srv, "example", req)
            check(st == want_st and text in j.get("error", ""), f"V2 {what}: {st} {j}")
        # BOOL and integer per-feature tensors
        ins2 = [{"name": names[i], "datatype": "BOOL" if i == 0 else "INT32", "shape": [2],
                 "data": [True, False] if i == 0 else [1, 0]} for i in range(20)]
        st, j = infer_raw(srv, "example", {"inputs": ins2})
        x = os.path.join(tmp, "bools.csv")
        with open(x, "w") as g:
            g.write(",".join(["1"] * 20) + "\n" + ",".join(["0"] * 20) + "\n")
        check(st == 200 and close(j["outputs"][0]["data"], [float(r[0]) for r in lmscore(ex, x)]),
              f"V2 BOOL and INT32 feature tensors: {st} {str(j)[:200]}")
        # multi-output model: margin of every class
        st, j = infer_raw(srv, "multi", {"inputs": [{"name": "input-0", "datatype": "FP32",
                          "shape": [1, len(csv_rows(os.path.join(SRC, "tests/fixtures/xgb/multi_softprob4/input.csv"))[0])],
                          "data": csv_rows(os.path.join(SRC, "tests/fixtures/xgb/multi_softprob4/input.csv"))[0]}],
                          "parameters": {"output_margin": True}})
        check(st == 200 and j["outputs"][0]["shape"][1] == 4 and
              j["outputs"][0]["parameters"] == {"output_margin": True},
              f"V2 multi-class margins: {st} {str(j)[:200]}")
    finally:
        check(srv.stop() == 0, "protocols server: exit 0")
