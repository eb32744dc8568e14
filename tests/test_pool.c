/*
 * test_pool.c — lm_pool: scoring with any number of threads gives exactly (bit for bit) the
 * single-threaded results of lm_predict / lm_predict_f64, for every kind of model (XGBoost trees
 * shallow and deep, categorical, dart, multi:softprob, multi:softmax's argmax, gblinear, LightGBM
 * with linear leaves), flags, batch sizes around the 256-row block boundaries, and with NUMA
 * replicas forced; the threshold is measured and reported; bad arguments are refused. The models
 * are the XGBoost and LightGBM fixtures under tests/fixtures, converted at setup.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lmrt.h"

static char tmpdir[] = "/tmp/lm_test_pool_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
static const char *src = ".";

static const char *const models[] = {
    "xgb/binary_logistic",         "xgb/deep_reg_squarederror", "xgb/multi_softmax3",
    "xgb/multi_softprob4",         "xgb/dart_binary_logistic",  "xgb/cat_partition",
    "xgb/gblinear_binary_logistic", "xgb/gblinear_multi_softprob3",
    "lightgbm/real/jpmml_multiclass_iris", "lightgbm/real/jpmml_linear_regression_auto",
    "lightgbm/real/jpmml_binary_audit",
};
#define N_MODELS (sizeof models / sizeof models[0])
#define MAXN 5000

static lm_model *open_fixture(const char *name) {
  char in[1024], out[1024];
  const char *file = strncmp(name, "lightgbm", 8) ? "model.json" : "model.txt";
  snprintf(in, sizeof in, "%s/tests/fixtures/%s/%s", src, name, file);
  snprintf(out, sizeof out, "%s/m.lm", tmpdir);
  lm_convert_options opt = {.quiet = 1, .all_trees = 1};
  if (lm_convert(in, out, &opt) != 0) fail_msg("%s: convert: %s", name, lm_last_error());
  lm_model *m;
  if (lm_model_open(out, &m) != 0) fail_msg("%s: open: %s", name, lm_last_error());
  return m;
}

/* Deterministic rows: values in [-4, 4) on a coarse grid (so some equal split thresholds),
 * about 5% missing. */
static void fill_rows(float *x, double *xd, size_t n, size_t F) {
  uint32_t s = 42;
  for (size_t i = 0; i < n * F; i++) {
    s = s * 1664525u + 1013904223u;
    double v = (double)((s >> 8) % 8192) / 1024.0 - 4.0;
    if ((s >> 27) == 0) v = NAN;
    x[i] = (float)v;
    xd[i] = v + ((s >> 16) & 1) * 1e-9; /* f64 rows differ from f32 ones below float32's ulp */
  }
}

/* Pool results vs single-thread results for one model, all thread counts and sizes. */
static void check_model(const char *name, int numa) {
  lm_model *m = open_fixture(name);
  size_t F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  float *x = malloc(MAXN * F * sizeof *x);
  double *xd = malloc(MAXN * F * sizeof *xd);
  float *ref = malloc(MAXN * G * sizeof *ref), *got = malloc(MAXN * G * sizeof *got);
  assert_non_null(x);
  assert_non_null(xd);
  assert_non_null(ref);
  assert_non_null(got);
  fill_rows(x, xd, MAXN, F);
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  const size_t threads[] = {1, 2, 3, 4, 7};
  const size_t sizes[] = {0, 1, 255, 256, 257, 511, 512, 513, 1000, 2049, MAXN};
  for (size_t ti = 0; ti < sizeof threads / sizeof threads[0]; ti++) {
    /* every pinning mode in turn: none, one CPU, the node's CPUs */
    lm_pool_options o = {.threads = threads[ti], .pin = (int)(ti % 3), .numa = numa,
                         .min_parallel_rows = 1};
    lm_pool *p;
    assert_int_equal(lm_pool_new(&o, &p), 0);
    assert_int_equal(lm_pool_num_threads(p), threads[ti]);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
      size_t n = sizes[si];
      for (unsigned flags = 0; flags <= LM_PREDICT_MARGIN; flags += LM_PREDICT_MARGIN) {
        size_t w = lm_model_output_width(m, flags);
        for (int f64 = 0; f64 < 2; f64++) {
          memset(ref, 0x55, MAXN * G * sizeof *ref);
          memset(got, 0xAA, MAXN * G * sizeof *got);
          int rc1 = f64 ? lm_predict_f64(s, xd, n, flags, ref) : lm_predict(s, x, n, flags, ref);
          int rc2 = f64 ? lm_predict_pool_f64(p, s, xd, n, flags, got)
                        : lm_predict_pool(p, s, x, n, flags, got);
          assert_int_equal(rc1, 0);
          assert_int_equal(rc2, 0);
          if (memcmp(ref, got, n * w * sizeof *ref) != 0) {
            size_t i = 0;
            while (memcmp(ref + i, got + i, sizeof *ref) == 0) i++;
            fail_msg("%s: %zu threads, %zu rows, flags %u, f64 %d: output %zu: %.9g != %.9g",
                     name, threads[ti], n, flags, f64, i, (double)got[i], (double)ref[i]);
          }
        }
      }
    }
    lm_pool_info in;
    assert_int_equal(lm_pool_get_info(p, m, &in), 0);
    assert_int_equal(in.threads, threads[ti]);
    assert_int_equal(in.min_parallel_rows, threads[ti] > 1 ? 1 : 0);
    if (threads[ti] > 1) assert_true(in.ns_per_row > 0);
    if (numa == LM_POOL_NUMA_FORCE && threads[ti] > 1) {
      assert_int_equal(in.replicas, in.nodes_used);
      assert_int_equal(in.replicas_skipped, 0);
    }
    lm_pool_free(p);
  }
  lm_session_free(s);
  lm_model_close(m);
  free(x);
  free(xd);
  free(ref);
  free(got);
}

