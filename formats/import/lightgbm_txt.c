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
 *    reports that index, as LightGBM's pred_leaf does (runtime/session.c). A one-leaf tree is a single leaf node (id 0).
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
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/import.h"
#include "formats/objective.h"
#include "base/cursor.h"
#include "base/error.h"

#define LG_MAX_LEAVES (1u << 24)      /* num_leaves cap (LightGBM's own limit is 131072) */
#define LG_MAX_CLASSES (1u << 20)     /* num_class / num_tree_per_iteration cap */
#define LG_MAX_FEATURES (1u << 29)    /* the .lm format's feature index range */
#define LG_MAX_SET_WORDS (1u << 19)   /* 2^24 categories per set */
#define LG_TOKEN 80                   /* longest number accepted (%.17g needs 24) */

/* A line of the input: [p, p+n) without its line end; line number (1-based), byte offset. */
typedef struct lg_line {
  const char *p;
  size_t n, no, off;
} lg_line;

typedef struct lg {
  const char *name;
  const char *data;
  size_t len, pos, line; /* cursor: offset of the next line, lines read */
  lm_ir_model *ir;
  size_t tree_cap, cat_cap, lin_cap, lin_cap2;
  uint8_t *cat_used; /* per feature: used by a categorical split */
} lg;

/* ---- errors ---------------------------------------------------------------------------- */

/* "name: line N: message" (line 0: "name: message"). */
LM__PRINTF(4, 5)
static int lg_fail(const lg *c, int code, size_t line, const char *fmt, ...) {
  char ctx[512];
  if (line) snprintf(ctx, sizeof ctx, "%s: line %zu", c->name, line);
  else snprintf(ctx, sizeof ctx, "%s", c->name);
  va_list ap;
  va_start(ap, fmt);
  int rc = lm__vfail(code, ctx, fmt, ap);
  va_end(ap);
  return rc;
}

static int lg_nomem(const lg *c) { return lm__fail(LM_ENOMEM, "%s: out of memory", c->name); }

/* Untrusted text for a message: at most 40 bytes (base/cursor.h's lm__printable). */
static const char *printable(char *dst, size_t cap, const char *src, size_t n) {
  return lm__printable(dst, cap < 41 ? cap : 41, src, n);
}

/* ---- lines and tokens ------------------------------------------------------------------ */

/* The next line (without "\n" or "\r\n"); 0 at the end of the input, <0 on a NUL byte. */
static int next_line(lg *c, lg_line *l) {
  if (c->pos >= c->len) return 0;
  const char *b = c->data + c->pos;
  const char *nl = memchr(b, '\n', c->len - c->pos);
  size_t n = nl ? (size_t)(nl - b) : c->len - c->pos;
  l->p = b;
  l->off = c->pos;
  l->no = ++c->line;
  c->pos += n + (nl ? 1 : 0);
  if (n && b[n - 1] == '\r') n--;
  l->n = n;
  if (memchr(b, '\0', n)) return lg_fail(c, LM_EFORMAT, l->no, "NUL byte in the text");
  return 1;
}

static int line_is(const lg_line *l, const char *s) {
  size_t n = strlen(s);
  return l->n == n && memcmp(l->p, s, n) == 0;
}

static int line_starts(const lg_line *l, const char *s) {
  size_t n = strlen(s);
  return l->n >= n && memcmp(l->p, s, n) == 0;
}

/* The lines that end the tree list. */
static int is_trees_end(const lg_line *l) {
  return line_is(l, "end of trees") || line_starts(l, "feature importances:") ||
         line_starts(l, "feature_importances:") || line_starts(l, "parameters:");
}

static int is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* Whitespace-separated tokens of [p, end). */
typedef struct lg_toks {
  const char *p, *end;
} lg_toks;

static int tok_next(lg_toks *t, const char **s, size_t *n) {
  while (t->p < t->end && is_space(*t->p)) t->p++;
  if (t->p == t->end) return 0;
  *s = t->p;
  while (t->p < t->end && !is_space(*t->p)) t->p++;
  *n = (size_t)(t->p - *s);
  return 1;
}

static size_t count_tokens(const char *p, size_t n) {
  lg_toks t = {p, p + n};
  const char *s;
  size_t len, k = 0;
  while (tok_next(&t, &s, &len)) k++;
  return k;
}

/* A key=value field: the value and the line it is on. */
typedef struct lg_field {
  const char *v;
  size_t n, line;
  int have;
} lg_field;

/* ---- numbers --------------------------------------------------------------------------- */

/* A double from a whole token (strtod: "1e-35", "inf", "-inf"; NaN is returned as parsed). */
static int tok_double(const char *s, size_t n, double *out) {
  char buf[LG_TOKEN];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + n) return -1;
  *out = v; /* beyond double range: ±inf or 0 (errno ERANGE), as LightGBM's parser gives */
  return 0;
}

/* A decimal integer from a whole token; -1 malformed, -2 out of int64 range. */
static int tok_int(const char *s, size_t n, int64_t *out) {
  char buf[32];
  if (n == 0 || n >= sizeof buf) return n ? -2 : -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  const char *q = buf;
  if (*q == '-' || *q == '+') q++;
  if (*q < '0' || *q > '9') return -1;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (end != buf + n) return -1;
  if (errno == ERANGE) return -2;
  *out = v;
  return 0;
}

/* ctx: "Tree=3: " or "" — prefixes field names in messages. */

