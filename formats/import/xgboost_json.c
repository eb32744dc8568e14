/*
 * xgboost_json.c — the XGBoost JSON importer (models written by save_model("model.json"),
 * XGBoost 1.0 … 3.x): JSON text → IR (formats/ir.h).
 *
 * The text is parsed with json-c into a DOM, then walked field by field. Everything in the file
 * is untrusted: every field is checked for presence, type and range before use, and every
 * error names the input (`name`), the JSON path of the offending field
 * ("learner.gradient_booster.model.trees[3].left_children[5]") and what was wrong, with an LM_E*
 * code: LM_EFORMAT for malformed, missing or mistyped fields, LM_ERANGE for indices out of range,
 * LM_EUNSUPPORTED for model features lmrt does not implement (unknown objectives and boosters,
 * a non-empty 3.1+ categories container), LM_ENOMEM. On any error everything allocated so far is released.
 *
 * Numbers. XGBoost writes float32 values (thresholds, leaf values, weights) as the shortest text
 * that round-trips to the same float ("5.796611E-1"). json-c parses numbers as doubles, and
 * rounding text → double → float can differ from rounding text → float when the text lies near
 * the midpoint of two floats (double rounding). json-c keeps each double's original text
 * (json_object_get_string() returns it), so floats are converted from that text with strtof:
 * thresholds and leaf values are bit-exact whatever wrote the file.
 *
 * json-c is used in its default (non-strict) mode because XGBoost writes non-finite floats as
 * bare NaN / Infinity / -Infinity (e.g. split_conditions of categorical splits are NaN), which
 * strict mode rejects.
 *
 * The walk from a json-c document to the IR is shared: xgboost_ubj.c builds the same kind of
 * document from UBJSON (floats as the doubles of their float32 values, integers as integers) and
 * xgboost_pickle.c hands over the "Model" half of a pickled Booster's snapshot, both through
 * lm__xgboost_dom_import(), so every XGBoost document format gets exactly the same checks, the
 * same messages and the same IR. The configuration in a 1.0–1.2 pickle needs the text parser
 * alone (lm__xgboost_json_parse).
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

/* ---- trees ----------------------------------------------------------------------------- */

/* A per-node array of a tree: tree.key, an array of exactly n entries. */
static int node_array(const xj *c, json_object *tree, const char *tpath, const char *key,
                      int required, size_t n, json_object **out) {
  char p[XJ_PATH];
  int rc = lm__xj_get_field(c, tree, tpath, key, json_type_array, required, out);
  if (rc || !*out) return rc;
  size_t len = json_object_array_length(*out);
  if (len != n)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, tpath, key),
                       "length %zu does not match num_nodes %zu", len, n);
  return LM_OK;
}

