/*
 * pickle.h — a walker for Python pickles that never executes them (formats/import/pickle.c):
 * it turns the opcodes of protocols 2–5 into a tree of inert values, for importers of pickled
 * models (xgboost_pickle.c today; scikit-learn / joblib next). Globals are names only, objects
 * are a class with its arguments and BUILD state, never constructed.
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
  LM_PV_FLOAT,  /* its value is not kept */
  LM_PV_STR,
  LM_PV_BYTES,
  LM_PV_TUPLE,
  LM_PV_LIST,
  LM_PV_DICT,
  LM_PV_SET,
  LM_PV_GLOBAL,
  LM_PV_OBJ
};

/* A value; every pointer stays valid until lm__pickle_free. */
typedef struct lm_pv lm_pv;
struct lm_pv {
  uint8_t kind;      /* enum lm_pv_kind */
  uint8_t bytearray; /* LM_PV_BYTES: it was a bytearray */
  int64_t i;         /* LM_PV_INT, LM_PV_BOOL */
  const uint8_t *s;  /* LM_PV_STR (UTF-8), LM_PV_BYTES, LM_PV_GLOBAL (module) */
  size_t len;
  const uint8_t *s2; /* LM_PV_GLOBAL: name */
  size_t len2;
  lm_pv **items; /* LM_PV_TUPLE, LM_PV_LIST, LM_PV_SET; LM_PV_DICT: key, value, key, value, … */
  size_t n, cap;
  lm_pv *cls, *args, *state; /* LM_PV_OBJ */
  uint8_t *owned;            /* decoded bytes this value owns */
  lm_pv *next_alloc;         /* every value, for freeing */
};

typedef struct lm_pickle lm_pickle;

/* Walk data[0, len) up to its STOP opcode; *result is the value STOP pops. name is the input
 * for messages ("model.pkl: byte 5: pickle opcode 0x69 (INST) is not supported"). *pk owns
 * every value: lm__pickle_free it whatever the result (it may be NULL on LM_ENOMEM). */
int lm__pickle_load(const uint8_t *data, size_t len, const char *name, lm_pickle **pk,
                    const lm_pv **result);
void lm__pickle_free(lm_pickle *pk);

/* v is the str lit / the global module.name / builtins.name (or __builtin__.name). */
int lm__pv_str_is(const lm_pv *v, const char *lit);
int lm__pv_global_is(const lm_pv *g, const char *module, const char *name);
/* The value of key (a str) in dict d, or NULL. */
const lm_pv *lm__pv_dict_get(const lm_pv *d, const char *key);
/* "a dict", "None", … and "an object of class xgboost.sklearn.XGBClassifier" (printable, at
 * most ~140 characters, in buf) for messages. */
const char *lm__pv_kind_name(const lm_pv *v);
const char *lm__pv_describe(const lm_pv *v, char *buf, size_t n);

#endif
