/*
 * shap_scalar.c — exact TreeSHAP (Lundberg et al., "Consistent individualized feature
 * attribution for tree ensembles", algorithm 2; what XGBoost's pred_contribs computes) as a
 * scalar reference over per-leaf path tables (kernels/shap.h).
 *
 * The recursive algorithm keeps, while descending, a "unique path": one element per distinct
 * split feature met so far (a later split on the same feature replaces the earlier element by
 * one whose fractions are the products of both), each with a zero fraction (share of the
 * training cover that flows along those edges) and a one fraction (1 when the row follows all
 * of them, else 0), plus the polynomial weights of extending the path by each element. At a
 * leaf, feature j receives (one_j − zero_j) × leaf × Σ (weights with element j unwound).
 * Everything that does not depend on the row — which unique features a leaf's path has, their
 * zero fractions, the edges behind each — is computed here once per model; the weights are
 * symmetric in the elements, so the order in which a leaf's elements are extended does not
 * change the result (only float rounding, and we compute in double). Per row and tree: one
 * decision per internal node (the rule of formats/SPEC.md), then per leaf the one fractions,
 * the extension (O(k²) for k unique features) and k unwound sums (O(k) each).
 *
 * The bias column is the cover-weighted mean of each tree's leaves (XGBoost's node mean
 * values; LightGBM's Tree::ExpectedValue, leaf_count / internal_count[root] × leaf value),
 * times the tree weight, summed with the base margin.
 *
 * LightGBM models (decision 1) take the same algorithm (LightGBM's Tree::TreeSHAP is the same
 * recursion, with the node's data count as its cover): leaves carry their exact double value,
 * each node is decided by the shared rule of tree_common.h (missing types, default_left,
 * categorical sets; float64 rows on the double threshold), and linear trees are refused as
 * LightGBM refuses them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "kernels/shap.h"
#include "kernels/tree_common.h"

void lm__shap_free(lm__shap *s) {
  if (!s) return;
  free(s->trees);
  free(s->leaves);
  free(s->elems);
  free(s->edges);
  free(s->ninfo);
  free(s->bias);
  free(s->pat);
  free(s->efeat);
  free(s->grps);
  free(s->sn);
  free(s->sx_feat);
  free(s->sx_thr);
  free(s->sx_dr);
  free(s->ge);
  free(s->gz);
  free(s->gf);
  free(s);
}

/* A leaf's value: LightGBM's exact double (NODE_F64), XGBoost's float. */
static inline double lm__shap_leaf_value(const lmf_view *v, uint32_t i) {
  return v->meta->decision == LMF_DECISION_LIGHTGBM ? v->node_f64[i] : (double)v->nodes[i].u.leaf;
}

/* LightGBM's Tree::ExpectedValue: Σ over leaves of leaf_count / internal_count[root] × value
 * (the root's value when the tree is one leaf). Equal to the bottom-up mean when the counts add
 * up, as they do in every trained model; this keeps LightGBM's arithmetic exactly. */
static double lm__shap_lgb_expected(const lmf_view *v, uint32_t t) {
  const lmf_tree *tr = &v->trees[t];
  const lmf_node *nodes = v->nodes + tr->first_node;
  const double *cover = v->cover + tr->first_node;
  if (tr->n_nodes == 1) return lm__shap_leaf_value(v, tr->first_node);
  double e = 0.0;
  for (uint32_t i = 0; i < tr->n_nodes; i++)
    if (nodes[i].left == tr->first_node + i)
      e += cover[i] / cover[0] * lm__shap_leaf_value(v, tr->first_node + i);
  return e;
}

/* One tree's parents (par[child] = parent, local indices; the root is 0) and cover-weighted
 * mean values bottom-up (children come after their parent in breadth-first order); returns
 * the root's mean. A node of cover 0 gets mean 0 (XGBoost would divide by zero). */
static double lm__shap_tree_prep(const lmf_view *v, uint32_t t, uint32_t *par, double *mean_of) {
  const lmf_tree *tr = &v->trees[t];
  const lmf_node *nodes = v->nodes + tr->first_node;
  const double *cover = v->cover + tr->first_node;
  uint32_t nn = tr->n_nodes;
  par[0] = UINT32_MAX;
  for (uint32_t i = 0; i < nn; i++) {
    if (nodes[i].left == tr->first_node + i) continue;
    uint32_t l = nodes[i].left - tr->first_node;
    par[l] = par[l + 1] = i;
  }
  for (uint32_t i = nn; i-- > 0;) {
    const lmf_node *n = &nodes[i];
    if (n->left == tr->first_node + i) {
      mean_of[i] = lm__shap_leaf_value(v, tr->first_node + i);
      continue;
    }
    uint32_t l = n->left - tr->first_node;
    mean_of[i] = cover[i] > 0.0
                     ? (mean_of[l] * cover[l] + mean_of[l + 1] * cover[l + 1]) / cover[i]
                     : 0.0;
  }
  return mean_of[0];
}

