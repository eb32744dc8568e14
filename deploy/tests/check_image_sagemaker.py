"""check_image_sagemaker.py — the SageMaker part of `make check-image` (issue 20): the sagemaker
image (deploy/Dockerfile --target sagemaker) run the way SageMaker runs an inference container,
then asserted on as SageMaker's runtime would call it. Imported by check_image.py, which owns
podman's set-up, the build and the tally.

How SageMaker starts the container (AWS, "Custom Inference Code with Hosting Services" and
"... with Batch Transform", docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html):
  - `docker run IMAGE serve`: the `serve` argument replaces the image's CMD;
  - the model artifact (model.tar.gz) is extracted into /opt/ml/model before the start (here:
    examples/model.tar.gz extracted into a directory mounted read-only there);
  - the container answers on port 8080: GET /ping (200 within seconds of the start), POST
    /invocations; SageMaker expects containers to run as root (the image's USER is 0);
  - stop: SIGTERM, then SIGKILL 30 s later.
Checks: the image's size and user, ldd of lmserve inside it, /ping 200, /invocations with
text/csv and text/libsvm equal to lmscore's values on the bundled example's rows (lmscore built
on the host from the same tree; every value), application/x-recordio-protobuf (the sparse
float32 fixture of server/tests/fixtures/recordio) likewise, application/json accepted (and equal),
SIGTERM: exit 0 well within SageMaker's 30 s.
"""
import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

SM_TAG = "localhost/lmrt/sagemaker:check"
STOP_S = 30  # SageMaker's SIGTERM-to-SIGKILL interval


def _post(port, path, body, ctype, accept=None, timeout=10.0):
    h = {"Content-Type": ctype}
    if accept:
        h["Accept"] = accept
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, "", str(e)


def _floats(text):
    """An /invocations text/csv answer (comma- or line-separated) as floats."""
    return [float(x) for x in text.replace("\n", ",").split(",") if x.strip()]


def _expected(ci, td):
    """lmscore's values for the example's rows as CSV and as LIBSVM rows (host binaries of the
    same tree), and the request bodies."""
    b = os.path.join(ci.BUILD, "bin")
    lm = os.path.join(td, "example.lm")
    subprocess.run([os.path.join(b, "lmconvert"), "-q", os.path.join(ci.ROOT, "examples", "model.tar.gz"),
                    "-o", lm], check=True, capture_output=True)
    rows_csv = os.path.join(ci.ROOT, "examples", "rows.csv")
    with open(rows_csv, encoding="utf-8") as fh:
        lines = [ln.rstrip("\n") for ln in fh if ln.strip()]
    missing = ("", "nan", "NaN", "NA")
    svm = []
    for ln in lines:  # label 0, then index:value of the values present (indices from 0)
        vals = [v.strip() for v in ln.split(",")]
        svm.append("0 " + " ".join(f"{i}:{v}" for i, v in enumerate(vals) if v not in missing))
    rows_svm = os.path.join(td, "rows.libsvm")
    with open(rows_svm, "w", encoding="utf-8") as fh:
        fh.write("\n".join(svm) + "\n")
    score = lambda *a: _floats(subprocess.run([os.path.join(b, "lmscore"), lm, *a], check=True,
                                              capture_output=True, text=True).stdout)
    rows = [[None if v.strip() in missing else float(v) for v in ln.split(",")] for ln in lines]
    rio = os.path.join(ci.ROOT, "server", "tests", "fixtures", "recordio")
    with open(os.path.join(rio, "sparse_f32.rec"), "rb") as fh:
        recordio = fh.read()
    return {
        "recordio": recordio, "want_recordio": score(os.path.join(rio, "sparse_f32.csv")),
        "csv": ("\n".join(lines) + "\n").encode(), "want_csv": score(rows_csv),
        "libsvm": ("\n".join(svm) + "\n").encode(), "want_libsvm": score(rows_svm, "--format", "libsvm"),
        "json": json.dumps(rows).encode(), "n": len(lines),
    }


