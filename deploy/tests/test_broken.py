#!/usr/bin/python3
"""Every case of broken_cases.yaml must be rejected by check_manifests for its stated reason,
and the unchanged copy must pass (so a rejection is the break's doing, not the copy's)."""
import os
import shutil
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_manifests  # noqa: E402

DEPLOY = os.path.dirname(HERE)


def main():
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else None
    with open(os.path.join(HERE, "broken_cases.yaml"), encoding="utf-8") as fh:
        cases = yaml.safe_load(fh)
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory() as td:
        base = os.path.join(td, "base")
        shutil.copytree(DEPLOY, os.path.join(base, "deploy"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        rep = check_manifests.run(base)
        if rep.errors:
            print("broken-cases: the unchanged copy does not pass:\n  " + "\n  ".join(rep.errors))
            return 1
        for c in cases:
            name = c["name"]
            if c.get("needs") and not shutil.which(c["needs"]):
                print(f"broken-cases: SKIP {name}: {c['needs']} not installed")
                skipped += 1
                continue
            if c.get("needs_bin") and not (bin_dir and os.access(os.path.join(bin_dir, "lmconvert"), os.X_OK)):
                print(f"broken-cases: SKIP {name}: lmconvert not built (pass the bin directory)")
                skipped += 1
                continue
            root = os.path.join(td, name)
            shutil.copytree(os.path.join(base, "deploy"), os.path.join(root, "deploy"))
            if c.get("move"):  # e.g. an overlay put back inside its base
                shutil.move(os.path.join(root, "deploy", c["move"][0]), os.path.join(root, "deploy", c["move"][1]))
            path = os.path.join(root, "deploy", c["file"])
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                print(f"broken-cases: FAIL {name}: no file deploy/{c['file']}")
                failed += 1
                continue
            n = text.count(c["replace"])
            if n != 1:
                print(f"broken-cases: FAIL {name}: the text to replace occurs {n} times in deploy/{c['file']}")
                failed += 1
                continue
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text.replace(c["replace"], c["with"]))
            # shellcheck (slow to start) only where the case is about a script.
            rep = check_manifests.run(root, shellcheck=c.get("needs") == "shellcheck",
                                      bin_dir=bin_dir if c.get("needs_bin") else None)
            hits = [e for e in rep.errors if all(x in e for x in c["expect"])]
            if hits:
                print(f"broken-cases: ok   {name}: {hits[0]}")
                passed += 1
            else:
                print(f"broken-cases: FAIL {name}: expected a problem naming {c['expect']}, got:\n    "
                      + ("\n    ".join(rep.errors) or "(no problem at all)"))
                failed += 1
            shutil.rmtree(root)
        # The lmserve --help flag check, against stand-ins for lmserve (the real binary is
        # checked by check_manifests when LMSERVE_BIN is built).
        contract = ("--models --listen --threads --drain-seconds --shutdown-timeout --max-body-bytes "
                    "--max-header-bytes --max-connections --request-timeout --idle-timeout "
                    "--reload-poll-ms --log-level").split()
        for name, flags, expect in [
                ("lmserve-help-all-flags", contract, None),
                ("lmserve-help-lacks-drain-seconds", [f for f in contract if f != "--drain-seconds"],
                 ["--drain-seconds", "absent from --help"])]:
            stub = os.path.join(td, name)
            with open(stub, "w", encoding="utf-8") as fh:
                fh.write("#!/bin/sh\ncat <<'EOF'\nusage: lmserve --models DIR [options]\n"
                         + "".join(f"  {f} X\n" for f in flags) + "EOF\n")
            os.chmod(stub, 0o755)
            errs = check_manifests.run(base, lmserve=stub, lint_yaml=False, shellcheck=False).errors
            ok = (not errs) if expect is None else any(all(x in e for x in expect) for e in errs)
            print(f"broken-cases: {'ok  ' if ok else 'FAIL'} {name}: " + ("; ".join(errs) or "accepted"))
            passed, failed = passed + ok, failed + (not ok)
    print(f"broken-cases: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
