#!/usr/bin/python3
"""Run the model-delivery scripts of deploy/k8s/scripts/ (the generated ConfigMap
lmserve-scripts, as rendered) as the pod would, on this
machine: S3 is a directory served by a stand-in `aws` command, lmconvert and lminfo are the
ones built here (LM_BIN), the volumes are scratch directories.

    test_model_delivery.py LM_BIN

Cases:
  - fetch-models + convert-models on examples/model.tar.gz with selftest/rows.csv and the
    trainer's predictions (selftest/expected.csv) inside: the .lm appears in /models and
    lminfo --selftest passes on it;
  - the same archive without selftest files: converted, with a notice that nothing is
    self-tested;
  - expected values that disagree with the model: convert-models exits non-zero (the
    initContainer fails, so the pod never becomes Ready) and leaves no .lm in /models;
  - the hot-reload sidecars (one pass each): a changed S3 object is downloaded and swapped
    into /models; a failing one is rejected and the previous .lm stays;
  - the sidecars as PID 1 of a new PID namespace (as in their containers; needs root for
    unshare): SIGTERM stops each within 2 s with exit 0 (without a handler the kernel ignores
    SIGTERM for PID 1, and the kubelet waited the whole grace period).
"""
import io
import os
import shutil
import signal
import time
import subprocess
import sys
import tarfile
import tempfile


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

AWS_STUB = r"""#!/bin/sh
# Stand-in for the AWS CLI: s3://BUCKET/KEY is $FAKE_S3/BUCKET/KEY.
set -eu
case "$1 $2" in
  "s3 cp")
    shift 2
    [ "$1" = --only-show-errors ] && shift
    src=${1#s3://}
    [ -f "$FAKE_S3/$src" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 1; }
    cp "$FAKE_S3/$src" "$2" ;;
  "s3api head-object")
    shift 2
    while [ $# -gt 0 ]; do
      case $1 in --bucket) b=$2; shift 2 ;; --key) k=$2; shift 2 ;; *) shift ;; esac
    done
    [ -f "$FAKE_S3/$b/$k" ] || exit 254
    printf '"%s"\n' "$(md5sum < "$FAKE_S3/$b/$k" | cut -d' ' -f1)" ;;
  *) echo "aws stub: unsupported: $*" >&2; exit 2 ;;
esac
"""


def make_archive(path, expected_shift=None, selftest=True, version=b"1"):
    """examples/model.tar.gz plus selftest/rows.csv and selftest/expected.csv."""
    with tarfile.open(os.path.join(ROOT, "examples", "model.tar.gz")) as t:
        model = t.extractfile("xgboost-model").read()
    with tarfile.open(path, "w:gz") as out:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))
        add("xgboost-model", model)
        add("VERSION", version)
        if selftest:
            with open(os.path.join(ROOT, "examples", "rows.csv"), "rb") as fh:
                add("selftest/rows.csv", fh.read())
            with open(os.path.join(ROOT, "examples", "expected.csv"), encoding="utf-8") as fh:
                vals = [line.strip() for line in fh if line.strip()]
            if expected_shift is not None:
                vals = [repr(float(v) + expected_shift) for v in vals]
            add("selftest/expected.csv", ("\n".join(vals) + "\n").encode())