def check_sagemaker(ci, td):
    podman, result, say = ci.podman, ci.result, ci.say
    r = podman("image", "inspect", "--format", "{{.Size}} {{.Config.User}} {{json .Config.Cmd}}", SM_TAG)
    size, user, cmd = (r.stdout.strip().split(" ", 2) + ["", "", ""])[:3]
    mb = int(size) / 1e6 if size.isdigit() else None
    result(f"sagemaker image: {mb or 0:.1f} MB uncompressed; USER {user or '(none)'} (root, as SageMaker "
           f"expects); CMD {cmd}", mb is not None and user in ("", "0", "0:0", "root") and '"serve"' in cmd,
           r.stdout + r.stderr)
    r = podman("run", "--rm", "--network", "none", "--entrypoint", "/usr/bin/ldd", SM_TAG, "/usr/local/bin/lmserve")
    result("ldd lmserve inside the sagemaker image: every library resolved",
           r.returncode == 0 and "not found" not in r.stdout, r.stdout + r.stderr)

    d = os.path.join(td, "sagemaker")
    model_dir = os.path.join(d, "opt-ml-model")
    os.makedirs(model_dir)
    with tarfile.open(os.path.join(ci.ROOT, "examples", "model.tar.gz")) as t:
        t.extractall(model_dir)  # what SageMaker does with ModelDataUrl's archive
    os.chmod(d, 0o755)
    try:
        exp = _expected(ci, d)
    except (OSError, subprocess.CalledProcessError) as e:
        result("lmscore's values for the example (host build)", False, str(e))
        return
    name = f"lmrt-sagemaker-{os.getpid()}"
    port = ci.free_port()
    podman("rm", "-f", name)
    # As SageMaker: the image with the argument `serve`, the artifact at /opt/ml/model, port 8080
    argv = ["run", "-d", "--name", name, "-v", f"{model_dir}:/opt/ml/model:ro"]
    r = podman(*argv, "--network", "bridge", "-p", f"127.0.0.1:{port}:8080", SM_TAG, "serve")
    how = f"port 8080 published on 127.0.0.1:{port}"
    up = r.returncode == 0 and ci.wait_for(lambda: ci.http(port, "/ping")[0] == 200, 40)
    if not up:
        podman("rm", "-f", name)
        say(f"bridge network unavailable or lmserve not reachable through it ({r.stderr.strip()[-300:]}); "
            "host network with SAGEMAKER_BIND_TO_PORT")
        r = podman(*argv, "--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={port}", SM_TAG, "serve")
        how = f"host network, SAGEMAKER_BIND_TO_PORT={port}"
        up = r.returncode == 0 and ci.wait_for(lambda: ci.http(port, "/ping")[0] == 200, 40)
    try:
        lg = podman("logs", name)
        logs = lg.stdout + lg.stderr
        result(f"`podman run IMAGE serve` with the extracted model.tar.gz at /opt/ml/model (read-only; {how}): "
               "GET /ping 200", up, r.stderr[-1000:] + logs[-3000:])
        if not up:
            return
        pid1 = podman("exec", name, "cat", "/proc/1/comm").stdout.strip()
        result(f"serve converted the artifact (its log: 1 model) and exec'd lmserve: PID 1 is {pid1} "
               "(SIGTERM reaches it)", "1 model(s) converted" in logs and pid1 == "lmserve", logs[-2000:])
        n = exp["n"]
        for what, body, ctype, accept, want in (
                ("text/csv", exp["csv"], "text/csv", None, exp["want_csv"]),
                ("text/libsvm", exp["libsvm"], "text/libsvm", None, exp["want_libsvm"]),
                ("application/x-recordio-protobuf", exp["recordio"], "application/x-recordio-protobuf",
                 "text/csv", exp["want_recordio"])):
            st, ct, text = _post(port, "/invocations", body, ctype, accept)
            try:
                got = _floats(text) if st == 200 else []
            except ValueError:
                got = []
            note = {"text/libsvm": " (--format libsvm)",
                    "application/x-recordio-protobuf": " (sparse float32 records: "
                    "server/tests/fixtures/recordio/sparse_f32, lmscore on its CSV)"}.get(what, "")
            result(f"POST /invocations {what} ({n} rows): {st} {ct}, every value equal to lmscore's" + note,
                   st == 200 and len(got) == n and got == want, f"{st} {ct} {text[:400]}\nwant {want[:5]}")
        st, ct, text = _post(port, "/invocations", exp["json"], "application/json", "application/json")
        try:
            got = [p["score"] for p in json.loads(text)["predictions"]] if st == 200 else []
        except (ValueError, KeyError, TypeError):
            got = []
        result(f"POST /invocations application/json ({n} rows, missing as null): {st}, "
               "{\"predictions\":[{\"score\":…}]} equal to lmscore's",
               st == 200 and got == exp["want_csv"], f"{st} {ct} {text[:400]}")
        t0, t0_wall = time.monotonic(), time.time()
        podman("kill", "--signal", "TERM", name)
        try:
            code = podman("wait", name, timeout=STOP_S + 10).stdout.strip()
        except subprocess.TimeoutExpired:
            code = "(still running)"
        took = ci.exited_after(name, t0_wall) or time.monotonic() - t0
        result(f"SIGTERM (SageMaker's stop): exit {code} after {took:.1f} s (< {STOP_S} s, SageMaker's SIGKILL)",
               code == "0" and took < STOP_S, podman("logs", name).stderr[-1500:])
    finally:
        podman("rm", "-f", name)
        shutil.rmtree(d, ignore_errors=True)
