/*
 * sklearn.c — scikit-learn estimators from a pickle (pickled.c walks it, nothing is executed),
 * mapped onto the IR as the trainer predicts with them (scikit-learn 1.2, Debian's
 * python3-sklearn 1.2.1, what SageMaker's scikit-learn 1.2 container runs):
 *
 *   DecisionTree{Classifier,Regressor}, ExtraTree{Classifier,Regressor},
 *   RandomForest{Classifier,Regressor}, ExtraTrees{Classifier,Regressor}
 *       trees of decision 1 (double thresholds, "left iff x <= t", sums in double). sklearn
 *       compares float32(x) <= t (its trees read rows as float32); the converter stores the
 *       double t' at which that rounding flips: with f = the largest float32 <= t and g the
 *       next one, t' = (f + g) / 2 when a tie rounds to f (f even), else the double below it.
 *       Then for every double x, x <= t' ⇔ float32(x) <= t, and the verifier's float32
 *       threshold (the smallest float32 above t') is g: for float32 rows x >= g ⇔ x > t. So
 *       float64 and float32 rows take sklearn's path exactly; LightGBM's folding of |x| <= 1e-35
 *       is turned off (ir->keep_tiny). Classifiers give predict_proba (each leaf's class
 *       weights normalised, as DecisionTreeClassifier.predict_proba; forests average them:
 *       average_over); binary ones one column, P(classes_[1]); regressors predict (forests the
 *       mean). NaN: sklearn 1.2 refuses it; here it goes to the child with more training
 *       samples (what sklearn ≥ 1.3 does for features without missing values in training), or
 *       as the node's missing_go_to_left says when the pickle has that field (sklearn ≥ 1.3).
 *   GradientBoosting{Classifier,Regressor}
 *       the same trees, leaves multiplied by learning_rate (as predict_stages does), the first
 *       stage's leaves starting from init_'s raw prediction (DummyClassifier 'prior':
 *       log-odds / log-probabilities of the clipped priors; DummyRegressor: its constant;
 *       init='zero': 0) — sklearn's own double sums, and one .lm tree per sklearn tree, so
 *       lm_predict_leaf gives apply()'s node ids; links: binomial deviance sigmoid, exponential
 *       loss sigmoid of 2x, multinomial softmax, regression losses identity.
 *   HistGradientBoosting{Classifier,Regressor}: sklearn_hist.c (numeric and categorical
 *       splits).
 *   LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor, LinearSVR (predict);
 *   LogisticRegression (predict_proba: binary logistic — a multinomial binary model is the
 *       logistic of twice the decision function —, multinomial softmax; one-vs-rest with 3 or
 *       more classes: decision_function, its normalised probabilities being no .lm transform),
 *   SGDClassifier (predict_proba for binary log_loss, else decision_function), LinearSVC
 *       (decision_function): the linear model kind (float32 weights).
 *   Pipeline: StandardScaler, MinMaxScaler, MaxAbsScaler steps, then one of the above: folded
 *       into a linear final step's weights; before trees each split's threshold is mapped back
 *       onto the raw feature — the largest double x that still goes left once sklearn's own
 *       operations (x -= mean_, x /= scale_, …, then the tree's float32 rounding) are applied,
 *       found by binary search over the doubles (every step is non-decreasing in x) — so the
 *       tree sees raw rows and decides as sklearn does on float64 rows (float32 rows as sklearn
 *       does on their float64 values). Other steps are refused naming them.
 *
 * The scalers and linear models are in sklearn_linear.c, HistGradientBoosting in
 * sklearn_hist.c, IsolationForest in sklearn_iforest.c; they share sklearn_internal.h.
 *
 *   IsolationForest (score_samples): sklearn_iforest.c.
 *
 * Everything else is refused naming the class. Every check names the field and the byte offset
 * of the value in the (decompressed) pickle.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickled.h"
#include "formats/import/sklearn_internal.h"
#include "base/error.h"

/* affine, sk, SKFAIL(): sklearn_internal.h */

int lm__sk_fail(const sk *k, int code, const lm_pv *v, const char *fmt, ...) {
  char ctx[700];
  if (v)
    snprintf(ctx, sizeof ctx, "%s: byte %zu: %s", k->name, v->at, k->cls);
  else
    snprintf(ctx, sizeof ctx, "%s: %s", k->name, k->cls);
  va_list ap;
  va_start(ap, fmt);
  int rc = lm__vfail(code, ctx, fmt, ap);
  va_end(ap);
  return rc;
}

/* A numeric value (int, float, bool) of the state, or an error naming it. */
static int st_num(sk *k, const lm_pv *st, const char *key, double *out) {
  const lm_pv *v = st_get(st, key);
  if (!v) return SKFAIL(LM_EFORMAT, st, "state has no '%s'", key);
  if (v->kind == LM_PV_FLOAT) *out = v->d;
  else if (v->kind == LM_PV_INT || v->kind == LM_PV_BOOL) *out = (double)v->i;
  else return SKFAIL(LM_EFORMAT, v, "state '%s': expected a number, got %s", key, lm__pv_kind_name(v));
  return LM_OK;
}

