/*
 * lmconvert.c — convert a trained model artifact into a .lm file from the command line.
 *
 *   lmconvert INPUT -o OUT.lm [--member NAME] [--all-trees] [--selftest ROWS[,EXPECTED]] [-q]
 *
 * INPUT is what SageMaker leaves (model.tar.gz, a .tar, the model directory) or a raw model
 * file; lm_convert sniffs the format, writes OUT.lm under a temporary name and renames it at the
 * end, so a failed conversion leaves nothing behind and never replaces an existing OUT.lm. The
 * written file is then opened (mapped and verified like any reader would) and, unless --quiet,
 * summarised in one line on stderr — plus one more line when trees were dropped because the
 * model's best_ntree_limit / best_iteration says SageMaker's endpoint would not use them
 * (formats/import/sniff.c); --all-trees keeps every tree. Nothing is ever printed on stdout
 * except --help and --version.
 * Exit status: 0 success, 1 conversion failed (one line on stderr naming the file), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmrt.h"
#include "tools/csv.h"

#define PROG "lmconvert"

static const char usage_text[] =
    "Usage: " PROG " INPUT -o OUT.lm [options]\n"
    "Convert a trained model (model.tar.gz, .tar, a model directory or a raw model\n"
    "file; XGBoost JSON, UBJSON, legacy binary or pickle, detected) into a .lm file.\n"
    "\n"
    "Options:\n"
    "  -o, --output OUT.lm   the file to write (replaced only when the conversion succeeds)\n"
    "  --member NAME         the archive member or directory entry holding the\n"
    "                        model (default: xgboost-model, or the archive's only\n"
    "                        file; in a directory the first file in sorted order)\n"
    "  --all-trees           keep every tree (default: only the boosting rounds\n"
    "                        SageMaker's endpoint scores with: best_ntree_limit for\n"
    "                        XGBoost 1.x models, best_iteration + 1 for 2.x, 3.x)\n"
    "  --selftest ROWS.csv[,EXPECTED.csv]\n"
    "                        embed a self-test: these rows and the values they must\n"
    "                        produce (EXPECTED.csv, e.g. the trainer's predictions; by\n"
    "                        default computed now with the reference kernels); checked\n"
    "                        on the serving machine by lminfo --selftest\n"
    "  -q, --quiet           print nothing on success\n"
    "  -h, --help            show this help and exit\n"
    "  --version             show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 conversion failed, 2 usage error.\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, PROG ": ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
  return 2;
}

/* s on stderr with line breaks flattened, so that an error stays one line. */
static void put_flat(const char *s) {
  for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, stderr);
}

/* One line: the library's detail, prefixed with `file` unless it names `file` or `other`
 * already (an error about the output names the output). */
static void lib_error(const char *file, const char *other, int rc) {
  const char *d = lm_last_error();
  fputs(PROG ": ", stderr);
  if (!d || !*d) d = lm_strerror(rc);
  else if (strstr(d, file) || (other && strstr(d, other))) file = NULL;
  if (file) fprintf(stderr, "%s: ", file);
  put_flat(d);
  fputc('\n', stderr);
}

