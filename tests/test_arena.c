/*
 * test_arena.c — after the first call of a given size, scoring makes no heap allocation. The test
 * interposes the allocation functions the library can reach — mimalloc's (the session arena's
 * source) and, outside sanitizer builds, the C library's malloc family — counts calls while a
 * switch is on, then runs thousands of lm_predict / lm_predict_f64 / lm_predict_leaf /
 * lm_predict_contrib{,_f64} calls of
 * mixed sizes (all ≤ the sizes seen in warm-up) and requires the count to stay at zero. The
 * same holds for lm_predict_pool / lm_predict_pool_f64 / lm_predict_contrib_pool{,_f64} with
 * several threads, every batch split,
 * NUMA replicas forced: no allocation on any thread and, outside sanitizer builds (where the
 * interposed pthread_create also counts), no thread created after warm-up.
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "lmrt.h"

static volatile int counting;
static volatile long allocs;

#define FORWARD(ret, name, params, args)                                                   \
  ret name params {                                                                        \
    static ret(*real) params;                                                              \
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, #name);                                  \
    if (counting) allocs++;                                                                \
    return real args;                                                                      \
  }

FORWARD(void *, mi_malloc, (size_t n), (n))
FORWARD(void *, mi_zalloc, (size_t n), (n))
FORWARD(void *, mi_calloc, (size_t a, size_t b), (a, b))
FORWARD(void *, mi_realloc, (void *p, size_t n), (p, n))
FORWARD(void *, mi_malloc_aligned, (size_t n, size_t al), (n, al))
FORWARD(void *, mi_zalloc_aligned, (size_t n, size_t al), (n, al))

#if !defined(__SANITIZE_ADDRESS__)
#include <pthread.h>
static volatile long threads_created;
int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
  if (counting) threads_created++;
  return real(t, a, fn, arg);
}
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
void *malloc(size_t n) {
  if (counting) allocs++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (counting) allocs++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (counting) allocs++;
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n) {
  if (counting) allocs++;
  return __libc_memalign(al, n);
}
int posix_memalign(void **p, size_t al, size_t n) {
  if (counting) allocs++;
  *p = __libc_memalign(al, n);
  return *p ? 0 : 12;
}
#endif

static char path[] = "/tmp/lm_test_arena_XXXXXX";
#define TU_TMPDIR path
#include "tests/util.h"

static lm_model *open_model(const char *name, lm_ir_model *ir) { return tu_open_ir(path, name, ir); }

static lm_ir_model *tree_ir(void) {
  lm_ir_model *ir = lm_ir_new();
  strcpy(ir->objective, "multi:softprob");
  ir->num_features = 4;
  ir->num_outputs = 3;
  ir->n_trees = 30;
  ir->trees = calloc(30, sizeof *ir->trees);
  for (uint32_t t = 0; t < 30; t++) {
    lm_ir_tree *tr = &ir->trees[t];
    tr->n_nodes = 3;
    tr->group = t % 3;
    tr->weight = 1.0f;
    tr->has_cover = 1; /* covers below: lm_predict_contrib works */
    tr->nodes = calloc(3, sizeof *tr->nodes);
    tr->nodes[0] = (lm_ir_node){.left = 1, .right = 2, .feature = t % 4, .value = (float)t / 10.0f, .default_left = 1, .categorical = 0, .cat_begin = 0, .cat_count = 0};
    tr->nodes[1] = (lm_ir_node){.left = -1, .right = -1, .feature = 0, .value = -0.5f, .default_left = 0, .categorical = 0, .cat_begin = 0, .cat_count = 0};
    tr->nodes[2] = (lm_ir_node){.left = -1, .right = -1, .feature = 0, .value = 0.75f, .default_left = 0, .categorical = 0, .cat_begin = 0, .cat_count = 0};
    tr->nodes[0].cover = 10.0, tr->nodes[1].cover = 4.0, tr->nodes[2].cover = 6.0;
  }
  return ir;
}

static lm_ir_model *linear_ir(void) {
  lm_ir_model *ir = lm_ir_new();
  strcpy(ir->objective, "binary:logistic");
  ir->booster = LM_BOOSTER_GBLINEAR;
  ir->base_score = 0.5f;
  ir->num_features = 4;
  ir->num_outputs = 1;
  ir->linear_weights = calloc(5, sizeof(float));
  for (int i = 0; i < 5; i++) ir->linear_weights[i] = (float)i / 4;
  return ir;
}

static void run(lm_model *m, int leaf) {
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  enum { MAXN = 1000 };
  static float x[MAXN * 4], out[MAXN * 3];
  static double xd[MAXN * 4];
  static uint32_t lo[MAXN * 30];
  static float co[MAXN * 15]; /* contributions: up to 3 outputs × 5 columns */
  for (int i = 0; i < MAXN * 4; i++) xd[i] = x[i] = (i % 7 == 0) ? NAN : (float)(i % 13) / 4;
  const size_t sizes[] = {1, 3, 64, 999, 1000, 17, 256, 257};
  /* warm-up: every size once */
  for (size_t i = 0; i < 8; i++) {
    assert_int_equal(lm_predict(s, x, sizes[i], 0, out), 0);
    assert_int_equal(lm_predict_f64(s, xd, sizes[i], LM_PREDICT_MARGIN, out), 0);
    assert_int_equal(lm_predict_contrib(s, x, sizes[i], co), 0);
    assert_int_equal(lm_predict_contrib_f64(s, xd, sizes[i], co), 0);
  }
  allocs = 0;
  counting = 1;
  int bad = 0;
  for (int it = 0; it < 3000; it++) {
    size_t n = sizes[it % 8] - (size_t)(it % 3 == 0 && sizes[it % 8] > 1);
    bad |= lm_predict(s, x, n, it & 1 ? LM_PREDICT_MARGIN : 0, out);
    bad |= lm_predict_f64(s, xd, n, 0, out);
    if (leaf) bad |= lm_predict_leaf(s, x, n, lo);
    bad |= lm_predict_contrib(s, x, n, co);
    bad |= lm_predict_contrib_f64(s, xd, n, co);
  }
  counting = 0;
  assert_int_equal(bad, 0);
  assert_int_equal(allocs, 0);
  lm_session_free(s);
}

