/*
 * pool.c — the persistent thread pool behind lm_predict_pool (the contract is in lmrt.h).
 *
 * lm_pool_new discovers the allowed CPUs (runtime/cpus.c) and the NUMA topology, places the
 * threads (runtime/numa.c: slot 0 is the caller, slots 1.. the workers), starts the workers
 * pinned (to their node's allowed CPUs, or to one CPU each), and times the round trip of waking a sleeping worker for one block.
 * Between batches a worker spins briefly and then sleeps on a futex (the batch generation).
 *
 * A batch: the caller writes the job, publishes it in one 64-bit claim word (generation 32 bits,
 * block count 16, next block 16), bumps the generation futex, wakes the workers and then claims
 * blocks itself. A block is claimed by a compare-and-swap on the claim word that also checks the
 * generation, so a worker that wakes late (even after the batch is over and the next one is
 * being written) can never take a block of a batch it did not see published, and job fields are
 * only ever used by a thread holding a claimed block. The caller waits until the number of
 * finished blocks equals the block count — not for every worker to wake up: a batch the caller
 * finishes alone costs one FUTEX_WAKE, not a wake-up round trip.
 *
 * Blocks are contiguous runs of rows whose starts are multiples of LM_F64_BLOCK (256) rows; a
 * last block shorter than 256 rows joins the one before, so no block is shorter than 256 rows
 * unless the whole batch is. That makes every kernel call compute what a single-threaded call
 * computes, bit for bit: lm_predict_f64 converts rows in 256-row blocks from row 0, so the same
 * blocks arise; and a kernel's arithmetic may depend on the batch size only below 256 rows (the
 * linear kernels' single-row path takes n < 16), which tests/test_pool.c checks for every model
 * kind. The output transform runs per block, except argmax (multi:softmax), which compacts rows
 * and so runs once on the caller at the end.
 *
 * No allocation on the scoring path: worker sessions (scratch arenas) live as long as the pool
 * and grow only the first time a larger block needs it; the first use of a model calibrates it
 * (a session and a row buffer, once) and makes its replicas.
 */
#include <errno.h>
#include <linux/futex.h>
#include <mimalloc.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "formats/objective.h"
#include "base/error.h"
#include "runtime/model.h"
#include "runtime/numa.h"
#include "runtime/pool.h"

#define LM__SPIN_NS 50000 /* a worker spins this long after a batch before sleeping */
#define LM__MIN_SPLIT_ROWS (2 * LM_F64_BLOCK)
#define LM__CAL_TRIALS 9

typedef struct lm__worker {
  pthread_t th;
  struct lm_pool *p;
  size_t slot;
  lm_session s; /* m is set per batch; scratch grows on the worker's node */
  int started;
} lm__worker;

/* The job of the current batch. Atomic (relaxed) because a late worker may read it while the
 * caller writes the next one; it then fails its claim and discards what it read. */
typedef struct lm__job {
  _Atomic(const lm_model *) m; /* NULL: calibration, blocks do nothing */
  _Atomic(const void *) x;
  _Atomic(float *) out;
  _Atomic size_t n, blk;
  _Atomic unsigned flags;
  _Atomic int f64, link_per_block;
  _Atomic size_t grow; /* non-zero: each worker takes one block and grows its scratch to this */
  _Atomic(const struct lm__shap *) shap; /* contributions (lm_predict_contrib_pool): the */
  _Atomic int contrib;                   /* model's TreeSHAP table (NULL: linear model) */
} lm__job;

struct lm_pool {
  size_t threads;
  lm__worker *w; /* threads - 1 workers */
  lm__placement place;
  lm__topo topo;
  lm_pool_options opt;
  size_t cpus_allowed;
  int allowed[LM__MAX_CPUS]; /* the allowed CPUs (the first LM__MAX_CPUS) */
  double wake_ns;
  pthread_mutex_t lock; /* one batch at a time */
  _Atomic size_t replica_bytes;

  _Atomic uint32_t gen;   /* futex: the generation of the latest batch (workers sleep on it) */
  _Atomic uint64_t claim; /* gen << 32 | blocks << 16 | next block */
  _Atomic uint32_t done;  /* futex: finished blocks of the current batch (the caller waits) */
  _Atomic int stop;
  _Atomic int err;
  uint32_t last_gen;      /* the caller's counter (under lock) */
  size_t worker_scratch;  /* scratch bytes every worker's session is known to hold (under lock) */
  lm__job job;
};

