/*
 * test_contrib.c — lm_predict_contrib against XGBoost's pred_contribs. For every case of
 * tests/fixtures/xgb/MANIFEST, tests/gen_contrib_fixtures.py recorded what XGBoost 1.7.4's
 * predict(pred_contribs=True) returns for input.csv (expected_contrib.csv); this test converts
 * model.json, scores the rows (batch, one row per call, float64) and requires
 *     |ours − xgboost| ≤ 1e-6  or  ≤ 1e-5 · |xgboost|   for every value,
 * and that each row's contributions of an output sum to XGBoost's margin within
 * 1e-5 · max(1, |margin|). It prints the largest absolute and relative differences per case.
 * Every quadrature kernel this CPU runs (kernels/shap_quad*.c) is also compared with the
 * scalar reference (kernels/shap_scalar.c) directly, on the same rows, within 1e-9 · (1 + |ref|).
 * Also: the same covers from every XGBoost source format (JSON, UBJSON, legacy binary), the
 * errors for a file without COVER and for bad arguments, and the verifier's COVER checks.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "kernels/cpu.h"
#include "kernels/shap.h"
#include "runtime/model.h"
#include "lmrt.h"
#include "tools/csv.h"

static char tmpdir[] = "/tmp/lm_test_contrib_XXXXXX";
#define TU_TMPDIR tmpdir
#define TU_CONTRIB_REF "xgboost", 1 /* XGBoost's values rounded to float32 */
#include "tests/util_contrib.h"

static void run_case(const char *cs, tally *all) {
  char dir[1024], model[1100];
  snprintf(dir, sizeof dir, "%.900s/tests/fixtures/xgb/%.100s", src, cs);
  snprintf(model, sizeof model, "%s/model.json", dir);
  lm_model *m;
  if (lm_model_open(convert(model, cs), &m) != 0) fail_msg("%s: open: %s", cs, lm_last_error());
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  if (info.num_trees) assert_int_equal(info.has_cover, 1);
  assert_true(info.format_minor >= 1); /* COVER since 1.1 */
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  table in = {0}, want = {0}, mar = {0};
  tu_load_table(dir, "input.csv", &in, 0);
  tu_load_table(dir, "expected_contrib.csv", &want, 0);
  tu_load_table(dir, "expected_margin.csv", &mar, 0);
  size_t n = in.rows, F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  size_t W = lm_model_contrib_width(m);
  assert_int_equal(W, G * (F + 1));
  assert_int_equal(want.rows, n);
  float *x = malloc(sizeof *x * n * F), *out = malloc(sizeof *out * n * W);
  for (size_t i = 0; i < n * F; i++) x[i] = (float)in.v[i];
  tally ta = {0};
  assert_int_equal(lm_predict_contrib(s, x, n, out), 0);
  compare(cs, "contrib", out, &want, W, &ta);
  /* contributions sum to XGBoost's margin */
  double sum_max;
  size_t sum_bad = tu_contrib_sums(cs, out, n, G, F, mar.v, mar.cols, mar.cols == G, &sum_max);
  memset(out, 0, sizeof *out * n * W);
  assert_int_equal(lm_predict_contrib_f64(s, in.v, n, out), 0);
  compare(cs, "contrib(f64)", out, &want, W, &ta);
  for (size_t r = 0; r < n; r++)
    assert_int_equal(lm_predict_contrib(s, x + r * F, 1, out + r * W), 0);
  compare(cs, "contrib(1 row/call)", out, &want, W, &ta);
  print_message("%-28s %4zu rows %5zu values: max abs diff %.3g, max rel diff (abs > 1e-6) "
                "%.3g, %zu outside tolerance; sum-to-margin max rel %.3g\n",
                cs, n, ta.values, ta.max_abs, ta.max_rel, ta.bad, sum_max);
  tu_tally_add(all, &ta, sum_bad);
  free(x);
  free(out);
  free(in.v), free(want.v), free(mar.v);
  lm_session_free(s);
  lm_model_close(m);
}

