/*
 * lmscore.c — score CSV (or LIBSVM) rows with a .lm model from the command line.
 *
 *   lmscore MODEL.lm [FILE.csv | -] [--margin | --leaf | --contrib] [--check EXPECTED.csv]
 *           [--header | --no-header] [--index-col N|NAME] [--delimiter C]
 *           [--format csv|libsvm] [--block-rows N] [--threads N]
 *
 * Reads rows (FILE or stdin) with the rules of tools/csv.h — a header line detected or forced,
 * its columns matched to the model's feature names in any order, pandas' index column skipped,
 * RFC 4180 quotes, another delimiter, or LIBSVM rows — in blocks of up to 4096 rows, so that
 * inputs of any size stream through bounded memory, scores each block with lm_predict_f64
 * (transformed values, or raw margins with --margin) or lm_predict_leaf (--leaf: rows rounded to
 * float32, leaf ids printed as integers) or lm_predict_contrib_f64 (--contrib: feature
 * contributions, num_outputs × (num_features + 1) columns per row, each output's features then
 * its bias, as XGBoost's pred_contribs and LightGBM's pred_contrib); values, margins and
 * contributions are scored through a thread pool (lm_predict_pool_f64,
 * lm_predict_contrib_pool_f64) with --threads N threads, 0 or default the CPUs the process may
 * use),
 * and prints one line per row, outputs comma-separated with %.9g (which round-trips a float32):
 * lm_model_output_width columns (the class index alone for multi:softmax values; num_trees with
 * --leaf). --check compares every output with an expected CSV of the same shape and prints a
 * one-line parity summary on stderr; `make run` uses it. Exit status (tools/cli.h): 0 success,
 * 1 bad input or model (one line on stderr naming the file), 2 usage error, 3 parity check
 * failed.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmrt.h"
#include "tools/cli.h"
#include "tools/csv.h"

#define PROG "lmscore"
#define DEFAULT_BLOCK_ROWS 4096
#define MAX_BLOCK_BYTES ((size_t)32 << 20) /* input + output buffers of one block */
#define TOLERANCE 1e-6
#define MAX_MISMATCH_REPORTS 5

