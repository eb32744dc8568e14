/*
 * test_tools.c — end-to-end tests of the command-line tools as users run them: each test spawns
 * the built lmconvert / lmscore / lminfo from $LM_BIN (default build/bin) with posix_spawn,
 * capturing stdout, stderr and the exit status, against the bundled example
 * ($LM_SRC/examples/model.tar.gz, rows.csv, expected.csv) and the XGBoost parity fixtures
 * ($LM_SRC/tests/fixtures/xgb/<case>/: model.json, input.csv, expected_{value,margin,leaf}.csv).
 *
 * It checks values, not just statuses: scores equal XGBoost's within 1e-6·max(1,|expected|)
 * (leaf ids exactly), --check passes on the right file and exits 3 on a perturbed one, errors
 * are one line naming the file (and line), failed conversions leave no file behind and never
 * replace an existing one, and lminfo's text and JSON agree with what the source model says
 * (read independently with json-c; the source hash recomputed with XXH64). Every run's stderr is
 * also checked for sanitizer reports, since under ASan a crash could pass for "exit 1".
 * All files go to a mkdtemp directory, removed at the end.
 */
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

static char tmp[256];
static const char *bin_dir;
static const char *src_dir;

/* ---- helpers: paths, files ------------------------------------------------------------ */

static char *tpath(const char *name) { /* a path in the temp dir; caller frees */
  char *p;
  if (asprintf(&p, "%s/%s", tmp, name) < 0) fail_msg("out of memory");
  return p;
}

