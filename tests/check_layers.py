#!/usr/bin/python3
"""check_layers.py — dependencies point down only (the layer table of docs/architecture.md).

    tests/check_layers.py [--root DIR] [--lib-dir build/lib] [--self-test]

Reads every `#include "…"` of the project's C sources and headers, puts each file in its layer
and fails (exit 1, one line per violation naming the file, the line and both layers) when a file
includes a header of a layer it may not use. With --lib-dir it also checks the libraries
themselves: no undefined symbol of liblmrt.a may be defined by the converter library
(liblmconvert.a), i.e. the runtime never calls up into the converter. --self-test runs the
check on an injected bad include (kernels/cpu.c including runtime/model.h) and on an injected
upward call, and fails unless both are caught: the check cannot pass vacuously.

With --lib-dir it also checks what liblmrt.so links (issue 14): its NEEDED libraries are libc,
libm, xxhash, libnuma and mimalloc (and a sanitizer's runtime under SAN=1) and nothing else, and
neither it nor a program given with --program (lmserve) loads OpenBLAS, libgfortran or
libquadmath (ldd, so indirect dependencies count too): OpenBLAS is dlopen()ed on demand
(kernels/linear_blas.c). The self-test injects a NEEDED libopenblas.so.0 and an ldd line for
libgfortran and requires both to be caught.
"""
import argparse
import os
import re
import subprocess
import sys

# The layer table lives in docs/architecture.md ("Layers"): | layer | paths | may use |. Paths
# are backquoted prefixes; the first matching prefix wins, longest prefixes first.
DOC = "docs/architecture.md"


def read_layers(root):
    """(prefix → layer list, layer → allowed set or None for "(any)") from the doc's table."""
    layers, allowed, in_table = [], {}, False
    with open(os.path.join(root, DOC), encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                in_table = line.strip() == "## Layers"
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not in_table or len(cells) != 3 or cells[0] in ("layer", "") or cells[0].startswith("-"):
                continue
            name, paths, uses = cells
            for pre in re.findall(r"`([^`]+)`", paths):
                layers.append((pre.rstrip("*"), name))
            allowed[name] = None if uses == "(any)" else (
                set() if uses in ("—", "-") else {u.strip() for u in uses.split(",")})
    if not layers:
        sys.exit(f"check-layers: no layer table in {DOC}")
    layers.sort(key=lambda x: -len(x[0]))
    return layers, allowed


LAYERS, ALLOWED = [], {}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE_EXT = (".c", ".h", ".cc")


def layer_of(path):
    for prefix, layer in LAYERS:
        if path.startswith(prefix):
            return layer
    return None


def resolve(inc, src):
    """The repository path an include names (-Iinclude -I. plus the including file's dir)."""
    if inc == "lmrt.h":
        return "include/lmrt.h"
    for cand in (inc, os.path.normpath(os.path.join(os.path.dirname(src), inc))):
        if layer_of(cand):
            return cand
    return inc


def scan(root, extra=()):
    """Yield (file, line number, included path) for every quoted include, plus extra ones."""
    for top in sorted({p.split("/")[0] + "/" for p, _ in LAYERS}):
        d = os.path.join(root, top)
        for dirpath, _, files in os.walk(d):
            for name in sorted(files):
                if not name.endswith(SOURCE_EXT):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                with open(full, encoding="utf-8", errors="replace") as f:
                    for i, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m:
                            yield rel, i, resolve(m.group(1), rel)
    yield from extra


def include_violations(root, extra=()):
    bad = []
    for src, line, inc in scan(root, extra):
        a, b = layer_of(src), layer_of(inc)
        allowed = ALLOWED.get(a)
        if a is None or b is None or allowed is None or a == b or b in allowed:
            continue
        bad.append(f"{src}:{line}: includes {inc}: layer '{a}' may not use layer '{b}'")
    return bad


def symbols(archive, defined):
    flag = "--defined-only" if defined else "--undefined-only"
    out = subprocess.run(["nm", "-A", flag, archive], capture_output=True, text=True, check=True)
    names = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if defined and len(parts) >= 3 and parts[-2] in "TDRB":
            names.add(parts[-1])
        elif not defined:
            names.add(parts[-1])
    return names


def call_violations(lib_dir, extra_undefined=()):
    rt, conv = os.path.join(lib_dir, "liblmrt.a"), os.path.join(lib_dir, "liblmconvert.a")
    up = (symbols(rt, False) | set(extra_undefined)) & symbols(conv, True)
    return [f"liblmrt.a calls {s}, which the converter library defines" for s in sorted(up)]


# What liblmrt.so may link (docs/architecture.md, "Libraries"), by soname stem; libasan and
# libubsan are the sanitizer build's (make check-san).
RUNTIME_NEEDED = ("libc.so", "libm.so", "libxxhash.so", "libnuma.so", "libmimalloc.so",
                  "libasan.so", "libubsan.so", "ld-linux")
# Never in a serving process's ldd: OpenBLAS and what it brings.
NEVER_LOADED = re.compile(r"\b(libopenblas[^ ]*|libgfortran[^ ]*|libquadmath[^ ]*)")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)


def link_violations(lib_dir, programs=(), extra_needed=(), extra_ldd=""):
    so = os.path.join(lib_dir, "liblmrt.so")
    bad = [f"liblmrt.so links {n}: only libc, libm, xxhash, libnuma and mimalloc are allowed"
           for n in needed(so) + list(extra_needed) if not n.startswith(RUNTIME_NEEDED)]
    for path in [so] + list(programs):
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
        if path == so:
            out += extra_ldd
        for lib in sorted(set(NEVER_LOADED.findall(out))):
            bad.append(f"{path} loads {lib} (OpenBLAS is dlopen()ed on demand, never linked)")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--lib-dir")
    ap.add_argument("--program", action="append", default=[],
                    help="a program linking liblmrt whose ldd must not show OpenBLAS")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    LAYERS[:], loaded = read_layers(root)
    ALLOWED.update(loaded)
    if a.self_test:
        ok = True
        caught = include_violations(root, [("kernels/cpu.c", 1, "runtime/model.h")])
        if not any(v.startswith("kernels/cpu.c:1:") for v in caught):
            print("check-layers self-test: an injected bad include was NOT caught", file=sys.stderr)
            ok = False
        if a.lib_dir and not call_violations(a.lib_dir, ["lm_convert"]):
            print("check-layers self-test: an injected upward call was NOT caught", file=sys.stderr)
            ok = False
        if a.lib_dir:
            caught = link_violations(a.lib_dir, (), ["libopenblas.so.0"],
                                     "\tlibgfortran.so.5 => /usr/lib/libgfortran.so.5 (0x0)\n")
            if not any("links libopenblas.so.0" in v for v in caught) or \
                    not any("loads libgfortran.so.5" in v for v in caught):
                print("check-layers self-test: an injected OpenBLAS link was NOT caught",
                      file=sys.stderr)
                ok = False
        print("check-layers self-test: injected violations caught" if ok else "", end="\n" if ok else "")
        return 0 if ok else 1
    bad = include_violations(root)
    if a.lib_dir:
        bad += call_violations(a.lib_dir) + link_violations(a.lib_dir, a.program)
    for v in bad:
        print(v, file=sys.stderr)
    n = sum(1 for _ in scan(root))
    libs = f", liblmrt.so's libraries and {1 + len(a.program)} ldd checked" if a.lib_dir else ""
    print(f"check-layers: {n} includes checked{libs}, {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
