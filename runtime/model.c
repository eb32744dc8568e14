/*
 * model.c — opening and closing models: read the .lm file into memory the model owns, run the
 * verifier once on those bytes, and plan the kernels. Nothing is parsed: the kernels read the
 * image as it is.
 *
 * Why a copy and not a mapping of the file: a mapping (even MAP_PRIVATE) shows later writes to
 * the file's pages and raises SIGBUS when the file is truncated, so a model file overwritten in
 * place (`cp new.lm served.lm` truncates first) would crash a server or make it score bytes the
 * verifier never saw. The verifier reads every byte for its checksums anyway, so reading the
 * file costs about what faulting in the mapping did; the bytes verified are the bytes scored,
 * for the model's whole life.
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
#include "kernels/shap.h"
#include "base/error.h"
#include "runtime/model.h"
#include "runtime/numa.h"

int lm_model_open(const char *path, lm_model **out) {
  if (!path || !out) return lm__fail(LM_EINVAL, "lm_model_open: NULL argument");
  *out = NULL;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below). */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
  size_t pg = (size_t)sysconf(_SC_PAGESIZE), cap = (len + LM_PAD_BYTES + pg - 1) / pg * pg;
  void *map = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    close(fd);
    return lm__fail(LM_ENOMEM, "%s: no memory for its %zu bytes", path, len);
  }
  size_t got = 0; /* the size fstat saw: a file that shrinks or grows meanwhile is refused */
  while (got < len) {
    ssize_t r = pread(fd, (uint8_t *)map + got, len - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  char extra;
  int err = errno, changed = got < len || pread(fd, &extra, 1, (off_t)len) > 0;
  close(fd);
  if (changed) {
    munmap(map, cap);
    return got < len && err ? lm__fail(LM_EIO, "%s: read failed at byte %zu: %s", path, got, strerror(err))
                            : lm__fail(LM_EIO, "%s: the file changed size while it was read (%zu bytes expected)", path, len);
  }
  mprotect(map, cap, PROT_READ); /* the image is immutable from here */
  lm_model *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(map, cap);
    return lm__fail(LM_ENOMEM, "%s: out of memory", path);
  }
  m->map = map;
  m->map_len = len;
  m->map_cap = cap;
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
  int isa = lm__isa_allowed();
  rc = isa < 0 ? lm__fail_prefix(isa, m->path) : lm__plan_build(&m->plan, &m->v, isa, &lm__alloc_default, m->path);
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
  lm__shap_free(atomic_load(&m->shap)); /* TreeSHAP tables (runtime/contrib.c) */
  if (m->map) munmap(m->map, m->map_cap);
  free(m->names);
  lm__plan_free(&m->plan);
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
  static const char *const boosters[] = {"gbtree", "dart", "gblinear", "linear", "fm"};
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
  info->kernel = m->plan.band[0].k->name; /* the largest batches' (lm_model_plan: all of them) */
  info->link_kernel = m->plan.link_name;
  info->has_cover = m->v.cover != NULL;
  info->num_factors = m->v.fm ? m->v.fm->num_factors : 0;
  info->isa = lm__isa_name(m->plan.isa);
  info->num_trees_trained = meta->n_trees_trained ? meta->n_trees_trained : meta->n_trees;
  info->best_iteration = meta->best_iteration;
  info->best_ntree_limit = meta->best_ntree_limit;
  return LM_OK;
}

size_t lm_model_plan(const lm_model *m, lm_plan_band *bands, size_t cap, const char **notes) {
  if (!m) return 0;
  const lm__plan *p = &m->plan;
  size_t max = SIZE_MAX;
  for (int i = 0; i < p->n_bands && (size_t)i < cap; i++) {
    bands[i].min_rows = p->band[i].min_rows ? p->band[i].min_rows : 1;
    bands[i].max_rows = max;
    bands[i].kernel = p->band[i].k->name;
    max = bands[i].min_rows - 1;
  }
  if (notes) *notes = p->notes;
  return (size_t)p->n_bands;
}
