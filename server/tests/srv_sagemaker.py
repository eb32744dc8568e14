#!/usr/bin/python3
"""srv_sagemaker.py — lmserve --sagemaker, end to end (run by test_server.py): SageMaker's
inference container contract (GET /ping, POST /invocations with text/csv and application/json,
answers in the Accept type, errors, metrics under the model's name).
"""
import json
import os
import subprocess

from srv_harness import BIN, SRC, Server, check, csv_rows, lmscore, metric, run


def sagemaker(tmp):
    """Issue 20 part 3: SageMaker's inference container contract (GET /ping, POST /invocations
    with text/csv and application/json, answers in the Accept type)."""
    repo = os.path.join(tmp, "models-sagemaker")
    os.makedirs(repo, exist_ok=True)
    ex = os.path.join(repo, "example.lm")
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o", ex)
    small = os.path.join(tmp, "sm_rows.csv")
    with open(os.path.join(SRC, "examples/rows.csv")) as f, open(small, "w") as g:
        lines = f.readlines()[:5]
        g.writelines(lines)
    want = [float(r[0]) for r in lmscore(ex, small)]
    csv_body = "".join(lines).encode()
    rows = csv_rows(small)
    r = subprocess.run([f"{BIN}/lmserve", "--sagemaker", "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "--sagemaker" in r.stdout, "--sagemaker is a known flag")
    srv = Server(repo, "--threads", "1", "--sagemaker")
    try:
        st, h, data = srv.req("GET", "/ping")
        check(st == 200, f"GET /ping: {st}")

        def close(a, b):
            return len(a) == len(b) and all(abs(x - y) <= 1e-6 * max(1, abs(y)) for x, y in zip(a, b))
        # table: (what, content type, body, accept, status, response type, parse)
        csv_parse = lambda d: [float(x) for x in d.decode().split(",")]
        json_parse = lambda d: [p["score"] for p in json.loads(d)["predictions"]]
        jsonl_parse = lambda d: [json.loads(l)["score"] for l in d.decode().splitlines()]
        cases = [
            ("csv in, csv out (default Accept)", "text/csv", csv_body, None, "text/csv", csv_parse),
            ("csv in, */*", "text/csv", csv_body, "*/*", "text/csv", csv_parse),
            ("no Content-Type: csv", None, csv_body, "text/csv", "text/csv", csv_parse),
            ("csv with CRLF and charset", "text/csv; charset=utf-8", csv_body.replace(b"\n", b"\r\n"),
             "application/json", "application/json", json_parse),
            ("csv in, jsonlines out", "text/csv", csv_body, "application/jsonlines",
             "application/jsonlines", jsonl_parse),
            ("json rows in, json out", "application/json",
             json.dumps(rows).encode(), "application/json", "application/json", json_parse),
            ("json instances in, csv out", "application/json",
             json.dumps({"instances": rows}).encode(), "text/csv", "text/csv", csv_parse),
        ]
        for what, ct, body, acc, rtype, parse in cases:
            hdr = {}
            if ct:
                hdr["Content-Type"] = ct
            if acc:
                hdr["Accept"] = acc
            st, h, data = srv.req("POST", "/invocations", body, hdr)
            ok = st == 200 and h.get("content-type") == rtype
            try:
                ok = ok and close(parse(data), want)
            except Exception:
                ok = False
            check(ok, f"SageMaker {what}: {st} {h.get('content-type')} {data[:200]!r}")
        st, h, data = srv.req("POST", "/invocations", json.dumps(rows[0]).encode(),
                              {"Content-Type": "application/json", "Accept": "application/json"})
        check(st == 200 and close(json_parse(data), want[:1]), f"SageMaker one JSON row: {st} {data[:100]!r}")
        bad = [
            ("empty body", "text/csv", b"", None, 204),
            ("unsupported Content-Type", "text/libsvm", b"0 1:2", None, 415),
            ("unsupported Accept", "text/csv", csv_body, "application/x-recordio-protobuf", 406),
            ("wrong field count", "text/csv", b"1,2,3\n", None, 400),
            ("not a number", "text/csv", b"x" + csv_body, None, 400),
            ("json wrong width", "application/json", b"[[1,2,3]]", None, 400),
            ("json unknown member", "application/json", b'{"rows":[[1]]}', None, 400),
        ]
        for what, ct, body, acc, want_st in bad:
            hdr = {"Content-Type": ct}
            if acc:
                hdr["Accept"] = acc
            st, h, data = srv.req("POST", "/invocations", body, hdr)
            check(st == want_st, f"SageMaker {what}: {st} (want {want_st}) {data[:120]!r}")
        check(srv.req("POST", "/ping")[0] == 405 and srv.req("GET", "/invocations")[0] == 405,
              "SageMaker routes: wrong methods are 405")
        mt = srv.metrics()
        check(metric(mt, "lmserve_requests_total", 'model="example",code="200"') == len(cases) + 1 and
              metric(mt, "lmserve_requests_total", 'model="example",code="415"') == 1,
              "SageMaker requests counted under their model")
    finally:
        check(srv.stop() == 0, "sagemaker server: exit 0")

