/*
 * csv.h — the CSV reader shared by the command-line tools (lmscore reads feature rows and
 * expected outputs with it) and by the tests (parity tests load input.csv and expected_*.csv).
 *
 * The files are rows of numbers: no header, fields separated by ',', each parsed as a double
 * with strtod (which must consume the whole field; spaces and tabs around it are allowed).
 * Missing values: an empty field, `nan`, `NaN`, `NA` (and anything else strtod reads as NaN);
 * `inf`, `-inf`, `Infinity` are read as strtod reads them. Lines end in LF or CRLF; the last
 * line may lack its newline; blank lines before the first row and after the last are ignored
 * (a blank line between rows is a row with one empty field). A UTF-8 byte-order mark at the
 * start is skipped. Lines may be of any length.
 *
 * Two interfaces: a streaming reader (lm_csv_open / lm_csv_next) that holds one line at a time,
 * and lm_csv_read_path, which loads a whole file into one malloc'd row-major array. Errors are
 * one line, "FILE:LINE:COL: what" (COL counts bytes from 1).
 */
#ifndef LM_TOOLS_CSV_H
#define LM_TOOLS_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct lm_csv lm_csv;

/* A streaming reader over f (not owned: the caller closes it), naming it `name` in errors.
 * ncols: the number of fields every row must have, or 0 to take it from the first row.
 * NULL on out of memory. */
lm_csv *lm_csv_open(FILE *f, const char *name, size_t ncols);
/* Release the reader (not the FILE). NULL is a no-op. */
void lm_csv_close(lm_csv *r);

/* The number of fields per row: the count given to lm_csv_open, else the first row's (read
 * ahead if no row has been returned yet). 0 for an input without rows; -1 on a read error. */
long lm_csv_cols(lm_csv *r);

/* Parse the next row into row[0 .. cols). Returns 1 for a row, 0 at the end of the input, -1 on
 * an error (message in lm_csv_error). After an error every further call returns -1. */
int lm_csv_next(lm_csv *r, double *row);

/* The last error, one line without newline ("" if none). */
const char *lm_csv_error(const lm_csv *r);
/* Line number (from 1) of the row returned last, or of the error. */
size_t lm_csv_line(const lm_csv *r);
/* Rows returned so far. */
size_t lm_csv_rows(const lm_csv *r);

/* Parse one field s[0 .. n) (no ',' inside) by the rules above: 0 and *out set, or -1. */
int lm_csv_parse_field(const char *s, size_t n, double *out);

/* Load a whole file. On success returns 0 and sets *vals (malloc'd, rows × cols row-major;
 * NULL for an empty file, which has rows = cols = 0). On failure returns -1, sets *vals = NULL
 * and writes a one-line message (naming path) to err[0 .. errlen). */
int lm_csv_read_path(const char *path, double **vals, size_t *rows, size_t *cols, char *err,
                     size_t errlen);

#endif
