#!/usr/bin/python3
"""srv_recordio.py — application/x-recordio-protobuf on /invocations (run by test_server.py):
the fixtures of server/tests/fixtures/recordio/ (written by gen_recordio.py from the example's
rows: dense float32, float64 with labels, int32; sparse with and without shape; dense and sparse
records in one request; the wire format's legal variants) scored by lmserve --sagemaker, every
value equal to lmscore's for the same rows (the fixture's CSV: what the model must see, missing
values empty), answered as CSV, JSON and JSON Lines; each bad fixture a 400 naming its fault;
a body over --max-batch-rows a 413; sparse_bound(): a text/libsvm body of many tiny rows a 413
at the scratch bound for sparse bodies (rows x features <= max(body bytes, 2^24)), RecordIO's
empty records within it scored. Standard library only.
"""
import json
import os

from srv_harness import BIN, SRC, Server, check, run

FIX = os.path.join(SRC, "server/tests/fixtures/recordio")
CT = "application/x-recordio-protobuf"


def recordio(tmp):
    repo = os.path.join(tmp, "models-recordio")
    os.makedirs(repo, exist_ok=True)
    ex = os.path.join(repo, "example.lm")
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o", ex)
    with open(os.path.join(FIX, "manifest.json")) as f:
        manifest = json.load(f)
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", "--sagemaker",
                 "--max-batch-rows", "64")
    try:
        good = [m for m in manifest if "csv" in m]
        bad = [m for m in manifest if "error" in m]
        check(len(good) == 7 and len(bad) >= 19, f"recordio fixtures: {len(good)} good, {len(bad)} bad")
        for m in good:
            with open(os.path.join(FIX, m["name"] + ".rec"), "rb") as f:
                body = f.read()
            want = [float(x) for x in run(f"{BIN}/lmscore", ex, os.path.join(FIX, m["csv"])).stdout.split()]
            for acc in ("text/csv", "application/json", "application/jsonlines"):
                st, h, data = srv.req("POST", "/invocations", body, {"Content-Type": CT, "Accept": acc})
                try:
                    if acc == "text/csv":
                        got = [float(x) for x in data.decode().split(",")]
                    elif acc == "application/json":
                        got = [p["score"] for p in json.loads(data)["predictions"]]
                    else:
                        got = [json.loads(l)["score"] for l in data.decode().splitlines()]
                except (ValueError, KeyError):
                    got = []
                check(st == 200 and len(want) == m["rows"] and got == want,
                      f"recordio {m['name']} ({m['rows']} rows, Accept {acc}): equal to lmscore: "
                      f"{st} {data[:160]!r}")
        # the same rows as dense float32 records and as CSV: one answer
        with open(os.path.join(FIX, "dense_f32.rec"), "rb") as f:
            st, _, a = srv.req("POST", "/invocations", f.read(), {"Content-Type": CT})
        with open(os.path.join(FIX, "dense_f32.csv"), "rb") as f:
            st2, _, b = srv.req("POST", "/invocations", f.read(), {"Content-Type": "text/csv"})
        check(st == st2 == 200 and a == b, "recordio dense_f32 and its CSV: the same response bytes")
        for m in bad:
            with open(os.path.join(FIX, m["name"] + ".rec"), "rb") as f:
                body = f.read()
            st, h, data = srv.req("POST", "/invocations", body, {"Content-Type": CT})
            err = json.loads(data).get("error", "") if data.startswith(b"{") else ""
            check(st == m["status"] and m["error"] in err and err.startswith(CT + ": record "),
                  f"recordio {m['name']}: {m['status']} naming '{m['error']}': {st} {err!r}")
        # over --max-batch-rows (64): 65 records
        with open(os.path.join(FIX, "dense_f64.rec"), "rb") as f:
            body = f.read()
        st, h, data = srv.req("POST", "/invocations", body * 2, {"Content-Type": CT})  # 80 rows
        check(st == 413 and b"--max-batch-rows" in data, f"recordio over --max-batch-rows: {st} {data[:200]!r}")
        st, h, data = srv.req("POST", "/invocations", b"", {"Content-Type": CT})
        check(st == 204, f"recordio empty body: 204 ({st})")
    finally:
        check(srv.stop() == 0, "recordio server: exit 0")


def sparse_bound(tmp):
    """Rows that store nothing cost the model's feature count of doubles each: 2^24 / 20 + 1
    LIBSVM label-only lines (2 bytes each) are a 413 naming the bound, not 128 MiB and more of
    scratch per request. (An empty sparse RecordIO record takes 28 bytes, more than the
    example's 20 features: the same bound in recordio.c bites only for models wider than their
    records; here 838,861 of them are scored.)"""
    repo = os.path.join(tmp, "models-sparse-bound")
    os.makedirs(repo, exist_ok=True)
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o",
        os.path.join(repo, "example.lm"))
    import struct
    rec = bytes.fromhex("0a0f0a0676616c756573120512031a0114")  # features["values"]: shape [20] only
    frame = struct.pack("<II", 0xCED7230A, len(rec)) + rec + b"\0" * ((-len(rec)) % 4)
    most = (1 << 24) // 20
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", "--sagemaker",
                 "--max-body-bytes", str(32 << 20))
    try:
        st, h, data = srv.req("POST", "/invocations", b"0\n" * (most + 1), {"Content-Type": "text/libsvm"})
        check(st == 413 and b"scratch bound" in data and str(most + 1).encode() in data,
              f"text/libsvm: {most + 1} empty rows: 413 at the sparse scratch bound: {st} {data[:200]!r}")
        st, h, data = srv.req("POST", "/invocations", frame * (most + 1), {"Content-Type": CT})
        check(st == 200 and data.count(b",") == most,
              f"RecordIO: {most + 1} empty records (28 bytes each: within the body bound) scored: {st}")
        for what, ct, one in (("RecordIO", CT, frame), ("text/libsvm", "text/libsvm", b"0\n")):
            st, h, data = srv.req("POST", "/invocations", one * 3, {"Content-Type": ct})
            check(st == 200 and data.count(b",") == 2, f"{what}: then 3 empty rows scored: {st} {data[:80]!r}")
    finally:
        check(srv.stop() == 0, "sparse-bound server: exit 0")