/* Counts for allocation: leaves and the sum of leaf depths (an upper bound of elements and
 * exactly the number of edges). */
static void lm__shap_count(const lmf_view *v, uint32_t *lvl, uint64_t *leaves, uint64_t *edges) {
  for (uint32_t t = 0; t < v->meta->n_trees; t++) {
    const lmf_tree *tr = &v->trees[t];
    const lmf_node *nodes = v->nodes + tr->first_node;
    lvl[0] = 0;
    for (uint32_t i = 0; i < tr->n_nodes; i++) {
      if (nodes[i].left == tr->first_node + i) {
        (*leaves)++;
        *edges += lvl[i];
        continue;
      }
      uint32_t l = nodes[i].left - tr->first_node;
      lvl[l] = lvl[l + 1] = lvl[i] + 1;
    }
  }
}

/* One leaf's contributions for one pattern of one fractions: element j (zero fraction zs[j],
 * one fraction os[j] in {0, 1}) receives out[j] = (one − zero) × value × (sum of the path
 * weights with j unwound). pw: k + 1 doubles of scratch; inv[i] = 1 / (i + 1). */
static void lm__shap_leaf_eval(uint32_t k, const double *zs, const double *os, double value,
                               double *pw, const double *inv, double *out) {
  /* extension: element 0 is the root's (zero = one = 1), then each path element */
  pw[0] = 1.0;
  for (uint32_t j = 0; j < k; j++) {
    double z = zs[j], o = os[j];
    uint32_t l = j + 1; /* elements before this one */
    double r = inv[l];
    pw[l] = 0.0;
    if (o != 0.0) {
      for (uint32_t i = l; i-- > 0;) {
        pw[i + 1] += pw[i] * (double)(i + 1) * r;
        pw[i] = z * pw[i] * (double)(l - i) * r;
      }
    } else {
      for (uint32_t i = l; i-- > 0;) pw[i] = z * pw[i] * (double)(l - i) * r;
    }
  }
  /* unwound sums: the weights with element j taken out again (the extension inverted from
   * the top when its one fraction is 1, from the bottom when it is 0), summed */
  const uint32_t n = k; /* the path has n + 1 elements */
  for (uint32_t j = 0; j < k; j++) {
    double z = zs[j], w = 0.0;
    if (os[j] != 0.0) {
      double next = pw[n];
      for (uint32_t i = n; i-- > 0;) {
        double q = next * (double)(n + 1) * inv[i];
        w += q;
        next = pw[i] - q * z * (double)(n - i) * inv[n];
      }
    } else if (z != 0.0) {
      /* Σ pw[i] · (n + 1) / (z · (n − i)), without a division per term */
      for (uint32_t i = 0; i < n; i++) w += pw[i] * inv[n - i - 1];
      w *= (double)(n + 1) / z;
    }
    out[j] = w * (os[j] - z) * value;
  }
}

/* Pattern tables: for a leaf of k unique features, the k contributions of each of the 2^k
 * patterns of one fractions (bit j: element j followed), computed once, so a row costs k
 * tests and k additions per leaf instead of O(k²) arithmetic. Leaves with k > LM__SHAP_PAT_K,
 * or once the tables would pass LM__SHAP_PAT_BYTES, keep the per-row evaluation. Built only for
 * the trees the quadrature layout leaves to the reference: the quadrature kernels need none. */
#define LM__SHAP_PAT_K 10
#define LM__SHAP_PAT_BYTES ((size_t)64 << 20)

