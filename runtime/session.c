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
  const lmf_meta *m = s->m->plan.v->meta;
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
  m->plan.link(mt->link, mt->link_param, out, n, mt->num_outputs);
}

/* The planned kernel for n rows (plan p: the model's, or its replica's on this session's node).
 * Its scratch (p->scratch bytes) comes first in the session's block. Kernels without a float64
 * entry (XGBoost semantics: inputs are rounded to float32 before any decision) get a block of
 * rows converted after it; row r of a block writes its outputs at out + r·G, so blocks never
 * overlap. LightGBM kernels compare doubles: rows are used as they are. */
/* Where converted float64 rows start in the scratch block: after the kernel's scratch, on the
 * next 64-byte boundary (lm__session_scratch_need sizes the same layout for the pool). */
LM__INLINE size_t rows_at_(const lm__plan *p) { return (p->scratch + 63) & ~(size_t)63; }

LM__INLINE int margins_(lm_session *s, const lm__plan *p, const void *x, int f64, size_t n,
                        float *out) {
  if (n == 0) return LM_OK; /* no rows (x may be NULL): no scratch, no kernel; NULL + 0 is UB */
  const lmf_view *v = p->v;
  const lm__kernel *k = lm__plan_kernel(p, n);
  const size_t F = v->meta->num_features, G = v->meta->num_outputs;
  const int convert = f64 && !k->f64;
  const size_t block = n < LM_F64_BLOCK ? n : LM_F64_BLOCK;
  const size_t need = convert ? rows_at_(p) + block * F * sizeof(float) : p->scratch;
  uint8_t *sb = NULL;
  if (need && !(sb = lm__session_scratch(s, need)))
    return lm__fail(LM_ENOMEM, "out of memory for %zu bytes of scratch", need);
  void *scratch = p->scratch ? sb : NULL;
  if (!convert) {
    if (f64) k->f64(v, &p->L, x, n, out, scratch);
    else k->f32(v, &p->L, x, n, out, scratch);
    return LM_OK;
  }
  const double *xd = x;
  float *buf = (float *)(sb + rows_at_(p));
  for (size_t r0 = 0; r0 < n; r0 += block) {
    size_t c = n - r0 < block ? n - r0 : block;
    for (size_t i = 0; i < c * F; i++) buf[i] = (float)xd[r0 * F + i];
    /* the kernel for this block's size (a batch's tail block may be small) */
    lm__plan_kernel(p, c)->f32(v, &p->L, buf, c, out + r0 * G, scratch);
  }
  return LM_OK;
}

size_t lm__session_scratch_need(const lm__plan *p, int f64) {
  const lm__kernel *k = p->band[0].k;
  if (!f64 || k->f64) return p->scratch;
  return rows_at_(p) + LM_F64_BLOCK * p->v->meta->num_features * sizeof(float);
}

int lm__predict_check(lm_session *s, const void *x, size_t n, unsigned flags, const void *out) {
  return check_(s, x, n, flags, out);
}
void lm__session_link(const lm_model *m, unsigned flags, float *out, size_t n) {
  link_(m, flags, out, n);
}
int lm__session_margins(lm_session *s, const lm__plan *p, const void *x, int f64, size_t n,
                        float *out) {
  return margins_(s, p, x, f64, n, out);
}

LM__INLINE int lm__predict(lm_session *s, const void *x, int f64, size_t n, unsigned flags,
                           float *out) {
  int rc = check_(s, x, n, flags, out);
  if (rc) return rc;
  rc = margins_(s, lm__model_plan(s->m, s->node), x, f64, n, out);
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
  const lm__plan *p = lm__model_plan(s->m, s->node);
  if (!p->leaf) return lm__fail(LM_EUNSUPPORTED, "leaf indices of a linear model");
  const lmf_view *v = p->v;
  p->leaf(v, x, n, out);
  if (v->meta->decision == LMF_DECISION_LIGHTGBM && v->meta->source_format != LMF_SRC_SKLEARN_PICKLE) {
    /* A LightGBM tree of L leaves keeps internal nodes 0…L−2 and leaf j as id (L−1)+j
     * (formats/import/lightgbm_txt.c); pred_leaf reports j. The tree holds 2L−1 nodes.
     * scikit-learn's trees keep their own node ids, which apply() reports as they are. */
    size_t T = v->meta->n_trees;
    for (size_t r = 0; r < n; r++)
      for (size_t t = 0; t < T; t++) out[r * T + t] -= (v->trees[t].n_nodes - 1) / 2;
  }
  return LM_OK;
}