static int st_int(sk *k, const lm_pv *st, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  const lm_pv *v = st_get(st, key);
  if (!v) return SKFAIL(LM_EFORMAT, st, "state has no '%s'", key);
  if (v->kind != LM_PV_INT && v->kind != LM_PV_BOOL)
    return SKFAIL(LM_EFORMAT, v, "state '%s': expected an int, got %s", key, lm__pv_kind_name(v));
  if (v->i < lo || v->i > hi)
    return SKFAIL(LM_ERANGE, v, "state '%s': %lld out of range [%lld, %lld]", key, (long long)v->i,
                  (long long)lo, (long long)hi);
  *out = v->i;
  return LM_OK;
}

int lm__sk_is_num_dt(const lm_pv *dt) {
  if (!dt || dt->kind != LM_PV_DTYPE) return 0;
  switch (dt->dt_kind) {
  case 'f': return dt->dt_size == 4 || dt->dt_size == 8;
  case 'i': case 'u': return dt->dt_size == 1 || dt->dt_size == 2 || dt->dt_size == 4 || dt->dt_size == 8;
  case 'b': return dt->dt_size == 1;
  }
  return 0;
}

/* A numeric array of ndim dimensions (shape[i] checked when want[i] != UINT64_MAX). */
int lm__sk_need_arr(sk *k, const lm_pv *v, const char *what, uint32_t ndim, const uint64_t *want) {
  char d[160];
  if (!v) return SKFAIL(LM_EFORMAT, NULL, "%s: missing", what);
  if (v->kind != LM_PV_NDARRAY || !lm__sk_is_num_dt(v->nd_dtype))
    return SKFAIL(LM_EFORMAT, v, "%s: expected a numeric numpy array, got %s", what,
                  lm__pv_describe(v, d, sizeof d));
  if (v->nd_ndim != ndim)
    return SKFAIL(LM_EFORMAT, v, "%s: expected %u dimension(s), got %u", what, ndim, v->nd_ndim);
  for (uint32_t i = 0; want && i < ndim; i++)
    if (want[i] != UINT64_MAX && v->nd_shape[i] != want[i])
      return SKFAIL(LM_EFORMAT, v, "%s: dimension %u is %llu, expected %llu", what, i,
                    (unsigned long long)v->nd_shape[i], (unsigned long long)want[i]);
  return LM_OK;
}

/* ---- trees -------------------------------------------------------------------------------- */

/* The double t' with x <= t' ⇔ (float)x <= t for every double x (see the file comment). */
double lm__sklearn_f32_boundary(double t) {
  float f = (float)t;
  if ((double)f > t) f = nextafterf(f, -INFINITY);
  if (isinf(f) && f < 0) return -INFINITY; /* below every float: only -inf rows go left */
  float g = nextafterf(f, INFINITY);
  uint32_t fb;
  memcpy(&fb, &f, 4);
  double mid;
  if (isinf(g)) mid = (double)FLT_MAX + ldexp(1.0, 103); /* doubles from here round to inf */
  else mid = ((double)f + (double)g) / 2;
  int tie_to_f = (fb & 1) == 0; /* round half to even */
  return tie_to_f ? mid : nextafter(mid, -INFINITY);
}

/* Feature f of a raw row x after the pipeline's scaling steps, as sklearn computes it. */
static double through_steps(const affine *af, uint32_t f, double x) {
  for (int i = 0; i < af->n; i++) {
    const double *p = af->step[i].p, *q = af->step[i].q;
    switch (af->step[i].op) {
    case 's': if (p) x -= p[f]; if (q) x /= q[f]; break;
    case 'm': x *= p[f]; x += q[f]; break;
    default: x /= p[f]; break;
    }
  }
  return x;
}

/* Doubles in their order as unsigned keys (-0 just below +0). */
static uint64_t dkey(double x) {
  uint64_t u;
  memcpy(&u, &x, 8);
  return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}
static double dunkey(uint64_t k) {
  uint64_t u = k >> 63 ? k & ~((uint64_t)1 << 63) : ~k;
  double x;
  memcpy(&x, &u, 8);
  return x;
}

static int goes_left(const affine *af, uint32_t f, double x, double t, int f32) {
  double v = through_steps(af, f, x);
  return f32 ? (double)(float)v <= t : v <= t;
}

/* The largest raw double x that goes left at threshold t after the scaling steps (every step is
 * non-decreasing in x, and so is the rounding to float32): a binary search over the doubles. */
double lm__sk_mapped_threshold(const affine *af, uint32_t f, double t, int f32) {
  uint64_t lo = dkey(-DBL_MAX), hi = dkey(DBL_MAX);
  if (!goes_left(af, f, dunkey(lo), t, f32)) return -INFINITY;
  if (goes_left(af, f, dunkey(hi), t, f32)) return INFINITY;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (goes_left(af, f, dunkey(mid), t, f32)) lo = mid;
    else hi = mid;
  }
  return dunkey(lo);
}

/* enum leafmode: sklearn_internal.h */

