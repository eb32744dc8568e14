/*
 * test_pickle.c — pickled and joblib-dumped models (formats/import/pickle.c, joblib.c,
 * pickled.c, xgboost_pickle.c, sklearn.c), end to end against what their trainers predict.
 *
 * (a) parity: every case of tests/fixtures/sklearn/ (tests/gen_sklearn_fixtures.py: XGBoost's
 *     scikit-learn wrappers pickled with protocols 0–5 and joblib-dumped with every joblib
 *     compressor; LightGBM Boosters and wrappers; scikit-learn estimators) is converted with
 *     lm_convert and scored with lm_predict_f64 on its float64 rows and with lm_predict on the
 *     same rows rounded to float32; values must be within 1e-6·max(1, |expected|) of the
 *     trainer's own predict / predict_proba / decision_function (linear models: 1e-6 of the
 *     size of their sum, |x|·|coef| + |intercept|, scale.csv — the .lm file's weights are
 *     float32; the first 16 rows are also scored one at a time, through the single-row
 *     kernels), and for tree models (rows on and around their thresholds included)
 *     lm_predict_leaf must give sklearn's apply() node ids, every tree, unchanged (identical
 *     decisions; GradientBoosting's init_ lives in its first stage, so its trees are apply()'s
 *     n_estimators × K); lminfo's objective names the estimator and method;
 *     LightGBM pickles must score bit for bit as their model text does;
 * (b) safety: a pickle whose __reduce__ would run `touch FILE` through os.system is refused
 *     naming posix.system, and FILE does not appear;
 * (c) the walker on hand-made pickles (protocol 0/1 text opcodes, numpy arrays of every byte
 *     order and memory order, structured dtypes, joblib's inline arrays);
 * (d) one table of bad inputs, each with its error code and a piece of its message (field and
 *     byte offset), and one of real estimators with one fault each in their pickled state
 *     (tests/fixtures/sklearn/bad/); every truncation and 400 one-bit mutations of three real
 *     files (no crash, no leak under make check-san).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/import/import.h"
#include "formats/import/joblib.h"
#include "formats/import/pickle.h"
#include "formats/import/pickled.h"
#include "formats/ir.h"
#include "formats/lmf.h"
#include "lmrt.h"
#include "tools/csv.h"

static char tmpdir[] = "/tmp/lm_test_pickle_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tests/util_import.h"

static const char *fx(const char *cs, const char *file) {
  static char p[4][1200];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/tests/fixtures/sklearn/%s/%s", tu_env_or("LM_SRC", "."), cs,
           file);
  return p[k];
}

static double *load_csv(const char *path, size_t *rows, size_t *cols) {
  double *v = NULL;
  char err[300];
  if (lm_csv_read_path(path, &v, rows, cols, err, sizeof err)) {
    print_error("%s: %s\n", path, err);
    fail();
  }
  return v;
}

/* The model file of a case directory (model.pkl, model.joblib*). */
static const char *model_file(const char *cs) {
  static const char *const names[] = {"model.pkl",         "model.joblib",      "model.joblib.z",
                                      "model.joblib.gz",   "model.joblib.bz2",  "model.joblib.xz",
                                      "model.joblib.lzma", "model.joblib.lz4"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (access(fx(cs, names[i]), R_OK) == 0) return fx(cs, names[i]);
  print_error("%s: no model file\n", cs);
  fail();
  return NULL;
}

typedef struct parity_case {
  const char *dir;
  const char *lgbm_text; /* LightGBM: the real model whose text it holds (bit-identical) */
  int leaves;            /* compare lm_predict_leaf with leaves.csv */
} parity_case;

static double worst_rel; /* largest |lmrt - expected| / max(1, |expected|) seen */

static int score_case(const parity_case *pc) {
  int failures = 0;
  const char *lm = tu_path(tmpdir, "m.lm");
  int rc = lm_convert(model_file(pc->dir), lm, &(lm_convert_options){.quiet = 1});
  if (rc) {
    print_error("%s: convert: %s\n", pc->dir, lm_last_error());
    return 1;
  }
  lm_model *m = NULL;
  lm_session *s = NULL;
  assert_int_equal(lm_model_open(lm, &m), 0);
  assert_int_equal(lm_session_new(m, &s), 0);
  size_t n, f, en, ew;
  double *x = load_csv(fx(pc->dir, "input.csv"), &n, &f);
  double *e = load_csv(fx(pc->dir, "expected.csv"), &en, &ew);
  assert_int_equal(f, lm_model_num_features(m));
  assert_int_equal(en, n);
  assert_int_equal(ew, lm_model_output_width(m, 0));
  /* linear models: float32 weights and sums round relative to the size of the sum */
  double *sc = NULL;
  size_t sn = 0, sw = 0;
  if (access(fx(pc->dir, "scale.csv"), R_OK) == 0) {
    sc = load_csv(fx(pc->dir, "scale.csv"), &sn, &sw);
    assert_int_equal(sn, n);
  }
  float *xf = malloc(n * f * sizeof *xf), *o64 = malloc(n * ew * sizeof *o64),
        *o32 = malloc(n * ew * sizeof *o32);
  for (size_t i = 0; i < n * f; i++) xf[i] = (float)x[i];
  assert_int_equal(lm_predict_f64(s, x, n, 0, o64), 0);
  assert_int_equal(lm_predict(s, xf, n, 0, o32), 0);
  for (size_t i = 0; i < n * ew; i++) {
    double ref = fmax(1.0, fabs(e[i]));
    if (sc)
      for (size_t j = 0; j < sw; j++) ref = fmax(ref, sc[i / ew * sw + j]);
    double tol = 1e-6 * ref;
    double r64 = fabs(o64[i] - e[i]) / ref;
    if (r64 > worst_rel) worst_rel = r64;
    if (!(fabs(o64[i] - e[i]) <= tol) && failures++ < 3)
      print_error("%s: row %zu output %zu: f64 rows give %.9g, expected %.17g\n", pc->dir, i / ew,
                  i % ew, o64[i], e[i]);
    /* float32 rows: the same decisions as sklearn makes (its trees round rows to float32
     * themselves). Not for LightGBM (double decisions) nor pipelines (their scalers see other
     * values once the rows are rounded: leaves.csv holds sklearn's leaves for those) */
    if (!pc->lgbm_text && strncmp(pc->dir, "pipe_", 5) && !(fabs(o32[i] - e[i]) <= tol) &&
        failures++ < 3)
      print_error("%s: row %zu output %zu: f32 rows give %.9g, expected %.17g\n", pc->dir, i / ew,
                  i % ew, o32[i], e[i]);
  }
  /* single rows (the planner's single-row kernels): the same values */
  float *one = malloc(ew * sizeof *one);
  for (size_t r = 0; r < n && r < 16; r++) {
    assert_int_equal(lm_predict_f64(s, x + r * f, 1, 0, one), 0);
    for (size_t j = 0; j < ew; j++) {
      double ref = fmax(1.0, fabs(e[r * ew + j]));
      if (sc)
        for (size_t q = 0; q < sw; q++) ref = fmax(ref, sc[r * sw + q]);
      if (!(fabs(one[j] - e[r * ew + j]) <= 1e-6 * ref) && failures++ < 3)
        print_error("%s: row %zu output %zu alone: %.9g, expected %.17g\n", pc->dir, r, j,
                    one[j], e[r * ew + j]);
    }
  }
  free(one);
  if (pc->leaves) {
    size_t ln, lt;
    double *lv = load_csv(fx(pc->dir, "leaves.csv"), &ln, &lt);
    assert_int_equal(ln, n);
    size_t nt = lm_model_num_trees(m);
    uint32_t *leaf = malloc(n * nt * sizeof *leaf);
    assert_int_equal(lm_predict_leaf(s, xf, n, leaf), 0);
    /* one sklearn tree may be several lmrt trees (one per class): each reaches the same node */
    assert_true(lt > 0 && nt % lt == 0);
    size_t per = nt / lt;
    for (size_t r = 0; r < n; r++)
      for (size_t t = 0; t < nt; t++)
        if (leaf[r * nt + t] != (uint32_t)lv[r * lt + t / per] && failures++ < 3)
          print_error("%s: row %zu tree %zu: leaf %u, sklearn's apply() %g\n", pc->dir, r, t,
                      leaf[r * nt + t], lv[r * lt + t / per]);
    free(leaf);
    free(lv);
  }
  if (pc->lgbm_text) {
    /* the same model's text file: bit-identical outputs */
    char p[1200];
    snprintf(p, sizeof p, "%s/tests/fixtures/lightgbm/real/%s/model.txt",
             tu_env_or("LM_SRC", "."), pc->lgbm_text);
    const char *lm2 = tu_path(tmpdir, "t.lm");
    assert_int_equal(lm_convert(p, lm2, &(lm_convert_options){.quiet = 1}), 0);
    lm_model *m2 = NULL;
    lm_session *s2 = NULL;
    assert_int_equal(lm_model_open(lm2, &m2), 0);
    assert_int_equal(lm_session_new(m2, &s2), 0);
    float *t64 = malloc(n * ew * sizeof *t64);
    assert_int_equal(lm_predict_f64(s2, x, n, 0, t64), 0);
    for (size_t i = 0; i < n * ew; i++)
      if (fbits(t64[i]) != fbits(o64[i]) && failures++ < 3)
        print_error("%s: row %zu: %.9g, the text model %.9g\n", pc->dir, i / ew, o64[i], t64[i]);
    free(t64);
    lm_session_free(s2);
    lm_model_close(m2);
  }
  free(x), free(e), free(xf), free(o64), free(o32), free(sc);
  lm_session_free(s);
  lm_model_close(m);
  return failures;
}

static const parity_case parity_cases[] = {
    {"xgb_clf_p0", NULL, 0},
    {"xgb_clf_p1", NULL, 0},
    {"xgb_clf_p2", NULL, 0},
    {"xgb_clf_p4", NULL, 0},
    {"xgb_clf_p5", NULL, 0},
    {"xgb_clf_joblib_raw", NULL, 0},
    {"xgb_clf_joblib_zlib", NULL, 0},
    {"xgb_clf_joblib_gzip", NULL, 0},
    {"xgb_clf_joblib_bz2", NULL, 0},
    {"xgb_clf_joblib_xz", NULL, 0},
    {"xgb_clf_joblib_lzma", NULL, 0},
    {"xgb_clf_joblib_lz4", NULL, 0},
    {"xgb_multi_joblib", NULL, 0},
    {"xgb_reg_joblib", NULL, 0},
    {"lgbm_booster_clf_v3", "jpmml_binary_audit", 0},
    {"lgbm_booster_clf_v4", "jpmml_binary_audit", 0},
    {"lgbm_booster_reg_v3", "jpmml_regression_housing", 0},
    {"lgbm_booster_reg_v4", "jpmml_regression_housing", 0},
    {"lgbm_classifier_joblib", "jpmml_binary_audit", 0},
    {"lgbm_regressor_joblib", "jpmml_regression_housing", 0},
#include "tests/test_pickle_sklearn_cases.h"
};

static void test_parity(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof parity_cases / sizeof parity_cases[0]; i++)
    failures += score_case(&parity_cases[i]);
  print_message("parity: %zu cases, largest relative difference %.3g\n",
                sizeof parity_cases / sizeof parity_cases[0], worst_rel);
  assert_int_equal(failures, 0);
}

