/*
 * xgboost_json_v3.c — the parts of the XGBoost JSON/UBJSON document that XGBoost 2.x and 3.x
 * changed, read for xgboost_json.c: base_score (a number, or from 3.1 a vector string with one
 * intercept per output, applied as intercept trees when they differ), vector leaves
 * (size_leaf_vector, 3.2's leaf_weights), the 3.1+ categories container and iteration_indptr.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "formats/import/xgboost_json.h"
#include "formats/objective.h"
#include "base/cursor.h"
#include "base/error.h"

/* ---- learner parameters ---------------------------------------------------------------- */


/* base_score: "5E-1" (≤ 3.0) or "[5E-1]" / "[5E-1,4.6E-1]" (3.1+: one value per class or
 * target; XGBoost's LearnerModelParamLegacy::FromJson). The values go to c->bases; how many there
 * may be is checked once the number of outputs is known (parse_model). */
int lm__xj_parse_base_score(xj *c, json_object *v, const char *path) {
  char b[64];
  const char *s = json_object_get_string(v), *q = s;
  while (lm__xj_is_space(*q)) q++;
  int bracketed = *q == '[';
  if (bracketed) q++;
  size_t n = 0, cap = 0;
  for (;;) {
    while (lm__xj_is_space(*q)) q++;
    char *end = NULL;
    float f = strtof(q, &end);
    if (end == q) goto bad;
    if (!isfinite(f)) {
      /* XGBoost 1.7's from_chars reads no "inf" or "nan" spelling: the parameter keeps its
       * default 0.5 (checked with xgboost 1.7.4: "inf", "-inf", "NaN", "Infinity" load and
       * predict as base_score 0.5). A number too large for float32 ("1e39") it reads as inf,
       * which makes every prediction inf or NaN (or fails the logistic objective's check): refused. */
      const char *t = q + (*q == '+' || *q == '-');
      if (*t == 'i' || *t == 'I' || *t == 'n' || *t == 'N') {
        f = 0.5f;
      } else {
        char num[48];
        size_t k = (size_t)(end - q) < sizeof num - 1 ? (size_t)(end - q) : sizeof num - 1;
        memcpy(num, q, k);
        num[k] = 0;
        return lm__xj_fail(c, LM_ERANGE, path,
                           "%s overflows float32 (XGBoost reads it as %sinf: every prediction would "
                           "be inf or NaN)", lm__printable_utf8(b, sizeof b, num), f < 0 ? "-" : "");
      }
    }
    q = end;
    while (lm__xj_is_space(*q)) q++;
    if (n == cap) {
      if (n >= XJ_MAX_OUTPUTS)
        return lm__xj_fail(c, LM_ERANGE, path, "more than %u values (version %s)", XJ_MAX_OUTPUTS,
                           c->ir->source_version);
      cap = cap ? cap * 2 : 4;
      float *nb = realloc(c->bases, cap * sizeof *nb);
      if (!nb) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
      c->bases = nb;
    }
    c->bases[n++] = f;
    c->n_bases = n;
    if (bracketed && *q == ',') {
      q++;
      continue;
    }
    break;
  }
  if (bracketed) {
    if (*q != ']') goto bad;
    q++;
    while (lm__xj_is_space(*q)) q++;
  }
  if (*q != '\0') goto bad;
  return LM_OK;
bad:
  return lm__xj_fail(c, LM_EFORMAT, path, "expected a number or [numbers] string, got \"%s\"",
                     lm__printable_utf8(b, sizeof b, s));
}

/* Per-output base scores that differ (3.1+): XGBoost starts output g at ProbToMargin(base[g]).
 * The .lm file has one base score, so the IR gets base_score = the value whose margin is exactly
 * 0 and, before the boosted trees, one one-leaf tree per output whose leaf is that output's
 * margin (ir.h, n_intercept_trees): 0 + m = m, then the trees in XGBoost's order, so every sum
 * is XGBoost's. Equal values are one base score, as before 3.1. */