/* A single integer field in [lo, hi]. */
static int field_int(const lg *c, const lg_field *f, const char *ctx, const char *key, int64_t lo,
                     int64_t hi, int range_code, int64_t *out) {
  lg_toks t = {f->v, f->v + f->n};
  const char *s;
  size_t n;
  char b[48];
  if (!tok_next(&t, &s, &n)) return lg_fail(c, LM_EFORMAT, f->line, "%s%s: empty", ctx, key);
  const char *s2;
  size_t n2;
  int64_t v = 0;
  int r = tok_int(s, n, &v);
  if (r == -1 || tok_next(&t, &s2, &n2))
    return lg_fail(c, LM_EFORMAT, f->line, "%s%s: expected an integer, got '%s'", ctx, key,
                   printable(b, sizeof b, f->v, f->n));
  if (r == -2 || v < lo || v > hi)
    return lg_fail(c, range_code, f->line, "%s%s: %s out of range [%lld, %lld]", ctx, key,
                   printable(b, sizeof b, s, n), (long long)lo, (long long)hi);
  *out = v;
  return LM_OK;
}

/* An array field of exactly `want` integers in [lo, hi] into out (may be NULL when want is
 * 0). what_want describes want in the length message ("num_leaves - 1"). */
static int field_ints(const lg *c, const lg_field *f, const char *ctx, const char *key,
                      size_t want, const char *what_want, int64_t lo, int64_t hi,
                      int range_code, int64_t *out) {
  size_t have = count_tokens(f->v, f->n);
  if (have != want)
    return lg_fail(c, LM_EFORMAT, f->line, "%s%s: %zu values, expected %zu (%s)", ctx, key, have,
                   want, what_want);
  lg_toks t = {f->v, f->v + f->n};
  const char *s;
  size_t n, k = 0;
  char b[48];
  while (tok_next(&t, &s, &n)) {
    int64_t v = 0;
    int r = tok_int(s, n, &v);
    if (r == -1)
      return lg_fail(c, LM_EFORMAT, f->line, "%s%s[%zu]: expected an integer, got '%s'", ctx,
                     key, k, printable(b, sizeof b, s, n));
    if (r == -2 || v < lo || v > hi)
      return lg_fail(c, range_code, f->line, "%s%s[%zu]: %s out of range [%lld, %lld]", ctx, key,
                     k, printable(b, sizeof b, s, n), (long long)lo, (long long)hi);
    out[k++] = v;
  }
  return LM_OK;
}

/* An array field of exactly `want` doubles; NaN refused. */
static int field_doubles(const lg *c, const lg_field *f, const char *ctx, const char *key,
                         size_t want, const char *what_want, double *out) {
  size_t have = count_tokens(f->v, f->n);
  if (have != want)
    return lg_fail(c, LM_EFORMAT, f->line, "%s%s: %zu values, expected %zu (%s)", ctx, key, have,
                   want, what_want);
  lg_toks t = {f->v, f->v + f->n};
  const char *s;
  size_t n, k = 0;
  char b[48];
  while (tok_next(&t, &s, &n)) {
    double v;
    if (tok_double(s, n, &v))
      return lg_fail(c, LM_EFORMAT, f->line, "%s%s[%zu]: expected a number, got '%s'", ctx, key,
                     k, printable(b, sizeof b, s, n));
    if (isnan(v))
      return lg_fail(c, LM_EFORMAT, f->line, "%s%s[%zu]: NaN", ctx, key, k);
    out[k++] = v;
  }
  return LM_OK;
}

/* ---- growing arrays -------------------------------------------------------------------- */

static int grow(const lg *c, void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return LM_OK;
  size_t nc = *cap ? *cap : 16;
  while (nc < need) {
    if (nc > SIZE_MAX / 2 / elem) return lg_nomem(c);
    nc *= 2;
  }
  void *p = realloc(*arr, nc * elem);
  if (!p) return lg_nomem(c);
  *arr = p;
  *cap = nc;
  return LM_OK;
}

/* ---- header ---------------------------------------------------------------------------- */

enum {
  H_VERSION,
  H_NUM_CLASS,
  H_NUM_TREE_PER_ITERATION,
  H_MAX_FEATURE_IDX,
  H_OBJECTIVE,
  H_FEATURE_NAMES,
  H_FEATURE_INFOS,
  H_TREE_SIZES,
  H__COUNT
};
static const char *const header_keys[H__COUNT] = {
    "version",   "num_class",     "num_tree_per_iteration", "max_feature_idx",
    "objective", "feature_names", "feature_infos",          "tree_sizes"};

typedef struct lg_header {
  lg_field f[H__COUNT];
  int average_output;
  uint32_t num_class, per_iter;
} lg_header;

/* key=value: split at the first '='; 0 if the line has none. */
static int split_kv(const lg_line *l, size_t *klen, const char **v, size_t *vlen) {
  const char *eq = memchr(l->p, '=', l->n);
  if (!eq) return 0;
  *klen = (size_t)(eq - l->p);
  *v = eq + 1;
  *vlen = l->n - *klen - 1;
  return 1;
}

static int key_index(const char *const *keys, int n, const char *k, size_t klen) {
  for (int i = 0; i < n; i++)
    if (strlen(keys[i]) == klen && memcmp(keys[i], k, klen) == 0) return i;
  return -1;
}