static long lm__futex(_Atomic uint32_t *addr, int op, uint32_t val) {
  return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static uint64_t lm__now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void lm__relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

#define LM__CLAIM(g, nb, b) ((uint64_t)(g) << 32 | (uint64_t)(nb) << 16 | (uint64_t)(b))
#define LM__CLAIM_GEN(c) ((uint32_t)((c) >> 32))
#define LM__CLAIM_NB(c) ((uint32_t)((c) >> 16) & 0xFFFFu)
#define LM__CLAIM_NEXT(c) ((uint32_t)(c) & 0xFFFFu)

/* Claim and score blocks of batch g until none is left (or g is over). */
static void lm__work(lm_pool *p, lm_session *s, int node, uint32_t g) {
  uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
  if (LM__CLAIM_GEN(c) != g) return;
  const lm_model *m = atomic_load_explicit(&p->job.m, memory_order_relaxed);
  const char *x = atomic_load_explicit(&p->job.x, memory_order_relaxed);
  float *out = atomic_load_explicit(&p->job.out, memory_order_relaxed);
  size_t n = atomic_load_explicit(&p->job.n, memory_order_relaxed);
  size_t blk = atomic_load_explicit(&p->job.blk, memory_order_relaxed);
  unsigned flags = atomic_load_explicit(&p->job.flags, memory_order_relaxed);
  int f64 = atomic_load_explicit(&p->job.f64, memory_order_relaxed);
  int link = atomic_load_explicit(&p->job.link_per_block, memory_order_relaxed);
  size_t grow = atomic_load_explicit(&p->job.grow, memory_order_relaxed);
  int contrib = atomic_load_explicit(&p->job.contrib, memory_order_relaxed);
  const struct lm__shap *sh = atomic_load_explicit(&p->job.shap, memory_order_relaxed);
  for (;;) {
    uint32_t nb = LM__CLAIM_NB(c), b = LM__CLAIM_NEXT(c);
    if (LM__CLAIM_GEN(c) != g || b >= nb) return;
    if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel,
                                               memory_order_acquire))
      continue;
    /* Block b of batch g is ours: g is not over, so what we read above is g's job. */
    if (grow) {
      /* Sizing the scratch ahead of batches, on the worker's own thread (and node): one block
       * per worker, so every worker takes one. */
      if (!lm__session_scratch(s, grow)) atomic_store(&p->err, LM_ENOMEM);
      if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == nb)
        lm__futex(&p->done, FUTEX_WAKE, 1);
      return;
    }
    if (m && contrib) {
      s->m = m;
      size_t F = m->v.meta->num_features, W = lm_model_contrib_width(m);
      size_t r0 = (size_t)b * blk, k = b + 1 == nb ? n - r0 : blk;
      int rc = lm__contrib_rows(s, lm__model_plan(m, node), sh,
                                x + r0 * F * (f64 ? sizeof(double) : sizeof(float)), f64, k,
                                out + r0 * W);
      if (rc) atomic_store(&p->err, rc);
    } else if (m) {
      s->m = m;
      const lm__plan *pl = lm__model_plan(m, node);
      size_t F = pl->v->meta->num_features, G = pl->v->meta->num_outputs;
      size_t r0 = (size_t)b * blk, k = b + 1 == nb ? n - r0 : blk;
      int rc = lm__session_margins(s, pl, x + r0 * F * (f64 ? sizeof(double) : sizeof(float)),
                                   f64, k, out + r0 * G);
      if (rc) atomic_store(&p->err, rc);
      else if (link) lm__session_link(m, flags, out + r0 * G, k);
    }
    if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) + 1 == nb)
      lm__futex(&p->done, FUTEX_WAKE, 1);
    c = atomic_load_explicit(&p->claim, memory_order_acquire);
  }
}

static void *lm__worker_main(void *arg) {
  lm__worker *w = arg;
  lm_pool *p = w->p;
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
    if (g == seen) {
      uint64_t t0 = lm__now_ns();
      for (int i = 0; (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen; i++) {
        if ((i & 63) == 63 && lm__now_ns() - t0 > LM__SPIN_NS) {
          lm__futex(&p->gen, FUTEX_WAIT, seen);
          t0 = lm__now_ns();
        } else {
          lm__relax();
        }
      }
    }
    seen = g;
    if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
    lm__work(p, &w->s, p->place.node[w->slot], g);
  }
  return NULL;
}

