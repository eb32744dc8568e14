/*
 * test_linear_learner.c — the SageMaker Linear Learner importer (formats/import/linear_learner.c).
 *
 * (a) Every real artifact under tests/fixtures/linear-learner/ (copied with their origin READMEs
 *     from ../shared/fixtures/linear-learner/: five models from four public repositories,
 *     binary_classifier and regressor, bias-first and weight-first params): import → IR checked
 *     field by field, weights and bias bit-exact against the README's printed weights (9
 *     significant digits: exact for float32) or, where the README gives only aggregates, against
 *     a fixed-offset decode of the repository's separately committed `mx-mod-0000.params` plus
 *     those aggregates; then write (lm__lmf_write) → lm_model_open on a temporary file under each
 *     ISA (LM_ISA=scalar/avx2/avx512) → score rows in a batch, one at a time and as float64, values
 *     and margins, compared with scores computed here in double from the README's weights:
 *     |ours − ref| ≤ 1e-6·max(1, |ref|) (see F32SUM below for the one documented exception), and
 *     with the reference values the README quotes, within their printed precision. model.tar.gz
 *     goes through lm__artifact_read (sagemaker.c) to the same importer.
 * (b) Synthetic ZIPs built here with libarchive's writer from the real members, with the params
 *     written by a small NDArray writer: other array layouts (v1, v3, legacy), deflated members,
 *     another epoch number, bias of shape (1,), and the multiclass form (UNCONFIRMED: no real
 *     artifact exists; SoftmaxOutput, weights (F, K)) scored against softmax in double.
 * Bad inputs: test_linear_learner_bad.c; shared helpers (fixtures, an independent decode of the
 * params, rows and references, a ZIP and NDArray writer): tests/util_linear_learner.h.
 */
#include "tests/util_linear_learner.h"

/* ---- (a) the real artifacts ------------------------------------------------------------- */

#define ROMEO_W                                                                                    \
  "0.00552360062, 0.575367808, 0.0117864115, 0.000523784896, -0.932584822, 0.108146608, "          \
  "1.0480361, 0.126528263, 1.24997705e-05, -0.168683067, -0.117621265, -0.345431983, "             \
  "-0.00889469683, -0.103983566, 0.000801408198, 1.53084064, 0.176522106, 0.179013446, "           \
  "-0.134312481, 0.00825778861"

static const row_spec romeo_rows[] = {
    {"EmployeeID 8410", ROW_VALUES, "31,1,19,0,1,0,1,0,5390,0,2,0,22,1,89,0,0,0,0,2", 0, 0, 0, 0,
     "0.696378", 0},
    {"EmployeeID 64756", ROW_VALUES, "59,0,4,3,0,3,1,3,5534,3,0,0,21,1,21,0,0,0,1,1", 0, 0, 0, 0,
     "0.804335", 0},
    {"EmployeeID 30257", ROW_VALUES, "24,0,10,2,1,1,1,3,8159,2,0,0,11,1,74,0,0,0,3,1", 0, 0, 0, 0,
     "0.551292", 0},
    {"EmployeeID 65791", ROW_VALUES, "36,0,7,0,2,2,1,2,3989,2,0,0,27,2,50,1,0,0,2,2", 0, 0, 0, 0,
     "0.654879", 0},
    {"EmployeeID 65026", ROW_VALUES, "56,1,41,0,0,2,2,0,4821,1,3,1,71,1,68,0,0,0,1,2", 0, 0, 0, 0,
     "0.900122", 0},
    {"zeros", ROW_ZEROS, NULL, 0, 0, 0, 0, "0.53091344287514", 0},
    {"ones", ROW_ONES, NULL, 0, 0, 0, 0, "0.88930487022775", 0},
    {"random 1", ROW_RANDOM, NULL, 0, 4, 0.8, 11, NULL, 0},
    {"random 2", ROW_RANDOM, NULL, -1, 3, 0.5, 12, NULL, 0},
    {"income only", ROW_VALUES, "0,0,0,0,0,0,0,0,20000,0,0,0,0,0,0,0,0,0,0,0", 0, 0, 0, 0, NULL, 0},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0},
};

