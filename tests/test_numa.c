/*
 * test_numa.c — NUMA placement and replicas (runtime/numa.h).
 *
 * Placement is tested on injected topologies: 2 and 4 nodes, uneven CPU sets, CPUs removed by a
 * cpuset, more threads than CPUs, CPUs the topology does not know. On this machine, a replica
 * forced onto a node has every page on that node as the kernel reports it (move_pages, and
 * get_mempolicy with MPOL_F_NODE | MPOL_F_ADDR page by page), its view points into the copy,
 * sessions and pools read it, and scores are bit-identical to the mapping's. Without kernel NUMA
 * support the fallback (one node, unbound copy) is checked instead.
 */
#include <math.h>
#include <numa.h>
#include <numaif.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "lmrt.h"
#include "runtime/model.h"
#include "kernels/tree_bits.h"
#include "kernels/tree_perfect.h"
#include "runtime/numa.h"

static char tmpdir[] = "/tmp/lm_test_numa_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"

/* ---- placement on injected topologies ----------------------------------------------------- */

static void expect_slots(const lm__placement *p, const int *cpus, const int *nodes, size_t n) {
  assert_int_equal(p->threads, n);
  for (size_t i = 0; i < n; i++) {
    if (p->cpu[i] != cpus[i] || p->node[i] != nodes[i])
      fail_msg("slot %zu: cpu %d node %d, expected cpu %d node %d", i, p->cpu[i], p->node[i],
               cpus[i], nodes[i]);
  }
}

static void test_place_two_nodes(void **state) {
  (void)state;
  lm__topo t;
  lm__topo_uniform(&t, 2, (int[]){4, 4}); /* node 0: CPUs 0-3, node 1: CPUs 4-7 */
  assert_int_equal(t.n_cpus, 8);
  assert_int_equal(t.cpu_node[5], 1);
  int all[] = {0, 1, 2, 3, 4, 5, 6, 7};
  lm__placement p;
  /* 3 threads fit on one node: node 0 (tie broken by the lower id), one replica */
  lm__place_threads(&t, all, 8, 3, &p);
  expect_slots(&p, (int[]){0, 1, 2}, (int[]){0, 0, 0}, 3);
  assert_int_equal(p.n_replica_nodes, 1);
  assert_int_equal(p.replica_node[0], 0);
  /* 8 threads: both nodes, 4 each, two replicas */
  lm__place_threads(&t, all, 8, 8, &p);
  expect_slots(&p, all, (int[]){0, 0, 0, 0, 1, 1, 1, 1}, 8);
  assert_int_equal(p.n_replica_nodes, 2);
  assert_int_equal(p.workers_on_node[0], 4);
  assert_int_equal(p.workers_on_node[1], 4);
  /* uneven cpuset: node 0 keeps CPU 0, node 1 keeps 5-7: node 1 is filled first */
  int uneven[] = {0, 5, 6, 7};
  lm__place_threads(&t, uneven, 4, 2, &p);
  expect_slots(&p, (int[]){5, 6}, (int[]){1, 1}, 2);
  assert_int_equal(p.n_replica_nodes, 1);
  assert_int_equal(p.replica_node[0], 1);
  lm__place_threads(&t, uneven, 4, 4, &p);
  expect_slots(&p, (int[]){5, 6, 7, 0}, (int[]){1, 1, 1, 0}, 4);
  assert_int_equal(p.n_replica_nodes, 2);
  assert_int_equal(p.replica_node[0], 0);
  assert_int_equal(p.replica_node[1], 1);
  /* an explicit count above the allowed CPUs wraps round them */
  lm__place_threads(&t, uneven, 4, 6, &p);
  expect_slots(&p, (int[]){5, 6, 7, 0, 5, 6}, (int[]){1, 1, 1, 0, 1, 1}, 6);
  assert_int_equal(p.workers_on_node[1], 5);
}