static char *spath(const char *rel) { /* a path in the source tree; caller frees */
  char *p;
  if (asprintf(&p, "%s/%s", src_dir, rel) < 0) fail_msg("out of memory");
  return p;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static long long file_size(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static char *slurp(const char *path, size_t *len) {
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

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* Names in the temp dir other than the listed ones (to find leftovers such as temp files). */
static int count_other_files(const char *const *allowed, size_t n_allowed) {
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

static void result_free(result *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof *r);
}

/* Run argv (argv[0] a tool name in bin_dir, or "sh") with stdin from in_path (NULL:
 * /dev/null); capture everything. Fails the test on a crash or a sanitizer report. */
static result run_argv(const char *in_path, char *const *argv) {
  result r = {0};
  char *out_path = tpath(".stdout"), *err_path = tpath(".stderr"), *exe;
  if (!strcmp(argv[0], "sh")) exe = strdup("/bin/sh");
  else if (asprintf(&exe, "%s/%s", bin_dir, argv[0]) < 0) exe = NULL;
  assert_non_null(exe);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) fail_msg("cannot run %s: %s", exe, strerror(rc));
  int st;
  while (waitpid(pid, &st, 0) < 0) assert_int_equal(errno, EINTR);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
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

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* stderr is exactly one line starting with prefix and mentioning each of the needles. */
static void assert_one_line(const result *r, const char *prefix, const char *needle1,
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

static table parse_text(const char *text, size_t len) {
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

static table load_csv(const char *path) {
  table t = {0};
  char err[512];
  if (lm_csv_read_path(path, &t.v, &t.rows, &t.cols, err, sizeof err) != 0) fail_msg("%s", err);
  return t;
}

/* got within TOL·max(1,|want|) of want everywhere (exact if exact); same shape. */
static void assert_tables_match(const table *got, const table *want, int exact, const char *what) {
  if (got->rows != want->rows || got->cols != want->cols)
    fail_msg("%s: shape %zux%zu, expected %zux%zu", what, got->rows, got->cols, want->rows,
             want->cols);
  for (size_t i = 0; i < got->rows * got->cols; i++) {
    double g = got->v[i], w = want->v[i];
    int ok = (isnan(g) && isnan(w)) || g == w ||
             (!exact && fabs(g - w) <= TOL * fmax(1.0, fabs(w)));
    if (!ok)
      fail_msg("%s: row %zu col %zu: got %.17g, expected %.17g", what, i / got->cols + 1,
               i % got->cols, g, w);
  }
}

static void table_free(table *t) {
  free(t->v);
  t->v = NULL;
}

/* ---- fixtures ---------------------------------------------------------------------- */

typedef struct fixture {
  char *dir;   /* $LM_SRC/tests/fixtures/xgb/<case> */
  char *name;
} fixture;

static fixture cases[MAX_CASES];
static size_t n_cases;

static int cmp_fixture(const void *a, const void *b) {
  return strcmp(((const fixture *)a)->name, ((const fixture *)b)->name);
}

static void find_cases(void) {
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

static char *fpath(const fixture *c, const char *file) {
  char *p;
  if (asprintf(&p, "%s/%s", c->dir, file) < 0) fail_msg("out of memory");
  return p;
}

static void require_cases(void) {
  if (n_cases == 0) fail_msg("no XGBoost fixtures under %s/tests/fixtures/xgb", src_dir);
}

/* The bundled example, converted once per test that needs a model. */
static char *convert_example(const char *name) {
  char *in = spath("examples/model.tar.gz"), *out = tpath(name);
  if (!exists(in)) fail_msg("%s is missing", in);
  result r = RUN(NULL, "lmconvert", in, "-o", out, "-q");
  if (r.status != 0) fail_msg("lmconvert %s failed: %s", in, r.err);
  result_free(&r);
  free(in);
  return out;
}

static char *convert_case(const fixture *c, const char *out_name) {
  char *in = fpath(c, "model.json"), *out = tpath(out_name);
  result r = RUN(NULL, "lmconvert", in, "-o", out);
  if (r.status != 0) fail_msg("%s: lmconvert failed (%d): %s", c->name, r.status, r.err);
  assert_string_equal(r.out, "");
  assert_one_line(&r, "wrote ", out, " bytes");
  result_free(&r);
  free(in);
  return out;
}

/* ---- tests: flags and usage ------------------------------------------------------------ */

static void test_help_version_usage(void **state) {
  (void)state;
  const char *tools[] = {"lmconvert", "lmscore", "lminfo"};
  for (size_t i = 0; i < 3; i++) {
    char want[64];
    result r = RUN(NULL, (char *)tools[i], "--help");
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "Usage: %s ", tools[i]);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    assert_non_null(strstr(r.out, "Exit status"));
    assert_string_equal(r.err, "");
    result_free(&r);

    r = RUN(NULL, (char *)tools[i], "-h");
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    result_free(&r);

    r = RUN(NULL, (char *)tools[i], "--version");
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "%s %s\n", tools[i], LM_VERSION_STRING);
    assert_string_equal(r.out, want);
    result_free(&r);

    r = RUN(NULL, (char *)tools[i], "--no-such-option");
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "unknown option '--no-such-option'"));
    assert_non_null(strstr(r.err, "--help"));
    result_free(&r);

    r = RUN(NULL, (char *)tools[i]); /* no arguments */
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "missing"));
    result_free(&r);
  }
  result r = RUN(NULL, "lmconvert", "in.json"); /* no -o */
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "missing -o"));
  result_free(&r);
  r = RUN(NULL, "lmconvert", "in.json", "-o");
  assert_int_equal(r.status, 2);
  result_free(&r);
  r = RUN(NULL, "lmscore", "m.lm", "--margin", "--leaf");
  assert_int_equal(r.status, 2);
  result_free(&r);
  r = RUN(NULL, "lmscore", "m.lm", "a.csv", "b.csv");
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "unexpected argument 'b.csv'"));
  result_free(&r);
  r = RUN(NULL, "lmscore", "m.lm", "--block-rows", "0");
  assert_int_equal(r.status, 2);
  result_free(&r);
}

/* ---- tests: lmconvert ------------------------------------------------------------------ */

static void test_convert_example(void **state) {
  (void)state;
  char *in = spath("examples/model.tar.gz"), *out = tpath("ex.lm");
  if (!exists(in)) fail_msg("%s is missing", in);
  result r = RUN(NULL, "lmconvert", in, "-o", out);
  if (r.status != 0) fail_msg("lmconvert failed: %s", r.err);
  assert_string_equal(r.out, "");
  assert_one_line(&r, "wrote ", out, " trees, ");
  /* the byte count in the summary is the file's size */
  char want[64];
  snprintf(want, sizeof want, ", %lld bytes\n", file_size(out));
  assert_non_null(strstr(r.err, want));
  result_free(&r);

  /* --quiet: nothing at all; --member names the archive member explicitly */
  r = RUN(NULL, "lmconvert", "-q", in, "--member", "xgboost-model", "-o", out);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "");
  result_free(&r);

  /* a member that is not there: one line naming it, nothing written */
  char *out2 = tpath("ex2.lm");
  r = RUN(NULL, "lmconvert", in, "--member=no-such-member", "-o", out2);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmconvert: ", "no-such-member", NULL);
  assert_false(exists(out2));
  result_free(&r);

  const char *allowed[] = {"ex.lm"};
  assert_int_equal(count_other_files(allowed, 1), 0);
  unlink(out);
  free(out2);
  free(out);
  free(in);
}

