/*
 * test_lightgbm_bad.c — broken LightGBM text models (formats/import/lightgbm_txt.c): one table of
 * broken inputs, each with its error code and a piece of its message (file name, line, key),
 * then every truncation of a good model and one-byte mutations anywhere (no crash, no leak).
 * The hand-written models are in tests/util_lightgbm.h (see test_lightgbm.c).
 */
#include "tests/util_lightgbm.h"

/* ---- (b) bad inputs ----------------------------------------------------------------------- */

#define P "model.txt: "
typedef tu_bad_text bad_case;

static const bad_case bad_cases[] = {
    {"empty input", "", NULL, NULL, 0, LM_EFORMAT, P "line 1: expected 'tree' (not a LightGBM"},
    {"not a model", "{\"learner\":{}}\n", NULL, NULL, 0, LM_EFORMAT,
     P "line 1: expected 'tree'"},
    {"header only", "tree\nversion=v4\nnum_class=1\n", NULL, NULL, 0, LM_EFORMAT,
     P "truncated: no Tree= line after the header"},
    {"no trees", GOOD, TREE0 TREE1 TREE2, "", 0, LM_EFORMAT, P "line 11: model without trees"},
    {"missing tree header", GOOD, "tree\nversion", "version", 0, LM_EFORMAT,
     P "line 1: expected 'tree'"},
    {"no version", GOOD, "version=v4\n", "", 0, LM_EUNSUPPORTED,
     P "header: no version= line (LightGBM v1 files are not supported; v2-v4 are)"},
    {"version v5", GOOD, "version=v4", "version=v5", 0, LM_EUNSUPPORTED,
     P "line 2: version: 'v5' not supported (v2-v4)"},
    {"missing num_class", GOOD, "num_class=1\n", "", 0, LM_EFORMAT, P "header: missing num_class"},
    {"num_class 0", GOOD, "num_class=1", "num_class=0", 0, LM_ERANGE,
     P "line 3: num_class: 0 out of range [1, 1048576]"},
    {"num_class not a number", GOOD, "num_class=1", "num_class=one", 0, LM_EFORMAT,
     P "line 3: num_class: expected an integer, got 'one'"},
    {"num_class given twice", GOOD, "num_tree_per_iteration=1", "num_class=1", 0, LM_EFORMAT,
     P "line 4: num_class given twice (first on line 3)"},
    {"bad max_feature_idx", GOOD, "max_feature_idx=3", "max_feature_idx=3.5", 0, LM_EFORMAT,
     P "line 6: max_feature_idx: expected an integer, got '3.5'"},
    {"negative max_feature_idx", GOOD, "max_feature_idx=3", "max_feature_idx=-1", 0, LM_ERANGE,
     P "line 6: max_feature_idx: -1 out of range [0, 16777215]"},
    {"feature_names count", GOOD, "feature_names=a b c d", "feature_names=a b c", 0, LM_EFORMAT,
     P "line 8: feature_names: 3 names, expected 4 (max_feature_idx + 1)"},
    {"missing feature_names", GOOD, "feature_names=a b c d\n", "", 0, LM_EFORMAT,
     P "header: missing feature_names"},
    {"feature_infos count", GOOD, "none [1:2]", "none", 0, LM_EFORMAT,
     P "line 9: feature_infos: 3 entries, expected 4 (max_feature_idx + 1)"},
    {"unknown objective", GOOD, "objective=binary sigmoid:0.5", "objective=binary_logloss", 0,
     LM_EUNSUPPORTED, P "line 7: objective: unknown objective 'binary_logloss'"},
    {"objective with a control byte", GOOD, "objective=binary sigmoid:0.5", "objective=bi\x01ry",
     0, LM_EUNSUPPORTED, P "line 7: objective: unknown objective 'bi?ry'"},
    {"bad sigmoid", GOOD, "sigmoid:0.5", "sigmoid:0", 0, LM_EFORMAT,
     P "line 7: objective: bad sigmoid parameter 'sigmoid:0'"},
    {"sigmoid not a number", GOOD, "sigmoid:0.5", "sigmoid:x", 0, LM_EFORMAT,
     P "line 7: objective: bad sigmoid parameter 'sigmoid:x'"},
    {"multiclass with one class", GOOD, "objective=binary sigmoid:0.5", "objective=multiclass",
     0, LM_EFORMAT,
     P "line 7: objective: multiclass needs num_class = num_tree_per_iteration >= 2, got 1 "
       "and 1"},
    {"num_class parameter mismatch", MULTI_RF, "multiclass num_class:3", "multiclass num_class:4",
     0, LM_EFORMAT, P "line 7: objective: 'num_class:4' does not match num_class=3"},
    {"binary with two trees per iteration", GOOD, "num_tree_per_iteration=1",
     "num_tree_per_iteration=2", 0, LM_EFORMAT,
     P "line 7: objective: binary with num_tree_per_iteration 2 (must be 1)"},
    {"trees not a multiple of the classes", MULTI_RF, LEAF_TREE(5, 6), "", 0, LM_EFORMAT,
     P "5 trees is not a multiple of num_tree_per_iteration 3"},
    {"missing num_leaves", GOOD, "Tree=0\nnum_leaves=5\n", "Tree=0\n", 0, LM_EFORMAT,
     P "line 11: Tree=0: missing num_leaves"},
    {"num_leaves 0", GOOD, "num_leaves=5", "num_leaves=0", 0, LM_ERANGE,
     P "line 12: Tree=0: num_leaves: 0 out of range [1, 16777216]"},
    {"num_leaves huge", GOOD, "num_leaves=5", "num_leaves=99999999999999999999", 0, LM_ERANGE,
     P "line 12: Tree=0: num_leaves: 99999999999999999999 out of range"},
    {"num_leaves not a number", GOOD, "num_leaves=5", "num_leaves=5x", 0, LM_EFORMAT,
     P "line 12: Tree=0: num_leaves: expected an integer, got '5x'"},
    {"num_leaves does not match the arrays", GOOD, "num_leaves=5", "num_leaves=6", 0,
     LM_EFORMAT, P "line 20: Tree=0: leaf_value: 5 values, expected 6 (num_leaves)"},
    {"missing leaf_value", GOOD, "leaf_value=0.5 -0.5\n", "", 0, LM_EFORMAT,
     P "line 51: Tree=2: missing leaf_value"},
    {"missing left_child", GOOD, "left_child=-1\n", "", 0, LM_EFORMAT,
     P "line 51: Tree=2: missing left_child"},
    {"array length mismatch", GOOD, "right_child=2 3 -3 -5", "right_child=2 3 -3", 0,
     LM_EFORMAT, P "line 19: Tree=0: right_child: 3 values, expected 4 (num_leaves - 1)"},
    {"split arrays in a one-leaf tree", GOOD, "num_leaves=1\nnum_cat=0\nsplit_feature=\n",
     "num_leaves=1\nnum_cat=0\nsplit_feature=0\n", 0, LM_EFORMAT,
     P "line 35: Tree=1: split_feature: 1 values, expected 0 (num_leaves - 1)"},
    {"child out of range", GOOD, "left_child=1 -1 -2 -4", "left_child=1 -1 -2 4", 0, LM_ERANGE,
     P "line 18: Tree=0: left_child[3]: 4 out of range [-5, 3]"},
    {"leaf child out of range", GOOD, "right_child=2 3 -3 -5", "right_child=2 3 -3 -6", 0,
     LM_ERANGE, P "line 19: Tree=0: right_child[3]: -6 out of range [-5, 3]"},
    {"child is the root", GOOD, "left_child=1 -1 -2 -4", "left_child=1 -1 -2 0", 0, LM_EFORMAT,
     P "line 18: Tree=0: left_child[3]: child 0 is the root"},
    /* node 3's left child is node 1 again: a cycle (and leaf 3 is orphaned) */
    {"cycle", GOOD, "left_child=1 -1 -2 -4", "left_child=1 -1 -2 1", 0, LM_EFORMAT,
     P "line 18: Tree=0: left_child[3]: cycle or shared child: node 1 is reached again"},
    {"shared child", GOOD, "right_child=2 3 -3 -5", "right_child=2 3 -3 -3", 0, LM_EFORMAT,
     P "line 19: Tree=0: right_child[3]: cycle or shared child: node 6 is reached again"},
    {"orphan nodes", GOOD, "left_child=1 -1 -2 -4\nright_child=2 3 -3 -5",
     "left_child=-1 3 -2 1\nright_child=2 -4 -3 -5", 0, LM_EFORMAT,
     P "line 18: Tree=0: node 1 (internal node 1) is not reachable from the root"},
    {"split feature out of range", GOOD, "split_feature=0 3 1 2", "split_feature=0 3 1 4", 0,
     LM_ERANGE, P "line 14: Tree=0: split_feature[3]: 4 out of range [0, 3]"},
    {"negative split feature", GOOD, "split_feature=0 3 1 2", "split_feature=-1 3 1 2", 0,
     LM_ERANGE, P "line 14: Tree=0: split_feature[0]: -1 out of range [0, 3]"},
    {"threshold not a number", GOOD, "threshold=-1.5", "threshold=-1.5.5", 0, LM_EFORMAT,
     P "line 56: Tree=2: threshold[0]: expected a number, got '-1.5.5'"},
    {"NaN threshold", GOOD, "threshold=-1.5", "threshold=nan", 0, LM_EFORMAT,
     P "line 56: Tree=2: threshold[0]: NaN"},
    {"NaN leaf value", GOOD, "leaf_value=0.5 -0.5", "leaf_value=0.5 nan", 0, LM_EFORMAT,
     P "line 59: Tree=2: leaf_value[1]: NaN"},
    {"very long number", GOOD, "leaf_value=0.5 -0.5",
     "leaf_value=0.5 -0.50000000000000000000000000000000000000000000000000000000000000000000000000"
     "000000000000000001",
     0, LM_EFORMAT, P "line 59: Tree=2: leaf_value[1]: expected a number, got '-0.5000000000"},
    {"decision_type out of range", GOOD, "decision_type=2 10 1 4", "decision_type=2 10 1 16", 0,
     LM_EFORMAT, P "line 17: Tree=0: decision_type[3]: 16 out of range [0, 15]"},
    {"missing type 3", GOOD, "decision_type=2 10 1 4", "decision_type=2 10 1 12", 0, LM_EFORMAT,
     P "line 17: Tree=0: decision_type[3]: 12 has missing type 3 (only 0 None, 1 Zero, 2 NaN)"},
    {"num_cat beyond the splits", GOOD, "num_cat=1", "num_cat=5", 0, LM_ERANGE,
     P "line 13: Tree=0: num_cat: 5 out of range [0, 4]"},
    {"missing cat_threshold", GOOD, "cat_threshold=1 2147483650\n", "", 0, LM_EFORMAT,
     P "line 11: Tree=0: missing cat_threshold (num_cat 1)"},
    {"cat_boundaries length", GOOD, "cat_boundaries=0 2", "cat_boundaries=0 1 2", 0, LM_EFORMAT,
     P "line 26: Tree=0: cat_boundaries: 3 values, expected 2 (num_cat + 1)"},
    {"cat_boundaries beyond the words", GOOD, "cat_boundaries=0 2", "cat_boundaries=0 3", 0,
     LM_ERANGE, P "line 26: Tree=0: cat_boundaries[1]: 3 out of range [0, 2]"},
    {"cat_boundaries not from 0", GOOD, "cat_boundaries=0 2", "cat_boundaries=1 2", 0,
     LM_EFORMAT, P "line 26: Tree=0: cat_boundaries[0]: 1, expected 0"},
    {"cat_boundaries short of the words", GOOD, "cat_boundaries=0 2", "cat_boundaries=0 1", 0,
     LM_EFORMAT, P "line 26: Tree=0: cat_boundaries[1]: 1, but cat_threshold has 2 words"},
    {"cat word beyond 32 bits", GOOD, "cat_threshold=1 2147483650", "cat_threshold=1 4294967296",
     0, LM_ERANGE, P "line 27: Tree=0: cat_threshold[1]: 4294967296 out of range [0, 4294967295]"},
    {"categorical split naming no set", GOOD, "threshold=1.0000000180025095e-35 inf 0 -inf",
     "threshold=1.0000000180025095e-35 inf 1 -inf", 0, LM_ERANGE,
     P "line 16: Tree=0: threshold[2]: categorical split names category set 1, not in "
       "[0, num_cat 1)"},
    {"categorical set index not an integer", GOOD, "threshold=1.0000000180025095e-35 inf 0 -inf",
     "threshold=1.0000000180025095e-35 inf 0.5 -inf", 0, LM_ERANGE,
     P "line 16: Tree=0: threshold[2]: categorical split names category set 0.5"},
    {"is_linear 2", GOOD, "is_linear=0\nshrinkage=0.1", "is_linear=2\nshrinkage=0.1", 0,
     LM_EFORMAT, P "line 65: Tree=2: is_linear: 2 out of range [0, 1]"},
    {"linear without leaf_const", LINEAR, "leaf_const=1.25 -2.75\n", "", 0, LM_EFORMAT,
     P "line 11: Tree=0: missing leaf_const (is_linear=1)"},
    {"linear feature count mismatch", LINEAR, "num_features=2 0", "num_features=2 1", 0,
     LM_EFORMAT, P "line 29: Tree=0: leaf_features: 2 values, expected 3 (the sum of "
                   "num_features)"},
    {"linear coefficient count mismatch", LINEAR, "leaf_coeff=0.5 -0.25  ", "leaf_coeff=0.5  ", 0,
     LM_EFORMAT, P "line 30: Tree=0: leaf_coeff: 1 values, expected 2 (the sum of num_features)"},
    {"linear feature out of range", LINEAR, "leaf_features=2 0  ", "leaf_features=3 0  ", 0,
     LM_ERANGE, P "line 29: Tree=0: leaf_features[0]: 3 out of range [0, 2]"},
    {"linear NaN coefficient", LINEAR, "leaf_coeff=3  ", "leaf_coeff=nan  ", 0, LM_EFORMAT,
     P "line 53: Tree=1: leaf_coeff[0]: NaN"},
    {"duplicate tree field", GOOD, "split_gain=1\n", "left_child=-1\n", 0, LM_EFORMAT,
     P "line 57: Tree=2: left_child given twice (first on line 55)"},
    {"not key=value in a tree", GOOD, "split_gain=1\n", "split_gain\n", 0, LM_EFORMAT,
     P "line 55: Tree=2: expected key=value, got 'split_gain'"},
    {"tree numbered out of order", GOOD, "Tree=1\n", "Tree=7\n", 0, LM_EFORMAT,
     P "line 32: expected 'Tree=1', got 'Tree=7'"},
    {"garbage between trees", GOOD, "shrinkage=1\n\n\nTree=1", "shrinkage=1\n\ngarbage\nTree=1",
     0, LM_EFORMAT, P "line 31: expected Tree=1 or 'end of trees', got 'garbage'"},
    {"no end of trees", GOOD, TAIL, "", 0, LM_EFORMAT,
     P "truncated: the input ends after 3 trees without 'end of trees'"},
    {"cut inside the last tree", GOOD, "shrinkage=0.1\n\n\n" TAIL, "", 0, LM_EFORMAT,
     P "truncated: the input ends after 3 trees"},
    {"NUL byte", GOOD, "leaf_value=0.5 -0.5", "leaf_value=0.5 -0.5\0", 0, LM_EFORMAT,
     P "line 59: NUL byte in the text"},
    {"tree_sizes too short", GOOD, "feature_infos=[0:1] -1:0:33:63 none [1:2]\n",
     "feature_infos=[0:1] -1:0:33:63 none [1:2]\ntree_sizes=10 10\n", 0, LM_EFORMAT,
     P "line 33: Tree=1 starts at byte 613, but tree_sizes (line 10) puts it at byte 206"},
    {"tree_sizes not numbers", GOOD, "feature_infos=[0:1] -1:0:33:63 none [1:2]\n",
     "feature_infos=[0:1] -1:0:33:63 none [1:2]\ntree_sizes=x\n", 0, LM_EFORMAT,
     P "line 10: tree_sizes[0]: bad size 'x'"},
};

