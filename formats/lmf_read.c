/*
 * lmf_read.c — the verifier of .lm files (formats/SPEC.md, "What the verifier checks").
 *
 * It runs once per open, over an untrusted mapping, and is the only code that ever looks at a
 * .lm file's bytes without trusting them: every count is checked against the bytes present
 * (with overflow-safe arithmetic) before it is used, every index against its array, and every
 * tree is walked once to prove it is a tree of the recorded depth. Errors say which section,
 * tree or node, and at which byte offset, was wrong. After success the kernels read the
 * lmf_view without any bounds checks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "formats/lmf.h"
#include "formats/objective.h"
#include "base/cursor.h"
#include "base/error.h"

/* "name: …": every message names the file. */
#define FAIL(code, ...) lm__fail_in(code, name, __VA_ARGS__)

static const char *lm__kind_name(uint32_t k) {
  switch (k) {
  case LMF_META: return "META";
  case LMF_TREES: return "TREES";
  case LMF_NODES: return "NODES";
  case LMF_LEAF_IDS: return "LEAF_IDS";
  case LMF_CATSETS: return "CATSETS";
  case LMF_LINEAR: return "LINEAR";
  case LMF_SELFTEST: return "SELFTEST";
  case LMF_NODE_F64: return "NODE_F64";
  case LMF_LINEAR_LEAVES: return "LINEAR_LEAVES";
  case LMF_COVER: return "COVER";
  case LMF_FM: return "FM";
  default: return "unknown";
  }
}

/* Offset of the first non-zero byte of p[0, n), or -1: reserved fields and padding are zero
 * (SPEC.md), so a later minor version can give them a meaning that older files cannot fake. */
static long lm__nonzero_at(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return (long)i;
  return -1;
}

/* A string read from META must be valid UTF-8 (every output is UTF-8: JSON, Prometheus text,
 * logs) and, except feature names, free of control characters (issue 18 finding 13). Feature
 * names may hold them: XGBoost accepts any pandas column name ("new\nline") and requests
 * match names byte for byte, so they are kept and every writer escapes them (lminfo,
 * lmserve's ls_json_escape/ls_prom_escape). */
static int lm__meta_text(const char *s, const char *what, uint32_t off, int controls_ok,
                         const char *name) {
  long bad = lm__text_bad_at(s, controls_ok);
  if (bad < 0) return LM_OK;
  char b[64];
  return FAIL(LM_EFORMAT, "META %s at META offset %llu: byte %ld is %s (\"%s\")", what,
              (unsigned long long)off + (unsigned long long)bad, bad,
              controls_ok ? "invalid UTF-8" : "a control character or invalid UTF-8",
              lm__printable_utf8(b, sizeof b, s));
}

/* A string at pool offset off inside META (size sz) must end with NUL inside the section. */
static const char *lm__meta_str(const uint8_t *ms, size_t sz, uint32_t off) {
  if (off < sizeof(lmf_meta) || off >= sz) return NULL;
  return memchr(ms + off, 0, sz - off) ? (const char *)ms + off : NULL;
}