static int append_cats(xj *c, const uint32_t *vals, size_t n) {
  lm_ir_model *ir = c->ir;
  if (n > UINT32_MAX - ir->n_cat_values)
    return lm__fail(LM_ERANGE, "%s: more than 2^32 categories in all", c->name);
  if (ir->n_cat_values + n > c->cat_cap) {
    size_t cap = c->cat_cap ? c->cat_cap : 64;
    while (cap < ir->n_cat_values + n) cap *= 2;
    uint32_t *nv = realloc(ir->cat_values, cap * sizeof *nv);
    if (!nv) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    ir->cat_values = nv;
    c->cat_cap = cap;
  }
  memcpy(ir->cat_values + ir->n_cat_values, vals, n * sizeof *vals);
  ir->n_cat_values += n;
  return LM_OK;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* The categorical sets of one tree. XGBoost lists, for each categorical split node in
 * increasing node order, categories_nodes[j] = node id and its set
 * categories[categories_segments[j] .. + categories_sizes[j]). Sets are stored sorted and
 * de-duplicated in ir->cat_values. Entries for nodes that are leaves or numeric splits are
 * validated and ignored (a pruned categorical split may leave one behind); a categorical split
 * with no entry has an empty set (every category goes left), as XGBoost loads it. */
static int tree_categories(xj *c, json_object *tree, const char *tpath, lm_ir_tree *t) {
  char p[XJ_PATH];
  static const char *const keys[4] = {"categories_nodes", "categories_segments", "categories_sizes",
                                      "categories"};
  json_object *a[4];
  int present = 0, rc;
  for (int i = 0; i < 4; i++) {
    rc = lm__xj_get_field(c, tree, tpath, keys[i], json_type_array, 0, &a[i]);
    if (rc) return rc;
    present += a[i] != NULL;
  }
  if (present == 0) return LM_OK; /* files before 1.3 have no categorical fields */
  for (int i = 0; i < 4; i++)
    if (!a[i]) return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, tpath, keys[i]), "missing");
  size_t ncn = json_object_array_length(a[0]);
  for (int i = 1; i < 3; i++)
    if (json_object_array_length(a[i]) != ncn)
      return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, tpath, keys[i]),
                         "length %zu does not match categories_nodes length %zu",
                         json_object_array_length(a[i]), ncn);
  size_t ncat = json_object_array_length(a[3]);
  /* The sizes may add up to at most the categories array's length: that bounds work and memory
   * by the input's size (overlapping segments could otherwise multiply it). */
  size_t total = 0, buf_cap = 0;
  uint32_t *buf = NULL;
  int64_t prev = -1;
  rc = LM_OK;
  for (size_t j = 0; j < ncn && rc == LM_OK; j++) {
    int64_t node, seg, size;
    if ((rc = lm__xj_num_to_int(c, json_object_array_get_idx(a[0], j), AT(tpath, keys[0], j), 0,
                                (int64_t)t->n_nodes - 1, LM_ERANGE, &node)) ||
        (rc = lm__xj_num_to_int(c, json_object_array_get_idx(a[1], j), AT(tpath, keys[1], j), 0,
                                (int64_t)ncat, LM_ERANGE, &seg)) ||
        (rc = lm__xj_num_to_int(c, json_object_array_get_idx(a[2], j), AT(tpath, keys[2], j), 0,
                                (int64_t)ncat, LM_ERANGE, &size)))
      break;
    if (node <= prev) {
      rc = lm__xj_fail(c, LM_EFORMAT, lm__xj_at_str(p, AT(tpath, keys[0], j)),
                       "node %lld listed out of order (after node %lld)", (long long)node,
                       (long long)prev);
      break;
    }
    prev = node;
    if (seg + size > (int64_t)ncat) {
      rc = lm__xj_fail(c, LM_ERANGE, lm__xj_at_str(p, AT(tpath, keys[2], j)),
                       "category segment [%lld, %lld) out of range (categories length %zu)",
                       (long long)seg, (long long)(seg + size), ncat);
      break;
    }
    total += (size_t)size;
    if (total > ncat) {
      rc = lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, tpath, keys[2]),
                       "sizes add up to more than the categories length %zu (overlapping segments)",
                       ncat);
      break;
    }
    if ((size_t)size > buf_cap) {
      uint32_t *nb = realloc(buf, (size_t)size * sizeof *nb);
      if (!nb) {
        rc = lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
        break;
      }
      buf = nb;
      buf_cap = (size_t)size;
    }
    for (int64_t k = 0; k < size; k++) {
      size_t at = (size_t)(seg + k);
      json_object *e = json_object_array_get_idx(a[3], at);
      int64_t v;
      if (json_object_get_type(e) == json_type_int && json_object_get_int64(e) < 0) {
        rc = lm__xj_fail(c, LM_ERANGE, lm__xj_at_str(p, AT(tpath, keys[3], at)),
                         "negative category %lld (node %lld)", (long long)json_object_get_int64(e),
                         (long long)node);
        break;
      }
      if ((rc = lm__xj_num_to_int(c, e, AT(tpath, keys[3], at), 0, INT32_MAX, LM_ERANGE, &v)))
        break;
      buf[k] = (uint32_t)v;
    }
    if (rc) break;
    lm_ir_node *nd = &t->nodes[node];
    if (!nd->categorical || size == 0) continue;
    qsort(buf, (size_t)size, sizeof *buf, cmp_u32);
    size_t u = 0;
    for (size_t k = 0; k < (size_t)size; k++)
      if (u == 0 || buf[k] != buf[u - 1]) buf[u++] = buf[k];
    nd->cat_begin = (uint32_t)c->ir->n_cat_values;
    nd->cat_count = (uint32_t)u;
    rc = append_cats(c, buf, u);
  }
  free(buf);
  return rc;
}

/* Check that the nodes reachable from the root form a tree: each reached at most once. */
static int tree_walk(const xj *c, const char *tpath, const lm_ir_tree *t) {
  uint32_t node, from;
  int r = lm_ir_tree_find_repeat(t, &node, &from);
  if (r < 0) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
  if (r > 0)
    return lm__xj_fail(c, LM_EFORMAT, tpath,
                       "cycle or shared child: node %u is reached again from node %u", node, from);
  return LM_OK;
}

/* One tree object → t. A vector-leaf tree (size_leaf_vector T > 1) also gives *leaves (n_nodes ×
 * T floats, see vector_leaves) and *vec = T; a scalar tree *vec = 1, *leaves = NULL. */