/* The threshold rule behind identical decisions: for sklearn's threshold t, lmrt goes left iff
 * x <= t' (float64 rows) and iff x < g, g the smallest float32 above t' (float32 rows); sklearn
 * goes left iff float32(x) <= t. Checked on thresholds of every kind (float32 values, midpoints
 * of float32s as sklearn makes them, random doubles, zero, denormals, FLT_MAX) against the
 * doubles and floats around them. */
static void test_threshold_rule(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15u;
  size_t checks = 0;
  for (int it = 0; it < 20000; it++) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    double t;
    float a = (float)ldexp((double)(seed % 1000003) / 1000003.0 - 0.5, (int)(seed >> 40) % 80 - 40);
    switch (it % 6) {
    case 0: t = a; break;
    case 1: t = ((double)a + (double)nextafterf(a, INFINITY)) / 2; break; /* adjacent midpoint */
    case 2: t = (double)a / 2.0 + (double)(a * 3.0f) / 2.0; break;     /* sklearn's midpoint */
    case 3: memcpy(&t, &seed, 8); if (!(fabs(t) < 3e38)) t = a; break;
    case 4: t = (double)nextafterf(0.0f, it % 12 < 6 ? INFINITY : -INFINITY) * (double)(it % 5); break;
    default: t = it % 12 < 6 ? FLT_MAX : -(double)FLT_MAX; break;
    }
    double tp = lm__sklearn_f32_boundary(t);
    float g = lmf_lgb_threshold(tp); /* the writer's float32 threshold: the smallest above t' */
    float fl = (float)t;
    double xs[16] = {t, tp, nextafter(tp, INFINITY), nextafter(tp, -INFINITY), fl,
                     nextafterf(fl, INFINITY), nextafterf(fl, -INFINITY), g,
                     nextafterf(g, -INFINITY), nextafter(t, INFINITY), nextafter(t, -INFINITY),
                     ((double)fl + (double)nextafterf(fl, INFINITY)) / 2,
                     ((double)fl + (double)nextafterf(fl, -INFINITY)) / 2, 0.0, -0.0,
                     t + fabs(t) * 1e-9};
    for (int j = 0; j < 16; j++) {
      double x = xs[j];
      if (!isfinite(x) || fabs(x) > FLT_MAX) continue;
      int sk = (float)x <= t, f64 = x <= tp;
      if (sk != f64) fail_msg("t %.17g: x %.17g: sklearn %d, float64 rule %d", t, x, sk, f64);
      float xf = (float)x;
      int sk32 = xf <= t, f32 = !(xf >= g);
      if (sk32 != f32) fail_msg("t %.17g: x %.9g: sklearn %d, float32 rule %d", t, (double)xf, sk32, f32);
      checks++;
    }
  }
  print_message("threshold rule: %zu checks\n", checks);
}