/* Objects may be shared in a pickle (one tree referenced from many places with a 2-byte memo
 * GET): IR nodes are bounded by what the input's bytes can hold (a pickled tree node takes more
 * than 8 bytes), so that memory stays linear in the input. */
int lm__sk_node_budget(sk *k, uint64_t n, const lm_pv *v) {
  if (k->nodes + n > k->budget)
    return SKFAIL(LM_EFORMAT, v, "more tree nodes (%llu) than the %llu the input's bytes can hold "
                  "(one tree referenced many times?)", (unsigned long long)(k->nodes + n),
                  (unsigned long long)k->budget);
  k->nodes += n;
  return LM_OK;
}

lm_ir_tree *lm__sk_new_tree(sk *k, uint32_t n_nodes, uint32_t group) {
  lm_ir_model *ir = k->ir;
  if (ir->n_trees == k->cap) {
    uint32_t c = k->cap ? 2 * k->cap : 16;
    lm_ir_tree *nt = realloc(ir->trees, c * sizeof *nt);
    if (!nt) return NULL;
    ir->trees = nt;
    k->cap = c;
  }
  lm_ir_tree *t = &ir->trees[ir->n_trees];
  memset(t, 0, sizeof *t);
  if (!(t->nodes = calloc(n_nodes ? n_nodes : 1, sizeof *t->nodes))) return NULL;
  t->n_nodes = n_nodes;
  t->group = group;
  t->weight = 1.0f;
  ir->n_trees++;
  return t;
}

/* One leaf holding v (init_ / baseline). */
int lm__sk_const_tree(sk *k, uint32_t group, double v) {
  lm_ir_tree *t = lm__sk_new_tree(k, 1, group);
  if (!t) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  t->nodes[0] = (lm_ir_node){.left = -1, .right = -1, .value = (float)v, .value_d = v,
                             .missing_type = LM_MISSING_NAN};
  return LM_OK;
}

/* sk_tree (a fitted sklearn.tree._tree.Tree): sklearn_internal.h */
int lm__sk_read_tree(sk *k, const lm_pv *est, const char *where, sk_tree *t) {
  char d[160];
  const lm_pv *st = lm__pv_state(est);
  if (!st) return SKFAIL(LM_EFORMAT, est, "%s: not a fitted tree estimator (%s)", where, lm__pv_describe(est, d, sizeof d));
  const lm_pv *tr = st_get(st, "tree_");
  if (!lm__pv_obj_is(tr, "sklearn.tree._tree", "Tree"))
    return SKFAIL(LM_EFORMAT, tr ? tr : st, "%s.tree_: expected a sklearn.tree._tree.Tree, got %s", where,
                  tr ? lm__pv_describe(tr, d, sizeof d) : "nothing");
  const lm_pv *ts = lm__pv_state(tr), *args = tr->args;
  if (!ts || !args || args->kind != LM_PV_TUPLE || args->n != 3 || args->items[0]->kind != LM_PV_INT ||
      args->items[2]->kind != LM_PV_INT)
    return SKFAIL(LM_EFORMAT, tr, "%s.tree_: not (n_features, n_classes, n_outputs) with a state", where);
  if (args->items[2]->i != 1)
    return SKFAIL(LM_EUNSUPPORTED, tr, "%s.tree_: %lld outputs (multi-output trees are not supported)",
                  where, (long long)args->items[2]->i);
  uint32_t tf = k->fmap ? k->fmap_n : k->ir->num_features;
  if ((uint64_t)args->items[0]->i != tf)
    return SKFAIL(LM_EFORMAT, tr, "%s.tree_: %lld features, the estimator has %u", where,
                  (long long)args->items[0]->i, tf);
  int64_t nc = 0;
  int rc = st_int(k, ts, "node_count", 1, INT32_MAX, &nc);
  if (rc) return rc;
  t->n = (uint64_t)nc;
  t->nodes = st_get(ts, "nodes");
  t->values = st_get(ts, "values");
  if (!t->nodes || t->nodes->kind != LM_PV_NDARRAY || !t->nodes->nd_dtype ||
      t->nodes->nd_dtype->dt_kind != 'V' || t->nodes->nd_ndim != 1 || t->nodes->nd_count != t->n)
    return SKFAIL(LM_EFORMAT, t->nodes ? t->nodes : ts,
                  "%s.tree_.nodes: expected a structured array of node_count (%llu) nodes", where,
                  (unsigned long long)t->n);
  const lm_pv *dt = t->nodes->nd_dtype;
  struct { const char *nm; const lm_pv **f; uint32_t *o; char kind; } fl[] = {
      {"left_child", &t->f_left, &t->o_left, 'i'}, {"right_child", &t->f_right, &t->o_right, 'i'},
      {"feature", &t->f_feat, &t->o_feat, 'i'}, {"threshold", &t->f_thr, &t->o_thr, 'f'},
      {"n_node_samples", &t->f_ns, &t->o_ns, 'i'}};
  for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
    if (lm__dt_field(dt, fl[i].nm, fl[i].f, fl[i].o) || !lm__sk_is_num_dt(*fl[i].f) ||
        (*fl[i].f)->dt_kind != fl[i].kind)
      return SKFAIL(LM_EFORMAT, t->nodes, "%s.tree_.nodes: field '%s' missing or not %s", where,
                    fl[i].nm, fl[i].kind == 'f' ? "a float" : "an int");
  t->f_miss = NULL;
  if (!lm__dt_field(dt, "missing_go_to_left", &t->f_miss, &t->o_miss) && !lm__sk_is_num_dt(t->f_miss))
    t->f_miss = NULL;
  uint64_t want[3] = {t->n, 1, UINT64_MAX};
  if ((rc = lm__sk_need_arr(k, t->values, "tree_.values", 3, want))) return rc;
  if (t->values->nd_dtype->dt_kind != 'f')
    return SKFAIL(LM_EFORMAT, t->values, "%s.tree_.values: expected floats", where);
  t->ncls = t->values->nd_shape[2];
  if (t->ncls < 1) return SKFAIL(LM_EFORMAT, t->values, "%s.tree_.values: no value per node", where);
  return LM_OK;
}