static int parse_tree(xj *c, json_object *tree, const char *tpath, lm_ir_tree *t, uint32_t *vec,
                      float **leaves) {
  char p[XJ_PATH], p2[XJ_PATH];
  lm_ir_model *ir = c->ir;
  int32_t *lidx = NULL;
  int rc;
  *vec = 1;
  *leaves = NULL;
  if (json_object_get_type(tree) != json_type_object)
    return lm__xj_fail(c, LM_EFORMAT, tpath, "expected object, got %s", lm__xj_type_name(tree));
  json_object *tp;
  if ((rc = lm__xj_get_field(c, tree, tpath, "tree_param", json_type_object, 1, &tp))) return rc;
  lm__xj_path_key(p2, tpath, "tree_param");
  int64_t n, slv;
  if ((rc = lm__xj_field_str_int(c, tp, p2, "num_nodes", 1, 0, 1, INT32_MAX, &n))) return rc;
  if ((rc = lm__xj_field_str_int(c, tp, p2, "size_leaf_vector", 0, 0, 0, INT32_MAX, &slv)))
    return rc;
  uint32_t T = slv > 1 ? (uint32_t)slv : 1;
  if (T > 1 && T != ir->num_outputs)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, p2, "size_leaf_vector"),
                       "leaf vectors of size %u for a model of %u outputs (version %s)", T,
                       ir->num_outputs, ir->source_version);

  /* Every per-node array is checked against num_nodes before anything is allocated from it. */
  json_object *lc, *rcn, *si, *sc, *dl, *st, *sh, *lw = NULL;
  size_t nn = (size_t)n, n_lw_leaves = 0;
  if ((rc = node_array(c, tree, tpath, "left_children", 1, nn, &lc)) ||
      (rc = node_array(c, tree, tpath, "right_children", 1, nn, &rcn)) ||
      (rc = node_array(c, tree, tpath, "split_indices", 1, nn, &si)) ||
      (rc = node_array(c, tree, tpath, "split_conditions", 1, nn, &sc)) ||
      (rc = node_array(c, tree, tpath, "default_left", 1, nn, &dl)) ||
      (rc = node_array(c, tree, tpath, "split_type", 0, nn, &st)) ||
      (rc = node_array(c, tree, tpath, "sum_hessian", 0, nn, &sh)))
    return rc;
  if (T > 1) {
    if ((rc = lm__xj_get_field(c, tree, tpath, "leaf_weights", json_type_array, 0, &lw))) return rc;
    if (lw) {
      size_t len = json_object_array_length(lw);
      if (len % T != 0 || len == 0)
        return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, tpath, "leaf_weights"),
                           "length %zu is not a positive multiple of size_leaf_vector %u "
                           "(version %s)",
                           len, T, ir->source_version);
      n_lw_leaves = len / T;
      lidx = malloc(nn * sizeof *lidx);
      if (!lidx) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    }
  }

  t->nodes = calloc(nn, sizeof *t->nodes);
  if (!t->nodes) {
    free(lidx);
    return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
  }
  t->n_nodes = (uint32_t)nn;
  int has_cover = sh != NULL;
  for (size_t k = 0; k < nn; k++) {
    lm_ir_node *nd = &t->nodes[k];
    int64_t l, r, f, d, s = 0;
    if ((rc = lm__xj_num_to_int(c, json_object_array_get_idx(lc, k), AT(tpath, "left_children", k),
                                INT32_MIN, INT32_MAX, LM_ERANGE, &l)) ||
        (rc =
             lm__xj_num_to_int(c, json_object_array_get_idx(rcn, k), AT(tpath, "right_children", k),
                               INT32_MIN, INT32_MAX, LM_ERANGE, &r)))
      goto out;
    if (lidx) {
      /* 3.2+ vector-leaf tree: a leaf's right_children entry is its row of leaf_weights. */
      lidx[k] = -1;
      if (l == -1) {
        if (r < 0 || r >= (int64_t)n_lw_leaves) {
          rc = lm__xj_fail(c, LM_ERANGE, lm__xj_at_str(p, AT(tpath, "right_children", k)),
                           "leaf %zu: leaf_weights row %lld out of range (%zu leaves, version %s)",
                           k, (long long)r, n_lw_leaves, ir->source_version);
          goto out;
        }
        lidx[k] = (int32_t)r;
        r = -1;
      }
    }
    /* Children: -1 (leaf) or a node other than the root. */
    if (l != -1 && (l < 1 || l >= n)) {
      rc = lm__xj_fail(c, LM_ERANGE, lm__xj_at_str(p, AT(tpath, "left_children", k)),
                       "child index %lld out of range (num_nodes %lld)", (long long)l,
                       (long long)n);
      goto out;
    }
    if (r != -1 && (r < 1 || r >= n)) {
      rc = lm__xj_fail(c, LM_ERANGE, lm__xj_at_str(p, AT(tpath, "right_children", k)),
                       "child index %lld out of range (num_nodes %lld)", (long long)r,
                       (long long)n);
      goto out;
    }
    if ((l == -1) != (r == -1)) {
      rc = lm__xj_fail(c, LM_EFORMAT, lm__xj_at_str(p, AT(tpath, "left_children", k)),
                       "node %zu has one child (left %lld, right %lld): a leaf has none, "
                       "a split two",
                       k, (long long)l, (long long)r);
      goto out;
    }
    nd->left = (int32_t)l;
    nd->right = (int32_t)r;
    if ((rc = lm__xj_num_to_float(c, json_object_array_get_idx(sc, k),
                                  AT(tpath, "split_conditions", k), &nd->value)))
      goto out;
    /* default_left: 0/1 integers (1.6+) or booleans (older files). */
    json_object *e = json_object_array_get_idx(dl, k);
    if (json_object_get_type(e) == json_type_boolean)
      d = json_object_get_boolean(e);
    else if ((rc = lm__xj_num_to_int(c, e, AT(tpath, "default_left", k), 0, 1, LM_EFORMAT, &d)))
      goto out;
    if (st && (rc = lm__xj_num_to_int(c, json_object_array_get_idx(st, k),
                                      AT(tpath, "split_type", k), 0, 1, LM_EFORMAT, &s)))
      goto out;
    if ((rc = lm__xj_num_to_int(c, json_object_array_get_idx(si, k), AT(tpath, "split_indices", k),
                                INT64_MIN, INT64_MAX, LM_ERANGE, &f)))
      goto out;
    if (l == -1) {
      /* A leaf (deleted nodes are leaves too): its split fields are junk, e.g. 2^31-1. */
      f = d = s = 0;
    } else if (f < 0 || f >= (int64_t)ir->num_features) {
      rc = lm__xj_fail(c, LM_ERANGE, lm__xj_at_str(p, AT(tpath, "split_indices", k)),
                       "feature index out of range: %lld (num_feature %u)", (long long)f,
                       ir->num_features);
      goto out;
    }
    nd->feature = (uint32_t)f;
    nd->default_left = (uint8_t)d;
    nd->categorical = (uint8_t)s;
    /* sum_hessian (optional): the node's cover, the weight TreeSHAP gives its subtree. */
    float cov;
    if (sh && (rc = lm__xj_num_to_float(c, json_object_array_get_idx(sh, k),
                                        AT(tpath, "sum_hessian", k), &cov)))
      goto out;
    nd->cover = sh ? cov : 0.0;
    if (sh && !isfinite(cov)) has_cover = 0; /* no usable cover: the tree gets none */
  }
  t->has_cover = (uint8_t)has_cover;
  if ((rc = tree_walk(c, tpath, t))) goto out;
  if ((rc = tree_categories(c, tree, tpath, t))) goto out;
  if (T > 1) {
    if ((rc = lm__xj_vector_leaves(c, tree, tpath, t, T, lidx, n_lw_leaves, lw, leaves))) goto out;
    *vec = T;
  }
