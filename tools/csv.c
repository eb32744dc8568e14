/*
 * csv.c — the numeric CSV reader of csv.h: one line at a time with getline (so lines of any
 * length), each field trimmed of spaces and tabs and parsed with strtod, which must consume the
 * whole field; empty fields and NA/NaN spellings are missing (NaN). Blank lines are held back
 * until a non-blank line follows, so that trailing blank lines can be ignored while a blank line
 * between rows still counts as a row (a missing value for a one-column file, an error
 * otherwise). Every error is one line, "FILE:LINE:COL: what".
 */
#include "tools/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct lm_csv {
  FILE *f;
  char *name;
  size_t ncols;          /* 0 until known */
  char *buf;             /* getline buffer */
  size_t cap;
  size_t len;            /* length of the buffered line, newline stripped */
  int have_line;         /* buf holds a non-blank line not yet returned */
  size_t line_no;        /* its line number */
  size_t lines_read;     /* physical lines read so far */
  size_t pending_blank;  /* blank lines read after a row and before the buffered line */
  size_t blank_line_no;  /* line number of the first of them */
  int seen_nonblank;     /* a non-blank line has been read */
  int eof;
  int failed;
  size_t cur_line;       /* line of the last row returned, or of the error */
  size_t rows;
  char err[512];
};

static void csv_fail(lm_csv *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void csv_fail(lm_csv *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  r->failed = 1;
}

lm_csv *lm_csv_open(FILE *f, const char *name, size_t ncols) {
  lm_csv *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->name = strdup(name ? name : "<input>");
  if (!r->name) {
    free(r);
    return NULL;
  }
  r->f = f;
  r->ncols = ncols;
  return r;
}

void lm_csv_close(lm_csv *r) {
  if (!r) return;
  free(r->buf);
  free(r->name);
  free(r);
}

const char *lm_csv_error(const lm_csv *r) { return r->err; }
size_t lm_csv_line(const lm_csv *r) { return r->cur_line; }
size_t lm_csv_rows(const lm_csv *r) { return r->rows; }

static int is_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t') return 0;
  return 1;
}

/* Read lines until a non-blank one is buffered (have_line) or the input ends (eof). Blank lines
 * before the first non-blank line are dropped; later ones are counted in pending_blank.
 * Returns 0, or -1 after recording an error. */
static int fill(lm_csv *r) {
  while (!r->have_line && !r->eof) {
    errno = 0;
    ssize_t n = getline(&r->buf, &r->cap, r->f);
    if (n < 0) {
      if (ferror(r->f)) {
        r->cur_line = r->lines_read + 1;
        csv_fail(r, "%s:%zu: read error: %s", r->name, r->cur_line,
                 strerror(errno ? errno : EIO));
        return -1;
      }
      if (!feof(r->f) && errno == ENOMEM) {
        r->cur_line = r->lines_read + 1;
        csv_fail(r, "%s:%zu: out of memory reading a line", r->name, r->cur_line);
        return -1;
      }
      r->eof = 1;
      r->pending_blank = 0; /* trailing blank lines are ignored */
      return 0;
    }
    r->lines_read++;
    size_t len = (size_t)n;
    if (len > 0 && r->buf[len - 1] == '\n') len--;
    if (len > 0 && r->buf[len - 1] == '\r') len--;
    r->buf[len] = '\0';
    if (r->lines_read == 1 && len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) {
      memmove(r->buf, r->buf + 3, len - 3 + 1);
      len -= 3;
    }
    if (is_blank(r->buf, len)) {
      if (r->seen_nonblank) {
        if (r->pending_blank++ == 0) r->blank_line_no = r->lines_read;
      }
      continue;
    }
    r->seen_nonblank = 1;
    r->have_line = 1;
    r->len = len;
    r->line_no = r->lines_read;
  }
  return 0;
}

static size_t count_fields(const char *s, size_t n) {
  size_t k = 1;
  for (const char *p = s, *end = s + n; (p = memchr(p, ',', (size_t)(end - p))) != NULL; p++) k++;
  return k;
}

long lm_csv_cols(lm_csv *r) {
  if (r->ncols) return (long)r->ncols;
  if (r->failed) return -1;
  if (fill(r) < 0) return -1;
  if (!r->have_line) return 0;
  r->ncols = count_fields(r->buf, r->len);
  return (long)r->ncols;
}

/* 0 = parsed, -1 = not a number, -2 = out of memory. s[0 .. n) is already trimmed. */
static int parse_trimmed(const char *s, size_t n, double *out) {
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

static void trim(const char **s, size_t *n) {
  const char *p = *s, *e = *s + *n;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  *s = p;
  *n = (size_t)(e - p);
}

int lm_csv_parse_field(const char *s, size_t n, double *out) {
  if (memchr(s, ',', n)) return -1;
  trim(&s, &n);
  return parse_trimmed(s, n, out) == 0 ? 0 : -1;
}

/* Quote a field for an error message: printable ASCII as is, the rest as \xHH, cut at 40. */
static void quote(char *dst, size_t cap, const char *s, size_t n) {
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

static int parse_line(lm_csv *r, const char *line, size_t len, size_t line_no, double *row) {
  r->cur_line = line_no;
  if (r->ncols == 0) r->ncols = count_fields(line, len);
  const char *p = line, *end = line + len;
  size_t i = 0;
  for (;;) {
    const char *q = memchr(p, ',', (size_t)(end - p));
    if (!q) q = end;
    if (i >= r->ncols) {
      size_t total = i + count_fields(p, (size_t)(end - p));
      csv_fail(r, "%s:%zu:%zu: too many fields: %zu, expected %zu", r->name, line_no,
               (size_t)(p - line) + 1, total, r->ncols);
      return -1;
    }
    const char *f = p;
    size_t n = (size_t)(q - p);
    trim(&f, &n);
    int rc = parse_trimmed(f, n, &row[i]);
    if (rc != 0) {
      if (rc == -2) {
        csv_fail(r, "%s:%zu:%zu: out of memory", r->name, line_no, (size_t)(f - line) + 1);
      } else {
        char q8[256];
        quote(q8, sizeof q8, f, n);
        csv_fail(r, "%s:%zu:%zu: bad number \"%s\" (field %zu)", r->name, line_no,
                 (size_t)(f - line) + 1, q8, i + 1);
      }
      return -1;
    }
    i++;
    if (q == end) break;
    p = q + 1;
  }
  if (i < r->ncols) {
    if (is_blank(line, len))
      csv_fail(r, "%s:%zu:%zu: blank line, expected %zu fields", r->name, line_no, len + 1,
               r->ncols);
    else
      csv_fail(r, "%s:%zu:%zu: too few fields: %zu, expected %zu", r->name, line_no, len + 1, i,
               r->ncols);
    return -1;
  }
  return 0;
}

int lm_csv_next(lm_csv *r, double *row) {
  if (r->failed) return -1;
  if (fill(r) < 0) return -1;
  if (!r->have_line) return 0; /* end: any blank lines held back were trailing */
  int rc;
  if (r->pending_blank > 0) {
    rc = parse_line(r, "", 0, r->blank_line_no, row);
    r->pending_blank--;
    r->blank_line_no++;
  } else {
    rc = parse_line(r, r->buf, r->len, r->line_no, row);
    r->have_line = 0;
  }
  if (rc < 0) return -1;
  r->rows++;
  return 1;
}

int lm_csv_read_path(const char *path, double **vals, size_t *rows, size_t *cols, char *err,
                     size_t errlen) {
  *vals = NULL;
  *rows = *cols = 0;
  if (errlen) err[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  lm_csv *r = lm_csv_open(f, path, 0);
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