static double tval(const sk_tree *t, uint64_t node, uint64_t c) {
  /* values[node, 0, c] */
  const lm_pv *v = t->values;
  uint64_t i = v->nd_fortran ? node + c * v->nd_shape[0] : node * t->ncls + c;
  return lm__nd_get(v, i, NULL, 0);
}

/* Append one IR tree for output `group` from t (mode: leaf values as they are, class
 * probability of class `cls`, or off + scale · value: a boosting stage, the first one carrying
 * init_'s raw prediction off, added as sklearn adds it, so the sums round alike). */
int lm__sk_add_tree(sk *k, const sk_tree *t, const char *where, uint32_t group, int mode,
                    uint64_t cls, double scale, double off) {
  int brc = lm__sk_node_budget(k, t->n, t->nodes);
  if (brc) return brc;
  lm_ir_tree *it = lm__sk_new_tree(k, (uint32_t)t->n, group);
  if (!it) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  for (uint64_t i = 0; i < t->n; i++) {
    lm_ir_node *nd = &it->nodes[i];
    int64_t l = lm__nd_get_i(t->nodes, i, t->f_left, t->o_left);
    int64_t r = lm__nd_get_i(t->nodes, i, t->f_right, t->o_right);
    nd->missing_type = LM_MISSING_NAN;
    if (l == -1 && r == -1) { /* TREE_LEAF */
      double v;
      if (mode == LEAF_PROBA) {
        double s = 0;
        for (uint64_t c = 0; c < t->ncls; c++) s += tval(t, i, c);
        if (s == 0.0) s = 1.0;
        v = tval(t, i, cls) / s;
      } else {
        v = tval(t, i, 0);
        if (mode == LEAF_SCALED) v = off + scale * v;
      }
      if (!isfinite(v))
        return SKFAIL(LM_EFORMAT, t->values, "%s.tree_: node %llu: leaf value %g is not finite", where,
                      (unsigned long long)i, v);
      nd->left = nd->right = -1;
      nd->value_d = v;
      nd->value = (float)v;
      continue;
    }
    if (l <= 0 || r <= 0 || (uint64_t)l >= t->n || (uint64_t)r >= t->n || l == r)
      return SKFAIL(LM_EFORMAT, t->nodes, "%s.tree_.nodes[%llu]: children %lld and %lld out of range "
                    "(node_count %llu)", where, (unsigned long long)i, (long long)l, (long long)r,
                    (unsigned long long)t->n);
    int64_t f = lm__nd_get_i(t->nodes, i, t->f_feat, t->o_feat);
    uint32_t tf = k->fmap ? k->fmap_n : k->ir->num_features;
    if (f < 0 || (uint64_t)f >= tf)
      return SKFAIL(LM_EFORMAT, t->nodes, "%s.tree_.nodes[%llu]: feature %lld out of range (%u features)",
                    where, (unsigned long long)i, (long long)f, tf);
    if (k->fmap) f = k->fmap[f]; /* the tree's feature f is the estimator's fmap[f] */
    double th = lm__nd_get(t->nodes, i, t->f_thr, t->o_thr);
    if (isnan(th))
      return SKFAIL(LM_EFORMAT, t->nodes, "%s.tree_.nodes[%llu]: threshold is NaN", where,
                    (unsigned long long)i);
    nd->left = (int32_t)l;
    nd->right = (int32_t)r;
    nd->feature = (uint32_t)f;
    nd->value_d = k->af ? lm__sk_mapped_threshold(k->af, (uint32_t)f, th, 1) : lm__sklearn_f32_boundary(th);
    nd->value = (float)nd->value_d;
    if (t->f_miss)
      nd->default_left = lm__nd_get_i(t->nodes, i, t->f_miss, t->o_miss) != 0;
    else
      nd->default_left = lm__nd_get_i(t->nodes, (uint64_t)l, t->f_ns, t->o_ns) >
                         lm__nd_get_i(t->nodes, (uint64_t)r, t->f_ns, t->o_ns);
  }
  uint32_t node, from;
  int rep = lm_ir_tree_find_repeat(it, &node, &from);
  if (rep < 0) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  if (rep)
    return SKFAIL(LM_EFORMAT, t->nodes, "%s.tree_.nodes[%u]: reached twice (from node %u): not a tree",
                  where, node, from);
  return LM_OK;
}

