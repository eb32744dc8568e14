/*
 * linear_learner_graph.c — the MXNet symbol graph of a Linear Learner model (mx-mod-symbol.json):
 * its nodes parsed from json-c (op, name, inputs, attributes in every MXNet spelling), then
 * checked to be exactly the graph Linear Learner writes — data · weight + bias into one output
 * operator, nothing else — with each node's role recorded (ll_graph), and a variable's
 * "__shape__" attribute checked against its params array. Every refusal names the node and
 * what was found (linear_learner.c has the whole format).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/linear_learner.h"

/* ---- the symbol graph ------------------------------------------------------------------ */

int lm__ll_sym_parse(const ll *c, json_object *root, sym *g) {
  const char *M = SYMBOL_MEMBER;
  json_object *nodes = lm__ll_get(root, "nodes");
  if (!nodes || !json_object_is_type(nodes, json_type_array))
    return lm__ll_fail(c, LM_EFORMAT, "%s: nodes: missing or not an array", M);
  size_t n = json_object_array_length(nodes);
  if (n == 0 || n > LL_MAX_NODES)
    return lm__ll_fail(c, LM_EFORMAT, "%s: nodes: %zu nodes (expected 1..%d)", M, n, LL_MAX_NODES);
  g->nodes = calloc(n, sizeof *g->nodes);
  if (!g->nodes) return lm__ll_fail(c, LM_ENOMEM, "out of memory");
  g->n = n;
  for (size_t i = 0; i < n; i++) {
    json_object *nd = json_object_array_get_idx(nodes, i);
    sym_node *s = &g->nodes[i];
    if (!json_object_is_type(nd, json_type_object))
      return lm__ll_fail(c, LM_EFORMAT, "%s: nodes[%zu]: not an object", M, i);
    json_object *op = lm__ll_get(nd, "op"), *nm = lm__ll_get(nd, "name"),
                *in = lm__ll_get(nd, "inputs");
    if (!op || !json_object_is_type(op, json_type_string))
      return lm__ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].op: missing or not a string", M, i);
    if (!nm || !json_object_is_type(nm, json_type_string))
      return lm__ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].name: missing or not a string", M, i);
    if (!in || !json_object_is_type(in, json_type_array))
      return lm__ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].inputs: missing or not an array", M, i);
    s->op = json_object_get_string(op);
    s->name = json_object_get_string(nm);
    s->attrs = lm__ll_get(nd, "attrs");
    if (!s->attrs) s->attrs = lm__ll_get(nd, "attr");
    if (!s->attrs) s->attrs = lm__ll_get(nd, "param");
    if (s->attrs && !json_object_is_type(s->attrs, json_type_object))
      return lm__ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].attrs: not an object", M, i);
    s->n_in = json_object_array_length(in);
    for (size_t j = 0; j < s->n_in; j++) {
      json_object *e = json_object_array_get_idx(in, j);
      size_t el = json_object_is_type(e, json_type_array) ? json_object_array_length(e) : 0;
      json_object *id = el ? json_object_array_get_idx(e, 0) : NULL;
      json_object *ix = el > 1 ? json_object_array_get_idx(e, 1) : NULL;
      if ((el != 2 && el != 3) || !json_object_is_type(id, json_type_int) ||
          !json_object_is_type(ix, json_type_int))
        return lm__ll_fail(c, LM_EFORMAT,
                           "%s: nodes[%zu].inputs[%zu]: not [node, output(, version)]", M, i, j);
      int64_t v = json_object_get_int64(id), o = json_object_get_int64(ix);
      /* Nodes are in topological order: inputs come earlier. */
      if (v < 0 || (uint64_t)v >= i)
        return lm__ll_fail(c, LM_EFORMAT,
                           "%s: nodes[%zu].inputs[%zu]: node %" PRId64 " is not an earlier node", M,
                           i, j, v);
      if (o != 0)
        return lm__ll_fail(c, LM_EUNSUPPORTED,
                           "%s: nodes[%zu].inputs[%zu]: output %" PRId64 " of node %" PRId64
                           " (only single-output operators are expected)",
                           M, i, j, o, v);
      if (j < 4) s->in[j] = (uint32_t)v;
    }
  }
  json_object *heads = lm__ll_get(root, "heads");
  json_object *h0 =
      heads && json_object_is_type(heads, json_type_array) && json_object_array_length(heads) == 1
          ? json_object_array_get_idx(heads, 0)
          : NULL;
  json_object *hid =
      h0 && json_object_is_type(h0, json_type_array) && json_object_array_length(h0) >= 2
          ? json_object_array_get_idx(h0, 0)
          : NULL;
  if (!hid || !json_object_is_type(hid, json_type_int))
    return lm__ll_fail(c, LM_EFORMAT, "%s: heads: expected exactly one output [node, 0, 0]", M);
  int64_t h = json_object_get_int64(hid);
  if (h < 0 || (uint64_t)h >= n)
    return lm__ll_fail(c, LM_EFORMAT, "%s: heads[0]: node %" PRId64 " out of range (%zu nodes)", M,
                       h, n);
  g->head = (uint32_t)h;
  /* attrs.mxnet_version: ["int", 10301] = 1.3.1 */
  json_object *ga = lm__ll_get(root, "attrs"), *mv = ga ? lm__ll_get(ga, "mxnet_version") : NULL;
  if (mv && json_object_is_type(mv, json_type_array) && json_object_array_length(mv) == 2) {
    json_object *v = json_object_array_get_idx(mv, 1);
    int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
    if (x > 0 && x < 100000000)
      snprintf(g->version, sizeof g->version, "mxnet %d.%d.%d", (int)(x / 10000),
               (int)(x / 100 % 100), (int)(x % 100));
  }
  return LM_OK;
}

