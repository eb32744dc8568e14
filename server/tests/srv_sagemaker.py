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
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", "--sagemaker")
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
            ("unsupported Content-Type", "application/x-parquet", b"0 1:2", None, 415),
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



def _repo(tmp, name):
    repo = os.path.join(tmp, name)
    os.makedirs(repo, exist_ok=True)
    ex = os.path.join(repo, "example.lm")
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o", ex)
    return repo, ex


def _lmscore_lines(model, path, *extra):
    return run(f"{BIN}/lmscore", model, path, *extra).stdout.split()


def libsvm(tmp):
    """Issue 20 part 3: text/libsvm on /invocations — sparse rows read by lmscore's LIBSVM reader
    (0-based indices, absent features missing), values identical to lmscore --format libsvm."""
    repo, ex = _repo(tmp, "models-libsvm")
    with open(os.path.join(SRC, "examples/rows.csv")) as f:
        lines = [l.rstrip("\n").split(",") for l in f]
    out = []
    for i, fields in enumerate(lines):
        # every feature present in the CSV text, but a quarter of them left out (missing)
        pairs = [f"{j}:{v.strip()}" for j, v in enumerate(fields)
                 if v.strip() not in ("", "nan", "NaN", "NA") and (i + j) % 4 != 0]
        if i % 5 == 1:
            pairs.reverse()  # any order
        sep = "\t" if i % 7 == 3 else " "
        label = "" if i % 9 == 4 else f"{i % 2}{sep}"  # a row may lack its label
        tail = "  # comment" if i % 11 == 2 else ""
        qid = f"qid:{i}{sep}" if i % 13 == 5 and label else ""
        out.append(label + qid + sep.join(pairs) + tail)
    out.append("1")  # a label alone: every feature missing
    path = os.path.join(tmp, "rows.libsvm")
    body = ("\n".join(out) + "\n").encode()
    with open(path, "wb") as g:
        g.write(body)
    want = _lmscore_lines(ex, path, "--format", "libsvm")
    check(len(want) == 41, f"lmscore --format libsvm scored the 41 rows ({len(want)})")
    # the dense rows as CSV and as LIBSVM score the same
    dense = os.path.join(tmp, "dense.libsvm")
    with open(dense, "w") as g:
        for fields in lines:
            g.write("0 " + " ".join(f"{j}:{v.strip()}" for j, v in enumerate(fields)
                                    if v.strip() not in ("", "nan", "NaN", "NA")) + "\n")
    check(_lmscore_lines(ex, dense, "--format", "libsvm") ==
          _lmscore_lines(ex, os.path.join(SRC, "examples/rows.csv")),
          "LIBSVM rows with every present value score as the CSV rows")
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", "--sagemaker")
    try:
        for ct, acc, crlf in (("text/libsvm", None, False), ("text/x-libsvm", "text/csv", True),
                              ("text/libsvm; charset=utf-8", "application/json", False)):
            b = body.replace(b"\n", b"\r\n") if crlf else body
            hdr = {"Content-Type": ct}
            if acc:
                hdr["Accept"] = acc
            st, h, data = srv.req("POST", "/invocations", b, hdr)
            if acc == "application/json":
                got = ["%.9g" % p["score"] for p in json.loads(data)["predictions"]] if st == 200 else []
                got_exact = st == 200 and [float(x) for x in got] == [float(x) for x in want]
            else:
                got = data.decode().split(",") if st == 200 else []
                got_exact = got == want  # the same %.9g text: bit-identical float32 values
            check(got_exact, f"{ct} (Accept {acc}{', CRLF' if crlf else ''}): {len(got)} values equal "
                  f"to lmscore --format libsvm: {st} {data[:160]!r}")
        bad = [
            ("index out of range", b"0 20:1.5\n", "feature index 20 out of range"),
            ("index twice", b"0 3:1 3:2\n", "feature index 3 given twice"),
            ("not a pair", b"0 3:1 junk\n", "bad LIBSVM pair"),
            ("bad number", b"0 3:x\n", "bad number"),
            ("negative index", b"0 -1:2\n", "index an integer"),
        ]
        for what, b, msg in bad:
            st, h, data = srv.req("POST", "/invocations", b"0 1:1\n" + b, {"Content-Type": "text/libsvm"})
            check(st == 400 and msg in data.decode() and "row 2" in data.decode(),
                  f"text/libsvm {what}: 400 naming it and the row: {st} {data[:200]!r}")
    finally:
        check(srv.stop() == 0, "libsvm server: exit 0")


