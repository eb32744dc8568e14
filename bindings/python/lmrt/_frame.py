"""Rows from anything that is not already an ndarray: pandas DataFrames (columns matched to the
model's feature names) and array-likes (lists, ...). Called by the C extension only when
predict() is given something other than an ndarray, so plain ndarrays never pay for it."""

import sys

import numpy as np

from . import _lmrt


def _fail(detail):
    _lmrt._raise(-1, detail)  # LM_EINVAL -> lmrt.InvalidArgumentError (a ValueError)


def as_rows(model, X):
    pd = sys.modules.get("pandas")  # a DataFrame implies pandas is imported: never import it
    if pd is not None and isinstance(X, pd.DataFrame):
        return _frame_rows(model, X, pd)
    return np.asarray(X)


def _frame_rows(model, df, pd):
    names = model.feature_names
    cols = list(df.columns)
    if names is None:
        # A model without names: columns are taken by position.
        if len(cols) != model.num_features:
            _fail("DataFrame has %d columns, the model has %d features (and no feature names to "
                  "match them by)" % (len(cols), model.num_features))
    elif cols != list(names):
        scols = [str(c) for c in cols]
        dup = sorted({c for c in scols if scols.count(c) > 1})
        if dup:
            _fail("DataFrame has duplicate columns: %s" % ", ".join(dup))
        have, want = set(scols), set(names)
        missing = [n for n in names if n not in have]
        extra = [c for c in scols if c not in want]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing column%s %s" % ("s" * (len(missing) > 1), ", ".join(missing)))
            if extra:
                parts.append("extra column%s %s" % ("s" * (len(extra) > 1), ", ".join(extra)))
            _fail("DataFrame columns do not match the model's feature names: " + "; ".join(parts))
        df = df.rename(columns=dict(zip(cols, scols)))[list(names)]  # reorder by name (a copy)
    # Categorical columns (pandas 'category' dtype) are scored by their codes, as XGBoost does
    # with enable_categorical=True; code -1 (NaN) is missing.
    dtypes = list(df.dtypes)
    if any(isinstance(t, pd.CategoricalDtype) for t in dtypes):
        df = df.copy()
        for c, t in zip(df.columns, dtypes):
            if isinstance(t, pd.CategoricalDtype):
                codes = df[c].cat.codes.to_numpy().astype(np.float64)
                codes[codes < 0] = np.nan
                df[c] = codes
        dtypes = list(df.dtypes)
    want = np.float32 if dtypes and all(t == np.float32 for t in dtypes) else np.float64
    return np.ascontiguousarray(df.to_numpy(dtype=want, na_value=np.nan))