int lm__sk_set_obj(sk *k, const char *objective) {
  snprintf(k->ir->objective, sizeof k->ir->objective, "%s", objective);
  return LM_OK;
}

/* n_features_in_ (the row width sklearn checks). */
int lm__sk_features(sk *k, const lm_pv *st) {
  int64_t f = 0;
  int rc = st_int(k, st, "n_features_in_", 1, (int64_t)1 << 24, &f);
  if (rc) return rc;
  k->ir->num_features = (uint32_t)f;
  return LM_OK;
}

/* A classifier's class count: n_classes_ (int), else classes_ (an array). */
int lm__sk_classes(sk *k, const lm_pv *st, uint64_t *K) {
  const lm_pv *v = st_get(st, "n_classes_");
  if (v && (v->kind == LM_PV_INT) && v->i >= 1 && v->i <= (1 << 20)) {
    *K = (uint64_t)v->i;
  } else {
    v = st_get(st, "classes_");
    if (!v || v->kind != LM_PV_NDARRAY || v->nd_ndim != 1)
      return SKFAIL(LM_EFORMAT, v ? v : st, "no class count: 'n_classes_' or a 1-D 'classes_' array");
    *K = v->nd_count;
  }
  if (*K < 2) return SKFAIL(LM_EFORMAT, v, "%llu class(es): a classifier needs 2 or more", (unsigned long long)*K);
  if (*K > (1 << 16)) return SKFAIL(LM_ERANGE, v, "%llu classes: more than 65536", (unsigned long long)*K);
  return LM_OK;
}

static int n_outputs_1(sk *k, const lm_pv *st) {
  const lm_pv *v = st_get(st, "n_outputs_");
  if (v && v->kind == LM_PV_INT && v->i != 1)
    return SKFAIL(LM_EUNSUPPORTED, v, "%lld outputs: multi-output estimators are not supported", (long long)v->i);
  return LM_OK;
}

/* DecisionTree* / ExtraTree* (one) and RandomForest* / ExtraTrees* (estimators_). */
static int forest(sk *k, const lm_pv *est, const lm_pv *st, int classifier, int single) {
  int rc;
  uint64_t K = 1;
  if ((rc = lm__sk_features(k, st)) || (rc = n_outputs_1(k, st))) return rc;
  if (classifier && (rc = lm__sk_classes(k, st, &K))) return rc;
  lm_ir_model *ir = k->ir;
  ir->num_outputs = K == 2 ? 1 : (uint32_t)K;
  lm__sk_set_obj(k, classifier ? "lightgbm:custom" : "lightgbm:regression");
  const lm_pv *list = NULL;
  size_t n = 1;
  if (!single) {
    list = st_get(st, "estimators_");
    if (!list || list->kind != LM_PV_LIST || list->n == 0)
      return SKFAIL(LM_ENOMODEL, list ? list : st, "no fitted 'estimators_' list");
    n = list->n;
    if (n > 1) ir->average_over = (uint32_t)n;
  }
  for (size_t e = 0; e < n; e++) {
    char where[48];
    snprintf(where, sizeof where, single ? "tree" : "estimators_[%zu]", e);
    sk_tree t;
    if ((rc = lm__sk_read_tree(k, single ? est : list->items[e], where, &t))) return rc;
    if (classifier && t.ncls != K)
      return SKFAIL(LM_EFORMAT, t.values, "%s.tree_.values: %llu classes, the estimator has %llu", where,
                    (unsigned long long)t.ncls, (unsigned long long)K);
    if (!classifier) {
      if ((rc = lm__sk_add_tree(k, &t, where, 0, LEAF_VALUE, 0, 1.0, 0.0))) return rc;
    } else if (K == 2) {
      if ((rc = lm__sk_add_tree(k, &t, where, 0, LEAF_PROBA, 1, 1.0, 0.0))) return rc;
    } else {
      for (uint64_t c = 0; c < K; c++)
        if ((rc = lm__sk_add_tree(k, &t, where, (uint32_t)c, LEAF_PROBA, c, 1.0, 0.0))) return rc;
    }
  }
  return LM_OK;
}

/* ---- gradient boosting -------------------------------------------------------------------- */