static void test_place_four_nodes_cpuset(void **state) {
  (void)state;
  lm__topo t;
  /* 4 nodes of 4 CPUs (0-3, 4-7, 8-11, 12-15); a cpuset removed CPUs 0-1, 8-11 and 13 */
  lm__topo_uniform(&t, 4, (int[]){4, 4, 4, 4});
  int allowed[] = {2, 3, 4, 5, 6, 7, 12, 14, 15};
  lm__placement p;
  /* node 1 (4 allowed) first, then node 3 (3), then node 0 (2); node 2 never */
  lm__place_threads(&t, allowed, 9, 9, &p);
  expect_slots(&p, (int[]){4, 5, 6, 7, 12, 14, 15, 2, 3}, (int[]){1, 1, 1, 1, 3, 3, 3, 0, 0}, 9);
  assert_int_equal(p.n_replica_nodes, 3);
  assert_int_equal(p.replica_node[0], 0);
  assert_int_equal(p.replica_node[1], 1);
  assert_int_equal(p.replica_node[2], 3);
  assert_int_equal(p.workers_on_node[2], 0);
  /* 5 threads: node 1 whole, one on node 3 */
  lm__place_threads(&t, allowed, 9, 5, &p);
  expect_slots(&p, (int[]){4, 5, 6, 7, 12}, (int[]){1, 1, 1, 1, 3}, 5);
  assert_int_equal(p.n_replica_nodes, 2);
  /* uneven nodes: sizes 2, 6, 1, 3 and every CPU allowed: biggest node first */
  lm__topo_uniform(&t, 4, (int[]){2, 6, 1, 3}); /* 0-1 | 2-7 | 8 | 9-11 */
  int all[12];
  for (int i = 0; i < 12; i++) all[i] = i;
  lm__place_threads(&t, all, 12, 12, &p);
  expect_slots(&p, (int[]){2, 3, 4, 5, 6, 7, 9, 10, 11, 0, 1, 8},
               (int[]){1, 1, 1, 1, 1, 1, 3, 3, 3, 0, 0, 2}, 12);
  assert_int_equal(p.n_replica_nodes, 4);
  /* one thread: slot 0 only (the caller), one node */
  lm__place_threads(&t, all, 12, 1, &p);
  expect_slots(&p, (int[]){2}, (int[]){1}, 1);
  assert_int_equal(p.n_replica_nodes, 1);
}

static void test_place_edges(void **state) {
  (void)state;
  lm__topo t;
  lm__topo_uniform(&t, 2, (int[]){2, 2});
  lm__placement p;
  /* a CPU unknown to the topology (hot-added, or beyond the list) counts as node 0 */
  int odd[] = {3, 40};
  lm__place_threads(&t, odd, 2, 2, &p);
  assert_int_equal(p.n_replica_nodes, 2);
  /* no allowed CPUs given: CPU 0; 0 threads means 1 */
  lm__place_threads(&t, NULL, 0, 0, &p);
  expect_slots(&p, (int[]){0}, (int[]){0}, 1);
  /* the real machine's topology covers every allowed CPU */
  lm__topo_discover(&t);
  assert_true(t.n_nodes >= 1);
  int cpus[LM__MAX_CPUS];
  size_t n = lm_cpus_allowed(cpus, LM__MAX_CPUS);
  for (size_t i = 0; i < n && cpus[i] < LM__MAX_CPUS; i++) {
    assert_true(t.cpu_node[cpus[i]] >= 0);
    assert_true(t.cpu_node[cpus[i]] < t.n_nodes);
  }
  for (int a = 0; a < t.n_nodes; a++) assert_int_equal(t.dist[a][a], 10);
  assert_int_equal(t.numa, numa_available() >= 0);
}

/* ---- replicas on this machine ---------------------------------------------------------------- */

