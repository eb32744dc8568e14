/*
 * _lmrt.c — the CPython extension module behind the `lmrt` Python package.
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
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <lmrt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Below this much work (rows × (trees + 1)) a call keeps the GIL: releasing and re-taking it
 * costs little when no other thread waits, but when one does, giving the GIL away for a 0.3 µs
 * single row can cost the caller a whole switch interval (5 ms) to get it back. */
#define LMPY_NOGIL_WORK 512

/* ---- errors ------------------------------------------------------------------------------ */

enum { LMPY_NERR = LM__ERRNO_SEQ_END };
static PyObject *lmpy_Error;               /* lmrt.Error */
static PyObject *lmpy_errcls[LMPY_NERR];   /* index -code; [0] unused */

/* Python class name and extra builtin base of each code. Codes added to LM_ERRNO_MAP later get
 * "<NAME>Error" and no extra base. */
static void err_class_name(int code, const char **name, PyObject **base) {
  *base = NULL;
  switch (code) {
  case LM_EINVAL: *name = "InvalidArgumentError"; *base = PyExc_ValueError; return;
  case LM_ENOMEM: *name = "OutOfMemoryError"; *base = PyExc_MemoryError; return;
  case LM_EIO: *name = "IOError"; *base = PyExc_OSError; return;
  case LM_EFORMAT: *name = "FormatError"; *base = PyExc_ValueError; return;
  case LM_EMAGIC: *name = "MagicError"; *base = PyExc_ValueError; return;
  case LM_EVERSION: *name = "VersionError"; *base = PyExc_ValueError; return;
  case LM_ECHECKSUM: *name = "ChecksumError"; *base = PyExc_ValueError; return;
  case LM_EUNSUPPORTED: *name = "UnsupportedError"; return;
  case LM_ENOMODEL: *name = "NoModelError"; *base = PyExc_ValueError; return;
  case LM_ERANGE: *name = "RangeError"; *base = PyExc_ValueError; return;
  case LM_ESELFTEST: *name = "SelfTestError"; return;
  default: *name = NULL; return;
  }
}

/* Raise the class of `code` with "NAME: message: detail"; attributes code, name, message,
 * detail. Returns NULL (for `return raise_lm(...)`). */
static PyObject *raise_lm(int code, const char *detail) {
  if (!detail) detail = "";
  int seq = -code;
  PyObject *cls = (seq > 0 && seq < LMPY_NERR && lmpy_errcls[seq]) ? lmpy_errcls[seq] : lmpy_Error;
  const char *msg = lm_strerror(code), *name = lm_err_name(code);
  PyObject *text = *detail ? PyUnicode_FromFormat("%s: %s: %s", name, msg, detail)
                           : PyUnicode_FromFormat("%s: %s", name, msg);
  if (!text) return NULL;
  PyObject *exc = PyObject_CallOneArg(cls, text);
  Py_DECREF(text);
  if (!exc) return NULL;
  PyObject *v;
  if ((v = PyLong_FromLong(code))) PyObject_SetAttrString(exc, "code", v), Py_DECREF(v);
  if ((v = PyUnicode_FromString(name))) PyObject_SetAttrString(exc, "name", v), Py_DECREF(v);
  if ((v = PyUnicode_FromString(msg))) PyObject_SetAttrString(exc, "message", v), Py_DECREF(v);
  if ((v = PyUnicode_DecodeUTF8(detail, (Py_ssize_t)strlen(detail), "replace")))
    PyObject_SetAttrString(exc, "detail", v), Py_DECREF(v);
  PyErr_Clear(); /* a failed SetAttr above must not mask the error we raise */
  PyErr_SetObject(cls, exc);
  Py_DECREF(exc);
  return NULL;
}

static PyObject *raise_lm_fmt(int code, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return raise_lm(code, buf);
}