/* init_'s raw prediction per output (sklearn/ensemble/_gb_losses.py get_init_raw_predictions). */
static int gb_init(sk *k, const lm_pv *st, const char *loss, uint64_t K, double *raw) {
  const lm_pv *init = st_get(st, "init_");
  char d[160];
  uint64_t G = K == 2 ? 1 : K;
  if (!init) return SKFAIL(LM_EFORMAT, st, "state has no 'init_'");
  if (lm__pv_str_is(init, "zero")) {
    for (uint64_t g = 0; g < G; g++) raw[g] = 0;
    return LM_OK;
  }
  const lm_pv *is = lm__pv_state(init);
  if (lm__pv_obj_is(init, "sklearn.dummy", "DummyRegressor") && K == 1) {
    const lm_pv *c = st_get(is, "constant_");
    uint64_t want[2] = {1, 1};
    int rc = lm__sk_need_arr(k, c, "init_.constant_", 2, want);
    if (rc) return rc;
    raw[0] = lm__nd_get(c, 0, NULL, 0);
    return LM_OK;
  }
  if (lm__pv_obj_is(init, "sklearn.dummy", "DummyClassifier") && K >= 2) {
    if (!lm__pv_str_is(st_get(is, "strategy"), "prior"))
      return SKFAIL(LM_EUNSUPPORTED, init, "init_: a DummyClassifier whose strategy is not 'prior'");
    const lm_pv *p = st_get(is, "class_prior_");
    uint64_t want[1] = {K};
    int rc = lm__sk_need_arr(k, p, "init_.class_prior_", 1, want);
    if (rc) return rc;
    const double eps = (double)FLT_EPSILON, hi = 1.0 - (double)FLT_EPSILON;
    if (K == 2) {
      double q = lm__nd_get(p, 1, NULL, 0);
      q = q < eps ? eps : q > hi ? hi : q;
      raw[0] = log(q / (1 - q));
      if (!strcmp(loss, "ExponentialLoss")) raw[0] *= 0.5;
    } else {
      for (uint64_t g = 0; g < K; g++) {
        double q = lm__nd_get(p, g, NULL, 0);
        raw[g] = log(q < eps ? eps : q > hi ? hi : q);
      }
    }
    return LM_OK;
  }
  return SKFAIL(LM_EUNSUPPORTED, init, "init_ is %s: only 'zero', DummyClassifier (prior) and "
                "DummyRegressor are supported", lm__pv_describe(init, d, sizeof d));
}

/* What both gradient-boosting readers start with: features, classes (K of them; G outputs: 1
 * for two classes), the estimator's '_loss' object and its class name into ln (≤ 60
 * characters). */
int lm__sk_boost_head(sk *k, const lm_pv *st, int classifier, uint64_t *K, uint64_t *G,
                      const lm_pv **loss, char ln[64]) {
  int rc;
  *K = 1;
  if ((rc = lm__sk_features(k, st))) return rc;
  if (classifier && (rc = lm__sk_classes(k, st, K))) return rc;
  *G = *K == 2 ? 1 : *K;
  k->ir->num_outputs = (uint32_t)*G;
  const lm_pv *l = *loss = st_get(st, "_loss");
  if (!l || l->kind != LM_PV_OBJ || !l->cls || l->cls->kind != LM_PV_GLOBAL)
    return SKFAIL(LM_EFORMAT, l ? l : st, "state '_loss': expected a loss object");
  snprintf(ln, 64, "%.*s", (int)(l->cls->len2 < 60 ? l->cls->len2 : 60), (const char *)l->cls->s2);
  return 0;
}

static int gradient_boosting(sk *k, const lm_pv *st, int classifier) {
  int rc;
  uint64_t K, G;
  const lm_pv *loss;
  char ln[64];
  if ((rc = lm__sk_boost_head(k, st, classifier, &K, &G, &loss, ln))) return rc;
  lm_ir_model *ir = k->ir;
  if (classifier) {
    if (!strcmp(ln, "BinomialDeviance") && K == 2) lm__sk_set_obj(k, "lightgbm:binary");
    else if (!strcmp(ln, "ExponentialLoss") && K == 2) lm__sk_set_obj(k, "lightgbm:binary"), ir->link_param = 2.0;
    else if (!strcmp(ln, "MultinomialDeviance") && K > 2) lm__sk_set_obj(k, "lightgbm:multiclass");
    else return SKFAIL(LM_EUNSUPPORTED, loss, "loss %s with %llu classes: not supported", ln, (unsigned long long)K);
  } else {
    if (strcmp(ln, "LeastSquaresError") && strcmp(ln, "LeastAbsoluteError") &&
        strcmp(ln, "HuberLossFunction") && strcmp(ln, "QuantileLossFunction"))
      return SKFAIL(LM_EUNSUPPORTED, loss, "loss %s: not supported", ln);
    lm__sk_set_obj(k, "lightgbm:regression");
  }
  double lr = 0;
  if ((rc = st_num(k, st, "learning_rate", &lr))) return rc;
  double *raw = calloc(G, sizeof *raw);
  if (!raw) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  rc = gb_init(k, st, ln, K, raw);
  const lm_pv *es = st_get(st, "estimators_");
  uint64_t want[2] = {UINT64_MAX, G};
  char d[160];
  if (!rc && (!es || es->kind != LM_PV_NDARRAY || !es->nd_dtype || es->nd_dtype->dt_kind != 'O' ||
              es->nd_ndim != 2 || es->nd_shape[1] != want[1]))
    rc = SKFAIL(LM_EFORMAT, es ? es : st, "estimators_: expected an object array of shape "
                "(n_estimators, %llu), got %s", (unsigned long long)G,
                es ? lm__pv_describe(es, d, sizeof d) : "nothing");
  /* init_'s raw prediction goes into the first stage's leaves (sklearn starts from it and adds
   * learning_rate · value stage by stage: the same double sums); so every .lm tree is one of
   * sklearn's, as apply() numbers them. Without stages, one-leaf trees hold it. */
  if (!rc && es->nd_shape[0] == 0)
    for (uint64_t g = 0; !rc && g < G; g++) rc = lm__sk_const_tree(k, (uint32_t)g, raw[g]);
  for (uint64_t i = 0; !rc && i < es->nd_shape[0]; i++)
    for (uint64_t g = 0; !rc && g < G; g++) {
      char where[64];
      snprintf(where, sizeof where, "estimators_[%llu, %llu]", (unsigned long long)i, (unsigned long long)g);
      sk_tree t;
      if (!(rc = lm__sk_read_tree(k, es->nd_objs[lm__nd_at2(es, i, g)], where, &t)))
        rc = lm__sk_add_tree(k, &t, where, (uint32_t)g, LEAF_SCALED, 0, lr, i == 0 ? raw[g] : 0.0);
    }
  free(raw);
  return rc;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static const char *const k_trees[] = {"DecisionTreeClassifier", "DecisionTreeRegressor",
                                      "ExtraTreeClassifier",    "ExtraTreeRegressor",
                                      "RandomForestClassifier", "RandomForestRegressor",
                                      "ExtraTreesClassifier",   "ExtraTreesRegressor"};
static const char *const k_linear[] = {"LinearRegression", "Ridge",     "Lasso",
                                       "ElasticNet",       "SGDRegressor", "LinearSVR",
                                       "LogisticRegression", "SGDClassifier", "LinearSVC"};

static int in_list(const char *c, const char *const *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(c, l[i])) return 1;
  return 0;
}