int lm__xj_apply_base_scores(xj *c, const lm_objective *o) {
  static const char *const path = "learner.learner_model_param.base_score";
  lm_ir_model *ir = c->ir;
  size_t n = c->n_bases, no = ir->num_outputs;
  int differ = 0;
  for (size_t g = 1; g < n; g++) differ |= memcmp(&c->bases[g], &c->bases[0], sizeof(float)) != 0;
  ir->base_score = c->bases[0];
  if (!differ) {
    float m = lm__base_margin(o, ir->base_score);
    if (!isfinite(m))
      return lm__xj_fail(c, LM_ERANGE, path, "%g has no finite margin under %s (%s; XGBoost "
                         "refuses it or predicts inf/NaN)", (double)ir->base_score, o->name,
                         o->base_xform == LM_BASE_LOGIT ? "must be in (0, 1)" : o->base_xform == LM_BASE_LOG ? "must be > 0" : "not finite");
    return LM_OK;
  }
  if (ir->booster == LM_BOOSTER_GBLINEAR)
    return lm__xj_fail(c, LM_EUNSUPPORTED, path,
                       "per-output base scores that differ (version %s) with gblinear are not "
                       "supported",
                       ir->source_version);
  float neutral = o->base_xform == LM_BASE_LOGIT ? 0.5f : o->base_xform == LM_BASE_LOG ? 1.0f : 0.0f;
  float zero = lm__base_margin(o, neutral);
  if (zero != 0.0f) return lm__fail(LM_EINVAL, "%s: no neutral base score for %s", c->name, o->name);
  for (size_t g = 0; g < n; g++) {
    float m = lm__base_margin(o, c->bases[g]);
    if (!(m - m == 0.0f))
      return lm__xj_fail(c, LM_ERANGE, path,
                         "value %zu (%g) has no finite margin under %s (version %s)", g,
                         (double)c->bases[g], o->name, ir->source_version);
  }
  if (ir->n_trees > UINT32_MAX - no) return lm__fail(LM_ERANGE, "%s: too many trees", c->name);
  lm_ir_tree *nt = calloc(ir->n_trees + no, sizeof *nt);
  if (!nt) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
  for (size_t g = 0; g < no; g++) {
    nt[g].nodes = calloc(1, sizeof *nt[g].nodes);
    if (!nt[g].nodes) {
      for (size_t k = 0; k < g; k++) free(nt[k].nodes);
      free(nt);
      return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    }
    nt[g].n_nodes = 1;
    nt[g].nodes[0].left = nt[g].nodes[0].right = -1;
    nt[g].nodes[0].value = lm__base_margin(o, c->bases[g]);
    nt[g].group = (uint32_t)g;
    nt[g].weight = 1.0f;
    /* a single leaf: its value goes to the bias column of contributions whatever its cover */
    nt[g].nodes[0].cover = 1.0;
    nt[g].has_cover = 1;
  }
  if (ir->n_trees) memcpy(nt + no, ir->trees, ir->n_trees * sizeof *nt);
  free(ir->trees);
  ir->trees = nt;
  ir->n_trees += (uint32_t)no;
  ir->n_intercept_trees = (uint32_t)no;
  ir->base_score = neutral;
  return LM_OK;
}

/* A vector-leaf tree's leaf values (multi_strategy multi_output_tree, tree_param.size_leaf_vector
 * T > 1), as XGBoost's MultiTargetTree::LoadModel reads them: up to 3.1, node k's vector is
 * base_weights[k·T .. +T); from 3.2 a separate leaf_weights array holds one vector per leaf and a
 * leaf's right_children entry is its leaf number (lidx[k] here, -1 elsewhere). *out: n_nodes × T
 * floats, leaves filled. */