/* A depth-6 ensemble (eligible for the perfect-tree layout on AVX-512 machines) of 64 trees. */
static lm_model *open_model(void) {
  lm_ir_model *ir = lm_ir_new();
  strcpy(ir->objective, "binary:logistic");
  ir->base_score = 0.5f;
  ir->num_features = 8;
  ir->num_outputs = 1;
  ir->n_trees = 64;
  ir->trees = calloc(64, sizeof *ir->trees);
  uint32_t st = 7;
  for (uint32_t t = 0; t < 64; t++) {
    lm_ir_tree *tr = &ir->trees[t];
    tr->n_nodes = 127;
    tr->weight = 1.0f;
    tr->nodes = calloc(127, sizeof *tr->nodes);
    for (int i = 0; i < 127; i++) {
      st = st * 1664525u + 1013904223u;
      lm_ir_node *nd = &tr->nodes[i];
      if (i < 63) {
        *nd = (lm_ir_node){.left = 2 * i + 1, .right = 2 * i + 2, .feature = (st >> 8) % 8,
                           .value = (float)((st >> 12) % 64) / 16.0f - 2.0f,
                           .default_left = (st >> 30) & 1};
      } else {
        *nd = (lm_ir_node){.left = -1, .right = -1, .value = (float)((st >> 10) % 1000) / 1000.0f - 0.5f};
      }
    }
  }
  return tu_open_ir(tmpdir, "m.lm", ir);
}

static void rows(float *x, size_t n) {
  uint32_t s = 3;
  for (size_t i = 0; i < n * 8; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (s >> 28) == 0 ? NAN : (float)((s >> 8) % 4096) / 1024.0f - 2.0f;
  }
}

/* Every page of [p, p+len) on `node`, according to get_mempolicy page by page. */
static void expect_pages_on(const void *p, size_t len, int node) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1);
  for (; a < (uintptr_t)p + len; a += pg) {
    int got = -1;
    if (get_mempolicy(&got, NULL, 0, (void *)a, MPOL_F_NODE | MPOL_F_ADDR) != 0)
      fail_msg("get_mempolicy failed at %p", (void *)a);
    if (got != node) fail_msg("page %p on node %d, expected %d", (void *)a, got, node);
  }
  assert_int_equal(lm__pages_node(p, len), node);
}

/* The model, n rows in x, a session on it (*s) and its scores of the rows in ref. */
static lm_model *open_scored(float *x, size_t n, lm_session **s, float *ref) {
  lm_model *m = open_model();
  rows(x, n);
  assert_int_equal(lm_session_new(m, s), 0);
  assert_int_equal(lm_predict(*s, x, n, 0, ref), 0);
  return m;
}

/* A layout the replica built for itself (np, block nb) from the model's (op, block ob): not the
 * model's, of the same bytes, in the node's memory when NUMA is available. */
static void expect_own_layout(const void *np, const void *op, const void *nb, const void *ob,
                              size_t nbytes, size_t obytes, int numa, int node) {
  assert_ptr_not_equal(np, op);
  assert_int_equal(nbytes, obytes);
  assert_int_equal(memcmp(nb, ob, obytes), 0);
  if (numa) expect_pages_on(nb, nbytes, node);
}