static int lm__verify_meta(const uint8_t *ms, size_t sz, const char *name, lmf_view *v) {
  if (sz < sizeof(lmf_meta))
    return FAIL(LM_EFORMAT, "META section is %zu bytes, needs at least %zu", sz, sizeof(lmf_meta));
  const lmf_meta *m = (const lmf_meta *)ms;
  if (m->model_kind > LMF_MODEL_FM)
    return FAIL(LM_EFORMAT, "META.model_kind %u unknown", m->model_kind);
  if (m->booster > LM_BOOSTER_FM)
    return FAIL(LM_EFORMAT, "META.booster %u unknown", m->booster);
  uint32_t want_kind = m->booster == LM_BOOSTER_FM           ? LMF_MODEL_FM
                       : m->booster >= LM_BOOSTER_GBLINEAR ? LMF_MODEL_LINEAR
                                                           : LMF_MODEL_TREES;
  if (m->model_kind != want_kind)
    return FAIL(LM_EFORMAT, "META.booster %u does not match model_kind %u", m->booster,
                m->model_kind);
  const lm_objective *obj = lm__objective_by_id(m->objective);
  if (!obj) return FAIL(LM_EFORMAT, "META.objective %u unknown", m->objective);
  if (m->link != obj->link)
    return FAIL(LM_EFORMAT, "META.link %u does not match objective %s", m->link, obj->name);
  if (m->num_features == 0 || m->num_features > LMF_MAX_FEATURES)
    return FAIL(LM_ERANGE, "META.num_features %u (at META offset 16) out of range 1..%u (lmrt's "
                "limit on features)", m->num_features, LMF_MAX_FEATURES);
  if (m->num_outputs == 0 || m->num_outputs > LMF_MAX_NUM_OUTPUTS ||
      (obj->multiclass && m->num_outputs < 2))
    return FAIL(LM_EFORMAT, "META.num_outputs %u invalid for %s", m->num_outputs, obj->name);
  if (m->decision > LMF_DECISION_LIGHTGBM)
    return FAIL(LM_EVERSION, "META.decision %u unknown", m->decision);
  if (m->reserved1 || m->reserved0 || lm__nonzero_at(m->reserved, sizeof m->reserved) >= 0)
    return FAIL(LM_EFORMAT, "META reserved fields (offsets 40, 60, 124) are not zero");
  /* FM objectives (ids 24, 25) and FM models go together: one output, no tree fields */
  if ((m->model_kind == LMF_MODEL_FM) != (m->objective == 24 || m->objective == 25))
    return FAIL(LM_EFORMAT, "META.objective %s does not match model_kind %u", obj->name,
                m->model_kind);
  if (m->model_kind == LMF_MODEL_FM && m->num_outputs != 1)
    return FAIL(LM_EFORMAT, "META.num_outputs %u: a factorization machine has one output",
                m->num_outputs);
  if (m->model_kind != LMF_MODEL_TREES &&
      (m->decision != LMF_DECISION_XGBOOST || m->n_trees || m->n_nodes || m->max_depth ||
       m->n_cat_splits || m->average_over))
    return FAIL(LM_EFORMAT, "META: a linear or FM model with tree fields set (decision %u, %u trees, "
                "%u nodes)", m->decision, m->n_trees, m->n_nodes);
  if (!isfinite(m->base_score) || !isfinite(m->base_margin))
    return FAIL(LM_EFORMAT, "META.base_score %g / base_margin %g at offset 24 not finite",
                (double)m->base_score, (double)m->base_margin);
  if (!(m->link_param > 0.0) || !isfinite(m->link_param))
    return FAIL(LM_EFORMAT, "META.link_param %g is not a positive number", m->link_param);
  if (m->max_depth > LMF_MAX_DEPTH)
    return FAIL(LM_EFORMAT, "META.max_depth %u exceeds %d", m->max_depth, LMF_MAX_DEPTH);
  v->source_version = lm__meta_str(ms, sz, m->str_source_version);
  v->objective = lm__meta_str(ms, sz, m->str_objective);
  v->converter = lm__meta_str(ms, sz, m->str_converter);
  if (!v->source_version || !v->objective || !v->converter)
    return FAIL(LM_EFORMAT, "META string offset out of the section or not NUL-terminated");
  int rc;
  if ((rc = lm__meta_text(v->source_version, "source version", m->str_source_version, 0, name)) ||
      (rc = lm__meta_text(v->objective, "objective string", m->str_objective, 0, name)) ||
      (rc = lm__meta_text(v->converter, "converter string", m->str_converter, 0, name)))
    return rc;
  /* the objective's name is the id's: what lminfo and lmserve show is what is computed; a
   * scikit-learn model names the estimator method it reproduces instead ("sklearn:<estimator>.
   * <method>", computed with the id's rule: SPEC.md, META) */
  if (strcmp(v->objective, obj->name) != 0 &&
      !(m->source_format == LMF_SRC_SKLEARN_PICKLE && strncmp(v->objective, "sklearn:", 8) == 0)) {
    char b[64];
    return FAIL(LM_EFORMAT, "META objective string \"%s\" does not match META.objective %u (%s)",
                lm__printable_utf8(b, sizeof b, v->objective), m->objective, obj->name);
  }
  v->feature_names = NULL;
  if (m->str_feature_names != LMF_NONE) {
    uint32_t off = m->str_feature_names;
    for (uint32_t f = 0; f < m->num_features; f++) {
      const char *s = lm__meta_str(ms, sz, off);
      if (!s) return FAIL(LM_EFORMAT, "META feature name %u out of the section", f);
      char what[40];
      snprintf(what, sizeof what, "feature name %u", f);
      if ((rc = lm__meta_text(s, what, off, 1, name))) return rc;
      off += (uint32_t)strlen(s) + 1;
    }
    v->feature_names = (const char *)ms + m->str_feature_names;
  }
  v->feature_types = NULL;
  if (m->feature_types != LMF_NONE) {
    if (m->feature_types < sizeof(lmf_meta) || m->feature_types > sz ||
        sz - m->feature_types < m->num_features)
      return FAIL(LM_EFORMAT, "META.feature_types out of the section");
    for (uint32_t f = 0; f < m->num_features; f++)
      if (ms[m->feature_types + f] != 'q' && ms[m->feature_types + f] != 'c')
        return FAIL(LM_EFORMAT, "META feature type %u is 0x%02x, not 'q' or 'c'", f,
                    ms[m->feature_types + f]);
    v->feature_types = (const char *)ms + m->feature_types;
  }
  v->meta = m;
  return LM_OK;
}

