/*
 * zip.h — the members of a ZIP archive held in memory (formats/import/zip.c), for importers
 * whose model is a ZIP (SageMaker Linear Learner's model_algo-1). Untrusted input: the archive
 * must be complete (end-of-central-directory record present), member names unique, sizes
 * within the caller's caps; errors name the input and the member.
 */
#ifndef LM_FORMATS_IMPORT_ZIP_H
#define LM_FORMATS_IMPORT_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_zip_member {
  char *name;
  uint8_t *data; /* NULL for members whose data was not asked for */
  size_t len;
} lm_zip_member;

typedef struct lm_zip {
  lm_zip_member *mem; /* in archive order, regular files only */
  size_t n;
} lm_zip;

/* For each member name: the most bytes of it to read, or 0 to list it without its data. */
typedef uint64_t (*lm_zip_want_fn)(const char *member);

/* "PK\3\4" or "PK\5\6" (an empty archive) first: the input looks like a ZIP. */
int lm__zip_magic(const uint8_t *data, size_t len);
/* Read the entry list of data[0, len) and the data of the members `want` asks for: at most
 * max_members entries (more is an error, explained by limit_note, e.g. "Linear Learner writes
 * 4"). name is the input's name for messages. On failure *z holds what was read so far:
 * lm__zip_free it either way. */
int lm__zip_read(const uint8_t *data, size_t len, const char *name, size_t max_members,
                 const char *limit_note, lm_zip_want_fn want, lm_zip *z);
const lm_zip_member *lm__zip_find(const lm_zip *z, const char *member);
/* "a, b, c" ("none" when empty; cut with "..." to fit) into dst, for messages. */
const char *lm__zip_list(const lm_zip *z, char *dst, size_t n);
void lm__zip_free(lm_zip *z);

#endif
