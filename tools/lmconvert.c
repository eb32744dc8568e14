/*
 * lmconvert.c — convert a trained model artifact into a .lm file from the command line.
 *
 *   lmconvert INPUT -o OUT.lm [--member NAME] [--all-trees] [--selftest ROWS[,EXPECTED]]
 *             [--progress] [-q]
 *
 * INPUT is what SageMaker leaves (model.tar.gz, a .tar, the model directory) or a raw model
 * file; lm_convert sniffs the format, writes OUT.lm under a temporary name and renames it at the
 * end, so a failed conversion leaves nothing behind and never replaces an existing OUT.lm. The
 * written file is then opened (read, verified and planned like any reader would, the plan
 * capped at the scalar kernels to save memory) and, unless --quiet,
 * summarised in one line on stderr, which says so when trees were dropped because the model's
 * best_ntree_limit / best_iteration says SageMaker's endpoint would not use them
 * (formats/import/sniff.c): "kept 4 of 9 trees (best_iteration 3; --all-trees keeps every
 * tree)". --selftest rows are read by the same CSV rules as lmscore's (tools/csv.h): when ROWS
 * has a header its columns are matched to the model's feature names, which are known only
 * after an import, so the model is first converted into a scratch directory to learn them.
 * Conversions that take over a second show progress on stderr (on a terminal, or with
 * --progress; never with -q), and the summary line ends with the elapsed time.
 * Nothing is ever printed on stdout except --help and --version.
 * Exit status (tools/cli.h): 0 success, 1 conversion failed (one line on stderr naming the
 * file), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lmrt.h"
#include "tools/cli.h"
#include "tools/csv.h"

#define PROG "lmconvert"

static const char usage_text[] =
    "Usage: " PROG " INPUT -o OUT.lm [options]\n"
    "Convert a trained model (model.tar.gz, .tar, a model directory or a raw model\n"
    "file; the format is detected) into a .lm file.\n"
    "\n"
    "Sources:\n"
    "  XGBoost         JSON (1.x-3.x), UBJSON, legacy binary, a pickled Booster\n"
    "  LightGBM        model text (v2-v4)\n"
    "  Linear Learner  SageMaker's model_algo-1 (MXNet parameters)\n"
    "  pickle/joblib   pickle.dump (protocols 0-5) and joblib.dump (raw, zlib, gzip,\n"
    "                  bz2, xz, lzma, lz4) of these classes, never executed:\n"
    "    xgboost       Booster, XGBClassifier, XGBRegressor, XGBRF*, XGBRanker\n"
    "    lightgbm      Booster, LGBMClassifier, LGBMRegressor, LGBMRanker\n"
    "    sklearn       DecisionTree*, ExtraTree*, RandomForest*, ExtraTrees*,\n"
    "                  GradientBoosting*, HistGradientBoosting*, IsolationForest;\n"
    "                  LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor,\n"
    "                  LinearSVR, LogisticRegression, SGDClassifier, LinearSVC;\n"
    "                  a Pipeline of StandardScaler/MinMaxScaler/MaxAbsScaler steps\n"
    "                  and one of those\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT.lm   the file to write (replaced only when the conversion succeeds)\n"
    "  --member NAME         the archive member or directory entry holding the\n"
    "                        model (default: xgboost-model, or the archive's only\n"
    "                        file; in a directory the first file in sorted order)\n"
    "  --all-trees           keep every tree (default: only the boosting rounds\n"
    "                        SageMaker's endpoint scores with: best_ntree_limit for\n"
    "                        XGBoost 1.x models, best_iteration + 1 for 2.x, 3.x; the\n"
    "                        summary line says how many trees were kept; plain\n"
    "                        bst.predict() of XGBoost 1.x uses every tree)\n"
    "  --selftest ROWS.csv[,EXPECTED.csv]\n"
    "                        embed a self-test: these rows (read as lmscore reads them:\n"
    "                        a header matched to the feature names, pandas' index column\n"
    "                        skipped) and the values they must produce (EXPECTED.csv,\n"
    "                        e.g. the trainer's predictions; by default computed now with\n"
    "                        the reference kernels); checked on the serving machine by\n"
    "                        lminfo --selftest and by lmserve; when the model does not\n"
    "                        reproduce EXPECTED.csv nothing is written (exit status 3)\n"
    "  --max-input-bytes N   largest model accepted (the raw file or the archive member;\n"
    "                        an archive's members may add up to twice it); default\n"
    "                        1073741824 (1 GiB); an input whose first 64 KiB can start\n"
    "                        no model is refused then, not after reading it whole\n"
    "  --progress            progress on stderr from the start, a line a second, even\n"
    "                        when it is not a terminal (by default progress shows on a\n"
    "                        terminal after a second: trees read, bytes, elapsed)\n"
    "  -q, --quiet           print nothing on success (no progress either)\n"
    "  -h, --help            show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n" CLI_EXIT_HELP;

/* Open a file just written, as every reader does (read, verified, planned), with the plan capped
 * at the scalar kernels (LM_ISA=scalar for this open alone): the SIMD kernels' derived layouts,
 * which a server builds for itself, would cost about another half of the file here and make
 * this check the converter's peak memory (docs/lmconvert.md, "Memory"). */