out:
  free(lidx);
  return rc;
}

/* gbtree's model object (also dart's gbtree.model): trees, tree_info, gbtree_model_param. A
 * vector-leaf tree (2.0+ multi_strategy multi_output_tree) becomes one scalar tree per target,
 * target k taking leaf value k into output k: the same float sums in the same order as XGBoost's
 * vector leaves, so the file format and kernels need nothing new. */
static int parse_gbtree(xj *c, json_object *model, const char *mpath) {
  char p[XJ_PATH], p2[XJ_PATH];
  lm_ir_model *ir = c->ir;
  json_object *gp, *trees, *info;
  int64_t num_trees, slv;
  int rc;
  if ((rc = lm__xj_get_field(c, model, mpath, "gbtree_model_param", json_type_object, 1, &gp)))
    return rc;
  lm__xj_path_key(p2, mpath, "gbtree_model_param");
  if ((rc = lm__xj_field_str_int(c, gp, p2, "num_trees", 1, 0, 0, INT32_MAX, &num_trees)))
    return rc;
  /* 1.x/2.0 also write size_leaf_vector here; each tree's tree_param says what its leaves are. */
  if ((rc = lm__xj_field_str_int(c, gp, p2, "size_leaf_vector", 0, 0, 0, INT32_MAX, &slv)))
    return rc;
  /* num_parallel_tree: trees per output per boosting round (1.6+; older files: 1). XGBoost's
   * parameter has lower bound 1. */
  int64_t npt;
  if ((rc = lm__xj_field_str_int(c, gp, p2, "num_parallel_tree", 0, 1, 1, INT32_MAX, &npt)))
    return rc;
  ir->num_parallel_tree = (uint32_t)npt;
  if ((rc = lm__xj_check_cats(c, model, mpath))) return rc;
  if ((rc = lm__xj_get_field(c, model, mpath, "trees", json_type_array, 1, &trees))) return rc;
  if ((rc = lm__xj_get_field(c, model, mpath, "tree_info", json_type_array, 1, &info))) return rc;
  /* Trees elided from the document (xj_trees) are built one at a time and released after. */
  const xj_trees *ts = c->stream && strcmp(c->stream->path, mpath) == 0 ? c->stream : NULL;
  size_t nt = ts ? ts->n : json_object_array_length(trees);
  if ((int64_t)nt != num_trees)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, p2, "num_trees"),
                       "num_trees %lld does not match the trees array's length %zu",
                       (long long)num_trees, nt);
  if (json_object_array_length(info) != nt)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, mpath, "tree_info"),
                       "length %zu does not match num_trees %zu", json_object_array_length(info),
                       nt);
  if (nt == 0) return lm__xj_check_indptr(c, model, mpath, 0, 1);
  /* Each tree goes to the import's sink, if any, once built (intercept trees that
   * lm__xj_apply_base_scores may put before them later are not: the writer takes those from
   * the IR) */
  lm_ir_sink *sink = lm__import_sink();
  size_t cap = nt;
  ir->trees = calloc(cap, sizeof *ir->trees);
  if (!ir->trees) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
  for (size_t i = 0; i < nt; i++) {
    int64_t g;
    if ((rc = lm__xj_num_to_int(c, json_object_array_get_idx(info, i), AT(mpath, "tree_info", i), 0,
                                (int64_t)ir->num_outputs - 1, LM_ERANGE, &g)))
      return rc;
    lm_ir_tree t = {.group = (uint32_t)g, .weight = 1.0f};
    uint32_t vec = 1;
    float *leaves;
    lm__xj_path_idx(p, lm__xj_path_key(p2, mpath, "trees"), i);
    json_object *tree = NULL;
    leaves = NULL;
    if (ts) rc = ts->get(ts->ctx, i, &tree);
    else tree = json_object_array_get_idx(trees, i);
    if (rc == LM_OK) rc = parse_tree(c, tree, p, &t, &vec, &leaves);
    if (ts) json_object_put(tree);
    if (rc == LM_OK && c->vec && vec != c->vec)
      rc = lm__xj_fail(c, LM_EUNSUPPORTED, p,
                       "leaf vectors of size %u after trees with size %u: a mix of vector and "
                       "scalar leaves is not supported (version %s)",
                       vec, c->vec, ir->source_version);
    if (rc == LM_OK && vec > 1 && g != 0)
      rc = lm__xj_fail(c, LM_EFORMAT, lm__xj_at_str(p2, AT(mpath, "tree_info", i)),
                       "vector-leaf tree in output group %lld, expected 0 (version %s)",
                       (long long)g, ir->source_version);
    if (rc) {
      free(t.nodes);
      free(leaves);
      return rc;
    }
    c->vec = vec;
    /* vec scalar trees for this one (one for a scalar tree) */
    if ((size_t)ir->n_trees + vec > cap) {
      size_t ncap = cap * 2 > (size_t)ir->n_trees + vec ? cap * 2 : (size_t)ir->n_trees + vec;
      lm_ir_tree *ntr = ncap > UINT32_MAX ? NULL : realloc(ir->trees, ncap * sizeof *ntr);
      if (!ntr) {
        free(t.nodes);
        free(leaves);
        return lm__fail(ncap > UINT32_MAX ? LM_ERANGE : LM_ENOMEM, "%s: out of memory", c->name);
      }
      ir->trees = ntr;
      cap = ncap;
    }
    for (uint32_t k = 0; k < vec; k++) {
      lm_ir_tree *o = &ir->trees[ir->n_trees];
      *o = t;
      o->group = vec > 1 ? k : t.group;
      if (k + 1 < vec) {
        o->nodes = malloc(t.n_nodes * sizeof *o->nodes);
        if (!o->nodes) {
          free(t.nodes);
          free(leaves);
          return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
        }
        memcpy(o->nodes, t.nodes, t.n_nodes * sizeof *o->nodes);
      }
      if (leaves)
        for (uint32_t nd = 0; nd < t.n_nodes; nd++)
          if (o->nodes[nd].left == -1) o->nodes[nd].value = leaves[(size_t)nd * vec + k];
      ir->n_trees++;
    }
    free(leaves);
    for (uint32_t k = vec; sink && k > 0; k--)
      if ((rc = sink->put(sink, ir, ir->n_trees - k))) return rc;
  }
  return lm__xj_check_indptr(c, model, mpath, nt, (size_t)npt * (c->vec > 1 ? 1 : ir->num_outputs));
}