static int make_error_classes(PyObject *mod) {
  lmpy_Error = PyErr_NewExceptionWithDoc(
      "lmrt.Error",
      "Base of every error lmrt raises for a failed liblmrt call.\n\n"
      "Attributes: code (the negative LM_E* code), name ('FORMAT'), message (lm_strerror),\n"
      "detail (lm_last_error(): the file and what exactly was wrong).",
      NULL, NULL);
  if (!lmpy_Error || PyModule_AddObjectRef(mod, "Error", lmpy_Error) < 0) return -1;
  for (int seq = 1; seq < LMPY_NERR; seq++) {
    const char *name;
    PyObject *base;
    char buf[64], qual[80], doc[160];
    err_class_name(-seq, &name, &base);
    if (!name) { /* a code newer than this table: LM<NAME>Error */
      snprintf(buf, sizeof buf, "LM%sError", lm_err_name(-seq));
      name = buf;
    }
    snprintf(qual, sizeof qual, "lmrt.%s", name);
    snprintf(doc, sizeof doc, "LM_E%s (%d): %s.", lm_err_name(-seq), -seq, lm_strerror(-seq));
    PyObject *bases = base ? PyTuple_Pack(2, lmpy_Error, base) : PyTuple_Pack(1, lmpy_Error);
    if (!bases) return -1;
    PyObject *dict = Py_BuildValue("{s:i,s:s}", "code", -seq, "name", lm_err_name(-seq));
    if (!dict) return Py_DECREF(bases), -1;
    lmpy_errcls[seq] = PyErr_NewExceptionWithDoc(qual, doc, bases, dict);
    Py_DECREF(bases), Py_DECREF(dict);
    if (!lmpy_errcls[seq] || PyModule_AddObjectRef(mod, name, lmpy_errcls[seq]) < 0) return -1;
  }
  return 0;
}

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

static lm_pool *get_pool(Py_ssize_t threads) {
  if (threads < 0 || threads >= LMPY_MAX_POOLS) {
    raise_lm_fmt(LM_EINVAL, "threads=%zd: expected None or 0..%d (0: every allowed CPU)", threads,
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
    if (rc < 0) return raise_lm(rc, lm_last_error()), NULL;
    lmpy_pools[threads] = p;
  }
  return lmpy_pools[threads];
}

/* ---- lmrt.Model ------------------------------------------------------------------------------ */

typedef struct {
  PyObject_HEAD
  lm_model *m;
  size_t nf, no, nt, w_value, w_margin;
  lm_session **idle; /* idle sessions (GIL-protected stack) */
  size_t n_idle, cap_idle;
  size_t inflight;   /* calls scoring with the GIL released */
  int closed;        /* close() called; m freed when inflight drops to 0 */
  PyObject *path;
  PyObject *names;   /* tuple of str, or None */
  PyObject *types;   /* tuple of 'q'/'c' */
  PyObject *weakrefs;
} ModelObject;

static PyTypeObject Model_Type;

static void model_release(ModelObject *self) {
  for (size_t i = 0; i < self->n_idle; i++) lm_session_free(self->idle[i]);
  self->n_idle = 0;
  PyMem_Free(self->idle);
  self->idle = NULL, self->cap_idle = 0;
  lm_model_close(self->m);
  self->m = NULL;
}

static lm_session *session_get(ModelObject *self) {
  if (self->n_idle) return self->idle[--self->n_idle];
  lm_session *s = NULL;
  int rc = lm_session_new(self->m, &s);
  if (rc < 0) return raise_lm(rc, lm_last_error()), NULL;
  return s;
}

static void session_put(ModelObject *self, lm_session *s) {
  if (self->closed) { /* sessions must be freed before the model */
    lm_session_free(s);
    if (self->inflight == 0) model_release(self);
    return;
  }
  if (self->n_idle == self->cap_idle) {
    size_t cap = self->cap_idle ? 2 * self->cap_idle : 4;
    lm_session **p = PyMem_Realloc(self->idle, cap * sizeof *p);
    if (!p) { lm_session_free(s); return; }
    self->idle = p, self->cap_idle = cap;
  }
  self->idle[self->n_idle++] = s;
}

static int check_open(ModelObject *self) {
  if (self->closed || !self->m) {
    PyErr_SetString(PyExc_ValueError, "lmrt.Model: the model is closed");
    return -1;
  }
  return 0;
}

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
  (void)args, (void)kw;
  ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
  if (!self) return NULL;
  Py_INCREF(Py_None), self->path = Py_None;
  Py_INCREF(Py_None), self->names = Py_None;
  self->types = PyTuple_New(0);
  return (PyObject *)self;
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"path", NULL};
  PyObject *bytes = NULL;
  if (self->m || self->closed) {
    PyErr_SetString(PyExc_RuntimeError, "lmrt.Model: __init__ called twice");
    return -1;
  }
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&:Model", kwlist, PyUnicode_FSConverter, &bytes))
    return -1;
  const char *p = PyBytes_AS_STRING(bytes);
  lm_model *m = NULL;
  int rc;
  char detail[1024] = "";
  Py_BEGIN_ALLOW_THREADS /* mmap + verify + plan: up to milliseconds on large models */
  rc = lm_model_open(p, &m);
  if (rc < 0) snprintf(detail, sizeof detail, "%s", lm_last_error());
  Py_END_ALLOW_THREADS
  if (rc < 0) {
    Py_DECREF(bytes);
    raise_lm(rc, detail);
    return -1;
  }
  self->m = m;
  self->nf = lm_model_num_features(m);
  self->no = lm_model_num_outputs(m);
  self->nt = lm_model_num_trees(m);
  self->w_value = lm_model_output_width(m, 0);
  self->w_margin = lm_model_output_width(m, LM_PREDICT_MARGIN);
  Py_SETREF(self->path, PyUnicode_DecodeFSDefault(p));
  Py_DECREF(bytes);
  if (!self->path) return -1;
  PyObject *types = PyTuple_New((Py_ssize_t)self->nf);
  if (!types) return -1;
  Py_SETREF(self->types, types);
  int have_names = self->nf > 0 && lm_model_feature_name(m, 0) != NULL;
  PyObject *names = have_names ? PyTuple_New((Py_ssize_t)self->nf) : (Py_INCREF(Py_None), Py_None);
  if (!names) return -1;
  Py_SETREF(self->names, names);
  for (size_t i = 0; i < self->nf; i++) {
    char t = lm_model_feature_type(m, i);
    PyObject *o = PyUnicode_FromStringAndSize(&t, 1);
    if (!o) return -1;
    PyTuple_SET_ITEM(types, (Py_ssize_t)i, o);
    if (have_names) {
      const char *n = lm_model_feature_name(m, i);
      o = PyUnicode_DecodeUTF8(n ? n : "", n ? (Py_ssize_t)strlen(n) : 0, "replace");
      if (!o) return -1;
      PyTuple_SET_ITEM(names, (Py_ssize_t)i, o);
    }
  }
  return 0;
}

