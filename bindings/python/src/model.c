/*
 * model.c — lmrt.Model for the extension module (lmpy.h): open a .lm file, score NumPy arrays
 * (or anything lmrt._frame.as_rows turns into rows) with pooled sessions, with the GIL released
 * for batches (sessions: _lmrt.c's opening comment), describe the model; and _c_loop, the C
 * reference of the single-row overhead benchmark.
 */
#include "lmpy.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

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
  if (rc < 0) return lmpy_raise(rc, lm_last_error()), NULL;
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
    lmpy_raise(rc, detail);
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
    return lmpy_raise_fmt(LM_EINVAL, "X has %d dimensions: expected rows × features (2-D) or one row (1-D)", nd), NULL;
  }
  npy_intp cols = PyArray_DIM(a, nd - 1);
  if ((size_t)cols != self->nf) {
    Py_DECREF(src);
    const char *path = PyUnicode_Check(self->path) ? PyUnicode_AsUTF8(self->path) : NULL;
    lmpy_raise_fmt(LM_EINVAL, "X has %zd columns, the model (%s) has %zu features", (Py_ssize_t)cols,
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
    if (!(pool = lmpy_get_pool(t))) return NULL;
  }
  PyArrayObject *a = rows_array(self, X, what == CALL_LEAF);
  if (!a) return NULL;
  size_t n = PyArray_NDIM(a) == 1 ? 1 : (size_t)PyArray_DIM(a, 0);
  int f64 = PyArray_TYPE(a) == NPY_FLOAT64;
  size_t w = what == CALL_LEAF ? self->nt : (flags & LM_PREDICT_MARGIN) ? self->w_margin : self->w_value;
  if (what == CALL_LEAF && self->nt == 0) {
    Py_DECREF(a);
    return lmpy_raise(LM_EUNSUPPORTED, "predict_leaf: a linear model has no trees");
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
  if (rc < 0) return Py_DECREF(out), lmpy_raise(rc, detail);
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
  if (rc < 0) return lmpy_raise(rc, lm_last_error());
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
      dict_set(d, "num_factors", PyLong_FromUnsignedLong(i.num_factors)) < 0 ||
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
  if (rc < 0) return lmpy_raise(rc, detail);
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
#define GETTER_OBJ(field)                                                                    \
  static PyObject *Model_get_##field(ModelObject *self, void *c) {                           \
    (void)c;                                                                                 \
    Py_INCREF(self->field);                                                                  \
    return self->field;                                                                      \
  }
GETTER_OBJ(names)
GETTER_OBJ(types)
GETTER_OBJ(path)
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

PyTypeObject lmpy_Model_Type = {
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

/* _c_loop(model, row, calls) -> ns per call: lm_predict on one float32 row, `calls` times in a C
 * loop, timed in C. The reference of bindings/bench_overhead.py, measured in the same process
 * and interleaved with the Python calls, so that a busy machine slows both alike. */
PyObject *lmpy_c_loop(PyObject *mod, PyObject *args) {
  (void)mod;
  PyObject *mo, *ro;
  long calls;
  if (!PyArg_ParseTuple(args, "O!Ol:_c_loop", &lmpy_Model_Type, &mo, &ro, &calls)) return NULL;
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
  if (rc < 0) return lmpy_raise(rc, lm_last_error());
  double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
  return PyFloat_FromDouble(calls > 0 ? ns / (double)calls : 0.0);
}
