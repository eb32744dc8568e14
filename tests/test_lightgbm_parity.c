/*
 * test_lightgbm_parity.c — LightGBM scoring end to end: importer (formats/import/lightgbm_txt.c)
 * → lm__lmf_write → file → lm_model_open, scored with lm_predict_f64 on the CSV doubles and with
 * lm_predict on the same rows rounded to float32, against tests/lgbm_reference.py (the oracle:
 * handmade models, tests/fixtures/lightgbm/handmade/) and against LightGBM's own outputs (real
 * models, tests/fixtures/lightgbm/real/). Tree decisions must be exact: margins are compared bit
 * for bit with the oracle's double margin rounded to float32, and lm_predict_leaf must give the
 * oracle's leaf in every tree; transformed values within 1e-6·max(1, |ref|).
 * tests/gen_lightgbm_fixtures.py regenerates the fixtures; shared helpers in tests/util_lightgbm.h.
 */
#include "tests/util_lightgbm.h"

/* ---- (c) end to end ------------------------------------------------------------------------ */

static lm_model *convert_open(lm_ir_model *ir, const char *tag) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = lm__lmf_write(ir, "test_lightgbm", &buf, &len);
  if (rc) print_error("%s: lm__lmf_write: %s\n", tag, lm_last_error());
  assert_int_equal(rc, 0);
  char path[256];
  snprintf(path, sizeof path, "%s/m.lm", tmpdir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  fclose(f);
  free(buf);
  lm_model *m = NULL;
  rc = lm_model_open(path, &m);
  if (rc) print_error("%s: lm_model_open: %s\n", tag, lm_last_error());
  assert_int_equal(rc, 0);
  unlink(path);
  return m;
}

static double *csv(const char *path, size_t *rows, size_t *cols) {
  double *v = NULL;
  char err[512];
  if (lm_csv_read_path(path, &v, rows, cols, err, sizeof err)) {
    print_error("%s\n", err);
    fail();
  }
  return v;
}

typedef struct parity {
  const char *name;
  size_t rows, outputs, trees;
  size_t margin_bad, value_bad, leaf_bad; /* f64 and f32 paths together */
  double worst_value;                     /* largest |ours − ref| / max(1, |ref|) */
} parity;

/* Compare out (rows × k floats) with ref (rows × k doubles): margins bit for bit with
 * (float)ref, values within 1e-6·max(1, |ref|). Prints the first few differences. */
static void compare(parity *p, const char *what, const double *x, size_t F, const float *out,
                    const double *ref, size_t rows, size_t k, int exact) {
  int shown = 0;
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < k; j++) {
      double want = ref[r * k + j], got = out[r * k + j];
      int bad;
      if (exact) {
        bad = fbits(out[r * k + j]) != fbits((float)want) &&
              !(isnan(got) && isnan(want));
      } else {
        /* a value beyond float32 range is ±inf in float32 */
        double err = got == (double)(float)want ? 0.0 : fabs(got - want) / fmax(1.0, fabs(want));
        bad = !(err <= 1e-6) && !(isnan(got) && isnan(want));
        if (err > p->worst_value && !isnan(err)) p->worst_value = err;
      }
      if (!bad) continue;
      if (exact) p->margin_bad++;
      else p->value_bad++;
      if (shown++ < 4) {
        char row[256];
        size_t o = 0;
        for (size_t f = 0; f < F && o < sizeof row - 30; f++)
          o += (size_t)snprintf(row + o, sizeof row - o, "%s%.17g", f ? "," : "", x[r * F + f]);
        print_error("  %s %s row %zu col %zu: got %.9g, want %.17g  [row %s]\n", p->name, what,
                    r, j, got, want, row);
      }
    }
}

/* Score one model both ways and compare. paths: model, rows, f64 margin / value references,
 * f32 margin / value / leaf references. */
