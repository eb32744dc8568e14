/*
 * lightgbm_trees.c — the Tree= blocks of a LightGBM text model (lightgbm_txt.c has the format
 * and the IR mapping): each block's key=value arrays counted and checked (children, split
 * features and thresholds, decision types, categorical sets built from cat_boundaries /
 * cat_threshold, linear leaves), the tree walked once from its root, then turned into IR nodes;
 * tree_sizes and `end of trees` checked so that truncation is always detected.
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
  T_LEAF_COUNT,
  T_INTERNAL_COUNT,
  T__COUNT
};
static const char *const tree_keys[T__COUNT] = {
    "num_leaves", "num_cat",     "split_feature", "threshold",      "decision_type",
    "left_child", "right_child", "leaf_value",    "cat_boundaries", "cat_threshold",
    "is_linear",  "leaf_const",  "num_features",  "leaf_features",  "leaf_coeff",
    "leaf_count", "internal_count"};

/* Per-tree scratch, freed after each tree. */
typedef struct lg_scratch {
  int64_t *feat, *dtype, *left, *right, *bounds, *nfeat, *lfeat, *words, *lcount, *icount;
  double *thr, *leaf, *lconst, *coeff;
  int64_t *set_begin, *set_count; /* per cat index: its range in cat_values (-1: not built) */
} lg_scratch;

