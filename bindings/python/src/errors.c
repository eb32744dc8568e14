/*
 * errors.c — lmrt.Error and its subclasses for the extension module (lmpy.h): one class per
 * LM_E* code (LM_ERRNO_MAP), with a builtin base where one fits (ValueError, MemoryError,
 * OSError), raised with lm_strerror() and lm_last_error()'s detail.
 */
#include "lmpy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


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

PyObject *lmpy_raise(int code, const char *detail) {
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

PyObject *lmpy_raise_fmt(int code, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return lmpy_raise(code, buf);
}

int lmpy_make_error_classes(PyObject *mod) {
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
