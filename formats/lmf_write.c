/*
 * lmf_write.c — serialises the IR (formats/ir.h) into a .lm file image (formats/SPEC.md).
 *
 * The converter does the heavy work here so the runtime does none: trees are re-laid out
 * breadth-first with sibling pairs adjacent and leaves turned into fixed points, categorical
 * sets become bitsets, the base margin is computed from the objective, and every section is
 * 64-byte aligned, padded and checksummed. The image is built in one buffer; the caller writes
 * it out (lm_convert does so atomically). For lm_convert the trees of XGBoost JSON and UBJSON
 * models are taken one by one as the importer reads them (the sink, below), so that the IR of
 * the whole model is never held.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <mimalloc.h>
#include <xxhash.h>

#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "formats/objective.h"
#include "base/cursor.h"
#include "base/error.h"

#define LM__COLLECT_BYTES ((size_t)16 << 20)

static size_t lm__align(size_t n) { return (n + LMF_ALIGN - 1) & ~(size_t)(LMF_ALIGN - 1); }

void lm__lmf_seal(uint8_t *buf, size_t len) {
  lmf_header *h = (lmf_header *)buf;
  lmf_section *tab = (lmf_section *)(buf + h->table_offset);
  for (uint32_t i = 0; i < h->n_sections; i++)
    if (tab[i].offset <= len && tab[i].size <= len - tab[i].offset)
      tab[i].checksum = XXH3_64bits(buf + tab[i].offset, tab[i].size);
  XXH3_state_t *st = XXH3_createState();
  if (!st) return;
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, buf, offsetof(lmf_header, table_checksum));
  XXH3_64bits_update(st, tab, (size_t)h->n_sections * sizeof(lmf_section));
  h->table_checksum = XXH3_64bits_digest(st);
  XXH3_freeState(st);
}

/* The children of n in .lm orientation: LightGBM categorical splits send the set LEFT, the
 * format sends it right (SPEC.md, Decisions), so their children are swapped. */
static void lm__kids(const lm_ir_model *m, const lm_ir_node *n, int32_t kids[2]) {
  int swap = m->decision == LM_DECISION_LIGHTGBM && n->categorical;
  kids[0] = swap ? n->right : n->left;
  kids[1] = swap ? n->left : n->right;
}

/* LightGBM's dense-row predictor reads every non-NaN |x| ≤ kZeroThreshold (1e-35f) as 0 before
 * the trees see it. For a threshold t outside [-kZ, kZ) that changes no decision; inside, it is
 * the same as comparing x itself with -kZ's predecessor (t < 0: tiny values go right) or with kZ
 * (t ≥ 0: tiny values go left). Type Zero splits already send tiny values to the default. */
static double lm__lgb_tiny(const lm_ir_node *n) {
  const double kz = (double)LMF_ZERO_THRESHOLD;
  double t = n->value_d;
  if (n->missing_type == LM_MISSING_ZERO || !(t >= -kz && t < kz)) return t;
  return t < 0 ? nextafter(-kz, -INFINITY) : kz;
}

/* Breadth-first re-layout of one tree: order[k] = trainer id of the k-th node written;
 * returns the number of reachable nodes, or a negative error. depth receives the tree depth. */
static int lm__layout_tree(const lm_ir_model *m, const lm_ir_tree *t, uint32_t ti,
                           uint32_t *order, uint32_t *level, uint8_t *seen, uint32_t *depth) {
  uint32_t num_features = m->num_features;
  if (t->n_nodes == 0) return lm__fail(LM_EFORMAT, "tree %u: no nodes", ti);
  memset(seen, 0, t->n_nodes);
  uint32_t head = 0, tail = 0, d = 0;
  order[tail] = 0;
  level[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    uint32_t id = order[head], lv = level[head++];
    const lm_ir_node *n = &t->nodes[id];
    if (lv > d) d = lv;
    if (n->left < 0 && n->right < 0) continue;
    if (n->left < 0 || n->right < 0 || (uint32_t)n->left >= t->n_nodes ||
        (uint32_t)n->right >= t->n_nodes)
      return lm__fail(LM_ERANGE, "tree %u node %u: child index out of range", ti, id);
    if (n->feature >= num_features)
      return lm__fail(LM_ERANGE, "tree %u node %u: feature index %u out of range (%u features)",
                      ti, id, n->feature, num_features);
    if (!n->categorical &&
        (m->decision == LM_DECISION_LIGHTGBM ? isnan(n->value_d) : isnan(n->value)))
      return lm__fail(LM_EFORMAT, "tree %u node %u: NaN split threshold", ti, id);
    if (lv + 1 > LMF_MAX_DEPTH)
      return lm__fail(LM_ERANGE, "tree %u: deeper than %d levels", ti, LMF_MAX_DEPTH);
    int32_t kids[2];
    lm__kids(m, n, kids);
    for (int k = 0; k < 2; k++) {
      if (seen[kids[k]])
        return lm__fail(LM_EFORMAT, "tree %u node %u: cycle or shared child %d", ti, id, kids[k]);
      seen[kids[k]] = 1;
      order[tail] = (uint32_t)kids[k];
      level[tail++] = lv + 1;
    }
  }
  *depth = d;
  return (int)tail;
}

/* 32-bit words of the bitset of n's categories. */
static uint32_t lm__set_words(const lm_ir_model *m, const lm_ir_node *n) {
  uint32_t max = 0;
  if (n->cat_count == 0) return 0;
  for (uint32_t k = 0; k < n->cat_count; k++)
    if (m->cat_values[n->cat_begin + k] > max) max = m->cat_values[n->cat_begin + k];
  return max / 32 + 1;
}

typedef struct lm__sec {
  uint32_t kind;
  size_t size, offset;
} lm__sec;

