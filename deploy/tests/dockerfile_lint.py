#!/usr/bin/python3
"""A small Dockerfile linter for deploy/Dockerfile (hadolint is not packaged for Debian and
nothing can be downloaded from its releases here). Rules, each reported as
"deploy/Dockerfile:LINE: RULE: message":

  DF001 every FROM names a pinned image: a tag other than "latest", or a digest
  DF002 the final stage sets USER to a numeric, non-zero uid (uid:gid allowed)
  DF003 no ADD of a URL (and ADD only for local archives: use COPY)
  DF004 apt-get install has -y and --no-install-recommends, runs in the same RUN as
        apt-get update, and that RUN removes /var/lib/apt/lists/*
  DF005 COPY in the final stage says --chown (ownership is a decision, not an accident)
  DF006 no HEALTHCHECK (Kubernetes probes do it)
  DF007 ENTRYPOINT and CMD in exec (JSON array) form; ENTRYPOINT runs lmserve
  DF008 EXPOSE present in the final stage
  DF009 no "sudo", no "apt" (use apt-get), no "curl | sh"
  DF010 WORKDIR absolute
  DF011 the base image is an ARG (ARG BASE_IMAGE=<pinned image> before the first FROM, every
        FROM of an outside image is ${BASE_IMAGE}): a digest pin and a locally built base
        (make check-image) both work without editing the file
  DF012 apt-get install runs apt-get clean in the same RUN (a base without the docker-clean
        apt hook keeps every downloaded .deb)
  DF013 the binaries are stripped (install -s or strip) before they are copied out
Usable alone: dockerfile_lint.py [Dockerfile]
"""
import json
import os
import re
import shlex
import sys