/* Publish the job written in p->job as nb blocks, take part (unless caller is NULL), and wait
 * until every block is finished. */
static void lm__dispatch(lm_pool *p, uint32_t nb, lm_session *caller, int caller_node) {
  uint32_t g = ++p->last_gen;
  if (g == 0) g = ++p->last_gen; /* 0 is the workers' initial "seen" */
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  atomic_store_explicit(&p->claim, LM__CLAIM(g, nb, 0), memory_order_release);
  atomic_store_explicit(&p->gen, g, memory_order_release);
  lm__futex(&p->gen, FUTEX_WAKE, (uint32_t)(p->threads - 1));
  if (caller) lm__work(p, caller, caller_node, g);
  uint32_t d;
  for (int i = 0; (d = atomic_load_explicit(&p->done, memory_order_acquire)) != nb; i++) {
    if (i < 2000) lm__relax();
    else lm__futex(&p->done, FUTEX_WAIT, d);
  }
}

/* Make every worker's scratch hold `need` bytes (allocating on the worker's thread), so that no
 * block of a later batch grows it, whichever worker takes it. */
static int lm__grow_workers(lm_pool *p, size_t need) {
  if (need <= p->worker_scratch) return LM_OK;
  if (p->threads > 1) {
    atomic_store_explicit(&p->job.m, NULL, memory_order_relaxed);
    atomic_store_explicit(&p->job.grow, need, memory_order_relaxed);
    atomic_store(&p->err, 0);
    lm__dispatch(p, (uint32_t)(p->threads - 1), NULL, 0);
    atomic_store_explicit(&p->job.grow, 0, memory_order_relaxed);
    int rc = atomic_load(&p->err);
    if (rc) return lm__fail(rc, "lm_pool: out of memory for %zu bytes of worker scratch", need);
  }
  p->worker_scratch = need;
  return LM_OK;
}

static int lm__cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The wake-up round trip: one empty block for a sleeping worker to take (median of trials). */
static double lm__time_wake(lm_pool *p) {
  double t[LM__CAL_TRIALS];
  atomic_store(&p->job.m, NULL);
  for (int i = 0; i < LM__CAL_TRIALS; i++) {
    struct timespec nap = {0, 2 * LM__SPIN_NS}; /* let the workers fall asleep */
    nanosleep(&nap, NULL);
    uint64_t t0 = lm__now_ns();
    lm__dispatch(p, 1, NULL, 0);
    t[i] = (double)(lm__now_ns() - t0);
  }
  qsort(t, LM__CAL_TRIALS, sizeof t[0], lm__cmp_double);
  return t[LM__CAL_TRIALS / 2];
}

