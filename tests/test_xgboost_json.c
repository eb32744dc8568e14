/*
 * test_xgboost_json.c — the XGBoost JSON importer (formats/import/xgboost_json.c), the artifact
 * reader (formats/import/sagemaker.c) and format sniffing (formats/import/sniff.c).
 *
 * (a) Hand-written models in the layout XGBoost 1.7.4 writes (gbtree with a categorical split,
 *     an old-style tree, dart, gblinear, both base_score spellings), every IR value asserted;
 * (b) one table of broken JSON inputs, each with its error code and a piece of its message,
 *     plus every truncation and many one-byte mutations of a good model (no crash, no leak);
 * (c) and (d), archives and sniffing, are in test_xgboost_json_archives.c.
 * JSON is written here with single quotes for readability; J() turns them into double quotes
 * (tests/util_xgboost_json.h, with the hand-written models).
 */
#include "tests/util_xgboost_json.h"

/* ---- (a) good models -------------------------------------------------------------------- */

static void test_gbtree(void **state) {
  (void)state;
  char *json = J(GOOD);
  lm_ir_model *m = import_ok(json);
  assert_string_equal(m->source_format, "xgboost-json");
  assert_string_equal(m->source_version, "1.7.4");
  assert_string_equal(m->objective, "binary:logistic");
  assert_int_equal(m->booster, LM_BOOSTER_GBTREE);
  assert_int_equal(fbits(m->base_score), fbits(0.5f));
  assert_int_equal(m->num_features, 3);
  assert_int_equal(m->num_outputs, 1);
  assert_good_trees(m);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(m->trees[i].group, 0);
    assert_int_equal(fbits(m->trees[i].weight), fbits(1.0f));
  }
  assert_null(m->linear_weights);
  assert_non_null(m->feature_names);
  assert_string_equal(m->feature_names[0], "age");
  assert_string_equal(m->feature_names[1], "color");
  assert_string_equal(m->feature_names[2], "x");
  assert_non_null(m->feature_types);
  assert_memory_equal(m->feature_types, "qcq", 3);
  assert_int_equal(m->best_iteration, 1);
  assert_int_equal(m->best_ntree_limit, 2);
  assert_int_equal(m->source_hash, 0); /* set by lm__import_any only */
  lm_ir_free(m);
  free(json);
}

static void test_base_score_spellings(void **state) {
  (void)state;
  static const struct {
    const char *text;
    float want;
  } cases[] = {
      {"[5E-1]", 0.5f},           /* XGBoost 3.1+ */
      {" [ 2.5E-1 ] ", 0.25f},     /* (several values: tests/test_xgboost3.c) */
      {"1E-1", 0.1f}, /* (1E0 is refused for binary:logistic, as XGBoost does) */
      {"0.5", 0.5f},
      /* issue 18 finding 12: XGBoost 1.7.4 reads no inf/NaN spelling and keeps its default 0.5
       * (checked with xgboost 1.7.4: each of these loads and predicts as base_score 0.5) */
      {"inf", 0.5f},
      {"-inf", 0.5f},
      {"NaN", 0.5f},
      {"nan", 0.5f},
      {"Infinity", 0.5f},
      {"[inf]", 0.5f},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char repl[64];
    snprintf(repl, sizeof repl, "'base_score':'%s'", cases[i].text);
    char *json = subst(GOOD, "'base_score':'5E-1'", repl);
    lm_ir_model *m = import_ok(json);
    assert_int_equal(fbits(m->base_score), fbits(cases[i].want));
    lm_ir_free(m);
    free(json);
  }
}

static void test_multiclass_groups(void **state) {
  (void)state;
  char *a = subst(GOOD, "'num_class':'0'", "'num_class':'2'");
  char *b = subst(a, "'name':'binary:logistic'", "'name':'multi:softprob'");
  char *json = subst(b, "'tree_info':[0,0]", "'tree_info':[0,1]");
  lm_ir_model *m = import_ok(json);
  assert_string_equal(m->objective, "multi:softprob");
  assert_int_equal(m->num_outputs, 2);
  assert_int_equal(m->trees[0].group, 0);
  assert_int_equal(m->trees[1].group, 1);
  assert_good_trees(m);
  lm_ir_free(m);
  free(a), free(b), free(json);
}

