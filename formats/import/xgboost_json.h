/*
 * xgboost_json.h — the XGBoost JSON model reader's internals (xgboost_json.c reads the model;
 * xgboost_json_dom.c gives it typed access to the json-c document with the JSON path of every
 * value in its errors). Private to those two files; the JSON and UBJSON entry points are in
 * import.h.
 */
#ifndef LM_FORMATS_IMPORT_XGBOOST_JSON_H
#define LM_FORMATS_IMPORT_XGBOOST_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "formats/import/import.h"
#include "formats/objective.h"
#include "base/error.h"

/* Sanity cap on num_class / num_target: larger values are rejected (LM_ERANGE) so that a tiny
 * file cannot make later stages allocate per-output arrays of billions of entries. */
#define XJ_MAX_OUTPUTS (1u << 20)
/* JSON paths in messages are built in buffers of this size (longer paths are truncated). */
#define XJ_PATH 256

/* Trees read one at a time instead of from the document (xgboost_stream.c, xgboost_ubj.c): the
 * document's trees array at path (".trees" of "learner.gradient_booster.model" or of
 * "learner.gradient_booster.gbtree.model") was left empty when the document was built, and
 * get(ctx, i, &tree) builds tree i alone (the caller puts it). get returns LM_OK, an LM_E* error,
 * or LM_XJ_FALLBACK: the bytes are not what the fast path expects, read the whole document. */
#define LM_XJ_FALLBACK 1
typedef struct xj_trees {
  const char *path;
  size_t n;
  int (*get)(void *ctx, size_t i, json_object **out);
  void *ctx;
} xj_trees;

typedef struct xj {
  const char *name; /* input name for messages */
  const xj_trees *stream; /* NULL: every tree is in the document */
  lm_ir_model *ir;  /* the model being built (owned; freed on error by the caller) */
  size_t cat_cap;   /* capacity of ir->cat_values */
  float *bases;     /* learner_model_param.base_score's values (3.1+: one per output) */
  size_t n_bases;
  uint32_t vec;     /* leaf vector size of the trees read so far: 0 none yet, 1 scalar leaves,
                       > 1 vector leaves (multi_strategy multi_output_tree), each tree read as
                       vec scalar trees */
} xj;

/* Where a value sits, base[.key][[idx]]: formatted only when an error is reported, so that
 * walking millions of array elements costs no string formatting. */
typedef struct xat {
  const char *base, *key;
  size_t idx;
  int indexed;
} xat;
#define AT(base, key, i) ((xat){(base), (key), (i), 1})

/* A document whose trees array at trees->path was left empty (trees: how to build each) → IR;
 * LM_XJ_FALLBACK when a tree's bytes need the whole-document reader (see xj_trees). */
int lm__xgboost_dom_import_trees(json_object *root, const char *name, const char *format,
                                 const xj_trees *trees, lm_ir_model **out);

/* JSON text → IR through one DOM of the whole document (xgboost_json.c): what the streaming
 * reader (xgboost_stream.c, lm__import_xgboost_json) falls back to. */
int lm__import_xgboost_json_whole(const uint8_t *data, size_t len, const char *name,
                                  lm_ir_model **out);

/* "name: path: message". */
int lm__xj_fail(const xj *c, int code, const char *path, const char *fmt, ...) LM__PRINTF(4, 5);

/* "number", "object", … for messages. */
const char *lm__xj_type_name(json_object *o);

/* "parent.key", "parent[i]" and an xat's path into dst (XJ_PATH bytes; "..." when cut). */
const char *lm__xj_path_key(char *dst, const char *parent, const char *key);
const char *lm__xj_path_idx(char *dst, const char *parent, size_t i);
const char *lm__xj_at_str(char *dst, xat a);

/* obj.key with type want (json_type_double also accepts integers). Missing: LM_EFORMAT if
 * required, else *out = NULL. */
int lm__xj_get_field(const xj *c, json_object *obj, const char *path, const char *key,
                     enum json_type want, int required, json_object **out);

/* A float32 from a JSON number, converted from the number's original text (see the file
 * comment). */
int lm__xj_num_to_float(const xj *c, json_object *v, xat at, float *out);

/* An integer in [lo, hi] from a JSON integer; out of range: range_code. json-c saturates
 * integers beyond int64 (and uint64) range, which then fail the range check. */
int lm__xj_num_to_int(const xj *c, json_object *v, xat at, int64_t lo, int64_t hi, int range_code,
                      int64_t *out);

/* obj.key as a string holding an integer in [lo, hi]; absent and not required: *out = dflt. */
int lm__xj_field_str_int(const xj *c, json_object *obj, const char *path, const char *key,
                         int required, int64_t dflt, int64_t lo, int64_t hi, int64_t *out);

/* xgboost_json.c / xgboost_json_v3.c: JSON white space. */
static inline int lm__xj_is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}
/* xgboost_json_v3.c: learner_model_param.base_score (a number or a 3.1+ vector string) into
 * c's per-output base scores; then, once the objective is known, the model's base score (and
 * intercept trees when the outputs' differ). */
int lm__xj_parse_base_score(xj *c, json_object *v, const char *path);
int lm__xj_apply_base_scores(xj *c, const lm_objective *o);
/* xgboost_json_v3.c: a vector-leaf tree's T values per leaf (*out: n_nodes × T floats). */
int lm__xj_vector_leaves(xj *c, json_object *tree, const char *tpath, const lm_ir_tree *t,
                         uint32_t T, const int32_t *lidx, size_t n_lw_leaves, json_object *lw,
                         float **out);
/* xgboost_json_v3.c: the 3.1+ categories container (refused when not empty) and
 * iteration_indptr (rounds of per_round trees). */
int lm__xj_check_cats(xj *c, json_object *model, const char *mpath);
int lm__xj_check_indptr(xj *c, json_object *model, const char *mpath, size_t nt, size_t per_round);

#endif
