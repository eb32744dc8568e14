"""Synthetic data, scoring rows and CSV writers of tests/gen_fixtures.py (also used by
gen_format_fixtures.py): the float32 conventions (f32, fmt: '%.9g' of the float32 value),
per-case seeds, training blocks and labels, scoring rows with missing values, threshold-equal
cells, special values and invalid categories, and the input/expected CSV files."""
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads OpenMP

import shutil  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

F32 = np.float32
FLT_MAX = float(np.finfo(np.float32).max)
NTHREAD = 1
N_TRAIN = 300
N_SCORE = 150
MISSING_TOKENS = ["", "nan", "NaN", "NA"]
MISSING_P = [0.45, 0.35, 0.1, 0.1]


def f32(v):
    return F32(v)


def fmt(v):
    """'%.9g' of the float32 value: round-trips exactly through strtod + (float)."""
    return "%.9g" % float(F32(v))


def case_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


# ----------------------------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------------------------

NUM_F = 10


def numeric_block(rng, n, nf=NUM_F):
    """n x nf float32 matrix of assorted distributions (normal, uniform, integer, skewed)."""
    cols = []
    for j in range(nf):
        k = j % 10
        if k == 0:
            c = rng.normal(size=n)
        elif k == 1:
            c = rng.normal(size=n) * 3 + 1
        elif k == 2:
            c = rng.uniform(0, 1, size=n)
        elif k == 3:
            c = rng.integers(0, 10, size=n).astype(float)     # ties: thresholds on data values
        elif k == 4:
            c = rng.lognormal(0, 1, size=n)
        elif k == 5:
            c = rng.integers(0, 2, size=n).astype(float)
        elif k == 6:
            c = rng.normal(size=n) * 100
        elif k == 7:
            c = rng.uniform(-1, 1, size=n)
        elif k == 8:
            c = rng.integers(-5, 6, size=n).astype(float)
        else:
            c = rng.normal(size=n) * 0.01
        cols.append(c)
    return np.stack(cols, axis=1).astype(F32)


def add_missing(rng, X, rate):
    X = X.copy()
    X[rng.uniform(size=X.shape) < rate] = np.nan
    return X


def signal(X):
    """A smooth-ish function of the first 10 numeric columns (NaN read as 0)."""
    Z = np.nan_to_num(X.astype(np.float64), nan=0.0)
    s = (Z[:, 0] + 0.5 * (Z[:, 1] - 1) / 3 - (Z[:, 2] - 0.5) * 2 + 0.4 * (Z[:, 3] > 4)
         + 0.3 * np.log1p(Z[:, 4]) - 0.3 + 0.5 * (Z[:, 5] - 0.5) + 0.004 * Z[:, 6]
         + np.sin(3 * Z[:, 7]) + 0.1 * Z[:, 8] + 20 * Z[:, 9])
    return s


def labels_for(kind, rng, s, n):
    noise = rng.normal(size=n)
    if kind == "binary":
        return ((s + 0.5 * noise) > 0).astype(float)
    if kind == "reg":
        return 10 + 3 * s + noise
    if kind == "unit":           # reg:logistic: labels in [0, 1]
        return 1 / (1 + np.exp(-(s + 0.3 * noise)))
    if kind == "nonneg":         # squaredlogerror
        return np.exp(0.5 * s + 0.2 * noise) * 3
    if kind == "count":
        return rng.poisson(np.exp(0.5 * s + 0.5)).astype(float)
    if kind == "positive":       # gamma
        return rng.gamma(2.0, np.exp(0.4 * s) / 2.0) + 1e-3
    if kind == "tweedie":
        lam = np.exp(0.5 * s)
        y = np.where(rng.uniform(size=n) < 0.3, 0.0, rng.gamma(1.5, lam))
        return y
    if kind == "rel4":           # ranking relevance 0..3
        return np.clip(np.round(s + 1.5 + 0.5 * noise), 0, 3)
    if kind == "rel2":           # rank:map: binary relevance
        return ((s + 0.5 * noise) > 0.3).astype(float)
    if kind.startswith("multi"):
        k = int(kind[5:])
        edges = np.quantile(s + 0.3 * noise, np.linspace(0, 1, k + 1)[1:-1])
        return np.digitize(s + 0.3 * noise, edges).astype(float)
    raise ValueError(kind)



# ----------------------------------------------------------------------------------------------
# Scoring rows
# ----------------------------------------------------------------------------------------------