/* Everything the sections' writers need, worked out before the image is allocated. */
typedef struct lm__plan {
  const lm_objective *obj;
  int linear, fm, lgb, any_linear;
  int cover; /* every tree carries its nodes' covers: write COVER */
  /* trees: the breadth-first layout (scratch for one tree), each tree's first node, node count
   * and depth, and the totals */
  uint32_t *order, *level, *first, *count, *depth;
  uint8_t *seen;
  uint32_t total_nodes, max_nodes, n_cat, cat_words, max_depth;
  /* META's string pool: its size and where each string goes */
  size_t pool, off_sv, off_obj, off_conv, off_names, off_types;
  const char *conv;
  lm__sec secs[12];
  uint32_t ns;
  size_t size; /* of the whole image */
} lm__plan;

static void lm__plan_free(lm__plan *p) {
  free(p->order);
  free(p->level);
  free(p->seen);
  free(p->first);
  free(p->count);
  free(p->depth);
}

static uint8_t *lm__sec_at(uint8_t *buf, const lm__plan *p, uint32_t kind) {
  for (uint32_t i = 0; i < p->ns; i++)
    if (p->secs[i].kind == kind) return buf + p->secs[i].offset;
  return NULL;
}

/* ---- planning -------------------------------------------------------------------------- */

/* What the whole model must be: a known objective, its sizes, weights or trees. */
static int lm__check_model(const lm_ir_model *m, lm__plan *p) {
  p->obj = lm__objective_by_name(m->objective);
  if (!p->obj) return lm__fail(LM_EUNSUPPORTED, "unknown objective '%s'", m->objective);
  if (m->num_features == 0 || m->num_features > LMF_MAX_FEATURES)
    return lm__fail(LM_ERANGE, "the model declares %u features (num_features), out of range "
                    "1..%u (lmrt's limit on features)", m->num_features, LMF_MAX_FEATURES);
  if (m->num_outputs == 0) return lm__fail(LM_ERANGE, "num_outputs is 0");
  /* Every output starts at base_margin: a non-finite one makes every prediction inf or NaN. */
  if (!isfinite(m->base_score) || !isfinite(lm__base_margin(p->obj, m->base_score)))
    return lm__fail(LM_ERANGE, "base_score %g has no finite margin under %s", (double)m->base_score,
                    m->objective);
  if (p->obj->multiclass && m->num_outputs < 2)
    return lm__fail(LM_EFORMAT, "objective %s needs at least 2 classes", m->objective);
  /* strings go into outputs (lminfo, lmserve's JSON, Prometheus text, logs): the verifier
   * refuses invalid UTF-8 (and control characters but in feature names), so say which here */
  long bad = lm__text_bad_at(m->source_version, 0);
  if (bad >= 0) return lm__fail(LM_EFORMAT, "source version: byte %ld is a control character or invalid UTF-8", bad);
  for (uint32_t f = 0; m->feature_names && f < m->num_features; f++) {
    char b[64];
    if (m->feature_names[f] && (bad = lm__text_bad_at(m->feature_names[f], 1)) >= 0)
      return lm__fail(LM_EFORMAT, "feature name %u (\"%s\"): byte %ld is invalid UTF-8", f,
                      lm__printable_utf8(b, sizeof b, m->feature_names[f]), bad);
  }
  p->linear = m->booster == LM_BOOSTER_GBLINEAR || m->booster == LM_BOOSTER_LINEAR;
  p->fm = m->booster == LM_BOOSTER_FM;
  if (p->linear && !m->linear_weights)
    return lm__fail(LM_EFORMAT, "gblinear model without weights");
  if (p->fm) {
    if (!m->fm_w || !m->fm_v || m->fm_factors == 0 || m->fm_factors > LMF_MAX_FM_FACTORS)
      return lm__fail(LM_EFORMAT, "factorization machine without weights or with %u factors "
                      "(1..%u)", m->fm_factors, LMF_MAX_FM_FACTORS);
    if (m->num_outputs != 1)
      return lm__fail(LM_EFORMAT, "factorization machine with %u outputs", m->num_outputs);
    if (m->decision != LM_DECISION_XGBOOST)
      return lm__fail(LM_EFORMAT, "factorization machine with tree decision semantics");
    return LM_OK;
  }
  if (!p->linear && m->n_trees == 0) return lm__fail(LM_EFORMAT, "tree model without trees");
  return LM_OK;
}

/* The categorical sets of one laid-out tree: in range, categories below 2^24; counted. */
static int lm__plan_catsets(const lm_ir_model *m, uint32_t t, int n, lm__plan *p) {
  const lm_ir_tree *tr = &m->trees[t];
  for (int k = 0; k < n; k++) {
    const lm_ir_node *nd = &tr->nodes[p->order[k]];
    if (nd->left < 0 || !nd->categorical) continue;
    if ((uint64_t)nd->cat_begin + nd->cat_count > m->n_cat_values)
      return lm__fail(LM_ERANGE, "tree %u node %u: category set out of range", t, p->order[k]);
    for (uint32_t c = 0; c < nd->cat_count; c++)
      if (m->cat_values[nd->cat_begin + c] >= (1u << 24))
        return lm__fail(LM_ERANGE, "tree %u node %u: category %u ≥ 2^24", t, p->order[k],
                        m->cat_values[nd->cat_begin + c]);
    p->n_cat++;
    p->cat_words += lm__set_words(m, nd);
  }
  return LM_OK;
}

/* What the trees' metadata must be (output groups, weights); whether COVER is written. */
static int lm__plan_tree_meta(const lm_ir_model *m, lm__plan *p) {
  p->cover = m->n_trees > 0;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    if (!m->trees[t].has_cover) p->cover = 0;
    if (m->trees[t].n_nodes > p->max_nodes) p->max_nodes = m->trees[t].n_nodes;
    if (m->trees[t].group >= m->num_outputs)
      return lm__fail(LM_ERANGE, "tree %u: output group %u out of range (%u outputs)", t,
                      m->trees[t].group, m->num_outputs);
    if (!isfinite(m->trees[t].weight))
      return lm__fail(LM_EFORMAT, "tree %u: weight is not finite", t);
  }
  return LM_OK;
}

