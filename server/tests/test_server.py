#!/usr/bin/python3
"""test_server.py — end-to-end tests of lmserve, run by `make check` (check-server) and, against
the ASan+UBSan build, by `make check-san`.

It converts models with lmconvert (examples/model.tar.gz and parity fixtures under
tests/fixtures/xgb/), starts lmserve on a loopback ephemeral port and asserts on exact status
codes and values: every endpoint; inference results equal to lmscore's output for the same rows
(JSON, FP64, nested data, binary tensors in and out, a multi-output model); every error of the
issue (malformed JSON, datatype, shape, feature count, unknown model and version, oversized
body and head, ambiguous framing, missing length, bare LF, bad method and version, timeouts,
connection limit); pipelining and Expect: 100-continue; metrics; hot reload (good, corrupt,
failing self-test, removed and added files, SIGHUP) while client threads score continuously
with no failed request; graceful shutdown (readiness false at once, requests served during the
drain, exit status 0, no leak under LeakSanitizer). Standard library only.

Environment: LM_BIN (tools and lmserve), LM_SRC (source tree), LM_BUILD (scratch space).
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import http.client

BIN = os.environ.get("LM_BIN", "build/bin")
SRC = os.environ.get("LM_SRC", ".")
BUILD = os.environ.get("LM_BUILD", "build")
FAILS = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)


def run(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)


def lmscore(model, csv_path):
    out = run(f"{BIN}/lmscore", model, csv_path).stdout
    return [line.split(",") for line in out.strip().split("\n")]


def csv_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            vals = []
            for v in line.rstrip("\n").split(","):
                v = v.strip()
                vals.append(None if v in ("", "nan", "NaN", "NA") else float(v))
            rows.append(vals)
    return rows


def f32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


class Server:
    def __init__(self, models, *extra):
        # O_APPEND: the server's writes go to the end even while this process seeks to read
        # (the two share the file description, hence its offset).
        path = os.path.join(models, "..", f"lmserve-{os.path.basename(models)}.log")
        open(path, "w").close()
        self.log = open(path, "a+")
        self.p = subprocess.Popen(
            [f"{BIN}/lmserve", "--models", models, "--listen", "127.0.0.1:0"] + list(extra),
            stderr=self.log, stdout=subprocess.DEVNULL)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline and self.port is None:
            time.sleep(0.05)
            self.log.seek(0)
            for line in self.log.read().splitlines():
                if '"listening"' in line:
                    self.port = json.loads(line)["port"]
            if self.p.poll() is not None:
                break
        if self.port is None:
            self.log.seek(0)
            raise RuntimeError("lmserve did not start: " + self.log.read())

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)

    def req(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        hdrs = dict((k.lower(), v) for k, v in r.getheaders())
        if conn is None:
            c.close()
        return r.status, hdrs, data

    def json(self, method, path, obj=None, conn=None):
        body = json.dumps(obj).encode() if obj is not None else None
        st, h, data = self.req(method, path, body, {"Content-Type": "application/json"}, conn)
        return st, json.loads(data) if data else None

    def raw(self, data, read_all=True, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
                if not read_all and b"\r\n\r\n" in out:
                    break
        except socket.timeout:
            pass
        s.close()
        return out

    def metrics(self):
        st, _, data = self.req("GET", "/metrics")
        assert st == 200
        return data.decode()

    def logs(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.p.send_signal(sig)
        return self.p.wait(timeout)


def status_of(raw):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def body_of(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: (\d+)", head)
    return body[: int(m.group(1))] if m else body


def metric(text, name, labels=""):
    pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
    m = re.search("^" + pat + "$", text, re.M)
    return float(m.group(1)) if m else None


def infer_body(rows, nfeat, datatype="FP32", rid=None, nested=False):
    flat = [v for r in rows for v in r]
    b = {"inputs": [{"name": "input-0", "shape": [len(rows), nfeat], "datatype": datatype,
                     "data": [list(r) for r in rows] if nested else flat}]}
    if rid is not None:
        b["id"] = rid
    return b


def binary_request(rows, nfeat, binary_out):
    hdr = {"inputs": [{"name": "input-0", "shape": [len(rows), nfeat], "datatype": "FP32",
                       "parameters": {"binary_data_size": 4 * nfeat * len(rows)}}]}
    if binary_out:
        hdr["outputs"] = [{"name": "output-0", "parameters": {"binary_data": True}}]
    h = json.dumps(hdr).encode()
    data = b"".join(struct.pack("<f", float("nan") if v is None else v) for r in rows for v in r)
    return h + data, {"Inference-Header-Content-Length": str(len(h)),
                      "Content-Type": "application/octet-stream"}


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def recv_all(s, limit=1 << 20):
    out = b""
    try:
        while len(out) < limit:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    return out


def selftest_break(path):
    """Add 0.25 to the first expected value of the file's SELFTEST section, re-seal it."""
    with open(path, "r+b") as f:
        b = bytearray(f.read())
        (nsec,) = struct.unpack_from("<I", b, 24)
        for i in range(nsec):
            kind, _, off, size, _ = struct.unpack_from("<IIQQQ", b, 64 + 32 * i)
            if kind == 7:
                n_rows, nf, width = struct.unpack_from("<III", b, off)
                at = off + 64 + 8 * n_rows * nf
                struct.pack_into("<f", b, at, struct.unpack_from("<f", b, at)[0] + 0.25)
        f.seek(0)
        f.write(b)
    run(os.path.join(BUILD, "tests/lmf_reseal"), path)


