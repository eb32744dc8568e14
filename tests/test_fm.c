/*
 * test_fm.c — SageMaker Factorization Machines end to end: the importer
 * (formats/import/factorization_machines.c), the .lm FM section (writer and verifier), the
 * kernels (kernels/fm_*.c) and the tools.
 *
 * (a) Every synthetic artifact of tests/fixtures/fm/ (tests/gen_fm_fixtures.py: MXNet
 *     NDArray/ZIP layout built byte by byte, expected values computed in double; no real artifact
 *     was available) is converted from model.tar.gz and from the bare model_algo-1 through
 *     lm_convert, opened under LM_ISA=scalar, avx2 and avx512 (those this CPU has), checked to be
 *     planned on that ISA's FM kernel, and scored as one batch, row by row, as float32 and
 *     float64 rows, values and margins: |ours − expected| ≤ 1e-6·max(1, |expected|).
 * (b) Every FM kernel of the registry on random models (k from 1 to 100, so every block and tail
 *     shape; rows dense, sparse, with NaN) against the scalar reference, and the reference
 *     against the formula computed here in long double.
 * (c) lmconvert + lmscore (CSV with empty fields as missing) under LM_ISA=scalar and avx2,
 *     lminfo's "factors" line, and an embedded self-test (lmconvert --selftest) passing there.
 * (d) Refusals: every broken artifact of tests/fixtures/fm/bad/ names its field; the verifier
 *     refuses FM sections with a bad factor count, v offset, size or a non-finite weight.
 */
#include "tests/util_tools.h"

#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"

static const char *const fm_cases[] = {"binary-k8",     "regressor-k8",  "binary-k32",
                                       "regressor-k32", "binary-k64",    "regressor-k64",
                                       "regressor-k12-lpb"};
#define N_FM_CASES (sizeof fm_cases / sizeof fm_cases[0])
static const char *const isa_names[] = {"scalar", "avx2", "avx512"};

static double worst; /* the largest relative error seen against the expected values */

static void check_close(double got, double want, const char *what, size_t row) {
  double err = fabs(got - want) / fmax(1.0, fabs(want));
  if (err > worst) worst = err;
  if (!(err <= 1e-6)) fail_msg("%s: row %zu: got %.9g, expected %.17g", what, row, got, want);
}

/* Score rows (table t, NaN = missing) through the public API in every way, check them. */
static void score_all(lm_model *m, const table *rows, const table *want, const table *margin,
                      const char *what) {
  size_t n = rows->rows, F = rows->cols;
  assert_int_equal(lm_model_num_features(m), F);
  assert_int_equal(lm_model_num_outputs(m), 1);
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  float *x = malloc(sizeof *x * n * F), *out = malloc(sizeof *out * n);
  assert_non_null(x);
  assert_non_null(out);
  for (size_t i = 0; i < n * F; i++) x[i] = (float)rows->v[i];
  assert_int_equal(lm_predict(s, x, n, 0, out), 0);
  for (size_t r = 0; r < n; r++) check_close(out[r], want->v[r], what, r);
  assert_int_equal(lm_predict_f64(s, rows->v, n, 0, out), 0);
  for (size_t r = 0; r < n; r++) check_close(out[r], want->v[r], what, r);
  assert_int_equal(lm_predict(s, x, n, LM_PREDICT_MARGIN, out), 0);
  for (size_t r = 0; r < n; r++) check_close(out[r], margin->v[r], what, r);
  for (size_t r = 0; r < n; r++) {
    float one;
    assert_int_equal(lm_predict(s, x + r * F, 1, 0, &one), 0);
    check_close(one, want->v[r], what, r);
    assert_int_equal(lm_predict_f64(s, rows->v + r * F, 1, LM_PREDICT_MARGIN, &one), 0);
    check_close(one, margin->v[r], what, r);
  }
  free(x);
  free(out);
  lm_session_free(s);
}

