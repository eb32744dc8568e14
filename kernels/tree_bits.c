/*
 * tree_bits.c — builds the bin-and-bitmask layout (tree_bits.h) from a perfect-tree layout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/tree_bits.h"
#include "kernels/tree_common.h"
#include "kernels/tree_perfect.h"

/* A threshold of the ensemble as a sortable key: feature in bits 32–63, then the float's bits
 * mapped to an unsigned order (−0 folded into +0: they are the same threshold); and the
 * perfect-layout slot (tree · stride + node) it came from. */
typedef struct {
  uint64_t key;
  uint32_t slot;
} lm__ft;

static uint64_t lm__key(uint32_t f, float t) {
  uint32_t u;
  if (t == 0.0f) t = 0.0f;
  memcpy(&u, &t, 4);
  u ^= (u >> 31) ? 0xFFFFFFFFu : 0x80000000u;
  return ((uint64_t)f << 32) | u;
}

/* LSD radix sort of n keys whose feature is < F (passes of 13 bits: 3 for F ≤ 128, 4 up to
 * 2^20 features); tmp: n more entries. Linear time: opening a 500-tree depth-8 model sorts
 * 127,500 thresholds. */
static lm__ft *lm__sort(lm__ft *a, lm__ft *tmp, size_t n, uint32_t F) {
  enum { BITS = 13, NB = 1 << BITS };
  size_t *count = calloc(NB, sizeof *count);
  if (!count) return NULL;
  int fbits = 0;
  while (fbits < 32 && (F - 1) >> fbits) fbits++;
  const int passes = (32 + fbits + BITS - 1) / BITS;
  for (int pass = 0; pass < passes; pass++) {
    int sh = pass * BITS;
    memset(count, 0, NB * sizeof *count);
    for (size_t i = 0; i < n; i++) count[(a[i].key >> sh) & (NB - 1)]++;
    size_t sum = 0;
    for (size_t d = 0; d < NB; d++) {
      size_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) tmp[count[(a[i].key >> sh) & (NB - 1)]++] = a[i];
    lm__ft *x = a;
    a = tmp;
    tmp = x;
  }
  free(count);
  return a;
}

/* A categorical node: its feature, category set and default direction (one key of a feature's
 * membership columns per distinct pair), its NODES index. */
typedef struct {
  uint32_t f, set, dl, node;
  uint64_t h; /* a hash of the set's members (LightGBM gives every node its own set) */
} lm__ck;
static int lm__ck_cmp(const void *a, const void *b) {
  const lm__ck *x = a, *y = b;
  if (x->f != y->f) return x->f < y->f ? -1 : 1;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  if (x->dl != y->dl) return x->dl < y->dl ? -1 : 1;
  return x->node < y->node ? -1 : x->node > y->node;
}
/* A set's words without its trailing zero words (categories past a set go left, as absent
 * members do): n words at *w. */
static uint32_t lm__set_words(const lmf_view *v, uint32_t set, const uint32_t **w) {
  const lmf_catset *cs = &v->catsets[set];
  uint32_t n = cs->n_words;
  *w = v->cat_words + cs->word_offset;
  while (n && !(*w)[n - 1]) n--;
  return n;
}
static uint64_t lm__set_hash(const lmf_view *v, uint32_t set) {
  const uint32_t *w;
  uint64_t h = 1469598103934665603ull; /* FNV-1a over the words */
  for (uint32_t i = 0, n = lm__set_words(v, set, &w); i < n; i++) h = (h ^ w[i]) * 1099511628211ull;
  return h;
}
/* Same key: feature, default direction and members (compared, not only hashed: a collision
 * only splits a key in two). */
static int lm__ck_same(const lmf_view *v, const lm__ck *x, const lm__ck *y) {
  const uint32_t *a, *b;
  if (x->f != y->f || x->dl != y->dl || x->h != y->h) return 0;
  uint32_t na = lm__set_words(v, x->set, &a), nb = lm__set_words(v, y->set, &b);
  return na == nb && !memcmp(a, b, 4 * (size_t)na);
}

/* What the build needs from every threshold of the ensemble: the (feature, threshold) keys
 * sorted (with the NODES index they came from), the distinct thresholds per feature, which
 * features get columns. */
typedef struct {
  lm__ft *all;        /* 2 × the internal slots: keys, then radix scratch */
  lm__ft *sorted;     /* n keys, sorted (points into all) */
  size_t n;
  uint32_t *K;        /* F: distinct non-NaN thresholds per feature */
  uint8_t *used;      /* F: 1 if the feature gets columns */
  uint32_t n_used, n_cols;
  lm__ck *ck;         /* the categorical nodes, sorted by (feature, set, default-left) */
  uint32_t n_ck, n_catf, cat_cols; /* categorical nodes, features, columns */
} lm__scan;

