/*
 * util_tools.h — what the command-line tool tests share (test_tools.c, test_lmscore.c,
 * test_lminfo.c): paths in the temp, source and bin directories, files, spawning a tool with
 * posix_spawn (stdout, stderr, exit status; sanitizer reports fail the test), CSV output read
 * back as values, and the XGBoost parity fixtures.
 * Each of those programs includes this header alone: it carries their includes, declarations,
 * scratch directory and globals, the shared helpers and the group set-up.
 */
#ifndef TESTS_UTIL_TOOLS_H
#define TESTS_UTIL_TOOLS_H

/* Helpers are plain static functions (as when they lived in one test file); a program
 * that uses only some of them drops the rest silently. */
#define TU_HELPER __attribute__((unused))

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <json-c/json.h>
#include <xxhash.h>

#include "lmrt.h"
#include "tests/util.h"
#include "tools/csv.h"

extern char **environ;

#define TOL 1e-6
#define MAX_CASES 64

static TU_HELPER char tmp[256];
static const char *bin_dir;
static const char *src_dir;

/* ---- helpers: paths, files ------------------------------------------------------------ */

static TU_HELPER char *tpath(const char *name) { /* a path in the temp dir; caller frees */
  char *p;
  if (asprintf(&p, "%s/%s", tmp, name) < 0) fail_msg("out of memory");
  return p;
}

static TU_HELPER char *spath(const char *rel) { /* a path in the source tree; caller frees */
  char *p;
  if (asprintf(&p, "%s/%s", src_dir, rel) < 0) fail_msg("out of memory");
  return p;
}

static TU_HELPER int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static TU_HELPER long long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static TU_HELPER char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (cap - n < 65536) {
      cap = cap ? cap * 2 : 65536;
      char *nb = realloc(buf, cap + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0) break;
  }
  fclose(f);
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

static TU_HELPER void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static TU_HELPER void write_text(const char *path, const char *text) {
  write_bytes(path, text, strlen(text));
}

/* Names in the temp dir other than the listed ones (to find leftovers such as temp files). */
static TU_HELPER int count_other_files(const char *const *allowed, size_t n_allowed) {
  DIR *d = opendir(tmp);
  assert_non_null(d);
  int others = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    int ok = 0;
    for (size_t i = 0; i < n_allowed; i++) ok |= !strcmp(e->d_name, allowed[i]);
    if (!ok) {
      print_message("unexpected file in the temp dir: %s\n", e->d_name);
      others++;
    }
  }
  closedir(d);
  return others;
}

/* ---- running a tool ------------------------------------------------------------------- */

typedef struct result {
  int status; /* exit status; 128 + signal if killed */
  char *out, *err;
  size_t out_len;
} result;

static TU_HELPER void result_free(result *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof *r);
}

/* Run argv (argv[0] a tool name in bin_dir, or "sh") with stdin from in_path (NULL:
 * /dev/null); capture everything. Fails the test on a crash or a sanitizer report. */
static TU_HELPER result run_argv(const char *in_path, char *const *argv) {
  result r = {0};
  char *out_path = tpath(".stdout"), *err_path = tpath(".stderr"), *exe;
  if (!strcmp(argv[0], "sh")) exe = strdup("/bin/sh");
  else if (asprintf(&exe, "%s/%s", bin_dir, argv[0]) < 0) exe = NULL;
  assert_non_null(exe);
  r.status = tu_spawn(exe, argv, in_path ? in_path : "/dev/null", out_path, err_path);
  r.out = slurp(out_path, &r.out_len);
  r.err = slurp(err_path, NULL);
  assert_non_null(r.out);
  assert_non_null(r.err);
  unlink(out_path);
  unlink(err_path);
  free(out_path);
  free(err_path);
  if (r.status >= 128 || strstr(r.err, "Sanitizer") || strstr(r.err, "runtime error:"))
    fail_msg("%s crashed (status %d):\n%s", exe, r.status, r.err);
  free(exe);
  return r;
}

#define RUN(in, ...) run_argv((in), (char *const[]){__VA_ARGS__, NULL})

static TU_HELPER int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* stderr is exactly one line starting with prefix and mentioning each of the needles. */
static TU_HELPER void assert_one_line(const result *r, const char *prefix, const char *needle1,
                                      const char *needle2) {
  if (count_lines(r->err) != 1 || r->err[strlen(r->err) - 1] != '\n')
    fail_msg("stderr is not one line:\n%s", r->err);
  if (strncmp(r->err, prefix, strlen(prefix)) != 0)
    fail_msg("stderr does not start with '%s': %s", prefix, r->err);
  if (needle1 && !strstr(r->err, needle1)) fail_msg("stderr lacks '%s': %s", needle1, r->err);
  if (needle2 && !strstr(r->err, needle2)) fail_msg("stderr lacks '%s': %s", needle2, r->err);
}

/* ---- CSV output → values ------------------------------------------------------------- */

typedef struct table {
  double *v;
  size_t rows, cols;
} table;

