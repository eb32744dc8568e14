/*
 * lmpy.h — what the C files of the extension module lmrt._lmrt (_lmrt.c: the module, its
 * functions and thread pools; model.c: lmrt.Model; errors.c: lmrt.Error and its subclasses)
 * share. Include first (it includes Python.h); NumPy's C API table is one for the module,
 * filled by import_array() in _lmrt.c (which defines LMPY_IMPORT_ARRAY before including this).
 */
#ifndef LMPY_H
#define LMPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL lmpy_ARRAY_API
#ifndef LMPY_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include <lmrt.h>

/* Below this much work (rows × (trees + 1)) a call keeps the GIL: releasing and re-taking it
 * costs little when no other thread waits, but when one does, giving the GIL away for a 0.3 µs
 * single row can cost the caller a whole switch interval (5 ms) to get it back. */
#define LMPY_NOGIL_WORK 512

/* errors.c: lmrt.Error and one subclass per LM_E* code, added to the module. */
int lmpy_make_error_classes(PyObject *mod);
/* Raise the class of `code` with "NAME: message: detail"; attributes code, name, message,
 * detail. Returns NULL (for `return lmpy_raise(...)`). */
PyObject *lmpy_raise(int code, const char *detail);
PyObject *lmpy_raise_fmt(int code, const char *fmt, ...);

/* _lmrt.c: the process's lm_pool of `threads` threads (0: every allowed CPU), made on first
 * use; NULL with an exception set. */
lm_pool *lmpy_get_pool(Py_ssize_t threads);

/* model.c: the type lmrt.Model, and _c_loop(model, row, calls) (a module function). */
extern PyTypeObject lmpy_Model_Type;
PyObject *lmpy_c_loop(PyObject *mod, PyObject *args);

#endif