/* Walk one tree from its root: every node reachable exactly once, children strictly after
 * their parent and inside the tree, depth as recorded. seen/lvl are scratch of the tree size. */
static int lm__verify_tree(const lmf_view *v, uint32_t t, uint8_t *seen, uint32_t *stack,
                           uint32_t *lvl, uint32_t *cat_nodes, const char *name) {
  const lmf_tree *tr = &v->trees[t];
  const lmf_meta *m = v->meta;
  uint32_t lo = tr->first_node, hi = tr->first_node + tr->n_nodes, top = 0, depth = 0;
  memset(seen, 0, tr->n_nodes);
  stack[top] = lo;
  lvl[top++] = 0;
  seen[0] = 1;
  while (top) {
    top--;
    uint32_t i = stack[top], d = lvl[top];
    const lmf_node *n = &v->nodes[i];
    if (d > depth) depth = d;
    if (n->left == i) {
      if (!isnan(n->threshold) || n->split != LMF_SPLIT_DEFAULT_LEFT)
        return FAIL(LM_EFORMAT, "tree %u node %u: leaf is not a fixed point (split 0x%08x)", t,
                    i - lo, n->split);
      continue;
    }
    if (n->left <= i || n->left >= hi - 1)
      return FAIL(LM_ERANGE, "tree %u node %u: child index %u out of range [%u, %u)", t, i - lo,
                  n->left, i + 1, hi - 1);
    if ((n->split & LMF_SPLIT_ZERO_MISSING) && m->decision != LMF_DECISION_LIGHTGBM)
      return FAIL(LM_EFORMAT, "tree %u node %u: ZERO_MISSING needs decision 1", t, i - lo);
    if ((n->split & LMF_SPLIT_FEATURE_MASK) >= m->num_features)
      return FAIL(LM_ERANGE, "tree %u node %u: feature %u out of range (%u features)", t, i - lo,
                  n->split & LMF_SPLIT_FEATURE_MASK, m->num_features);
    if (n->split & LMF_SPLIT_CATEGORICAL) {
      if (n->u.cat_set >= v->n_catsets || !isnan(n->threshold))
        return FAIL(LM_ERANGE, "tree %u node %u: category set %u out of range (%u sets)", t,
                    i - lo, n->u.cat_set, v->n_catsets);
      (*cat_nodes)++;
    } else if (n->u.cat_set != 0) {
      return FAIL(LM_EFORMAT, "tree %u node %u: numeric split with a category set", t, i - lo);
    }
    if (d + 1 > m->max_depth)
      return FAIL(LM_EFORMAT, "tree %u: deeper than META.max_depth %u", t, m->max_depth);
    for (uint32_t c = n->left; c <= n->left + 1; c++) {
      if (seen[c - lo])
        return FAIL(LM_EFORMAT, "tree %u node %u: cycle or shared child %u", t, i - lo, c - lo);
      seen[c - lo] = 1;
      stack[top] = c;
      lvl[top++] = d + 1;
    }
  }
  for (uint32_t k = 0; k < tr->n_nodes; k++)
    if (!seen[k]) return FAIL(LM_EFORMAT, "tree %u node %u: unreachable", t, k);
  if (depth != tr->depth)
    return FAIL(LM_EFORMAT, "tree %u: depth is %u, TREES says %u", t, depth, tr->depth);
  return LM_OK;
}

