/*
 * csv_internal.h — private to the row reader: what csv.c (reading, splitting and parsing
 * records, LIBSVM rows) and csv_header.c (header detection and column mapping) share — the
 * reader's state and the helpers one file calls in the other. Tools use csv.h.
 */
#ifndef LM_TOOLS_CSV_INTERNAL_H
#define LM_TOOLS_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/csv.h"

#define SKIP SIZE_MAX   /* map entry of a column that is not a value (the index) */
#define NONE SIZE_MAX   /* no index column */
#define LIST_SHOWN 6    /* names listed in a header error before "... and N more" */

typedef struct field {
  size_t off, len; /* content in the record buffer (quotes undone) */
  size_t col;      /* byte offset of the field's start, for errors */
  int quoted;
} field;

struct lm_csv {
  FILE *f;
  char *name;
  lm_csv_options o;
  char *index_col;       /* copy of o.index_col */
  char delim;
  size_t ncols;          /* values per row; 0 until known */
  size_t nfile;          /* fields per record; 0 until known */
  size_t *map;           /* nfile entries: value index, or SKIP */
  unsigned char *seen;   /* LIBSVM: indices given in the current row */
  int mapped;            /* columns mapped (the header, if any, consumed) */
  int header_checked;
  int has_header;
  char **hdr;            /* header fields (unquoted, trimmed unless quoted) */
  size_t nhdr, hdr_line;
  char *buf;             /* the record: getline buffer, continuation lines appended */
  size_t cap;
  size_t len;            /* length of the buffered record, final newline stripped */
  char *more;            /* getline buffer of continuation lines */
  size_t more_cap;
  field *fl;             /* fields of the record being parsed */
  size_t nfl, flcap;
  int have_line;         /* buf holds a non-blank record not yet returned */
  size_t line_no;        /* its (first) line number */
  size_t lines_read;     /* physical lines read so far */
  size_t pending_blank;  /* blank lines read after a row and before the buffered line */
  size_t blank_line_no;  /* line number of the first of them */
  int seen_nonblank;     /* a non-blank line has been read (since the header) */
  int eof;
  int failed;
  size_t cur_line;       /* line of the last row returned, or of the error */
  size_t rows;
  char err[768];
  char note[512];
};

/* csv.c: records the error and marks the reader failed. */
void lm__csv_fail(lm_csv *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* csv.c: appends a note for the caller to show. */
void lm__csv_add_note(lm_csv *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* csv.c: reads lines until a non-blank record is buffered or the input ends; 0, or -1. */
int lm__csv_fill(lm_csv *r);
/* csv.c: 0 = parsed, -1 = not a number, -2 = out of memory; s[0 .. n) already trimmed. */
int lm__csv_parse_trimmed(const char *s, size_t n, double *out);
/* csv.c: strips spaces and tabs from both ends. */
void lm__csv_trim(const char **s, size_t *n);
/* csv.c: a field quoted for an error message (\xHH escapes, cut at 40). */
void lm__csv_quote(char *dst, size_t cap, const char *s, size_t n);
/* csv.c: splits line[0 .. len) into r->fl, quotes undone in place; 0, or -1 after an error. */
int lm__csv_split(lm_csv *r, char *line, size_t len, size_t line_no);
/* csv.c: field k of the split record, trimmed. */
void lm__csv_field_text(const lm_csv *r, const char *line, size_t k, const char **s, size_t *n);
/* csv_header.c: detects the header (once) and maps file columns to values (0, or -1). */
int lm__csv_map_columns(lm_csv *r);

#endif