static void test_fixtures(void **state) {
  (void)state;
  int cpu = lm__cpu_isa();
  for (size_t c = 0; c < N_FM_CASES; c++) {
    char dir[512], rel[600];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/fm/%s", src_dir, fm_cases[c]);
    snprintf(rel, sizeof rel, "%s/rows.csv", dir);
    table rows = load_csv(rel);
    snprintf(rel, sizeof rel, "%s/expected.csv", dir);
    table want = load_csv(rel);
    snprintf(rel, sizeof rel, "%s/expected_margin.csv", dir);
    table margin = load_csv(rel);
    assert_int_equal(want.rows, rows.rows);
    for (int src = 0; src < 2; src++) {
      char in[700], *lm = tpath("fm.lm");
      snprintf(in, sizeof in, "%s/%s", dir, src ? "model_algo-1" : "model.tar.gz");
      if (lm_convert(in, lm, NULL) != 0) fail_msg("%s: %s", in, lm_last_error());
      for (int isa = 0; isa <= cpu && isa < 3; isa++) {
        setenv("LM_ISA", isa_names[isa], 1);
        lm_model *m;
        if (lm_model_open(lm, &m) != 0) fail_msg("%s: %s", lm, lm_last_error());
        lm_model_info info;
        assert_int_equal(lm_model_get_info(m, &info), 0);
        char kname[64], what[800];
        snprintf(kname, sizeof kname, "fm_margin__%s", isa_names[isa]);
        assert_string_equal(info.kernel, kname);
        assert_string_equal(info.booster, "fm");
        assert_string_equal(info.source_format, "factorization-machines");
        assert_int_equal(info.format_minor, LMF_MINOR);
        assert_true(info.num_factors > 0);
        assert_int_equal(info.num_trees, 0);
        assert_non_null(strstr(info.objective, strstr(fm_cases[c], "binary")
                                                   ? "factorization-machines:binary_classifier"
                                                   : "factorization-machines:regressor"));
        snprintf(what, sizeof what, "%s (%s)", in, kname);
        score_all(m, &rows, &want, &margin, what);
        /* contributions are not defined for an FM: refused, not garbage */
        lm_session *s;
        assert_int_equal(lm_session_new(m, &s), 0);
        float *o = calloc(rows.cols + 1, sizeof *o);
        assert_non_null(o);
        assert_int_equal(lm_predict_contrib(s, o, 1, o), LM_EUNSUPPORTED);
        free(o);
        lm_session_free(s);
        lm_model_close(m);
      }
      unsetenv("LM_ISA");
      unlink(lm);
      free(lm);
    }
    table_free(&rows), table_free(&want), table_free(&margin);
  }
  print_message("FM fixtures: largest relative error %.3g (bound 1e-6)\n", worst);
}

/* ---- (b) kernels against the reference ------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* xorshift64*, [0, 1) */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* A random FM written and verified: the image (free it) and its view. */
static uint8_t *random_fm(uint32_t F, uint32_t k, int binary, lmf_view *v) {
  lm_ir_model *ir = lm_ir_new();
  assert_non_null(ir);
  snprintf(ir->source_format, sizeof ir->source_format, "factorization-machines");
  snprintf(ir->source_version, sizeof ir->source_version, "test");
  snprintf(ir->objective, sizeof ir->objective, "factorization-machines:%s",
           binary ? "binary_classifier" : "regressor");
  ir->booster = LM_BOOSTER_FM;
  ir->num_features = F, ir->num_outputs = 1, ir->fm_factors = k;
  ir->fm_w0 = (float)(urand() - 0.5);
  ir->fm_w = malloc(sizeof(float) * F);
  ir->fm_v = malloc(sizeof(float) * F * k);
  for (uint32_t i = 0; i < F; i++) ir->fm_w[i] = (float)(urand() - 0.5);
  for (uint32_t i = 0; i < F * k; i++) ir->fm_v[i] = (float)((urand() - 0.5) * 0.4);
  uint8_t *img;
  size_t len;
  assert_int_equal(lm__lmf_write(ir, "test", &img, &len), 0);
  lm_ir_free(ir);
  if (lm__lmf_verify(img, len, "random", v) != 0) fail_msg("verify: %s", lm_last_error());
  return img;
}

/* The formula in long double, straight from the issue. */
static long double formula(const lmf_view *v, const float *row) {
  size_t F = v->meta->num_features, k = v->fm->num_factors;
  long double s = v->fm->w0, pair = 0;
  for (size_t i = 0; i < F; i++)
    if (!isnan(row[i])) s += (long double)v->fm_w[i] * row[i];
  for (size_t f = 0; f < k; f++) {
    long double a = 0, b = 0;
    for (size_t i = 0; i < F; i++) {
      if (isnan(row[i])) continue;
      long double vi = v->fm_v[i * k + f], xi = row[i];
      a += vi * xi;
      b += vi * vi * xi * xi;
    }
    pair += a * a - b;
  }
  return s + 0.5L * pair;
}

