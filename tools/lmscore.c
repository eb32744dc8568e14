/*
 * lmscore.c — score CSV rows with a .lm model from the command line.
 *
 *   lmscore MODEL.lm [FILE.csv] [--margin | --leaf] [--check EXPECTED.csv] [--block-rows N]
 *           [--threads N]
 *
 * Reads rows of numbers (no header; FILE or stdin; the rules of tools/csv.h) in blocks of up to
 * 4096 rows, so that inputs of any size stream through bounded memory, scores each block with
 * lm_predict_f64 (transformed values, or raw margins with --margin) or lm_predict_leaf (--leaf:
 * rows rounded to float32, leaf ids printed as integers; values and margins are scored through a
 * thread pool, lm_predict_pool_f64, with --threads N threads, default the CPUs the process may
 * use), and prints one line per row, outputs
 * comma-separated with %.9g (which round-trips a float32): lm_model_output_width columns (the
 * class index alone for multi:softmax values; num_trees with --leaf). --check compares every output with
 * an expected CSV of the same shape and prints a one-line parity summary on stderr; `make run`
 * uses it. Exit status: 0 success, 1 bad input or model (one line on stderr naming the file),
 * 2 usage error, 3 parity check failed.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmrt.h"
#include "tools/csv.h"

#define PROG "lmscore"
#define EXIT_BAD 1
#define EXIT_USAGE 2
#define EXIT_PARITY 3
#define DEFAULT_BLOCK_ROWS 4096
#define MAX_BLOCK_BYTES ((size_t)32 << 20) /* input + output buffers of one block */
#define TOLERANCE 1e-6
#define MAX_MISMATCH_REPORTS 5

static const char usage_text[] =
    "Usage: " PROG " MODEL.lm [FILE.csv] [options]\n"
    "Score CSV rows (no header; FILE or standard input) with a .lm model and print one line\n"
    "per row on standard output, outputs comma-separated (%.9g).\n"
    "\n"
    "Options:\n"
    "  --margin              print raw margins instead of transformed values\n"
    "  --leaf                print the leaf id reached in every tree (integers)\n"
    "  --check EXPECTED.csv  compare every output with EXPECTED.csv (same shape); print a\n"
    "                        parity line on stderr; exit 3 if any output differs by more than\n"
    "                        1e-6*max(1,|expected|) (--leaf: any id differs)\n"
    "  --block-rows N        rows scored per library call (default 4096)\n"
    "  --threads N           threads scoring each block, this one included (default: the\n"
    "                        CPUs this process may use: affinity, cpuset, CPU quota);\n"
    "                        small blocks stay on one thread; never changes the output\n"
    "  -h, --help            show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n"
    "CSV: fields separated by ',', parsed as doubles; missing values: empty, nan, NaN, NA.\n"
    "Exit status: 0 success, 1 bad input, 2 usage error, 3 parity check failed.\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, PROG ": ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
  return EXIT_USAGE;
}

/* s on stderr with line breaks flattened, so that an error stays one line. */
static void put_flat(const char *s) {
  for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, stderr);
}

/* One line naming `file`: the library's detail if it has one (prefixed with the file unless it
 * already names it), else the code's message. */
static void lib_error(const char *file, int rc) {
  const char *d = lm_last_error();
  fputs(PROG ": ", stderr);
  if (!d || !*d) d = lm_strerror(rc);
  else if (strstr(d, file)) file = NULL;
  if (file) fprintf(stderr, "%s: ", file);
  put_flat(d);
  fputc('\n', stderr);
}

typedef struct parity {
  lm_csv *exp;
  const char *name;
  int leaf;
  int ended;              /* the expected file had fewer rows than the input */
  size_t rows, rows_ok;   /* rows compared, rows with every output within tolerance */
  size_t outputs, outputs_ok, identical;
  double max_abs_diff;
  size_t reports;
} parity;

static void report_mismatch(parity *p, size_t out_idx, double got, double want) {
  if (p->reports++ >= MAX_MISMATCH_REPORTS) return;
  fprintf(stderr, "parity: %s:%zu output %zu: got %.9g, expected %.17g (diff %.3g)\n", p->name,
          lm_csv_line(p->exp), out_idx, got, want, fabs(got - want));
}

/* Compare one output row with the next expected row. Returns 0, or -1 on a malformed expected
 * file (message printed). */
static int parity_row(parity *p, const float *vals, const uint32_t *leaves, size_t nout,
                      double *erow) {
  if (p->ended) return 0;
  int rc = lm_csv_next(p->exp, erow);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s\n", lm_csv_error(p->exp));
    return -1;
  }
  if (rc == 0) {
    p->ended = 1;
    return 0;
  }
  p->rows++;
  int row_ok = 1;
  for (size_t j = 0; j < nout; j++) {
    double want = erow[j];
    int ok;
    p->outputs++;
    if (p->leaf) {
      double got = (double)leaves[j];
      ok = got == want;
      if (ok) p->identical++;
      else report_mismatch(p, j, got, want);
    } else {
      /* outputs are float32: compare with the expected value rounded to float32 */
      float g = vals[j], wf = (float)want;
      double got = (double)g, w = (double)wf;
      if (isnan(got) || isnan(w)) {
        ok = isnan(got) && isnan(w);
        if (ok) p->identical++;
      } else {
        double diff = got == w ? 0.0 : fabs(got - w);
        ok = diff <= TOLERANCE * fmax(1.0, fabs(w));
        if (isfinite(diff) && diff > p->max_abs_diff) p->max_abs_diff = diff;
        if (memcmp(&wf, &g, sizeof g) == 0) p->identical++;
      }
      if (!ok) report_mismatch(p, j, got, want);
    }
    if (ok) p->outputs_ok++;
    else row_ok = 0;
  }
  if (row_ok) p->rows_ok++;
  return 0;
}