/* Bad inputs: exit 1, one line naming the input, no output file, an existing output untouched,
 * no temporary file left over. */
static void test_convert_bad_inputs(void **state) {
  (void)state;
  char *missing = tpath("missing.json"), *trunc = tpath("truncated.json"),
       *text = tpath("notes.txt"), *empty = tpath("empty.json"), *badgz = tpath("bad.tar.gz"),
       *out = tpath("out.lm");

  /* truncated JSON: half of a real model when there is one, else a synthetic prefix */
  size_t len = 0;
  char *json = NULL;
  if (n_cases) {
    char *p = fpath(&cases[0], "model.json");
    json = slurp(p, &len);
    free(p);
  }
  if (json && len > 64) write_bytes(trunc, json, len / 2);
  else write_text(trunc, "{\"learner\": {\"attributes\": {}, \"gradient_booster\": {\"model\": {");
  free(json);
  write_text(text, "these are notes, not a model\n");
  write_text(empty, "");
  write_bytes(badgz, "\x1f\x8b\x08\x00garbage", 12);

  const char *inputs[] = {missing, trunc, text, empty, badgz};
  const char *names[] = {"missing.json", "truncated.json", "notes.txt", "empty.json",
                         "bad.tar.gz"};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    print_message("bad input: %s\n", names[i]);
    unlink(out);
    result r = RUN(NULL, "lmconvert", (char *)inputs[i], "-o", out);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    assert_one_line(&r, "lmconvert: ", names[i], NULL);
    assert_false(exists(out));
    result_free(&r);

    /* an existing output stays as it was */
    write_text(out, "OLD");
    r = RUN(NULL, "lmconvert", (char *)inputs[i], "-o", out);
    assert_int_equal(r.status, 1);
    size_t n;
    char *kept = slurp(out, &n);
    assert_non_null(kept);
    assert_string_equal(kept, "OLD");
    free(kept);
    result_free(&r);
  }
  const char *allowed[] = {"truncated.json", "notes.txt", "empty.json", "bad.tar.gz", "out.lm"};
  assert_int_equal(count_other_files(allowed, 5), 0);

  /* an output directory that does not exist */
  if (n_cases) {
    char *in = fpath(&cases[0], "model.json"), *bad_out = tpath("no/such/dir/x.lm");
    result r = RUN(NULL, "lmconvert", in, "-o", bad_out);
    assert_int_equal(r.status, 1);
    assert_one_line(&r, "lmconvert: ", NULL, NULL);
    result_free(&r);
    free(in);
    free(bad_out);
  }
  const char *files[] = {trunc, text, empty, badgz, out};
  for (size_t i = 0; i < 5; i++) unlink(files[i]);
  free(missing), free(trunc), free(text), free(empty), free(badgz), free(out);
}

/* ---- tests: lmscore parity on every fixture ---------------------------------------- */

/* Soft checks for the per-fixture loop: report and count, so one run lists every failing case
 * rather than stopping at the first. */
#define SOFT(cond, ...)                                                                       \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      print_error(__VA_ARGS__);                                                               \
      print_error("\n");                                                                      \
      bad++;                                                                                  \
      goto out;                                                                               \
    }                                                                                         \
  } while (0)

/* The first mismatch as text, or "" when got matches want (see assert_tables_match). */
static void table_mismatch(const table *got, const table *want, int exact, char *msg, size_t n) {
  msg[0] = '\0';
  if (got->rows != want->rows || got->cols != want->cols) {
    snprintf(msg, n, "shape %zux%zu, expected %zux%zu", got->rows, got->cols, want->rows,
             want->cols);
    return;
  }
  for (size_t i = 0; i < got->rows * got->cols; i++) {
    double g = got->v[i], w = want->v[i];
    if ((isnan(g) && isnan(w)) || g == w || (!exact && fabs(g - w) <= TOL * fmax(1.0, fabs(w))))
      continue;
    snprintf(msg, n, "row %zu col %zu: got %.17g, expected %.17g", i / got->cols + 1,
             i % got->cols, g, w);
    return;
  }
}