/* Pass 1 over the trees: reachable nodes, depths, categorical sets. */
static int lm__plan_trees(const lm_ir_model *m, lm__plan *p) {
  int rc = lm__plan_tree_meta(m, p);
  if (rc) return rc;
  p->order = malloc(sizeof *p->order * p->max_nodes);
  p->level = malloc(sizeof *p->level * p->max_nodes);
  p->seen = malloc(p->max_nodes);
  p->first = malloc(sizeof *p->first * m->n_trees);
  p->count = malloc(sizeof *p->count * m->n_trees);
  p->depth = malloc(sizeof *p->depth * m->n_trees);
  if (!p->order || !p->level || !p->seen || !p->first || !p->count || !p->depth)
    return lm__fail(LM_ENOMEM, "out of memory laying out %u trees", m->n_trees);
  for (uint32_t t = 0; t < m->n_trees; t++) {
    int n = lm__layout_tree(m, &m->trees[t], t, p->order, p->level, p->seen, &p->depth[t]);
    if (n < 0) return n;
    if ((uint64_t)p->total_nodes + (uint32_t)n > 0x7FFFFFFFu)
      return lm__fail(LM_ERANGE, "more than 2^31 nodes");
    p->first[t] = p->total_nodes;
    p->count[t] = (uint32_t)n;
    p->total_nodes += (uint32_t)n;
    if (p->depth[t] > p->max_depth) p->max_depth = p->depth[t];
    int rc = lm__plan_catsets(m, t, n, p);
    if (rc) return rc;
  }
  return LM_OK;
}

/* META's objective string: the trainer's own name when the importer gave one
 * (trainer_objective), else the table's name of the objective id. */
static const char *lm__objective_shown(const lm_ir_model *m) {
  return m->trainer_objective[0] ? m->trainer_objective : m->objective;
}

/* META's string pool: source version, objective, converter, feature names and types. */
static int lm__plan_strings(const lm_ir_model *m, const char *converter, lm__plan *p) {
  size_t pool = 0;
  p->conv = converter ? converter : "";
  p->off_sv = 128 + pool;
  pool += strlen(m->source_version) + 1;
  p->off_obj = 128 + pool;
  pool += strlen(lm__objective_shown(m)) + 1;
  p->off_conv = 128 + pool;
  pool += strlen(p->conv) + 1;
  p->off_names = LMF_NONE;
  p->off_types = LMF_NONE;
  if (m->feature_names) {
    p->off_names = 128 + pool;
    for (uint32_t f = 0; f < m->num_features; f++)
      pool += strlen(m->feature_names[f] ? m->feature_names[f] : "") + 1;
  }
  if (m->feature_types) {
    p->off_types = 128 + pool;
    pool += m->num_features;
  }
  if (128 + pool > 0xFFFFFFF0u) return lm__fail(LM_ERANGE, "metadata too large");
  p->pool = pool;
  return LM_OK;
}

/* Decision semantics, and LightGBM linear leaves: their terms in range. */
static int lm__plan_linear_leaves(const lm_ir_model *m, lm__plan *p) {
  p->lgb = m->decision == LM_DECISION_LIGHTGBM;
  if (m->decision != LM_DECISION_XGBOOST && !p->lgb)
    return lm__fail(LM_EFORMAT, "unknown decision semantics %d", m->decision);
  for (uint32_t t = 0; !p->linear && t < m->n_trees; t++) {
    if (!m->trees[t].linear) continue;
    if (!p->lgb) return lm__fail(LM_EFORMAT, "tree %u: linear leaves need LightGBM semantics", t);
    p->any_linear = 1;
    for (uint32_t k = 0; k < m->trees[t].n_nodes; k++) {
      const lm_ir_node *nd = &m->trees[t].nodes[k];
      if (nd->left >= 0) continue;
      if ((uint64_t)nd->lin_begin + nd->lin_count > m->n_lin_terms)
        return lm__fail(LM_ERANGE, "tree %u node %u: linear terms out of range", t, k);
      for (uint32_t j = 0; j < nd->lin_count; j++)
        if (m->lin_feat[nd->lin_begin + j] >= m->num_features)
          return lm__fail(LM_ERANGE, "tree %u node %u: linear term feature %u out of range", t, k,
                          m->lin_feat[nd->lin_begin + j]);
    }
  }
  if (m->n_lin_terms > 0xFFFFFFFFu) return lm__fail(LM_ERANGE, "too many linear terms");
  return LM_OK;
}

/* The sections in file order, their sizes and 64-byte aligned offsets, and the image size. */
static void lm__plan_sections(const lm_ir_model *m, lm__plan *p) {
  lm__sec *secs = p->secs;
  uint32_t ns = 0;
  size_t total = p->total_nodes;
  secs[ns++] = (lm__sec){LMF_META, 128 + p->pool, 0};
  if (p->fm) {
    secs[ns++] = (lm__sec){LMF_FM, lm__align(sizeof(lmf_fm) + 4 * (size_t)m->num_features) +
                                       4 * (size_t)m->num_features * m->fm_factors,
                           0};
  } else if (!p->linear) {
    secs[ns++] = (lm__sec){LMF_TREES, (size_t)m->n_trees * sizeof(lmf_tree), 0};
    secs[ns++] = (lm__sec){LMF_NODES, total * sizeof(lmf_node), 0};
    secs[ns++] = (lm__sec){LMF_LEAF_IDS, total * 4, 0};
    if (p->n_cat)
      secs[ns++] =
          (lm__sec){LMF_CATSETS, 16 + (size_t)p->n_cat * 8 + (size_t)p->cat_words * 4, 0};
    if (p->lgb) secs[ns++] = (lm__sec){LMF_NODE_F64, total * 8, 0};
    if (p->cover) secs[ns++] = (lm__sec){LMF_COVER, total * 8, 0};
    if (p->any_linear)
      secs[ns++] = (lm__sec){LMF_LINEAR_LEAVES,
                             16 + total * sizeof(lmf_linear_leaf) +
                                 m->n_lin_terms * sizeof(lmf_linear_term),
                             0};
  } else {
    size_t nw = (size_t)m->num_features * m->num_outputs + m->num_outputs;
    secs[ns++] = (lm__sec){LMF_LINEAR, sizeof(lmf_linear) + nw * 4, 0};
  }
  if (m->selftest_n)
    secs[ns++] = (lm__sec){LMF_SELFTEST,
                           sizeof(lmf_selftest) + (size_t)m->selftest_n * m->num_features * 8 +
                               (size_t)m->selftest_n * m->selftest_width * 4,
                           0};
  size_t pos = lm__align(sizeof(lmf_header) + ns * sizeof(lmf_section));
  for (uint32_t i = 0; i < ns; i++) {
    secs[i].offset = pos;
    pos = lm__align(pos + secs[i].size + LM_PAD_BYTES);
  }
  p->ns = ns;
  p->size = pos;
}

