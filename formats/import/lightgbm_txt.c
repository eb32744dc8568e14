/*
 * lightgbm_txt.c — the LightGBM text-model importer (model.txt as written by save_model(),
 * format versions v2, v3 and v4): text → IR (formats/ir.h) with decision LM_DECISION_LIGHTGBM.
 *
 * The file: a line `tree`, header lines `key=value` (version, num_class, num_tree_per_iteration,
 * label_index, max_feature_idx, objective, feature_names, feature_infos, tree_sizes, …) and an
 * optional bare line `average_output`; then one block per tree, `Tree=i` followed by `key=value`
 * lines up to a blank line; then `end of trees` (v2 files go straight on to
 * `feature importances:`), feature importances and parameters, which are ignored.
 *
 * IR mapping (see formats/ir.h):
 *  - Node ids. LightGBM numbers the L−1 internal nodes 0..L−2 (root 0) and the L leaves
 *    separately (a child c < 0 is leaf ~c). In the IR internal node i keeps id i and leaf j
 *    gets id (L−1)+j, so the trainer's leaf index is (IR id − (L−1)): lm_predict_leaf
 *    reports that index, as LightGBM's pred_leaf does (runtime/session.c). A one-leaf tree is
 *    a single leaf node (id 0).
 *  - decision_type: bit 0 categorical, bit 1 default left, bits 2–3 missing type (0 None,
 *    1 Zero, 2 NaN; 3 is refused). Numeric splits keep value_d = the threshold as parsed (a
 *    double; ±inf allowed, NaN refused) and value = (float)value_d (informational), plus
 *    default_left and missing_type. Categorical splits (categorical = 1; the model's decision
 *    says "in the set goes LEFT"): the set is the bits of cat_threshold words
 *    [cat_boundaries[t], cat_boundaries[t+1]) with t = the threshold (an integer in
 *    [0, num_cat)), listed as sorted category values in cat_values; value = value_d = NaN and
 *    default_left = missing_type = 0 (LightGBM's CategoricalDecision ignores both: NaN and
 *    negative values go right). Nodes of one tree naming the same t share one range of
 *    cat_values. A set may hold categories below 2^24 only (2^19 words): larger is LM_ERANGE.
 *  - Leaves: value_d = leaf_value, value = (float)leaf_value. Linear trees (is_linear=1,
 *    tree.linear = 1): every leaf j gets lin_const = leaf_const[j] and its num_features[j]
 *    terms (leaf_features, leaf_coeff) in ir->lin_feat / lin_coeff.
 *  - Covers (TreeSHAP, formats/SPEC.md COVER): internal node i gets cover = internal_count[i],
 *    leaf j cover = leaf_count[j] (the data counts LightGBM's own TreeSHAP weighs with); a
 *    one-leaf tree cover 1; a tree with either array missing has_cover = 0 (the file then has
 *    no COVER). Counts given are checked like every other array (count, integer range).
 *  - Tree i adds to output i % num_tree_per_iteration with weight 1. num_outputs =
 *    num_tree_per_iteration; num_features = max_feature_idx + 1; base_score 0 (LightGBM keeps
 *    the initial score inside the leaves); average_over = number of iterations when
 *    `average_output` is present.
 *  - Objective: "lightgbm:" + LightGBM's name (aliases mapped to it). `sqrt` (reg_sqrt) selects
 *    "lightgbm:<name>_sqrt" for the objectives whose output it transforms (regression; and
 *    regression_l1, quantile, fair, mape, which inherit it — refused while the objective table
 *    has no entry for them); huber, poisson, gamma and tweedie ignore it as LightGBM does.
 *    link_param = the `sigmoid:` parameter (binary, multiclassova; 1 if absent) or 1
 *    (cross_entropy), else 0. A model without objective (custom objective) needs the table
 *    entry "lightgbm:custom"; until there is one it is refused.
 *  - feature_types: 'c' for features used by categorical splits or whose feature_infos entry
 *    is a category list, else 'q'.
 *
 * Everything is untrusted: every count, index and number is checked, and errors name the
 * input, the line, the tree and the field ("model.txt: line 57: Tree=2: left_child[3]: …"),
 * with LM_EFORMAT (malformed or inconsistent), LM_ERANGE (indices and sizes out of range),
 * LM_EUNSUPPORTED (unknown versions and objectives) or LM_ENOMEM. Truncation is always
 * detected: the tree list must end with `end of trees` (or, in v2 files, the feature
 * importances); when tree_sizes is present, its count must match and every tree must start
 * at the byte offset it gives, as LightGBM's own loader requires. Arrays are counted before
 * anything is allocated for them, so allocations are bounded by the input's size.
 *
 * The importer is in three files: this one (the file, its header, the objective, the entry
 * point), lightgbm_lex.c (lines, fields, tokens, numbers, errors) and lightgbm_trees.c (the
 * Tree= blocks), sharing lightgbm_txt.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/lightgbm_txt.h"
#include "formats/objective.h"

/* ---- header ---------------------------------------------------------------------------- */