static const row_spec jose_rows[] = {
    {"zeros", ROW_ZEROS, NULL, 0, 0, 0, 0, "0.33006320341965", 0},
    {"ones", ROW_ONES, NULL, 0, 0, 0, 0, "0.31287908077255", 0},
    {"z-scores 1", ROW_RANDOM, NULL, -2, 2, 1, 21, NULL, 0},
    {"z-scores 2", ROW_RANDOM, NULL, -3, 3, 1, 22, NULL, 0},
    {"passenger", ROW_VALUES, "0.84, -0.25, 0.48, -0.44, -0.5", 0, 0, 0, 0, NULL, 0},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0},
};

static const row_spec jose_tar_rows[] = {
    {"zeros", ROW_ZEROS, NULL, 0, 0, 0, 0, "0.37960069297859", 0},
    {"ones", ROW_ONES, NULL, 0, 0, 0, 0, "0.34034408129992", 0},
    {"z-scores", ROW_RANDOM, NULL, -2, 2, 1, 31, NULL, 0},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0},
};

static const row_spec fake_rows[] = {
    {"zeros", ROW_ZEROS, NULL, 0, 0, 0, 0, "0.19516616360695", 0},
    {"largest weight", ROW_ONEHOT_MAX, NULL, 0, 0, 0, 0, NULL, 0},
    {"smallest weight", ROW_ONEHOT_MIN, NULL, 0, 0, 0, 0, NULL, 0},
    {"tf-idf 1", ROW_RANDOM, NULL, 0, 0.4, 0.01, 41, NULL, 0},
    {"tf-idf 2", ROW_RANDOM, NULL, 0, 0.2, 0.03, 42, NULL, 0},
    {"tf-idf 3", ROW_RANDOM, NULL, 0, 0.1, 0.002, 43, NULL, 0},
    {"ones", ROW_ONES, NULL, 0, 0, 0, 0, NULL, 0},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0},
};

static const row_spec covid_rows[] = {
    {"zeros", ROW_ZEROS, NULL, 0, 0, 0, 0, "-1055.3748779296875", 0},
    {"ones", ROW_ONES, NULL, 0, 0, 0, 0, "-614.13525693566", F32SUM},
    {"small values", ROW_RANDOM, NULL, 0, 1, 0.5, 51, NULL, 0},
    {"date and fips", ROW_RANDOM, NULL, 0, 0.01, 0.1, 52, NULL, 0},
    {NULL, 0, NULL, 0, 0, 0, 0, NULL, 0},
};

static const artifact artifacts[] = {
    {"Romeoorg attrition (binary, 20 features, weight-first)", ROMEO "model_algo-1",
     ROMEO "model.tar.gz", ROMEO "model_algo-1", "linear-learner:binary_classifier",
     "mxnet 1.3.1", 20, ROMEO_W, "0.123811692", ROMEO "extracted/mx-mod-0000.params", 0,
     romeo_rows},
    {"joseanpz committed model_algo-1 (binary, 5 features, bias-first)", JOSE "model_algo-1", NULL,
     NULL, "linear-learner:binary_classifier", "mxnet 1.0.0", 5,
     "-0.0860900208, -0.0709886774, -0.00471010804, 0.0356145278, 0.0473799966", "-0.707899213",
     JOSE "extracted_model_algo-1/mx-mod-0000.params", 1, jose_rows},
    {"joseanpz model.tar.gz member (binary, 5 features, bias-first)",
     JOSE "model_algo-1.from_model.tar.gz", JOSE "model.tar.gz",
     JOSE "model_algo-1.from_model.tar.gz", "linear-learner:binary_classifier", "mxnet 1.0.0", 5,
     "-0.33288151, -0.188832745, -0.0625369847, 0.121988639, 0.291744769", "-0.491243422",
     JOSE "extracted_from_model.tar.gz/mx-mod-0000.params", 1, jose_tar_rows},
    {"maximelavech fake news (binary, 5000 features)", FAKE "model_algo-1", FAKE "model.tar.gz",
     FAKE "model_algo-1", "linear-learner:binary_classifier", "mxnet 1.3.1", 5000, NULL, NULL,
     FAKE "extracted/mx-mod-0000.params", 1, fake_rows},
    {"nschmeller covid (regressor, 513 features)", COVID "model_algo-1", COVID "model.tar.gz",
     COVID "model_algo-1", "linear-learner:regressor", "mxnet 1.3.1", 513, NULL, NULL,
     COVID "extracted/mx-mod-0000.params", 1, covid_rows},
};