static void scratch_free(lg_scratch *s) {
  free(s->feat), free(s->dtype), free(s->left), free(s->right), free(s->bounds), free(s->nfeat);
  free(s->lfeat), free(s->words), free(s->thr), free(s->leaf), free(s->lconst), free(s->coeff);
  free(s->set_begin), free(s->set_count), free(s->lcount), free(s->icount);
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
      return lm__lg_fail(c, LM_ERANGE, tf[T_CAT_BOUNDARIES].line,
                         "%scat_boundaries: set %lld has %lld words (more than 2^24 categories)",
                         ctx, (long long)t, (long long)(hi - lo));
    size_t nbits = 0;
    for (int64_t w = lo; w < hi; w++) nbits += (size_t)__builtin_popcount((uint32_t)s->words[w]);
    if (nbits > UINT32_MAX - ir->n_cat_values)
      return lm__lg_fail(c, LM_ERANGE, tf[T_CAT_THRESHOLD].line,
                         "%smore than 2^32 categories in all", ctx);
    int rc = lm__lg_grow(c, (void **)&ir->cat_values, &c->cat_cap, ir->n_cat_values + nbits,
                         sizeof *ir->cat_values);
    if (rc) return rc;
    s->set_begin[t] = (int64_t)ir->n_cat_values;
    s->set_count[t] = (int64_t)nbits;
    for (int64_t w = lo; w < hi; w++) {
      uint32_t word = (uint32_t)s->words[w];
      for (uint32_t bit = 0; bit < 32; bit++)
        if (word >> bit & 1u) ir->cat_values[ir->n_cat_values++] = (uint32_t)(w - lo) * 32u + bit;
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
    rc = lm__lg_nomem(c);
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
        rc = lm__lg_fail(c, LM_EFORMAT, tf[k ? T_RIGHT_CHILD : T_LEFT_CHILD].line,
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
    rc = lm__lg_fail(c, LM_EFORMAT, tf[T_LEFT_CHILD].line,
                     "%snode %u (%s %u) is not reachable from "
                     "the root",
                     ctx, id, id < n / 2 ? "internal node" : "leaf", id < n / 2 ? id : id - n / 2);
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
      return lm__lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s", ctx, tree_keys[required[k]]);
  if ((rc = lm__lg_field_int(c, &tf[T_NUM_LEAVES], ctx, "num_leaves", 1, LG_MAX_LEAVES, LM_ERANGE,
                             &v)))
    return rc;
  const uint32_t L = (uint32_t)v, NI = L - 1;
  int64_t num_cat = 0, is_linear = 0;
  if (tf[T_NUM_CAT].have &&
      (rc = lm__lg_field_int(c, &tf[T_NUM_CAT], ctx, "num_cat", 0, NI, LM_ERANGE, &num_cat)))
    return rc;
  if (tf[T_IS_LINEAR].have &&
      (rc = lm__lg_field_int(c, &tf[T_IS_LINEAR], ctx, "is_linear", 0, 1, LM_EFORMAT, &is_linear)))
    return rc;
  if (NI > 0)
    for (int k = T_SPLIT_FEATURE; k <= T_RIGHT_CHILD; k++)
      if (k != T_DECISION_TYPE && !tf[k].have)
        return lm__lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s", ctx, tree_keys[k]);

  /* tree slot (owned by ir from here on: freed by lm_ir_free on error) */
  if ((rc = lm__lg_grow(c, (void **)&ir->trees, &c->tree_cap, (size_t)ir->n_trees + 1,
                        sizeof *ir->trees)))
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
    rc = lm__lg_nomem(c);
    goto done;
  }
  if ((rc = lm__lg_field_doubles(c, &tf[T_LEAF_VALUE], ctx, "leaf_value", L, "num_leaves", s.leaf)))
    goto done;
  if ((tf[T_SPLIT_FEATURE].have &&
       (rc = lm__lg_field_ints(c, &tf[T_SPLIT_FEATURE], ctx, "split_feature", NI, "num_leaves - 1",
                               0, max_feat, LM_ERANGE, s.feat))) ||
      (tf[T_THRESHOLD].have && (rc = lm__lg_field_doubles(c, &tf[T_THRESHOLD], ctx, "threshold", NI,
                                                          "num_leaves - 1", s.thr))) ||
      (tf[T_DECISION_TYPE].have &&
       (rc = lm__lg_field_ints(c, &tf[T_DECISION_TYPE], ctx, "decision_type", NI, "num_leaves - 1",
                               0, 15, LM_EFORMAT, s.dtype))) ||
      (tf[T_LEFT_CHILD].have &&
       (rc = lm__lg_field_ints(c, &tf[T_LEFT_CHILD], ctx, "left_child", NI, "num_leaves - 1",
                               -(int64_t)L, (int64_t)NI - 1, LM_ERANGE, s.left))) ||
      (tf[T_RIGHT_CHILD].have &&
       (rc = lm__lg_field_ints(c, &tf[T_RIGHT_CHILD], ctx, "right_child", NI, "num_leaves - 1",
                               -(int64_t)L, (int64_t)NI - 1, LM_ERANGE, s.right))))
    goto done;

  /* data counts (optional): the node's cover for TreeSHAP, as LightGBM's data_count() */
  int has_cover = NI == 0 || (tf[T_LEAF_COUNT].have && tf[T_INTERNAL_COUNT].have);
  if (NI > 0 && has_cover) {
    s.lcount = xalloc(L, sizeof *s.lcount);
    s.icount = xalloc(NI, sizeof *s.icount);
    if (!s.lcount || !s.icount) {
      rc = lm__lg_nomem(c);
      goto done;
    }
    if ((rc = lm__lg_field_ints(c, &tf[T_LEAF_COUNT], ctx, "leaf_count", L, "num_leaves", 0,
                                INT32_MAX, LM_ERANGE, s.lcount)) ||
        (rc = lm__lg_field_ints(c, &tf[T_INTERNAL_COUNT], ctx, "internal_count", NI,
                                "num_leaves - 1", 0, INT32_MAX, LM_ERANGE, s.icount)))
      goto done;
  }

  /* categorical sets */
  if (num_cat > 0) {
    if (!tf[T_CAT_BOUNDARIES].have || !tf[T_CAT_THRESHOLD].have) {
      rc = lm__lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s (num_cat %lld)", ctx,
                       tf[T_CAT_BOUNDARIES].have ? "cat_threshold" : "cat_boundaries",
                       (long long)num_cat);
      goto done;
    }
    size_t nw = lm__lg_count_tokens(tf[T_CAT_THRESHOLD].v, tf[T_CAT_THRESHOLD].n);
    s.bounds = xalloc((size_t)num_cat + 1, sizeof *s.bounds);
    s.words = xalloc(nw, sizeof *s.words);
    s.set_begin = xalloc((size_t)num_cat, sizeof *s.set_begin);
    s.set_count = xalloc((size_t)num_cat, sizeof *s.set_count);
    if (!s.bounds || !s.words || !s.set_begin || !s.set_count) {
      rc = lm__lg_nomem(c);
      goto done;
    }
    if ((rc =
             lm__lg_field_ints(c, &tf[T_CAT_BOUNDARIES], ctx, "cat_boundaries", (size_t)num_cat + 1,
                               "num_cat + 1", 0, (int64_t)nw, LM_ERANGE, s.bounds)))
      goto done;
    if (s.bounds[0] != 0) {
      rc = lm__lg_fail(c, LM_EFORMAT, tf[T_CAT_BOUNDARIES].line,
                       "%scat_boundaries[0]: %lld, "
                       "expected 0",
                       ctx, (long long)s.bounds[0]);
      goto done;
    }
    for (int64_t k = 1; k <= num_cat; k++)
      if (s.bounds[k] < s.bounds[k - 1]) {
        rc = lm__lg_fail(c, LM_EFORMAT, tf[T_CAT_BOUNDARIES].line,
                         "%scat_boundaries[%lld]: %lld is less than the previous %lld", ctx,
                         (long long)k, (long long)s.bounds[k], (long long)s.bounds[k - 1]);
        goto done;
      }
    if ((size_t)s.bounds[num_cat] != nw) {
      rc = lm__lg_fail(c, LM_EFORMAT, tf[T_CAT_BOUNDARIES].line,
                       "%scat_boundaries[%lld]: %lld, but cat_threshold has %zu words", ctx,
                       (long long)num_cat, (long long)s.bounds[num_cat], nw);
      goto done;
    }
    if ((rc = lm__lg_field_ints(c, &tf[T_CAT_THRESHOLD], ctx, "cat_threshold", nw,
                                "cat_boundaries[num_cat]", 0, UINT32_MAX, LM_ERANGE, s.words)))
      goto done;
    for (int64_t k = 0; k < num_cat; k++) s.set_begin[k] = -1, s.set_count[k] = 0;
  }

  /* linear leaves */
  size_t n_terms = 0;
  if (is_linear) {
    if (!tf[T_LEAF_CONST].have || !tf[T_NUM_FEATURES].have) {
      rc = lm__lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s (is_linear=1)", ctx,
                       tf[T_LEAF_CONST].have ? "num_features" : "leaf_const");
      goto done;
    }
    s.lconst = xalloc(L, sizeof *s.lconst);
    s.nfeat = xalloc(L, sizeof *s.nfeat);
    if (!s.lconst || !s.nfeat) {
      rc = lm__lg_nomem(c);
      goto done;
    }
    if ((rc = lm__lg_field_doubles(c, &tf[T_LEAF_CONST], ctx, "leaf_const", L, "num_leaves",
                                   s.lconst)) ||
        (rc = lm__lg_field_ints(c, &tf[T_NUM_FEATURES], ctx, "num_features", L, "num_leaves", 0,
                                INT32_MAX, LM_ERANGE, s.nfeat)))
      goto done;
    for (uint32_t j = 0; j < L; j++) n_terms += (size_t)s.nfeat[j];
    static const lg_field empty = {"", 0, 0, 1};
    const lg_field *ff = tf[T_LEAF_FEATURES].have ? &tf[T_LEAF_FEATURES] : &empty;
    const lg_field *fc = tf[T_LEAF_COEFF].have ? &tf[T_LEAF_COEFF] : &empty;
    if (n_terms && (!tf[T_LEAF_FEATURES].have || !tf[T_LEAF_COEFF].have)) {
      rc = lm__lg_fail(c, LM_EFORMAT, tree_line, "%smissing %s (is_linear=1)", ctx,
                       tf[T_LEAF_FEATURES].have ? "leaf_coeff" : "leaf_features");
      goto done;
    }
    size_t have_f = lm__lg_count_tokens(ff->v, ff->n), have_c = lm__lg_count_tokens(fc->v, fc->n);
    if (have_f != n_terms || have_c != n_terms) {
      int bad_f = have_f != n_terms;
      rc = lm__lg_fail(c, LM_EFORMAT, bad_f ? ff->line : fc->line,
                       "%s%s: %zu values, expected %zu (the sum of num_features)", ctx,
                       bad_f ? "leaf_features" : "leaf_coeff", bad_f ? have_f : have_c, n_terms);
      goto done;
    }
    s.lfeat = xalloc(n_terms, sizeof *s.lfeat);
    s.coeff = xalloc(n_terms, sizeof *s.coeff);
    if (!s.lfeat || !s.coeff) {
      rc = lm__lg_nomem(c);
      goto done;
    }
    if ((rc = lm__lg_field_ints(c, ff, ctx, "leaf_features", n_terms, "the sum of num_features", 0,
                                max_feat, LM_ERANGE, s.lfeat)) ||
        (rc = lm__lg_field_doubles(c, fc, ctx, "leaf_coeff", n_terms, "the sum of num_features",
                                   s.coeff)))
      goto done;
    if (n_terms > UINT32_MAX - ir->n_lin_terms) {
      rc = lm__lg_fail(c, LM_ERANGE, ff->line, "%smore than 2^32 linear terms in all", ctx);
      goto done;
    }
  }

  /* nodes: internal i → id i, leaf j → id NI + j */
  const uint32_t N = 2 * L - 1;
  tr->nodes = calloc(N, sizeof *tr->nodes);
  if (!tr->nodes) {
    rc = lm__lg_nomem(c);
    goto done;
  }
  tr->n_nodes = N;
  tr->group = ti % ir->num_outputs;
  tr->weight = 1.0f;
  tr->linear = (uint8_t)is_linear;
  /* a one-leaf tree needs no count: its value is all bias (LightGBM's ExpectedValue) */
  tr->has_cover = (uint8_t)has_cover;
  ir->n_trees++;
  for (uint32_t j = 0; j < L; j++) {
    lm_ir_node *nd = &tr->nodes[NI + j];
    nd->left = nd->right = -1;
    nd->value_d = s.leaf[j];
    nd->value = (float)s.leaf[j];
    nd->cover = NI == 0 ? 1.0 : has_cover ? (double)s.lcount[j] : 0.0;
  }
  for (uint32_t i = 0; i < NI; i++) tr->nodes[i].cover = has_cover ? (double)s.icount[i] : 0.0;
  for (uint32_t i = 0; i < NI; i++) {
    lm_ir_node *nd = &tr->nodes[i];
    int64_t ch[2] = {s.left[i], s.right[i]};
    int32_t id[2];
    for (int k = 0; k < 2; k++) {
      if (ch[k] >= 0) id[k] = (int32_t)ch[k];
      else id[k] = (int32_t)(NI + (uint32_t)~ch[k]); /* ~c in [0, L) by the range check */
      if (ch[k] == 0) {
        rc = lm__lg_fail(c, LM_EFORMAT, tf[k ? T_RIGHT_CHILD : T_LEFT_CHILD].line,
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
        rc = lm__lg_fail(c, LM_ERANGE, tf[T_THRESHOLD].line,
                         "%sthreshold[%u]: categorical split names category set %s, not in "
                         "[0, num_cat %lld)",
                         ctx, i, b, (long long)num_cat);
        goto done;
      }
      nd->categorical = 1;
      nd->value = NAN;
      nd->value_d = NAN;
      if ((rc = tree_catset(c, tf, ctx, &s, (int64_t)t, &nd->cat_begin, &nd->cat_count))) goto done;
      c->cat_used[nd->feature] = 1;
    } else {
      if ((dt >> 2 & 3) == 3) {
        rc = lm__lg_fail(c, LM_EFORMAT, tf[T_DECISION_TYPE].line,
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
    if ((rc = lm__lg_grow(c, (void **)&ir->lin_feat, &c->lin_cap, ir->n_lin_terms + n_terms,
                          sizeof *ir->lin_feat)) ||
        (rc = lm__lg_grow(c, (void **)&ir->lin_coeff, &c->lin_cap2, ir->n_lin_terms + n_terms,
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
int lm__lg_read_trees(lg *c, const lg_header *h, lg_line l) {
  lm_ir_model *ir = c->ir;
  const lg_field *ts = &h->f[H_TREE_SIZES];
  size_t n_sizes = ts->have ? lm__lg_count_tokens(ts->v, ts->n) : 0;
  lg_toks sizes = {ts->have ? ts->v : "", ts->have ? ts->v + ts->n : ""};
  uint64_t expect_off = l.off; /* where tree_sizes puts the next tree */
  char b[48];
  int r, rc;
  for (uint32_t ti = 0;; ti++) {
    /* l is a Tree= line */
    int64_t idx = -1;
    if (lm__lg_tok_int(l.p + 5, l.n - 5, &idx) || idx != (int64_t)ti)
      return lm__lg_fail(c, LM_EFORMAT, l.no, "expected 'Tree=%u', got '%s'", ti,
                         lm__lg_printable(b, sizeof b, l.p, l.n));
    if (ts->have) {
      const char *s;
      size_t n;
      int64_t sz = 0;
      if (ti >= n_sizes)
        return lm__lg_fail(c, LM_EFORMAT, l.no,
                           "Tree=%u: tree_sizes (line %zu) lists only %zu "
                           "trees",
                           ti, ts->line, n_sizes);
      if (l.off != expect_off)
        return lm__lg_fail(c, LM_EFORMAT, l.no,
                           "Tree=%u starts at byte %zu, but tree_sizes (line "
                           "%zu) puts it at byte %llu",
                           ti, l.off, ts->line, (unsigned long long)expect_off);
      lm__lg_tok_next(&sizes, &s, &n);
      if (lm__lg_tok_int(s, n, &sz) || sz <= 0)
        return lm__lg_fail(c, LM_EFORMAT, ts->line, "tree_sizes[%u]: bad size '%s'", ti,
                           lm__lg_printable(b, sizeof b, s, n));
      if ((uint64_t)sz > c->len) /* also keeps expect_off from overflowing */
        return lm__lg_fail(c, LM_EFORMAT, ts->line,
                           "tree_sizes[%u]: %lld is beyond the input's "
                           "size",
                           ti, (long long)sz);
      expect_off += (uint64_t)sz;
    }
    if (ti == UINT32_MAX) return lm__lg_fail(c, LM_ERANGE, l.no, "too many trees");
    /* the block: key=value lines up to a blank line */
    lg_field tf[T__COUNT];
    memset(tf, 0, sizeof tf);
    size_t tree_line = l.no;
    int at_end = 0;
    for (;;) {
      size_t save_pos = c->pos, save_line = c->line;
      r = lm__lg_next_line(c, &l);
      if (r < 0) return r;
      if (r == 0) {
        at_end = 1;
        break;
      }
      if (l.n == 0) break;
      if (lm__lg_line_starts(&l, "Tree=") ||
          lm__lg_is_trees_end(&l)) { /* no blank line: give it back */
        c->pos = save_pos, c->line = save_line;
        break;
      }
      size_t klen, vlen;
      const char *v;
      if (!lm__lg_split_kv(&l, &klen, &v, &vlen) || klen == 0)
        return lm__lg_fail(c, LM_EFORMAT, l.no, "Tree=%u: expected key=value, got '%s'", ti,
                           lm__lg_printable(b, sizeof b, l.p, l.n));
      int k = lm__lg_key_index(tree_keys, T__COUNT, l.p, klen);
      if (k < 0) continue; /* split_gain, leaf_weight, internal_value, shrinkage … */
      if (tf[k].have)
        return lm__lg_fail(c, LM_EFORMAT, l.no, "Tree=%u: %s given twice (first on line %zu)", ti,
                           tree_keys[k], tf[k].line);
      tf[k] = (lg_field){v, vlen, l.no, 1};
    }
    if ((rc = build_tree(c, ti, tree_line, tf))) return rc;
    if (at_end) break;
    /* blank lines, then the next Tree= or the end of the list */
    for (;;) {
      r = lm__lg_next_line(c, &l);
      if (r <= 0 || l.n != 0) break;
    }
    if (r < 0) return r;
    if (r == 0) break;
    if (lm__lg_is_trees_end(&l)) {
      if (ts->have && ir->n_trees != n_sizes)
        return lm__lg_fail(c, LM_EFORMAT, l.no, "%u trees, but tree_sizes (line %zu) lists %zu",
                           ir->n_trees, ts->line, n_sizes);
      return LM_OK;
    }
    if (!lm__lg_line_starts(&l, "Tree="))
      return lm__lg_fail(c, LM_EFORMAT, l.no, "expected Tree=%u or 'end of trees', got '%s'",
                         ti + 1, lm__lg_printable(b, sizeof b, l.p, l.n));
  }
  return lm__lg_fail(c, LM_EFORMAT, 0,
                     "truncated: the input ends after %u trees without 'end of "
                     "trees'",
                     ir->n_trees);
}