static const char usage_text[] =
    "Usage: " PROG " MODEL.lm [FILE.csv | -] [options]\n"
    "Score rows (FILE or standard input) with a .lm model and print one line per row on\n"
    "standard output, outputs comma-separated (%.9g).\n"
    "\n"
    "Options:\n"
    "  --margin              print raw margins instead of transformed values\n"
    "  --leaf                print the leaf id reached in every tree (integers)\n"
    "  --contrib             print feature contributions (SHAP values, as XGBoost's\n"
    "                        pred_contribs and LightGBM's pred_contrib): per row, for\n"
    "                        each output, one value per feature then the bias, outputs x\n"
    "                        (features + 1) values that sum to the margin; tree models\n"
    "                        need a file converted with cover (lminfo: 'cover: yes')\n"
    "  --check EXPECTED.csv  compare every output with EXPECTED.csv (same shape; a header\n"
    "                        and pandas' index column are detected); print a parity line on\n"
    "                        stderr; exit 3 if any output differs by more than\n"
    "                        1e-6*max(1,|expected|) (--leaf: any id differs)\n"
    "  --header              the first line is a header (default: detected: a field that is\n"
    "                        neither a number nor a missing value makes it one)\n"
    "  --no-header           the first line is data\n"
    "  --index-col N|NAME    skip this column (N counted from 0, as pandas' index_col, or\n"
    "                        its header name); default: a first column with an empty\n"
    "                        header (pandas' to_csv index) is skipped, saying so\n"
    "  --delimiter C         field separator (default ','; 'tab' or '\\t' for a tab)\n"
    "  --format csv|libsvm   libsvm: 'label index:value ...' rows, indices from 0, absent\n"
    "                        features missing\n"
    "  --block-rows N        rows scored per library call (1 to 16777216, default 4096)\n"
    "  --threads N           threads scoring each block, this one included (0, the default:\n"
    "                        the CPUs this process may use: affinity, cpuset, CPU quota);\n"
    "                        small blocks stay on one thread; never changes the output\n"
    "  -h, --help            show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n"
    "CSV: fields separated by ',' (RFC 4180 quotes), parsed as doubles; missing values:\n"
    "empty, nan, NaN, NA. With a header, columns are matched to the model's feature names\n"
    "(lminfo MODEL.lm lists them) in any order; a missing or unexpected column is an error.\n"
    "\n" CLI_EXIT_HELP;

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
    cli_error(NULL, "%s", lm_csv_error(p->exp));
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
  int margin = 0, leaf = 0, contrib = 0;
  size_t block_rows = DEFAULT_BLOCK_ROWS;
  size_t threads = 0; /* 0: lm_cpus_allowed() */
  lm_csv_options co = {0};
  const char *header_opt = NULL;

  cli_init(PROG, usage_text);
  for (int i = 1, is_opt; (i = cli_next(argc, argv, i, &is_opt)) < argc; i++) {
    const char *a = argv[i], *v;
    if (!is_opt) {
      if (!model_path) model_path = a;
      else if (!input_path) input_path = a;
      else cli_usage("unexpected argument '%s'", a);
    } else if (cli_flag(argv, i, "--margin")) {
      margin = 1;
    } else if (cli_flag(argv, i, "--leaf")) {
      leaf = 1;
    } else if (cli_flag(argv, i, "--contrib")) {
      contrib = 1;
    } else if (cli_flag(argv, i, "--header") || cli_flag(argv, i, "--no-header")) {
      int h = a[2] == 'h' ? LM_CSV_HEADER_YES : LM_CSV_HEADER_NO;
      if (header_opt && co.header != h) cli_usage("--header and --no-header exclude each other");
      co.header = h;
      header_opt = a;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--check", "a file")) != NULL) {
      check_path = v;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--index-col", "a column")) != NULL) {
      co.index_col = v;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--delimiter", "a character")) != NULL) {
      if (!strcmp(v, "tab") || !strcmp(v, "\\t")) v = "\t";
      if (strlen(v) != 1 || strchr("\"\r\n", v[0]) || (v[0] >= '0' && v[0] <= '9') ||
          strchr(".+-eE", v[0]))
        cli_usage("--delimiter: not one character that cannot be part of a number or a quote: "
                  "'%s'", v);
      co.delimiter = v[0];
    } else if ((v = cli_value(argc, argv, &i, NULL, "--format", "csv or libsvm")) != NULL) {
      if (!strcmp(v, "csv")) co.format = LM_CSV_CSV;
      else if (!strcmp(v, "libsvm")) co.format = LM_CSV_LIBSVM;
      else cli_usage("--format: not csv or libsvm: '%s'", v);
    } else if ((v = cli_value(argc, argv, &i, NULL, "--block-rows", "a number")) != NULL) {
      block_rows = (size_t)cli_count("--block-rows", v, 1, 1u << 24);
    } else if ((v = cli_value(argc, argv, &i, NULL, "--threads", "a number")) != NULL) {
      threads = (size_t)cli_count("--threads", v, 0, 1024);
    } else {
      cli_usage("unknown option '%s'", a);
    }
  }
  if (!model_path) cli_usage("missing MODEL.lm");
  if (margin + leaf + contrib > 1)
    cli_usage("%s and %s exclude each other", margin ? "--margin" : "--leaf",
              contrib ? "--contrib" : "--leaf");
  if (co.format == LM_CSV_LIBSVM && (header_opt || co.index_col || co.delimiter))
    cli_usage("--format libsvm takes no %s", header_opt ? header_opt
                                              : co.index_col ? "--index-col" : "--delimiter");

  int status = CLI_EXIT_BAD;
  const char **names = NULL;
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
    cli_lib_error(model_path, NULL, rc);
    goto done;
  }
  unsigned flags = margin ? LM_PREDICT_MARGIN : 0u;
  size_t nf = lm_model_num_features(m);
  /* columns printed per row; the library's out buffer needs num_outputs per row (cap) */
  size_t nout = leaf      ? lm_model_num_trees(m)
                 : contrib ? lm_model_contrib_width(m)
                           : lm_model_output_width(m, flags);
  size_t cap = leaf || contrib ? nout : lm_model_num_outputs(m);
  if (leaf && nout == 0) {
    cli_error(model_path, "--leaf needs a tree model (this one has no trees)");
    goto done;
  }
  if (nf == 0 || nout == 0 || nout > cap) {
    cli_error(model_path, "model has %zu features and %zu outputs: nothing to score", nf,
              nout);
    goto done;
  }
  rc = lm_session_new(m, &s);
  if (rc < 0) {
    cli_lib_error(model_path, NULL, rc);
    goto done;
  }
  if (!leaf) {
    lm_pool_options po = {.threads = threads, .pin = LM_POOL_PIN_NODE, .numa = LM_POOL_NUMA_AUTO};
    rc = lm_pool_new(&po, &pool);
    if (rc < 0) {
      cli_lib_error(model_path, NULL, rc);
      goto done;
    }
  }

  if (input_path && strcmp(input_path, "-")) {
    in = fopen(input_path, "rb");
    if (!in) {
      cli_error(input_path, "%s", strerror(errno));
      goto done;
    }
  } else {
    in = stdin;
  }
  /* The model's feature names, for a header (all of them, or none). */
  names = malloc(nf * sizeof *names);
  if (!names) {
    cli_error(NULL, "out of memory");
    goto done;
  }
  int have_names = 1;
  for (size_t k = 0; k < nf; k++) have_names &= (names[k] = lm_model_feature_name(m, k)) != NULL;
  co.ncols = nf;
  co.names = have_names ? names : NULL;
  rd = lm_csv_open_opts(in, in_name, &co);
  if (!rd) {
    cli_error(NULL, "out of memory");
    goto done;
  }
  if (lm_csv_cols(rd) < 0) {
    cli_error(NULL, "%s", lm_csv_error(rd));
    goto done;
  }
  if (*lm_csv_note(rd)) cli_error(in_name, "%s", lm_csv_note(rd));
  if (!have_names && lm_csv_has_header(rd) == 1)
    cli_error(in_name, "header line skipped: the model has no feature names, columns taken in "
              "order");
  if (check_path) {
    ef = fopen(check_path, "rb");
    if (!ef) {
      cli_error(check_path, "%s", strerror(errno));
      goto done;
    }
    lm_csv_options eo = {.ncols = nout};
    par.exp = lm_csv_open_opts(ef, check_path, &eo);
    par.name = check_path;
    par.leaf = leaf;
    if (!par.exp) {
      cli_error(NULL, "out of memory");
      goto done;
    }
    if (lm_csv_cols(par.exp) < 0) {
      cli_error(NULL, "%s", lm_csv_error(par.exp));
      goto done;
    }
    if (*lm_csv_note(par.exp)) cli_error(check_path, "%s", lm_csv_note(par.exp));
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
    cli_error(NULL, "out of memory (%zu rows of %zu features)", block, nf);
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
        cli_error(NULL, "%s", lm_csv_error(rd));
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
    } else if (contrib) {
      rc = lm_predict_contrib_pool_f64(pool, s, x, n, out);
    } else {
      rc = lm_predict_pool_f64(pool, s, x, n, flags, out);
    }
    if (rc < 0) {
      fflush(stdout);
      char where[4096];
      snprintf(where, sizeof where, "%s:%zu-%zu", in_name, first_line, lm_csv_line(rd));
      cli_lib_error(where, NULL, rc);
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
    cli_error("<stdout>", "%s", strerror(errno));
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
          cli_error(NULL, "%s", lm_csv_error(par.exp));
          status = CLI_EXIT_BAD;
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
    if (par.rows_ok != total || in_rows != exp_rows) status = CLI_EXIT_CHECK;
  }

done:
  free(x);
  free(xf);
  free(out);
  free(leaves);
  free(erow);
  free(names);
  lm_csv_close(par.exp);
  lm_csv_close(rd);
  if (ef) fclose(ef);
  if (in && in != stdin) fclose(in);
  lm_pool_free(pool);
  lm_session_free(s);
  lm_model_close(m);
  return status;
}
