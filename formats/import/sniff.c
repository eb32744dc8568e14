/*
 * sniff.c — lm__import_any: read an artifact (sagemaker.c), decide which format its bytes are
 * in, the way XGBoost's own loader decides (src/learner.cc), hand them to that importer, and
 * keep the trees SageMaker's endpoint would use (best_ntree_limit / best_iteration). Also
 * records the XXH64 of the artifact file, so a .lm file says exactly what it came from.
 *
 * XGBoost's rule (input-formats.md §1): "bs64" → rejected; "binf" → legacy binary; '{' then
 * (after whitespace) '"' → JSON, a letter → UBJSON (its first key's length marker 'L');
 * anything else → legacy binary (very old files have no "binf"). Two additions for better
 * messages, pinned by tests: a '{' followed by anything else, or whitespace before the '{', goes
 * to the JSON importer (whose error then says what is wrong, where XGBoost would report a bad
 * binary file); and a pickle (0x80, SageMaker's 1.0/1.2 containers — the serving container tries
 * pickle first too) goes to the pickle importer (pickled.c: XGBoost, LightGBM and scikit-learn
 * models pickled or joblib-dumped, compressed or not, protocols 0–5). ZIP files (SageMaker's model_algo-1: Factorization
 * Machines or Linear Learner, by their members), LightGBM text models and bare NDArray files
 * go to their importers.
 *
 * Importers: xgboost_json.c ("xgboost-json"), xgboost_ubj.c ("xgboost-ubj"), xgboost_bin.c
 * ("xgboost-binary"), xgboost_pickle.c ("xgboost-pickle"); each records its source_format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "formats/import/import.h"
#include "formats/import/joblib.h"
#include "formats/objective.h"
#include "base/cursor.h"
#include "base/error.h"


enum sniffed {
  SNIFF_EMPTY,
  SNIFF_JSON,
  SNIFF_UBJSON,
  SNIFF_BINARY,     /* "binf" header */
  SNIFF_BINARY_OLD, /* no recognisable header: XGBoost's fallback */
  SNIFF_BASE64,
  SNIFF_PICKLE,
  SNIFF_ZIP,
  SNIFF_LIGHTGBM,
  SNIFF_NDARRAY,    /* a bare MXNet NDArray file: SageMaker PCA/KMeans `model_algo-1` */
};

