/*
 * test_lightgbm.c — the LightGBM text-model importer (formats/import/lightgbm_txt.c) and
 * LightGBM scoring end to end.
 *
 * (a) IR level: hand-written models (every decision_type, inf/-inf and kZeroThreshold
 *     thresholds, a multi-word categorical set, a one-leaf tree, linear trees, averaging,
 *     multiclass, CRLF line ends, a v2 file, tree_sizes) with every IR field asserted, the
 *     objective mapping, and the eight real models' shapes;
 * (b) one table of broken inputs (test_lightgbm_bad.c);
 * (c) end to end (test_lightgbm_parity.c): importer → lm__lmf_write → file → lm_model_open, scored with lm_predict_f64
 *     on the CSV doubles and with lm_predict on the same rows rounded to float32, against
 *     tests/lgbm_reference.py (the oracle: handmade models, tests/fixtures/lightgbm/handmade/)
 *     and against LightGBM's own outputs (real models, tests/fixtures/lightgbm/real/).
 *     Tree decisions must be exact: margins are compared bit for bit with the oracle's double
 *     margin rounded to float32 (both sum the same doubles in the same order), and lm_predict_leaf
 *     must give the oracle's leaf in every tree; transformed values within
 *     1e-6·max(1, |ref|). tests/gen_lightgbm_fixtures.py regenerates the fixtures.
 * Model text is written here with '\n' line ends; the models are small enough to read. The
 * hand-written models and shared helpers are in tests/util_lightgbm.h.
 */
#include "tests/util_lightgbm.h"

/* ---- (a) IR level ------------------------------------------------------------------------- */

static void assert_good_model(const lm_ir_model *m) {
  assert_string_equal(m->source_format, "lightgbm-text");
  assert_string_equal(m->source_version, "v4");
  assert_string_equal(m->objective, "lightgbm:binary");
  assert_int_equal(m->decision, LM_DECISION_LIGHTGBM);
  assert_int_equal(m->booster, LM_BOOSTER_GBTREE);
  assert_int_equal(fbits(m->base_score), fbits(0.0f));
  assert_int_equal(dbits(m->link_param), dbits(0.5));
  assert_int_equal(m->average_over, 0);
  assert_int_equal(m->num_features, 4);
  assert_int_equal(m->num_outputs, 1);
  assert_int_equal(m->n_trees, 3);
  assert_int_equal(m->best_iteration, -1);
  assert_int_equal(m->best_ntree_limit, -1);
  assert_null(m->linear_weights);
  assert_int_equal(m->n_lin_terms, 0);
  assert_non_null(m->feature_names);
  static const char *const names[] = {"a", "b", "c", "d"};
  for (int f = 0; f < 4; f++) assert_string_equal(m->feature_names[f], names[f]);
  assert_memory_equal(m->feature_types, "qcqq", 4);

  const lm_ir_tree *t = &m->trees[0];
  assert_int_equal(t->n_nodes, 9);
  assert_int_equal(t->group, 0);
  assert_int_equal(fbits(t->weight), fbits(1.0f));
  assert_int_equal(t->linear, 0);
  assert_split(&t->nodes[0], 1, 2, 0, 1.0000000180025095e-35, 1, LM_MISSING_NONE);
  assert_int_equal(fbits(t->nodes[0].value), fbits(1e-35f)); /* kZeroThreshold exactly */
  assert_split(&t->nodes[1], 4, 3, 3, INFINITY, 1, LM_MISSING_NAN);
  /* node 2: categorical, set {0, 33, 63}, in the set → left (LightGBM orientation kept) */
  const lm_ir_node *c = &t->nodes[2];
  assert_int_equal(c->left, 5);
  assert_int_equal(c->right, 6);
  assert_int_equal(c->feature, 1);
  assert_int_equal(c->categorical, 1);
  assert_int_equal(c->default_left, 0);
  assert_int_equal(c->missing_type, 0);
  assert_true(isnan(c->value_d));
  assert_int_equal(c->cat_count, 3);
  assert_int_equal(m->n_cat_values, 3);
  assert_int_equal(m->cat_values[c->cat_begin + 0], 0);
  assert_int_equal(m->cat_values[c->cat_begin + 1], 33);
  assert_int_equal(m->cat_values[c->cat_begin + 2], 63);
  assert_split(&t->nodes[3], 7, 8, 2, -INFINITY, 0, LM_MISSING_ZERO);
  assert_leaf(&t->nodes[4], 0.25);
  assert_leaf(&t->nodes[5], -0.5);
  assert_leaf(&t->nodes[6], 1.0000000000000002);
  assert_int_equal(dbits(t->nodes[6].value_d), dbits(1.0) + 1); /* the double, not the float */
  assert_leaf(&t->nodes[7], -1e-300);
  assert_leaf(&t->nodes[8], 3.0);

  t = &m->trees[1];
  assert_int_equal(t->n_nodes, 1);
  assert_leaf(&t->nodes[0], -0.125);
  t = &m->trees[2];
  assert_int_equal(t->n_nodes, 3);
  assert_split(&t->nodes[0], 1, 2, 2, -1.5, 0, LM_MISSING_NONE); /* no decision_type: 0 */
  assert_leaf(&t->nodes[1], 0.5);
  assert_leaf(&t->nodes[2], -0.5);
}

