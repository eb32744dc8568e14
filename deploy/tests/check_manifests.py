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
                        "commonLabels", "labels", "commonAnnotations", "configMapGenerator",
                        "generatorOptions"}


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


def configmap_hash(doc):
    """The name suffix of a generated ConfigMap: 10 characters of a SHA-256 of its kind, name,
    labels and data (kustomize's own suffix is a hash of the same content, encoded alike; the
    comparison with `kubectl kustomize` ignores the suffix's value)."""
    import hashlib
    meta = doc.get("metadata") or {}
    enc = json.dumps({"kind": "ConfigMap", "metadata": {"name": meta.get("name"), "labels": meta.get("labels")},
                      "data": doc.get("data") or {}}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(enc.encode()).hexdigest()[:10].translate(str.maketrans("013ae", "ghkmt"))


def pod_configmap_refs(doc):
    """Every place a pod template names a ConfigMap: [(container-or-None, dict, key)]."""
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec")
    out = []
    if not isinstance(spec, dict):
        return out
    for v in spec.get("volumes") or []:
        if isinstance(v.get("configMap"), dict):
            out.append((v["configMap"], "name"))
        for src in (v.get("projected") or {}).get("sources") or []:
            if isinstance(src.get("configMap"), dict):
                out.append((src["configMap"], "name"))
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if isinstance(ref, dict):
                out.append((ref, "name"))
        for e in c.get("envFrom") or []:
            if isinstance(e.get("configMapRef"), dict):
                out.append((e["configMapRef"], "name"))
    return out


def generate_configmaps(rep, kdir, k, objs, where):
    """configMapGenerator (files, literals; behavior create, merge, replace)."""
    opts = k.get("generatorOptions") or {}
    for i, g in enumerate(k.get("configMapGenerator") or []):
        f = f"configMapGenerator[{i}]"
        if not isinstance(g, dict) or not g.get("name") or set(g) - {"name", "files", "literals", "behavior", "options"}:
            rep.error(where, f, "needs name and only files, literals, behavior, options")
            continue
        data = {}
        for fp in g.get("files") or []:
            key, _, rel = fp.partition("=") if "=" in fp else (os.path.basename(fp), "", fp)
            path = os.path.normpath(os.path.join(kdir, rel))
            if not path.startswith(os.path.realpath(kdir) + os.sep) and not path.startswith(kdir + os.sep):
                rep.error(where, f"{f}.files[{fp}]", "outside the kustomization's directory (kustomize refuses it)")
                continue
            try:
                with open(path, encoding="utf-8") as fh:
                    data[key] = fh.read()
            except OSError:
                rep.error(where, f"{f}.files[{fp}]", "no such file")
        for lit in g.get("literals") or []:
            key, eq, val = str(lit).partition("=")
            if not eq:
                rep.error(where, f"{f}.literals[{lit}]", "not KEY=VALUE")
            data[key] = val
        behavior = g.get("behavior", "create")
        labels = dict((opts.get("labels") or {}))
        labels.update((g.get("options") or {}).get("labels") or {})
        old = [o for o in objs if o.key == ("ConfigMap", g["name"]) and getattr(o, "generated", False)]
        if behavior == "create":
            if old:
                rep.error(where, f, f"ConfigMap {g['name']} already generated by a base: use behavior merge or replace")
                continue
            doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": g["name"]}, "data": data}
            if labels:
                doc["metadata"]["labels"] = labels
            o = Obj(doc, where)
            o.generated = True
            o.hashed = not (opts.get("disableNameSuffixHash") or (g.get("options") or {}).get("disableNameSuffixHash"))
            objs.append(o)
        elif behavior in ("merge", "replace"):
            if not old:
                rep.error(where, f, f"behavior {behavior}: no generated ConfigMap {g['name']} in the bases")
                continue
            o = old[0]
            o.doc["data"] = dict(o.doc.get("data") or {}, **data) if behavior == "merge" else data
            o.source = f"{o.source} + {where}"
        else:
            rep.error(where, f"{f}.behavior", f"{behavior!r}: expected create, merge or replace")


def json_pointer_apply(doc, op, where, rep, i):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in str(op.get("path", "")).split("/")[1:]]
    if not parts:
        rep.error(where, f"[{i}].path", "empty path")
        return
    cur = doc
    for p in parts[:-1]:
        try:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        except (KeyError, IndexError, ValueError, TypeError):
            rep.error(where, f"[{i}].path", f"{op.get('path')}: {p!r} does not exist")
            return
    last, kind = parts[-1], op.get("op")
    if kind == "add":
        if isinstance(cur, list):
            if last == "-":
                cur.append(op.get("value"))
            else:
                cur.insert(int(last), op.get("value"))
        else:
            cur[last] = op.get("value")
    elif kind == "replace":
        cur[int(last) if isinstance(cur, list) else last] = op.get("value")
    elif kind == "remove":
        del cur[int(last) if isinstance(cur, list) else last]
    else:
        rep.error(where, f"[{i}].op", f"{kind!r}: only add, replace and remove are supported")


