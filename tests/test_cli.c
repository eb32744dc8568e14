/*
 * test_cli.c — the user-facing conventions of issue 23, as values:
 *
 *  1. the row reader's rules (tools/csv.h) in two tables: inputs with a header (detected or
 *     forced), columns matched by name in any order, pandas' index column, quotes, delimiters
 *     and LIBSVM rows with the exact values expected; bad inputs with the exact one-line
 *     message expected;
 *  2. lmscore and lmconvert --selftest on the files pandas really writes
 *     (tests/fixtures/pandas/, from tests/gen_pandas_fixtures.py with Debian's pandas and
 *     XGBoost): X.to_csv() with its index, the columns shuffled, no index, ';', LIBSVM — every
 *     one scores to XGBoost's own predictions, bit for bit the same output, and the messages
 *     for wrong columns name them;
 *  3. the command-line style shared by lmconvert, lmscore, lminfo and lmserve: --opt=VALUE and
 *     --opt VALUE give the same result, --threads 0 is accepted everywhere, one exit-status
 *     table in every --help, usage errors and file errors in one format;
 *  4. lmconvert's summary line says how many trees it kept when it drops some.
 * Tools are spawned from $LM_BIN (default build/bin); files go to a scratch directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/lm_test_cli_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tools/csv.h"

extern char **environ;

#define N NAN
#define MAXV 16
#define TOL 1e-6

/* ---- 1. the reader ------------------------------------------------------------------------ */

typedef struct rd_case {
  const char *name, *text;
  size_t ncols;
  int header, format;
  char delim;
  const char *index_col;
  const char *names[9];  /* NULL-terminated; empty: no names */
  /* expected */
  const char *err;       /* exact error, or NULL for success */
  int has_header;
  size_t rows, cols;
  double v[MAXV];
  const char *note;
} rd_case;