/* What each README says about weights it does not list. */
static void readme_aggregates(const artifact *a, const double *w, double b) {
  uint32_t F = a->F;
  if (strstr(a->label, "fake news")) {
    /* fc0_bias (1,1) = -1.416785; fc0_weight min -54.6151 max 56.2068 sum -1262.81 */
    double mn = w[0], mx = w[0], sum = 0;
    for (uint32_t f = 0; f < F; f++) {
      mn = fmin(mn, w[f]);
      mx = fmax(mx, w[f]);
      sum += w[f];
    }
    assert_true(fabs(b - -1.416785) <= 5e-7);
    assert_true(fabs(mn - -54.6151) <= 5e-5);
    assert_true(fabs(mx - 56.2068) <= 5e-5);
    assert_true(fabs(sum - -1262.81) <= 5e-3);
  } else if (strstr(a->label, "covid")) {
    /* fc0_bias = -1055.3748779296875; w[0] = 4.676e-07, w[1] = -6.739e-05 */
    assert_true(b == -1055.3748779296875);
    assert_true(fabs(w[0] - 4.676e-07) <= 5e-11);
    assert_true(fabs(w[1] - -6.739e-05) <= 5e-9);
  }
}

/* Half a unit in the last place the README printed (for "0.696378": 5e-7). */
static double printed_half_ulp(const char *s) {
  const char *dot = strchr(s, '.');
  if (!dot) return 0.5;
  size_t d = strspn(dot + 1, "0123456789");
  return 0.5 * pow(10.0, -(double)d);
}

typedef struct score_stats {
  size_t checked;
  double worst_rel; /* largest |ours − ref| / max(1, |ref|) among non-F32SUM rows */
  char worst[96];   /* where */
  double f32sum_err, f32sum_tol; /* the largest error on an F32SUM row, and its tolerance */
} score_stats;

static void check_value(const char *what, const artifact *a, const row_spec *r, double ref,
                        double ours, double tol, int record, score_stats *st) {
  double err = fabs(ours - ref);
  if (!(err <= tol)) {
    print_error("%s: %s row '%s': ours %.9g, reference %.12g, |diff| %.3g > %.3g\n", a->label,
                what, r->label, ours, ref, err, tol);
    fail();
  }
  if (record && !(r->flags & F32SUM)) {
    double rel = err / fmax(1.0, fabs(ref));
    if (rel > st->worst_rel) {
      st->worst_rel = rel;
      snprintf(st->worst, sizeof st->worst, "%s, %s", r->label, what);
    }
  }
  if (record && (r->flags & F32SUM) && err > st->f32sum_err) {
    st->f32sum_err = err;
    st->f32sum_tol = tol;
  }
  st->checked++;
}