static int node_is(const ll *c, const sym *g, uint32_t i, const char *want, const char *ctx) {
  char p[64];
  const sym_node *s = &g->nodes[i];
  if (!strcmp(s->op, want)) return LM_OK;
  if (!strcmp(s->op, "null"))
    return lm__ll_fail(c, LM_EUNSUPPORTED,
                       "%s node %u is the variable '%s' where operator %s was "
                       "expected (%s)",
                       SYMBOL_MEMBER, i, lm__ll_printable(p, sizeof p, s->name), want, ctx);
  return lm__ll_fail(c, LM_EUNSUPPORTED,
                     "unsupported operator '%s' in %s node %u (expected %s, %s)",
                     lm__ll_printable(p, sizeof p, s->op), SYMBOL_MEMBER, i, want, ctx);
}

static int node_inputs(const ll *c, const sym *g, uint32_t i, size_t want) {
  if (g->nodes[i].n_in == want) return LM_OK;
  return lm__ll_fail(c, LM_EUNSUPPORTED, "%s node %u (%s) has %zu inputs, expected %zu",
                     SYMBOL_MEMBER, i, g->nodes[i].op, g->nodes[i].n_in, want);
}

static int node_var(const ll *c, const sym *g, uint32_t i, const char *role) {
  char p[64];
  if (!strcmp(g->nodes[i].op, "null")) return LM_OK;
  return lm__ll_fail(c, LM_EUNSUPPORTED,
                     "unsupported operator '%s' in %s node %u (expected the variable %s)",
                     lm__ll_printable(p, sizeof p, g->nodes[i].op), SYMBOL_MEMBER, i, role);
}

/* A boolean operator attribute that must be false if present ("False", "false", "0"). */
static int attr_false(const ll *c, const sym *g, uint32_t i, const char *key) {
  const sym_node *s = &g->nodes[i];
  json_object *v = s->attrs ? lm__ll_get(s->attrs, key) : NULL;
  if (!v) return LM_OK;
  const char *t = json_object_get_string(v);
  if (json_object_is_type(v, json_type_string) &&
      (!strcmp(t, "False") || !strcmp(t, "false") || !strcmp(t, "0")))
    return LM_OK;
  char p[64];
  return lm__ll_fail(c, LM_EUNSUPPORTED, "%s node %u (dot): %s=%s is not supported", SYMBOL_MEMBER,
                     i, key, lm__ll_printable(p, sizeof p, t ? t : "?"));
}

/* The graph must be exactly
 *   data → dot(data, W) → broadcast_add(·, B) → {Logistic|Linear}RegressionOutput | SoftmaxOutput
 * with the output's second input a label variable, and nothing else. */
