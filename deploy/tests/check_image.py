#!/usr/bin/python3
"""make check-image: build the real container images with podman (Debian packages only) and
check them the way a cluster would run them.

    check_image.py [--keep]

Skipped (exit 0, saying why) when not root or when podman cannot run containers here.
  1. apt-get installs what is missing: podman, runc (Debian's crun 1.8 fails on hybrid
     cgroups), containernetworking-plugins, iptables, mmdebstrap;
  2. podman's configuration and store live under build/image/ (containers.conf with
     default_ulimits capped: root here lacks CAP_SYS_RESOURCE to raise nofile/nproc);
  3. the base image, a Debian 12 minbase made once with mmdebstrap
     (build/image/base/bookworm-minbase.tar, cached) and `podman import`ed, is passed to
     deploy/Dockerfile as BASE_IMAGE; `podman build --pull=never` builds the lmconvert target and
     the default (lmserve) target;
  4. checks: image sizes (lmserve <= 60 MB), what the lmserve image holds (lmserve and its
     libraries only), every binary's libraries resolved inside its image, the images' user,
     the convert-models init container of the rendered Deployment (its command, env, volumes,
     user, memory limit and read-only root) on a good model and on one failing its self-test,
     lmserve started as the pod's container (args read from the manifest, read-only root,
     uid), the pod lifecycle test (deploy/tests/test_pod_lifecycle.py) against the container,
     inference equal to XGBoost's own predictions (examples/expected.csv), SIGTERM with the
     manifest's drain and shutdown times: exit 0 within the grace period, and the hot-reload
     overlay's sidecars stopping within 2 s of SIGTERM.
Prints "check-image: N passed, N failed".
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
IMG = os.path.join(BUILD, "image")
BASE_TAR = os.path.join(IMG, "base", "bookworm-minbase.tar")
BASE_TAG = "localhost/lmrt-base:bookworm"
SERVE_TAG = "localhost/lmrt/lmserve:check"
CONV_TAG = "localhost/lmrt/lmconvert:check"
PACKAGES = ["podman", "runc", "containernetworking-plugins", "iptables", "mmdebstrap"]
MIRRORS = ["deb http://deb.debian.org/debian bookworm main",
           "deb http://deb.debian.org/debian bookworm-updates main",
           "deb http://deb.debian.org/debian-security bookworm-security main"]
MAX_SERVE_MB = 60
SIDECAR_STOP_S = 2.0
UID = 10001

passed = failed = 0
t_start = time.monotonic()


def say(msg):
    print(f"check-image: {msg}", flush=True)


def result(name, ok, detail=""):
    global passed, failed
    say(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok or not detail else f"\n{detail}"))
    passed, failed = passed + bool(ok), failed + (not ok)
    return ok


def sh(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


# ---------------------------------------------------------------- podman set-up

def podman_env():
    os.makedirs(os.path.join(IMG, "run"), exist_ok=True)
    os.makedirs(os.path.join(IMG, "tmp"), exist_ok=True)
    os.makedirs(os.path.join(IMG, "cni"), exist_ok=True)
    conf = os.path.join(IMG, "containers.conf")
    with open(conf, "w", encoding="utf-8") as fh:
        fh.write(f"""# written by deploy/tests/check_image.py
[containers]
# root on this VM lacks CAP_SYS_RESOURCE: podman's defaults (its own RLIMIT_NOFILE/NPROC
# maximums) cannot be set, so cap them.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_config_dir = "{IMG}/cni"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{IMG}/events.log"
tmp_dir = "{IMG}/tmp"
""")
    storage = os.path.join(IMG, "storage.conf")
    with open(storage, "w", encoding="utf-8") as fh:
        fh.write(f"""# written by deploy/tests/check_image.py
[storage]
driver = "overlay"
graphroot = "{IMG}/storage"
runroot = "{IMG}/run"
""")
    registries = os.path.join(IMG, "registries.conf")
    with open(registries, "w", encoding="utf-8") as fh:
        fh.write("unqualified-search-registries = []\n")
    env = dict(os.environ)
    env.update(CONTAINERS_CONF=conf, CONTAINERS_STORAGE_CONF=storage,
               CONTAINERS_REGISTRIES_CONF=registries)
    return env


ENV = None


def podman(*args, **kw):
    kw.setdefault("env", ENV)
    return sh(["podman", *args], **kw)


def install_packages():
    missing = [p for p in PACKAGES
               if sh(["dpkg-query", "-W", "-f", "${Status}", p]).stdout.strip() != "install ok installed"]
    if not missing:
        return True
    say(f"installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = sh(["apt-get", "update", "-q"], env=env)
    r2 = sh(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    if r2.returncode:
        say(f"apt-get install failed:\n{r.stdout[-1000:]}{r2.stdout[-2000:]}{r2.stderr[-2000:]}")
        return False
    return True


def base_image():
    if podman("image", "exists", BASE_TAG).returncode == 0:
        return True
    if not os.path.exists(BASE_TAR):
        say("making the base rootfs: mmdebstrap --variant=minbase bookworm (once; cached in "
            f"{os.path.relpath(BASE_TAR, ROOT)})")
        os.makedirs(os.path.dirname(BASE_TAR), exist_ok=True)
        part = BASE_TAR + ".part"
        # Like debian:12-slim: no manual pages, documentation (but copyrights) or translations.
        excl = [f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("man", "doc", "info", "locale", "lintian")]
        r = sh(["mmdebstrap", "--variant=minbase", "--format=tar", *excl,
                "--dpkgopt=path-include=/usr/share/doc/*/copyright", "bookworm", part, *MIRRORS])
        if r.returncode:
            say(f"mmdebstrap failed:\n{r.stderr[-3000:]}")
            return False
        os.rename(part, BASE_TAR)
    r = podman("import", "--change", 'CMD ["/bin/bash"]', BASE_TAR, BASE_TAG)
    if r.returncode:
        say(f"podman import failed:\n{r.stderr[-2000:]}")
        return False
    return True


def build_context():
    """The tracked and untracked-but-not-ignored files of the work tree (not build/, where the
    podman store lives): what a clean clone would send."""
    ctx = os.path.join(IMG, "context")
    files = sh(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]).stdout
    names = [f for f in files.split("\0") if f and os.path.lexists(os.path.join(ROOT, f))]
    if os.path.isdir(ctx):
        shutil.rmtree(ctx)
    os.makedirs(ctx)
    r = subprocess.run(["tar", "-C", ROOT, "--null", "-T", "-", "-cf", "-"], input="\0".join(names).encode(),
                       capture_output=True)
    if r.returncode:
        raise RuntimeError(r.stderr.decode())
    subprocess.run(["tar", "-C", ctx, "-xf", "-"], input=r.stdout, check=True)
    return ctx


def build_images():
    ctx = build_context()
    for target, tag in (("lmconvert", CONV_TAG), ("lmserve", SERVE_TAG)):
        t0 = time.monotonic()
        cmd = ["build", "--pull=never", "--network", "host", "--layers",
               "--build-arg", f"BASE_IMAGE={BASE_TAG}", "--target", target,
               "-f", os.path.join(ctx, "deploy", "Dockerfile"), "-t", tag, ctx]
        log = os.path.join(IMG, f"build-{target}.log")
        with open(log, "w", encoding="utf-8") as fh:
            r = podman(*cmd, stdout=fh, stderr=subprocess.STDOUT, capture_output=False)
        ok = result(f"podman build --target {target} ({time.monotonic() - t0:.0f} s)", r.returncode == 0,
                    open(log, encoding="utf-8").read()[-4000:])
        if not ok:
            return False
    return True