static int lm__shap_patterns(lm__shap *s) {
  size_t total = 0;
  for (uint32_t L = 0; L < s->n_leaves; L++) s->leaves[L].pat = UINT64_MAX;
  /* only the trees the quadrature kernels leave to the reference (lm__shap_tree.n_grps 0) */
  for (uint32_t t = 0; t < s->n_trees; t++) {
    if (s->trees[t].n_grps) continue;
    for (uint32_t L = s->trees[t].first_leaf; L < s->trees[t].first_leaf + s->trees[t].n_leaves;
         L++) {
      lm__shap_leaf *lf = &s->leaves[L];
      size_t k = lf->n_elems, need = ((size_t)1 << k) * k;
      if (k > LM__SHAP_PAT_K || (total + need) * sizeof(float) > LM__SHAP_PAT_BYTES) continue;
      lf->pat = total;
      total += need;
    }
  }
  s->pat = malloc((total ? total : 1) * sizeof *s->pat);
  s->efeat = malloc(sizeof *s->efeat * (s->n_elems ? s->n_elems : 1));
  if (!s->pat || !s->efeat) return LM_ENOMEM;
  for (uint32_t i = 0; i < s->n_elems; i++) s->efeat[i] = s->elems[i].feature;
  s->bytes += s->n_elems * sizeof *s->efeat;
  s->bytes += total * sizeof *s->pat;
  double zs[LM__SHAP_PAT_K], os[LM__SHAP_PAT_K], pw[LM__SHAP_PAT_K + 2], inv[LM__SHAP_PAT_K + 2],
      c[LM__SHAP_PAT_K];
  for (uint32_t i = 0; i < LM__SHAP_PAT_K + 2; i++) inv[i] = 1.0 / (double)(i + 1);
  for (uint32_t L = 0; L < s->n_leaves; L++) {
    const lm__shap_leaf *lf = &s->leaves[L];
    if (lf->pat == UINT64_MAX) continue;
    uint32_t k = lf->n_elems;
    for (uint32_t j = 0; j < k; j++) zs[j] = s->elems[lf->first_elem + j].zero;
    for (uint32_t p = 0; p < (1u << k); p++) {
      for (uint32_t j = 0; j < k; j++) os[j] = (double)((p >> j) & 1u);
      lm__shap_leaf_eval(k, zs, os, lf->value, pw, inv, c);
      for (uint32_t j = 0; j < k; j++) s->pat[lf->pat + (size_t)p * k + j] = (float)c[j];
    }
  }
  return LM_OK;
}

/* Gauss–Legendre nodes and weights of Q points, mapped to [0, 1] (Newton on P_Q from the
 * usual cosine guesses; exact for polynomials of degree 2Q − 1). */
static void lm__shap_gauss(uint32_t Q, double *t, double *w) {
  const double pi = 3.14159265358979323846;
  for (uint32_t i = 0; i < Q; i++) {
    double x = cos(pi * ((double)i + 0.75) / ((double)Q + 0.5)), dp = 1.0;
    for (int it = 0; it < 100; it++) {
      double p0 = 1.0, p1 = x;
      for (uint32_t j = 2; j <= Q; j++) {
        double p2 = ((double)(2 * j - 1) * x * p1 - (double)(j - 1) * p0) / (double)j;
        p0 = p1, p1 = p2;
      }
      if (Q == 1) p0 = 1.0, p1 = x;
      dp = (double)Q * (x * p1 - p0) / (x * x - 1.0);
      double dx = p1 / dp;
      x -= dx;
      if (fabs(dx) < 1e-17) break;
    }
    double p0 = 1.0, p1 = x;
    for (uint32_t j = 2; j <= Q; j++) {
      double p2 = ((double)(2 * j - 1) * x * p1 - (double)(j - 1) * p0) / (double)j;
      p0 = p1, p1 = p2;
    }
    dp = (double)Q * (x * p1 - p0) / (x * x - 1.0);
    t[i] = (1.0 - x) / 2.0;
    w[i] = 1.0 / ((1.0 - x * x) * dp * dp);
  }
}

/* 1 if slot e of the group of leaves ord[g0, +8) names one feature in every lane that uses it. */
static int lm__shap_slot_uniform(const lm__shap *s, const lm__shap_leaf *lv, const uint32_t *ord,
                                 uint32_t nl, uint32_t g0, uint32_t e) {
  uint32_t f = UINT32_MAX;
  for (uint32_t l = 0; l < LM__SHAP_LANES && g0 + l < nl; l++) {
    const lm__shap_leaf *lf = &lv[ord[g0 + l]];
    if (e >= lf->n_elems) continue;
    uint32_t fe = s->elems[lf->first_elem + e].feature;
    if (f == UINT32_MAX) f = fe;
    else if (f != fe) return 0;
  }
  return 1;
}

/* A rough cost of grouping a tree's leaves in order ord: per group K·Q·5 vector operations of
 * quadrature, and per slot 2 when it adds as one vector, 16 when it scatters. */
static double lm__shap_order_cost(const lm__shap *s, const lm__shap_leaf *lv, const uint32_t *ord,
                                  uint32_t nl) {
  double c = 0;
  for (uint32_t g0 = 0; g0 < nl; g0 += LM__SHAP_LANES) {
    uint32_t K = 0;
    for (uint32_t l = 0; l < LM__SHAP_LANES && g0 + l < nl; l++)
      if (lv[ord[g0 + l]].n_elems > K) K = lv[ord[g0 + l]].n_elems;
    c += 5.0 * K * ((K + 1) / 2);
    for (uint32_t e = 0; e < K; e++) c += lm__shap_slot_uniform(s, lv, ord, nl, g0, e) ? 2 : 16;
  }
  return c;
}