/* Score a fixture's input.csv with flag and compare with expected_file; then --check on it.
 * Returns the number of failures (0 or 1), each printed. */
static int score_and_compare(const char *model, const fixture *c, const char *flag,
                             const char *expected_file, int exact) {
  int bad = 0;
  char *input = fpath(c, "input.csv"), *expected = fpath(c, expected_file);
  result r = {0}, k = {0};
  table got = {0}, want = {0};
  const char *fl = flag ? flag : "(values)";
  if (!exists(expected)) {
    /* only linear models have no leaf file: --leaf is refused in one line naming the model */
    assert_true(exact);
    r = RUN(NULL, "lmscore", (char *)model, input, (char *)flag);
    SOFT(r.status == 1 && count_lines(r.err) == 1 && strstr(r.err, "--leaf") && !r.out[0],
         "%s: lmscore --leaf on a linear model: status %d, stderr: %s", c->name, r.status, r.err);
    goto out;
  }
  r = flag ? RUN(NULL, "lmscore", (char *)model, input, (char *)flag)
           : RUN(NULL, "lmscore", (char *)model, input);
  SOFT(r.status == 0 && !r.err[0], "%s: lmscore %s: status %d: %s", c->name, fl, r.status,
       r.err);
  got = parse_text(r.out, r.out_len);
  want = load_csv(expected);
  char msg[256];
  table_mismatch(&got, &want, exact, msg, sizeof msg);
  SOFT(!msg[0], "%s: lmscore %s vs %s: %s", c->name, fl, expected_file, msg);
  if (exact) /* leaf ids print as plain integers */
    SOFT(!strpbrk(r.out, ".eE"), "%s: leaf ids are not integers", c->name);

  /* --check against the same file passes and says so */
  k = flag ? RUN(NULL, "lmscore", (char *)model, input, (char *)flag, "--check", expected)
           : RUN(NULL, "lmscore", (char *)model, input, "--check", expected);
  char line[128];
  snprintf(line, sizeof line, "parity: %zu/%zu rows, ", want.rows, want.rows);
  SOFT(k.status == 0 && !strcmp(k.out, r.out) && !strncmp(k.err, line, strlen(line)) &&
           count_lines(k.err) == 1,
       "%s: lmscore %s --check %s: status %d, stderr: %s", c->name, fl, expected_file, k.status,
       k.err);
out:
  table_free(&got), table_free(&want);
  result_free(&r), result_free(&k);
  free(input), free(expected);
  return bad;
}

static void test_score_fixtures(void **state) {
  (void)state;
  require_cases();
  char failed[4096] = "";
  size_t n_failed = 0;
  for (size_t i = 0; i < n_cases; i++) {
    const fixture *c = &cases[i];
    print_message("fixture: %s\n", c->name);
    char *model = convert_case(c, "case.lm");
    int bad = score_and_compare(model, c, NULL, "expected_value.csv", 0);
    bad += score_and_compare(model, c, "--margin", "expected_margin.csv", 0);
    bad += score_and_compare(model, c, "--leaf", "expected_leaf.csv", 1);
    if (bad) {
      n_failed++;
      size_t l = strlen(failed);
      snprintf(failed + l, sizeof failed - l, " %s", c->name);
    }
    unlink(model);
    free(model);
  }
  if (n_failed) fail_msg("%zu of %zu fixtures differ from XGBoost:%s", n_failed, n_cases, failed);
}

/* stdin and FILE give the same output; so do blocks of 7 rows and the default; --check fails
 * with exit 3 on a perturbed expected file and on one with a row missing. */