/* Score the rows of artifact a with the .lm at path under the ISA cap isa. */
static void score_rows(const artifact *a, const char *path, const char *isa, const double *w,
                       double b, score_stats *st) {
  /* The plan is made at open: cap the ISA for this model, then restore the caller's setting. */
  const char *prev = getenv("LM_ISA");
  char *saved = prev ? strdup(prev) : NULL;
  assert_int_equal(setenv("LM_ISA", isa, 1), 0);
  lm_model *m = NULL;
  int rc = lm_model_open(path, &m);
  if (saved) setenv("LM_ISA", saved, 1);
  else unsetenv("LM_ISA");
  free(saved);
  if (rc) print_error("lm_model_open: %s\n", lm_last_error());
  assert_int_equal(rc, 0);
  assert_int_equal(lm_model_num_features(m), a->F);
  assert_int_equal(lm_model_num_outputs(m), 1);
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_string_equal(info.source_format, "linear-learner");
  assert_string_equal(info.source_version, a->version);
  assert_string_equal(info.objective, a->objective);
  assert_int_equal(info.num_trees, 0);
  int binary = strstr(a->objective, "binary") != NULL;
  lm_session *s = NULL;
  assert_int_equal(lm_session_new(m, &s), 0);

  size_t n = 0;
  while (a->rows[n].label) n++;
  uint32_t F = a->F;
  double *xd = malloc(sizeof *xd * n * F);
  float *xf = malloc(sizeof *xf * n * F);
  double *mref = malloc(sizeof *mref * n), *tol = malloc(sizeof *tol * n);
  float *out = malloc(sizeof *out * n), *one = malloc(sizeof *one);
  assert_true(xd && xf && mref && tol && out && one);
  for (size_t i = 0; i < n; i++) {
    const row_spec *r = &a->rows[i];
    make_row(r, F, w, xd + i * F);
    double mg = b, mag = fabs(b);
    for (uint32_t f = 0; f < F; f++) {
      xf[i * F + f] = (float)xd[i * F + f];
      mg += xd[i * F + f] * w[f];
      mag += fabs(xd[i * F + f] * w[f]);
    }
    mref[i] = mg;
    tol[i] = 1e-6 * fmax(1.0, fabs(mg));
    if (r->flags & F32SUM) {
      double bound = (F + 1.0) * ldexp(1.0, -24) * mag;
      assert_true(bound > tol[i]); /* otherwise the flag is not needed */
      tol[i] = bound;
    }
  }
  for (int pass = 0; pass < 6; pass++) {
    unsigned flags = pass & 1 ? LM_PREDICT_MARGIN : 0;
    int f64 = pass >= 4, single = pass == 2 || pass == 3;
    if (single) {
      for (size_t i = 0; i < n; i++) {
        assert_int_equal(lm_predict(s, xf + i * F, 1, flags, one), 0);
        out[i] = *one;
      }
    } else if (f64) {
      assert_int_equal(lm_predict_f64(s, xd, n, flags, out), 0);
    } else {
      assert_int_equal(lm_predict(s, xf, n, flags, out), 0);
    }
    char what[64];
    snprintf(what, sizeof what, "%s %s %s", isa, single ? "single" : f64 ? "f64" : "batch",
             flags ? "margin" : "value");
    for (size_t i = 0; i < n; i++) {
      const row_spec *r = &a->rows[i];
      double ref = mref[i], t = tol[i];
      if (binary && !flags) {
        ref = sigmoid(mref[i]);
        /* 1e-6·max(1, ref) = 1e-6; under F32SUM the margin bound times sigmoid' ≤ 1/4 */
        t = r->flags & F32SUM ? fmax(1e-6, 0.25 * tol[i]) : 1e-6;
      }
      check_value(what, a, r, ref, out[i], t, 1, st);
      /* The value the README quotes, within the precision it was printed with. */
      if (r->readme && (!binary || !flags)) {
        double q = strtod(r->readme, NULL);
        check_value("README", a, r, q, out[i], printed_half_ulp(r->readme) + t, 0, st);
        check_value("README vs ours in double", a, r, q, ref,
                    printed_half_ulp(r->readme) + 1e-12 * fmax(1, fabs(q)), 0, st);
      }
    }
  }
  free(xd), free(xf), free(mref), free(tol), free(out), free(one);
  lm_session_free(s);
  lm_model_close(m);
}