/* The cases with a NUL byte in their replacement: the text is built by hand. */
static char *bad_text(const bad_case *c, size_t *len) {
  if (!c->find) {
    *len = c->len ? c->len : strlen(c->base);
    char *t = malloc(*len + 1);
    assert_non_null(t);
    memcpy(t, c->base, *len);
    t[*len] = '\0';
    return t;
  }
  char *t = subst(c->base, c->find, c->repl);
  *len = strlen(t);
  if (strstr(c->what, "NUL")) { /* the replacement ended in "\0": put it back */
    size_t k = (size_t)(strstr(t, c->repl) - t) + strlen(c->repl);
    t = realloc(t, *len + 2);
    assert_non_null(t);
    memmove(t + k + 1, t + k, *len - k + 1);
    t[k] = '\0';
    (*len)++;
  }
  if (c->len) *len = c->len;
  return t;
}

static void test_bad_inputs(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *c = &bad_cases[i];
    size_t len;
    char *text = bad_text(c, &len);
    failures += tu_expect_bad(lm__import_lightgbm_text, c->what, (const uint8_t *)text, len,
                              "model.txt", P, c->code, c->msg);
    free(text);
  }
  /* tree_sizes that do not match where the trees start (off by one) */
  static const int off_by_one[3] = {0, 1, 0};
  char *text = with_tree_sizes(GOOD, off_by_one);
  lm_ir_model *m = (lm_ir_model *)1;
  int rc = lm__import_lightgbm_text((const uint8_t *)text, strlen(text), "model.txt", &m);
  if (rc != LM_EFORMAT || m || !strstr(lm_last_error(), "Tree=2 starts at byte")) {
    print_error("tree_sizes off by one: got %d \"%s\"\n", rc, lm_last_error());
    failures++;
  }
  free(text);
  /* tree_sizes listing more trees than there are */
  char *a = with_tree_sizes(GOOD, NULL);
  char *b = subst(a, TREE2, "");
  m = (lm_ir_model *)1;
  rc = lm__import_lightgbm_text((const uint8_t *)b, strlen(b), "model.txt", &m);
  if (rc != LM_EFORMAT || m || !strstr(lm_last_error(), "2 trees, but tree_sizes (line 10) "
                                                        "lists 3")) {
    print_error("tree_sizes count: got %d \"%s\"\n", rc, lm_last_error());
    failures++;
  }
  free(a), free(b);
  assert_int_equal(failures, 0);
}