/* ---- writing the sections -------------------------------------------------------------- */

static void lm__write_header(uint8_t *buf, const lm__plan *p) {
  lmf_header *h = (lmf_header *)buf;
  memcpy(h->magic, LMF_MAGIC, 8);
  h->major = LMF_MAJOR;
  h->minor = LMF_MINOR;
  h->header_size = sizeof(lmf_header);
  h->file_size = p->size;
  h->n_sections = p->ns;
  h->table_offset = sizeof(lmf_header);
  lmf_section *tab = (lmf_section *)(buf + h->table_offset);
  for (uint32_t i = 0; i < p->ns; i++)
    tab[i] = (lmf_section){p->secs[i].kind,
                           /* optional sections: a 1.0 reader skips them */
                           p->secs[i].kind == LMF_SELFTEST || p->secs[i].kind == LMF_COVER
                               ? 0
                               : LMF_SECTION_REQUIRED,
                           p->secs[i].offset, p->secs[i].size, 0};
}

static void lm__write_selftest(uint8_t *buf, const lm_ir_model *m, const lm__plan *p) {
  uint8_t *at = lm__sec_at(buf, p, LMF_SELFTEST);
  if (!at) return;
  lmf_selftest *st = (lmf_selftest *)at;
  st->n_rows = m->selftest_n;
  st->num_features = m->num_features;
  st->width = m->selftest_width;
  size_t rb = (size_t)m->selftest_n * m->num_features * 8;
  memcpy(at + sizeof *st, m->selftest_rows, rb);
  memcpy(at + sizeof *st + rb, m->selftest_expected, (size_t)m->selftest_n * m->selftest_width * 4);
}

static void lm__write_meta(uint8_t *buf, const lm_ir_model *m, const lm__plan *p) {
  uint8_t *ms = lm__sec_at(buf, p, LMF_META);
  lmf_meta *meta = (lmf_meta *)ms;
  meta->model_kind = p->fm ? LMF_MODEL_FM : p->linear ? LMF_MODEL_LINEAR : LMF_MODEL_TREES;
  meta->booster = (uint32_t)m->booster;
  meta->objective = p->obj->id;
  meta->link = p->obj->link;
  meta->num_features = m->num_features;
  meta->num_outputs = m->num_outputs;
  meta->base_score = m->base_score;
  meta->base_margin = lm__base_margin(p->obj, m->base_score);
  meta->source_format = lm__source_format_id(m->source_format);
  meta->decision = p->lgb ? LMF_DECISION_LIGHTGBM : LMF_DECISION_XGBOOST;
  meta->link_param = m->link_param != 0.0 ? m->link_param : 1.0;
  meta->average_over = m->average_over;
  meta->n_trees = p->linear || p->fm ? 0 : m->n_trees;
  meta->n_nodes = p->total_nodes;
  meta->max_depth = p->max_depth;
  meta->n_cat_splits = p->n_cat;
  meta->best_iteration = m->best_iteration;
  meta->best_ntree_limit = m->best_ntree_limit;
  meta->n_trees_trained = m->n_trees_trained > m->n_trees ? m->n_trees_trained : 0;
  meta->source_hash = m->source_hash;
  meta->str_source_version = (uint32_t)p->off_sv;
  meta->str_objective = (uint32_t)p->off_obj;
  meta->str_converter = (uint32_t)p->off_conv;
  meta->str_feature_names = (uint32_t)p->off_names;
  meta->feature_types = (uint32_t)p->off_types;
  strcpy((char *)ms + p->off_sv, m->source_version);
  strcpy((char *)ms + p->off_obj, lm__objective_shown(m));
  strcpy((char *)ms + p->off_conv, p->conv);
  if (m->feature_names) {
    char *s = (char *)ms + p->off_names;
    for (uint32_t f = 0; f < m->num_features; f++) {
      const char *nm = m->feature_names[f] ? m->feature_names[f] : "";
      size_t l = strlen(nm) + 1;
      memcpy(s, nm, l);
      s += l;
    }
  }
  if (m->feature_types)
    for (uint32_t f = 0; f < m->num_features; f++)
      ms[p->off_types + f] = m->feature_types[f] == 'c' ? 'c' : 'q';
}

static void lm__write_linear(uint8_t *buf, const lm_ir_model *m, const lm__plan *p) {
  lmf_linear *lh = (lmf_linear *)lm__sec_at(buf, p, LMF_LINEAR);
  lh->num_features = m->num_features;
  lh->num_outputs = m->num_outputs;
  memcpy(lh + 1, m->linear_weights, p->secs[1].size - sizeof *lh);
}