/* The IR of a real artifact, checked; *w_out / *b_out: the reference weights in double. */
static void check_ir(const artifact *a, const lm_ir_model *m, double *w, double *b) {
  assert_string_equal(m->source_format, "linear-learner");
  assert_string_equal(m->source_version, a->version);
  assert_string_equal(m->objective, a->objective);
  assert_int_equal(m->booster, LM_BOOSTER_LINEAR);
  assert_int_equal(fbits(m->base_score), fbits(0.0f));
  assert_int_equal(m->num_features, a->F);
  assert_int_equal(m->num_outputs, 1);
  assert_int_equal(m->n_trees, 0);
  assert_null(m->trees);
  assert_non_null(m->linear_weights);
  uint32_t F = a->F;
  /* Independent decode of the separately committed params file. */
  size_t plen;
  uint8_t *pd = slurp(a->params, &plen);
  float *pw = malloc(sizeof *pw * F), pb;
  assert_non_null(pw);
  fixed_params(pd, plen, a->bias_first, F, pw, &pb);
  for (uint32_t f = 0; f < F; f++) assert_int_equal(fbits(m->linear_weights[f]), fbits(pw[f]));
  assert_int_equal(fbits(m->linear_weights[F]), fbits(pb));
  if (a->w_text) {
    /* The README's printed weights: 9 significant digits name each float exactly. The
     * reference uses those floats (in double), as the README's own computation did. */
    assert_int_equal(parse_list(a->w_text, w, F), F);
    *b = (float)strtod(a->b_text, NULL);
    for (uint32_t f = 0; f < F; f++) {
      w[f] = (float)w[f];
      assert_int_equal(fbits(m->linear_weights[f]), fbits((float)w[f]));
    }
    assert_int_equal(fbits(m->linear_weights[F]), fbits((float)*b));
  } else {
    for (uint32_t f = 0; f < F; f++) w[f] = pw[f];
    *b = pb;
  }
  readme_aggregates(a, w, *b);
  free(pw);
  free(pd);
}

static void test_real_artifacts(void **state) {
  (void)state;
  static const char *const isas[] = {"scalar", "avx2", "avx512"};
  for (size_t k = 0; k < sizeof artifacts / sizeof *artifacts; k++) {
    const artifact *a = &artifacts[k];
    size_t len;
    uint8_t *d = slurp(a->zip, &len);
    lm_ir_model *m = import_ok(d, len, "model_algo-1");
    double *w = malloc(sizeof *w * a->F), b;
    assert_non_null(w);
    check_ir(a, m, w, &b);
    const char *path = write_lm(m, "real.lm");
    score_stats st = {0};
    for (size_t i = 0; i < 3; i++) score_rows(a, path, isas[i], w, b, &st);
    print_message("  %s: %zu checks; worst |diff|/max(1,|ref|) %.2g (%s)\n", a->label,
                  st.checked, st.worst_rel, st.worst);
    if (st.f32sum_tol > 0)
      print_message("    F32SUM row: largest |diff| %.3g within its bound %.3g\n", st.f32sum_err,
                    st.f32sum_tol);
    lm_ir_free(m);
    free(d);

    /* model.tar.gz → lm__artifact_read → the same importer. */
    if (a->tar) {
      char tpath[1400];
      snprintf(tpath, sizeof tpath, "%s/" FIX "%s", src, a->tar);
      uint8_t *td = NULL;
      size_t tlen = 0;
      char *disp = NULL;
      int rc = lm__artifact_read(tpath, NULL, &td, &tlen, &disp);
      if (rc) print_error("lm__artifact_read: %s\n", lm_last_error());
      assert_int_equal(rc, 0);
      assert_non_null(strstr(disp, "model.tar.gz:model_algo-1"));
      size_t elen;
      uint8_t *expect = slurp(a->tar_member, &elen);
      assert_int_equal(tlen, elen);
      assert_memory_equal(td, expect, elen);
      m = import_ok(td, tlen, disp);
      check_ir(a, m, w, &b);
      lm_ir_free(m);
      free(expect);
      free(td);
      free(disp);
    }
    free(w);
  }
}

