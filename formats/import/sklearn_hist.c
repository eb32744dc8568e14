/*
 * sklearn_hist.c — scikit-learn's HistGradientBoosting{Classifier,Regressor} (1.2; the 1.3+
 * node layout reads the same): its TreePredictor nodes (left iff x <= num_threshold on float64
 * rows, NaN as missing_go_to_left: decision 1 as it is), the first iteration's leaves starting
 * from the baseline prediction (sklearn adds each iteration to it: the same double sums); links
 * as its loss (binomial sigmoid, multinomial softmax, Poisson/Gamma exp, others identity).
 *
 * Categorical splits (categorical_features): sklearn's predictor sends a value v left when it
 * is in the node's raw_left_cat_bitsets row, right when it is another known category (the
 * _bin_mapper's bin_thresholds_ of that feature), and as missing_go_to_left says when it is
 * NaN, negative or an unknown category. A .lm categorical split (decision 1, LightGBM's rule)
 * sends its set left and everything else (NaN, negative, not in the set) right. So:
 *   missing_go_to_left = 0: set = left categories, children as they are;
 *   missing_go_to_left = 1: set = known categories not left, children swapped
 * (node ids are kept, so leaf ids stay sklearn's). Two kinds of invalid values differ, both
 * outside what sklearn accepts at fit: v in (-1, 0) is category 0 here (sklearn: missing),
 * and v >= 256 is an unknown category here (sklearn casts it to uint8, wrapping around).
 * Categorical features after a Pipeline's scaling steps are refused (the categories would be
 * scaled values).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/pickled.h"
#include "formats/import/sklearn_internal.h"
#include "base/error.h"

/* Known categories per feature: known[f] bit c (c < 256) set when c is a known category of a
 * categorical feature f (8 words per feature; NULL when no feature is categorical). */
typedef struct cats {
  uint32_t *known;
} cats;

static int known_categories(sk *k, const lm_pv *st, cats *cs) {
  const lm_pv *isc = st_get(st, "is_categorical_");
  if (!isc || isc->kind == LM_PV_NONE) return LM_OK;
  uint32_t F = k->ir->num_features;
  uint64_t want[1] = {F};
  int rc = lm__sk_need_arr(k, isc, "is_categorical_", 1, want);
  if (rc) return rc;
  int any = 0;
  for (uint32_t f = 0; f < F; f++) any |= lm__nd_get(isc, f, NULL, 0) != 0;
  if (!any) return LM_OK;
  if (k->af)
    return SKFAIL(LM_EUNSUPPORTED, isc, "is_categorical_: categorical features after a Pipeline's "
                  "scaling steps: not supported (the categories would be scaled values)");
  const lm_pv *bm = st_get(st, "_bin_mapper"), *bs = lm__pv_state(bm);
  const lm_pv *thr = st_get(bs, "bin_thresholds_");
  if (!thr || thr->kind != LM_PV_LIST || thr->n != F)
    return SKFAIL(LM_EFORMAT, thr ? thr : bm ? bm : st, "_bin_mapper.bin_thresholds_: expected a "
                  "list of %u arrays (the known categories of categorical features)", F);
  if (!(cs->known = calloc((size_t)F * 8, sizeof *cs->known)) ||
      (!k->ir->feature_types && !(k->ir->feature_types = malloc(F))))
    return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  memset(k->ir->feature_types, 'q', F);
  for (uint32_t f = 0; f < F; f++) {
    if (lm__nd_get(isc, f, NULL, 0) == 0) continue;
    k->ir->feature_types[f] = 'c';
    const lm_pv *a = thr->items[f];
    if ((rc = lm__sk_need_arr(k, a, "_bin_mapper.bin_thresholds_[]", 1, NULL))) return rc;
    for (uint64_t j = 0; j < a->nd_count; j++) {
      double c = lm__nd_get(a, j, NULL, 0);
      if (!(c >= 0 && c < 256) || c != floor(c))
        return SKFAIL(LM_EFORMAT, a, "_bin_mapper.bin_thresholds_[%u][%llu] = %g: not a category "
                      "(0-255)", f, (unsigned long long)j, c);
      cs->known[f * 8 + (uint32_t)c / 32] |= 1u << ((uint32_t)c % 32);
    }
  }
  return LM_OK;
}

