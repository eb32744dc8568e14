/*
 * util_import.h — scaffolding shared by the importer tests (test_xgboost_*.c, test_lightgbm*.c,
 * test_linear_learner*.c): building an archive to import from, importing text that must work,
 * and judging the import of possibly broken bytes (mutation loops). Header only, like
 * tests/util.h, which it includes.
 *
 *   tu_make_archive(path, gzip, m, n)   write members m[0..n) as a ustar archive (gzip'd or
 *                                       not) at path; a member with data NULL is a directory,
 *                                       one with len 0 holds the string data. Returns path.
 *   tu_import_ok(imp, text, name)       import text under name: it must succeed; the model.
 *   tu_import_outcome(rc, m, prefix,    after importing possibly broken bytes: either a model
 *                     &ok, &failed)     (freed here, counted in ok) or a negative code, no model
 *                                       and a one-line message starting with prefix (NULL: any
 *                                       start), counted in failed.
 */
#ifndef LMRT_TESTS_UTIL_IMPORT_H
#define LMRT_TESTS_UTIL_IMPORT_H

#include <archive.h>
#include <archive_entry.h>

#include "formats/ir.h"
#include "tests/util.h"

typedef int (*tu_importer)(const uint8_t *, size_t, const char *, lm_ir_model **);

typedef struct tu_member {
  const char *name;
  const void *data; /* NULL: a directory */
  size_t len;       /* 0: data is a NUL-terminated string */
} tu_member;

static inline const char *tu_make_archive(const char *path, int gzip, const tu_member *m,
                                          size_t n) {
  struct archive *a = archive_write_new();
  assert_non_null(a);
  if (gzip) assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
  assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    size_t len = m[i].data && !m[i].len ? strlen((const char *)m[i].data) : m[i].len;
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, m[i].name);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_filetype(e, m[i].data ? AE_IFREG : AE_IFDIR);
    archive_entry_set_size(e, (la_int64_t)len);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (m[i].data) assert_int_equal(archive_write_data(a, m[i].data, len), (la_ssize_t)len);
    archive_entry_free(e);
  }
  assert_int_equal(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return path;
}

static inline lm_ir_model *tu_import_ok(tu_importer imp, const char *text, const char *name) {
  lm_ir_model *m = NULL;
  int rc = imp((const uint8_t *)text, strlen(text), name, &m);
  tu_expect_ok(rc, m);
  return m;
}

static inline void tu_import_outcome(int rc, lm_ir_model *m, const char *prefix, size_t *ok,
                                     size_t *failed) {
  if (rc == 0) {
    assert_non_null(m);
    lm_ir_free(m);
    (*ok)++;
    return;
  }
  assert_true(rc < 0);
  assert_null(m);
  if (prefix) assert_int_equal(strncmp(lm_last_error(), prefix, strlen(prefix)), 0);
  assert_null(strchr(lm_last_error(), '\n'));
  (*failed)++;
}

#endif
