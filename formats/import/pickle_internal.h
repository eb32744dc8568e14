/*
 * pickle_internal.h — private to the pickle walker: what pickle.c (the opcode walk) and
 * pickle_numpy.c (numpy dtypes, arrays, scalars and joblib's array wrapper) share — the walker's
 * state, its error macros, and the functions one file calls in the other. Importers use
 * pickle.h, never this header.
 */
#ifndef LM_FORMATS_IMPORT_PICKLE_INTERNAL_H
#define LM_FORMATS_IMPORT_PICKLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "formats/import/pickle.h"
#include "base/cursor.h"
#include "base/error.h"

typedef lm_pv pv;

typedef struct lm_pickle {
  lm_cursor c;  /* the input; c.at is the opcode being executed: errors are at the opcode */
  char fld[32]; /* "pickle opcode NAME", the field of operand reads */
  pv *all;      /* allocation list */
  pv **stack;
  size_t sp, stack_cap;
  size_t *marks;
  size_t nmarks, marks_cap;
  pv **memo;
  size_t memo_n, memo_cap;
  uint8_t op;
  uint8_t nested; /* inside joblib's nested pickle of an object array */
} pk;

/* Both expect a `pk *k` in scope. */
#define OOM() lm__fail(LM_ENOMEM, "%s: out of memory", k->c.name)
#define FAIL(code, ...) lm__cur_fail(&k->c, code, __VA_ARGS__)

/* pickle.c: a new value of `kind` on k's allocation list (NULL when out of memory). */
pv *lm__pk_pv_new(pk *k, uint8_t kind);
/* pickle.c: a text operand line (protocol 0), without its end of line. */
int lm__pk_line(pk *k, const uint8_t **s, size_t *len);
/* pickle_text.c: an opcode's name ("BININT"), for messages. */
const char *lm__pk_op_name(uint8_t op);
/* pickle_text.c: the STRING/UNICODE and FLOAT text operands (protocol 0). */
int lm__pk_text_str(pk *k, pv **out);
int lm__pk_text_float(pk *k, pv **out);
/* pickle.c: runs the walk from k->c's position to STOP; *result the value on top. */
int lm__pk_run(pk *k, pv **result);

/* pickle_numpy.c: numpy.dtype(descr). */
int lm__np_dtype(pk *k, const pv *descr, pv **out);
/* pickle_numpy.c: a dtype's BUILD state. */
int lm__np_dtype_build(pk *k, pv *dt, const pv *st);
/* pickle_numpy.c: shape tuple → a's shape and element count. */
int lm__np_shape(pk *k, pv *a, const pv *shape);
/* pickle_numpy.c: a's elements from bytes or a list of objects. */
int lm__np_data(pk *k, pv *a, const pv *dt, const pv *data);
/* pickle_numpy.c: an ndarray's BUILD state (after _reconstruct). */
int lm__np_array_build(pk *k, pv *a, const pv *st);
/* pickle_numpy.c: joblib's NumpyArrayWrapper BUILD, reading the array from the stream. */
int lm__joblib_array(pk *k, pv *w, const pv *st);
/* pickle_numpy.c: numpy.core.multiarray.scalar(dtype, bytes) → a number, or NULL. */
pv *lm__np_scalar(pk *k, const pv *args);

#endif
