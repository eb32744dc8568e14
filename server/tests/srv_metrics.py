#!/usr/bin/python3
"""srv_metrics.py — lmserve's /metrics and readiness, end to end (run by test_server.py): the
main server's counters and histograms after the V2 and HTTP tests, then observability():
readiness over the whole repository (rejected files named, unready also when an older version serves), per-model metrics,
process_* metrics, and the exposition format checked as Prometheus parses it.
"""
import os
import re
import shutil
import subprocess
import time

from srv_harness import BIN, SRC, Server, check, infer_body, metric, run


def counters(srv, fix):
    """The main server's counters, histograms and gauges, and the line format."""
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
        check(srv.json("GET", "/v2/health/ready") == (503, {"ready": False, "stale": ["good"]}),
              "a rejected reload: unready although the previous version serves, named as stale")
        check(srv.req("GET", "/ping")[0] == 503 and metric(srv.metrics(), "lmserve_ready") == 0,
              "a rejected reload: /ping 503, ready gauge 0")
        st, b = srv.json("POST", "/v2/models/good/infer", infer_body([[0.5] * 20], 20))
        check(st == 200, f"a rejected reload: the previous version still answers requests ({st})")
        time.sleep(0.3)  # ~10 polls
        lines = srv.logs().splitlines()
        nr = [l for l in lines if '"not ready: model files rejected"' in l]
        check(len(nr) == 2 and '"files":"bad"' in nr[0] and '"files":"good"' in nr[1] and
              sum('"no model file rejected any more"' in l for l in lines) == 1,
              f"readiness changes logged once each, naming the files: {nr}")
        shutil.copyfile(ex, tmpf)
        os.rename(tmpf, os.path.join(repo, "good.lm"))
        t0 = time.time()
        while time.time() - t0 < 5 and srv.json("GET", "/v2/health/ready")[0] != 200:
            time.sleep(0.03)
        check(srv.json("GET", "/v2/health/ready") == (200, {"ready": True}),
              "ready again once the reload is fixed")
        # per-model metrics
        for i in range(5):
            srv.json("POST", "/v2/models/good/infer", infer_body([[0.5] * 20], 20))
        for i in range(2):
            srv.json("POST", "/v2/models/good/infer", {"inputs": []})
        srv.json("POST", "/v2/models/bad/infer", infer_body([[0.5] * 10], 10))
        mt = srv.metrics()
        check(metric(mt, "lmserve_model_request_duration_seconds_count", 'model="good"') == 8 and
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
        promtool = os.environ.get("PROMTOOL")
        if not (promtool and os.access(promtool, os.X_OK)):
            promtool = shutil.which("promtool")
        if promtool:
            # Prometheus' own checker: parse errors and lint problems (naming, suffixes, HELP)
            # both fail; first proved to catch a broken exposition.
            r = subprocess.run([promtool, "check", "metrics"], input="# TYPE x counter\nx{ 1\n",
                               capture_output=True, text=True)
            check(r.returncode != 0, f"promtool check metrics rejects a broken exposition ({r.returncode})")
            r = subprocess.run([promtool, "check", "metrics"], input=mt, capture_output=True, text=True)
            check(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
                  f"promtool check metrics on lmserve's /metrics: exit {r.returncode} {r.stdout} {r.stderr}")
        else:
            print("observability: promtool not found (make deps unpacks it into build/promtool): "
                  "checked by the Python parser only")
    finally:
        check(srv.stop() == 0, "observability server: exit 0")