/* A LightGBM Booster pickled after early stopping (best_iteration 10): its first 10 iterations,
 * as Booster.predict scores by default; --all-trees keeps every one. */
static void test_lightgbm_best_iteration(void **state) {
  (void)state;
  const char *lm = tu_path(tmpdir, "best.lm");
  lm_model *m = NULL;
  assert_int_equal(lm_convert(model_file("lgbm_booster_best10"), lm, &(lm_convert_options){.quiet = 1}), 0);
  assert_int_equal(lm_model_open(lm, &m), 0);
  assert_int_equal(lm_model_num_trees(m), 10);
  lm_model_close(m);
  assert_int_equal(lm_convert(model_file("lgbm_booster_best10"), lm,
                              &(lm_convert_options){.quiet = 1, .all_trees = 1}), 0);
  assert_int_equal(lm_model_open(lm, &m), 0);
  assert_true(lm_model_num_trees(m) > 10);
  lm_model_close(m);
}

/* What lminfo shows as the objective: scikit-learn's estimator and method (the table's
 * lightgbm:* / linear-learner:* entries only fix the link); LightGBM and XGBoost pickles their
 * trainer's objective. */
static void test_objective_names(void **state) {
  (void)state;
  static const struct { const char *dir, *obj; } t[] = {
      {"rf_clf3", "sklearn:RandomForestClassifier.predict_proba"},
      {"dt_reg", "sklearn:DecisionTreeRegressor.predict"},
      {"gb_clf_exp", "sklearn:GradientBoostingClassifier.predict_proba"},
      {"hgb_reg_poisson", "sklearn:HistGradientBoostingRegressor.predict"},
      {"logreg", "sklearn:LogisticRegression.predict_proba"},
      {"logreg3_ovr", "sklearn:LogisticRegression.decision_function"},
      {"linsvc", "sklearn:LinearSVC.decision_function"},
      {"sgdclf_log", "sklearn:SGDClassifier.predict_proba"},
      {"ridge", "sklearn:Ridge.predict"},
      {"pipe_std_tree", "sklearn:Pipeline>DecisionTreeClassifier.predict_proba"},
      {"lgbm_booster_clf_v3", "lightgbm:binary"},
      {"lgbm_regressor_joblib", "lightgbm:regression"},
      {"xgb_clf_p4", "binary:logistic"},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    const char *lm = tu_path(tmpdir, "o.lm");
    lm_model *m = NULL;
    lm_model_info in;
    assert_int_equal(lm_convert(model_file(t[i].dir), lm, &(lm_convert_options){.quiet = 1}), 0);
    assert_int_equal(lm_model_open(lm, &m), 0);
    assert_int_equal(lm_model_get_info(m, &in), 0);
    if (strcmp(in.objective, t[i].obj) && failures++ < 5)
      print_error("%s: objective '%s', want '%s'\n", t[i].dir, in.objective, t[i].obj);
    lm_model_close(m);
  }
  assert_int_equal(failures, 0);
}

