#!/usr/bin/python3
"""Generate deploy/schemas/k8s-<version>.json from the npm package kubernetes-types.

kubernetes-types (Apache-2.0) is generated from the Kubernetes OpenAPI specification; each
release matches one Kubernetes minor version. This script turns its .d.ts declarations into one
JSON Schema (draft 7) with a definition per Kubernetes type, strict like kubeconform's
"standalone-strict" schemas: unknown fields are rejected (additionalProperties: false) and
fields that the API marks required are required. Only the types reachable from the kinds that
deploy/k8s uses are kept.

Not needed by `make test` (the output is vendored); run it only to move to another Kubernetes
version:
    cd /tmp && npm pack kubernetes-types@1.30.0 && mkdir kt && tar xzf kubernetes-types-1.30.0.tgz -C kt
    /usr/bin/python3 deploy/tools/gen_k8s_schemas.py /tmp/kt/package > deploy/schemas/k8s-1.30.json
Known limits (the .d.ts loses them): "number" is emitted as integer (true of every numeric
field reachable from these kinds), int32/int64 ranges, string formats and enums other than apiVersion/kind literals.
"""
import json
import os
import re
import sys

# Kinds used by deploy/k8s: (apiVersion, kind) -> module of kubernetes-types.
KINDS = {
    ("apps/v1", "Deployment"): "apps/v1",
    ("v1", "Service"): "core/v1",
    ("v1", "ServiceAccount"): "core/v1",
    ("v1", "ConfigMap"): "core/v1",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "autoscaling/v2",
    ("policy/v1", "PodDisruptionBudget"): "policy/v1",
}

FIELD = re.compile(r'^    (readonly )?("[^"]+"|[A-Za-z_$][A-Za-z0-9_$]*)(\?)?: (.*)$')
IMPORT = re.compile(r'^import \{ ([^}]*) \} from "([^"]+)";')


def parse_module(root, mod):
    """Return ({name: ('interface', fields) | ('alias', typestr)}, {localname: module})."""
    path = os.path.join(root, mod + ".d.ts")
    types, imports = {}, {}
    lines = open(path, encoding="utf-8").read().split("\n")
    i, in_comment, cur = 0, False, None
    while i < len(lines):
        line = lines[i]
        i += 1
        s = line.strip()
        if in_comment:
            if "*/" in s:
                in_comment = False
            continue
        if s.startswith("/**") or s.startswith("/*"):
            if "*/" not in s:
                in_comment = True
            continue
        m = IMPORT.match(line)
        if m:
            target = os.path.normpath(os.path.join(os.path.dirname(mod), m.group(2)))
            for n in m.group(1).split(","):
                imports[n.strip()] = target
            continue
        m = re.match(r"^export interface (\w+) \{$", line)
        if m:
            cur = {}
            types[m.group(1)] = ("interface", cur)
            continue
        m = re.match(r"^export interface (\w+) \{\s*\}$", line)
        if m:
            types[m.group(1)] = ("interface", {})
            continue
        m = re.match(r"^export type (\w+) = (.*);$", line)
        if m:
            types[m.group(1)] = ("alias", m.group(2))
            continue
        if line == "}":
            cur = None
            continue
        if cur is None:
            continue
        m = FIELD.match(line)
        if not m:
            continue
        name = m.group(2).strip('"')
        optional = m.group(3) == "?"
        t = m.group(4)
        if t == "{":  # inline map: {[name: string]: X;}
            inner = lines[i].strip()
            mm = re.match(r"^\[name: string\]: (.*);$", inner)
            if not mm or lines[i + 1].strip() != "};":
                raise SystemExit(f"{path}:{i}: unexpected inline type {inner!r}")
            t = "{map}" + mm.group(1)
            i += 2
        else:
            t = t.rstrip(";")
        cur[name] = (t, optional)
    return types, imports


class Gen:
    def __init__(self, root):
        self.root = root
        self.modules = {}
        self.defs = {}

    def module(self, mod):
        if mod not in self.modules:
            self.modules[mod] = parse_module(self.root, mod)
        return self.modules[mod]

    def ref(self, mod, name):
        types, imports = self.module(mod)
        if name not in types:
            if name in imports:
                return self.ref(imports[name], name)
            raise SystemExit(f"unknown type {name} in {mod}")
        key = mod.replace("/", ".") + "." + name
        if key not in self.defs:
            self.defs[key] = None  # placeholder against recursion
            kind, body = types[name]
            if kind == "alias" and name == "Quantity":
                # A quantity is written "500m", "4Gi" or a bare YAML number (cpu: 2): the API
                # accepts both (the OpenAPI spec says int-or-string); the .d.ts says string.
                self.defs[key] = {"anyOf": [{"type": "string"}, {"type": "number"}]}
            elif kind == "alias":
                self.defs[key] = self.typ(mod, body)
            elif not body:  # empty interface: free-form (RawExtension, FieldsV1)
                self.defs[key] = {"type": "object"}
            else:
                props, req = {}, []
                for fname, (t, optional) in body.items():
                    props[fname] = self.typ(mod, t)
                    if not optional:
                        req.append(fname)
                d = {"type": "object", "properties": props, "additionalProperties": False}
                if req:
                    d["required"] = req
                self.defs[key] = d
        return {"$ref": "#/definitions/" + key}

    def typ(self, mod, t):
        t = t.strip()
        if t.startswith("{map}"):
            return {"type": "object", "additionalProperties": self.typ(mod, t[5:])}
        parts = split_union(t)
        if len(parts) > 1:
            return {"anyOf": [self.typ(mod, p) for p in parts]}
        if t in ("string", "boolean"):
            return {"type": t}
        if t == "number":
            # Every numeric field of the kinds used here is int32/int64 in the OpenAPI spec
            # (the API conventions keep floats out of specs); the .d.ts only says "number".
            return {"type": "integer"}
        if t == "object":
            return {"type": "object"}
        if re.fullmatch(r'"[^"]*"', t):
            return {"const": t[1:-1]}
        m = re.fullmatch(r"Array<(.*)>", t) or re.fullmatch(r"(\w+)\[\]", t)
        if m:
            return {"type": "array", "items": self.typ(mod, m.group(1))}
        if re.fullmatch(r"\w+", t):
            return self.ref(mod, t)
        raise SystemExit(f"{mod}: cannot translate type {t!r}")


def split_union(t):
    parts, depth, cur = [], 0, ""
    for ch in t:
        if ch in "<{[":
            depth += 1
        elif ch in ">}]":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def main():
    root = sys.argv[1]
    pkg = json.load(open(os.path.join(root, "package.json")))
    g = Gen(root)
    kinds = {}
    for (api, kind), mod in KINDS.items():
        r = g.ref(mod, kind)
        # A manifest must name its apiVersion and kind (optional in the API types).
        kinds[f"{api}/{kind}"] = {"allOf": [r, {"required": ["apiVersion", "kind"]}]}
    out = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": (f"Generated by deploy/tools/gen_k8s_schemas.py from npm {pkg['name']}@"
                     f"{pkg['version']} ({pkg.get('repository')}), which is generated from the "
                     f"Kubernetes v{pkg['version']} OpenAPI spec. Strict: unknown fields rejected."),
        "kubernetesVersion": pkg["version"],
        "kinds": kinds,
        "definitions": dict(sorted(g.defs.items())),
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