static void test_score_streaming_and_check(void **state) {
  (void)state;
  char *model = convert_example("ex.lm");
  char *rows = spath("examples/rows.csv"), *expected = spath("examples/expected.csv");
  char *perturbed = tpath("perturbed.csv"), *short_exp = tpath("short.csv");

  result a = RUN(NULL, "lmscore", model, rows);
  assert_int_equal(a.status, 0);
  assert_true(a.out_len > 0);
  result b = RUN(rows, "lmscore", model);
  assert_int_equal(b.status, 0);
  assert_string_equal(b.out, a.out);
  result_free(&b);
  b = RUN(rows, "lmscore", model, "-");
  assert_int_equal(b.status, 0);
  assert_string_equal(b.out, a.out);
  result_free(&b);
  b = RUN(NULL, "lmscore", model, rows, "--block-rows", "7");
  assert_int_equal(b.status, 0);
  assert_string_equal(b.out, a.out);
  result_free(&b);

  /* the example's predictions match examples/expected.csv */
  table got = parse_text(a.out, a.out_len), want = load_csv(expected);
  assert_tables_match(&got, &want, 0, "examples/rows.csv");
  assert_true(want.rows >= 3);

  /* perturb row 3 beyond the tolerance */
  FILE *f = fopen(perturbed, "w");
  assert_non_null(f);
  for (size_t i = 0; i < want.rows; i++) {
    for (size_t j = 0; j < want.cols; j++) {
      double v = want.v[i * want.cols + j];
      if (i == 2 && j == 0) v += 1e-3 * fmax(1.0, fabs(v));
      fprintf(f, "%s%.17g", j ? "," : "", v);
    }
    fputc('\n', f);
  }
  fclose(f);
  result k = RUN(NULL, "lmscore", model, rows, "--check", perturbed);
  assert_int_equal(k.status, 3);
  assert_string_equal(k.out, a.out); /* predictions are still printed */
  char line[160];
  snprintf(line, sizeof line, "parity: %zu/%zu rows, %zu/%zu outputs within", want.rows - 1,
           want.rows, want.rows * want.cols - 1, want.rows * want.cols);
  if (!strstr(k.err, line)) fail_msg("no '%s' in:\n%s", line, k.err);
  assert_non_null(strstr(k.err, "perturbed.csv:3 output 0"));
  result_free(&k);

  /* one row fewer in the expected file */
  f = fopen(short_exp, "w");
  for (size_t i = 0; i + 1 < want.rows; i++) {
    for (size_t j = 0; j < want.cols; j++)
      fprintf(f, "%s%.17g", j ? "," : "", want.v[i * want.cols + j]);
    fputc('\n', f);
  }
  fclose(f);
  k = RUN(NULL, "lmscore", model, rows, "--check", short_exp);
  assert_int_equal(k.status, 3);
  snprintf(line, sizeof line, "has %zu rows", want.rows - 1);
  assert_non_null(strstr(k.err, line));
  result_free(&k);

  /* an expected file of the wrong width is bad input naming file:line */
  write_text(short_exp, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20\n");
  k = RUN(NULL, "lmscore", model, rows, "--check", short_exp);
  assert_int_equal(k.status, 1);
  assert_non_null(strstr(k.err, "short.csv:1:"));
  assert_non_null(strstr(k.err, "too many fields"));
  result_free(&k);

  table_free(&got), table_free(&want);
  result_free(&a);
  unlink(perturbed), unlink(short_exp), unlink(model);
  free(perturbed), free(short_exp), free(rows), free(expected), free(model);
}

/* Bad rows, files and models: exit 1, one line naming the file (and line:col for rows). */
static void test_score_bad_input(void **state) {
  (void)state;
  char *model = convert_example("ex.lm");
  char *rows = spath("examples/rows.csv");
  char *bad = tpath("bad.csv"), *trunc = tpath("trunc.lm");
  table in = load_csv(rows);
  assert_true(in.cols >= 1);

  /* line 2 has one field too many */
  FILE *f = fopen(bad, "w");
  for (int i = 0; i < 3; i++) {
    for (size_t j = 0; j < in.cols + (i == 1); j++) fprintf(f, "%s1", j ? "," : "");
    fputc('\n', f);
  }
  fclose(f);
  result r = RUN(NULL, "lmscore", model, bad);
  assert_int_equal(r.status, 1);
  char want[128];
  snprintf(want, sizeof want, "expected %zu", in.cols);
  assert_one_line(&r, "lmscore: ", "bad.csv:2:", want);
  assert_non_null(strstr(r.err, "too many fields"));
  result_free(&r);

  /* a bad number: file:line:col and the text (on line 2: on line 1 it makes a header) */
  f = fopen(bad, "w");
  for (int k = 0; k < 2; k++) {
    fputs(k ? "x1y" : "1", f);
    for (size_t j = 1; j < in.cols; j++) fputs(",1", f);
    fputc('\n', f);
  }
  fclose(f);
  r = RUN(NULL, "lmscore", model, bad);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "bad.csv:2:1: bad number \"x1y\"", NULL);
  assert_string_equal(r.out, "");
  result_free(&r);

  /* the same from stdin names <stdin> */
  r = RUN(bad, "lmscore", model);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "<stdin>:2:1:", NULL);
  result_free(&r);

  /* missing input, missing model, a model that is not one, a truncated model */
  char *nofile = tpath("nofile.csv");
  r = RUN(NULL, "lmscore", model, nofile);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "nofile.csv", NULL);
  result_free(&r);
  r = RUN(NULL, "lmscore", nofile, rows);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "nofile.csv", NULL);
  result_free(&r);
  r = RUN(NULL, "lmscore", rows, rows);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "rows.csv", NULL);
  result_free(&r);
  size_t len;
  char *bytes = slurp(model, &len);
  assert_non_null(bytes);
  write_bytes(trunc, bytes, len / 2);
  free(bytes);
  r = RUN(NULL, "lmscore", trunc, rows);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lmscore: ", "trunc.lm", NULL);
  result_free(&r);
  r = RUN(NULL, "lminfo", trunc);
  assert_int_equal(r.status, 1);
  assert_one_line(&r, "lminfo: ", "trunc.lm", NULL);
  assert_string_equal(r.out, "");
  result_free(&r);

  /* empty input: no output, success */
  write_text(bad, "");
  r = RUN(NULL, "lmscore", model, bad);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  result_free(&r);

  table_free(&in);
  unlink(bad), unlink(trunc), unlink(model);
  free(nofile), free(bad), free(trunc), free(rows), free(model);
}