/* The order of a tree's leaves in its groups: depth-first (neighbouring leaves share their path's
 * first features: slots add as one vector) or by number of unique features, most first (fewer
 * empty slots), whichever lm__shap_order_cost prefers. tmp: 2 × max_nodes. */
static void lm__shap_order(const lmf_view *v, const lm__shap *s, const lm__shap_tree *st,
                           uint32_t *ord, uint32_t *tmp) {
  const lm__shap_leaf *lv = s->leaves + st->first_leaf;
  const lmf_node *nodes = v->nodes + st->first_node;
  uint32_t nl = st->n_leaves, *lidx = tmp, *stack = tmp + s->max_nodes, sp = 0, n = 0;
  for (uint32_t L = 0; L < nl; L++) lidx[lv[L].node] = L;
  stack[sp++] = 0;
  while (sp) {
    uint32_t i = stack[--sp];
    if (nodes[i].left == st->first_node + i) {
      ord[n++] = lidx[i];
      continue;
    }
    uint32_t l = nodes[i].left - st->first_node;
    stack[sp++] = l + 1;
    stack[sp++] = l;
  }
  double c_dfs = lm__shap_order_cost(s, lv, ord, nl);
  uint32_t *by_k = ord + nl; /* the caller's ord has room for 2 × n_leaves */
  for (uint32_t L = 0; L < nl; L++) { /* insertion sort by n_elems, most first */
    uint32_t j = L;
    while (j > 0 && lv[by_k[j - 1]].n_elems < lv[L].n_elems) by_k[j] = by_k[j - 1], j--;
    by_k[j] = L;
  }
  if (lm__shap_order_cost(s, lv, by_k, nl) < c_dfs) memcpy(ord, by_k, sizeof *ord * nl);
}

/* The quadrature layout (kernels/shap.h): per tree, its leaves eight to a group (in the order
 * of lm__shap_order). */
