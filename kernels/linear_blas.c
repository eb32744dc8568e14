/*
 * linear_blas.c — linear margins of a batch as one matrix product through OpenBLAS
 * (cblas_sgemm): out[n × G] = bias + base_margin, then += x[n × F] · W[F × G]. For wide
 * multi-output models (Linear Learner multiclass, gblinear multi:softprob over many features)
 * a large enough batch is a matrix product, which OpenBLAS blocks for the caches far better than
 * the hand-written kernels' row or output loops; the planner gives it only the shapes and batch
 * sizes where it measured faster (kernels/registry.c, docs/architecture.md).
 *
 * Loaded on demand (issue 14). liblmrt does not link OpenBLAS: it would bring libgfortran and
 * libquadmath into every serving process. The first plan that would pick this kernel (a model of
 * ≥ 64 outputs on an AVX2 CPU: lm__kernel_usable's LM_NEED_BLAS, checked after every other need)
 * calls lm__blas_load(), which dlopen()s libopenblas.so.0 once per process (pthread_once) —
 * Debian's pthread-free build from its directory (LM_OPENBLAS_DIR, from the Makefile's
 * OPENBLAS_DIR) first, then the default search path — and resolves cblas_sgemm. The kernel calls
 * through that pointer and resolves nothing. If the library cannot be loaded (or is a 64-bit
 * integer build, whose cblas_sgemm takes other arguments), the kernel is unusable, the planner
 * takes the hand-written kernels, and the plan's notes say why ("linear_margin_blas: OpenBLAS
 * not found (...)").
 * LM_BLAS_LIB=PATH (a test hook, like LM_KERNEL: read at that one load, not part of the API)
 * loads PATH alone; tests/test_blas.c sets it to a missing file to plan without OpenBLAS.
 *
 * Semantics. The product sums each output's F products in OpenBLAS's own blocked order with
 * fused multiply-adds, not in the reference's feature order (linear_scalar.c), so margins are not
 * bit-identical: both are float32 sums of the same F + 1 terms, each within γ(F+1)·Σ|terms| of
 * the exact sum (γ(k) = k·u / (1 − k·u), u = 2^-24), so they differ by at most
 * 2·γ(F+1)·Σ|x·w| + |bias + base| terms; tests/test_kernels.c checks that bound for this kernel
 * (the hand-written multi-output kernels must stay bit-identical). A missing value (NaN) must
 * contribute nothing, which a product cannot express without a copy of the rows: rows holding a
 * NaN are scored again, after the product, by the reference in its own order (so those rows are
 * bit-identical), the others come from the product untouched — no copy, no scratch.
 *
 * Threads: lmrt owns threading (runtime/pool.c scores row blocks on its own threads). Debian's
 * pthread-free OpenBLAS (openblas-serial) starts no thread: the pthread variant starts threads
 * when loaded, and one such thread, started before main() with every signal unblocked, took
 * lmserve's SIGHUP and killed the server (server/tests/srv_lifecycle.py, reloads under load).
 * Should another variant be found on the default path, it is loaded with every signal blocked
 * in the loading thread (threads it starts inherit that mask, so they take no signal) and told
 * once, before its first use here, to run single-threaded (openblas_set_num_threads(1)), so each
 * call runs in the calling thread.
 */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

/* Debian's pthread-free OpenBLAS; the Makefile passes its OPENBLAS_DIR. */
#ifndef LM_OPENBLAS_DIR
#define LM_OPENBLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-serial"
#endif

/* cblas_sgemm's signature and the two CBLAS constants used (the reference CBLAS values, which
 * every cblas.h shares): no OpenBLAS header is needed to build liblmrt. blasint is int in the
 * 32-bit integer builds libopenblas.so.0 is (Debian's 64-bit builds are libopenblas64.so.0). */
enum { LM__CBLAS_ROW_MAJOR = 101, LM__CBLAS_NO_TRANS = 111 };
typedef void (*lm__sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                             const float *a, int lda, const float *b, int ldb, float beta, float *c,
                             int ldc);

static pthread_once_t lm__blas_once = PTHREAD_ONCE_INIT;
/* Written once by lm__blas_open under lm__blas_once, read-only afterwards: every plan that picks
 * the kernel went through pthread_once first, and a plan is published to the threads that run
 * it (runtime/pool.c) with the synchronisation that orders it. */
static lm__sgemm_fn lm__sgemm;
static char lm__blas_why[200];

static void lm__blas_open(void) {
  const char *env = getenv("LM_BLAS_LIB");
  const char *paths[2] = {LM_OPENBLAS_DIR "/libopenblas.so.0", "libopenblas.so.0"};
  size_t n_paths = 2;
  if (env && *env) paths[0] = env, n_paths = 1;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  void *h = NULL;
  const char *err = "";
  for (size_t i = 0; i < n_paths && !h; i++)
    if (!(h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL))) err = dlerror();
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!h) {
    snprintf(lm__blas_why, sizeof lm__blas_why, "OpenBLAS not found (%s)",
             err ? err : "dlopen failed");
    return;
  }
  const char *(*config)(void) = (const char *(*)(void))dlsym(h, "openblas_get_config");
  const char *cfg = config ? config() : NULL;
  lm__sgemm_fn f = (lm__sgemm_fn)dlsym(h, "cblas_sgemm");
  if (!f) {
    snprintf(lm__blas_why, sizeof lm__blas_why, "OpenBLAS has no cblas_sgemm");
  } else if (cfg && strstr(cfg, "USE64BITINT")) {
    snprintf(lm__blas_why, sizeof lm__blas_why, "OpenBLAS is a 64-bit integer build");
  } else {
    void (*threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    if (threads) threads(1);
    lm__sgemm = f;
    return;
  }
  dlclose(h);
}

const char *lm__blas_load(void) {
  pthread_once(&lm__blas_once, lm__blas_open);
  return lm__sgemm ? NULL : lm__blas_why;
}

LM__KERNEL_F32(lm__linear_margin_blas) {
  (void)scratch;
  const lmf_meta *m = v->meta;
  const size_t F = m->num_features, G = m->num_outputs;
  const float base = m->base_margin;
  for (size_t r = 0; r < n; r++)
    for (size_t g = 0; g < G; g++) out[r * G + g] = v->lin_bias[g] + base;
  /* blasint is int: at most INT_MAX rows per call (F and G are checked by the descriptor's
   * LM_NEED_I32 and the verifier) */
  const size_t chunk = (size_t)INT_MAX / (G > F ? G : F ? F : 1);
  for (size_t r0 = 0; r0 < n && F > 0; r0 += chunk) {
    size_t nr = n - r0 < chunk ? n - r0 : chunk;
    lm__sgemm(LM__CBLAS_ROW_MAJOR, LM__CBLAS_NO_TRANS, LM__CBLAS_NO_TRANS, (int)nr, (int)G, (int)F,
              1.0f, x + r0 * F, (int)F, v->lin_weights, (int)G, 1.0f, out + r0 * G, (int)G);
  }
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    size_t f = 0;
    while (f < F && !isnan(row[f])) f++;
    if (f < F) lm__linear_margin__scalar(v, L, row, 1, out + r * G, NULL);
  }
}
