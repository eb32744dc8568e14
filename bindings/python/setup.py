"""Build of the lmrt Python package: one C extension (lmrt._lmrt, src/*.c) over liblmrt.

Where the libraries come from, first match wins:

1. LMRT_ROOT=<lmrt source tree> (its include/ and, after `make`, build/lib/*.a; LMRT_BUILD_DIR
   overrides <root>/build): needed by `python3 -m build`, which builds the wheel from an
   unpacked sdist in a temporary directory where the tree cannot be found by walking up;
2. the lmrt tree this file sits in (bindings/python/ -> ../..), when build/lib/liblmrt.a exists
   (`pip install ./bindings/python` builds in place);
3. pkg-config --static lmrt-convert (an installed lmrt: `make install`).

The extension links the static archives liblmconvert.a and liblmrt.a (compiled with -fPIC), so
the wheel is self-contained: no LD_LIBRARY_PATH, rpath or installed liblmrt.so is needed where
it is installed, and the library version is exactly the one it was built against. Only the
system libraries they use stay dynamic: libxxhash (section checksums), libmimalloc (arena
blocks), libnuma (NUMA replicas), libm; json-c and libarchive (the converter: JSON models and
model.tar.gz archives). Their symbols are not re-exported (--exclude-libs). OpenBLAS is not
linked: liblmrt dlopen()s it when a plan needs it (wide linear batches, kernels/linear_blas.c).
"""

import os
import shlex
import subprocess

import numpy
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
SYSLIBS = ["json-c", "archive", "xxhash", "mimalloc", "numa", "m", "pthread"]
# libstdc++ is made the module's FIRST needed library, ahead of libmimalloc. libmimalloc.so (used
# by liblmrt through its mi_* API only) also exports C++ operator new/delete; libarchive pulls in
# libxml2 -> ICU -> libstdc++, and a library loaded by this module's dlopen binds operator new in
# the module's own load group, breadth first. With libmimalloc ahead of libstdc++ in that group,
# libstdc++'s internal allocations went to mimalloc while C++ extensions loaded later (scipy,
# via xgboost) allocated with glibc: mismatched frees crashed. With libstdc++ first, every
# operator new/delete binds to libstdc++ (glibc malloc); malloc/free bind to glibc either way
# (it is in the interpreter's global scope).
FIRST_LIBS = ["-Wl,--push-state,--no-as-needed", "-lstdc++", "-Wl,--pop-state"]


def _version(include_dir):
    try:
        with open(os.path.join(include_dir, "lmrt.h")) as f:
            for line in f:
                if line.startswith("#define LM_VERSION_STRING"):
                    return line.split('"')[1]
    except OSError:
        pass
    return "0.1.0"


def _locate():
    root = os.environ.get("LMRT_ROOT")
    if not root:
        cand = os.path.normpath(os.path.join(HERE, "..", ".."))
        if os.path.exists(os.path.join(cand, "include", "lmrt.h")):
            root = cand
    if root:
        build = os.environ.get("LMRT_BUILD_DIR") or os.path.join(root, "build")
        libdir = os.path.join(build, "lib")
        archives = [os.path.join(libdir, "liblmconvert.a"), os.path.join(libdir, "liblmrt.a")]
        if all(os.path.exists(a) for a in archives):
            inc = os.path.join(root, "include")
            return dict(include_dirs=[inc], extra_objects=archives, libraries=SYSLIBS,
                        library_dirs=[], version=_version(inc))
        if os.environ.get("LMRT_ROOT"):
            raise SystemExit("lmrt: %s not built: run `make lib` in %s (or set LMRT_BUILD_DIR)"
                             % (libdir, root))
    try:
        cflags = subprocess.check_output(["pkg-config", "--cflags", "lmrt-convert"], text=True)
        libs = subprocess.check_output(["pkg-config", "--static", "--libs", "lmrt-convert"],
                                       text=True)
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit("lmrt: liblmrt not found: set LMRT_ROOT to a built lmrt tree, or install "
                         "lmrt (make install) so that `pkg-config lmrt-convert` finds it")
    incs = [f[2:] for f in shlex.split(cflags) if f.startswith("-I")]
    ldirs = [f[2:] for f in shlex.split(libs) if f.startswith("-L")]
    libnames = [f[2:] for f in shlex.split(libs) if f.startswith("-l")]
    # Prefer the static archives of an installed lmrt (self-contained module, as above).
    objs, rest = [], []
    for name in libnames:
        arch = [os.path.join(d, "lib%s.a" % name) for d in ldirs
                if name in ("lmrt", "lmconvert") and os.path.exists(os.path.join(d, "lib%s.a" % name))]
        (objs if arch else rest).append(arch[0] if arch else name)
    version = _version(incs[0]) if incs else "0.1.0"
    return dict(include_dirs=incs, extra_objects=objs, libraries=rest, library_dirs=ldirs,
                version=version)


loc = _locate()
ext = Extension(
    "lmrt._lmrt",
    sources=["src/_lmrt.c", "src/model.c", "src/errors.c"],
    include_dirs=loc["include_dirs"] + [numpy.get_include()],
    extra_objects=FIRST_LIBS + loc["extra_objects"],
    # Relink when the libraries or the header change (setuptools only compares the sources).
    depends=loc["extra_objects"] + [os.path.join(d, "lmrt.h") for d in loc["include_dirs"]]
            + ["src/lmpy.h"],
    libraries=loc["libraries"],
    library_dirs=loc["library_dirs"],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"],
    extra_link_args=["-Wl,--exclude-libs,ALL"],
)

# The metadata lives here, not in a pyproject.toml: with a [build-system] table pip builds in an
# isolated environment and must download setuptools, which fails offline; without one, a plain
# `pip install ./bindings/python` builds with the setuptools, wheel and numpy Debian installed
# (python3-setuptools, python3-wheel, python3-numpy), and `python3 -m build --no-isolation` too.
with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
    _readme = f.read()

setup(
    name="lmrt",
    version=loc["version"],
    description="Score XGBoost, LightGBM and linear models from .lm files with liblmrt",
    long_description=_readme,
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    install_requires=["numpy"],
    extras_require={"pandas": ["pandas"]},
    license="Proprietary",
    packages=["lmrt"],
    package_data={"lmrt": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
)