static void lm__write_fm(uint8_t *buf, const lm_ir_model *m, const lm__plan *p) {
  uint8_t *at = lm__sec_at(buf, p, LMF_FM);
  lmf_fm *fh = (lmf_fm *)at;
  size_t F = m->num_features, k = m->fm_factors;
  fh->num_features = m->num_features;
  fh->num_factors = m->fm_factors;
  fh->w0 = m->fm_w0;
  fh->v_offset = lm__align(sizeof *fh + 4 * F);
  memcpy(at + sizeof *fh, m->fm_w, 4 * F);
  memcpy(at + fh->v_offset, m->fm_v, 4 * F * k);
}

/* Where the tree sections' arrays start in the image. */
typedef struct lm__tree_out {
  lmf_tree *trees;
  lmf_node *nodes;
  uint32_t *ids;
  double *f64;             /* NODE_F64, LightGBM only */
  double *cover;           /* COVER, when every tree has covers */
  lmf_linear_leaf *leaves; /* LINEAR_LEAVES, when a tree has linear leaves */
  lmf_catset *sets;        /* CATSETS, when there are categorical splits */
  uint32_t *words;
  uint32_t set_i, word_i; /* the next set and bitset word */
} lm__tree_out;

/* One split node at slot `at` of the image (children, default direction, threshold or set). */
static void lm__write_split(const lm_ir_model *m, const lm__plan *p, uint32_t t,
                            const lm_ir_node *nd, uint32_t at, lm__tree_out *o) {
  lmf_node *on = &o->nodes[at];
  /* BFS assigns the children of a node consecutive slots: left, then right. */
  int32_t kids[2];
  lm__kids(m, nd, kids);
  on->left = p->first[t] + p->level[kids[0]];
  int dl = nd->default_left, lgb = p->lgb;
  if (lgb && nd->categorical) dl = 1; /* NaN → LightGBM's right child, now on the left */
  if (lgb && !nd->categorical && nd->missing_type == LM_MISSING_NONE)
    dl = 0.0 <= nd->value_d; /* NaN is read as 0 */
  on->split = nd->feature | (dl ? LMF_SPLIT_DEFAULT_LEFT : 0);
  if (lgb && !nd->categorical && nd->missing_type == LM_MISSING_ZERO)
    on->split |= LMF_SPLIT_ZERO_MISSING;
  if (nd->categorical) {
    uint32_t nw = lm__set_words(m, nd);
    on->split |= LMF_SPLIT_CATEGORICAL;
    on->threshold = NAN;
    on->u.cat_set = o->set_i;
    o->sets[o->set_i] = (lmf_catset){o->word_i, nw};
    for (uint32_t c = 0; c < nd->cat_count; c++) {
      uint32_t v = m->cat_values[nd->cat_begin + c];
      o->words[o->word_i + v / 32] |= 1u << (v % 32);
    }
    o->word_i += nw;
    o->set_i++;
  } else {
    double th = lgb ? (m->keep_tiny ? nd->value_d : lm__lgb_tiny(nd)) : 0.0;
    if (o->f64) o->f64[at] = th;
    on->threshold = lgb ? lmf_lgb_threshold(th) : nd->value; /* LightGBM x <= t: lmf.h */
    on->u.cat_set = 0;
  }
}

/* Tree t, laid out breadth-first in p->order (n nodes), into TREES (when o->trees is set),
 * NODES, LEAF_IDS and the optional arrays. */
static void lm__emit_tree(const lm_ir_model *m, lm__plan *p, uint32_t t, int n, lm__tree_out *o) {
  const lm_ir_tree *tr = &m->trees[t];
  if (o->trees)
    o->trees[t] = (lmf_tree){p->first[t], p->count[t], tr->group, p->depth[t], tr->weight,
                             tr->linear ? LMF_TREE_LINEAR : 0, {0, 0}};
  /* Position of each trainer id in the new order: reuse `level` as the inverse map. */
  for (int k = 0; k < n; k++) p->level[p->order[k]] = (uint32_t)k;
  for (int k = 0; k < n; k++) {
    const lm_ir_node *nd = &tr->nodes[p->order[k]];
    uint32_t at = p->first[t] + (uint32_t)k;
    o->ids[at] = p->order[k];
    if (o->cover) o->cover[at] = nd->cover;
    if (o->f64) o->f64[at] = nd->categorical ? 0.0 : nd->value_d;
    if (nd->left >= 0) {
      lm__write_split(m, p, t, nd, at, o);
      continue;
    }
    lmf_node *on = &o->nodes[at];
    on->split = LMF_SPLIT_DEFAULT_LEFT;
    on->threshold = NAN;
    on->left = at;
    on->u.leaf = p->lgb ? (float)nd->value_d : nd->value;
    if (o->leaves && tr->linear)
      o->leaves[at] = (lmf_linear_leaf){nd->lin_const, nd->lin_begin, nd->lin_count};
  }
}

/* Tree t, laid out again breadth-first, into the image. */
static void lm__write_tree(const lm_ir_model *m, lm__plan *p, uint32_t t, lm__tree_out *o) {
  int n = lm__layout_tree(m, &m->trees[t], t, p->order, p->level, p->seen, &p->depth[t]);
  lm__emit_tree(m, p, t, n, o);
}