/* ---- (b) synthetic inputs that must work ------------------------------------------------- */

static void test_layouts(void **state) {
  (void)state;
  base B;
  base_load(&B);
  /* The real params, rebuilt by our writer in v2 weight-first order: byte-identical. */
  buf p = base_params(&B, 2, 0, 0);
  assert_int_equal(p.n, B.params_len);
  assert_memory_equal(p.p, B.params, p.n);
  free(p.p);
  for (int layout = 0; layout <= 3; layout++)
    for (int bias_first = 0; bias_first < 2; bias_first++)
      for (int b1d = 0; b1d < 2; b1d++)
        for (int store = 0; store < 2; store++) {
          p = base_params(&B, layout, bias_first, b1d);
          size_t len;
          /* The symbol's __shape__ says (1, 1): for a (1,) bias drop it. */
          char *sym = b1d ? subst(B.symbol, "\"__shape__\": \"(1, 1)\"", "\"__shape__\": \"(1,)\"")
                          : NULL;
          uint8_t *z = zip4(&B, sym, NULL, NULL, p.p, p.n, store, &len);
          lm_ir_model *m = import_ok(z, len, "synthetic");
          assert_base_ir(&B, m);
          lm_ir_free(m);
          free(z), free(p.p), free(sym);
        }
  /* Another epoch number, members in another order, a directory entry, an unrelated member. */
  zmember mem[] = {
      {"mx-mod-symbol.json", B.symbol, (size_t)-1},
      {"README", "hello", (size_t)-1},
      {"mx-mod-0012.params", B.params, B.params_len},
      {"manifest.json", B.manifest, (size_t)-1},
      {"additional-params.json", B.addp, (size_t)-1},
  };
  size_t len;
  uint8_t *z = make_zip(mem, 5, 1, &len);
  lm_ir_model *m = import_ok(z, len, "epoch 12");
  assert_base_ir(&B, m);
  lm_ir_free(m);
  free(z);
  /* mx-mod-0000.params wins over another epoch. */
  zmember mem2[] = {
      {"mx-mod-symbol.json", B.symbol, (size_t)-1},
      {"mx-mod-0003.params", "junk", (size_t)-1},
      {"mx-mod-0000.params", B.params, B.params_len},
      {"manifest.json", B.manifest, (size_t)-1},
      {"additional-params.json", B.addp, (size_t)-1},
  };
  z = make_zip(mem2, 5, 1, &len);
  m = import_ok(z, len, "two epochs");
  assert_base_ir(&B, m);
  lm_ir_free(m);
  free(z);
  /* No mxnet_version: "unknown"; broadcast_plus alias; transpose flags written as False. */
  char *s1 = subst(B.symbol, "\"attrs\": {\"mxnet_version\": [\"int\", 10301]}", "\"attrs\": {}");
  char *s2 = subst(s1, "\"op\": \"broadcast_add\"", "\"op\": \"broadcast_plus\"");
  char *s3 = subst(s2, "\"op\": \"dot\", ",
                   "\"op\": \"dot\", \"attrs\": {\"transpose_a\": \"False\", \"transpose_b\": "
                   "\"false\"}, ");
  z = zip4(&B, s3, NULL, NULL, NULL, 0, 1, &len);
  m = import_ok(z, len, "variants");
  assert_base_ir(&B, m);
  assert_string_equal(m->source_version, "unknown");
  lm_ir_free(m);
  free(z), free(s1), free(s2), free(s3);
  base_free(&B);
}