int lm__lmf_verify(const uint8_t *buf, size_t len, const char *name, lmf_view *v) {
  memset(v, 0, sizeof *v);
  if (len < sizeof(lmf_header))
    return FAIL(LM_EFORMAT, "file is %zu bytes, shorter than the 64-byte header", len);
  const lmf_header *h = (const lmf_header *)buf;
  if (memcmp(h->magic, LMF_MAGIC, 8) != 0)
    return FAIL(LM_EMAGIC, "bad magic at offset 0 (not a .lm file)");
  if (h->major != LMF_MAJOR)
    return FAIL(LM_EVERSION, "format version %u.%u, this reader knows %d.x", h->major, h->minor,
                LMF_MAJOR);
  if (h->header_size != sizeof(lmf_header) || h->table_offset != sizeof(lmf_header))
    return FAIL(LM_EFORMAT, "header_size %u / table_offset %llu at offset 12 must be 64",
                h->header_size, (unsigned long long)h->table_offset);
  if (h->flags) return FAIL(LM_EVERSION, "unknown header flags 0x%08x at offset 28", h->flags);
  long nz = lm__nonzero_at(h->reserved, sizeof h->reserved);
  if (nz >= 0) return FAIL(LM_EFORMAT, "header reserved byte at offset %ld is not zero", 48 + nz);
  if (h->file_size != len)
    return FAIL(LM_EFORMAT, "header says %llu bytes, file has %zu (truncated?)",
                (unsigned long long)h->file_size, len);
  if (h->n_sections == 0 || h->n_sections > LMF_MAX_SECTIONS)
    return FAIL(LM_EFORMAT, "n_sections %u at offset 24 out of range 1..%d", h->n_sections,
                LMF_MAX_SECTIONS);
  size_t table_end = sizeof(lmf_header) + (size_t)h->n_sections * sizeof(lmf_section);
  if (table_end > len) return FAIL(LM_EFORMAT, "section table runs past the end of the file");
  const lmf_section *tab = (const lmf_section *)(buf + sizeof(lmf_header));
  {
    XXH3_state_t *st = XXH3_createState();
    if (!st) return FAIL(LM_ENOMEM, "out of memory");
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, buf, offsetof(lmf_header, table_checksum));
    XXH3_64bits_update(st, tab, (size_t)h->n_sections * sizeof(lmf_section));
    uint64_t sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (sum != h->table_checksum)
      return FAIL(LM_ECHECKSUM, "header/section table checksum mismatch");
  }
  const uint8_t *sec[LMF_KIND_MAX + 1] = {0};
  size_t sec_size[LMF_KIND_MAX + 1] = {0};
  uint64_t sec_off[LMF_KIND_MAX + 1] = {0};
  uint64_t prev_end = table_end, content_end = table_end;
  for (uint32_t i = 0; i < h->n_sections; i++) {
    const lmf_section *s = &tab[i];
    size_t at = sizeof(lmf_header) + i * sizeof(lmf_section);
    if (s->offset % LMF_ALIGN)
      return FAIL(LM_EFORMAT, "section %u (%s) offset %llu is not 64-byte aligned (entry at %zu)",
                  i, lm__kind_name(s->kind), (unsigned long long)s->offset, at);
    if (s->offset < prev_end)
      return FAIL(LM_EFORMAT, "section %u (%s) offset %llu overlaps what precedes it", i,
                  lm__kind_name(s->kind), (unsigned long long)s->offset);
    if (s->offset > len || s->size > len - s->offset || len - s->offset - s->size < LM_PAD_BYTES)
      return FAIL(LM_EFORMAT,
                  "section %u (%s) [%llu, +%llu) plus %d bytes of padding is out of the file "
                  "(%zu bytes)",
                  i, lm__kind_name(s->kind), (unsigned long long)s->offset,
                  (unsigned long long)s->size, LM_PAD_BYTES, len);
    /* the bytes between the table or the previous section and this one are zero padding */
    if ((nz = lm__nonzero_at(buf + content_end, s->offset - content_end)) >= 0)
      return FAIL(LM_EFORMAT, "padding byte at offset %llu (before section %u, %s) is not zero",
                  (unsigned long long)(content_end + (uint64_t)nz), i, lm__kind_name(s->kind));
    prev_end = s->offset + s->size + LM_PAD_BYTES;
    content_end = s->offset + s->size;
    if (s->flags & ~LMF_SECTION_REQUIRED)
      return FAIL(LM_EVERSION, "section %u: unknown flags 0x%08x", i, s->flags);
    if (XXH3_64bits(buf + s->offset, s->size) != s->checksum)
      return FAIL(LM_ECHECKSUM, "section %u (%s) at offset %llu: checksum mismatch", i,
                  lm__kind_name(s->kind), (unsigned long long)s->offset);
    if (s->kind < LMF_META || s->kind > LMF_KIND_MAX) {
      if (s->flags & LMF_SECTION_REQUIRED)
        return FAIL(LM_EVERSION, "section %u: required kind %u unknown to this reader", i,
                    s->kind);
      continue;
    }
    if (sec[s->kind]) return FAIL(LM_EFORMAT, "section %s appears twice", lm__kind_name(s->kind));
    sec[s->kind] = buf + s->offset;
    sec_size[s->kind] = s->size;
    sec_off[s->kind] = s->offset;
  }
  if ((nz = lm__nonzero_at(buf + content_end, len - content_end)) >= 0)
    return FAIL(LM_EFORMAT, "padding byte at offset %llu (after the last section) is not zero",
                (unsigned long long)(content_end + (uint64_t)nz));
  if (!sec[LMF_META]) return FAIL(LM_EFORMAT, "no META section");
  int rc = lm__verify_meta(sec[LMF_META], sec_size[LMF_META], name, v);
  if (rc) return rc;
  const lmf_meta *m = v->meta;
  v->base = buf;
  v->size = len;
  v->header = h;
  if (sec[LMF_SELFTEST]) {
    const lmf_selftest *st = (const lmf_selftest *)sec[LMF_SELFTEST];
    size_t sz = sec_size[LMF_SELFTEST];
    uint32_t width = (m->link == LM_LINK_ARGMAX) ? 1 : m->num_outputs;
    /* n_rows · (8·num_features + 4·width) bytes, checked by division so nothing can wrap */
    uint64_t per_row = 8 * (uint64_t)m->num_features + 4 * (uint64_t)width;
    if (sz < sizeof *st || st->num_features != m->num_features || st->width != width ||
        (sz - sizeof *st) / per_row != st->n_rows || (sz - sizeof *st) % per_row != 0)
      return FAIL(LM_EFORMAT, "SELFTEST section: %zu bytes do not hold %u rows of %u features "
                  "and %u outputs", sz, st->n_rows, st->num_features, st->width);
    if (st->flags || lm__nonzero_at(st->reserved, sizeof st->reserved) >= 0)
      return FAIL(LM_EFORMAT, "SELFTEST section at offset %llu: flags/reserved (bytes 12-63) not "
                  "zero", (unsigned long long)sec_off[LMF_SELFTEST]);
    v->selftest = st;
    v->selftest_rows = (const double *)(st + 1);
    v->selftest_expected = (const float *)(v->selftest_rows + (size_t)st->n_rows * st->num_features);
  }

  if (m->model_kind == LMF_MODEL_FM) {
    if (sec[LMF_TREES] || sec[LMF_NODES] || sec[LMF_LEAF_IDS] || sec[LMF_CATSETS] ||
        sec[LMF_LINEAR] || sec[LMF_COVER] || sec[LMF_NODE_F64] || sec[LMF_LINEAR_LEAVES])
      return FAIL(LM_EFORMAT, "factorization machine with tree or linear sections");
    if (!sec[LMF_FM]) return FAIL(LM_EFORMAT, "factorization machine without an FM section");
    const lmf_fm *fh = (const lmf_fm *)sec[LMF_FM];
    size_t sz = sec_size[LMF_FM];
    if (sz < sizeof *fh)
      return FAIL(LM_EFORMAT, "FM section at offset %llu: %zu bytes, shorter than its 64-byte "
                  "header", (unsigned long long)sec_off[LMF_FM], sz);
    uint64_t F = m->num_features, k = fh->num_factors;
    uint64_t voff = (sizeof *fh + 4 * F + LMF_ALIGN - 1) / LMF_ALIGN * LMF_ALIGN;
    if (fh->num_features != m->num_features)
      return FAIL(LM_EFORMAT, "FM.num_features %u (offset %llu) is not META.num_features %u",
                  fh->num_features, (unsigned long long)sec_off[LMF_FM], m->num_features);
    if (k == 0 || k > LMF_MAX_FM_FACTORS)
      return FAIL(LM_EFORMAT, "FM.num_factors %llu (offset %llu) out of range 1..%u",
                  (unsigned long long)k, (unsigned long long)sec_off[LMF_FM] + 4,
                  LMF_MAX_FM_FACTORS);
    if (fh->v_offset != voff || sz != voff + 4 * F * k)
      return FAIL(LM_EFORMAT, "FM section: %zu bytes with v at %llu for %llu features x %llu "
                  "factors, expected %llu bytes with v at %llu", sz,
                  (unsigned long long)fh->v_offset, (unsigned long long)F,
                  (unsigned long long)k, (unsigned long long)(voff + 4 * F * k),
                  (unsigned long long)voff);
    if (fh->reserved0)
      return FAIL(LM_EFORMAT, "FM.reserved0 at offset %llu is not zero",
                  (unsigned long long)sec_off[LMF_FM] + 12);
    for (int i = 0; i < 10; i++)
      if (fh->reserved[i])
        return FAIL(LM_EFORMAT, "FM.reserved[%d] at offset %llu is not zero", i,
                    (unsigned long long)sec_off[LMF_FM] + 24 + 4 * (unsigned)i);
    v->fm = fh;
    v->fm_w = (const float *)(sec[LMF_FM] + sizeof *fh);
    v->fm_v = (const float *)(sec[LMF_FM] + voff);
    /* finite weights: an infinite one would turn every row's score into NaN or inf */
    if (!isfinite(fh->w0))
      return FAIL(LM_EFORMAT, "FM.w0 at offset %llu is not finite",
                  (unsigned long long)sec_off[LMF_FM] + 8);
    for (uint64_t i = 0; i < F; i++)
      if (!isfinite(v->fm_w[i]))
        return FAIL(LM_EFORMAT, "FM w[%llu] at offset %llu is not finite", (unsigned long long)i,
                    (unsigned long long)(sec_off[LMF_FM] + 64 + 4 * i));
    for (uint64_t i = 0; i < F * k; i++)
      if (!isfinite(v->fm_v[i]))
        return FAIL(LM_EFORMAT, "FM v[%llu, %llu] at offset %llu is not finite",
                    (unsigned long long)(i / k), (unsigned long long)(i % k),
                    (unsigned long long)(sec_off[LMF_FM] + voff + 4 * i));
    return LM_OK;
  }
  if (sec[LMF_FM]) return FAIL(LM_EFORMAT, "an FM section in a model that is not an FM");

  if (m->model_kind == LMF_MODEL_LINEAR) {
    if (sec[LMF_TREES] || sec[LMF_NODES] || sec[LMF_LEAF_IDS] || sec[LMF_CATSETS])
      return FAIL(LM_EFORMAT, "linear model with tree sections");
    if (!sec[LMF_LINEAR]) return FAIL(LM_EFORMAT, "linear model without a LINEAR section");
    const lmf_linear *lh = (const lmf_linear *)sec[LMF_LINEAR];
    uint64_t want = sizeof(lmf_linear) +
                    4 * ((uint64_t)m->num_features * m->num_outputs + m->num_outputs);
    if (sec_size[LMF_LINEAR] < sizeof(lmf_linear) || lh->num_features != m->num_features ||
        lh->num_outputs != m->num_outputs || sec_size[LMF_LINEAR] != want)
      return FAIL(LM_EFORMAT, "LINEAR section: %zu bytes for %u×%u weights, expected %llu",
                  sec_size[LMF_LINEAR], m->num_features, m->num_outputs,
                  (unsigned long long)want);
    if (lm__nonzero_at(lh->reserved, sizeof lh->reserved) >= 0)
      return FAIL(LM_EFORMAT, "LINEAR section at offset %llu: reserved bytes 8-63 not zero",
                  (unsigned long long)sec_off[LMF_LINEAR]);
    v->lin_weights = (const float *)(lh + 1);
    v->lin_bias = v->lin_weights + (size_t)m->num_features * m->num_outputs;
    if (sec[LMF_COVER]) return FAIL(LM_EFORMAT, "linear model with a COVER section");
    return LM_OK;
  }

  if (sec[LMF_LINEAR]) return FAIL(LM_EFORMAT, "tree model with a LINEAR section");
  if (!sec[LMF_TREES] || !sec[LMF_NODES] || !sec[LMF_LEAF_IDS])
    return FAIL(LM_EFORMAT, "tree model without TREES, NODES or LEAF_IDS");
  if (m->n_trees == 0 || sec_size[LMF_TREES] != (uint64_t)m->n_trees * sizeof(lmf_tree) ||
      sec_size[LMF_NODES] != (uint64_t)m->n_nodes * sizeof(lmf_node) ||
      sec_size[LMF_LEAF_IDS] != (uint64_t)m->n_nodes * 4)
    return FAIL(LM_EFORMAT, "section sizes do not match META.n_trees %u / n_nodes %u", m->n_trees,
                m->n_nodes);
  v->trees = (const lmf_tree *)sec[LMF_TREES];
  v->nodes = (const lmf_node *)sec[LMF_NODES];
  v->leaf_ids = (const uint32_t *)sec[LMF_LEAF_IDS];
  if ((m->n_cat_splits > 0) != (sec[LMF_CATSETS] != NULL))
    return FAIL(LM_EFORMAT, "CATSETS present iff META.n_cat_splits > 0 (it is %u)",
                m->n_cat_splits);
  if (sec[LMF_CATSETS]) {
    const uint32_t *c = (const uint32_t *)sec[LMF_CATSETS];
    size_t sz = sec_size[LMF_CATSETS];
    if (sz < 16 || (sz - 16) / 8 < c[0] || sz != 16 + (uint64_t)c[0] * 8 + (uint64_t)c[1] * 4)
      return FAIL(LM_EFORMAT, "CATSETS: %zu bytes do not hold %u sets and %u words", sz, c[0],
                  c[1]);
    if (c[2] || c[3])
      return FAIL(LM_EFORMAT, "CATSETS section at offset %llu: reserved bytes 8-15 not zero",
                  (unsigned long long)sec_off[LMF_CATSETS]);
    v->n_catsets = c[0];
    v->catsets = (const lmf_catset *)(c + 4);
    v->cat_words = c + 4 + 2 * (size_t)c[0];
    for (uint32_t i = 0; i < v->n_catsets; i++)
      if (v->catsets[i].word_offset > c[1] || v->catsets[i].n_words > c[1] - v->catsets[i].word_offset)
        return FAIL(LM_ERANGE, "CATSETS set %u: words [%u, +%u) out of the pool (%u words)", i,
                    v->catsets[i].word_offset, v->catsets[i].n_words, c[1]);
  }
  uint32_t next = 0, max_nodes = 0, max_depth = 0;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    const lmf_tree *tr = &v->trees[t];
    if (tr->first_node != next || tr->n_nodes == 0 || tr->n_nodes > m->n_nodes - next)
      return FAIL(LM_ERANGE, "tree %u: nodes [%u, +%u) not consecutive inside NODES (%u)", t,
                  tr->first_node, tr->n_nodes, m->n_nodes);
    if (tr->group >= m->num_outputs)
      return FAIL(LM_ERANGE, "tree %u: group %u out of range (%u outputs)", t, tr->group,
                  m->num_outputs);
    if (!isfinite(tr->weight)) return FAIL(LM_EFORMAT, "tree %u: weight not finite", t);
    if (tr->reserved[0] || tr->reserved[1])
      return FAIL(LM_EFORMAT, "tree %u: reserved bytes (TREES offset %llu) not zero", t,
                  (unsigned long long)t * sizeof *tr + 24);
    if (tr->flags & ~LMF_TREE_LINEAR ||
        (tr->flags && (m->decision != LMF_DECISION_LIGHTGBM || !sec[LMF_LINEAR_LEAVES])))
      return FAIL(LM_EFORMAT, "tree %u: flags 0x%x invalid here", t, tr->flags);
    if (tr->depth > max_depth) max_depth = tr->depth;
    if (tr->n_nodes > max_nodes) max_nodes = tr->n_nodes;
    next += tr->n_nodes;
  }
  if (next != m->n_nodes) return FAIL(LM_EFORMAT, "trees cover %u of %u nodes", next, m->n_nodes);
  if ((m->decision == LMF_DECISION_LIGHTGBM) != (sec[LMF_NODE_F64] != NULL) ||
      (sec[LMF_NODE_F64] && sec_size[LMF_NODE_F64] != (uint64_t)m->n_nodes * 8))
    return FAIL(LM_EFORMAT, "NODE_F64 must hold %u doubles exactly when decision is 1 (it is %u)",
                m->n_nodes, m->decision);
  v->node_f64 = (const double *)sec[LMF_NODE_F64];
  /* Decision 1: the float32 form of every numeric split and leaf must be the one derived from
   * NODE_F64, or float32 and float64 rows would take different paths through the same tree. */
  for (uint32_t i = 0; v->node_f64 && i < m->n_nodes; i++) {
    const lmf_node *n = &v->nodes[i];
    double t = v->node_f64[i];
    float want = n->left == i ? (float)t : lmf_lgb_threshold(t);
    float have = n->left == i ? n->u.leaf : n->threshold;
    if (n->left != i && (n->split & LMF_SPLIT_CATEGORICAL)) continue;
    if (n->left != i && isnan(t))
      return FAIL(LM_EFORMAT, "node %u: NODE_F64 threshold is NaN", i);
    if (memcmp(&want, &have, 4) != 0 && !(isnan(want) && isnan(have)))
      return FAIL(LM_EFORMAT, "node %u: %s %.9g disagrees with NODE_F64 %.17g (want %.9g)", i,
                  n->left == i ? "leaf" : "threshold", (double)have, t, (double)want);
  }
  if (sec[LMF_LINEAR_LEAVES]) {
    const uint8_t *ll = sec[LMF_LINEAR_LEAVES];
    uint32_t nt = *(const uint32_t *)ll;
    if (m->decision != LMF_DECISION_LIGHTGBM ||
        sec_size[LMF_LINEAR_LEAVES] != 16 + (uint64_t)m->n_nodes * sizeof(lmf_linear_leaf) +
                                           (uint64_t)nt * sizeof(lmf_linear_term))
      return FAIL(LM_EFORMAT, "LINEAR_LEAVES: %zu bytes do not hold %u leaves and %u terms",
                  sec_size[LMF_LINEAR_LEAVES], m->n_nodes, nt);
    if (lm__nonzero_at(ll + 4, 12) >= 0)
      return FAIL(LM_EFORMAT, "LINEAR_LEAVES section at offset %llu: reserved bytes 4-15 not zero",
                  (unsigned long long)sec_off[LMF_LINEAR_LEAVES]);
    v->lin_leaves = (const lmf_linear_leaf *)(ll + 16);
    v->lin_terms = (const lmf_linear_term *)(v->lin_leaves + m->n_nodes);
    v->n_lin_terms = nt;
    for (uint32_t i = 0; i < m->n_nodes; i++)
      if (v->lin_leaves[i].first > nt || v->lin_leaves[i].count > nt - v->lin_leaves[i].first)
        return FAIL(LM_ERANGE, "LINEAR_LEAVES node %u: terms [%u, +%u) out of the pool (%u)", i,
                    v->lin_leaves[i].first, v->lin_leaves[i].count, nt);
    for (uint32_t j = 0; j < nt; j++)
      if (v->lin_terms[j].feature >= m->num_features || v->lin_terms[j].pad)
        return FAIL(LM_ERANGE, "LINEAR_LEAVES term %u: feature %u out of range or pad %u not zero",
                    j, v->lin_terms[j].feature, v->lin_terms[j].pad);
  }
  if (sec[LMF_COVER]) {
    /* COVER (1.1): one finite, non-negative double per node (TreeSHAP divides by them, so a
     * NaN or negative cover would only produce garbage, never a bad access). */
    if (sec_size[LMF_COVER] != (uint64_t)m->n_nodes * 8)
      return FAIL(LM_EFORMAT, "COVER section at offset %llu: %zu bytes, expected %u nodes x 8",
                  (unsigned long long)sec_off[LMF_COVER], sec_size[LMF_COVER], m->n_nodes);
    const double *cv = (const double *)sec[LMF_COVER];
    for (uint32_t i = 0; i < m->n_nodes; i++)
      if (!(cv[i] >= 0.0) || !isfinite(cv[i]))
        return FAIL(LM_EFORMAT, "COVER node %u (offset %llu): %g is not a finite non-negative "
                    "cover", i, (unsigned long long)(sec_off[LMF_COVER] + 8ull * i), cv[i]);
    v->cover = cv;
  }
  if (max_depth != m->max_depth)
    return FAIL(LM_EFORMAT, "META.max_depth %u, trees say %u", m->max_depth, max_depth);
  uint8_t *seen = malloc(max_nodes);
  uint32_t *stack = malloc(sizeof *stack * (max_nodes + 1));
  uint32_t *lvl = malloc(sizeof *lvl * (max_nodes + 1));
  uint32_t cat_nodes = 0;
  rc = (!seen || !stack || !lvl) ? FAIL(LM_ENOMEM, "out of memory verifying trees") : LM_OK;
  for (uint32_t t = 0; t < m->n_trees && rc == LM_OK; t++)
    rc = lm__verify_tree(v, t, seen, stack, lvl, &cat_nodes, name);
  free(seen);
  free(stack);
  free(lvl);
  if (rc) return rc;
  if (cat_nodes != m->n_cat_splits)
    return FAIL(LM_EFORMAT, "META.n_cat_splits %u, trees have %u", m->n_cat_splits, cat_nodes);
  return LM_OK;
}