static void print_value(FILE *out, float v) {
  if (isnan(v)) fputs("nan", out);
  else fprintf(out, "%.9g", (double)v);
}

int main(int argc, char **argv) {
  const char *model_path = NULL, *input_path = NULL, *check_path = NULL;
  int margin = 0, leaf = 0, no_more_opts = 0;
  size_t block_rows = DEFAULT_BLOCK_ROWS;
  size_t threads = 0; /* 0: lm_cpus_allowed() */

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!no_more_opts && a[0] == '-' && a[1] != '\0') {
      if (!strcmp(a, "--")) {
        no_more_opts = 1;
      } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        fputs(usage_text, stdout);
        return 0;
      } else if (!strcmp(a, "--version")) {
        printf(PROG " %s\n", LM_VERSION_STRING);
        return 0;
      } else if (!strcmp(a, "--margin")) {
        margin = 1;
      } else if (!strcmp(a, "--leaf")) {
        leaf = 1;
      } else if (!strcmp(a, "--check") || !strncmp(a, "--check=", 8)) {
        if (a[7] == '=') check_path = a + 8;
        else if (i + 1 < argc) check_path = argv[++i];
        else return usage_error("option '%s' needs a file", a);
        if (!*check_path) return usage_error("option '%s' needs a file", "--check");
      } else if (!strcmp(a, "--block-rows") || !strncmp(a, "--block-rows=", 13)) {
        const char *v = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return usage_error("option '%s' needs a number", a);
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n == 0 || n > (1ul << 24) || v[0] == '-')
          return usage_error("--block-rows: not a row count from 1 to 16777216: '%s'", v);
        block_rows = n;
      } else if (!strcmp(a, "--threads") || !strncmp(a, "--threads=", 10)) {
        const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return usage_error("option '%s' needs a number", a);
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n == 0 || n > 1024 || v[0] == '-')
          return usage_error("--threads: not a thread count from 1 to 1024: '%s'", v);
        threads = n;
      } else {
        return usage_error("unknown option '%s'", a);
      }
    } else if (!model_path) {
      model_path = a;
    } else if (!input_path) {
      input_path = a;
    } else {
      return usage_error("unexpected argument '%s'", a);
    }
  }
  if (!model_path) return usage_error("%s", "missing MODEL.lm");
  if (margin && leaf) return usage_error("%s", "--margin and --leaf exclude each other");

  int status = EXIT_BAD;
  lm_model *m = NULL;
  lm_session *s = NULL;
  lm_pool *pool = NULL;
  FILE *in = NULL, *ef = NULL;
  lm_csv *rd = NULL;
  parity par = {0};
  double *x = NULL, *erow = NULL;
  float *xf = NULL, *out = NULL;
  uint32_t *leaves = NULL;
  const char *in_name = input_path && strcmp(input_path, "-") ? input_path : "<stdin>";

  int rc = lm_model_open(model_path, &m);
  if (rc < 0) {
    lib_error(model_path, rc);
    goto done;
  }
  unsigned flags = margin ? LM_PREDICT_MARGIN : 0u;
  size_t nf = lm_model_num_features(m);
  /* columns printed per row; the library's out buffer needs num_outputs per row (cap) */
  size_t nout = leaf ? lm_model_num_trees(m) : lm_model_output_width(m, flags);
  size_t cap = leaf ? nout : lm_model_num_outputs(m);
  if (leaf && nout == 0) {
    fprintf(stderr, PROG ": %s: --leaf needs a tree model (this one has no trees)\n", model_path);
    goto done;
  }
  if (nf == 0 || nout == 0 || nout > cap) {
    fprintf(stderr, PROG ": %s: model has %zu features and %zu outputs: nothing to score\n",
            model_path, nf, nout);
    goto done;
  }
  rc = lm_session_new(m, &s);
  if (rc < 0) {
    lib_error(model_path, rc);
    goto done;
  }
  if (!leaf) {
    lm_pool_options po = {.threads = threads, .pin = LM_POOL_PIN_NODE, .numa = LM_POOL_NUMA_AUTO};
    rc = lm_pool_new(&po, &pool);
    if (rc < 0) {
      lib_error(model_path, rc);
      goto done;
    }
  }

  if (input_path && strcmp(input_path, "-")) {
    in = fopen(input_path, "rb");
    if (!in) {
      fprintf(stderr, PROG ": %s: %s\n", input_path, strerror(errno));
      goto done;
    }
  } else {
    in = stdin;
  }
  rd = lm_csv_open(in, in_name, nf);
  if (!rd) {
    fprintf(stderr, PROG ": out of memory\n");
    goto done;
  }
  if (check_path) {
    ef = fopen(check_path, "rb");
    if (!ef) {
      fprintf(stderr, PROG ": %s: %s\n", check_path, strerror(errno));
      goto done;
    }
    par.exp = lm_csv_open(ef, check_path, nout);
    par.name = check_path;
    par.leaf = leaf;
    if (!par.exp) {
      fprintf(stderr, PROG ": out of memory\n");
      goto done;
    }
  }

  /* Block size: bounded by rows and by bytes (models with very many features or trees). */
  size_t row_bytes = nf * sizeof(double) + (leaf ? nf * sizeof(float) : 0) + cap * 4;
  size_t block = MAX_BLOCK_BYTES / row_bytes;
  if (block > block_rows) block = block_rows;
  if (block == 0) block = 1;
  x = malloc(block * nf * sizeof *x);
  if (leaf) {
    xf = malloc(block * nf * sizeof *xf);
    leaves = malloc(block * cap * sizeof *leaves);
  } else {
    out = malloc(block * cap * sizeof *out);
  }
  erow = check_path ? malloc(nout * sizeof *erow) : NULL;
  if (!x || (leaf ? !xf || !leaves : !out) || (check_path && !erow)) {
    fprintf(stderr, PROG ": out of memory (%zu rows of %zu features)\n", block, nf);
    goto done;
  }

  static char outbuf[1 << 16];
  setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
  size_t first_line = 0;
  for (int eof = 0; !eof;) {
    size_t n = 0;
    while (n < block) {
      int r = lm_csv_next(rd, x + n * nf);
      if (r < 0) {
        fflush(stdout);
        fprintf(stderr, PROG ": %s\n", lm_csv_error(rd));
        goto done;
      }
      if (r == 0) {
        eof = 1;
        break;
      }
      if (n == 0) first_line = lm_csv_line(rd);
      n++;
    }
    if (n == 0) break;
    if (leaf) {
      for (size_t k = 0; k < n * nf; k++) xf[k] = (float)x[k];
      rc = lm_predict_leaf(s, xf, n, leaves);
    } else {
      rc = lm_predict_pool_f64(pool, s, x, n, flags, out);
    }
    if (rc < 0) {
      fflush(stdout);
      char where[4096];
      snprintf(where, sizeof where, "%s:%zu-%zu", in_name, first_line, lm_csv_line(rd));
      lib_error(where, rc);
      goto done;
    }
    for (size_t r = 0; r < n; r++) {
      for (size_t j = 0; j < nout; j++) {
        if (j) putchar(',');
        if (leaf) printf("%u", (unsigned)leaves[r * nout + j]);
        else print_value(stdout, out[r * nout + j]);
      }
      putchar('\n');
      if (par.exp &&
          parity_row(&par, leaf ? NULL : out + r * nout, leaf ? leaves + r * nout : NULL, nout,
                     erow) < 0) {
        fflush(stdout);
        goto done;
      }
    }
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, PROG ": writing the output: %s\n", strerror(errno));
    goto done;
  }

  status = 0;
  if (par.exp) {
    size_t in_rows = lm_csv_rows(rd);
    size_t exp_rows = par.rows;
    if (!par.ended) { /* count any expected rows beyond the input */
      for (;;) {
        int r = lm_csv_next(par.exp, erow);
        if (r < 0) {
          fprintf(stderr, PROG ": %s\n", lm_csv_error(par.exp));
          status = EXIT_BAD;
          goto done;
        }
        if (r == 0) break;
        exp_rows++;
      }
    } else {
      exp_rows = lm_csv_rows(par.exp);
    }
    size_t total = in_rows > exp_rows ? in_rows : exp_rows;
    if (in_rows != exp_rows)
      fprintf(stderr, "parity: %s has %zu rows, %s has %zu\n", check_path, exp_rows, in_name,
              in_rows);
    if (leaf)
      fprintf(stderr, "parity: %zu/%zu rows, %zu/%zu leaf ids equal\n", par.rows_ok, total,
              par.outputs_ok, par.outputs);
    else
      fprintf(stderr,
              "parity: %zu/%zu rows, %zu/%zu outputs within 1e-6\xC2\xB7max(1,|expected|), "
              "%zu bit-identical, max abs diff %.3g\n",
              par.rows_ok, total, par.outputs_ok, par.outputs, par.identical, par.max_abs_diff);
    if (par.rows_ok != total || in_rows != exp_rows) status = EXIT_PARITY;
  }

done:
  free(x);
  free(xf);
  free(out);
  free(leaves);
  free(erow);
  lm_csv_close(par.exp);
  lm_csv_close(rd);
  if (ef) fclose(ef);
  if (in && in != stdin) fclose(in);
  lm_pool_free(pool);
  lm_session_free(s);
  lm_model_close(m);
  return status;
}
