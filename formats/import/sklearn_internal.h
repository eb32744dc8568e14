/*
 * sklearn_internal.h — private to the scikit-learn importer: what sklearn.c (trees, forests,
 * gradient boosting, dispatch and pipelines) and sklearn_linear.c (scalers and linear models)
 * share — the importer's state, the scaling steps of a Pipeline, its error macro and helpers.
 */
#ifndef LM_FORMATS_IMPORT_SKLEARN_INTERNAL_H
#define LM_FORMATS_IMPORT_SKLEARN_INTERNAL_H

#include <stdint.h>

#include "formats/import/pickled.h"
#include "base/error.h"

/* A Pipeline's scaling steps: x' = a[f]·x + c[f] per feature (folded into linear weights), and
 * the same steps as sklearn computes them (op 's' StandardScaler: x -= p, x /= q; 'm'
 * MinMaxScaler: x *= p, x += q; 'a' MaxAbsScaler: x /= p; a NULL array is a skipped
 * operation), through which tree thresholds are mapped back onto the raw feature. */
#define SK_MAX_STEPS 8
typedef struct affine {
  double *a, *c;
  int n;
  struct { char op; double *p, *q; } step[SK_MAX_STEPS];
} affine;

typedef struct sk {
  const affine *af; /* scaling steps before a tree model, or NULL */
  const char *name; /* the input, for messages */
  char cls[64];     /* the estimator's class name */
  lm_ir_model *ir;
  uint32_t cap;     /* trees allocated */
  uint64_t nodes, budget; /* IR nodes made, and how many the input can account for */
  const uint32_t *fmap;   /* or NULL: a tree's feature f is the estimator's fmap[f] (a bagged
                             tree on a subset of fmap_n features: IsolationForest) */
  uint32_t fmap_n;
} sk;

/* A fitted sklearn.tree._tree.Tree: its nodes and values, checked. */
typedef struct sk_tree {
  const lm_pv *nodes, *values;
  const lm_pv *f_left, *f_right, *f_feat, *f_thr, *f_ns, *f_miss;
  uint32_t o_left, o_right, o_feat, o_thr, o_ns, o_miss;
  uint64_t n, ncls;
} sk_tree;

/* Leaf values of lm__sk_add_tree: values[node, 0, 0]; the class probability of class cls;
 * off + scale · values[node, 0, 0]. */
enum leafmode { LEAF_VALUE, LEAF_PROBA, LEAF_SCALED };

#define SKFAIL(code, v, ...) lm__sk_fail(k, code, v, __VA_ARGS__)

/* sklearn.c: an error naming the input, the byte offset of v (when not NULL) and the class. */
int lm__sk_fail(const sk *k, int code, const lm_pv *v, const char *fmt, ...) LM__PRINTF(4, 5);

static inline const lm_pv *st_get(const lm_pv *st, const char *key) { return lm__pv_dict_get(st, key); }

/* sklearn.c: a numeric numpy dtype (f4/f8, i/u of 1–8 bytes, b1). */
int lm__sk_is_num_dt(const lm_pv *dt);
/* sklearn.c: a numeric array of ndim dimensions (shape[i] checked when want[i] != UINT64_MAX). */
int lm__sk_need_arr(sk *k, const lm_pv *v, const char *what, uint32_t ndim, const uint64_t *want);
/* sklearn.c: est.tree_ (where names it in messages) → *t, checked. */
int lm__sk_read_tree(sk *k, const lm_pv *est, const char *where, sk_tree *t);
/* sklearn.c: one IR tree for output group from t, in sklearn's node ids (see enum leafmode). */
int lm__sk_add_tree(sk *k, const sk_tree *t, const char *where, uint32_t group, int mode,
                    uint64_t cls, double scale, double off);
/* sklearn.c: n_features_in_ → ir->num_features. */
int lm__sk_features(sk *k, const lm_pv *st);
/* sklearn.c: count n more IR nodes against the input's budget (error naming v past it). */
int lm__sk_node_budget(sk *k, uint64_t n, const lm_pv *v);
/* sklearn.c: a new IR tree of n_nodes zeroed nodes for output group (NULL: out of memory). */
lm_ir_tree *lm__sk_new_tree(sk *k, uint32_t n_nodes, uint32_t group);
/* sklearn.c: a one-leaf tree holding v for output group. */
int lm__sk_const_tree(sk *k, uint32_t group, double v);
/* sklearn.c: the largest raw double that goes left at threshold t after the scaling steps af
 * (f32: then rounded to float32 as sklearn's trees do). */
double lm__sk_mapped_threshold(const affine *af, uint32_t f, double t, int f32);
/* sklearn_hist.c: HistGradientBoosting{Classifier,Regressor}. */
int lm__sk_hist_gb(sk *k, const lm_pv *st, int classifier);
/* sklearn_iforest.c: an IsolationForest (score_samples). */
int lm__sk_iforest(sk *k, const lm_pv *st);
/* sklearn.c: the IR's objective. */
int lm__sk_set_obj(sk *k, const char *objective);
/* sklearn.c: classes_ of a classifier's state → *K. */
int lm__sk_classes(sk *k, const lm_pv *st, uint64_t *K);
/* Features, classes (K; G outputs) and the '_loss' object and class name of a gradient-boosting
 * estimator. */
int lm__sk_boost_head(sk *k, const lm_pv *st, int classifier, uint64_t *K, uint64_t *G,
                      const lm_pv **loss, char ln[64]);

/* sklearn_linear.c: one scaling step of a Pipeline, appended to af. */
int lm__sk_scaler(sk *k, const lm_pv *step, const char *sname, uint32_t F, affine *af);
/* sklearn_linear.c: a linear model (after the scaling steps af, or NULL). */
int lm__sk_linear(sk *k, const lm_pv *est, const lm_pv *st, const affine *af);

#endif
