/*
 * test_xgboost_formats.c — every serialisation SageMaker has left XGBoost models in: UBJSON
 * (formats/import/xgboost_ubj.c), legacy binary with and without "binf" and with the 1.3 header
 * (xgboost_bin.c), pickles of protocol 2 and 5, the hand-built 1.0–1.2 "CONFIG-offset:" pickle and
 * the 1.3–1.5 JSON-snapshot pickle (xgboost_pickle.c), sniffing and best_ntree_limit /
 * best_iteration (sniff.c), directories and k-fold archives (sagemaker.c), lmconvert --all-trees.
 *
 * Fixtures: tests/fixtures/xgb_formats/<case>/ (tests/gen_format_fixtures.py, XGBoost 1.7.4), the
 * same trained model in every serialisation with XGBoost's own predictions, as the endpoint
 * makes them (early stopping honoured) and, for early-stopping cases, with every tree.
 *
 * (a) every file of a case converts to a .lm whose scores (value, margin, leaf; float32 and
 *     float64 rows) equal those of the JSON file's .lm bit for bit and XGBoost's within
 *     1e-6·max(1,|xgb|), leaves identical — by default and with all_trees;
 * (b) the importers give the same IR node for node from every serialisation;
 * (c) the truncation rule itself on synthetic models (rounds, num_parallel_tree, outputs,
 *     versions, limits of 0 / below a round / beyond the trees, gblinear);
 * (d) lmconvert reports the truncation, --all-trees keeps everything;
 * (e) directories, k-fold archives and directories, archives holding pickles.
 * Bad inputs are in test_xgboost_bad_ubj_bin.c and test_xgboost_bad_pickle.c; shared helpers in
 * tests/util_xgboost_formats.h.
 */
#include "tests/util_xgboost_formats.h"

/* ---- (a) every serialisation scores the same ----------------------------------------------- */

typedef struct scores {
  float *value, *value64, *margin;
  uint32_t *leaf;
  size_t nv, nm, nl;
} scores;

static void scores_free(scores *s) {
  free(s->value), free(s->value64), free(s->margin), free(s->leaf);
  memset(s, 0, sizeof *s);
}

static size_t compare_tol(const char *what, const float *ours, const table *want, size_t width) {
  size_t bad = 0;
  if (want->cols != width)
    fail_msg("%s: expected %zu columns, file has %zu", what, width, want->cols);
  for (size_t i = 0; i < want->rows * want->cols; i++) {
    float w = (float)want->v[i];
    double d = fabs((double)ours[i] - (double)w);
    if (!(d <= 1e-6 * fmax(1.0, fabs((double)w))) && bad++ < 3)
      print_error("%s: row %zu output %zu: ours %.9g, xgboost %.9g\n", what, i / width, i % width,
                  ours[i], w);
  }
  return bad;
}