/* ---- tests: lminfo --------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *path) { /* "a.b.c" */
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
    if (!json_object_object_get_ex(o, k, &o)) o = NULL;
  return o;
}

static long long jint(json_object *o) { /* XGBoost stores many integers as strings */
  if (!o) return -1;
  if (json_object_is_type(o, json_type_string)) return atoll(json_object_get_string(o));
  return json_object_get_int64(o);
}

static json_object *parse_json_or_fail(const char *text) {
  enum json_tokener_error jerr;
  json_object *o = json_tokener_parse_verbose(text, &jerr);
  if (!o) fail_msg("lminfo --json is not JSON (%s):\n%s", json_tokener_error_desc(jerr), text);
  return o;
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v = jget(o, key);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void check_info_against_source(const fixture *c) {
  char *src = fpath(c, "model.json"), *model = convert_case(c, "info.lm");
  json_object *xgb = json_object_from_file(src);
  assert_non_null(xgb);

  result r = RUN(NULL, "lminfo", model, "--json");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  json_object *info = parse_json_or_fail(r.out);

  /* every documented key is there, with the right type */
  const char *str_keys[] = {"file",      "format_version", "source_format", "source_version",
                            "source_hash", "converter",    "booster",       "objective",
                            "link",        "kernel",       "isa"};
  for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++)
    if (!jstr(info, str_keys[i])) fail_msg("%s: no string \"%s\" in:\n%s", c->name, str_keys[i],
                                           r.out);
  const char *int_keys[] = {"file_size", "num_trees", "num_nodes", "max_depth",
                            "num_categorical_splits", "num_features", "num_outputs"};
  for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++)
    if (!json_object_is_type(jget(info, int_keys[i]), json_type_int))
      fail_msg("%s: no integer \"%s\" in:\n%s", c->name, int_keys[i], r.out);

  /* values that the source model and the generator's meta.json say independently */
  char *mp = fpath(c, "meta.json");
  json_object *meta = json_object_from_file(mp);
  if (!meta) fail_msg("%s: cannot read %s", c->name, mp);
  free(mp);
  assert_string_equal(jstr(info, "file"), model);
  assert_int_equal(jint(jget(info, "file_size")), file_size(model));
  assert_string_equal(jstr(info, "source_format"), "xgboost-json");
  assert_string_equal(jstr(info, "objective"), jstr(xgb, "learner.objective.name"));
  assert_string_equal(jstr(info, "objective"), jstr(meta, "objective"));
  assert_string_equal(jstr(info, "booster"), jstr(meta, "booster"));
  assert_string_equal(jstr(info, "source_version"), jstr(meta, "xgboost_version"));
  assert_string_equal(jstr(info, "converter"), "lmconvert " LM_VERSION_STRING);
  assert_int_equal(jint(jget(info, "num_features")), jint(jget(meta, "num_features")));
  assert_int_equal(jint(jget(info, "num_features")),
                   jint(jget(xgb, "learner.learner_model_param.num_feature")));
  assert_int_equal(jint(jget(info, "num_outputs")), jint(jget(meta, "num_outputs")));
  assert_int_equal(jint(jget(info, "num_trees")), jint(jget(meta, "num_trees")));
  char *p = fpath(c, "input.csv");
  table t = load_csv(p);
  assert_int_equal(jint(jget(info, "num_features")), t.cols);
  table_free(&t), free(p);
  p = fpath(c, "expected_margin.csv");
  t = load_csv(p);
  assert_int_equal(jint(jget(info, "num_outputs")), t.cols);
  table_free(&t), free(p);
  p = fpath(c, "expected_leaf.csv");
  if (exists(p)) {
    t = load_csv(p);
    assert_int_equal(jint(jget(info, "num_trees")), t.cols);
    table_free(&t);
  }
  free(p);
  json_object_put(meta);

  /* the source hash is XXH64 of the artifact's bytes, 16 hex digits */
  size_t len;
  char *bytes = slurp(src, &len);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH64(bytes, len, 0));
  free(bytes);
  assert_string_equal(jstr(info, "source_hash"), hex);

  /* feature names and types: as many as features; names as in the source when it has them */
  json_object *types = jget(info, "feature_types"), *names = jget(info, "feature_names");
  assert_true(json_object_is_type(types, json_type_array));
  assert_int_equal(json_object_array_length(types), jint(jget(info, "num_features")));
  json_object *src_names = jget(xgb, "learner.feature_names");
  if (src_names && json_object_array_length(src_names) > 0) {
    assert_true(json_object_is_type(names, json_type_array));
    assert_int_equal(json_object_array_length(names), json_object_array_length(src_names));
    for (size_t i = 0; i < json_object_array_length(names); i++)
      assert_string_equal(json_object_get_string(json_object_array_get_idx(names, i)),
                          json_object_get_string(json_object_array_get_idx(src_names, i)));
  }

  /* the text form says the same */
  result tx = RUN(NULL, "lminfo", model);
  assert_int_equal(tx.status, 0);
  char line[256];
  snprintf(line, sizeof line, "\nobjective:%*s%s\n", 20 - 9, "", jstr(info, "objective"));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\ntrees:%*s%lld\n", 20 - 5, "", jint(jget(info, "num_trees")));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\nsource hash:%*s%s\n", 20 - 11, "", hex);
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\nfeatures:%*s%lld (", 20 - 8, "", jint(jget(info, "num_features")));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\nkernel:%*s%s\n", 20 - 6, "", jstr(info, "kernel"));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  /* the plan: largest batches first (the kernel above), down to single rows */
  json_object *plan = jget(info, "plan");
  size_t nb = json_object_array_length(plan);
  assert_true(nb >= 1 && nb <= 4);
  json_object *b0 = json_object_array_get_idx(plan, 0), *bl = json_object_array_get_idx(plan, nb - 1);
  assert_string_equal(jstr(b0, "kernel"), jstr(info, "kernel"));
  assert_int_equal(jint(jget(bl, "min_rows")), 1);
  snprintf(line, sizeof line, "\nkernel plan:%*s%lld+ rows: %s", 20 - 11, "",
           jint(jget(b0, "min_rows")), jstr(info, "kernel"));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  result_free(&tx);

  json_object_put(info);
  json_object_put(xgb);
  result_free(&r);
  unlink(model);
  free(model), free(src);
}