static void lm__scan_free(lm__scan *sc) {
  free(sc->all), free(sc->K), free(sc->used), free(sc->ck);
  memset(sc, 0, sizeof *sc);
}

/* 1 and sc filled if eligible; 0 otherwise (sc freed), with the reason in why (LM__WHY_LEN). */
static int lm__bits_scan(const lmf_view *v, lm__scan *sc, char *why) {
  const lmf_meta *m = v->meta;
  memset(sc, 0, sizeof *sc);
  snprintf(why, LM__WHY_LEN, "out of memory");
  if (m->model_kind != LMF_MODEL_TREES) {
    snprintf(why, LM__WHY_LEN, "not a tree model");
    return 0;
  }
  /* categorical splits: in the top words (depth ≤ 6) and in records, not in bottom blocks */
  if (m->n_cat_splits && m->decision != LMF_DECISION_LIGHTGBM && m->max_depth > 6 &&
      m->max_depth <= LM_PERFECT_MAX_DEPTH) {
    snprintf(why, LM__WHY_LEN, "%u categorical splits in trees of depth %u (7 or 8)",
             m->n_cat_splits, m->max_depth);
    return 0;
  }
  if (m->num_features == 0 || m->n_trees == 0 || m->max_depth > LM_BITS_MAX_DEPTH) {
    snprintf(why, LM__WHY_LEN, "%u features, %u trees, depth %u (at most %d)", m->num_features,
             m->n_trees, m->max_depth, LM_BITS_MAX_DEPTH);
    return 0;
  }
  const uint32_t F = m->num_features, N = m->n_nodes;
  size_t n_int = N, n = 0;
  sc->all = malloc(sizeof *sc->all * 2 * (n_int ? n_int : 1));
  sc->K = calloc(F, sizeof *sc->K);
  sc->used = calloc(F, 1);
  sc->ck = malloc(sizeof *sc->ck * (m->n_cat_splits ? m->n_cat_splits : 1));
  if (!sc->all || !sc->K || !sc->used || !sc->ck) goto no;
  for (uint32_t i = 0; i < N; i++) { /* every internal node of the ensemble */
    const lmf_node *nd = &v->nodes[i];
    uint32_t s = nd->split, f = s & LMF_SPLIT_FEATURE_MASK;
    if (nd->left == i) continue;
    if (s & LMF_SPLIT_ZERO_MISSING) {
      snprintf(why, LM__WHY_LEN, "node %u: a zero-as-missing split", i);
      goto no;
    }
    if (s & LMF_SPLIT_CATEGORICAL) {
      if (sc->n_ck == m->n_cat_splits) goto no; /* the verifier counted them: cannot happen */
      sc->ck[sc->n_ck++] = (lm__ck){f, nd->u.cat_set, (s & LMF_SPLIT_DEFAULT_LEFT) != 0, i,
                                    lm__set_hash(v, nd->u.cat_set)};
      continue;
    }
    if (!isnan(nd->threshold))
      sc->all[n++] = (lm__ft){lm__key(f, nd->threshold), i};
    else if (!(s & LMF_SPLIT_DEFAULT_LEFT))
      sc->used[f] = 1; /* only NaN goes right: the feature's NaN-ness is needed */
  }
  sc->sorted = lm__sort(sc->all, sc->all + n_int, n, F);
  if (!sc->sorted) goto no;
  sc->n = n;
  for (size_t i = 0; i < n; i++)
    if (!i || sc->sorted[i].key != sc->sorted[i - 1].key) {
      uint32_t f = (uint32_t)(sc->sorted[i].key >> 32);
      if (++sc->K[f] > LM_BITS_MAX_THRESHOLDS) {
        snprintf(why, LM__WHY_LEN, "feature %u has more than %d distinct thresholds", f,
                 LM_BITS_MAX_THRESHOLDS);
        goto no;
      }
      sc->used[f] = 1;
    }
  for (uint32_t f = 0; f < F; f++)
    if (sc->used[f]) {
      sc->n_used++;
      sc->n_cols += sc->K[f] ? (sc->K[f] + LM_BITS_SEG - 1) / LM_BITS_SEG : 1;
    }
  if (!sc->n_used) sc->used[0] = 1, sc->n_used = 1, sc->n_cols = 1; /* stumps only: one column */
  /* categorical features: ⌈keys / 8⌉ membership columns each (tree_bits.h), after the bins */
  qsort(sc->ck, sc->n_ck, sizeof *sc->ck, lm__ck_cmp);
  for (uint32_t i = 0, keys = 0; i < sc->n_ck; i++) {
    if (i && lm__ck_same(v, &sc->ck[i], &sc->ck[i - 1])) continue;
    keys = i && sc->ck[i].f == sc->ck[i - 1].f ? keys + 1 : 1;
    const lmf_catset *cs = &v->catsets[sc->ck[i].set];
    if (keys > 8 * LM_BITS_CAT_MAX_COLS || cs->n_words > LM_BITS_CAT_MAX_CATS / 32) {
      snprintf(why, LM__WHY_LEN, "feature %u: more than %d category sets or categories past %d",
               sc->ck[i].f, 8 * LM_BITS_CAT_MAX_COLS, LM_BITS_CAT_MAX_CATS);
      goto no;
    }
    if (keys == 1) sc->n_catf++;
    if (keys % 8 == 1) sc->cat_cols++;
  }
  sc->n_cols += sc->cat_cols;
  if (sc->n_cols > LM_BITS_MAX_COLUMNS) {
    snprintf(why, LM__WHY_LEN, "%u byte columns of bins (%u used features; at most %d)",
             sc->n_cols, sc->n_used, LM_BITS_MAX_COLUMNS);
    goto no;
  }
  return 1;
no:
  lm__scan_free(sc);
  return 0;
}

