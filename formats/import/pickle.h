/*
 * pickle.h — a walker for Python pickles that never executes them (formats/import/pickle.c):
 * it turns the opcodes of protocols 0–5 (and joblib's arrays written after the pickle stream)
 * into a tree of inert values, for importers of pickled models (xgboost_pickle.c, pickled.c,
 * sklearn.c). Globals are names only, checked against an allow-list when they are read; objects
 * are a class with its arguments and BUILD state, never constructed. numpy arrays and dtypes are
 * recognised and decoded into views of the input's bytes (lm_pv.nd), never copied.
 */
#ifndef LM_FORMATS_IMPORT_PICKLE_H
#define LM_FORMATS_IMPORT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

enum lm_pv_kind {
  LM_PV_NONE,
  LM_PV_BOOL,
  LM_PV_INT,
  LM_PV_BIGINT, /* an int beyond 64 bits: its value is not kept */
  LM_PV_FLOAT,  /* value in d */
  LM_PV_STR,
  LM_PV_BYTES,
  LM_PV_TUPLE,
  LM_PV_LIST,
  LM_PV_DICT,
  LM_PV_SET,
  LM_PV_GLOBAL,
  LM_PV_OBJ,
  LM_PV_DTYPE,   /* a numpy dtype (dt_*) */
  LM_PV_NDARRAY, /* a numpy array (nd_*) */
};

#define LM_ND_MAXDIM 8

/* A value; every pointer stays valid until lm__pickle_free. */
typedef struct lm_pv lm_pv;
struct lm_pv {
  uint8_t kind;      /* enum lm_pv_kind */
  uint8_t bytearray; /* LM_PV_BYTES: it was a bytearray */
  int64_t i;         /* LM_PV_INT, LM_PV_BOOL */
  double d;          /* LM_PV_FLOAT */
  size_t at;         /* byte offset of the opcode that made it (of the decompressed stream) */
  const uint8_t *s;  /* LM_PV_STR (UTF-8), LM_PV_BYTES, LM_PV_GLOBAL (module) */
  size_t len;
  const uint8_t *s2; /* LM_PV_GLOBAL: name */
  size_t len2;
  lm_pv **items; /* LM_PV_TUPLE, LM_PV_LIST, LM_PV_SET; LM_PV_DICT: key, value, key, value, … */
  size_t n, cap;
  lm_pv *cls, *args, *state; /* LM_PV_OBJ */
  /* LM_PV_DTYPE: kind 'f' float, 'i' signed, 'u' unsigned, 'b' bool, 'V' structured (fields in
   * dt_fields: the dtype's BUILD dict name → (dtype, offset[, title])), 'O' objects, others
   * kept as their letter; itemsize in bytes; big-endian. */
  char dt_kind;
  uint8_t dt_big;
  uint32_t dt_size;
  const lm_pv *dt_fields;
  /* LM_PV_NDARRAY: dtype (an LM_PV_DTYPE), shape, element count, Fortran order, and the raw
   * bytes (nd_count × itemsize, from the input) — or, for dtype 'O', nd_count values in objs
   * (in the stored order). */
  const lm_pv *nd_dtype;
  uint32_t nd_ndim;
  uint8_t nd_fortran;
  uint64_t nd_shape[LM_ND_MAXDIM];
  uint64_t nd_count;
  const uint8_t *nd_data;
  lm_pv **nd_objs;
  uint8_t *owned;    /* decoded bytes this value owns */
  lm_pv *next_alloc; /* every value, for freeing */
};

typedef struct lm_pickle lm_pickle;

/* Walk data[0, len) up to its STOP opcode; *result is the value STOP pops. name is the input
 * for messages ("model.pkl: byte 5: pickle opcode 0x50 (PERSID) is not supported"). *pk owns
 * every value: lm__pickle_free it whatever the result (it may be NULL on LM_ENOMEM).
 * Globals must be on the allow-list (pickle.c: the classes of the models lmconvert reads and
 * the numpy/joblib/builtins helpers their pickles use); any other is refused where it is read,
 * naming it. joblib's arrays (NumpyArrayWrapper, their bytes after the wrapper's BUILD) are
 * read in place. */
int lm__pickle_load(const uint8_t *data, size_t len, const char *name, lm_pickle **pk,
                    const lm_pv **result);
void lm__pickle_free(lm_pickle *pk);

/* v is the str lit / the global module.name / builtins.name (or __builtin__.name). */
int lm__pv_str_is(const lm_pv *v, const char *lit);
int lm__pv_global_is(const lm_pv *g, const char *module, const char *name);
/* v is an object whose class is module.name. */
int lm__pv_obj_is(const lm_pv *v, const char *module, const char *name);
/* The class name (after the module) of an object, or "" . */
int lm__pv_obj_name_is(const lm_pv *v, const char *name);
/* The value of key (a str) in dict d, or NULL. */
const lm_pv *lm__pv_dict_get(const lm_pv *d, const char *key);
/* An object's state dict (BUILD state, or the dict of a (dict, slots) state), or NULL. */
const lm_pv *lm__pv_state(const lm_pv *obj);
/* "a dict", "None", … and "an object of class xgboost.sklearn.XGBClassifier" (printable, at
 * most ~140 characters, in buf) for messages. */
const char *lm__pv_kind_name(const lm_pv *v);
const char *lm__pv_describe(const lm_pv *v, char *buf, size_t n);

/* Element i (in stored order) of a numeric array (dtype f, i, u or b) as a double; field at
 * byte offset off of a structured element with the field's dtype fdt (NULL: the array's own
 * dtype, off 0). Integers beyond 2^53 are rounded. The caller has checked i < nd_count. */
double lm__nd_get(const lm_pv *a, uint64_t i, const lm_pv *fdt, uint32_t off);
/* Element i of an integer array (or field) as int64 (uint64 values above INT64_MAX: INT64_MAX). */
int64_t lm__nd_get_i(const lm_pv *a, uint64_t i, const lm_pv *fdt, uint32_t off);
/* The flat stored index of element (r, c) of a 2-D array (C or Fortran order). */
uint64_t lm__nd_at2(const lm_pv *a, uint64_t r, uint64_t c);
/* Field name of a structured dtype: its dtype and offset; 0, or -1 when absent / malformed. */
int lm__dt_field(const lm_pv *dt, const char *name, const lm_pv **fdt, uint32_t *off);

#endif