static void lm__write_trees(uint8_t *buf, const lm_ir_model *m, lm__plan *p,
                            lm_ir_model *consume) {
  lm__tree_out o = {.trees = (lmf_tree *)lm__sec_at(buf, p, LMF_TREES),
                    .nodes = (lmf_node *)lm__sec_at(buf, p, LMF_NODES),
                    .ids = (uint32_t *)lm__sec_at(buf, p, LMF_LEAF_IDS),
                    .f64 = (double *)lm__sec_at(buf, p, LMF_NODE_F64),
                    .cover = (double *)lm__sec_at(buf, p, LMF_COVER)};
  uint8_t *ll = lm__sec_at(buf, p, LMF_LINEAR_LEAVES), *cs = lm__sec_at(buf, p, LMF_CATSETS);
  if (ll) {
    o.leaves = (lmf_linear_leaf *)(ll + 16);
    ((uint32_t *)ll)[0] = (uint32_t)m->n_lin_terms;
    lmf_linear_term *terms =
        (lmf_linear_term *)(ll + 16 + (size_t)p->total_nodes * sizeof *o.leaves);
    for (size_t j = 0; j < m->n_lin_terms; j++)
      terms[j] = (lmf_linear_term){m->lin_feat[j], 0, m->lin_coeff[j]};
  }
  if (cs) {
    o.sets = (lmf_catset *)(cs + 16);
    o.words = (uint32_t *)(cs + 16 + (size_t)p->n_cat * 8);
    ((uint32_t *)cs)[0] = p->n_cat;
    ((uint32_t *)cs)[1] = p->cat_words;
  }
  size_t freed = 0;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    lm__write_tree(m, p, t, &o);
    if (consume) { /* the tree is in the image: its IR goes (lm__lmf_write_consume) */
      freed += (size_t)consume->trees[t].n_nodes * sizeof(lm_ir_node);
      free(consume->trees[t].nodes);
      consume->trees[t].nodes = NULL;
      /* mimalloc (the process's allocator, linked by liblmrt) returns freed pages to the
       * system only after a delay; as fast as trees are written here, the image would grow
       * while the IR's pages wait. Every 16 MiB freed, hand them back now. */
      if (freed >= LM__COLLECT_BYTES) {
        mi_collect(true);
        freed = 0;
      }
    }
  }
}

/* ---- trees written as they are read (lm_lmf_sink) ---------------------------------------
 *
 * The importer hands over each tree once it is complete (lm_ir_sink, formats/ir.h); it is laid
 * out, checked and its records appended to NODES, LEAF_IDS, COVER and the categorical sets'
 * arrays, each a growing anonymous mapping (resident only as written, grown by mremap without a
 * copy), and its IR nodes are freed at once. What a tree's records need of the rest of the model
 * (its first node, set and word, num_features) is known when it is read; what is not (the totals,
 * dart weights set after the trees, best_ntree_limit truncation, whether every tree has covers)
 * only goes into TREES, META and the table at the end, from the IR's metadata, so the image is
 * byte for byte the plain writer's. Errors keep the plain writer's order: the first tree's
 * layout error is kept and reported at the end, after the model's and the metadata's checks, and
 * only when that tree is one of those kept. */

typedef struct lm__grow {
  uint8_t *p;
  size_t cap;
} lm__grow;

#define LM__GROW_MIN ((size_t)1 << 20)
#define LM__MOVE_CHUNK ((size_t)1 << 20)

static int lm__grow_to(lm__grow *g, size_t need) {
  if (need <= g->cap) return LM_OK;
  size_t cap = g->cap ? g->cap : LM__GROW_MIN;
  while (cap < need) cap *= 2;
  void *np = g->p ? mremap(g->p, g->cap, cap, MREMAP_MAYMOVE)
                  : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (np == MAP_FAILED) return lm__fail(LM_ENOMEM, "out of memory (%zu bytes of tree records)", cap);
  g->p = np;
  g->cap = cap;
  return LM_OK;
}

static void lm__grow_free(lm__grow *g) {
  if (g->p) munmap(g->p, g->cap);
  g->p = NULL;
  g->cap = 0;
}

/* len bytes of g to dst, each chunk's pages released once copied; then g goes. */
static void lm__grow_move(uint8_t *dst, lm__grow *g, size_t len) {
  for (size_t at = 0; at < len; at += LM__MOVE_CHUNK) {
    size_t k = len - at < LM__MOVE_CHUNK ? len - at : LM__MOVE_CHUNK;
    memcpy(dst + at, g->p + at, k);
    madvise(g->p + at, k, MADV_DONTNEED); /* at and k are multiples of the page size but the last */
  }
  lm__grow_free(g);
}

typedef struct lm__sink {
  lm_ir_sink base;              /* first: the sink's handle is &base */
  const lm_ir_model *owner;     /* the model whose trees these are */
  uint32_t n, cap;              /* trees put; per-tree arrays' capacity */
  lm__plan p;                   /* first, count, depth per tree; layout scratch of max_nodes;
                                   total_nodes, n_cat, cat_words so far */
  uint32_t *set0, *word0;       /* per tree: its first categorical set and bitset word */
  lm__grow nodes, ids, cover, sets, words;
  int err;                      /* the first tree's layout error (0: none), kept for the end */
  uint32_t err_tree;
  char err_msg[1024];
} lm__sink;

static void lm__sink_reset(lm__sink *s) {
  lm__grow_free(&s->nodes);
  lm__grow_free(&s->ids);
  lm__grow_free(&s->cover);
  lm__grow_free(&s->sets);
  lm__grow_free(&s->words);
  s->n = 0;
  s->owner = NULL;
  s->err = 0;
  s->p.total_nodes = s->p.n_cat = s->p.cat_words = 0;
}

static int lm__sink_arrays(lm__sink *s, uint32_t want) {
  if (want <= s->cap) return LM_OK;
  uint32_t cap = s->cap ? s->cap : 1024;
  while (cap < want) cap *= 2;
  uint32_t **a[5] = {&s->p.first, &s->p.count, &s->p.depth, &s->set0, &s->word0};
  for (int i = 0; i < 5; i++) {
    uint32_t *na = realloc(*a[i], sizeof **a[i] * cap);
    if (!na) return lm__fail(LM_ENOMEM, "out of memory (%u trees)", want);
    *a[i] = na;
  }
  s->cap = cap;
  return LM_OK;
}

static int lm__sink_scratch(lm__sink *s, uint32_t n) {
  if (n <= s->p.max_nodes) return LM_OK;
  uint32_t *o = realloc(s->p.order, sizeof *o * n);
  if (o) s->p.order = o;
  uint32_t *l = realloc(s->p.level, sizeof *l * n);
  if (l) s->p.level = l;
  uint8_t *sn = realloc(s->p.seen, n);
  if (sn) s->p.seen = sn;
  if (!o || !l || !sn) return lm__fail(LM_ENOMEM, "out of memory (a tree of %u nodes)", n);
  s->p.max_nodes = n;
  return LM_OK;
}