/* ---- (b) a pickle that would run a command --------------------------------------------- */

static void test_never_executed(void **state) {
  (void)state;
  const char *flag = "/tmp/lmrt_pickle_was_executed";
  unlink(flag);
  int rc = lm_convert(fx("evil", "model.pkl"), tu_path(tmpdir, "evil.lm"),
                      &(lm_convert_options){.quiet = 1});
  assert_int_equal(rc, LM_EUNSUPPORTED);
  assert_non_null(strstr(lm_last_error(), "pickle global posix.system is not allowed"));
  assert_non_null(strstr(lm_last_error(), "model.pkl: byte "));
  assert_int_equal(access(flag, F_OK), -1);
  assert_int_equal(access(tu_path(tmpdir, "evil.lm"), F_OK), -1);
}

/* ---- (c) the walker ---------------------------------------------------------------------- */

static const lm_pv *walk(lm_pickle **k, const char *bytes, size_t n) {
  const lm_pv *res = NULL;
  int rc = lm__pickle_load((const uint8_t *)bytes, n, "t.pkl", k, &res);
  if (rc) print_error("walk: %s\n", lm_last_error());
  assert_int_equal(rc, 0);
  return res;
}

static void test_walker(void **state) {
  (void)state;
  lm_pickle *k = NULL;
  /* protocol 0: dict with INT, LONG, STRING, UNICODE, FLOAT, PUT/GET, True/False */
  const lm_pv *v = walk(&k, LIT("(dp0\nVa\\u00e9\np1\nI-5\nsS'b\\'\\n'\np2\nF1.5\nsVc\n"
                                 "L123456789012345678901234567890L\nsVd\nI01\nsVe\ng1\ns."));
  assert_int_equal(v->kind, LM_PV_DICT);
  const lm_pv *a = lm__pv_dict_get(v, "a\xc3\xa9");
  assert_non_null(a);
  assert_int_equal(a->kind, LM_PV_INT);
  assert_int_equal(a->i, -5);
  const lm_pv *b = lm__pv_dict_get(v, "b'\n");
  assert_non_null(b);
  assert_int_equal(b->kind, LM_PV_FLOAT);
  assert_true(b->d == 1.5);
  assert_int_equal(lm__pv_dict_get(v, "c")->kind, LM_PV_BIGINT);
  assert_int_equal(lm__pv_dict_get(v, "d")->kind, LM_PV_BOOL);
  assert_true(lm__pv_str_is(lm__pv_dict_get(v, "e"), "a\xc3\xa9"));
  lm__pickle_free(k);

  /* protocol 1 objects: INST and OBJ, copyreg._reconstructor */
  v = walk(&k, LIT("(lp0\n((ixgboost.core\nBooster\np1\n(dp2\nb(cxgboost.core\nBooster\nK\x01o"
                    "ccopy_reg\n_reconstructor\n(csklearn.tree._tree\nTree\nc__builtin__\nobject\n"
                    "Ntp3\nRp4\ne."));
  assert_int_equal(v->kind, LM_PV_LIST);
  assert_int_equal(v->n, 3);
  assert_true(lm__pv_obj_is(v->items[0], "xgboost.core", "Booster"));
  assert_non_null(lm__pv_state(v->items[0]));
  assert_true(lm__pv_obj_is(v->items[1], "xgboost.core", "Booster"));
  assert_int_equal(v->items[1]->args->n, 1);
  assert_true(lm__pv_obj_is(v->items[2], "sklearn.tree._tree", "Tree"));
  lm__pickle_free(k);

  /* numpy: a big-endian Fortran-order int32 2x3 array through _reconstruct (protocol 2) */
  v = walk(&k, LIT("\x80\x02\x63numpy.core.multiarray\n_reconstruct\n\x63numpy\nndarray\nK\x00\x85"
                    "C\x01" "b\x87R(K\x01K\x02K\x03\x86\x63numpy\ndtype\nX\x02\0\0\0i4\x89\x88\x87R"
                    "(K\x03X\x01\0\0\0>NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x88"
                    "C\x18\0\0\0\x01\0\0\0\x04\0\0\0\x02\0\0\0\x05\0\0\0\x03\0\0\0\x06tb."));
  assert_int_equal(v->kind, LM_PV_NDARRAY);
  assert_int_equal(v->nd_ndim, 2);
  assert_int_equal(v->nd_count, 6);
  /* element (r, c) = 1 + c + 3r whatever the order */
  for (uint64_t r = 0; r < 2; r++)
    for (uint64_t c = 0; c < 3; c++)
      assert_true(lm__nd_get(v, lm__nd_at2(v, r, c), NULL, 0) == (double)(1 + c + 3 * r));
  lm__pickle_free(k);

  /* joblib: a wrapper then its bytes after one padding-length byte (2) and the padding */
  v = walk(&k, LIT("\x80\x04\x8c\x13joblib.numpy_pickle\x8c\x11NumpyArrayWrapper\x93)\x81}("
                    "\x8c\x05shape\x4b\x02\x85\x8c\x05order\x8c\x01" "C\x8c\x05" "dtype"
                    "\x8c\x05numpy\x8c\x05" "dtype\x93\x8c\x02" "f8\x89\x88\x87R(K\x03\x8c\x01<NNN"
                    "J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x8c\x1bnumpy_array_alignment_bytes"
                    "K\x10ub\x02\xff\xff\0\0\0\0\0\0\xf8?\0\0\0\0\0\0\x04\xc0."));
  assert_int_equal(v->kind, LM_PV_NDARRAY);
  assert_int_equal(v->nd_count, 2);
  assert_true(lm__nd_get(v, 0, NULL, 0) == 1.5);
  assert_true(lm__nd_get(v, 1, NULL, 0) == -2.5);
  lm__pickle_free(k);
}