def instructions(text):
    """(line number, INSTRUCTION, argument text) with continuations joined, comments dropped."""
    out, buf, start = [], "", None
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue
        if start is None:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        parts = buf.strip().split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
        buf, start = "", None
    if buf:
        parts = buf.strip().split(None, 1)
        out.append((start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out


def exec_form(arg):
    try:
        v = json.loads(arg)
    except ValueError:
        return None
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None


def lint(path, rep):
    """Lint the Dockerfile, report through rep.error(where, field, msg); return facts that the
    manifests must agree with: user_uid, expose (ports), cmd_models, cmd_port, cmd_flags."""
    where = os.path.relpath(path, rep.root)
    facts = {"user_uid": None, "expose": [], "cmd_models": None, "cmd_port": None, "cmd_flags": [],
             "runtime_packages": [], "stage_packages": {}, "final_from": None, "stripped": False}
    try:
        with open(path, encoding="utf-8") as fh:
            ins = instructions(fh.read())
    except OSError as e:
        rep.error(where, "", f"cannot read: {e}")
        return facts

    def err(n, rule, msg):
        rep.error(f"{where}:{n}", rule, msg)

    stages = [i for i, (_, op, _) in enumerate(ins) if op == "FROM"]
    if not stages:
        err(1, "DF001", "no FROM")
        return facts
    final = stages[-1]
    stage_names = set()
    args = {}
    stage = None
    user = None
    entry = cmd = None
    for i, (n, op, arg) in enumerate(ins):
        in_final = i > final
        if op == "ARG":
            k, _, v = arg.strip().partition("=")
            args[k.strip()] = v.strip().strip('"')
            if k.strip() == "BASE_IMAGE" and stages and i > stages[0]:
                err(n, "DF011", "ARG BASE_IMAGE after the first FROM is not visible to FROM lines")
        elif op == "FROM":
            toks = arg.split()
            toks = [t for t in toks if not t.startswith("--platform")]
            image = toks[0] if toks else ""
            stage = toks[2].lower() if len(toks) >= 3 and toks[1].lower() == "as" else f"#{i}"
            facts["stage_packages"].setdefault(stage, [])
            if i == final:
                facts["final_from"] = image
                facts["final_stage"] = stage
            if image.lower() in stage_names or image == "scratch":
                stage_names.add(stage)
                continue
            stage_names.add(stage)
            m_arg = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", image)
            if not m_arg or m_arg.group(1) != "BASE_IMAGE":
                err(n, "DF011", f"FROM {image}: use ARG BASE_IMAGE (FROM ${{BASE_IMAGE}}) so the base can be "
                                "pinned by digest or built locally")
            if m_arg:
                if m_arg.group(1) not in args or not args[m_arg.group(1)]:
                    err(n, "DF011", f"FROM {image}: no ARG {m_arg.group(1)} with a default before the first FROM")
                    continue
                image = args[m_arg.group(1)]
            if "@sha256:" in image:
                continue
            last = image.split("/")[-1]
            tag = last.split(":", 1)[1] if ":" in last else None
            if not tag or tag == "latest" or "$" in image:
                err(n, "DF001", f"FROM {image}: pin the image with a tag other than latest or a digest")
        elif op == "USER":
            if in_final:
                user = (n, arg.strip())
        elif op == "ADD":
            if re.search(r"\b(https?|ftp)://", arg):
                err(n, "DF003", "ADD of a URL: download in a RUN with a checksum, or COPY a vendored file")
            else:
                err(n, "DF003", "use COPY for local files (ADD unpacks archives implicitly)")
        elif op == "RUN":
            if re.search(r"\bapt-get\b[^&;|]*\binstall\b", arg):
                for seg in re.split(r"&&|;|\|\|", arg):
                    if re.search(r"\bapt-get\b.*\binstall\b", seg):
                        if not re.search(r"(^|\s)(-y|--yes|-qq?y|--assume-yes)(\s|$)", seg):
                            err(n, "DF004", "apt-get install without -y")
                        if "--no-install-recommends" not in seg:
                            err(n, "DF004", "apt-get install without --no-install-recommends")
                if not re.search(r"\bapt-get\b[^&;|]*\bupdate\b", arg):
                    err(n, "DF004", "apt-get install without apt-get update in the same RUN")
                if not re.search(r"rm -rf /var/lib/apt/lists/?\*", arg):
                    err(n, "DF004", "apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN")
                if not re.search(r"\bapt-get\s+clean\b", arg):
                    err(n, "DF012", "apt-get install without apt-get clean in the same RUN")
            if re.search(r"\binstall\s+(-\S+\s+)*-s\b|\bstrip\s[^&;|]*\bbuild/bin/", arg):
                facts["stripped"] = True
            for seg in re.split(r"&&|;|\|\|", arg):
                m = re.search(r"\bapt-get\b.*?\binstall\b(.*)", seg)
                if m and stage is not None:
                    facts["stage_packages"][stage] += [t for t in m.group(1).split() if not t.startswith("-")]
            if in_final:
                for seg in re.split(r"&&|;|\|\|", arg):
                    m = re.search(r"\bapt-get\b.*?\binstall\b(.*)", seg)
                    if m:
                        facts["runtime_packages"] += [t for t in m.group(1).split() if not t.startswith("-")]
            if re.search(r"(^|[\s;&|])sudo\s", arg):
                err(n, "DF009", "sudo in RUN")
            if re.search(r"(^|[\s;&|])apt\s+(install|update|upgrade)", arg):
                err(n, "DF009", "use apt-get, not apt, in scripts")
            if re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", arg):
                err(n, "DF009", "piping a download into a shell")
        elif op == "COPY":
            if in_final and "--chown=" not in arg:
                err(n, "DF005", "COPY in the final stage without --chown")
        elif op == "HEALTHCHECK":
            err(n, "DF006", "HEALTHCHECK: leave health to the Kubernetes probes")
        elif op == "ENTRYPOINT":
            if in_final:
                entry = (n, arg)
        elif op == "CMD":
            if in_final:
                cmd = (n, arg)
        elif op == "EXPOSE":
            if in_final:
                for p in arg.split():
                    m = re.fullmatch(r"(\d+)(/tcp)?", p)
                    if m:
                        facts["expose"].append(int(m.group(1)))
                    else:
                        err(n, "DF008", f"EXPOSE {p}: expected PORT or PORT/tcp")
        elif op == "WORKDIR":
            if not arg.strip().startswith("/") and not arg.strip().startswith("$"):
                err(n, "DF010", f"WORKDIR {arg.strip()} is not absolute")
    last_line = ins[-1][0]
    if user is None:
        err(last_line, "DF002", "the final stage has no USER: the container would run as root")
    else:
        n, u = user
        m = re.fullmatch(r"(\d+)(?::(\d+))?", u)
        if not m:
            err(n, "DF002", f"USER {u}: use a numeric uid (runAsNonRoot can only verify numbers)")
        elif int(m.group(1)) == 0:
            err(n, "DF002", "USER 0 is root")
        else:
            facts["user_uid"] = int(m.group(1))
    if entry is None:
        err(last_line, "DF007", "no ENTRYPOINT in the final stage")
    else:
        n, arg = entry
        v = exec_form(arg)
        if v is None:
            err(n, "DF007", "ENTRYPOINT in shell form: use the exec form [\"/usr/local/bin/lmserve\"] so "
                            "lmserve is PID 1 and receives SIGTERM")
        elif not v or os.path.basename(v[0]) != "lmserve":
            err(n, "DF007", f"ENTRYPOINT {v}: expected lmserve")
    if cmd is not None:
        n, arg = cmd
        v = exec_form(arg)
        if v is None:
            err(n, "DF007", "CMD in shell form: use a JSON array")
        else:
            i = 0
            while i < len(v):
                if v[i].startswith("--"):
                    facts["cmd_flags"].append(v[i].split("=", 1)[0])
                    val = v[i].split("=", 1)[1] if "=" in v[i] else (v[i + 1] if i + 1 < len(v) else "")
                    if v[i].split("=", 1)[0] == "--models":
                        facts["cmd_models"] = val
                    if v[i].split("=", 1)[0] == "--listen":
                        m = re.fullmatch(r".*:(\d+)", val)
                        facts["cmd_port"] = int(m.group(1)) if m else None
                i += 1
    if not facts["expose"]:
        err(last_line, "DF008", "no EXPOSE in the final stage")
    if not facts["stripped"]:
        err(last_line, "DF013", "binaries not stripped: install -s or strip them in the build stage")
    return facts


class _Print:
    def __init__(self):
        self.root = os.getcwd()
        self.errors = []

    def error(self, where, field, msg):
        self.errors.append(f"{where}: {field}: {msg}")


if __name__ == "__main__":
    r = _Print()
    f = lint(sys.argv[1] if len(sys.argv) > 1 else "deploy/Dockerfile", r)
    print("\n".join(r.errors) or f"ok: {f}")
    sys.exit(1 if r.errors else 0)
