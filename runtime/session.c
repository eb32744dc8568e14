/*
 * session.c — sessions and the scoring entry points. A session owns one scratch block from
 * mimalloc (64-byte aligned) that is reused by every call; it grows only when a call needs more
 * than any call before, so after the first call of a given size lm_predict makes no heap
 * allocation and takes no lock. A session reads the replica of the model on the NUMA node of the
 * thread that created it when one exists (runtime/numa.c), else the mapping.
 */
#include <math.h>
#include <mimalloc.h>
#include <stdlib.h>

#include "formats/objective.h"
#include "kernels/link.h"
#include "base/error.h"
#include "runtime/model.h"
#include "runtime/numa.h"
#include "runtime/pool.h"

int lm_session_new(const lm_model *m, lm_session **out) {
  if (!m || !out) return lm__fail(LM_EINVAL, "lm_session_new: NULL argument");
  lm_session *s = mi_zalloc(sizeof *s);
  if (!s) return lm__fail(LM_ENOMEM, "out of memory");
  s->m = m;
  s->node = lm__current_node(); /* this thread's node: its replica, when one exists */
  *out = s;
  return LM_OK;
}

void lm_session_free(lm_session *s) {
  if (!s) return;
  mi_free(s->scratch);
  mi_free(s);
}

void *lm__session_scratch(lm_session *s, size_t bytes) {
  if (bytes <= s->cap) return s->scratch;
  size_t cap = bytes + LM_PAD_BYTES;
  void *p = mi_malloc_aligned(cap, 64);
  if (!p) return NULL;
  mi_free(s->scratch);
  s->scratch = p;
  s->cap = bytes;
  return p;
}

/* The per-call path is written as always-inlined helpers so that lm_predict is one function
 * (a single-row call of a narrow model costs about as much in calls and register saves as in
 * the kernel: see bench-ci); runtime/pool.c reaches the same code through the lm__ wrappers
 * below. */
#define LM__INLINE static inline __attribute__((always_inline))

LM__INLINE int check_(lm_session *s, const void *x, size_t n, unsigned flags, const void *out) {
  if (!s) return lm__fail(LM_EINVAL, "NULL session");
  if (n && (!x || !out)) return lm__fail(LM_EINVAL, "NULL rows or output with %zu rows", n);
  if (flags & ~LM_PREDICT_MARGIN) return lm__fail(LM_EINVAL, "unknown flags 0x%x", flags);
  const lmf_meta *m = s->m->v.meta;
  /* per_row·8 cannot wrap (the verifier bounds the counts); one multiply, no division: this
   * check sits on every call's path */
  size_t per_row = (size_t)m->num_features + m->num_outputs + m->n_trees, total;
  if (__builtin_mul_overflow(n, per_row * 8, &total))
    return lm__fail(LM_ERANGE, "%zu rows overflow the output size", n);
  return LM_OK;
}

LM__INLINE void link_(const lm_model *m, unsigned flags, float *out, size_t n) {
  if (flags & LM_PREDICT_MARGIN) return;
  const lmf_meta *mt = m->v.meta;
  if (n == 1 && mt->num_outputs == 1 && mt->link == LM_LINK_SIGMOID) {
    out[0] = lm__sigmoid(out[0]); /* the one-row binary:logistic call, without the dispatch */
    return;
  }
  m->link(mt->link, mt->link_param, out, n, mt->num_outputs);
}

/* XGBoost models round float64 inputs to float32 before any decision: convert a block of rows
 * into the session's scratch, then run the float32 kernel. Row r of the block writes its outputs
 * at out + r·G, so blocks never overlap. LightGBM compares doubles: rows are used as they are. */
LM__INLINE int margins_(lm_session *s, const lmf_view *v, const void *x, int f64, size_t n,
                        float *out) {
  const lm_model *m = s->m;
  size_t F = v->meta->num_features, G = v->meta->num_outputs;
  if (m->lgb) {
    double *acc = lm__session_scratch(s, sizeof(double) * G);
    if (!acc) return lm__fail(LM_ENOMEM, "out of memory for scratch");
    if (f64) lm__tree_margin_lgbm_f64__scalar(v, x, n, out, acc);
    else lm__tree_margin_lgbm__scalar(v, x, n, out, acc);
    return LM_OK;
  }
  if (!f64) {
    m->margin(v, x, n, out);
    return LM_OK;
  }
  const double *xd = x;
  size_t block = n < LM_F64_BLOCK ? n : LM_F64_BLOCK;
  float *buf = lm__session_scratch(s, block * F * sizeof(float));
  if (n && !buf) return lm__fail(LM_ENOMEM, "out of memory for %zu rows of scratch", block);
  for (size_t r0 = 0; r0 < n; r0 += block) {
    size_t k = n - r0 < block ? n - r0 : block;
    for (size_t i = 0; i < k * F; i++) buf[i] = (float)xd[r0 * F + i];
    m->margin(v, buf, k, out + r0 * G);
  }
  return LM_OK;
}

int lm__predict_check(lm_session *s, const void *x, size_t n, unsigned flags, const void *out) {
  return check_(s, x, n, flags, out);
}
void lm__session_link(const lm_model *m, unsigned flags, float *out, size_t n) {
  link_(m, flags, out, n);
}
int lm__session_margins(lm_session *s, const lmf_view *v, const void *x, int f64, size_t n,
                        float *out) {
  return margins_(s, v, x, f64, n, out);
}

LM__INLINE int lm__predict(lm_session *s, const void *x, int f64, size_t n, unsigned flags,
                           float *out) {
  int rc = check_(s, x, n, flags, out);
  if (rc) return rc;
  rc = margins_(s, lm__model_view(s->m, s->node), x, f64, n, out);
  if (rc) return rc;
  /* The link runs once over all rows: argmax compacts rows to the front, so it must see the
   * whole output at once. */
  link_(s->m, flags, out, n);
  return LM_OK;
}

int lm_predict(lm_session *s, const float *x, size_t n, unsigned flags, float *out) {
  return lm__predict(s, x, 0, n, flags, out);
}

int lm_predict_f64(lm_session *s, const double *x, size_t n, unsigned flags, float *out) {
  return lm__predict(s, x, 1, n, flags, out);
}

int lm_predict_leaf(lm_session *s, const float *x, size_t n, uint32_t *out) {
  int rc = check_(s, x, n, 0, out);
  if (rc) return rc;
  if (!s->m->leaf) return lm__fail(LM_EUNSUPPORTED, "leaf indices of a linear model");
  const lmf_view *v = lm__model_view(s->m, s->node);
  s->m->leaf(v, x, n, out);
  if (s->m->lgb) {
    /* A LightGBM tree of L leaves keeps internal nodes 0…L−2 and leaf j as id (L−1)+j
     * (formats/import/lightgbm_txt.c); pred_leaf reports j. The tree holds 2L−1 nodes. */
    size_t T = v->meta->n_trees;
    for (size_t r = 0; r < n; r++)
      for (size_t t = 0; t < T; t++) out[r * T + t] -= (v->trees[t].n_nodes - 1) / 2;
  }
  return LM_OK;
}