static const char *const header_keys[H__COUNT] = {
    "version",   "num_class",     "num_tree_per_iteration", "max_feature_idx",
    "objective", "feature_names", "feature_infos",          "tree_sizes"};

static int read_header(lg *c, lg_header *h, lg_line *first) {
  lg_line l;
  int r = lm__lg_next_line(c, &l);
  if (r < 0) return r;
  if (r == 0 || !lm__lg_line_is(&l, "tree"))
    return lm__lg_fail(c, LM_EFORMAT, 1, "expected 'tree' (not a LightGBM text model)");
  for (;;) {
    r = lm__lg_next_line(c, &l);
    if (r < 0) return r;
    if (r == 0) return lm__lg_fail(c, LM_EFORMAT, 0, "truncated: no Tree= line after the header");
    if (lm__lg_line_starts(&l, "Tree=")) break;
    if (lm__lg_is_trees_end(&l)) return lm__lg_fail(c, LM_EFORMAT, l.no, "model without trees");
    if (lm__lg_line_is(&l, "average_output")) {
      h->average_output = 1;
      continue;
    }
    size_t klen, vlen;
    const char *v;
    if (!lm__lg_split_kv(&l, &klen, &v, &vlen)) continue; /* blank or unknown bare line: ignored */
    int k = lm__lg_key_index(header_keys, H__COUNT, l.p, klen);
    if (k < 0) continue;
    if (h->f[k].have)
      return lm__lg_fail(c, LM_EFORMAT, l.no, "%s given twice (first on line %zu)", header_keys[k],
                         h->f[k].line);
    h->f[k] = (lg_field){v, vlen, l.no, 1};
  }
  *first = l;
  return LM_OK;
}

/* The objective line → ir->objective, link_param; checks against the header's classes. */
static const struct {
  const char *alias, *name;
} lg_objective_aliases[] = {
    {"regression", "regression"},
    {"regression_l2", "regression"},
    {"l2", "regression"},
    {"mean_squared_error", "regression"},
    {"mse", "regression"},
    {"l2_root", "regression"},
    {"root_mean_squared_error", "regression"},
    {"rmse", "regression"},
    {"regression_l1", "regression_l1"},
    {"l1", "regression_l1"},
    {"mean_absolute_error", "regression_l1"},
    {"mae", "regression_l1"},
    {"huber", "huber"},
    {"fair", "fair"},
    {"poisson", "poisson"},
    {"quantile", "quantile"},
    {"mape", "mape"},
    {"mean_absolute_percentage_error", "mape"},
    {"gamma", "gamma"},
    {"tweedie", "tweedie"},
    {"binary", "binary"},
    {"multiclass", "multiclass"},
    {"softmax", "multiclass"},
    {"multiclassova", "multiclassova"},
    {"multiclass_ova", "multiclassova"},
    {"ova", "multiclassova"},
    {"ovr", "multiclassova"},
    {"cross_entropy", "cross_entropy"},
    {"xentropy", "cross_entropy"},
    {"cross_entropy_lambda", "cross_entropy_lambda"},
    {"xentlambda", "cross_entropy_lambda"},
    {"lambdarank", "lambdarank"},
    {"rank_xendcg", "rank_xendcg"},
    {"xendcg", "rank_xendcg"},
    {"xe_ndcg", "rank_xendcg"},
    {"xe_ndcg_mart", "rank_xendcg"},
    {"xendcg_mart", "rank_xendcg"},
    {"custom", "custom"},
    {"none", "custom"},
};