def render(rep, kdir, seen=()):
    """Render the kustomization in kdir into a list of Obj (top level: generated ConfigMap names
    get their hash suffix and every reference to them follows)."""
    objs = _render(rep, kdir, seen)
    if not seen:
        renames = {}
        for o in objs:
            if getattr(o, "generated", False) and getattr(o, "hashed", True):
                new = f"{o.key[1]}-{configmap_hash(o.doc)}"
                renames[o.key[1]] = new
                o.doc["metadata"]["name"] = new
        for o in objs:
            for d, key in pod_configmap_refs(o.doc):
                if d.get(key) in renames:
                    d[key] = renames[d[key]]
    return objs


def _render(rep, kdir, seen=()):
    kfile = os.path.join(kdir, "kustomization.yaml")
    where = rep.rel(kfile)
    real = os.path.realpath(kdir)
    if real in seen:
        rep.error(where, "resources", "kustomization includes itself")
        return []
    for v in seen:
        # kustomize: "cycle detected: candidate root X contains visited root Y".
        if v.startswith(real + os.sep):
            rep.error(where, "resources", f"cycle detected: {rep.rel(kdir)} contains the kustomization "
                                          f"{rep.rel(v)} that includes it: move the overlay out of its base")
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
            objs += _render(rep, p, seen + (os.path.realpath(kdir),))
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
    generate_configmaps(rep, kdir, k, objs, where)
    for i, p in enumerate(k.get("patches") or []):
        if not isinstance(p, dict) or set(p) - {"path", "target"} or "path" not in p:
            rep.error(where, f"patches[{i}]", "only {path: FILE[, target]} patches are supported")
            continue
        pfile = os.path.join(kdir, p["path"])
        pdocs = load_yaml_docs(rep, pfile)
        if len(pdocs) == 1 and isinstance(pdocs[0], list):
            t = p.get("target") or {}
            targets = [o for o in objs if o.key == (t.get("kind"), t.get("name"))]
            if not targets:
                rep.error(where, f"patches[{i}].target", f"JSON patch target {t.get('kind')}/{t.get('name')} not found")
            for o in targets:
                for j, op in enumerate(pdocs[0]):
                    json_pointer_apply(o.doc, op, rep.rel(pfile), rep, j)
                o.source = f"{o.source} + {rep.rel(pfile)}"
            continue
        for pd in pdocs:
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
        schemas = json.load(fh)
    # Hand-written subsets of the CRDs used here (PodMonitor, KServe), over the same definitions.
    crds = os.path.join(rep.root, "deploy", "schemas", "crds.json")
    if os.path.exists(crds):
        with open(crds, encoding="utf-8") as fh:
            schemas["kinds"].update(json.load(fh)["kinds"])
    return schemas


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
        cms_all = configmaps_of(objs)
        cenv = resolve_env(cc, cms_all)
        fenv = resolve_env(fc, cms_all)
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
    check_hpa_metrics(rep, objs, rep.root)
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


# ---------------------------------------------------------------- what a platform team expects

# lmconvert's peak resident memory per byte of JSON model (issue 23: 764 MB for 53 MB, 3.99 GB
# for 281 MB) plus a constant: the rule for every container that runs lmconvert.
CONVERT_PEAK_FACTOR = 14
CONVERT_CONSTANT_MI = 64
MAX_MODEL_ANNOTATION = "lmrt.dev/max-model-json-size"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
CONVERT_SCRIPTS = ("convert-models.sh", "reconvert-models.sh", "convert-one.sh")


