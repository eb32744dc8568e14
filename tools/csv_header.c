/*
 * csv_header.c — the header and column mapping of the row reader (csv.c, csv.h): deciding once,
 * before the first row, whether the first line is a header (LM_CSV_HEADER_AUTO: a field that is
 * neither a number nor a missing marker, or pandas' default integer names), matching header
 * names to the model's feature names (in any order, errors listing what is missing, extra or
 * duplicated), finding the index column (named, numbered, or pandas' empty-named first column),
 * and building the map from file columns to values that every row then goes through. Shares
 * the reader's state and helpers through csv_internal.h.
 */
#include "tools/csv.h"
#include "tools/csv_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* The first record is a header (LM_CSV_HEADER_AUTO): a field that is neither a number nor a
 * missing marker, or pandas' "", "0", "1", ... of default integer column names. */
static int looks_like_header(const lm_csv *r, const char *line) {
  for (size_t k = 0; k < r->nfl; k++) {
    const char *s;
    size_t n;
    double v;
    lm__csv_field_text(r, line, k, &s, &n);
    if (lm__csv_parse_trimmed(s, n, &v) == -1) return 1;
  }
  if (r->nfl < 2) return 0;
  for (size_t k = 0; k < r->nfl; k++) {
    const char *s;
    size_t n;
    char want[32];
    lm__csv_field_text(r, line, k, &s, &n);
    int wl = k ? snprintf(want, sizeof want, "%zu", k - 1) : 0;
    if (n != (size_t)wl || memcmp(s, want, n) != 0) return 0;
  }
  return 1;
}

/* Split a copy of the current line into fields (r->fl): the copy (malloc'd; the caller frees it)
 * in *copy and lm__csv_split's result, or -1 with *copy NULL when out of memory. */
static int split_copy(lm_csv *r, char **copy) {
  *copy = malloc(r->len + 1);
  if (!*copy) {
    lm__csv_fail(r, "%s:%zu: out of memory", r->name, r->line_no);
    return -1;
  }
  memcpy(*copy, r->buf, r->len + 1);
  r->cur_line = r->line_no;
  return lm__csv_split(r, *copy, r->len, r->line_no);
}

/* Decide once whether the first record is a header; if so keep its fields and consume it. */
static int detect_header(lm_csv *r) {
  if (r->header_checked) return r->failed ? -1 : 0;
  r->header_checked = 1;
  if (r->o.format != LM_CSV_CSV || r->o.header == LM_CSV_HEADER_NO) return 0;
  if (lm__csv_fill(r) < 0) return -1;
  if (!r->have_line) return 0;
  char *copy;
  int rc = split_copy(r, &copy);
  if (!copy) return -1;
  if (rc == 0 && (r->o.header == LM_CSV_HEADER_YES || looks_like_header(r, copy))) {
    r->hdr = calloc(r->nfl, sizeof *r->hdr);
    if (!r->hdr) rc = -1;
    for (size_t k = 0; rc == 0 && k < r->nfl; k++) {
      const char *s = copy + r->fl[k].off;
      size_t n = r->fl[k].len;
      if (!r->fl[k].quoted) lm__csv_trim(&s, &n);
      r->hdr[k] = malloc(n + 1);
      if (!r->hdr[k]) {
        rc = -1;
        break;
      }
      memcpy(r->hdr[k], s, n);
      r->hdr[k][n] = '\0';
      r->nhdr = k + 1;
    }
    if (rc < 0 && !r->failed) lm__csv_fail(r, "%s:%zu: out of memory", r->name, r->line_no);
    r->has_header = 1;
    r->hdr_line = r->line_no;
    r->have_line = 0;      /* consumed */
    r->seen_nonblank = 0;  /* blank lines between the header and the first row are ignored */
    r->pending_blank = 0;
  }
  free(copy);
  return rc;
}

int lm_csv_has_header(lm_csv *r) {
  if (r->failed) return -1;
  return detect_header(r) < 0 ? -1 : r->has_header;
}