class Env:
    def __init__(self, td, lm_bin, scripts):
        self.td = td
        self.s3 = os.path.join(td, "s3")
        self.work = os.path.join(td, "work")
        self.models = os.path.join(td, "models")
        self.bin = os.path.join(td, "bin")
        for d in (self.s3, self.work, self.models, self.bin):
            os.makedirs(d, exist_ok=True)
        self.scripts = os.path.join(td, "scripts")
        os.makedirs(self.scripts, exist_ok=True)
        for k, v in scripts.items():
            with open(os.path.join(self.scripts, k), "w", encoding="utf-8") as fh:
                fh.write(v)
        with open(os.path.join(self.bin, "aws"), "w", encoding="utf-8") as fh:
            fh.write(AWS_STUB)
        os.chmod(os.path.join(self.bin, "aws"), 0o755)
        self.path = f"{self.bin}:{os.path.abspath(lm_bin)}:{os.environ.get('PATH', '/usr/bin:/bin')}"

    def put(self, key, **kw):
        p = os.path.join(self.s3, "models-bucket", key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        make_archive(p, **kw)
        return "s3://models-bucket/" + key

    def run(self, script, models):
        env = {"PATH": self.path, "LMSERVE_MODELS": models, "WORK_DIR": self.work,
               "MODELS_DIR": self.models, "FAKE_S3": self.s3, "RUN_ONCE": "1", "HOME": self.td}
        r = subprocess.run(["/bin/sh", os.path.join(self.scripts, script)], env=env,
                           capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout + r.stderr


def main():
    lm_bin = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bin")
    for t in ("lmconvert", "lminfo"):
        if not os.access(os.path.join(lm_bin, t), os.X_OK):
            print(f"model-delivery: FAIL {lm_bin}/{t} is not built")
            print("model-delivery: 0 passed, 1 failed")
            return 1
    sys.path.insert(0, HERE)
    import check_manifests
    rep = check_manifests.Report(ROOT)
    objs = check_manifests.render(rep, os.path.join(ROOT, "deploy", "k8s"))
    scripts = [o.doc["data"] for o in objs if o.doc.get("kind") == "ConfigMap"
               and o.key[1].startswith("lmserve-scripts")][0]
    passed = failed = 0

    def result(name, ok, detail):
        nonlocal passed, failed
        print(f"model-delivery: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"\n{detail}"))
        passed, failed = passed + ok, failed + (not ok)

    def selftest_passes(lm):
        r = subprocess.run([os.path.join(lm_bin, "lminfo"), lm, "--selftest"], capture_output=True, text=True)
        return r.returncode == 0 and "passed" in r.stdout, r.stdout + r.stderr

    with tempfile.TemporaryDirectory() as td:
        # 1. init containers, model with its self-test
        e = Env(os.path.join(td, "good"), lm_bin, scripts)
        models = f"churn={e.put('sagemaker/churn/job-1/output/model.tar.gz')}"
        rc1, out1 = e.run("fetch-models.sh", models)
        rc2, out2 = e.run("convert-models.sh", models)
        lm = os.path.join(e.models, "churn.lm")
        ok, out3 = selftest_passes(lm) if os.path.exists(lm) else (False, "no churn.lm")
        result("init: fetch, convert, embedded self-test passes", rc1 == 0 and rc2 == 0 and ok,
               out1 + out2 + out3)
        leftovers = sorted(os.listdir(e.work))
        result("init: scratch volume emptied after conversion", leftovers == [], f"left: {leftovers}")

        # 2. no selftest files in the archive
        e = Env(os.path.join(td, "plain"), lm_bin, scripts)
        models = f"plain={e.put('sagemaker/plain/job-1/output/model.tar.gz', selftest=False)}"
        rc1, out1 = e.run("fetch-models.sh", models)
        rc2, out2 = e.run("convert-models.sh", models)
        result("init: archive without selftest/ converts, says nothing is self-tested",
               rc1 == 0 and rc2 == 0 and os.path.exists(os.path.join(e.models, "plain.lm"))
               and "nothing to self-test" in out2, out1 + out2)

        # 3. failing self-test: the init container fails, /models stays empty
        e = Env(os.path.join(td, "bad"), lm_bin, scripts)
        models = f"bad={e.put('sagemaker/bad/job-1/output/model.tar.gz', expected_shift=0.25)}"
        rc1, out1 = e.run("fetch-models.sh", models)
        rc2, out2 = e.run("convert-models.sh", models)
        result("init: model failing its self-test stops the pod (exit 4, lminfo names the row, no .lm)",
               rc1 == 0 and rc2 == 4 and not os.listdir(e.models) and "convert-models: bad: FAILED" in out2
               and "self-test row 0 output 0" in out2,
               f"rc={rc2} models={os.listdir(e.models)}\n{out1}{out2}")

        # 4. missing S3 object: fetch fails
        rc, out = e.run("fetch-models.sh", "gone=s3://models-bucket/nope/model.tar.gz")
        result("init: missing S3 object fails fetch-models", rc != 0 and "404" in out, out)
        rc, out = e.run("fetch-models.sh", "x=https://example.com/model.tar.gz")
        result("init: non-s3 URI rejected", rc == 2 and "not an s3:// URI" in out, out)

        # 5. hot reload: sidecars, one pass each
        e = Env(os.path.join(td, "hot"), lm_bin, scripts)
        key = "serving/churn/current/model.tar.gz"
        models = f"churn={e.put(key)}"
        e.run("fetch-models.sh", models)
        e.run("convert-models.sh", models)
        lm = os.path.join(e.models, "churn.lm")
        before = os.stat(lm).st_ino
        e.put(key, version=b"2")  # a new object (new bytes, new ETag)
        rc1, out1 = e.run("sync-models.sh", models)
        rc2, out2 = e.run("reconvert-models.sh", models)
        ok_swap = rc1 == 0 and rc2 == 0 and "swapped in" in out2 and os.stat(lm).st_ino != before
        result("hot reload: new S3 object downloaded, converted, renamed into /models", ok_swap, out1 + out2)
        rc1, out1 = e.run("sync-models.sh", models)
        result("hot reload: unchanged ETag is not downloaded again", rc1 == 0 and "new object" not in out1, out1)
        before = os.stat(lm).st_ino
        e.put(key, expected_shift=0.25, version=b"3")
        rc1, out1 = e.run("sync-models.sh", models)
        rc2, out2 = e.run("reconvert-models.sh", models)
        ok_keep = ("FAILED; keeping the old model" in out2 and os.stat(lm).st_ino == before
                   and selftest_passes(lm)[0])
        result("hot reload: failing model rejected, previous .lm keeps serving", ok_keep, out1 + out2)

        # 6. the sidecars stop on SIGTERM as PID 1 (their containers' situation)
        for script in ("sync-models.sh", "reconvert-models.sh"):
            if os.geteuid() != 0 or not shutil.which("unshare"):
                print(f"model-delivery: SKIP {script} as PID 1: needs root and unshare")
                continue
            env = {"PATH": e.path, "LMSERVE_MODELS": models, "WORK_DIR": e.work, "MODELS_DIR": e.models,
                   "FAKE_S3": e.s3, "HOME": e.td, "REFRESH_SECONDS": "60"}
            p = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "/bin/sh",
                                  os.path.join(e.scripts, script)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(1.5)  # one pass, then the loop's sleep
            kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
            t0 = time.monotonic()
            for k in kids:
                os.kill(int(k), signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            took = time.monotonic() - t0
            out = p.stdout.read()
            result(f"hot reload: {script} as PID 1 stops on SIGTERM in {took:.1f} s (<= 2 s), exit {p.returncode}",
                   kids != [] and took <= 2.0 and p.returncode == 0, f"pids {kids}\n{out}")
    print(f"model-delivery: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
