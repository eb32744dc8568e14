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
 *   tu_expect_bad(imp, what, d, n,      import d[0..n) under name: it must fail with code, no
 *                 name, prefix, code,   model, and a one-line lm_last_error() that starts with
 *                 msg)                  prefix and contains msg; 1 on a mismatch (printed,
 *                                       naming the case `what`), else 0.
 *   tu_expect_bad_table(imp, name, c, n)   tu_expect_bad for each of the cases c[0..n) (prefix:
 *                                       name); the number of mismatches.
 *
 * Tables of hand-made bad inputs: tu_bad_bytes (bytes and length, LIT("...") for both, so that
 * a literal may hold NUL bytes) and tu_bad_text (a text, or a text with one substitution).
 */
#ifndef LMRT_TESTS_UTIL_IMPORT_H
#define LMRT_TESTS_UTIL_IMPORT_H

#include <archive.h>
#include <archive_entry.h>

#include "formats/ir.h"
#include "tests/util.h"

typedef int (*tu_importer)(const uint8_t *, size_t, const char *, lm_ir_model **);

/* A string literal as the two fields bytes, len: its length without the terminating NUL. */
#define LIT(s) s, sizeof(s) - 1

/* A hand-made input and what importing it must give (what: the case's name, or the file name a
 * sniffing test writes it under). */
typedef struct tu_bad_bytes {
  const char *what;
  const char *bytes;
  size_t len;
  int code;
  const char *msg; /* must appear in lm_last_error() */
} tu_bad_bytes;

/* A broken text: base with find replaced by repl (each test file builds it, tu_subst). */
typedef struct tu_bad_text {
  const char *what;
  const char *base;
  const char *find; /* NULL: base as is */
  const char *repl;
  size_t len;       /* bytes to parse; 0: all */
  int code;
  const char *msg;  /* must appear in lm_last_error() */
} tu_bad_text;

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

static inline int tu_expect_bad(tu_importer imp, const char *what, const uint8_t *d, size_t n,
                                const char *name, const char *prefix, int code, const char *msg) {
  lm_ir_model *m = (lm_ir_model *)1;
  int rc = imp(d, n, name, &m);
  const char *e = lm_last_error();
  if (rc != code || m != NULL || !strstr(e, msg) || strncmp(e, prefix, strlen(prefix)) != 0 ||
      strchr(e, '\n')) {
    print_error("bad case \"%s\": got %d (%s) \"%s\"; want %d \"%s\"\n", what, rc,
                lm_err_name(rc), e, code, msg);
    if (rc == 0) lm_ir_free(m);
    return 1;
  }
  return 0;
}

static inline int tu_expect_bad_table(tu_importer imp, const char *name, const tu_bad_bytes *c,
                                      size_t n) {
  int failures = 0;
  for (size_t i = 0; i < n; i++)
    failures += tu_expect_bad(imp, c[i].what, (const uint8_t *)c[i].bytes, c[i].len, name, name,
                              c[i].code, c[i].msg);
  return failures;
}

#endif
