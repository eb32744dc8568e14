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
     deploy/Dockerfile as BASE_IMAGE; `podman build --pull=never` builds the lmconvert, sagemaker
     and default (lmserve) targets;
  4. checks: image sizes (lmserve <= 60 MB), what the lmserve image holds (lmserve and its
     libraries only), every binary's libraries resolved inside its image, the images' user,
     the convert-models init container of the rendered Deployment (its command, env, volumes,
     user, memory limit and read-only root) on a good model and on one failing its self-test,
     lmserve started as the pod's container (args read from the manifest, read-only root,
     uid), the pod lifecycle test (deploy/tests/test_pod_lifecycle.py) against the container,
     inference equal to XGBoost's own predictions (examples/expected.csv), SIGTERM with the
     manifest's drain and shutdown times: exit 0 within drain + 2 s and the grace period; the
     hot-reload overlay as one pod: a new S3 object (stand-in aws) swapped into lmserve, a
     failing one kept out, and both sidecars stopping within 2 s of SIGTERM; the sagemaker
     image run as SageMaker runs it (`serve`, /opt/ml/model, port 8080): /ping, /invocations
     with text/csv, text/libsvm and application/json equal to lmscore's values, SIGTERM
     (deploy/tests/check_image_sagemaker.py).
Prints "check-image: N passed, N failed".
"""
import json
import os
import shutil
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
import check_image_sagemaker as sm  # noqa: E402  (the sagemaker image's checks)

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
IMG = os.path.join(BUILD, "image")
BASE_TAR = os.path.join(IMG, "base", "bookworm-minbase.tar")
BASE_TAG = "localhost/lmrt-base:bookworm"
SERVE_TAG = "localhost/lmrt/lmserve:check"
CONV_TAG = "localhost/lmrt/lmconvert:check"
BUILD_TAG = "localhost/lmrt/build:check"  # the build stage, tagged so that pruning keeps its cache
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
    for target, tag in (("build", BUILD_TAG), ("lmconvert", CONV_TAG), ("sagemaker", sm.SM_TAG),
                        ("lmserve", SERVE_TAG)):
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
    # Earlier builds' stages, now untagged: keep build/image/ from growing with every change.
    podman("image", "prune", "-f")
    return True


# ---------------------------------------------------------------- the images

def image_files(tag):
    """{path: (mode, size)} of an image's filesystem (podman export of a created container)."""
    name = f"lmrt-files-{os.getpid()}"
    podman("rm", "-f", name)
    if podman("create", "--name", name, tag).returncode:
        return {}
    try:
        r = subprocess.run(["podman", "export", name], env=ENV, capture_output=True)
        import tarfile
        import io
        out = {}
        with tarfile.open(fileobj=io.BytesIO(r.stdout)) as t:
            for m in t.getmembers():
                out["/" + m.name.lstrip("./")] = (m.mode, m.size, m.type)
        return out
    finally:
        podman("rm", "-f", name)


def check_images():
    sizes = {}
    for tag in (SERVE_TAG, CONV_TAG):
        r = podman("image", "inspect", "--format", "{{.Size}} {{.Config.User}}", tag)
        size, _, user = r.stdout.strip().partition(" ")
        sizes[tag] = int(size) / 1e6 if size.isdigit() else None
        result(f"{tag} runs as USER {UID}:{UID} (non-root, numeric)", user == f"{UID}:{UID}", f"USER {user!r}")
    result(f"lmserve image: {sizes[SERVE_TAG]:.1f} MB uncompressed (<= {MAX_SERVE_MB} MB); "
           f"lmconvert image: {sizes[CONV_TAG]:.1f} MB", sizes[SERVE_TAG] is not None and sizes[SERVE_TAG] <= MAX_SERVE_MB)
    files = image_files(SERVE_TAG)
    regular = sorted(p for p, (_, _, typ) in files.items() if typ not in (b"5", "5"))
    extra = [p for p in regular if not (p == "/usr/local/bin/lmserve" or ".so" in os.path.basename(p)
                                        or p in ("/etc/passwd", "/etc/group"))]
    conv = [p for p in regular if os.path.basename(p).startswith(("libarchive", "libjson-c", "libxml2", "libicu",
                                                                  "libmicrohttpd", "libstdc++"))]
    result(f"lmserve image holds lmserve and its libraries only ({len(regular)} files, no shell, "
           "no converter library)", regular and not extra and not conv and "/bin/sh" not in files,
           f"unexpected: {extra + conv}")
    r = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "/lib64/ld-linux-x86-64.so.2",
               SERVE_TAG, "--list", "/usr/local/bin/lmserve")
    result("ldd lmserve inside its image: every library resolved",
           r.returncode == 0 and "not found" not in r.stdout, r.stdout + r.stderr)
    for b in ("lmconvert", "lminfo"):
        r = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "/usr/bin/ldd",
                   CONV_TAG, f"/usr/local/bin/{b}")
        result(f"ldd {b} inside the lmconvert image: every library resolved",
               r.returncode == 0 and "not found" not in r.stdout, r.stdout + r.stderr)
    r = podman("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "/bin/sh", CONV_TAG,
               "-c", "touch /usr/local/bin/x 2>&1 || echo read-only-ok")
    result("lmconvert image with a read-only root: writes fail", "read-only-ok" in r.stdout, r.stdout + r.stderr)
    return sizes