static void test_lminfo_fixtures(void **state) {
  (void)state;
  require_cases();
  for (size_t i = 0; i < n_cases; i++) {
    print_message("fixture: %s\n", cases[i].name);
    check_info_against_source(&cases[i]);
  }
}

/* Feature names that need JSON escaping come back intact through lmconvert → lminfo --json. */
static void test_lminfo_json_escaping(void **state) {
  (void)state;
  require_cases();
  char *src = fpath(&cases[0], "model.json"), *edited = tpath("names.json"),
       *model = tpath("names.lm");
  json_object *xgb = json_object_from_file(src);
  assert_non_null(xgb);
  json_object *learner = jget(xgb, "learner");
  long long nf = jint(jget(xgb, "learner.learner_model_param.num_feature"));
  assert_true(nf > 0);
  const char *tricky[] = {"quo\"te", "back\\slash", "tab\there", "caf\xC3\xA9", "new\nline",
                          "ctl\x01", "plain"};
  json_object *names = json_object_new_array();
  json_object *types = json_object_new_array();
  for (long long i = 0; i < nf; i++) {
    json_object_array_add(names, json_object_new_string(tricky[i % 7]));
    /* keep the source's types when it has them, else numeric */
    json_object *st = jget(xgb, "learner.feature_types");
    const char *t = st && (long long)json_object_array_length(st) == nf
                        ? json_object_get_string(json_object_array_get_idx(st, (size_t)i))
                        : "float";
    json_object_array_add(types, json_object_new_string(t));
  }
  json_object_object_add(learner, "feature_names", names);
  json_object_object_add(learner, "feature_types", types);
  assert_int_equal(json_object_to_file_ext(edited, xgb, JSON_C_TO_STRING_PLAIN), 0);

  result r = RUN(NULL, "lmconvert", edited, "-o", model, "-q");
  if (r.status != 0) fail_msg("lmconvert of renamed features: %s", r.err);
  result_free(&r);
  r = RUN(NULL, "lminfo", model, "--json");
  assert_int_equal(r.status, 0);
  json_object *info = parse_json_or_fail(r.out);
  json_object *got = jget(info, "feature_names");
  assert_true(json_object_is_type(got, json_type_array));
  assert_int_equal(json_object_array_length(got), nf);
  for (long long i = 0; i < nf; i++)
    assert_string_equal(json_object_get_string(json_object_array_get_idx(got, (size_t)i)),
                        tricky[i % 7]);
  json_object_put(info);
  result_free(&r);

  /* text: no raw control characters, first names shown */
  r = RUN(NULL, "lminfo", model);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "feature names:"));
  assert_non_null(strstr(r.out, "quo\"te ("));
  if (nf > 4) assert_non_null(strstr(r.out, "new?line ("));
  assert_null(strchr(r.out, '\x01'));
  assert_null(strchr(r.out, '\t'));
  result_free(&r);

  json_object_put(xgb);
  unlink(edited), unlink(model);
  free(src), free(edited), free(model);
}