static void test_kernels(void **state) {
  (void)state;
  static const uint32_t ks[] = {1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 47, 64, 100};
  static const uint32_t Fs[] = {1, 7, 50};
  int cpu = lm__cpu_isa();
  double worst_k = 0, worst_f = 0;
  size_t checked = 0;
  for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
    for (size_t b = 0; b < sizeof Fs / sizeof *Fs; b++) {
      uint32_t k = ks[a], F = Fs[b];
      lmf_view v;
      uint8_t *img = random_fm(F, k, (a + b) % 2, &v);
      const size_t n = 37;
      float *x = malloc(sizeof *x * n * F), *ref = malloc(sizeof *ref * n),
            *got = malloc(sizeof *got * n);
      for (size_t i = 0; i < n * F; i++) {
        double u = urand();
        size_t r = i / F;
        x[i] = r % 3 == 1 ? (u < 0.85 ? 0.0f : (float)(urand() * 4 - 2)) /* sparse */
               : r % 3 == 2 && u < 0.25 ? NAN                            /* missing */
                                        : (float)(u * 2 - 1);            /* dense */
      }
      const lm__layouts none = {NULL, NULL};
      lm__fm_margin__scalar(&v, &none, x, n, ref, NULL);
      for (size_t r = 0; r < n; r++) {
        long double f = formula(&v, x + r * F);
        double e = (double)(fabsl((long double)ref[r] - f) / fmaxl(1.0L, fabsl(f)));
        if (e > worst_f) worst_f = e;
        if (!(e <= 1e-6)) fail_msg("F %u k %u row %zu: reference %.9g, formula %.17Lg", F, k, r, ref[r], f);
      }
      for (const lm__kernel *kk = lm__kernels; kk->name; kk++) {
        if (kk->family != LM_FAM_FM || !lm__kernel_usable(kk, &v, &none, cpu, 0, NULL)) continue;
        kk->f32(&v, &none, x, n, got, NULL);
        for (size_t r = 0; r < n; r++) {
          double e = fabs((double)got[r] - ref[r]) / fmax(1.0, fabs(ref[r]));
          if (e > worst_k) worst_k = e;
          if (!(e <= 1e-6))
            fail_msg("%s: F %u k %u row %zu: %.9g, reference %.9g", kk->name, F, k, r, got[r],
                     ref[r]);
        }
        checked++;
      }
      free(x), free(ref), free(got), free(img);
    }
  assert_true(checked >= 17 * 3); /* at least the reference itself on every shape */
  print_message("FM kernels: %zu kernel x shape runs; largest relative difference from the "
                "reference %.3g; reference vs long-double formula %.3g\n",
                checked, worst_k, worst_f);
}

/* ---- (c) the tools ------------------------------------------------------------------- */

static void test_tools(void **state) {
  (void)state;
  char *in = spath("tests/fixtures/fm/binary-k32/model.tar.gz");
  char *rows = spath("tests/fixtures/fm/binary-k32/rows.csv");
  char *exp = spath("tests/fixtures/fm/binary-k32/expected.csv");
  char *lm = tpath("tool.lm");
  result r = RUN(NULL, "lmconvert", in, "-o", lm);
  if (r.status != 0) fail_msg("lmconvert: %s", r.err);
  assert_true(strstr(r.out, "factorization-machines:binary_classifier") ||
              strstr(r.err, "factorization-machines:binary_classifier"));
  result_free(&r);
  table want = load_csv(exp);
  static const char *const caps[] = {"LM_ISA=scalar", "LM_ISA=avx2"};
  for (int i = 0; i < 2; i++) {
    putenv((char *)caps[i]);
    r = RUN(NULL, "lmscore", lm, rows);
    if (r.status != 0) fail_msg("lmscore: %s", r.err);
    table got = parse_text(r.out, r.out_len);
    assert_tables_match(&got, &want, 0, caps[i]);
    table_free(&got);
    result_free(&r);
    r = RUN(NULL, "lminfo", lm);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "factors:"));
    assert_non_null(strstr(r.out, i == 0 ? "fm_margin__scalar" : "fm_margin__avx"));
    result_free(&r);
  }
  unsetenv("LM_ISA");
  /* an embedded self-test (expected values from the scalar reference) passes on every ISA */
  char *st = tpath("st.lm");
  r = RUN(NULL, "lmconvert", in, "-o", st, "--selftest", rows);
  if (r.status != 0) fail_msg("lmconvert --selftest: %s", r.err);
  result_free(&r);
  for (int i = 0; i < 2; i++) {
    putenv((char *)caps[i]);
    r = RUN(NULL, "lminfo", st, "--selftest");
    if (r.status != 0 || !strstr(r.out, "self-test:           passed (35 rows"))
      fail_msg("%s lminfo --selftest: %s%s", caps[i], r.out, r.err);
    result_free(&r);
  }
  unsetenv("LM_ISA");
  free(st);
  table_free(&want);
  free(in), free(rows), free(exp), free(lm);
}