static void test_replica_on_node(void **state) {
  (void)state;
  enum { N = 3000 };
  static float x[N * 8], ref[N], got[N];
  lm_session *s;
  lm_model *m = open_scored(x, N, &s, ref);
  assert_ptr_equal(lm__model_plan(m, 0), &m->plan); /* no replica yet */

  int node = lm__current_node();
  int numa = numa_available() >= 0;
  assert_int_equal(lm__replicate(m, node, !numa), 0);
  assert_int_equal(lm__replicate(m, node, !numa), 0); /* idempotent */
  const lm__plan *rp = lm__model_plan(m, node);
  assert_ptr_not_equal(rp, &m->plan);
  const lmf_view *v = rp->v;
  lm__model_ext *e = atomic_load(&m->ext);
  lm__replica *r = atomic_load(&e->rep[node]);
  assert_non_null(r);
  assert_true(r->bytes >= m->map_len && r->bytes <= lm__replica_cost(m));
  /* the view points into the copy, not the mapping */
  const uint8_t *lo = r->mem, *hi = lo + r->bytes;
  assert_true((const uint8_t *)v->nodes >= lo && (const uint8_t *)v->nodes < hi);
  assert_true((const uint8_t *)v->meta >= lo && (const uint8_t *)v->meta < hi);
  assert_int_equal(memcmp(r->mem, m->map, m->map_len), 0);
  /* the replica was planned again: the same kernels, its own layouts (built from the copy, in
   * node memory), equal byte for byte to the model's */
  assert_int_equal(rp->n_bands, m->plan.n_bands);
  for (int i = 0; i < rp->n_bands; i++) assert_ptr_equal(rp->band[i].k, m->plan.band[i].k);
  const lm__perfect *op = m->plan.perfect, *np = rp->perfect;
  assert_true(!op == !np);
  if (op) {
    expect_own_layout(np, op, np->block, op->block, np->block_bytes, op->block_bytes, numa, node);
    /* the bin-and-bitmask layout (built on VBMI machines) is its own too, not shared */
    const lm__bits *ob = m->plan.bits, *nb = rp->bits;
    assert_true(!ob == !nb);
    if (ob)
      expect_own_layout(nb, ob, nb->block, ob->block, nb->block_bytes, ob->block_bytes, numa,
                        node);
  }
  if (numa) {
    assert_int_equal(r->numa_alloc, 1);
    expect_pages_on(r->mem, r->bytes, node);
  } else {
    assert_int_equal(lm__pages_node(r->mem, r->bytes), -2);
  }
  /* the session (created on this node) now reads the replica: same scores, bit for bit */
  assert_int_equal(lm_predict(s, x, N, 0, got), 0);
  assert_int_equal(memcmp(ref, got, sizeof ref), 0);
  lm_session *s2;
  assert_int_equal(lm_session_new(m, &s2), 0);
  assert_int_equal(s2->node, node);
  assert_int_equal(lm_predict(s2, x, N, LM_PREDICT_MARGIN, got), 0);
  assert_int_equal(lm_predict(s, x, N, LM_PREDICT_MARGIN, ref), 0);
  assert_int_equal(memcmp(ref, got, sizeof ref), 0);
  lm_session_free(s2);
  lm_session_free(s);
  lm_model_close(m); /* frees the replica (ASan/LSan check) */
}

/* The pool: NUMA_FORCE makes one replica per node with threads; a bound below the cost skips it
 * visibly; results never change. */
static void test_pool_replicas_and_bound(void **state) {
  (void)state;
  enum { N = 3000 };
  static float x[N * 8], ref[N], got[N];
  rows(x, N);
  for (int bounded = 0; bounded < 2; bounded++) {
    lm_model *m = open_model();
    lm_session *s;
    assert_int_equal(lm_session_new(m, &s), 0);
    assert_int_equal(lm_predict(s, x, N, 0, ref), 0);
    size_t cost = lm__replica_cost(m);
    lm_pool_options o = {.threads = 2, .pin = 1, .numa = LM_POOL_NUMA_FORCE,
                         .max_replica_bytes = bounded ? cost - 1 : 0, .min_parallel_rows = 1};
    lm_pool *p;
    assert_int_equal(lm_pool_new(&o, &p), 0);
    assert_int_equal(lm_pool_add_model(p, m), 0);
    lm_pool_info in;
    assert_int_equal(lm_pool_get_info(p, m, &in), 0);
    assert_int_equal(in.replica_bytes, cost);
    if (bounded) {
      assert_int_equal(in.replicas, 0);
      assert_int_equal(in.replicas_skipped, in.nodes_used);
      assert_int_equal(in.pool_replica_bytes, 0);
    } else {
      assert_int_equal(in.replicas, in.nodes_used);
      assert_int_equal(in.replicas_skipped, 0);
      assert_int_equal(in.pool_replica_bytes, cost * (size_t)in.nodes_used);
      for (int k = 0; k < in.nodes_used; k++) {
        int node = lm__current_node(); /* one-node machines: the only node */
        if (in.nodes == 1 && numa_available() >= 0) {
          lm__replica *r = atomic_load(&atomic_load(&m->ext)->rep[node]);
          assert_non_null(r);
          expect_pages_on(r->mem, r->bytes, node);
        }
      }
    }
    assert_int_equal(lm_predict_pool(p, s, x, N, 0, got), 0);
    assert_int_equal(memcmp(ref, got, sizeof ref), 0);
    lm_pool_free(p);
    lm_session_free(s);
    lm_model_close(m);
  }
  /* AUTO on a one-node machine makes no replica */
  lm_model *m = open_model();
  lm_pool_options o = {.threads = 2, .numa = LM_POOL_NUMA_AUTO};
  lm_pool *p;
  assert_int_equal(lm_pool_new(&o, &p), 0);
  assert_int_equal(lm_pool_add_model(p, m), 0);
  lm_pool_info in;
  assert_int_equal(lm_pool_get_info(p, m, &in), 0);
  if (in.nodes == 1) {
    assert_int_equal(in.replicas, 0);
    assert_int_equal(in.replicas_skipped, 0);
  }
  lm_pool_free(p);
  lm_model_close(m);
}

