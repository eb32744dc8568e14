/*
 * util_table.h — a fixture's CSV file as a table of doubles (tools/csv.c's reader), shared by
 * the fixture-directory tests (test_parity.c, test_contrib.c, test_xgboost3.c). Header only;
 * include after tests/util.h.
 *
 *   tu_load_table(dir, file, &t, optional)   read dir/file into t (row-major doubles); a file
 *                                            that cannot be read fails the test with the
 *                                            reader's message (file, line, field), except a
 *                                            missing optional one: 0 then, else 1.
 *   tu_tally, tu_compare(cs, what,           ours[] (width columns) against the table want as
 *       ours, want, width, exact, &ta)       float32: each output bit-identical (exact), or
 *                                            within 1e-6 · max(1, |want|); counted in ta
 *                                            (outputs, bit-identical, outside, largest relative
 *                                            difference), the first 5 misses printed naming
 *                                            case, what, row and output.
 *   tu_manifest_open(src, set, hint)         src/tests/fixtures/set/MANIFEST, open for reading;
 *                                            a file that cannot be opened fails the test
 *                                            ("cannot open PATH" and hint).
 *   tu_manifest_next(f, line, size)          the next case name into line: the next line that
 *                                            is neither blank nor a '#' comment, without its
 *                                            line end; 0 at the end of the file.
 */
#ifndef LMRT_TESTS_UTIL_TABLE_H
#define LMRT_TESTS_UTIL_TABLE_H

#include <math.h>
#include <unistd.h>

#include "tools/csv.h"

typedef struct table {
  double *v;
  size_t rows, cols;
} table;

static inline int tu_load_table(const char *dir, const char *file, table *t, int optional) {
  char path[4200], err[512];
  if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
    fail_msg("%s/%s: path too long", dir, file);
  if (optional && access(path, F_OK) != 0) return 0;
  if (lm_csv_read_path(path, &t->v, &t->rows, &t->cols, err, sizeof err) != 0)
    fail_msg("%s", err);
  return 1;
}

typedef struct tu_tally {
  size_t outputs, bitexact, bad;
  double max_rel;
} tu_tally;

static inline void tu_compare(const char *cs, const char *what, const float *ours,
                              const table *want, size_t width, int exact, tu_tally *ta) {
  if (want->cols != width)
    fail_msg("%s %s: expected %zu columns, file has %zu", cs, what, width, want->cols);
  for (size_t i = 0; i < want->rows * want->cols; i++) {
    float w = (float)want->v[i];
    double d = fabs((double)ours[i] - (double)w), m = fmax(1.0, fabs((double)w));
    int same = ours[i] == w || (isnan(ours[i]) && isnan(w));
    ta->outputs++;
    ta->bitexact += same;
    if (!same && (exact || !(d <= 1e-6 * m)) && ta->bad++ < 5)
      print_error("%s %s: row %zu output %zu: ours %.9g, xgboost %.9g\n", cs, what, i / width,
                  i % width, ours[i], w);
    if (d / m > ta->max_rel) ta->max_rel = d / m;
  }
}

static inline FILE *tu_manifest_open(const char *src, const char *set, const char *hint) {
  char path[1200];
  snprintf(path, sizeof path, "%.900s/tests/fixtures/%s/MANIFEST", src, set);
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s%s", path, hint);
  return f;
}

static inline int tu_manifest_next(FILE *f, char *line, int size) {
  while (fgets(line, size, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] && line[0] != '#') return 1;
  }
  return 0;
}

#endif