/* std::isspace in the C locale, as XGBoost uses. */
static int sn_space(uint8_t ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static int sn_alpha(uint8_t ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }

static enum sniffed sniff(const uint8_t *d, size_t n) {
  if (n == 0) return SNIFF_EMPTY;
  if (n >= 4 && memcmp(d, "bs64", 4) == 0) return SNIFF_BASE64;
  if (n >= 4 && memcmp(d, "binf", 4) == 0) return SNIFF_BINARY;
  size_t i = 0;
  while (i < n && sn_space(d[i])) i++;
  if (i == n) return SNIFF_EMPTY; /* whitespace only */
  if (d[i] == '{') {
    size_t k = i + 1;
    while (k < n && sn_space(d[k])) k++;
    /* A letter right after '{' is UBJSON's length marker; XGBoost checks this only when the
     * '{' is the very first byte. */
    if (i == 0 && k < n && sn_alpha(d[k])) return SNIFF_UBJSON;
    return SNIFF_JSON;
  }
  if (d[0] == 0x80) return SNIFF_PICKLE;
  /* joblib.dump(…, compress=…): zlib, lz4 and lzma streams arrive here as they are; gzip, bz2
   * and xz ones too when they hold no tar (sagemaker.c) */
  if (lm__joblib_compressor(d, n)) return SNIFF_PICKLE;
  /* protocols 0 and 1 start with a GLOBAL line: an object's class or copyreg's helper */
  static const char *const p0[] = {"ccopy_reg\n", "ccopyreg\n", "csklearn.", "cxgboost.",
                                   "clightgbm.", "cjoblib.", "cnumpy"};
  for (size_t j = 0; j < sizeof p0 / sizeof p0[0]; j++)
    if (n >= strlen(p0[j]) && memcmp(d, p0[j], strlen(p0[j])) == 0) return SNIFF_PICKLE;
  if (n >= 4 && memcmp(d, "PK\3\4", 4) == 0) return SNIFF_ZIP;
  if (n >= 5 && memcmp(d, "tree", 4) == 0 && (d[4] == '\n' || d[4] == '\r')) return SNIFF_LIGHTGBM;
  if (n >= 8 && memcmp(d, "\x12\x01\0\0\0\0\0\0", 8) == 0) return SNIFF_NDARRAY; /* magic 0x112 */
  return SNIFF_BINARY_OLD;
}

/* The first bytes of an input (issue 18 finding 10): can they start a model in any format read
 * here? Called by the artifact reader (sagemaker.c) once LM_SNIFF_HEAD bytes have arrived, so an
 * input that is no model (a member of a gigabyte of zeros, /dev/zero) is refused after 64 KiB,
 * not after reading it whole. Only what the bytes seen already decide is refused: a format with
 * a magic or a JSON/UBJSON opening is read on (the importer judges it whole); whitespace only is
 * no model; and the fallback, XGBoost's headerless legacy binary, must start with its 136-byte
 * LearnerModelParam (major version at most 3, a class count in range) followed by the name of an
 * objective XGBoost knows, as xgboost_bin.c requires. */
int lm__sniff_head(const uint8_t *d, size_t n, const char *name) {
  enum sniffed s = sniff(d, n);
  if (s == SNIFF_EMPTY)
    return lm__fail(LM_ENOMODEL, "%s: no model in it: its first %zu bytes are whitespace "
                    "(refused before reading on)", name, n);
  if (s != SNIFF_BINARY_OLD || n < 136 + 8 + 64) return LM_OK;
  uint32_t major = lm__le32(d + 20);
  int32_t ncls = lm__le_i32(d + 8);
  uint64_t ol = lm__le64(d + 136);
  char why[160], on[65] = "";
  if (major > 3) {
    snprintf(why, sizeof why, "byte 20: learner_model_param.major_version: %u is no XGBoost "
             "version", major);
  } else if (ncls < 0 || ncls > (1 << 20)) {
    snprintf(why, sizeof why, "byte 8: learner_model_param.num_class: value %d out of range", ncls);
  } else if (ol > 64 || memchr(d + 144, 0, (size_t)ol)) {
    snprintf(why, sizeof why, "byte 136: objective: a name of %llu bytes is no objective",
             (unsigned long long)ol);
  } else {
    memcpy(on, d + 144, (size_t)ol);
    on[ol] = 0;
    if (lm__objective_by_name(on)) return LM_OK;
    char b[64];
    snprintf(why, sizeof why, "byte 136: objective: unknown objective \"%s\"",
             lm__printable_utf8(b, sizeof b, on));
  }
  return lm__fail(LM_ENOMODEL,
                  "%s: unrecognised bytes (%02x %02x %02x %02x …), not a model in any format "
                  "lmconvert reads (as an old XGBoost legacy binary model without header, %s); "
                  "refused after its first %zu bytes", name, d[0], d[1], d[2], d[3], why, n);
}

/* XXH64 (seed 0) of the file's bytes, streamed. */
static int hash_file(const char *path, uint64_t *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lm__fail(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
  XXH64_state_t *st = XXH64_createState();
  uint8_t *buf = malloc(1 << 20);
  int rc = LM_OK;
  if (!st || !buf) {
    rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  XXH64_reset(st, 0);
  for (;;) {
    ssize_t r = read(fd, buf, 1 << 20);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = lm__fail(LM_EIO, "%s: read failed: %s", path, strerror(errno));
      goto out;
    }
    if (r == 0) break;
    XXH64_update(st, buf, (size_t)r);
  }
  *out = XXH64_digest(st);
out:
  free(buf);
  if (st) XXH64_freeState(st);
  close(fd);
  return rc;
}

/* ---- best_ntree_limit / best_iteration ---------------------------------------------------
 *
 * What SageMaker's XGBoost endpoint scores with (input-formats.md §1, serve_utils.py):
 *  - containers 1.0 to 1.7 (XGBoost 1.x): booster.predict(ntree_limit=getattr(booster,
 *    "best_ntree_limit", 0)). In 1.7 (xgboost/core.py _convert_ntree_limit) that is
 *    iteration_range = (0, best_ntree_limit // max(num_parallel_tree, 1)) — 0 meaning every
 *    round; 1.0–1.5 passed the limit on as a tree count per output, which comes to the same trees
 *    for every limit XGBoost writes (best_ntree_limit = (best_iteration + 1) × num_parallel_tree).
 *    A Booster loaded from a file has that attribute only when the model's attributes hold it
 *    (1.7's load_model copies it); a pickle's Python attributes carry it (xgboost_pickle.c). No
 *    attribute: every tree. best_iteration alone does not count in 1.x.
 *  - container 3.0 (XGBoost 2.x/3.x): iteration_range = (0, best_iteration + 1).
 * So: source version 2 or later → best_iteration; earlier (0.x, 1.x) → best_ntree_limit. A round
 * is num_outputs × num_parallel_tree trees (XGBoost's LayerToTree); dart weights stay with their
 * trees; gblinear has no rounds to cut (XGBoost ignores the range's end for it). A limit at or
 * beyond the trees there are keeps them all (1.0–1.5 clamp so; 1.7 would refuse to predict).
 * ir->n_trees_trained records how many trees the artifact had when some are dropped. The leading
 * ir->n_intercept_trees (3.1+ per-output base scores, see ir.h) are not rounds: always kept.
 * A pickled LightGBM Booster (source lightgbm-pickle) keeps its first best_iteration iterations
 * when that attribute is > 0, as Booster.predict and the scikit-learn wrappers' predict do by
 * default (the model text inside the pickle holds every iteration).
 * Returns the number of trees dropped.
 */
int lm__ir_keep_best(lm_ir_model *ir) {
  /* XGBoost's attributes, and a pickled LightGBM Booster's best_iteration (pickled.c) */
  int lgb = strcmp(ir->source_format, "lightgbm-pickle") == 0;
  if (ir->decision != LM_DECISION_XGBOOST && !lgb) return 0;
  if (ir->booster == LM_BOOSTER_GBLINEAR || ir->booster == LM_BOOSTER_LINEAR || ir->n_trees == 0)
    return 0;
  long major = strtol(ir->source_version, NULL, 10);
  uint64_t npt = ir->num_parallel_tree > 1 ? ir->num_parallel_tree : 1, rounds;
  if (lgb) {
    /* Booster.predict(num_iteration=None) scores best_iteration iterations when it is > 0 */
    if (ir->best_iteration <= 0) return 0;
    rounds = (uint64_t)ir->best_iteration;
  } else if (major >= 2) {
    if (ir->best_iteration < 0) return 0;
    rounds = (uint64_t)ir->best_iteration + 1;
  } else {
    if (ir->best_ntree_limit <= 0) return 0;
    rounds = (uint64_t)ir->best_ntree_limit / npt;
    if (rounds == 0) return 0; /* iteration_range (0, 0): every round */
  }
  uint64_t per_round = (uint64_t)(ir->num_outputs ? ir->num_outputs : 1) * npt;
  uint32_t lead = ir->n_intercept_trees < ir->n_trees ? ir->n_intercept_trees : ir->n_trees;
  uint32_t boosted = ir->n_trees - lead;
  if (rounds >= (boosted + per_round - 1) / per_round) return 0;
  uint32_t keep = lead + (uint32_t)(rounds * per_round);
  if (keep >= ir->n_trees) return 0;
  uint32_t dropped = ir->n_trees - keep;
  if (lgb && ir->average_over) ir->average_over = (uint32_t)rounds; /* average_output */
  for (uint32_t t = keep; t < ir->n_trees; t++) free(ir->trees[t].nodes);
  ir->n_trees_trained = ir->n_trees;
  ir->n_trees = keep;
  /* categorical sets only the dropped trees used go too (each tree's sets follow the last's) */
  size_t cat_end = 0;
  for (uint32_t t = 0; t < keep; t++) {
    if (!ir->trees[t].nodes) { /* handed to a sink (lm_ir_sink), sets and all: keep them */
      cat_end = ir->n_cat_values;
      break;
    }
    for (uint32_t k = 0; k < ir->trees[t].n_nodes; k++) {
      const lm_ir_node *nd = &ir->trees[t].nodes[k];
      if (nd->categorical && nd->left >= 0 && (size_t)nd->cat_begin + nd->cat_count > cat_end)
        cat_end = (size_t)nd->cat_begin + nd->cat_count;
    }
  }
  if (cat_end < ir->n_cat_values) ir->n_cat_values = cat_end;
  return (int)(dropped > INT32_MAX ? INT32_MAX : dropped);
}

/* ---- inputs in bounded memory ------------------------------------------------------------
 *
 * A large raw JSON or UBJSON file is mapped rather than read into memory: the streaming readers
 * (xgboost_stream.c, xgboost_ubj.c) go through it twice and drop the pages behind them
 * (lm__input_done), so its size does not add to the converter's resident memory. A large
 * archive member is decompressed into a temporary file and mapped likewise
 * (lm__artifact_read_spill); other inputs are read into memory as before. */
#define LM_MAP_MIN ((size_t)1 << 20)

static _Thread_local struct {
  const uint8_t *map;
  size_t len;
  const lm_convert_options *opts;
  lm_ir_sink *sink; /* set while an XGBoost JSON or UBJSON importer runs */
} lm__in;

lm_ir_sink *lm__import_sink(void) { return lm__in.sink; }

void lm__import_progress(uint64_t trees, uint64_t trees_total, uint64_t bytes,
                         uint64_t bytes_total) {
  const lm_convert_options *o = lm__in.opts;
  if (o && o->progress) o->progress(o->progress_ctx, trees, trees_total, bytes, bytes_total);
}

void lm__input_done(const uint8_t *data, size_t from, size_t upto) {
  if (!lm__in.map || data != lm__in.map || upto > lm__in.len || from >= upto) return;
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  /* from is rounded down: the readers go forward, done with everything before upto, and a page
   * that straddles from (the previous call's upto) would otherwise never be dropped — one page a
   * tree, 20 MB of a 5,000-tree model kept to the end */
  size_t a = from & ~(pg - 1), b = upto & ~(pg - 1);
  if (a < b) madvise((void *)(lm__in.map + a), b - a, MADV_DONTNEED);
}

/* A raw regular file of JSON or UBJSON of at least LM_MAP_MIN bytes (and within the limit),
 * mapped: 1 with *data, *len, *name set; 0 when the file is to be read the usual way. */
static int map_model(const char *path, uint64_t max, uint8_t **data, size_t *len, char **name) {
  struct stat st;
  if (!max) max = LM_DEFAULT_MAX_INPUT;
  /* stat first: opening a FIFO would wait for (and then lose) its writer */
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < LM_MAP_MIN ||
      (uint64_t)st.st_size > max)
    return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  void *m = MAP_FAILED;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= LM_MAP_MIN &&
      (uint64_t)st.st_size <= max)
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return 0;
  const uint8_t *d = m;
  size_t n = (size_t)st.st_size;
  /* the head alone decides (a file of white space is then read, and refused, the usual way) */
  enum sniffed s = sniff(d, LM_SNIFF_HEAD);
  if ((s != SNIFF_JSON && s != SNIFF_UBJSON) || memcmp(d + 257, "ustar", 5) == 0 ||
      !(*name = strdup(path))) {
    munmap(m, n);
    return 0;
  }
  madvise(m, n, MADV_SEQUENTIAL);
  *data = m;
  *len = n;
  return 1;
}