/* ---- (d) bad inputs ---------------------------------------------------------------------- */

static void test_bad(void **state) {
  (void)state;
  static const tu_bad_bytes t[] = {
      {"os.system by GLOBAL", LIT("\x80\x02\x63os\nsystem\nX\x02\0\0\0id\x85R."), LM_EUNSUPPORTED,
       "m.pkl: byte 2: pickle global os.system is not allowed"},
      {"builtins.eval by STACK_GLOBAL", LIT("\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93."),
       LM_EUNSUPPORTED, "m.pkl: byte 18: pickle global builtins.eval is not allowed"},
      {"INST of subprocess", LIT("(isubprocess\nPopen\n."), LM_EUNSUPPORTED,
       "m.pkl: byte 1: pickle global subprocess.Popen is not allowed"},
      {"a name with a dot in a model package", LIT("\x80\x02\x63sklearn\nos.system\n."),
       LM_EUNSUPPORTED, "pickle global sklearn.os.system is not allowed"},
      {"PERSID", LIT("\x80\x02P1\n."), LM_EUNSUPPORTED, "byte 2: pickle opcode 0x50 (PERSID)"},
      {"EXT2", LIT("\x80\x02\x83\x01\x00."), LM_EUNSUPPORTED, "pickle opcode 0x83 (EXT2)"},
      {"READONLY_BUFFER", LIT("\x80\x05\x98."), LM_EUNSUPPORTED, "(READONLY_BUFFER)"},
      {"INT not a number", LIT("I1x\n."), LM_EFORMAT, "byte 0: pickle opcode INT: not a decimal"},
      {"FLOAT not a number", LIT("Fabc\n."), LM_EFORMAT, "pickle opcode FLOAT: not a number"},
      {"STRING unquoted", LIT("Sabc\n."), LM_EFORMAT, "pickle opcode STRING: not a quoted"},
      {"STRING non-ASCII", LIT("S'\\xff'\n."), LM_EFORMAT, "a byte >= 0x80"},
      {"UNICODE bad escape", LIT("V\\u12\n."), LM_EFORMAT, "UNICODE: truncated \\u escape"},
      {"UNICODE surrogate", LIT("V\\ud800\n."), LM_EFORMAT, "code point 0xd800 out of range"},
      {"GET unset", LIT("g7\n."), LM_EFORMAT, "byte 0: pickle opcode GET: memo index 7 not set"},
      {"PUT too far", LIT("Np99999\n."), LM_EFORMAT, "PUT: memo index 99999 out of range"},
      {"GLOBAL without end of line", LIT("csklearn"), LM_EFORMAT, "GLOBAL: truncated: no end of line"},
      {"OBJ without class", LIT("(K\x01o."), LM_EFORMAT, "pickle opcode OBJ: no class"},
      {"dtype descriptor", LIT("\x80\x02\x63numpy\ndtype\nX\x02\0\0\0??\x85R."), LM_EFORMAT,
       "numpy.dtype: descriptor is not a kind and a size"},
      {"dtype state", LIT("\x80\x02\x63numpy\ndtype\nX\x02\0\0\0f8\x85R)b."), LM_EFORMAT,
       "numpy dtype state is not"},
      {"array of a subclass", LIT("\x80\x02\x63numpy.core.multiarray\n_reconstruct\n\x63numpy\n"
                                  "dtype\nK\x00\x85" "C\x01" "b\x87R."),
       LM_EUNSUPPORTED, "numpy array of class numpy.dtype: not supported"},
      {"array data too short",
       LIT("\x80\x02\x63numpy.core.multiarray\n_reconstruct\n\x63numpy\nndarray\nK\x00\x85"
           "C\x01" "b\x87R(K\x01K\x02\x85\x63numpy\ndtype\nX\x02\0\0\0f8\x89\x88\x87R(K\x03X\x01"
           "\0\0\0<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" "C\x08\0\0\0\0\0\0\0\0tb."),
       LM_EFORMAT, "numpy array data: 8 bytes for 2 elements of 8 bytes"},
      {"array shape overflow",
       LIT("\x80\x02\x63numpy.core.multiarray\n_reconstruct\n\x63numpy\nndarray\nK\x00\x85"
           "C\x01" "b\x87R(K\x01\x8a\x08\0\0\0\0\0\0\0\x40\x8a\x08\0\0\0\0\0\0\0\x40\x86"
           "\x63numpy\ndtype\nX\x02\0\0\0f8\x89\x88\x87R(K\x03X\x01\0\0\0<NNNJ\xff\xff\xff\xff"
           "J\xff\xff\xff\xffK\x00tb\x89" "C\x00tb."),
       LM_EFORMAT, "numpy array shape: more than 2^62 elements"},
      {"joblib array truncated",
       LIT("\x80\x04\x8c\x13joblib.numpy_pickle\x8c\x11NumpyArrayWrapper\x93)\x81}("
           "\x8c\x05shape\x4b\x04\x85\x8c\x05order\x8c\x01" "C\x8c\x05" "dtype"
           "\x8c\x05numpy\x8c\x05" "dtype\x93\x8c\x02" "f8\x89\x88\x87R(K\x03\x8c\x01<NNN"
           "J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbub\0\0\0\0\0\0\xf8?."),
       LM_EFORMAT, "joblib array data: truncated: needs 32 bytes, 9 left"},
      {"joblib wrapper without dtype",
       LIT("\x80\x04\x8c\x13joblib.numpy_pickle\x8c\x11NumpyArrayWrapper\x93)\x81}b."),
       LM_EFORMAT, "joblib NumpyArrayWrapper: state without dtype, shape or order"},
      {"not a model", LIT("\x80\x04}."), LM_EUNSUPPORTED,
       "m.pkl: the pickle holds a dict: not a model lmconvert reads"},
      {"an unknown sklearn estimator",
       LIT("\x80\x04\x8c\x14sklearn.svm._classes\x8c\x03SVC\x93)\x81}b."), LM_EUNSUPPORTED,
       "m.pkl: byte 31: an object of class sklearn.svm._classes.SVC: not supported (trees:"},
      {"LightGBM Booster without handle", LIT("\x80\x04\x8c\x0elightgbm.basic\x8c\x07" "Booster"
                                              "\x93)\x81}b."),
       LM_ENOMODEL, "without '_handle' (4.x) or 'handle' (3.x)"},
      {"LightGBM handle an int", LIT("\x80\x04\x8c\x0elightgbm.basic\x8c\x07" "Booster\x93)\x81}"
                                     "\x8c\x07_handleK\x01sb."),
       LM_EFORMAT, "state '_handle': expected the model text (a str), got an int"},
      {"LightGBM handle not a model", LIT("\x80\x04\x8c\x0elightgbm.basic\x8c\x07" "Booster\x93)"
                                          "\x81}\x8c\x06handle\x8c\x03" "abcsb."),
       LM_EFORMAT, "m.pkl:handle"},
      {"LGBMClassifier without Booster", LIT("\x80\x04\x8c\x10lightgbm.sklearn\x8c\x0eLGBMClassifier"
                                             "\x93)\x81}b."),
       LM_ENOMODEL, "pickled LGBMClassifier without a fitted '_Booster'"},
      {"XGBRegressor with missing=0",
       LIT("\x80\x04\x8c\x0fxgboost.sklearn\x8c\x0cXGBRegressor\x93)\x81}(\x8c\x08_Booster"
           "\x8c\x0cxgboost.core\x8c\x07" "Booster\x93)\x81\x8c\x07missingG\0\0\0\0\0\0\0\0ub."),
       LM_EUNSUPPORTED, "XGBRegressor state 'missing' = 0: XGBoost reads that value as missing"},
      {"zlib corrupt", LIT("\x78\x9c\xff\xff\xff\xff"), LM_EFORMAT,
       "m.pkl: byte 3: corrupt zlib stream: invalid block type"},
      {"zlib truncated", LIT("\x78\x9c\xcb\x48\xcd"), LM_EFORMAT, "zlib stream truncated"},
      {"zlib then junk", LIT("\x78\x9c\xf3\xd3\x03\x00\x00\xcc\x00\x7djunk"), LM_EFORMAT,
       "4 bytes after the end of the zlib stream"},
      {"lz4 corrupt", LIT("\x04\x22\x4d\x18\xff\xff\xff"), LM_EFORMAT, "corrupt lz4 frame"},
      {"xz corrupt", LIT("\xfd" "7zXZ\0\0\x04\0\0\0\0\0\0\0"), LM_EFORMAT, "corrupt xz stream"},
      {"bz2 corrupt", LIT("BZh9abcdef"), LM_EFORMAT, "corrupt bz2 stream"},
      /* found by fuzzing: a legacy .lzma header asking for a 2 GiB dictionary */
      {"lzma dictionary of 2 GiB", LIT("\x5d\x00\x00\x81\x81\x81\x81\x81\x81\x81\x81\x81\x81\x00"),
       LM_EUNSUPPORTED, "lzma stream needs more than 256 MiB of decoder memory"},
      {"decompressed error names the stream", LIT("\x78\x9c\xf3\x03\x00\x00\x4f\x00\x4f"),
       LM_EFORMAT, "m.pkl (zlib-decompressed): byte 1: truncated pickle: no STOP opcode"},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    lm_ir_model *ir = NULL;
    int rc = lm__import_pickle((const uint8_t *)t[i].bytes, t[i].len, "m.pkl", &ir);
    const char *e = lm_last_error();
    if (rc != t[i].code || !strstr(e, t[i].msg)) {
      print_error("%s: rc %d (want %d), '%s' (want '%s')\n", t[i].what, rc, t[i].code, e, t[i].msg);
      failures++;
    }
    assert_null(ir);
  }
  assert_int_equal(failures, 0);
}