/* Convert cs/file, score input.csv, compare with XGBoost's expected files; fill *s. */
static size_t score_variant(const char *cs, const variant *var, const meta *mt, int all_trees,
                            const table *in, scores *s) {
  char lm[256], what[200];
  snprintf(lm, sizeof lm, "%s_%s_%d.lm", cs, var->file, all_trees);
  lm_convert_options o = {.quiet = 1, .all_trees = all_trees};
  if (lm_convert(fx_path(cs, var->file), tmp_path(lm), &o) != 0)
    fail_msg("%s/%s: convert: %s", cs, var->file, lm_last_error());
  lm_model *m;
  if (lm_model_open(tmp_path(lm), &m) != 0) fail_msg("%s: open: %s", lm, lm_last_error());
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_string_equal(info.source_format, var->format);
  assert_string_equal(info.source_version, var->version);
  int truncated = mt->early && !all_trees;
  assert_int_equal(info.num_trees, truncated ? mt->kept : mt->num_trees);
  assert_int_equal(info.num_trees_trained, mt->num_trees); /* = num_trees when none dropped */
  lm_session *ss;
  assert_int_equal(lm_session_new(m, &ss), 0);
  size_t n = in->rows, F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  size_t W = lm_model_output_width(m, 0), T = lm_model_num_trees(m);
  assert_int_equal(F, (size_t)mt->features);
  assert_int_equal(in->cols, F);
  float *x = malloc(sizeof *x * n * F);
  for (size_t i = 0; i < n * F; i++) x[i] = (float)in->v[i];
  s->nv = n * W, s->nm = n * G, s->nl = n * T;
  /* lm_predict writes up to num_outputs columns a row (the value width may be less) */
  s->value = malloc(sizeof(float) * (n * G + 1));
  s->value64 = malloc(sizeof(float) * (n * G + 1));
  s->margin = malloc(sizeof(float) * (s->nm + 1));
  s->leaf = malloc(sizeof(uint32_t) * (s->nl + 1));
  assert_int_equal(lm_predict(ss, x, n, 0, s->value), 0);
  assert_int_equal(lm_predict_f64(ss, in->v, n, 0, s->value64), 0);
  assert_int_equal(lm_predict(ss, x, n, LM_PREDICT_MARGIN, s->margin), 0);
  if (T) assert_int_equal(lm_predict_leaf(ss, x, n, s->leaf), 0);
  const char *suffix = mt->early && all_trees ? "_all" : "";
  char f[64];
  table want = {0};
  size_t bad = 0;
  snprintf(f, sizeof f, "expected_value%s.csv", suffix);
  load_csv(fx_path(cs, f), &want);
  snprintf(what, sizeof what, "%s/%s%s value", cs, var->file, all_trees ? " (all trees)" : "");
  bad += compare_tol(what, s->value, &want, W);
  bad += compare_tol(what, s->value64, &want, W);
  free(want.v);
  snprintf(f, sizeof f, "expected_margin%s.csv", suffix);
  load_csv(fx_path(cs, f), &want);
  bad += compare_tol(what, s->margin, &want, G);
  free(want.v);
  snprintf(f, sizeof f, "expected_leaf%s.csv", suffix);
  if (T) {
    load_csv(fx_path(cs, f), &want);
    assert_int_equal(want.cols, T);
    for (size_t i = 0; i < s->nl; i++)
      if ((double)s->leaf[i] != want.v[i] && bad++ < 3)
        print_error("%s leaf: row %zu tree %zu: ours %u, xgboost %.0f\n", what, i / T, i % T,
                    s->leaf[i], want.v[i]);
    free(want.v);
  } else {
    assert_false(exists(fx_path(cs, f)));
  }
  free(x);
  lm_session_free(ss);
  lm_model_close(m);
  unlink(tmp_path(lm));
  return bad;
}