# ---------------------------------------------------------------- the pod, as the manifests say

class Pod:
    """A pod of the rendered kustomization, run with podman: each container with its command,
    args, env (ConfigMap references resolved), user, read-only root, dropped capabilities,
    memory limit and volumes (emptyDir and configMap as scratch directories)."""

    def __init__(self, kdir, td):
        import check_manifests as cm
        rep = cm.Report(ROOT)
        self.objs = cm.render(rep, os.path.join(ROOT, kdir))
        if rep.errors:
            raise RuntimeError("render: " + "; ".join(rep.errors))
        self.cm = cm
        dep = [o for o in self.objs if o.doc.get("kind") == "Deployment"][0].doc
        self.meta = dep["spec"]["template"]["metadata"]
        self.spec = dep["spec"]["template"]["spec"]
        self.cms = cm.configmaps_of(self.objs)
        self.td = td
        self.dirs = {}
        psc = self.spec.get("securityContext") or {}
        self.user = f"{psc.get('runAsUser', 0)}:{psc.get('runAsGroup', 0)}"
        self.fs_group = psc.get("fsGroup")
        for v in self.spec.get("volumes") or []:
            d = os.path.join(td, "vol", v["name"])
            os.makedirs(d)
            if "configMap" in v:
                for k, text in (self.cms[v["configMap"]["name"]].doc.get("data") or {}).items():
                    with open(os.path.join(d, k), "w", encoding="utf-8") as fh:
                        fh.write(text)
                    os.chmod(os.path.join(d, k), v["configMap"].get("defaultMode", 0o644))
            else:  # emptyDir: group-owned by fsGroup, as the kubelet does
                os.chown(d, 0, self.fs_group or 0)
                os.chmod(d, 0o2775)
            self.dirs[v["name"]] = d

    def container(self, name):
        for c in (self.spec.get("initContainers") or []) + (self.spec.get("containers") or []):
            if c["name"] == name:
                return c
        raise KeyError(name)

    def env(self, c):
        return self.cm.resolve_env(c, self.cms)

    def argv(self, name, cname=None, network=("--network", "host"), args=None, detach=False, rm=False,
             image=None, extra=(), env=None):
        c = self.container(name)
        sc = c.get("securityContext") or {}
        cmd = ["run", "--name", cname or f"lmrt-{name}-{os.getpid()}", *network, "--user", self.user, *extra]
        if detach:
            cmd.append("-d")
        if rm:
            cmd.append("--rm")
        if self.fs_group is not None:
            cmd += ["--group-add", str(self.fs_group)]
        if sc.get("readOnlyRootFilesystem"):
            cmd += ["--read-only", "--read-only-tmpfs=false"]
        if sc.get("allowPrivilegeEscalation") is False:
            cmd += ["--security-opt", "no-new-privileges"]
        for cap in (sc.get("capabilities") or {}).get("drop") or []:
            cmd += ["--cap-drop", cap]
        mem = self.cm.parse_quantity_mi(((c.get("resources") or {}).get("limits") or {}).get("memory", ""))
        if mem:
            cmd += ["--memory", f"{int(mem)}m"]
        for vm in c.get("volumeMounts") or []:
            cmd += ["-v", f"{self.dirs[vm['name']]}:{vm['mountPath']}:{'ro' if vm.get('readOnly') else 'rw'}"]
        for k, v in dict(self.env(c), **(env or {})).items():
            cmd += ["-e", f"{k}={v}"]
        command = c.get("command") or []
        if command:
            cmd += ["--entrypoint", command[0]]
        tag = image or (SERVE_TAG if "/lmserve" in c["image"] else CONV_TAG if "/lmconvert" in c["image"] else None)
        if tag is None:
            raise RuntimeError(f"{name}: image {c['image']} is not built here")
        return cmd + [tag] + command[1:] + (c.get("args") or [] if args is None else args)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port, path, body=None, timeout=3.0):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None, ""