/* Append the categories c < 256 whose bit is set in set[0..7] to the IR's sets. */
static int add_set(sk *k, lm_ir_node *nd, const uint32_t set[8]) {
  lm_ir_model *ir = k->ir;
  uint32_t *nv = realloc(ir->cat_values, (ir->n_cat_values + 256) * sizeof *nv);
  if (!nv) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
  ir->cat_values = nv;
  nd->cat_begin = (uint32_t)ir->n_cat_values;
  for (uint32_t c = 0; c < 256; c++)
    if (set[c / 32] >> (c % 32) & 1u) ir->cat_values[ir->n_cat_values++] = c;
  nd->cat_count = (uint32_t)(ir->n_cat_values - nd->cat_begin);
  return LM_OK;
}

/* A categorical node (see the file comment). */
static int cat_split(sk *k, const cats *cs, lm_ir_node *nd, const char *where, const lm_pv *nodes,
                     const lm_pv *rawbits, int64_t b, uint32_t fi, int64_t l, int64_t r, int mgl) {
  if (!cs->known || !(cs->known[fi * 8] | cs->known[fi * 8 + 1] | cs->known[fi * 8 + 2] |
                      cs->known[fi * 8 + 3] | cs->known[fi * 8 + 4] | cs->known[fi * 8 + 5] |
                      cs->known[fi * 8 + 6] | cs->known[fi * 8 + 7]))
    return SKFAIL(LM_EFORMAT, nodes, "%s: a categorical split on feature %u, which is_categorical_ "
                  "and _bin_mapper do not list as categorical (or without known categories)", where, fi);
  uint64_t want[2] = {UINT64_MAX, 8};
  int rc = lm__sk_need_arr(k, rawbits, "raw_left_cat_bitsets", 2, want);
  if (rc) return rc;
  if (rawbits->nd_dtype->dt_kind != 'u' && rawbits->nd_dtype->dt_kind != 'i')
    return SKFAIL(LM_EFORMAT, rawbits, "%s: raw_left_cat_bitsets: expected integers", where);
  if (b < 0 || (uint64_t)b >= rawbits->nd_shape[0])
    return SKFAIL(LM_EFORMAT, nodes, "%s: bitset_idx %lld out of range (%llu raw_left_cat_bitsets)",
                  where, (long long)b, (unsigned long long)rawbits->nd_shape[0]);
  uint32_t set[8];
  for (uint32_t w = 0; w < 8; w++) {
    uint32_t left = (uint32_t)lm__nd_get_i(rawbits, lm__nd_at2(rawbits, (uint64_t)b, w), NULL, 0);
    uint32_t known = cs->known[fi * 8 + w];
    set[w] = mgl ? known & ~left : left & known;
  }
  nd->categorical = 1;
  nd->feature = fi;
  nd->missing_type = LM_MISSING_NAN;
  nd->value = NAN;
  nd->value_d = 0;
  nd->left = (int32_t)(mgl ? r : l);
  nd->right = (int32_t)(mgl ? l : r);
  return add_set(k, nd, set);
}

static int iterations(sk *k, const lm_pv *st, const lm_pv *base, uint64_t G, const cats *cs);

