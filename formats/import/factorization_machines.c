/*
 * factorization_machines.c — the SageMaker Factorization Machines importer: the bytes of
 * `model_algo-1` (what SageMaker puts in model.tar.gz) → IR (formats/ir.h), a factorization
 * machine (LM_BOOSTER_FM, formats/SPEC.md format 1.2):
 *
 *   score = w0 + Σ_i w_i·x_i + ½ Σ_f [(Σ_i v_if·x_i)² − Σ_i v_if²·x_i²]
 *
 * and, for predictor_type binary_classifier, the logistic sigmoid of it (SageMaker returns it as
 * `score`, and predicted_label = score ≥ 0.5, which the .lm format does not store).
 *
 * What the file is. NO REAL ARTIFACT WAS AVAILABLE: the layout below is what AWS's public
 * material shows (tests/fixtures/fm/README.md cites each source), and the fixtures are synthetic.
 *  - `model_algo-1` is a ZIP of an MXNet Module checkpoint, like Linear Learner's, but with the
 *    members `symbol.json` (the graph), `params` (an MXNet NDArray list) and `meta.json`: public
 *    serving code for SageMaker FM models unzips it, renames those two to `model-symbol.json` /
 *    `model-0000.params` and loads them with mx.module.Module.load(…, label_names=['out_label']),
 *    then reads meta.json's training_parameters.feature_dim.
 *  - params (Module.save_checkpoint: names prefixed `arg:`): `w0_weight` the bias, `w1_weight`
 *    the linear term (num_features, 1), `v` the factors (num_features, num_factors) — the AWS
 *    blog's notebook indexes V[i] and w[i] by feature and concatenates them along axis 1. That
 *    serving code also knows an older naming, `Linear_Plus_Bias_bias` / `Linear_Plus_Bias_weight`
 *    (1, num_features) with `v` then (num_factors, num_features): accepted, transposed here.
 *  - predictor_type (binary_classifier | regressor, the FM hyperparameter): taken from meta.json's
 *    training_parameters when present (UNCONFIRMED that it is stored there; hyperparameters are
 *    strings), else from the graph's output operator (LogisticRegressionOutput / LinearRegression-
 *    Output, UNCONFIRMED: by analogy with Linear Learner); both present must agree.
 *  - inputs are float32 (SageMaker's FM reads recordIO-protobuf Float32 tensors, usually sparse:
 *    an absent entry is 0), so lmrt reads a missing value (NaN) as 0 and rounds float64 rows to
 *    float32.
 * Anything else is refused naming the member, the array and the field: other or extra arrays,
 * dtypes other than float32, shapes that do not fit together, non-finite weights, feature_dim or
 * num_factors in meta.json that disagree with the arrays, limits (features < 2^29, factors ≤
 * 4096). The ZIP, its JSON members and the NDArray list are read by zip.c, mxnet_zip.c and
 * mxnet_ndarray.c, shared with the Linear Learner importer.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/mxnet_zip.h"
#include "formats/lmf.h"

#define FM_SYMBOL "symbol.json"
#define FM_PARAMS "params"
#define FM_META "meta.json"

enum { FM_BINARY = 0, FM_REGRESSOR = 1 };
static const char *const fm_pred_names[2] = {"binary_classifier", "regressor"};
static const char *const fm_pred_ops[2] = {"LogisticRegressionOutput", "LinearRegressionOutput"};

static uint64_t fm_wanted(const char *s) {
  if (!strcmp(s, FM_PARAMS)) return LL_MAX_PARAMS;
  return !strcmp(s, FM_SYMBOL) || !strcmp(s, FM_META) ? LL_MAX_JSON : 0;
}

static uint64_t list_only(const char *s) {
  (void)s;
  return 0;
}

int lm__zip_is_factorization_machines(const uint8_t *data, size_t len) {
  if (!lm__zip_magic(data, len)) return 0;
  lm_zip z = {0};
  int rc = lm__zip_read(data, len, "(sniff)", LL_MAX_MEMBERS, "", list_only, &z);
  int fm = rc == LM_OK && lm__zip_find(&z, FM_PARAMS) && !lm__zip_find(&z, "mx-mod-symbol.json");
  lm__zip_free(&z);
  lm__clear_error();
  return fm;
}

/* A hyperparameter as SageMaker records it: a string of digits, or an integer. -1: absent. */
static int hyper_uint(const ll *c, json_object *tp, const char *key, int64_t *out) {
  json_object *v = lm__ll_get(tp, key);
  *out = -1;
  if (!v) return LM_OK;
  char p[64];
  if (json_object_is_type(v, json_type_int)) {
    *out = json_object_get_int64(v);
  } else if (json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v);
    char *end = NULL;
    long long x = (*s >= '0' && *s <= '9') ? strtoll(s, &end, 10) : -1;
    if (x < 0 || !end || *end)
      return lm__ll_fail(c, LM_EFORMAT, "%s: training_parameters.%s '%s' is not a number",
                         FM_META, key, lm__ll_printable(p, sizeof p, s));
    *out = x;
  } else {
    return lm__ll_fail(c, LM_EFORMAT, "%s: training_parameters.%s is not a number or a string",
                       FM_META, key);
  }
  if (*out < 1)
    return lm__ll_fail(c, LM_EFORMAT, "%s: training_parameters.%s %" PRId64 " is not positive",
                       FM_META, key, *out);
  return LM_OK;
}