def batch_transform(tmp):
    """Issue 20 part 4: a Batch-Transform-sized CSV payload (100,000 rows, MultiRecord: one
    request) scored bit-identically to lmscore on the same rows, the body limit raised by
    SAGEMAKER_MAX_PAYLOAD_IN_MB as Batch Transform sets it."""
    import numpy as np
    import socket
    import time
    repo, ex = _repo(tmp, "models-batch")
    rng = np.random.default_rng(20)
    base = np.array([[float(v) if v.strip() not in ("", "nan", "NaN", "NA") else 1.0
                      for v in l.split(",")] for l in open(os.path.join(SRC, "examples/rows.csv"))][1:])
    n = 100_000
    x = base[rng.integers(0, len(base), n)] * rng.uniform(0.5, 1.5, (n, base.shape[1]))
    x[rng.random(x.shape) < 0.05] = np.nan
    path = os.path.join(tmp, "batch100k.csv")
    np.savetxt(path, x, fmt="%.8g", delimiter=",")
    size = os.path.getsize(path)
    t0 = time.time()
    want = _lmscore_lines(ex, path)
    t_lmscore = time.time() - t0
    check(len(want) == n, f"lmscore scored {len(want)} rows")
    with open(path, "rb") as f:
        body = f.read()
    # the default limit (16 MiB) refuses it before reading it: 413 at the head
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", "--sagemaker")
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        head = s.recv(4096)
        s.close()
        check(size > 16 << 20 and head.startswith(b"HTTP/1.1 413"),
              f"{size} bytes over the default --max-body-bytes: 413 ({head[:40]!r})")
    finally:
        check(srv.stop() == 0, "batch server (default limit): exit 0")
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", "--sagemaker", env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "32"})
    try:
        t0 = time.time()
        st, h, data = srv.req("POST", "/invocations", body, {"Content-Type": "text/csv"})
        took = time.time() - t0
        got = data.decode().split(",") if st == 200 else []
        check(st == 200 and got == want,
              f"Batch Transform: {n} rows ({size / 1e6:.1f} MB) in one request, bit-identical to lmscore "
              f"({sum(a == b for a, b in zip(got, want))} equal; {took:.2f} s, lmscore {t_lmscore:.2f} s): "
              f"{st} {data[:100]!r}")
        print(f"batch_transform: {n} rows, {size / 1e6:.1f} MB, /invocations {took:.2f} s, lmscore {t_lmscore:.2f} s")
    finally:
        check(srv.stop() == 0, "batch server: exit 0")