static int parse_objective(lg *c, const lg_header *h) {
  lm_ir_model *ir = c->ir;
  const lg_field *f = &h->f[H_OBJECTIVE];
  char b[48], full[64];
  const char *canon = "custom";
  int sqrt_opt = 0;
  double sigmoid = 1.0;
  size_t line = f->have ? f->line : 0;
  if (f->have) {
    lg_toks t = {f->v, f->v + f->n};
    const char *s;
    size_t n;
    if (!lm__lg_tok_next(&t, &s, &n)) return lm__lg_fail(c, LM_EFORMAT, line, "objective: empty");
    canon = NULL;
    for (size_t i = 0; i < sizeof lg_objective_aliases / sizeof lg_objective_aliases[0]; i++)
      if (strlen(lg_objective_aliases[i].alias) == n &&
          memcmp(lg_objective_aliases[i].alias, s, n) == 0)
        canon = lg_objective_aliases[i].name;
    if (!canon)
      return lm__lg_fail(c, LM_EUNSUPPORTED, line, "objective: unknown objective '%s'",
                         lm__lg_printable(b, sizeof b, s, n));
    /* parameters: sqrt, sigmoid:S, num_class:N (others, e.g. tweedie_variance_power, do not
     * change the output) */
    while (lm__lg_tok_next(&t, &s, &n)) {
      if (n == 4 && memcmp(s, "sqrt", 4) == 0) {
        sqrt_opt = 1;
      } else if (n > 8 && memcmp(s, "sigmoid:", 8) == 0) {
        if (lm__lg_tok_double(s + 8, n - 8, &sigmoid) || !(sigmoid > 0) || !isfinite(sigmoid))
          return lm__lg_fail(c, LM_EFORMAT, line, "objective: bad sigmoid parameter '%s'",
                             lm__lg_printable(b, sizeof b, s, n));
      } else if (n > 10 && memcmp(s, "num_class:", 10) == 0) {
        int64_t k = 0;
        if (lm__lg_tok_int(s + 10, n - 10, &k) || k != (int64_t)h->num_class)
          return lm__lg_fail(c, LM_EFORMAT, line, "objective: '%s' does not match num_class=%u",
                             lm__lg_printable(b, sizeof b, s, n), h->num_class);
      }
    }
  }
  int sqrt_applies = !strcmp(canon, "regression") || !strcmp(canon, "regression_l1") ||
                     !strcmp(canon, "quantile") || !strcmp(canon, "fair") || !strcmp(canon, "mape");
  snprintf(full, sizeof full, "lightgbm:%s%s", canon, sqrt_opt && sqrt_applies ? "_sqrt" : "");
  const lm_objective *o = lm__objective_by_name(full);
  if (!o) {
    if (!strcmp(canon, "custom"))
      return lm__lg_fail(c, LM_EUNSUPPORTED, line,
                         "objective: %s (a custom objective: raw scores only) not supported",
                         f->have ? "custom" : "none given");
    return lm__lg_fail(c, LM_EUNSUPPORTED, line, "objective: '%s%s' not supported", canon,
                       sqrt_opt ? " sqrt" : "");
  }
  int multi = !strcmp(canon, "multiclass") || !strcmp(canon, "multiclassova");
  if (multi && (h->per_iter < 2 || h->per_iter != h->num_class))
    return lm__lg_fail(c, LM_EFORMAT, line,
                       "objective: %s needs num_class = num_tree_per_iteration >= 2, got %u and %u",
                       canon, h->num_class, h->per_iter);
  if (!multi && strcmp(canon, "custom") && h->per_iter != 1)
    return lm__lg_fail(c, LM_EFORMAT, line,
                       "objective: %s with num_tree_per_iteration %u (must be 1)", canon,
                       h->per_iter);
  snprintf(ir->objective, sizeof ir->objective, "%s", o->name);
  if (!strcmp(canon, "binary") || !strcmp(canon, "multiclassova")) ir->link_param = sigmoid;
  else if (!strcmp(canon, "cross_entropy")) ir->link_param = 1.0;
  else ir->link_param = 0.0;
  return LM_OK;
}

/* A per-feature list (feature_names, feature_infos) holds exactly nf tokens (what: what a token
 * is, for the message). */
static int per_feature(const lg *c, const lg_field *f, const char *key, const char *what,
                       uint32_t nf) {
  size_t have = lm__lg_count_tokens(f->v, f->n);
  if (have == nf) return LM_OK;
  return lm__lg_fail(c, LM_EFORMAT, f->line, "%s: %zu %s, expected %u (max_feature_idx + 1)", key,
                     have, what, nf);
}

