/*
 * test_convert_memory.c — lmconvert in bounded memory (issue 23, docs/lmconvert.md "Memory and
 * progress"): a generated XGBoost 1.7 model of about 28 MB of JSON (500 trees of depth up to 10,
 * tests/gen_big_model.py) and the same model as UBJSON are converted by lmconvert in a child
 * process whose peak resident memory (wait4's ru_maxrss) must stay within the stated rule,
 *
 *     peak <= MEM_A x .lm size + MEM_B MiB,
 *
 * and the files written must be byte for byte what the whole-document reader (one json-c DOM of
 * the document, as lmconvert read every model before) and the plain writer give. Then progress:
 * --progress shows it on a stderr that is no terminal, -q silences it, and without either a
 * non-terminal stderr gets the summary line alone.
 * Then every XGBoost JSON and UBJSON fixture goes through lm_convert, whose writer takes the trees
 * as they are read (lm_ir_sink), and through the plain path: the same bytes, or the same error.
 * Under a sanitizer (make check-san) the memory bound is not checked: the shadow memory is
 * counted as resident.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <xxhash.h>

#include "formats/import/import.h"
#include "formats/import/xgboost_json.h"
#include "formats/lmf_write.h"
#include "lmrt.h"

static char TU_TMPDIR_BUF[] = "/tmp/lm_mem_XXXXXX";
#define TU_TMPDIR TU_TMPDIR_BUF
#include "tests/util.h"

/* The rule (docs/lmconvert.md): peak resident <= MEM_A x the .lm file + MEM_B MiB. */
#define MEM_A 1.25
#define MEM_B 24.0
#define TREES "500"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static const char *bin_dir, *src_dir;

typedef struct run {
  int status;
  long maxrss_kb;
  char *err; /* stderr */
} run;

/* Run argv[0] from bin_dir with stderr to a file; the exit status and peak resident memory. */
static run run_tool(const char *const *argv) {
  run r = {0};
  const char *errp = tu_path(TU_TMPDIR, "stderr.txt");
  char prog[1200];
  snprintf(prog, sizeof prog, "%s/%s", bin_dir, argv[0]);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int nul = open("/dev/null", O_RDWR);
    if (fd < 0 || nul < 0) _exit(127);
    dup2(nul, 0), dup2(nul, 1), dup2(fd, 2);
    execv(prog, (char *const *)argv);
    _exit(127);
  }
  int st;
  struct rusage ru;
  assert_int_equal(wait4(pid, &st, 0, &ru), pid);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  r.maxrss_kb = ru.ru_maxrss;
  size_t n;
  r.err = tu_read_file(errp, &n);
  return r;
}

static int gen(const char *out) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/gen_big_model.py %s --trees " TREES
           " --depth 10 --nodes 975 --seed 7", src_dir, out);
  return system(cmd);
}

/* The conversions whose memory is measured, made first: a child's ru_maxrss counts what the
 * forked test process had resident until the exec, so this process must still be small. */
static run conv[2];

