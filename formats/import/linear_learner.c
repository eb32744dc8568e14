/*
 * linear_learner.c — the SageMaker Linear Learner importer: the bytes of `model_algo-1` (what
 * SageMaker puts in model.tar.gz) → IR (formats/ir.h), a plain linear model (LM_BOOSTER_LINEAR).
 *
 * What the file is (../shared/reference/input-formats.md §6; the algorithm is not open source).
 * `model_algo-1` is a ZIP (members stored; we also read deflated ones) of an MXNet Module
 * checkpoint: `mx-mod-symbol.json` (the graph), `mx-mod-0000.params` (an MXNet NDArray list),
 * `manifest.json` and `additional-params.json` (predictor_type, threshold, loss_type). Members
 * are found by name: their order differs between artifacts.
 *
 * CONFIRMED on real files (tests/fixtures/linear-learner/: five artifacts from four public
 * repositories, 2018–2024, MXNet 1.0.0 and 1.3.1 containers), binary_classifier and regressor:
 *   data → dot(data, fc0_weight (F,1)) → broadcast_add(·, fc0_bias (1,1))
 *        → LogisticRegressionOutput (binary: score = sigmoid(x·w + b))
 *        | LinearRegressionOutput  (regressor: score = x·w + b), the second input `out_label`.
 * Params: NDArray list v2 arrays (magic 0xF993FAC9), dense, cpu, float32, named
 * `arg:fc0_weight` / `arg:fc0_bias` in either order. Normalisation is folded into the stored
 * weights (they apply to raw features), so nothing else is needed to score.
 * The value lmrt returns is SageMaker's `score`. For binary_classifier the endpoint also returns
 * predicted_label = (score vs `threshold`, `>` or `>=` UNCONFIRMED); the .lm format has no field
 * for a threshold, so it is checked (a finite number if present) and otherwise dropped.
 *
 * UNCONFIRMED (no real artifact found): multiclass_classifier. We accept the presumed form:
 * SoftmaxOutput as the output operator, weights (F, K), bias (1, K) or (K,), K ≥ 2, scored as
 * softmax over the K margins (objective "linear-learner:multiclass_classifier"). Also accepted
 * without a real file to prove it: bias of shape (1,) for one output, NDArray v1 / v3 / legacy
 * array layouts (from MXNet's src/ndarray/ndarray.cc), deflated ZIP members, the operator alias
 * `broadcast_plus`, dot's transpose_a/transpose_b present but false, and any params
 * member named `*-<digits>.params` when `mx-mod-0000.params` is absent (MXNet checkpoints are
 * `<prefix>-<epoch %04d>.params`; Linear Learner has only ever been seen writing epoch 0000).
 *
 * Anything else is refused, naming what was found: other operators ("unsupported operator
 * 'FullyConnected' in mx-mod-symbol.json node 3"), transposed dot, extra graph nodes or extra
 * params arrays, non-dense storage, dtypes other than float32, shapes that do not fit together
 * (or disagree with the graph's __shape__ attributes), non-finite weights, a predictor_type that
 * disagrees with the graph's output operator, a ZIP without its end-of-central-directory record
 * (truncated: libarchive's streaming fallback would otherwise read the members it finds), bad
 * member CRCs. SageMaker PCA and KMeans also write files named `model_algo-1`: those are bare
 * NDArray files, not ZIPs, and are named as such (LM_EUNSUPPORTED, with their arrays listed).
 *
 * Everything is untrusted: every count and size in the params file is checked against the bytes
 * that remain before use (overflow-safe), and errors name the input, the member, the field and
 * the byte offset inside the member, with an LM_E* code: LM_EFORMAT malformed / missing /
 * inconsistent, LM_EUNSUPPORTED well-formed but not something lmrt can score, LM_ERANGE sizes
 * beyond lmrt's limits, LM_ENOMEM.
 *
 * The importer is in two files: this one (members, manifest and parameters, the params array
 * list, the IR) and linear_learner_graph.c (the symbol graph), sharing linear_learner.h; the ZIP
 * and the NDArray list are read by zip.c and mxnet_ndarray.c.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/linear_learner.h"
#include "formats/objective.h"

const char *const lm__ll_pred_names[3] = {"binary_classifier", "regressor",
                                          "multiclass_classifier"};
const char *const lm__ll_pred_ops[3] = {"LogisticRegressionOutput", "LinearRegressionOutput",
                                        "SoftmaxOutput"};

/* ---- errors and members -------------------------------------------------------------- */


