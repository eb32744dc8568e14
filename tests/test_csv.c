/*
 * test_csv.c — unit tests of the numeric CSV reader (tools/csv.h) that lmscore and the parity
 * tests use: a table of inputs (missing-value spellings, infinities, CRLF, no final newline,
 * spaces, blank lines, byte-order mark) with the exact values expected, a table of bad inputs
 * with the exact "FILE:LINE:COL: what" message expected, and the edge cases that need code: a
 * very long line, a very long field, many rows, the whole-file loader and its errors.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/csv.h"

#define MAXV 16

typedef struct good_case {
  const char *name;
  const char *text;
  size_t len;    /* 0: strlen(text) */
  size_t ncols;  /* given to lm_csv_open (0: from the first row) */
  size_t rows, cols;
  double v[MAXV];
} good_case;

typedef struct bad_case {
  const char *name;
  const char *text;
  size_t len;
  size_t ncols;
  size_t rows_before; /* rows returned before the error */
  const char *msg;    /* the exact error message */
} bad_case;

#define N NAN
#define I INFINITY

static const good_case good[] = {
    {"plain", "1,2,3\n4,5,6\n", 0, 0, 2, 3, {1, 2, 3, 4, 5, 6}},
    {"missing spellings", ",nan,NaN,NA, NA ,\n", 0, 0, 1, 6, {N, N, N, N, N, N}},
    {"more NaN spellings", "NAN,-nan,nan(123)\n", 0, 0, 1, 3, {N, N, N}},
    {"only commas", ",,\n", 0, 0, 1, 3, {N, N, N}},
    {"infinities", "inf,-inf,Infinity,-Infinity,+inf,INF\n", 0, 0, 1, 6, {I, -I, I, -I, I, I}},
    {"CRLF", "1,2\r\n3,4\r\n", 0, 0, 2, 2, {1, 2, 3, 4}},
    {"no final newline", "1,2\n3,4", 0, 0, 2, 2, {1, 2, 3, 4}},
    {"CR without LF at end", "1,2\r\n3,4\r", 0, 0, 2, 2, {1, 2, 3, 4}},
    {"spaces and tabs", " 1 ,\t2\t, 3e2 \n", 0, 0, 1, 3, {1, 2, 300}},
    {"missing in CRLF", "1,\r\n,2\r\n", 0, 0, 2, 2, {1, N, N, 2}},
    {"trailing blank lines", "1\n2\n\n\n  \n\r\n\t", 0, 0, 2, 1, {1, 2}},
    {"leading blank lines", "\n \n\r\n1,2\n", 0, 0, 1, 2, {1, 2}},
    {"blank line inside 1 column", "1\n\n2\n", 0, 0, 3, 1, {1, N, 2}},
    {"given ncols", "7,8\n", 0, 2, 1, 2, {7, 8}},
    {"number forms", "0x1p-2,1E+3,+5,.5,5.,-0\n", 0, 0, 1, 6, {0.25, 1000, 5, 0.5, 5, -0.0}},
    {"17 digits round trip", "0.1,59906.650000000001,1e-310\n", 0, 0, 1, 3,
     {0.1, 59906.650000000001, 1e-310}},
    {"overflow is inf as strtod", "1e999,-1e999\n", 0, 0, 1, 2, {I, -I}},
    {"byte-order mark", "\xEF\xBB\xBF" "1,2\n", 0, 0, 1, 2, {1, 2}},
    {"empty file", "", 0, 0, 0, 0, {0}},
    {"only blank lines", "\n\n \r\n", 0, 0, 0, 0, {0}},
    {"empty file with ncols", "", 0, 3, 0, 3, {0}},
    {"quoted fields (RFC 4180)", "\"1\",\" 2 \",\"\"\n", 0, 0, 1, 3, {1, 2, N}},
};