static void Model_dealloc(ModelObject *self) {
  if (self->weakrefs) PyObject_ClearWeakRefs((PyObject *)self);
  /* inflight is 0 here: a scoring call holds a reference to self. */
  model_release(self);
  Py_XDECREF(self->path);
  Py_XDECREF(self->names);
  Py_XDECREF(self->types);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Turn X into a 2-D (or 1-D: one row) C-contiguous, aligned, native float32 or float64 array
 * with the model's column count. ndarrays that already are so are used as they are (no copy);
 * F-ordered, strided, byte-swapped arrays are copied once; other numeric dtypes are converted
 * to float64 (force_f32: float32) once. Anything not an ndarray (pandas DataFrames, lists) goes
 * through lmrt._frame.as_rows (feature-name matching) first. Returns a new reference. */
static PyObject *lmpy_as_rows_fn;

static PyArrayObject *rows_array(ModelObject *self, PyObject *X, int force_f32) {
  PyObject *src = X;
  Py_INCREF(src);
  if (!PyArray_Check(src)) {
    if (!lmpy_as_rows_fn) {
      PyObject *mod = PyImport_ImportModule("lmrt._frame");
      if (!mod) return Py_DECREF(src), NULL;
      lmpy_as_rows_fn = PyObject_GetAttrString(mod, "as_rows");
      Py_DECREF(mod);
      if (!lmpy_as_rows_fn) return Py_DECREF(src), NULL;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(lmpy_as_rows_fn, (PyObject *)self, src, NULL);
    Py_DECREF(src);
    if (!r) return NULL;
    src = r;
  }
  PyArrayObject *a = (PyArrayObject *)src;
  int tn = PyArray_Check(src) ? PyArray_TYPE(a) : -1;
  int want = force_f32 ? NPY_FLOAT32 : (tn == NPY_FLOAT32 ? NPY_FLOAT32 : NPY_FLOAT64);
  if (!(PyArray_Check(src) && tn == want && PyArray_ISCARRAY_RO(a) && PyArray_ISNOTSWAPPED(a))) {
    /* One copy (or the conversion of a list / other dtype). */
    PyObject *c = PyArray_FromAny(src, PyArray_DescrFromType(want), 0, 0,
                                  NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST,
                                  NULL);
    Py_DECREF(src);
    if (!c) return NULL;
    src = c, a = (PyArrayObject *)c;
  }
  int nd = PyArray_NDIM(a);
  if (nd != 1 && nd != 2) {
    Py_DECREF(src);
    return raise_lm_fmt(LM_EINVAL, "X has %d dimensions: expected rows × features (2-D) or one row (1-D)", nd), NULL;
  }
  npy_intp cols = PyArray_DIM(a, nd - 1);
  if ((size_t)cols != self->nf) {
    Py_DECREF(src);
    const char *path = PyUnicode_Check(self->path) ? PyUnicode_AsUTF8(self->path) : NULL;
    raise_lm_fmt(LM_EINVAL, "X has %zd columns, the model (%s) has %zu features", (Py_ssize_t)cols,
                 path ? path : "?", self->nf);
    return NULL;
  }
  return a;
}

enum { CALL_VALUE, CALL_LEAF };

/* The result array: (n,) for one float column, else (n, w). lm_predict's output buffer must
 * hold n × num_outputs floats even when fewer columns come back (multi:softmax values: the
 * margins of every class are computed in place, then compacted to the class index): then the
 * result is a view of the first n × w floats of a buffer of n × cap. */
static PyObject *new_out(size_t n, size_t w, size_t cap, int type_num) {
  npy_intp dims[2] = {(npy_intp)n, (npy_intp)w};
  int nd = w == 1 && type_num == NPY_FLOAT32 ? 1 : 2;
  if (cap <= w) return PyArray_SimpleNew(nd, dims, type_num);
  npy_intp total = (npy_intp)(n * cap);
  PyObject *buf = PyArray_SimpleNew(1, &total, type_num);
  if (!buf) return NULL;
  PyObject *view = PyArray_SimpleNewFromData(nd, dims, type_num, PyArray_DATA((PyArrayObject *)buf));
  if (!view) return Py_DECREF(buf), NULL;
  if (PyArray_SetBaseObject((PyArrayObject *)view, buf) < 0) return Py_DECREF(view), NULL; /* steals buf */
  return view;
}

static PyObject *Model_score(ModelObject *self, PyObject *X, unsigned flags, PyObject *threads_o,
                             int what) {
  if (check_open(self) < 0) return NULL;
  lm_pool *pool = NULL;
  if (threads_o && threads_o != Py_None) {
    Py_ssize_t t = PyNumber_AsSsize_t(threads_o, PyExc_OverflowError);
    if (t == -1 && PyErr_Occurred()) return NULL;
    if (!(pool = get_pool(t))) return NULL;
  }
  PyArrayObject *a = rows_array(self, X, what == CALL_LEAF);
  if (!a) return NULL;
  size_t n = PyArray_NDIM(a) == 1 ? 1 : (size_t)PyArray_DIM(a, 0);
  int f64 = PyArray_TYPE(a) == NPY_FLOAT64;
  size_t w = what == CALL_LEAF ? self->nt : (flags & LM_PREDICT_MARGIN) ? self->w_margin : self->w_value;
  if (what == CALL_LEAF && self->nt == 0) {
    Py_DECREF(a);
    return raise_lm(LM_EUNSUPPORTED, "predict_leaf: a linear model has no trees");
  }
  PyObject *out = what == CALL_LEAF ? new_out(n, w, w, NPY_UINT32) : new_out(n, w, self->no, NPY_FLOAT32);
  if (!out || n == 0) return Py_DECREF(a), out;
  lm_session *s = session_get(self);
  if (!s) return Py_DECREF(a), Py_DECREF(out), NULL;
  const void *x = PyArray_DATA(a);
  void *o = PyArray_DATA((PyArrayObject *)out);
  int rc;
  char detail[1024];
  detail[0] = 0;
  self->inflight++;
  if (pool || n * (self->nt + 1) >= LMPY_NOGIL_WORK) {
    Py_BEGIN_ALLOW_THREADS
    if (what == CALL_LEAF) rc = lm_predict_leaf(s, x, n, o);
    else if (pool) rc = f64 ? lm_predict_pool_f64(pool, s, x, n, flags, o) : lm_predict_pool(pool, s, x, n, flags, o);
    else rc = f64 ? lm_predict_f64(s, x, n, flags, o) : lm_predict(s, x, n, flags, o);
    if (rc < 0) snprintf(detail, sizeof detail, "%s", lm_last_error());
    Py_END_ALLOW_THREADS
  } else {
    if (what == CALL_LEAF) rc = lm_predict_leaf(s, x, n, o);
    else rc = f64 ? lm_predict_f64(s, x, n, flags, o) : lm_predict(s, x, n, flags, o);
    if (rc < 0) snprintf(detail, sizeof detail, "%s", lm_last_error());
  }
  self->inflight--;
  session_put(self, s);
  Py_DECREF(a);
  if (rc < 0) return Py_DECREF(out), raise_lm(rc, detail);
  return out;
}

/* predict(X, margin=False, threads=None): vectorcall-style argument parsing (the single-row call
 * overhead is what the Python services pay per request). */
static PyObject *Model_predict(ModelObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
  PyObject *X = NULL, *margin = NULL, *threads = NULL;
  if (nargs > 3) return PyErr_Format(PyExc_TypeError, "predict() takes at most 3 positional arguments (%zd given)", nargs);
  if (nargs > 0) X = args[0];
  if (nargs > 1) margin = args[1];
  if (nargs > 2) threads = args[2];
  if (kwnames) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
      PyObject *k = PyTuple_GET_ITEM(kwnames, i), *v = args[nargs + i];
      PyObject **slot = NULL;
      if (PyUnicode_CompareWithASCIIString(k, "X") == 0) slot = &X;
      else if (PyUnicode_CompareWithASCIIString(k, "margin") == 0) slot = &margin;
      else if (PyUnicode_CompareWithASCIIString(k, "threads") == 0) slot = &threads;
      if (!slot) return PyErr_Format(PyExc_TypeError, "predict() got an unexpected keyword argument '%U'", k);
      if (*slot) return PyErr_Format(PyExc_TypeError, "predict() got multiple values for argument '%U'", k);
      *slot = v;
    }
  }
  if (!X) return PyErr_Format(PyExc_TypeError, "predict() missing required argument 'X'");
  unsigned flags = 0;
  if (margin) {
    int t = PyObject_IsTrue(margin);
    if (t < 0) return NULL;
    if (t) flags |= LM_PREDICT_MARGIN;
  }
  return Model_score(self, X, flags, threads, CALL_VALUE);
}