int lm_pool_new(const lm_pool_options *opts, lm_pool **out) {
  if (!out) return lm__fail(LM_EINVAL, "lm_pool_new: NULL argument");
  *out = NULL;
  lm_pool_options o = {.threads = 0, .pin = LM_POOL_PIN_NODE, .numa = LM_POOL_NUMA_AUTO};
  if (opts) o = *opts;
  if (o.pin < LM_POOL_PIN_NONE || o.pin > LM_POOL_PIN_NODE)
    return lm__fail(LM_EINVAL, "lm_pool_new: pin must be 0, 1 or 2, not %d", o.pin);
  if (o.numa < LM_POOL_NUMA_OFF || o.numa > LM_POOL_NUMA_FORCE)
    return lm__fail(LM_EINVAL, "lm_pool_new: numa must be 0, 1 or 2, not %d", o.numa);
  if (o.threads > LM__MAX_CPUS)
    return lm__fail(LM_ERANGE, "lm_pool_new: %zu threads (at most %d)", o.threads, LM__MAX_CPUS);
  lm_pool *p = mi_zalloc_aligned(sizeof *p, 64);
  if (!p) return lm__fail(LM_ENOMEM, "out of memory");
  const char *env = getenv("LM_POOL_MIN_ROWS");
  if (!o.min_parallel_rows && env && *env) {
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (!*end && v > 0) o.min_parallel_rows = (size_t)v;
  }
  p->opt = o;
  pthread_mutex_init(&p->lock, NULL);
  size_t na = lm_cpus_allowed(p->allowed, LM__MAX_CPUS);
  size_t listed = na < LM__MAX_CPUS ? na : LM__MAX_CPUS;
  p->cpus_allowed = na;
  p->threads = o.threads ? o.threads : na;
  lm__topo_discover(&p->topo);
  lm__place_threads(&p->topo, p->allowed, listed, p->threads, &p->place);

  size_t nw = p->threads - 1;
  int rc = LM_OK;
  if (nw) {
    p->w = mi_zalloc(nw * sizeof *p->w);
    if (!p->w) rc = lm__fail(LM_ENOMEM, "out of memory");
  }
  for (size_t i = 0; rc == LM_OK && i < nw; i++) {
    lm__worker *w = &p->w[i];
    w->p = p;
    w->slot = i + 1;
    w->s.node = p->place.node[w->slot];
    pthread_attr_t at;
    pthread_attr_init(&at);
    if (o.pin) {
      cpu_set_t set;
      CPU_ZERO(&set);
      if (o.pin == LM_POOL_PIN_CPU) {
        CPU_SET(p->place.cpu[w->slot], &set);
      } else { /* the allowed CPUs of the worker's node */
        for (size_t k = 0; k < listed; k++) {
          int c = p->allowed[k];
          int nd = c < LM__MAX_CPUS && p->topo.cpu_node[c] >= 0 ? p->topo.cpu_node[c] : 0;
          if (nd == p->place.node[w->slot]) CPU_SET(c, &set);
        }
        if (!CPU_COUNT(&set)) CPU_SET(p->place.cpu[w->slot], &set);
      }
      pthread_attr_setaffinity_np(&at, sizeof set, &set);
    }
    int e = pthread_create(&w->th, &at, lm__worker_main, w);
    if (e && o.pin) { /* the CPU may have left our set meanwhile: run unpinned */
      pthread_attr_destroy(&at);
      pthread_attr_init(&at);
      e = pthread_create(&w->th, &at, lm__worker_main, w);
    }
    pthread_attr_destroy(&at);
    if (e) rc = lm__fail(LM_ENOMEM, "lm_pool_new: cannot create worker %zu: %s", i + 1, strerror(e));
    else w->started = 1;
  }
  if (rc != LM_OK) {
    lm_pool_free(p);
    return rc;
  }
  if (nw) p->wake_ns = lm__time_wake(p);
  *out = p;
  return LM_OK;
}

void lm_pool_free(lm_pool *p) {
  if (!p) return;
  atomic_store(&p->stop, 1);
  atomic_fetch_add(&p->gen, 1);
  lm__futex(&p->gen, FUTEX_WAKE, INT32_MAX);
  for (size_t i = 0; p->w && i < p->threads - 1; i++) {
    if (p->w[i].started) pthread_join(p->w[i].th, NULL);
    mi_free(p->w[i].s.scratch);
  }
  mi_free(p->w);
  pthread_mutex_destroy(&p->lock);
  mi_free(p);
}

size_t lm_pool_num_threads(const lm_pool *p) { return p ? p->threads : 0; }

int lm_pool_thread_cpu(const lm_pool *p, size_t slot) {
  return p && slot < p->threads ? p->place.cpu[slot] : -1;
}