/* Header lines up to the first Tree= line (left in *first). */
static int read_header(lg *c, lg_header *h, lg_line *first) {
  lg_line l;
  int r = next_line(c, &l);
  if (r < 0) return r;
  if (r == 0 || !line_is(&l, "tree"))
    return lg_fail(c, LM_EFORMAT, 1, "expected 'tree' (not a LightGBM text model)");
  for (;;) {
    r = next_line(c, &l);
    if (r < 0) return r;
    if (r == 0) return lg_fail(c, LM_EFORMAT, 0, "truncated: no Tree= line after the header");
    if (line_starts(&l, "Tree=")) break;
    if (is_trees_end(&l))
      return lg_fail(c, LM_EFORMAT, l.no, "model without trees");
    if (line_is(&l, "average_output")) {
      h->average_output = 1;
      continue;
    }
    size_t klen, vlen;
    const char *v;
    if (!split_kv(&l, &klen, &v, &vlen)) continue; /* blank or unknown bare line: ignored */
    int k = key_index(header_keys, H__COUNT, l.p, klen);
    if (k < 0) continue;
    if (h->f[k].have)
      return lg_fail(c, LM_EFORMAT, l.no, "%s given twice (first on line %zu)", header_keys[k],
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
    if (!tok_next(&t, &s, &n)) return lg_fail(c, LM_EFORMAT, line, "objective: empty");
    canon = NULL;
    for (size_t i = 0; i < sizeof lg_objective_aliases / sizeof lg_objective_aliases[0]; i++)
      if (strlen(lg_objective_aliases[i].alias) == n &&
          memcmp(lg_objective_aliases[i].alias, s, n) == 0)
        canon = lg_objective_aliases[i].name;
    if (!canon)
      return lg_fail(c, LM_EUNSUPPORTED, line, "objective: unknown objective '%s'",
                     printable(b, sizeof b, s, n));
    /* parameters: sqrt, sigmoid:S, num_class:N (others, e.g. tweedie_variance_power, do not
     * change the output) */
    while (tok_next(&t, &s, &n)) {
      if (n == 4 && memcmp(s, "sqrt", 4) == 0) {
        sqrt_opt = 1;
      } else if (n > 8 && memcmp(s, "sigmoid:", 8) == 0) {
        if (tok_double(s + 8, n - 8, &sigmoid) || !(sigmoid > 0) || !isfinite(sigmoid))
          return lg_fail(c, LM_EFORMAT, line, "objective: bad sigmoid parameter '%s'",
                         printable(b, sizeof b, s, n));
      } else if (n > 10 && memcmp(s, "num_class:", 10) == 0) {
        int64_t k = 0;
        if (tok_int(s + 10, n - 10, &k) || k != (int64_t)h->num_class)
          return lg_fail(c, LM_EFORMAT, line,
                         "objective: '%s' does not match num_class=%u",
                         printable(b, sizeof b, s, n), h->num_class);
      }
    }
  }
  int sqrt_applies = !strcmp(canon, "regression") || !strcmp(canon, "regression_l1") ||
                     !strcmp(canon, "quantile") || !strcmp(canon, "fair") ||
                     !strcmp(canon, "mape");
  snprintf(full, sizeof full, "lightgbm:%s%s", canon, sqrt_opt && sqrt_applies ? "_sqrt" : "");
  const lm_objective *o = lm__objective_by_name(full);
  if (!o) {
    if (!strcmp(canon, "custom"))
      return lg_fail(c, LM_EUNSUPPORTED, line,
                     "objective: %s (a custom objective: raw scores only) not supported",
                     f->have ? "custom" : "none given");
    return lg_fail(c, LM_EUNSUPPORTED, line, "objective: '%s%s' not supported", canon,
                   sqrt_opt ? " sqrt" : "");
  }
  int multi = !strcmp(canon, "multiclass") || !strcmp(canon, "multiclassova");
  if (multi && (h->per_iter < 2 || h->per_iter != h->num_class))
    return lg_fail(c, LM_EFORMAT, line,
                   "objective: %s needs num_class = num_tree_per_iteration >= 2, got %u and %u",
                   canon, h->num_class, h->per_iter);
  if (!multi && strcmp(canon, "custom") && h->per_iter != 1)
    return lg_fail(c, LM_EFORMAT, line,
                   "objective: %s with num_tree_per_iteration %u (must be 1)", canon,
                   h->per_iter);
  snprintf(ir->objective, sizeof ir->objective, "%s", o->name);
  if (!strcmp(canon, "binary") || !strcmp(canon, "multiclassova"))
    ir->link_param = sigmoid;
  else if (!strcmp(canon, "cross_entropy"))
    ir->link_param = 1.0;
  else
    ir->link_param = 0.0;
  return LM_OK;
}

static int parse_header(lg *c, lg_header *h) {
  lm_ir_model *ir = c->ir;
  const lg_field *f = h->f;
  char b[48];
  int rc;
  int64_t v;
  /* version */
  if (!f[H_VERSION].have)
    return lg_fail(c, LM_EUNSUPPORTED, 0, "header: no version= line (LightGBM v1 files are "
                                          "not supported; v2-v4 are)");
  if (!((f[H_VERSION].n == 2 && f[H_VERSION].v[0] == 'v' && f[H_VERSION].v[1] >= '2' &&
         f[H_VERSION].v[1] <= '4')))
    return lg_fail(c, LM_EUNSUPPORTED, f[H_VERSION].line, "version: '%s' not supported (v2-v4)",
                   printable(b, sizeof b, f[H_VERSION].v, f[H_VERSION].n));
  memcpy(ir->source_version, f[H_VERSION].v, 2);
  ir->source_version[2] = '\0';
  snprintf(ir->source_format, sizeof ir->source_format, "lightgbm-text");

  static const int required[] = {H_NUM_CLASS, H_MAX_FEATURE_IDX, H_FEATURE_NAMES};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (!f[required[i]].have)
      return lg_fail(c, LM_EFORMAT, 0, "header: missing %s", header_keys[required[i]]);
  if ((rc = field_int(c, &f[H_NUM_CLASS], "", "num_class", 1, LG_MAX_CLASSES, LM_ERANGE, &v)))
    return rc;
  h->num_class = (uint32_t)v;
  h->per_iter = h->num_class;
  if (f[H_NUM_TREE_PER_ITERATION].have) {
    if ((rc = field_int(c, &f[H_NUM_TREE_PER_ITERATION], "", "num_tree_per_iteration", 1,
                        LG_MAX_CLASSES, LM_ERANGE, &v)))
      return rc;
    h->per_iter = (uint32_t)v;
  }
  if ((rc = field_int(c, &f[H_MAX_FEATURE_IDX], "", "max_feature_idx", 0, LG_MAX_FEATURES - 1,
                      LM_ERANGE, &v)))
    return rc;
  uint32_t nf = (uint32_t)v + 1;
  /* feature names: exactly num_features tokens (so every per-feature array below is bounded
   * by the input's size) */
  const lg_field *fn = &f[H_FEATURE_NAMES];
  size_t nn = count_tokens(fn->v, fn->n);
  if (nn != nf)
    return lg_fail(c, LM_EFORMAT, fn->line, "feature_names: %zu names, expected %u "
                                            "(max_feature_idx + 1)", nn, nf);
  ir->num_features = nf;
  ir->num_outputs = h->per_iter;
  ir->feature_names = calloc(nf, sizeof *ir->feature_names);
  ir->feature_types = malloc(nf);
  c->cat_used = calloc(nf, 1);
  if (!ir->feature_names || !ir->feature_types || !c->cat_used) return lg_nomem(c);
  memset(ir->feature_types, 'q', nf);
  lg_toks t = {fn->v, fn->v + fn->n};
  const char *s;
  size_t n, k = 0;
  while (tok_next(&t, &s, &n)) {
    ir->feature_names[k] = malloc(n + 1);
    if (!ir->feature_names[k]) return lg_nomem(c);
    memcpy(ir->feature_names[k], s, n);
    ir->feature_names[k][n] = '\0';
    k++;
  }
  /* feature infos: "[min:max]" numeric, "none" unused, else a category list "-1:3:0:…" */
  const lg_field *fi = &f[H_FEATURE_INFOS];
  if (fi->have) {
    size_t ni = count_tokens(fi->v, fi->n);
    if (ni != nf)
      return lg_fail(c, LM_EFORMAT, fi->line, "feature_infos: %zu entries, expected %u "
                                              "(max_feature_idx + 1)", ni, nf);
    t = (lg_toks){fi->v, fi->v + fi->n};
    k = 0;
    while (tok_next(&t, &s, &n)) {
      if (s[0] != '[' && !(n == 4 && memcmp(s, "none", 4) == 0)) ir->feature_types[k] = 'c';
      k++;
    }
  }
  return parse_objective(c, h);
}

/* ---- trees ----------------------------------------------------------------------------- */

enum {
  T_NUM_LEAVES,
  T_NUM_CAT,
  T_SPLIT_FEATURE,
  T_THRESHOLD,
  T_DECISION_TYPE,
  T_LEFT_CHILD,
  T_RIGHT_CHILD,
  T_LEAF_VALUE,
  T_CAT_BOUNDARIES,
  T_CAT_THRESHOLD,
  T_IS_LINEAR,
  T_LEAF_CONST,
  T_NUM_FEATURES,
  T_LEAF_FEATURES,
  T_LEAF_COEFF,
  T__COUNT
};
static const char *const tree_keys[T__COUNT] = {
    "num_leaves",     "num_cat",       "split_feature", "threshold",  "decision_type",
    "left_child",     "right_child",   "leaf_value",    "cat_boundaries", "cat_threshold",
    "is_linear",      "leaf_const",    "num_features",  "leaf_features",  "leaf_coeff"};

/* Per-tree scratch, freed after each tree. */
typedef struct lg_scratch {
  int64_t *feat, *dtype, *left, *right, *bounds, *nfeat, *lfeat, *words;
  double *thr, *leaf, *lconst, *coeff;
  int64_t *set_begin, *set_count; /* per cat index: its range in cat_values (-1: not built) */
} lg_scratch;

static void scratch_free(lg_scratch *s) {
  free(s->feat), free(s->dtype), free(s->left), free(s->right), free(s->bounds), free(s->nfeat);
  free(s->lfeat), free(s->words), free(s->thr), free(s->leaf), free(s->lconst), free(s->coeff);
  free(s->set_begin), free(s->set_count);
  memset(s, 0, sizeof *s);
}

/* malloc(n * size), at least 1 byte (arrays may be empty). */
static void *xalloc(size_t n, size_t size) { return malloc(n ? n * size : 1); }

/* The category set with index t of the current tree: built into cat_values on first use. */
static int tree_catset(lg *c, const lg_field *tf, const char *ctx, lg_scratch *s, int64_t t,
                       uint32_t *begin, uint32_t *count) {
  lm_ir_model *ir = c->ir;
  if (s->set_begin[t] < 0) {
    int64_t lo = s->bounds[t], hi = s->bounds[t + 1];
    if (hi - lo > (int64_t)LG_MAX_SET_WORDS)
      return lg_fail(c, LM_ERANGE, tf[T_CAT_BOUNDARIES].line,
                     "%scat_boundaries: set %lld has %lld words (more than 2^24 categories)", ctx,
                     (long long)t, (long long)(hi - lo));
    size_t nbits = 0;
    for (int64_t w = lo; w < hi; w++) nbits += (size_t)__builtin_popcount((uint32_t)s->words[w]);
    if (nbits > UINT32_MAX - ir->n_cat_values)
      return lg_fail(c, LM_ERANGE, tf[T_CAT_THRESHOLD].line, "%smore than 2^32 categories in all",
                     ctx);
    int rc = grow(c, (void **)&ir->cat_values, &c->cat_cap, ir->n_cat_values + nbits,
                  sizeof *ir->cat_values);
    if (rc) return rc;
    s->set_begin[t] = (int64_t)ir->n_cat_values;
    s->set_count[t] = (int64_t)nbits;
    for (int64_t w = lo; w < hi; w++) {
      uint32_t word = (uint32_t)s->words[w];
      for (uint32_t bit = 0; bit < 32; bit++)
        if (word >> bit & 1u)
          ir->cat_values[ir->n_cat_values++] = (uint32_t)(w - lo) * 32u + bit;
    }
  }
  *begin = (uint32_t)s->set_begin[t];
  *count = (uint32_t)s->set_count[t];
  return LM_OK;
}

/* Every node reached exactly once from the root (no cycle, no shared or orphan node). */
static int tree_walk(lg *c, const lg_field *tf, const char *ctx, const lm_ir_tree *tr) {
  uint32_t n = tr->n_nodes;
  uint8_t *seen = calloc(n, 1);
  uint32_t *queue = xalloc(n, sizeof *queue);
  int rc = LM_OK;
  if (!seen || !queue) {
    rc = lg_nomem(c);
    goto done;
  }
  uint32_t head = 0, tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    uint32_t id = queue[head++];
    const lm_ir_node *nd = &tr->nodes[id];
    if (nd->left < 0) continue;
    int32_t kids[2] = {nd->left, nd->right};
    for (int k = 0; k < 2; k++) {
      uint32_t ch = (uint32_t)kids[k];
      if (seen[ch]) {
        rc = lg_fail(c, LM_EFORMAT, tf[k ? T_RIGHT_CHILD : T_LEFT_CHILD].line,
                     "%s%s[%u]: cycle or shared child: node %u is reached again", ctx,
                     k ? "right_child" : "left_child", id, ch);
        goto done;
      }
      seen[ch] = 1;
      queue[tail++] = ch;
    }
  }
  if (tail != n) {
    uint32_t id = 0;
    while (seen[id]) id++;
    rc = lg_fail(c, LM_EFORMAT, tf[T_LEFT_CHILD].line, "%snode %u (%s %u) is not reachable from "
                 "the root", ctx, id, id < n / 2 ? "internal node" : "leaf",
                 id < n / 2 ? id : id - n / 2);
  }
done:
  free(seen);
  free(queue);
  return rc;
}