static int open_written(const char *path, lm_model **m) {
  const char *isa = getenv("LM_ISA");
  char *saved = isa ? strdup(isa) : NULL;
  setenv("LM_ISA", "scalar", 1);
  int rc = lm_model_open(path, m);
  if (saved) setenv("LM_ISA", saved, 1);
  else unsetenv("LM_ISA");
  free(saved);
  return rc;
}

/* The model's feature names (all, or NULL) and count, by converting it into a scratch
 * directory: what a header of the self-test rows is matched against. 0, or -1 (printed). */
static int learn_names(const char *in, const lm_convert_options *base, char ***names,
                       size_t *nf) {
  const char *td = getenv("TMPDIR");
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/lmconvert.XXXXXX", td && *td ? td : "/tmp");
  if (!mkdtemp(dir)) {
    cli_error(dir, "cannot make a scratch directory: %s", strerror(errno));
    return -1;
  }
  snprintf(path, sizeof path, "%s/names.lm", dir);
  lm_convert_options o = {.member = base->member, .quiet = 1, .all_trees = base->all_trees,
                          .max_input_bytes = base->max_input_bytes};
  lm_model *m = NULL;
  int rc = lm_convert(in, path, &o);
  if (rc == 0) rc = open_written(path, &m);
  if (rc < 0) {
    cli_lib_error(in, path, rc);
    unlink(path);
    rmdir(dir);
    return -1;
  }
  *nf = lm_model_num_features(m);
  *names = calloc(*nf + 1, sizeof **names);
  int ok = *names != NULL, all = 1;
  for (size_t i = 0; ok && i < *nf; i++) {
    const char *s = lm_model_feature_name(m, i);
    if (!s) all = 0;
    else if (!((*names)[i] = strdup(s))) ok = 0;
  }
  lm_model_close(m);
  unlink(path);
  rmdir(dir);
  if (!ok) {
    cli_error(NULL, "out of memory");
    return -1;
  }
  if (!all) {
    for (size_t i = 0; i < *nf; i++) free((*names)[i]);
    free(*names);
    *names = NULL;
  }
  return 0;
}