static TU_HELPER table parse_text(const char *text, size_t len) {
  table t = {0};
  if (len == 0) return t;
  FILE *f = fmemopen((void *)text, len, "r");
  assert_non_null(f);
  lm_csv *r = lm_csv_open(f, "<stdout>", 0);
  long c = lm_csv_cols(r);
  assert_true(c > 0);
  t.cols = (size_t)c;
  size_t cap = 0;
  for (;;) {
    if (t.rows == cap) {
      cap = cap ? 2 * cap : 256;
      t.v = realloc(t.v, cap * t.cols * sizeof *t.v);
      assert_non_null(t.v);
    }
    int rc = lm_csv_next(r, t.v + t.rows * t.cols);
    if (rc < 0) fail_msg("tool output is not CSV: %s", lm_csv_error(r));
    if (rc == 0) break;
    t.rows++;
  }
  lm_csv_close(r);
  fclose(f);
  return t;
}

static TU_HELPER table load_csv(const char *path) {
  table t = {0};
  char err[512];
  if (lm_csv_read_path(path, &t.v, &t.rows, &t.cols, err, sizeof err) != 0) fail_msg("%s", err);
  return t;
}

/* got within TOL·max(1,|want|) of want everywhere (exact if exact); same shape. */
static TU_HELPER void assert_tables_match(const table *got, const table *want, int exact,
                                          const char *what) {
  if (got->rows != want->rows || got->cols != want->cols)
    fail_msg("%s: shape %zux%zu, expected %zux%zu", what, got->rows, got->cols, want->rows,
             want->cols);
  for (size_t i = 0; i < got->rows * got->cols; i++) {
    double g = got->v[i], w = want->v[i];
    int ok =
        (isnan(g) && isnan(w)) || g == w || (!exact && fabs(g - w) <= TOL * fmax(1.0, fabs(w)));
    if (!ok)
      fail_msg("%s: row %zu col %zu: got %.17g, expected %.17g", what, i / got->cols + 1,
               i % got->cols, g, w);
  }
}

static TU_HELPER void table_free(table *t) {
  free(t->v);
  t->v = NULL;
}

/* ---- fixtures ---------------------------------------------------------------------- */

typedef struct fixture {
  char *dir; /* $LM_SRC/tests/fixtures/xgb/<case> */
  char *name;
} fixture;

static TU_HELPER fixture cases[MAX_CASES];
static TU_HELPER size_t n_cases;

static TU_HELPER int cmp_fixture(const void *a, const void *b) {
  return strcmp(((const fixture *)a)->name, ((const fixture *)b)->name);
}

static TU_HELPER void find_cases(void) {
  char *root = spath("tests/fixtures/xgb");
  DIR *d = opendir(root);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n_cases < MAX_CASES) {
      if (e->d_name[0] == '.') continue;
      char *dir, *model;
      if (asprintf(&dir, "%s/%s", root, e->d_name) < 0) break;
      if (asprintf(&model, "%s/model.json", dir) < 0) break;
      if (exists(model)) {
        cases[n_cases].dir = dir;
        cases[n_cases].name = strdup(e->d_name);
        n_cases++;
      } else {
        free(dir);
      }
      free(model);
    }
    closedir(d);
  }
  free(root);
  qsort(cases, n_cases, sizeof cases[0], cmp_fixture);
}

static TU_HELPER char *fpath(const fixture *c, const char *file) {
  char *p;
  if (asprintf(&p, "%s/%s", c->dir, file) < 0) fail_msg("out of memory");
  return p;
}

static TU_HELPER void require_cases(void) {
  if (n_cases == 0) fail_msg("no XGBoost fixtures under %s/tests/fixtures/xgb", src_dir);
}

/* The bundled example, converted once per test that needs a model. */
static TU_HELPER char *convert_example(const char *name) {
  char *in = spath("examples/model.tar.gz"), *out = tpath(name);
  if (!exists(in)) fail_msg("%s is missing", in);
  result r = RUN(NULL, "lmconvert", in, "-o", out, "-q");
  if (r.status != 0) fail_msg("lmconvert %s failed: %s", in, r.err);
  result_free(&r);
  free(in);
  return out;
}

static TU_HELPER char *convert_case(const fixture *c, const char *out_name) {
  char *in = fpath(c, "model.json"), *out = tpath(out_name);
  result r = RUN(NULL, "lmconvert", in, "-o", out);
  if (r.status != 0) fail_msg("%s: lmconvert failed (%d): %s", c->name, r.status, r.err);
  assert_string_equal(r.out, "");
  assert_one_line(&r, "wrote ", out, " bytes");
  result_free(&r);
  free(in);
  return out;
}

/* ---- main ---------------------------------------------------------------------------- */

static TU_HELPER int group_setup(void **state) {
  (void)state;
  bin_dir = getenv("LM_BIN");
  if (!bin_dir || !*bin_dir) bin_dir = "build/bin";
  setenv("LM_BIN", bin_dir, 1); /* for examples/run.sh */
  src_dir = getenv("LM_SRC");
  if (!src_dir || !*src_dir) src_dir = ".";
  snprintf(tmp, sizeof tmp, "%s/lmrt_tools.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmp)) return -1;
  find_cases();
  return 0;
}

static TU_HELPER int group_teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < n_cases; i++) free(cases[i].dir), free(cases[i].name);
  n_cases = 0;
  return tu_rmtree(tmp);
}

#endif
