/*
 * lightgbm_txt.h — what the parts of the LightGBM text importer share (lightgbm_txt.c: the file
 * and its header; lightgbm_lex.c: lines, key=value fields, tokens and numbers, errors;
 * lightgbm_trees.c: the Tree= blocks): limits, the reader's state, and the functions one part
 * calls in another. Private to those three files.
 */
#ifndef LM_FORMATS_IMPORT_LIGHTGBM_TXT_H
#define LM_FORMATS_IMPORT_LIGHTGBM_TXT_H

#include <stddef.h>
#include <stdint.h>

#include "formats/import/import.h"
#include "base/cursor.h"
#include "base/error.h"

#define LG_MAX_LEAVES (1u << 24)    /* num_leaves cap (LightGBM's own limit is 131072) */
#define LG_MAX_CLASSES (1u << 20)   /* num_class / num_tree_per_iteration cap */
#define LG_MAX_FEATURES (1u << 24)  /* = LMF_MAX_FEATURES, the .lm format's limit */
#define LG_MAX_SET_WORDS (1u << 19) /* 2^24 categories per set */
#define LG_TOKEN 80                 /* longest number accepted (%.17g needs 24) */

/* A line of the input: [p, p+n) without its line end; line number (1-based), byte offset. */
typedef struct lg_line {
  const char *p;
  size_t n, no, off;
} lg_line;

typedef struct lg {
  const char *name;
  const char *data;
  size_t len, pos, line; /* cursor: offset of the next line, lines read */
  lm_ir_model *ir;
  size_t tree_cap, cat_cap, lin_cap, lin_cap2;
  uint8_t *cat_used; /* per feature: used by a categorical split */
} lg;

/* Whitespace-separated tokens of [p, end). */
typedef struct lg_toks {
  const char *p, *end;
} lg_toks;

/* A key=value field: the value and the line it is on. */
typedef struct lg_field {
  const char *v;
  size_t n, line;
  int have;
} lg_field;

enum {
  H_VERSION,
  H_NUM_CLASS,
  H_NUM_TREE_PER_ITERATION,
  H_MAX_FEATURE_IDX,
  H_OBJECTIVE,
  H_FEATURE_NAMES,
  H_FEATURE_INFOS,
  H_TREE_SIZES,
  H__COUNT
};

typedef struct lg_header {
  lg_field f[H__COUNT];
  int average_output;
  uint32_t num_class, per_iter;
} lg_header;

/* key=value: split at the first '='; 0 if the line has none. */

/* Untrusted text for a message: at most 40 bytes (base/cursor.h's lm__printable). */
static inline const char *lm__lg_printable(char *dst, size_t cap, const char *src, size_t n) {
  return lm__printable(dst, cap < 41 ? cap : 41, src, n);
}

LM__PRINTF(4, 5)
int lm__lg_fail(const lg *c, int code, size_t line, const char *fmt, ...);
int lm__lg_nomem(const lg *c);
int lm__lg_next_line(lg *c, lg_line *l);
int lm__lg_line_is(const lg_line *l, const char *s);
int lm__lg_line_starts(const lg_line *l, const char *s);
int lm__lg_is_trees_end(const lg_line *l);
int lm__lg_tok_next(lg_toks *t, const char **s, size_t *n);
size_t lm__lg_count_tokens(const char *p, size_t n);
int lm__lg_tok_double(const char *s, size_t n, double *out);
int lm__lg_tok_int(const char *s, size_t n, int64_t *out);
int lm__lg_field_int(const lg *c, const lg_field *f, const char *ctx, const char *key, int64_t lo,
                     int64_t hi, int range_code, int64_t *out);
int lm__lg_field_ints(const lg *c, const lg_field *f, const char *ctx, const char *key, size_t want,
                      const char *what_want, int64_t lo, int64_t hi, int range_code, int64_t *out);
int lm__lg_field_doubles(const lg *c, const lg_field *f, const char *ctx, const char *key,
                         size_t want, const char *what_want, double *out);
int lm__lg_grow(const lg *c, void **arr, size_t *cap, size_t need, size_t elem);
int lm__lg_split_kv(const lg_line *l, size_t *klen, const char **v, size_t *vlen);
int lm__lg_key_index(const char *const *keys, int n, const char *k, size_t klen);
int lm__lg_read_trees(lg *c, const lg_header *h, lg_line l);

#endif
