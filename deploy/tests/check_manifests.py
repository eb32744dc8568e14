#!/usr/bin/python3
"""Offline checks of lmserve's container image and Kubernetes manifests (make check-deploy).

    check_manifests.py [--root DIR] [--lmserve PATH] [--bin DIR]

Runs, on the tree under DIR (default: the repository holding this file):
  1. yamllint (deploy/yamllint.yaml) on every YAML file under deploy/;
  2. a render of each kustomization (deploy/k8s and its overlays) without kubectl: resources,
     strategic-merge patches (lists merged by "name"), images; every YAML file of a
     kustomization's directory must be listed in its resources;
  3. JSON Schema validation of every rendered object against the vendored Kubernetes schemas
     (deploy/schemas/k8s-*.json: strict, unknown fields rejected);
  4. agreement between values that must match across files (ports, paths, probes, drain and
     grace periods, selectors, names, user ids) and the Dockerfile;
  5. a Dockerfile lint (deploy/tests/dockerfile_lint.py) and shellcheck of the scripts that the
     ConfigMap carries (when shellcheck is installed);
  6. with --lmserve (or $LMSERVE_BIN) naming an executable lmserve: every flag the manifests
     and the Dockerfile pass appears in `lmserve --help`;
  7. with --bin DIR (the built lmconvert and lminfo) and/or lmserve: every shared library they
     need (DT_NEEDED) comes from a package that the Dockerfile's final stage installs.
Every problem is printed as "FILE: FIELD: message"; the exit status is 1 if there was one.
"""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerfile_lint  # noqa: E402

DEFAULT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What lmserve does when a flag is absent (the lmserve contract).
LMSERVE_DEFAULTS = {"--listen": "0.0.0.0:8080", "--drain-seconds": "5", "--shutdown-timeout": "25"}
# Seconds left between lmserve's own hard deadline and the kubelet's SIGKILL.
GRACE_MARGIN = 5
LIVE, READY, METRICS = "/v2/health/live", "/v2/health/ready", "/metrics"
KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "patches", "images", "namespace",
                        "commonLabels", "labels", "commonAnnotations"}


class Report:
    def __init__(self, root):
        self.root = root
        self.errors = []
        self.notes = []

    def rel(self, path):
        return os.path.relpath(path, self.root)

    def error(self, where, field, msg):
        self.errors.append(f"{where}: {field}: {msg}" if field else f"{where}: {msg}")

    def note(self, msg):
        self.notes.append(msg)


# ---------------------------------------------------------------- YAML lint

def run_yamllint(rep, files):
    try:
        from yamllint import linter
        from yamllint.config import YamlLintConfig
    except ImportError:
        rep.error("deploy/", "", "yamllint is not installed (Debian package yamllint)")
        return
    conf = YamlLintConfig(file=os.path.join(rep.root, "deploy", "yamllint.yaml"))
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        for p in linter.run(text, conf, f):
            rep.error(f"{rep.rel(f)}:{p.line}:{p.column}", "yamllint",
                      f"{p.level}: {p.message} ({p.rule})")


# ---------------------------------------------------------------- kustomize (subset)

class Obj:
    """A rendered object and the file it came from (for messages)."""

    def __init__(self, doc, source):
        self.doc = doc
        self.source = source

    @property
    def key(self):
        return (self.doc.get("kind"), (self.doc.get("metadata") or {}).get("name"))