#define N(a) (sizeof a / sizeof a[0])

static int single_tree(const char *c) {
  return strncmp(c, "Decision", 8) == 0 || (strncmp(c, "ExtraTree", 9) == 0 && c[9] != 's');
}

static int estimator(sk *k, const lm_pv *v, const affine *af, const char *step) {
  char d[160];
  if (v->kind != LM_PV_OBJ || !v->cls || v->cls->kind != LM_PV_GLOBAL || v->cls->len < 8 ||
      memcmp(v->cls->s, "sklearn.", 8))
    return SKFAIL(LM_EUNSUPPORTED, v, "%s is %s: not a scikit-learn estimator", step ? step : "the pickle",
                  lm__pv_describe(v, d, sizeof d));
  snprintf(k->cls, sizeof k->cls, "%.*s", (int)(v->cls->len2 < 60 ? v->cls->len2 : 60), (const char *)v->cls->s2);
  const lm_pv *st = lm__pv_state(v);
  if (!st) return SKFAIL(LM_EFORMAT, v, "no state dict (BUILD)");
  const lm_pv *ver = st_get(st, "_sklearn_version");
  if (ver && ver->kind == LM_PV_STR && ver->len < sizeof k->ir->source_version)
    snprintf(k->ir->source_version, sizeof k->ir->source_version, "%.*s", (int)ver->len, (const char *)ver->s);
  const char *c = k->cls;
  int tree = in_list(c, k_trees, N(k_trees)), lin = in_list(c, k_linear, N(k_linear));
  int gb = !strcmp(c, "GradientBoostingClassifier") || !strcmp(c, "GradientBoostingRegressor");
  int hgb = !strcmp(c, "HistGradientBoostingClassifier") || !strcmp(c, "HistGradientBoostingRegressor");
  int iso = !strcmp(c, "IsolationForest");
  if (af && (tree || gb || hgb || iso)) k->af = af; /* thresholds mapped back through the steps */
  if (!strcmp(c, "Pipeline"))
    return SKFAIL(LM_EUNSUPPORTED, v, "a Pipeline inside a Pipeline: not supported");
  if (tree || gb || hgb || iso) {
    k->ir->decision = LM_DECISION_LIGHTGBM;
    k->ir->keep_tiny = 1;
    k->ir->booster = LM_BOOSTER_GBTREE;
    k->ir->link_param = 1.0;
    int clf = strstr(c, "Classifier") != NULL;
    if (tree) return forest(k, v, st, clf, single_tree(c));
    if (gb) return gradient_boosting(k, st, clf);
    if (iso) return lm__sk_iforest(k, st);
    return lm__sk_hist_gb(k, st, clf);
  }
  if (lin) {
    int rc = lm__sk_features(k, st);
    if (rc) return rc;
    return lm__sk_linear(k, v, st, af);
  }
  if (af)
    return SKFAIL(LM_EUNSUPPORTED, v, "a Pipeline's scaling steps before %s: not supported", c);
  return lm__fail(LM_EUNSUPPORTED, "%s: byte %zu: %s: not supported (trees: DecisionTree*, ExtraTree*, RandomForest*, "
                "ExtraTrees*, GradientBoosting*, HistGradientBoosting*, IsolationForest; linear: "
                "LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor, LinearSVR, LogisticRegression, SGDClassifier, "
                "LinearSVC; Pipeline of scalers and one of those)", k->name, v->at,
                  lm__pv_describe(v, d, sizeof d));
}

