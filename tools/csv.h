/*
 * csv.h — the one reader of feature rows for the command-line tools: lmscore reads its input
 * and --check's expected outputs with it, lmconvert its --selftest rows, and the tests their
 * fixtures. Every rule about what a row file may look like lives here (docs/csv.md).
 *
 * Values: each field is parsed as a double with strtod, which must consume the whole field;
 * spaces and tabs around it are allowed. Missing values: an empty field, `nan`, `NaN`, `NA`
 * (and anything else strtod reads as NaN); `inf`, `-inf`, `Infinity` are read as strtod reads
 * them. Fields may be quoted as in RFC 4180 ("a,b", "say ""hi""", a line break inside quotes);
 * a quoted number is a number. Lines end in LF or CRLF; the last line may lack its newline;
 * blank lines before the first row and after the last are ignored (a blank line between rows is
 * a row with one empty field). A UTF-8 byte-order mark at the start is skipped. Lines may be of
 * any length.
 *
 * Header (lm_csv_open_opts; lm_csv_open never looks for one): with LM_CSV_HEADER_AUTO the first
 * non-blank line is a header when one of its fields is neither a number nor a missing marker
 * (after unquoting and trimming), or when its first field is empty and the others are exactly
 * 0, 1, 2, ... (pandas' header of a frame or series with default integer column names); later
 * lines are always data. With a header and feature names, columns are matched to the features
 * by name (any order); a header field that is no feature, a feature absent from the header, or
 * a name given twice is an error naming them. With a header and no names, columns are taken in
 * order. An index column (lm_csv_options.index_col: a position counted from 0, as pandas'
 * index_col, or a header name) is skipped without being parsed; with a header whose first field
 * is empty and no index_col given, that first column is taken as pandas' index and skipped
 * (lm_csv_note says so).
 *
 * LIBSVM (LM_CSV_LIBSVM): `label idx:val idx:val ... [# comment]`, fields separated by spaces or
 * tabs; the label (a first token without ':') and `qid:N` are ignored; indices are 0-based (the
 * feature numbers lminfo and XGBoost use) and must be below the number of features; features a
 * row does not give are missing (NaN); an index given twice is an error.
 *
 * Two interfaces: a streaming reader (lm_csv_open* / lm_csv_next) that holds one record at a
 * time, and lm_csv_read_path*, which load a whole file into one malloc'd row-major array.
 * Errors are one line, "FILE:LINE:COL: what" (COL counts bytes from 1), or "FILE:LINE: what"
 * for a header.
 */
#ifndef LM_TOOLS_CSV_H
#define LM_TOOLS_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct lm_csv lm_csv;

enum { LM_CSV_HEADER_AUTO = 0, LM_CSV_HEADER_YES = 1, LM_CSV_HEADER_NO = 2 };
enum { LM_CSV_CSV = 0, LM_CSV_LIBSVM = 1 };

typedef struct lm_csv_options {
  size_t ncols;              /* values per row (the model's features), or 0: from the file */
  int header;                /* LM_CSV_HEADER_*: AUTO (0) by default */
  int format;                /* LM_CSV_CSV (0) or LM_CSV_LIBSVM (needs ncols) */
  char delimiter;            /* 0: ',' */
  const char *index_col;     /* NULL: pandas' unnamed index detected; digits: a position from
                                0; else a header name */
  const char *const *names;  /* ncols feature names (NULL: none); borrowed until close */
} lm_csv_options;

/* A streaming reader over f (not owned: the caller closes it), naming it `name` in errors.
 * ncols: the number of fields every row must have, or 0 to take it from the first row. No
 * header detection (LM_CSV_HEADER_NO). NULL on out of memory. */
lm_csv *lm_csv_open(FILE *f, const char *name, size_t ncols);
/* The same with options (NULL: all defaults). */
lm_csv *lm_csv_open_opts(FILE *f, const char *name, const lm_csv_options *o);
/* Release the reader (not the FILE). NULL is a no-op. */
void lm_csv_close(lm_csv *r);

/* Whether the input starts with a header line (reads the first record if needed): 1, 0, or -1
 * on an error. Feature names may still be given (lm_csv_set_names) until the first call of
 * lm_csv_cols or lm_csv_next. */
int lm_csv_has_header(lm_csv *r);
/* Give (or replace) the feature names and their count before columns are mapped. */
void lm_csv_set_names(lm_csv *r, const char *const *names, size_t ncols);

/* The number of values per row: the count given, else the first row's less any index column
 * (read ahead if no row has been returned yet). 0 for an input without rows; -1 on an error
 * (a header that does not match the names, a bad index column, a read error). */
long lm_csv_cols(lm_csv *r);

/* Parse the next row into row[0 .. cols) (in the order of the names when a header was
 * matched). Returns 1 for a row, 0 at the end of the input, -1 on an error (message in
 * lm_csv_error). After an error every further call returns -1. */
int lm_csv_next(lm_csv *r, double *row);

/* The last error, one line without newline ("" if none). */
const char *lm_csv_error(const lm_csv *r);
/* What the reader decided on its own that a user should hear about ("" if nothing), one line
 * without the file name, e.g. "column 1 has an empty header (pandas' index): skipped". */
const char *lm_csv_note(const lm_csv *r);
/* Line number (from 1) of the row returned last, or of the error. */
size_t lm_csv_line(const lm_csv *r);
/* Rows returned so far. */
size_t lm_csv_rows(const lm_csv *r);

/* Parse one field s[0 .. n) (no ',' inside, not quoted) by the rules above: 0 and *out set, or
 * -1. */
int lm_csv_parse_field(const char *s, size_t n, double *out);

/* One LIBSVM row by the rules above, line[0 .. len) without its newline (a blank line is the
 * caller's business): row[0 .. ncols) set, absent features NaN; seen: ncols bytes of scratch.
 * 0, or -1 with a one-line message in err (no file or line) and *col the byte (from 1) it is
 * about. No allocation unless a value is 128 bytes or longer. lmserve's text/libsvm requests
 * use it too (server/sagemaker.c). */
int lm_csv_libsvm_row(const char *line, size_t len, size_t ncols, double *row,
                      unsigned char *seen, char *err, size_t errlen, size_t *col);

/* Load a whole file (no header detection). On success returns 0 and sets *vals (malloc'd,
 * rows × cols row-major; NULL for an empty file, which has rows = cols = 0). On failure returns
 * -1, sets *vals = NULL and writes a one-line message (naming path) to err[0 .. errlen). */
int lm_csv_read_path(const char *path, double **vals, size_t *rows, size_t *cols, char *err,
                     size_t errlen);
/* The same with options (NULL: all defaults, so a header is detected). note (may be NULL)
 * receives lm_csv_note's text. */
int lm_csv_read_path_opts(const char *path, const lm_csv_options *o, double **vals,
                          size_t *rows, size_t *cols, char *err, size_t errlen, char *note,
                          size_t notelen);

#endif
