/*
 * lmf_write.c — serialises the IR (formats/ir.h) into a .lm file image (formats/SPEC.md).
 *
 * The converter does the heavy work here so the runtime does none: trees are re-laid out
 * breadth-first with sibling pairs adjacent and leaves turned into fixed points, categorical
 * sets become bitsets, the base margin is computed from the objective, and every section is
 * 64-byte aligned, padded and checksummed. The image is built in one calloc'd buffer; the caller
 * writes it out (lm_convert does so atomically).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "formats/objective.h"
#include "base/error.h"

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

static uint8_t *lm__sec_at(uint8_t *buf, const lm__sec *secs, uint32_t ns, uint32_t kind) {
  for (uint32_t i = 0; i < ns; i++)
    if (secs[i].kind == kind) return buf + secs[i].offset;
  return NULL;
}

int lm__lmf_write(const lm_ir_model *m, const char *converter, uint8_t **out, size_t *out_len) {
  const lm_objective *obj = lm__objective_by_name(m->objective);
  if (!obj) return lm__fail(LM_EUNSUPPORTED, "unknown objective '%s'", m->objective);
  if (m->num_features == 0 || m->num_features > LMF_MAX_FEATURES)
    return lm__fail(LM_ERANGE, "num_features %u out of range (1..%u)", m->num_features,
                    LMF_MAX_FEATURES);
  if (m->num_outputs == 0) return lm__fail(LM_ERANGE, "num_outputs is 0");
  if (obj->multiclass && m->num_outputs < 2)
    return lm__fail(LM_EFORMAT, "objective %s needs at least 2 classes", m->objective);
  int linear = m->booster == LM_BOOSTER_GBLINEAR || m->booster == LM_BOOSTER_LINEAR;
  if (linear && !m->linear_weights) return lm__fail(LM_EFORMAT, "gblinear model without weights");
  if (!linear && m->n_trees == 0) return lm__fail(LM_EFORMAT, "tree model without trees");

  int rc = LM_OK;
  uint32_t total_nodes = 0, max_nodes = 0, n_cat = 0, cat_words = 0, max_depth = 0;
  uint32_t *order = NULL, *level = NULL, *first = NULL, *count = NULL, *depth = NULL;
  uint8_t *seen = NULL, *buf = NULL;
  if (!linear) {
    for (uint32_t t = 0; t < m->n_trees; t++) {
      if (m->trees[t].n_nodes > max_nodes) max_nodes = m->trees[t].n_nodes;
      if (m->trees[t].group >= m->num_outputs)
        return lm__fail(LM_ERANGE, "tree %u: output group %u out of range (%u outputs)", t,
                        m->trees[t].group, m->num_outputs);
      if (!isfinite(m->trees[t].weight))
        return lm__fail(LM_EFORMAT, "tree %u: weight is not finite", t);
    }
    order = malloc(sizeof *order * max_nodes);
    level = malloc(sizeof *level * max_nodes);
    seen = malloc(max_nodes);
    first = malloc(sizeof *first * m->n_trees);
    count = malloc(sizeof *count * m->n_trees);
    depth = malloc(sizeof *depth * m->n_trees);
    if (!order || !level || !seen || !first || !count || !depth) {
      rc = lm__fail(LM_ENOMEM, "out of memory laying out %u trees", m->n_trees);
      goto done;
    }
    /* Pass 1: count reachable nodes, depths, categorical sets. */
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const lm_ir_tree *tr = &m->trees[t];
      int n = lm__layout_tree(m, tr, t, order, level, seen, &depth[t]);
      if (n < 0) { rc = n; goto done; }
      if ((uint64_t)total_nodes + (uint32_t)n > 0x7FFFFFFFu) {
        rc = lm__fail(LM_ERANGE, "more than 2^31 nodes");
        goto done;
      }
      first[t] = total_nodes;
      count[t] = (uint32_t)n;
      total_nodes += (uint32_t)n;
      if (depth[t] > max_depth) max_depth = depth[t];
      for (int k = 0; k < n; k++) {
        const lm_ir_node *nd = &tr->nodes[order[k]];
        if (nd->left < 0 || !nd->categorical) continue;
        if ((uint64_t)nd->cat_begin + nd->cat_count > m->n_cat_values) {
          rc = lm__fail(LM_ERANGE, "tree %u node %u: category set out of range", t, order[k]);
          goto done;
        }
        for (uint32_t c = 0; c < nd->cat_count; c++)
          if (m->cat_values[nd->cat_begin + c] >= (1u << 24)) {
            rc = lm__fail(LM_ERANGE, "tree %u node %u: category %u ≥ 2^24", t, order[k],
                          m->cat_values[nd->cat_begin + c]);
            goto done;
          }
        n_cat++;
        cat_words += lm__set_words(m, nd);
      }
    }
  }

  /* String pool of META. */
  size_t pool = 0;
  const char *sv = m->source_version, *conv = converter ? converter : "";
  size_t off_sv = 128 + pool; pool += strlen(sv) + 1;
  size_t off_obj = 128 + pool; pool += strlen(m->objective) + 1;
  size_t off_conv = 128 + pool; pool += strlen(conv) + 1;
  size_t off_names = LMF_NONE, off_types = LMF_NONE;
  if (m->feature_names) {
    off_names = 128 + pool;
    for (uint32_t f = 0; f < m->num_features; f++)
      pool += strlen(m->feature_names[f] ? m->feature_names[f] : "") + 1;
  }
  if (m->feature_types) { off_types = 128 + pool; pool += m->num_features; }
  if (128 + pool > 0xFFFFFFF0u) { rc = lm__fail(LM_ERANGE, "metadata too large"); goto done; }

  const int lgb = m->decision == LM_DECISION_LIGHTGBM;
  int any_linear = 0;
  if (m->decision != LM_DECISION_XGBOOST && !lgb)
    { rc = lm__fail(LM_EFORMAT, "unknown decision semantics %d", m->decision); goto done; }
  for (uint32_t t = 0; !linear && t < m->n_trees; t++) {
    if (!m->trees[t].linear) continue;
    if (!lgb) { rc = lm__fail(LM_EFORMAT, "tree %u: linear leaves need LightGBM semantics", t); goto done; }
    any_linear = 1;
    for (uint32_t k = 0; k < m->trees[t].n_nodes; k++) {
      const lm_ir_node *nd = &m->trees[t].nodes[k];
      if (nd->left >= 0) continue;
      if ((uint64_t)nd->lin_begin + nd->lin_count > m->n_lin_terms) {
        rc = lm__fail(LM_ERANGE, "tree %u node %u: linear terms out of range", t, k);
        goto done;
      }
      for (uint32_t j = 0; j < nd->lin_count; j++)
        if (m->lin_feat[nd->lin_begin + j] >= m->num_features) {
          rc = lm__fail(LM_ERANGE, "tree %u node %u: linear term feature %u out of range", t, k,
                        m->lin_feat[nd->lin_begin + j]);
          goto done;
        }
    }
  }
  if (m->n_lin_terms > 0xFFFFFFFFu) { rc = lm__fail(LM_ERANGE, "too many linear terms"); goto done; }

  lm__sec secs[9];
  uint32_t ns = 0;
  secs[ns++] = (lm__sec){LMF_META, 128 + pool, 0};
  if (!linear) {
    secs[ns++] = (lm__sec){LMF_TREES, (size_t)m->n_trees * sizeof(lmf_tree), 0};
    secs[ns++] = (lm__sec){LMF_NODES, (size_t)total_nodes * sizeof(lmf_node), 0};
    secs[ns++] = (lm__sec){LMF_LEAF_IDS, (size_t)total_nodes * 4, 0};
    if (n_cat) secs[ns++] = (lm__sec){LMF_CATSETS, 16 + (size_t)n_cat * 8 + (size_t)cat_words * 4, 0};
    if (lgb) secs[ns++] = (lm__sec){LMF_NODE_F64, (size_t)total_nodes * 8, 0};
    if (any_linear)
      secs[ns++] = (lm__sec){LMF_LINEAR_LEAVES,
                             16 + (size_t)total_nodes * sizeof(lmf_linear_leaf) +
                                 m->n_lin_terms * sizeof(lmf_linear_term),
                             0};
  } else {
    size_t nw = (size_t)m->num_features * m->num_outputs + m->num_outputs;
    secs[ns++] = (lm__sec){LMF_LINEAR, sizeof(lmf_linear) + nw * 4, 0};
  }
  uint32_t st_index = 0;
  if (m->selftest_n) {
    st_index = ns;
    secs[ns++] = (lm__sec){LMF_SELFTEST,
                           sizeof(lmf_selftest) + (size_t)m->selftest_n * m->num_features * 8 +
                               (size_t)m->selftest_n * m->selftest_width * 4,
                           0};
  }
  size_t pos = lm__align(sizeof(lmf_header) + ns * sizeof(lmf_section));
  for (uint32_t i = 0; i < ns; i++) {
    secs[i].offset = pos;
    pos = lm__align(pos + secs[i].size + LM_PAD_BYTES);
  }
  buf = aligned_alloc(LMF_ALIGN, pos); /* pos is a multiple of 64 */
  if (buf) memset(buf, 0, pos);
  if (!buf) { rc = lm__fail(LM_ENOMEM, "out of memory (%zu bytes)", pos); goto done; }

  lmf_header *h = (lmf_header *)buf;
  memcpy(h->magic, LMF_MAGIC, 8);
  h->major = LMF_MAJOR;
  h->minor = LMF_MINOR;
  h->header_size = sizeof(lmf_header);
  h->file_size = pos;
  h->n_sections = ns;
  h->table_offset = sizeof(lmf_header);
  lmf_section *tab = (lmf_section *)(buf + h->table_offset);
  for (uint32_t i = 0; i < ns; i++)
    tab[i] = (lmf_section){secs[i].kind, secs[i].kind == LMF_SELFTEST ? 0 : LMF_SECTION_REQUIRED,
                           secs[i].offset, secs[i].size, 0};
  if (m->selftest_n) {
    uint8_t *p = buf + secs[st_index].offset;
    lmf_selftest *st = (lmf_selftest *)p;
    st->n_rows = m->selftest_n;
    st->num_features = m->num_features;
    st->width = m->selftest_width;
    size_t rb = (size_t)m->selftest_n * m->num_features * 8;
    memcpy(p + sizeof *st, m->selftest_rows, rb);
    memcpy(p + sizeof *st + rb, m->selftest_expected, (size_t)m->selftest_n * m->selftest_width * 4);
  }

  /* META */
  uint8_t *ms = buf + secs[0].offset;
  lmf_meta *meta = (lmf_meta *)ms;
  meta->model_kind = linear ? LMF_MODEL_LINEAR : LMF_MODEL_TREES;
  meta->booster = (uint32_t)m->booster;
  meta->objective = obj->id;
  meta->link = obj->link;
  meta->num_features = m->num_features;
  meta->num_outputs = m->num_outputs;
  meta->base_score = m->base_score;
  meta->base_margin = lm__base_margin(obj, m->base_score);
  meta->source_format = lm__source_format_id(m->source_format);
  meta->decision = lgb ? LMF_DECISION_LIGHTGBM : LMF_DECISION_XGBOOST;
  meta->link_param = m->link_param != 0.0 ? m->link_param : 1.0;
  meta->average_over = m->average_over;
  meta->n_trees = linear ? 0 : m->n_trees;
  meta->n_nodes = total_nodes;
  meta->max_depth = max_depth;
  meta->n_cat_splits = n_cat;
  meta->best_iteration = m->best_iteration;
  meta->best_ntree_limit = m->best_ntree_limit;
  meta->n_trees_trained = m->n_trees_trained > m->n_trees ? m->n_trees_trained : 0;
  meta->source_hash = m->source_hash;
  meta->str_source_version = (uint32_t)off_sv;
  meta->str_objective = (uint32_t)off_obj;
  meta->str_converter = (uint32_t)off_conv;
  meta->str_feature_names = (uint32_t)off_names;
  meta->feature_types = (uint32_t)off_types;
  strcpy((char *)ms + off_sv, sv);
  strcpy((char *)ms + off_obj, m->objective);
  strcpy((char *)ms + off_conv, conv);
  if (m->feature_names) {
    char *p = (char *)ms + off_names;
    for (uint32_t f = 0; f < m->num_features; f++) {
      const char *nm = m->feature_names[f] ? m->feature_names[f] : "";
      size_t l = strlen(nm) + 1;
      memcpy(p, nm, l);
      p += l;
    }
  }
  if (m->feature_types)
    for (uint32_t f = 0; f < m->num_features; f++)
      ms[off_types + f] = m->feature_types[f] == 'c' ? 'c' : 'q';

  if (linear) {
    lmf_linear *lh = (lmf_linear *)(buf + secs[1].offset);
    lh->num_features = m->num_features;
    lh->num_outputs = m->num_outputs;
    memcpy(lh + 1, m->linear_weights, secs[1].size - sizeof *lh);
  } else {
    lmf_tree *trees = (lmf_tree *)(buf + secs[1].offset);
    lmf_node *nodes = (lmf_node *)(buf + secs[2].offset);
    uint32_t *ids = (uint32_t *)(buf + secs[3].offset);
    uint8_t *cs = lm__sec_at(buf, secs, ns, LMF_CATSETS);
    double *f64 = (double *)lm__sec_at(buf, secs, ns, LMF_NODE_F64);
    uint8_t *ll = lm__sec_at(buf, secs, ns, LMF_LINEAR_LEAVES);
    lmf_linear_leaf *lleaves = ll ? (lmf_linear_leaf *)(ll + 16) : NULL;
    if (ll) {
      ((uint32_t *)ll)[0] = (uint32_t)m->n_lin_terms;
      lmf_linear_term *terms = (lmf_linear_term *)(ll + 16 + (size_t)total_nodes * sizeof *lleaves);
      for (size_t j = 0; j < m->n_lin_terms; j++)
        terms[j] = (lmf_linear_term){m->lin_feat[j], 0, m->lin_coeff[j]};
    }
    lmf_catset *sets = cs ? (lmf_catset *)(cs + 16) : NULL;
    uint32_t *words = cs ? (uint32_t *)(cs + 16 + (size_t)n_cat * 8) : NULL;
    if (cs) {
      ((uint32_t *)cs)[0] = n_cat;
      ((uint32_t *)cs)[1] = cat_words;
    }
    uint32_t set_i = 0, word_i = 0;
    for (uint32_t t = 0; t < m->n_trees; t++) {
      const lm_ir_tree *tr = &m->trees[t];
      int n = lm__layout_tree(m, tr, t, order, level, seen, &depth[t]);
      trees[t] = (lmf_tree){first[t], count[t], tr->group, depth[t], tr->weight,
                            tr->linear ? LMF_TREE_LINEAR : 0, {0, 0}};
      /* Position of each trainer id in the new order: reuse `level` as the inverse map. */
      for (int k = 0; k < n; k++) level[order[k]] = (uint32_t)k;
      for (int k = 0; k < n; k++) {
        const lm_ir_node *nd = &tr->nodes[order[k]];
        uint32_t at = first[t] + (uint32_t)k;
        lmf_node *o = &nodes[at];
        ids[at] = order[k];
        if (f64) f64[at] = nd->categorical ? 0.0 : nd->value_d;
        if (nd->left < 0) {
          o->split = LMF_SPLIT_DEFAULT_LEFT;
          o->threshold = NAN;
          o->left = at;
          o->u.leaf = lgb ? (float)nd->value_d : nd->value;
          if (lleaves && tr->linear) {
            lleaves[at] = (lmf_linear_leaf){nd->lin_const, nd->lin_begin, nd->lin_count};
          }
          continue;
        }
        /* BFS assigns the children of a node consecutive slots: left, then right. */
        int32_t kids[2];
        lm__kids(m, nd, kids);
        o->left = first[t] + level[kids[0]];
        int dl = nd->default_left;
        if (lgb && nd->categorical) dl = 1; /* NaN → LightGBM's right child, now on the left */
        if (lgb && !nd->categorical && nd->missing_type == LM_MISSING_NONE)
          dl = 0.0 <= nd->value_d; /* NaN is read as 0 */
        o->split = nd->feature | (dl ? LMF_SPLIT_DEFAULT_LEFT : 0);
        if (lgb && !nd->categorical && nd->missing_type == LM_MISSING_ZERO)
          o->split |= LMF_SPLIT_ZERO_MISSING;
        if (nd->categorical) {
          uint32_t nw = lm__set_words(m, nd);
          o->split |= LMF_SPLIT_CATEGORICAL;
          o->threshold = NAN;
          o->u.cat_set = set_i;
          sets[set_i] = (lmf_catset){word_i, nw};
          for (uint32_t c = 0; c < nd->cat_count; c++) {
            uint32_t v = m->cat_values[nd->cat_begin + c];
            words[word_i + v / 32] |= 1u << (v % 32);
          }
          word_i += nw;
          set_i++;
        } else {
          double t = lgb ? lm__lgb_tiny(nd) : 0.0;
          if (f64) f64[at] = t;
          o->threshold = lgb ? lmf_lgb_threshold(t) : nd->value; /* LightGBM x <= t: lmf.h */
          o->u.cat_set = 0;
        }
      }
    }
  }
  lm__lmf_seal(buf, pos);
  *out = buf;
  *out_len = pos;
  buf = NULL;
done:
  free(order); free(level); free(seen); free(first); free(count); free(depth); free(buf);
  return rc;
}