typedef struct fm_meta {
  int pred;                 /* -1: not given */
  int64_t feature_dim, num_factors;
  int pred_graph;           /* from symbol.json's output operator, -1: none */
  char version[32];         /* "mxnet 1.3.1" or "" */
} fm_meta;

static int read_meta(const ll *c, fm_meta *fm) {
  if (!lm__zip_find(&c->zip, FM_META)) return LM_OK;
  json_object *root;
  int rc = lm__ll_json_member(c, FM_META, &root);
  if (rc) return rc;
  json_object *tp = lm__ll_get(root, "training_parameters");
  char p[64];
  if (tp && !json_object_is_type(tp, json_type_object)) {
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: training_parameters is not an object", FM_META);
  } else if (tp) {
    json_object *pt = lm__ll_get(tp, "predictor_type");
    if (pt && !json_object_is_type(pt, json_type_string)) {
      rc = lm__ll_fail(c, LM_EFORMAT, "%s: training_parameters.predictor_type is not a string",
                       FM_META);
    } else if (pt) {
      const char *s = json_object_get_string(pt);
      for (int i = 0; i < 2; i++)
        if (!strcmp(s, fm_pred_names[i])) fm->pred = i;
      if (fm->pred < 0)
        rc = lm__ll_fail(c, LM_EUNSUPPORTED,
                         "%s: training_parameters.predictor_type '%s' (expected "
                         "binary_classifier or regressor)",
                         FM_META, lm__ll_printable(p, sizeof p, s));
    }
    if (!rc) rc = hyper_uint(c, tp, "feature_dim", &fm->feature_dim);
    if (!rc) rc = hyper_uint(c, tp, "num_factors", &fm->num_factors);
  }
  json_object_put(root);
  return rc;
}