def exited_after(name, t0_wall):
    """Seconds from t0_wall (time.time() before the signal was sent) to the container's exit,
    from its State.FinishedAt: podman's own latency (large on a loaded machine) left out."""
    r = podman("inspect", "--format", "{{.State.FinishedAt.UnixNano}}", name)
    try:
        return int(r.stdout.strip()) / 1e9 - t0_wall
    except ValueError:
        return None


def wait_for(cond, seconds, step=0.2):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def check_init(td):
    """convert-models as the Deployment runs it, on a good model and on one failing its
    self-test. Returns the good pod (its models volume holds the converted models)."""
    import test_model_delivery as tmd
    good = None
    for case, shift in (("good", None), ("bad", 0.25)):
        pod = Pod(os.path.join("deploy", "k8s"), os.path.join(td, case))
        c = pod.container("convert-models")
        env = pod.env(c)
        mounts = {vm["mountPath"]: vm["name"] for vm in c["volumeMounts"]}
        work, out_dir = pod.dirs[mounts[env.get("WORK_DIR", "/work")]], pod.dirs[mounts[env.get("MODELS_DIR", "/models")]]
        names = [e.split("=", 1)[0] for e in env["LMSERVE_MODELS"].split()]
        for name in names:  # what fetch-models (the aws-cli image, not built here) leaves in /work
            tmd.make_archive(os.path.join(work, f"{name}.tar.gz"), expected_shift=shift)
            os.chown(os.path.join(work, f"{name}.tar.gz"), UID, UID)
        t0 = time.monotonic()
        r = podman(*pod.argv("convert-models", rm=True))
        out = r.stdout + r.stderr
        lms = sorted(os.listdir(out_dir))
        if case == "good":
            ok = r.returncode == 0 and lms == [f"{n}.lm" for n in sorted(names)] and "ready" in out
            result(f"init container convert-models (lmconvert image, manifest's command, env, user, "
                   f"read-only root, memory limit) converts and self-tests {', '.join(names)} "
                   f"({time.monotonic() - t0:.1f} s)", ok, f"rc={r.returncode} /models={lms}\n{out}")
            good = pod if ok else None
        else:
            result("init container convert-models on a model failing its self-test: exit 4, nothing in /models",
                   r.returncode == 4 and not lms and "FAILED" in out, f"rc={r.returncode} /models={lms}\n{out}")
    return good


def read_rows():
    rows = []
    with open(os.path.join(ROOT, "examples", "rows.csv"), encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append([None if v.strip() in ("", "nan", "NaN", "NA") else float(v) for v in line.strip().split(",")])
    with open(os.path.join(ROOT, "examples", "expected.csv"), encoding="utf-8") as fh:
        expected = [float(v) for v in fh.read().split()]
    return rows, expected


def check_lifecycle_test(pod):
    """deploy/tests/test_pod_lifecycle.py, the same test as for the binary, launching the image."""
    c = pod.container("lmserve")
    models_vol = [vm["name"] for vm in c["volumeMounts"] if vm["mountPath"] == "/models"][0]
    launch = ["podman"] + pod.argv("lmserve", cname=f"lmrt-lifecycle-{os.getpid()}", args=[], rm=True)
    r = sh(["/usr/bin/python3", os.path.join(HERE, "test_pod_lifecycle.py"), "", "",
            "--launch", " ".join(shlex_quote(x) for x in launch), "--models-dir", pod.dirs[models_vol]],
           env=ENV, timeout=180)
    podman("rm", "-f", f"lmrt-lifecycle-{os.getpid()}")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("pod-lifecycle:")]
    result("pod lifecycle test (probes, /metrics, readiness false at SIGTERM, drain, exit 0) against the "
           "container: " + (lines[-1].split(": ", 1)[1] if lines else "no result"), r.returncode == 0,
           r.stdout[-3000:] + r.stderr[-2000:])