static int same_bits(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

static void test_every_format_scores_the_same(void **state) {
  (void)state;
  char cases[32][64];
  size_t nc = read_manifest(cases, 32), files = 0, bad = 0, outputs = 0;
  assert_true(nc >= 9);
  for (size_t c = 0; c < nc; c++) {
    meta mt = read_meta(cases[c]);
    table in = {0};
    load_csv(fx_path(cases[c], "input.csv"), &in);
    for (int all = 0; all <= mt.early; all++) {
      scores ref = {0};
      size_t nvar = 0;
      for (size_t v = 0; v < NVARIANTS; v++) {
        if (!exists(fx_path(cases[c], VARIANTS[v].file))) {
          /* every case has all but the JSON-snapshot pickle */
          assert_string_equal(VARIANTS[v].file, "model_jsonsnap.pkl");
          continue;
        }
        scores s = {0};
        bad += score_variant(cases[c], &VARIANTS[v], &mt, all, &in, &s);
        outputs += s.nv * 2 + s.nm;
        if (v == 0) {
          ref = s;
        } else {
          /* bit for bit the same as the JSON file's .lm */
          if (!same_bits(s.value, ref.value, s.nv * sizeof(float)) ||
              !same_bits(s.value64, ref.value64, s.nv * sizeof(float)) ||
              !same_bits(s.margin, ref.margin, s.nm * sizeof(float)) ||
              !same_bits(s.leaf, ref.leaf, s.nl * sizeof(uint32_t))) {
            print_error("%s/%s: scores differ from model.json's\n", cases[c], VARIANTS[v].file);
            bad++;
          }
          scores_free(&s);
        }
        nvar++;
        files++;
      }
      print_message(
          "%-26s %s %zu serialisations, %zu rows: identical scores, parity with XGBoost\n",
          cases[c], all ? "all trees " : "as served ", nvar, in.rows);
      scores_free(&ref);
    }
    free(in.v);
  }
  print_message("formats: %zu conversions, %zu outputs compared, %zu mismatches\n", files, outputs,
                bad);
  assert_int_equal(bad, 0);
}

/* ---- (b) the same IR from every serialisation -------------------------------------------- */

static void assert_same_ir(const char *what, const lm_ir_model *a, const lm_ir_model *b,
                           int npt_recorded) {
  if (strcmp(a->objective, b->objective) || a->booster != b->booster ||
      fbits(a->base_score) != fbits(b->base_score) || a->num_features != b->num_features ||
      a->num_outputs != b->num_outputs || a->n_trees != b->n_trees ||
      a->best_iteration != b->best_iteration || a->best_ntree_limit != b->best_ntree_limit)
    fail_msg("%s: model parameters differ", what);
  if (npt_recorded)
    assert_int_equal(a->num_parallel_tree, b->num_parallel_tree);
  else
    assert_int_equal(b->num_parallel_tree, 1); /* files before 1.6 hold num_roots there */
  for (uint32_t t = 0; t < a->n_trees; t++) {
    const lm_ir_tree *x = &a->trees[t], *y = &b->trees[t];
    if (x->n_nodes != y->n_nodes || x->group != y->group || fbits(x->weight) != fbits(y->weight))
      fail_msg("%s: tree %u differs", what, t);
    for (uint32_t k = 0; k < x->n_nodes; k++) {
      const lm_ir_node *p = &x->nodes[k], *q = &y->nodes[k];
      if (p->left != q->left || p->right != q->right || p->feature != q->feature ||
          fbits(p->value) != fbits(q->value) || p->default_left != q->default_left ||
          p->categorical != q->categorical)
        fail_msg("%s: tree %u node %u differs", what, t, k);
    }
  }
  assert_int_equal(a->linear_weights == NULL, b->linear_weights == NULL);
  if (a->linear_weights)
    assert_memory_equal(a->linear_weights, b->linear_weights,
                        sizeof(float) * ((size_t)a->num_features + 1) * a->num_outputs);
}

static void test_same_ir(void **state) {
  (void)state;
  char cases[32][64];
  size_t nc = read_manifest(cases, 32);
  lm_convert_options all = {.all_trees = 1};
  for (size_t c = 0; c < nc; c++) {
    lm_ir_model *ref = NULL;
    if (lm__import_any(fx_path(cases[c], "model.json"), &all, &ref) != 0)
      fail_msg("%s: %s", cases[c], lm_last_error());
    meta mt = read_meta(cases[c]);
    assert_int_equal(ref->num_parallel_tree, mt.booster[2] == 'l' ? 0 : mt.npt);
    for (size_t v = 1; v < NVARIANTS; v++) {
      const char *p = fx_path(cases[c], VARIANTS[v].file);
      if (!exists(p)) continue;
      lm_ir_model *ir = NULL;
      if (lm__import_any(p, &all, &ir) != 0) fail_msg("%s: %s", p, lm_last_error());
      char what[200];
      snprintf(what, sizeof what, "%s/%s", cases[c], VARIANTS[v].file);
      assert_string_equal(ir->source_format, VARIANTS[v].format);
      assert_string_equal(ir->source_version, VARIANTS[v].version);
      if (!mt.early && !strcmp(VARIANTS[v].file, "model_cfgoff.pkl")) {
        /* 1.2 kept best_ntree_limit only as a Python attribute, set by early stopping */
        assert_int_equal(ir->best_ntree_limit, -1);
        ir->best_ntree_limit = ref->best_ntree_limit;
      }
      int recorded = strcmp(VARIANTS[v].file, "model_13.bin") != 0;
      if (ref->booster == LM_BOOSTER_GBLINEAR) {
        recorded = 1;
        ir->num_parallel_tree = ref->num_parallel_tree; /* not a tree booster: nothing to say */
      }
      assert_same_ir(what, ref, ir, recorded);
      /* feature names: the legacy binary has none; a pickle's Python attribute can add them */
      lm_ir_free(ir);
    }
    lm_ir_free(ref);
  }
}

/* ---- (c) the truncation rule -------------------------------------------------------------- */

static lm_ir_model *synthetic(const char *version, uint32_t outputs, uint32_t npt, uint32_t rounds,
                              int64_t best_it, int64_t bntl) {
  lm_ir_model *m = lm_ir_new();
  assert_non_null(m);
  snprintf(m->source_version, sizeof m->source_version, "%s", version);
  snprintf(m->objective, sizeof m->objective, "%s",
           outputs > 1 ? "multi:softprob" : "binary:logistic");
  m->num_outputs = outputs;
  m->num_features = 2;
  m->num_parallel_tree = npt;
  m->n_trees = outputs * (npt ? npt : 1) * rounds;
  m->trees = calloc(m->n_trees, sizeof *m->trees);
  /* every tree a categorical split with its own 2-category set, in tree order */
  m->cat_values = calloc((size_t)m->n_trees * 2, sizeof *m->cat_values);
  m->n_cat_values = (size_t)m->n_trees * 2;
  for (uint32_t t = 0; t < m->n_trees; t++) {
    m->trees[t].n_nodes = 3;
    m->trees[t].nodes = calloc(3, sizeof(lm_ir_node));
    m->trees[t].nodes[0] =
        (lm_ir_node){.left = 1, .right = 2, .categorical = 1, .cat_begin = 2 * t, .cat_count = 2};
    m->trees[t].nodes[1].left = m->trees[t].nodes[1].right = -1;
    m->trees[t].nodes[2].left = m->trees[t].nodes[2].right = -1;
    m->trees[t].weight = 1.0f + (float)t;
  }
  m->best_iteration = best_it;
  m->best_ntree_limit = bntl;
  return m;
}

static void test_keep_best_rule(void **state) {
  (void)state;
  static const struct {
    const char *what, *version;
    uint32_t outputs, npt, rounds;
    int64_t best_it, bntl;
    uint32_t want; /* trees kept */
  } cases[] = {
      {"1.7: best_ntree_limit rounds", "1.7.4", 1, 1, 10, 3, 4, 4},
      {"1.7: counted per output", "1.7.4", 3, 1, 10, 3, 4, 12},
      {"1.7: and per parallel tree", "1.7.4", 3, 2, 10, 3, 8, 24},
      {"1.7: limit not a multiple of num_parallel_tree rounds down", "1.7.4", 1, 3, 10, -1, 7, 6},
      {"1.7: limit below one round = iteration_range (0, 0) = all", "1.7.4", 1, 3, 10, -1, 2, 30},
      {"1.7: limit 0 = all", "1.7.4", 1, 1, 10, 3, 0, 10},
      {"1.7: limit = all", "1.7.4", 2, 1, 10, 9, 10, 20},
      {"1.7: limit beyond the trees = all", "1.7.4", 2, 1, 10, 9, 99, 20},
      {"1.x: best_iteration alone does not count", "1.5", 1, 1, 10, 3, -1, 10},
      {"binary 1.3: as 1.x", "1.3", 2, 1, 10, 7, 3, 6},
      {"0.x: as 1.x", "0.90", 1, 1, 10, -1, 5, 5},
      {"3.0: best_iteration + 1 rounds", "3.0.5", 2, 2, 10, 2, -1, 12},
      {"2.1: best_iteration + 1 rounds", "2.1.0", 1, 1, 10, 0, -1, 1},
      {"3.0: best_ntree_limit alone does not count", "3.0.5", 1, 1, 10, -1, 3, 10},
      {"3.0: last iteration = all", "3.0.5", 1, 1, 10, 9, 3, 10},
      {"3.0: beyond = all", "3.0.5", 1, 1, 10, 1000, -1, 10},
      {"npt 0 is one", "1.7.4", 1, 0, 10, -1, 4, 4},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    lm_ir_model *m = synthetic(cases[i].version, cases[i].outputs, cases[i].npt, cases[i].rounds,
                               cases[i].best_it, cases[i].bntl);
    uint32_t all = m->n_trees;
    int dropped = lm__ir_keep_best(m);
    if (m->n_trees != cases[i].want)
      fail_msg("%s: kept %u trees, want %u", cases[i].what, m->n_trees, cases[i].want);
    assert_int_equal(dropped, all - cases[i].want);
    assert_int_equal(m->n_trees_trained, dropped ? all : 0);
    assert_int_equal(m->n_cat_values, (size_t)m->n_trees * 2); /* the dropped trees' sets go */
    for (uint32_t t = 0; t < m->n_trees; t++) /* dart weights stay with their trees */
      assert_int_equal(fbits(m->trees[t].weight), fbits(1.0f + (float)t));
    m->n_trees = all; /* lm_ir_free frees only n_trees nodes: the rest were freed already */
    for (uint32_t t = cases[i].want; t < all; t++) m->trees[t].nodes = NULL;
    lm_ir_free(m);
  }
  /* gblinear: nothing to cut */
  lm_ir_model *m = synthetic("1.7.4", 1, 1, 0, 3, 4);
  m->booster = LM_BOOSTER_GBLINEAR;
  assert_int_equal(lm__ir_keep_best(m), 0);
  lm_ir_free(m);
}

/* ---- (d) lmconvert ------------------------------------------------------------------------ */

typedef struct result {
  int status;
  char *out, *err;
} result;

/* Run $LM_BIN/lmconvert with args (NULL-terminated), capturing stdout and stderr. */
static result run_lmconvert(const char *const *args) {
  char exe[1200], *argv[16];
  snprintf(exe, sizeof exe, "%s/lmconvert", bindir);
  int n = 0;
  argv[n++] = exe;
  for (; args[n - 1] && n < 15; n++) argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  const char *o = tmp_path("run.out"), *e = tmp_path("run.err");
  char op[1200], ep[1200];
  snprintf(op, sizeof op, "%s", o);
  snprintf(ep, sizeof ep, "%s", e);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, op, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, ep, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  if (posix_spawn(&pid, exe, &fa, NULL, argv, environ) != 0) fail_msg("cannot run %s", exe);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  waitpid(pid, &st, 0);
  result r = {.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128};
  size_t len;
  r.out = (char *)slurp(op, &len);
  r.out[len] = 0;
  r.err = (char *)slurp(ep, &len);
  r.err[len] = 0;
  if (strstr(r.err, "Sanitizer")) fail_msg("sanitizer report:\n%s", r.err);
  return r;
}

static void result_free(result *r) { free(r->out), free(r->err); }

static void test_lmconvert_all_trees(void **state) {
  (void)state;
  char out[1200], in[1200];
  snprintf(out, sizeof out, "%s", tmp_path("cli.lm"));
  meta mt = read_meta("early_stop_binary");
  snprintf(in, sizeof in, "%s", fx_path("early_stop_binary", "model.bin"));
  result r = run_lmconvert((const char *[]){in, "-o", out, NULL});
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  char want[200];
  snprintf(want, sizeof want,
           " s; kept %d of %d trees (best_ntree_limit %lld; --all-trees keeps every tree)\n",
           mt.kept, mt.num_trees, (long long)mt.best_ntree_limit);
  if (!strstr(r.err, want)) fail_msg("stderr lacks '%s':\n%s", want, r.err);
  assert_int_equal(strncmp(r.err, "wrote ", 6), 0);
  assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1); /* one summary line */
  result_free(&r);
  lm_model *m;
  lm_model_info info;
  assert_int_equal(lm_model_open(out, &m), 0);
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_int_equal(info.num_trees, mt.kept);
  assert_int_equal(info.num_trees_trained, mt.num_trees);
  assert_int_equal(info.best_ntree_limit, mt.best_ntree_limit);
  lm_model_close(m);

  /* --all-trees: every tree, one summary line */
  r = run_lmconvert((const char *[]){"--all-trees", in, "-o", out, NULL});
  assert_int_equal(r.status, 0);
  assert_null(strstr(r.err, "kept "));
  char *nl = strchr(r.err, '\n');
  assert_non_null(nl);
  assert_int_equal(nl[1], '\0');
  result_free(&r);
  assert_int_equal(lm_model_open(out, &m), 0);
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_int_equal(info.num_trees, mt.num_trees);
  assert_int_equal(info.num_trees_trained, mt.num_trees);
  lm_model_close(m);

  /* -q: nothing at all, truncation or not */
  r = run_lmconvert((const char *[]){"-q", in, "-o", out, NULL});
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  result_free(&r);

  /* a pickle of the 1.2 layout: the limit comes from its Python attribute */
  snprintf(in, sizeof in, "%s", fx_path("early_stop_multi_rf", "model_cfgoff.pkl"));
  r = run_lmconvert((const char *[]){in, "-o", out, NULL});
  assert_int_equal(r.status, 0);
  mt = read_meta("early_stop_multi_rf");
  snprintf(want, sizeof want, "kept %d of %d trees (best_ntree_limit %lld;", mt.kept, mt.num_trees,
           (long long)mt.best_ntree_limit);
  if (!strstr(r.err, want)) fail_msg("stderr lacks '%s':\n%s", want, r.err);
  result_free(&r);
  unlink(out);
}