static void run_parity(parity *p, const char *model, const char *rows_csv, const char *m64,
                       const char *v64, const char *m32, const char *v32, const char *l32) {
  lm_ir_model *ir = import_path(model);
  lm_model *m = convert_open(ir, p->name);
  lm_ir_free(ir);
  lm_session *s = NULL;
  assert_int_equal(lm_session_new(m, &s), 0);
  size_t F = lm_model_num_features(m), K = lm_model_num_outputs(m), T = lm_model_num_trees(m);
  size_t n, c;
  double *x = csv(rows_csv, &n, &c);
  assert_int_equal(c, F);
  assert_int_equal(lm_model_output_width(m, 0), K);
  p->rows = n, p->outputs = K, p->trees = T;
  float *xf = malloc(n * F * sizeof *xf);
  double *xr = malloc(n * F * sizeof *xr); /* the float32 rows, as doubles for messages */
  float *out = malloc(n * K * sizeof *out);
  uint32_t *leaf = malloc(n * T * sizeof *leaf);
  assert_true(xf && xr && out && leaf);
  for (size_t i = 0; i < n * F; i++) xf[i] = (float)x[i], xr[i] = xf[i];
  const char *refs[4] = {m64, v64, m32, v32};
  for (int pass = 0; pass < 4; pass++) {
    size_t rn, rk;
    double *ref = csv(refs[pass], &rn, &rk);
    assert_int_equal(rn, n);
    assert_int_equal(rk, K);
    unsigned flags = pass % 2 == 0 ? LM_PREDICT_MARGIN : 0;
    int rc = pass < 2 ? lm_predict_f64(s, x, n, flags, out) : lm_predict(s, xf, n, flags, out);
    assert_int_equal(rc, 0);
    static const char *const what[4] = {"f64 margin", "f64 value", "f32 margin", "f32 value"};
    compare(p, what[pass], pass < 2 ? x : xr, F, out, ref, n, K, pass % 2 == 0);
    free(ref);
  }
  size_t ln, lt;
  double *lref = csv(l32, &ln, &lt);
  assert_int_equal(ln, n);
  assert_int_equal(lt, T);
  assert_int_equal(lm_predict_leaf(s, xf, n, leaf), 0);
  int shown = 0;
  for (size_t i = 0; i < n * T; i++)
    if (leaf[i] != (uint32_t)lref[i]) {
      p->leaf_bad++;
      if (shown++ < 4)
        print_error("  %s f32 leaf row %zu tree %zu: got node %u, want %u\n", p->name, i / T,
                    i % T, leaf[i], (uint32_t)lref[i]);
    }
  free(lref);
  free(x), free(xf), free(xr), free(out), free(leaf);
  lm_session_free(s);
  lm_model_close(m);
}

static void report(const parity *p) {
  print_message("  %-30s rows %3zu outputs %zu trees %3zu: margins %s, leaves %s, values %s "
                "(worst rel. diff %.2g)\n",
                p->name, p->rows, p->outputs, p->trees, p->margin_bad ? "DIFFER" : "exact",
                p->leaf_bad ? "DIFFER" : "exact", p->value_bad ? "DIFFER" : "ok",
                p->worst_value);
}

static void run_handmade(const char *name, parity *p) {
  char b[7][1500];
  const char *d = fixture_dir();
  static const char *const ext[7] = {".txt",       ".csv",           ".margin.csv",
                                     ".value.csv", ".f32.margin.csv", ".f32.value.csv",
                                     ".f32.leaf.csv"};
  for (int i = 0; i < 7; i++) snprintf(b[i], sizeof b[i], "%s/handmade/%s%s", d, name, ext[i]);
  p->name = name;
  run_parity(p, b[0], b[1], b[2], b[3], b[4], b[5], b[6]);
  report(p);
}

/* The fixtures' MANIFEST: one line per model, "handmade NAME" or "real NAME". */
static FILE *open_manifest(void) {
  char path[1200];
  snprintf(path, sizeof path, "%s/MANIFEST", fixture_dir());
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  return f;
}

/* The next model of the given kind into name (200 bytes); 0 at the end. */
static int next_model(FILE *f, const char *kind, char *name) {
  char line[256], k[32];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%31s %199s", k, name) == 2 && !strcmp(k, kind)) return 1;
  return 0;
}

