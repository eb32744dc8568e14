/*
 * csv.c — the row reader of csv.h: one record at a time with getline (so lines of any length;
 * a record continues on the next line while a quoted field is open), split into fields by the
 * delimiter with RFC 4180 quotes undone in place, each value field trimmed of spaces and tabs and
 * parsed with strtod, which must consume the whole field; empty fields and NA/NaN spellings are
 * missing (NaN). Before the first row the reader decides once whether the first line is a
 * header and maps file columns to values (by feature name, or in order, skipping an index
 * column); every row then goes through that map. Blank lines are held back until a non-blank
 * line follows, so that trailing blank lines can be ignored while a blank line between rows
 * still counts as a row (a missing value for a one-column file, an error otherwise). LIBSVM rows
 * (`label idx:val ...`) are parsed by their own function into the same rows. Every error is one
 * line, "FILE:LINE:COL: what" (or "FILE:LINE: what" about a header). The header detection and
 * column mapping are in csv_header.c; the two share csv_internal.h.
 */
#include "tools/csv.h"
#include "tools/csv_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* SKIP, NONE, LIST_SHOWN, field, struct lm_csv: csv_internal.h */

void lm__csv_fail(lm_csv *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  r->failed = 1;
}

void lm__csv_add_note(lm_csv *r, const char *fmt, ...) {
  size_t o = strlen(r->note);
  if (o && o + 2 < sizeof r->note) {
    memcpy(r->note + o, "; ", 3);
    o += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->note + o, sizeof r->note - o, fmt, ap);
  va_end(ap);
}

lm_csv *lm_csv_open_opts(FILE *f, const char *name, const lm_csv_options *o) {
  lm_csv *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (o) r->o = *o;
  r->name = strdup(name ? name : "<input>");
  r->index_col = r->o.index_col ? strdup(r->o.index_col) : NULL;
  if (!r->name || (r->o.index_col && !r->index_col)) {
    free(r->name);
    free(r->index_col);
    free(r);
    return NULL;
  }
  r->o.index_col = r->index_col;
  r->f = f;
  r->ncols = r->o.ncols;
  r->delim = r->o.delimiter ? r->o.delimiter : ',';
  return r;
}

lm_csv *lm_csv_open(FILE *f, const char *name, size_t ncols) {
  lm_csv_options o = {.ncols = ncols, .header = LM_CSV_HEADER_NO};
  return lm_csv_open_opts(f, name, &o);
}

void lm_csv_close(lm_csv *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nhdr; i++) free(r->hdr[i]);
  free(r->hdr);
  free(r->map);
  free(r->seen);
  free(r->fl);
  free(r->buf);
  free(r->more);
  free(r->index_col);
  free(r->name);
  free(r);
}

const char *lm_csv_error(const lm_csv *r) { return r->err; }
const char *lm_csv_note(const lm_csv *r) { return r->note; }
size_t lm_csv_line(const lm_csv *r) { return r->cur_line; }
size_t lm_csv_rows(const lm_csv *r) { return r->rows; }

void lm_csv_set_names(lm_csv *r, const char *const *names, size_t ncols) {
  if (r->mapped) return;
  r->o.names = names;
  r->o.ncols = r->ncols = ncols;
}

static int is_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t') return 0;
  return 1;
}

/* A space or tab that is not the delimiter: what trimming removes. */
static int is_pad(const lm_csv *r, char c) { return (c == ' ' || c == '\t') && c != r->delim; }

/* Whether s[0 .. n) ends inside a quoted field (the record continues on the next line). */
static int quote_open(const lm_csv *r, const char *s, size_t n) {
  size_t i = 0;
  for (;;) {
    while (i < n && is_pad(r, s[i])) i++;
    if (i < n && s[i] == '"') {
      for (i++;; i++) {
        if (i >= n) return 1;
        if (s[i] == '"') {
          if (i + 1 < n && s[i + 1] == '"') i++;
          else break;
        }
      }
      i++;
    }
    const char *d = i < n ? memchr(s + i, r->delim, n - i) : NULL;
    if (!d) return 0;
    i = (size_t)(d - s) + 1;
  }
}