static void test_good(void **state) {
  (void)state;
  lm_ir_model *m = import_ok(GOOD);
  assert_good_model(m);
  lm_ir_free(m);
}

/* The same model with CRLF line ends, with correct tree_sizes, and as a v2 file without
 * `end of trees` and is_linear imports identically. */
static void test_variants(void **state) {
  (void)state;
  size_t n = strlen(GOOD), k = 0;
  char *crlf = malloc(2 * n + 1);
  assert_non_null(crlf);
  for (size_t i = 0; i < n; i++) {
    if (GOOD[i] == '\n') crlf[k++] = '\r';
    crlf[k++] = GOOD[i];
  }
  crlf[k] = '\0';
  lm_ir_model *m = import_ok(crlf);
  assert_good_model(m);
  lm_ir_free(m);
  free(crlf);

  char *sized = with_tree_sizes(GOOD, NULL);
  m = import_ok(sized);
  assert_good_model(m);
  lm_ir_free(m);
  free(sized);

  char *a = subst(GOOD, "version=v4", "version=v2");
  char *b = subst(a, TAIL, "\n\nfeature importances:\nc=2\n");
  m = import_ok(b);
  assert_string_equal(m->source_version, "v2");
  assert_int_equal(m->n_trees, 3);
  lm_ir_free(m);
  free(a), free(b);

  /* no feature_infos: types from the categorical splits only */
  a = subst(GOOD, "feature_infos=[0:1] -1:0:33:63 none [1:2]\n", "");
  m = import_ok(a);
  assert_memory_equal(m->feature_types, "qcqq", 4);
  lm_ir_free(m);
  free(a);
  /* a category list in feature_infos marks an unused feature categorical */
  a = subst(GOOD, "none [1:2]", "-1:4:2 [1:2]");
  m = import_ok(a);
  assert_memory_equal(m->feature_types, "qccq", 4);
  lm_ir_free(m);
  free(a);
}