/* The fallback path (no NUMA support, or forced): a plain copy still gives exact results. */
static void test_plain_copy_fallback(void **state) {
  (void)state;
  enum { N = 700 };
  static float x[N * 8], ref[N], got[N];
  lm_session *s;
  lm_model *m = open_scored(x, N, &s, ref);
  assert_int_equal(lm__replicate(m, s->node, 1), 0);
  lm__replica *r = atomic_load(&atomic_load(&m->ext)->rep[s->node]);
  assert_int_equal(r->numa_alloc, 0);
  assert_int_equal(lm_predict(s, x, N, 0, got), 0);
  assert_int_equal(memcmp(ref, got, sizeof ref), 0);
  assert_int_equal(lm__replicate(m, -1, 0), LM_EINVAL);
  assert_int_equal(lm__replicate(m, LM__MAX_NODES, 0), LM_EINVAL);
  lm_session_free(s);
  lm_model_close(m);
}

/* lm_model_replicate_local: a replica on the caller's node; sessions made afterwards read it, with
 * the same results; on a one-node machine nothing unless forced. */
static void test_replicate_local(void **state) {
  (void)state;
  enum { N = 300 };
  static float x[N * 8], ref[N], got[N];
  lm_session *s0, *s1;
  lm_model *m = open_scored(x, N, &s0, ref);
  int multi = numa_available() >= 0 && numa_num_configured_nodes() > 1;
  assert_int_equal(lm_model_replicate_local(m, 0), multi ? 1 : 0);
  assert_int_equal(lm_model_replicate_local(m, 1), 1);
  assert_int_equal(lm_model_replicate_local(m, 1), 1); /* idempotent */
  assert_int_equal(lm_session_new(m, &s1), 0);
  lm__model_ext *e = atomic_load(&m->ext);
  assert_non_null(e);
  assert_true(lm__model_plan(m, s1->node) == &atomic_load(&e->rep[s1->node])->plan);
  assert_int_equal(lm_predict(s1, x, N, 0, got), 0);
  assert_int_equal(memcmp(ref, got, sizeof ref), 0);
  assert_int_equal(lm_model_replicate_local(NULL, 1), LM_EINVAL);
  lm_session_free(s0);
  lm_session_free(s1);
  lm_model_close(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_place_two_nodes), cmocka_unit_test(test_place_four_nodes_cpuset),
      cmocka_unit_test(test_place_edges), cmocka_unit_test(test_replica_on_node),
      cmocka_unit_test(test_pool_replicas_and_bound), cmocka_unit_test(test_plain_copy_fallback),
      cmocka_unit_test(test_replicate_local)};
  return cmocka_run_group_tests_name("numa", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
