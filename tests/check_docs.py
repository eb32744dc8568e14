#!/usr/bin/python3
"""check_docs.py — the documentation a user reads first still works (make check-docs, run by
make check):

  - README.md still starts with the two commands (`make run`, `make test`) exactly as other
    tooling expects them, and stays under 12,000 bytes;
  - every relative link of README.md and docs/*.md points at a file of the repository (and, with
    a #fragment, at a heading of it); nothing links outside the repository but http(s) URLs;
  - the README's quick start — the indented commands between the markers
    <!-- quickstart:begin ... --> and <!-- quickstart:end --> — runs verbatim, one command at
    a time, in a scratch directory holding a link to examples/, with the built programs first
    on PATH. The one substitution: the port 8080 becomes a free loopback port, so that
    parallel runs cannot collide. A command ending in '&' runs in the background (the test
    then waits for /v2/health/ready). Each command's result is checked by its program:
    lmconvert writes its -o file, lminfo names binary:logistic and 50 trees, lmscore --check
    passes and prints examples/expected.csv's values, curl gets examples/expected.csv's values
    back from the server; the server must then stop with status 0 on SIGTERM.

    /usr/bin/python3 tests/check_docs.py --bin build/bin
"""
import argparse
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
HEAD = [
    "# lmrt — lean model runtime",
    "",
    "    make run     # installs what it needs (Debian packages), converts and scores the bundled example",
    "    make test    # installs what it needs, runs the whole suite, then again under ASan + UBSan",
]
MAX_README = 12000
BEGIN, END = "<!-- quickstart:begin", "<!-- quickstart:end -->"
PORT = "8080"

failures = []


def fail(msg):
    failures.append(msg)
    print("check-docs: FAIL: " + msg, file=sys.stderr)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------- README head and size
def check_readme_head():
    text = read(README)
    lines = text.split("\n")
    if lines[:len(HEAD)] != HEAD:
        fail("README.md no longer starts with the two commands exactly as before:\n" +
             "\n".join(HEAD))
    size = len(text.encode("utf-8"))
    if size > MAX_README:
        fail(f"README.md is {size} bytes (at most {MAX_README}: move details to docs/)")
    return size


# ---------------------------------------------------------------- links
def prose(text):
    """The text without fenced or indented code blocks and inline code spans."""
    out, fence = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence or line.startswith("    ") or line.startswith("\t"):
            out.append("")
            continue
        out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def slugs(path):
    """GitHub's heading anchors of a Markdown file."""
    seen, out = {}, set()
    for line in prose(read(path)).split("\n"):
        m = re.match(r"#{1,6} +(.*?) *#*$", line)
        if not m:
            continue
        s = re.sub(r"[^\w\- ]", "", m.group(1).lower().replace("`", ""))
        s = s.replace(" ", "-")
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else f"{s}-{n}")
    return out


def check_links():
    files = [README] + sorted(os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                              if f.endswith(".md"))
    n = 0
    for path in files:
        rel = os.path.relpath(path, ROOT)
        # the raw text, not prose(): a code span's text inside a link label is still a link
        for m in re.finditer(r"\]\(([^)\s]+)\)", re.sub(r"(?m)^(    |\t).*$", "", read(path))):
            target = m.group(1)
            n += 1
            if re.match(r"https?://", target):
                continue
            if re.match(r"[a-z]+:", target):
                fail(f"{rel}: link to {target}: only relative links and http(s) URLs")
                continue
            file_part, _, frag = target.partition("#")
            dest = os.path.realpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not (dest + os.sep).startswith(ROOT + os.sep) and dest != ROOT:
                fail(f"{rel}: link to {target} leaves the repository")
                continue
            if not os.path.exists(dest):
                fail(f"{rel}: link to {target}: no such file in the repository")
                continue
            if frag and dest.endswith(".md") and frag not in slugs(dest):
                fail(f"{rel}: link to {target}: {os.path.relpath(dest, ROOT)} has no heading #{frag}")
    return len(files), n