/* `*-<digits>.params`: an MXNet checkpoint's parameter file at some epoch. */
static int is_params_name(const char *s) {
  size_t n = strlen(s);
  if (n < 9 || strcmp(s + n - 7, ".params") != 0) return 0;
  size_t e = n - 7, b = e;
  while (b > 0 && s[b - 1] >= '0' && s[b - 1] <= '9') b--;
  return b < e && b >= 2 && s[b - 1] == '-';
}

/* The members read, with their size limits; the rest are only listed. */
static uint64_t wanted(const char *s) {
  if (is_params_name(s)) return LL_MAX_PARAMS;
  return !strcmp(s, SYMBOL_MEMBER) || !strcmp(s, MANIFEST_MEMBER) || !strcmp(s, ADDPARAMS_MEMBER)
             ? LL_MAX_JSON
             : 0;
}


/* PARAMS_MEMBER, else the only `*-<digits>.params`. */
static int choose_params(ll *c) {
  c->params = lm__zip_find(&c->zip, PARAMS_MEMBER);
  if (c->params) return LM_OK;
  size_t n = 0;
  for (size_t i = 0; i < c->zip.n; i++)
    if (is_params_name(c->zip.mem[i].name)) {
      c->params = &c->zip.mem[i];
      n++;
    }
  char list[512];
  if (n == 0)
    return lm__ll_fail(c, LM_EFORMAT,
                       "ZIP has no member '%s' (nor any '*-NNNN.params'; members: %s)",
                       PARAMS_MEMBER, lm__zip_list(&c->zip, list, sizeof list));
  if (n > 1)
    return lm__ll_fail(c, LM_EFORMAT,
                       "ZIP has no member '%s' and %zu other '*-NNNN.params' members: which one is "
                       "the model is ambiguous (members: %s)",
                       PARAMS_MEMBER, n, lm__zip_list(&c->zip, list, sizeof list));
  return LM_OK;
}

/* ---- manifest.json and additional-params.json ------------------------------------------- */

static int check_manifest(const ll *c) {
  json_object *root;
  int rc = lm__ll_json_member(c, MANIFEST_MEMBER, &root);
  if (rc) return rc;
  /* Seen: {"additional-params.json": "json", "mx-mod": "mxnet_module", "version": 1}. The
   * "mx-mod" entry names the MXNet module whose members we read. */
  json_object *mod = lm__ll_get(root, "mx-mod");
  if (!mod || !json_object_is_type(mod, json_type_string) ||
      strcmp(json_object_get_string(mod), "mxnet_module") != 0)
    rc = lm__ll_fail(c, LM_EUNSUPPORTED,
                     "%s: no \"mx-mod\": \"mxnet_module\" entry (not an MXNet Module checkpoint)",
                     MANIFEST_MEMBER);
  json_object *ver = lm__ll_get(root, "version");
  if (!rc && ver && !json_object_is_type(ver, json_type_int))
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: \"version\" is not an integer", MANIFEST_MEMBER);
  json_object_put(root);
  return rc;
}