/* DART weights: booster.weight_drop, one per source tree, applied to the IR trees each became. */
static int dart_weights(xj *c, json_object *booster, const char *path_booster) {
  char p[XJ_PATH];
  lm_ir_model *ir = c->ir;
  json_object *wd;
  int rc;
  if ((rc = lm__xj_get_field(c, booster, path_booster, "weight_drop", json_type_array, 1, &wd)))
    return rc;
  lm__xj_path_key(p, path_booster, "weight_drop");
  size_t n = json_object_array_length(wd), per = c->vec > 1 ? c->vec : 1;
  if (n * per != ir->n_trees)
    return lm__xj_fail(c, LM_EFORMAT, p, "length %zu does not match num_trees %zu", n,
                       (size_t)ir->n_trees / per);
  for (size_t i = 0; i < n; i++) {
    float w;
    if ((rc = lm__xj_num_to_float(c, json_object_array_get_idx(wd, i), AT(p, NULL, i), &w)))
      return rc;
    for (size_t k = 0; k < per; k++) ir->trees[i * per + k].weight = w;
  }
  return LM_OK;
}

static int parse_booster(xj *c, json_object *learner) {
  static const char *const gb = "learner.gradient_booster";
  char b[64];
  lm_ir_model *ir = c->ir;
  json_object *booster, *nm, *model, *wd;
  int rc;
  if ((rc = lm__xj_get_field(c, learner, "learner", "gradient_booster", json_type_object, 1,
                             &booster)))
    return rc;
  if ((rc = lm__xj_get_field(c, booster, gb, "name", json_type_string, 1, &nm))) return rc;
  const char *name = json_object_get_string(nm);
  if (strcmp(name, "gbtree") == 0) {
    ir->booster = LM_BOOSTER_GBTREE;
    if ((rc = lm__xj_get_field(c, booster, gb, "model", json_type_object, 1, &model))) return rc;
    if ((rc = parse_gbtree(c, model, "learner.gradient_booster.model"))) return rc;
    /* 3.3+: DART is the gbtree booster with weight_drop beside its model (GBTree::SaveModel). */
    if ((rc = lm__xj_get_field(c, booster, gb, "weight_drop", json_type_array, 0, &wd))) return rc;
    if (!wd) return LM_OK;
    ir->booster = LM_BOOSTER_DART;
    return dart_weights(c, booster, gb);
  }
  if (strcmp(name, "dart") == 0) {
    json_object *inner;
    ir->booster = LM_BOOSTER_DART;
    if ((rc = lm__xj_get_field(c, booster, gb, "gbtree", json_type_object, 1, &inner))) return rc;
    if ((rc = lm__xj_get_field(c, inner, "learner.gradient_booster.gbtree", "model",
                               json_type_object, 1, &model)))
      return rc;
    if ((rc = parse_gbtree(c, model, "learner.gradient_booster.gbtree.model"))) return rc;
    return dart_weights(c, booster, gb);
  }
  if (strcmp(name, "gblinear") == 0) {
    json_object *w;
    ir->booster = LM_BOOSTER_GBLINEAR;
    if ((rc = lm__xj_get_field(c, booster, gb, "model", json_type_object, 1, &model))) return rc;
    if ((rc = lm__xj_get_field(c, model, "learner.gradient_booster.model", "weights",
                               json_type_array, 1, &w)))
      return rc;
    uint64_t want = ((uint64_t)ir->num_features + 1) * ir->num_outputs;
    size_t n = json_object_array_length(w);
    if ((uint64_t)n != want)
      return lm__xj_fail(c, LM_EFORMAT, "learner.gradient_booster.model.weights",
                         "length %zu, expected (num_feature + 1) x outputs = (%u + 1) x %u = %llu",
                         n, ir->num_features, ir->num_outputs, (unsigned long long)want);
    ir->linear_weights = malloc((n ? n : 1) * sizeof *ir->linear_weights);
    if (!ir->linear_weights) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < n; i++)
      if ((rc = lm__xj_num_to_float(c, json_object_array_get_idx(w, i),
                                    AT("learner.gradient_booster.model.weights", NULL, i),
                                    &ir->linear_weights[i])))
        return rc;
    return LM_OK;
  }
  return lm__xj_fail(c, LM_EUNSUPPORTED, "learner.gradient_booster.name",
                     "unknown booster \"%s\" (lmrt supports gbtree, dart, gblinear)",
                     lm__printable_utf8(b, sizeof b, name));
}

