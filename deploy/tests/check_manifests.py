#!/usr/bin/python3
"""Offline checks of lmserve's container image and Kubernetes manifests (make check-deploy).

    check_manifests.py [--root DIR] [--lmserve PATH] [--bin DIR]

Runs, on the tree under DIR (default: the repository holding this file):
  1. yamllint (deploy/yamllint.yaml) on every YAML file under deploy/;
  2. a render of each kustomization under deploy/ (k8s, overlays/*, monitoring, kserve):
     resources, strategic-merge patches (lists merged by "name") and JSON patches,
     configMapGenerator (content-hash names, references renamed), images; every YAML file of a
     kustomization's directory must be listed in its resources; an overlay inside a base it
     includes is kustomize's "cycle detected"; with kubectl installed, `kubectl kustomize` must
     render the same objects;
  3. JSON Schema validation of every rendered object against the vendored Kubernetes schemas
     (deploy/schemas/k8s-*.json: strict, unknown fields rejected);
  4. agreement between values that must match across files (ports, paths, probes, drain and
     grace periods, selectors, names, user ids) and the Dockerfile; what a platform team
     expects (lmserve first, no API token, spread over nodes, one model list, hashed
     ConfigMaps, sidecars that stop on SIGTERM, converter memory from the model size, HPA not
     on CPU, PodMonitor, KServe example: check_pod_platform, check_cluster_extras);
  5. a Dockerfile lint (deploy/tests/dockerfile_lint.py) and shellcheck of the scripts that the
     ConfigMap carries (when shellcheck is installed);
  6. with --lmserve (or $LMSERVE_BIN) naming an executable lmserve: every flag the manifests
     and the Dockerfile pass appears in `lmserve --help`;
  7. with --bin DIR (the built lmconvert and lminfo) and/or lmserve: every shared library they
     need (DT_NEEDED) comes from a package that the lmconvert stage installs (and it installs
     nothing else); lmserve needs no converter library.
Every problem is printed as "FILE: FIELD: message"; the exit status is 1 if there was one.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerfile_lint  # noqa: E402
# The checks, by job; names that check_image.py, test_model_delivery.py and test_broken.py use
# (Report, render, configmaps_of, resolve_env, parse_quantity_mi, flag_values, run) stay
# importable from here.
from manifests_render import (Report, configmaps_of, compare_kubectl, load_schemas,  # noqa: E402,F401
                              render, resolve_env, run_yamllint, validate_schema)
from manifests_agreement import check_agreement, flag_values  # noqa: E402,F401
from manifests_platform import check_cluster_extras, check_pod_platform, parse_quantity_mi  # noqa: E402,F401

DEFAULT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# ---------------------------------------------------------------- scripts, lmserve --help

def shellcheck_scripts(rep, objs):
    sc = shutil.which("shellcheck")
    if not sc:
        rep.note("shellcheck: not installed, ConfigMap scripts not linted")
        return
    with tempfile.TemporaryDirectory() as td:
        files = {}
        for o in objs:
            if o.doc.get("kind") != "ConfigMap":
                continue
            for key, text in (o.doc.get("data") or {}).items():
                if key.endswith(".sh"):
                    p = os.path.join(td, key)
                    with open(p, "w", encoding="utf-8") as fh:
                        fh.write(text)
                    files[p] = f"{o.source}: data.{key}"
        if not files:
            return
        r = subprocess.run([sc, "-s", "sh", "-f", "gcc"] + sorted(files), capture_output=True, text=True)
        for line in r.stdout.splitlines():
            p, _, rest = line.partition(":")
            rep.error(files.get(p, p), "shellcheck", rest.strip())
        if r.returncode and not r.stdout:
            rep.error("shellcheck", "", r.stderr.strip())


SANITIZER_LIBS = ("libasan", "libubsan", "liblsan", "libtsan")
BASE_IMAGE_PACKAGES = {"libc6"}  # in debian:12-slim itself
# Packages liblmrt dlopen()s on demand, so no binary's DT_NEEDED names them: the serial OpenBLAS
# (kernels/linear_blas.c, for wide linear models; lminfo and lmserve plan on it where installed).
ON_DEMAND_PACKAGES = {"libopenblas0-serial"}


def owning_package(path):
    for p in (path, "/usr" + path if not path.startswith("/usr/") else path, os.path.realpath(path)):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout:
            return r.stdout.split(":", 1)[0].strip()
    return None


# Libraries the serving image must never hold (lmconvert's: archives, JSON, and through
# libarchive libxml2 and ICU), and a package lmserve never used.
CONVERTER_ONLY = ("libarchive", "libjson-c", "libxml2", "libicu", "libmicrohttpd")


def needed_packages(rep, b):
    """{package: [soname]} for the DT_NEEDED libraries of binary b (None: unresolved)."""
    r = subprocess.run(["readelf", "-d", b], capture_output=True, text=True)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)
    paths = {}
    for line in subprocess.run(["ldd", b], capture_output=True, text=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
    out = {}
    for so in needed:
        if so.startswith(SANITIZER_LIBS) or so.startswith("ld-linux"):
            continue
        out.setdefault(owning_package(paths[so]) if so in paths else None, []).append(so)
    return out


def check_runtime_libs(rep, bin_dir, lmserve, docker):
    """lmconvert and lminfo: every shared library they need (DT_NEEDED) comes from a package that
    the lmconvert stage installs, and that stage installs nothing they do not need. lmserve: the
    final stage either copies the libraries that ldd resolved in the build stage (FROM scratch:
    make check-image checks them inside the image) or installs their packages, and none of
    them is a converter library. ON_DEMAND_PACKAGES (dlopen()ed by liblmrt) may be installed
    without being needed."""
    if not shutil.which("readelf") or not shutil.which("dpkg"):
        rep.note("runtime libraries: SKIPPED (no readelf or dpkg)")
        return
    stages = docker.get("stage_packages") or {}
    final = docker.get("final_stage")
    groups = []
    tools = [os.path.join(bin_dir, t) for t in ("lmconvert", "lminfo")] if bin_dir else []
    tools = [b for b in tools if os.access(b, os.X_OK)]
    if tools:
        if "lmconvert" not in stages:
            rep.error("deploy/Dockerfile", "stages", "no stage named lmconvert (the converter image)")
        else:
            groups.append(("lmconvert", tools, stages["lmconvert"]))
    if lmserve and os.access(lmserve, os.X_OK):
        groups.append((final, [lmserve], None if docker.get("final_from") == "scratch" else stages.get(final, [])))
    notes = []
    for stage, bins, listed in groups:
        used = set()
        for b in bins:
            for pkg, sos in needed_packages(rep, b).items():
                if pkg is None:
                    rep.error("deploy/Dockerfile", "runtime packages",
                              f"{os.path.basename(b)} needs {', '.join(sos)}, which no Debian package here provides")
                    continue
                used.add(pkg)
                if os.path.basename(b) == "lmserve" and pkg.startswith(CONVERTER_ONLY):
                    rep.error("deploy/Dockerfile", "lmserve", f"lmserve needs {pkg}: a converter library in the runtime")
                if listed is not None and pkg not in listed and pkg not in BASE_IMAGE_PACKAGES:
                    rep.error("deploy/Dockerfile", f"stage {stage}",
                              f"{os.path.basename(b)} needs {', '.join(sos)} from {pkg}, which the stage does not install")
        if listed is not None:
            for pkg in sorted(set(listed) - used - ON_DEMAND_PACKAGES):
                rep.error("deploy/Dockerfile", f"stage {stage}",
                          f"installs {pkg}, which {', '.join(os.path.basename(b) for b in bins)} do not need (image weight)")
            if stage == final:
                for pkg in listed:
                    if pkg.startswith(CONVERTER_ONLY):
                        rep.error("deploy/Dockerfile", f"stage {stage}", f"installs {pkg}: converter libraries stay "
                                                                          "out of the serving image")
        notes.append(f"{stage}: {', '.join(os.path.basename(b) for b in bins)} need {', '.join(sorted(used))}"
                     + (" (copied from the build stage by ldd)" if listed is None else ""))
    rep.note("runtime libraries: " + "; ".join(notes))


def check_flags(rep, lmserve, flags):
    if not lmserve:
        rep.note("lmserve flags: SKIPPED (LMSERVE_BIN not set: server/server.mk not present)")
        return
    if not os.access(lmserve, os.X_OK):
        rep.note(f"lmserve flags: SKIPPED ({lmserve} not built)")
        return
    try:
        r = subprocess.run([lmserve, "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        rep.error(lmserve, "--help", f"could not run: {e}")
        return
    text = r.stdout + r.stderr
    missing = sorted({f for f in flags if not re.search(re.escape(f) + r"(?![A-Za-z0-9-])", text)})
    for f in missing:
        rep.error("deploy/k8s, deploy/Dockerfile", f, f"not a flag of {lmserve} (absent from --help)")
    rep.note(f"lmserve flags: {len(set(flags))} flags checked against {lmserve} --help")


# ---------------------------------------------------------------- main

def run(root, lmserve=None, lint_yaml=True, shellcheck=True, bin_dir=None, kubectl=False):
    rep = Report(root)
    deploy = os.path.join(root, "deploy")
    yfiles = sorted(glob.glob(os.path.join(deploy, "**", "*.yaml"), recursive=True)
                    + glob.glob(os.path.join(deploy, "**", "*.yml"), recursive=True))
    yfiles = [f for f in yfiles if not os.path.relpath(f, deploy).startswith("tests" + os.sep)]
    if lint_yaml:
        run_yamllint(rep, yfiles)
    docker = dockerfile_lint.lint(os.path.join(deploy, "Dockerfile"), rep)
    schemas = load_schemas(rep)
    kdirs = sorted(os.path.dirname(f) for f in glob.glob(os.path.join(deploy, "**", "kustomization.yaml"),
                                                         recursive=True)
                   if not os.path.relpath(f, deploy).startswith("tests" + os.sep))
    if os.path.join(deploy, "k8s") not in kdirs:
        rep.error("deploy/k8s", "kustomization.yaml", "missing")
    flags = []
    rendered = 0
    all_objs = {}
    for kd in kdirs:
        objs = render(rep, kd)
        all_objs[rep.rel(kd)] = objs
        rendered += len(objs)
        if schemas:
            for o in objs:
                validate_schema(rep, schemas, o)
        if any(o.doc.get("kind") == "Deployment" for o in objs):
            flags += check_agreement(rep, objs, docker)
            check_pod_platform(rep, objs, root)
        if shellcheck and kd == os.path.join(deploy, "k8s"):
            shellcheck_scripts(rep, objs)
        if kubectl:
            compare_kubectl(rep, kd, objs)
    flags += check_cluster_extras(rep, all_objs)
    check_flags(rep, lmserve, flags)
    if bin_dir or lmserve:
        check_runtime_libs(rep, bin_dir, lmserve, docker)
    rep.note(f"{len(yfiles)} YAML files, {len(kdirs)} kustomizations, {rendered} rendered objects, "
             f"schemas: Kubernetes {schemas['kubernetesVersion'] if schemas else '?'}")
    return rep


def main(argv):
    root, lmserve, bin_dir = DEFAULT_ROOT, os.environ.get("LMSERVE_BIN") or None, None
    i = 0
    while i < len(argv):
        if argv[i] == "--root":
            root, i = argv[i + 1], i + 2
        elif argv[i] == "--bin":
            bin_dir, i = argv[i + 1], i + 2
        elif argv[i] == "--lmserve":
            lmserve, i = argv[i + 1] or None, i + 2
        else:
            print(__doc__, file=sys.stderr)
            return 2
    rep = run(os.path.abspath(root), lmserve, bin_dir=bin_dir, kubectl=True)
    if not shutil.which("kubectl"):
        rep.note("kubectl kustomize: SKIPPED (no kubectl; this renderer's rules only)")
    for n in rep.notes:
        print(f"check-deploy: {n}")
    for e in rep.errors:
        print(f"check-deploy: ERROR {e}")
    print(f"check-deploy: manifests {'FAILED' if rep.errors else 'ok'} ({len(rep.errors)} problems)")
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