/* symbol.json: the output operator (heads[0]) and the MXNet version, nothing else is needed. */
static int read_symbol(const ll *c, fm_meta *fm) {
  if (!lm__zip_find(&c->zip, FM_SYMBOL)) return LM_OK;
  json_object *root;
  int rc = lm__ll_json_member(c, FM_SYMBOL, &root);
  if (rc) return rc;
  json_object *nodes = lm__ll_get(root, "nodes"), *heads = lm__ll_get(root, "heads");
  json_object *h0 = heads && json_object_is_type(heads, json_type_array) &&
                            json_object_array_length(heads) >= 1
                        ? json_object_array_get_idx(heads, 0)
                        : NULL;
  json_object *hid = h0 && json_object_is_type(h0, json_type_array) &&
                             json_object_array_length(h0) >= 1
                         ? json_object_array_get_idx(h0, 0)
                         : NULL;
  size_t n = nodes && json_object_is_type(nodes, json_type_array)
                 ? json_object_array_length(nodes)
                 : 0;
  int64_t h = hid && json_object_is_type(hid, json_type_int) ? json_object_get_int64(hid) : -1;
  char p[64];
  if (n == 0) {
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: nodes: missing, empty or not an array", FM_SYMBOL);
  } else if (h < 0 || (uint64_t)h >= n) {
    rc = lm__ll_fail(c, LM_EFORMAT, "%s: heads[0]: not [node, 0, 0] with a node of the %zu",
                     FM_SYMBOL, n);
  } else {
    json_object *nd = json_object_array_get_idx(nodes, (size_t)h);
    json_object *op = nd && json_object_is_type(nd, json_type_object) ? lm__ll_get(nd, "op") : NULL;
    if (!op || !json_object_is_type(op, json_type_string)) {
      rc = lm__ll_fail(c, LM_EFORMAT, "%s: nodes[%" PRId64 "].op: missing or not a string",
                       FM_SYMBOL, h);
    } else {
      const char *s = json_object_get_string(op);
      for (int i = 0; i < 2; i++)
        if (!strcmp(s, fm_pred_ops[i])) fm->pred_graph = i;
      if (fm->pred_graph < 0 && fm->pred < 0)
        rc = lm__ll_fail(c, LM_EUNSUPPORTED,
                         "%s: output operator '%s' (node %" PRId64 ") implies no predictor_type "
                         "(expected LogisticRegressionOutput or LinearRegressionOutput), and %s "
                         "gives none",
                         FM_SYMBOL, lm__ll_printable(p, sizeof p, s), h, FM_META);
    }
  }
  json_object *ga = lm__ll_get(root, "attrs"), *mv = ga ? lm__ll_get(ga, "mxnet_version") : NULL;
  if (!rc && mv && json_object_is_type(mv, json_type_array) && json_object_array_length(mv) == 2) {
    json_object *x = json_object_array_get_idx(mv, 1);
    int64_t ver = json_object_is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
    if (ver > 0 && ver < 100000000)
      snprintf(fm->version, sizeof fm->version, "mxnet %d.%d.%d", (int)(ver / 10000),
               (int)(ver / 100 % 100), (int)(ver % 100));
  }
  json_object_put(root);
  return rc;
}

/* The array named `arg:<var>`, or NULL. */
static const lm_nd_array *find_arg(const ll *c, const lm_nd_list *l, const char *var) {
  const uint8_t *d = c->params->data;
  char want[64];
  int w = snprintf(want, sizeof want, "arg:%s", var);
  for (uint64_t i = 0; i < l->n; i++)
    if (l->a[i].name_len == (size_t)w && !memcmp(d + l->a[i].name_off, want, (size_t)w))
      return &l->a[i];
  return NULL;
}

/* A dense float32 array with data. */
static int float_check(const ll *c, const lm_nd_array *a, const char *what) {
  if (a->empty)
    return lm__ll_fail(c, LM_EFORMAT, "%s: 'arg:%s' is an empty (none) array", FM_PARAMS, what);
  if (a->dtype != 0)
    return lm__ll_fail(c, LM_EUNSUPPORTED,
                       "%s: 'arg:%s' has dtype %s (%d): only float32 is supported", FM_PARAMS,
                       what, lm__nd_dtype_name(a->dtype), a->dtype);
  return LM_OK;
}

/* Copy n float32 values of a from element `at` with stride `step` into dst, each finite. */
static int copy_finite(const ll *c, const lm_nd_array *a, const char *what, size_t n, size_t at0,
                       size_t step, size_t cols, float *dst) {
  const uint8_t *d = c->params->data;
  for (size_t j = 0; j < n; j++) {
    size_t e = at0 + j * step, off = a->data_off + 4 * e;
    float x = lm__le_f32(d + off);
    if (!isfinite(x)) {
      char idx[64];
      if (a->ndim >= 2) snprintf(idx, sizeof idx, "[%zu, %zu]", e / cols, e % cols);
      else snprintf(idx, sizeof idx, "[%zu]", e);
      return lm__ll_fail(c, LM_EFORMAT, "%s: byte %zu: arg:%s%s is not finite (%g)", FM_PARAMS,
                         off, what, idx, (double)x);
    }
    dst[j] = x;
  }
  return LM_OK;
}

