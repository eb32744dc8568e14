/*
 * model.h — the internals of lm_model and lm_session shared by the runtime's files.
 */
#ifndef LM_RUNTIME_MODEL_H
#define LM_RUNTIME_MODEL_H

#include <stdatomic.h>

#include "formats/lmf.h"
#include "kernels/kernels.h"
#include "lmrt.h"
#include "runtime/plan.h"

struct lm_model {
  void *map;              /* the file's bytes, read into memory the model owns (read-only) */
  size_t map_len;         /* the file's size */
  size_t map_cap;         /* bytes of the anonymous mapping holding them (padded, whole pages) */
  lmf_view v;             /* verified pointers into the mapping */
  const char **names;     /* num_features pointers into META, or NULL */
  lm__plan plan;          /* kernels per batch size and their layouts (runtime/plan.c) */
  char *path;
  /* NUMA replicas and the pool's calibration (runtime/numa.h), added after open by
   * runtime/numa.c, published once, freed by lm_model_close; NULL until first needed. */
  _Atomic(struct lm__model_ext *) ext;
  /* TreeSHAP path tables (kernels/shap.h), built by the first lm_predict_contrib
   * (runtime/contrib.c), published once, freed by lm_model_close; NULL until then. */
  _Atomic(struct lm__shap *) shap;
};

struct lm_session {
  const lm_model *m;
  void *scratch;          /* arena block (mimalloc, 64-byte aligned); reused across calls */
  size_t cap;
  int node;               /* NUMA node of the thread that created it: its replica is read */
};

/* Scratch of at least bytes for the current call; grows (once) when a call needs more. NULL on
 * out of memory. */
void *lm__session_scratch(lm_session *s, size_t bytes);

#endif