/* learner.feature_names / feature_types: optional; empty arrays mean none. */
static int parse_features(xj *c, json_object *learner) {
  char p[XJ_PATH];
  lm_ir_model *ir = c->ir;
  json_object *names, *types;
  int rc;
  if ((rc = lm__xj_get_field(c, learner, "learner", "feature_names", json_type_array, 0, &names)) ||
      (rc = lm__xj_get_field(c, learner, "learner", "feature_types", json_type_array, 0, &types)))
    return rc;
  size_t nf = ir->num_features;
  if (names && json_object_array_length(names) > 0) {
    if (json_object_array_length(names) != nf)
      return lm__xj_fail(c, LM_EFORMAT, "learner.feature_names", "%zu names for num_feature %zu",
                         json_object_array_length(names), nf);
    ir->feature_names = calloc(nf, sizeof *ir->feature_names);
    if (!ir->feature_names) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < nf; i++) {
      json_object *e = json_object_array_get_idx(names, i);
      if (json_object_get_type(e) != json_type_string)
        return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_idx(p, "learner.feature_names", i),
                           "expected string, got %s", lm__xj_type_name(e));
      ir->feature_names[i] = strdup(json_object_get_string(e));
      if (!ir->feature_names[i]) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    }
  }
  if (types && json_object_array_length(types) > 0) {
    if (json_object_array_length(types) != nf)
      return lm__xj_fail(c, LM_EFORMAT, "learner.feature_types", "%zu types for num_feature %zu",
                         json_object_array_length(types), nf);
    ir->feature_types = malloc(nf);
    if (!ir->feature_types) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < nf; i++) {
      json_object *e = json_object_array_get_idx(types, i);
      if (json_object_get_type(e) != json_type_string)
        return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_idx(p, "learner.feature_types", i),
                           "expected string, got %s", lm__xj_type_name(e));
      /* "c" categorical; "q", "int", "float", "i" (and anything else) numeric. */
      ir->feature_types[i] = strcmp(json_object_get_string(e), "c") == 0 ? 'c' : 'q';
    }
  }
  return LM_OK;
}