static int parse_header(lg *c, lg_header *h) {
  lm_ir_model *ir = c->ir;
  const lg_field *f = h->f;
  char b[48];
  int rc;
  int64_t v;
  /* version */
  if (!f[H_VERSION].have)
    return lm__lg_fail(c, LM_EUNSUPPORTED, 0,
                       "header: no version= line (LightGBM v1 files are "
                       "not supported; v2-v4 are)");
  if (!((f[H_VERSION].n == 2 && f[H_VERSION].v[0] == 'v' && f[H_VERSION].v[1] >= '2' &&
         f[H_VERSION].v[1] <= '4')))
    return lm__lg_fail(c, LM_EUNSUPPORTED, f[H_VERSION].line, "version: '%s' not supported (v2-v4)",
                       lm__lg_printable(b, sizeof b, f[H_VERSION].v, f[H_VERSION].n));
  memcpy(ir->source_version, f[H_VERSION].v, 2);
  ir->source_version[2] = '\0';
  snprintf(ir->source_format, sizeof ir->source_format, "lightgbm-text");

  static const int required[] = {H_NUM_CLASS, H_MAX_FEATURE_IDX, H_FEATURE_NAMES};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (!f[required[i]].have)
      return lm__lg_fail(c, LM_EFORMAT, 0, "header: missing %s", header_keys[required[i]]);
  if ((rc =
           lm__lg_field_int(c, &f[H_NUM_CLASS], "", "num_class", 1, LG_MAX_CLASSES, LM_ERANGE, &v)))
    return rc;
  h->num_class = (uint32_t)v;
  h->per_iter = h->num_class;
  if (f[H_NUM_TREE_PER_ITERATION].have) {
    if ((rc = lm__lg_field_int(c, &f[H_NUM_TREE_PER_ITERATION], "", "num_tree_per_iteration", 1,
                               LG_MAX_CLASSES, LM_ERANGE, &v)))
      return rc;
    h->per_iter = (uint32_t)v;
  }
  if ((rc = lm__lg_field_int(c, &f[H_MAX_FEATURE_IDX], "", "max_feature_idx", 0,
                             LG_MAX_FEATURES - 1, LM_ERANGE, &v)))
    return rc;
  uint32_t nf = (uint32_t)v + 1;
  /* feature names: exactly num_features tokens (so every per-feature array below is bounded
   * by the input's size) */
  const lg_field *fn = &f[H_FEATURE_NAMES];
  if ((rc = per_feature(c, fn, "feature_names", "names", nf))) return rc;
  ir->num_features = nf;
  ir->num_outputs = h->per_iter;
  ir->feature_names = calloc(nf, sizeof *ir->feature_names);
  ir->feature_types = malloc(nf);
  c->cat_used = calloc(nf, 1);
  if (!ir->feature_names || !ir->feature_types || !c->cat_used) return lm__lg_nomem(c);
  memset(ir->feature_types, 'q', nf);
  lg_toks t = {fn->v, fn->v + fn->n};
  const char *s;
  size_t n, k = 0;
  while (lm__lg_tok_next(&t, &s, &n)) {
    ir->feature_names[k] = malloc(n + 1);
    if (!ir->feature_names[k]) return lm__lg_nomem(c);
    memcpy(ir->feature_names[k], s, n);
    ir->feature_names[k][n] = '\0';
    k++;
  }
  /* feature infos: "[min:max]" numeric, "none" unused, else a category list "-1:3:0:…" */
  const lg_field *fi = &f[H_FEATURE_INFOS];
  if (fi->have) {
    if ((rc = per_feature(c, fi, "feature_infos", "entries", nf))) return rc;
    t = (lg_toks){fi->v, fi->v + fi->n};
    k = 0;
    while (lm__lg_tok_next(&t, &s, &n)) {
      if (s[0] != '[' && !(n == 4 && memcmp(s, "none", 4) == 0)) ir->feature_types[k] = 'c';
      k++;
    }
  }
  return parse_objective(c, h);
}

/* ---- entry point ----------------------------------------------------------------------- */

int lm__import_lightgbm_text(const uint8_t *data, size_t len, const char *name, lm_ir_model **out) {
  if (!out) return lm__fail(LM_EINVAL, "lm__import_lightgbm_text: NULL out");
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  lg c = {.name = name, .data = (const char *)data, .len = len};
  c.ir = lm_ir_new();
  if (!c.ir) return lm__lg_nomem(&c);
  lm_ir_model *ir = c.ir;
  ir->decision = LM_DECISION_LIGHTGBM;
  ir->booster = LM_BOOSTER_GBTREE;
  ir->base_score = 0.0f;

  lg_header h;
  memset(&h, 0, sizeof h);
  lg_line first;
  int rc = read_header(&c, &h, &first);
  if (!rc) rc = parse_header(&c, &h);
  if (!rc) rc = lm__lg_read_trees(&c, &h, first);
  if (!rc && ir->n_trees % ir->num_outputs)
    rc = lm__lg_fail(&c, LM_EFORMAT, 0, "%u trees is not a multiple of num_tree_per_iteration %u",
                     ir->n_trees, ir->num_outputs);
  if (!rc) {
    if (h.average_output) ir->average_over = ir->n_trees / ir->num_outputs;
    for (uint32_t f = 0; f < ir->num_features; f++)
      if (c.cat_used[f]) ir->feature_types[f] = 'c';
  }
  free(c.cat_used);
  if (rc) {
    lm_ir_free(ir);
    return rc;
  }
  *out = ir;
  return LM_OK;
}