static void test_contrib_parity(void **state) {
  (void)state;
  char line[256];
  FILE *f = tu_manifest_open(src, "xgb", "");
  tally all = {0};
  size_t cases = 0;
  for (; tu_manifest_next(f, line, sizeof line); cases++) run_case(line, &all);
  fclose(f);
  print_message("contrib parity: %zu cases, %zu values, max abs diff %.3g, max rel diff %.3g, "
                "%zu outside tolerance\n", cases, all.values, all.max_abs, all.max_rel, all.bad);
  assert_true(cases >= 20);
  assert_int_equal(all.bad, 0);
}

/* Each quadrature kernel against the reference (lm__shap_rows__scalar) on every fixture's rows,
 * in blocks as lm_predict_contrib passes them: the same mathematics (the reference's
 * extend/unwind recursion, the kernels' exact Gauss–Legendre quadrature), so only rounding
 * differs (the reference builds float32 pattern tables only for trees the kernels leave to it). */
static void test_contrib_kernels(void **state) {
  (void)state;
  char line[256];
  FILE *f = tu_manifest_open(src, "xgb", "");
  size_t cases = 0, runs = 0;
  double worst = 0;
  while (tu_manifest_next(f, line, sizeof line)) {
    char dir[1100], model[1200];
    snprintf(dir, sizeof dir, "%.900s/tests/fixtures/xgb/%.100s", src, line);
    snprintf(model, sizeof model, "%s/model.json", dir);
    lm_model *m;
    if (lm_model_open(convert(model, line), &m) != 0) fail_msg("%s: %s", line, lm_last_error());
    lm__shap *sh;
    if (m->v.meta->model_kind != LMF_MODEL_TREES) { /* linear: no table */
      lm_model_close(m);
      continue;
    }
    if (lm__shap_build(&m->v, line, &sh) != 0) fail_msg("%s: %s", line, lm_last_error());
    table in = {0};
    tu_load_table(dir, "input.csv", &in, 0);
    size_t F = sh->num_features, n = in.rows;
    float *x = malloc(sizeof *x * n * F);
    for (size_t i = 0; i < n * F; i++) x[i] = (float)in.v[i];
    runs += tu_shap_kernels(line, "", &m->v, sh, x, NULL, n, &worst);
    free(x), free(in.v);
    lm__shap_free(sh);
    lm_model_close(m);
    cases++;
  }
  fclose(f);
  print_message("contrib kernels: %zu cases, %zu kernel runs, largest |diff| / (1 + |ref|) %.3g\n",
                cases, runs, worst);
  assert_true(cases >= 20);
}

/* The contributions of one fixture's rows from a model file. */
static float *contribs_of(const char *lm, const double *rows, size_t n, size_t *width) {
  lm_model *m;
  if (lm_model_open(lm, &m) != 0) fail_msg("open %s: %s", lm, lm_last_error());
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  *width = lm_model_contrib_width(m);
  float *out = malloc(sizeof *out * n * *width);
  if (lm_predict_contrib_f64(s, rows, n, out) != 0) fail_msg("%s: %s", lm, lm_last_error());
  lm_session_free(s);
  lm_model_close(m);
  return out;
}

/* JSON, UBJSON and the legacy binary carry the same covers (sum_hessian / RTreeNodeStat). */
static void test_contrib_formats(void **state) {
  (void)state;
  const char *cases[] = {"gbtree_binary", "dart_reg", "gbtree_multi_softprob3"};
  const char *files[] = {"model.json", "model.ubj", "model.bin", "model_13.bin"};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    char dir[1100], model[1200], name[256];
    snprintf(dir, sizeof dir, "%.900s/tests/fixtures/xgb_formats/%s", src, cases[c]);
    table in = {0};
    tu_load_table(dir, "input.csv", &in, 0);
    float *ref = NULL;
    size_t w0 = 0;
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
      snprintf(model, sizeof model, "%s/%s", dir, files[k]);
      if (access(model, F_OK) != 0) continue;
      snprintf(name, sizeof name, "fmt_%s_%zu", cases[c], k);
      size_t w;
      float *o = contribs_of(convert(model, name), in.v, in.rows, &w);
      if (!ref) {
        ref = o, w0 = w;
        continue;
      }
      assert_int_equal(w, w0);
      for (size_t i = 0; i < in.rows * w; i++)
        if (o[i] != ref[i])
          fail_msg("%s %s: value %zu is %.9g, model.json gives %.9g", cases[c], files[k], i,
                   o[i], ref[i]);
      free(o);
    }
    assert_non_null(ref);
    free(ref);
    free(in.v);
  }
}