/* learner.attributes: optional string → string; best_iteration and best_ntree_limit are kept. */
static int parse_attributes(xj *c, json_object *learner) {
  json_object *attrs;
  int rc = lm__xj_get_field(c, learner, "learner", "attributes", json_type_object, 0, &attrs);
  if (rc || !attrs) return rc;
  if ((rc = lm__xj_field_str_int(c, attrs, "learner.attributes", "best_iteration", 0, -1, 0,
                                 INT64_MAX, &c->ir->best_iteration)))
    return rc;
  return lm__xj_field_str_int(c, attrs, "learner.attributes", "best_ntree_limit", 0, -1, 0,
                              INT64_MAX, &c->ir->best_ntree_limit);
}

static int parse_model(xj *c, json_object *root) {
  static const char *const mp = "learner.learner_model_param";
  char b[64];
  lm_ir_model *ir = c->ir;
  json_object *ver, *learner, *lmp, *bs, *obj, *oname;
  int rc;
  if (json_object_get_type(root) != json_type_object)
    return lm__xj_fail(c, LM_EFORMAT, "top level", "expected object, got %s",
                       lm__xj_type_name(root));

  /* version: [major, minor, patch] */
  if ((rc = lm__xj_get_field(c, root, "", "version", json_type_array, 1, &ver))) return rc;
  if (json_object_array_length(ver) != 3)
    return lm__xj_fail(c, LM_EFORMAT, "version", "expected 3 numbers, got %zu",
                       json_object_array_length(ver));
  int64_t v[3];
  for (size_t i = 0; i < 3; i++)
    if ((rc = lm__xj_num_to_int(c, json_object_array_get_idx(ver, i), AT("version", NULL, i), 0,
                                INT32_MAX, LM_EFORMAT, &v[i])))
      return rc;
  snprintf(ir->source_version, sizeof ir->source_version, "%lld.%lld.%lld", (long long)v[0],
           (long long)v[1], (long long)v[2]);

  if ((rc = lm__xj_get_field(c, root, "", "learner", json_type_object, 1, &learner))) return rc;

  /* learner_model_param: every value is a string. */
  int64_t nf, ncls, ntgt;
  if ((rc = lm__xj_get_field(c, learner, "learner", "learner_model_param", json_type_object, 1,
                             &lmp)) ||
      (rc = lm__xj_field_str_int(c, lmp, mp, "num_feature", 1, 0, 0, LMF_MAX_FEATURES, &nf)) ||
      (rc = lm__xj_field_str_int(c, lmp, mp, "num_class", 0, 0, 0, XJ_MAX_OUTPUTS, &ncls)) ||
      (rc = lm__xj_field_str_int(c, lmp, mp, "num_target", 0, 1, 0, XJ_MAX_OUTPUTS, &ntgt)) ||
      (rc = lm__xj_get_field(c, lmp, mp, "base_score", json_type_string, 1, &bs)) ||
      (rc = lm__xj_parse_base_score(c, bs, "learner.learner_model_param.base_score")))
    return rc;
  if (ntgt == 0) ntgt = 1; /* written as 0 by some versions: one target */
  ir->num_features = (uint32_t)nf;
  int64_t no = ncls > ntgt ? ncls : ntgt;
  ir->num_outputs = (uint32_t)(no > 1 ? no : 1);
  /* 3.1+: one base score per class or target (LearnerModelParamLegacy::ValidateLength); one
   * value is every output's. */
  if (c->n_bases != 1 && c->n_bases != ir->num_outputs)
    return lm__xj_fail(c, LM_EFORMAT, "learner.learner_model_param.base_score",
                       "%zu values for %u outputs (version %s: expected 1 or one per output)",
                       c->n_bases, ir->num_outputs, ir->source_version);

  /* objective */
  if ((rc = lm__xj_get_field(c, learner, "learner", "objective", json_type_object, 1, &obj)) ||
      (rc = lm__xj_get_field(c, obj, "learner.objective", "name", json_type_string, 1, &oname)))
    return rc;
  const char *on = json_object_get_string(oname);
  const lm_objective *o = lm__objective_by_name(on);
  if (!o)
    return lm__xj_fail(c, LM_EUNSUPPORTED, "learner.objective.name", "unknown objective \"%s\"",
                       lm__printable_utf8(b, sizeof b, on));
  if (o->multiclass && ncls < 2)
    return lm__xj_fail(c, LM_EFORMAT, "learner.learner_model_param.num_class",
                       "objective %s needs num_class >= 2, got %lld", o->name, (long long)ncls);
  snprintf(ir->objective, sizeof ir->objective, "%s", o->name);

  if ((rc = parse_features(c, learner)) || (rc = parse_attributes(c, learner))) return rc;
  if ((rc = parse_booster(c, learner))) return rc;
  return lm__xj_apply_base_scores(c, o);
}