static int pipeline(sk *k, const lm_pv *v) {
  snprintf(k->cls, sizeof k->cls, "Pipeline");
  const lm_pv *st = lm__pv_state(v), *steps = st_get(st, "steps");
  if (!steps || steps->kind != LM_PV_LIST || steps->n == 0)
    return SKFAIL(LM_EFORMAT, steps ? steps : v, "steps: expected a non-empty list");
  affine af = {0};
  int rc = LM_OK, scaled = 0;
  uint32_t F = 0;
  for (size_t i = 0; i < steps->n && !rc; i++) {
    const lm_pv *s = steps->items[i];
    if (s->kind != LM_PV_TUPLE || s->n != 2 || s->items[0]->kind != LM_PV_STR) {
      rc = SKFAIL(LM_EFORMAT, s, "steps[%zu]: expected a (name, estimator) tuple", i);
      break;
    }
    char sname[64];
    snprintf(sname, sizeof sname, "%.*s", (int)(s->items[0]->len < 60 ? s->items[0]->len : 60), (const char *)s->items[0]->s);
    for (char *p = sname; *p; p++)
      if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    const lm_pv *e = s->items[1];
    if (e->kind == LM_PV_NONE || lm__pv_str_is(e, "passthrough")) continue;
    if (i + 1 == steps->n) {
      rc = estimator(k, e, scaled ? &af : NULL, sname);
      if (!rc && scaled && k->ir->num_features != F)
        rc = SKFAIL(LM_EFORMAT, e, "%u features, the Pipeline's scaling steps have %u",
                    k->ir->num_features, F);
      break;
    }
    const lm_pv *es = lm__pv_state(e);
    if (!lm__pv_obj_is(e, "sklearn.preprocessing._data", "StandardScaler") &&
        !lm__pv_obj_is(e, "sklearn.preprocessing._data", "MinMaxScaler") &&
        !lm__pv_obj_is(e, "sklearn.preprocessing._data", "MaxAbsScaler")) {
      char d[160];
      rc = SKFAIL(LM_EUNSUPPORTED, e, "step '%s' is %s: only StandardScaler, MinMaxScaler and "
                  "MaxAbsScaler steps are supported before the final estimator", sname,
                  lm__pv_describe(e, d, sizeof d));
      break;
    }
    if (!af.a) {
      int64_t nf = 0;
      if ((rc = st_int(k, es ? es : v, "n_features_in_", 1, (int64_t)1 << 24, &nf))) break;
      F = (uint32_t)nf;
      /* allocate for F features only once an array of the step holds that many */
      const lm_pv *arr = st_get(es, "scale_");
      if (!arr || arr->kind != LM_PV_NDARRAY) arr = st_get(es, "mean_");
      if (!arr || arr->kind != LM_PV_NDARRAY || arr->nd_count != (uint64_t)nf) {
        rc = SKFAIL(LM_EFORMAT, e, "Pipeline step '%s': no scale_ or mean_ array of its "
                    "n_features_in_ (%lld) values", sname, (long long)nf);
        break;
      }
      af.a = calloc(F, sizeof *af.a), af.c = calloc(F, sizeof *af.c);
      if (!af.a || !af.c) {
        rc = lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
        break;
      }
      for (uint32_t f = 0; f < F; f++) af.a[f] = 1.0;
    }
    rc = lm__sk_scaler(k, e, sname, F, &af);
    scaled = 1;
  }
  free(af.a), free(af.c);
  for (int i = 0; i < af.n; i++) free(af.step[i].p), free(af.step[i].q);
  k->af = NULL;
  return rc;
}

int lm__pickled_sklearn(const lm_pv *v, const char *name, size_t len, lm_ir_model **out) {
  *out = NULL;
  sk k = {.name = name, .budget = len / 4 + 4096};
  if (!(k.ir = lm_ir_new())) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  snprintf(k.ir->source_format, sizeof k.ir->source_format, "sklearn-pickle");
  int pipe = lm__pv_obj_is(v, "sklearn.pipeline", "Pipeline");
  int rc = pipe ? pipeline(&k, v) : estimator(&k, v, NULL, NULL);
  if (rc) {
    lm_ir_free(k.ir);
    return rc;
  }
  /* what lminfo shows as the objective: the estimator and the method whose values the model
   * gives (the table's objective, lightgbm:* or linear-learner:*, only fixes the link) */
  const char *c = k.cls, *o = k.ir->objective, *method = "predict";
  if (!strcmp(c, "IsolationForest")) method = "score_samples";
  else if (strstr(c, "Classifier") || !strcmp(c, "LogisticRegression") || !strcmp(c, "LinearSVC"))
    method = k.ir->booster == LM_BOOSTER_LINEAR && !strcmp(o, "reg:squarederror") ? "decision_function"
                                                                                    : "predict_proba";
  snprintf(k.ir->trainer_objective, sizeof k.ir->trainer_objective, "sklearn:%s%.40s.%s",
           pipe ? "Pipeline>" : "", c, method);
  *out = k.ir;
  return LM_OK;
}
