/*
 * sklearn_iforest.c — scikit-learn's IsolationForest (sklearn/ensemble/_iforest.py, 1.2) as a
 * tree model whose output is score_samples:
 *
 *   score_samples(x) = −2^(−depths(x) / (n_estimators · c(max_samples_)))
 *   depths(x) = Σ over trees of (nodes on x's path + c(n_node_samples[leaf])) − 1.0
 *   c(n) = 0 (n ≤ 1), 1 (n = 2), 2(ln(n − 1) + γ) − 2(n − 1)/n
 *
 * Each tree's leaf holds its term, computed in double in sklearn's order ((depth + 1) + c(n))
 * − 1.0, so the trees' double sum (decision 1, in tree order from 0) is sklearn's `depths`; the
 * link neg-exp2 (formats/SPEC.md, link 12, objective 52 sklearn:isolation_forest) divides by
 * link_param = n_estimators · c(max_samples_) as sklearn does. The margin (LM_PREDICT_MARGIN)
 * is `depths`. decision_function is score_samples − offset_ (−0.5 with contamination='auto'),
 * a subtraction left to the caller (lmrt returns score_samples). Thresholds follow the float32 rule
 * of sklearn.c (apply() reads rows as float32); trees bagged on a subset of the features
 * (max_features < n_features_in_) have their features mapped through estimators_features_.
 * NaN, which sklearn refuses, goes to the child with more training samples, as in sklearn.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickled.h"
#include "formats/import/sklearn_internal.h"
#include "base/error.h"

/* _average_path_length of one count, as numpy computes it (float64). */
static double avg_path(double n) {
  if (n <= 1) return 0.0;
  if (n == 2) return 1.0;
  return 2.0 * (log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
}

static int st_count(sk *k, const lm_pv *st, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  const lm_pv *v = st_get(st, key);
  if (!v || v->kind != LM_PV_INT)
    return SKFAIL(LM_EFORMAT, v ? v : st, "state '%s': expected an int", key);
  if (v->i < lo || v->i > hi)
    return SKFAIL(LM_ERANGE, v, "state '%s': %lld out of range [%lld, %lld]", key, (long long)v->i,
                  (long long)lo, (long long)hi);
  *out = v->i;
  return LM_OK;
}

/* Every leaf of IR tree `it` (just made from t) gets ((depth + 1) + c(n_node_samples)) − 1.0. */
static int path_leaves(sk *k, const sk_tree *t, lm_ir_tree *it) {
  uint32_t *stack = malloc((size_t)it->n_nodes * sizeof *stack), *depth = calloc(it->n_nodes, sizeof *depth);
  if (!stack || !depth) {
    free(stack), free(depth);
    return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  }
  size_t sp = 0;
  stack[sp++] = 0; /* a tree (lm_ir_tree_find_repeat passed): every node pushed once */
  while (sp) {
    uint32_t i = stack[--sp];
    lm_ir_node *nd = &it->nodes[i];
    if (nd->left < 0) {
      double ns = (double)lm__nd_get_i(t->nodes, i, t->f_ns, t->o_ns);
      nd->value_d = ((double)(depth[i] + 1) + avg_path(ns)) - 1.0;
      nd->value = (float)nd->value_d;
      continue;
    }
    depth[nd->left] = depth[nd->right] = depth[i] + 1;
    stack[sp++] = (uint32_t)nd->left;
    stack[sp++] = (uint32_t)nd->right;
  }
  free(stack), free(depth);
  return LM_OK;
}

int lm__sk_iforest(sk *k, const lm_pv *st) {
  int64_t F = 0, ms = 0, mf = 0;
  int rc;
  if ((rc = st_count(k, st, "n_features_in_", 1, (int64_t)1 << 24, &F)) ||
      (rc = st_count(k, st, "max_samples_", 1, INT32_MAX, &ms)) ||
      (rc = st_count(k, st, "_max_features", 1, F, &mf)))
    return rc;
  lm_ir_model *ir = k->ir;
  ir->num_features = (uint32_t)F;
  ir->num_outputs = 1;
  lm__sk_set_obj(k, "sklearn:isolation_forest");
  const lm_pv *list = st_get(st, "estimators_"), *feats = st_get(st, "estimators_features_");
  if (!list || list->kind != LM_PV_LIST || list->n == 0)
    return SKFAIL(LM_ENOMODEL, list ? list : st, "no fitted 'estimators_' list");
  if (mf != F && (!feats || feats->kind != LM_PV_LIST || feats->n != list->n))
    return SKFAIL(LM_EFORMAT, feats ? feats : st, "estimators_features_: expected a list of %zu "
                  "arrays (_max_features %lld of %lld features)", list->n, (long long)mf, (long long)F);
  double c = avg_path((double)ms);
  if (!(c > 0))
    return SKFAIL(LM_EUNSUPPORTED, st_get(st, "max_samples_"), "max_samples_ %lld: every score is "
                  "-0.5 (sklearn's denominator is 0): not converted", (long long)ms);
  ir->link_param = (double)list->n * c;
  uint32_t *fmap = NULL;
  if (mf != F && !(fmap = malloc((size_t)mf * sizeof *fmap)))
    return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  for (size_t e = 0; e < list->n && !rc; e++) {
    char where[48];
    snprintf(where, sizeof where, "estimators_[%zu]", e);
    if (fmap) {
      const lm_pv *fa = feats->items[e];
      uint64_t want[1] = {(uint64_t)mf};
      if ((rc = lm__sk_need_arr(k, fa, "estimators_features_[]", 1, want))) break;
      for (int64_t j = 0; j < mf && !rc; j++) {
        double fj = lm__nd_get(fa, (uint64_t)j, NULL, 0);
        if (!(fj >= 0 && fj < (double)F) || fj != floor(fj))
          rc = SKFAIL(LM_EFORMAT, fa, "estimators_features_[%zu][%lld] = %g: not a feature of %lld",
                      e, (long long)j, fj, (long long)F);
        else fmap[j] = (uint32_t)fj;
      }
      if (rc) break;
      k->fmap = fmap, k->fmap_n = (uint32_t)mf;
    }
    sk_tree t;
    if (!(rc = lm__sk_read_tree(k, list->items[e], where, &t)) &&
        !(rc = lm__sk_add_tree(k, &t, where, 0, LEAF_VALUE, 0, 1.0, 0.0)))
      rc = path_leaves(k, &t, &ir->trees[ir->n_trees - 1]);
    k->fmap = NULL;
  }
  free(fmap);
  return rc;
}