int lm__ll_graph_check(const ll *c, const sym *g, ll_graph *r) {
  int rc;
  char p[64];
  const uint32_t h = g->head;
  const sym_node *hs = &g->nodes[h];
  r->pred = -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(hs->op, lm__ll_pred_ops[i])) r->pred = i;
  if (r->pred < 0) {
    if (!strcmp(hs->op, "null"))
      return lm__ll_fail(c, LM_EUNSUPPORTED, "%s: the output is the variable '%s', not an operator",
                         SYMBOL_MEMBER, lm__ll_printable(p, sizeof p, hs->name));
    return lm__ll_fail(
        c, LM_EUNSUPPORTED,
        "unsupported operator '%s' in %s node %u (expected LogisticRegressionOutput, "
        "LinearRegressionOutput or SoftmaxOutput as the output)",
        lm__ll_printable(p, sizeof p, hs->op), SYMBOL_MEMBER, h);
  }
  r->out = h;
  if ((rc = node_inputs(c, g, h, 2))) return rc;
  r->add = hs->in[0];
  r->label = hs->in[1];
  if ((rc = node_var(c, g, r->label, "for the label"))) return rc;
  /* broadcast_plus is broadcast_add's alias in MXNet's operator registry. */
  if (strcmp(g->nodes[r->add].op, "broadcast_plus") != 0 &&
      (rc = node_is(c, g, r->add, "broadcast_add", "the bias addition")))
    return rc;
  if ((rc = node_inputs(c, g, r->add, 2))) return rc;
  r->dot = g->nodes[r->add].in[0];
  r->bias = g->nodes[r->add].in[1];
  if ((rc = node_is(c, g, r->dot, "dot", "the product of the input and the weights"))) return rc;
  if ((rc = node_var(c, g, r->bias, "for the bias"))) return rc;
  if ((rc = node_inputs(c, g, r->dot, 2))) return rc;
  if ((rc = attr_false(c, g, r->dot, "transpose_a"))) return rc;
  if ((rc = attr_false(c, g, r->dot, "transpose_b"))) return rc;
  r->data = g->nodes[r->dot].in[0];
  r->weight = g->nodes[r->dot].in[1];
  if ((rc = node_var(c, g, r->data, "for the input"))) return rc;
  if ((rc = node_var(c, g, r->weight, "for the weights"))) return rc;
  const uint32_t used[7] = {r->out, r->add, r->dot, r->data, r->weight, r->bias, r->label};
  for (int i = 0; i < 7; i++)
    for (int j = i + 1; j < 7; j++)
      if (used[i] == used[j])
        return lm__ll_fail(c, LM_EUNSUPPORTED, "%s: node %u '%s' plays two roles in the graph",
                           SYMBOL_MEMBER, used[i],
                           lm__ll_printable(p, sizeof p, g->nodes[used[i]].name));
  for (uint32_t i = 0; i < g->n; i++) {
    int in_graph = 0;
    for (int j = 0; j < 7; j++) in_graph |= used[j] == i;
    if (in_graph) continue;
    if (strcmp(g->nodes[i].op, "null") != 0)
      return lm__ll_fail(c, LM_EUNSUPPORTED,
                         "unsupported operator '%s' in %s node %u (not part of the Linear Learner "
                         "graph)",
                         lm__ll_printable(p, sizeof p, g->nodes[i].op), SYMBOL_MEMBER, i);
    return lm__ll_fail(c, LM_EUNSUPPORTED, "%s: unexpected variable '%s' (node %u)", SYMBOL_MEMBER,
                       lm__ll_printable(p, sizeof p, g->nodes[i].name), i);
  }
  return LM_OK;
}

/* A variable's "__shape__" attribute, e.g. "(20, 1)", if present, must agree with the params
 * array (0 in __shape__ means unknown). */
int lm__ll_shape_attr_check(const ll *c, const sym *g, uint32_t i, const lm_nd_array *a) {
  json_object *v = g->nodes[i].attrs ? lm__ll_get(g->nodes[i].attrs, "__shape__") : NULL;
  if (!v) return LM_OK;
  char p[64], s[160];
  const char *t = json_object_get_string(v);
  int64_t dims[LM_ND_MAX_NDIM];
  uint32_t nd = 0;
  const char *q = t;
  int ok = json_object_is_type(v, json_type_string);
  if (ok) {
    while (*q == ' ') q++;
    ok = *q++ == '(';
  }
  while (ok) {
    while (*q == ' ') q++;
    if (*q == ')') {
      q++;
      break;
    }
    if (*q < '0' || *q > '9' || nd == LM_ND_MAX_NDIM) {
      ok = 0;
      break;
    }
    int64_t x = 0;
    while (*q >= '0' && *q <= '9' && x < INT64_MAX / 16) x = x * 10 + (*q++ - '0');
    dims[nd++] = x;
    while (*q == ' ') q++;
    if (*q == ',') q++;
    else if (*q != ')') ok = 0;
  }
  if (ok) {
    while (*q == ' ') q++;
    ok = *q == '\0';
  }
  if (!ok)
    return lm__ll_fail(c, LM_EFORMAT, "%s node %u '%s': __shape__ '%s' is not a shape",
                       SYMBOL_MEMBER, i, g->nodes[i].name,
                       lm__ll_printable(p, sizeof p, t ? t : "?"));
  int same = nd == a->ndim;
  for (uint32_t d = 0; same && d < nd; d++) same = dims[d] == 0 || dims[d] == a->dims[d];
  if (!same)
    return lm__ll_fail(c, LM_EFORMAT, "%s node %u '%s': __shape__ %s but the params array is %s",
                       SYMBOL_MEMBER, i, lm__ll_printable(p, sizeof p, g->nodes[i].name), t,
                       lm__nd_shape_str(s, sizeof s, a));
  return LM_OK;
}