/* Read one physical line into *b (newline and CR stripped, BOM removed on line 1): its length,
 * or -1 at the end (r->eof) or on an error (recorded). */
static ssize_t read_line(lm_csv *r, char **b, size_t *cap) {
  errno = 0;
  ssize_t n = getline(b, cap, r->f);
  if (n < 0) {
    if (ferror(r->f)) {
      r->cur_line = r->lines_read + 1;
      lm__csv_fail(r, "%s:%zu: read error: %s", r->name, r->cur_line, strerror(errno ? errno : EIO));
    } else if (!feof(r->f) && errno == ENOMEM) {
      r->cur_line = r->lines_read + 1;
      lm__csv_fail(r, "%s:%zu: out of memory reading a line", r->name, r->cur_line);
    } else {
      r->eof = 1;
    }
    return -1;
  }
  r->lines_read++;
  size_t len = (size_t)n;
  char *s = *b;
  if (len > 0 && s[len - 1] == '\n') len--;
  if (len > 0 && s[len - 1] == '\r') len--;
  s[len] = '\0';
  if (r->lines_read == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
    memmove(s, s + 3, len - 3 + 1);
    len -= 3;
  }
  return (ssize_t)len;
}

/* Read lines until a non-blank record is buffered (have_line) or the input ends (eof). Blank
 * lines before the first non-blank line are dropped; later ones are counted in pending_blank.
 * Returns 0, or -1 after recording an error. */
int lm__csv_fill(lm_csv *r) {
  while (!r->have_line && !r->eof) {
    ssize_t n = read_line(r, &r->buf, &r->cap);
    if (n < 0) {
      if (r->failed) return -1;
      r->pending_blank = 0; /* trailing blank lines are ignored */
      return 0;
    }
    size_t len = (size_t)n;
    if (is_blank(r->buf, len)) {
      if (r->seen_nonblank) {
        if (r->pending_blank++ == 0) r->blank_line_no = r->lines_read;
      }
      continue;
    }
    r->seen_nonblank = 1;
    r->have_line = 1;
    r->line_no = r->lines_read;
    /* A quoted field open at the end of the line continues on the next one. */
    while (r->o.format == LM_CSV_CSV && quote_open(r, r->buf, len) && !r->eof) {
      ssize_t m = read_line(r, &r->more, &r->more_cap);
      if (m < 0) {
        if (r->failed) return -1;
        break; /* unterminated: reported when the record is split */
      }
      if (len + 1 + (size_t)m + 1 > r->cap) {
        size_t nc = (len + 1 + (size_t)m + 1) * 2;
        char *nb = realloc(r->buf, nc);
        if (!nb) {
          r->cur_line = r->line_no;
          lm__csv_fail(r, "%s:%zu: out of memory reading a record", r->name, r->line_no);
          return -1;
        }
        r->buf = nb;
        r->cap = nc;
      }
      r->buf[len++] = '\n';
      memcpy(r->buf + len, r->more, (size_t)m + 1);
      len += (size_t)m;
    }
    r->len = len;
  }
  return 0;
}

/* 0 = parsed, -1 = not a number, -2 = out of memory. s[0 .. n) is already trimmed. */
int lm__csv_parse_trimmed(const char *s, size_t n, double *out) {
  if (n == 0 || (n == 2 && s[0] == 'N' && s[1] == 'A')) {
    *out = NAN;
    return 0;
  }
  /* strtod would skip other leading white space (\v, \f, \r) itself: those are not allowed. */
  if (isspace((unsigned char)s[0])) return -1;
  char small[128];
  char *copy = small;
  if (n >= sizeof small) {
    copy = malloc(n + 1);
    if (!copy) return -2;
  }
  memcpy(copy, s, n);
  copy[n] = '\0';
  char *end;
  double v = strtod(copy, &end);
  int ok = end == copy + n;
  if (copy != small) free(copy);
  if (!ok) return -1;
  *out = v;
  return 0;
}