static void test_exact_every_model(void **state) {
  (void)state;
  for (size_t i = 0; i < N_MODELS; i++) check_model(models[i], LM_POOL_NUMA_OFF);
}

static void test_exact_with_replicas(void **state) {
  (void)state;
  check_model("xgb/binary_logistic", LM_POOL_NUMA_FORCE);
  check_model("xgb/multi_softmax3", LM_POOL_NUMA_FORCE);
  check_model("lightgbm/real/jpmml_binary_audit", LM_POOL_NUMA_FORCE);
}

/* The default pool: one thread per allowed CPU; the measured threshold is at least 512 rows
 * (two 256-row blocks) and reported; a one-thread pool never splits. */
static void test_defaults_and_threshold(void **state) {
  (void)state;
  lm_pool *p;
  assert_int_equal(lm_pool_new(NULL, &p), 0);
  assert_int_equal(lm_pool_num_threads(p), lm_cpus_allowed(NULL, 0));
  lm_model *m = open_fixture("xgb/binary_logistic");
  lm_pool_info in;
  assert_int_equal(lm_pool_get_info(p, m, &in), 0);
  assert_int_equal(in.min_parallel_rows, 0); /* not used with a pool yet */
  assert_true(in.replica_bytes > 0);
  assert_int_equal(lm_pool_add_model(p, m), 0);
  assert_int_equal(lm_pool_get_info(p, m, &in), 0);
  assert_true(in.ns_per_row > 0);
  assert_int_equal(in.cpus_allowed, lm_cpus_allowed(NULL, 0));
  assert_true(in.nodes >= 1);
  assert_true(in.nodes_used >= 1 && in.nodes_used <= in.nodes);
  if (in.threads > 1) {
    assert_true(in.wake_ns > 0);
    assert_true(in.min_parallel_rows >= 512);
  } else {
    assert_int_equal(in.min_parallel_rows, 0);
  }
  for (size_t k = 0; k < in.threads; k++) assert_true(lm_pool_thread_cpu(p, k) >= 0);
  assert_int_equal(lm_pool_thread_cpu(p, in.threads), -1);
  lm_pool_free(p);
  lm_model_close(m);
}

static void test_bad_arguments(void **state) {
  (void)state;
  lm_pool *p = NULL;
  assert_int_equal(lm_pool_new(NULL, NULL), LM_EINVAL);
  lm_pool_options o = {.threads = 2, .numa = 3};
  assert_int_equal(lm_pool_new(&o, &p), LM_EINVAL);
  assert_null(p);
  o = (lm_pool_options){.threads = 2, .pin = 3};
  assert_int_equal(lm_pool_new(&o, &p), LM_EINVAL);
  o = (lm_pool_options){.threads = 100000};
  assert_int_equal(lm_pool_new(&o, &p), LM_ERANGE);
  o = (lm_pool_options){.threads = 2};
  assert_int_equal(lm_pool_new(&o, &p), 0);
  lm_model *m = open_fixture("xgb/binary_logistic");
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  float x[8 * 64] = {0}, out[64];
  assert_int_equal(lm_predict_pool(NULL, s, x, 1, 0, out), LM_EINVAL);
  assert_int_equal(lm_predict_pool(p, NULL, x, 1, 0, out), LM_EINVAL);
  assert_int_equal(lm_predict_pool(p, s, NULL, 1, 0, out), LM_EINVAL);
  assert_int_equal(lm_predict_pool(p, s, x, 1, 8, out), LM_EINVAL);
  assert_int_equal(lm_predict_pool(p, s, x, 0, 0, NULL), 0);
  assert_int_equal(lm_pool_add_model(p, NULL), LM_EINVAL);
  assert_int_equal(lm_pool_get_info(NULL, m, NULL), LM_EINVAL);
  assert_int_equal(lm_pool_num_threads(NULL), 0);
  lm_pool_free(NULL);
  lm_session_free(s);
  lm_model_close(m);
  lm_pool_free(p);
}

/* Several threads sharing one pool: calls are serialised, each gets its own exact results. */
#include <pthread.h>
typedef struct shared_arg {
  lm_pool *p;
  lm_model *m;
  const float *x;
  const float *ref;
  size_t n, G;
  int ok;
} shared_arg;

