/*
 * model.c — opening and closing models: mmap the .lm file read-only, run the verifier once, and
 * plan the kernels. Nothing is copied or parsed: the kernels read the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/objective.h"
#include "kernels/cpu.h"
#include "kernels/tree_perfect.h"
#include "runtime/error.h"
#include "runtime/model.h"
#include "runtime/numa.h"

/* The plan: per model shape, the first kernel of the family the CPU and LM_ISA allow. With
 * LM_DEBUG set, one line on stderr says what was chosen and why. */
static int lm__plan(lm_model *m) {
  int isa = lm__isa_allowed();
  if (isa < 0) return lm__fail_prefix(isa, m->path);
  const lm__kernel *k = m->v.meta->model_kind == LMF_MODEL_LINEAR ? lm__linear_margin_kernels
                                                                  : lm__tree_margin_kernels;
  if (m->v.meta->model_kind == LMF_MODEL_TREES && isa >= LM_ISA_AVX2)
    m->v.perfect = m->perfect = lm__perfect_build(&m->v, isa >= LM_ISA_AVX512 && lm__cpu_has_vbmi());
  while (k->isa > isa || (k->needs_perfect && !m->perfect) ||
         (k->needs_perfect && (k->needs_perfect >= 3) != (int)m->perfect->top) ||
         ((k->needs_perfect == 2 || k->needs_perfect == 4) &&
          (!m->perfect->bits || !lm__cpu_has_vbmi())))
    k++;
  m->margin = k->fn;
  m->margin_name = k->name;
  m->isa = isa;
  if (m->v.meta->decision == LMF_DECISION_LIGHTGBM) {
    /* LightGBM semantics (double sums): the session calls the lgbm entry points, which run the
     * SIMD variant installed here (none for linear trees) or the reference. */
    const lm__lgbm_kernel *lk = lm__tree_margin_lgbm_kernels;
    while (lk->isa > isa || !lk->planned || (lk->f32 && !lm__lgbm_simd_ok(&m->v))) lk++;
    m->lgb = 1;
    m->margin = NULL;
    m->margin_name = lk->name;
    m->v.lgbm_f32 = lk->f32;
    m->v.lgbm_f64 = lk->f64;
  }
  m->leaf = m->v.meta->model_kind == LMF_MODEL_LINEAR ? NULL : lm__tree_leaf__scalar;
  /* Linear margins are not bit-identical to the trainer's: their transform may be too (within
   * 1e-6). Trees keep libm's expf, so that their outputs equal XGBoost's bit for bit. */
  int simd_link = m->v.meta->model_kind == LMF_MODEL_LINEAR && isa >= LM_ISA_AVX2;
  m->link = simd_link ? lm__link_apply__avx2 : lm__link_apply__scalar;
  m->link_name = simd_link ? "link__avx2" : "link__scalar";
  if (getenv("LM_DEBUG"))
    fprintf(stderr, "lmrt: plan %s: %s, %s (cpu %s, allowed %s)\n", m->path, m->margin_name,
            m->link_name, lm__isa_name(lm__cpu_isa()), lm__isa_name(isa));
  return LM_OK;
}

int lm_model_open(const char *path, lm_model **out) {
  if (!path || !out) return lm__fail(LM_EINVAL, "lm_model_open: NULL argument");
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lm__fail(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return lm__fail(LM_EIO, "%s: not a regular file", path);
  }
  if (st.st_size < (off_t)sizeof(lmf_header)) {
    close(fd);
    return lm__fail(LM_EFORMAT, "%s: file is %lld bytes, shorter than the 64-byte header", path,
                    (long long)st.st_size);
  }
  size_t len = (size_t)st.st_size;
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return lm__fail(LM_EIO, "%s: mmap failed: %s", path, strerror(errno));
  lm_model *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(map, len);
    return lm__fail(LM_ENOMEM, "%s: out of memory", path);
  }
  m->map = map;
  m->map_len = len;
  int rc = lm__lmf_verify(map, len, path, &m->v);
  if (rc == LM_OK && !(m->path = strdup(path))) rc = lm__fail(LM_ENOMEM, "out of memory");
  if (rc == LM_OK && m->v.feature_names) {
    uint32_t F = m->v.meta->num_features;
    m->names = malloc(sizeof *m->names * F);
    if (!m->names) {
      rc = lm__fail(LM_ENOMEM, "out of memory");
    } else {
      const char *p = m->v.feature_names;
      for (uint32_t f = 0; f < F; f++, p += strlen(p) + 1) m->names[f] = p;
    }
  }
  if (rc != LM_OK) {
    lm_model_close(m);
    return rc;
  }
  rc = lm__plan(m);
  if (rc != LM_OK) {
    lm_model_close(m);
    return rc;
  }
  *out = m;
  return LM_OK;
}

void lm_model_close(lm_model *m) {
  if (!m) return;
  lm__model_ext_free(m); /* NUMA replicas (runtime/numa.c) */
  if (m->map) munmap(m->map, m->map_len);
  free(m->names);
  lm__perfect_free(m->perfect);
  free(m->path);
  free(m);
}

size_t lm_model_num_features(const lm_model *m) { return m ? m->v.meta->num_features : 0; }
size_t lm_model_num_outputs(const lm_model *m) { return m ? m->v.meta->num_outputs : 0; }
size_t lm_model_num_trees(const lm_model *m) { return m ? m->v.meta->n_trees : 0; }

size_t lm_model_output_width(const lm_model *m, unsigned flags) {
  if (!m) return 0;
  if (!(flags & LM_PREDICT_MARGIN) && m->v.meta->link == LM_LINK_ARGMAX) return 1;
  return m->v.meta->num_outputs;
}

const char *lm_model_feature_name(const lm_model *m, size_t i) {
  if (!m || !m->names || i >= m->v.meta->num_features) return NULL;
  return m->names[i];
}

char lm_model_feature_type(const lm_model *m, size_t i) {
  if (!m || i >= m->v.meta->num_features) return 0;
  return m->v.feature_types ? m->v.feature_types[i] : 'q';
}

int lm_model_get_info(const lm_model *m, lm_model_info *info) {
  if (!m || !info) return lm__fail(LM_EINVAL, "lm_model_get_info: NULL argument");
  static const char *const boosters[] = {"gbtree", "dart", "gblinear", "linear"};
  const lmf_meta *meta = m->v.meta;
  memset(info, 0, sizeof *info);
  info->source_format = lm__source_format_name(meta->source_format);
  info->source_version = m->v.source_version;
  info->converter = m->v.converter;
  info->booster = boosters[meta->booster];
  info->objective = m->v.objective;
  info->link = lm__link_name(meta->link);
  info->source_hash = meta->source_hash;
  info->file_size = m->map_len;
  info->format_major = m->v.header->major;
  info->format_minor = m->v.header->minor;
  info->num_features = meta->num_features;
  info->num_outputs = meta->num_outputs;
  info->num_trees = meta->n_trees;
  info->num_nodes = meta->n_nodes;
  info->max_depth = meta->max_depth;
  info->num_categorical_splits = meta->n_cat_splits;
  info->base_score = meta->base_score;
  info->base_margin = meta->base_margin;
  info->kernel = m->margin_name;
  info->link_kernel = m->link_name;
  info->isa = lm__isa_name(m->isa);
  info->num_trees_trained = meta->n_trees_trained ? meta->n_trees_trained : meta->n_trees;
  info->best_iteration = meta->best_iteration;
  info->best_ntree_limit = meta->best_ntree_limit;
  return LM_OK;
}