def shlex_quote(x):
    import shlex
    return shlex.quote(x)


def start_lmserve(pod, name):
    """lmserve as the pod's container, detached, with the manifest's args verbatim and its port
    published on 127.0.0.1 (CNI bridge), or host networking with --listen moved to a free
    loopback port when the bridge is unavailable. Returns (ready, port, how)."""
    c = pod.container("lmserve")
    args = [str(a) for a in c.get("args") or []]
    vals, _ = pod.cm.flag_values(args)
    listen_port = int(vals.get("--listen", "0.0.0.0:8080").rsplit(":", 1)[1])
    ready = c["readinessProbe"]["httpGet"]["path"]
    port = free_port()
    podman("rm", "-f", name)
    r = podman(*pod.argv("lmserve", cname=name, detach=True,
                         network=("--network", "bridge", "-p", f"127.0.0.1:{port}:{listen_port}")))
    how = f"args verbatim {' '.join(args)}; port {listen_port} published on 127.0.0.1:{port}"
    up = r.returncode == 0 and wait_for(lambda: http(port, ready)[0] == 200, 30)
    if not up:
        podman("rm", "-f", name)
        say(f"bridge network unavailable or lmserve not reachable through it ({r.stderr.strip()[-300:]}); "
            "host network, --listen on a free loopback port")
        a2 = list(args)
        if "--listen" in a2:
            a2[a2.index("--listen") + 1] = f"127.0.0.1:{port}"
        else:
            a2 += ["--listen", f"127.0.0.1:{port}"]
        r = podman(*pod.argv("lmserve", cname=name, detach=True, args=a2))
        how = f"args {' '.join(a2)} (host network)"
        up = r.returncode == 0 and wait_for(lambda: http(port, ready)[0] == 200, 30)
    if not up:
        say(f"lmserve did not become ready: {r.stderr.strip()[-500:]}")
    return up, port, how