static int read_additional_params(const ll *c, int *pred) {
  json_object *root;
  int rc = lm__ll_json_member(c, ADDPARAMS_MEMBER, &root);
  if (rc) return rc;
  json_object *pt = lm__ll_get(root, "predictor_type");
  char p[64];
  if (!pt) {
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: predictor_type: missing", ADDPARAMS_MEMBER);
  } else if (!json_object_is_type(pt, json_type_string)) {
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: predictor_type: not a string", ADDPARAMS_MEMBER);
  } else {
    const char *s = json_object_get_string(pt);
    *pred = -1;
    for (int i = 0; i < 3; i++)
      if (!strcmp(s, lm__ll_pred_names[i])) *pred = i;
    if (*pred < 0)
      rc = lm__ll_fail(c, LM_EUNSUPPORTED,
                       "%s: predictor_type '%s' (expected binary_classifier, regressor or "
                       "multiclass_classifier)",
                       ADDPARAMS_MEMBER, lm__printable(p, sizeof p, s, strlen(s)));
  }
  /* threshold: SageMaker's predicted_label cut-off for binary_classifier. The .lm format has no
   * field for it (lmrt returns the score); checked, then dropped. */
  json_object *th = lm__ll_get(root, "threshold");
  if (!rc && th &&
      (!(json_object_is_type(th, json_type_double) || json_object_is_type(th, json_type_int)) ||
       !isfinite(json_object_get_double(th))))
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: threshold: not a finite number", ADDPARAMS_MEMBER);
  json_object *lt = lm__ll_get(root, "loss_type");
  if (!rc && lt && !json_object_is_type(lt, json_type_string))
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: loss_type: not a string", ADDPARAMS_MEMBER);
  json_object_put(root);
  return rc;
}

/* ---- the model ------------------------------------------------------------------------- */

/* The array named "arg:<var>". */
static int find_arg(const ll *c, const lm_nd_list *l, const char *var, const lm_nd_array **out) {
  const uint8_t *d = c->params->data;
  char want[160], p[64], list[512];
  int w = snprintf(want, sizeof want, "arg:%s", var);
  *out = NULL;
  if (w < 0 || (size_t)w >= sizeof want)
    return lm__ll_fail(c, LM_EFORMAT, "%s: variable name '%s' too long", SYMBOL_MEMBER,
                       lm__printable(p, sizeof p, var, strlen(var)));
  for (uint64_t i = 0; i < l->n; i++)
    if (l->a[i].name_len == (size_t)w && !memcmp(d + l->a[i].name_off, want, (size_t)w)) {
      if (*out)
        return lm__ll_fail(c, LM_EFORMAT, "%s: two arrays named '%s'", c->params->name,
                           lm__printable(p, sizeof p, want, strlen(want)));
      *out = &l->a[i];
    }
  if (!*out)
    return lm__ll_fail(c, LM_EFORMAT, "%s: no array named '%s' (arrays: %s)", c->params->name,
                       lm__printable(p, sizeof p, want, strlen(want)),
                       lm__nd_summary(l, d, list, sizeof list));
  return LM_OK;
}

static int float_array_check(const ll *c, const lm_nd_array *a, const char *what) {
  char p[64];
  if (a->empty)
    return lm__ll_fail(c, LM_EFORMAT, "%s: '%s' is an empty (none) array", c->params->name,
                       lm__printable(p, sizeof p, what, strlen(what)));
  if (a->dtype != 0)
    return lm__ll_fail(c, LM_EUNSUPPORTED, "%s: '%s' has dtype %s (%d): only float32 is supported",
                       c->params->name, lm__printable(p, sizeof p, what, strlen(what)),
                       lm__nd_dtype_name(a->dtype), a->dtype);
  return LM_OK;
}

