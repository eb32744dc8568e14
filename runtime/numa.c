/*
 * numa.c — NUMA topology discovery (libnuma, with a single-node fallback), the placement of a
 * pool's threads on allowed CPUs, and per-node model replicas: a copy of the model's verified
 * file image and derived perfect-tree layout in memory bound to one node, re-verified in place so
 * that its view points into the copy. See numa.h for the contract.
 */
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/numa.h"

/* ---- topology ------------------------------------------------------------------------ */

static void lm__topo_single(lm__topo *t) {
  memset(t, 0, sizeof *t);
  t->n_nodes = 1;
  long n = sysconf(_SC_NPROCESSORS_CONF);
  t->n_cpus = n < 1 ? 1 : n > LM__MAX_CPUS ? LM__MAX_CPUS : (int)n;
  for (int c = 0; c < LM__MAX_CPUS; c++) t->cpu_node[c] = c < t->n_cpus ? 0 : -1;
  t->dist[0][0] = 10;
}

void lm__topo_discover(lm__topo *t) {
  if (numa_available() < 0) {
    lm__topo_single(t);
    return;
  }
  memset(t, 0, sizeof *t);
  int max_node = numa_max_node();
  t->n_nodes = max_node < 0 ? 1 : max_node + 1 > LM__MAX_NODES ? LM__MAX_NODES : max_node + 1;
  t->numa = 1;
  int ncpu = numa_num_configured_cpus();
  t->n_cpus = ncpu < 1 ? 1 : ncpu > LM__MAX_CPUS ? LM__MAX_CPUS : ncpu;
  for (int c = 0; c < LM__MAX_CPUS; c++) {
    int nd = c < t->n_cpus ? numa_node_of_cpu(c) : -1;
    t->cpu_node[c] = (int16_t)(nd >= 0 && nd < t->n_nodes ? nd : c < t->n_cpus ? 0 : -1);
  }
  for (int a = 0; a < t->n_nodes; a++)
    for (int b = 0; b < t->n_nodes; b++) {
      int d = numa_distance(a, b);
      t->dist[a][b] = (uint8_t)(d > 0 && d < 256 ? d : a == b ? 10 : 20);
    }
}

void lm__topo_uniform(lm__topo *t, int n_nodes, const int *cpus_per_node) {
  memset(t, 0, sizeof *t);
  if (n_nodes < 1) n_nodes = 1;
  if (n_nodes > LM__MAX_NODES) n_nodes = LM__MAX_NODES;
  t->n_nodes = n_nodes;
  for (int c = 0; c < LM__MAX_CPUS; c++) t->cpu_node[c] = -1;
  int c = 0;
  for (int k = 0; k < n_nodes; k++)
    for (int i = 0; i < cpus_per_node[k] && c < LM__MAX_CPUS; i++) t->cpu_node[c++] = (int16_t)k;
  t->n_cpus = c;
  for (int a = 0; a < n_nodes; a++)
    for (int b = 0; b < n_nodes; b++) t->dist[a][b] = a == b ? 10 : 20;
}

/* ---- placement ----------------------------------------------------------------------- */

void lm__place_threads(const lm__topo *t, const int *allowed, size_t n_allowed, size_t threads,
               lm__placement *p) {
  memset(p, 0, sizeof *p);
  if (threads < 1) threads = 1;
  if (threads > LM__MAX_CPUS) threads = LM__MAX_CPUS;
  p->threads = threads;
  static const int cpu0 = 0;
  if (n_allowed == 0 || !allowed) {
    allowed = &cpu0;
    n_allowed = 1;
  }
  if (n_allowed > LM__MAX_CPUS) n_allowed = LM__MAX_CPUS;
  /* allowed CPUs per node */
  size_t count[LM__MAX_NODES] = {0};
  for (size_t i = 0; i < n_allowed; i++) {
    int c = allowed[i];
    int nd = c >= 0 && c < LM__MAX_CPUS && t->cpu_node[c] >= 0 ? t->cpu_node[c] : 0;
    count[nd]++;
  }
  /* node order: most allowed CPUs first, then lower id (selection sort over ≤ 64 nodes) */
  int order[LM__MAX_NODES], n_order = 0;
  int used[LM__MAX_NODES] = {0};
  for (;;) {
    int best = -1;
    for (int k = 0; k < LM__MAX_NODES; k++)
      if (!used[k] && count[k] && (best < 0 || count[k] > count[best])) best = k;
    if (best < 0) break;
    used[best] = 1;
    order[n_order++] = best;
  }
  /* the CPU sequence: node by node, ascending within a node */
  size_t seq = 0;
  int seq_cpu[LM__MAX_CPUS], seq_node[LM__MAX_CPUS];
  for (int o = 0; o < n_order; o++)
    for (size_t i = 0; i < n_allowed; i++) {
      int c = allowed[i];
      int nd = c >= 0 && c < LM__MAX_CPUS && t->cpu_node[c] >= 0 ? t->cpu_node[c] : 0;
      if (nd == order[o]) {
        seq_cpu[seq] = c;
        seq_node[seq] = nd;
        seq++;
      }
    }
  int has[LM__MAX_NODES] = {0};
  for (size_t s = 0; s < threads; s++) {
    p->cpu[s] = seq_cpu[s % seq];
    p->node[s] = seq_node[s % seq];
    has[p->node[s]] = 1;
    p->workers_on_node[p->node[s]]++;
  }
  for (int k = 0; k < LM__MAX_NODES; k++)
    if (has[k]) p->replica_node[p->n_replica_nodes++] = k;
}

