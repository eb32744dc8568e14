/*
 * util_xgboost_formats.h — what the XGBoost serialisation tests share (test_xgboost_formats.c,
 * test_xgboost_bad_ubj_bin.c, test_xgboost_bad_pickle.c): fixture paths and files, the MANIFEST
 * and meta.json of tests/fixtures/xgb_formats/, the serialisations of a case (VARIANTS), a byte
 * builder and byte patches for hand-made bad inputs, and expect_bad (an import must fail with a
 * given code and message).
 * Each of those programs includes this header alone: it carries their includes, declarations,
 * scratch directory and globals, the shared helpers and the group set-up.
 */
#ifndef TESTS_UTIL_XGBOOST_FORMATS_H
#define TESTS_UTIL_XGBOOST_FORMATS_H

/* Helpers are plain static functions (as when they lived in one test file); a program
 * that uses only some of them drops the rest silently. */
#define TU_HELPER __attribute__((unused))

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <json-c/json.h>
#include <xxhash.h>

#include "formats/import/import.h"
#include "formats/ir.h"
#include "lmrt.h"
#include "tools/csv.h"

/* Not yet declared in import.h (requested from the lead). */
int lm__import_xgboost_ubj(const uint8_t *data, size_t len, const char *name, lm_ir_model **out);
int lm__import_xgboost_binary(const uint8_t *data, size_t len, const char *name, lm_ir_model **out);
int lm__import_xgboost_pickle(const uint8_t *data, size_t len, const char *name, lm_ir_model **out);
int lm__ir_keep_best(lm_ir_model *ir);

extern char **environ;

static TU_HELPER char tmpdir[] = "/tmp/lm_test_formats_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tests/util_import.h"
static TU_HELPER char src[1024], bindir[1024];

/* ---- helpers ------------------------------------------------------------------------------ */

static TU_HELPER const char *tmp_path(const char *name) { return tu_path(tmpdir, name); }

static TU_HELPER const char *fx_path(const char *cs, const char *file) {
  static char path[8][1200];
  static int k;
  k = (k + 1) % 8;
  if (cs) snprintf(path[k], sizeof path[k], "%s/tests/fixtures/xgb_formats/%s/%s", src, cs, file);
  else snprintf(path[k], sizeof path[k], "%s/tests/fixtures/xgb_formats/%s", src, file);
  return path[k];
}

static TU_HELPER uint8_t *slurp(const char *path, size_t *len) {
  return (uint8_t *)tu_read_file(path, len);
}

static TU_HELPER void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

typedef struct table {
  double *v;
  size_t rows, cols;
} table;

static TU_HELPER void load_csv(const char *path, table *t) {
  char err[512];
  if (lm_csv_read_path(path, &t->v, &t->rows, &t->cols, err, sizeof err) != 0) fail_msg("%s", err);
}

static TU_HELPER int exists(const char *p) { return access(p, F_OK) == 0; }

/* The case names of MANIFEST. */
static TU_HELPER size_t read_manifest(char names[][64], size_t max) {
  FILE *f = fopen(fx_path(NULL, "MANIFEST"), "r");
  if (!f)
    fail_msg("cannot open %s (run /usr/bin/python3 tests/gen_format_fixtures.py)",
             fx_path(NULL, "MANIFEST"));
  char line[128];
  size_t n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    line[63] = 0;
    if (line[0]) memcpy(names[n++], line, 64);
  }
  fclose(f);
  return n;
}

typedef struct meta {
  int num_trees, kept, npt, outputs, features, early;
  int64_t best_iteration, best_ntree_limit;
  char booster[16];
} meta;

static TU_HELPER meta read_meta(const char *cs) {
  json_object *j = json_object_from_file(fx_path(cs, "meta.json"));
  if (!j) fail_msg("%s: cannot read meta.json", cs);
  meta m = {0};
  json_object *v;
#define GETI(key, dst)                                                                             \
  do {                                                                                             \
    if (json_object_object_get_ex(j, key, &v) && v) dst = json_object_get_int64(v);                \
    else dst = -1;                                                                                 \
  } while (0)
  GETI("num_trees", m.num_trees);
  GETI("num_trees_kept", m.kept);
  GETI("num_parallel_tree", m.npt);
  GETI("num_outputs", m.outputs);
  GETI("num_features", m.features);
  GETI("best_iteration", m.best_iteration);
  GETI("best_ntree_limit", m.best_ntree_limit);
#undef GETI
  m.early = json_object_object_get_ex(j, "early_stopping", &v) && json_object_get_boolean(v);
  if (json_object_object_get_ex(j, "booster", &v))
    snprintf(m.booster, sizeof m.booster, "%s", json_object_get_string(v));
  json_object_put(j);
  return m;
}

