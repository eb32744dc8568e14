# Type stubs of the lmrt package (the C extension lmrt._lmrt and its Python helpers).
import os
from typing import Any, ClassVar, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str
lmrt_version: str

_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
# ndarray (float32 / float64 read in place when C-contiguous), pandas.DataFrame, or array-like
_Rows = Any

class PlanBand(TypedDict):
    min_rows: int
    max_rows: Optional[int]  # None: no bound
    kernel: str

class ModelInfo(TypedDict):
    source_format: Optional[str]
    source_version: Optional[str]
    converter: Optional[str]
    booster: Optional[str]
    objective: Optional[str]
    link: Optional[str]
    source_hash: int
    file_size: int
    format_version: Tuple[int, int]
    num_features: int
    num_outputs: int
    num_trees: int
    num_trees_trained: int
    num_nodes: int
    max_depth: int
    num_categorical_splits: int
    num_factors: int  # factorization machines: factors per feature (0 otherwise)
    base_score: float
    base_margin: float
    best_iteration: Optional[int]
    best_ntree_limit: Optional[int]
    kernel: Optional[str]
    link_kernel: Optional[str]
    isa: Optional[str]
    plan: list[PlanBand]
    plan_notes: str

class Model:
    """A .lm model (lm_model_open): immutable, shareable between threads."""
    def __init__(self, path: _Path) -> None: ...
    @property
    def num_features(self) -> int: ...
    @property
    def num_outputs(self) -> int: ...
    @property
    def num_trees(self) -> int: ...
    @property
    def feature_names(self) -> Optional[Tuple[str, ...]]: ...
    @property
    def feature_types(self) -> Tuple[str, ...]: ...  # 'q' numeric, 'c' categorical
    @property
    def path(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def predict(self, X: _Rows, margin: bool = False,
                threads: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def predict_leaf(self, X: _Rows) -> npt.NDArray[np.uint32]: ...
    def output_width(self, margin: bool = False) -> int: ...
    def info(self) -> ModelInfo: ...
    def selftest(self) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Model": ...
    def __exit__(self, *exc: object) -> None: ...

def convert(src: _Path, dst: _Path, *, member: Optional[str] = None, all_trees: bool = False,
            quiet: bool = True, selftest_rows: Optional[npt.ArrayLike] = None,
            selftest_expected: Optional[npt.ArrayLike] = None) -> str: ...
def cpus_allowed() -> int: ...

class Error(Exception):
    code: ClassVar[int]  # on subclasses; instances: the negative LM_E* code
    name: str            # 'FORMAT'
    message: str         # lm_strerror(code)
    detail: str          # lm_last_error(): file, field, offset

class InvalidArgumentError(Error, ValueError): ...
class OutOfMemoryError(Error, MemoryError): ...
class IOError(Error, OSError): ...
class FormatError(Error, ValueError): ...
class MagicError(Error, ValueError): ...
class VersionError(Error, ValueError): ...
class ChecksumError(Error, ValueError): ...
class UnsupportedError(Error): ...
class NoModelError(Error, ValueError): ...
class RangeError(Error, ValueError): ...
class SelfTestError(Error): ...

__all__: Sequence[str]
