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

#include "formats/import/mxnet_zip.h"

/* Limits on untrusted input (with mxnet_zip.h's). */
#define LL_MAX_NODES 1024                 /* symbol graph nodes (real ones: 7) */
#define LL_MAX_OUTPUTS (1u << 16)         /* classes of a multiclass model */

#define SYMBOL_MEMBER "mx-mod-symbol.json"
#define PARAMS_MEMBER "mx-mod-0000.params"
#define MANIFEST_MEMBER "manifest.json"
#define ADDPARAMS_MEMBER "additional-params.json"

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