/* Every prefix that ends before `end of trees` is complete is rejected (LM_EFORMAT, or LM_ERANGE
 * when the cut shortens an array that bounds an index, e.g. cat_threshold), with or
 * without tree_sizes; one-byte mutations anywhere either import or fail cleanly (no crash, no
 * leak: the sanitizer build checks). */
static void test_prefixes_and_mutations(void **state) {
  (void)state;
  char *sized = with_tree_sizes(GOOD, NULL);
  const char *texts[] = {GOOD, sized, LINEAR};
  for (size_t k = 0; k < 3; k++) {
    const char *text = texts[k];
    size_t n = strlen(text);
    size_t end = (size_t)(strstr(text, "end of trees") - text) + strlen("end of trees");
    for (size_t cut = 0; cut < end; cut++) {
      lm_ir_model *m = (lm_ir_model *)1;
      int rc = lm__import_lightgbm_text((const uint8_t *)text, cut, "model.txt", &m);
      if ((rc != LM_EFORMAT && rc != LM_ERANGE) || m) {
        print_error("prefix of %zu bytes: got %d \"%s\"\n", cut, rc, lm_last_error());
        fail();
      }
    }
    for (size_t cut = end; cut <= n; cut++) { /* the rest is ignored */
      lm_ir_model *m = NULL;
      assert_int_equal(lm__import_lightgbm_text((const uint8_t *)text, cut, "model.txt", &m), 0);
      lm_ir_free(m);
    }
    static const char subs[] = {'-', '9', '0', '=', ' ', '\n', 'x', '.', '\0'};
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memcpy(buf, text, n + 1);
    size_t ok = 0, failed = 0;
    for (size_t at = 0; at < n; at++) {
      for (size_t s = 0; s < sizeof subs; s++) {
        char saved = buf[at];
        if (saved == subs[s]) continue;
        buf[at] = subs[s];
        lm_ir_model *m = (lm_ir_model *)1;
        int rc = lm__import_lightgbm_text((const uint8_t *)buf, n, "model.txt", &m);
        buf[at] = saved;
        tu_import_outcome(rc, m, P, &ok, &failed);
      }
    }
    assert_true(ok > 0 && failed > 0);
    free(buf);
  }
  free(sized);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_prefixes_and_mutations),
  };
  return cmocka_run_group_tests_name("lightgbm_bad", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
