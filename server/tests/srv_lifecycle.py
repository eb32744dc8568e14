#!/usr/bin/python3
"""srv_lifecycle.py — lmserve's life cycle, end to end (run by test_server.py): the command
line, hot reloads under load (good, corrupt, bad magic, failing self-test, a different model
under the same name, removed and added files, SIGHUP) with no failed request, reloads while
the workers are busy scoring, and graceful shutdown (not ready at once, requests served during
the drain, exit status 0, JSON logs).
"""
import json
import os
import shutil
import signal
import subprocess
import threading
import time

from srv_harness import BIN, check, f32, infer_body, lmscore, metric, run


def cli(fix):
    """--help, --version and bad command lines."""
    tmp, models = fix.tmp, fix.models
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


def reloads(srv, fix):
    """Hot reloads under load, then reloads while the workers are busy (main server)."""
    tmp, models, fx, conv, ex, other = fix.tmp, fix.models, fix.fx, fix.conv, fix.ex, fix.other
    multi, spare, reg, bad_st, ex_rows = fix.multi, fix.spare, fix.reg, fix.bad_st, fix.ex_rows
    ex_expect, multi_csv, multi_rows = fix.ex_expect, fix.multi_csv, fix.multi_rows
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


def shutdown(srv, fix):
    """Graceful shutdown of the main server on SIGTERM."""
    ex_rows, ex_expect = fix.ex_rows, fix.ex_expect
    # ---------------- graceful shutdown ----------------
    c = srv.conn()
    check(srv.json("GET", "/v2/health/live", conn=c)[0] == 200, "keep-alive before SIGTERM")
    t_term = time.time()
    srv.p.send_signal(signal.SIGTERM)
    # at once: within the first second of the 1.5 s drain (a loaded machine may take a while to
    # deliver the signal; a fixed 0.1 s sleep failed there)
    ready = None
    while time.time() - t_term < 1.0:
        ready = srv.json("GET", "/v2/health/ready")
        if ready[0] == 503:
            break
        time.sleep(0.02)
    check(ready == (503, {"ready": False}), f"not ready at once ({ready}, "
          f"{time.time() - t_term:.2f} s after SIGTERM)")
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