static int lm__shap_groups(const lmf_view *v, lm__shap *s) {
  uint32_t ns = 0;
  for (uint32_t t = 0; t < s->n_trees; t++) {
    const lm__shap_tree *st = &s->trees[t];
    for (uint32_t i = 0; i < st->n_nodes; i++) ns += v->nodes[st->first_node + i].left != st->first_node + i;
  }
  s->sn = malloc(sizeof *s->sn * (ns ? ns : 1));
  s->sx_feat = malloc(sizeof *s->sx_feat * (ns + 16));
  s->sx_thr = malloc(sizeof *s->sx_thr * (ns + 16));
  s->sx_dr = malloc(sizeof *s->sx_dr * (ns + 16));
  if (!s->sn || !s->sx_feat || !s->sx_thr || !s->sx_dr) return LM_ENOMEM;
  s->bytes += (sizeof *s->sn + 12) * ns;
  ns = 0;
  for (uint32_t t = 0; t < s->n_trees; t++) {
    lm__shap_tree *st = &s->trees[t];
    st->first_split = ns;
    st->vdec = 1;
    for (uint32_t i = 0; i < st->n_nodes; i++) {
      const lmf_node *n = &v->nodes[st->first_node + i];
      if (n->left == st->first_node + i) continue;
      s->sx_feat[ns] = n->split & LMF_SPLIT_FEATURE_MASK;
      s->sx_thr[ns] = n->threshold;
      s->sx_dr[ns] = (n->split & LMF_SPLIT_DEFAULT_LEFT) ? 0 : -1;
      if (n->split & (LMF_SPLIT_CATEGORICAL | LMF_SPLIT_ZERO_MISSING)) st->vdec = 0;
      s->sn[ns++] = (lm__shap_split){n->split, n->threshold, i, n->left - st->first_node,
                                     s->ninfo[st->first_node + i]};
    }
    st->n_splits = ns - st->first_split;
  }
  for (uint32_t Q = 1; Q <= LM__SHAP_QK / 2; Q++) lm__shap_gauss(Q, s->quad_t[Q], s->quad_w[Q]);
  uint64_t ng = 0, rows = 0;
  uint32_t *ord = malloc(sizeof *ord * 2 * (s->n_leaves ? s->n_leaves : 1));
  uint32_t *tmp = malloc(sizeof *tmp * 3 * (s->max_nodes ? s->max_nodes : 1));
  if (!ord || !tmp) {
    free(ord), free(tmp);
    return LM_ENOMEM;
  }
  uint32_t *sord = tmp + 2 * s->max_nodes; /* a tree's node → its index among its splits */
  uint64_t erows = 0;
  /* pass 0 counts, pass 1 fills */
  for (int pass = 0; pass < 2; pass++) {
    uint64_t gi = 0, ri = 0, ei = 0;
    for (uint32_t t = 0; t < s->n_trees; t++) {
      lm__shap_tree *st = &s->trees[t];
      const lm__shap_leaf *lv = s->leaves + st->first_leaf;
      uint32_t nl = st->n_leaves, ok = 1;
      for (uint32_t L = 0; L < nl; L++) ok &= lv[L].n_elems <= LM__SHAP_QK;
      st->first_grp = (uint32_t)gi;
      st->n_grps = ok ? (nl + LM__SHAP_LANES - 1) / LM__SHAP_LANES : 0;
      if (!ok) continue;
      lm__shap_order(v, s, st, ord, tmp);
      for (uint32_t j = 0; j < st->n_splits; j++) sord[s->sn[st->first_split + j].node] = j;
      for (uint32_t g = 0; g < st->n_grps; g++, gi++) {
        uint32_t K = 0;
        for (uint32_t l = 0; l < LM__SHAP_LANES; l++) {
          uint32_t L = g * LM__SHAP_LANES + l;
          if (L < nl && lv[ord[L]].n_elems > K) K = lv[ord[L]].n_elems;
        }
        /* edge rows: per slot, as many as the most edges of a lane's element */
        uint32_t Esum = 0, Es[LM__SHAP_QK];
        for (uint32_t e = 0; e < K; e++) {
          Es[e] = 1;
          for (uint32_t l = 0; l < LM__SHAP_LANES; l++) {
            uint32_t L = g * LM__SHAP_LANES + l;
            if (L >= nl || e >= lv[ord[L]].n_elems) continue;
            uint32_t ne = s->elems[lv[ord[L]].first_elem + e].n_edges;
            if (ne > Es[e]) Es[e] = ne;
          }
          if (Es[e] > 255) st->vdec = 0; /* E is a byte */
          Esum += Es[e];
        }
        if (pass) {
          lm__shap_grp *gp = &s->grps[gi];
          gp->eoff = ei;
          gp->une = 0;
          for (uint32_t e = 0, r = 0; e < K; r += Es[e], e++) {
            gp->E[e] = (uint8_t)(Es[e] > 255 ? 255 : Es[e]);
            for (uint32_t l = 0; l < LM__SHAP_LANES; l++) {
              uint32_t L = g * LM__SHAP_LANES + l;
              const lm__shap_elem *el = L < nl && e < lv[ord[L]].n_elems
                                            ? &s->elems[lv[ord[L]].first_elem + e]
                                            : NULL;
              for (uint32_t j = 0; j < Es[e]; j++) {
                uint32_t w = 0;
                if (el) {
                  uint32_t ed = s->edges[el->first_edge + (j < el->n_edges ? j : 0)];
                  w = sord[ed >> 1] | (ed & 1u) << 31;
                }
                s->ge[(size_t)(ei + r + j) * LM__SHAP_LANES + l] = w;
              }
            }
            if (Es[e] == 1) { /* one split for every lane that uses the slot? */
              uint32_t *row = &s->ge[(size_t)(ei + r) * LM__SHAP_LANES], sp = UINT32_MAX, one = 1;
              for (uint32_t l = 0; l < LM__SHAP_LANES; l++) {
                uint32_t L = g * LM__SHAP_LANES + l;
                if (L >= nl || e >= lv[ord[L]].n_elems) continue;
                if (sp == UINT32_MAX) sp = row[l] & 0x7FFFFFFFu;
                else one &= (row[l] & 0x7FFFFFFFu) == sp;
              }
              if (one && sp != UINT32_MAX) {
                gp->une |= 1u << e;
                for (uint32_t l = 0; l < LM__SHAP_LANES; l++) row[l] = (row[l] & 0x80000000u) | sp;
              }
            }
          }
          gp->K = K;
          gp->Q = K ? (K + 1) / 2 : 1;
          gp->off = ri;
          gp->uni = 0;
          for (uint32_t e = 0; e < K; e++)
            gp->uni |= (uint32_t)lm__shap_slot_uniform(s, lv, ord, nl, g * LM__SHAP_LANES, e) << e;
          for (uint32_t l = 0; l < LM__SHAP_LANES; l++) {
            uint32_t L = g * LM__SHAP_LANES + l;
            const lm__shap_leaf *lf = L < nl ? &lv[ord[L]] : NULL;
            uint32_t k = lf ? lf->n_elems : 0;
            gp->node[l] = lf ? lf->node : lv[ord[g * LM__SHAP_LANES]].node;
            gp->pad[l] = k >= 32 ? 0u : ~((1u << k) - 1u);
            gp->v[l] = lf ? lf->value : 0.0;
            gp->k[l] = (uint8_t)k;
            for (uint32_t e = 0; e < K; e++) {
              size_t at = (size_t)(ri + e) * LM__SHAP_LANES + l;
              s->gz[at] = e < k ? s->elems[lf->first_elem + e].zero : 1.0;
              s->gf[at] = e < k ? s->elems[lf->first_elem + e].feature : 0u;
            }
          }
        }
        if (pass) /* a uniform slot's empty lanes (adding 0) name its feature too */
          for (uint32_t e = 0; e < K; e++) {
            if (!(s->grps[gi].uni >> e & 1u)) continue;
            uint32_t f = UINT32_MAX;
            for (uint32_t l = 0; l < LM__SHAP_LANES; l++)
              if (e < s->grps[gi].k[l]) f = s->gf[(size_t)(ri + e) * LM__SHAP_LANES + l];
            for (uint32_t l = 0; l < LM__SHAP_LANES; l++)
              s->gf[(size_t)(ri + e) * LM__SHAP_LANES + l] = f == UINT32_MAX ? 0u : f;
          }
        ri += K;
        ei += Esum;
      }
    }
    if (!pass) {
      ng = gi, rows = ri, erows = ei;
      s->ge = malloc(sizeof *s->ge * (erows ? erows : 1) * LM__SHAP_LANES);
      if (!s->ge) {
        free(ord), free(tmp);
        return LM_ENOMEM;
      }
      s->bytes += erows * LM__SHAP_LANES * sizeof *s->ge;
      s->grps = calloc(ng ? ng : 1, sizeof *s->grps);
      s->gz = malloc(sizeof *s->gz * (rows ? rows : 1) * LM__SHAP_LANES);
      s->gf = malloc(sizeof *s->gf * (rows ? rows : 1) * LM__SHAP_LANES);
      if (!s->grps || !s->gz || !s->gf) {
        free(ord), free(tmp);
        return LM_ENOMEM;
      }
      s->n_grps = (uint32_t)ng;
      s->bytes += ng * sizeof *s->grps + rows * LM__SHAP_LANES * (sizeof *s->gz + sizeof *s->gf);
    }
  }
  free(ord), free(tmp);
  return LM_OK;
}