static PyObject *Model_predict_leaf(ModelObject *self, PyObject *X) {
  return Model_score(self, X, 0, NULL, CALL_LEAF);
}

static PyObject *Model_output_width(ModelObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"margin", NULL};
  int margin = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:output_width", kwlist, &margin)) return NULL;
  if (check_open(self) < 0) return NULL;
  return PyLong_FromSize_t(margin ? self->w_margin : self->w_value);
}

static int dict_set(PyObject *d, const char *k, PyObject *v) {
  if (!v) return -1;
  int r = PyDict_SetItemString(d, k, v);
  Py_DECREF(v);
  return r;
}
static PyObject *str_or_none(const char *s) {
  if (!s) Py_RETURN_NONE;
  return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *Model_info(ModelObject *self, PyObject *unused) {
  (void)unused;
  if (check_open(self) < 0) return NULL;
  lm_model_info i;
  memset(&i, 0, sizeof i);
  int rc = lm_model_get_info(self->m, &i);
  if (rc < 0) return raise_lm(rc, lm_last_error());
  PyObject *d = PyDict_New();
  if (!d) return NULL;
  lm_plan_band bands[8];
  const char *notes = NULL;
  size_t nb = lm_model_plan(self->m, bands, 8, &notes);
  if (nb > 8) nb = 8;
  PyObject *plan = PyList_New((Py_ssize_t)nb);
  if (!plan) goto fail;
  for (size_t b = 0; b < nb; b++) {
    PyObject *band = Py_BuildValue("{s:n,s:O,s:N}", "min_rows", (Py_ssize_t)bands[b].min_rows,
                                   "max_rows", Py_None, "kernel", str_or_none(bands[b].kernel));
    if (!band) { Py_DECREF(plan); goto fail; }
    if (bands[b].max_rows != SIZE_MAX &&
        dict_set(band, "max_rows", PyLong_FromSize_t(bands[b].max_rows)) < 0) {
      Py_DECREF(band), Py_DECREF(plan);
      goto fail;
    }
    PyList_SET_ITEM(plan, (Py_ssize_t)b, band);
  }
  if (dict_set(d, "source_format", str_or_none(i.source_format)) < 0 ||
      dict_set(d, "source_version", str_or_none(i.source_version)) < 0 ||
      dict_set(d, "converter", str_or_none(i.converter)) < 0 ||
      dict_set(d, "booster", str_or_none(i.booster)) < 0 ||
      dict_set(d, "objective", str_or_none(i.objective)) < 0 ||
      dict_set(d, "link", str_or_none(i.link)) < 0 ||
      dict_set(d, "source_hash", PyLong_FromUnsignedLongLong(i.source_hash)) < 0 ||
      dict_set(d, "file_size", PyLong_FromUnsignedLongLong(i.file_size)) < 0 ||
      dict_set(d, "format_version", Py_BuildValue("(II)", i.format_major, i.format_minor)) < 0 ||
      dict_set(d, "num_features", PyLong_FromUnsignedLong(i.num_features)) < 0 ||
      dict_set(d, "num_outputs", PyLong_FromUnsignedLong(i.num_outputs)) < 0 ||
      dict_set(d, "num_trees", PyLong_FromUnsignedLong(i.num_trees)) < 0 ||
      dict_set(d, "num_trees_trained", PyLong_FromUnsignedLong(i.num_trees_trained)) < 0 ||
      dict_set(d, "num_nodes", PyLong_FromUnsignedLong(i.num_nodes)) < 0 ||
      dict_set(d, "max_depth", PyLong_FromUnsignedLong(i.max_depth)) < 0 ||
      dict_set(d, "num_categorical_splits", PyLong_FromUnsignedLong(i.num_categorical_splits)) < 0 ||
      dict_set(d, "base_score", PyFloat_FromDouble(i.base_score)) < 0 ||
      dict_set(d, "base_margin", PyFloat_FromDouble(i.base_margin)) < 0 ||
      dict_set(d, "best_iteration", i.best_iteration < 0 ? (Py_INCREF(Py_None), Py_None) : PyLong_FromLongLong(i.best_iteration)) < 0 ||
      dict_set(d, "best_ntree_limit", i.best_ntree_limit < 0 ? (Py_INCREF(Py_None), Py_None) : PyLong_FromLongLong(i.best_ntree_limit)) < 0 ||
      dict_set(d, "kernel", str_or_none(i.kernel)) < 0 ||
      dict_set(d, "link_kernel", str_or_none(i.link_kernel)) < 0 ||
      dict_set(d, "isa", str_or_none(i.isa)) < 0 ||
      dict_set(d, "plan", plan) < 0 ||
      dict_set(d, "plan_notes", str_or_none(notes ? notes : "")) < 0)
    goto fail;
  return d;
fail:
  Py_DECREF(d);
  return NULL;
}

static PyObject *Model_selftest(ModelObject *self, PyObject *unused) {
  (void)unused;
  if (check_open(self) < 0) return NULL;
  int rc;
  char detail[1024] = "";
  self->inflight++;
  Py_BEGIN_ALLOW_THREADS
  rc = lm_model_selftest(self->m);
  if (rc < 0) snprintf(detail, sizeof detail, "%s", lm_last_error());
  Py_END_ALLOW_THREADS
  self->inflight--;
  if (self->closed && self->inflight == 0) model_release(self);
  if (rc < 0) return raise_lm(rc, detail);
  return PyLong_FromLong(rc);
}

static PyObject *Model_close(ModelObject *self, PyObject *unused) {
  (void)unused;
  if (!self->closed) {
    self->closed = 1;
    if (self->inflight == 0) model_release(self);
  }
  Py_RETURN_NONE;
}

static PyObject *Model_enter(ModelObject *self, PyObject *unused) {
  (void)unused;
  if (check_open(self) < 0) return NULL;
  Py_INCREF(self);
  return (PyObject *)self;
}

static PyObject *Model_exit(ModelObject *self, PyObject *args) {
  (void)args;
  return Model_close(self, NULL);
}

static PyObject *Model_repr(ModelObject *self) {
  if (self->closed || !self->m) return PyUnicode_FromFormat("<lmrt.Model %R (closed)>", self->path);
  return PyUnicode_FromFormat("<lmrt.Model %R: %zu features, %zu outputs, %zu trees>", self->path,
                              self->nf, self->no, self->nt);
}

#define GETTER_SIZE(field)                                                                   \
  static PyObject *Model_get_##field(ModelObject *self, void *c) {                           \
    (void)c;                                                                                 \
    if (check_open(self) < 0) return NULL;                                                   \
    return PyLong_FromSize_t(self->field);                                                   \
  }
