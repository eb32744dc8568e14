/*
 * _lmrt.c — the CPython extension module behind the `lmrt` Python package: the module, its
 * functions and thread pools (lmrt.Model: model.c; errors: errors.c; shared: lmpy.h).
 *
 * A thin layer over the public C API (include/lmrt.h): lmrt.Model wraps an lm_model, predict()
 * scores NumPy arrays in place (float32 rows go to lm_predict, float64 rows to lm_predict_f64,
 * no copy when the rows are C-contiguous, aligned and native-endian) into a new float32 array,
 * and errors become lmrt.Error subclasses, one per LM_E* code, carrying lm_last_error().
 *
 * Libraries and why:
 *   - Python.h (python3-dev): the extension API; the GIL is released around scoring.
 *   - numpy/arrayobject.h (python3-numpy): arrays in and out without copies.
 *   - liblmrt (linked statically, see setup.py): the runtime this module exposes.
 *   - liblmconvert (linked statically): lm_convert, for lmrt.convert().
 *
 * Sessions: an lm_session is scratch space for one thread at a time. Each Model keeps a stack of
 * idle sessions; a call pops one (or creates one) while it holds the GIL, scores with the GIL
 * released, and pushes it back once it holds the GIL again. The GIL therefore protects the stack
 * and a session is never used by two threads at once; a server with N threads scoring at the
 * same time ends up with N sessions. Model.close() while other threads are scoring is deferred
 * until the last of them returns (the in-flight count, also protected by the GIL).
 */
#define LMPY_IMPORT_ARRAY /* import_array() below fills NumPy's API table for every file */
#include "lmpy.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- thread pools (threads=k) ------------------------------------------------------------- */

/* One lm_pool per requested thread count, made on first use and kept for the process (a pool
 * is a set of pinned, sleeping threads; making one per call would cost milliseconds). The GIL
 * protects the table; lm_predict_pool itself serialises concurrent batches on a pool. */
#define LMPY_MAX_POOLS 257
static lm_pool *lmpy_pools[LMPY_MAX_POOLS];

/* In a child of fork() (gunicorn --preload, multiprocessing) the pools' workers do not exist:
 * the child forgets the parent's pools (their memory is left alone: freeing would join threads
 * that are not there) and makes its own on first use. */
static void lmpy_forget_pools(void) { memset(lmpy_pools, 0, sizeof lmpy_pools); }

lm_pool *lmpy_get_pool(Py_ssize_t threads) {
  if (threads < 0 || threads >= LMPY_MAX_POOLS) {
    lmpy_raise_fmt(LM_EINVAL, "threads=%zd: expected None or 0..%d (0: every allowed CPU)", threads,
                 LMPY_MAX_POOLS - 1);
    return NULL;
  }
  if (!lmpy_pools[threads]) {
    lm_pool_options o;
    memset(&o, 0, sizeof o);
    o.threads = (size_t)threads;
    o.pin = LM_POOL_PIN_NODE;
    o.numa = LM_POOL_NUMA_AUTO;
    lm_pool *p = NULL;
    int rc = lm_pool_new(&o, &p);
    if (rc < 0) return lmpy_raise(rc, lm_last_error()), NULL;
    lmpy_pools[threads] = p;
  }
  return lmpy_pools[threads];
}

/* ---- module functions ------------------------------------------------------------------------ */

static PyObject *lmpy_convert(PyObject *mod, PyObject *args, PyObject *kw) {
  (void)mod;
  static char *kwlist[] = {"src", "dst", "member", "all_trees", "quiet", "selftest_rows",
                           "selftest_expected", NULL};
  PyObject *src = NULL, *dst = NULL, *rows_o = Py_None, *exp_o = Py_None;
  const char *member = NULL;
  int all_trees = 0, quiet = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&|$zppOO:convert", kwlist, PyUnicode_FSConverter,
                                   &src, PyUnicode_FSConverter, &dst, &member, &all_trees, &quiet,
                                   &rows_o, &exp_o))
    goto fail0;
  lm_convert_options o;
  memset(&o, 0, sizeof o);
  o.member = member, o.all_trees = all_trees, o.quiet = quiet;
  PyArrayObject *rows = NULL, *exp = NULL;
  if (rows_o != Py_None) {
    rows = (PyArrayObject *)PyArray_FromAny(rows_o, PyArray_DescrFromType(NPY_FLOAT64), 2, 2,
                                            NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
    if (!rows) goto fail0;
    o.selftest_rows = PyArray_DATA(rows);
    o.selftest_n = (size_t)PyArray_DIM(rows, 0);
    o.selftest_features = (size_t)PyArray_DIM(rows, 1);
    if (exp_o != Py_None) {
      exp = (PyArrayObject *)PyArray_FromAny(exp_o, PyArray_DescrFromType(NPY_FLOAT32), 1, 2,
                                             NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST, NULL);
      if (!exp) goto fail1;
      if ((size_t)PyArray_DIM(exp, 0) != o.selftest_n) {
        lmpy_raise_fmt(LM_EINVAL, "selftest_expected has %zd rows, selftest_rows %zu",
                     (Py_ssize_t)PyArray_DIM(exp, 0), o.selftest_n);
        goto fail1;
      }
      o.selftest_expected = PyArray_DATA(exp);
      o.selftest_width = PyArray_NDIM(exp) == 1 ? 1 : (size_t)PyArray_DIM(exp, 1);
    }
  } else if (exp_o != Py_None) {
    lmpy_raise(LM_EINVAL, "selftest_expected given without selftest_rows");
    goto fail0;
  }
  int rc;
  char detail[1024] = "";
  const char *sp = PyBytes_AS_STRING(src), *dp = PyBytes_AS_STRING(dst);
  Py_BEGIN_ALLOW_THREADS
  rc = lm_convert(sp, dp, &o);
  if (rc < 0) snprintf(detail, sizeof detail, "%s", lm_last_error());
  Py_END_ALLOW_THREADS
  Py_XDECREF(rows), Py_XDECREF(exp);
  if (rc < 0) {
    Py_DECREF(src), Py_DECREF(dst);
    return lmpy_raise(rc, detail);
  }
  Py_DECREF(src);
  PyObject *r = PyUnicode_DecodeFSDefault(dp);
  Py_DECREF(dst);
  return r;
fail1:
  Py_XDECREF(rows), Py_XDECREF(exp);
fail0:
  Py_XDECREF(src), Py_XDECREF(dst);
  return NULL;
}