/* examples/run.sh, as `make run` runs it, into the temp dir. */
static void test_example_run_sh(void **state) {
  (void)state;
  char *script = spath("examples/run.sh"), *expected = spath("examples/expected.csv");
  if (!exists(script)) fail_msg("%s is missing", script);
  result r = RUN(NULL, "sh", script, tmp);
  if (r.status != 0) { /* cmocka cuts long messages: show the ends, where the failure is */
    size_t lo = strlen(r.out), le = strlen(r.err);
    print_error("run.sh stdout (end):\n%s\n", r.out + (lo > 700 ? lo - 700 : 0));
    print_error("run.sh stderr (end):\n%s\n", r.err + (le > 700 ? le - 700 : 0));
    fail_msg("run.sh failed (%d)", r.status);
  }
  table want = load_csv(expected);
  char line[128];
  snprintf(line, sizeof line, "parity: %zu/%zu rows, ", want.rows, want.rows);
  assert_non_null(strstr(r.err, line));
  assert_non_null(strstr(r.err, "wrote "));
  assert_non_null(strstr(r.out, "objective:"));
  result_free(&r);
  table_free(&want);
  char *ex = tpath("example.lm");
  assert_true(exists(ex));
  unlink(ex);
  free(ex), free(expected);

  r = RUN(NULL, "sh", script); /* no BUILD_DIR: usage */
  assert_int_equal(r.status, 2);
  assert_non_null(strstr(r.err, "usage"));
  result_free(&r);
  free(script);
}

/* ---- main ---------------------------------------------------------------------------- */

static int group_setup(void **state) {
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

static int group_teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < n_cases; i++) free(cases[i].dir), free(cases[i].name);
  n_cases = 0;
  return tu_rmtree(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_version_usage),
      cmocka_unit_test(test_convert_example),
      cmocka_unit_test(test_convert_bad_inputs),
      cmocka_unit_test(test_score_fixtures),
      cmocka_unit_test(test_score_streaming_and_check),
      cmocka_unit_test(test_score_bad_input),
      cmocka_unit_test(test_lminfo_fixtures),
      cmocka_unit_test(test_lminfo_json_escaping),
      cmocka_unit_test(test_example_run_sh),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