def hardening(tmp, conv, fx, ex, reg):
    """Issue 18's lmserve findings: each block fails on the code before the fix."""
    inf = "/v2/models/example/infer"
    ex_rows = csv_rows(os.path.join(SRC, "examples/rows.csv"))

    # ---- 3: registry slots are freed: 70 names rotated through one directory (64 slots were
    # never given back), then more files than --max-models: name order, skipped ones counted
    # and logged once, a freed slot goes to a skipped file.
    rot = os.path.join(tmp, "rotate")
    os.mkdir(rot)
    shutil.copyfile(ex, os.path.join(rot, "model-v0.lm"))
    s3 = Server(rot, "--threads", "2", "--reload-poll-ms", "30")
    try:
        ok, last = True, 0
        for v in range(1, 71):
            shutil.copyfile(ex, os.path.join(rot, f"m.tmp"))
            os.rename(os.path.join(rot, "m.tmp"), os.path.join(rot, f"model-v{v}.lm"))
            os.remove(os.path.join(rot, f"model-v{v - 1}.lm"))
            t0 = time.time()
            while time.time() - t0 < 5 and s3.json("GET", f"/v2/models/model-v{v}/ready")[0] != 200:
                time.sleep(0.01)
            if s3.json("GET", f"/v2/models/model-v{v}/ready")[0] != 200:
                ok = False
                break
            last = v
            if v % 10 == 0:  # its own counters: a reused slot starts from zero
                s3.json("POST", f"/v2/models/model-v{v}/infer", infer_body([ex_rows[0]], 20))
        check(ok and last == 70, f"70 names rotated through the directory: all served (last {last})")
        mt = s3.metrics()
        check(metric(mt, "lmserve_inference_duration_seconds_count", 'model="model-v70"') == 1 and
              "model-v69" not in mt and "model-v60" not in mt,
              "metrics of removed models are gone; a reused slot counts from zero")
        check(s3.json("GET", "/v2/health/ready")[0] == 200, "ready with the one model left")
    finally:
        s3.stop()
    many = os.path.join(tmp, 'many"\\dir')  # a quote and a backslash: the logs stay JSON
    os.mkdir(many)
    for n in ("e", "a", "d", "b", "c"):
        shutil.copyfile(ex, os.path.join(many, f"{n}.lm"))
    shutil.copyfile(ex, os.path.join(many, "bad name.lm"))
    s3 = Server(many, "--threads", "1", "--reload-poll-ms", "30", "--max-models", "3")
    try:
        served = [n for n in "abcde" if s3.json("GET", f"/v2/models/{n}/ready")[0] == 200]
        check(served == ["a", "b", "c"], f"--max-models 3: the first three names served ({served})")
        mt = s3.metrics()
        check(metric(mt, "lmserve_models_skipped") == 2 and metric(mt, "lmserve_model_files_ignored") == 1,
              "skipped and ignored files counted")
        time.sleep(0.4)  # a dozen polls: still one line each
        logs = [json.loads(l) for l in s3.logs().splitlines() if l.startswith("{")]
        sk = [l for l in logs if l["msg"].startswith("models skipped")]
        bad = [l for l in logs if l["msg"].startswith("files skipped")]
        check(len(sk) == 1 and sk[0]["count"] == 2 and sk[0]["files"] == "d, e" and
              len(bad) == 1 and bad[0]["files"] == "bad name.lm",
              f"skipped files logged once, by name ({sk}, {bad})")
        os.remove(os.path.join(many, "a.lm"))
        t0 = time.time()
        while time.time() - t0 < 5 and s3.json("GET", "/v2/models/d/ready")[0] != 200:
            time.sleep(0.02)
        check(s3.json("GET", "/v2/models/d/ready")[0] == 200 and
              s3.json("GET", "/v2/models/a/ready")[0] == 404, "a freed slot goes to a skipped file")
    finally:
        s3.stop()

    # ---- 4: idle connections do not lock clients out; heads must come within --header-timeout
    s4 = Server(os.path.dirname(ex), "--threads", "2", "--header-timeout", "60", "--drain-seconds", "0")
    try:
        idle = []
        try:
            for _ in range(4200):
                idle.append(socket.create_connection(("127.0.0.1", s4.port), timeout=10))
        except OSError as e:
            check(False, f"opening idle connections: {e}")
        time.sleep(0.2)
        best = None
        for _ in range(3):
            t0 = time.time()
            try:
                st = s4.json("GET", "/v2/health/live")[0]
            except Exception as e:  # noqa
                st = repr(e)
            dt = time.time() - t0
            best = dt if st == 200 and (best is None or dt < best) else best
        check(best is not None and best < 0.1,
              f"/v2/health/live answers within 100 ms with {len(idle)} idle connections open "
              f"(best {best})")
        mt = s4.metrics()
        check((metric(mt, "lmserve_connections_evicted_total") or 0) >= 100,
              "idle connections evicted for new ones past --max-connections")
        for x in idle:
            x.close()
    finally:
        s4.stop()

    # ---- 5 and 6: queued output capped; rows, response size and scratch limited
    s5 = Server(os.path.dirname(ex), "--threads", "1", "--max-batch-rows", "1000",
                "--max-response-bytes", "65536", "--drain-seconds", "0")
    try:
        rss0 = rss_kb(s5.p.pid)
        socks = []
        pipelined = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 4000
        for _ in range(5):
            x = socket.create_connection(("127.0.0.1", s5.port), timeout=1)
            x.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            try:
                x.sendall(pipelined)  # never read: the server must stop processing, not queue
            except OSError:
                pass
            socks.append(x)
        time.sleep(1)
        grown = rss_kb(s5.p.pid) - rss0
        with open(f"/proc/{s5.p.pid}/maps") as f:
            asan = "libasan" in f.read()  # ASan's quarantine keeps freed buffers resident
        check(asan or grown < 10000, f"5 connections of unread pipelined /metrics: RSS grew {grown} kB (< 10 MB)")
        check(s5.json("GET", "/v2/health/live")[0] == 200, "server responsive meanwhile")
        check((metric(s5.metrics(), "lmserve_output_held_total") or 0) >= 5, "held connections counted")
        for x in socks:
            x.close()
        # declared but unsent bodies reserve nothing
        rss0 = rss_kb(s5.p.pid, "VmSize")
        socks = []
        for _ in range(20):
            x = socket.create_connection(("127.0.0.1", s5.port), timeout=5)
            x.sendall(b"POST " + inf.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 16000000\r\n\r\n{")
            socks.append(x)
        time.sleep(0.5)
        grown = rss_kb(s5.p.pid, "VmSize") - rss0
        check(grown < 100000, f"20 requests declaring 16 MB bodies, 1 byte sent: memory (VmSize) grew {grown} kB")
        for x in socks:
            x.close()

        def err(body, status, contains, path=inf, headers=None):
            stt, _, data = s5.req("POST", path, body, headers or {})
            try:
                msg = json.loads(data)["error"]
            except Exception:
                msg = data[:200]
            check(stt == status and contains in str(msg),
                  f"{status} '{contains}' for {body[:70]!r}: got {stt} {msg!r}")

        err(json.dumps({"inputs": [{"name": "x", "shape": [1000000, 20], "datatype": "FP32",
                                     "data": [1, 1]}]}).encode(), 413, "--max-batch-rows")
        err(json.dumps({"inputs": [{"name": "x", "shape": [1000, 20], "datatype": "FP32",
                                     "data": [0] * 20001}]}).encode(), 413, "--max-batch-rows")
        big = infer_body(ex_rows * 25, 20)  # 1,000 rows: within the rows, response ~16 kB
        check(s5.json("POST", inf, big)[0] == 200, "1,000 rows within the limits")
        hdr = {"inputs": [{"name": "x", "shape": [1000, 20], "datatype": "FP32",
                           "parameters": {"binary_data_size": 80000}}]}
        h = json.dumps(hdr).encode()
        stt, _, _ = s5.req("POST", inf, h + bytes(80000), {"Inference-Header-Content-Length": str(len(h))})
        check(stt == 200, "binary 1,000 rows")
        shrinks0 = metric(s5.metrics(), "lmserve_scratch_shrinks_total")
        hdr["inputs"][0]["shape"] = [900, 20]
        hdr["inputs"][0]["parameters"]["binary_data_size"] = 8 * 900 * 20
        hdr["inputs"][0]["datatype"] = "FP64"
        h = json.dumps(hdr).encode()
        s5.req("POST", inf, h + bytes(8 * 900 * 20), {"Inference-Header-Content-Length": str(len(h))})
        check(shrinks0 == 0, "no shrink for requests that fit the kept scratch")
    finally:
        s5.stop()
    s6 = Server(os.path.dirname(ex), "--threads", "1", "--max-response-bytes", "300000",
                "--max-body-bytes", "67108864", "--drain-seconds", "0")
    try:
        def binreq(rows, dtype, binary_out):
            esz = 8 if dtype == "FP64" else 4
            hdr = {"inputs": [{"name": "x", "shape": [rows, 20], "datatype": dtype,
                               "parameters": {"binary_data_size": esz * rows * 20}}],
                   "parameters": {"binary_data_output": binary_out}}
            h = json.dumps(hdr).encode()
            return s6.req("POST", inf, h + bytes(esz * rows * 20),
                          {"Inference-Header-Content-Length": str(len(h))})
        stt, _, data = binreq(20000, "FP32", False)  # JSON out: up to 320 kB
        check(stt == 413 and b"--max-response-bytes" in data, f"response over the limit: {stt} {data[:120]!r}")
        stt, _, data = binreq(20000, "FP32", True)  # binary out: 80 kB
        check(stt == 200, f"the same rows with binary output are within the limit ({stt})")
        # an outsized request (64k rows of FP64, 10 MB of scratch) gives its scratch back
        stt = binreq(65536, "FP64", True)[0]
        check(stt == 200 and (metric(s6.metrics(), "lmserve_scratch_shrinks_total") or 0) >= 1,
              "scratch grown past the kept size is given back after the request")
    finally:
        s6.stop()

    # ---- 4 (header timeout) and 14: JSON keys decoded, duplicates refused, integer ranges,
    # regular nesting, UTF-8, bare LF in a chunk line refused at once
    s7 = Server(os.path.dirname(ex), "--threads", "1", "--drain-seconds", "0", "--header-timeout", "1")
    try:
        partial = socket.create_connection(("127.0.0.1", s7.port), timeout=10)
        partial.sendall(b"GET /v2/health/live HTTP/1.1\r\nHo")
        t0 = time.time()
        out = recv_all(partial)
        dt = time.time() - t0
        check(status_of(out) == 408 and 0.9 <= dt < 3, f"incomplete head: 408 after --header-timeout ({dt:.2f} s)")
        quiet = socket.create_connection(("127.0.0.1", s7.port), timeout=10)
        t0 = time.time()
        out = recv_all(quiet)
        dt = time.time() - t0
        check(out == b"" and dt < 3, f"a connection that sends nothing is closed after --header-timeout ({dt:.2f} s)")
        partial.close()
        quiet.close()
        check((metric(s7.metrics(), "lmserve_header_timeouts_total") or 0) >= 2, "header timeouts counted")
        row = ex_rows[1]
        good = {"name": "x", "shape": [1, 20], "datatype": "FP32", "data": row}
        gj = json.dumps(good)
        cases = [
            ('{"\\u0069nputs":[%s]}' % gj, 200, None),
            ('{"inputs":[%s],"\\u0069nputs":[]}' % gj, 400, 'duplicate key "inputs"'),
            ('{"inputs":[%s],"inputs":[]}' % gj, 400, 'duplicate key "inputs"'),
            ('{"inputs":[%s]}' % gj.replace('"datatype": "FP32"', '"datatype": "FP32", "datatype": "FP64"'),
             400, 'duplicate key "datatype"'),
            ('{"id":"a","id":"b","inputs":[%s]}' % gj, 400, 'duplicate key "id"'),
            ('{"inputs":[%s]}' % gj.replace('"FP32"', '"FP\\u00332"'), 200, None),
            ('{"inputs":[%s]}' % json.dumps(dict(good, datatype="INT8", data=[1.5] + [0] * 19)), 400,
             "is not an INT8"),
            ('{"inputs":[%s]}' % json.dumps(dict(good, datatype="INT8", data=[3000] + [0] * 19)), 400,
             "is not an INT8"),
            ('{"inputs":[%s]}' % json.dumps(dict(good, datatype="UINT8", data=[-1] + [0] * 19)), 400,
             "is not an UINT8"),
            ('{"inputs":[%s]}' % json.dumps(dict(good, datatype="INT8", data=[127, -128, None] + [0] * 17)),
             200, None),
            ('{"inputs":[%s]}' % json.dumps(dict(good, shape=[2, 20], data=[[0] * 21, [0] * 19])), 400,
             "ragged data"),
            ('{"inputs":[%s]}' % json.dumps(dict(good, shape=[2, 20], data=[[0] * 20, 0] + [0] * 19)), 400,
             "ragged data"),
            ('{"inputs":[%s]}' % json.dumps(dict(good, shape=[2, 20], data=[[0] * 10] * 4)), 400,
             "data nested as [4, 10] but shape is [2, 20]"),
        ]
        for body, status, contains in cases:
            stt, _, data = s7.req("POST", inf, body.encode())
            msg = json.loads(data).get("error") if data else None
            check(stt == status and (contains is None or contains in (msg or "")),
                  f"{status} {contains!r} for {body[:60]}…: got {stt} {msg!r}")
        stt, _, data = s7.req("POST", inf, b'{"id":"\xff\xfe","inputs":[' + gj.encode() + b"]}")
        check(stt == 400 and b"invalid UTF-8" in data, f"invalid UTF-8 in the id refused: {stt} {data[:80]!r}")
        stt, _, data = s7.req("POST", inf, ('{"id":"caf\u00e9 \\u00e9","inputs":[%s]}' % gj).encode())
        check(stt == 200 and json.loads(data)["id"] == "caf\u00e9 \u00e9", "a UTF-8 id is echoed as sent")
        t0 = time.time()
        out = s7.raw(b"POST " + inf.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc")
        dt = time.time() - t0
        check(status_of(out) == 400 and b"bare LF" in out and dt < 0.5,
              f"bare LF in a chunk-size line: 400 at once ({status_of(out)}, {dt:.2f} s)")
    finally:
        s7.stop()

    # ---- 7: a tiny model declaring many features: refused at load past --max-features (default
    # 2^20), named in the log and in readiness, quickly and without memory growth; served when
    # the operator raises the limit. (Before: a 1 KB file declaring 2^29 features took 3.5 min
    # and 8.4 GB; lmconvert and the verifier now stop at 2^24, tests/test_lmf.c.)
    wide_dir = os.path.join(tmp, "wide")
    os.mkdir(wide_dir)
    with open(os.path.join(fx, "reg_squarederror/model.json")) as f:
        j = json.load(f)
    j["learner"]["learner_model_param"]["num_feature"] = str(1 << 21)
    j["learner"].pop("feature_names", None)
    j["learner"].pop("feature_types", None)
    wide_json = os.path.join(tmp, "wide.json")
    with open(wide_json, "w") as f:
        json.dump(j, f)
    run(conv, "-q", wide_json, "-o", os.path.join(wide_dir, "wide.lm"))
    shutil.copyfile(ex, os.path.join(wide_dir, "example.lm"))
    t0 = time.time()
    s8 = Server(wide_dir, "--threads", "2")
    try:
        dt = time.time() - t0
        st, b = s8.json("GET", "/v2/health/ready")
        rej = [json.loads(l) for l in s8.logs().splitlines() if '"model rejected"' in l]
        check(st == 503 and b.get("not_loaded") == ["wide"] and len(rej) == 1 and
              rej[0]["error"] == "META.num_features 2097152 exceeds --max-features 1048576" and
              rej[0]["file"].endswith("wide/wide.lm"),
              f"2^21 features refused by default, named: {st} {b} {rej}")
        rss = rss_kb(s8.p.pid)
        check(dt < 5 and rss < 100000, f"refused quickly, small: {dt:.2f} s, RSS {rss} kB")
        check(s8.json("GET", "/v2/models/example/ready")[0] == 200, "the other model is served")
    finally:
        s8.stop()
    s8 = Server(wide_dir, "--threads", "1", "--max-features", "2097152")
    try:
        check(s8.json("GET", "/v2/models/wide/ready")[0] == 200, "--max-features 2097152: served")
    finally:
        s8.stop()
    r = subprocess.run([f"{BIN}/lmserve", "--models", wide_dir, "--max-features", "16777217"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--max-features" in r.stderr, f"--max-features above 2^24: usage error")


def infer_raw(srv, model, obj):
    st, _, data = srv.req("POST", f"/v2/models/{model}/infer", json.dumps(obj).encode(),
                          {"Content-Type": "application/json"})
    try:
        return st, json.loads(data)
    except ValueError:
        return st, data


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
        check([o["name"] for o in m["outputs"]] == ["output-0", "leaf"] and
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


def exposition_ok(text):
    """Prometheus text format 0.0.4, checked as promtool's parser would: every sample line is
    name{labels} value, every family's TYPE comes once and before its samples."""
    typed, seen_samples, errors = {}, set(), []
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"'
                        r'(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*)?\})? '
                        r'(-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$')
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            if parts[2] in typed or parts[2] in seen_samples:
                errors.append("TYPE repeated or after samples: " + line)
            typed[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = sample.match(line)
        if not m:
            errors.append("bad sample line: " + line)
            continue
        name = m.group(1)
        fam = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in typed else name
        if fam not in typed:
            errors.append("sample without TYPE: " + line)
        seen_samples.add(fam)
    return errors


def observability(tmp, ex, reg):
    """Issue 20 part 2: readiness over the whole repository, per-model metrics, process_*."""
    repo = os.path.join(tmp, "models-ready")
    os.makedirs(repo, exist_ok=True)
    run(f"{BIN}/lmconvert", "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o",
        os.path.join(repo, "good.lm"))
    with open(os.path.join(repo, "bad.lm"), "wb") as g:
        g.write(b"not a model")
    srv = Server(repo, "--threads", "1", "--reload-poll-ms", "30")
    try:
        st, b = srv.json("GET", "/v2/health/ready")
        check(st == 503 and b == {"ready": False, "not_loaded": ["bad"]},
              f"a rejected file keeps the server unready, named: {st} {b}")
        mt = srv.metrics()
        check(metric(mt, "lmserve_ready") == 0, "ready gauge 0 with a rejected file")
        time.sleep(0.5)  # ~15 polls
        rej = [l for l in srv.logs().splitlines() if '"model rejected"' in l and '"bad"' in l]
        check(len(rej) == 1, f"the rejected file logged once per change, not per poll ({len(rej)})")
        tmpf = os.path.join(repo, "bad.lm.tmp")
        shutil.copyfile(reg, tmpf)
        os.rename(tmpf, os.path.join(repo, "bad.lm"))
        t0 = time.time()
        while time.time() - t0 < 5 and srv.json("GET", "/v2/health/ready")[0] != 200:
            time.sleep(0.03)
        check(srv.json("GET", "/v2/health/ready") == (200, {"ready": True}),
              "ready once the file is fixed")
        with open(tmpf, "wb") as g:
            g.write(b"broken again")
        os.rename(tmpf, os.path.join(repo, "good.lm"))
        t0 = time.time()
        while time.time() - t0 < 5 and "stale" not in srv.json("GET", "/v2/health/ready")[1]:
            time.sleep(0.03)
        check(srv.json("GET", "/v2/health/ready") == (200, {"ready": True, "stale": ["good"]}),
              "a rejected reload: still ready (the previous version serves), named as stale")
        # per-model metrics
        for i in range(5):
            srv.json("POST", "/v2/models/good/infer", infer_body([[0.5] * 20], 20))
        for i in range(2):
            srv.json("POST", "/v2/models/good/infer", {"inputs": []})
        srv.json("POST", "/v2/models/bad/infer", infer_body([[0.5] * 10], 10))
        mt = srv.metrics()
        check(metric(mt, "lmserve_model_request_duration_seconds_count", 'model="good"') == 7 and
              metric(mt, "lmserve_model_request_duration_seconds_count", 'model="bad"') == 1,
              "per-model request duration histogram")
        check(metric(mt, "lmserve_model_errors_total", 'model="good"') == 2 and
              metric(mt, "lmserve_model_errors_total", 'model="bad"') == 0, "per-model errors")
        models_seen = set(re.findall(r'model="([^"]*)"', mt))
        check(models_seen <= {"good", "bad", ""}, f"model labels bounded by the repository: {models_seen}")
        # process_* as client libraries export them
        cpu = metric(mt, "process_cpu_seconds_total")
        rss = metric(mt, "process_resident_memory_bytes")
        fds = metric(mt, "process_open_fds")
        start = metric(mt, "process_start_time_seconds")
        check(cpu is not None and cpu >= 0 and rss is not None and rss > 1 << 20 and
              fds is not None and 3 <= fds < 1000 and metric(mt, "process_max_fds") and
              metric(mt, "process_virtual_memory_bytes") and start is not None and
              abs(start - time.time()) < 600, f"process metrics: cpu {cpu} rss {rss} fds {fds} start {start}")
        errs = exposition_ok(mt)
        check(not errs, f"/metrics is valid Prometheus text: {errs[:3]}")
        if shutil.which("promtool"):
            r = subprocess.run(["promtool", "check", "metrics"], input=mt, capture_output=True, text=True)
            check("error" not in (r.stdout + r.stderr).lower(), f"promtool check metrics: {r.stdout} {r.stderr}")
    finally:
        check(srv.stop() == 0, "observability server: exit 0")


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


def main():
    tmp = tempfile.mkdtemp(prefix="lmserve-test-", dir=BUILD if os.path.isdir(BUILD) else None)
    models = os.path.join(tmp, "models")
    os.mkdir(models)
    fx = os.path.join(SRC, "tests/fixtures/xgb")
    conv = f"{BIN}/lmconvert"
    ex = os.path.join(models, "example.lm")
    run(conv, "-q", os.path.join(SRC, "examples/model.tar.gz"), "-o", ex)
    # "other": with an embedded self-test (must pass before it is served)
    st_rows = os.path.join(tmp, "st_rows.csv")
    with open(os.path.join(fx, "binary_logistic/input.csv")) as f, open(st_rows, "w") as g:
        g.writelines(f.readlines()[:8])
    other = os.path.join(models, "other.lm")
    run(conv, "-q", os.path.join(fx, "binary_logistic/model.json"), "-o", other,
        "--selftest", st_rows)
    multi = os.path.join(models, "multi.lm")
    run(conv, "-q", os.path.join(fx, "multi_softprob4/model.json"), "-o", multi)
    spare = os.path.join(tmp, "spare")
    os.mkdir(spare)
    reg = os.path.join(spare, "reg.lm")
    run(conv, "-q", os.path.join(fx, "reg_squarederror/model.json"), "-o", reg)
    bad_st = os.path.join(spare, "bad_selftest.lm")
    wrong = os.path.join(tmp, "wrong.csv")
    with open(wrong, "w") as g:
        g.write("0.5\n" * 8)
    # lmconvert refuses expected values the model does not give (issue 18 finding 14): the file
    # whose self-test fails on the serving machine is made by changing an expected value of a
    # good one and re-sealing its checksums
    run(conv, "-q", os.path.join(fx, "binary_logistic/model.json"), "-o", bad_st,
        "--selftest", st_rows)
    selftest_break(bad_st)

    ex_rows = csv_rows(os.path.join(SRC, "examples/rows.csv"))
    ex_expect = [r[0] for r in lmscore(ex, os.path.join(SRC, "examples/rows.csv"))]
    multi_csv = os.path.join(fx, "multi_softprob4/input.csv")
    multi_rows = csv_rows(multi_csv)[:30]
    multi_expect = lmscore(multi, multi_csv)[:30]

    if os.environ.get("LS_ONLY") == "hardening":
        hardening(tmp, conv, fx, ex, reg)
        print(f"test_server: {CHECKS[0] - len(FAILS)}/{CHECKS[0]} checks passed")
        return 1 if FAILS else 0
    if os.environ.get("LS_ONLY") == "protocols":
        protocols(tmp, models, ex, multi)
        observability(tmp, ex, reg)
        sagemaker(tmp)
        print(f"test_server: {CHECKS[0] - len(FAILS)}/{CHECKS[0]} checks passed")
        return 1 if FAILS else 0
    # ---------------- CLI ----------------
    r = subprocess.run([f"{BIN}/lmserve", "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "--models DIR" in r.stdout, "--help exits 0 with the usage")
    r = subprocess.run([f"{BIN}/lmserve", "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("lmserve "), "--version")
    for args in (["--models", models, "--threads", "x"], ["--models", models, "--bogus", "1"],
                 ["--listen", "127.0.0.1:0"], ["--models", os.path.join(tmp, "nope")],
                 ["--models", models, "--log-level", "loud"], ["--models", models, "--numa-replicas", "x"]):
        r = subprocess.run([f"{BIN}/lmserve"] + args, capture_output=True, text=True, timeout=30)
        check(r.returncode != 0 and r.stderr.startswith("lmserve: ") and
              len(r.stderr.strip().split("\n")) == 1, f"bad command line {args}: one-line error, "
              f"non-zero exit (got {r.returncode}, {r.stderr!r})")
    r = subprocess.run([f"{BIN}/lmserve", "--models", models, "--bogus"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 2 and "unknown option '--bogus'" in r.stderr,
          f"an unknown option is named as unknown, even without a value (got {r.stderr!r})")

    srv = Server(models, "--threads", "2", "--drain-seconds", "1.5", "--reload-poll-ms", "100",
                 "--request-timeout", "1", "--idle-timeout", "2", "--max-body-bytes", "200000",
                 "--max-header-bytes", "2048", "--numa-replicas", "force")
    try:
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

        # raw framing errors (connection closed after each)
        req = (b"POST /v2/models/example/infer HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\n")
        gb = json.dumps(good).encode()
        cases = [
            (req + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(gb) + gb, 400,
             "both Transfer-Encoding and Content-Length"),
            (req + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(gb), len(gb)) + gb, 400,
             "duplicate Content-Length"),
            (req + b"Content-Length: 1,1\r\n\r\nx", 400, "malformed Content-Length"),
            (req + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "only chunked"),
            (req + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, "final"),
            (req + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
             "repeated Transfer-Encoding"),
            (req.replace(b"HTTP/1.1", b"HTTP/1.0") + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
             "HTTP/1.0"),
            (req + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "malformed chunk size"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 16 + b"\r\n", 400, "malformed chunk size"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400, "followed by CRLF"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n", 400, "bare LF"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n1;" + b"x" * 2000 + b"\r\n", 400, "too long"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n30d41\r\n", 413, "too large"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n20000\r\n" + b" " * 131072 + b"\r\n20000\r\n", 413,
             "too large"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX: " + b"y" * 3000 + b"\r\n\r\n", 431,
             "trailer"),
            (req + b"Transfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", 400, "trailer"),
            (req + b"\r\n", 411, "Content-Length"),
            (b"GET /v2/health/live HTTP/1.1\nHost: x\n\n", 400, "bare LF"),
            (b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "folding"),
            (b"GET /v2/health/live HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header"),
            (b"GET /v2/health/live HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version"),
            (b"GET /v2/health/live HTTP/1.1\r\n\r\n", 400, "missing Host"),
            (b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate Host"),
            (b"GET v2/health/live HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute path"),
            (b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 3000 + b"\r\n\r\n", 431,
             "too large"),
            (req + b"Content-Length: 99999999999\r\n\r\n", 413, "too large"),
            (b"DELETE /v2/health/live HTTP/1.1\r\nHost: a\r\n\r\n", 405, "GET"),
        ]
        for data, status, contains in cases:
            out = srv.raw(data)
            st = status_of(out)
            try:
                msg = json.loads(body_of(out))["error"]
            except Exception:
                msg = ""
            check(st == status and contains in msg and (b"Connection: close" in out or status == 405),
                  f"raw {data[:50]!r}…: want {status} '{contains}', got {st} {msg!r}")

        # pipelining: three requests in one write, three responses in order
        live = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
        inf_req = req + b"Content-Length: %d\r\n\r\n" % len(gb) + gb
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(live + inf_req + b"GET /v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
        s.close()
        check(out.count(b"HTTP/1.1 200 OK") == 3 and out.index(b'{"live":true}') <
              out.index(b"output-0") < out.index(b'"lmserve"'), "pipelined requests answered in order")
        # a large body arriving in pieces (the input buffer grows, the head is re-read)
        big = json.dumps(infer_body(ex_rows * 3, 20, rid="big")).encode()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(req + b"Content-Length: %d\r\n\r\n" % len(big))
        for k in range(0, len(big), 7000):
            time.sleep(0.03)
            s.sendall(big[k:k + 7000])
        s.sendall(live)
        out = b""
        while out.count(b"HTTP/1.1 200") < 2:
            d = s.recv(65536)
            if not d:
                break
            out += d
        s.close()
        j = json.loads(body_of(out))
        check(len(big) > 20000 and j["id"] == "big" and [f32(x) for x in j["outputs"][0]["data"]] ==
              [f32(float(x)) for x in ex_expect * 3] and out.endswith(b'{"live":true}'),
              "large body in pieces, then a pipelined request")
        # chunked bodies: in odd pieces, with extensions and a trailer, then a pipelined request;
        # the same request as one chunk, and with Expect: 100-continue
        def chunked(body, sizes):
            out, k = b"", 0
            for i, n in enumerate(sizes):
                piece = body[k:k + n]
                if not piece:
                    break
                k += len(piece)
                out += b"%x%s\r\n" % (len(piece), b";ext=1" if i % 2 else b"") + piece + b"\r\n"
            assert k == len(body)
            return out + b"0\r\nX-Checksum: none\r\n\r\n"
        enc = chunked(big, [1, 4095, 17, 9000] + [4096] * (len(big) // 4096) + [len(big)])
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(req + b"Transfer-Encoding: chunked\r\n\r\n")
        for k in range(0, len(enc), 3001):
            s.sendall(enc[k:k + 3001])
            time.sleep(0.005)
        s.sendall(live + inf_req)
        out = b""
        while out.count(b"HTTP/1.1 200") < 3 or not out.endswith(b"}"):
            d = s.recv(65536)
            if not d:
                break
            out += d
        s.close()
        j = json.loads(out[out.index(b"\r\n\r\n") + 4:out.index(b"HTTP/1.1 200", 10)])
        check(j["id"] == "big" and [f32(x) for x in j["outputs"][0]["data"]] ==
              [f32(float(x)) for x in ex_expect * 3] and b'{"live":true}' in out and
              out.count(b"HTTP/1.1 200") == 3, "chunked body in pieces, then pipelined requests")
        out = srv.raw(req + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(gb, [len(gb)]))
        check(status_of(out) == 200 and json.loads(body_of(out))["outputs"][0]["data"] ==
              json.loads(body_of(srv.raw(inf_req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))))
              ["outputs"][0]["data"], "chunked body answers as Content-Length does")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(req + b"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
        first = s.recv(4096)
        s.sendall(chunked(gb, [10, len(gb)]))
        rest = s.recv(65536)
        s.close()
        check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and status_of(rest) == 200,
              f"Expect: 100-continue with a chunked body ({first!r})")
        # HTTP/1.0: closed by default, kept alive when asked (and said so)
        out = srv.raw(b"GET /v2/health/live HTTP/1.0\r\n\r\n")
        check(status_of(out) == 200 and b"Connection: close" in out, "HTTP/1.0 closes by default")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET /v2/health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = s.recv(4096)
        s.sendall(b"GET /v2 HTTP/1.0\r\n\r\n")
        second = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            second += d
        s.close()
        check(b"Connection: keep-alive" in first and status_of(second) == 200 and
              b"Connection: close" in second, "HTTP/1.0 keep-alive")
        # Expect: 100-continue
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(req + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(gb))
        first = s.recv(4096)
        s.sendall(gb)
        rest = s.recv(65536)
        s.close()
        check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and status_of(rest) == 200,
              f"Expect: 100-continue ({first!r})")
        # request timeout (408) and idle timeout, concurrently
        res = {}

        def slow():
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"POST /v2/models/example/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            t0 = time.time()
            out = b""
            while True:
                try:
                    d = s.recv(4096)
                except OSError as e:
                    out += repr(e).encode()
                    break
                if not d:
                    break
                out += d
            res["slow"] = (status_of(out), time.time() - t0)
            s.close()

        def idle():
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(live)
            first = s.recv(4096)
            t0 = time.time()
            try:
                rest = s.recv(4096)
            except OSError as e:
                rest = repr(e)
            res["idle"] = (status_of(first), rest, time.time() - t0)
            s.close()

        ts = [threading.Thread(target=slow), threading.Thread(target=idle)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        check(res["slow"][0] == 408 and res["slow"][1] >= 0.9, f"slow request gets 408: {res['slow']}")
        check(res["idle"][0] == 200 and res["idle"][1] == b"" and res["idle"][2] >= 1.5,
              f"idle connection closed after --idle-timeout: {res['idle']}")

        # ---------------- metrics ----------------
        mt = srv.metrics()
        check((metric(mt, "lmserve_requests_total", 'model="example",code="200"') or 0) >= 45,
              "requests_total by model and code")
        check((metric(mt, "lmserve_requests_total", 'model="example",code="400"') or 0) >= 15,
              "400s counted for the model")
        check((metric(mt, "lmserve_requests_total", 'model="",code="431"') or 0) >= 1, "431 counted")
        check(metric(mt, "lmserve_request_duration_seconds_bucket", 'le="1e-05"') is not None and
              metric(mt, "lmserve_request_duration_seconds_bucket", 'le="+Inf"') ==
              metric(mt, "lmserve_request_duration_seconds_count"), "request duration histogram")
        check((metric(mt, "lmserve_inference_duration_seconds_count", 'model="example"') or 0) >= 44,
              "inference histogram")
        check(metric(mt, "lmserve_requests_in_flight") == 1, "in-flight gauge: only the scrape itself")
        check(metric(mt, "lmserve_timeouts_total") >= 1, "timeouts counted")
        hash_ = srv.json("GET", "/v2/models/example")[1]["parameters"]["hash"]
        check(f'lmserve_model_info{{model="example",version="1",hash="{hash_}"' in mt, "model_info")
        check(metric(mt, "lmserve_ready") == 1, "ready gauge")
        for line in mt.splitlines():
            if line and not line.startswith("#"):
                check(re.match(r"^(lmserve|process)_[a-z_]+(\{[^}]*\})? [0-9.e+-]+$", line) is not None,
                      f"metric line format: {line}")

        # ---------------- hot reload under load ----------------
        stop = threading.Event()
        stats = {"ok": 0, "fail": []}
        lock = threading.Lock()

        def post_loop(stats, stop, path, body_at, good, max_fail, abort=lambda: False):
            """POST body_at(i) to path on one keep-alive connection until stop is set, counting
            responses that pass good(i, body) in stats["ok"], the others in stats["fail"]."""
            c = srv.conn()
            i = 0
            while not stop.is_set():
                try:
                    st, b = srv.json("POST", path, body_at(i), conn=c)
                    good_ = st == 200 and good(i, b)
                except Exception as e:  # noqa
                    st, b, good_ = None, str(e), False
                    c = srv.conn()
                with lock:
                    if good_:
                        stats["ok"] += 1
                    else:
                        stats["fail"].append((st, str(b)[:200]))
                        if len(stats["fail"]) > max_fail or abort():
                            return
                i += 1
            c.close()

        def hammer(k):
            rows = ex_rows[k::2]
            exp = [f32(float(x)) for x in ex_expect[k::2]]
            post_loop(stats, stop, "/v2/models/example/infer",
                      lambda i: infer_body([rows[i % len(rows)]], 20),
                      lambda i, b: f32(b["outputs"][0]["data"][0]) == exp[i % len(rows)], 20)

        def wait_for(pred, what, timeout=15):
            t0 = time.time()
            while time.time() - t0 < timeout:
                if pred():
                    return True
                time.sleep(0.05)
            check(False, "timed out waiting for " + what)
            return False

        def version(name):
            st, m = srv.json("GET", f"/v2/models/{name}")
            return m["versions"][0] if st == 200 else None

        def failures(name):
            return metric(srv.metrics(), "lmserve_model_reload_failures_total", f'model="{name}"') or 0

        def replace(src, dst, corrupt_at=None):
            t = dst + ".tmp"
            shutil.copyfile(src, t)
            if corrupt_at is not None:
                with open(t, "r+b") as f:
                    f.seek(corrupt_at)
                    b = f.read(1)
                    f.seek(corrupt_at)
                    f.write(bytes([b[0] ^ 0x5A]))
            os.rename(t, dst)  # atomic, as lmconvert writes

        threads = [threading.Thread(target=hammer, args=(k,), daemon=True) for k in (0, 1)]
        [t.start() for t in threads]
        time.sleep(0.3)
        keep = os.path.join(tmp, "example.keep")
        shutil.copyfile(ex, keep)
        replace(keep, ex)
        wait_for(lambda: version("example") == "2", "good reload (version 2)")
        f0 = failures("example")
        size = os.path.getsize(keep)
        replace(keep, ex, corrupt_at=size // 2)
        wait_for(lambda: failures("example") == f0 + 1, "corrupt file rejected and counted")
        check(version("example") == "2", "corrupt file: the old version keeps serving")
        check("model rejected" in srv.logs(), "rejection logged")
        replace(keep, ex, corrupt_at=3)  # bad magic
        wait_for(lambda: failures("example") == f0 + 2, "bad magic rejected")
        replace(bad_st, other)
        wait_for(lambda: failures("other") == 1, "failing self-test rejected")
        check(version("other") == "1", "failing self-test: old 'other' keeps serving")
        replace(keep, ex)
        wait_for(lambda: version("example") == "3", "good file after corrupt ones (version 3)")
        os.kill(srv.p.pid, signal.SIGHUP)
        wait_for(lambda: version("example") == "4" and version("multi") == "2", "SIGHUP reloads all")
        # a different model under an existing name: values change to the new model's
        st, b = srv.json("POST", "/v2/models/multi/infer", infer_body(multi_rows[:2], 10))
        replace(reg, multi)
        wait_for(lambda: srv.json("GET", "/v2/models/multi")[1]["outputs"][0]["shape"] == [-1, 1],
                 "model swapped for a different one")
        reg_expect = lmscore(reg, multi_csv)[:2]
        st, b = srv.json("POST", "/v2/models/multi/infer", infer_body(multi_rows[:2], 10))
        check(st == 200 and [f32(x) for x in b["outputs"][0]["data"]] ==
              [f32(float(r[0])) for r in reg_expect], "new content served after the swap")
        os.remove(other)
        wait_for(lambda: srv.json("GET", "/v2/models/other")[0] == 404, "removed file unpublished")
        shutil.copyfile(reg, os.path.join(models, "added.lm.tmp"))
        os.rename(os.path.join(models, "added.lm.tmp"), os.path.join(models, "added.lm"))
        wait_for(lambda: srv.json("GET", "/v2/models/added/ready")[0] == 200, "new file served")
        time.sleep(0.3)
        stop.set()
        [t.join() for t in threads]
        check(stats["ok"] > 50 and not stats["fail"],
              f"no failed request during reloads: {stats['ok']} ok, failures {stats['fail'][:3]}")
        mt = srv.metrics()
        check(metric(mt, "lmserve_model_reloads_total", 'model="example"') == 3, "reloads counted")
        check(metric(mt, "lmserve_model_reload_failures_total", 'model="example"') == 2,
              "reload failures counted")
        check(srv.json("GET", "/v2/health/ready")[0] == 200, "still ready after reloads")

        # ---------------- reloads while the workers are busy scoring ----------------
        # A retired version is freed only once every worker has passed a quiescent point: a
        # worker in the middle of a request must be waited for. (Regression: the workers'
        # counters had the wrong parity, "idle" while handling events, so a reload freed the
        # version, its sessions and its mapping under a request in flight; the ASan build
        # crashed within a few dozen reloads.)
        multi4 = os.path.join(spare, "multi4.lm")
        run(conv, "-q", os.path.join(fx, "multi_softprob4/model.json"), "-o", multi4)
        busy_stop = threading.Event()
        busy = {"ok": 0, "fail": []}
        big = infer_body(multi_rows * 20, 10)  # 600 rows: the worker holds the version a while

        def busy_client():
            post_loop(busy, busy_stop, "/v2/models/multi/infer", lambda i: big,
                      lambda i, b: len(b["outputs"][0]["data"]) in (600, 2400), 5,
                      lambda: srv.p.poll() is not None)

        threads = [threading.Thread(target=busy_client, daemon=True) for _ in range(3)]
        [t.start() for t in threads]
        t_end = time.time() + 4
        i = 0
        while time.time() < t_end and srv.p.poll() is None and not busy["fail"]:
            i += 1
            replace(multi4 if i % 2 else reg, multi)
            if i % 3 == 0:
                os.kill(srv.p.pid, signal.SIGHUP)
            time.sleep(0.02)
        busy_stop.set()
        [t.join() for t in threads]
        check(srv.p.poll() is None, f"server alive after {i} reloads under load")
        width = 4 if i % 2 else 1  # the last file written; let its reload (and any SIGHUP) finish
        if srv.p.poll() is None:
            wait_for(lambda: srv.json("GET", "/v2/models/multi")[1]["outputs"][0]["shape"] ==
                     [-1, width], "last file served after the reloads")
            time.sleep(0.3)
        check(busy["ok"] > 10 and not busy["fail"],
              f"reloads while busy: {busy['ok']} ok, failures {busy['fail'][:3]}")

        # ---------------- graceful shutdown ----------------
        c = srv.conn()
        check(srv.json("GET", "/v2/health/live", conn=c)[0] == 200, "keep-alive before SIGTERM")
        t_term = time.time()
        srv.p.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        check(srv.json("GET", "/v2/health/ready") == (503, {"ready": False}), "not ready at once")
        st, b = srv.json("POST", "/v2/models/example/infer", infer_body([ex_rows[2]], 20), conn=c)
        check(st == 200 and f32(b["outputs"][0]["data"][0]) == f32(float(ex_expect[2])),
              "in-flight connection served during the drain")
        st, b = srv.json("POST", "/v2/models/example/infer", infer_body([ex_rows[2]], 20))
        check(st == 200, "new connection served during the drain")
        rc = srv.p.wait(30)
        elapsed = time.time() - t_term
        check(rc == 0, f"exit status 0 after the drain (got {rc})")
        check(elapsed >= 1.4, f"drain period honoured ({elapsed:.2f} s)")
        logs = srv.logs()
        bad = [line for line in logs.splitlines() if line and not line.startswith("{")]
        check(not bad, f"every stderr line is a JSON object: {bad[:3]}")
        for line in logs.splitlines():
            if line.startswith("{"):
                j = json.loads(line)
                check({"ts", "level", "msg"} <= set(j), "log fields")
        check('"stopped"' in logs, "stopped logged")
    finally:
        if srv.p.poll() is None:
            srv.p.kill()
            srv.p.wait()

    # ---------------- connection limit and an empty directory ----------------
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    s2 = Server(empty, "--threads", "1", "--max-connections", "3", "--drain-seconds", "0")
    try:
        check(s2.json("GET", "/v2/health/ready")[0] == 503, "no model: not ready")
        socks = []
        for _ in range(3):  # each with a request under way (a body still to come): not evictable
            s = socket.create_connection(("127.0.0.1", s2.port), timeout=10)
            s.sendall(b"POST /v2/models/x/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
            socks.append(s)
        time.sleep(0.2)
        s = socket.create_connection(("127.0.0.1", s2.port), timeout=10)
        out = b""
        while True:  # refused at accept: the 503 comes before any request is sent
            d = s.recv(4096)
            if not d:
                break
            out += d
        s.close()
        check(status_of(out) == 503 and b"too many open connections" in out, f"connection limit: {out[:60]!r}")
        for s in socks:
            s.close()
        shutil.copyfile(reg, os.path.join(empty, "late.lm"))
        time.sleep(0.2)

        def ready():
            try:
                return s2.json("GET", "/v2/health/ready")[0] == 200
            except Exception:
                return False
        t0 = time.time()
        while time.time() - t0 < 10 and not ready():
            time.sleep(0.1)
        check(ready(), "ready once a model appears")
        check(s2.stop() == 0, "exit 0")
    finally:
        if s2.p.poll() is None:
            s2.p.kill()
            s2.p.wait()

    hardening(tmp, conv, fx, ex, reg)
    protocols(tmp, models, ex, multi)
    observability(tmp, ex, reg)
    sagemaker(tmp)

    if not FAILS:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"test_server: {CHECKS[0] - len(FAILS)}/{CHECKS[0]} checks passed"
          + (f", {len(FAILS)} FAILED (logs in {tmp})" if FAILS else ""))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
