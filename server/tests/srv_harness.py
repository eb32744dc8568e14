#!/usr/bin/python3
"""srv_harness.py — what the end-to-end tests of lmserve (test_server.py and the srv_*.py
modules it runs) share: the environment (LM_BIN, LM_SRC, LM_BUILD), the check() tally, a
Server started on a loopback ephemeral port, request builders and response parsers, and the
models every module scores (fixtures()). Standard library only.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import http.client
import types

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
    def __init__(self, models, *extra, env=None, listen="127.0.0.1:0"):
        # O_APPEND: the server's writes go to the end even while this process seeks to read
        # (the two share the file description, hence its offset).
        path = os.path.join(models, "..", f"lmserve-{os.path.basename(models)}.log")
        open(path, "w").close()
        self.log = open(path, "a+")
        self.p = subprocess.Popen(
            [f"{BIN}/lmserve", "--models", models] + (["--listen", listen] if listen else []) +
            list(extra), stderr=self.log, stdout=subprocess.DEVNULL,
            env=dict(os.environ, **env) if env else None)
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


def infer_raw(srv, model, obj):
    st, _, data = srv.req("POST", f"/v2/models/{model}/infer", json.dumps(obj).encode(),
                          {"Content-Type": "application/json"})
    try:
        return st, json.loads(data)
    except ValueError:
        return st, data

def fixtures():
    """Convert the models the tests serve into a fresh scratch directory: models/ holds example
    (examples/model.tar.gz), other (with an embedded self-test) and multi (4 outputs); spare/
    holds reg and bad_selftest (a self-test that fails); plus the example's rows and lmscore's
    values for them, and the first 30 rows of the multi-output model with its values."""
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
    return types.SimpleNamespace(tmp=tmp, models=models, fx=fx, conv=conv, ex=ex, other=other,
                                 multi=multi, spare=spare, reg=reg, bad_st=bad_st, ex_rows=ex_rows,
                                 ex_expect=ex_expect, multi_csv=multi_csv, multi_rows=multi_rows,
                                 multi_expect=multi_expect)


def summary(tmp):
    """Print the tally; remove the scratch directory when every check passed. The exit status."""
    if not FAILS:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"test_server: {CHECKS[0] - len(FAILS)}/{CHECKS[0]} checks passed"
          + (f", {len(FAILS)} FAILED (logs in {tmp})" if FAILS else ""))
    return 1 if FAILS else 0