static void test_dart(void **state) {
  (void)state;
  char *json = J(DART);
  lm_ir_model *m = import_ok(json);
  assert_int_equal(m->booster, LM_BOOSTER_DART);
  assert_string_equal(m->objective, "reg:squarederror");
  assert_good_trees(m);
  assert_int_equal(fbits(m->trees[0].weight), fbits(0.5f));
  assert_int_equal(fbits(m->trees[1].weight), fbits(2.0f)); /* an integer where a float goes */
  lm_ir_free(m);
  free(json);
}

static void test_gblinear(void **state) {
  (void)state;
  char *json = J(LINEAR);
  lm_ir_model *m = import_ok(json);
  assert_int_equal(m->booster, LM_BOOSTER_GBLINEAR);
  assert_int_equal(m->num_outputs, 2);
  assert_int_equal(m->n_trees, 0);
  assert_null(m->trees);
  assert_non_null(m->linear_weights);
  static const float want[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, -0.7f, 0.8f};
  for (int i = 0; i < 8; i++) assert_int_equal(fbits(m->linear_weights[i]), fbits(want[i]));
  lm_ir_free(m);
  free(json);
}

static void test_minimal(void **state) {
  (void)state;
  char *json = J(MINIMAL);
  lm_ir_model *m = import_ok(json);
  assert_string_equal(m->source_version, "1.0.0");
  assert_int_equal(m->num_features, 1);
  assert_int_equal(m->num_outputs, 1); /* num_target absent → 1 */
  assert_null(m->feature_names);       /* empty arrays: no names, no types */
  assert_null(m->feature_types);
  assert_int_equal(m->best_iteration, -1);
  assert_int_equal(m->best_ntree_limit, -1);
  assert_int_equal(m->n_trees, 1);
  assert_node(&m->trees[0].nodes[0], -1, -1, 0, -2.0f, 0, 0);
  assert_null(m->cat_values);
  lm_ir_free(m);
  free(json);
}

/* ---- (b) bad inputs --------------------------------------------------------------------- */

#define P "model.json: "
#define T0 "learner.gradient_booster.model.trees[0]"

typedef tu_bad_text bad_case; /* base: JSON (single quotes) */