/* ---- (d) refusals -------------------------------------------------------------------- */

static void test_bad_artifacts(void **state) {
  (void)state;
  char *readme = spath("tests/fixtures/fm/bad/README.txt");
  size_t len;
  char *text = slurp(readme, &len);
  assert_non_null(text);
  int n = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = '\0';
    char rel[300], *out = tpath("bad.lm");
    snprintf(rel, sizeof rel, "tests/fixtures/fm/bad/%s", line);
    char *in = spath(rel);
    int rc = lm_convert(in, out, NULL);
    if (rc == 0) fail_msg("%s: converted", line);
    if (!strstr(lm_last_error(), tab + 1) || !strstr(lm_last_error(), line))
      fail_msg("%s: error '%s' does not name '%s' and the file", line, lm_last_error(), tab + 1);
    assert_int_equal(access(out, F_OK), -1); /* nothing left behind */
    free(in), free(out);
    n++;
  }
  assert_int_equal(n, 11);
  free(text), free(readme);
}

static void expect_refused(uint8_t *img, size_t len, const char *needle) {
  lm__lmf_seal(img, len);
  lmf_view v;
  int rc = lm__lmf_verify(img, len, "mutated.lm", &v);
  if (rc == 0) fail_msg("accepted a file with %s", needle);
  if (!strstr(lm_last_error(), needle))
    fail_msg("error '%s' does not say '%s'", lm_last_error(), needle);
}

static void test_verifier(void **state) {
  (void)state;
  lmf_view v;
  uint8_t *img = random_fm(5, 3, 1, &v);
  size_t len = v.size;
  lmf_section *tab = (lmf_section *)(img + 64);
  lmf_fm *fh = NULL;
  for (uint32_t i = 0; i < ((lmf_header *)img)->n_sections; i++)
    if (tab[i].kind == LMF_FM) {
      fh = (lmf_fm *)(img + tab[i].offset);
      assert_int_equal(tab[i].flags, LMF_SECTION_REQUIRED);
    }
  assert_non_null(fh);
  uint8_t *m = aligned_alloc(64, len); /* the verifier wants 64-byte aligned images */
  assert_non_null(m);
  lmf_fm *mf = (lmf_fm *)(m + ((uint8_t *)fh - img));
  memcpy(m, img, len), mf->num_factors = 0, expect_refused(m, len, "FM.num_factors 0");
  memcpy(m, img, len), mf->num_factors = 4, expect_refused(m, len, "FM section");
  memcpy(m, img, len), mf->v_offset += 64, expect_refused(m, len, "FM section");
  memcpy(m, img, len), mf->num_features = 6, expect_refused(m, len, "FM.num_features 6");
  memcpy(m, img, len), mf->w0 = INFINITY, expect_refused(m, len, "FM.w0");
  memcpy(m, img, len), ((float *)((uint8_t *)mf + mf->v_offset))[7] = NAN,
      expect_refused(m, len, "FM v[2, 1]");
  memcpy(m, img, len), mf->reserved[3] = 1, expect_refused(m, len, "FM.reserved[3]");
  /* an FM objective on a model kind that is not an FM, and the reverse */
  lmf_meta *meta = NULL;
  for (uint32_t i = 0; i < ((lmf_header *)img)->n_sections; i++)
    if (tab[i].kind == LMF_META) meta = (lmf_meta *)(m + tab[i].offset);
  memcpy(m, img, len), meta->objective = 21, meta->link = 0, expect_refused(m, len, "does not match model_kind");
  memcpy(m, img, len), meta->num_outputs = 2, expect_refused(m, len, "one output");
  free(m);
  free(img);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures),      cmocka_unit_test(test_kernels),
      cmocka_unit_test(test_tools),         cmocka_unit_test(test_bad_artifacts),
      cmocka_unit_test(test_verifier),
  };
  return cmocka_run_group_tests_name("fm", tests, group_setup, group_teardown);
}