def parse_quantity_mi(q):
    """Memory quantity -> MiB (float) or None."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        return None
    mult = {None: 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4,
            "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
    return float(m.group(1)) * mult / 1024 ** 2


def configmaps_of(objs):
    return {o.key[1]: o for o in objs if o.doc.get("kind") == "ConfigMap"}


def resolve_env(c, cms):
    """A container's env as name -> value, configMapKeyRef values read from the rendered ConfigMaps."""
    out = {}
    for e in c.get("env") or []:
        if "value" in e:
            out[e.get("name")] = e.get("value")
        ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if isinstance(ref, dict) and ref.get("name") in cms:
            out[e.get("name")] = (cms[ref["name"]].doc.get("data") or {}).get(ref.get("key"))
    return out


def script_of(c, pod, cms):
    """(key, text) of the ConfigMap script a container runs with sh, or (None, None)."""
    cmd = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    for vm in c.get("volumeMounts") or []:
        v = vols.get(vm.get("name")) or {}
        cm = (v.get("configMap") or {}).get("name")
        for a in cmd:
            if cm in cms and a.startswith(str(vm.get("mountPath")) + "/"):
                key = a[len(vm["mountPath"]) + 1:]
                return key, (cms[cm].doc.get("data") or {}).get(key)
    return None, None


def image_repo_tag(img):
    img = str(img or "")
    if "@" in img:
        return img.split("@", 1)[0], img.split("@", 1)[1]
    last = img.split("/")[-1]
    if ":" in last:
        return img.rsplit(":", 1)[0], img.rsplit(":", 1)[1]
    return img, None