/* ---- model ext and replicas ---------------------------------------------------------- */

static pthread_mutex_t lm__ext_lock = PTHREAD_MUTEX_INITIALIZER;

lm__model_ext *lm__model_ext_get(const lm_model *cm) {
  lm_model *m = (lm_model *)cm; /* the ext is a cache beside the immutable model */
  lm__model_ext *e = atomic_load_explicit(&m->ext, memory_order_acquire);
  if (e) return e;
  pthread_mutex_lock(&lm__ext_lock);
  e = atomic_load_explicit(&m->ext, memory_order_acquire);
  if (!e) {
    e = calloc(1, sizeof *e);
    if (e) {
      e->replica_bytes_per_node = lm__replica_cost(m);
      atomic_store_explicit(&m->ext, e, memory_order_release);
    }
  }
  pthread_mutex_unlock(&lm__ext_lock);
  return e;
}

static void lm__replica_free(lm__replica *r) {
  if (!r) return;
  if (r->numa_alloc) numa_free(r->mem, r->bytes);
  else munmap(r->mem, r->bytes);
  free(r);
}

void lm__model_ext_free(lm_model *m) {
  lm__model_ext *e = atomic_load(&m->ext);
  if (!e) return;
  for (int k = 0; k < LM__MAX_NODES; k++) lm__replica_free(atomic_load(&e->rep[k]));
  free(e);
  atomic_store(&m->ext, NULL);
}

#define LM__ALIGN64(x) (((x) + 63) & ~(size_t)63)
/* Kernels read up to 64 slots past a perfect tree and LM_PAD_BYTES past any array. */
#define LM__PERFECT_PAD ((size_t)64 * 4 + LM_PAD_BYTES)

static size_t lm__perfect_bytes(const lm_model *m, size_t *ni, size_t *nl) {
  const lm__perfect *p = m->v.perfect;
  *ni = *nl = 0;
  if (!p) return 0;
  *ni = (size_t)m->v.meta->n_trees * p->stride;
  *nl = (size_t)m->v.meta->n_trees * p->n_leaf;
  return 3 * LM__ALIGN64(*ni * 4 + LM__PERFECT_PAD) + 2 * LM__ALIGN64(*nl * 4 + LM__PERFECT_PAD) +
         (p->bits ? LM__ALIGN64(p->bits->block_bytes) : 0);
}

/* Point a copied array at the same offset inside the copied block (NULL stays NULL). */
static void *lm__rebase(const void *p, const void *old_base, void *new_base) {
  return p ? (uint8_t *)new_base + ((const uint8_t *)p - (const uint8_t *)old_base) : NULL;
}

size_t lm__replica_cost(const lm_model *m) {
  size_t ni, nl;
  size_t b = LM__ALIGN64(m->map_len + LM_PAD_BYTES) + lm__perfect_bytes(m, &ni, &nl);
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return (b + pg - 1) / pg * pg;
}