static const rd_case rd_cases[] = {
    {"header in the model's order", "a,b\n1,2\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"header in another order", "b,a\n1,2\n3,\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL, 1, 2, 2, {2, 1, N, 3}, ""},
    {"pandas' index column", ",b,a\n0,1,2\n1,3,4\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL, 1, 2, 2,
     {2, 1, 4, 3}, "column 1 has an empty header (pandas' index): skipped"},
    {"pandas' integer header, no names", ",0,1\n0,5,6\n", 2, 0, 0, 0, NULL, {NULL}, NULL, 1, 1, 2,
     {5, 6}, "column 1 has an empty header (pandas' index): skipped"},
    {"a numeric first line is data", "1,2\n3,4\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL, 0, 2, 2, {1, 2, 3, 4}, ""},
    {"missing markers are no header", "NA,nan,\n1,2,3\n", 0, 0, 0, 0, NULL, {NULL}, NULL, 0, 2, 3,
     {N, N, N, 1, 2, 3}, ""},
    {"--header forces one", "1,2\n3,4\n", 0, LM_CSV_HEADER_YES, 0, 0, NULL, {NULL}, NULL, 1, 1, 2, {3, 4}, ""},
    {"index column by name", "id,a,b\nrow-1,1,2\n", 2, 0, 0, 0, "id", {"a", "b"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"index column by position", "r1,1,2\nr2,3,4\n", 2, LM_CSV_HEADER_NO, 0, 0, "0", {NULL}, NULL, 0, 2, 2, {1, 2, 3, 4}, ""},
    {"index column, count from the file", "7,1,2\n", 0, LM_CSV_HEADER_NO, 0, 0, "2", {NULL}, NULL, 0, 1, 2, {7, 1}, ""},
    {"quoted names: comma, doubled quotes", "\"x, \"\"y\"\"\",b\n\"1\",2\n", 2, 0, 0, 0, NULL,
     {"x, \"y\"", "b"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"a quoted name across lines", "a,\"b\nc\"\n1,2\n", 2, 0, 0, 0, NULL, {"a", "b\nc"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"';' delimiter", "a;b\n1;2\n", 2, 0, 0, ';', NULL, {"a", "b"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"tab delimiter", "a\tb\n 1\t2 \n", 2, 0, 0, '\t', NULL, {"a", "b"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"blank lines after the header", "a,b\n\n \n1,2\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL, 1, 1, 2, {1, 2}, ""},
    {"BOM and CRLF with a header", "\xEF\xBB\xBF" "b,a\r\n1,2\r\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL,
     1, 1, 2, {2, 1}, ""},
    {"a header and no rows", "a,b\n", 2, 0, 0, 0, NULL, {"a", "b"}, NULL, 1, 0, 2, {0}, ""},
    {"LIBSVM", "1 0:1.5 2:3\n0 qid:3 1:-1 # comment\n3:7\n", 4, 0, LM_CSV_LIBSVM, 0, NULL, {NULL},
     NULL, 0, 3, 4, {1.5, N, 3, N, N, -1, N, N, N, N, N, 7}, ""},
    {"LIBSVM label only", "1\n", 2, 0, LM_CSV_LIBSVM, 0, NULL, {NULL}, NULL, 0, 1, 2, {N, N}, ""},
    /* errors */
    {"missing and unexpected columns", "a,c\n1,2\n", 2, 0, 0, 0, NULL, {"a", "b"},
     "t.csv:1: the header does not match the model's 2 feature names: missing column \"b\"; "
     "unexpected column \"c\"", 0, 0, 0, {0}, NULL},
    {"many missing columns", "z\n1\n", 8, 0, 0, 0, NULL, {"a", "b", "c", "d", "e", "f", "g", "h"},
     "t.csv:1: the header does not match the model's 8 feature names: missing columns \"a\", "
     "\"b\", \"c\", \"d\", \"e\", \"f\", ... and 2 more; unexpected column \"z\"", 0, 0, 0, {0}, NULL},
    {"a column twice", "a,a,b\n", 2, 0, 0, 0, NULL, {"a", "b"},
     "t.csv:1: column \"a\" appears twice (columns 1 and 2)", 0, 0, 0, {0}, NULL},
    {"header count without names", "x,y,z\n1,2,3\n", 2, 0, 0, 0, NULL, {NULL},
     "t.csv:1: the header has 3 columns, expected 2", 0, 0, 0, {0}, NULL},
    {"index column name absent", "a,b\n1,2\n", 2, 0, 0, 0, "id", {"a", "b"},
     "t.csv:1: no column named \"id\" (the index column)", 0, 0, 0, {0}, NULL},
    {"index column named, no header", "1,2\n", 0, 0, 0, 0, "id", {NULL},
     "t.csv:1: index column \"id\" is named, but the file has no header line", 0, 0, 0, {0}, NULL},
    {"index column beyond the columns", "1,2\n", 0, 0, 0, 0, "5", {NULL},
     "t.csv:1: index column 5 is beyond the file's 2 columns (counted from 0)", 0, 0, 0, {0}, NULL},
    {"--no-header: a name is a bad number", ",f_0\n0,1\n", 2, LM_CSV_HEADER_NO, 0, 0, NULL, {"f_0", "x"},
     "t.csv:1:2: bad number \"f_0\" (field 2)", 0, 0, 0, {0}, NULL},
    {"unterminated quote", "\"abc\n", 0, 0, 0, 0, NULL, {NULL},
     "t.csv:1:1: unterminated quoted field (field 1)", 0, 0, 0, {0}, NULL},
    {"text after a closing quote", "\"a\"x,b\n", 0, 0, 0, 0, NULL, {NULL},
     "t.csv:1:4: text after a closing quote (field 1)", 0, 0, 0, {0}, NULL},
    {"a bad number after the header", "a,b\n1,x\n", 2, 0, 0, 0, NULL, {"a", "b"},
     "t.csv:2:3: bad number \"x\" (field 2)", 0, 0, 0, {0}, NULL},
    {"too few fields with an index", ",a,b\n0,1\n", 2, 0, 0, 0, NULL, {"a", "b"},
     "t.csv:2:4: too few fields: 2, expected 3", 0, 0, 0, {0}, NULL},
    {"LIBSVM index out of range", "1 0:1 4:2\n", 4, 0, LM_CSV_LIBSVM, 0, NULL, {NULL},
     "t.csv:1:7: feature index 4 out of range: the model has 4 features, indices 0 to 3 (0-based)", 0, 0, 0, {0}, NULL},
    {"LIBSVM index twice", "1 1:1 1:2\n", 4, 0, LM_CSV_LIBSVM, 0, NULL, {NULL},
     "t.csv:1:7: feature index 1 given twice", 0, 0, 0, {0}, NULL},
    {"LIBSVM bad pair", "1 a:1\n", 4, 0, LM_CSV_LIBSVM, 0, NULL, {NULL},
     "t.csv:1:3: bad LIBSVM pair \"a:1\" (expected index:value, index an integer)", 0, 0, 0, {0}, NULL},
    {"LIBSVM bad value", "1 0:x\n", 4, 0, LM_CSV_LIBSVM, 0, NULL, {NULL},
     "t.csv:1:5: bad number \"x\" (feature 0)", 0, 0, 0, {0}, NULL},
    {"LIBSVM blank line", "1 0:1\n\n1 0:2\n", 4, 0, LM_CSV_LIBSVM, 0, NULL, {NULL},
     "t.csv:2:1: blank line, expected a LIBSVM row (label index:value ...)", 0, 0, 0, {0}, NULL},
};

static int same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void test_reader_table(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof rd_cases / sizeof *rd_cases; c++) {
    const rd_case *k = &rd_cases[c];
    print_message("case: %s\n", k->name);
    FILE *f = fmemopen((void *)k->text, strlen(k->text), "r");
    assert_non_null(f);
    lm_csv_options o = {.ncols = k->ncols, .header = k->header, .format = k->format,
                        .delimiter = k->delim, .index_col = k->index_col,
                        .names = k->names[0] ? k->names : NULL};
    lm_csv *r = lm_csv_open_opts(f, "t.csv", &o);
    assert_non_null(r);
    double row[MAXV];
    size_t n = 0;
    int rc;
    long cols = lm_csv_cols(r);
    if (cols >= 0)
      while ((rc = lm_csv_next(r, row)) == 1) {
        if (k->err) continue; /* rows before the error */
        assert_true(n < k->rows);
        for (size_t j = 0; j < (size_t)cols; j++)
          if (!same(row[j], k->v[n * (size_t)cols + j]))
            fail_msg("%s: row %zu col %zu: got %g, want %g", k->name, n, j, row[j],
                     k->v[n * (size_t)cols + j]);
        n++;
      }
    else
      rc = -1;
    if (k->err) {
      assert_int_equal(rc, -1);
      assert_string_equal(lm_csv_error(r), k->err);
      assert_null(strchr(lm_csv_error(r), '\n'));
    } else {
      if (rc != 0) fail_msg("%s: %s", k->name, lm_csv_error(r));
      assert_int_equal(cols, (long)k->cols);
      assert_int_equal(n, k->rows);
      assert_int_equal(lm_csv_has_header(r), k->has_header);
      assert_string_equal(lm_csv_note(r), k->note);
    }
    lm_csv_close(r);
    fclose(f);
  }
}

/* ---- running the tools ------------------------------------------------------------------- */

static const char *bin_dir, *src_dir;

typedef struct result {
  int status;
  char *out, *err;
} result;

static char *slurp(const char *path) {
  size_t n;
  return tu_read_file(path, &n);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static result run_argv(char *const *argv) {
  char exe[1024];
  snprintf(exe, sizeof exe, "%s/%s", bin_dir, argv[0]);
  char out_path[300], err_path[300];
  snprintf(out_path, sizeof out_path, "%s/.out", tmpdir);
  snprintf(err_path, sizeof err_path, "%s/.err", tmpdir);
  int status = tu_spawn(exe, argv, "/dev/null", out_path, err_path);
  result r = {status, slurp(out_path), slurp(err_path)};
  assert_non_null(r.out);
  assert_non_null(r.err);
  if (r.status >= 128 || strstr(r.err, "Sanitizer") || strstr(r.err, "runtime error:"))
    fail_msg("%s crashed (status %d):\n%s", exe, r.status, r.err);
  return r;
}

#define RUN(...) run_argv((char *const[]){__VA_ARGS__, NULL})

static void result_free(result *r) {
  free(r->out);
  free(r->err);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static char *fx(const char *name) { /* a pandas fixture path (rotating static buffers) */
  static char buf[8][1024];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, 1024, "%s/tests/fixtures/pandas/%s", src_dir, name);
  return p;
}

static char *tp(const char *name) {
  static char buf[8][512];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

/* XGBoost's predictions (pandas' Series.to_csv: header ",0" and an index) or a plain column. */
static double *load_expected(const char *path, size_t *n) {
  double *v;
  size_t cols;
  char err[600];
  if (lm_csv_read_path_opts(path, NULL, &v, n, &cols, err, sizeof err, NULL, 0) != 0)
    fail_msg("%s", err);
  assert_int_equal(cols, 1);
  return v;
}

static void assert_scores(const char *out, const double *want, size_t n) {
  const char *p = out;
  for (size_t i = 0; i < n; i++) {
    char *end;
    double g = strtod(p, &end);
    if (end == p || *end != '\n') fail_msg("output line %zu is not one number: %.40s", i + 1, p);
    float wf = (float)want[i];
    if (fabs(g - (double)wf) > TOL * fmax(1.0, fabs((double)wf)))
      fail_msg("row %zu: got %.9g, expected %.9g", i + 1, g, (double)wf);
    p = end + 1;
  }
  assert_string_equal(p, "");
}

static int summary_value(const char *key) {
  char *s = slurp(fx("summary.txt"));
  assert_non_null(s);
  char *p = strstr(s, key);
  assert_non_null(p);
  int v = atoi(p + strlen(key) + 1);
  free(s);
  return v;
}

/* ---- 2. pandas' files -------------------------------------------------------------------- */

static char model[512], model_all[512];

static void convert_models(void) {
  if (model[0]) return;
  snprintf(model, sizeof model, "%s", tp("pandas.lm"));
  snprintf(model_all, sizeof model_all, "%s", tp("pandas_all.lm"));
  result r = RUN("lmconvert", fx("model.json"), "-o", model);
  if (r.status) fail_msg("lmconvert: %s", r.err);
  result_free(&r);
  r = RUN("lmconvert", "--all-trees", fx("model.json"), "--output=", model_all);
  assert_int_equal(r.status, 2); /* an empty value is a usage error */
  result_free(&r);
  r = RUN("lmconvert", "--all-trees", fx("model.json"), "-o", model_all);
  if (r.status) fail_msg("lmconvert --all-trees: %s", r.err);
  result_free(&r);
}

typedef struct score_case {
  const char *file;
  const char *opt1, *opt2;  /* extra arguments (NULL: none) */
  const char *note;         /* the exact stderr, "" for none */
} score_case;

static const score_case score_cases[] = {
    {"default.csv", NULL, NULL, "lmscore: %s: column 1 has an empty header (pandas' index): skipped\n"},
    {"shuffled.csv", NULL, NULL, "lmscore: %s: column 1 has an empty header (pandas' index): skipped\n"},
    {"default.csv", "--index-col", "0", ""},
    {"default.csv", "--header", NULL, "lmscore: %s: column 1 has an empty header (pandas' index): skipped\n"},
    {"noindex.csv", NULL, NULL, ""},
    {"semicolon.csv", "--delimiter", ";", ""},
    {"semicolon.csv", "--delimiter=;", NULL, ""},
    {"rows.libsvm", "--format", "libsvm", ""},
    {"rows.libsvm", "--format=libsvm", NULL, ""},
};

/* Every file pandas writes scores to XGBoost's own predictions (best iteration, as kept by
 * default), and the outputs are byte for byte the same whatever the file's layout. */
static void test_pandas_files(void **state) {
  (void)state;
  convert_models();
  size_t n;
  double *want = load_expected(fx("expected.csv"), &n);
  assert_int_equal(n, 40);
  char *first = NULL;
  for (size_t c = 0; c < sizeof score_cases / sizeof *score_cases; c++) {
    const score_case *k = &score_cases[c];
    print_message("lmscore %s %s %s\n", k->file, k->opt1 ? k->opt1 : "", k->opt2 ? k->opt2 : "");
    char *path = fx(k->file);
    result r = k->opt2   ? RUN("lmscore", model, path, (char *)k->opt1, (char *)k->opt2)
               : k->opt1 ? RUN("lmscore", model, path, (char *)k->opt1)
                         : RUN("lmscore", model, path);
    if (r.status) fail_msg("%s: exit %d: %s", k->file, r.status, r.err);
    char note[2048];
    snprintf(note, sizeof note, k->note, path);
    assert_string_equal(r.err, note);
    assert_scores(r.out, want, n);
    if (!first) first = strdup(r.out);
    else assert_string_equal(r.out, first);
    result_free(&r);
  }
  /* --check against pandas' own file of predictions (header ",0", an index column) */
  result r = RUN("lmscore", model, fx("shuffled.csv"), "--check", fx("expected.csv"));
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.err, "parity: 40/40 rows, 40/40 outputs within"));
  assert_string_equal(r.out, first);
  result_free(&r);
  /* every tree: plain bst.predict() of XGBoost 1.7; the default model fails that check */
  size_t na;
  double *want_all = load_expected(fx("expected_all.csv"), &na);
  r = RUN("lmscore", model_all, fx("default.csv"));
  assert_int_equal(r.status, 0);
  assert_scores(r.out, want_all, na);
  result_free(&r);
  r = RUN("lmscore", model, fx("default.csv"), "--check", fx("expected_all.csv"));
  assert_int_equal(r.status, 3);
  result_free(&r);
  free(want_all);
  free(want);
  free(first);
}

/* Wrong columns: exit 1, one line "lmscore: FILE:1: ..." naming them. */
static void test_pandas_wrong_columns(void **state) {
  (void)state;
  convert_models();
  char *src = slurp(fx("noindex.csv"));
  assert_non_null(src);
  /* drop the last column (f_11), add a label column, prefix an id column */
  char *dropped = tp("dropped.csv"), *label = tp("label.csv"), *id = tp("id.csv");
  FILE *fd = fopen(dropped, "w"), *fl = fopen(label, "w"), *fi = fopen(id, "w");
  int line = 0;
  for (char *save = NULL, *l = strtok_r(src, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char *last = strrchr(l, ',');
    fprintf(fd, "%.*s\n", (int)(last - l), l);
    fprintf(fl, "%s,%s\n", l, line ? "1" : "label");
    fprintf(fi, "%s,%s\n", line ? "r" : "id", l);
    line++;
  }
  fclose(fd), fclose(fl), fclose(fi);
  free(src);
  struct {
    const char *file, *opt1, *opt2;
    int status;
    const char *err; /* exact, %s = the file */
  } cases[] = {
      {dropped, NULL, NULL, 1,
       "lmscore: %s:1: the header does not match the model's 12 feature names: missing column "
       "\"f_11\"\n"},
      {label, NULL, NULL, 1,
       "lmscore: %s:1: the header does not match the model's 12 feature names: unexpected "
       "column \"label\"\n"},
      {id, NULL, NULL, 1,
       "lmscore: %s:1: the header does not match the model's 12 feature names: unexpected "
       "column \"id\"\n"},
      {id, "--index-col", "id", 0, ""},
      {id, "--index-col=0", NULL, 0, ""},
      {fx("noindex.csv"), "--no-header", NULL, 1,
       "lmscore: %s:1:1: bad number \"f_0\" (field 1)\n"},
      {fx("semicolon.csv"), NULL, NULL, 1,
       "lmscore: %s:1:31: text after a closing quote (field 2)\n"},
      {fx("default.csv"), "--index-col=0", "--format=libsvm", 2,
       "lmscore: --format libsvm takes no --index-col (try 'lmscore --help')\n"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    print_message("case %zu: %s %s\n", c, cases[c].file, cases[c].opt1 ? cases[c].opt1 : "");
    result r = cases[c].opt2 ? RUN("lmscore", model, (char *)cases[c].file, (char *)cases[c].opt1,
                                   (char *)cases[c].opt2)
               : cases[c].opt1 ? RUN("lmscore", model, (char *)cases[c].file, (char *)cases[c].opt1)
                               : RUN("lmscore", model, (char *)cases[c].file);
    char want[2048];
    snprintf(want, sizeof want, cases[c].err, cases[c].file);
    assert_int_equal(r.status, cases[c].status);
    assert_string_equal(r.err, want);
    if (r.status) assert_string_equal(r.out, "");
    else assert_int_equal(count_lines(r.out), 40);
    result_free(&r);
  }
  /* LIBSVM with 1-based indices up to num_features: the out-of-range index is named */
  char *one = tp("one.libsvm");
  write_text(one, "1 1:0.5 12:1\n");
  result r = RUN("lmscore", model, one, "--format", "libsvm");
  assert_int_equal(r.status, 1);
  char want[1024];
  snprintf(want, sizeof want,
           "lmscore: %s:1:9: feature index 12 out of range: the model has 12 features, indices "
           "0 to 11 (0-based)\n", one);
  assert_string_equal(r.err, want);
  result_free(&r);
}

/* lmconvert --selftest reads rows like lmscore: pandas' file with its header and index. */
static void test_selftest_rows_from_pandas(void **state) {
  (void)state;
  char spec[2200], *out = tp("st.lm");
  snprintf(spec, sizeof spec, "%s,%s", fx("shuffled.csv"), fx("expected.csv"));
  result r = RUN("lmconvert", fx("model.json"), "-o", out, "--selftest", spec, "-q");
  if (r.status) fail_msg("lmconvert --selftest: %s", r.err);
  assert_string_equal(r.err, "");
  result_free(&r);
  r = RUN("lminfo", out, "--selftest");
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "passed (40 rows"));
  result_free(&r);
  /* XGBoost's plain predict (every tree) against the best-iteration model: lminfo exits 3 */
  snprintf(spec, sizeof spec, "%s,%s", fx("default.csv"), fx("expected_all.csv"));
  /* issue 18 finding 14: expected values the model does not give: nothing written (the file
   * from the passing run above stays as it was), exit status 3, the row and the hint named */
  struct stat before, after;
  assert_int_equal(stat(out, &before), 0);
  r = RUN("lmconvert", fx("model.json"), "-o", out, "--selftest", spec);
  assert_int_equal(r.status, 3);
  assert_int_equal(count_lines(r.err), 2); /* the index note, the error */
  char warn[2048];
  snprintf(warn, sizeof warn, "\nlmconvert: %s: not written: self-test row 0 output 0: the model "
           "gives ", out);
  if (!strstr(r.err, warn)) fail_msg("no error '%s' in:\n%s", warn, r.err);
  assert_non_null(strstr(r.err, " (the file keeps 4 of 9 trees: values from every tree, as a "
                                "plain bst.predict() gives, need --all-trees)\n"));
  result_free(&r);
  assert_int_equal(stat(out, &after), 0);
  assert_true(before.st_ino == after.st_ino && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec &&
              before.st_mtim.tv_sec == after.st_mtim.tv_sec);
  r = RUN("lminfo", out, "--selftest"); /* still the passing file */
  assert_int_equal(r.status, 0);
  result_free(&r);
  char *out3 = tp("st3.lm");
  r = RUN("lmconvert", fx("model.json"), "-o", out3, "--selftest", spec, "-q");
  assert_int_equal(r.status, 3);
  assert_int_equal(access(out3, F_OK), -1); /* a new name: not created */
  result_free(&r);
  /* with every tree kept, the same expected values pass */
  r = RUN("lmconvert", fx("model.json"), "-o", out3, "--selftest", spec, "--all-trees", "-q");
  assert_int_equal(r.status, 0);
  result_free(&r);
  r = RUN("lminfo", out3, "--selftest");
  assert_int_equal(r.status, 0);
  result_free(&r);
  /* a header that does not match: lmconvert names the file and the column, writes nothing */
  char *bad = tp("bad_rows.csv"), *out2 = tp("st2.lm");
  write_text(bad, "f_0,nope\n1,2\n");
  r = RUN("lmconvert", fx("model.json"), "-o", out2, "--selftest", bad);
  assert_int_equal(r.status, 1);
  assert_int_equal(count_lines(r.err), 1);
  char want[1024];
  snprintf(want, sizeof want, "lmconvert: %s:1: the header does not match", bad);
  assert_true(strncmp(r.err, want, strlen(want)) == 0);
  assert_non_null(strstr(r.err, "unexpected column \"nope\""));
  assert_int_equal(access(out2, F_OK), -1);
  result_free(&r);
}

/* ---- 3. one command-line style --------------------------------------------------------------- */

static const char *const programs[] = {"lmconvert", "lmscore", "lminfo", "lmserve"};

static void test_help_and_usage_everywhere(void **state) {
  (void)state;
  for (size_t p = 0; p < 4; p++) {
    char *prog = (char *)programs[p];
    result r = RUN(prog, "--help");
    assert_int_equal(r.status, 0);
    char want[256];
    snprintf(want, sizeof want, "Usage: %s ", prog);
    assert_true(strncmp(r.out, want, strlen(want)) == 0);
    const char *table[] = {"Exit status (the same for lmconvert, lmscore, lminfo and lmserve):\n",
                           "\n  0  ", "\n  1  ", "\n  2  usage error (one line on stderr: ",
                           "\n  3  "};
    for (size_t k = 0; k < 5; k++)
      if (!strstr(r.out, table[k])) fail_msg("%s --help lacks '%s'", prog, table[k]);
    result_free(&r);

    r = RUN(prog, "--no-such-option");
    assert_int_equal(r.status, 2);
    snprintf(want, sizeof want, "%s: unknown option '--no-such-option' (try '%s --help')\n", prog,
             prog);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    result_free(&r);

    r = RUN(prog, "--version");
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "%s %s\n", prog, LM_VERSION_STRING);
    assert_string_equal(r.out, want);
    result_free(&r);
  }
}

/* --threads 0 (every allowed CPU) is accepted by every program that takes --threads; a flag
 * given a value is refused; values in both forms. */
static void test_option_forms(void **state) {
  (void)state;
  convert_models();
  char *rows = fx("noindex.csv");
  result a = RUN("lmscore", model, rows, "--threads", "0");
  result b = RUN("lmscore", model, rows, "--threads=0");
  result c = RUN("lmscore", "--threads=1", "--block-rows=7", model, rows);
  result d = RUN("lmscore", model, "--block-rows", "7", "--threads", "1", "--", rows);
  assert_int_equal(a.status, 0);
  assert_int_equal(b.status, 0);
  assert_int_equal(c.status, 0);
  assert_int_equal(d.status, 0);
  assert_string_equal(a.out, b.out);
  assert_string_equal(a.out, c.out);
  assert_string_equal(a.out, d.out);
  result_free(&a), result_free(&b), result_free(&c), result_free(&d);

  a = RUN("lminfo", model, "--threads", "0");
  b = RUN("lminfo", model, "--threads=0", "--numa=off");
  assert_int_equal(a.status, 0);
  assert_int_equal(b.status, 0);
  assert_non_null(strstr(a.out, "threads:"));
  result_free(&a), result_free(&b);

  /* lmserve: --threads 0 passes the command line (then the missing directory fails: 1) */
  char *nodir = tp("no-such-dir");
  a = RUN("lmserve", "--models", nodir, "--threads", "0");
  assert_int_equal(a.status, 1);
  char want[1024];
  snprintf(want, sizeof want,
           "lmserve: %s: cannot open the model directory (--models): No such file or directory\n",
           nodir);
  assert_string_equal(a.err, want);
  result_free(&a);

  struct {
    const char *prog, *a1, *a2;
    const char *err; /* exact stderr */
  } usage[] = {
      {"lmscore", "--margin=1", NULL, "lmscore: option '--margin' takes no value (try 'lmscore --help')\n"},
      {"lminfo", "--json=yes", NULL, "lminfo: option '--json' takes no value (try 'lminfo --help')\n"},
      {"lmconvert", "--all-trees=1", NULL, "lmconvert: option '--all-trees' takes no value (try 'lmconvert --help')\n"},
      {"lmscore", "--threads", "-1", "lmscore: --threads: not a whole number from 0 to 1024: '-1' (try 'lmscore --help')\n"},
      {"lminfo", "--threads=x", NULL, "lminfo: --threads: not a whole number from 0 to 1024: 'x' (try 'lminfo --help')\n"},
      {"lmserve", "--threads", "-1", "lmserve: --threads: bad value '-1' (expected an integer in 0..256) (try 'lmserve --help')\n"},
      {"lmserve", "--models", NULL, "lmserve: option '--models' needs a value (try 'lmserve --help')\n"},
      {"lmserve", "stray", NULL, "lmserve: unexpected argument 'stray' (try 'lmserve --help')\n"},
      {"lmscore", "--delimiter", "ab", "lmscore: --delimiter: not one character that cannot be part of a number or a quote: 'ab' (try 'lmscore --help')\n"},
      {"lmscore", "--format", "tsv", "lmscore: --format: not csv or libsvm: 'tsv' (try 'lmscore --help')\n"},
      {"lmscore", "--header", "--no-header", "lmscore: --header and --no-header exclude each other (try 'lmscore --help')\n"},
  };
  for (size_t k = 0; k < sizeof usage / sizeof *usage; k++) {
    print_message("%s %s %s\n", usage[k].prog, usage[k].a1, usage[k].a2 ? usage[k].a2 : "");
    result r = usage[k].a2 ? RUN((char *)usage[k].prog, model, (char *)usage[k].a1, (char *)usage[k].a2)
                           : RUN((char *)usage[k].prog, model, (char *)usage[k].a1);
    if (!strcmp(usage[k].prog, "lmserve")) { /* lmserve takes no positional model */
      result_free(&r);
      r = usage[k].a2 ? RUN((char *)usage[k].prog, (char *)usage[k].a1, (char *)usage[k].a2)
                      : RUN((char *)usage[k].prog, (char *)usage[k].a1);
    }
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, usage[k].err);
    result_free(&r);
  }
}

/* Errors about files: "PROG: FILE: what", one line, exit 1. */
static void test_file_errors(void **state) {
  (void)state;
  char *missing = tp("missing.lm");
  const char *progs[] = {"lmscore", "lminfo", "lmconvert"};
  for (size_t p = 0; p < 3; p++) {
    result r = p == 2 ? RUN((char *)progs[p], missing, "-o", tp("x.lm"))
                      : RUN((char *)progs[p], missing);
    assert_int_equal(r.status, 1);
    char want[1024];
    snprintf(want, sizeof want, "%s: %s: ", progs[p], missing);
    if (strncmp(r.err, want, strlen(want)) != 0) fail_msg("%s: %s", progs[p], r.err);
    assert_int_equal(count_lines(r.err), 1);
    result_free(&r);
  }
}

/* ---- 4. lmconvert's summary ---------------------------------------------------------------- */

static void test_summary_says_trees_kept(void **state) {
  (void)state;
  int trained = summary_value("num_trees_trained"), best = summary_value("best_iteration");
  char *out = tp("sum.lm");
  result r = RUN("lmconvert", fx("model.json"), "-o", out);
  assert_int_equal(r.status, 0);
  assert_int_equal(count_lines(r.err), 1);
  char want[256];
  /* XGBoost 1.7 saves best_ntree_limit = best_iteration + 1 (one tree per round here) */
  snprintf(want, sizeof want,
           " s; kept %d of %d trees (best_ntree_limit %d; --all-trees keeps every tree)\n",
           best + 1, trained, best + 1);
  if (!strstr(r.err, want)) fail_msg("summary lacks '%s': %s", want, r.err);
  result_free(&r);
  r = RUN("lmconvert", fx("model.json"), "-o", out, "--all-trees");
  assert_int_equal(r.status, 0);
  snprintf(want, sizeof want, ", %d trees, ", trained);
  assert_non_null(strstr(r.err, want));
  assert_null(strstr(r.err, "kept"));
  result_free(&r);
}

static int setup(void **state) {
  bin_dir = tu_env_or("LM_BIN", "build/bin");
  src_dir = tu_env_or("LM_SRC", ".");
  return tu_tmpdir_setup(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_table),
      cmocka_unit_test(test_pandas_files),
      cmocka_unit_test(test_pandas_wrong_columns),
      cmocka_unit_test(test_selftest_rows_from_pandas),
      cmocka_unit_test(test_help_and_usage_everywhere),
      cmocka_unit_test(test_option_forms),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_summary_says_trees_kept),
  };
  return cmocka_run_group_tests_name("cli", tests, setup, tu_tmpdir_teardown);
}