def check_pod_platform(rep, objs, root):
    deps = [o for o in objs if o.doc.get("kind") == "Deployment"]
    if len(deps) != 1:
        return
    src, d = deps[0].source, deps[0].doc
    tmpl = (d.get("spec") or {}).get("template") or {}
    pod = tmpl.get("spec") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    P = "spec.template.spec"
    containers, inits = pod.get("containers") or [], pod.get("initContainers") or []
    every = [(f"{P}.containers[{i}]({c.get('name')})", c, False) for i, c in enumerate(containers)] + \
            [(f"{P}.initContainers[{i}]({c.get('name')})", c, True) for i, c in enumerate(inits)]
    cms = configmaps_of(objs)

    # lmserve first: kubectl logs / exec / attach pick the first container.
    if not containers or containers[0].get("name") != "lmserve":
        rep.error(src, f"{P}.containers[0]", f"is {containers[0].get('name') if containers else None!r}: lmserve must "
                                             "be the first container (kubectl logs and exec pick the first one)")
    if ann.get(DEFAULT_CONTAINER_ANNOTATION) != "lmserve":
        rep.error(src, f"spec.template.metadata.annotations[{DEFAULT_CONTAINER_ANNOTATION}]",
                  f"{ann.get(DEFAULT_CONTAINER_ANNOTATION)!r}: must be lmserve")

    # No API token: nothing here calls the Kubernetes API; IRSA brings its own projected token.
    if pod.get("automountServiceAccountToken") is not False:
        rep.error(src, f"{P}.automountServiceAccountToken",
                  f"{pod.get('automountServiceAccountToken')!r}: must be false (no container calls the "
                  "Kubernetes API; IRSA's webhook mounts its own projected web-identity token regardless)")

    # Spread across nodes, hard; every constraint selects the pods.
    tsc = pod.get("topologySpreadConstraints") or []
    host = [t for t in tsc if t.get("topologyKey") == "kubernetes.io/hostname"]
    if not host:
        rep.error(src, f"{P}.topologySpreadConstraints",
                  "no spread across nodes (topologyKey kubernetes.io/hostname): replicas may share a node")
    for t in host:
        if t.get("whenUnsatisfiable") != "DoNotSchedule":
            rep.error(src, f"{P}.topologySpreadConstraints[kubernetes.io/hostname].whenUnsatisfiable",
                      f"{t.get('whenUnsatisfiable')!r}: must be DoNotSchedule (best effort lets replicas pile up on one node)")
    for j, t in enumerate(tsc):
        ml = ((t.get("labelSelector") or {}).get("matchLabels")) or {}
        if not ml or any(labels.get(k) != v for k, v in ml.items()):
            rep.error(src, f"{P}.topologySpreadConstraints[{j}].labelSelector", f"{ml} does not select the pods")

    # One model list, from one generated ConfigMap.
    sources = set()
    for where, c, _ in every:
        for e in c.get("env") or []:
            if e.get("name") != "LMSERVE_MODELS":
                continue
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if "value" in e or not isinstance(ref, dict):
                rep.error(src, f"{where}.env[LMSERVE_MODELS]",
                          "a literal model list: read it from the generated ConfigMap (valueFrom.configMapKeyRef), "
                          "one source for every container")
            else:
                sources.add((ref.get("name"), ref.get("key")))
    if len(sources) > 1:
        rep.error(src, f"{P}.*.env[LMSERVE_MODELS]", f"containers read different model lists: {sorted(sources)}")

    # Hashed ConfigMaps: every ConfigMap the pod uses is generated, so an edit rolls the pods.
    for dd, key in pod_configmap_refs(d):
        o = cms.get(dd.get(key))
        if o is not None and not (getattr(o, "generated", False) and getattr(o, "hashed", False)):
            rep.error(o.source, f"ConfigMap/{o.key[1]}",
                      "used by the pod but its name has no content hash (generate it with configMapGenerator, "
                      "without disableNameSuffixHash): an edit would not roll the pods")

    # Sidecars: PID 1 of their containers, so they must handle SIGTERM and wait interruptibly.
    for where, c, init in every:
        if init or c.get("name") == "lmserve":
            continue
        key, text = script_of(c, pod, cms)
        if not text:
            continue
        if not re.search(r"^\s*trap\s.*\bTERM\b", text, re.M):
            rep.error(src, f"{where}.command", f"{key} runs as PID 1 without a SIGTERM trap: the kernel "
                                               "ignores SIGTERM for it and a pod deletion waits the whole grace period")
        if re.search(r"^\s*sleep\b", text, re.M):
            rep.error(src, f"{where}.command", f"{key}: a foreground sleep delays the SIGTERM trap until it ends "
                                               "(sleep in the background and wait for it)")

    # Memory of the containers that run lmconvert follows the model size.
    maxsz = ann.get(MAX_MODEL_ANNOTATION)
    max_mi = parse_quantity_mi(maxsz) if maxsz is not None else None
    if max_mi is None:
        rep.error(src, f"spec.template.metadata.annotations[{MAX_MODEL_ANNOTATION}]",
                  f"{maxsz!r}: state the largest JSON model the pod is sized for (e.g. 280Mi)")
    else:
        need = CONVERT_PEAK_FACTOR * max_mi + CONVERT_CONSTANT_MI
        for where, c, _ in every:
            key, _t = script_of(c, pod, cms)
            if c.get("name") != "convert-models" and key not in CONVERT_SCRIPTS:
                continue
            lim = parse_quantity_mi(((c.get("resources") or {}).get("limits") or {}).get("memory", ""))
            if lim is None or lim < need:
                rep.error(src, f"{where}.resources.limits.memory",
                          f"{((c.get('resources') or {}).get('limits') or {}).get('memory')!r} < "
                          f"{CONVERT_PEAK_FACTOR} x {maxsz} + {CONVERT_CONSTANT_MI}Mi = {need:.0f}Mi: lmconvert "
                          "would be OOM-killed on the largest model")

    # The serving image has no shell: nothing may exec in the lmserve container.
    main = [c for c in containers if c.get("name") == "lmserve"]
    if main and os.path.exists(os.path.join(root, "deploy", "Dockerfile")):
        m = main[0]
        with open(os.path.join(root, "deploy", "Dockerfile"), encoding="utf-8") as fh:
            scratch = re.search(r"^FROM\s+scratch\b(?![\s\S]*^FROM\s)", fh.read(), re.M)
        if scratch:
            for k in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in (m.get(k) or {}):
                    rep.error(src, f"{P}.containers(lmserve).{k}.exec", "the lmserve image has no shell or tools to exec")
            for k, h in ((m.get("lifecycle") or {}).items()):
                if "exec" in (h or {}):
                    rep.error(src, f"{P}.containers(lmserve).lifecycle.{k}.exec",
                              f"{h['exec'].get('command')}: the lmserve image (FROM scratch) has no shell or "
                              "/bin/sleep: use sleep: {seconds: N}")
        # Converters: the lmconvert image of the same tag as lmserve's (one .lm format).
        repo, tag = image_repo_tag(m.get("image"))
        for where, c, _ in every:
            key, _t = script_of(c, pod, cms)
            if c.get("name") == "convert-models" or key in CONVERT_SCRIPTS:
                crepo, ctag = image_repo_tag(c.get("image"))
                if ctag != tag or not crepo.endswith("/lmconvert"):
                    rep.error(src, f"{where}.image", f"{c.get('image')!r}: converters run the lmconvert image "
                                                     f"of lmserve's tag ({tag}), built from the same Dockerfile")