int lm__xj_vector_leaves(xj *c, json_object *tree, const char *tpath, const lm_ir_tree *t,
                         uint32_t T, const int32_t *lidx, size_t n_lw_leaves, json_object *lw,
                         float **out) {
  char p[XJ_PATH];
  size_t nn = t->n_nodes;
  int rc;
  float *v = calloc(nn * T, sizeof *v);
  if (!v) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
  if (lw) {
    for (size_t k = 0; k < nn; k++) {
      if (t->nodes[k].left != -1) continue;
      for (uint32_t j = 0; j < T; j++) {
        size_t at = (size_t)lidx[k] * T + j;
        if ((rc = lm__xj_num_to_float(c, json_object_array_get_idx(lw, at),
                                      AT(tpath, "leaf_weights", at), &v[k * T + j])))
          goto fail;
      }
    }
  } else {
    json_object *bw;
    if ((rc = lm__xj_get_field(c, tree, tpath, "base_weights", json_type_array, 1, &bw))) goto fail;
    if (json_object_array_length(bw) != nn * T) {
      rc = lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, tpath, "base_weights"),
                       "length %zu, expected num_nodes x size_leaf_vector = %zu x %u (version %s, "
                       "no leaf_weights)",
                       json_object_array_length(bw), nn, T, c->ir->source_version);
      goto fail;
    }
    for (size_t k = 0; k < nn; k++) {
      if (t->nodes[k].left != -1) continue;
      for (uint32_t j = 0; j < T; j++)
        if ((rc = lm__xj_num_to_float(c, json_object_array_get_idx(bw, k * T + j),
                                      AT(tpath, "base_weights", k * T + j), &v[k * T + j])))
          goto fail;
    }
  }
  (void)n_lw_leaves;
  *out = v;
  return LM_OK;
fail:
  free(v);
  return rc;
}

/* gbtree_model.cats (3.1+): XGBoost's categories container, the category names or values seen
 * in training, used to recode a DataFrame's categories before prediction. An empty container
 * ("enc" []) changes nothing; a non-empty one means the trees' categories are codes lmrt cannot
 * map raw inputs onto: refused. */
int lm__xj_check_cats(xj *c, json_object *model, const char *mpath) {
  char p[XJ_PATH], p2[XJ_PATH];
  json_object *cats, *enc;
  int rc = lm__xj_get_field(c, model, mpath, "cats", json_type_object, 0, &cats);
  if (rc || !cats) return rc;
  lm__xj_path_key(p, mpath, "cats");
  if ((rc = lm__xj_get_field(c, cats, p, "enc", json_type_array, 0, &enc))) return rc;
  if (enc && json_object_array_length(enc) > 0)
    return lm__xj_fail(c, LM_EUNSUPPORTED, lm__xj_path_key(p2, p, "enc"),
                       "categories container with %zu recoded features (XGBoost 3.1+, file "
                       "version %s): recoding categorical inputs is not supported (train on "
                       "integer category codes)",
                       json_object_array_length(enc), c->ir->source_version);
  return LM_OK;
}

/* gbtree_model.iteration_indptr (2.0+): tree ranges of the boosting rounds. best_iteration
 * truncation (sniff.c) assumes every round holds num_parallel_tree trees per output (one vector
 * tree per parallel tree with vector leaves); anything else is refused. */
int lm__xj_check_indptr(xj *c, json_object *model, const char *mpath, size_t nt, size_t per_round) {
  char p[XJ_PATH];
  json_object *ip;
  int rc = lm__xj_get_field(c, model, mpath, "iteration_indptr", json_type_array, 0, &ip);
  if (rc || !ip) return rc;
  size_t len = json_object_array_length(ip);
  if (len == 0 || per_round == 0 || (len - 1) * per_round != nt)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, mpath, "iteration_indptr"),
                       "length %zu does not describe %zu trees in rounds of %zu (version %s)", len,
                       nt, per_round, c->ir->source_version);
  for (size_t i = 0; i < len; i++) {
    int64_t v;
    if ((rc = lm__xj_num_to_int(c, json_object_array_get_idx(ip, i),
                                AT(mpath, "iteration_indptr", i), 0, INT64_MAX, LM_ERANGE, &v)))
      return rc;
    if ((uint64_t)v != i * per_round)
      return lm__xj_fail(c, LM_EUNSUPPORTED, lm__xj_at_str(p, AT(mpath, "iteration_indptr", i)),
                         "%lld, expected %zu: rounds of uneven size are not supported (version "
                         "%s)",
                         (long long)v, i * per_round, c->ir->source_version);
  }
  return LM_OK;
}