static int lm__sink_put(lm_ir_sink *base, lm_ir_model *m, uint32_t t) {
  lm__sink *s = (lm__sink *)base;
  if (t == 0) {
    lm__sink_reset(s);
    s->owner = m;
  }
  if (t != s->n || m != s->owner || t >= m->n_trees || m->decision != LM_DECISION_XGBOOST ||
      m->trees[t].linear || !m->trees[t].nodes)
    return lm__fail(LM_EINVAL, "tree %u handed to the writer out of order", t);
  lm_ir_tree *tr = &m->trees[t];
  lm__plan *p = &s->p;
  int rc = lm__sink_arrays(s, t + 1);
  if (rc) return rc;
  p->first[t] = p->total_nodes;
  p->count[t] = p->depth[t] = 0;
  s->set0[t] = p->n_cat;
  s->word0[t] = p->cat_words;
  if (!s->err && tr->n_nodes > 0 && (rc = lm__sink_scratch(s, tr->n_nodes))) return rc;
  if (!s->err) {
    /* the plain writer's checks, in its order (lm__plan_trees) */
    int n = lm__layout_tree(m, tr, t, p->order, p->level, p->seen, &p->depth[t]);
    int e = n < 0 ? n : 0;
    if (!e && (uint64_t)p->total_nodes + (uint32_t)n > 0x7FFFFFFFu)
      e = lm__fail(LM_ERANGE, "more than 2^31 nodes");
    if (!e) e = lm__plan_catsets(m, t, n, p);
    if (e) {
      s->err = e;
      s->err_tree = t;
      snprintf(s->err_msg, sizeof s->err_msg, "%s", lm_last_error());
      lm__clear_error();
      p->n_cat = s->set0[t];
      p->cat_words = s->word0[t];
    } else {
      size_t total = (size_t)p->total_nodes + (uint32_t)n;
      if ((rc = lm__grow_to(&s->nodes, total * sizeof(lmf_node))) ||
          (rc = lm__grow_to(&s->ids, total * 4)) || (rc = lm__grow_to(&s->cover, total * 8)) ||
          (rc = lm__grow_to(&s->sets, (size_t)p->n_cat * sizeof(lmf_catset) + 1)) ||
          (rc = lm__grow_to(&s->words, (size_t)p->cat_words * 4 + 1)))
        return rc;
      p->count[t] = (uint32_t)n;
      lm__tree_out o = {.nodes = (lmf_node *)s->nodes.p,
                        .ids = (uint32_t *)s->ids.p,
                        .cover = (double *)s->cover.p,
                        .sets = (lmf_catset *)s->sets.p,
                        .words = (uint32_t *)s->words.p,
                        .set_i = s->set0[t],
                        .word_i = s->word0[t]};
      lm__emit_tree(m, p, t, n, &o);
      p->total_nodes = (uint32_t)total;
    }
  }
  free(tr->nodes);
  tr->nodes = NULL;
  s->n = t + 1;
  return LM_OK;
}

lm_ir_sink *lm__lmf_sink_new(void) {
  lm__sink *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->base.put = lm__sink_put;
  return &s->base;
}

void lm__lmf_sink_free(lm_ir_sink *base) {
  lm__sink *s = (lm__sink *)base;
  if (!s) return;
  lm__sink_reset(s);
  free(s->set0);
  free(s->word0);
  lm__plan_free(&s->p);
  free(s);
}

/* Does s hold m's trees (all of them handed over, and kept: m->n_trees of them, less the
 * leading intercept trees, which stay in the IR: one leaf each)? */
static int lm__sink_holds(const lm__sink *s, const lm_ir_model *m) {
  uint32_t lead = m->n_intercept_trees;
  if (!s || s->owner != m || s->n == 0 || lead >= m->n_trees || m->n_trees - lead > s->n ||
      m->trees[lead].nodes)
    return 0;
  for (uint32_t t = 0; t < lead; t++)
    if (!m->trees[t].nodes || m->trees[t].n_nodes != 1 || m->trees[t].nodes[0].left >= 0)
      return 0;
  return 1;
}

/* lm__plan_trees for trees already in the sink: the first m->n_trees of those put. */
static int lm__plan_trees_sink(const lm_ir_model *m, lm__sink *s, lm__plan *p) {
  int rc = lm__plan_tree_meta(m, p);
  if (rc) return rc;
  uint32_t lead = m->n_intercept_trees, k = m->n_trees - lead;
  if (s->err && s->err_tree < k) {
    /* "tree T ...": T counted the trees put; the plain writer counts the intercept trees too */
    char *rest;
    unsigned long t = strtoul(s->err_msg + 5, &rest, 10);
    if (lead && strncmp(s->err_msg, "tree ", 5) == 0 && rest != s->err_msg + 5)
      return lm__fail(s->err, "tree %lu%s", t + lead, rest);
    return lm__fail(s->err, "%s", s->err_msg);
  }
  p->total_nodes = lead + (k < s->n ? s->p.first[k] : s->p.total_nodes);
  p->n_cat = k < s->n ? s->set0[k] : s->p.n_cat;
  p->cat_words = k < s->n ? s->word0[k] : s->p.cat_words;
  for (uint32_t t = 0; t < k; t++)
    if (s->p.depth[t] > p->max_depth) p->max_depth = s->p.depth[t];
  return LM_OK;
}

/* The sink's node records after `lead` intercept nodes: each (absolute) child index moved on by
 * lead, chunk by chunk, each chunk released once copied. */