int lm__shap_build(const lmf_view *v, const char *name, lm__shap **out) {
  const lmf_meta *m = v->meta;
  const int lgb = m->decision == LMF_DECISION_LIGHTGBM;
  *out = NULL;
  if (m->model_kind != LMF_MODEL_TREES)
    return lm__fail(LM_EUNSUPPORTED, "%s: TreeSHAP needs a tree model", name);
  for (uint32_t t = 0; t < m->n_trees; t++)
    if (v->trees[t].flags & LMF_TREE_LINEAR)
      return lm__fail(LM_EUNSUPPORTED,
                      "%s: tree %u has linear leaves: SHAP contributions are not defined for "
                      "linear trees (LightGBM refuses too: \"Predicting SHAP feature "
                      "contributions is not implemented for linear trees.\")", name, t);
  if (!v->cover)
    return lm__fail(LM_EUNSUPPORTED,
                    "%s: the model carries no cover (no COVER section: converted by an older "
                    "lmconvert, or from a source without node statistics); convert it again to "
                    "get contributions", name);
  uint32_t max_nodes = 0;
  for (uint32_t t = 0; t < m->n_trees; t++)
    if (v->trees[t].n_nodes > max_nodes) max_nodes = v->trees[t].n_nodes;
  lm__shap *s = calloc(1, sizeof *s);
  uint32_t *par = malloc(sizeof *par * max_nodes), *lvl = malloc(sizeof *lvl * max_nodes);
  double *mean_of = malloc(sizeof *mean_of * max_nodes);
  uint32_t D = m->max_depth + 1;
  uint32_t *pe_node = malloc(sizeof *pe_node * D), *pe_elem = malloc(sizeof *pe_elem * D);
  int rc = LM_OK;
  if (!s || !par || !lvl || !mean_of || !pe_node || !pe_elem) {
    rc = lm__fail(LM_ENOMEM, "%s: out of memory for the TreeSHAP table", name);
    goto done;
  }
  uint64_t n_leaves = 0, n_edges = 0;
  lm__shap_count(v, lvl, &n_leaves, &n_edges);
  s->n_trees = m->n_trees;
  s->n_leaves = (uint32_t)n_leaves;
  s->num_features = m->num_features;
  s->num_outputs = m->num_outputs;
  s->max_nodes = max_nodes;
  s->trees = calloc(m->n_trees, sizeof *s->trees);
  s->leaves = calloc(n_leaves ? n_leaves : 1, sizeof *s->leaves);
  s->elems = calloc(n_edges ? n_edges : 1, sizeof *s->elems);
  s->edges = calloc(n_edges ? n_edges : 1, sizeof *s->edges);
  s->bias = calloc(m->num_outputs, sizeof *s->bias);
  s->ninfo = calloc(m->n_nodes, sizeof *s->ninfo);
  if (!s->trees || !s->leaves || !s->elems || !s->edges || !s->bias || !s->ninfo) {
    rc = lm__fail(LM_ENOMEM, "%s: out of memory for the TreeSHAP table (%llu leaves)", name,
                  (unsigned long long)n_leaves);
    goto done;
  }
  s->bytes = sizeof *s + m->n_trees * sizeof *s->trees + n_leaves * sizeof *s->leaves +
             n_edges * (sizeof *s->elems + sizeof *s->edges) + m->num_outputs * sizeof(double) +
             m->n_nodes * sizeof *s->ninfo;
  for (uint32_t g = 0; g < m->num_outputs; g++) s->bias[g] = (double)m->base_margin;
  uint32_t li = 0, ei = 0, gi = 0;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    const lmf_tree *tr = &v->trees[t];
    const lmf_node *nodes = v->nodes + tr->first_node;
    const double *cover = v->cover + tr->first_node;
    double root_mean = lm__shap_tree_prep(v, t, par, mean_of);
    if (lgb) root_mean = lm__shap_lgb_expected(v, t);
    s->bias[tr->group] += root_mean * (double)tr->weight;
    s->trees[t] = (lm__shap_tree){tr->first_node, tr->n_nodes, li, 0, tr->group, 0, 0, 0, 0, 0};
    for (uint32_t i = 0; i < tr->n_nodes; i++) {
      if (nodes[i].left != tr->first_node + i) continue;
      /* The path root → leaf i: nodes pe_node[0..d) (split nodes), each edge into the next. */
      uint32_t d = 0;
      for (uint32_t c = i; c != 0; c = par[c]) d++;
      uint32_t c = i;
      for (uint32_t k = d; k-- > 0;) {
        pe_node[k] = (par[c] << 1) | (c != nodes[par[c]].left - tr->first_node);
        c = par[c];
      }
      /* Unique features in order of first appearance; each element's edges contiguous. */
      lm__shap_leaf *lf = &s->leaves[li++];
      lf->value = lm__shap_leaf_value(v, tr->first_node + i) * (double)tr->weight;
      lf->node = i;
      lf->first_elem = ei;
      lf->n_elems = 0;
      for (uint32_t k = 0; k < d; k++) pe_elem[k] = UINT32_MAX;
      for (uint32_t k = 0; k < d; k++) {
        if (pe_elem[k] != UINT32_MAX) continue;
        uint32_t f = nodes[pe_node[k] >> 1].split & LMF_SPLIT_FEATURE_MASK;
        lm__shap_elem *e = &s->elems[ei++];
        *e = (lm__shap_elem){f, gi, 0, 0, 1.0};
        lf->n_elems++;
        for (uint32_t k2 = k; k2 < d; k2++) {
          uint32_t pn = pe_node[k2] >> 1;
          if ((nodes[pn].split & LMF_SPLIT_FEATURE_MASK) != f) continue;
          pe_elem[k2] = ei - 1;
          s->ninfo[tr->first_node + pn] = (lf->n_elems - 1) | (k2 == k ? 1u << 16 : 0u);
          uint32_t child = nodes[pn].left - tr->first_node + (pe_node[k2] & 1);
          e->zero *= cover[pn] > 0.0 ? cover[child] / cover[pn] : 0.0;
          s->edges[gi++] = pe_node[k2];
          e->n_edges++;
        }
      }
      if (lf->n_elems > s->max_elems) s->max_elems = lf->n_elems;
    }
    s->trees[t].n_leaves = li - s->trees[t].first_leaf;
  }
  s->n_elems = ei;
  if (lm__shap_groups(v, s) || lm__shap_patterns(s))
    rc = lm__fail(LM_ENOMEM, "%s: out of memory for the TreeSHAP pattern tables", name);