/* The serialisations of a case, what they must be recorded as, and their version. */
typedef struct variant {
  const char *file, *format, *version;
} variant;
static const variant VARIANTS[] = {
    {"model.json", "xgboost-json", "1.7.4"},
    {"model.ubj", "xgboost-ubj", "1.7.4"},
    {"model.bin", "xgboost-binary", "1.7"},
    {"model_nobinf.bin", "xgboost-binary", "1.7"},
    {"model_13.bin", "xgboost-binary", "1.3"},
    {"model_p2.pkl", "xgboost-pickle", "1.7.4"},
    {"model_p5.pkl", "xgboost-pickle", "1.7.4"},
    {"model_cfgoff.pkl", "xgboost-pickle", "1.2"},
    {"model_jsonsnap.pkl", "xgboost-pickle", "1.7.4"},
};
#define NVARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

/* A growable byte buffer for hand-built inputs. */
typedef struct bb {
  uint8_t *p;
  size_t n, cap;
} bb;

static TU_HELPER void bb_put(bb *b, const void *d, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}
static TU_HELPER void bb_s(bb *b, const char *s) { bb_put(b, s, strlen(s)); }
static TU_HELPER void bb_be64(bb *b, int64_t v) {
  uint8_t q[8];
  for (int i = 0; i < 8; i++) q[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
  bb_put(b, q, 8);
}
static TU_HELPER void bb_le(bb *b, uint64_t v, int n) {
  uint8_t q[8];
  for (int i = 0; i < n; i++) q[i] = (uint8_t)(v >> (8 * i));
  bb_put(b, q, (size_t)n);
}
/* UBJSON key / 'L'-length string body */
static TU_HELPER void ub_str(bb *b, const char *s) {
  bb_s(b, "L");
  bb_be64(b, (int64_t)strlen(s));
  bb_s(b, s);
}

/* r (rn bytes) with the fl bytes at `at` replaced by repl (rl bytes); malloc'd. */
static TU_HELPER uint8_t *bytes_splice(const uint8_t *r, size_t rn, const uint8_t *at, size_t fl,
                                       const void *repl, size_t rl, size_t *out_len) {
  uint8_t *o = malloc(rn - fl + rl + 1);
  assert_non_null(o);
  size_t k = (size_t)(at - r);
  memcpy(o, r, k);
  memcpy(o + k, repl, rl);
  memcpy(o + k + rl, at + fl, rn - k - fl);
  *out_len = rn - fl + rl;
  return o;
}

/* r with the one occurrence of find (fl bytes) replaced by repl (rl bytes); malloc'd. */
static TU_HELPER uint8_t *patch(const uint8_t *r, size_t rn, const void *find, size_t fl,
                                const void *repl, size_t rl, size_t *out_len) {
  const uint8_t *at = memmem(r, rn, find, fl);
  assert_non_null(at);
  assert_null(memmem(at + 1, rn - (size_t)(at - r) - 1, find, fl));
  return bytes_splice(r, rn, at, fl, repl, rl, out_len);
}

/* r with the first occurrence of find after anchor replaced by repl; malloc'd. */
static TU_HELPER uint8_t *patch_after(const uint8_t *r, size_t rn, const char *anchor,
                                      const void *find, size_t fl, const void *repl, size_t rl,
                                      size_t *out_len) {
  const uint8_t *a = memmem(r, rn, anchor, strlen(anchor));
  assert_non_null(a);
  const uint8_t *at = memmem(a, rn - (size_t)(a - r), find, fl);
  assert_non_null(at);
  return bytes_splice(r, rn, at, fl, repl, rl, out_len);
}

typedef tu_importer importer;

/* Import bytes under `name`; the error must have code and contain msg, start with the name and be
 * one line (tu_expect_bad). Returns 1 on a mismatch (printed). */
static TU_HELPER int expect_bad(importer imp, const char *what, const uint8_t *d, size_t n,
                                const char *name, int code, const char *msg) {
  return tu_expect_bad(imp, what, d, n, name, name, code, msg);
}

/* ---- harness ------------------------------------------------------------------------------ */

static TU_HELPER int setup(void **state) {
  snprintf(src, sizeof src, "%s", tu_env_or("LM_SRC", "."));
  snprintf(bindir, sizeof bindir, "%s", tu_env_or("LM_BIN", "build/bin"));
  return tu_tmpdir_setup(state);
}

#endif