static void test_linear(void **state) {
  (void)state;
  lm_ir_model *m = import_ok(LINEAR);
  assert_string_equal(m->objective, "lightgbm:regression");
  assert_int_equal(dbits(m->link_param), dbits(0.0));
  assert_int_equal(m->n_trees, 2);
  assert_int_equal(m->n_lin_terms, 3);
  assert_int_equal(m->lin_feat[0], 2);
  assert_int_equal(m->lin_feat[1], 0);
  assert_int_equal(m->lin_feat[2], 1);
  assert_int_equal(dbits(m->lin_coeff[0]), dbits(0.5));
  assert_int_equal(dbits(m->lin_coeff[1]), dbits(-0.25));
  assert_int_equal(dbits(m->lin_coeff[2]), dbits(3.0));
  const lm_ir_tree *t = &m->trees[0];
  assert_int_equal(t->linear, 1);
  assert_int_equal(t->n_nodes, 3);
  assert_split(&t->nodes[0], 1, 2, 0, 0.5, 1, LM_MISSING_NAN);
  assert_leaf(&t->nodes[1], 1.5); /* leaf_value: the NaN fallback */
  assert_int_equal(dbits(t->nodes[1].lin_const), dbits(1.25));
  assert_int_equal(t->nodes[1].lin_begin, 0);
  assert_int_equal(t->nodes[1].lin_count, 2);
  assert_leaf(&t->nodes[2], -2.5);
  assert_int_equal(dbits(t->nodes[2].lin_const), dbits(-2.75));
  assert_int_equal(t->nodes[2].lin_begin, 2);
  assert_int_equal(t->nodes[2].lin_count, 0);
  t = &m->trees[1];
  assert_int_equal(t->linear, 1);
  assert_int_equal(t->n_nodes, 1);
  assert_leaf(&t->nodes[0], 0.75);
  assert_int_equal(dbits(t->nodes[0].lin_const), dbits(0.5));
  assert_int_equal(t->nodes[0].lin_begin, 2);
  assert_int_equal(t->nodes[0].lin_count, 1);
  lm_ir_free(m);
}

static void test_multiclass_average(void **state) {
  (void)state;
  lm_ir_model *m = import_ok(MULTI_RF);
  assert_string_equal(m->objective, "lightgbm:multiclass");
  assert_int_equal(m->num_outputs, 3);
  assert_int_equal(m->n_trees, 6);
  assert_int_equal(m->average_over, 2); /* iterations, not trees */
  for (uint32_t i = 0; i < 6; i++) {
    assert_int_equal(m->trees[i].group, i % 3);
    assert_leaf(&m->trees[i].nodes[0], (double)(i + 1));
  }
  assert_memory_equal(m->feature_types, "q", 1);
  lm_ir_free(m);
}