/* A file image in memory, to edit and write back. */
static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}
static void spit(const char *path, const uint8_t *b, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, len, f), len);
  fclose(f);
}
static lmf_section *section(uint8_t *b, uint32_t kind) {
  lmf_header *h = (lmf_header *)b;
  lmf_section *t = (lmf_section *)(b + h->table_offset);
  for (uint32_t i = 0; i < h->n_sections; i++)
    if (t[i].kind == kind) return &t[i];
  return NULL;
}

static void test_contrib_errors(void **state) {
  (void)state;
  char model[1200], nocover[1200], badcover[1200];
  snprintf(model, sizeof model, "%.900s/tests/fixtures/xgb/binary_logistic/model.json", src);
  const char *lm = convert(model, "errs");
  size_t len;
  uint8_t *b = slurp(lm, &len);
  lmf_section *cs = section(b, LMF_COVER);
  assert_non_null(cs);
  assert_int_equal(cs->flags, 0); /* optional: a 1.0 reader skips it */
  assert_int_equal(((lmf_header *)b)->minor, LMF_MINOR);

  /* The same file without cover (as a 1.0 converter wrote it): predict works, contrib says why */
  cs->kind = 200;
  lm__lmf_seal(b, len);
  snprintf(nocover, sizeof nocover, "%s/nocover.lm", tmpdir);
  spit(nocover, b, len);
  lm_model *m;
  assert_int_equal(lm_model_open(nocover, &m), 0);
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_int_equal(info.has_cover, 0);
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  float x[10] = {0}, out[11], p;
  assert_int_equal(lm_predict(s, x, 1, 0, &p), 0);
  assert_int_equal(lm_predict_contrib(s, x, 1, out), LM_EUNSUPPORTED);
  assert_non_null(strstr(lm_last_error(), "nocover.lm"));
  assert_non_null(strstr(lm_last_error(), "cover"));
  lm_session_free(s);
  lm_model_close(m);

  /* A negative cover: the verifier names the node and the offset */
  cs->kind = LMF_COVER;
  double neg = -1.0;
  memcpy(b + cs->offset + 8 * 3, &neg, 8);
  lm__lmf_seal(b, len);
  snprintf(badcover, sizeof badcover, "%s/badcover.lm", tmpdir);
  spit(badcover, b, len);
  assert_int_equal(lm_model_open(badcover, &m), LM_EFORMAT);
  assert_non_null(strstr(lm_last_error(), "COVER node 3"));
  assert_non_null(strstr(lm_last_error(), "badcover.lm"));
  /* a COVER of the wrong size */
  neg = 1.0;
  memcpy(b + cs->offset + 8 * 3, &neg, 8);
  cs->size -= 8;
  memset(b + cs->offset + cs->size, 0, 8); /* the dropped double is padding now: zero */
  lm__lmf_seal(b, len);
  spit(badcover, b, len);
  assert_int_equal(lm_model_open(badcover, &m), LM_EFORMAT);
  assert_non_null(strstr(lm_last_error(), "COVER section"));
  free(b);

  /* bad arguments */
  assert_int_equal(lm_model_open(lm, &m), 0);
  assert_int_equal(lm_session_new(m, &s), 0);
  assert_int_equal(lm_predict_contrib(NULL, x, 1, out), LM_EINVAL);
  assert_int_equal(lm_predict_contrib(s, NULL, 1, out), LM_EINVAL);
  assert_int_equal(lm_predict_contrib(s, x, 1, NULL), LM_EINVAL);
  assert_int_equal(lm_predict_contrib_f64(s, NULL, 2, out), LM_EINVAL);
  assert_int_equal(lm_predict_contrib(s, x, SIZE_MAX / 8, out), LM_ERANGE);
  assert_int_equal(lm_predict_contrib(s, NULL, 0, NULL), 0);
  assert_int_equal(lm_model_contrib_width(NULL), 0);
  assert_int_equal(lm_model_contrib_width(m), 11);
  /* all-missing row: contributions of features the trees never see are 0 */
  for (int f = 0; f < 10; f++) x[f] = NAN;
  assert_int_equal(lm_predict_contrib(s, x, 1, out), 0);
  float margin;
  assert_int_equal(lm_predict(s, x, 1, LM_PREDICT_MARGIN, &margin), 0);
  double sum = 0;
  for (int f = 0; f < 11; f++) sum += out[f];
  assert_true(fabs(sum - margin) <= 1e-5 * fmax(1.0, fabs(margin)));
  lm_session_free(s);
  lm_model_close(m);

  /* LightGBM linear trees: refused, as LightGBM refuses them */
  char lgb[1200];
  snprintf(lgb, sizeof lgb,
           "%.900s/tests/fixtures/lightgbm/real/jpmml_linear_regression_auto/model.txt", src);
  assert_int_equal(lm_model_open(convert(lgb, "lgb"), &m), 0);
  assert_int_equal(lm_session_new(m, &s), 0);
  float *lx = calloc(lm_model_num_features(m), sizeof *lx);
  float *lo = calloc(lm_model_contrib_width(m), sizeof *lo);
  assert_int_equal(lm_predict_contrib(s, lx, 1, lo), LM_EUNSUPPORTED);
  assert_non_null(strstr(lm_last_error(), "linear trees"));
  free(lx), free(lo);
  lm_session_free(s);
  lm_model_close(m);
}