static const bad_case bad[] = {
    {"bad number", "1,2\n3,4x\n", 0, 0, 1, "t.csv:2:3: bad number \"4x\" (field 2)"},
    {"bad number after spaces", "1,  abc \n", 0, 0, 0, "t.csv:1:5: bad number \"abc\" (field 2)"},
    {"two dots", "1.2.3\n", 0, 0, 0, "t.csv:1:1: bad number \"1.2.3\" (field 1)"},
    {"inner space", "1 2,3\n", 0, 0, 0, "t.csv:1:1: bad number \"1 2\" (field 1)"},
    {"vertical tab", "\v1\n", 0, 0, 0, "t.csv:1:1: bad number \"\\x0B1\" (field 1)"},
    {"NA lowercase is not NA", "na\n", 0, 0, 0, "t.csv:1:1: bad number \"na\" (field 1)"},
    {"embedded NUL", "1,2\0,3\n", 7, 0, 0, "t.csv:1:3: bad number \"2\\x00\" (field 2)"},
    {"too many fields", "1,2\n3,4,5\n", 0, 0, 1, "t.csv:2:5: too many fields: 3, expected 2"},
    {"too many, several", "1\n2,3,4,5\n", 0, 0, 1, "t.csv:2:3: too many fields: 4, expected 1"},
    {"too few fields", "1,2,3\n4,5\n", 0, 0, 1, "t.csv:2:4: too few fields: 2, expected 3"},
    {"too few vs given", "1,2\n", 0, 3, 0, "t.csv:1:4: too few fields: 2, expected 3"},
    {"too many vs given", "1,2\r\n", 0, 1, 0, "t.csv:1:3: too many fields: 2, expected 1"},
    {"blank line inside", "1,2\n\n3,4\n", 0, 0, 1, "t.csv:2:1: blank line, expected 2 fields"},
    {"error after CRLF rows", "1\r\n2\r\nx\r\n", 0, 0, 2, "t.csv:3:1: bad number \"x\" (field 1)"},
    {"long bad field is cut",
     "1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0, 0, 0,
     "t.csv:1:3: bad number \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" (field 2)"},
};

static int same(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return a == b && signbit(a) == signbit(b);
}

static FILE *mem(const char *text, size_t len) {
  FILE *f = fmemopen((void *)text, len ? len : strlen(text), "r");
  assert_non_null(f);
  return f;
}

static void test_good_cases(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof good / sizeof good[0]; c++) {
    const good_case *g = &good[c];
    print_message("case: %s\n", g->name);
    FILE *f = g->len || g->text[0] ? mem(g->text, g->len) : fmemopen((void *)"x", 1, "r");
    if (!g->len && !g->text[0]) {
      /* fmemopen cannot open a zero-length buffer everywhere: read the one byte away. */
      assert_int_equal(fgetc(f), 'x');
    }
    lm_csv *r = lm_csv_open(f, "t.csv", g->ncols);
    assert_non_null(r);
    assert_int_equal(lm_csv_cols(r), (long)g->cols);
    double row[MAXV];
    size_t n = 0;
    int rc;
    while ((rc = lm_csv_next(r, row)) == 1) {
      assert_true(n < g->rows);
      for (size_t j = 0; j < g->cols; j++) {
        if (!same(row[j], g->v[n * g->cols + j]))
          fail_msg("%s: row %zu col %zu: got %.17g, want %.17g", g->name, n, j, row[j],
                   g->v[n * g->cols + j]);
      }
      n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, g->rows);
    assert_int_equal(lm_csv_rows(r), g->rows);
    assert_string_equal(lm_csv_error(r), "");
    assert_int_equal(lm_csv_next(r, row), 0); /* stays at the end */
    lm_csv_close(r);
    fclose(f);
  }
}

static void test_bad_cases(void **state) {
  (void)state;
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    const bad_case *b = &bad[c];
    print_message("case: %s\n", b->name);
    FILE *f = mem(b->text, b->len);
    lm_csv *r = lm_csv_open(f, "t.csv", b->ncols);
    assert_non_null(r);
    double row[MAXV];
    size_t n = 0;
    int rc;
    while ((rc = lm_csv_next(r, row)) == 1) n++;
    assert_int_equal(rc, -1);
    assert_int_equal(n, b->rows_before);
    assert_string_equal(lm_csv_error(r), b->msg);
    assert_null(strchr(lm_csv_error(r), '\n'));
    assert_int_equal(lm_csv_next(r, row), -1); /* errors stick */
    lm_csv_close(r);
    fclose(f);
  }
}

static void test_parse_field(void **state) {
  (void)state;
  double v = 0;
  assert_int_equal(lm_csv_parse_field(" 2.5 ", 5, &v), 0);
  assert_true(v == 2.5);
  assert_int_equal(lm_csv_parse_field("", 0, &v), 0);
  assert_true(isnan(v));
  assert_int_equal(lm_csv_parse_field("NA", 2, &v), 0);
  assert_true(isnan(v));
  assert_int_equal(lm_csv_parse_field("-Infinity", 9, &v), 0);
  assert_true(isinf(v) && v < 0);
  assert_int_equal(lm_csv_parse_field("1,2", 3, &v), -1);
  assert_int_equal(lm_csv_parse_field("12", 1, &v), 0); /* only n bytes are read */
  assert_true(v == 1);
  assert_int_equal(lm_csv_parse_field("e5", 2, &v), -1);
}

/* 300 000 fields on one line, then a second row: lines have no length limit. */
static void test_very_long_line(void **state) {
  (void)state;
  const size_t nf = 300000;
  char *text = NULL;
  size_t len = 0;
  FILE *w = open_memstream(&text, &len);
  assert_non_null(w);
  for (int r = 0; r < 2; r++)
    for (size_t i = 0; i < nf; i++) fprintf(w, "%zu.5%c", i + (size_t)r, i + 1 < nf ? ',' : '\n');
  fclose(w);
  FILE *f = mem(text, len);
  lm_csv *r = lm_csv_open(f, "long.csv", 0);
  assert_int_equal(lm_csv_cols(r), (long)nf);
  double *row = malloc(nf * sizeof *row);
  assert_non_null(row);
  for (int k = 0; k < 2; k++) {
    assert_int_equal(lm_csv_next(r, row), 1);
    assert_int_equal(lm_csv_line(r), (size_t)k + 1);
    assert_true(row[0] == k + 0.5);
    assert_true(row[nf - 1] == (double)(nf - 1 + (size_t)k) + 0.5);
  }
  assert_int_equal(lm_csv_next(r, row), 0);
  free(row);
  lm_csv_close(r);
  fclose(f);
  free(text);
}

