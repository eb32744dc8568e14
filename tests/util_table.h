/*
 * util_table.h — a fixture's CSV file as a table of doubles (tools/csv.c's reader), shared by
 * the fixture-directory tests (test_parity.c, test_contrib.c, test_xgboost3.c). Header only;
 * include after tests/util.h.
 *
 *   tu_load_table(dir, file, &t, optional)   read dir/file into t (row-major doubles); a file
 *                                            that cannot be read fails the test with the
 *                                            reader's message (file, line, field), except a
 *                                            missing optional one: 0 then, else 1.
 */
#ifndef LMRT_TESTS_UTIL_TABLE_H
#define LMRT_TESTS_UTIL_TABLE_H

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

#endif