static PyObject *lmpy_cpus_allowed(PyObject *mod, PyObject *unused) {
  (void)mod, (void)unused;
  return PyLong_FromSize_t(lm_cpus_allowed(NULL, 0));
}

static PyObject *lmpy_make_error(PyObject *mod, PyObject *args) {
  (void)mod;
  int code;
  const char *detail;
  if (!PyArg_ParseTuple(args, "is:_raise", &code, &detail)) return NULL;
  return lmpy_raise(code, detail);
}

static PyMethodDef lmpy_methods[] = {
    {"_c_loop", lmpy_c_loop, METH_VARARGS,
     "_c_loop(model, row, calls) -> float: ns per lm_predict call on one row, looped in C "
     "(benchmarks)."},
    {"convert", (PyCFunction)(void (*)(void))lmpy_convert, METH_VARARGS | METH_KEYWORDS,
     "convert(src, dst, *, member=None, all_trees=False, quiet=True, selftest_rows=None,\n"
     "        selftest_expected=None) -> str\n\n"
     "What lmconvert does (lm_convert from liblmconvert): read a trained artifact\n"
     "(model.tar.gz, .tar, or a raw XGBoost/LightGBM/Linear Learner model; format sniffed)\n"
     "and write a .lm file at dst, atomically. selftest_rows (rows × features) embeds a\n"
     "self-test; selftest_expected its expected values (None: computed by the reference\n"
     "scorer). Returns dst. The GIL is released while converting."},
    {"cpus_allowed", lmpy_cpus_allowed, METH_NOARGS,
     "cpus_allowed() -> int\n\nCPUs this process may use (affinity, cgroup cpuset and quota):\n"
     "the thread count of predict(..., threads=0)."},
    {"_raise", lmpy_make_error, METH_VARARGS, "_raise(code, detail): raise the class of code."},
    {NULL, NULL, 0, NULL}};

static void lmpy_free(void *mod) {
  (void)mod;
  for (int i = 0; i < LMPY_MAX_POOLS; i++) {
    lm_pool_free(lmpy_pools[i]);
    lmpy_pools[i] = NULL;
  }
}

static struct PyModuleDef lmpy_module = {
    PyModuleDef_HEAD_INIT, .m_name = "lmrt._lmrt",
    .m_doc = "The C extension behind the lmrt package (liblmrt, liblmconvert).",
    .m_size = -1, .m_methods = lmpy_methods, .m_free = lmpy_free};

PyMODINIT_FUNC PyInit__lmrt(void) {
  import_array();
  if (PyType_Ready(&lmpy_Model_Type) < 0) return NULL;
  if (pthread_atfork(NULL, NULL, lmpy_forget_pools) != 0) {
    PyErr_SetString(PyExc_RuntimeError, "lmrt: pthread_atfork failed");
    return NULL;
  }
  PyObject *mod = PyModule_Create(&lmpy_module);
  if (!mod) return NULL;
  if (lmpy_make_error_classes(mod) < 0 || PyModule_AddObjectRef(mod, "Model", (PyObject *)&lmpy_Model_Type) < 0 ||
      PyModule_AddStringConstant(mod, "lmrt_version", LM_VERSION_STRING) < 0 ||
      PyModule_AddIntConstant(mod, "NOGIL_WORK", LMPY_NOGIL_WORK) < 0) {
    Py_DECREF(mod);
    return NULL;
  }
  return mod;
}