/* A field longer than any fixed buffer: "1" followed by 5000 zeros, times 1e-5000, is 1. */
static void test_very_long_field(void **state) {
  (void)state;
  size_t z = 5000;
  char *text = malloc(z + 32);
  assert_non_null(text);
  size_t o = 0;
  text[o++] = '1';
  memset(text + o, '0', z);
  o += z;
  o += (size_t)sprintf(text + o, "e-5000,2\n");
  FILE *f = mem(text, o);
  lm_csv *r = lm_csv_open(f, "field.csv", 2);
  double row[2];
  assert_int_equal(lm_csv_next(r, row), 1);
  assert_true(row[0] == 1.0);
  assert_true(row[1] == 2.0);
  assert_int_equal(lm_csv_next(r, row), 0);
  lm_csv_close(r);
  fclose(f);
  free(text);
}

/* Many rows stream through; line numbers follow physical lines (blank lines included). */
static void test_many_rows_and_lines(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *w = open_memstream(&text, &len);
  const int rows = 20000;
  for (int i = 0; i < rows; i++) fprintf(w, "%d,%d.25\r\n", i, -i);
  fputs("\n\n", w);
  fclose(w);
  FILE *f = mem(text, len);
  lm_csv *r = lm_csv_open(f, "many.csv", 0);
  double row[2];
  for (int i = 0; i < rows; i++) {
    assert_int_equal(lm_csv_next(r, row), 1);
    assert_true(row[0] == i && row[1] == -i + (i ? -0.25 : 0.25));
    assert_int_equal(lm_csv_line(r), (size_t)i + 1);
  }
  assert_int_equal(lm_csv_next(r, row), 0);
  assert_int_equal(lm_csv_rows(r), (size_t)rows);
  lm_csv_close(r);
  fclose(f);
  free(text);
}

static char tmpdir[64];
#define TU_TMPDIR tmpdir
#include "tests/util.h"

static int setup_dir(void **state) { /* per test: the template is restored each time */
  strcpy(tmpdir, "/tmp/test_csv.XXXXXX");
  return tu_tmpdir_setup(state);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void test_read_path(void **state) {
  (void)state;
  char p[128], err[256];
  double *v = (double *)1;
  size_t rows = 9, cols = 9;

  snprintf(p, sizeof p, "%s/a.csv", tmpdir);
  write_file(p, "1,2,3\r\n4,nan,6\r\n\r\n");
  assert_int_equal(lm_csv_read_path(p, &v, &rows, &cols, err, sizeof err), 0);
  assert_int_equal(rows, 2);
  assert_int_equal(cols, 3);
  double want[] = {1, 2, 3, 4, NAN, 6};
  for (size_t i = 0; i < 6; i++) assert_true(same(v[i], want[i]));
  free(v);

  snprintf(p, sizeof p, "%s/empty.csv", tmpdir);
  write_file(p, "");
  assert_int_equal(lm_csv_read_path(p, &v, &rows, &cols, err, sizeof err), 0);
  assert_null(v);
  assert_int_equal(rows, 0);
  assert_int_equal(cols, 0);

  snprintf(p, sizeof p, "%s/bad.csv", tmpdir);
  write_file(p, "1,2\n3\n");
  assert_int_equal(lm_csv_read_path(p, &v, &rows, &cols, err, sizeof err), -1);
  assert_null(v);
  char want_msg[256];
  snprintf(want_msg, sizeof want_msg, "%s:2:2: too few fields: 1, expected 2", p);
  assert_string_equal(err, want_msg);

  snprintf(p, sizeof p, "%s/missing.csv", tmpdir);
  assert_int_equal(lm_csv_read_path(p, &v, &rows, &cols, err, sizeof err), -1);
  assert_null(v);
  snprintf(want_msg, sizeof want_msg, "%s: No such file or directory", p);
  assert_string_equal(err, want_msg);

  /* A directory is not a readable CSV: a read error, not a crash. */
  assert_int_equal(lm_csv_read_path(tmpdir, &v, &rows, &cols, err, sizeof err), -1);
  assert_non_null(strstr(err, tmpdir));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_cases),
      cmocka_unit_test(test_bad_cases),
      cmocka_unit_test(test_parse_field),
      cmocka_unit_test(test_very_long_line),
      cmocka_unit_test(test_very_long_field),
      cmocka_unit_test(test_many_rows_and_lines),
      cmocka_unit_test_setup_teardown(test_read_path, setup_dir, tu_tmpdir_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