void lm__csv_trim(const char **s, size_t *n) {
  const char *p = *s, *e = *s + *n;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  *s = p;
  *n = (size_t)(e - p);
}

int lm_csv_parse_field(const char *s, size_t n, double *out) {
  if (memchr(s, ',', n)) return -1;
  lm__csv_trim(&s, &n);
  return lm__csv_parse_trimmed(s, n, out) == 0 ? 0 : -1;
}

/* Quote a field for an error message: printable ASCII as is, the rest as \xHH, cut at 40. */
void lm__csv_quote(char *dst, size_t cap, const char *s, size_t n) {
  size_t o = 0;
  const size_t limit = 40;
  for (size_t i = 0; i < n && i < limit; i++) {
    unsigned char c = (unsigned char)s[i];
    if (o + 5 >= cap) break;
    if (c == '"' || c == '\\') {
      dst[o++] = '\\';
      dst[o++] = (char)c;
    } else if (c >= 0x20 && c < 0x7f) {
      dst[o++] = (char)c;
    } else {
      o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
    }
  }
  if (n > limit && o + 4 < cap) {
    memcpy(dst + o, "...", 3);
    o += 3;
  }
  dst[o] = '\0';
}

/* Split line[0 .. len) into r->fl, undoing quotes in place. 0, or -1 after an error. */
int lm__csv_split(lm_csv *r, char *line, size_t len, size_t line_no) {
  r->nfl = 0;
  size_t i = 0;
  for (;;) {
    if (r->nfl == r->flcap) {
      size_t nc = r->flcap ? r->flcap * 2 : 64;
      field *nf = realloc(r->fl, nc * sizeof *nf);
      if (!nf) {
        lm__csv_fail(r, "%s:%zu: out of memory", r->name, line_no);
        return -1;
      }
      r->fl = nf;
      r->flcap = nc;
    }
    field *f = &r->fl[r->nfl++];
    size_t j = i;
    while (j < len && is_pad(r, line[j])) j++;
    if (r->o.format == LM_CSV_CSV && j < len && line[j] == '"') {
      size_t w = j + 1, k = j + 1;
      for (;;) {
        if (k >= len) {
          lm__csv_fail(r, "%s:%zu:%zu: unterminated quoted field (field %zu)", r->name, line_no,
                   j + 1, r->nfl);
          return -1;
        }
        if (line[k] == '"') {
          if (k + 1 < len && line[k + 1] == '"') {
            line[w++] = '"';
            k += 2;
            continue;
          }
          k++;
          break;
        }
        line[w++] = line[k++];
      }
      *f = (field){.off = j + 1, .len = w - (j + 1), .col = j, .quoted = 1};
      while (k < len && is_pad(r, line[k])) k++;
      if (k < len && line[k] != r->delim) {
        lm__csv_fail(r, "%s:%zu:%zu: text after a closing quote (field %zu)", r->name, line_no,
                 k + 1, r->nfl);
        return -1;
      }
      i = k;
    } else {
      const char *d = i < len ? memchr(line + i, r->delim, len - i) : NULL;
      size_t k = d ? (size_t)(d - line) : len;
      *f = (field){.off = i, .len = k - i, .col = i, .quoted = 0};
      i = k;
    }
    if (i >= len) return 0;
    i++; /* past the delimiter; a delimiter at the end makes an empty last field */
  }
}

/* Field k of the split record, trimmed. */
void lm__csv_field_text(const lm_csv *r, const char *line, size_t k, const char **s, size_t *n) {
  *s = line + r->fl[k].off;
  *n = r->fl[k].len;
  lm__csv_trim(s, n);
}