def check_serving(pod):
    """lmserve as the pod's container with the Deployment's own arguments, verbatim: its port
    published on loopback (CNI bridge), or host networking with --listen moved to a free port
    when the bridge is unavailable."""
    c = pod.container("lmserve")
    args = [str(a) for a in c.get("args") or []]
    vals, _ = pod.cm.flag_values(args)
    drain, shutdown = int(vals.get("--drain-seconds", 5)), int(vals.get("--shutdown-timeout", 25))
    grace = pod.spec.get("terminationGracePeriodSeconds", 30)
    pre = ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
    name = f"lmrt-serve-{os.getpid()}"
    up, port, how = start_lmserve(pod, name)
    try:
        result(f"lmserve container up and ready with the Deployment's args ({how})", up,
               podman("logs", name).stdout[-2000:])
        if not up:
            return
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = c[probe]["httpGet"]["path"]
            result(f"{probe} {path} answers 200", http(port, path)[0] == 200)
        st, body = http(port, pod.meta["annotations"]["prometheus.io/path"])
        result("/metrics answers with lmserve_requests_in_flight (the HPA's metric)",
               st == 200 and "lmserve_requests_in_flight" in body)
        pid = podman("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
        try:
            with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
                ids = {ln.split(":")[0]: ln.split()[1:] for ln in fh if ln.startswith(("Uid:", "Gid:"))}
        except OSError:
            ids = {}
        result(f"lmserve runs as uid {UID} (pid {pid} on the host)", ids.get("Uid", [None])[0] == str(UID)
               and set(ids.get("Uid", [])) == {str(UID)}, f"{ids}")
        ro = podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", name).stdout.strip()
        result("lmserve's root filesystem is read-only", ro == "true", ro)
        rows, expected = read_rows()
        model = pod.env(pod.container("convert-models"))["LMSERVE_MODELS"].split()[0].split("=", 1)[0]
        body = json.dumps({"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                                       "data": [v for r_ in rows for v in r_]}]}).encode()
        st, text = http(port, f"/v2/models/{model}/infer", body)
        try:
            got = json.loads(text)["outputs"][0]["data"]
        except (ValueError, KeyError, IndexError):
            got = []
        worst = max((abs(a - b) for a, b in zip(got, expected)), default=None)
        result(f"V2 inference on examples/rows.csv ({len(rows)} rows, missing values as null) equals "
               f"XGBoost's predictions (examples/expected.csv): max |diff| {worst}",
               st == 200 and len(got) == len(expected) and worst is not None and worst <= 1e-6,
               f"status {st}: {text[:500]}")
        t0, t0_wall = time.monotonic(), time.time()
        podman("kill", "--signal", "TERM", name)
        time.sleep(0.5)
        not_ready = http(port, c["readinessProbe"]["httpGet"]["path"], timeout=1)[0] != 200
        try:
            code = podman("wait", name, timeout=grace + 10).stdout.strip()
        except subprocess.TimeoutExpired:
            code = "(still running)"
        wall = time.monotonic() - t0
        took = exited_after(name, t0_wall) or wall
        result(f"SIGTERM: not ready at once, drained {drain} s, exit {code} after {took:.1f} s "
               f"({wall:.1f} s with podman's own latency) "
               f"(<= drain + 2 s, <= --shutdown-timeout {shutdown} s; preStop {pre} s + that <= grace {grace} s)",
               not_ready and code == "0" and drain - 0.5 <= took <= min(drain + 2, shutdown + 1)
               and pre + took <= grace,
               podman("logs", name).stdout[-2000:])
    finally:
        podman("rm", "-f", name)


AWS_STANDIN_MOUNT = "/opt/aws-standin"


def metric_sum(text, name):
    import re
    vals = re.findall(r"^" + name + r"(?:\{[^}]*\})? (\S+)$", text, re.M)
    return sum(float(v) for v in vals) if vals else None


def check_hot_reload(td):
    """The hot-reload overlay as one pod: convert-models, lmserve, model-sync (its script in the
    lmconvert image with a stand-in aws: the aws-cli image is not pulled here) and
    model-reconvert sharing the pod's volumes; a new S3 object reaches lmserve, a failing one is
    kept out, and the sidecars stop promptly on SIGTERM."""
    import test_model_delivery as tmd
    pod = Pod(os.path.join("deploy", "overlays", "hot-reload"), os.path.join(td, "hot"))
    first = (pod.spec.get("containers") or [{}])[0].get("name")
    result(f"hot-reload overlay: lmserve is the first container ({first})", first == "lmserve")
    stub, s3 = os.path.join(td, "hot", "aws"), os.path.join(td, "hot", "s3")
    os.makedirs(stub)
    with open(os.path.join(stub, "aws"), "w", encoding="utf-8") as fh:
        fh.write(tmd.AWS_STUB)
    os.chmod(os.path.join(stub, "aws"), 0o755)
    objects = {}
    for e in pod.env(pod.container("model-sync"))["LMSERVE_MODELS"].split():
        name, uri = e.split("=", 1)
        objects[name] = os.path.join(s3, uri[len("s3://"):])
        os.makedirs(os.path.dirname(objects[name]), exist_ok=True)
        tmd.make_archive(objects[name])
    c = pod.container("convert-models")
    mounts = {vm["mountPath"]: vm["name"] for vm in c["volumeMounts"]}
    work = pod.dirs[mounts[pod.env(c).get("WORK_DIR", "/work")]]
    for name, path in objects.items():  # what fetch-models leaves in /work
        shutil.copyfile(path, os.path.join(work, f"{name}.tar.gz"))
        os.chown(os.path.join(work, f"{name}.tar.gz"), UID, UID)
    r = podman(*pod.argv("convert-models", rm=True))
    if not result("hot-reload pod: convert-models", r.returncode == 0, r.stdout + r.stderr):
        return
    lname = f"lmrt-hot-lmserve-{os.getpid()}"
    up, port, how = start_lmserve(pod, lname)
    names = {"model-sync": f"lmrt-hot-sync-{os.getpid()}", "model-reconvert": f"lmrt-hot-reconvert-{os.getpid()}"}
    try:
        if not result(f"hot-reload pod: lmserve ready ({how})", up, podman("logs", lname).stdout[-2000:]):
            return
        started = True
        for sc, cname in names.items():
            podman("rm", "-f", cname)
            if "/lmconvert" in pod.container(sc)["image"]:
                argv = pod.argv(sc, cname=cname, detach=True)
            else:
                argv = pod.argv(sc, cname=cname, detach=True, image=CONV_TAG, env={"REFRESH_SECONDS": "1"}, extra=[
                    "-v", f"{stub}:{AWS_STANDIN_MOUNT}:ro", "-v", f"{s3}:/fake-s3:ro",
                    "-e", f"PATH={AWS_STANDIN_MOUNT}:/usr/local/bin:/usr/bin:/bin", "-e", "FAKE_S3=/fake-s3"])
            rr = podman(*argv)
            started = started and rr.returncode == 0
            if rr.returncode:
                say(f"{sc}: {rr.stderr.strip()[-500:]}")

        def reloads():
            return metric_sum(http(port, "/metrics")[1], "lmserve_model_reloads_total") or 0
        # The first pass has no ETag yet: the object is downloaded, converted, swapped in.
        ok = started and wait_for(lambda: reloads() >= 1, 40, 0.5)
        result(f"hot reload: model-sync fetched the object, model-reconvert converted and swapped it in, "
               f"lmserve reloaded it (lmserve_model_reloads_total {reloads():.0f})", ok,
               podman("logs", names["model-sync"]).stdout[-1000:] + podman("logs", names["model-reconvert"]).stderr[-1000:])
        before = reloads()
        for path in objects.values():
            tmd.make_archive(path, expected_shift=0.25, version=b"3")  # new bytes, a failing self-test
        rejected = wait_for(lambda: "keeping the old model" in podman("logs", names["model-reconvert"]).stderr, 40, 0.5)
        model = next(iter(objects))
        result("hot reload: a model failing its self-test is rejected by model-reconvert, lmserve keeps serving "
               "the previous one", rejected and reloads() == before
               and http(port, f"/v2/models/{model}/ready")[0] == 200,
               podman("logs", names["model-reconvert"]).stderr[-1500:])
        for sc, cname in names.items():
            t0, t0_wall = time.monotonic(), time.time()
            rs = podman("stop", "--time", str(pod.spec.get("terminationGracePeriodSeconds", 30)), cname, timeout=60)
            wall = time.monotonic() - t0
            took = exited_after(cname, t0_wall) or wall
            code = podman("inspect", "--format", "{{.State.ExitCode}}", cname).stdout.strip()
            note = " (its script in the lmconvert image with a stand-in aws)" if sc == "model-sync" else ""
            logs = podman("logs", cname)
            result(f"sidecar {sc}{note}: SIGTERM stops it in {took:.1f} s "
                   f"(<= {SIDECAR_STOP_S} s; {wall:.1f} s with podman's own latency), exit {code}",
                   took <= SIDECAR_STOP_S and code == "0", rs.stderr + logs.stdout[-1500:] + logs.stderr[-1500:])
    finally:
        for cname in list(names.values()) + [lname]:
            podman("rm", "-f", cname)


def main():
    global ENV
    if os.geteuid() != 0:
        say("SKIPPED: not root (podman builds and runs the images as root here)")
        return 0
    if not install_packages():
        say("SKIPPED: the container tools could not be installed")
        return 0
    ENV = podman_env()
    r = podman("info", "--format", "{{.Host.OCIRuntime.Name}}")
    if r.returncode:
        say(f"SKIPPED: podman cannot run here: {r.stderr.strip()[-500:]}")
        return 0
    if not base_image():
        result("base image (mmdebstrap minbase bookworm, podman import)", False)
        print(f"check-image: {passed} passed, {failed} failed")
        return 1
    probe = podman("run", "--rm", "--network", "none", BASE_TAG, "true")
    if probe.returncode:
        say(f"SKIPPED: podman cannot run containers here: {probe.stderr.strip()[-500:]}")
        return 0
    if build_images():
        check_images()
        with tempfile.TemporaryDirectory(dir=IMG) as td:
            os.chmod(td, 0o755)
            pod = check_init(td)
            if pod is not None:
                check_lifecycle_test(pod)
                check_serving(pod)
            check_hot_reload(td)
            sm.check_sagemaker(sys.modules[__name__], td)
    say(f"{time.monotonic() - t_start:.0f} s")
    print(f"check-image: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