/* ROWS.csv[,EXPECTED.csv] into opts (rows and expected values malloc'd). 0, or -1 (printed). */
static int read_selftest(const char *in, const char *spec_arg, int quiet, lm_convert_options *opts,
                         double **rows_out, float **exp_out) {
  char *spec = strdup(spec_arg), *comma = spec ? strchr(spec, ',') : NULL;
  char **names = NULL;
  size_t nf = 0, n = 0, cap = 0, ncols = 0, en = 0, ew = 0;
  double *rows = NULL, *exp = NULL;
  float *expf = NULL;
  FILE *f = NULL;
  lm_csv *r = NULL;
  int ok = 0;
  if (!spec) {
    cli_error(NULL, "out of memory");
    return -1;
  }
  if (comma) *comma++ = '\0';
  f = fopen(spec, "rb");
  if (!f) {
    cli_error(spec, "%s", strerror(errno));
    goto done;
  }
  r = lm_csv_open_opts(f, spec, NULL);
  if (!r) {
    cli_error(NULL, "out of memory");
    goto done;
  }
  int h = lm_csv_has_header(r);
  if (h == 1) {
    if (learn_names(in, opts, &names, &nf) < 0) goto done;
    lm_csv_set_names(r, (const char *const *)names, nf);
  }
  long c = h < 0 ? -1 : lm_csv_cols(r);
  if (c < 0) {
    cli_error(NULL, "%s", lm_csv_error(r));
    goto done;
  }
  if (!quiet && *lm_csv_note(r)) cli_error(spec, "%s", lm_csv_note(r));
  ncols = (size_t)c;
  for (;;) {
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      double *nr = realloc(rows, cap * (ncols ? ncols : 1) * sizeof *nr);
      if (!nr) {
        cli_error(spec, "out of memory");
        goto done;
      }
      rows = nr;
    }
    int rc = lm_csv_next(r, rows + n * ncols);
    if (rc < 0) {
      cli_error(NULL, "%s", lm_csv_error(r));
      goto done;
    }
    if (rc == 0) break;
    n++;
  }
  if (comma) {
    char err[800], note[512];
    if (lm_csv_read_path_opts(comma, NULL, &exp, &en, &ew, err, sizeof err, note,
                              sizeof note) != 0) {
      cli_error(NULL, "%s", err);
      goto done;
    }
    if (!quiet && *note) cli_error(comma, "%s", note);
    if (en != n) {
      cli_error(comma, "%zu rows, but %s has %zu", en, spec, n);
      goto done;
    }
    if (!(expf = malloc(sizeof *expf * (en * ew + 1)))) {
      cli_error(NULL, "out of memory");
      goto done;
    }
    for (size_t k = 0; k < en * ew; k++) expf[k] = (float)exp[k];
  }
  opts->selftest_rows = rows;
  opts->selftest_n = n;
  opts->selftest_features = ncols;
  opts->selftest_expected = expf;
  opts->selftest_width = ew;
  *rows_out = rows;
  *exp_out = expf;
  rows = NULL;
  expf = NULL;
  ok = 1;
done:
  if (names)
    for (size_t i = 0; i < nf; i++) free(names[i]);
  free(names);
  lm_csv_close(r);
  if (f) fclose(f);
  free(rows);
  free(exp);
  free(expf);
  free(spec);
  return ok ? 0 : -1;
}

/* ---- progress ---------------------------------------------------------------------------
 * On a terminal, once a conversion has run for a second: one line rewritten in place, 5 times
 * a second. With --progress (a terminal or not): from the start, a line a second. Never under
 * -q. */
typedef struct progress {
  struct timespec t0;
  double last;
  int tty, force, shown; /* tty: stderr is a terminal (then lines are rewritten in place) */
  int reading;            /* the last call had a tree count (pass 2) */
} progress;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(void *ctx, unsigned long long trees, unsigned long long total,
                        unsigned long long bytes, unsigned long long bytes_total) {
  progress *p = ctx;
  double t = since(&p->t0);
  /* a phase's first line (scanning, then reading trees) and the last tree are never skipped */
  int edge = (total != 0) != p->reading || (total && trees == total);
  p->reading = total != 0;
  if (p->force) { /* from the start, one line a second (and every edge) */
    if (p->shown && t - p->last < 1.0 && !edge) return;
  } else if (!p->tty || t < 1.0 || (t - p->last < 0.2 && !edge)) {
    return;
  }
  p->last = t;
  p->shown = 1;
  char what[64];
  if (total) snprintf(what, sizeof what, "reading trees %llu/%llu", trees, total);
  else snprintf(what, sizeof what, "scanning");
  fprintf(stderr, "%s%s: %s, %.1f/%.1f MB, %.1f s%s", p->tty ? "\r" : "", PROG, what,
          (double)bytes / 1e6, (double)bytes_total / 1e6, t, p->tty ? "\033[K" : "\n");
  fflush(stderr);
}