static const bad_case bad_cases[] = {
    {"empty input", "", NULL, NULL, 0, LM_EFORMAT,
     P "truncated JSON: unexpected end of input at byte 0"},
    {"truncated", GOOD, NULL, NULL, 200, LM_EFORMAT,
     P "truncated JSON: unexpected end of input at byte 200"},
    {"malformed", "{'version':[1,7,4],'learner':{]}", NULL, NULL, 0, LM_EFORMAT,
     P "malformed JSON at byte 30: "},
    {"trailing data", "{'version':[1,7,4]} x", NULL, NULL, 0, LM_EFORMAT,
     P "malformed JSON at byte 20: unexpected data after"},
    {"NUL byte after the value", "{'version':[1,7,4]}\0{", NULL, NULL, 21, LM_EFORMAT,
     P "malformed JSON at byte 19"},
    {"not an object", "[1,2,3]", NULL, NULL, 0, LM_EFORMAT,
     P "top level: expected object, got array"},
    {"a bare number", "5", NULL, NULL, 0, LM_EFORMAT, P "top level: expected object, got number"},
    {"missing version", "{'learner':{}}", NULL, NULL, 0, LM_EFORMAT, P "version: missing"},
    {"bad version", "{'version':[1,7],'learner':{}}", NULL, NULL, 0, LM_EFORMAT,
     P "version: expected 3 numbers, got 2"},
    {"missing learner", "{'version':[1,7,4]}", NULL, NULL, 0, LM_EFORMAT, P "learner: missing"},
    {"learner not an object", "{'version':[1,7,4],'learner':[]}", NULL, NULL, 0, LM_EFORMAT,
     P "learner: expected object, got array"},
    {"unknown objective", GOOD, "'name':'binary:logistic'", "'name':'binary:logitnope'", 0,
     LM_EUNSUPPORTED, P "learner.objective.name: unknown objective \"binary:logitnope\""},
    {"objective name with a newline", GOOD, "'name':'binary:logistic'", "'name':'a\\nb'", 0,
     LM_EUNSUPPORTED, "unknown objective \"a?b\""},
    {"multiclass without num_class", GOOD, "'name':'binary:logistic'", "'name':'multi:softmax'", 0,
     LM_EFORMAT, P "learner.learner_model_param.num_class: objective multi:softmax needs "
                   "num_class >= 2, got 0"},
    {"unknown booster", GOOD, "'name':'gbtree'", "'name':'gbforest'", 0, LM_EUNSUPPORTED,
     P "learner.gradient_booster.name: unknown booster \"gbforest\""},
    {"wrong type: number for string", GOOD, "'num_feature':'3','num_target'",
     "'num_feature':3,'num_target'", 0, LM_EFORMAT,
     P "learner.learner_model_param.num_feature: expected string, got number"},
    {"not an integer string", GOOD, "'num_feature':'3','num_target'",
     "'num_feature':'3x','num_target'", 0, LM_EFORMAT,
     P "learner.learner_model_param.num_feature: expected an integer string, got \"3x\""},
    {"bad base_score", GOOD, "'base_score':'5E-1'", "'base_score':'[5E-1'", 0, LM_EFORMAT,
     P "learner.learner_model_param.base_score: expected a number or [numbers] string"},
    /* issue 18 finding 12: XGBoost reads 1e39 as inf (every prediction inf/NaN): refused */
    {"base_score overflows float32", GOOD, "'base_score':'5E-1'", "'base_score':'1e39'", 0,
     LM_ERANGE, P "learner.learner_model_param.base_score: 1e39 overflows float32 (XGBoost reads "
                  "it as inf: every prediction would be inf or NaN)"},
    {"base_score overflows float32, negative", GOOD, "'base_score':'5E-1'", "'base_score':'[-1E39]'",
     0, LM_ERANGE, P "learner.learner_model_param.base_score: -1E39 overflows float32"},
    /* XGBoost 1.7.4: "base_score must be in (0,1) for logistic loss" */
    {"base_score outside (0, 1) for logistic", GOOD, "'base_score':'5E-1'", "'base_score':'1.5'",
     0, LM_ERANGE, P "learner.learner_model_param.base_score: 1.5 has no finite margin under "
                     "binary:logistic (must be in (0, 1)"},
    /* 3.1+: one base score per output (XGBoost's ValidateLength); 2 for 1 output is malformed */
    {"base score count", GOOD, "'base_score':'5E-1'", "'base_score':'[5E-1,2.5E-1]'", 0,
     LM_EFORMAT,
     P "learner.learner_model_param.base_score: 2 values for 1 outputs (version 1.7.4: expected "
       "1 or one per output)"},
    /* vector leaves must have one value per target (multi-target models: tests/test_xgboost3.c) */
    {"tree with leaf vectors", GOOD, "'num_nodes':'5','size_leaf_vector':'0'",
     "'num_nodes':'5','size_leaf_vector':'3'", 0, LM_EFORMAT,
     P T0 ".tree_param.size_leaf_vector: leaf vectors of size 3 for a model of 1 outputs"},
    {"array length mismatch", GOOD, "'right_children':[2,-1,4,-1,-1]",
     "'right_children':[2,-1,4,-1]", 0, LM_EFORMAT,
     P T0 ".right_children: length 4 does not match num_nodes 5"},
    {"missing per-node array", GOOD, "'split_indices':[0,0,1,0,0],", "", 0, LM_EFORMAT,
     P T0 ".split_indices: missing"},
    {"feature index out of range", GOOD, "'split_indices':[0,0,1,0,0]",
     "'split_indices':[0,0,7,0,0]", 0, LM_ERANGE,
     P T0 ".split_indices[2]: feature index out of range: 7 (num_feature 3)"},
    {"negative feature index", GOOD, "'split_indices':[0,0,1,0,0]", "'split_indices':[-1,0,1,0,0]",
     0, LM_ERANGE, P T0 ".split_indices[0]: feature index out of range: -1"},
    {"child index out of range", GOOD, "'left_children':[1,-1,3,-1,-1]",
     "'left_children':[1,-1,99,-1,-1]", 0, LM_ERANGE,
     P T0 ".left_children[2]: child index 99 out of range (num_nodes 5)"},
    {"child pointing at the root", GOOD, "'right_children':[2,-1,4,-1,-1]",
     "'right_children':[2,-1,0,-1,-1]", 0, LM_ERANGE,
     P T0 ".right_children[2]: child index 0 out of range (num_nodes 5)"},
    {"child index beyond int32", GOOD, "'left_children':[1,-1,3,-1,-1]",
     "'left_children':[1,-1,99999999999,-1,-1]", 0, LM_ERANGE,
     P T0 ".left_children[2]: value 99999999999 out of range"},
    /* node 3 gets children 2 (its parent) and 1 */
    {"cycle", GOOD, "[1,-1,3,-1,-1],'right_children':[2,-1,4,-1,-1]",
     "[1,-1,3,2,-1],'right_children':[2,-1,4,1,-1]", 0, LM_EFORMAT,
     P T0 ": cycle or shared child: node 2 is reached again from node 3"},
    {"shared child", GOOD, "'right_children':[2,-1,4,-1,-1]", "'right_children':[1,-1,4,-1,-1]", 0,
     LM_EFORMAT, P T0 ": cycle or shared child: node 1 is reached again from node 0"},
    {"leaf with one child", GOOD, "'left_children':[1,-1,3,-1,-1]",
     "'left_children':[1,-1,-1,-1,-1]", 0, LM_EFORMAT,
     P T0 ".left_children[2]: node 2 has one child (left -1, right 4)"},
    {"float where an integer goes", GOOD, "'left_children':[1,-1,3,-1,-1]",
     "'left_children':[1,-1,3.0,-1,-1]", 0, LM_EFORMAT,
     P T0 ".left_children[2]: expected integer, got number"},
    {"string where a float goes", GOOD, "2.5E-1,NaN", "'x',NaN", 0, LM_EFORMAT,
     P T0 ".split_conditions[1]: expected number, got string"},
    {"default_left not 0/1", GOOD, "'default_left':[1,0,0,0,0]", "'default_left':[2,0,0,0,0]", 0,
     LM_EFORMAT, P T0 ".default_left[0]: value 2 out of range [0, 1]"},
    {"unknown split_type", GOOD, "'split_type':[0,0,1,0,0]", "'split_type':[0,0,2,0,0]", 0,
     LM_EFORMAT, P T0 ".split_type[2]: value 2 out of range [0, 1]"},
    {"num_nodes zero", GOOD, "'num_nodes':'5'", "'num_nodes':'0'", 0, LM_ERANGE,
     P T0 ".tree_param.num_nodes: value 0 out of range"},
    {"tree not an object", GOOD, "'trees':[" TREE0, "'trees':[7", 0, LM_EFORMAT,
     P T0 ": expected object, got number"},
    {"categorical segment out of range", GOOD, "'categories_segments':[0,4]",
     "'categories_segments':[0,5]", 0, LM_ERANGE,
     P T0 ".categories_sizes[1]: category segment [5, 6) out of range (categories length 5)"},
    {"overlapping categorical segments", GOOD,
     "'categories_segments':[0,4],'categories_sizes':[4,1]",
     "'categories_segments':[0,0],'categories_sizes':[4,4]", 0, LM_EFORMAT,
     P T0 ".categories_sizes: sizes add up to more"},
    {"negative category", GOOD, "'categories':[40,3,1,3,7]", "'categories':[40,-3,1,3,7]", 0,
     LM_ERANGE, P T0 ".categories[1]: negative category -3 (node 2)"},
    {"categorical node out of range", GOOD, "'categories_nodes':[2,3]", "'categories_nodes':[2,5]",
     0, LM_ERANGE, P T0 ".categories_nodes[1]: value 5 out of range [0, 4]"},
    {"categorical nodes out of order", GOOD, "'categories_nodes':[2,3]", "'categories_nodes':[3,2]",
     0, LM_EFORMAT, P T0 ".categories_nodes[1]: node 2 listed out of order (after node 3)"},
    {"categorical arrays incomplete", GOOD, "'categories_sizes':[4,1],", "", 0, LM_EFORMAT,
     P T0 ".categories_sizes: missing"},
    {"categorical arrays lengths", GOOD, "'categories_sizes':[4,1]", "'categories_sizes':[4]", 0,
     LM_EFORMAT, P T0 ".categories_sizes: length 1 does not match categories_nodes length 2"},
    {"tree_info out of range", GOOD, "'tree_info':[0,0]", "'tree_info':[0,1]", 0, LM_ERANGE,
     P "learner.gradient_booster.model.tree_info[1]: value 1 out of range [0, 0]"},
    {"tree_info length", GOOD, "'tree_info':[0,0]", "'tree_info':[0]", 0, LM_EFORMAT,
     P "learner.gradient_booster.model.tree_info: length 1 does not match num_trees 2"},
    {"num_trees mismatch", GOOD, "'num_trees':'2'", "'num_trees':'3'", 0, LM_EFORMAT,
     P "learner.gradient_booster.model.gbtree_model_param.num_trees: num_trees 3 does not match "
       "the trees array's length 2"},
    {"dart weight_drop length", DART, "'weight_drop':[5E-1,2]", "'weight_drop':[5E-1]", 0,
     LM_EFORMAT, P "learner.gradient_booster.weight_drop: length 1 does not match num_trees 2"},
    {"dart without gbtree", DART, "'gbtree':{'model':", "'gbtreex':{'model':", 0, LM_EFORMAT,
     P "learner.gradient_booster.gbtree: missing"},
    {"gblinear weights length", LINEAR, "8E-1]", "]", 0, LM_EFORMAT,
     P "learner.gradient_booster.model.weights: length 7, expected (num_feature + 1) x outputs = "
       "(3 + 1) x 2 = 8"},
    {"feature_names count", GOOD, "'feature_names':['age','color','x']",
     "'feature_names':['age','color']", 0, LM_EFORMAT,
     P "learner.feature_names: 2 names for num_feature 3"},
    {"feature name not a string", GOOD, "'feature_names':['age','color','x']",
     "'feature_names':['age',5,'x']", 0, LM_EFORMAT,
     P "learner.feature_names[1]: expected string, got number"},
    {"feature_types count", GOOD, "'feature_types':['float','c','int']", "'feature_types':['c']", 0,
     LM_EFORMAT, P "learner.feature_types: 1 types for num_feature 3"},
    {"bad best_iteration", GOOD, "'best_iteration':'1'", "'best_iteration':'one'", 0, LM_EFORMAT,
     P "learner.attributes.best_iteration: expected an integer string, got \"one\""},
    /* issue 18 finding 7: a tiny model claiming 2^29 features (lminfo took 69 s and 8.9 GB) */
    {"num_feature beyond lmrt's limit", GOOD, "'num_feature':'3','num_target'", "'num_feature':'536870912','num_target'", 0,
     LM_ERANGE, P "learner.learner_model_param.num_feature: value 536870912 out of range [0, 16777216]"},
    {"num_class too large", GOOD, "'num_class':'0'", "'num_class':'99999999'", 0, LM_ERANGE,
     P "learner.learner_model_param.num_class: value 99999999 out of range"},
};