/* Real estimators whose pickled state was altered (tests/gen_sklearn_estimators.py generate_bad):
 * each refused naming the field and the byte offset of the value. */
static void test_bad_estimators(void **state) {
  (void)state;
  static const struct { const char *file; int code; const char *msg; } t[] = {
      {"tree_child_range", LM_EFORMAT, "byte 702: DecisionTreeClassifier: tree.tree_.nodes[0]: children 999 and 14 out of range (node_count 29)"},
      {"tree_feature_range", LM_EFORMAT, "tree.tree_.nodes[0]: feature 77 out of range (4 features)"},
      {"tree_nan_threshold", LM_EFORMAT, "tree.tree_.nodes[0]: threshold is NaN"},
      {"tree_self_loop", LM_EFORMAT, "tree.tree_.nodes[1]: reached twice (from node 1): not a tree"},
      {"tree_shared_child", LM_EFORMAT, "tree.tree_.nodes[2]: reached twice (from node 1)"},
      {"tree_values_classes", LM_EFORMAT, "tree.tree_.values: 1 classes, the estimator has 2"},
      {"tree_node_count", LM_EFORMAT, "tree.tree_.nodes: expected a structured array of node_count (30) nodes"},
      {"no_n_features", LM_EFORMAT, "DecisionTreeClassifier: state has no 'n_features_in_'"},
      {"one_class", LM_EFORMAT, "1 class(es): a classifier needs 2 or more"},
      {"forest_not_fitted", LM_ENOMODEL, "RandomForestClassifier: no fitted 'estimators_' list"},
      {"forest_shared_tree", LM_EFORMAT, "the input's bytes can hold (one tree referenced many times?)"},
      {"linear_coef_width", LM_EFORMAT, "LogisticRegression: coef_: 3 features, n_features_in_ is 4"},
      {"linear_coef_inf", LM_ERANGE, "coef_[0, 0] = inf: not a finite float32"},
      {"linear_multi_class", LM_EFORMAT, "multi_class: expected 'auto', 'ovr' or 'multinomial'"},
      {"gb_init_estimator", LM_EUNSUPPORTED, "init_ is an object of class sklearn.linear_model._logistic.LogisticRegression"},
      {"gb_estimators_shape", LM_EFORMAT, "estimators_: expected an object array of shape (n_estimators, 1)"},
      {"pipeline_other_step", LM_EUNSUPPORTED, "step 'polynomialfeatures' is an object of class sklearn.preprocessing._polynomial.PolynomialFeatures"},
      {"hgb_cat_no_bin_mapper", LM_EFORMAT, "HistGradientBoostingClassifier: _bin_mapper.bin_thresholds_: expected a list of 4 arrays"},
      {"hgb_cat_category_300", LM_EFORMAT, "_bin_mapper.bin_thresholds_[0][2] = 300: not a category (0-255)"},
      {"hgb_cat_not_categorical", LM_EFORMAT, "a categorical split on feature 0, which is_categorical_ and _bin_mapper do not list"},
      {"pipeline_scaled_categories", LM_EUNSUPPORTED, "is_categorical_: categorical features after a Pipeline's scaling steps: not supported"},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.pkl", t[i].file);
    const char *path = fx("bad", name);
    int rc = lm_convert(path, tu_path(tmpdir, "bad.lm"), &(lm_convert_options){.quiet = 1});
    if (rc != t[i].code || !strstr(lm_last_error(), t[i].msg) || !strstr(lm_last_error(), ": byte ")) {
      print_error("%s: rc %d (want %d): %s\n", t[i].file, rc, t[i].code, lm_last_error());
      failures++;
    }
    assert_int_equal(access(tu_path(tmpdir, "bad.lm"), F_OK), -1);
  }
  assert_int_equal(failures, 0);
}