/* ---- (e) directories and archives ---------------------------------------------------------- */

typedef tu_member member;

static const char *make_archive(const char *name, int gzip, const member *m, size_t n) {
  return tu_make_archive(tmp_path(name), gzip, m, n);
}

static void expect_import_error(const char *path, const char *member, int code, const char *msg) {
  lm_convert_options o = {.member = member};
  lm_ir_model *ir = (lm_ir_model *)1;
  int rc = lm__import_any(path, &o, &ir);
  char want[1500];
  snprintf(want, sizeof want, "%s: %s", path, msg);
  if (rc != code || strncmp(lm_last_error(), want, strlen(want)) != 0)
    fail_msg("%s: got %d \"%s\"; want %d \"%s\"", path, rc, lm_last_error(), code, want);
  assert_null(ir);
  assert_null(strchr(lm_last_error(), '\n'));
}

static void test_directories_and_kfold(void **state) {
  (void)state;
  size_t ul, bl, pl;
  uint8_t *ubj = slurp(fx_path("gbtree_binary", "model.ubj"), &ul);
  uint8_t *bin = slurp(fx_path("rf_binary", "model.bin"), &bl);
  uint8_t *pkl = slurp(fx_path("early_stop_binary", "model_cfgoff.pkl"), &pl);

  /* the model directory, as the serving container lists it: dotfiles ignored, the first file in
   * sorted order taken ("a-model" before "b-notes"; ".aaa" ignored) */
  char dir[1200];
  snprintf(dir, sizeof dir, "%s", tmp_path("modeldir"));
  assert_int_equal(mkdir(dir, 0755), 0);
  char p[1300];
  snprintf(p, sizeof p, "%s/b-notes", dir), write_file(p, "notes", 5);
  snprintf(p, sizeof p, "%s/.aaa", dir), write_file(p, "x", 1);
  snprintf(p, sizeof p, "%s/a-model", dir), write_file(p, ubj, ul);
  snprintf(p, sizeof p, "%s/sub", dir), mkdir(p, 0755); /* directories do not count */
  lm_ir_model *ir = NULL;
  assert_int_equal(lm__import_any(dir, NULL, &ir), 0);
  assert_string_equal(ir->source_format, "xgboost-ubj");
  assert_int_equal(ir->source_hash, XXH64(ubj, ul, 0)); /* the file taken */
  lm_ir_free(ir);
  /* --member names another entry */
  lm_convert_options o = {.member = "b-notes"};
  ir = (lm_ir_model *)1;
  assert_int_equal(lm__import_any(dir, &o, &ir), LM_EFORMAT);
  assert_null(ir);
  snprintf(p, sizeof p, "%s/b-notes: unrecognised bytes (6e 6f 74 65", dir);
  assert_int_equal(strncmp(lm_last_error(), p, strlen(p)), 0);
  o.member = "./a-model";
  assert_int_equal(lm__import_any(dir, &o, &ir), 0);
  lm_ir_free(ir);
  char want[1500];
  snprintf(want, sizeof want, "member \"nope\" not found in directory");
  expect_import_error(dir, "nope", LM_ENOMODEL, want);
  snprintf(p, sizeof p, "%s/sub", dir), rmdir(p);
  tu_rmtree(dir);

  /* only dotfiles; nothing at all */
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(p, sizeof p, "%s/.a", dir), write_file(p, "x", 1);
  expect_import_error(dir, NULL, LM_ENOMODEL,
                      "no model in directory (members: .a); choose one with --member");
  snprintf(p, sizeof p, "%s/.a", dir), unlink(p);
  expect_import_error(dir, NULL, LM_ENOMODEL, "no model in directory (it holds no files)");

  /* k-fold directory: every fold listed, none taken */
  snprintf(p, sizeof p, "%s/xgboost-model-0", dir), write_file(p, bin, bl);
  snprintf(p, sizeof p, "%s/xgboost-model-1", dir), write_file(p, ubj, ul);
  expect_import_error(dir, NULL, LM_ENOMODEL,
                      "no model in directory (members: xgboost-model-0, xgboost-model-1); choose "
                      "one with --member (k-fold model: SageMaker's endpoint averages");
  o.member = "xgboost-model-1";
  assert_int_equal(lm__import_any(dir, &o, &ir), 0);
  assert_string_equal(ir->source_format, "xgboost-ubj");
  lm_ir_free(ir);
  tu_rmtree(dir);

  /* the k-fold archive of the fixtures */
  const char *kf = fx_path(NULL, "kfold.tar.gz");
  expect_import_error(kf, NULL, LM_ENOMODEL,
                      "no model in archive (members: xgboost-model-0, xgboost-model-1); choose "
                      "one with --member (k-fold model");
  o.member = "xgboost-model-1";
  lm_convert_options oq = {.member = "xgboost-model-1", .quiet = 1};
  assert_int_equal(lm_convert(kf, tmp_path("fold1.lm"), &oq), 0);
  lm_model *m;
  lm_model_info info;
  assert_int_equal(lm_model_open(tmp_path("fold1.lm"), &m), 0);
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_string_equal(info.source_format, "xgboost-binary");
  assert_int_equal(info.num_trees, read_meta("rf_binary").num_trees);
  lm_model_close(m);
  unlink(tmp_path("fold1.lm"));

  /* SageMaker 1.0/1.2 archives hold a pickle: .tar.gz and .tar */
  const member mm[] = {{"xgboost-model", pkl, pl}};
  meta mt = read_meta("early_stop_binary");
  for (int gz = 0; gz <= 1; gz++) {
    const char *a = make_archive(gz ? "pkl.tar.gz" : "pkl.tar", gz, mm, 1);
    ir = NULL;
    assert_int_equal(lm__import_any(a, NULL, &ir), 0);
    assert_string_equal(ir->source_format, "xgboost-pickle");
    assert_string_equal(ir->source_version, "1.2");
    assert_int_equal(ir->n_trees, mt.kept);
    assert_int_equal(ir->n_trees_trained, mt.num_trees);
    assert_int_equal(ir->best_ntree_limit, mt.best_ntree_limit); /* from the Python attribute */
    lm_ir_free(ir);
  }
  free(ubj), free(bin), free(pkl);
}