def lmserve_metric_names(root):
    p = os.path.join(root, "server", "metrics.c")
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as fh:
        return set(re.findall(r"\blmserve_[a-z_]+", fh.read()))


def check_hpa_metrics(rep, objs, root):
    exported = lmserve_metric_names(root)
    for h in [o for o in objs if o.doc.get("kind") == "HorizontalPodAutoscaler"]:
        ms = (h.doc.get("spec") or {}).get("metrics") or []
        if not ms:
            rep.error(h.source, "spec.metrics", "none: the default is CPU, a poor signal for busy-polling lmserve")
        for j, m in enumerate(ms):
            if m.get("type") in ("Resource", "ContainerResource") and \
                    (m.get("resource") or m.get("containerResource") or {}).get("name") == "cpu":
                rep.error(h.source, f"spec.metrics[{j}]", "CPU: lmserve's event loops busy-poll, so pinned cores read "
                                                          "near 100% at any load; scale on in-flight requests or request rate")
            name = ((m.get("pods") or m.get("object") or {}).get("metric") or {}).get("name")
            if name and exported is not None:
                base = name[:-len("_per_second")] + "_total" if name.endswith("_per_second") else name
                if name not in exported and base not in exported:
                    rep.error(h.source, f"spec.metrics[{j}].pods.metric.name",
                              f"{name!r} is not derived from a metric that lmserve exports (server/metrics.c)")


def check_cluster_extras(rep, all_objs):
    """PodMonitor and the KServe example, against the base Deployment; returns lmserve flags used."""
    flags = []
    base = all_objs.get(os.path.join("deploy", "k8s")) or []
    deps = [o for o in base if o.doc.get("kind") == "Deployment"]
    if not deps:
        return flags
    tmpl = (deps[0].doc.get("spec") or {}).get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    main = [c for c in (tmpl.get("spec") or {}).get("containers") or [] if c.get("name") == "lmserve"]
    objs = [o for v in all_objs.values() for o in v]
    pms = [o for o in objs if o.doc.get("kind") == "PodMonitor"]
    if not pms:
        rep.error("deploy/", "PodMonitor", "none: clusters with the Prometheus operator need one (deploy/monitoring)")
    for o in pms:
        sp = o.doc.get("spec") or {}
        ml = (sp.get("selector") or {}).get("matchLabels") or {}
        if not ml or any(labels.get(k) != v for k, v in ml.items()):
            rep.error(o.source, "spec.selector.matchLabels", f"{ml} does not select the lmserve pods ({labels})")
        eps = sp.get("podMetricsEndpoints") or []
        if not any(e.get("port") == "http" and e.get("path", METRICS) == METRICS for e in eps):
            rep.error(o.source, "spec.podMetricsEndpoints", f"no endpoint on port http, path {METRICS}")
    srs = {o.key[1]: o for o in objs if o.doc.get("kind") == "ServingRuntime"}
    isvcs = [o for o in objs if o.doc.get("kind") == "InferenceService"]
    if not srs or not isvcs:
        rep.error("deploy/", "ServingRuntime/InferenceService", "no KServe example (deploy/kserve)")
    for o in srs.values():
        sp = o.doc.get("spec") or {}
        cs = sp.get("containers") or []
        if len(cs) != 1:
            rep.error(o.source, "spec.containers", "one container (kserve-container) expected")
            continue
        c = cs[0]
        vals, fl = flag_values(c.get("args") or [])
        flags += fl
        if vals.get("--models") != "/mnt/models":
            rep.error(o.source, "spec.containers[0].args(--models)", f"{vals.get('--models')!r}: KServe mounts the model at /mnt/models")
        m = re.fullmatch(r".*:(\d+)", vals.get("--listen", LMSERVE_DEFAULTS["--listen"]))
        ports = [p.get("containerPort") for p in c.get("ports") or []]
        if not m or int(m.group(1)) not in ports:
            rep.error(o.source, "spec.containers[0].ports", f"{ports} does not include lmserve's --listen port")
        if "v2" not in (sp.get("protocolVersions") or []):
            rep.error(o.source, "spec.protocolVersions", "lmserve speaks v2")
        if main and image_repo_tag(c.get("image"))[0] != image_repo_tag(main[0].get("image"))[0]:
            rep.error(o.source, "spec.containers[0].image", f"{c.get('image')!r} is not the Deployment's lmserve image")
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True or sc.get("runAsNonRoot") is not True:
            rep.error(o.source, "spec.containers[0].securityContext", "readOnlyRootFilesystem and runAsNonRoot must be true")
    for o in isvcs:
        mdl = ((o.doc.get("spec") or {}).get("predictor") or {}).get("model") or {}
        sr = srs.get(mdl.get("runtime"))
        if sr is None:
            rep.error(o.source, "spec.predictor.model.runtime", f"{mdl.get('runtime')!r} is not a ServingRuntime here")
            continue
        fmts = [f.get("name") for f in (sr.doc.get("spec") or {}).get("supportedModelFormats") or []]
        if (mdl.get("modelFormat") or {}).get("name") not in fmts:
            rep.error(o.source, "spec.predictor.model.modelFormat.name", f"not among the runtime's formats {fmts}")
        ann = (o.doc.get("metadata") or {}).get("annotations") or {}
        pred = (o.doc.get("spec") or {}).get("predictor") or {}
        if ann.get("serving.kserve.io/deploymentMode") == "RawDeployment" and \
                ann.get("serving.kserve.io/autoscalerClass") not in ("external", "none"):
            rep.error(o.source, "metadata.annotations[serving.kserve.io/autoscalerClass]",
                      f"{ann.get('serving.kserve.io/autoscalerClass')!r}: KServe would autoscale the predictor on "
                      f"{pred.get('scaleMetric', 'cpu')}, a poor signal for busy-polling lmserve (external or none)")
        if mdl.get("protocolVersion", "v1") not in ((sr.doc.get("spec") or {}).get("protocolVersions") or []):
            rep.error(o.source, "spec.predictor.model.protocolVersion", f"{mdl.get('protocolVersion')!r}: lmserve speaks v2")
    return flags