static int build_ir(ll *c, const fm_meta *fm, const lm_nd_list *l, lm_ir_model **out) {
  const uint8_t *d = c->params->data;
  char list[512], s1[160], s2[160], p[64];
  if (!l->named)
    return lm__ll_fail(c, LM_EFORMAT, "%s: the arrays have no names (expected arg:w0_weight, "
                       "arg:w1_weight and arg:v)", FM_PARAMS);
  const lm_nd_array *B = find_arg(c, l, "w0_weight"), *W = find_arg(c, l, "w1_weight");
  const char *bn = "w0_weight", *wn = "w1_weight";
  int old = 0; /* Linear_Plus_Bias naming: weight (1, F), v (k, F) */
  if (!B && !W) {
    B = find_arg(c, l, "Linear_Plus_Bias_bias");
    W = find_arg(c, l, "Linear_Plus_Bias_weight");
    bn = "Linear_Plus_Bias_bias", wn = "Linear_Plus_Bias_weight";
    old = B || W;
    if (!old) bn = "w0_weight", wn = "w1_weight";
  }
  const lm_nd_array *V = find_arg(c, l, "v");
  const char *missing = !B ? bn : !W ? wn : !V ? "v" : NULL;
  if (missing)
    return lm__ll_fail(c, LM_EFORMAT, "%s: no array named 'arg:%s' (arrays: %s)", FM_PARAMS,
                       missing, lm__nd_summary(l, d, list, sizeof list));
  for (uint64_t i = 0; i < l->n; i++) {
    const lm_nd_array *a = &l->a[i];
    if (a == B || a == W || a == V) continue;
    return lm__ll_fail(c, LM_EUNSUPPORTED,
                       "%s: unexpected array '%s' (a factorization machine has only arg:%s, "
                       "arg:%s and arg:v)",
                       FM_PARAMS, lm__printable(p, sizeof p, d + a->name_off, a->name_len), bn,
                       wn);
  }
  int rc;
  if ((rc = float_check(c, B, bn)) || (rc = float_check(c, W, wn)) || (rc = float_check(c, V, "v")))
    return rc;
  /* bias: one value, shape (1,) or (1, 1) */
  if (B->n_elems != 1 || B->ndim > 2)
    return lm__ll_fail(c, LM_EFORMAT, "%s: 'arg:%s' has shape %s, expected (1,)", FM_PARAMS, bn,
                       lm__nd_shape_str(s1, sizeof s1, B));
  /* linear term: (F, 1) (or (1, F) in the old naming); factors (F, k) (or (k, F)) */
  uint64_t F = 0, k = 0;
  int w_ok = W->ndim == 2 && (old ? W->dims[0] == 1 : W->dims[1] == 1);
  if (w_ok) F = (uint64_t)(old ? W->dims[1] : W->dims[0]);
  if (!w_ok || F == 0)
    return lm__ll_fail(c, LM_EFORMAT, "%s: 'arg:%s' has shape %s, expected %s", FM_PARAMS, wn,
                       lm__nd_shape_str(s1, sizeof s1, W),
                       old ? "(1, features)" : "(features, 1)");
  int v_ok = V->ndim == 2 && (uint64_t)(old ? V->dims[1] : V->dims[0]) == F;
  if (v_ok) k = (uint64_t)(old ? V->dims[0] : V->dims[1]);
  if (!v_ok || k == 0)
    return lm__ll_fail(c, LM_EFORMAT,
                       "%s: shape mismatch: 'arg:%s' is %s but 'arg:v' is %s (expected %s)",
                       FM_PARAMS, wn, lm__nd_shape_str(s1, sizeof s1, W),
                       lm__nd_shape_str(s2, sizeof s2, V),
                       old ? "(factors, features)" : "(features, factors)");
  if (F > LMF_MAX_FEATURES)
    return lm__ll_fail(c, LM_ERANGE, "%s: %" PRIu64 " features (limit %u)", FM_PARAMS, F,
                       LMF_MAX_FEATURES);
  if (k > LMF_MAX_FM_FACTORS)
    return lm__ll_fail(c, LM_ERANGE, "%s: arg:v has %" PRIu64 " factors (limit %u)", FM_PARAMS,
                       k, LMF_MAX_FM_FACTORS);
  if (fm->feature_dim >= 0 && (uint64_t)fm->feature_dim != F)
    return lm__ll_fail(c, LM_EFORMAT,
                       "%s: training_parameters.feature_dim %" PRId64 " but '%s' in %s has %" PRIu64
                       " features",
                       FM_META, fm->feature_dim, wn, FM_PARAMS, F);
  if (fm->num_factors >= 0 && (uint64_t)fm->num_factors != k)
    return lm__ll_fail(c, LM_EFORMAT,
                       "%s: training_parameters.num_factors %" PRId64 " but 'arg:v' in %s has %" PRIu64
                       " factors",
                       FM_META, fm->num_factors, FM_PARAMS, k);
  lm_ir_model *m = lm_ir_new();
  float *w = malloc(sizeof *w * (size_t)F), *v = malloc(sizeof *v * (size_t)(F * k));
  if (!m || !w || !v) {
    free(w), free(v), lm_ir_free(m);
    return lm__ll_fail(c, LM_ENOMEM, "out of memory for %" PRIu64 " x %" PRIu64 " factors", F, k);
  }
  m->fm_w = w, m->fm_v = v;
  rc = copy_finite(c, B, bn, 1, 0, 1, 1, &m->fm_w0);
  if (!rc) rc = copy_finite(c, W, wn, (size_t)F, 0, 1, old ? (size_t)F : 1, w);
  /* v(i, f) at i·k + f; the old layout holds it at f·F + i */
  for (size_t i = 0; !rc && i < (size_t)F; i++)
    rc = old ? copy_finite(c, V, "v", (size_t)k, i, (size_t)F, (size_t)F, v + i * (size_t)k)
             : copy_finite(c, V, "v", (size_t)k, i * (size_t)k, 1, (size_t)k, v + i * (size_t)k);
  if (rc) {
    lm_ir_free(m);
    return rc;
  }
  int pred = fm->pred >= 0 ? fm->pred : fm->pred_graph;
  snprintf(m->source_format, sizeof m->source_format, "factorization-machines");
  snprintf(m->source_version, sizeof m->source_version, "%s",
           fm->version[0] ? fm->version : "unknown");
  snprintf(m->objective, sizeof m->objective, "factorization-machines:%s", fm_pred_names[pred]);
  m->booster = LM_BOOSTER_FM;
  m->base_score = 0.0f;
  m->num_features = (uint32_t)F;
  m->num_outputs = 1;
  m->fm_factors = (uint32_t)k;
  *out = m;
  return LM_OK;
}