GETTER_SIZE(nf)
GETTER_SIZE(no)
GETTER_SIZE(nt)
static PyObject *Model_get_names(ModelObject *self, void *c) {
  (void)c;
  Py_INCREF(self->names);
  return self->names;
}
static PyObject *Model_get_types(ModelObject *self, void *c) {
  (void)c;
  Py_INCREF(self->types);
  return self->types;
}
static PyObject *Model_get_path(ModelObject *self, void *c) {
  (void)c;
  Py_INCREF(self->path);
  return self->path;
}
static PyObject *Model_get_closed(ModelObject *self, void *c) {
  (void)c;
  return PyBool_FromLong(self->closed);
}
static PyObject *Model_get_sessions(ModelObject *self, void *c) {
  (void)c;
  return PyLong_FromSize_t(self->n_idle);
}

static PyGetSetDef Model_getset[] = {
    {"num_features", (getter)Model_get_nf, NULL, "Number of feature columns a row has.", NULL},
    {"num_outputs", (getter)Model_get_no, NULL, "Number of outputs (classes for multi-class).", NULL},
    {"num_trees", (getter)Model_get_nt, NULL, "Number of trees (0 for linear models): predict_leaf's columns.", NULL},
    {"feature_names", (getter)Model_get_names, NULL, "Tuple of the feature names, or None when the model has none.", NULL},
    {"feature_types", (getter)Model_get_types, NULL, "Tuple of feature types: 'q' numeric, 'c' categorical.", NULL},
    {"path", (getter)Model_get_path, NULL, "The .lm file the model was opened from.", NULL},
    {"closed", (getter)Model_get_closed, NULL, "True after close().", NULL},
    {"_idle_sessions", (getter)Model_get_sessions, NULL, "Idle pooled sessions (tests).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef Model_methods[] = {
    {"predict", (PyCFunction)(void (*)(void))Model_predict, METH_FASTCALL | METH_KEYWORDS,
     "predict(X, margin=False, threads=None) -> numpy.ndarray\n\n"
     "Score rows. X: a 2-D array (rows × num_features; a 1-D array is one row), float32 or\n"
     "float64 (float64 rows are scored with lm_predict_f64: each model's own decisions for\n"
     "doubles), or a pandas DataFrame (columns matched to feature_names by name). C-contiguous\n"
     "float32/float64 arrays are read in place; F-ordered, strided or byte-swapped arrays and\n"
     "other dtypes (converted to float64) cost one copy. NaN = missing.\n"
     "margin: raw margins instead of transformed values. threads: None scores on the calling\n"
     "thread; k > 0 uses a pool of k threads (the caller included), 0 every allowed CPU (pools\n"
     "are made once per count and kept; small batches stay on the caller).\n"
     "Returns float32: shape (rows,) for one output column, (rows, k) otherwise.\n"
     "The GIL is released while scoring (single calls cheaper than ~512 row-trees keep it)."},
    {"predict_leaf", (PyCFunction)Model_predict_leaf, METH_O,
     "predict_leaf(X) -> numpy.ndarray\n\n"
     "Leaf reached in every tree (the trainer's leaf ids, like XGBoost's pred_leaf): uint32,\n"
     "shape (rows, num_trees). Rows are scored as float32 (float64 input costs one copy).\n"
     "UnsupportedError for linear models."},
    {"output_width", (PyCFunction)(void (*)(void))Model_output_width, METH_VARARGS | METH_KEYWORDS,
     "output_width(margin=False) -> int\n\nColumns predict returns per row."},
    {"info", (PyCFunction)Model_info, METH_NOARGS,
     "info() -> dict\n\nWhat the model is (lm_model_get_info) and its kernel plan\n"
     "(lm_model_plan): 'plan' is a list of {min_rows, max_rows (None: no bound), kernel},\n"
     "largest batches first; 'plan_notes' says why faster kernels were not planned."},
    {"selftest", (PyCFunction)Model_selftest, METH_NOARGS,
     "selftest() -> int\n\nRun the self-test embedded at conversion; returns the rows checked\n"
     "(0: none embedded); SelfTestError on a mismatch."},
    {"close", (PyCFunction)Model_close, METH_NOARGS,
     "close()\n\nRelease the model (deferred until calls running in other threads return)."},
    {"__enter__", (PyCFunction)Model_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Model_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject Model_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lmrt.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_repr = (reprfunc)Model_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(path)\n\n"
              "A .lm model opened with lm_model_open (mapped and verified once). Immutable and\n"
              "safe to share between threads: each scoring call takes a pooled lm_session for\n"
              "its thread. Use as a context manager or call close() to unmap it early.",
    .tp_weaklistoffset = offsetof(ModelObject, weakrefs),
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
    .tp_init = (initproc)Model_init,
    .tp_new = Model_new,
};

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
        raise_lm_fmt(LM_EINVAL, "selftest_expected has %zd rows, selftest_rows %zu",
                     (Py_ssize_t)PyArray_DIM(exp, 0), o.selftest_n);
        goto fail1;
      }
      o.selftest_expected = PyArray_DATA(exp);
      o.selftest_width = PyArray_NDIM(exp) == 1 ? 1 : (size_t)PyArray_DIM(exp, 1);
    }
  } else if (exp_o != Py_None) {
    raise_lm(LM_EINVAL, "selftest_expected given without selftest_rows");
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
    return raise_lm(rc, detail);
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
  return raise_lm(code, detail);
}

