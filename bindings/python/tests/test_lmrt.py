#!/usr/bin/python3
"""Tests of the lmrt Python package (run by `make check-bindings` with Debian's /usr/bin/python3
and the package installed into a scratch directory on PYTHONPATH).

- parity: the 31 XGBoost fixtures of tests/fixtures/xgb (made by tests/gen_fixtures.py with
  Debian's XGBoost 1.7.4): batches of float32 and float64 rows, margins, one row per call and
  leaf indices against XGBoost's recorded outputs, and against a live xgboost.Booster loaded
  from the same model.json: bit-identical for tree models (gblinear within 1e-6 relative);
- inputs: F-ordered, strided, byte-swapped, 1-D, empty, int, list and DataFrame inputs;
- threads: many Python threads on one model; threads=k pools;
- memory: 1M single-row calls with no growth of the resident set;
- the GIL: another thread runs while a large batch scores;
- errors: lmrt.Error subclasses with lm_last_error()'s detail; convert().

Environment: LM_SRC (the lmrt tree), LM_BIN (its build/bin).
"""

import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import lmrt

SRC = os.environ.get("LM_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
BIN = os.environ.get("LM_BIN") or os.path.join(SRC, "build", "bin")
FIX = os.path.join(SRC, "tests", "fixtures", "xgb")
FLT_MAX = float(np.finfo(np.float32).max)


def read_csv(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            rows.append([float("nan") if c in ("", "nan", "NaN", "NA") else float(c)
                         for c in line.split(",")])
    return np.array(rows, dtype=np.float64)


class Fixture:
    def __init__(self, name, tmp):
        import json
        d = os.path.join(FIX, name)
        self.name, self.dir = name, d
        with open(os.path.join(d, "meta.json")) as fh:
            self.meta = json.load(fh)
        self.lm = os.path.join(tmp, name + ".lm")
        subprocess.run([os.path.join(BIN, "lmconvert"), "-q", os.path.join(d, "model.json"),
                        "-o", self.lm], check=True)
        self.model = lmrt.Model(self.lm)
        self.x64 = read_csv(os.path.join(d, "input.csv"))
        self.x32 = self.x64.astype(np.float32)
        self.value = read_csv(os.path.join(d, "expected_value.csv")).astype(np.float32)
        self.margin = read_csv(os.path.join(d, "expected_margin.csv")).astype(np.float32)
        lp = os.path.join(d, "expected_leaf.csv")
        self.leaf = read_csv(lp) if os.path.exists(lp) else None
        self.linear = self.meta["booster"] == "gblinear"


_tmp = tempfile.mkdtemp(prefix="lmrt-py-")
_fixtures = None


def fixtures():
    global _fixtures
    if _fixtures is None:
        with open(os.path.join(FIX, "MANIFEST")) as fh:
            names = fh.read().split()
        _fixtures = [Fixture(n, _tmp) for n in names]
    return _fixtures


def fixture(name):
    return next(f for f in fixtures() if f.name == name)


def example_model():
    p = os.path.join(_tmp, "example.lm")
    if not os.path.exists(p):
        subprocess.run([os.path.join(BIN, "lmconvert"), "-q",
                        os.path.join(SRC, "examples", "model.tar.gz"), "-o", p], check=True)
    return p


def flat(a):
    return np.asarray(a, dtype=np.float32).reshape(len(a), -1)


class Stats:
    outputs = 0
    bitexact = 0


class TestParity(unittest.TestCase):
    def check(self, f, got, want, what):
        got, want = flat(got), flat(want)
        self.assertEqual(got.shape, want.shape, "%s %s" % (f.name, what))
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        Stats.outputs += same.size
        Stats.bitexact += int(same.sum())
        if f.linear:
            tol = 1e-6 * np.maximum(1.0, np.abs(want.astype(np.float64)))
            bad = ~same & ~(np.abs(got.astype(np.float64) - want) <= tol)
        else:
            bad = ~same
        if bad.any():
            i = np.argwhere(bad)[0]
            self.fail("%s %s: %d outputs differ; first at %s: lmrt %.9g, xgboost %.9g"
                      % (f.name, what, int(bad.sum()), tuple(i), got[tuple(i)], want[tuple(i)]))

    def test_fixtures(self):
        for f in fixtures():
            m = f.model
            self.assertEqual(m.num_features, f.meta["num_features"])
            self.assertEqual(m.num_outputs, f.meta["num_outputs"])
            self.check(f, m.predict(f.x32), f.value, "value f32")
            self.check(f, m.predict(f.x64), f.value, "value f64")
            self.check(f, m.predict(f.x32, margin=True), f.margin, "margin f32")
            self.check(f, m.predict(f.x64, True), f.margin, "margin f64")
            one = np.concatenate([flat(m.predict(f.x32[r:r + 1])) for r in range(len(f.x32))])
            self.check(f, one, f.value, "value, one row per call")
            if f.leaf is not None:
                leaf = m.predict_leaf(f.x32)
                self.assertEqual(leaf.dtype, np.uint32)
                np.testing.assert_array_equal(leaf.astype(np.float64), f.leaf, f.name)
            else:
                with self.assertRaises(lmrt.UnsupportedError):
                    m.predict_leaf(f.x32)
        print("\nparity: %d fixtures, %d outputs, %d bit-identical to XGBoost's recorded outputs"
              % (len(fixtures()), Stats.outputs, Stats.bitexact), file=sys.stderr)

    def test_live_xgboost(self):
        """Against Debian's xgboost itself, loading the same model.json."""
        import xgboost as xgb
        n = 0
        for f in fixtures():
            if "c" in f.model.feature_types:
                continue  # categorical: covered by the recorded outputs (feature_types needed)
            bst = xgb.Booster(model_file=os.path.join(f.dir, "model.json"))
            bst.set_param({"nthread": 1})
            x = np.clip(f.x32, -FLT_MAX, FLT_MAX)  # DMatrix refuses inf; same routing
            dm = xgb.DMatrix(x, missing=np.nan)
            self.check(f, f.model.predict(x), bst.predict(dm), "live value")
            self.check(f, f.model.predict(x, margin=True), bst.predict(dm, output_margin=True),
                       "live margin")
            n += 1
        self.assertGreater(n, 20)


class TestLightGBM(unittest.TestCase):
    def test_real_models_f64(self):
        """The 8 real LightGBM models (tests/fixtures/lightgbm/real): float64 rows go to
        lm_predict_f64, LightGBM's own double comparisons: margins equal LightGBM's rounded to
        float32, values within 1e-6 relative (as tests/test_lightgbm.c)."""
        base = os.path.join(SRC, "tests", "fixtures", "lightgbm")
        with open(os.path.join(base, "MANIFEST")) as fh:
            names = [ln.split()[1] for ln in fh if ln.startswith("real ")]
        self.assertEqual(len(names), 8)
        outputs = 0
        for name in names:
            d = os.path.join(base, "real", name)
            lm = os.path.join(_tmp, "lgbm-%s.lm" % name)
            subprocess.run([os.path.join(BIN, "lmconvert"), "-q", os.path.join(d, "model.txt"),
                            "-o", lm], check=True)
            m = lmrt.Model(lm)
            x = read_csv(os.path.join(d, "input.csv"))
            want_m = read_csv(os.path.join(d, "expected_margin.csv"))
            want_v = read_csv(os.path.join(d, "expected_value.csv"))
            got_m = flat(m.predict(x, margin=True))
            got_v = flat(m.predict(x)).astype(np.float64)
            wm = want_m.astype(np.float32).reshape(got_m.shape)
            np.testing.assert_array_equal(got_m, wm, name)
            wv = want_v.reshape(got_v.shape)
            err = np.abs(got_v - wv) / np.maximum(1.0, np.abs(wv))
            ok = (err <= 1e-6) | (got_v == wv.astype(np.float32)) | (np.isnan(got_v) & np.isnan(wv))
            self.assertTrue(ok.all(), "%s: %d values off" % (name, int((~ok).sum())))
            outputs += got_m.size + got_v.size
        print("\nlightgbm: 8 real models, %d outputs as LightGBM's (float64 rows)" % outputs,
              file=sys.stderr)


class TestInputs(unittest.TestCase):
    def setUp(self):
        self.f = fixture("multi_softprob4")
        self.m = self.f.model
        self.ref = self.m.predict(self.f.x32)

    def test_layouts(self):
        x = self.f.x32
        self.assertEqual(self.ref.shape, (len(x), 4))
        self.assertEqual(self.ref.dtype, np.float32)
        np.testing.assert_array_equal(self.m.predict(np.asfortranarray(x)), self.ref)
        big = np.zeros((len(x), 2 * x.shape[1]), np.float32)
        big[:, ::2] = x
        np.testing.assert_array_equal(self.m.predict(big[:, ::2]), self.ref)  # strided
        np.testing.assert_array_equal(self.m.predict(x.astype(">f4")), self.ref)  # byte-swapped
        np.testing.assert_array_equal(self.m.predict(x[3]), self.ref[3:4])  # 1-D: one row
        np.testing.assert_array_equal(self.m.predict(x.tolist()), self.ref)  # list -> float64
        self.assertEqual(self.m.predict(x[:0]).shape, (0, 4))
        xi = np.clip(np.nan_to_num(x, nan=0, posinf=0, neginf=0), -1e6, 1e6).astype(np.int32)
        np.testing.assert_array_equal(self.m.predict(xi), self.m.predict(xi.astype(np.float64)))
        self.assertEqual(self.m.output_width(), 4)
        sm = fixture("multi_softmax3").model
        self.assertEqual(sm.predict(fixture("multi_softmax3").x32).ndim, 1)
        self.assertEqual(sm.predict(fixture("multi_softmax3").x32, margin=True).shape[1], 3)

    def test_no_copy(self):
        """C-contiguous float32/float64 input is read in place: the output is the only new array
        (checked through the allocation high-water mark of a large batch)."""
        import tracemalloc
        x = np.repeat(self.f.x32, 2000, axis=0)  # 300k rows
        self.m.predict(x[:10])
        tracemalloc.start()
        out = self.m.predict(x)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self.assertLess(peak, out.nbytes + x.nbytes // 4, "input was copied")
        tracemalloc.start()
        self.m.predict(np.asfortranarray(x))
        peak_f = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        self.assertGreater(peak_f, x.nbytes)  # F-ordered: one copy

    def test_shape_errors(self):
        with self.assertRaises(lmrt.InvalidArgumentError) as c:
            self.m.predict(np.zeros((2, 3), np.float32))
        self.assertIn("3 columns", str(c.exception))
        self.assertIsInstance(c.exception, ValueError)
        with self.assertRaises(lmrt.InvalidArgumentError):
            self.m.predict(np.zeros((2, 2, 2)))
        with self.assertRaises(TypeError):
            self.m.predict(self.f.x32, bogus=1)

    def test_threads_param(self):
        x = np.repeat(self.f.x32, 40, axis=0)
        for t in (1, 2, 3, 0):
            np.testing.assert_array_equal(self.m.predict(x, threads=t), self.m.predict(x))
        np.testing.assert_array_equal(self.m.predict(x.astype(np.float64), threads=2),
                                      self.m.predict(x.astype(np.float64)))
        with self.assertRaises(lmrt.InvalidArgumentError):
            self.m.predict(x, threads=-1)


class TestPandas(unittest.TestCase):
    def test_dataframe(self):
        import pandas as pd
        m = lmrt.Model(example_model())
        names = list(m.feature_names)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(50, len(names))).astype(np.float32)
        ref = m.predict(x)
        df = pd.DataFrame(x, columns=names)
        np.testing.assert_array_equal(m.predict(df), ref)
        np.testing.assert_array_equal(m.predict(df[names[::-1]]), ref)  # reordered by name
        np.testing.assert_array_equal(m.predict(df.astype(np.float64)), m.predict(x.astype(np.float64)))
        with self.assertRaises(lmrt.InvalidArgumentError) as c:
            m.predict(df.drop(columns=[names[2]]).assign(foo=1.0, bar=2.0))
        msg = str(c.exception)
        self.assertIn("missing column " + names[2], msg)
        self.assertIn("extra columns foo, bar", msg)
        # Categorical dtype: scored by its codes (as XGBoost with enable_categorical).
        dfc = df.copy()
        dfc[names[3]] = pd.Categorical.from_codes(np.arange(50) % 4, categories=["a", "b", "c", "d"])
        xc = x.astype(np.float64).copy()
        xc[:, 3] = np.arange(50) % 4
        np.testing.assert_array_equal(m.predict(dfc), m.predict(xc))


class TestThreads(unittest.TestCase):
    def test_many_threads_one_model(self):
        fs = [fixture("binary_logistic"), fixture("multi_softprob4"), fixture("dart_binary_logistic")]
        errors = []

        def work(k):
            try:
                for it in range(300):
                    f = fs[(k + it) % len(fs)]
                    r = (k * 13 + it) % (len(f.x32) - 4)
                    n = 1 + it % 4
                    got = flat(f.model.predict(f.x32[r:r + n]))
                    if not np.array_equal(got, flat(f.value[r:r + n]), equal_nan=True):
                        errors.append("thread %d it %d: %s differs" % (k, it, f.name))
                        return
                    big = f.model.predict(f.x32, threads=2 if k % 4 == 0 else None)
                    if not np.array_equal(flat(big), flat(f.value), equal_nan=True):
                        errors.append("thread %d: batch differs" % k)
                        return
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))

        ts = [threading.Thread(target=work, args=(k,)) for k in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        for f in fs:  # sessions pooled: at most one per concurrent caller, all returned
            self.assertLessEqual(f.model._idle_sessions, 16)
            self.assertGreaterEqual(f.model._idle_sessions, 1)

    def test_pool_after_fork(self):
        """threads=k in a forked child whose parent already made that pool (gunicorn
        --preload): the child's workers are not there; the module forgets the parent's pools
        in the child (pthread_atfork) and makes its own. (Before that, the child scored alone:
        lm_predict_pool's caller claims the blocks no worker takes, so it did not hang here.)"""
        m = lmrt.Model(example_model())
        x = np.random.default_rng(4).normal(size=(200000, m.num_features)).astype(np.float32)
        want = m.predict(x, threads=2)  # large enough to be split between the pool's threads
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                got = m.predict(x, threads=2)
                code = 0 if np.array_equal(got, want, equal_nan=True) else 2
            finally:
                os._exit(code)
        deadline = time.time() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.time() > deadline:
                os.kill(pid, 9)
                self.fail("the forked child hung in predict(threads=2)")
            time.sleep(0.01)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    def test_close_while_scoring(self):
        m = lmrt.Model(example_model())
        x = np.random.default_rng(1).normal(size=(400000, m.num_features)).astype(np.float32)
        res = {}
        t = threading.Thread(target=lambda: res.setdefault("out", m.predict(x)))
        t.start()
        time.sleep(0.005)
        m.close()  # deferred until the scoring thread returns
        t.join()
        self.assertEqual(res["out"].shape, (len(x),))
        self.assertTrue(m.closed)
        with self.assertRaises(ValueError):
            m.predict(x[:1])

    def test_gil_released(self):
        """A second Python thread keeps running while one large batch scores."""
        m = lmrt.Model(example_model())
        x = np.random.default_rng(2).normal(size=(1000000, m.num_features)).astype(np.float32)
        m.predict(x[:1000])
        for attempt in range(3):
            stop = threading.Event()
            ticks = []

            def spin():
                while not stop.is_set():
                    ticks.append(time.perf_counter())

            t = threading.Thread(target=spin)
            t.start()
            time.sleep(0.01)
            t0 = time.perf_counter()
            m.predict(x)
            t1 = time.perf_counter()
            stop.set()
            t.join()
            inside = sum(1 for v in ticks if t0 < v < t1)
            if inside >= 1000:
                break
        print("\nGIL: %d iterations of another thread during a %.0f ms predict"
              % (inside, (t1 - t0) * 1e3), file=sys.stderr)
        self.assertGreaterEqual(inside, 1000, "the other thread did not run during predict()")


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class TestMemory(unittest.TestCase):
    def test_no_growth_1m_single_rows(self):
        f = fixture("binary_logistic")
        m, x = f.model, f.x32
        rows = [x[i:i + 1].copy() for i in range(len(x))]
        rows64 = [r.astype(np.float64) for r in rows]
        for r in rows * 100:  # warm-up: sessions, arenas, allocator pools
            m.predict(r)
        gc.collect()
        before = rss_kb()
        t0 = time.perf_counter()
        n = 0
        for _ in range(1000000 // (2 * len(rows))):
            for r in rows:
                m.predict(r)
            for r in rows64:
                m.predict(r, True)
            n += 2 * len(rows)
        dt = time.perf_counter() - t0
        gc.collect()
        after = rss_kb()
        print("\nmemory: %d single-row calls (%.2f us each), RSS %d -> %d kB"
              % (n, dt / n * 1e6, before, after), file=sys.stderr)
        self.assertGreaterEqual(n, 990000)
        if os.environ.get("LMRT_TEST_SAN"):
            return  # ASan's quarantine keeps freed memory resident: RSS says nothing here
        self.assertLess(after - before, 512, "resident memory grew by %d kB" % (after - before))


class TestLoading(unittest.TestCase):
    def test_cpp_modules_after_lmrt(self):
        """C++ extension modules imported after lmrt allocate consistently (setup.py: libstdc++
        first, ahead of libmimalloc's operator new): a fresh interpreter imports lmrt, then
        scipy's and xgboost's C++ modules, and uses them."""
        code = ("import lmrt, numpy as np, scipy.spatial, xgboost as xgb\n"
                "d = scipy.spatial.distance.cdist(np.ones((50, 3)), np.zeros((40, 3)))\n"
                "b = xgb.train({'nthread': 1}, xgb.DMatrix(np.eye(20), label=np.arange(20)), 3)\n"
                "print(float(d.sum()), b.predict(xgb.DMatrix(np.eye(20))).shape)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=dict(os.environ))
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])


class TestErrorsAndInfo(unittest.TestCase):
    def test_errors(self):
        with self.assertRaises(lmrt.IOError) as c:
            lmrt.Model("/nonexistent/m.lm")
        e = c.exception
        self.assertEqual((e.code, e.name), (-3, "IO"))
        self.assertIsInstance(e, OSError)
        self.assertIn("/nonexistent/m.lm", e.detail)
        bad = os.path.join(_tmp, "bad.lm")
        with open(bad, "wb") as fh:
            fh.write(b"not a model" * 20)
        with self.assertRaises(lmrt.MagicError) as c:
            lmrt.Model(bad)
        self.assertIn(bad, str(c.exception))
        self.assertIsInstance(c.exception, lmrt.Error)
        self.assertEqual(lmrt.MagicError.code, -5)
        # A truncated real model: a checksum or format error, with the detail.
        with open(fixture("binary_logistic").lm, "rb") as fh:
            good = fh.read()
        trunc = os.path.join(_tmp, "trunc.lm")
        with open(trunc, "wb") as fh:
            fh.write(good[: len(good) // 2])
        with self.assertRaises(lmrt.Error) as c:
            lmrt.Model(trunc)
        self.assertTrue(c.exception.detail)
        for code in range(-1, -12, -1):
            self.assertTrue(any(getattr(lmrt, n).__dict__.get("code") == code
                                for n in lmrt.__all__ + ["IOError"]
                                if n.endswith("Error") and n != "Error"), code)

    def test_info(self):
        m = lmrt.Model(example_model())
        i = m.info()
        self.assertEqual(i["objective"], "binary:logistic")
        self.assertEqual(i["num_features"], m.num_features)
        self.assertEqual(i["num_trees"], m.num_trees)
        self.assertEqual(i["source_format"], "xgboost-json")
        self.assertTrue(i["plan"] and i["plan"][-1]["min_rows"] == 1)
        self.assertIsNone(i["plan"][0]["max_rows"])
        self.assertIn(i["kernel"], [b["kernel"] for b in i["plan"]])
        self.assertEqual(len(m.feature_names), m.num_features)
        self.assertEqual(set(m.feature_types), {"q"})
        self.assertEqual(fixture("cat_onehot").model.feature_types.count("c") > 0, True)
        self.assertIsNone(fixture("binary_logistic").model.feature_names)
        with lmrt.Model(example_model()) as m2:
            self.assertFalse(m2.closed)
        self.assertTrue(m2.closed)
        self.assertIn("closed", repr(m2))

    def test_convert(self):
        out = os.path.join(_tmp, "conv.lm")
        x = np.random.default_rng(3).normal(size=(8, 20))
        r = lmrt.convert(os.path.join(SRC, "examples", "model.tar.gz"), out, selftest_rows=x)
        self.assertEqual(r, out)
        m = lmrt.Model(out)
        self.assertEqual(m.selftest(), 8)
        ref = lmrt.Model(example_model())
        np.testing.assert_array_equal(m.predict(x), ref.predict(x))
        with self.assertRaises(lmrt.Error) as c:
            lmrt.convert(os.path.join(FIX, "MANIFEST"), os.path.join(_tmp, "no.lm"))
        self.assertIn("MANIFEST", str(c.exception))
        self.assertFalse(os.path.exists(os.path.join(_tmp, "no.lm")))


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(_tmp, ignore_errors=True)