done:
  free(par);
  free(lvl);
  free(mean_of);
  free(pe_node);
  free(pe_elem);
  if (rc) {
    lm__shap_free(s);
    return rc;
  }
  *out = s;
  return LM_OK;
}

size_t lm__shap_scratch(const lm__shap *s) {
  size_t w = (size_t)s->num_outputs * ((size_t)s->num_features + 1);
  return lm__shap_scratch_ref(s) + lm__shap_block_rows(s) * w * LM__SHAP_LANES * sizeof(double);
}

/* The decision rule of formats/SPEC.md at node i (index into v->nodes) for one row: float32
 * rows through lm__goes_right (XGBoost and LightGBM alike: XGBoost nodes never carry
 * ZERO_MISSING), LightGBM's float64 rows (xd) on the double through lm__goes_right_f64. */
static inline uint32_t lm__shap_decide(const lmf_view *v, uint32_t i, const float *x,
                                       const double *xd) {
  uint32_t f = v->nodes[i].split & LMF_SPLIT_FEATURE_MASK;
  return xd ? lm__goes_right_f64(v, i, xd[f]) : lm__goes_right(v, &v->nodes[i], x[f]);
}

/* One tree for one row. Nodes come parents first, so one pass gives every node the pattern
 * of one fractions of the path down to it (bit j: unique feature j of the path followed so
 * far; a feature's first split sets its bit, a later one can only clear it); each leaf then
 * adds the contributions its pattern selects. */
