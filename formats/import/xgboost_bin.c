/*
 * xgboost_bin.c — the XGBoost legacy binary importer: what save_model writes for a name without
 * .json/.ubj up to XGBoost 2.0 (SageMaker containers 1.3–1.7), with or without the "binf" magic
 * (1.0+ writes it; older files start right at the header), and the model half of a 1.0–1.2
 * pickle's "CONFIG-offset:" snapshot (xgboost_pickle.c). gbtree, dart and gblinear → IR.
 *
 * Layout (input-formats.md §4, from XGBoost's src/learner.cc, include/xgboost/tree_model.h and
 * src/gbm/gbtree_model.cc), little-endian; a dmlc string is a u64 length and the bytes, a vector
 * a u64 count and the raw elements:
 *   ["binf"] LearnerModelParamLegacy (136 bytes) | objective name | booster name |
 *   gbtree/dart: GBTreeModelParam (160) | per tree: TreeParam (148), nodes (20 each), node
 *     statistics (16 each) | tree_info (i32 per tree, only when there are trees) |
 *     dart only, when there are trees: weight_drop (float vector)
 *   gblinear: its deprecated 136-byte parameter block | weights (float vector)
 *   | if contain_extra_attrs: attributes, a vector of (string, string) pairs.
 *
 * Header differences between versions (LearnerModelParamLegacy): num_target @28 exists from
 * 1.6 (older files hold 0 there: one target), boost_from_average @32 from 1.7 (not needed: the
 * stored base_score is final); 2.0 writes the same 136 bytes as 1.7. GBTreeModelParam @4 is
 * num_parallel_tree from 1.6; before that it is the deprecated num_roots, which XGBoost sets to
 * 1, so files before 1.6 say 1 whatever num_parallel_tree was (this changes nothing when
 * truncating at best_ntree_limit: see sniff.c). Files with major_version 0 (before 1.0) store
 * base_score transformed: XGBoost applies the objective's output transform to it on load
 * (§5, except multi:*), and so does this importer.
 *
 * Validation mirrors the JSON importer (xgboost_json.c) field for field — the same ranges, the
 * same tree-shape rules (children -1 or another node, both or none, every node reached at most
 * once, split features below num_feature), the same unsupported features — and adds what
 * XGBoost's binary loader itself checks (num_nodes > 0, the deleted-node count matches
 * num_deleted). Every count is checked against the bytes left, overflow-safe, before anything is
 * allocated from it. Every error names the input, the byte offset and the field:
 *   "model.bin: byte 412: trees[1].nodes[3].cleft: child index 9 out of range (num_nodes 5)".
 * The objective attribute's JSON (parameters of the objective) is not needed and not read;
 * metrics and SAVED_PARAM_* attributes are skipped. Bytes after the attributes are an error
 * (XGBoost never writes any; a file that has them is not what it seems).
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


#define XB_MAX_OUTPUTS (1u << 20) /* as the JSON importer's XJ_MAX_OUTPUTS */
#define XB_LEARNER_PARAM 136
#define XB_GBTREE_PARAM 160
#define XB_TREE_PARAM 148
#define XB_NODE 20
#define XB_NODE_STAT 16
#define XB_LINEAR_PARAM 136
#define XB_FIELD 96

typedef struct xb {
  lm_cursor k; /* the input: name, offset, field for every message */
  lm_ir_model *ir;
} xb;

/* A dmlc string: u64 length + bytes. */
static int read_str(xb *c, const char *field, const uint8_t **s, size_t *len) {
  uint64_t n;
  int rc = lm__cur_count(&c->k, field, 8, 1, &n);
  if (rc) return rc;
  *s = c->k.p + c->k.pos;
  *len = (size_t)n;
  c->k.pos += (size_t)n;
  return LM_OK;
}

