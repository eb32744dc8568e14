/*
 * numa.h — NUMA topology, worker placement and per-node model replicas (runtime/numa.c).
 *
 * The topology (which CPUs belong to which node, node distances) comes from libnuma, or from a
 * single-node fallback when the kernel reports no NUMA support, or is injected by tests. The
 * placement is a pure function of a topology, the allowed CPUs (runtime/cpus.c) and a thread
 * count: which CPU each pool slot runs on and which nodes therefore need a replica. A replica is
 * a copy of the verified file image in memory allocated on one node, with a view (lmf_view)
 * whose pointers point into the copy and a plan of its own (runtime/plan.h) whose derived
 * layouts are built on that node; sessions and pool workers read the replica of their node,
 * else the model's own plan.
 * Replicas belong to the model (freed by lm_model_close) and are published once, so readers need
 * no lock.
 */
#ifndef LM_RUNTIME_NUMA_H
#define LM_RUNTIME_NUMA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "formats/lmf.h"
#include "kernels/layout_alloc.h"
#include "runtime/plan.h"

#define LM__MAX_NODES 64
#define LM__MAX_CPUS 1024

/* The machine as the placement sees it. Nodes are numbered 0..n_nodes-1 as the kernel numbers
 * them (a node without CPUs may exist: memory-only). */
typedef struct lm__topo {
  int n_nodes;
  int numa;                          /* 1: from libnuma with NUMA support; 0: fallback/injected */
  int n_cpus;                        /* CPU ids 0..n_cpus-1 are described */
  int16_t cpu_node[LM__MAX_CPUS];    /* node of each CPU, -1: absent */
  uint8_t dist[LM__MAX_NODES][LM__MAX_NODES]; /* SLIT distances (10 = local) */
} lm__topo;

/* Fill *t from libnuma, or a single node holding every CPU when numa_available() < 0. */
void lm__topo_discover(lm__topo *t);
/* A synthetic topology for tests: node k holds cpus_per_node[k] consecutive CPU ids; remote
 * distance 20 (local 10). */
void lm__topo_uniform(lm__topo *t, int n_nodes, const int *cpus_per_node);

/* Where a pool's threads run. Slot 0 is the calling thread, slots 1..threads-1 the workers. */
typedef struct lm__placement {
  size_t threads;
  int cpu[LM__MAX_CPUS];             /* CPU of each slot (slot 0: the CPU the caller should be on) */
  int node[LM__MAX_CPUS];            /* its node */
  int n_replica_nodes;               /* nodes with at least one slot */
  int replica_node[LM__MAX_NODES];   /* those nodes, ascending */
  int workers_on_node[LM__MAX_NODES];
} lm__placement;

/* Place `threads` slots on the allowed CPUs (ascending ids, n_allowed ≥ 1): nodes with the most
 * allowed CPUs first (fewest nodes spanned; ties: lower node id), CPUs in ascending order within
 * a node; more slots than allowed CPUs wrap round (an explicit thread count may oversubscribe).
 * CPUs the topology does not know count as node 0. threads is capped at LM__MAX_CPUS. */
void lm__place_threads(const lm__topo *t, const int *allowed, size_t n_allowed, size_t threads,
               lm__placement *p);

/* One node's copy of a model's hot memory: the file image and a plan of its own. */
typedef struct lm__replica {
  int node;
  size_t bytes;       /* bytes of mem (the file image, padded) */
  lmf_view v;         /* pointers into mem */
  lm__plan plan;      /* planned from v: its layouts live on the node (alloc) */
  lm__alloc alloc;    /* node memory for the plan's layouts */
  void *mem;
  int numa_alloc;     /* 1: numa_alloc_onnode (free with numa_free), 0: mmap */
} lm__replica;

/* Per-model state added after open, freed by lm_model_close (lm__model_ext_free). */
typedef struct lm__model_ext {
  _Atomic(lm__replica *) rep[LM__MAX_NODES];
  _Atomic uint64_t ps_per_row; /* scoring time per row on one thread, picoseconds, measured by
                                  the pool on first use (runtime/pool.c); 0: not yet */
  size_t replica_bytes_per_node; /* what one replica costs */
} lm__model_ext;

struct lm_model;
/* The model's ext, created on first use (thread-safe); NULL on out of memory. */
lm__model_ext *lm__model_ext_get(const struct lm_model *m);
/* Free the ext (replicas included); called by lm_model_close. */
void lm__model_ext_free(struct lm_model *m);
/* Bytes one replica of m takes (file image + padding + its plan's layouts, in whole pages). */
size_t lm__replica_cost(const struct lm_model *m);
/* Make the replica of m on node (no-op if present). force_plain: allocate with mmap without
 * binding (the no-NUMA fallback). Returns 0 or a negative LM_E* code. */
int lm__replicate(const struct lm_model *m, int node, int force_plain);
/* The plan (and through it the view) a reader on node should use: its replica's, else the
 * model's. */
const lm__plan *lm__model_plan(const struct lm_model *m, int node);
/* Node of the calling thread's CPU (0 without NUMA support). */
int lm__current_node(void);
/* Node of the pages at [p, p+len) as the kernel reports them (move_pages): the node if all
 * pages sit on one node, -1 if they are spread or not yet present, -2 without NUMA support. */
int lm__pages_node(const void *p, size_t len);

#endif
