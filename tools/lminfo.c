/*
 * lminfo.c — say what a .lm model is, for people (aligned "label: value" lines) or machines
 * (--json: one JSON object).
 *
 *   lminfo MODEL.lm [--json] [--selftest] [--threads N [--numa off|auto|force]
 *          [--max-replica-bytes N]]
 *
 * Everything comes from the public API (lm_model_get_info, lm_model_feature_name/type). Each
 * field is emitted once through a small emitter that writes either form, so adding a field is
 * one line in print_model(). Strings are escaped for JSON (quotes,
 * backslashes, control characters, invalid UTF-8 as U+FFFD); non-finite numbers are null.
 * With --threads, a thread pool is made as lmscore and lmserve would make it and the model added
 * to it: the threads, allowed CPUs, NUMA nodes, replica memory (per node and in total, and any
 * replica max_replica_bytes denied), the measured time per row and wake-up, and the batch size
 * from which scoring is split are shown.
 * Exit status (tools/cli.h, the same for every tool): 0 success, 1 the model cannot be opened
 * (one line on stderr), 2 usage error, 3 the embedded self-test failed (--selftest; 4 before
 * the exit statuses of the tools were unified).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmrt.h"
#include "tools/cli.h"

#define PROG "lminfo"
#define TEXT_FEATURES_SHOWN 8
#define LABEL_WIDTH 20

static const char usage_text[] =
    "Usage: " PROG " MODEL.lm [--json] [--selftest] [--threads N [--numa MODE]\n"
    "              [--max-replica-bytes N]]\n"
    "Print what a .lm model is: source format and version, converter, booster, objective,\n"
    "link, trees (factors for a factorization machine), nodes, depth, features, outputs,\n"
    "base score, size, source hash and the\n"
    "scoring kernel planned for this CPU (LM_ISA=scalar|avx2|avx512 caps it).\n"
    "Source formats: xgboost-json, xgboost-ubj, xgboost-binary, xgboost-pickle,\n"
    "lightgbm-text, lightgbm-pickle, linear-learner, sklearn-pickle (objective\n"
    "sklearn:<estimator>.<method>: the scikit-learn method whose values it gives).\n"
    "\n"
    "Options:\n"
    "  --json       print one JSON object instead of text\n"
    "  --selftest   run the self-test embedded by lmconvert --selftest on this machine\n"
    "               and its planned kernel; exit 3 if it fails\n"
    "  --threads N  make a thread pool of N threads (0: the CPUs this process may use)\n"
    "               with the model, and show its placement, NUMA replica memory and the\n"
    "               measured batch size from which scoring is split\n"
    "  --numa MODE  with --threads: replicas off, auto (default: one per NUMA node with\n"
    "               threads, on multi-node machines) or force (even on one node)\n"
    "  --max-replica-bytes N  with --threads: bound on replica memory (0: none)\n"
    "  -h, --help   show this help and exit\n"
    "  --version    show the version and exit\n"
    "\n" CLI_EXIT_HELP
    "(Earlier builds of lminfo exited 4 on a failed self-test: test for a non-zero status,\n"
    "as deploy/ does, to accept both.)\n";

/* ---- emitter: text or JSON ------------------------------------------------------------ */

typedef struct emitter {
  FILE *f;
  int json;
  int n; /* fields written so far */
} emitter;

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  unsigned min;
  if ((c & 0xE0) == 0xC0) n = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000;
  else return 0;
  unsigned cp = c & (0x7F >> n);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

static void json_string(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    unsigned c = *p;
    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc((int)c, f);
      p++;
    } else if (c == '\n') {
      fputs("\\n", f), p++;
    } else if (c == '\t') {
      fputs("\\t", f), p++;
    } else if (c == '\r') {
      fputs("\\r", f), p++;
    } else if (c < 0x20 || c == 0x7F) {
      fprintf(f, "\\u%04x", c), p++;
    } else {
      size_t n = utf8_len(p);
      if (n == 0) {
        fputs("\\ufffd", f);
        p++;
      } else {
        fwrite(p, 1, n, f);
        p += n;
      }
    }
  }
  fputc('"', f);
}