static void test_trees_no_alloc(void **state) {
  (void)state;
  lm_model *m = open_model("t.lm", tree_ir());
  run(m, 1);
  lm_model_close(m);
}

static void test_linear_no_alloc(void **state) {
  (void)state;
  lm_model *m = open_model("l.lm", linear_ir());
  run(m, 0);
  lm_model_close(m);
}

/* The pool: 3 threads (more than this machine may have CPUs: wrapping is allowed), every batch
 * split (min_parallel_rows 1), replicas forced onto the threads' nodes. */
static void run_pool(lm_model *m) {
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  lm_pool *p;
  lm_pool_options o = {.threads = 3, .pin = 1, .numa = LM_POOL_NUMA_FORCE, .min_parallel_rows = 1};
  assert_int_equal(lm_pool_new(&o, &p), 0);
  enum { MAXN = 1000 };
  static float x[MAXN * 4], out[MAXN * 3], co[MAXN * 15];
  static double xd[MAXN * 4];
  for (int i = 0; i < MAXN * 4; i++) xd[i] = x[i] = (i % 7 == 0) ? NAN : (float)(i % 13) / 4;
  const size_t sizes[] = {1, 3, 64, 999, 1000, 17, 256, 257, 600};
  for (size_t i = 0; i < 9; i++) {
    assert_int_equal(lm_predict_pool(p, s, x, sizes[i], 0, out), 0);
    assert_int_equal(lm_predict_pool_f64(p, s, xd, sizes[i], LM_PREDICT_MARGIN, out), 0);
    assert_int_equal(lm_predict_contrib_pool(p, s, x, sizes[i], co), 0);
    assert_int_equal(lm_predict_contrib_pool_f64(p, s, xd, sizes[i], co), 0);
  }
  allocs = 0;
#if !defined(__SANITIZE_ADDRESS__)
  threads_created = 0;
#endif
  counting = 1;
  int bad = 0;
  for (int it = 0; it < 2000; it++) {
    size_t n = sizes[it % 9] - (size_t)(it % 3 == 0 && sizes[it % 9] > 1);
    bad |= lm_predict_pool(p, s, x, n, it & 1 ? LM_PREDICT_MARGIN : 0, out);
    bad |= lm_predict_pool_f64(p, s, xd, n, 0, out);
    bad |= lm_predict_contrib_pool(p, s, x, n, co);
    bad |= lm_predict_contrib_pool_f64(p, s, xd, n, co);
  }
  counting = 0;
  assert_int_equal(bad, 0);
  assert_int_equal(allocs, 0);
#if !defined(__SANITIZE_ADDRESS__)
  assert_int_equal(threads_created, 0);
#endif
  lm_pool_info in;
  assert_int_equal(lm_pool_get_info(p, m, &in), 0);
  assert_int_equal(in.replicas, in.nodes_used);
  lm_pool_free(p);
  lm_session_free(s);
}

static void test_pool_trees_no_alloc(void **state) {
  (void)state;
  lm_model *m = open_model("pt.lm", tree_ir());
  run_pool(m);
  lm_model_close(m);
}

static void test_pool_linear_no_alloc(void **state) {
  (void)state;
  lm_model *m = open_model("pl.lm", linear_ir());
  run_pool(m);
  lm_model_close(m);
}

/* The counters work: a pool's creation allocates and creates threads. */
static void test_counter_sees_pool_creation(void **state) {
  (void)state;
  lm_pool *p;
  lm_pool_options o = {.threads = 2};
  allocs = 0;
#if !defined(__SANITIZE_ADDRESS__)
  threads_created = 0;
#endif
  counting = 1;
  assert_int_equal(lm_pool_new(&o, &p), 0);
  counting = 0;
  assert_true(allocs > 0);
#if !defined(__SANITIZE_ADDRESS__)
  assert_int_equal(threads_created, 1);
#endif
  lm_pool_free(p);
}

/* The counter itself works: an allocation while counting is seen. */
static void test_counter_sees_allocations(void **state) {
  (void)state;
  lm_model *m = open_model("c.lm", linear_ir());
  lm_session *s;
  allocs = 0;
  counting = 1;
  assert_int_equal(lm_session_new(m, &s), 0);
  counting = 0;
  assert_true(allocs > 0);
  lm_session_free(s);
  lm_model_close(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_trees_no_alloc),
                                     cmocka_unit_test(test_linear_no_alloc),
                                     cmocka_unit_test(test_counter_sees_allocations),
                                     cmocka_unit_test(test_pool_trees_no_alloc),
                                     cmocka_unit_test(test_pool_linear_no_alloc),
                                     cmocka_unit_test(test_counter_sees_pool_creation)};
  return cmocka_run_group_tests_name("arena", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