/* ---- sniffing ------------------------------------------------------------------------------ */

static void test_sniffing(void **state) {
  (void)state;
  static const tu_bad_bytes cases[] = {
      {"ubj", LIT("{L\0\0\0\0\0\0\0\7learner{"), LM_EFORMAT,
       ": truncated UBJSON: object (no closing '}') needs 1 byte at byte 18, 0 left"},
      {"bin", LIT("binf\0\0\0?\3\0\0\0"), LM_EFORMAT,
       ": byte 4: learner_model_param: truncated: needs 136 bytes, 8 left"},
      {"oldbin", LIT("\0\0\0?\3\0\0\0"), LM_EFORMAT,
       ": unrecognised bytes (00 00 00 3f …), taken as an old XGBoost legacy binary model without "
       "header (as XGBoost does): byte 0: learner_model_param: truncated"},
      {"pkl", LIT("\x80\x04\x95\x10\0\0\0\0\0\0\0"), LM_EFORMAT,
       ": byte 2: pickle opcode FRAME: length 16 exceeds the 0 bytes left"},
      {"b64", LIT("bs64AAAA"), LM_EUNSUPPORTED, ": base64-encoded XGBoost model ('bs64' header)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *path = tmp_path(cases[i].what);
    write_file(path, cases[i].bytes, cases[i].len);
    char want[400];
    snprintf(want, sizeof want, "%s", cases[i].msg);
    expect_import_error(path, NULL, cases[i].code, want + 2);
    unlink(path);
  }
  /* each fixture file sniffed to its importer (the name says nothing) */
  for (size_t v = 0; v < NVARIANTS; v++) {
    size_t n;
    uint8_t *d = slurp(fx_path("early_stop_binary", VARIANTS[v].file), &n);
    const char *p = tmp_path("xgboost-model");
    write_file(p, d, n);
    lm_ir_model *ir = NULL;
    if (lm__import_any(p, NULL, &ir)) fail_msg("%s: %s", VARIANTS[v].file, lm_last_error());
    assert_string_equal(ir->source_format, VARIANTS[v].format);
    assert_int_equal(ir->source_hash, XXH64(d, n, 0));
    lm_ir_free(ir);
    free(d);
    unlink(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_format_scores_the_same),
      cmocka_unit_test(test_same_ir),
      cmocka_unit_test(test_keep_best_rule),
      cmocka_unit_test(test_lmconvert_all_trees),
      cmocka_unit_test(test_directories_and_kfold),
      cmocka_unit_test(test_sniffing),
  };
  return cmocka_run_group_tests_name("xgboost_formats", tests, setup, tu_tmpdir_teardown);
}