int main(int argc, char **argv) {
  const char *in = NULL, *outp = NULL, *member = NULL, *selftest = NULL;
  int quiet = 0, all_trees = 0, force_progress = 0;
  unsigned long long max_input = 0;

  cli_init(PROG, usage_text);
  for (int i = 1, is_opt; (i = cli_next(argc, argv, i, &is_opt)) < argc; i++) {
    const char *a = argv[i], *v;
    if (!is_opt) {
      if (!in) in = a;
      else cli_usage("unexpected argument '%s'", a);
    } else if (!strcmp(a, "-q") || cli_flag(argv, i, "--quiet")) {
      quiet = 1;
    } else if (cli_flag(argv, i, "--progress")) {
      force_progress = 1;
    } else if (cli_flag(argv, i, "--all-trees")) {
      all_trees = 1;
    } else if ((v = cli_value(argc, argv, &i, "-o", "--output", "a file name")) != NULL) {
      outp = v;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--selftest", "ROWS.csv[,EXPECTED.csv]"))) {
      selftest = v;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--member", "a member name")) != NULL) {
      member = v;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--max-input-bytes", "a byte count"))) {
      max_input = cli_count("--max-input-bytes", v, 1024, 1ull << 40);
    } else {
      cli_usage("unknown option '%s'", a);
    }
  }
  if (!in) cli_usage("missing INPUT");
  if (!outp) cli_usage("missing -o OUT.lm");

  lm_convert_options opts = {.member = member, .quiet = quiet, .all_trees = all_trees,
                             .max_input_bytes = max_input};
  progress prog = {.tty = isatty(STDERR_FILENO), .force = force_progress};
  if (prog.force) prog.tty = 0; /* forced: whole lines, also on a terminal */
  clock_gettime(CLOCK_MONOTONIC, &prog.t0);
  if (!quiet) {
    opts.progress = on_progress;
    opts.progress_ctx = &prog;
  }
  double *rows = NULL;
  float *expf32 = NULL;
  if (selftest && read_selftest(in, selftest, quiet, &opts, &rows, &expf32) < 0)
    return CLI_EXIT_BAD;
  int rc = lm_convert(in, outp, &opts);
  free(rows), free(expf32);
  if (prog.shown && prog.tty) fputs("\r\033[K", stderr); /* the summary replaces the line */
  if (rc < 0) {
    cli_lib_error(in, outp, rc);
    return rc == LM_ESELFTEST ? CLI_EXIT_CHECK : CLI_EXIT_BAD;
  }

  /* Check the written file the way every reader will, and summarise it. */
  lm_model *m = NULL;
  rc = open_written(outp, &m);
  lm_model_info info;
  if (rc == 0) rc = lm_model_get_info(m, &info);
  if (rc < 0) {
    cli_lib_error(outp, NULL, rc);
    cli_error(outp, "the written file does not verify; removed");
    lm_model_close(m);
    unlink(outp);
    return CLI_EXIT_BAD;
  }
  if (!quiet) {
    /* One line; when trees were dropped it says how many and why, so that nobody compares it
     * with a plain bst.predict() of every tree unwarned. Which attribute decided follows the
     * source version, as in sniff.c lm__ir_keep_best. */
    char kept[200] = "";
    if (info.num_trees_trained > info.num_trees) {
      long major = strtol(info.source_version ? info.source_version : "", NULL, 10);
      if (major >= 2 || info.best_ntree_limit < 0)
        snprintf(kept, sizeof kept, "; kept %u of %u trees (best_iteration %lld; --all-trees "
                 "keeps every tree)", info.num_trees, info.num_trees_trained,
                 (long long)info.best_iteration);
      else
        snprintf(kept, sizeof kept, "; kept %u of %u trees (best_ntree_limit %lld; --all-trees "
                 "keeps every tree)", info.num_trees, info.num_trees_trained,
                 (long long)info.best_ntree_limit);
    }
    fprintf(stderr,
            "wrote %s: %s %s, %u tree%s, %u feature%s, %u output%s, %llu bytes in %.2f s%s\n",
            outp, info.booster ? info.booster : "?", info.objective ? info.objective : "?",
            info.num_trees, info.num_trees == 1 ? "" : "s", info.num_features,
            info.num_features == 1 ? "" : "s", info.num_outputs,
            info.num_outputs == 1 ? "" : "s", (unsigned long long)info.file_size,
            since(&prog.t0), kept);
  }
  lm_model_close(m);
  return CLI_EXIT_OK;
}