static void test_bad_json(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *c = &bad_cases[i];
    char *json;
    size_t len;
    if (c->find) {
      json = subst(c->base, c->find, c->repl);
      len = strlen(json);
    } else {
      /* may hold a NUL: copy len bytes */
      len = c->len ? c->len : strlen(c->base);
      json = malloc(len + 1);
      assert_non_null(json);
      memcpy(json, c->base, len);
      json[len] = '\0';
      for (size_t k = 0; k < len; k++)
        if (json[k] == '\'') json[k] = '"';
    }
    if (c->find && c->len) len = c->len;
    failures += tu_expect_bad(lm__import_xgboost_json, c->what, (const uint8_t *)json, len,
                              "model.json", P, c->code, c->msg);
    free(json);
  }
  assert_int_equal(failures, 0);
}

/* Every proper prefix of a good model is rejected (truncated or malformed), and one-byte
 * mutations anywhere either import or fail cleanly with a named error: no crash, no leak
 * (the sanitizer build checks the latter). */
static void test_prefixes_and_mutations(void **state) {
  (void)state;
  char *json = J(GOOD);
  size_t n = strlen(json);
  for (size_t cut = 0; cut < n; cut++) {
    lm_ir_model *m = NULL;
    int rc = lm__import_xgboost_json((const uint8_t *)json, cut, "model.json", &m);
    assert_int_equal(rc, LM_EFORMAT);
    assert_null(m);
  }
  static const char subs[] = {'-', '9', '"', '}', ']', ',', '0', 'x', '\0'};
  size_t ok = 0, failed = 0;
  for (size_t at = 0; at < n; at++) {
    for (size_t s = 0; s < sizeof subs; s++) {
      char saved = json[at];
      if (saved == subs[s]) continue;
      json[at] = subs[s];
      lm_ir_model *m = NULL;
      int rc = lm__import_xgboost_json((const uint8_t *)json, n, "model.json", &m);
      json[at] = saved;
      tu_import_outcome(rc, m, P, &ok, &failed);
    }
  }
  assert_true(failed > ok); /* most mutations break something */
  free(json);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gbtree),
      cmocka_unit_test(test_base_score_spellings),
      cmocka_unit_test(test_multiclass_groups),
      cmocka_unit_test(test_dart),
      cmocka_unit_test(test_gblinear),
      cmocka_unit_test(test_minimal),
      cmocka_unit_test(test_bad_json),
      cmocka_unit_test(test_prefixes_and_mutations),
  };
  return cmocka_run_group_tests_name("xgboost_json", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