int lm__bits_eligible(const lmf_view *v) {
  lm__scan sc;
  char why[LM__WHY_LEN];
  int ok = lm__bits_scan(v, &sc, why);
  lm__scan_free(&sc);
  return ok;
}

/* 16-ary levels of a feature with K thresholds: sizes (floats, multiples of 16), top first;
 * at least min_h levels (a level of 16 NaN-padded floats above a single group: its top entry
 * is the group's last, so the search is unchanged). */
static uint32_t lm__levels(uint32_t K, uint32_t size[4], uint32_t min_h) {
  uint32_t tmp[4], h = 0, s = (K + 1 + 15) & ~15u;
  for (;;) {
    tmp[h++] = s;
    if (s <= 16 && h >= min_h) break;
    s = s <= 16 ? 16 : ((s / 16) + 15) & ~15u;
  }
  for (uint32_t i = 0; i < h; i++) size[i] = tmp[h - 1 - i];
  return h;
}

/* Column and local rank of a node (split word, threshold, NODES index): a NaN threshold (also a
 * perfect layout's pass-through) → rank 255 on column 0 (default left: never right) or on its
 * feature's first column (default right: only NaN goes right). */
static void lm__cr(const uint16_t *rank_of, const uint32_t *col_of, const uint32_t *cat_of,
                   uint32_t split, float thr, uint32_t node, uint32_t *col, uint32_t *rank) {
  uint32_t f = split & LMF_SPLIT_FEATURE_MASK;
  if (split & LMF_SPLIT_CATEGORICAL) { /* its key's column and bit (cat_of: column << 3 | bit) */
    *col = cat_of[node] >> 3;
    *rank = 1u << (cat_of[node] & 7);
  } else if (isnan(thr)) {
    *col = (split & LMF_SPLIT_DEFAULT_LEFT) ? 0 : col_of[f];
    *rank = 255;
  } else {
    uint32_t R = rank_of[node], s = (R - 1) / LM_BITS_SEG;
    *col = col_of[f] + s;
    *rank = R - LM_BITS_SEG * s;
  }
}

/* Deep trees (tree_bits.h, records): the six levels below `root` in heap slots 1–127 (a leaf
 * above the bottom fills both its children's slots: pass-through). */
static void lm__expand6(const lmf_view *v, uint32_t root, uint32_t at[128]) {
  at[1] = root;
  for (uint32_t j = 1; j < 64; j++) {
    uint32_t nd = at[j];
    const lmf_node *n = &v->nodes[nd];
    if (n->left == nd) at[2 * j] = at[2 * j + 1] = nd;
    else at[2 * j] = n->left, at[2 * j + 1] = n->left + 1;
  }
}

static size_t lm__count_recs(const lmf_view *v, uint32_t root) {
  uint32_t at[128];
  lm__expand6(v, root, at);
  size_t c = 1;
  for (uint32_t s = 0; s < 64; s++)
    if (v->nodes[at[64 + s]].left != at[64 + s]) c += lm__count_recs(v, at[64 + s]);
  return c;
}

/* Word position (tree_bits.h) of heap slot j (level L: 2^L ≤ j < 2^(L+1), L < 6). */
static uint32_t lm__wpos(uint32_t L, uint32_t j) {
  return L < 3 ? j - 1
               : 7 + 7 * ((j >> (L - 3)) - 8) + (1u << (L - 3)) + (j & ((1u << (L - 3)) - 1)) - 1;
}