static inline void lm__shap_tree_row(const lmf_view *v, const lm__shap *s,
                                     const lm__shap_tree *st, const float *x, const double *xd,
                                     double *ph,
                                     uint32_t *pat_of, double *pw, double *zs, double *os,
                                     const double *inv, double *cs) {
  const lmf_node *nodes = v->nodes + st->first_node;
  const uint32_t *info = s->ninfo + st->first_node;
  const uint32_t base = st->first_node;
  pat_of[0] = 0;
  for (uint32_t i = 0; i < st->n_nodes; i++) {
    const lmf_node *n = &nodes[i];
    if (n->left == base + i) continue;
    uint32_t r = lm__shap_decide(v, base + i, x, xd);
    uint32_t e = info[i] & 0xFFFFu, bit = e < 32 ? 1u << e : 0u, p = pat_of[i];
    uint32_t l = n->left - base;
    if (info[i] >> 16) {
      pat_of[l] = p | (r ? 0u : bit);
      pat_of[l + 1] = p | (r ? bit : 0u);
    } else {
      pat_of[l] = r ? p & ~bit : p;
      pat_of[l + 1] = r ? p : p & ~bit;
    }
  }
  const lm__shap_leaf *lf = s->leaves + st->first_leaf;
  for (uint32_t L = 0; L < st->n_leaves; L++, lf++) {
    uint32_t k = lf->n_elems, p = pat_of[lf->node];
    if (lf->pat != UINT64_MAX) {
      const float *c = s->pat + lf->pat + (size_t)p * k;
      const uint32_t *ef = s->efeat + lf->first_elem;
      for (uint32_t j = 0; j < k; j++) ph[ef[j]] += (double)c[j];
      continue;
    }
    const lm__shap_elem *el = s->elems + lf->first_elem;
    for (uint32_t j = 0; j < k; j++) {
      uint32_t one = (p >> (j & 31)) & 1u;
      if (j >= 32) { /* beyond the pattern's bits: test the element's edges */
        const uint32_t *ed = s->edges + el[j].first_edge;
        one = 1;
        for (uint32_t q = 0; q < el[j].n_edges; q++) {
          one &= lm__shap_decide(v, base + (ed[q] >> 1), x, xd) == (ed[q] & 1u);
        }
      }
      os[j] = one;
      zs[j] = el[j].zero;
    }
    lm__shap_leaf_eval(k, zs, os, lf->value, pw, inv, cs);
    for (uint32_t j = 0; j < k; j++) ph[el[j].feature] += cs[j];
  }
}

/* Scratch layout: pat_of (max_nodes uint32, rounded to 64 bytes), then K doubles five times. */
void lm__shap_tree_rows__scalar(const lmf_view *v, const lm__shap *s, uint32_t t, const float *x,
                                const double *xd, size_t n, double *phi, void *scratch) {
  const size_t F = s->num_features, W = (size_t)s->num_outputs * (F + 1);
  uint32_t *pat_of = scratch;
  double *pw = (double *)((uint8_t *)scratch + ((4 * (size_t)s->max_nodes + 63) & ~(size_t)63));
  size_t K = (size_t)s->max_elems + 2;
  double *zs = pw + K, *os = zs + K, *inv = os + K, *cs = inv + K;
  for (size_t i = 0; i < K; i++) inv[i] = 1.0 / (double)(i + 1);
  const lm__shap_tree *st = &s->trees[t];
  for (size_t r = 0; r < n; r++)
    lm__shap_tree_row(v, s, st, x + r * F, xd ? xd + r * F : NULL,
                      phi + r * W + (size_t)st->group * (F + 1), pat_of, pw, zs, os, inv, cs);
}

void lm__shap_rows__scalar(const lmf_view *v, const lm__shap *s, const float *x, const double *xd,
                           size_t n, double *phi, void *scratch) {
  /* trees outer, rows inner: a tree's tables stay in cache for the whole block of rows */
  for (uint32_t t = 0; t < s->n_trees; t++)
    lm__shap_tree_rows__scalar(v, s, t, x, xd, n, phi, scratch);
}