/* _c_loop(model, row, calls) -> ns per call: lm_predict on one float32 row, `calls` times in a C
 * loop, timed in C. The reference of bindings/bench_overhead.py, measured in the same process
 * and interleaved with the Python calls, so that a busy machine slows both alike. */
static PyObject *lmpy_c_loop(PyObject *mod, PyObject *args) {
  (void)mod;
  PyObject *mo, *ro;
  long calls;
  if (!PyArg_ParseTuple(args, "O!Ol:_c_loop", &Model_Type, &mo, &ro, &calls)) return NULL;
  ModelObject *self = (ModelObject *)mo;
  if (check_open(self) < 0) return NULL;
  PyArrayObject *a = rows_array(self, ro, 1);
  if (!a) return NULL;
  float *out = PyMem_Malloc((self->no + 1) * sizeof *out);
  lm_session *s = out ? session_get(self) : NULL;
  if (!s) {
    Py_DECREF(a), PyMem_Free(out);
    return out ? NULL : PyErr_NoMemory();
  }
  const float *x = PyArray_DATA(a);
  struct timespec t0, t1;
  int rc = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < calls; i++) rc |= lm_predict(s, x, 1, 0, out);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  session_put(self, s);
  Py_DECREF(a), PyMem_Free(out);
  if (rc < 0) return raise_lm(rc, lm_last_error());
  double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
  return PyFloat_FromDouble(calls > 0 ? ns / (double)calls : 0.0);
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
  if (PyType_Ready(&Model_Type) < 0) return NULL;
  if (pthread_atfork(NULL, NULL, lmpy_forget_pools) != 0) {
    PyErr_SetString(PyExc_RuntimeError, "lmrt: pthread_atfork failed");
    return NULL;
  }
  PyObject *mod = PyModule_Create(&lmpy_module);
  if (!mod) return NULL;
  if (make_error_classes(mod) < 0 || PyModule_AddObjectRef(mod, "Model", (PyObject *)&Model_Type) < 0 ||
      PyModule_AddStringConstant(mod, "lmrt_version", LM_VERSION_STRING) < 0 ||
      PyModule_AddIntConstant(mod, "NOGIL_WORK", LMPY_NOGIL_WORK) < 0) {
    Py_DECREF(mod);
    return NULL;
  }
  return mod;
}