/* Append `"name"` (quoted as in errors) to dst, up to LIST_SHOWN of them then "... and N more". */
static void list_name(char *dst, size_t cap, size_t *shown, size_t total, const char *name) {
  size_t o = strlen(dst);
  if (*shown == LIST_SHOWN) {
    snprintf(dst + o, cap - o, ", ... and %zu more", total - LIST_SHOWN);
    (*shown)++;
    return;
  }
  if (*shown > LIST_SHOWN) return;
  char q[200];
  lm__csv_quote(q, sizeof q, name, strlen(name));
  snprintf(dst + o, cap - o, "%s\"%s\"", *shown ? ", " : "", q);
  (*shown)++;
}

typedef struct name_ix {
  const char *name;
  size_t i;
} name_ix;

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

/* Header columns matched to the feature names (r->o.names, r->ncols of them). */
static int match_names(lm_csv *r, size_t idx) {
  size_t nf = r->ncols;
  name_ix *sorted = malloc((nf ? nf : 1) * sizeof *sorted);
  unsigned char *taken = calloc(nf ? nf : 1, 1);
  size_t *where = malloc((nf ? nf : 1) * sizeof *where); /* header column of each feature */
  int rc = -1;
  if (!sorted || !taken || !where) {
    lm__csv_fail(r, "%s:%zu: out of memory", r->name, r->hdr_line);
    goto done;
  }
  for (size_t i = 0; i < nf; i++) sorted[i] = (name_ix){r->o.names[i], i};
  qsort(sorted, nf, sizeof *sorted, cmp_name);
  size_t n_unexpected = 0, n_missing = 0;
  for (size_t j = 0; j < r->nhdr; j++) {
    if (j == idx) continue;
    name_ix key = {r->hdr[j], 0};
    name_ix *hit = bsearch(&key, sorted, nf, sizeof *sorted, cmp_name);
    /* equal names (a model should have none): the first one not yet taken */
    while (hit && hit > sorted && !strcmp(hit[-1].name, r->hdr[j])) hit--;
    while (hit && taken[hit->i] && hit + 1 < sorted + nf && !strcmp(hit[1].name, r->hdr[j]))
      hit++;
    if (!hit) {
      r->map[j] = SKIP;
      n_unexpected++;
      continue;
    }
    if (taken[hit->i]) {
      char q[200];
      lm__csv_quote(q, sizeof q, r->hdr[j], strlen(r->hdr[j]));
      lm__csv_fail(r, "%s:%zu: column \"%s\" appears twice (columns %zu and %zu)", r->name,
               r->hdr_line, q, where[hit->i] + 1, j + 1);
      goto done;
    }
    taken[hit->i] = 1;
    where[hit->i] = j;
    r->map[j] = hit->i;
  }
  for (size_t i = 0; i < nf; i++) n_missing += !taken[i];
  if (n_unexpected || n_missing) {
    char miss[300] = "", unexp[300] = "";
    size_t shown = 0;
    for (size_t i = 0; i < nf; i++)
      if (!taken[i]) list_name(miss, sizeof miss, &shown, n_missing, r->o.names[i]);
    shown = 0;
    for (size_t j = 0; j < r->nhdr; j++)
      if (j != idx && r->map[j] == SKIP) list_name(unexp, sizeof unexp, &shown, n_unexpected, r->hdr[j]);
    char msg[700] = "";
    if (n_missing)
      snprintf(msg, sizeof msg, "missing column%s %s", n_missing == 1 ? "" : "s", miss);
    if (n_unexpected) {
      size_t o = strlen(msg);
      snprintf(msg + o, sizeof msg - o, "%sunexpected column%s %s", o ? "; " : "",
               n_unexpected == 1 ? "" : "s", unexp);
    }
    lm__csv_fail(r, "%s:%zu: the header does not match the model's %zu feature names: %s", r->name,
             r->hdr_line, nf, msg);
    goto done;
  }
  rc = 0;
done:
  free(sorted);
  free(taken);
  free(where);
  return rc;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* Map file columns to values, once: the header (if any), the index column, names or order. */
int lm__csv_map_columns(lm_csv *r) {
  if (r->mapped) return r->failed ? -1 : 0;
  if (r->failed) return -1;
  if (r->o.format == LM_CSV_LIBSVM) {
    if (r->ncols == 0) {
      lm__csv_fail(r, "%s: LIBSVM rows need the number of features", r->name);
      return -1;
    }
    r->seen = calloc(r->ncols, 1);
    if (!r->seen) {
      lm__csv_fail(r, "%s: out of memory", r->name);
      return -1;
    }
    r->mapped = 1;
    return 0;
  }
  if (detect_header(r) < 0) return -1;
  size_t hl = r->has_header ? r->hdr_line : 1;
  r->cur_line = hl;
  /* the index column */
  size_t idx = NONE;
  const char *ic = r->o.index_col;
  if (ic) {
    if (all_digits(ic)) {
      errno = 0;
      unsigned long long v = strtoull(ic, NULL, 10);
      idx = errno || v >= SIZE_MAX ? SIZE_MAX - 1 : (size_t)v;
    } else if (!r->has_header) {
      lm__csv_fail(r, "%s:1: index column \"%s\" is named, but the file has no header line", r->name,
               ic);
      return -1;
    } else {
      for (size_t j = 0; j < r->nhdr && idx == NONE; j++)
        if (!strcmp(r->hdr[j], ic)) idx = j;
      if (idx == NONE) {
        char q[200];
        lm__csv_quote(q, sizeof q, ic, strlen(ic));
        lm__csv_fail(r, "%s:%zu: no column named \"%s\" (the index column)", r->name, hl, q);
        return -1;
      }
    }
  } else if (r->has_header && r->nhdr >= 2 && r->hdr[0][0] == '\0') {
    idx = 0;
    lm__csv_add_note(r, "column 1 has an empty header (pandas' index): skipped");
  }
  /* fields per record, values per row */
  if (r->has_header) {
    r->nfile = r->nhdr;
  } else if (r->ncols) {
    r->nfile = r->ncols + (idx != NONE);
  } else {
    if (lm__csv_fill(r) < 0) return -1;
    if (!r->have_line) { /* no rows: nothing to map */
      r->mapped = 1;
      return 0;
    }
    char *copy;
    int rc = split_copy(r, &copy);
    free(copy);
    if (rc < 0) return -1;
    r->nfile = r->nfl;
  }
  if (idx != NONE && idx >= r->nfile) {
    lm__csv_fail(r, "%s:%zu: index column %s is beyond the file's %zu columns (counted from 0)",
             r->name, hl, ic, r->nfile);
    return -1;
  }
  size_t nvals = r->nfile - (idx != NONE);
  if (nvals == 0) {
    lm__csv_fail(r, "%s:%zu: no value columns besides the index column", r->name, hl);
    return -1;
  }
  r->map = malloc(r->nfile * sizeof *r->map);
  if (!r->map) {
    lm__csv_fail(r, "%s: out of memory", r->name);
    return -1;
  }
  int names = r->o.names && r->ncols;
  for (size_t i = 0; names && i < r->ncols; i++)
    if (!r->o.names[i]) names = 0;
  if (r->has_header && names) {
    if (idx != NONE) r->map[idx] = SKIP;
    if (match_names(r, idx) < 0) return -1;
  } else {
    if (r->has_header && r->ncols && nvals != r->ncols) {
      lm__csv_fail(r, "%s:%zu: the header has %zu columns%s, expected %zu", r->name, hl, r->nfile,
               idx != NONE ? " with the index column" : "", r->ncols + (idx != NONE));
      return -1;
    }
    for (size_t j = 0, v = 0; j < r->nfile; j++) r->map[j] = j == idx ? SKIP : v++;
    r->ncols = nvals;
  }
  r->mapped = 1;
  return 0;
}

long lm_csv_cols(lm_csv *r) {
  if (r->failed) return -1;
  if (lm__csv_map_columns(r) < 0) return -1;
  return (long)r->ncols;
}