static void *shared_caller(void *a_) {
  shared_arg *a = a_;
  lm_session *s;
  float *out = malloc(a->n * a->G * sizeof *out);
  a->ok = out && lm_session_new(a->m, &s) == 0;
  for (int it = 0; a->ok && it < 20; it++)
    a->ok = lm_predict_pool(a->p, s, a->x, a->n, 0, out) == 0 &&
            memcmp(out, a->ref, a->n * a->G * sizeof *out) == 0;
  if (out) lm_session_free(s);
  free(out);
  return NULL;
}

static void test_concurrent_callers(void **state) {
  (void)state;
  lm_model *m = open_fixture("xgb/multi_softprob4");
  size_t F = lm_model_num_features(m), G = lm_model_num_outputs(m), n = 3000;
  float *x = malloc(n * F * sizeof *x), *ref = malloc(n * G * sizeof *ref);
  double *xd = malloc(n * F * sizeof *xd);
  fill_rows(x, xd, n, F);
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  assert_int_equal(lm_predict(s, x, n, 0, ref), 0);
  lm_pool_options o = {.threads = 3, .min_parallel_rows = 1};
  lm_pool *p;
  assert_int_equal(lm_pool_new(&o, &p), 0);
  shared_arg a[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    a[i] = (shared_arg){.p = p, .m = m, .x = x, .ref = ref, .n = n, .G = G};
    assert_int_equal(pthread_create(&th[i], NULL, shared_caller, &a[i]), 0);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    assert_true(a[i].ok);
  }
  lm_pool_free(p);
  lm_session_free(s);
  lm_model_close(m);
  free(x);
  free(xd);
  free(ref);
}

/* lmscore --threads N prints exactly what --threads 1 prints (values and margins, a multiclass
 * model, every block split); bad counts are usage errors. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 22];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strdup(buf);
}

static void test_lmscore_threads(void **state) {
  (void)state;
  const char *bin = getenv("LM_BIN");
  if (!bin) bin = "build/bin";
  char in[1024], lm[1024], csv[1024], cmd[4096];
  snprintf(in, sizeof in, "%s/tests/fixtures/xgb/multi_softprob4/model.json", src);
  snprintf(lm, sizeof lm, "%s/s.lm", tmpdir);
  snprintf(csv, sizeof csv, "%s/rows.csv", tmpdir);
  lm_convert_options opt = {.quiet = 1};
  assert_int_equal(lm_convert(in, lm, &opt), 0);
  lm_model *m;
  assert_int_equal(lm_model_open(lm, &m), 0);
  size_t F = lm_model_num_features(m), n = 3000;
  lm_model_close(m);
  float *x = malloc(n * F * sizeof *x);
  double *xd = malloc(n * F * sizeof *xd);
  fill_rows(x, xd, n, F);
  FILE *f = fopen(csv, "w");
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < F; j++) {
      double v = xd[r * F + j];
      if (v != v) fputs(j + 1 < F ? "," : "\n", f);
      else fprintf(f, "%.17g%s", v, j + 1 < F ? "," : "\n");
    }
  fclose(f);
  free(x);
  free(xd);
  const char *variants[] = {"", "--margin"};
  for (int v = 0; v < 2; v++) {
    char *ref = NULL;
    const char *threads[] = {"1", "2", "3", "8", "0"};
    for (int t = 0; t < 4; t++) {
      char out[1100];
      snprintf(out, sizeof out, "%s/out%d", tmpdir, t);
      /* LM_POOL_MIN_ROWS=1: every block is split, whatever the measured threshold */
      snprintf(cmd, sizeof cmd,
               "LM_POOL_MIN_ROWS=1 '%s/lmscore' '%s' '%s' %s --threads %s --block-rows 2000 > '%s'",
               bin, lm, csv, variants[v], threads[t], out);
      assert_int_equal(system(cmd), 0);
      char *got = slurp(out);
      assert_non_null(got);
      assert_true(strlen(got) > n);
      if (!ref) ref = got;
      else {
        if (strcmp(ref, got) != 0) fail_msg("lmscore --threads %s %s differs", threads[t], variants[v]);
        free(got);
      }
    }
    free(ref);
  }
  /* (--threads 0 means every allowed CPU, as in lminfo and lmserve: accepted, tests/test_cli.c) */
  const char *bad[] = {"-1", "x", "1025", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(cmd, sizeof cmd, "'%s/lmscore' '%s' '%s' --threads '%s' > /dev/null 2>&1", bin, lm,
             csv, bad[i]);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
  }
}

static int setup(void **state) {
  src = tu_env_or("LM_SRC", src);
  return tu_tmpdir_setup(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_every_model), cmocka_unit_test(test_exact_with_replicas),
      cmocka_unit_test(test_defaults_and_threshold), cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_concurrent_callers), cmocka_unit_test(test_lmscore_threads)};
  return cmocka_run_group_tests_name("pool", tests, setup, tu_tmpdir_teardown);
}