/* objective= line → IR objective and link_param */
static void test_objectives(void **state) {
  (void)state;
  static const struct {
    const char *line, *want;
    double link;
  } cases[] = {
      {"binary sigmoid:1", "lightgbm:binary", 1.0},
      {"binary sigmoid:0.69999999999999996", "lightgbm:binary", 0.7},
      {"binary", "lightgbm:binary", 1.0},
      {"regression", "lightgbm:regression", 0},
      {"regression sqrt", "lightgbm:regression_sqrt", 0},
      {"regression_l2", "lightgbm:regression", 0},
      {"l2", "lightgbm:regression", 0},
      {"mean_squared_error", "lightgbm:regression", 0},
      {"mse", "lightgbm:regression", 0},
      {"rmse", "lightgbm:regression", 0},
      {"regression_l1", "lightgbm:regression_l1", 0},
      {"l1", "lightgbm:regression_l1", 0},
      {"huber", "lightgbm:huber", 0},
      {"huber sqrt", "lightgbm:huber", 0}, /* LightGBM disables sqrt for huber */
      {"fair", "lightgbm:fair", 0},
      {"quantile", "lightgbm:quantile", 0},
      {"mape", "lightgbm:mape", 0},
      {"poisson", "lightgbm:poisson", 0},
      {"poisson sqrt", "lightgbm:poisson", 0}, /* ConvertOutput is exp regardless */
      {"gamma", "lightgbm:gamma", 0},
      {"tweedie tweedie_variance_power:1.5", "lightgbm:tweedie", 0},
      {"cross_entropy", "lightgbm:cross_entropy", 1.0},
      {"xentropy", "lightgbm:cross_entropy", 1.0},
      {"cross_entropy_lambda", "lightgbm:cross_entropy_lambda", 0},
      {"xentlambda", "lightgbm:cross_entropy_lambda", 0},
      {"lambdarank", "lightgbm:lambdarank", 0},
      {"rank_xendcg", "lightgbm:rank_xendcg", 0},
      {"xendcg", "lightgbm:rank_xendcg", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char repl[128];
    snprintf(repl, sizeof repl, "objective=%s\n", cases[i].line);
    char *text = subst(GOOD, "objective=binary sigmoid:0.5\n", repl);
    lm_ir_model *m = import_ok(text);
    if (strcmp(m->objective, cases[i].want) || m->link_param != cases[i].link) {
      print_error("objective '%s': got %s, link_param %.17g\n", cases[i].line, m->objective,
                  m->link_param);
      fail();
    }
    lm_ir_free(m);
    free(text);
  }
  /* multiclass and multiclassova take num_class from the header (and check the parameter) */
  static const char *const multi[][3] = {
      {"multiclass num_class:3", "lightgbm:multiclass", "0"},
      {"softmax", "lightgbm:multiclass", "0"},
      {"multiclassova num_class:3 sigmoid:1.5", "lightgbm:multiclassova", "1.5"},
      {"ova", "lightgbm:multiclassova", "1"},
  };
  for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++) {
    char repl[128];
    snprintf(repl, sizeof repl, "objective=%s\n", multi[i][0]);
    char *text = subst(MULTI_RF, "objective=multiclass num_class:3\n", repl);
    lm_ir_model *m = import_ok(text);
    assert_string_equal(m->objective, multi[i][1]);
    assert_int_equal(dbits(m->link_param), dbits(strtod(multi[i][2], NULL)));
    lm_ir_free(m);
    free(text);
  }
  /* the sqrt option of objectives that inherit it, and custom objectives, need table entries */
  static const char *const needs_entry[][2] = {
      {"regression_l1 sqrt", "lightgbm:regression_l1_sqrt"},
      {"quantile sqrt", "lightgbm:quantile_sqrt"},
      {"custom", "lightgbm:custom"},
  };
  for (size_t i = 0; i < sizeof needs_entry / sizeof needs_entry[0]; i++) {
    char repl[128];
    snprintf(repl, sizeof repl, "objective=%s\n", needs_entry[i][0]);
    char *text = subst(GOOD, "objective=binary sigmoid:0.5\n", repl);
    lm_ir_model *m = NULL;
    int rc = lm__import_lightgbm_text((const uint8_t *)text, strlen(text), "model.txt", &m);
    if (lm__objective_by_name(needs_entry[i][1])) {
      assert_int_equal(rc, 0);
      assert_string_equal(m->objective, needs_entry[i][1]);
      lm_ir_free(m);
    } else {
      assert_int_equal(rc, LM_EUNSUPPORTED);
      assert_null(m);
      assert_non_null(strstr(lm_last_error(), "not supported"));
    }
    free(text);
  }
}

/* Categorical sets up to category 2^24 − 1 (2^19 words); one more word is refused. */
static void test_big_sets(void **state) {
  (void)state;
  char *text = big_set_model((size_t)1 << 19, 0x80000000u);
  lm_ir_model *m = import_ok(text);
  assert_int_equal(m->n_cat_values, 1);
  assert_int_equal(m->cat_values[0], (1u << 24) - 1);
  assert_int_equal(m->trees[0].nodes[0].cat_count, 1);
  assert_memory_equal(m->feature_types, "c", 1);
  lm_ir_free(m);
  free(text);
  text = big_set_model(((size_t)1 << 19) + 1, 1);
  m = (lm_ir_model *)1;
  int rc = lm__import_lightgbm_text((const uint8_t *)text, strlen(text), "model.txt", &m);
  assert_int_equal(rc, LM_ERANGE);
  assert_null(m);
  assert_non_null(strstr(lm_last_error(), "model.txt: line 20: Tree=0: cat_boundaries: set 0 "
                                          "has 524289 words (more than 2^24 categories)"));
  free(text);
}