/* The tools: lmscore --contrib prints what lm_predict_contrib_f64 gives (XGBoost's values);
 * lminfo says whether a model carries cover. */
static void test_contrib_tools(void **state) {
  (void)state;
  const char *bin = tu_env_or("LM_BIN", "build/bin");
  char dir[1100], model[1200], cmd[4096], outp[1200];
  snprintf(dir, sizeof dir, "%.900s/tests/fixtures/xgb/multi_softprob4", src);
  snprintf(model, sizeof model, "%s/model.json", dir);
  const char *lm = convert(model, "tool_multi");
  snprintf(outp, sizeof outp, "%s/contrib_out.csv", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s/lmscore' '%s' '%s/input.csv' --contrib > '%s'", bin, lm, dir,
           outp);
  assert_int_equal(system(cmd), 0);
  table got = {0}, want = {0};
  tu_load_table(tmpdir, "contrib_out.csv", &got, 0);
  tu_load_table(dir, "expected_contrib.csv", &want, 0);
  assert_int_equal(got.rows, want.rows);
  assert_int_equal(got.cols, 4 * 11);
  float *g = malloc(sizeof *g * got.rows * got.cols);
  for (size_t i = 0; i < got.rows * got.cols; i++) g[i] = (float)got.v[i];
  tally ta = {0};
  compare("lmscore --contrib", "multi_softprob4", g, &want, got.cols, &ta);
  assert_int_equal(ta.bad, 0);
  free(g), free(got.v), free(want.v);
  snprintf(cmd, sizeof cmd, "'%s/lmscore' '%s' '%s/input.csv' --contrib --margin 2>/dev/null",
           bin, lm, dir);
  int st = system(cmd);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
  snprintf(cmd, sizeof cmd, "'%s/lminfo' '%s' | grep -q '^cover: *yes$'", bin, lm);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s/lminfo' '%s/nocover.lm' | grep -q '^cover: *no'", bin, tmpdir);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s/lmscore' '%s/nocover.lm' '%s/input.csv' --contrib 2>&1 "
           ">/dev/null | grep -q 'nocover.lm.*cover'", bin, tmpdir, dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_contrib_parity),
                                     cmocka_unit_test(test_contrib_kernels),
                                     cmocka_unit_test(test_contrib_formats),
                                     cmocka_unit_test(test_contrib_errors),
                                     cmocka_unit_test(test_contrib_tools)};
  return cmocka_run_group_tests_name("contrib", tests, tu_contrib_setup, tu_tmpdir_teardown);
}