static int import(ll *c, const uint8_t *data, size_t len, lm_ir_model **out) {
  if (!lm__zip_magic(data, len))
    return lm__ll_fail(c, LM_EFORMAT,
                       "not a ZIP archive (a Factorization Machines model_algo-1 is a ZIP of an "
                       "MXNet checkpoint)");
  int rc = lm__zip_read(data, len, c->name, LL_MAX_MEMBERS,
                        "Factorization Machines writes symbol.json, params and meta.json",
                        fm_wanted, &c->zip);
  if (rc) return rc;
  if ((rc = lm__ll_need_member(c, FM_PARAMS, &c->params))) return rc;
  fm_meta fm = {.pred = -1, .feature_dim = -1, .num_factors = -1, .pred_graph = -1};
  if ((rc = read_meta(c, &fm)) || (rc = read_symbol(c, &fm))) return rc;
  if (fm.pred < 0 && fm.pred_graph < 0)
    return lm__ll_fail(c, LM_EFORMAT,
                       "predictor_type: not in %s (training_parameters) and no %s to imply it",
                       FM_META, FM_SYMBOL);
  if (fm.pred >= 0 && fm.pred_graph >= 0 && fm.pred != fm.pred_graph)
    return lm__ll_fail(c, LM_EFORMAT,
                       "predictor_type '%s' in %s does not match the output operator %s of %s",
                       fm_pred_names[fm.pred], FM_META, fm_pred_ops[fm.pred_graph], FM_SYMBOL);
  /* Messages about the params name the input and the member: "model_algo-1: params: byte …". */
  char kname[512];
  snprintf(kname, sizeof kname, "%s: %s", c->name, FM_PARAMS);
  lm_cursor k;
  lm__cur_init(&k, c->params->data, c->params->len, kname);
  lm_nd_list l = {0};
  rc = lm__nd_read_list(&k, &l);
  if (!rc) rc = build_ir(c, &fm, &l, out);
  free(l.a);
  return rc;
}

int lm__import_factorization_machines(const uint8_t *data, size_t len, const char *name,
                                      lm_ir_model **out) {
  return lm__ll_entry(data, len, name, out, "lm__import_factorization_machines", import);
}