def load_yaml_docs(rep, path):
    try:
        with open(path, encoding="utf-8") as fh:
            return [d for d in yaml.safe_load_all(fh) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        rep.error(rep.rel(path), "", f"cannot be read as YAML: {e}")
        return []


def smp_merge(base, patch):
    """Strategic merge patch, as far as these manifests need it: maps merge recursively, lists
    whose items are maps with a "name" merge item by item on it, other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = smp_merge(base[k], v) if k in base else v
        return out
    if (isinstance(base, list) and isinstance(patch, list) and patch
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out = [dict(x) for x in base]
        for item in patch:
            for i, x in enumerate(out):
                if x["name"] == item["name"]:
                    out[i] = smp_merge(x, item)
                    break
            else:
                out.append(item)
        return out
    return patch


def apply_images(doc, images):
    def walk(pod_spec):
        for c in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
            img = c.get("image", "")
            name = re.split(r"[@]", img)[0]
            name = name.rsplit(":", 1)[0] if ":" in name.split("/")[-1] else name
            for im in images:
                if im.get("name") == name:
                    new = im.get("newName", name)
                    if "digest" in im:
                        c["image"] = f"{new}@{im['digest']}"
                    elif "newTag" in im:
                        c["image"] = f"{new}:{im['newTag']}"
                    else:
                        c["image"] = new + img[len(name):]
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec")
    if isinstance(spec, dict):
        walk(spec)


def render(rep, kdir, seen=()):
    """Render the kustomization in kdir into a list of Obj."""
    kfile = os.path.join(kdir, "kustomization.yaml")
    where = rep.rel(kfile)
    if os.path.realpath(kdir) in seen:
        rep.error(where, "resources", "kustomization includes itself")
        return []
    docs = load_yaml_docs(rep, kfile)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        rep.error(where, "", "must hold exactly one YAML mapping")
        return []
    k = docs[0]
    if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
        rep.error(where, "apiVersion/kind", "must be kustomize.config.k8s.io/v1beta1 Kustomization")
    for f in k:
        if f not in KUSTOMIZATION_FIELDS:
            rep.error(where, f, "unknown or unsupported kustomization field (the offline renderer "
                                f"knows {', '.join(sorted(KUSTOMIZATION_FIELDS))})")
    resources = k.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        rep.error(where, "resources", "must be a list of paths")
        return []
    if len(set(resources)) != len(resources):
        rep.error(where, "resources", "lists a file twice")
    objs = []
    for r in resources:
        p = os.path.normpath(os.path.join(kdir, r))
        if os.path.isdir(p):
            if not os.path.exists(os.path.join(p, "kustomization.yaml")):
                rep.error(where, f"resources[{r}]", "directory without kustomization.yaml")
                continue
            objs += render(rep, p, seen + (os.path.realpath(kdir),))
        elif os.path.isfile(p):
            objs += [Obj(d, rep.rel(p)) for d in load_yaml_docs(rep, p)]
        else:
            rep.error(where, f"resources[{r}]", "no such file")
    # Every manifest in this directory must be rendered: a file left out of resources is a
    # file that `kubectl apply -k` silently skips.
    patch_paths = {os.path.normpath(os.path.join(kdir, p.get("path", "")))
                   for p in (k.get("patches") or []) if isinstance(p, dict)}
    listed = {os.path.normpath(os.path.join(kdir, r)) for r in resources}
    for f in sorted(glob.glob(os.path.join(kdir, "*.yaml"))):
        if f != kfile and f not in listed and f not in patch_paths:
            rep.error(where, "resources", f"{os.path.basename(f)} is not listed")
    for i, p in enumerate(k.get("patches") or []):
        if not isinstance(p, dict) or set(p) - {"path"} or "path" not in p:
            rep.error(where, f"patches[{i}]", "only {path: FILE} strategic-merge patches are supported")
            continue
        pfile = os.path.join(kdir, p["path"])
        for pd in load_yaml_docs(rep, pfile):
            pk = (pd.get("kind"), (pd.get("metadata") or {}).get("name"))
            for o in objs:
                if o.key == pk:
                    o.doc = smp_merge(o.doc, pd)
                    o.source = f"{o.source} + {rep.rel(pfile)}"
                    break
            else:
                rep.error(rep.rel(pfile), "metadata.name", f"patch target {pk[0]}/{pk[1]} not found")
    images = k.get("images") or []
    for o in objs:
        apply_images(o.doc, images)
    seen_keys = {}
    for o in objs:
        if o.key in seen_keys:
            rep.error(where, "resources", f"{o.key[0]}/{o.key[1]} defined twice "
                                          f"({seen_keys[o.key]} and {o.source})")
        seen_keys[o.key] = o.source
    return objs


# ---------------------------------------------------------------- schema validation

def load_schemas(rep):
    files = sorted(glob.glob(os.path.join(rep.root, "deploy", "schemas", "k8s-*.json")))
    if len(files) != 1:
        rep.error("deploy/schemas", "", f"expected one k8s-*.json schema file, found {len(files)}")
        return None
    with open(files[0], encoding="utf-8") as fh:
        return json.load(fh)


def json_path(parts):
    s = ""
    for p in parts:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s or "(top level)"


def leaf_errors(err):
    """The most specific errors under an anyOf/allOf failure."""
    if err.context:
        best = jsonschema.exceptions.best_match(err.context)
        return leaf_errors(best) if best is not None else [err]
    return [err]


def validate_schema(rep, schemas, obj):
    d = obj.doc
    if not isinstance(d, dict):
        rep.error(obj.source, "", "a manifest must be a YAML mapping")
        return
    kind_key = f"{d.get('apiVersion')}/{d.get('kind')}"
    name = (d.get("metadata") or {}).get("name", "?")
    if kind_key not in schemas["kinds"]:
        rep.error(obj.source, "apiVersion/kind",
                  f"no vendored schema for {kind_key} (Kubernetes {schemas['kubernetesVersion']}; "
                  f"known: {', '.join(sorted(schemas['kinds']))})")
        return
    schema = dict(schemas["kinds"][kind_key])
    schema["definitions"] = schemas["definitions"]
    v = jsonschema.Draft7Validator(schema)
    for err in sorted(v.iter_errors(d), key=lambda e: list(e.absolute_path)):
        for e in leaf_errors(err):
            rep.error(obj.source, json_path(e.absolute_path),
                      f"{d.get('kind')}/{name}: {e.message}")


# ---------------------------------------------------------------- agreement

def parse_quantity_cpu(q):
    """CPU quantity -> millicores (int) or None."""
    s = str(q)
    m = re.fullmatch(r"(\d+)(m?)", s) or re.fullmatch(r"(\d+\.\d+)()", s)
    if not m:
        return None
    return int(m.group(1)) if m.group(2) == "m" else round(float(m.group(1)) * 1000)


def flag_values(args):
    """--flag VALUE / --flag=VALUE pairs of an argument list -> dict (last wins), flags list."""
    vals, flags, i = {}, [], 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            if "=" in a:
                f, v = a.split("=", 1)
            elif i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
                f, v = a, str(args[i + 1])
                i += 1
            else:
                f, v = a, ""
            vals[f] = v
            flags.append(f)
        i += 1
    return vals, flags


def as_int(rep, where, field, v):
    try:
        return int(str(v))
    except ValueError:
        rep.error(where, field, f"{v!r} is not an integer")
        return None


def check_agreement(rep, objs, docker):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.doc.get("kind"), []).append(o)
    deps = by_kind.get("Deployment", [])
    if len(deps) != 1:
        rep.error("deploy/k8s", "", f"expected one Deployment, found {len(deps)}")
        return []
    dep = deps[0]
    src = dep.source
    d = dep.doc
    spec = d.get("spec") or {}
    tmpl = spec.get("template") or {}
    pod = tmpl.get("spec") or {}
    P = "spec.template.spec"
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    annotations = (tmpl.get("metadata") or {}).get("annotations") or {}
    containers = pod.get("containers") or []
    inits = pod.get("initContainers") or []
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    flags_used = []

    def cpath(c, i, init=False):
        return f"{P}.{'initContainers' if init else 'containers'}[{i}]({c.get('name')})"

    main = [c for c in containers if c.get("name") == "lmserve"]
    if len(main) != 1:
        rep.error(src, f"{P}.containers", "needs exactly one container named lmserve")
        return flags_used
    mi = containers.index(main[0])
    main = main[0]
    mp = cpath(main, mi)

    # --- lmserve arguments (after the image's ENTRYPOINT)
    if main.get("command"):
        rep.error(src, f"{mp}.command", "must not override the image's ENTRYPOINT (lmserve); use args")
    args = main.get("args") or []
    vals, flags = flag_values(args)
    flags_used += flags
    listen = vals.get("--listen", LMSERVE_DEFAULTS["--listen"])
    m = re.fullmatch(r"(.*):(\d+)", listen)
    listen_port = int(m.group(2)) if m else None
    if listen_port is None:
        rep.error(src, f"{mp}.args(--listen)", f"{listen!r} is not HOST:PORT")
    models_dir = vals.get("--models")
    if not models_dir:
        rep.error(src, f"{mp}.args", "--models DIR is required")
    drain = as_int(rep, src, f"{mp}.args(--drain-seconds)",
                   vals.get("--drain-seconds", LMSERVE_DEFAULTS["--drain-seconds"]))
    shutdown = as_int(rep, src, f"{mp}.args(--shutdown-timeout)",
                      vals.get("--shutdown-timeout", LMSERVE_DEFAULTS["--shutdown-timeout"]))

    # --- ports
    ports = main.get("ports") or []
    http = [p for p in ports if p.get("name") == "http"]
    if len(http) != 1:
        rep.error(src, f"{mp}.ports", "needs one port named http")
        http_port = None
    else:
        http_port = http[0].get("containerPort")
        if listen_port is not None and http_port != listen_port:
            rep.error(src, f"{mp}.ports[http].containerPort",
                      f"{http_port} but lmserve --listen {listen} listens on {listen_port}")

    def port_ok(p):
        return p == "http" or (http_port is not None and p == http_port)

    # --- probes
    want = {"startupProbe": LIVE, "livenessProbe": LIVE, "readinessProbe": READY}
    for probe, path in want.items():
        pr = main.get(probe)
        if not pr:
            rep.error(src, f"{mp}.{probe}", f"missing (expected httpGet {path})")
            continue
        hg = pr.get("httpGet")
        if not hg:
            rep.error(src, f"{mp}.{probe}.httpGet", f"must be an HTTP GET of {path}")
            continue
        if hg.get("path") != path:
            rep.error(src, f"{mp}.{probe}.httpGet.path", f"{hg.get('path')!r}, expected {path}")
        if not port_ok(hg.get("port")):
            rep.error(src, f"{mp}.{probe}.httpGet.port",
                      f"{hg.get('port')!r} is not the http port ({http_port})")

    # --- scrape annotations
    if annotations.get("prometheus.io/scrape") != "true":
        rep.error(src, f"{P[:-5]}.metadata.annotations[prometheus.io/scrape]", "must be \"true\"")
    sp = annotations.get("prometheus.io/port")
    if http_port is not None and str(sp) != str(http_port):
        rep.error(src, f"{P[:-5]}.metadata.annotations[prometheus.io/port]",
                  f"{sp!r} but lmserve serves /metrics on {http_port}")
    if annotations.get("prometheus.io/path", METRICS) != METRICS:
        rep.error(src, f"{P[:-5]}.metadata.annotations[prometheus.io/path]",
                  f"{annotations.get('prometheus.io/path')!r}, expected {METRICS}")

    # --- termination: preStop pause, drain, hard deadline, grace period
    pre = ((main.get("lifecycle") or {}).get("preStop")) or {}
    pre_s = None
    if "sleep" in pre:
        pre_s = (pre["sleep"] or {}).get("seconds")
    elif "exec" in pre:
        cmd = (pre["exec"] or {}).get("command") or []
        if len(cmd) == 2 and os.path.basename(str(cmd[0])) == "sleep":
            pre_s = as_int(rep, src, f"{mp}.lifecycle.preStop.exec.command", cmd[1])
        elif len(cmd) == 3 and cmd[1] == "-c":
            mm = re.fullmatch(r"\s*(?:exec\s+)?(?:/bin/)?sleep\s+(\d+)\s*", str(cmd[2]))
            pre_s = int(mm.group(1)) if mm else None
    if pre_s is None:
        rep.error(src, f"{mp}.lifecycle.preStop",
                  "needs a pause (sleep.seconds or exec [sleep, N]) so endpoints are removed "
                  "before lmserve starts draining")
        pre_s = 0
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if drain is not None and shutdown is not None:
        if shutdown < drain:
            rep.error(src, f"{mp}.args(--shutdown-timeout)",
                      f"{shutdown}s is shorter than --drain-seconds {drain}s")
        need = pre_s + max(drain, shutdown) + GRACE_MARGIN
        if not isinstance(grace, int) or grace < need:
            rep.error(src, f"{P}.terminationGracePeriodSeconds",
                      f"{grace}s < preStop {pre_s}s + max(--drain-seconds {drain}, "
                      f"--shutdown-timeout {shutdown})s + margin {GRACE_MARGIN}s = {need}s: "
                      f"the kubelet would kill lmserve while it drains")

    # --- volumes and the model path
    for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                        [(i, c, True) for i, c in enumerate(inits)]:
        for j, vm in enumerate(c.get("volumeMounts") or []):
            if vm.get("name") not in volumes:
                rep.error(src, f"{cpath(c, c_i, init)}.volumeMounts[{j}].name",
                          f"{vm.get('name')!r} is not a volume of the pod")

    def mount_of(c, path):
        for vm in c.get("volumeMounts") or []:
            if vm.get("mountPath") == path:
                return vm.get("name")
        return None

    models_vol = mount_of(main, models_dir) if models_dir else None
    if models_dir and not models_vol:
        rep.error(src, f"{mp}.volumeMounts", f"nothing is mounted at --models {models_dir}")
    conv = [(i, c) for i, c in enumerate(inits) if c.get("name") == "convert-models"]
    fetch = [(i, c) for i, c in enumerate(inits) if c.get("name") == "fetch-models"]
    if not conv or not fetch:
        rep.error(src, f"{P}.initContainers", "needs fetch-models and convert-models")
    else:
        ci, cc = conv[0]
        fi, fc = fetch[0]
        cenv = {e.get("name"): e.get("value") for e in cc.get("env") or []}
        fenv = {e.get("name"): e.get("value") for e in fc.get("env") or []}
        out_dir = cenv.get("MODELS_DIR", "/models")
        if out_dir != models_dir:
            rep.error(src, f"{cpath(cc, ci, True)}.env[MODELS_DIR]",
                      f"{out_dir!r} but lmserve --models is {models_dir!r}")
        if models_vol and mount_of(cc, out_dir) != models_vol:
            rep.error(src, f"{cpath(cc, ci, True)}.volumeMounts",
                      f"volume {models_vol!r} (lmserve's {models_dir}) is not mounted at {out_dir}")
        wdir_f, wdir_c = fenv.get("WORK_DIR", "/work"), cenv.get("WORK_DIR", "/work")
        wf, wc = mount_of(fc, wdir_f), mount_of(cc, wdir_c)
        if not wf or wf != wc:
            rep.error(src, f"{cpath(cc, ci, True)}.volumeMounts",
                      f"fetch-models writes {wdir_f} (volume {wf!r}) but convert-models reads "
                      f"{wdir_c} (volume {wc!r})")
        if fenv.get("LMSERVE_MODELS") != cenv.get("LMSERVE_MODELS"):
            rep.error(src, f"{cpath(cc, ci, True)}.env[LMSERVE_MODELS]",
                      "differs from fetch-models' LMSERVE_MODELS")
        if cc.get("image") != main.get("image"):
            rep.error(src, f"{cpath(cc, ci, True)}.image",
                      f"{cc.get('image')!r}: convert with the lmserve image itself "
                      f"({main.get('image')!r}) so lmconvert and lmserve agree on the .lm format")
        for e in (fenv.get("LMSERVE_MODELS") or "").split():
            mm = re.fullmatch(r"([A-Za-z0-9_.-]+)=s3://[^/]+/.+", e)
            if not mm:
                rep.error(src, f"{cpath(fc, fi, True)}.env[LMSERVE_MODELS]",
                          f"{e!r} is not name=s3://bucket/key")

    # --- scripts from the ConfigMap
    cms = {o.key[1]: o for o in by_kind.get("ConfigMap", [])}
    for vname, vol in volumes.items():
        if "configMap" in vol:
            cmname = vol["configMap"].get("name")
            if cmname not in cms:
                rep.error(src, f"{P}.volumes[{vname}].configMap.name", f"no ConfigMap {cmname!r}")
                continue
            data = cms[cmname].doc.get("data") or {}
            for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                                [(i, c, True) for i, c in enumerate(inits)]:
                mnt = [vm.get("mountPath") for vm in c.get("volumeMounts") or [] if vm.get("name") == vname]
                for a in (c.get("command") or []) + (c.get("args") or []):
                    for mpth in mnt:
                        if str(a).startswith(mpth + "/") and str(a)[len(mpth) + 1:] not in data:
                            rep.error(src, f"{cpath(c, c_i, init)}.command",
                                      f"{a} is not a key of ConfigMap {cmname}")

    # --- Guaranteed QoS, exclusive CPUs
    for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                        [(i, c, True) for i, c in enumerate(inits)]:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for r in ("cpu", "memory"):
            if r not in lim or str(req.get(r, lim.get(r))) != str(lim[r]):
                rep.error(src, f"{cpath(c, c_i, init)}.resources",
                          f"{r}: requests {req.get(r)!r} and limits {lim.get(r)!r} must be set "
                          "and equal (Guaranteed QoS)")
    mcpu = parse_quantity_cpu(((main.get("resources") or {}).get("limits") or {}).get("cpu", ""))
    if mcpu is None or mcpu % 1000 or mcpu == 0:
        rep.error(src, f"{mp}.resources.limits.cpu",
                  "must be a whole number of CPUs (the static CPU manager pins only integer requests)")

    # --- security: non-root user matching the image, read-only root filesystem
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        rep.error(src, f"{P}.securityContext.runAsNonRoot", "must be true")
    uid = psc.get("runAsUser")
    if docker.get("user_uid") is not None and uid != docker["user_uid"]:
        rep.error(src, f"{P}.securityContext.runAsUser",
                  f"{uid!r} but deploy/Dockerfile runs as USER {docker['user_uid']}")
    for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                        [(i, c, True) for i, c in enumerate(inits)]:
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            rep.error(src, f"{cpath(c, c_i, init)}.securityContext.readOnlyRootFilesystem", "must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            rep.error(src, f"{cpath(c, c_i, init)}.securityContext.allowPrivilegeEscalation", "must be false")

    # --- Dockerfile against the Deployment
    if docker.get("expose") and http_port is not None and http_port not in docker["expose"]:
        rep.error("deploy/Dockerfile", "EXPOSE", f"{docker['expose']} but the pod serves on {http_port}")
    if docker.get("cmd_models") and models_dir and docker["cmd_models"] != models_dir:
        rep.error("deploy/Dockerfile", "CMD --models", f"{docker['cmd_models']} but the pod uses {models_dir}")
    if docker.get("cmd_port") and http_port is not None and docker["cmd_port"] != http_port:
        rep.error("deploy/Dockerfile", "CMD --listen", f"port {docker['cmd_port']} but the pod uses {http_port}")
    flags_used += docker.get("cmd_flags", [])

    # --- selectors and names
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    for k_, v_ in sel.items():
        if labels.get(k_) != v_:
            rep.error(src, "spec.selector.matchLabels", f"{k_}={v_} is not a label of the pod template")
    sa = pod.get("serviceAccountName")
    sas = {o.key[1]: o for o in by_kind.get("ServiceAccount", [])}
    if sa not in sas:
        rep.error(src, f"{P}.serviceAccountName", f"{sa!r} is not a ServiceAccount of the kustomization")
    elif "eks.amazonaws.com/role-arn" not in ((sas[sa].doc.get("metadata") or {}).get("annotations") or {}):
        rep.error(sas[sa].source, "metadata.annotations[eks.amazonaws.com/role-arn]",
                  "missing: the initContainer needs IRSA credentials for S3")

    dname = (d.get("metadata") or {}).get("name")
    svcs = by_kind.get("Service", [])
    if not svcs:
        rep.error("deploy/k8s", "", "no Service")
    for s in svcs:
        ss = s.doc.get("spec") or {}
        ssel = ss.get("selector") or {}
        if not ssel or any(labels.get(k_) != v_ for k_, v_ in ssel.items()):
            rep.error(s.source, "spec.selector", f"{ssel} does not select the lmserve pods ({labels})")
        for j, p in enumerate(ss.get("ports") or []):
            if not port_ok(p.get("targetPort", p.get("port"))):
                rep.error(s.source, f"spec.ports[{j}].targetPort",
                          f"{p.get('targetPort')!r} is neither the container port name http nor {http_port}")
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    if not hpas:
        rep.error("deploy/k8s", "", "no HorizontalPodAutoscaler")
    for h in hpas:
        hs = h.doc.get("spec") or {}
        ref = hs.get("scaleTargetRef") or {}
        if (ref.get("apiVersion"), ref.get("kind"), ref.get("name")) != ("apps/v1", "Deployment", dname):
            rep.error(h.source, "spec.scaleTargetRef",
                      f"{ref.get('apiVersion')}/{ref.get('kind')}/{ref.get('name')} is not "
                      f"apps/v1/Deployment/{dname}")
        if isinstance(hs.get("minReplicas", 1), int) and isinstance(hs.get("maxReplicas"), int) \
                and hs.get("minReplicas", 1) > hs["maxReplicas"]:
            rep.error(h.source, "spec.minReplicas", "exceeds maxReplicas")
    pdbs = by_kind.get("PodDisruptionBudget", [])
    if not pdbs:
        rep.error("deploy/k8s", "", "no PodDisruptionBudget")
    for b in pdbs:
        bsel = ((b.doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not bsel or any(labels.get(k_) != v_ for k_, v_ in bsel.items()):
            rep.error(b.source, "spec.selector.matchLabels", f"{bsel} does not select the lmserve pods ({labels})")
    strat = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    if str(strat.get("maxUnavailable", "25%")) not in ("0", "0%"):
        rep.error(src, "spec.strategy.rollingUpdate.maxUnavailable",
                  f"{strat.get('maxUnavailable')!r}: must be 0 so a rollout never lowers capacity")
    return flags_used


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


def owning_package(path):
    for p in (path, "/usr" + path if not path.startswith("/usr/") else path, os.path.realpath(path)):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout:
            return r.stdout.split(":", 1)[0].strip()
    return None


def check_runtime_libs(rep, bin_dir, lmserve, docker):
    """Every shared library the built binaries need (DT_NEEDED) must come from a package that
    the Dockerfile's final stage installs (or from the base image)."""
    bins = [os.path.join(bin_dir, t) for t in ("lmconvert", "lminfo")] if bin_dir else []
    if lmserve:
        bins.append(lmserve)
    bins = [b for b in bins if os.access(b, os.X_OK)]
    if not bins or not shutil.which("readelf") or not shutil.which("dpkg"):
        rep.note("runtime libraries: SKIPPED (no built binaries, readelf or dpkg)")
        return
    listed = set(docker.get("runtime_packages") or [])
    used = set()
    for b in bins:
        r = subprocess.run(["readelf", "-d", b], capture_output=True, text=True)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)
        paths = {}
        for line in subprocess.run(["ldd", b], capture_output=True, text=True).stdout.splitlines():
            m = re.match(r"\s*(\S+) => (/\S+)", line)
            if m:
                paths[m.group(1)] = m.group(2)
        for so in needed:
            if so.startswith(SANITIZER_LIBS) or so.startswith("ld-linux"):
                continue
            pkg = owning_package(paths[so]) if so in paths else None
            if pkg is None:
                rep.error("deploy/Dockerfile", "runtime packages",
                          f"{os.path.basename(b)} needs {so}, which no Debian package here provides")
                continue
            used.add(pkg)
            if pkg not in listed and pkg not in BASE_IMAGE_PACKAGES:
                rep.error("deploy/Dockerfile", "runtime packages",
                          f"{os.path.basename(b)} needs {so} from {pkg}, which the final stage "
                          "does not install")
    extra = sorted(listed - used)
    rep.note(f"runtime libraries: {', '.join(os.path.basename(b) for b in bins)} need "
             f"{', '.join(sorted(used))}; all installed by the final stage or the base image"
             + (f" (also installed, not needed by these builds: {', '.join(extra)})" if extra else ""))


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