/* Every handmade model of the MANIFEST except tiny_values (below). */
static void test_handmade_parity(void **state) {
  (void)state;
  FILE *f = open_manifest();
  char name[200];
  size_t bad = 0, models = 0;
  while (next_model(f, "handmade", name)) {
    if (!strcmp(name, "tiny_values")) continue;
    parity p = {0};
    run_handmade(name, &p);
    bad += p.margin_bad + p.value_bad + p.leaf_bad;
    models++;
  }
  fclose(f);
  assert_true(models >= 15);
  assert_int_equal(bad, 0);
}

/* LightGBM's dense-row predictor drops every |x| <= kZeroThreshold (1e-35f) that is not NaN
 * before the trees see the row, so such values act as 0.0 in every split and linear leaf:
 * this model puts thresholds where that matters (0, -kZeroThreshold, -1e-36, 5e-36, all
 * missing types but Zero) and a linear leaf 1e30·x. */
static void test_tiny_values_parity(void **state) {
  (void)state;
  parity p = {0};
  run_handmade("tiny_values", &p);
  assert_int_equal(p.margin_bad + p.value_bad + p.leaf_bad, 0);
}

/* The real models: f64 rows against LightGBM's own outputs, f32 rows against the oracle. */
static void test_real_parity(void **state) {
  (void)state;
  FILE *f = open_manifest();
  char name[200];
  size_t bad = 0, models = 0;
  while (next_model(f, "real", name)) {
    char b[7][1500];
    static const char *const fn[7] = {"model.txt",          "input.csv",
                                      "expected_margin.csv", "expected_value.csv",
                                      "oracle_f32_margin.csv", "oracle_f32_value.csv",
                                      "oracle_f32_leaf.csv"};
    for (int i = 0; i < 7; i++)
      snprintf(b[i], sizeof b[i], "%s/real/%s/%s", fixture_dir(), name, fn[i]);
    parity p = {0};
    p.name = name;
    run_parity(&p, b[0], b[1], b[2], b[3], b[4], b[5], b[6]);
    report(&p);
    bad += p.margin_bad + p.value_bad + p.leaf_bad;
    models++;
  }
  fclose(f);
  assert_int_equal(models, 8);
  assert_int_equal(bad, 0);
}

/* The largest category (2^24 − 1) end to end: in the set → LightGBM's left (1.0). */
static void test_big_set_scoring(void **state) {
  (void)state;
  char *text = big_set_model((size_t)1 << 19, 0x80000000u);
  lm_ir_model *ir = import_ok(text);
  free(text);
  lm_model *m = convert_open(ir, "big set");
  lm_ir_free(ir);
  lm_session *s = NULL;
  assert_int_equal(lm_session_new(m, &s), 0);
  static const double x[] = {16777215.0, 16777215.5, 16777214.0, 16777216.0, NAN, -1.0, 0.0,
                             -0.5, 1e300, -16777215.0};
  static const float want64[] = {1, 1, 2, 2, 2, 2, 2, 2, 2, 2};
  /* as float32, 16777215.5 is 16777216: not in the set */
  static const float want32[] = {1, 2, 2, 2, 2, 2, 2, 2, 2, 2};
  size_t n = sizeof x / sizeof x[0];
  float xf[sizeof x / sizeof x[0]], out[sizeof x / sizeof x[0]];
  assert_int_equal(lm_predict_f64(s, x, n, LM_PREDICT_MARGIN, out), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(fbits(out[i]), fbits(want64[i]));
  for (size_t i = 0; i < n; i++) xf[i] = (float)x[i];
  assert_int_equal(lm_predict(s, xf, n, LM_PREDICT_MARGIN, out), 0);
  for (size_t i = 0; i < n; i++) assert_int_equal(fbits(out[i]), fbits(want32[i]));
  lm_session_free(s);
  lm_model_close(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handmade_parity),
      cmocka_unit_test(test_tiny_values_parity),
      cmocka_unit_test(test_real_parity),
      cmocka_unit_test(test_big_set_scoring),
  };
  return cmocka_run_group_tests_name("lightgbm_parity", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