int lm__sk_hist_gb(sk *k, const lm_pv *st, int classifier) {
  int rc;
  uint64_t K, G;
  const lm_pv *loss;
  char ln[64];
  if ((rc = lm__sk_boost_head(k, st, classifier, &K, &G, &loss, ln))) return rc;
  if (!strcmp(ln, "HalfBinomialLoss") && G == 1 && classifier) lm__sk_set_obj(k, "lightgbm:binary");
  else if (!strcmp(ln, "HalfMultinomialLoss") && G > 1) lm__sk_set_obj(k, "lightgbm:multiclass");
  else if (!classifier && (!strcmp(ln, "HalfPoissonLoss") || !strcmp(ln, "HalfGammaLoss")))
    lm__sk_set_obj(k, "lightgbm:poisson");
  else if (!classifier && (!strcmp(ln, "HalfSquaredError") || !strcmp(ln, "AbsoluteError") ||
                           !strcmp(ln, "PinballLoss")))
    lm__sk_set_obj(k, "lightgbm:regression");
  else return SKFAIL(LM_EUNSUPPORTED, loss, "loss %s: not supported", ln);
  /* shape (1, G) (scikit-learn 1.1+) or (G, 1): G values either way */
  const lm_pv *base = st_get(st, "_baseline_prediction");
  if ((rc = lm__sk_need_arr(k, base, "_baseline_prediction", 2, NULL))) return rc;
  if (base->nd_count != G || (base->nd_shape[0] != 1 && base->nd_shape[1] != 1))
    return SKFAIL(LM_EFORMAT, base, "_baseline_prediction: expected %llu values", (unsigned long long)G);
  cats cs = {0};
  if (!(rc = known_categories(k, st, &cs))) rc = iterations(k, st, base, G, &cs);
  free(cs.known);
  return rc;
}