static int streq(const uint8_t *s, size_t n, const char *lit) {
  return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* ---- trees -------------------------------------------------------------------------------- */

/* Every node reachable from the root is reached once (lm_ir_tree_find_repeat, formats/ir.c). */
static int tree_walk(const xb *c, size_t at, const char *tf, const lm_ir_tree *t) {
  uint32_t node, from;
  int r = lm_ir_tree_find_repeat(t, &node, &from);
  if (r < 0) return lm__fail(LM_ENOMEM, "%s: out of memory", c->k.name);
  if (r > 0)
    return lm__cur_fail_at(&c->k, LM_EFORMAT, at, tf,
                           "cycle or shared child: node %u is reached again from node %u", node,
                           from);
  return LM_OK;
}

static int read_tree(xb *c, uint32_t ti, lm_ir_tree *t) {
  char f[XB_FIELD], tf[32];
  lm_ir_model *ir = c->ir;
  int rc;
  snprintf(tf, sizeof tf, "trees[%u]", ti);
  snprintf(f, sizeof f, "%s.tree_param", tf);
  if ((lm__cur_field(&c->k, f), rc = lm__cur_need(&c->k, XB_TREE_PARAM))) return rc;
  const uint8_t *q = c->k.p + c->k.pos;
  size_t at = c->k.pos;
  int32_t nn = lm__le_i32(q + 4), ndel = lm__le_i32(q + 8), slv = lm__le_i32(q + 20);
  if (nn < 1) {
    snprintf(f, sizeof f, "%s.tree_param.num_nodes", tf);
    return lm__cur_fail_at(&c->k, LM_ERANGE, at + 4, f, "value %d out of range [1, %d]", nn,
                           INT32_MAX);
  }
  if (ndel < 0 || ndel >= nn) {
    snprintf(f, sizeof f, "%s.tree_param.num_deleted", tf);
    return lm__cur_fail_at(&c->k, LM_ERANGE, at + 8, f, "value %d out of range [0, %d]", ndel,
                           nn - 1);
  }
  if (slv < 0 || slv > 1) {
    snprintf(f, sizeof f, "%s.tree_param.size_leaf_vector", tf);
    if (slv < 0) return lm__cur_fail_at(&c->k, LM_ERANGE, at + 20, f, "negative value %d", slv);
    return lm__cur_fail_at(&c->k, LM_EUNSUPPORTED, at + 20, f,
                           "multi-target tree (leaf vectors of size %d) not supported", slv);
  }
  c->k.pos += XB_TREE_PARAM;
  /* nodes and their statistics: 36 bytes a node, all present before anything is allocated */
  size_t node_bytes = XB_NODE + XB_NODE_STAT;
  if ((size_t)nn > (c->k.n - c->k.pos) / node_bytes) {
    snprintf(f, sizeof f, "%s.nodes", tf);
    return lm__cur_fail_at(&c->k, LM_EFORMAT, c->k.pos, f,
                           "truncated: %d nodes need %llu bytes, %zu left", nn,
                           (unsigned long long)nn * node_bytes, c->k.n - c->k.pos);
  }
  t->nodes = calloc((size_t)nn, sizeof *t->nodes);
  if (!t->nodes) return lm__fail(LM_ENOMEM, "%s: out of memory", c->k.name);
  t->n_nodes = (uint32_t)nn;
  int32_t deleted = 0;
  for (int32_t k = 0; k < nn; k++) {
    size_t nat = c->k.pos + (size_t)k * XB_NODE;
    const uint8_t *nq = c->k.p + nat;
    int32_t l = lm__le_i32(nq + 4), r = lm__le_i32(nq + 8);
    uint32_t sindex = lm__le32(nq + 12);
    lm_ir_node *nd = &t->nodes[k];
    if (l != -1 && (l < 1 || l >= nn)) {
      snprintf(f, sizeof f, "%s.nodes[%d].cleft", tf, k);
      return lm__cur_fail_at(&c->k, LM_ERANGE, nat + 4, f,
                             "child index %d out of range (num_nodes %d)", l, nn);
    }
    if (r != -1 && (r < 1 || r >= nn)) {
      snprintf(f, sizeof f, "%s.nodes[%d].cright", tf, k);
      return lm__cur_fail_at(&c->k, LM_ERANGE, nat + 8, f,
                             "child index %d out of range (num_nodes %d)", r, nn);
    }
    if ((l == -1) != (r == -1)) {
      snprintf(f, sizeof f, "%s.nodes[%d].cleft", tf, k);
      return lm__cur_fail_at(
          &c->k, LM_EFORMAT, nat + 4, f,
          "node %d has one child (left %d, right %d): a leaf has none, a split two", k, l, r);
    }
    /* sindex: bit 31 default-left, bits 0-30 the feature; all ones marks a deleted node */
    if (k > 0 && sindex == UINT32_MAX) deleted++;
    nd->left = l;
    nd->right = r;
    nd->value = lm__le_f32(nq + 16); /* threshold, or the leaf value */
    if (l == -1) continue;       /* leaves (deleted nodes too): split fields are junk */
    uint32_t feat = sindex & 0x7fffffffu;
    if (feat >= ir->num_features) {
      snprintf(f, sizeof f, "%s.nodes[%d].sindex", tf, k);
      return lm__cur_fail_at(&c->k, LM_ERANGE, nat + 12, f,
                             "feature index out of range: %u (num_feature %u)", feat,
                             ir->num_features);
    }
    nd->feature = feat;
    nd->default_left = (uint8_t)(sindex >> 31);
  }
  if (deleted != ndel) {
    snprintf(f, sizeof f, "%s.tree_param.num_deleted", tf);
    return lm__cur_fail_at(&c->k, LM_EFORMAT, at + 8, f, "%d, but %d nodes are marked deleted",
                           ndel, deleted);
  }
  rc = tree_walk(c, at, tf, t);
  /* then the statistics (RTreeNodeStat: loss_chg, sum_hess, base_weight, leaf_child_cnt):
   * sum_hess is the node's cover, which TreeSHAP needs */
  const uint8_t *stats = c->k.p + c->k.pos + (size_t)nn * XB_NODE;
  t->has_cover = 1;
  for (int32_t k = 0; k < nn; k++) {
    float cov = lm__le_f32(stats + (size_t)k * XB_NODE_STAT + 4);
    t->nodes[k].cover = cov;
    if (!isfinite(cov)) t->has_cover = 0; /* no usable cover: the tree gets none */
  }
  c->k.pos += (size_t)nn * node_bytes;
  return rc;
}

static int read_gbtree(xb *c, int dart, uint32_t num_target, size_t target_at) {
  char f[XB_FIELD];
  lm_ir_model *ir = c->ir;
  int rc;
  if ((lm__cur_field(&c->k, "gbtree_model_param"), rc = lm__cur_need(&c->k, XB_GBTREE_PARAM)))
    return rc;
  const uint8_t *q = c->k.p + c->k.pos;
  size_t at = c->k.pos;
  int32_t nt = lm__le_i32(q), npt = lm__le_i32(q + 4), slv = lm__le_i32(q + 28);
  if (nt < 0)
    return lm__cur_fail_at(&c->k, LM_ERANGE, at, "gbtree_model_param.num_trees",
                           "negative value %d", nt);
  if (npt < 0)
    return lm__cur_fail_at(&c->k, LM_ERANGE, at + 4, "gbtree_model_param.num_parallel_tree",
                           "negative value %d", npt);
  if (slv < 0)
    return lm__cur_fail_at(&c->k, LM_ERANGE, at + 28, "gbtree_model_param.size_leaf_vector",
                           "negative value %d", slv);
  ir->num_parallel_tree = npt > 1 ? (uint32_t)npt : 1;
  c->k.pos += XB_GBTREE_PARAM;
  if (nt > 0 && (num_target > 1 || slv > 1))
    return lm__cur_fail_at(
        &c->k, LM_EUNSUPPORTED, slv > 1 ? at + 28 : target_at,
        slv > 1 ? "gbtree_model_param.size_leaf_vector" : "learner_model_param.num_target",
        "multi-target trees (%d targets) not supported", slv > 1 ? slv : (int32_t)num_target);
  if (nt == 0) return LM_OK;
  /* a tree takes at least its parameter block and one node; tree_info 4 more bytes */
  size_t min_tree = XB_TREE_PARAM + XB_NODE + XB_NODE_STAT + 4;
  if ((size_t)nt > (c->k.n - c->k.pos) / min_tree)
    return lm__cur_fail_at(&c->k, LM_EFORMAT, at, "gbtree_model_param.num_trees",
                           "%d trees cannot fit in the %zu bytes left (each needs at least %zu)",
                           nt, c->k.n - c->k.pos, min_tree);
  ir->trees = calloc((size_t)nt, sizeof *ir->trees);
  if (!ir->trees) return lm__fail(LM_ENOMEM, "%s: out of memory", c->k.name);
  ir->n_trees = (uint32_t)nt;
  for (int32_t i = 0; i < nt; i++) {
    ir->trees[i].weight = 1.0f;
    if ((rc = read_tree(c, (uint32_t)i, &ir->trees[i]))) return rc;
  }
  if ((lm__cur_field(&c->k, "tree_info"), rc = lm__cur_need(&c->k, (size_t)nt * 4))) return rc;
  for (int32_t i = 0; i < nt; i++) {
    size_t gat = c->k.pos + (size_t)i * 4;
    int32_t g = lm__le_i32(c->k.p + gat);
    if (g < 0 || (uint32_t)g >= ir->num_outputs) {
      snprintf(f, sizeof f, "tree_info[%d]", i);
      return lm__cur_fail_at(&c->k, LM_ERANGE, gat, f, "value %d out of range [0, %u]", g,
                             ir->num_outputs - 1);
    }
    ir->trees[i].group = (uint32_t)g;
  }
  c->k.pos += (size_t)nt * 4;
  if (!dart) return LM_OK;
  uint64_t nw;
  size_t wat = c->k.pos;
  if ((rc = lm__cur_count(&c->k, "weight_drop", 8, 4, &nw))) return rc;
  if (nw != (uint64_t)nt)
    return lm__cur_fail_at(&c->k, LM_EFORMAT, wat, "weight_drop",
                           "length %llu does not match num_trees %d", (unsigned long long)nw, nt);
  for (int32_t i = 0; i < nt; i++)
    ir->trees[i].weight = lm__le_f32(c->k.p + c->k.pos + (size_t)i * 4);
  c->k.pos += (size_t)nt * 4;
  return LM_OK;
}

static int read_gblinear(xb *c) {
  lm_ir_model *ir = c->ir;
  int rc;
  /* The gblinear parameter block is deprecated (1.7 writes zeros): the learner's num_feature
   * and outputs size the weights, as in the JSON importer. */
  if ((lm__cur_field(&c->k, "gblinear_model_param"), rc = lm__cur_need(&c->k, XB_LINEAR_PARAM)))
    return rc;
  c->k.pos += XB_LINEAR_PARAM;
  uint64_t want = ((uint64_t)ir->num_features + 1) * ir->num_outputs, n;
  size_t at = c->k.pos;
  if ((rc = lm__cur_count(&c->k, "weights", 8, 4, &n))) return rc;
  if (n != want)
    return lm__cur_fail_at(
        &c->k, LM_EFORMAT, at, "weights",
        "length %llu, expected (num_feature + 1) x outputs = (%u + 1) x %u = %llu",
        (unsigned long long)n, ir->num_features, ir->num_outputs, (unsigned long long)want);
  ir->linear_weights = malloc((n ? (size_t)n : 1) * sizeof *ir->linear_weights);
  if (!ir->linear_weights) return lm__fail(LM_ENOMEM, "%s: out of memory", c->k.name);
  for (size_t i = 0; i < (size_t)n; i++)
    ir->linear_weights[i] = lm__le_f32(c->k.p + c->k.pos + i * 4);
  c->k.pos += (size_t)n * 4;
  return LM_OK;
}

/* An attribute value holding an integer ≥ 0 (best_iteration, best_ntree_limit). */
static int attr_int(const xb *c, size_t at, const char *key, const uint8_t *s, size_t n,
                    int64_t *out) {
  char buf[32], b[64];
  if (n == 0 || n >= sizeof buf) goto bad;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end = NULL;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (end == buf || *end != '\0' || errno == ERANGE) goto bad;
  if (v < 0) {
    char f[XB_FIELD];
    snprintf(f, sizeof f, "attributes.%s", key);
    return lm__cur_fail_at(&c->k, LM_ERANGE, at, f, "value %lld out of range [0, %lld]", v,
                           (long long)INT64_MAX);
  }
  *out = v;
  return LM_OK;
bad:;
  char f[XB_FIELD];
  snprintf(f, sizeof f, "attributes.%s", key);
  return lm__cur_fail_at(&c->k, LM_EFORMAT, at, f, "expected an integer string, got \"%s\"",
                         lm__printable(b, sizeof b, s, n));
}

static int read_attributes(xb *c) {
  uint64_t n;
  int rc = lm__cur_count(&c->k, "attributes", 8, 16, &n);
  if (rc) return rc;
  for (uint64_t i = 0; i < n; i++) {
    char f[XB_FIELD];
    const uint8_t *k, *v;
    size_t kl, vl, vat;
    snprintf(f, sizeof f, "attributes[%llu].key", (unsigned long long)i);
    if ((rc = read_str(c, f, &k, &kl))) return rc;
    snprintf(f, sizeof f, "attributes[%llu].value", (unsigned long long)i);
    vat = c->k.pos;
    if ((rc = read_str(c, f, &v, &vl))) return rc;
    if (streq(k, kl, "best_iteration")) {
      if ((rc = attr_int(c, vat, "best_iteration", v, vl, &c->ir->best_iteration))) return rc;
    } else if (streq(k, kl, "best_ntree_limit")) {
      if ((rc = attr_int(c, vat, "best_ntree_limit", v, vl, &c->ir->best_ntree_limit))) return rc;
    }
  }
  return LM_OK;
}

/* XGBoost before 1.0 stored base_score after the output transform; its loader applies the
 * transform again (learner.cc LoadModel, "major_version < 1"), in float, before ProbToMargin. */
static float pre10_base_score(const lm_objective *o, float x) {
  switch (o->link) {
  case LM_LINK_SIGMOID: {
    float e = -x < 88.7f ? -x : 88.7f;
    return 1.0f / (expf(e) + 1.0f + 1e-16f);
  }
  case LM_LINK_EXP: return expf(x);
  case LM_LINK_HINGE: return x > 0.0f ? 1.0f : 0.0f;
  default: return x;
  }
}

static int read_model(xb *c) {
  char b[64];
  lm_ir_model *ir = c->ir;
  int rc;
  if (c->k.n >= 4 && memcmp(c->k.p, "binf", 4) == 0) c->k.pos = 4;
  if ((lm__cur_field(&c->k, "learner_model_param"), rc = lm__cur_need(&c->k, XB_LEARNER_PARAM)))
    return rc;
  const uint8_t *q = c->k.p + c->k.pos;
  size_t h = c->k.pos;
  float base = lm__le_f32(q);
  uint32_t nf = lm__le32(q + 4), major = lm__le32(q + 20), minor = lm__le32(q + 24),
           ntgt = lm__le32(q + 28);
  int32_t ncls = lm__le_i32(q + 8), extra = lm__le_i32(q + 12);
  /* XGBoost wrote binary models from 0.x to 2.x (3.1 cannot): anything else is not a model. */
  if (major > 3)
    return lm__cur_fail_at(&c->k, LM_EFORMAT, h + 20, "learner_model_param.major_version",
                           "%u is no XGBoost version (not an XGBoost binary model?)", major);
  if (ncls < 0 || (uint32_t)ncls > XB_MAX_OUTPUTS)
    return lm__cur_fail_at(&c->k, LM_ERANGE, h + 8, "learner_model_param.num_class",
                           "value %d out of range [0, %u]", ncls, XB_MAX_OUTPUTS);
  if (ntgt > XB_MAX_OUTPUTS)
    return lm__cur_fail_at(&c->k, LM_ERANGE, h + 28, "learner_model_param.num_target",
                           "value %u out of range [0, %u]", ntgt, XB_MAX_OUTPUTS);
  if (nf > LMF_MAX_FEATURES)
    return lm__cur_fail_at(&c->k, LM_ERANGE, h + 4, "learner_model_param.num_feature",
                           "value %u out of range [0, %u] (lmrt's limit on features)", nf,
                           LMF_MAX_FEATURES);
  if (ntgt == 0) ntgt = 1; /* before 1.6: no num_target, one target */
  snprintf(ir->source_version, sizeof ir->source_version, "%u.%u", major, minor);
  snprintf(ir->source_format, sizeof ir->source_format, "xgboost-binary");
  ir->num_features = nf;
  uint32_t no = (uint32_t)ncls > ntgt ? (uint32_t)ncls : ntgt;
  ir->num_outputs = no > 1 ? no : 1;
  c->k.pos += XB_LEARNER_PARAM;

  /* objective and booster names */
  const uint8_t *s;
  size_t sl, oat = c->k.pos;
  if ((rc = read_str(c, "objective", &s, &sl))) return rc;
  char on[64];
  const lm_objective *o = NULL;
  if (sl < sizeof on && !memchr(s, 0, sl)) {
    memcpy(on, s, sl);
    on[sl] = '\0';
    o = lm__objective_by_name(on);
  }
  if (!o)
    return lm__cur_fail_at(&c->k, LM_EUNSUPPORTED, oat, "objective", "unknown objective \"%s\"",
                           lm__printable(b, sizeof b, s, sl));
  if (o->multiclass && ncls < 2)
    return lm__cur_fail_at(&c->k, LM_EFORMAT, h + 8, "learner_model_param.num_class",
                           "objective %s needs num_class >= 2, got %d", o->name, ncls);
  snprintf(ir->objective, sizeof ir->objective, "%s", o->name);
  ir->base_score = major == 0 && !o->multiclass ? pre10_base_score(o, base) : base;

  size_t bat = c->k.pos;
  if ((rc = read_str(c, "booster", &s, &sl))) return rc;
  if (streq(s, sl, "gbtree") || streq(s, sl, "dart")) {
    int dart = streq(s, sl, "dart");
    ir->booster = dart ? LM_BOOSTER_DART : LM_BOOSTER_GBTREE;
    if ((rc = read_gbtree(c, dart, ntgt, h + 28))) return rc;
  } else if (streq(s, sl, "gblinear")) {
    ir->booster = LM_BOOSTER_GBLINEAR;
    if ((rc = read_gblinear(c))) return rc;
  } else {
    return lm__cur_fail_at(&c->k, LM_EUNSUPPORTED, bat, "booster",
                           "unknown booster \"%s\" (lmrt supports gbtree, dart, gblinear)",
                           lm__printable(b, sizeof b, s, sl));
  }
  if (extra != 0 && (rc = read_attributes(c))) return rc;
  if (c->k.pos != c->k.n)
    return lm__cur_fail_at(&c->k, LM_EFORMAT, c->k.pos, "end of model",
                           "%zu unexpected bytes after the model", c->k.n - c->k.pos);
  return LM_OK;
}

int lm__import_xgboost_binary(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  xb c = {.ir = NULL};
  lm__cur_init(&c.k, data, len, name);
  if (!(c.ir = lm_ir_new())) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  int rc = read_model(&c);
  if (rc) {
    lm_ir_free(c.ir);
    return rc;
  }
  *out = c.ir;
  return LM_OK;
}