/* Every truncation and some one-byte mutations of a real joblib file and pickle: no crash, no
 * leak, an error or a model. */
static void test_mutations(void **state) {
  (void)state;
  static const char *const cases[] = {"xgb_clf_joblib_raw", "xgb_clf_p0", "xgb_clf_joblib_zlib"};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    FILE *f = fopen(model_file(cases[c]), "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    for (size_t cut = 0; cut < n; cut += 1 + cut / 64) {
      lm_ir_model *ir = NULL;
      int rc = lm__import_pickle(buf, cut, "m", &ir);
      if (!rc) lm_ir_free(ir);
    }
    uint32_t seed = 12345;
    for (int it = 0; it < 400; it++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 8) % n;
      uint8_t old = buf[at];
      buf[at] ^= (uint8_t)(1u << (seed % 8));
      lm_ir_model *ir = NULL;
      int rc = lm__import_pickle(buf, n, "m", &ir);
      if (!rc) lm_ir_free(ir);
      buf[at] = old;
    }
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parity),
      cmocka_unit_test(test_threshold_rule),
      cmocka_unit_test(test_lightgbm_best_iteration),
      cmocka_unit_test(test_objective_names),
      cmocka_unit_test(test_never_executed),
      cmocka_unit_test(test_walker),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_bad_estimators),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests_name("pickle", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