/* UNCONFIRMED layout (no real multiclass artifact): SoftmaxOutput over (F, K) weights. */
static void test_multiclass(void **state) {
  (void)state;
  base B;
  base_load(&B);
  enum { F = 3, K = 4 };
  const float W[F * K] = {0.5f, -1.0f, 0.25f, 2.0f, 1.5f, 0.0f, -0.75f, 0.125f,
                          -2.0f, 1.0f, 0.5f, -0.25f};
  const float Bias[K] = {0.1f, -0.2f, 0.3f, -0.4f};
  char *s1 = subst(B.symbol, "LogisticRegressionOutput", "SoftmaxOutput");
  char *s2 = subst(s1, "(20, 1)", "(3, 4)");
  char *s3 = subst(s2, "\"__shape__\": \"(1, 1)\"", "\"__shape__\": \"(1, 4)\"");
  char *ap = subst(B.addp, "\"predictor_type\": \"binary_classifier\"",
                   "\"predictor_type\": \"multiclass_classifier\"");
  for (int b1d = 0; b1d < 2; b1d++) {
    char *sym = b1d ? subst(s3, "\"__shape__\": \"(1, 4)\"", "\"__shape__\": \"(4,)\"") : strdup(s3);
    nd arr[2] = {{"arg:fc0_bias", 2, 0, 0, b1d ? 1 : 2, {b1d ? K : 1, K}, Bias, K, 0},
                 {"arg:fc0_weight", 2, 0, 0, 2, {F, K}, W, F * K, 0}};
    buf p = nd_file(arr, 2, 1);
    size_t len;
    uint8_t *z = zip4(&B, sym, NULL, ap, p.p, p.n, 1, &len);
    lm_ir_model *m = import_ok(z, len, "multiclass");
    assert_string_equal(m->objective, "linear-learner:multiclass_classifier");
    assert_int_equal(m->num_features, F);
    assert_int_equal(m->num_outputs, K);
    for (int i = 0; i < F * K; i++) assert_int_equal(fbits(m->linear_weights[i]), fbits(W[i]));
    for (int g = 0; g < K; g++)
      assert_int_equal(fbits(m->linear_weights[F * K + g]), fbits(Bias[g]));
    /* Score: softmax over x·W + b, in double here. */
    const char *path = write_lm(m, "multi.lm");
    lm_model *mm = NULL;
    assert_int_equal(lm_model_open(path, &mm), 0);
    assert_int_equal(lm_model_num_outputs(mm), K);
    lm_session *s = NULL;
    assert_int_equal(lm_session_new(mm, &s), 0);
    const float x[3 * F] = {1.0f, 2.0f, -1.0f, 0.0f, 0.0f, 0.0f, -3.0f, 0.5f, 4.0f};
    float out[3 * K];
    assert_int_equal(lm_predict(s, x, 3, 0, out), 0);
    for (int r = 0; r < 3; r++) {
      double z2[K], mx = -INFINITY, sum = 0;
      for (int g = 0; g < K; g++) {
        z2[g] = Bias[g];
        for (int f = 0; f < F; f++) z2[g] += (double)x[r * F + f] * W[f * K + g];
        mx = fmax(mx, z2[g]);
      }
      for (int g = 0; g < K; g++) sum += exp(z2[g] - mx);
      for (int g = 0; g < K; g++) {
        double ref = exp(z2[g] - mx) / sum;
        assert_true(fabs(out[r * K + g] - ref) <= 1e-6 * fmax(1, fabs(ref)));
      }
    }
    lm_session_free(s);
    lm_model_close(mm);
    lm_ir_free(m);
    free(z), free(p.p), free(sym);
  }
  free(s1), free(s2), free(s3), free(ap);
  base_free(&B);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_artifacts),
      cmocka_unit_test(test_layouts),
      cmocka_unit_test(test_multiclass),
  };
  return cmocka_run_group_tests_name("linear_learner", tests, setup, tu_tmpdir_teardown);
}