static void lm__move_nodes(lmf_node *dst, lm__grow *g, size_t n, uint32_t lead) {
  if (!lead) {
    lm__grow_move((uint8_t *)dst, g, n * sizeof *dst);
    return;
  }
  const size_t step = LM__MOVE_CHUNK / sizeof *dst;
  const lmf_node *src = (const lmf_node *)g->p;
  for (size_t at = 0; at < n; at += step) {
    size_t k = n - at < step ? n - at : step;
    for (size_t i = at; i < at + k; i++) {
      dst[i] = src[i];
      dst[i].left += lead;
    }
    madvise(g->p + at * sizeof *dst, k * sizeof *dst, MADV_DONTNEED);
  }
  lm__grow_free(g);
}

static void lm__write_trees_sink(uint8_t *buf, const lm_ir_model *m, const lm__plan *p,
                                 lm__sink *s) {
  lmf_tree *trees = (lmf_tree *)lm__sec_at(buf, p, LMF_TREES);
  lmf_node *nodes = (lmf_node *)lm__sec_at(buf, p, LMF_NODES);
  uint32_t *ids = (uint32_t *)lm__sec_at(buf, p, LMF_LEAF_IDS);
  double *cover = (double *)lm__sec_at(buf, p, LMF_COVER);
  uint32_t lead = m->n_intercept_trees;
  /* the intercept trees, one leaf each, as lm__write_tree lays them out */
  for (uint32_t t = 0; t < lead; t++) {
    const lm_ir_tree *tr = &m->trees[t];
    trees[t] = (lmf_tree){t, 1, tr->group, 0, tr->weight, tr->linear ? LMF_TREE_LINEAR : 0,
                          {0, 0}};
    nodes[t].split = LMF_SPLIT_DEFAULT_LEFT;
    nodes[t].threshold = NAN;
    nodes[t].left = t;
    nodes[t].u.leaf = tr->nodes[0].value;
    ids[t] = 0;
    if (cover) cover[t] = tr->nodes[0].cover;
  }
  for (uint32_t t = lead; t < m->n_trees; t++) {
    const lm_ir_tree *tr = &m->trees[t];
    uint32_t u = t - lead;
    trees[t] = (lmf_tree){s->p.first[u] + lead, s->p.count[u], tr->group, s->p.depth[u],
                          tr->weight, tr->linear ? LMF_TREE_LINEAR : 0, {0, 0}};
  }
  size_t total = p->total_nodes - lead;
  lm__move_nodes(nodes + lead, &s->nodes, total, lead);
  lm__grow_move((uint8_t *)(ids + lead), &s->ids, total * 4);
  uint8_t *cs = lm__sec_at(buf, p, LMF_CATSETS);
  if (cs) {
    ((uint32_t *)cs)[0] = p->n_cat;
    ((uint32_t *)cs)[1] = p->cat_words;
    lm__grow_move(cs + 16, &s->sets, (size_t)p->n_cat * sizeof(lmf_catset));
    lm__grow_move(cs + 16 + (size_t)p->n_cat * 8, &s->words, (size_t)p->cat_words * 4);
  }
  if (cover) lm__grow_move((uint8_t *)(cover + lead), &s->cover, total * 8);
  lm__sink_reset(s);
}

static int lm__lmf_write_ex(const lm_ir_model *m, lm_ir_model *consume, lm__sink *sink,
                            const char *converter, uint8_t **out, size_t *out_len) {
  lm__plan p = {0};
  int rc = lm__check_model(m, &p);
  if (rc) return rc;
  if (p.linear || p.fm) sink = NULL;
  if ((!p.linear && !p.fm &&
       (rc = sink ? lm__plan_trees_sink(m, sink, &p) : lm__plan_trees(m, &p))) ||
      (rc = lm__plan_strings(m, converter, &p)) ||
      (rc = lm__plan_linear_leaves(m, &p))) {
    lm__plan_free(&p);
    return rc;
  }
  lm__plan_sections(m, &p);
  /* consume: fresh zero pages from the kernel, resident only as they are written, while the
   * IR's trees are freed as they are written (the peak is about the larger of the two, not
   * their sum); else one aligned buffer (p.size is a multiple of 64), zeroed. */
  uint8_t *buf;
  if (consume) {
    buf = mmap(NULL, p.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) buf = NULL;
  } else if ((buf = aligned_alloc(LMF_ALIGN, p.size))) {
    memset(buf, 0, p.size);
  }
  if (!buf) {
    lm__plan_free(&p);
    return lm__fail(LM_ENOMEM, "out of memory (%zu bytes)", p.size);
  }
  lm__write_header(buf, &p);
  lm__write_selftest(buf, m, &p);
  lm__write_meta(buf, m, &p);
  if (p.fm) lm__write_fm(buf, m, &p);
  else if (p.linear) lm__write_linear(buf, m, &p);
  else if (sink) lm__write_trees_sink(buf, m, &p, sink);
  else lm__write_trees(buf, m, &p, consume);
  lm__lmf_seal(buf, p.size);
  lm__plan_free(&p);
  *out = buf;
  *out_len = p.size;
  return LM_OK;
}

int lm__lmf_write(const lm_ir_model *m, const char *converter, uint8_t **out, size_t *out_len) {
  return lm__lmf_write_ex(m, NULL, NULL, converter, out, out_len);
}

int lm__lmf_write_consume(lm_ir_model *m, const char *converter, uint8_t **out, size_t *out_len) {
  return lm__lmf_write_ex(m, m, NULL, converter, out, out_len);
}

int lm__lmf_write_sink(lm_ir_model *m, lm_ir_sink *sink, const char *converter, uint8_t **out,
                       size_t *out_len) {
  lm__sink *s = (lm__sink *)sink;
  if (!lm__sink_holds(s, m)) {
    for (uint32_t t = 0; t < m->n_trees; t++)
      if (!m->trees[t].nodes) /* handed to another sink */
        return lm__fail(LM_EINVAL, "the trees are not in the writer's sink");
    return lm__lmf_write_consume(m, converter, out, out_len);
  }
  return lm__lmf_write_ex(m, m, s, converter, out, out_len);
}

void lm__lmf_image_free(uint8_t *img, size_t len) {
  if (img) munmap(img, len);
}
