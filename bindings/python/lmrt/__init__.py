"""lmrt — score XGBoost, LightGBM and linear models from .lm files (liblmrt) in Python.

    import lmrt
    lmrt.convert("model.tar.gz", "model.lm")        # what lmconvert does
    m = lmrt.Model("model.lm")
    p = m.predict(X)                                  # float32 or float64 rows, or a DataFrame
    p = m.predict(X, margin=True, threads=0)          # raw margins, every allowed CPU

A Model is safe to share between threads: each call takes a pooled scratch session of its own
and releases the GIL while it scores. Failures raise lmrt.Error subclasses (one per LM_E* code
of lmrt.h) whose .detail is liblmrt's lm_last_error().
"""

from ._lmrt import (  # noqa: F401  (re-exported API)
    Model,
    convert,
    cpus_allowed,
    lmrt_version,
    Error,
    InvalidArgumentError,
    OutOfMemoryError,
    IOError,
    FormatError,
    MagicError,
    VersionError,
    ChecksumError,
    UnsupportedError,
    NoModelError,
    RangeError,
    SelfTestError,
)

__version__ = lmrt_version

# lmrt.IOError is left out of __all__: `from lmrt import *` must not shadow the builtin IOError.
__all__ = [
    "Model", "convert", "cpus_allowed", "Error", "InvalidArgumentError", "OutOfMemoryError",
    "FormatError", "MagicError", "VersionError", "ChecksumError", "UnsupportedError",
    "NoModelError", "RangeError", "SelfTestError",
]