/* The eight real models: shapes and a few IR values. */
static void test_real_shapes(void **state) {
  (void)state;
  static const struct {
    const char *name, *version, *objective;
    uint32_t features, outputs, trees, average;
    int linear, categorical;
    double link;
  } cases[] = {
      {"jpmml_binary_audit", "v4", "lightgbm:binary", 9, 1, 31, 0, 0, 1, 1.0},
      {"jpmml_linear_regression_auto", "v4", "lightgbm:regression", 7, 1, 31, 0, 1, 1, 0},
      {"jpmml_multiclass_iris", "v4", "lightgbm:multiclass", 4, 3, 600, 0, 0, 0, 0},
      {"jpmml_regression_housing", "v4", "lightgbm:regression", 13, 1, 51, 0, 0, 0, 0},
      {"jpmml_rf_regression_auto", "v4", "lightgbm:regression", 7, 1, 31, 31, 0, 1, 0},
      {"leaves_poisson_fmtp", "v3", "lightgbm:poisson", 9, 1, 100, 0, 0, 1, 0},
      {"leaves_tweedie_fmtp", "v3", "lightgbm:tweedie", 9, 1, 100, 0, 0, 1, 0},
      {"treelite_toy_categorical", "v2", "lightgbm:regression", 2, 1, 30, 0, 0, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/real/%s/model.txt", fixture_dir(), cases[i].name);
    lm_ir_model *m = import_path(path);
    assert_string_equal(m->source_version, cases[i].version);
    assert_string_equal(m->objective, cases[i].objective);
    assert_int_equal(m->num_features, cases[i].features);
    assert_int_equal(m->num_outputs, cases[i].outputs);
    assert_int_equal(m->n_trees, cases[i].trees);
    assert_int_equal(m->average_over, cases[i].average);
    assert_int_equal(m->n_lin_terms > 0, cases[i].linear);
    assert_int_equal(m->n_cat_values > 0, cases[i].categorical);
    assert_int_equal(dbits(m->link_param), dbits(cases[i].link));
    for (uint32_t t = 0; t < m->n_trees; t++)
      assert_int_equal(m->trees[t].group, t % m->num_outputs);
    if (!strcmp(cases[i].name, "treelite_toy_categorical")) {
      /* Tree=0: num_leaves=3, node 0: Column_0 in {2} (cat_threshold word 4) ? leaf 0 : node 1;
       * node 1: Column_0 in {0} (word 1) ? leaf 1 : leaf 2 */
      const lm_ir_tree *t = &m->trees[0];
      assert_int_equal(t->n_nodes, 5);
      assert_int_equal(t->nodes[0].left, 2);
      assert_int_equal(t->nodes[0].right, 1);
      assert_int_equal(t->nodes[0].categorical, 1);
      assert_int_equal(t->nodes[0].cat_count, 1);
      assert_int_equal(m->cat_values[t->nodes[0].cat_begin], 2);
      assert_int_equal(t->nodes[1].left, 3);
      assert_int_equal(t->nodes[1].right, 4);
      assert_int_equal(m->cat_values[t->nodes[1].cat_begin], 0);
      assert_leaf(&t->nodes[2], -8.8330089269488461);
      assert_leaf(&t->nodes[3], -11.149798790282674);
      assert_leaf(&t->nodes[4], -9.990865016596139);
      assert_memory_equal(m->feature_types, "cc", 2);
      assert_string_equal(m->feature_names[1], "Column_1");
    }
    lm_ir_free(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_variants),
      cmocka_unit_test(test_linear),
      cmocka_unit_test(test_multiclass_average),
      cmocka_unit_test(test_objectives),
      cmocka_unit_test(test_big_sets),
      cmocka_unit_test(test_real_shapes),
  };
  return cmocka_run_group_tests_name("lightgbm", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