int lm__import_any(const char *path, const lm_convert_options *opts, lm_ir_model **out) {
  return lm__import_any_sink(path, opts, NULL, out);
}

int lm__import_any_sink(const char *path, const lm_convert_options *opts, lm_ir_sink *sink,
                        lm_ir_model **out) {
  *out = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  char *name = NULL;
  int rc = LM_OK;
  int mapped = !(opts && opts->member) &&
               map_model(path, opts ? opts->max_input_bytes : 0, &data, &len, &name);
  if (mapped) {
    /* the early check a read makes after its first LM_SNIFF_HEAD bytes (sagemaker.c) */
    rc = lm__sniff_head(data, LM_SNIFF_HEAD, path);
    if (rc) {
      munmap(data, len);
      free(name);
      return rc;
    }
    lm__in.map = data;
    lm__in.len = len;
  } else {
    int spilled = 0;
    rc = lm__artifact_read_spill(path, opts ? opts->member : NULL,
                                 opts ? opts->max_input_bytes : 0, &data, &len, &name, &spilled);
    if (rc) return rc;
    if (spilled) { /* a large archive member in a temporary file: dropped behind the reader */
      lm__in.map = data;
      lm__in.len = len;
    }
  }
  lm__in.opts = opts;

  switch (sniff(data, len)) {
  case SNIFF_EMPTY:
    rc = lm__fail(LM_ENOMODEL, "%s: empty file (%zu bytes, no model in it)", name, len);
    break;
  case SNIFF_JSON:
    lm__in.sink = sink;
    rc = lm__import_xgboost_json(data, len, name, out);
    lm__in.sink = NULL;
    break;
  case SNIFF_UBJSON:
    lm__in.sink = sink;
    rc = lm__import_xgboost_ubj(data, len, name, out);
    lm__in.sink = NULL;
    break;
  case SNIFF_BINARY: rc = lm__import_xgboost_binary(data, len, name, out); break;
  case SNIFF_BINARY_OLD:
    rc = lm__import_xgboost_binary(data, len, name, out);
    if (rc) {
      /* Say that the bytes were only a guess, then what the binary reader found. */
      char detail[600];
      const char *d = lm_last_error();
      size_t nl = strlen(name);
      if (strncmp(d, name, nl) == 0 && d[nl] == ':' && d[nl + 1] == ' ') d += nl + 2;
      snprintf(detail, sizeof detail, "%s", d);
      rc = lm__fail(rc,
                    "%s: unrecognised bytes (%02x %02x %02x %02x …), taken as an old XGBoost "
                    "legacy binary model without header (as XGBoost does): %s",
                    name, data[0], len > 1 ? data[1] : 0, len > 2 ? data[2] : 0,
                    len > 3 ? data[3] : 0, detail);
    }
    break;
  case SNIFF_PICKLE:
    rc = lm__import_pickle(data, len, name, out);
    if (rc && data[0] == 0x78) {
      /* a zlib header is two bytes an old headerless XGBoost binary model may also start with:
       * take that if it reads, else report the pickle's error */
      char detail[600];
      snprintf(detail, sizeof detail, "%s", lm_last_error());
      lm_ir_model *bin = NULL;
      if (lm__import_xgboost_binary(data, len, name, &bin) == LM_OK) {
        *out = bin;
        rc = LM_OK;
      } else {
        rc = lm__fail(rc, "%s", detail);
      }
    }
    break;
  case SNIFF_BASE64:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: base64-encoded XGBoost model ('bs64' header): not supported "
                  "(XGBoost refuses it too: decode it first)",
                  name);
    break;
  case SNIFF_ZIP:
    /* SageMaker's MXNet-checkpoint ZIPs, told apart by their members: Factorization Machines
     * (symbol.json, params, meta.json) or Linear Learner (mx-mod-*; also every ZIP that is
     * neither, whose error then names the members it lacks) */
    if (lm__zip_is_factorization_machines(data, len)) {
      rc = lm__import_factorization_machines(data, len, name, out);
      break;
    }
    /* fall through */
  case SNIFF_NDARRAY: /* the Linear Learner importer names PCA/KMeans NDArray files as such */
    rc = lm__import_linear_learner(data, len, name, out);
    break;
  case SNIFF_LIGHTGBM: rc = lm__import_lightgbm_text(data, len, name, out); break;
  }
  if (rc == LM_OK && !(opts && opts->all_trees)) lm__ir_keep_best(*out);
  if (rc == LM_OK) {
    /* The hash covers the artifact file as given (the whole .tar.gz), not just the member; for
     * a directory, the model file taken from it. */
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) /* a directory's model file; a pipe's or
                                                         device's bytes as read (opening a FIFO
                                                         again would wait for a writer) */
      (*out)->source_hash = XXH64(data, len, 0);
    else
      rc = hash_file(path, &(*out)->source_hash);
    if (rc) {
      lm_ir_free(*out);
      *out = NULL;
    }
  }
  lm__in.map = NULL;
  lm__in.opts = NULL;
  if (mapped) munmap(data, len);
  else lm__artifact_free(data);
  free(name);
  return rc;
}
