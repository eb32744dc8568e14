"""The kustomize subset renderer of check_manifests.py, with its YAML lint and JSON Schema
validation: Report (the problems found), run_yamllint, render (resources, patches,
configMapGenerator, images; configmaps_of and resolve_env read what it rendered),
validate_schema, and compare_kubectl (the same objects as `kubectl kustomize`, when kubectl
is installed)."""
import glob
import json
import os
import re
import shutil
import subprocess

import jsonschema
import yaml

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