typedef struct {
  const lmf_view *v;
  lm__bits *b;
  const uint16_t *rank_of;
  const uint32_t *col_of, *cat_of;
  float w;        /* the tree's weight */
  uint32_t next;  /* the next free record */
  uint32_t next_leaf; /* the next free leaf */
} lm__recctx;

static void lm__fill_rec(lm__recctx *c, uint32_t ri, uint32_t root) {
  uint8_t *nd = c->b->recs + (size_t)ri * LM_BITS_REC_BYTES;
  const lmf_node *nodes = c->v->nodes;
  uint32_t at[128], kids = 0;
  uint64_t m7 = 0, m8 = 0, m9 = 0, leafm = 0, catpos = 0;
  lm__expand6(c->v, root, at);
  if (c->b->dual) /* position 63 has no node: never right under either rule */
    nd[63] = 64, nd[64 + 63] = 255, nd[128 + 63] = 0;
  for (uint32_t L = 0; L < 6; L++)
    for (uint32_t j = 1u << L; j < 2u << L; j++) {
      uint32_t pos = lm__wpos(L, j), node = at[j], col, rank;
      const lmf_node *n = &nodes[node];
      uint32_t split = n->left == node ? LMF_SPLIT_DEFAULT_LEFT : n->split;
      lm__cr(c->rank_of, c->col_of, c->cat_of, split, n->left == node ? NAN : n->threshold, node,
             &col, &rank);
      nd[pos] = (uint8_t)((col & 127) + (c->b->dual && (split & LMF_SPLIT_DEFAULT_LEFT) ? 64u : 0u));
      nd[64 + pos] = (uint8_t)rank;
      nd[128 + pos] = (uint8_t)((split & LMF_SPLIT_DEFAULT_LEFT) ? 255 - rank : 256 - rank);
      if (split & LMF_SPLIT_CATEGORICAL) nd[128 + pos] = 0, catpos |= 1ull << pos;
      m7 |= (uint64_t)((col >> 7) & 1) << pos;
      m8 |= (uint64_t)((col >> 8) & 1) << pos;
      m9 |= (uint64_t)((col >> 9) & 1) << pos;
    }
  uint32_t first_child = c->next, first_leaf = c->next_leaf;
  for (uint32_t s = 0; s < 64; s++) {
    uint32_t node = at[64 + s];
    if (nodes[node].left == node) {
      leafm |= 1ull << s;
      if (c->b->recnode) c->b->recnode[c->next_leaf] = node;
      if (c->b->lgbm) /* the reference's product: the double leaf times the float weight */
        c->b->recleaf64[c->next_leaf++] = c->v->node_f64[node] * c->w;
      else
        c->b->recleaf[c->next_leaf++] = nodes[node].u.leaf * c->w;
    } else {
      kids++;
    }
  }
  c->next += kids;
  memcpy(nd + 192, &m7, 8);
  memcpy(nd + 200, &m8, 8);
  memcpy(nd + 208, &leafm, 8);
  memcpy(nd + 216, &first_child, 4);
  memcpy(nd + 220, &first_leaf, 4);
  memcpy(nd + 224, &m9, 8);
  memcpy(nd + 232, &catpos, 8);
  for (uint32_t s = 0, k = 0; s < 64; s++)
    if (nodes[at[64 + s]].left != at[64 + s]) lm__fill_rec(c, first_child + k++, at[64 + s]);
}

/* The counted groups (tree_bits.h), chosen as the build counted them (the same greedy walk over
 * the used features, now in b->feat with their sorted thresholds), their tables from offset
 * off of thr, and the column chunks the search still fills. */
static void lm__bits_lin_fill(lm__bits *b, uint32_t off) {
  const uint32_t U = b->n_used;
  uint32_t g = 0;
  for (uint32_t i = 0; i + 16 <= U && g < b->n_lin;) {
    const lm__bits_feat *u = b->feat + i;
    uint32_t ok = u[15].f - u[0].f < 32, k = 0;
    for (uint32_t j = 0; ok && j < 16; j++) {
      ok = u[j].K <= LM_BITS_LIN_K;
      if (u[j].K > k) k = u[j].K;
    }
    if (!ok) { i++; continue; }
    lm__bits_lin *q = &b->lin[g++];
    q->f0 = u[0].f, q->col = u[0].col, q->K = k, q->thr = off;
    q->wide = u[15].f - u[0].f >= 16;
    q->hi_n = b->num_features - u[0].f - 16 < 16 ? b->num_features - u[0].f - 16 : 16;
    uint32_t *idx = (uint32_t *)(void *)(b->thr + off);
    float *T = b->thr + off + 16; /* NaN already: past a feature's own count */
    for (uint32_t j = 0; j < 16; j++) {
      b->feat[i + j].lin = 1;
      idx[j] = u[j].f - u[0].f;
      const float *A = b->thr + u[j].lv[u[j].h - 1]; /* its sorted thresholds */
      for (uint32_t t = 0; t < u[j].K; t++) T[16 * t + j] = A[t];
    }
    off += 16 * (k + 1), i += 16;
  }
  b->tchunks = 0;
  for (uint32_t i = 0; i < U; i++)
    for (uint32_t s = 0; !b->feat[i].lin && s < b->feat[i].nseg; s++)
      b->tchunks |= 1ull << ((b->feat[i].col + s) / 16);
}