static int build_ir(ll *c, const sym *g, const ll_graph *r, int pred, const lm_nd_list *l,
                    lm_ir_model **out) {
  const uint8_t *d = c->params->data;
  const char *wv = g->nodes[r->weight].name, *bv = g->nodes[r->bias].name;
  const lm_nd_array *W, *B;
  char s1[160], s2[160], p[64];
  int rc;
  if (!l->named)
    return lm__ll_fail(c, LM_EFORMAT, "%s: the arrays have no names (expected arg:%s and arg:%s)",
                       c->params->name, lm__printable(s1, sizeof s1, wv, strlen(wv)),
                       lm__printable(s2, sizeof s2, bv, strlen(bv)));
  if ((rc = find_arg(c, l, wv, &W))) return rc;
  if ((rc = find_arg(c, l, bv, &B))) return rc;
  /* Nothing but the weights and the bias: an extra array would be something this graph does
   * not use, i.e. not the model we think it is. */
  for (uint64_t i = 0; i < l->n; i++)
    if (&l->a[i] != W && &l->a[i] != B)
      return lm__ll_fail(c, LM_EUNSUPPORTED,
                         "%s: unexpected array '%s' (the graph uses only "
                         "arg:%s and arg:%s)",
                         c->params->name,
                         lm__printable(p, sizeof p, d + l->a[i].name_off, l->a[i].name_len), wv,
                         bv);
  char wn[80], bn[80];
  snprintf(wn, sizeof wn, "arg:%s", wv);
  snprintf(bn, sizeof bn, "arg:%s", bv);
  if ((rc = float_array_check(c, W, wn))) return rc;
  if ((rc = float_array_check(c, B, bn))) return rc;
  if ((rc = lm__ll_shape_attr_check(c, g, r->weight, W))) return rc;
  if ((rc = lm__ll_shape_attr_check(c, g, r->bias, B))) return rc;
  /* Weights (F, G); bias (1, G) or (G,). */
  if (W->ndim != 2 || W->dims[0] < 1 || W->dims[1] < 1)
    return lm__ll_fail(c, LM_EFORMAT, "%s: '%s' has shape %s, expected (features, outputs)",
                       c->params->name, wn, lm__nd_shape_str(s1, sizeof s1, W));
  uint64_t F = (uint64_t)W->dims[0], G = (uint64_t)W->dims[1];
  int bias_ok = (B->ndim == 2 && B->dims[0] == 1 && (uint64_t)B->dims[1] == G) ||
                (B->ndim == 1 && (uint64_t)B->dims[0] == G);
  if (!bias_ok)
    return lm__ll_fail(c, LM_EFORMAT,
                       "%s: shape mismatch: '%s' is %s but '%s' is %s (expected (1, %" PRIu64
                       ") or (%" PRIu64 ",))",
                       c->params->name, wn, lm__nd_shape_str(s1, sizeof s1, W), bn,
                       lm__nd_shape_str(s2, sizeof s2, B), G, G);
  if (pred == PRED_MULTICLASS ? G < 2 : G != 1)
    return lm__ll_fail(c, LM_EFORMAT, "%s: '%s' is %s: %s needs %s", c->params->name, wn,
                       lm__nd_shape_str(s1, sizeof s1, W), lm__ll_pred_ops[pred],
                       pred == PRED_MULTICLASS ? "at least 2 outputs" : "exactly 1 output");
  if (F > UINT32_MAX)
    return lm__ll_fail(c, LM_ERANGE, "%s: %" PRIu64 " features (limit %u)", c->params->name, F,
                       UINT32_MAX);
  if (G > LL_MAX_OUTPUTS)
    return lm__ll_fail(c, LM_ERANGE, "%s: %" PRIu64 " outputs (limit %u)", c->params->name, G,
                       LL_MAX_OUTPUTS);
  /* F·G floats lie inside the params member (W->n_elems was checked against its length). */
  lm_ir_model *m = lm_ir_new();
  float *lw = malloc(((size_t)(F * G) + (size_t)G) * sizeof *lw);
  if (!m || !lw) {
    free(lw);
    lm_ir_free(m);
    return lm__ll_fail(c, LM_ENOMEM, "out of memory for %" PRIu64 " weights", F * G);
  }
  m->linear_weights = lw;
  /* MXNet arrays are row-major: W(f, g) at f·G + g, as the IR wants. */
  for (size_t i = 0; i < (size_t)(F * G) + (size_t)G; i++) {
    int is_w = i < (size_t)(F * G);
    size_t at = is_w ? W->data_off + 4 * i : B->data_off + 4 * (i - (size_t)(F * G));
    lw[i] = lm__le_f32(d + at);
    if (!isfinite(lw[i])) {
      double v = lw[i];
      char idx[64];
      if (is_w) snprintf(idx, sizeof idx, "[%zu, %zu]", i / (size_t)G, i % (size_t)G);
      else snprintf(idx, sizeof idx, "[%zu]", i - (size_t)(F * G));
      lm_ir_free(m);
      return lm__ll_fail(c, LM_EFORMAT, "%s: byte %zu: %s%s is not finite (%g)", c->params->name,
                         at, is_w ? wn : bn, idx, v);
    }
  }
  snprintf(m->source_format, sizeof m->source_format, "linear-learner");
  snprintf(m->source_version, sizeof m->source_version, "%s", g->version[0] ? g->version : "unknown");
  snprintf(m->objective, sizeof m->objective, "linear-learner:%s", lm__ll_pred_names[pred]);
  m->booster = LM_BOOSTER_LINEAR;
  m->base_score = 0.0f;
  m->num_features = (uint32_t)F;
  m->num_outputs = (uint32_t)G;
  *out = m;
  return LM_OK;
}

