/*
 * linear_learner.h — what the two halves of the SageMaker Linear Learner importer share
 * (linear_learner.c: the artifact's members, the params and the IR; linear_learner_graph.c: the
 * MXNet symbol graph and the checks that it is the linear model we know). Private to them.
 */
#ifndef LM_FORMATS_IMPORT_LINEAR_LEARNER_H
#define LM_FORMATS_IMPORT_LINEAR_LEARNER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "formats/import/import.h"
#include "formats/import/mxnet_ndarray.h"
#include "formats/import/zip.h"
#include "base/cursor.h"
#include "base/error.h"

/* Limits on untrusted input. */
#define LL_MAX_MEMBERS 64                 /* ZIP entries (Linear Learner writes 4) */
#define LL_MAX_JSON ((size_t)16 << 20)    /* a JSON member (real ones: < 1 KiB) */
#define LL_MAX_PARAMS ((uint64_t)1 << 30) /* the params member: LM_DEFAULT_MAX_INPUT */
#define LL_MAX_NODES 1024                 /* symbol graph nodes (real ones: 7) */
#define LL_MAX_OUTPUTS (1u << 16)         /* classes of a multiclass model */

#define SYMBOL_MEMBER "mx-mod-symbol.json"
#define PARAMS_MEMBER "mx-mod-0000.params"
#define MANIFEST_MEMBER "manifest.json"
#define ADDPARAMS_MEMBER "additional-params.json"

typedef struct ll {
  const char *name;            /* input name for messages */
  lm_zip zip;                  /* the members */
  const lm_zip_member *params; /* the chosen params member */
} ll;

/* "<input>: <fmt…>". */
int lm__ll_fail(const ll *c, int code, const char *fmt, ...) LM__PRINTF(3, 4);

/* A NUL-terminated untrusted string for a message (base/cursor.h). */
static inline const char *lm__ll_printable(char *dst, size_t n, const char *src) {
  return lm__printable(dst, n, src, strlen(src));
}

/* o[key], or NULL. */
static inline json_object *lm__ll_get(json_object *o, const char *key) {
  json_object *v = NULL;
  return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* predictor_type in additional-params.json, and the graph output operator each implies. */
enum ll_pred { PRED_BINARY, PRED_REGRESSOR, PRED_MULTICLASS };
extern const char *const lm__ll_pred_names[3];
extern const char *const lm__ll_pred_ops[3];

typedef struct sym_node {
  const char *op, *name;
  json_object *attrs; /* "attrs" (MXNet ≥ 0.9), else "attr"/"param" (older), or NULL */
  size_t n_in;
  uint32_t in[4]; /* input node ids (first 4) */
} sym_node;

typedef struct sym {
  size_t n;
  sym_node *nodes;
  uint32_t head;
  char version[32]; /* "mxnet 1.3.1" or "" */
} sym;

/* The roles of the seven nodes of the accepted graph. */
typedef struct ll_graph {
  uint32_t out, add, dot, data, weight, bias, label;
  int pred; /* enum ll_pred implied by the output operator */
} ll_graph;

int lm__ll_sym_parse(const ll *c, json_object *root, sym *g);
int lm__ll_graph_check(const ll *c, const sym *g, ll_graph *r);
int lm__ll_shape_attr_check(const ll *c, const sym *g, uint32_t i, const lm_nd_array *a);

#endif
