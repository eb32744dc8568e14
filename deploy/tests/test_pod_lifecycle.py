#!/usr/bin/python3
"""Run the built lmserve with the Deployment's own arguments, as the kubelet would, on loopback:
the probes, the scrape endpoint and the SIGTERM drain that the grace-period arithmetic of
check_manifests.py relies on.

    test_pod_lifecycle.py LMSERVE_BIN LM_BIN [--launch TEMPLATE] [--models-dir DIR]

--launch runs the same test against something other than the binary, e.g. the container image
(make check-image): TEMPLATE is a command line whose {models} and {port} are replaced by the
scratch models directory and the port, and to which lmserve's arguments are appended; there
--models keeps the manifest's value (the template mounts {models} there). --models-dir DIR
serves DIR (holding churn.lm) instead of converting the example with LM_BIN's lmconvert.

Only the listen address (127.0.0.1 and a free port), the models directory (a scratch one) and
the drain and shutdown times (scaled down to 2 s and 4 s, the same order) differ from
deploy/k8s/deployment.yaml. Checks:
  - startupProbe/livenessProbe path answers 200, readinessProbe path answers 200 once the model
    is loaded, GET /v2/models/<name>/ready answers 200;
  - the prometheus.io/path endpoint answers on the same port with lmserve_requests_total;
  - after SIGTERM: readiness is false at once (the preStop pause has already taken the pod out
    of the endpoints), liveness and the model still answer during the drain, and the process
    exits after the drain and before the shutdown deadline.
Skipped (and says so) when LMSERVE_BIN is not built. Every request goes to 127.0.0.1 and every
wait is bounded.
"""
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DRAIN, SHUTDOWN = 2, 4


def get(port, path, timeout=2.0):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (urllib.error.URLError, OSError):
        return None, ""


def wait_for(cond, seconds, step=0.1):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def main():
    argv, launch, models_dir = [], None, None
    i = 1
    while i < len(sys.argv):
        if sys.argv[i] == "--launch":
            launch, i = sys.argv[i + 1], i + 2
        elif sys.argv[i] == "--models-dir":
            models_dir, i = sys.argv[i + 1], i + 2
        else:
            argv.append(sys.argv[i])
            i += 1
    lmserve = argv[0] if argv else ""
    lm_bin = argv[1] if len(argv) > 1 else os.path.join(ROOT, "build", "bin")
    if launch is None and (not lmserve or not os.access(lmserve, os.X_OK)):
        print(f"pod-lifecycle: SKIPPED: lmserve not built ({lmserve or 'LMSERVE_BIN unset'})")
        return 0
    with open(os.path.join(ROOT, "deploy", "k8s", "deployment.yaml"), encoding="utf-8") as fh:
        dep = yaml.safe_load(fh)
    pod = dep["spec"]["template"]["spec"]
    c = [x for x in pod["containers"] if x["name"] == "lmserve"][0]
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    probes = {k: c[k]["httpGet"]["path"] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    passed = failed = 0

    def result(name, ok, detail=""):
        nonlocal passed, failed
        print(f"pod-lifecycle: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))
        passed, failed = passed + bool(ok), failed + (not ok)

    with tempfile.TemporaryDirectory() as td:
        models = models_dir or os.path.join(td, "models")
        os.makedirs(models, exist_ok=True)
        r = subprocess.CompletedProcess([], 0) if models_dir else subprocess.run([os.path.join(lm_bin, "lmconvert"), os.path.join(ROOT, "examples", "model.tar.gz"),
                            "-o", os.path.join(models, "churn.lm"), "-q", "--selftest",
                            os.path.join(ROOT, "examples", "rows.csv") + "," +
                            os.path.join(ROOT, "examples", "expected.csv")],
                           capture_output=True, text=True)
        if r.returncode:
            result("convert the example model", False, r.stderr)
            print(f"pod-lifecycle: {passed} passed, {failed} failed")
            return 1
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args, a = [], c["args"]
        i = 0
        while i < len(a):
            f = a[i]
            v = a[i + 1] if i + 1 < len(a) else None
            repl = {"--models": models, "--listen": f"127.0.0.1:{port}",
                    "--drain-seconds": str(DRAIN), "--shutdown-timeout": str(SHUTDOWN)}
            if launch:
                del repl["--models"]
            if f in repl:
                args += [f, repl[f]]
                i += 2
            else:
                args.append(f)
                i += 1
        log = open(os.path.join(td, "lmserve.log"), "w+", encoding="utf-8")
        cmd = ([lmserve] if not launch else
               [x.format(models=models, port=port) for x in shlex.split(launch)]) + args
        print(f"pod-lifecycle: {' '.join(cmd)}")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            up = wait_for(lambda: get(port, probes["startupProbe"])[0] == 200, 30)
            result(f"startupProbe {probes['startupProbe']} answers 200", up)
            ready = wait_for(lambda: get(port, probes["readinessProbe"])[0] == 200, 30)
            result(f"readinessProbe {probes['readinessProbe']} answers 200 once the model is loaded", ready)
            result("GET /v2/models/churn/ready answers 200", get(port, "/v2/models/churn/ready")[0] == 200)
            st, body = get(port, ann["prometheus.io/path"])
            result(f"{ann['prometheus.io/path']} on the http port has lmserve_requests_total",
                   st == 200 and "lmserve_requests_total" in body, f"status {st}")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            not_ready = wait_for(lambda: get(port, probes["readinessProbe"], 0.5)[0] not in (200,), 0.5, 0.05)
            result("after SIGTERM readiness is false at once (within 0.5 s)", not_ready)
            time.sleep(0.3)
            served = (get(port, probes["livenessProbe"])[0] == 200
                      and get(port, "/v2/models/churn/ready")[0] == 200)
            result("during the drain liveness and the model still answer", served)
            try:
                proc.wait(timeout=SHUTDOWN + 2)
            except subprocess.TimeoutExpired:
                pass
            took = time.monotonic() - t0
            exited = proc.poll() is not None
            result(f"exits after the drain ({DRAIN} s) and by the shutdown deadline ({SHUTDOWN} s): "
                   f"{took:.1f} s, status {proc.returncode}",
                   exited and DRAIN - 0.5 <= took <= SHUTDOWN + 1 and proc.returncode == 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if failed:
                log.seek(0)
                print("pod-lifecycle: lmserve log:\n" + log.read()[-3000:])
            log.close()
    print(f"pod-lifecycle: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