/* Not a ZIP: name what it is. SageMaker PCA and KMeans write bare NDArray files named
 * model_algo-1 too. */
static int not_a_zip(ll *c, const uint8_t *data, size_t len) {
  if (len >= 8 && lm__le64(data) == LM_ND_LIST_MAGIC) {
    lm_cursor k;
    lm__cur_init(&k, data, len, c->name);
    lm_nd_list l = {0};
    char list[512] = "";
    /* Describe the arrays when the file parses (errors of this parse are not reported). */
    int ok = lm__nd_read_list(&k, &l) == LM_OK;
    if (ok) lm__nd_summary(&l, data, list, sizeof list);
    free(l.a);
    return lm__ll_fail(c, LM_EUNSUPPORTED,
                       "the input is an MXNet NDArray file, not a Linear Learner model (SageMaker "
                       "PCA/KMeans also write model_algo-1)%s%s",
                       ok ? "; arrays: " : "", list);
  }
  return lm__ll_fail(c, LM_EFORMAT,
                     "not a ZIP archive (first bytes %02x %02x %02x %02x; a Linear Learner "
                     "model_algo-1 is a ZIP of an MXNet checkpoint)",
                     len > 0 ? data[0] : 0, len > 1 ? data[1] : 0, len > 2 ? data[2] : 0,
                     len > 3 ? data[3] : 0);
}

static int import(ll *c, const uint8_t *data, size_t len, lm_ir_model **out) {
  if (!lm__zip_magic(data, len)) return not_a_zip(c, data, len);
  int rc =
      lm__zip_read(data, len, c->name, LL_MAX_MEMBERS, "Linear Learner writes 4", wanted, &c->zip);
  if (rc) return rc;
  /* Every member must be there before any is interpreted, so a missing one is named first. */
  const lm_zip_member *m;
  if ((rc = lm__ll_need_member(c, SYMBOL_MEMBER, &m))) return rc;
  if ((rc = lm__ll_need_member(c, MANIFEST_MEMBER, &m))) return rc;
  if ((rc = lm__ll_need_member(c, ADDPARAMS_MEMBER, &m))) return rc;
  if ((rc = choose_params(c))) return rc;
  if ((rc = check_manifest(c))) return rc;
  int pred = -1;
  if ((rc = read_additional_params(c, &pred))) return rc;

  json_object *root = NULL;
  sym g = {0};
  lm_nd_list l = {0};
  ll_graph r = {0};
  /* Messages about the params name the input and the member: "model_algo-1: mx-mod-0000.params". */
  char kname[512];
  snprintf(kname, sizeof kname, "%s: %s", c->name, c->params->name);
  lm_cursor k;
  lm__cur_init(&k, c->params->data, c->params->len, kname);
  if ((rc = lm__ll_json_member(c, SYMBOL_MEMBER, &root))) goto out;
  if ((rc = lm__ll_sym_parse(c, root, &g))) goto out;
  if ((rc = lm__ll_graph_check(c, &g, &r))) goto out;
  if (r.pred != pred) {
    rc = lm__ll_fail(c, LM_EFORMAT,
                     "predictor_type '%s' in %s does not match the graph's output operator %s "
                     "(%s node %u; %s expects %s)",
                     lm__ll_pred_names[pred], ADDPARAMS_MEMBER, g.nodes[r.out].op, SYMBOL_MEMBER,
                     r.out, lm__ll_pred_names[pred], lm__ll_pred_ops[pred]);
    goto out;
  }
  if ((rc = lm__nd_read_list(&k, &l))) goto out;
  rc = build_ir(c, &g, &r, pred, &l, out);
out:
  free(l.a);
  free(g.nodes);
  json_object_put(root);
  return rc;
}

int lm__import_linear_learner(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out) {
  return lm__ll_entry(data, len, name, out, "lm__import_linear_learner", import);
}