/* ---- entry points ---------------------------------------------------------------------- */

/* JSON text → a json-c document (caller puts it). Errors name `name` and the byte offset. */
int lm__xgboost_json_parse(const uint8_t *data, size_t len, const char *name,
                           json_object **root_out) {
  *root_out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  struct json_tokener *tok = json_tokener_new();
  if (!tok) return lm__fail(LM_ENOMEM, "%s: out of memory", name);

  /* json_tokener_parse_ex takes an int length: feed inputs over 1 GiB in chunks. */
  const size_t chunk = (size_t)1 << 30;
  size_t off = 0;
  json_object *root = NULL;
  enum json_tokener_error err = json_tokener_continue;
  do {
    size_t n = len - off < chunk ? len - off : chunk;
    root = json_tokener_parse_ex(tok, (const char *)data + off, (int)n);
    err = json_tokener_get_error(tok);
    if (err != json_tokener_continue) {
      off += json_tokener_get_parse_end(tok);
      break;
    }
    off += n;
  } while (off < len);
  if (err == json_tokener_continue) {
    /* End of input: a terminating NUL completes a value that could go on (a bare number or
     * literal, so that "5" is reported as "expected object"); anything else stays truncated. */
    root = json_tokener_parse_ex(tok, "", 1);
    if (json_tokener_get_error(tok) != json_tokener_success) {
      json_object_put(root);
      root = NULL;
    } else {
      err = json_tokener_success;
    }
  }

  int rc = LM_OK;
  if (err == json_tokener_continue) {
    rc = lm__fail(LM_EFORMAT, "%s: truncated JSON: unexpected end of input at byte %zu", name, len);
  } else if (err != json_tokener_success) {
    rc = lm__fail(LM_EFORMAT, "%s: malformed JSON at byte %zu: %s", name, off,
                  json_tokener_error_desc(err));
  } else {
    /* json-c stops after the first complete value: anything but whitespace after it is an
     * error (a second document, or a NUL byte json-c took for the end). */
    size_t k = off;
    while (k < len && lm__xj_is_space((char)data[k])) k++;
    if (k < len)
      rc = lm__fail(LM_EFORMAT,
                    "%s: malformed JSON at byte %zu: unexpected data after the top-level value",
                    name, k);
  }
  json_tokener_free(tok);
  if (rc) {
    json_object_put(root);
    return rc;
  }
  *root_out = root;
  return LM_OK;
}

/* A parsed XGBoost model document (JSON text or UBJSON, the object save_model writes) → IR.
 * format is recorded as the IR's source_format ("xgboost-json", "xgboost-ubj", …). The document
 * stays the caller's. */
int lm__xgboost_dom_import(json_object *root, const char *name, const char *format,
                           lm_ir_model **out) {
  return lm__xgboost_dom_import_trees(root, name, format, NULL, out);
}

int lm__xgboost_dom_import_trees(json_object *root, const char *name, const char *format,
                                 const xj_trees *trees, lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  xj c = {.name = name, .stream = trees};
  c.ir = lm_ir_new();
  if (!c.ir) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  int rc = parse_model(&c, root);
  free(c.bases);
  if (rc) {
    lm_ir_free(c.ir);
    return rc;
  }
  snprintf(c.ir->source_format, sizeof c.ir->source_format, "%s", format);
  *out = c.ir;
  return LM_OK;
}

/* The whole document as one json-c DOM (pickles' documents; the streaming reader's fallback). */
int lm__import_xgboost_json_whole(const uint8_t *data, size_t len, const char *name,
                                  lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  json_object *root = NULL;
  int rc = lm__xgboost_json_parse(data, len, name, &root);
  if (rc) return rc;
  rc = lm__xgboost_dom_import(root, name, "xgboost-json", out);
  json_object_put(root);
  return rc;
}