/* Text form of a string: control characters shown as '?', NULL as "-". */
static void text_string(FILE *f, const char *s) {
  if (!s || !*s) {
    fputc('-', f);
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    fputc(*p < 0x20 || *p == 0x7F ? '?' : *p, f);
}

static void begin(emitter *e, const char *label, const char *key) {
  if (e->json) {
    fputs(e->n ? ",\n  " : "{\n  ", e->f);
    json_string(e->f, key);
    fputs(": ", e->f);
  } else {
    fprintf(e->f, "%s:%*s", label, (int)(LABEL_WIDTH - strlen(label)), "");
  }
  e->n++;
}

static void end_line(emitter *e) {
  if (!e->json) fputc('\n', e->f);
}

static void put_str(emitter *e, const char *label, const char *key, const char *v) {
  begin(e, label, key);
  if (e->json) json_string(e->f, v);
  else text_string(e->f, v);
  end_line(e);
}

static void put_uint(emitter *e, const char *label, const char *key, uint64_t v) {
  begin(e, label, key);
  fprintf(e->f, "%llu", (unsigned long long)v);
  end_line(e);
}

static void put_hex64(emitter *e, const char *label, const char *key, uint64_t v) {
  begin(e, label, key);
  fprintf(e->f, e->json ? "\"%016llx\"" : "%016llx", (unsigned long long)v);
  end_line(e);
}

static void put_float(emitter *e, const char *label, const char *key, double v) {
  begin(e, label, key);
  if (e->json && !isfinite(v)) fputs("null", e->f);
  else fprintf(e->f, "%.9g", v == 0 ? 0.0 : v); /* no "-0" */
  end_line(e);
}

static void finish(emitter *e) {
  if (e->json) fputs(e->n ? "\n}\n" : "{}\n", e->f);
}

/* Features: text shows the count with the numeric/categorical split and the first few names;
 * JSON gives the full name and type lists (names null when the model has none). */
static void put_features(emitter *e, const lm_model *m, size_t nf) {
  size_t ncat = 0;
  int have_names = 0;
  for (size_t i = 0; i < nf; i++) {
    if (lm_model_feature_type(m, i) == 'c') ncat++;
    if (lm_model_feature_name(m, i)) have_names = 1;
  }
  if (e->json) {
    put_uint(e, "features", "num_features", nf);
    begin(e, "feature names", "feature_names");
    if (!have_names) {
      fputs("null", e->f);
    } else {
      fputc('[', e->f);
      for (size_t i = 0; i < nf; i++) {
        if (i) fputs(", ", e->f);
        json_string(e->f, lm_model_feature_name(m, i));
      }
      fputc(']', e->f);
    }
    begin(e, "feature types", "feature_types");
    fputc('[', e->f);
    for (size_t i = 0; i < nf; i++) {
      char t = lm_model_feature_type(m, i);
      fprintf(e->f, "%s\"%c\"", i ? ", " : "", t == 'c' ? 'c' : 'q');
    }
    fputc(']', e->f);
    return;
  }
  begin(e, "features", "num_features");
  fprintf(e->f, "%zu (%zu numeric, %zu categorical)\n", nf, nf - ncat, ncat);
  if (!have_names) return;
  begin(e, "feature names", "feature_names");
  size_t shown = nf < TEXT_FEATURES_SHOWN ? nf : TEXT_FEATURES_SHOWN;
  for (size_t i = 0; i < shown; i++) {
    if (i) fputs(", ", e->f);
    text_string(e->f, lm_model_feature_name(m, i));
    fprintf(e->f, " (%c)", lm_model_feature_type(m, i) == 'c' ? 'c' : 'q');
  }
  if (nf > shown) fprintf(e->f, ", ... (%zu more)", nf - shown);
  fputc('\n', e->f);
}

/* The kernel of every batch size (lm_model_plan), and why faster kernels were not planned. */
static void put_plan(emitter *e, const lm_model *m) {
  lm_plan_band b[8];
  const char *notes = "";
  size_t n = lm_model_plan(m, b, 8, &notes);
  begin(e, "kernel plan", "plan");
  if (e->json) fputc('[', e->f);
  for (size_t i = 0; i < n; i++) {
    if (e->json) {
      fprintf(e->f, "%s{\"min_rows\": %zu, \"max_rows\": ", i ? ", " : "", b[i].min_rows);
      if (b[i].max_rows == SIZE_MAX) fputs("null", e->f);
      else fprintf(e->f, "%zu", b[i].max_rows);
      fputs(", \"kernel\": ", e->f);
      json_string(e->f, b[i].kernel);
      fputc('}', e->f);
    } else {
      fprintf(e->f, "%s%zu", i ? "; " : "", b[i].min_rows);
      if (b[i].max_rows == SIZE_MAX) fputs("+ rows", e->f);
      else if (b[i].max_rows == b[i].min_rows) fputs(" row", e->f);
      else fprintf(e->f, "-%zu rows", b[i].max_rows);
      fprintf(e->f, ": %s", b[i].kernel);
    }
  }
  if (e->json) {
    fputc(']', e->f);
    begin(e, "not planned", "plan_notes");
    json_string(e->f, notes);
  } else {
    fputc('\n', e->f);
    if (*notes) {
      begin(e, "not planned", "plan_notes");
      fprintf(e->f, "%s\n", notes);
    }
  }
}

/* Every field, in order: one put_* call per field (text label, JSON key, value). */
static void print_model(emitter *e, const char *path, const lm_model *m,
                        const lm_model_info *in) {
  char ver[32];
  snprintf(ver, sizeof ver, "%u.%u", in->format_major, in->format_minor);
  put_str(e, "file", "file", path);
  put_uint(e, "file size", "file_size", in->file_size);
  put_str(e, "format version", "format_version", ver);
  put_str(e, "source format", "source_format", in->source_format);
  put_str(e, "source version", "source_version", in->source_version);
  put_hex64(e, "source hash", "source_hash", in->source_hash);
  put_str(e, "converter", "converter", in->converter);
  put_str(e, "booster", "booster", in->booster);
  put_str(e, "objective", "objective", in->objective);
  put_str(e, "link", "link", in->link);
  put_uint(e, "trees", "num_trees", in->num_trees);
  if (in->num_factors) put_uint(e, "factors", "num_factors", in->num_factors);
  if (in->num_trees_trained != in->num_trees)
    put_uint(e, "trees trained", "num_trees_trained", in->num_trees_trained);
  if (in->best_iteration >= 0) put_uint(e, "best iteration", "best_iteration", (uint64_t)in->best_iteration);
  if (in->best_ntree_limit >= 0)
    put_uint(e, "best ntree limit", "best_ntree_limit", (uint64_t)in->best_ntree_limit);
  put_uint(e, "nodes", "num_nodes", in->num_nodes);
  put_uint(e, "max depth", "max_depth", in->max_depth);
  put_uint(e, "categorical splits", "num_categorical_splits", in->num_categorical_splits);
  if (in->num_trees)
    put_str(e, "cover", "cover",
            in->has_cover ? "yes" : "no (convert the model again for lm_predict_contrib)");
  put_features(e, m, in->num_features);
  put_uint(e, "outputs", "num_outputs", in->num_outputs);
  put_float(e, "base score", "base_score", in->base_score);
  put_float(e, "base margin", "base_margin", in->base_margin);
  put_str(e, "kernel", "kernel", in->kernel);
  put_plan(e, m);
  put_str(e, "link kernel", "link_kernel", in->link_kernel);
  put_str(e, "isa", "isa", in->isa);
}

/* The pool's view of the model (lminfo --threads). */
static int print_pool(emitter *e, const lm_model *m, size_t threads, int numa, size_t max_bytes) {
  lm_pool_options o = {.threads = threads, .pin = LM_POOL_PIN_NODE, .numa = numa, .max_replica_bytes = max_bytes};
  lm_pool *p;
  lm_pool_info pi;
  int rc = lm_pool_new(&o, &p);
  if (rc == 0) rc = lm_pool_add_model(p, m);
  if (rc == 0) rc = lm_pool_get_info(p, m, &pi);
  if (rc < 0) {
    lm_pool_free(p);
    return rc;
  }
  char buf[160];
  put_uint(e, "threads", "threads", pi.threads);
  put_uint(e, "cpus allowed", "cpus_allowed", pi.cpus_allowed);
  size_t off = 0;
  for (size_t k = 0; k < pi.threads && off < sizeof buf - 16; k++)
    off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%d", k ? "," : "", lm_pool_thread_cpu(p, k));
  put_str(e, "thread cpus", "thread_cpus", buf);
  put_uint(e, "numa nodes", "numa_nodes", (uint64_t)pi.nodes);
  put_uint(e, "nodes used", "numa_nodes_used", (uint64_t)pi.nodes_used);
  put_uint(e, "replica bytes/node", "replica_bytes_per_node", pi.replica_bytes);
  put_uint(e, "replicas", "replicas", (uint64_t)pi.replicas);
  put_uint(e, "replicas skipped", "replicas_skipped", (uint64_t)pi.replicas_skipped);
  put_uint(e, "replica bytes", "replica_bytes_total", pi.pool_replica_bytes);
  put_float(e, "ns per row", "ns_per_row", pi.ns_per_row);
  put_float(e, "wake-up ns", "wake_ns", pi.wake_ns);
  put_uint(e, "parallel from rows", "min_parallel_rows", pi.min_parallel_rows);
  lm_pool_free(p);
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  int json = 0, selftest = 0;
  long long threads = -1, max_replica = 0;
  int numa = LM_POOL_NUMA_AUTO;
  cli_init(PROG, usage_text);
  for (int i = 1, is_opt; (i = cli_next(argc, argv, i, &is_opt)) < argc; i++) {
    const char *a = argv[i], *v;
    if (!is_opt) {
      if (!path) path = a;
      else cli_usage("unexpected argument '%s'", a);
    } else if (cli_flag(argv, i, "--json")) {
      json = 1;
    } else if (cli_flag(argv, i, "--selftest")) {
      selftest = 1;
    } else if ((v = cli_value(argc, argv, &i, NULL, "--threads", "a number")) != NULL) {
      threads = (long long)cli_count("--threads", v, 0, 1024);
    } else if ((v = cli_value(argc, argv, &i, NULL, "--max-replica-bytes", "a number")) != NULL) {
      max_replica = (long long)cli_count("--max-replica-bytes", v, 0, (1ull << 62));
    } else if ((v = cli_value(argc, argv, &i, NULL, "--numa", "off, auto or force")) != NULL) {
      if (!strcmp(v, "off")) numa = LM_POOL_NUMA_OFF;
      else if (!strcmp(v, "auto")) numa = LM_POOL_NUMA_AUTO;
      else if (!strcmp(v, "force")) numa = LM_POOL_NUMA_FORCE;
      else cli_usage("--numa: not off, auto or force: '%s'", v);
    } else {
      cli_usage("unknown option '%s'", a);
    }
  }
  if (!path) cli_usage("missing MODEL.lm");

  lm_model *m = NULL;
  lm_model_info info;
  int rc = lm_model_open(path, &m);
  if (rc == 0) rc = lm_model_get_info(m, &info);
  if (rc < 0) {
    cli_lib_error(path, NULL, rc);
    lm_model_close(m);
    return CLI_EXIT_BAD;
  }
  emitter e = {.f = stdout, .json = json};
  print_model(&e, path, m, &info);
  if (threads >= 0) {
    rc = print_pool(&e, m, (size_t)threads, numa, (size_t)max_replica);
    if (rc < 0) {
      finish(&e);
      cli_error(path, "thread pool: %s", lm_last_error());
      lm_model_close(m);
      return CLI_EXIT_BAD;
    }
  }
  int st = 0;
  if (selftest) {
    /* Run the embedded self-test with the kernels planned on this machine. */
    char res[160];
    st = lm_model_selftest(m);
    if (st > 0) snprintf(res, sizeof res, "passed (%d rows, kernel %s)", st, info.kernel);
    else if (st == 0) snprintf(res, sizeof res, "none embedded (lmconvert --selftest)");
    else snprintf(res, sizeof res, "FAILED");
    put_str(&e, "self-test", "selftest", res);
  }
  finish(&e);
  if (st < 0) cli_lib_error(path, NULL, st);
  lm_model_close(m);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    cli_error("<stdout>", "%s", strerror(errno));
    return CLI_EXIT_BAD;
  }
  return st < 0 ? CLI_EXIT_CHECK : CLI_EXIT_OK;
}