/* The predictors of every iteration, the first one's leaves starting from the baseline. */
static int iterations(sk *k, const lm_pv *st, const lm_pv *base, uint64_t G, const cats *cs) {
  int rc;
  char d[160];
  lm_ir_model *ir = k->ir;
  const lm_pv *pr = st_get(st, "_predictors");
  if (!pr || pr->kind != LM_PV_LIST)
    return SKFAIL(LM_ENOMODEL, pr ? pr : st, "state '_predictors': expected a list (not fitted?)");
  /* the baseline goes into the first iteration's leaves (sklearn adds each iteration to it: the
   * same double sums); without iterations, one-leaf trees hold it */
  if (pr->n == 0)
    for (uint64_t g = 0; g < G; g++)
      if ((rc = lm__sk_const_tree(k, (uint32_t)g, lm__nd_get(base, g, NULL, 0)))) return rc;
  for (size_t it = 0; it < pr->n; it++) {
    const lm_pv *row = pr->items[it];
    if (row->kind != LM_PV_LIST || row->n != G)
      return SKFAIL(LM_EFORMAT, row, "_predictors[%zu]: expected a list of %llu predictors", it, (unsigned long long)G);
    for (uint64_t g = 0; g < G; g++) {
      const lm_pv *p = row->items[g], *ps = lm__pv_state(p);
      const lm_pv *nodes = st_get(ps, "nodes");
      if (!lm__pv_obj_name_is(p, "TreePredictor") || !nodes || nodes->kind != LM_PV_NDARRAY ||
          !nodes->nd_dtype || nodes->nd_dtype->dt_kind != 'V' || nodes->nd_ndim != 1 ||
          nodes->nd_count < 1 || nodes->nd_count > INT32_MAX)
        return SKFAIL(LM_EFORMAT, p, "_predictors[%zu][%llu]: expected a TreePredictor with a nodes "
                      "array, got %s", it, (unsigned long long)g, lm__pv_describe(p, d, sizeof d));
      const lm_pv *dt = nodes->nd_dtype, *f[7];
      uint32_t o[7];
      static const char *const names[7] = {"value", "feature_idx", "num_threshold",
                                           "missing_go_to_left", "left", "right", "is_leaf"};
      for (int j = 0; j < 7; j++)
        if (lm__dt_field(dt, names[j], &f[j], &o[j]) || !lm__sk_is_num_dt(f[j]))
          return SKFAIL(LM_EFORMAT, nodes, "_predictors[%zu][%llu].nodes: field '%s' missing or not a number",
                        it, (unsigned long long)g, names[j]);
      const lm_pv *fc;
      uint32_t oc;
      int has_cat = !lm__dt_field(dt, "is_categorical", &fc, &oc) && lm__sk_is_num_dt(fc);
      const lm_pv *fb = NULL, *rawbits = st_get(ps, "raw_left_cat_bitsets");
      uint32_t ob = 0;
      if (has_cat && (lm__dt_field(dt, "bitset_idx", &fb, &ob) || !lm__sk_is_num_dt(fb)))
        return SKFAIL(LM_EFORMAT, nodes, "_predictors[%zu][%llu].nodes: categorical nodes without a "
                      "'bitset_idx' field", it, (unsigned long long)g);
      uint64_t n = nodes->nd_count;
      if ((rc = lm__sk_node_budget(k, n, nodes))) return rc;
      lm_ir_tree *t = lm__sk_new_tree(k, (uint32_t)n, (uint32_t)g);
      if (!t) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
      for (uint64_t i = 0; i < n; i++) {
        lm_ir_node *nd = &t->nodes[i];
        nd->missing_type = LM_MISSING_NAN;
        if (lm__nd_get_i(nodes, i, f[6], o[6])) {
          nd->left = nd->right = -1;
          nd->value_d = lm__nd_get(nodes, i, f[0], o[0]);
          if (it == 0) nd->value_d = lm__nd_get(base, g, NULL, 0) + nd->value_d;
          nd->value = (float)nd->value_d;
          if (!isfinite(nd->value_d))
            return SKFAIL(LM_EFORMAT, nodes, "_predictors[%zu][%llu].nodes[%llu]: leaf value not finite",
                          it, (unsigned long long)g, (unsigned long long)i);
          continue;
        }
        int64_t l = lm__nd_get_i(nodes, i, f[4], o[4]), r = lm__nd_get_i(nodes, i, f[5], o[5]);
        int64_t fi = lm__nd_get_i(nodes, i, f[1], o[1]);
        if (has_cat && lm__nd_get_i(nodes, i, fc, oc)) {
          char where[96];
          snprintf(where, sizeof where, "_predictors[%zu][%llu].nodes[%llu]", it, (unsigned long long)g,
                   (unsigned long long)i);
          if (l <= 0 || r <= 0 || (uint64_t)l >= n || (uint64_t)r >= n || l == r || fi < 0 ||
              (uint64_t)fi >= ir->num_features)
            return SKFAIL(LM_EFORMAT, nodes, "%s: children %lld/%lld or feature %lld out of range",
                          where, (long long)l, (long long)r, (long long)fi);
          if ((rc = cat_split(k, cs, nd, where, nodes, rawbits, lm__nd_get_i(nodes, i, fb, ob),
                              (uint32_t)fi, l, r, lm__nd_get_i(nodes, i, f[3], o[3]) != 0)))
            return rc;
          continue;
        }
        double th = lm__nd_get(nodes, i, f[2], o[2]);
        if (l <= 0 || r <= 0 || (uint64_t)l >= n || (uint64_t)r >= n || l == r || fi < 0 ||
            (uint64_t)fi >= ir->num_features || isnan(th))
          return SKFAIL(LM_EFORMAT, nodes, "_predictors[%zu][%llu].nodes[%llu]: children %lld/%lld, "
                        "feature %lld or threshold %g out of range", it, (unsigned long long)g,
                        (unsigned long long)i, (long long)l, (long long)r, (long long)fi, th);
        nd->left = (int32_t)l, nd->right = (int32_t)r, nd->feature = (uint32_t)fi;
        nd->value_d = k->af ? lm__sk_mapped_threshold(k->af, (uint32_t)fi, th, 0) : th; /* float64, as is */
        nd->value = (float)th;
        nd->default_left = lm__nd_get_i(nodes, i, f[3], o[3]) != 0;
      }
      uint32_t node, from;
      int rep = lm_ir_tree_find_repeat(t, &node, &from);
      if (rep < 0) return lm__fail(LM_ENOMEM, "%s: out of memory", k->name);
      if (rep)
        return SKFAIL(LM_EFORMAT, nodes, "_predictors[%zu][%llu].nodes[%u]: reached twice: not a tree",
                      it, (unsigned long long)g, node);
    }
  }
  return LM_OK;
}