/* Categorical features (tree_bits.h, lm__bits_cat): columns from col0 on, each key's column and
 * bit for its nodes in cat_of (column << 3 | bit), and the tables. */
static void lm__bits_cat_fill(lm__bits *b, const lmf_view *v, const lm__scan *sc, uint32_t col0,
                              uint32_t *cat_of) {
  uint32_t col = col0, tab = 0, fi = 0;
  for (uint32_t i = 0; i < sc->n_ck;) {
    uint32_t e = i, ncat = 0, keys = 0;
    while (e < sc->n_ck && sc->ck[e].f == sc->ck[i].f) { /* the feature's nodes: [i, e) */
      uint32_t nw = v->catsets[sc->ck[e].set].n_words;
      if (32 * nw > ncat) ncat = 32 * nw;
      e++;
    }
    lm__bits_cat *q = &b->catf[fi++];
    q->f = sc->ck[i].f, q->col = col, q->ncat = ncat, q->tab = tab;
    uint8_t *T = b->cattab + tab;
    for (uint32_t j = i; j < e; j++) {
      if (j > i && !lm__ck_same(v, &sc->ck[j], &sc->ck[j - 1])) keys++;
      uint32_t k = keys, c = col + k / 8, bit = k % 8, node = sc->ck[j].node;
      cat_of[node] = c << 3 | bit;
      if (j > i && lm__ck_same(v, &sc->ck[j], &sc->ck[j - 1])) continue; /* its key's bits are set */
      const lmf_node *n = &v->nodes[node];
      for (uint32_t x = 0; x < ncat; x++)
        T[64 * x + k / 8] |= (uint8_t)(lm__cat_goes_right(v, n, (float)x) << bit);
      T[64 * ncat + k / 8] |= (uint8_t)((sc->ck[j].dl ? 0u : 1u) << bit); /* NaN */
    }
    q->ncol = keys / 8 + 1;
    col += q->ncol;
    tab += (ncat + 2) * 64;
    i = e;
  }
}