/* Single-thread time per row of m (picoseconds): best of three runs over synthetic rows. */
static uint64_t lm__time_model(const lm_model *m) {
  size_t F = m->v.meta->num_features, G = m->v.meta->num_outputs;
  size_t rows = ((size_t)1 << 20) / (F ? F : 1);
  rows = rows > LM_F64_BLOCK ? LM_F64_BLOCK : rows < 16 ? 16 : rows;
  float *x = malloc(rows * F * sizeof *x);
  float *out = malloc(rows * G * sizeof *out);
  lm_session *s = NULL;
  uint64_t best = UINT64_MAX;
  if (x && out && lm_session_new(m, &s) == 0) {
    uint32_t st = 12345;
    for (size_t i = 0; i < rows * F; i++) {
      st = st * 1664525u + 1013904223u;
      x[i] = (float)(st >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
    for (int t = 0; t < 4; t++) {
      uint64_t t0 = lm__now_ns();
      if (lm__session_margins(s, lm__model_plan(m, s->node), x, 0, rows, out)) break;
      uint64_t d = lm__now_ns() - t0;
      if (t && d < best) best = d; /* the first run warms caches */
    }
  }
  lm_session_free(s);
  free(x);
  free(out);
  if (best == UINT64_MAX) return 1000; /* 1 ns/row: splits only large batches anyway */
  uint64_t ps = best * 1000 / rows;
  return ps ? ps : 1;
}

static int lm__wants_replicas(const lm_pool *p) {
  return p->opt.numa == LM_POOL_NUMA_FORCE ||
         (p->opt.numa == LM_POOL_NUMA_AUTO && p->topo.numa && p->topo.n_nodes > 1);
}

/* Calibrate m (once per model) and make this pool's replicas of it. */
static int lm__prepare(lm_pool *p, const lm_model *m, int replicas) {
  lm__model_ext *e = lm__model_ext_get(m);
  if (!e) return lm__fail(LM_ENOMEM, "out of memory");
  if (!atomic_load(&e->ps_per_row)) atomic_store(&e->ps_per_row, lm__time_model(m));
  if (!replicas || !lm__wants_replicas(p)) return LM_OK;
  for (int i = 0; i < p->place.n_replica_nodes; i++) {
    int node = p->place.replica_node[i];
    if (atomic_load(&e->rep[node])) continue;
    size_t cost = e->replica_bytes_per_node;
    size_t used = atomic_load(&p->replica_bytes);
    if (p->opt.max_replica_bytes && used + cost > p->opt.max_replica_bytes) {
      if (getenv("LM_DEBUG"))
        fprintf(stderr, "lmrt: pool: no replica of %s on node %d: %zu + %zu bytes > %zu\n",
                m->path, node, used, cost, p->opt.max_replica_bytes);
      continue;
    }
    int rc = lm__replicate(m, node, !p->topo.numa);
    if (rc) return rc;
    atomic_fetch_add(&p->replica_bytes, cost);
  }
  return LM_OK;
}

int lm_pool_add_model(lm_pool *p, const lm_model *m) {
  if (!p || !m) return lm__fail(LM_EINVAL, "lm_pool_add_model: NULL argument");
  pthread_mutex_lock(&p->lock);
  int rc = lm__prepare(p, m, 1);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

static size_t lm__min_rows(const lm_pool *p, const lm_model *m) {
  if (p->threads < 2) return SIZE_MAX;
  if (p->opt.min_parallel_rows) return p->opt.min_parallel_rows;
  lm__model_ext *e = atomic_load_explicit(&((lm_model *)m)->ext, memory_order_acquire);
  uint64_t ps = e ? atomic_load_explicit(&e->ps_per_row, memory_order_relaxed) : 0;
  if (!ps || p->threads < 2) return SIZE_MAX;
  /* Split when n·t·(1 − 1/T) ≥ 2 × the wake-up round trip. */
  double t = (double)ps / 1000.0, T = (double)p->threads;
  double rows = 2.0 * p->wake_ns / (t * (1.0 - 1.0 / T));
  if (rows < LM__MIN_SPLIT_ROWS) return LM__MIN_SPLIT_ROWS;
  if (rows > 1e15) return (size_t)1e15;
  return (size_t)rows;
}

/* Before a batch: the model calibrated and its replicas made (lm__prepare), once
 * per model, when the pool has threads to share it with. Inlined (and the two below): the
 * scoring path keeps the code it had when this was written out in both entry points. */
#define LM__POOL_INLINE static inline __attribute__((always_inline))
LM__POOL_INLINE int lm__pool_ready(lm_pool *p, const lm_model *m) {
  lm__model_ext *e = atomic_load_explicit(&((lm_model *)m)->ext, memory_order_acquire);
  if (p->threads < 2 || (e && atomic_load_explicit(&e->ps_per_row, memory_order_relaxed)))
    return LM_OK;
  pthread_mutex_lock(&p->lock);
  int rc = lm__prepare(p, m, 1);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

/* Take p->lock and make `need` bytes of scratch ready on the session and every worker, so that
 * no block of the batch allocates. LM_OK with the lock held, or the error with it released. */
LM__POOL_INLINE int lm__pool_lock_scratch(lm_pool *p, lm_session *s, size_t need) {
  int rc = LM_OK;
  pthread_mutex_lock(&p->lock);
  if (need && !lm__session_scratch(s, need)) rc = lm__fail(LM_ENOMEM, "out of memory for scratch");
  if (rc == LM_OK && need) rc = lm__grow_workers(p, need);
  if (rc) pthread_mutex_unlock(&p->lock);
  return rc;
}

/* The batch every thread reads (under p->lock, before lm__dispatch). */
LM__POOL_INLINE void lm__pool_job(lm_pool *p, const lm_model *m, const void *x, float *out,
                                  size_t n, size_t blk, unsigned flags, int f64,
                                  int link_per_block, int contrib) {
  atomic_store_explicit(&p->job.m, m, memory_order_relaxed);
  atomic_store_explicit(&p->job.x, x, memory_order_relaxed);
  atomic_store_explicit(&p->job.out, out, memory_order_relaxed);
  atomic_store_explicit(&p->job.n, n, memory_order_relaxed);
  atomic_store_explicit(&p->job.blk, blk, memory_order_relaxed);
  atomic_store_explicit(&p->job.flags, flags, memory_order_relaxed);
  atomic_store_explicit(&p->job.f64, f64, memory_order_relaxed);
  atomic_store_explicit(&p->job.link_per_block, link_per_block, memory_order_relaxed);
  atomic_store_explicit(&p->job.contrib, contrib, memory_order_relaxed);
  atomic_store(&p->err, 0);
}

static int lm__predict_pool(lm_pool *p, lm_session *s, const void *x, int f64, size_t n,
                            unsigned flags, float *out) {
  if (!p) return lm__fail(LM_EINVAL, "NULL pool");
  int rc = lm__predict_check(s, x, n, flags, out);
  if (rc) return rc;
  const lm_model *m = s->m;
  if ((rc = lm__pool_ready(p, m))) return rc;
  if (p->threads < 2 || n < lm__min_rows(p, m))
    return f64 ? lm_predict_f64(s, x, n, flags, out) : lm_predict(s, x, n, flags, out);

  /* Scratch a block may need (float64 rows are converted 256 at a time; LightGBM sums in
   * doubles), made ready on every thread before the batch: after the first batch of a model,
   * no block allocates, whichever thread takes it. */
  if ((rc = lm__pool_lock_scratch(p, s, lm__session_scratch_need(&m->plan, f64)))) return rc;
  /* about 16 blocks per thread: the last block to finish leaves the others idle for at most
   * ~1/16 of a thread's share (a CPU taken by another process slows one block, not a share) */
  size_t blk = (n + 16 * p->threads - 1) / (16 * p->threads);
  blk = (blk + LM_F64_BLOCK - 1) / LM_F64_BLOCK * LM_F64_BLOCK;
  /* A last block shorter than 256 rows joins the one before: no block < 256 rows. */
  size_t nb = (n + blk - 1) / blk;
  if (nb > 1 && n - (nb - 1) * blk < LM_F64_BLOCK) nb--;
  int link_per_block = !(flags & LM_PREDICT_MARGIN) && m->v.meta->link != LM_LINK_ARGMAX;
  lm__pool_job(p, m, x, out, n, blk, flags, f64, link_per_block, 0);
  lm__dispatch(p, (uint32_t)nb, s, s->node);
  rc = atomic_load(&p->err);
  pthread_mutex_unlock(&p->lock);
  if (rc) return lm__fail(rc, "lm_predict_pool: a thread failed: %s", lm_strerror(rc));
  if (!link_per_block) lm__session_link(m, flags, out, n);
  return LM_OK;
}

int lm_predict_pool(lm_pool *p, lm_session *s, const float *x, size_t n, unsigned flags,
                    float *out) {
  return lm__predict_pool(p, s, x, 0, n, flags, out);
}

int lm_predict_pool_f64(lm_pool *p, lm_session *s, const double *x, size_t n, unsigned flags,
                        float *out) {
  return lm__predict_pool(p, s, x, 1, n, flags, out);
}

/* Contributions with the pool's threads. A row's contributions depend on it alone, so blocks
 * need no alignment: ~16 per thread of at least LM__CONTRIB_MIN_BLOCK rows. A contribution row
 * costs tens to hundreds of predictions (TreeSHAP walks every leaf), so batches are split from
 * an eighth of the model's lm_predict_pool threshold (at least 2 blocks' worth), or from
 * lm_pool_options.min_parallel_rows when set. Worker scratch grows once, ahead of the batch. */
#define LM__CONTRIB_MIN_BLOCK 16
static int lm__contrib_pool(lm_pool *p, lm_session *s, const void *x, int f64, size_t n,
                            float *out) {
  if (!p) return lm__fail(LM_EINVAL, "NULL pool");
  const struct lm__shap *sh;
  int rc = lm__contrib_prepare(s, x, n, out, &sh);
  if (rc) return rc;
  const lm_model *m = s->m;
  if ((rc = lm__pool_ready(p, m))) return rc;
  size_t min_rows = p->opt.min_parallel_rows ? p->opt.min_parallel_rows : lm__min_rows(p, m) / 8;
  if (min_rows < 2 * LM__CONTRIB_MIN_BLOCK) min_rows = 2 * LM__CONTRIB_MIN_BLOCK;
  if (p->threads < 2 || n < min_rows)
    return lm__contrib_rows(s, lm__model_plan(m, s->node), sh, x, f64, n, out);

  if ((rc = lm__pool_lock_scratch(p, s, lm__contrib_scratch_need(m, sh, f64)))) return rc;
  size_t blk = (n + 16 * p->threads - 1) / (16 * p->threads);
  if (blk < LM__CONTRIB_MIN_BLOCK) blk = LM__CONTRIB_MIN_BLOCK;
  size_t nb = (n + blk - 1) / blk;
  if (nb > 0xFFFFu) { /* the claim word counts blocks in 16 bits */
    blk = (n + 0xFFFEu) / 0xFFFFu;
    nb = (n + blk - 1) / blk;
  }
  atomic_store_explicit(&p->job.shap, sh, memory_order_relaxed);
  lm__pool_job(p, m, x, out, n, blk, 0u, f64, 0, 1);
  lm__dispatch(p, (uint32_t)nb, s, s->node);
  atomic_store_explicit(&p->job.contrib, 0, memory_order_relaxed);
  rc = atomic_load(&p->err);
  pthread_mutex_unlock(&p->lock);
  if (rc) return lm__fail(rc, "lm_predict_contrib_pool: a thread failed: %s", lm_strerror(rc));
  return LM_OK;
}

int lm_predict_contrib_pool(lm_pool *p, lm_session *s, const float *x, size_t n, float *out) {
  return lm__contrib_pool(p, s, x, 0, n, out);
}

int lm_predict_contrib_pool_f64(lm_pool *p, lm_session *s, const double *x, size_t n,
                                float *out) {
  return lm__contrib_pool(p, s, x, 1, n, out);
}

int lm_pool_get_info(const lm_pool *p, const lm_model *m, lm_pool_info *info) {
  if (!p || !info) return lm__fail(LM_EINVAL, "lm_pool_get_info: NULL argument");
  memset(info, 0, sizeof *info);
  info->threads = p->threads;
  info->cpus_allowed = p->cpus_allowed;
  info->numa_available = p->topo.numa;
  info->nodes = p->topo.n_nodes;
  info->nodes_used = p->place.n_replica_nodes;
  info->wake_ns = p->wake_ns;
  info->pool_replica_bytes = atomic_load(&((lm_pool *)p)->replica_bytes);
  if (!m) return LM_OK;
  lm__model_ext *e = atomic_load(&((lm_model *)m)->ext);
  info->replica_bytes = lm__replica_cost(m);
  if (!e) return LM_OK;
  info->ns_per_row = (double)atomic_load(&e->ps_per_row) / 1000.0;
  size_t mr = lm__min_rows(p, m);
  info->min_parallel_rows = mr == SIZE_MAX ? 0 : mr;
  for (int i = 0; i < p->place.n_replica_nodes; i++) {
    int node = p->place.replica_node[i];
    if (atomic_load(&e->rep[node])) info->replicas++;
    else if (lm__wants_replicas(p)) info->replicas_skipped++;
  }
  return LM_OK;
}

size_t lm_model_replica_bytes(const lm_model *m) { return m ? lm__replica_cost(m) : 0; }

int lm_model_replicate_local(const lm_model *m, int force) {
  if (!m) return lm__fail(LM_EINVAL, "lm_model_replicate_local: NULL model");
  int numa = numa_available() >= 0 && numa_num_configured_nodes() > 1;
  if (!numa && !force) return 0;
  int rc = lm__replicate(m, lm__current_node(), !numa);
  return rc < 0 ? rc : 1;
}