# ---------------------------------------------------------------- quick start
def quickstart_commands():
    lines = read(README).split("\n")
    try:
        b = next(i for i, l in enumerate(lines) if l.startswith(BEGIN))
        e = next(i for i, l in enumerate(lines) if l.startswith(END) and i > b)
    except StopIteration:
        sys.exit(f"check-docs: README.md has no quick start between '{BEGIN}' and '{END}'")
    cmds = [l[4:].rstrip() for l in lines[b + 1:e] if l.startswith("    ") and l.strip()]
    if len(cmds) != 5:
        fail(f"the quick start has {len(cmds)} commands, the README promises five")
    return cmds


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def floats(text):
    """The numbers of a comma- or line-separated answer, or the text itself if it is not one."""
    try:
        return [float(x) for x in re.split(r"[,\s]+", text.strip()) if x]
    except ValueError:
        return text


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def same_values(what, got, expected):
    if isinstance(got, str):
        fail(f"{what}: not a list of numbers: {got.strip()[:300]!r}")
        return
    if len(got) != len(expected):
        fail(f"{what}: {len(got)} values, examples/expected.csv has {len(expected)}")
        return
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected))
           if not abs(g - f32(e)) <= 1e-6 * max(1.0, abs(f32(e)))]
    if bad:
        i, g, e = bad[0]
        fail(f"{what}: {len(bad)} of {len(got)} values differ from examples/expected.csv "
             f"(first: row {i + 1}: {g!r}, expected {e!r})")


def wait_ready(port, proc, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode} before it was ready"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return None
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return f"not ready after {seconds} s"


def run_quickstart(bindir):
    cmds = quickstart_commands()
    port = free_port()
    expected = floats(read(os.path.join(ROOT, "examples", "expected.csv")))
    env = dict(os.environ, PATH=os.path.abspath(bindir) + os.pathsep + os.environ.get("PATH", ""))
    servers = []
    with tempfile.TemporaryDirectory(prefix="lmrt-quickstart-") as tmp:
        os.symlink(os.path.join(ROOT, "examples"), os.path.join(tmp, "examples"))
        try:
            for verbatim in cmds:
                cmd = verbatim.replace(PORT, port)
                prog = cmd.split()[0]
                print(f"check-docs: $ {verbatim}")
                if cmd.endswith("&"):
                    log = open(os.path.join(tmp, f"{prog}.log"), "wb")
                    p = subprocess.Popen(["/bin/sh", "-c", "exec " + cmd[:-1].rstrip()], cwd=tmp, env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
                    servers.append((prog, p, log))
                    if prog == "lmserve":
                        err = wait_ready(port, p, 60)
                        if err:
                            fail(f"{verbatim}: {err}")
                            return
                    continue
                r = subprocess.run(["/bin/sh", "-c", cmd], cwd=tmp, env=env, capture_output=True,
                                   text=True, timeout=120)
                if r.returncode != 0:
                    fail(f"{verbatim}: exit status {r.returncode}: {r.stderr.strip()[:500]}")
                    continue
                if prog == "lmconvert":
                    out = cmd.split()[cmd.split().index("-o") + 1]
                    if not os.path.isfile(os.path.join(tmp, out)) or not r.stderr.startswith("wrote "):
                        fail(f"{verbatim}: no {out} or no summary line ({r.stderr.strip()!r})")
                elif prog == "lminfo":
                    info = dict(l.split(":", 1) for l in r.stdout.splitlines() if ":" in l)
                    info = {k.strip(): v.strip() for k, v in info.items()}
                    if info.get("objective") != "binary:logistic" or info.get("trees") != "50":
                        fail(f"{verbatim}: objective {info.get('objective')!r}, trees {info.get('trees')!r}; "
                             "expected binary:logistic, 50 (examples/README.md)")
                elif prog == "lmscore":
                    if "parity: 40/40 rows" not in r.stderr:
                        fail(f"{verbatim}: no 'parity: 40/40 rows' line: {r.stderr.strip()!r}")
                    same_values(verbatim, floats(r.stdout), expected)
                elif prog == "curl":
                    same_values(verbatim, floats(r.stdout), expected)
            for prog, p, log in servers:
                p.send_signal(signal.SIGTERM)
                time.sleep(0.3)
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)  # a second signal skips the drain
                try:
                    rc = p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    rc = None
                if rc != 0:
                    fail(f"{prog}: status {rc} after SIGTERM (expected 0)")
        finally:
            for prog, p, log in servers:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                log.close()
    return len(cmds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("LM_BIN", os.path.join(ROOT, "build", "bin")),
                    help="directory of the built programs (default: $LM_BIN or build/bin)")
    a = ap.parse_args()
    size = check_readme_head()
    nfiles, nlinks = check_links()
    ncmds = run_quickstart(a.bin)
    if failures:
        sys.exit(f"check-docs: {len(failures)} failure(s)")
    print(f"check-docs: README.md {size} bytes, starts with make run / make test; {nlinks} links in "
          f"{nfiles} files stay in the repository; the quick start's {ncmds} commands ran verbatim "
          "and the served predictions equal examples/expected.csv")


if __name__ == "__main__":
    main()