def run(root, lmserve=None, lint_yaml=True, shellcheck=True, bin_dir=None):
    rep = Report(root)
    deploy = os.path.join(root, "deploy")
    yfiles = sorted(glob.glob(os.path.join(deploy, "**", "*.yaml"), recursive=True)
                    + glob.glob(os.path.join(deploy, "**", "*.yml"), recursive=True))
    yfiles = [f for f in yfiles if not os.path.relpath(f, deploy).startswith("tests" + os.sep)]
    if lint_yaml:
        run_yamllint(rep, yfiles)
    docker = dockerfile_lint.lint(os.path.join(deploy, "Dockerfile"), rep)
    schemas = load_schemas(rep)
    kdirs = sorted(os.path.dirname(f) for f in glob.glob(os.path.join(deploy, "k8s", "**", "kustomization.yaml"),
                                                         recursive=True))
    if os.path.join(deploy, "k8s") not in kdirs:
        rep.error("deploy/k8s", "kustomization.yaml", "missing")
    flags = []
    rendered = 0
    for kd in kdirs:
        objs = render(rep, kd)
        rendered += len(objs)
        if schemas:
            for o in objs:
                validate_schema(rep, schemas, o)
        flags += check_agreement(rep, objs, docker)
        if shellcheck and kd == os.path.join(deploy, "k8s"):
            shellcheck_scripts(rep, objs)
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
    rep = run(os.path.abspath(root), lmserve, bin_dir=bin_dir)
    for n in rep.notes:
        print(f"check-deploy: {n}")
    for e in rep.errors:
        print(f"check-deploy: ERROR {e}")
    print(f"check-deploy: manifests {'FAILED' if rep.errors else 'ok'} ({len(rep.errors)} problems)")
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