def sagemaker_env(tmp):
    """Issue 20 part 3: SAGEMAKER_* environment variables with --sagemaker (the command line
    wins), /execution-parameters, SAGEMAKER_BATCH output."""
    import socket
    repo, ex = _repo(tmp, "models-smenv")
    sk = socket.socket()
    sk.bind(("127.0.0.1", 0))
    port = sk.getsockname()[1]
    sk.close()
    env = {"SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_MAX_PAYLOAD_IN_MB": "3",
           "SAGEMAKER_MODEL_SERVER_WORKERS": "2", "SAGEMAKER_BATCH": "true"}
    srv = Server(repo, "--sagemaker", "--drain-seconds", "0", env=env, listen=None)
    try:
        lines = [l for l in srv.logs().splitlines() if '"listening"' in l]
        lj = json.loads(lines[0]) if lines else {}
        check(lj.get("port") == port and lj.get("threads") == 2,
              f"SAGEMAKER_BIND_TO_PORT and SAGEMAKER_MODEL_SERVER_WORKERS: {lines}")
        st, b = srv.json("GET", "/execution-parameters")
        check(st == 200 and b == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD",
                                  "MaxPayloadInMB": 3}, f"/execution-parameters: {st} {b}")
        with open(os.path.join(SRC, "examples/rows.csv"), "rb") as f:
            rows = f.read()
        want = _lmscore_lines(ex, os.path.join(SRC, "examples/rows.csv"))
        st, h, data = srv.req("POST", "/invocations", rows, {"Content-Type": "text/csv"})
        check(st == 200 and data.decode() == "\n".join(want) + "\n",
              f"SAGEMAKER_BATCH: one prediction per line: {st} {data[:80]!r}")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (3 * 1048576 + 1))
        head = s.recv(4096)
        s.close()
        check(head.startswith(b"HTTP/1.1 413"), f"SAGEMAKER_MAX_PAYLOAD_IN_MB=3: 3 MiB + 1 is a 413 {head[:40]!r}")
    finally:
        check(srv.stop() == 0, "sagemaker env server: exit 0")
    # the command line wins over the environment
    srv = Server(repo, "--sagemaker", "--drain-seconds", "0", "--threads", "1", "--max-body-bytes", "1000",
                 env=dict(env, SAGEMAKER_BATCH="false"))
    try:
        st, b = srv.json("GET", "/execution-parameters")
        check(st == 200 and b["MaxConcurrentTransforms"] == 1 and b["MaxPayloadInMB"] == 1,
              f"options given win over SAGEMAKER_*: {b}")
        st, h, data = srv.req("POST", "/invocations", b"x" * 1001, {"Content-Type": "text/csv"})
        check(st == 413, f"--max-body-bytes 1000 with SAGEMAKER_MAX_PAYLOAD_IN_MB=3: {st}")
    finally:
        check(srv.stop() == 0, "sagemaker env server 2: exit 0")
    for var, val in (("SAGEMAKER_BIND_TO_PORT", "http"), ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0"),
                     ("SAGEMAKER_MODEL_SERVER_WORKERS", "-1")):
        r = subprocess.run([f"{BIN}/lmserve", "--sagemaker", "--models", repo], capture_output=True,
                           text=True, env=dict(os.environ, **{var: val}), timeout=10)
        check(r.returncode == 2 and var in r.stderr, f"bad {var}={val}: exit 2 naming it: {r.returncode} {r.stderr}")
    # without --sagemaker the environment is not read
    srv = Server(repo, "--threads", "1", "--drain-seconds", "0", env={"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    try:
        st, b = srv.json("GET", "/execution-parameters")
        check(st == 200 and b["MaxPayloadInMB"] == 16, f"no --sagemaker: SAGEMAKER_* ignored: {b}")
    finally:
        check(srv.stop() == 0, "plain server: exit 0")


def serve_script(tmp):
    """Issue 20 part 3: deploy/sagemaker/serve, the SageMaker image's entry point, outside the
    container: what SageMaker extracts into /opt/ml/model (here the example model.tar.gz's
    xgboost-model, plus a file that is no model) converted, lmserve --sagemaker exec'd on
    SAGEMAKER_BIND_TO_PORT, /ping and /invocations answering as lmscore; no model: exit 1."""
    import signal
    import socket
    import tarfile
    import time
    import urllib.request
    sm = os.path.join(tmp, "opt-ml-model")
    os.makedirs(sm, exist_ok=True)
    with tarfile.open(os.path.join(SRC, "examples/model.tar.gz")) as t:
        t.extractall(sm)
    with open(os.path.join(sm, "notes.txt"), "w") as g:
        g.write("not a model\n")
    lm_dir = os.path.join(tmp, "serve-lm")
    sk = socket.socket()
    sk.bind(("127.0.0.1", 0))
    port = sk.getsockname()[1]
    sk.close()
    env = dict(os.environ, PATH=f"{BIN}:" + os.environ.get("PATH", ""), SM_MODEL_DIR=sm,
               LMSERVE_LM_DIR=lm_dir, SAGEMAKER_BIND_TO_PORT=str(port))
    script = os.path.join(SRC, "deploy/sagemaker/serve")
    log = open(os.path.join(tmp, "serve-script.log"), "w+")
    p = subprocess.Popen([script, "serve", "--threads", "1", "--drain-seconds", "0"], env=env,
                         stdout=subprocess.DEVNULL, stderr=log)
    try:
        ok = False
        t0 = time.time()
        while time.time() - t0 < 20 and p.poll() is None and not ok:
            try:
                ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).status == 200
            except Exception:
                time.sleep(0.1)
        log.seek(0)
        text = log.read()
        check(ok and os.listdir(lm_dir) == ["xgboost-model.lm"] and
              "notes.txt: not a model lmconvert reads: skipped" in text,
              f"serve: xgboost-model converted, notes.txt skipped, /ping 200 on port {port}: {text[-600:]}")
        rows = os.path.join(SRC, "examples/rows.csv")
        want = _lmscore_lines(os.path.join(lm_dir, "xgboost-model.lm"), rows)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=open(rows, "rb").read(),
                                     headers={"Content-Type": "text/csv"})
        got = urllib.request.urlopen(req, timeout=10).read().decode().split(",")
        check(got == want, f"serve: /invocations equal to lmscore on the 40 example rows ({len(got)} values)")
        p.send_signal(signal.SIGTERM)  # the script exec'd lmserve: it gets the signal and drains
        check(p.wait(20) == 0, "serve: lmserve is the process (exec), SIGTERM: exit 0")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    empty = os.path.join(tmp, "opt-ml-empty")
    os.makedirs(empty, exist_ok=True)
    with open(os.path.join(empty, "readme"), "w") as g:
        g.write("nothing\n")
    r = subprocess.run([script, "serve"], env=dict(env, SM_MODEL_DIR=empty, LMSERVE_LM_DIR=lm_dir + "2"),
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "nothing to serve" in r.stderr, f"serve: no model: exit 1 ({r.returncode} {r.stderr})")
