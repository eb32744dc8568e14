#!/usr/bin/python3
"""srv_limits.py — lmserve's limits and hardening, end to end (run by test_server.py; issue
18's findings, each block failing on the code before its fix): registry slots freed and
--max-models, idle connections evicted, --header-timeout, queued output capped, rows, response
size and scratch limited, JSON keys and ranges, UTF-8, bare LF in a chunk line.
"""
import json
import os
import shutil
import socket
import subprocess
import time

from srv_harness import (BIN, SRC, Server, check, csv_rows, infer_body, metric, recv_all, rss_kb,
                         run, status_of)


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