/* One tree block (its fields in tf; the Tree= line is tree_line) → ir->trees[ti]. */
static int build_tree(lg *c, uint32_t ti, size_t tree_line, const lg_field *tf) {
  lm_ir_model *ir = c->ir;
  const uint32_t max_feat = ir->num_features - 1;
  char ctx[32];
  snprintf(ctx, sizeof ctx, "Tree=%u: ", ti);
  lg_scratch s = {0};
  int rc;
  int64_t v;

  static const int required[] = {T_NUM_LEAVES, T_LEAF_VALUE};
  for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
    if (!tf[required[k]].have)
      return lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s", ctx, tree_keys[required[k]]);
  if ((rc = field_int(c, &tf[T_NUM_LEAVES], ctx, "num_leaves", 1, LG_MAX_LEAVES, LM_ERANGE, &v)))
    return rc;
  const uint32_t L = (uint32_t)v, NI = L - 1;
  int64_t num_cat = 0, is_linear = 0;
  if (tf[T_NUM_CAT].have &&
      (rc = field_int(c, &tf[T_NUM_CAT], ctx, "num_cat", 0, NI, LM_ERANGE, &num_cat)))
    return rc;
  if (tf[T_IS_LINEAR].have &&
      (rc = field_int(c, &tf[T_IS_LINEAR], ctx, "is_linear", 0, 1, LM_EFORMAT, &is_linear)))
    return rc;
  if (NI > 0)
    for (int k = T_SPLIT_FEATURE; k <= T_RIGHT_CHILD; k++)
      if (k != T_DECISION_TYPE && !tf[k].have)
        return lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s", ctx, tree_keys[k]);

  /* tree slot (owned by ir from here on: freed by lm_ir_free on error) */
  if ((rc = grow(c, (void **)&ir->trees, &c->tree_cap, (size_t)ir->n_trees + 1, sizeof *ir->trees)))
    return rc;
  lm_ir_tree *tr = &ir->trees[ir->n_trees];
  memset(tr, 0, sizeof *tr);
  /* arrays, counted before allocation */
  s.leaf = xalloc(L, sizeof *s.leaf);
  s.feat = xalloc(NI, sizeof *s.feat);
  s.thr = xalloc(NI, sizeof *s.thr);
  s.dtype = calloc(NI ? NI : 1, sizeof *s.dtype);
  s.left = xalloc(NI, sizeof *s.left);
  s.right = xalloc(NI, sizeof *s.right);
  if (!s.leaf || !s.feat || !s.thr || !s.dtype || !s.left || !s.right) {
    rc = lg_nomem(c);
    goto done;
  }
  if ((rc = field_doubles(c, &tf[T_LEAF_VALUE], ctx, "leaf_value", L, "num_leaves", s.leaf)))
    goto done;
  if ((tf[T_SPLIT_FEATURE].have &&
       (rc = field_ints(c, &tf[T_SPLIT_FEATURE], ctx, "split_feature", NI, "num_leaves - 1", 0,
                        max_feat, LM_ERANGE, s.feat))) ||
      (tf[T_THRESHOLD].have &&
       (rc = field_doubles(c, &tf[T_THRESHOLD], ctx, "threshold", NI, "num_leaves - 1", s.thr))) ||
      (tf[T_DECISION_TYPE].have &&
       (rc = field_ints(c, &tf[T_DECISION_TYPE], ctx, "decision_type", NI, "num_leaves - 1", 0,
                        15, LM_EFORMAT, s.dtype))) ||
      (tf[T_LEFT_CHILD].have &&
       (rc = field_ints(c, &tf[T_LEFT_CHILD], ctx, "left_child", NI, "num_leaves - 1",
                        -(int64_t)L, (int64_t)NI - 1, LM_ERANGE, s.left))) ||
      (tf[T_RIGHT_CHILD].have &&
       (rc = field_ints(c, &tf[T_RIGHT_CHILD], ctx, "right_child", NI, "num_leaves - 1",
                        -(int64_t)L, (int64_t)NI - 1, LM_ERANGE, s.right))))
    goto done;

  /* categorical sets */
  if (num_cat > 0) {
    if (!tf[T_CAT_BOUNDARIES].have || !tf[T_CAT_THRESHOLD].have) {
      rc = lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s (num_cat %lld)", ctx,
                   tf[T_CAT_BOUNDARIES].have ? "cat_threshold" : "cat_boundaries",
                   (long long)num_cat);
      goto done;
    }
    size_t nw = count_tokens(tf[T_CAT_THRESHOLD].v, tf[T_CAT_THRESHOLD].n);
    s.bounds = xalloc((size_t)num_cat + 1, sizeof *s.bounds);
    s.words = xalloc(nw, sizeof *s.words);
    s.set_begin = xalloc((size_t)num_cat, sizeof *s.set_begin);
    s.set_count = xalloc((size_t)num_cat, sizeof *s.set_count);
    if (!s.bounds || !s.words || !s.set_begin || !s.set_count) {
      rc = lg_nomem(c);
      goto done;
    }
    if ((rc = field_ints(c, &tf[T_CAT_BOUNDARIES], ctx, "cat_boundaries", (size_t)num_cat + 1,
                         "num_cat + 1", 0, (int64_t)nw, LM_ERANGE, s.bounds)))
      goto done;
    if (s.bounds[0] != 0) {
      rc = lg_fail(c, LM_EFORMAT, tf[T_CAT_BOUNDARIES].line, "%scat_boundaries[0]: %lld, "
                   "expected 0", ctx, (long long)s.bounds[0]);
      goto done;
    }
    for (int64_t k = 1; k <= num_cat; k++)
      if (s.bounds[k] < s.bounds[k - 1]) {
        rc = lg_fail(c, LM_EFORMAT, tf[T_CAT_BOUNDARIES].line,
                     "%scat_boundaries[%lld]: %lld is less than the previous %lld", ctx,
                     (long long)k, (long long)s.bounds[k], (long long)s.bounds[k - 1]);
        goto done;
      }
    if ((size_t)s.bounds[num_cat] != nw) {
      rc = lg_fail(c, LM_EFORMAT, tf[T_CAT_BOUNDARIES].line,
                   "%scat_boundaries[%lld]: %lld, but cat_threshold has %zu words", ctx,
                   (long long)num_cat, (long long)s.bounds[num_cat], nw);
      goto done;
    }
    if ((rc = field_ints(c, &tf[T_CAT_THRESHOLD], ctx, "cat_threshold", nw,
                         "cat_boundaries[num_cat]", 0, UINT32_MAX, LM_ERANGE, s.words)))
      goto done;
    for (int64_t k = 0; k < num_cat; k++) s.set_begin[k] = -1, s.set_count[k] = 0;
  }

  /* linear leaves */
  size_t n_terms = 0;
  if (is_linear) {
    if (!tf[T_LEAF_CONST].have || !tf[T_NUM_FEATURES].have) {
      rc = lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s (is_linear=1)", ctx,
                   tf[T_LEAF_CONST].have ? "num_features" : "leaf_const");
      goto done;
    }
    s.lconst = xalloc(L, sizeof *s.lconst);
    s.nfeat = xalloc(L, sizeof *s.nfeat);
    if (!s.lconst || !s.nfeat) {
      rc = lg_nomem(c);
      goto done;
    }
    if ((rc = field_doubles(c, &tf[T_LEAF_CONST], ctx, "leaf_const", L, "num_leaves",
                            s.lconst)) ||
        (rc = field_ints(c, &tf[T_NUM_FEATURES], ctx, "num_features", L, "num_leaves", 0,
                         INT32_MAX, LM_ERANGE, s.nfeat)))
      goto done;
    for (uint32_t j = 0; j < L; j++) n_terms += (size_t)s.nfeat[j];
    static const lg_field empty = {"", 0, 0, 1};
    const lg_field *ff = tf[T_LEAF_FEATURES].have ? &tf[T_LEAF_FEATURES] : &empty;
    const lg_field *fc = tf[T_LEAF_COEFF].have ? &tf[T_LEAF_COEFF] : &empty;
    if (n_terms && (!tf[T_LEAF_FEATURES].have || !tf[T_LEAF_COEFF].have)) {
      rc = lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s (is_linear=1)", ctx,
                   tf[T_LEAF_FEATURES].have ? "leaf_coeff" : "leaf_features");
      goto done;
    }
    size_t have_f = count_tokens(ff->v, ff->n), have_c = count_tokens(fc->v, fc->n);
    if (have_f != n_terms || have_c != n_terms) {
      int bad_f = have_f != n_terms;
      rc = lg_fail(c, LM_EFORMAT, bad_f ? ff->line : fc->line,
                   "%s%s: %zu values, expected %zu (the sum of num_features)", ctx,
                   bad_f ? "leaf_features" : "leaf_coeff", bad_f ? have_f : have_c, n_terms);
      goto done;
    }
    s.lfeat = xalloc(n_terms, sizeof *s.lfeat);
    s.coeff = xalloc(n_terms, sizeof *s.coeff);
    if (!s.lfeat || !s.coeff) {
      rc = lg_nomem(c);
      goto done;
    }
    if ((rc = field_ints(c, ff, ctx, "leaf_features", n_terms, "the sum of num_features", 0,
                         max_feat, LM_ERANGE, s.lfeat)) ||
        (rc = field_doubles(c, fc, ctx, "leaf_coeff", n_terms, "the sum of num_features",
                            s.coeff)))
      goto done;
    if (n_terms > UINT32_MAX - ir->n_lin_terms) {
      rc = lg_fail(c, LM_ERANGE, ff->line, "%smore than 2^32 linear terms in all", ctx);
      goto done;
    }
  }

  /* nodes: internal i → id i, leaf j → id NI + j */
  const uint32_t N = 2 * L - 1;
  tr->nodes = calloc(N, sizeof *tr->nodes);
  if (!tr->nodes) {
    rc = lg_nomem(c);
    goto done;
  }
  tr->n_nodes = N;
  tr->group = ti % ir->num_outputs;
  tr->weight = 1.0f;
  tr->linear = (uint8_t)is_linear;
  ir->n_trees++;
  for (uint32_t j = 0; j < L; j++) {
    lm_ir_node *nd = &tr->nodes[NI + j];
    nd->left = nd->right = -1;
    nd->value_d = s.leaf[j];
    nd->value = (float)s.leaf[j];
  }
  for (uint32_t i = 0; i < NI; i++) {
    lm_ir_node *nd = &tr->nodes[i];
    int64_t ch[2] = {s.left[i], s.right[i]};
    int32_t id[2];
    for (int k = 0; k < 2; k++) {
      if (ch[k] >= 0)
        id[k] = (int32_t)ch[k];
      else
        id[k] = (int32_t)(NI + (uint32_t)~ch[k]); /* ~c in [0, L) by the range check */
      if (ch[k] == 0) {
        rc = lg_fail(c, LM_EFORMAT, tf[k ? T_RIGHT_CHILD : T_LEFT_CHILD].line,
                     "%s%s[%u]: child 0 is the root", ctx, k ? "right_child" : "left_child", i);
        goto done;
      }
    }
    nd->left = id[0];
    nd->right = id[1];
    nd->feature = (uint32_t)s.feat[i];
    int dt = (int)s.dtype[i];
    if (dt & 1) {
      double t = s.thr[i];
      if (!(t >= 0 && t < (double)num_cat) || t != floor(t)) {
        char b[48];
        snprintf(b, sizeof b, "%.17g", t);
        rc = lg_fail(c, LM_ERANGE, tf[T_THRESHOLD].line,
                     "%sthreshold[%u]: categorical split names category set %s, not in "
                     "[0, num_cat %lld)", ctx, i, b, (long long)num_cat);
        goto done;
      }
      nd->categorical = 1;
      nd->value = NAN;
      nd->value_d = NAN;
      if ((rc = tree_catset(c, tf, ctx, &s, (int64_t)t, &nd->cat_begin, &nd->cat_count)))
        goto done;
      c->cat_used[nd->feature] = 1;
    } else {
      if ((dt >> 2 & 3) == 3) {
        rc = lg_fail(c, LM_EFORMAT, tf[T_DECISION_TYPE].line,
                     "%sdecision_type[%u]: %d has missing type 3 (only 0 None, 1 Zero, 2 NaN)",
                     ctx, i, dt);
        goto done;
      }
      nd->value_d = s.thr[i];
      nd->value = (float)s.thr[i];
      nd->default_left = (uint8_t)(dt >> 1 & 1);
      nd->missing_type = (uint8_t)(dt >> 2 & 3);
    }
  }
  if (NI > 0 && (rc = tree_walk(c, tf, ctx, tr))) goto done;

  if (is_linear) {
    if ((rc = grow(c, (void **)&ir->lin_feat, &c->lin_cap, ir->n_lin_terms + n_terms,
                   sizeof *ir->lin_feat)) ||
        (rc = grow(c, (void **)&ir->lin_coeff, &c->lin_cap2, ir->n_lin_terms + n_terms,
                   sizeof *ir->lin_coeff)))
      goto done;
    size_t k = 0;
    for (uint32_t j = 0; j < L; j++) {
      lm_ir_node *nd = &tr->nodes[NI + j];
      nd->lin_const = s.lconst[j];
      nd->lin_begin = (uint32_t)ir->n_lin_terms;
      nd->lin_count = (uint32_t)s.nfeat[j];
      for (int64_t q = 0; q < s.nfeat[j]; q++, k++) {
        ir->lin_feat[ir->n_lin_terms] = (uint32_t)s.lfeat[k];
        ir->lin_coeff[ir->n_lin_terms] = s.coeff[k];
        ir->n_lin_terms++;
      }
    }
  }