static int parse_line(lm_csv *r, char *line, size_t len, size_t line_no, double *row) {
  r->cur_line = line_no;
  if (lm__csv_split(r, line, len, line_no) < 0) return -1;
  if (r->nfl > r->nfile) {
    lm__csv_fail(r, "%s:%zu:%zu: too many fields: %zu, expected %zu", r->name, line_no,
             r->fl[r->nfile].col + 1, r->nfl, r->nfile);
    return -1;
  }
  for (size_t k = 0; k < r->nfl; k++) {
    size_t m = r->map[k];
    if (m == SKIP) continue;
    const char *f;
    size_t n;
    lm__csv_field_text(r, line, k, &f, &n);
    int rc = lm__csv_parse_trimmed(f, n, &row[m]);
    if (rc != 0) {
      size_t col = r->fl[k].quoted ? r->fl[k].col + 1 : (size_t)(f - line) + 1;
      if (rc == -2) {
        lm__csv_fail(r, "%s:%zu:%zu: out of memory", r->name, line_no, col);
      } else {
        char q8[256];
        lm__csv_quote(q8, sizeof q8, f, n);
        lm__csv_fail(r, "%s:%zu:%zu: bad number \"%s\" (field %zu)", r->name, line_no, col, q8,
                 k + 1);
      }
      return -1;
    }
  }
  if (r->nfl < r->nfile) {
    if (is_blank(line, len))
      lm__csv_fail(r, "%s:%zu:%zu: blank line, expected %zu fields", r->name, line_no, len + 1,
               r->nfile);
    else
      lm__csv_fail(r, "%s:%zu:%zu: too few fields: %zu, expected %zu", r->name, line_no, len + 1,
               r->nfl, r->nfile);
    return -1;
  }
  return 0;
}

int lm_csv_libsvm_row(const char *line, size_t len, size_t ncols, double *row,
                      unsigned char *seen, char *err, size_t errlen, size_t *col) {
  for (size_t j = 0; j < ncols; j++) row[j] = NAN;
  memset(seen, 0, ncols);
  const char *hash = memchr(line, '#', len);
  size_t end = hash ? (size_t)(hash - line) : len;
  size_t i = 0;
  char q[256];
  for (int first = 1;; first = 0) {
    while (i < end && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i >= end) break;
    size_t t = i;
    while (i < end && line[i] != ' ' && line[i] != '\t') i++;
    const char *tok = line + t;
    size_t tl = i - t;
    const char *colon = memchr(tok, ':', tl);
    *col = t + 1;
    if (!colon) {
      if (first) continue; /* the label */
      lm__csv_quote(q, sizeof q, tok, tl);
      snprintf(err, errlen, "bad LIBSVM pair \"%s\" (expected index:value)", q);
      return -1;
    }
    size_t il = (size_t)(colon - tok);
    if (il == 3 && !memcmp(tok, "qid", 3)) continue;
    size_t fi = 0;
    int ok = il > 0 && il <= 18;
    for (size_t k = 0; ok && k < il; k++) {
      if (tok[k] < '0' || tok[k] > '9') ok = 0;
      else fi = fi * 10 + (size_t)(tok[k] - '0');
    }
    if (!ok) {
      lm__csv_quote(q, sizeof q, tok, tl);
      snprintf(err, errlen, "bad LIBSVM pair \"%s\" (expected index:value, index an integer)", q);
      return -1;
    }
    if (fi >= ncols) {
      snprintf(err, errlen, "feature index %zu out of range: the model has %zu features, "
               "indices 0 to %zu (0-based)", fi, ncols, ncols ? ncols - 1 : 0);
      return -1;
    }
    if (seen[fi]) {
      snprintf(err, errlen, "feature index %zu given twice", fi);
      return -1;
    }
    seen[fi] = 1;
    int rc = lm__csv_parse_trimmed(colon + 1, tl - il - 1, &row[fi]);
    if (rc != 0) {
      lm__csv_quote(q, sizeof q, colon + 1, tl - il - 1);
      *col = (size_t)(colon - line) + 2;
      if (rc == -2) snprintf(err, errlen, "out of memory");
      else snprintf(err, errlen, "bad number \"%s\" (feature %zu)", q, fi);
      return -1;
    }
  }
  return 0;
}