CAT_SPECIALS = [np.nan, -1.0, -3.0, -0.0, 50.0, 1000.0, 16777216.0, 3e7, 2.5, 3.99,
                31.0, 32.0, 33.0, 63.0, 64.0, 16777215.0, np.inf, -np.inf, 0.5]


def scoring_rows(rng, n, nf, thresholds, cat_cols=None, cat_k=None, cat_unseen=None,
                 allow_inf=True, linear=False, make=None):
    """Float32 scoring rows: base data with ~7% missing, then threshold hits and special values."""
    X = make(rng, n) if make else numeric_block(rng, n, nf)
    X = add_missing(rng, X, 0.07)
    cat_cols = cat_cols or []
    num_cols = [j for j in range(nf) if j not in cat_cols]
    X[0, :] = np.nan                                  # all-missing row
    X[1, :] = (make(rng, 1) if make else numeric_block(rng, 1, nf))[0]  # complete row
    r = 2
    # threshold-equal cells (and the float32 just below a threshold)
    if thresholds:
        for _ in range(int(n * 0.45)):
            for _k in range(int(rng.integers(1, 4))):
                f, thr = thresholds[int(rng.integers(len(thresholds)))]
                if rng.uniform() < 0.75:
                    X[r, f] = F32(thr)
                else:
                    X[r, f] = np.nextafter(F32(thr), F32(-np.inf))
            r += 1
    # special numeric values
    specials = [0.0, -0.0, 3e38, -3e38, FLT_MAX, -FLT_MAX, 1e30, -1e30, 1.4e-45, -1e-38]
    if linear:
        specials = [0.0, -0.0, 1e6, -1e6, 1.4e-45, -1e-38, 65504.0]
    elif allow_inf:
        specials += [np.inf, -np.inf, np.inf, -np.inf]
    for sv in specials:
        for _k in range(int(rng.integers(1, 3))):
            f = num_cols[int(rng.integers(len(num_cols)))]
            X[r, f] = F32(sv)
        r += 1
    # special categorical values: every special on every categorical column, a few times
    if cat_cols:
        rows = list(range(r, n))
        i = 0
        for j, c in enumerate(cat_cols):
            vals = list(CAT_SPECIALS) + [float(cat_k[j]), float(cat_k[j] - 1)]
            vals += [float(u) for u in cat_unseen[j]]
            if not allow_inf:
                vals = [v for v in vals if not np.isinf(v)]
            for rep in range(2):
                for v in vals:
                    X[rows[i % len(rows)], c] = F32(v)
                    i += 1
    assert r < n
    return X.astype(F32)


def write_rows_csv(path, X, rng):
    """No header; '%.9g' of float32; missing as a mix of '', 'nan', 'NaN', 'NA' (each at least once)."""
    lines = []
    seen = 0
    for row in X:
        toks = []
        for v in row:
            if np.isnan(v):
                tok = MISSING_TOKENS[seen] if seen < 4 else \
                    MISSING_TOKENS[int(rng.choice(4, p=MISSING_P))]
                seen += 1
                toks.append(tok)
            else:
                toks.append(fmt(v))
        lines.append(",".join(toks))
    Path(path).write_text("\n".join(lines) + "\n")


def write_matrix_csv(path, M, as_int=False):
    M = np.asarray(M)
    if M.ndim == 1:
        M = M.reshape(-1, 1)
    if as_int:
        assert np.all(M == np.round(M))
        lines = [",".join(str(int(v)) for v in row) for row in M]
    else:
        lines = [",".join(fmt(v) for v in row) for row in M]
    Path(path).write_text("\n".join(lines) + "\n")


def no_inf(X):
    return np.nan_to_num(X, nan=np.nan, posinf=FLT_MAX, neginf=-FLT_MAX).astype(F32)


def generate_cases(doc, xgb_version, out, cases, run_case):
    """The start every XGBoost 1.7.4 fixture generator's main shares: with --help or -h print
    doc and return None; warn unless xgb_version is 1.7.4; make out afresh, run
    run_case(spec, summary) for each of cases and write out/MANIFEST (the sorted names of
    summary). Returns summary."""
    if "--help" in sys.argv or "-h" in sys.argv:
        print(doc)
        return None
    if xgb_version != "1.7.4":
        print(f"warning: fixtures are meant to be made with xgboost 1.7.4, this is "
              f"{xgb_version}", file=sys.stderr)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    summary = {}
    for spec in cases:
        run_case(spec, summary)
    (out / "MANIFEST").write_text("".join(n + "\n" for n in sorted(summary)))
    return summary