done:
  scratch_free(&s);
  return rc;
}

/* Tree blocks from the first Tree= line (l) to the end of the tree list. */
static int read_trees(lg *c, const lg_header *h, lg_line l) {
  lm_ir_model *ir = c->ir;
  const lg_field *ts = &h->f[H_TREE_SIZES];
  size_t n_sizes = ts->have ? count_tokens(ts->v, ts->n) : 0;
  lg_toks sizes = {ts->have ? ts->v : "", ts->have ? ts->v + ts->n : ""};
  uint64_t expect_off = l.off; /* where tree_sizes puts the next tree */
  char b[48];
  int r, rc;
  for (uint32_t ti = 0;; ti++) {
    /* l is a Tree= line */
    int64_t idx = -1;
    if (tok_int(l.p + 5, l.n - 5, &idx) || idx != (int64_t)ti)
      return lg_fail(c, LM_EFORMAT, l.no, "expected 'Tree=%u', got '%s'", ti,
                     printable(b, sizeof b, l.p, l.n));
    if (ts->have) {
      const char *s;
      size_t n;
      int64_t sz = 0;
      if (ti >= n_sizes)
        return lg_fail(c, LM_EFORMAT, l.no, "Tree=%u: tree_sizes (line %zu) lists only %zu "
                       "trees", ti, ts->line, n_sizes);
      if (l.off != expect_off)
        return lg_fail(c, LM_EFORMAT, l.no, "Tree=%u starts at byte %zu, but tree_sizes (line "
                       "%zu) puts it at byte %llu", ti, l.off, ts->line,
                       (unsigned long long)expect_off);
      tok_next(&sizes, &s, &n);
      if (tok_int(s, n, &sz) || sz <= 0)
        return lg_fail(c, LM_EFORMAT, ts->line, "tree_sizes[%u]: bad size '%s'", ti,
                       printable(b, sizeof b, s, n));
      if ((uint64_t)sz > c->len) /* also keeps expect_off from overflowing */
        return lg_fail(c, LM_EFORMAT, ts->line, "tree_sizes[%u]: %lld is beyond the input's "
                       "size", ti, (long long)sz);
      expect_off += (uint64_t)sz;
    }
    if (ti == UINT32_MAX) return lg_fail(c, LM_ERANGE, l.no, "too many trees");
    /* the block: key=value lines up to a blank line */
    lg_field tf[T__COUNT];
    memset(tf, 0, sizeof tf);
    size_t tree_line = l.no;
    int at_end = 0;
    for (;;) {
      size_t save_pos = c->pos, save_line = c->line;
      r = next_line(c, &l);
      if (r < 0) return r;
      if (r == 0) {
        at_end = 1;
        break;
      }
      if (l.n == 0) break;
      if (line_starts(&l, "Tree=") || is_trees_end(&l)) { /* no blank line: give it back */
        c->pos = save_pos, c->line = save_line;
        break;
      }
      size_t klen, vlen;
      const char *v;
      if (!split_kv(&l, &klen, &v, &vlen) || klen == 0)
        return lg_fail(c, LM_EFORMAT, l.no, "Tree=%u: expected key=value, got '%s'", ti,
                       printable(b, sizeof b, l.p, l.n));
      int k = key_index(tree_keys, T__COUNT, l.p, klen);
      if (k < 0) continue; /* split_gain, leaf_weight, leaf_count, internal_*, shrinkage … */
      if (tf[k].have)
        return lg_fail(c, LM_EFORMAT, l.no, "Tree=%u: %s given twice (first on line %zu)", ti,
                       tree_keys[k], tf[k].line);
      tf[k] = (lg_field){v, vlen, l.no, 1};
    }
    if ((rc = build_tree(c, ti, tree_line, tf))) return rc;
    if (at_end) break;
    /* blank lines, then the next Tree= or the end of the list */
    for (;;) {
      r = next_line(c, &l);
      if (r <= 0 || l.n != 0) break;
    }
    if (r < 0) return r;
    if (r == 0) break;
    if (is_trees_end(&l)) {
      if (ts->have && ir->n_trees != n_sizes)
        return lg_fail(c, LM_EFORMAT, l.no, "%u trees, but tree_sizes (line %zu) lists %zu",
                       ir->n_trees, ts->line, n_sizes);
      return LM_OK;
    }
    if (!line_starts(&l, "Tree="))
      return lg_fail(c, LM_EFORMAT, l.no, "expected Tree=%u or 'end of trees', got '%s'", ti + 1,
                     printable(b, sizeof b, l.p, l.n));
  }
  return lg_fail(c, LM_EFORMAT, 0, "truncated: the input ends after %u trees without 'end of "
                 "trees'", ir->n_trees);
}

/* ---- entry point ----------------------------------------------------------------------- */

int lm__import_lightgbm_text(const uint8_t *data, size_t len, const char *name,
                             lm_ir_model **out) {
  if (!out) return lm__fail(LM_EINVAL, "lm__import_lightgbm_text: NULL out");
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  lg c = {.name = name, .data = (const char *)data, .len = len};
  c.ir = lm_ir_new();
  if (!c.ir) return lg_nomem(&c);
  lm_ir_model *ir = c.ir;
  ir->decision = LM_DECISION_LIGHTGBM;
  ir->booster = LM_BOOSTER_GBTREE;
  ir->base_score = 0.0f;

  lg_header h;
  memset(&h, 0, sizeof h);
  lg_line first;
  int rc = read_header(&c, &h, &first);
  if (!rc) rc = parse_header(&c, &h);
  if (!rc) rc = read_trees(&c, &h, first);
  if (!rc && ir->n_trees % ir->num_outputs)
    rc = lg_fail(&c, LM_EFORMAT, 0, "%u trees is not a multiple of num_tree_per_iteration %u",
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
