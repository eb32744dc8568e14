/*
 * linear_blas.c — linear margins of a batch as one matrix product through OpenBLAS
 * (cblas_sgemm): out[n × G] = bias + base_margin, then += x[n × F] · W[F × G]. For wide
 * multi-output models (Linear Learner multiclass, gblinear multi:softprob over many features)
 * a large enough batch is a matrix product, which OpenBLAS blocks for the caches far better than
 * the hand-written kernels' row or output loops; the planner gives it only the shapes and batch
 * sizes where it measured faster (kernels/registry.c, docs/architecture.md).
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
 * Threads: lmrt owns threading (runtime/pool.c scores row blocks on its own threads). The
 * Makefile links Debian's pthread-free OpenBLAS (openblas-serial), which starts no thread: the
 * pthread variant starts one before main() with every signal unblocked, and that thread took
 * lmserve's SIGHUP and killed the server (server/tests/srv_lifecycle.py, reloads under load).
 * Should another variant be linked, OpenBLAS is also told once, before its first use here, to
 * run single-threaded (openblas_set_num_threads(1)), so each call runs in the calling thread.
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>

#include <cblas.h>

#include "kernels/kernels.h"

/* Debian's cblas.h for OpenBLAS declares it; declared here too for other cblas.h providers. */
void openblas_set_num_threads(int num_threads);

static pthread_once_t lm__blas_once = PTHREAD_ONCE_INIT;
static void lm__blas_single_thread(void) { openblas_set_num_threads(1); }

LM__KERNEL_F32(lm__linear_margin_blas) {
  (void)scratch;
  pthread_once(&lm__blas_once, lm__blas_single_thread);
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)G, (int)F, 1.0f,
                x + r0 * F, (int)F, v->lin_weights, (int)G, 1.0f, out + r0 * G, (int)G);
  }
  for (size_t r = 0; r < n; r++) {
    const float *row = x + r * F;
    size_t f = 0;
    while (f < F && !isnan(row[f])) f++;
    if (f < F) lm__linear_margin__scalar(v, L, row, 1, out + r * G, NULL);
  }
}