int lm__replicate(const lm_model *m, int node, int force_plain) {
  if (node < 0 || node >= LM__MAX_NODES) return lm__fail(LM_EINVAL, "NUMA node %d out of range", node);
  lm__model_ext *e = lm__model_ext_get(m);
  if (!e) return lm__fail(LM_ENOMEM, "out of memory");
  if (atomic_load_explicit(&e->rep[node], memory_order_acquire)) return LM_OK;
  pthread_mutex_lock(&lm__ext_lock);
  int rc = LM_OK;
  lm__replica *r = NULL;
  if (atomic_load(&e->rep[node])) goto out;
  r = calloc(1, sizeof *r);
  if (!r) {
    rc = lm__fail(LM_ENOMEM, "out of memory");
    goto out;
  }
  r->node = node;
  r->bytes = lm__replica_cost(m);
  int use_numa = !force_plain && numa_available() >= 0 && node <= numa_max_node();
  if (use_numa) {
    r->mem = numa_alloc_onnode(r->bytes, node);
    r->numa_alloc = r->mem != NULL;
  }
  if (!r->mem) {
    void *p = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r->mem = p == MAP_FAILED ? NULL : p;
  }
  if (!r->mem) {
    rc = lm__fail(LM_ENOMEM, "%s: no memory for a replica on node %d (%zu bytes)", m->path, node,
                  r->bytes);
    goto out;
  }
  /* First touch happens here, under the node's binding: the pages land on the node. */
  uint8_t *b = r->mem;
  memcpy(b, m->map, m->map_len);
  memset(b + m->map_len, 0, LM__ALIGN64(m->map_len + LM_PAD_BYTES) - m->map_len);
  rc = lm__lmf_verify(b, m->map_len, m->path, &r->v);
  if (rc != LM_OK) goto out;
  r->v.lgbm_f32 = m->v.lgbm_f32; /* the planned LightGBM kernels (code, not data) */
  r->v.lgbm_f64 = m->v.lgbm_f64;
  r->v.perfect = NULL;
  if (m->v.perfect) {
    size_t ni, nl;
    lm__perfect_bytes(m, &ni, &nl);
    const lm__perfect *src = m->v.perfect;
    r->perfect = *src;
    r->perfect.block = NULL;
    uint8_t *q = b + LM__ALIGN64(m->map_len + LM_PAD_BYTES);
    size_t si = LM__ALIGN64(ni * 4 + LM__PERFECT_PAD), sl = LM__ALIGN64(nl * 4 + LM__PERFECT_PAD);
    /* copy each array with the kernels' read-ahead padding (zero beyond the data) */
    memset(q, 0, 3 * si + 2 * sl);
    r->perfect.split = memcpy(q, src->split, ni * 4);
    r->perfect.thr = memcpy(q + si, src->thr, ni * 4);
    r->perfect.orig = memcpy(q + 2 * si, src->orig, ni * 4);
    r->perfect.leaf = memcpy(q + 3 * si, src->leaf, nl * 4);
    r->perfect.leaf_orig = memcpy(q + 3 * si + sl, src->leaf_orig, nl * 4);
    if (src->bits) { /* the bin-and-bitmask layout: one block, its arrays at fixed offsets */
      const lm__bits *sb = src->bits;
      uint8_t *nb = memcpy(q + 3 * si + 2 * sl, sb->block, sb->block_bytes);
      r->bits = *sb;
      r->bits.block = nb;
      r->bits.thr = lm__rebase(sb->thr, sb->block, nb);
      r->bits.feat = lm__rebase(sb->feat, sb->block, nb);
      r->bits.nodes = lm__rebase(sb->nodes, sb->block, nb);
      r->bits.leafw = lm__rebase(sb->leafw, sb->block, nb);
      r->bits.bottom = lm__rebase(sb->bottom, sb->block, nb);
      r->bits.recs = lm__rebase(sb->recs, sb->block, nb);
      r->bits.recleaf = lm__rebase(sb->recleaf, sb->block, nb);
      r->bits.group = lm__rebase(sb->group, sb->block, nb);
      r->bits.lut = lm__rebase(sb->lut, sb->block, nb);
      r->perfect.bits = &r->bits;
    }
    r->v.perfect = &r->perfect;
  }
  atomic_store_explicit(&e->rep[node], r, memory_order_release);
  r = NULL;
out:
  pthread_mutex_unlock(&lm__ext_lock);
  if (r) {
    if (r->mem) {
      if (r->numa_alloc) numa_free(r->mem, r->bytes);
      else munmap(r->mem, r->bytes);
    }
    free(r);
  }
  return rc;
}

const lmf_view *lm__model_view(const lm_model *m, int node) {
  lm__model_ext *e = atomic_load_explicit(&((lm_model *)m)->ext, memory_order_acquire);
  if (e && node >= 0 && node < LM__MAX_NODES) {
    lm__replica *r = atomic_load_explicit(&e->rep[node], memory_order_acquire);
    if (r) return &r->v;
  }
  return &m->v;
}

int lm__current_node(void) {
  if (numa_available() < 0) return 0;
  int c = sched_getcpu();
  int nd = c < 0 ? 0 : numa_node_of_cpu(c);
  return nd < 0 ? 0 : nd;
}

int lm__pages_node(const void *p, size_t len) {
  if (numa_available() < 0) return -2;
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
  size_t n = ((uintptr_t)p + len - a + pg - 1) / pg;
  if (n == 0) return -1;
  void **pages = malloc(n * sizeof *pages);
  int *status = malloc(n * sizeof *status);
  int node = -1;
  if (pages && status) {
    for (size_t i = 0; i < n; i++) pages[i] = (void *)(a + i * pg);
    if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) == 0) {
      node = status[0];
      for (size_t i = 1; i < n; i++)
        if (status[i] != node) node = -1;
      if (node < 0) node = -1;
    }
  }
  free(pages);
  free(status);
  return node;
}