/* Value of an option given as "-o X", "-oX", "--output X" or "--output=X"; NULL if not this
 * option. *i advances past a separate value; *missing is set if the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *shrt, const char *lng,
                             int *missing) {
  const char *a = argv[*i];
  size_t ln = strlen(lng);
  if ((shrt && !strcmp(a, shrt)) || !strcmp(a, lng)) {
    if (*i + 1 >= argc) {
      *missing = 1;
      return a;
    }
    return argv[++*i];
  }
  if (!strncmp(a, lng, ln) && a[ln] == '=') return a + ln + 1;
  if (shrt && !strncmp(a, shrt, 2) && a[2] != '\0' && a[1] != '-') return a + 2;
  return NULL;
}

int main(int argc, char **argv) {
  const char *in = NULL, *outp = NULL, *member = NULL, *selftest = NULL;
  int quiet = 0, all_trees = 0, no_more_opts = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    int missing = 0;
    if (!no_more_opts && a[0] == '-' && a[1] != '\0') {
      if (!strcmp(a, "--")) {
        no_more_opts = 1;
      } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        fputs(usage_text, stdout);
        return 0;
      } else if (!strcmp(a, "--version")) {
        printf(PROG " %s\n", LM_VERSION_STRING);
        return 0;
      } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        quiet = 1;
      } else if (!strcmp(a, "--all-trees")) {
        all_trees = 1;
      } else if ((v = opt_value(argc, argv, &i, "-o", "--output", &missing)) != NULL) {
        if (missing || !*v) return usage_error("option '%s' needs a file name", a);
        outp = v;
      } else if ((v = opt_value(argc, argv, &i, NULL, "--selftest", &missing)) != NULL) {
        if (missing || !*v) return usage_error("option '%s' needs ROWS.csv[,EXPECTED.csv]", a);
        selftest = v;
      } else if ((v = opt_value(argc, argv, &i, NULL, "--member", &missing)) != NULL) {
        if (missing || !*v) return usage_error("option '%s' needs a member name", a);
        member = v;
      } else {
        return usage_error("unknown option '%s'", a);
      }
    } else if (!in) {
      in = a;
    } else {
      return usage_error("unexpected argument '%s'", a);
    }
  }
  if (!in) return usage_error("%s", "missing INPUT");
  if (!outp) return usage_error("%s", "missing -o OUT.lm");

  lm_convert_options opts = {.member = member, .quiet = quiet, .all_trees = all_trees};
  double *rows = NULL, *exp = NULL;
  float *expf32 = NULL;
  if (selftest) {
    /* ROWS.csv[,EXPECTED.csv]: both read whole (a self-test is small) */
    char *spec = strdup(selftest), *comma = spec ? strchr(spec, ',') : NULL, err[600];
    size_t n, f, en = 0, ew = 0;
    if (comma) *comma++ = '\0';
    int bad = !spec || lm_csv_read_path(spec, &rows, &n, &f, err, sizeof err) != 0;
    if (!bad && comma) bad = lm_csv_read_path(comma, &exp, &en, &ew, err, sizeof err) != 0;
    if (!bad && comma && en != n) {
      snprintf(err, sizeof err, "%s: %zu rows, but %s has %zu", comma, en, spec, n);
      bad = 1;
    }
    if (!bad && exp && (expf32 = malloc(sizeof *expf32 * (en * ew + 1))) != NULL)
      for (size_t k = 0; k < en * ew; k++) expf32[k] = (float)exp[k];
    free(spec);
    if (bad) {
      fprintf(stderr, PROG ": --selftest: %s\n", spec ? err : "out of memory");
      free(rows), free(exp), free(expf32);
      return 1;
    }
    opts.selftest_rows = rows;
    opts.selftest_n = n;
    opts.selftest_features = f;
    opts.selftest_expected = expf32;
    opts.selftest_width = ew;
  }
  int rc = lm_convert(in, outp, &opts);
  free(rows), free(exp), free(expf32);
  if (rc < 0) {
    lib_error(in, outp, rc);
    return 1;
  }

  /* Check the written file the way every reader will, and summarise it. */
  lm_model *m = NULL;
  rc = lm_model_open(outp, &m);
  lm_model_info info;
  if (rc == 0) rc = lm_model_get_info(m, &info);
  if (rc < 0) {
    lib_error(outp, NULL, rc);
    fprintf(stderr, PROG ": %s: the written file does not verify; removed\n", outp);
    lm_model_close(m);
    unlink(outp);
    return 1;
  }
  if (!quiet)
    fprintf(stderr,
            "wrote %s: %s %s, %u tree%s, %u feature%s, %u output%s, %llu bytes\n", outp,
            info.booster ? info.booster : "?", info.objective ? info.objective : "?",
            info.num_trees, info.num_trees == 1 ? "" : "s", info.num_features,
            info.num_features == 1 ? "" : "s", info.num_outputs,
            info.num_outputs == 1 ? "" : "s", (unsigned long long)info.file_size);
  if (!quiet && info.num_trees_trained > info.num_trees) {
    /* Which attribute decided it follows the source version, as in sniff.c lm__ir_keep_best. */
    long major = strtol(info.source_version ? info.source_version : "", NULL, 10);
    if (major >= 2)
      fprintf(stderr, "kept %u of %u trees (best_iteration=%lld; --all-trees keeps all)\n",
              info.num_trees, info.num_trees_trained, (long long)info.best_iteration);
    else
      fprintf(stderr, "kept %u of %u trees (best_ntree_limit=%lld; --all-trees keeps all)\n",
              info.num_trees, info.num_trees_trained, (long long)info.best_ntree_limit);
  }
  lm_model_close(m);
  return 0;
}
