#!/usr/bin/python3
"""soak_inplace.py — issue 18's soak: a served model file overwritten IN PLACE under load.

lmserve serves one model, `m.lm`, while load threads send inference requests on keep-alive
connections and, every --every seconds, the file is overwritten in place the way `cp new.lm
m.lm` does it (open with O_TRUNC, then write — never a rename), cycling through

    A        the example model                       (a good version)
    corrupt  A with every leaf of one tree set to 20000.5, checksums NOT recomputed: same size,
             bytes the verifier must reject (before issue 18 these were served: 1.0019 → 20000.5)
    B        the example model with another base_score (a good version with other predictions)
    corrupt  again

and written in 4 KiB pieces with pauses, so that the server's poll sees truncated and
half-written files too. Every response is checked: status 200, and its prediction exactly the
one A or B gives for that row (lmscore) — anything else is a prediction from rejected bytes.
lmserve's RSS is sampled after each replacement. Passes when no request failed, no prediction
came from rejected bytes, the corrupt versions were rejected (reload_failures_total grew) and
good ones swapped in (reloads_total grew), RSS stayed flat (the last sample at most
max(2 MiB, 3%) above the median of the samples after the first quarter), and readiness followed
the file (issue 20): sampled just before each replacement, /v2/health/ready is 503 naming m
(`"stale":["m"]`) every time the corrupt copy is in place — while every request is still
answered by the old version — and 200 again after a final good file and SIGHUP. (After a good
file it is counted, not required, to be 200: a poll that caught the file half-written in the
same mtime tick as the last write keeps the rejection until the file changes again, as
docs/lmserve.md says.)

    /usr/bin/python3 server/tests/soak_inplace.py [--build build] [--seconds 20] [--every 0.5]

`make check-server` runs it for 12 s with a replacement every 0.4 s (under SAN=1 with
--no-rss-check: ASan's quarantine holds freed memory, so RSS is judged by the plain build only);
`make soak-inplace` for SOAK_SECONDS (600) with one every 10 s, as the issue asks. Exit status 1
on any failure.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.environ.get("LM_BUILD", "build"))
ap.add_argument("--src", default=os.environ.get("LM_SRC", "."))
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--every", type=float, default=0.5)
ap.add_argument("--threads", type=int, default=4)
ap.add_argument("--lmserve", default=None, help="the server to soak (default: BUILD/bin/lmserve)")
ap.add_argument("--no-rss-check", action="store_true",
                help="report RSS but do not judge it (sanitizer builds: ASan's quarantine keeps "
                     "freed memory, so RSS grows by design)")
args = ap.parse_args()
BIN = os.path.join(args.build, "bin")


def run(*a):
    return subprocess.run(list(a), check=True, capture_output=True, text=True).stdout


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def corrupt(good):
    """Every leaf of tree 0 set to 20000.5 (NODES: 16-byte nodes, leaf value at +12, a leaf has
    left == its own index); the checksums are left as they were."""
    b = bytearray(good)
    (nsec,) = struct.unpack_from("<I", b, 24)
    tree0_n = None
    secs = {}
    for i in range(nsec):
        kind, _, off, size, _ = struct.unpack_from("<IIQQQ", b, 64 + 32 * i)
        secs[kind] = (off, size)
    off_t, _ = secs[2]
    tree0_n = struct.unpack_from("<II", b, off_t)[1]
    off_n, _ = secs[3]
    for k in range(tree0_n):
        left = struct.unpack_from("<I", b, off_n + 16 * k + 8)[0]
        if left == k:
            struct.pack_into("<f", b, off_n + 16 * k + 12, 20000.5)
    return bytes(b)


def main():
    tmp = tempfile.mkdtemp(prefix="lmserve-soak-", dir=args.build if os.path.isdir(args.build) else None)
    models = os.path.join(tmp, "models")
    os.mkdir(models)
    ex = os.path.join(args.src, "examples/model.tar.gz")
    with tarfile.open(ex) as t:
        j = json.load(t.extractfile("xgboost-model"))
    a_lm, b_lm = os.path.join(tmp, "a.lm"), os.path.join(tmp, "b.lm")
    run(f"{BIN}/lmconvert", "-q", ex, "-o", a_lm)
    j["learner"]["learner_model_param"]["base_score"] = "2.5E-1"
    bj = os.path.join(tmp, "b.json")
    with open(bj, "w") as f:
        json.dump(j, f)
    run(f"{BIN}/lmconvert", "-q", bj, "-o", b_lm)
    rows_csv = os.path.join(args.src, "examples/rows.csv")
    rows = []
    for line in open(rows_csv):
        rows.append([None if v.strip() in ("", "nan", "NaN", "NA") else float(v)
                     for v in line.rstrip("\n").split(",")])
    want_a = [float(x) for x in run(f"{BIN}/lmscore", a_lm, rows_csv).split()]
    want_b = [float(x) for x in run(f"{BIN}/lmscore", b_lm, rows_csv).split()]
    versions = [open(a_lm, "rb").read(), None, open(b_lm, "rb").read(), None]
    versions[1] = versions[3] = corrupt(versions[0])
    assert want_a != want_b
    served = os.path.join(models, "m.lm")
    shutil.copyfile(a_lm, served)

    log = open(os.path.join(tmp, "lmserve.log"), "a+")
    p = subprocess.Popen([args.lmserve or f"{BIN}/lmserve", "--models", models, "--listen", "127.0.0.1:0",
                          "--threads", "2", "--reload-poll-ms", "50"], stderr=log,
                         stdout=subprocess.DEVNULL)
    port = None
    for _ in range(600):
        time.sleep(0.05)
        log.seek(0)
        for line in log.read().splitlines():
            if '"listening"' in line:
                port = json.loads(line)["port"]
        if port or p.poll() is not None:
            break
    if not port:
        log.seek(0)
        print("soak_inplace: lmserve did not start:", log.read())
        return 1

    stop = threading.Event()
    stats = {"ok": 0, "failed": 0, "rejected_bytes": 0, "a": 0, "b": 0}
    notes = []
    lock = threading.Lock()

    def load(tid):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = tid
        while not stop.is_set():
            r = i % len(rows)
            i += 1
            body = json.dumps({"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, 20],
                                           "data": rows[r]}]})  # None: null, a missing value
            try:
                c.request("POST", "/v2/models/m/infer", body, {"Content-Type": "application/json"})
                resp = c.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"status {resp.status}: {data[:200]!r}")
                got = json.loads(data)["outputs"][0]["data"][0]
            except Exception as e:  # a failed request
                with lock:
                    stats["failed"] += 1
                    if len(notes) < 5:
                        notes.append(f"row {r}: {e}")
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            with lock:
                if abs(got - want_a[r]) <= 1e-6 * max(1, abs(want_a[r])):
                    stats["ok"] += 1
                    stats["a"] += 1
                elif abs(got - want_b[r]) <= 1e-6 * max(1, abs(want_b[r])):
                    stats["ok"] += 1
                    stats["b"] += 1
                else:
                    stats["rejected_bytes"] += 1
                    if len(notes) < 5:
                        notes.append(f"row {r}: prediction {got} is neither A's {want_a[r]} nor B's {want_b[r]}")
        c.close()

    def metric(name):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        for line in text.splitlines():
            if line.startswith(name + '{model="m"}'):
                return float(line.split()[-1])
        return 0.0

    threads = [threading.Thread(target=load, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    def ready():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v2/health/ready")
        r = c.getresponse()
        body = json.loads(r.read() or b"{}")
        c.close()
        return r.status, body

    samples = []
    # Readiness (issue 20): 503 naming m while the corrupt copy sits in the directory (the old
    # version still answering every request), sampled just before each next replacement.
    unready = {"after_corrupt": 0, "named": 0, "after_good_503": 0}
    t0 = time.time()
    k = 0
    try:
        while time.time() - t0 < args.seconds and p.poll() is None:
            time.sleep(args.every)
            if k:
                st, body = ready()
                if (k - 1) % 2 == 1:  # the last write was the corrupt copy
                    unready["after_corrupt"] += 1
                    unready["named"] += st == 503 and body.get("stale") == ["m"]
                else:  # a good file: normally ready again (unless the poll caught it half-written
                    unready["after_good_503"] += st != 200  # in the same mtime tick: see docs)
            data = versions[k % 4]
            k += 1
            # what `cp new.lm m.lm` does: truncate, then write (here in 4 KiB pieces with a
            # pause in the middle, so the server can see a short or half-written file)
            with open(served, "r+b" if os.path.exists(served) else "wb") as f:
                f.truncate(0)
                for off in range(0, len(data), 4096):
                    f.write(data[off:off + 4096])
                    if off == 4096 * 8:
                        f.flush()
                        time.sleep(0.002)
            samples.append((time.time() - t0, rss_kb(p.pid)))
    finally:
        stop.set()
        for t in threads:
            t.join()
    alive = p.poll() is None
    # A good file at the end, and SIGHUP (the documented way past a same-tick rejection): ready.
    final_ready = False
    if alive:
        with open(served, "r+b") as f:
            f.truncate(0)
            f.write(versions[0])
        p.send_signal(signal.SIGHUP)
        for _ in range(100):
            time.sleep(0.05)
            if ready() == (200, {"ready": True}):
                final_ready = True
                break
    reloads = metric("lmserve_model_reloads_total") if alive else 0
    failures = metric("lmserve_model_reload_failures_total") if alive else 0
    p.terminate()
    p.wait(30)
    rs = [s[1] for s in samples]
    base = statistics.median(rs[len(rs) // 4:]) if rs else 0
    end = rs[-1] if rs else 0
    flat = end <= base + max(2048, 0.03 * base) or args.no_rss_check
    print(f"soak_inplace: {args.seconds:g} s, {k} in-place replacements (every {args.every:g} s, "
          f"A/corrupt/B/corrupt), {args.threads} connections: {stats['ok']} requests ok "
          f"({stats['a']} from A, {stats['b']} from B), {stats['failed']} failed, "
          f"{stats['rejected_bytes']} predictions from rejected bytes; lmserve: {reloads:.0f} "
          f"reloads, {failures:.0f} rejected files; RSS first {rs[0] if rs else 0} kB, median "
          f"after the first quarter {base:.0f} kB, last {end} kB; readiness after a corrupt copy: "
          f"503 naming m {unready['named']} of {unready['after_corrupt']}, after a good file 503 "
          f"{unready['after_good_503']} times; ready after a final good file + SIGHUP: "
          f"{final_ready}", flush=True)
    for n in notes:
        print("  " + n)
    ok = (alive and stats["failed"] == 0 and stats["rejected_bytes"] == 0 and stats["ok"] > 0 and
          stats["a"] > 0 and stats["b"] > 0 and reloads >= 2 and failures >= 1 and flat and
          unready["after_corrupt"] > 0 and unready["named"] == unready["after_corrupt"] and final_ready)
    if unready["named"] != unready["after_corrupt"] or not final_ready:
        print("soak_inplace: FAIL: readiness does not follow the rejected file")
    if not alive:
        print("soak_inplace: FAIL: lmserve died (exit status %s)" % p.returncode)
    if not flat:
        print("soak_inplace: FAIL: RSS grew")
    print("soak_inplace: " + ("ok" if ok else "FAILED"))
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