lm__bits *lm__bits_build(const lmf_view *v, const lm__perfect *p, const lm__alloc *a,
                         char *why) {
  lm__scan sc;
  const int lgbm = v->meta->decision == LMF_DECISION_LIGHTGBM;
  if (!p && !lgbm) {
    snprintf(why, LM__WHY_LEN, "no perfect-tree layout");
    return NULL;
  }
  if (!lm__bits_scan(v, &sc, why)) return NULL;
  const lmf_meta *m = v->meta;
  const int deep = lgbm || p->top != 0;
  const uint32_t F = m->num_features, T = m->n_trees, D = deep ? m->max_depth : p->depth;
  const uint32_t n_leaf = deep ? 0 : 1u << D, V = sc.n_cols, U = sc.n_used;
  size_t n_recs = 0;
  for (uint32_t t = 0; deep && t < T; t++) n_recs += lm__count_recs(v, v->trees[t].first_node);
  if (n_recs > UINT32_MAX) {
    lm__scan_free(&sc);
    snprintf(why, LM__WHY_LEN, "%zu records", n_recs);
    return NULL;
  }
  uint32_t np = (V + 127) / 128; /* register pairs: 1–8, 5 and 7 rounded up (tree_bits.h) */
  if (np == 5 || np == 7) np++;
  const uint32_t cat = sc.n_ck > 0; /* categorical positions: the wide words (catpos at 232) */
  const uint32_t wb = np == 1 && !cat ? LM_BITS_WORD_BYTES : LM_BITS_WORD_BYTES_WIDE;
  /* categorical tables: per feature (ncat + 2) rows of 64 bytes */
  size_t sz_cattab = 0;
  for (uint32_t i = 0, ncat = 0; i < sc.n_ck; i++) {
    uint32_t nw = v->catsets[sc.ck[i].set].n_words;
    ncat = i && sc.ck[i].f == sc.ck[i - 1].f ? (ncat > 32 * nw ? ncat : 32 * nw) : 32 * nw;
    if (i + 1 == sc.n_ck || sc.ck[i + 1].f != sc.ck[i].f) sz_cattab += ((size_t)ncat + 2) * 64;
  }
  /* every used feature on one column (≤ 254 thresholds): single rows search each in exactly two
   * 16-ary levels, without a loop or a branch per feature (lm__bin_row) */
  const uint32_t two = V - sc.cat_cols == U ? 2 : 1;
  /* search tables: per used feature its 16-ary levels, then its Eytzinger table */
  size_t n_thr = 0;
  for (uint32_t f = 0; f < F; f++)
    if (sc.used[f]) {
      uint32_t sz[4], h = lm__levels(sc.K[f], sz, two), L = 1;
      while ((1u << L) - 1 < sc.K[f]) L++;
      for (uint32_t i = 0; i < h; i++) n_thr += sz[i];
      n_thr += (1u << L) < 32 ? 32 : 1u << L;
    }
  /* counted groups (tree_bits.h): greedily, 16 used features at a time where they qualify */
  uint32_t *uf = malloc(sizeof *uf * (U + 1)), n_lin = 0;
  size_t n_linthr = 0;
  for (uint32_t f = 0, i = 0; uf && f < F; f++)
    if (sc.used[f]) uf[i++] = f;
  for (uint32_t i = 0; uf && i + 16 <= U;) {
    uint32_t ok = uf[i + 15] - uf[i] < 32, k = 0;
    for (uint32_t j = 0; ok && j < 16; j++) {
      ok = sc.K[uf[i + j]] <= LM_BITS_LIN_K;
      if (sc.K[uf[i + j]] > k) k = sc.K[uf[i + j]];
    }
    if (!ok) { i++; continue; }
    n_lin++, n_linthr += 16 * ((size_t)k + 1), i += 16;
  }
  n_thr += n_linthr;
  uint16_t *rank_of = malloc((m->n_nodes + 1) * sizeof *rank_of); /* global rank per node */
  uint32_t *col_of = calloc(F, sizeof *col_of);
  size_t sz_thr = n_thr * 4, sz_feat = (size_t)U * sizeof(lm__bits_feat);
  size_t sz_nodes = deep ? 0 : (size_t)T * wb;
  /* leaves: kernels load a tree's 64 first leaves whatever its n_leaf: 256 bytes of slack */
  size_t sz_leaf = !deep && D <= 6 ? (size_t)T * n_leaf * 4 + 256 : 0;
  size_t sz_bottom = !deep && D > 6 ? (size_t)T * 64 * LM_BITS_BLOCK_BYTES : 0;
  size_t sz_group = (size_t)T * 4, sz_lut = 3 * 128, sz_recs = n_recs * LM_BITS_REC_BYTES;
  /* every record has 64 positions: a leaf or one of the n_recs − T records below the roots */
  size_t n_recleaf = deep ? 64 * n_recs - (n_recs - T) : 0;
  size_t sz_recleaf = n_recleaf * (lgbm ? sizeof(double) : sizeof(float));
  int linear = 0;
  for (uint32_t t = 0; lgbm && t < T; t++) linear |= (v->trees[t].flags & LMF_TREE_LINEAR) != 0;
  size_t sizes[14] = {sz_thr, sz_feat, sz_nodes, sz_leaf, sz_bottom, sz_group, sz_lut, sz_recs,
                      sz_recleaf, (size_t)n_lin * sizeof(lm__bits_lin),
                      (size_t)sc.n_catf * sizeof(lm__bits_cat), sz_cattab,
                      linear ? n_recleaf * sizeof(uint32_t) : 0, (size_t)U * sizeof(uint32_t)};
  size_t sz = 0;
  for (int i = 0; i < 14; i++) sz += (sizes[i] + LM_PAD_BYTES + 63) & ~(size_t)63;
  uint32_t *cat_of = sc.n_ck ? malloc(sizeof *cat_of * (m->n_nodes + 1)) : NULL;
  if (sc.n_ck && !cat_of) uf = (free(uf), NULL); /* reported below */
  lm__bits *b = a->zalloc(a, sizeof *b);
  uint8_t *blk = b ? a->zalloc(a, sz) : NULL;
  if (!b || !blk || !rank_of || !col_of || !uf) {
    if (b) a->free(a, b, sizeof *b);
    if (blk) a->free(a, blk, sz);
    free(rank_of), free(col_of), free(uf), free(cat_of), lm__scan_free(&sc);
    snprintf(why, LM__WHY_LEN, "out of memory for the bin-and-bitmask layout (%zu bytes)", sz);
    return NULL;
  }
  b->alloc = a;
  b->block = blk;
  b->block_bytes = sz;
  b->num_features = F, b->n_used = U, b->n_cols = V, b->npairs = np, b->word_bytes = wb;
  b->n_trees = T, b->depth = D, b->n_leaf = n_leaf, b->dual = V <= 64 && !cat, b->two = two == 2;
  b->cat = cat, b->lgbm_cats = lgbm;
  uint8_t *parts[14], *q = blk;
  for (int i = 0; i < 14; i++) {
    parts[i] = q;
    q += (sizes[i] + LM_PAD_BYTES + 63) & ~(size_t)63;
  }
  b->thr = (float *)parts[0];
  b->feat = (lm__bits_feat *)parts[1];
  b->nodes = deep ? NULL : parts[2];
  b->leafw = sz_leaf ? (float *)parts[3] : NULL;
  b->bottom = sz_bottom ? parts[4] : NULL;
  b->recs = deep ? parts[7] : NULL;
  b->lgbm = lgbm;
  b->recleaf = deep && !lgbm ? (float *)parts[8] : NULL;
  b->recleaf64 = lgbm ? (double *)(void *)parts[8] : NULL;
  b->n_recs = (uint32_t)n_recs;
  b->group = (uint32_t *)parts[5];
  b->lut = parts[6];
  b->lin = (lm__bits_lin *)(void *)parts[9];
  b->n_lin = n_lin;
  b->catf = (lm__bits_cat *)(void *)parts[10];
  b->n_catf = sc.n_catf;
  b->cattab = parts[11];
  b->recnode = linear ? (uint32_t *)(void *)parts[12] : NULL;
  b->srch = (uint32_t *)(void *)parts[13];
  for (size_t i = 0; i < n_thr; i++) b->thr[i] = NAN;
  /* features: columns and table offsets */
  uint32_t col = 0, off = 0, ui = 0;
  size_t *first = malloc(sizeof *first * (F + 1)); /* first sorted key of each feature */
  if (!first) goto fail;
  for (uint32_t f = 0; f <= F; f++) first[f] = sc.n;
  for (size_t i = sc.n; i-- > 0;) first[sc.sorted[i].key >> 32] = i;
  for (uint32_t f = 0; f < F; f++) {
    if (!sc.used[f]) continue;
    lm__bits_feat *u = &b->feat[ui++];
    uint32_t sz4[4];
    u->f = f, u->col = col, u->K = sc.K[f];
    u->nseg = u->K ? (u->K + LM_BITS_SEG - 1) / LM_BITS_SEG : 1;
    u->h = lm__levels(u->K, sz4, two);
    u->L = 1;
    while ((1u << u->L) - 1 < u->K) u->L++;
    if (u->L > b->max_L) b->max_L = u->L;
    col_of[f] = col;
    col += u->nseg;
    for (uint32_t i = 0; i < u->h; i++) u->lv[i] = off, off += sz4[i];
    u->eyt = off;
    off += (1u << u->L) < 32 ? 32 : 1u << u->L;
    /* the sorted distinct thresholds: the last 16-ary level */
    float *A = b->thr + u->lv[u->h - 1];
    uint32_t k = 0;
    for (size_t i = first[f]; i < sc.n && (sc.sorted[i].key >> 32) == f; i++) {
      if (i == first[f] || sc.sorted[i].key != sc.sorted[i - 1].key) {
        float t = v->nodes[sc.sorted[i].slot].threshold;
        A[k++] = t == 0.0f ? 0.0f : t;
      }
      rank_of[sc.sorted[i].slot] = (uint16_t)k; /* 1-based */
    }
    for (uint32_t lvl = u->h - 1; lvl > 0; lvl--) { /* level lvl − 1 from level lvl */
      const float *lo = b->thr + u->lv[lvl];
      float *up = b->thr + u->lv[lvl - 1];
      for (uint32_t i = 0; i < sz4[lvl] / 16; i++) up[i] = lo[16 * i + 15];
    }
    float *eyt = b->thr + u->eyt;
    for (uint32_t j = 1; j < (1u << u->L); j++) {
      uint32_t lk = 1;
      while ((2u << (lk - 1)) <= j) lk++; /* level of node j: 2^(k−1) ≤ j < 2^k */
      uint32_t idx = ((j - (1u << (lk - 1))) * 2 + 1) * (1u << (u->L - lk)) - 1;
      eyt[j] = idx < u->K ? A[idx] : NAN;
    }
  }
  free(first);
  lm__bits_lin_fill(b, (uint32_t)(n_thr - n_linthr));
  for (uint32_t i = 0; i < U; i++)
    if (!b->feat[i].lin) b->srch[b->n_srch++] = i;
  free(uf), uf = NULL;
  lm__bits_cat_fill(b, v, &sc, col, cat_of);
  for (uint32_t w = 0; w < 128; w++) {
    uint32_t i = 1;
    for (int l = 0; l < 3; l++) i = 2 * i + ((w >> (i - 1)) & 1);
    b->lut[w] = (uint8_t)(i - 8);
    b->lut[128 + w] = (uint8_t)(8 * (i - 8));
    b->lut[256 + w] = (uint8_t)(7 + 7 * (i - 8));
  }
  if (deep) {
    lm__recctx c = {v, b, rank_of, col_of, cat_of, 0.0f, T, 0};
    for (uint32_t t = 0; t < T; t++) {
      c.w = v->trees[t].weight;
      lm__fill_rec(&c, t, v->trees[t].first_node);
      b->group[t] = v->trees[t].group;
    }
  }
  for (uint32_t t = 0; !deep && t < T; t++) {
    uint8_t *nd = b->nodes + (size_t)t * wb;
    uint64_t m7 = 0, m8 = 0, m9 = 0, catpos = 0;
    if (b->dual) /* positions without a node: never right under either rule */
      for (uint32_t pos = 0; pos < 64; pos++) nd[pos] = 64, nd[64 + pos] = 255, nd[128 + pos] = 0;
    const uint32_t *ps = p->split + (size_t)t * p->stride;
    /* heap slot j (perfect node j − 1) of the first six levels → word position */
    for (uint32_t L = 0; L < 6 && L < D; L++)
      for (uint32_t j = 1u << L; j < 2u << L; j++) {
        uint32_t pos = lm__wpos(L, j);
        size_t slot = (size_t)t * p->stride + j - 1;
        uint32_t s = ps[j - 1], c, rank;
        lm__cr(rank_of, col_of, cat_of, s, p->thr[slot], p->orig[slot], &c, &rank);
        nd[pos] = (uint8_t)((c & 127) + (b->dual && (s & LMF_SPLIT_DEFAULT_LEFT) ? 64u : 0u));
        nd[64 + pos] = (uint8_t)rank;
        nd[128 + pos] = (uint8_t)((s & LMF_SPLIT_DEFAULT_LEFT) ? 255 - rank : 256 - rank);
        if (s & LMF_SPLIT_CATEGORICAL) nd[128 + pos] = 0, catpos |= 1ull << pos;
        m7 |= (uint64_t)((c >> 7) & 1) << pos;
        m8 |= (uint64_t)((c >> 8) & 1) << pos;
        m9 |= (uint64_t)((c >> 9) & 1) << pos;
      }
    if (wb == LM_BITS_WORD_BYTES_WIDE) {
      memcpy(nd + 192, &m7, 8);
      memcpy(nd + 200, &m8, 8);
      memcpy(nd + 224, &m9, 8);
      memcpy(nd + 232, &catpos, 8);
    }
    float w = v->trees[t].weight;
    if (D <= 6) {
      for (uint32_t l = 0; l < n_leaf; l++)
        b->leafw[(size_t)t * n_leaf + l] = p->leaf[(size_t)t * p->n_leaf + l] * w;
    } else {
      for (uint32_t s = 0; s < 64; s++) {
        uint8_t *k = b->bottom + ((size_t)t * 64 + s) * LM_BITS_BLOCK_BYTES;
        uint32_t js[3] = {64 + s, 2 * (64 + s), 2 * (64 + s) + 1}, nn = D == 8 ? 3 : 1;
        for (uint32_t i = 0; i < nn; i++) { /* (column | default-left << 7, rank) */
          uint32_t sp = ps[js[i] - 1], c, rank;
          size_t slot = (size_t)t * p->stride + js[i] - 1;
          lm__cr(rank_of, col_of, cat_of, sp, p->thr[slot], p->orig[slot], &c, &rank);
          k[2 * i] = (uint8_t)((c & 127) | ((sp & LMF_SPLIT_DEFAULT_LEFT) ? 128u : 0u));
          k[2 * i + 1] = (uint8_t)rank;
          k[6] |= (uint8_t)((((c >> 7) & 1) << i) | (((c >> 8) & 1) << (3 + i)));
          k[7] |= (uint8_t)(((c >> 9) & 1) << i);
        }
        uint32_t nl = 1u << (D - 6);
        for (uint32_t l = 0; l < nl; l++)
          memcpy(k + 16 + 4 * l, &(float){p->leaf[(size_t)t * p->n_leaf + s * nl + l] * w}, 4);
      }
    }
    b->group[t] = v->trees[t].group;
  }
  free(rank_of), free(col_of), free(cat_of);
  lm__scan_free(&sc);
  return b;
fail:
  free(rank_of), free(col_of), free(uf), free(cat_of);
  lm__scan_free(&sc);
  lm__bits_free(b);
  snprintf(why, LM__WHY_LEN, "out of memory");
  return NULL;
}

void lm__bits_free(lm__bits *b) {
  if (!b) return;
  const lm__alloc *a = b->alloc;
  a->free(a, b->block, b->block_bytes);
  a->free(a, b, sizeof *b);
}