static int setup(void **state) {
  (void)state;
  bin_dir = tu_env_or("LM_BIN", "build/bin");
  src_dir = tu_env_or("LM_SRC", ".");
  if (tu_mkdtemp(TU_TMPDIR)) return -1;
  if (gen(tu_path(TU_TMPDIR, "m.json")) || gen(tu_path(TU_TMPDIR, "m.ubj"))) return -1;
  static const char *const models[2] = {"m.json", "m.ubj"}, *const outs[2] = {"json.lm", "ubj.lm"};
  for (int i = 0; i < 2; i++) {
    char in[1200], out[1200];
    snprintf(in, sizeof in, "%s", tu_path(TU_TMPDIR, models[i]));
    snprintf(out, sizeof out, "%s", tu_path(TU_TMPDIR, outs[i]));
    conv[i] = run_tool((const char *[]){"lmconvert", in, "-o", out, NULL});
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return tu_rmtree(TU_TMPDIR);
}

/* The .lm file the whole-document reader and the plain writer make of in (what lmconvert wrote
 * before the streaming readers), compared with got. */
static void same_as_whole_document(const char *in, int ubj, const char *got_path) {
  size_t len, glen;
  char *data = tu_read_file(in, &len), *got = tu_read_file(got_path, &glen);
  lm_ir_model *ir = NULL;
  int rc;
  if (ubj) {
    json_object *root = NULL;
    rc = lm__xgboost_ubj_parse((const uint8_t *)data, len, in, NULL, &root);
    if (rc == 0) rc = lm__xgboost_dom_import(root, in, "xgboost-ubj", &ir);
    json_object_put(root);
  } else {
    rc = lm__import_xgboost_json_whole((const uint8_t *)data, len, in, &ir);
  }
  if (rc) fail_msg("whole-document reader: %d %s", rc, lm_last_error());
  assert_non_null(ir);
  lm__ir_keep_best(ir);
  ir->source_hash = XXH64(data, len, 0);
  uint8_t *img = NULL;
  size_t ilen = 0;
  rc = lm__lmf_write(ir, "lmconvert " LM_VERSION_STRING, &img, &ilen);
  tu_expect_ok(rc, img);
  assert_int_equal(ilen, glen);
  assert_memory_equal(img, got, glen);
  free(img);
  lm_ir_free(ir);
  free(data);
  free(got);
}

static void bounded(const char *model, int ubj) {
  const char *in = tu_path(TU_TMPDIR, model), *out = tu_path(TU_TMPDIR, ubj ? "ubj.lm" : "json.lm");
  run r = conv[ubj];
  if (r.status != 0) fail_msg("lmconvert %s: %s", in, r.err);
  struct stat si, so;
  assert_int_equal(stat(in, &si), 0);
  assert_int_equal(stat(out, &so), 0);
  double lm_mib = (double)so.st_size / 1048576.0, peak = (double)r.maxrss_kb / 1024.0;
  double bound = MEM_A * lm_mib + MEM_B;
  print_message("%s: %.1f MiB in, .lm %.1f MiB, peak resident %.1f MiB, bound %.1f MiB\n", model,
                (double)si.st_size / 1048576.0, lm_mib, peak, bound);
#ifndef UNDER_SANITIZER
  if (peak > bound)
    fail_msg("%s: peak resident %.1f MiB > %.1f x %.1f MiB + %.0f MiB", model, peak, MEM_A, lm_mib,
             MEM_B);
#endif
  same_as_whole_document(in, ubj, out);
}

static void test_json_bounded(void **state) {
  (void)state;
  bounded("m.json", 0);
}

static void test_ubjson_bounded(void **state) {
  (void)state;
  bounded("m.ubj", 1);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

static void test_progress(void **state) {
  (void)state;
  free(conv[0].err), free(conv[1].err);
  const char *in = tu_path(TU_TMPDIR, "m.json"), *out = tu_path(TU_TMPDIR, "p.lm");
  /* forced: progress lines on a stderr that is a file, then the summary with the time */
  run r = run_tool((const char *[]){"lmconvert", in, "-o", out, "--progress", NULL});
  assert_int_equal(r.status, 0);
  if (!strstr(r.err, "lmconvert: reading trees ") || !strstr(r.err, "/" TREES ", "))
    fail_msg("no progress with --progress: %s", r.err);
  const char *last = strstr(r.err, "wrote ");
  assert_non_null(last);
  assert_non_null(strstr(last, " bytes in "));
  assert_int_equal(count_lines(last), 1);
  free(r.err);
  /* -q wins */
  r = run_tool((const char *[]){"lmconvert", in, "-o", out, "-q", "--progress", NULL});
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  free(r.err);
  /* not a terminal, not forced: the summary line alone */
  r = run_tool((const char *[]){"lmconvert", in, "-o", out, NULL});
  assert_int_equal(r.status, 0);
  assert_int_equal(count_lines(r.err), 1);
  assert_int_equal(strncmp(r.err, "wrote ", 6), 0);
  free(r.err);
}

/* lm_convert (whose XGBoost JSON and UBJSON trees go to the writer as they are read, through
 * its lm_ir_sink) against the plain path (lm__import_any, then lm__lmf_write of the whole IR) on
 * one input: the same bytes, or the same error. Returns 1 when the input is a model. */
static int same_as_plain(const char *in, int all_trees) {
  lm_convert_options o = {.quiet = 1, .all_trees = all_trees};
  lm_ir_model *ir = NULL;
  if (lm__import_any(in, &o, &ir) != 0) return 0;
  int tree_json = strncmp(ir->source_format, "xgboost-json", 12) == 0 ||
                  strncmp(ir->source_format, "xgboost-ubj", 11) == 0;
  uint8_t *img = NULL;
  size_t ilen = 0;
  int rcw = lm__lmf_write(ir, "lmconvert " LM_VERSION_STRING, &img, &ilen);
  char werr[1024];
  snprintf(werr, sizeof werr, "%s", lm_last_error());
  lm_ir_free(ir);
  const char *out = tu_path(TU_TMPDIR, "plain.lm");
  unlink(out);
  int rcc = lm_convert(in, out, &o);
  if (rcw != 0) {
    if (rcc != rcw) fail_msg("%s: lm_convert %d (%s), the plain writer %d (%s)", in, rcc,
                             lm_last_error(), rcw, werr);
    const char *cerr = lm_last_error();
    size_t cl = strlen(cerr), wl = strlen(werr);
    if (cl < wl || strcmp(cerr + cl - wl, werr) != 0)
      fail_msg("%s: lm_convert says \"%s\", the plain writer \"%s\"", in, cerr, werr);
    return tree_json;
  }
  if (rcc != 0) fail_msg("%s: lm_convert: %s", in, lm_last_error());
  size_t glen;
  char *got = tu_read_file(out, &glen);
  if (glen != ilen || memcmp(got, img, ilen) != 0)
    fail_msg("%s (all_trees %d): lm_convert's file differs from the plain writer's", in, all_trees);
  free(got);
  free(img);
  return tree_json;
}

static int n_fixture_models;
static int fixture(const char *path, const struct stat *sb, int type, struct FTW *f) {
  (void)sb, (void)f;
  size_t l = strlen(path);
  if (type != FTW_F || strstr(path, "meta.json") ||
      !((l > 5 && strcmp(path + l - 5, ".json") == 0) || (l > 4 && strcmp(path + l - 4, ".ubj") == 0)))
    return 0;
  for (int all = 0; all < 2; all++) n_fixture_models += same_as_plain(path, all);
  return 0;
}

/* Every XGBoost JSON and UBJSON fixture (gbtree, dart, gblinear, categorical, multi-output,
 * vector leaves, 3.x intercepts, best_iteration truncation): byte for byte the plain writer's. */
static void test_sink_fixtures(void **state) {
  (void)state;
  static const char *const dirs[] = {"xgb", "xgb_formats", "xgboost-3"};
  for (int i = 0; i < 3; i++) {
    char d[1200];
    snprintf(d, sizeof d, "%s/tests/fixtures/%s", src_dir, dirs[i]);
    assert_int_equal(nftw(d, fixture, 16, FTW_PHYS), 0);
  }
  print_message("%d XGBoost JSON/UBJSON conversions compared with the plain writer\n",
                n_fixture_models);
  assert_true(n_fixture_models >= 40);
}

/* A tree the writer refuses (a numeric split on a NaN threshold, which the importer lets
 * through: categorical splits have NaN there), read through the sink: the same error as the
 * plain writer's, naming the first such tree; none when best_iteration drops that tree. */
static void test_sink_errors(void **state) {
  (void)state;
  char src[1200];
  snprintf(src, sizeof src, "%s/tests/fixtures/xgb/binary_logistic/model.json", src_dir);
  for (int c = 0; c < 3; c++) {
    json_object *root = json_object_from_file(src);
    assert_non_null(root);
    json_object *l, *gb, *m, *trees, *attrs;
    assert_true(json_object_object_get_ex(root, "learner", &l));
    assert_true(json_object_object_get_ex(l, "gradient_booster", &gb));
    assert_true(json_object_object_get_ex(gb, "model", &m));
    assert_true(json_object_object_get_ex(m, "trees", &trees));
    assert_true(json_object_object_get_ex(l, "attributes", &attrs));
    for (int t = 5; t <= 7; t += 2) { /* trees 5 and 7 */
      json_object *sc;
      assert_true(json_object_object_get_ex(json_object_array_get_idx(trees, (size_t)t),
                                            "split_conditions", &sc));
      json_object_array_put_idx(sc, 0, json_object_new_double(NAN));
    }
    /* c 0: every tree kept; 1: rounds up to tree 5's; 2: the first 3 trees */
    const char *bi = c == 0 ? "19" : c == 1 ? "5" : "2", *bl = c == 0 ? "20" : c == 1 ? "6" : "3";
    json_object_object_add(attrs, "best_iteration", json_object_new_string(bi));
    json_object_object_add(attrs, "best_ntree_limit", json_object_new_string(bl));
    const char *in = tu_path(TU_TMPDIR, "nan.json");
    assert_int_equal(json_object_to_file_ext(in, root, JSON_C_TO_STRING_PLAIN), 0);
    json_object_put(root);
    assert_int_equal(same_as_plain(in, 0), 1);
    int rc = lm_convert(in, tu_path(TU_TMPDIR, "nan.lm"), &(lm_convert_options){.quiet = 1});
    if (c < 2) {
      assert_int_equal(rc, LM_EFORMAT);
      assert_non_null(strstr(lm_last_error(), "tree 5 node 0: NaN split threshold"));
    } else {
      assert_int_equal(rc, 0);
    }
    assert_int_equal(same_as_plain(in, 1), 1); /* every tree: tree 5's error */
  }
  /* 3.1+ per-output base scores that differ: 3 intercept trees go first (taken from the IR,
   * the others from the sink), so the plain writer's error names tree 4 + 3 = 7 */
  snprintf(src, sizeof src, "%s/tests/fixtures/xgboost-3/synthetic/v31_base_score_vector/model.json",
           src_dir);
  json_object *root = json_object_from_file(src), *l, *gb, *m, *trees, *sc;
  assert_non_null(root);
  assert_true(json_object_object_get_ex(root, "learner", &l));
  assert_true(json_object_object_get_ex(l, "gradient_booster", &gb));
  assert_true(json_object_object_get_ex(gb, "model", &m));
  assert_true(json_object_object_get_ex(m, "trees", &trees));
  assert_true(json_object_object_get_ex(json_object_array_get_idx(trees, 4), "split_conditions", &sc));
  json_object_array_put_idx(sc, 0, json_object_new_double(NAN));
  const char *in = tu_path(TU_TMPDIR, "nan3.json");
  assert_int_equal(json_object_to_file_ext(in, root, JSON_C_TO_STRING_PLAIN), 0);
  json_object_put(root);
  assert_int_equal(same_as_plain(in, 0), 1);
  assert_int_equal(lm_convert(in, tu_path(TU_TMPDIR, "nan3.lm"), &(lm_convert_options){.quiet = 1}),
                   LM_EFORMAT);
  assert_non_null(strstr(lm_last_error(), "tree 7 node 0: NaN split threshold"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_bounded),
      cmocka_unit_test(test_ubjson_bounded),
      cmocka_unit_test(test_progress),
      cmocka_unit_test(test_sink_fixtures),
      cmocka_unit_test(test_sink_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