def compare_kubectl(rep, kdir, objs):
    """Render with `kubectl kustomize` (the real kustomize) and require the same objects: catches
    what kustomize refuses (e.g. an overlay inside its base) and where this renderer differs."""
    kc = shutil.which("kubectl")
    if not kc:
        return
    r = subprocess.run([kc, "kustomize", kdir], capture_output=True, text=True, timeout=60)
    where = rep.rel(os.path.join(kdir, "kustomization.yaml"))
    if r.returncode:
        msg = (r.stderr.strip().splitlines() or ["failed"])[-1]
        msg = re.sub(r'^E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=', "", msg)
        rep.error(where, "kubectl kustomize", msg.replace(rep.root + os.sep, ""))
        return
    gen = {o.key[1].rsplit("-", 1)[0] for o in objs if getattr(o, "generated", False) and getattr(o, "hashed", True)}

    def norm(doc):
        t = json.dumps(doc, sort_keys=True)
        for g in gen:
            t = re.sub(re.escape(g) + r"-[a-z0-9]{10}(?![a-z0-9-])", g + "-HASH", t)
        return json.loads(t)
    theirs = {}
    for dd in yaml.safe_load_all(r.stdout):
        if dd:
            dd = norm(dd)
            theirs[(dd.get("kind"), dd["metadata"].get("name"))] = dd
    ours = {}
    for o in objs:
        dd = norm(o.doc)
        ours[(dd.get("kind"), dd["metadata"].get("name"))] = dd
    for k in sorted(set(theirs) | set(ours), key=str):
        if k not in ours:
            rep.error(where, "kubectl kustomize", f"renders {k[0]}/{k[1]}, which this renderer does not")
        elif k not in theirs:
            rep.error(where, "kubectl kustomize", f"does not render {k[0]}/{k[1]}")
        elif theirs[k] != ours[k]:
            rep.error(where, "kubectl kustomize", f"{k[0]}/{k[1]} differs from this renderer's: "
                                                  f"{first_difference(theirs[k], ours[k])}")
    rep.note(f"kubectl kustomize {rep.rel(kdir)}: {len(theirs)} objects, same as this renderer")


def first_difference(a, b, path=""):
    if type(a) is not type(b):
        return f"{path or '.'}: {a!r} vs {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path or '.'}: {a!r} vs {b!r}"


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
    them is a converter library."""
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
            for pkg in sorted(set(listed) - used):
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