/* One LIBSVM row: [label] idx:val ... [# comment]; absent features are missing. */
static int parse_libsvm(lm_csv *r, char *line, size_t len, size_t line_no, double *row) {
  r->cur_line = line_no;
  if (is_blank(line, len)) {
    lm__csv_fail(r, "%s:%zu:1: blank line, expected a LIBSVM row (label index:value ...)", r->name,
             line_no);
    return -1;
  }
  char err[400];
  size_t col = 1;
  if (lm_csv_libsvm_row(line, len, r->ncols, row, r->seen, err, sizeof err, &col) < 0) {
    lm__csv_fail(r, "%s:%zu:%zu: %s", r->name, line_no, col, err);
    return -1;
  }
  return 0;
}

int lm_csv_next(lm_csv *r, double *row) {
  if (r->failed) return -1;
  if (lm__csv_map_columns(r) < 0) return -1;
  if (lm__csv_fill(r) < 0) return -1;
  if (!r->have_line) return 0; /* end: any blank lines held back were trailing */
  int rc;
  char empty[1] = "";
  int (*parse)(lm_csv *, char *, size_t, size_t, double *) =
      r->o.format == LM_CSV_LIBSVM ? parse_libsvm : parse_line;
  if (r->pending_blank > 0) {
    rc = parse(r, empty, 0, r->blank_line_no, row);
    r->pending_blank--;
    r->blank_line_no++;
  } else {
    rc = parse(r, r->buf, r->len, r->line_no, row);
    r->have_line = 0;
  }
  if (rc < 0) return -1;
  r->rows++;
  return 1;
}

int lm_csv_read_path_opts(const char *path, const lm_csv_options *o, double **vals,
                          size_t *rows, size_t *cols, char *err, size_t errlen, char *note,
                          size_t notelen) {
  *vals = NULL;
  *rows = *cols = 0;
  if (errlen) err[0] = '\0';
  if (notelen) note[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  lm_csv *r = lm_csv_open_opts(f, path, o);
  if (!r) {
    fclose(f);
    if (errlen) snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  double *v = NULL;
  size_t n = 0, cap = 0;
  int ok = 0;
  long c = lm_csv_cols(r);
  if (c < 0) goto done;
  size_t nc = (size_t)c;
  if (nc == 0) {
    ok = 1;
    goto done;
  }
  for (;;) {
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      if (ncap < cap || ncap > SIZE_MAX / sizeof(double) / nc) {
        snprintf(r->err, sizeof r->err, "%s: too large", path);
        goto done;
      }
      double *nv = realloc(v, ncap * nc * sizeof(double));
      if (!nv) {
        snprintf(r->err, sizeof r->err, "%s: out of memory", path);
        goto done;
      }
      v = nv;
      cap = ncap;
    }
    int rc = lm_csv_next(r, v + n * nc);
    if (rc < 0) goto done;
    if (rc == 0) break;
    n++;
  }
  ok = 1;
  *vals = v;
  *rows = n;
  *cols = nc;
  v = NULL;
done:
  if (!ok && errlen) snprintf(err, errlen, "%s", r->err);
  if (notelen) snprintf(note, notelen, "%s", r->note);
  free(v);
  lm_csv_close(r);
  fclose(f);
  if (ok && *rows == 0) {
    free(*vals);
    *vals = NULL;
    *cols = 0;
  }
  return ok ? 0 : -1;
}

int lm_csv_read_path(const char *path, double **vals, size_t *rows, size_t *cols, char *err,
                     size_t errlen) {
  lm_csv_options o = {.header = LM_CSV_HEADER_NO};
  return lm_csv_read_path_opts(path, &o, vals, rows, cols, err, errlen, NULL, 0);
}
