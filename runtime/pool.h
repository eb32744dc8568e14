/*
 * pool.h — internals shared by the scoring entry points (runtime/session.c) and the thread pool
 * (runtime/pool.c): scoring a contiguous block of rows into margins on a given model view (the
 * mapping or a node's replica), and the output transform applied afterwards.
 */
#ifndef LM_RUNTIME_POOL_H
#define LM_RUNTIME_POOL_H

#include <stddef.h>

#include "runtime/model.h"

/* Rows converted from float64 per kernel call (lm_predict_f64). The pool splits batches at
 * multiples of it, so that every kernel call sees the same rows as a single-threaded call and
 * results are bit-identical for any worker count. */
#define LM_F64_BLOCK 256

/* Margins of n rows (float32 rows, or float64 when f64) read with view v, using s's scratch.
 * Arguments already checked. Returns 0 or LM_ENOMEM. */
int lm__session_margins(lm_session *s, const struct lm__plan *p, const void *x, int f64, size_t n,
                        float *out);
/* Scratch bytes any call of at most LM_F64_BLOCK rows per kernel call needs under plan p (the
 * kernel's, and for float64 rows of float32 kernels a block of converted rows after it). */
size_t lm__session_scratch_need(const struct lm__plan *p, int f64);
/* The output transform for flags over n rows of margins (nothing with LM_PREDICT_MARGIN). */
void lm__session_link(const lm_model *m, unsigned flags, float *out, size_t n);
/* Argument checks shared by every entry point (records the error). */
int lm__predict_check(lm_session *s, const void *x, size_t n, unsigned flags, const void *out);

/* Contributions (runtime/contrib.c). lm__contrib_prepare checks the arguments of
 * lm_predict_contrib{,_f64} and builds the model's TreeSHAP table on first use (*sh: NULL for a
 * linear model); lm__contrib_rows then computes n rows into out (n × lm_model_contrib_width)
 * with view pl->v and s's scratch, one row independent of the others, so any split of a batch
 * gives the same floats; lm__contrib_scratch_need is the scratch it takes (it grows s's once). */
struct lm__shap;
int lm__contrib_prepare(lm_session *s, const void *x, size_t n, const float *out,
                        const struct lm__shap **sh);
int lm__contrib_rows(lm_session *s, const struct lm__plan *pl, const struct lm__shap *sh,
                     const void *x, int f64, size_t n, float *out);
size_t lm__contrib_scratch_need(const lm_model *m, const struct lm__shap *sh, int f64);

#endif
