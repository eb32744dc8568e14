/*
 * test_xgboost_json.c — the XGBoost JSON importer (formats/import/xgboost_json.c), the artifact
 * reader (formats/import/sagemaker.c) and format sniffing (formats/import/sniff.c).
 *
 * (a) Hand-written models in the layout XGBoost 1.7.4 writes (gbtree with a categorical split,
 *     an old-style tree, dart, gblinear, both base_score spellings), every IR value asserted;
 * (b) one table of broken JSON inputs, each with its error code and a piece of its message,
 *     plus every truncation and many one-byte mutations of a good model (no crash, no leak);
 * (c) archives built at test time with libarchive's writer: member selection and its errors;
 * (d) sniffing: UBJSON, legacy binary, pickle, bs64 named and rejected.
 * JSON is written here with single quotes for readability; J() turns them into double quotes.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <xxhash.h>

#include "formats/import/import.h"
#include "formats/ir.h"
#include "lmrt.h"

static char tmpdir[] = "/tmp/lm_test_xgbjson_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"

/* ---- the hand-written models ------------------------------------------------------------ */

/* Tree 0:  node 0: f0 < t0 (missing → left) ? 1 : 2      t0 = 1.0000000596046447753906251
 *          node 1: leaf 0.25
 *          node 2: f1 categorical, set {40, 3, 1, 3} → stored {1, 3, 40}; in the set → 4, else 3
 *          node 3: leaf -0.5;  node 4: leaf 1.0
 *   categories_nodes also lists leaf 3 (a leftover XGBoost can leave after pruning): ignored.
 * Tree 1: the style of files before 1.3: no split_type, no categorical arrays, default_left as
 *   booleans; one leaf 0.125 and two deleted (unreachable) nodes with junk split indices. */
#define TREE0                                                                                      \
  "{'base_weights':[0,0,0,0,0],'categories':[40,3,1,3,7],'categories_nodes':[2,3],"                \
  "'categories_segments':[0,4],'categories_sizes':[4,1],'default_left':[1,0,0,0,0],'id':0,"        \
  "'left_children':[1,-1,3,-1,-1],'right_children':[2,-1,4,-1,-1],"                                \
  "'loss_changes':[1,0,2,0,0],'parents':[2147483647,0,0,2,2],"                                     \
  "'split_conditions':[1.0000000596046447753906251,2.5E-1,NaN,-5E-1,1E0],"                         \
  "'split_indices':[0,0,1,0,0],'split_type':[0,0,1,0,0],'sum_hessian':[1,1,1,1,1],"                \
  "'tree_param':{'num_deleted':'0','num_feature':'3','num_nodes':'5','size_leaf_vector':'0'}}"
#define TREE1                                                                                      \
  "{'default_left':[false,true,false],'id':1,'left_children':[-1,-1,-1],"                          \
  "'right_children':[-1,-1,-1],'split_conditions':[1.25E-1,0E0,0E0],"                              \
  "'split_indices':[0,2147483647,2147483647],"                                                     \
  "'tree_param':{'num_deleted':'2','num_feature':'3','num_nodes':'3','size_leaf_vector':'0'}}"
#define GBTREE_MODEL                                                                               \
  "{'gbtree_model_param':{'num_parallel_tree':'1','num_trees':'2','size_leaf_vector':'0'},"        \
  "'tree_info':[0,0],'trees':[" TREE0 "," TREE1 "]}"
#define LMP(ncls)                                                                                  \
  "'learner_model_param':{'base_score':'5E-1','boost_from_average':'1','num_class':'" ncls         \
  "','num_feature':'3','num_target':'1'}"
/* clang-format off */
#define MODEL(ncls, obj, booster)                                                                  \
  "{'learner':{'attributes':{'best_iteration':'1','best_ntree_limit':'2'},"                        \
  "'feature_names':['age','color','x'],'feature_types':['float','c','int'],"                       \
  LMP(ncls) ",'objective':{'name':'" obj "','reg_loss_param':{'scale_pos_weight':'1'}},"          \
  "'gradient_booster':" booster "},'version':[1,7,4]}"

static const char GOOD[] =
    MODEL("0", "binary:logistic", "{'model':" GBTREE_MODEL ",'name':'gbtree'}");
static const char DART[] =
    MODEL("0", "reg:squarederror",
          "{'gbtree':{'model':" GBTREE_MODEL ",'name':'gbtree'},'name':'dart',"
          "'weight_drop':[5E-1,2]}");
static const char LINEAR[] =
    MODEL("2", "multi:softprob",
          "{'model':{'boosted_rounds':3,"
          "'weights':[1E-1,2E-1,3E-1,4E-1,5E-1,6E-1,-7E-1,8E-1]},'name':'gblinear'}");
/* clang-format on */
/* Only what is required: no attributes, names or types, no num_target (files before 1.6). */
static const char MINIMAL[] =
    "{'learner':{'learner_model_param':{'base_score':'0.5','num_class':'0','num_feature':'1'},"
    "'objective':{'name':'reg:squarederror'},'gradient_booster':{'name':'gbtree','model':{"
    "'gbtree_model_param':{'num_trees':'1'},'tree_info':[0],'trees':[{'tree_param':{"
    "'num_nodes':'1'},'left_children':[-1],'right_children':[-1],'split_indices':[0],"
    "'split_conditions':[-2E0],'default_left':[0]}]}},'feature_names':[],'feature_types':[]},"
    "'version':[1,0,0]}";

/* s with every ' turned into " (malloc'd). */
static char *J(const char *s) {
  char *r = strdup(s);
  assert_non_null(r);
  for (char *p = r; *p; p++)
    if (*p == '\'') *p = '"';
  return r;
}

/* J(base) with the one occurrence of J(find) replaced by J(repl). */
static char *subst(const char *base, const char *find, const char *repl) {
  char *b = J(base), *f = J(find), *r = J(repl);
  char *out = tu_subst(b, f, r);
  free(b), free(f), free(r);
  return out;
}

static lm_ir_model *import_ok(const char *json) {
  lm_ir_model *m = NULL;
  int rc = lm__import_xgboost_json((const uint8_t *)json, strlen(json), "model.json", &m);
  tu_expect_ok(rc, m);
  return m;
}

static void assert_node(const lm_ir_node *n, int32_t l, int32_t r, uint32_t feat, float value,
                        int dl, int cat) {
  assert_int_equal(n->left, l);
  assert_int_equal(n->right, r);
  assert_int_equal(n->feature, feat);
  if (isnan(value))
    assert_true(isnan(n->value));
  else
    assert_int_equal(fbits(n->value), fbits(value));
  assert_int_equal(n->default_left, dl);
  assert_int_equal(n->categorical, cat);
}

/* The trees of GOOD (and DART), checked value by value. */
static void assert_good_trees(const lm_ir_model *m) {
  assert_int_equal(m->n_trees, 2);
  const lm_ir_tree *t = &m->trees[0];
  assert_int_equal(t->n_nodes, 5);
  /* 1.0000000596046447753906251 lies just above the midpoint between 1 and the next float:
   * strtof rounds it up to 0x3f800001, but via double it becomes exactly the midpoint, which
   * rounds (to even) down to 1.0f. The importer must give strtof's answer. */
  const char *t0 = "1.0000000596046447753906251";
  assert_int_equal(fbits(strtof(t0, NULL)), 0x3f800001u);
  assert_int_equal(fbits((float)strtod(t0, NULL)), 0x3f800000u);
  assert_int_equal(fbits(t->nodes[0].value), 0x3f800001u);
  assert_node(&t->nodes[0], 1, 2, 0, strtof(t0, NULL), 1, 0);
  assert_node(&t->nodes[1], -1, -1, 0, 0.25f, 0, 0);
  assert_node(&t->nodes[2], 3, 4, 1, NAN, 0, 1);
  assert_node(&t->nodes[3], -1, -1, 0, -0.5f, 0, 0);
  assert_node(&t->nodes[4], -1, -1, 0, 1.0f, 0, 0);
  /* categorical set: sorted, de-duplicated; the leaf's leftover entry (7) is not stored */
  assert_int_equal(m->n_cat_values, 3);
  assert_int_equal(t->nodes[2].cat_begin, 0);
  assert_int_equal(t->nodes[2].cat_count, 3);
  assert_int_equal(m->cat_values[0], 1);
  assert_int_equal(m->cat_values[1], 3);
  assert_int_equal(m->cat_values[2], 40);
  assert_int_equal(t->nodes[3].cat_count, 0);
  t = &m->trees[1];
  assert_int_equal(t->n_nodes, 3);
  assert_node(&t->nodes[0], -1, -1, 0, 0.125f, 0, 0);
  /* deleted nodes: leaves whose junk feature index (2^31-1) and default_left are dropped */
  assert_node(&t->nodes[1], -1, -1, 0, 0.0f, 0, 0);
  assert_node(&t->nodes[2], -1, -1, 0, 0.0f, 0, 0);
}

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
      {"[2.5E-1,2.5E-1]", 0.25f}, /* one per target, all equal */
      {" [ 2.5E-1 , 2.5E-1 ] ", 0.25f},
      {"1E0", 1.0f},
      {"0.5", 0.5f},
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

typedef struct bad_case {
  const char *what;
  const char *base; /* JSON (single quotes) */
  const char *find; /* NULL: base as is */
  const char *repl;
  size_t len; /* bytes to parse; 0: all */
  int code;
  const char *msg; /* must appear in lm_last_error() */
} bad_case;

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
    {"multi-target base score", GOOD, "'base_score':'5E-1'", "'base_score':'[5E-1,2.5E-1]'", 0,
     LM_EUNSUPPORTED, P "learner.learner_model_param.base_score: multi-target base score"},
    {"multi-target trees", GOOD, "'num_target':'1'", "'num_target':'2'", 0, LM_EUNSUPPORTED,
     P "learner.learner_model_param.num_target: multi-target trees (2 targets) not supported"},
    {"tree with leaf vectors", GOOD, "'num_nodes':'5','size_leaf_vector':'0'",
     "'num_nodes':'5','size_leaf_vector':'3'", 0, LM_EUNSUPPORTED,
     P T0 ".tree_param.size_leaf_vector: multi-target tree"},
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
    lm_ir_model *m = (lm_ir_model *)1;
    int rc = lm__import_xgboost_json((const uint8_t *)json, len, "model.json", &m);
    const char *e = lm_last_error();
    if (rc != c->code || m != NULL || !strstr(e, c->msg) || strncmp(e, P, strlen(P)) != 0 ||
        strchr(e, '\n')) {
      print_error("bad case \"%s\": got %d (%s) \"%s\"; want %d \"%s\"\n", c->what, rc,
                  lm_err_name(rc), e, c->code, c->msg);
      failures++;
    }
    if (rc == 0) lm_ir_free(m);
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
      if (rc == 0) {
        assert_non_null(m);
        lm_ir_free(m);
        ok++;
      } else {
        assert_true(rc < 0);
        assert_null(m);
        assert_int_equal(strncmp(lm_last_error(), P, strlen(P)), 0);
        assert_null(strchr(lm_last_error(), '\n'));
        failed++;
      }
    }
  }
  assert_true(failed > ok); /* most mutations break something */
  free(json);
}

/* ---- (c) archives ----------------------------------------------------------------------- */

typedef struct member {
  const char *name;
  const char *data; /* NULL: a directory */
} member;

static const char *tmp_path(const char *name) { return tu_path(tmpdir, name); }

/* Write an archive of the members (gzip-compressed ustar, or plain ustar) at tmp/name. */
static const char *make_archive(const char *name, int gzip, const member *m, size_t n) {
  const char *path = tmp_path(name);
  struct archive *a = archive_write_new();
  assert_non_null(a);
  if (gzip) assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
  assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, m[i].name);
    archive_entry_set_perm(e, 0644);
    if (m[i].data) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
    } else {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_size(e, 0);
    }
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (m[i].data) {
      size_t len = strlen(m[i].data);
      assert_int_equal(archive_write_data(a, m[i].data, len), (la_ssize_t)len);
    }
    archive_entry_free(e);
  }
  assert_int_equal(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return path;
}

static const char *write_file(const char *name, const void *data, size_t len) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
  return path;
}

/* lm__artifact_read succeeds with these bytes under display "path:member". */
static void expect_member(const char *path, const char *member, const char *want_member,
                          const char *want_data) {
  uint8_t *data = NULL;
  size_t len = 0;
  char *display = NULL;
  int rc = lm__artifact_read(path, member, &data, &len, &display);
  if (rc) print_error("%s: %s\n", path, lm_last_error());
  assert_int_equal(rc, 0);
  char want_display[600];
  if (want_member)
    snprintf(want_display, sizeof want_display, "%s:%s", path, want_member);
  else
    snprintf(want_display, sizeof want_display, "%s", path);
  assert_string_equal(display, want_display);
  assert_int_equal(len, strlen(want_data));
  assert_memory_equal(data, want_data, len);
  assert_int_equal(data[len], 0); /* NUL-terminated for convenience */
  free(data);
  free(display);
}

/* lm__artifact_read fails with code; the message is "path: " + msg (msg may be a prefix). */
static void expect_artifact_error(const char *path, const char *member, int code, const char *msg) {
  uint8_t *data = (uint8_t *)1;
  size_t len = 1;
  char *display = (char *)1;
  int rc = lm__artifact_read(path, member, &data, &len, &display);
  char want[800];
  snprintf(want, sizeof want, "%s: %s", path, msg);
  if (rc != code || !strstr(lm_last_error(), want))
    print_error("%s: got %d \"%s\"; want %d \"%s\"\n", path, rc, lm_last_error(), code, want);
  assert_int_equal(rc, code);
  assert_non_null(strstr(lm_last_error(), want));
  assert_null(data);
  assert_int_equal(len, 0);
  assert_null(display);
}

static void test_archive_selection(void **state) {
  (void)state;
  /* xgboost-model wins over other files; dotfiles and directories never count */
  const member m1[] = {{"notes.txt", "notes"}, {"xgboost-model", "MODEL"}, {".hidden", "h"}};
  expect_member(make_archive("a1.tar.gz", 1, m1, 3), NULL, "xgboost-model", "MODEL");
  /* "./xgboost-model", as tar -C dir . writes it */
  const member m2[] = {{"./", NULL}, {"./xgboost-model", "DOT"}};
  expect_member(make_archive("a2.tar.gz", 1, m2, 2), NULL, "xgboost-model", "DOT");
  /* the only non-dot regular file, whatever its name */
  const member m3[] = {{".DS_Store", "x"},
                       {"sub/", NULL},
                       {"sub/._model.json", "apple"},
                       {"sub/model.json", "{JSON}"},
                       {"./.keep", ""}};
  expect_member(make_archive("a3.tar.gz", 1, m3, 5), NULL, "sub/model.json", "{JSON}");
  /* plain tar (recognised by "ustar" at offset 257) */
  expect_member(make_archive("a4.tar", 0, m1, 3), NULL, "xgboost-model", "MODEL");
  /* --member picks any member, with or without "./"; it may even be a dotfile */
  const member m5[] = {{"a.txt", "A"}, {"xgboost-model-0", "F0"}, {"xgboost-model-1", "F1"}};
  const char *p5 = make_archive("a5.tar.gz", 1, m5, 3);
  expect_member(p5, "xgboost-model-1", "xgboost-model-1", "F1");
  expect_member(p5, "./xgboost-model-0", "xgboost-model-0", "F0");
  expect_member(make_archive("a6.tar.gz", 1, m1, 3), ".hidden", ".hidden", "h");
  /* a raw file is its own model */
  expect_member(write_file("raw.json", "{\"raw\":1}", 9), NULL, NULL, "{\"raw\":1}");
}

static void test_archive_errors(void **state) {
  (void)state;
  /* several candidates */
  const member m5[] = {{"a.txt", "A"}, {"xgboost-model-0", "F0"}, {"xgboost-model-1", "F1"}};
  const char *p5 = make_archive("e1.tar.gz", 1, m5, 3);
  expect_artifact_error(p5, NULL, LM_ENOMODEL,
                        "no model in archive (members: a.txt, xgboost-model-0, xgboost-model-1); "
                        "choose one with --member");
  /* a member that is not there */
  expect_artifact_error(p5, "xgboost-model", LM_ENOMODEL,
                        "member \"xgboost-model\" not found in archive (members: a.txt, "
                        "xgboost-model-0, xgboost-model-1)");
  /* an empty archive, and one holding only dotfiles */
  expect_artifact_error(make_archive("e2.tar.gz", 1, NULL, 0), NULL, LM_ENOMODEL,
                        "no model in archive (it holds no files)");
  const member md[] = {{".a", "1"}, {"d/", NULL}, {"./.b", "2"}};
  expect_artifact_error(make_archive("e3.tar.gz", 1, md, 3), NULL, LM_ENOMODEL,
                        "no model in archive (members: .a, .b); choose one with --member");
  /* long member lists are cut */
  char names[15][16];
  member many[15];
  for (int i = 0; i < 15; i++) {
    snprintf(names[i], sizeof names[i], "f%02d", i);
    many[i] = (member){names[i], "x"};
  }
  expect_artifact_error(make_archive("e4.tar.gz", 1, many, 15), NULL, LM_ENOMODEL,
                        "no model in archive (members: f00, f01, f02, f03, f04, f05, f06, f07, "
                        "f08, f09 and 5 more); choose one with --member");
  /* corrupt gzip: the magic, then garbage */
  static const uint8_t junk[] = {0x1f, 0x8b, 0x08, 0x00, 'n',  'o',  't',  ' ',  'g',  'z',
                                 'i',  'p',  0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88};
  const char *pj = write_file("corrupt.tar.gz", junk, sizeof junk);
  expect_artifact_error(pj, NULL, LM_EFORMAT, "");
  /* a good archive cut short */
  const member big[] = {{"xgboost-model", GOOD}};
  const char *pb = make_archive("cut.tar.gz", 1, big, 1);
  FILE *f = fopen(pb, "rb");
  assert_non_null(f);
  uint8_t buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_true(n > 200);
  expect_artifact_error(write_file("cut2.tar.gz", buf, n / 2), NULL, LM_EFORMAT, "");
  /* no such file */
  expect_artifact_error(tmp_path("missing.tar.gz"), NULL, LM_EIO, "cannot open: ");
  /* a directory is read as SageMaker's serving container reads /opt/ml/model (the first non-dot
   * file in sorted order: test_xgboost_formats.c); an empty one holds no model */
  const char *empty = tmp_path("emptydir");
  assert_int_equal(mkdir(empty, 0755), 0);
  expect_artifact_error(empty, NULL, LM_ENOMODEL, "no model in directory (it holds no files)");
  rmdir(empty);
}

/* ---- (d) lm__import_any: sniffing and the artifact hash ---------------------------------- */

static uint64_t file_xxh64(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  assert_true(feof(f));
  fclose(f);
  return XXH64(buf, n, 0);
}

static void test_import_any(void **state) {
  (void)state;
  char *json = J(GOOD);
  const member m[] = {{".meta", "x"}, {"xgboost-model", json}};
  const char *path = make_archive("model.tar.gz", 1, m, 2);
  lm_ir_model *ir = NULL;
  assert_int_equal(lm__import_any(path, NULL, &ir), 0);
  assert_non_null(ir);
  assert_good_trees(ir);
  /* the hash of the whole artifact file, not of the member */
  assert_int_equal(ir->source_hash, file_xxh64(path));
  assert_true(ir->source_hash != XXH64(json, strlen(json), 0));
  lm_ir_free(ir);

  /* raw JSON, with whitespace before the '{' and inside it */
  char *spaced = malloc(strlen(json) + 8);
  assert_non_null(spaced);
  sprintf(spaced, "\n {\n  %s", json + 1);
  const char *raw = write_file("spaced.json", spaced, strlen(spaced));
  ir = NULL;
  assert_int_equal(lm__import_any(raw, NULL, &ir), 0);
  assert_int_equal(ir->source_hash, file_xxh64(raw));
  assert_int_equal(ir->n_trees, 2);
  lm_ir_free(ir);
  free(spaced);

  /* errors from the JSON importer carry the display name */
  lm_convert_options o = {.member = "xgboost-model"};
  const member mb[] = {{"xgboost-model", "{\"version\":[1,7,4]}"}};
  ir = (lm_ir_model *)1;
  assert_int_equal(lm__import_any(make_archive("bad.tar.gz", 1, mb, 1), &o, &ir), LM_EFORMAT);
  assert_null(ir);
  char want[600];
  snprintf(want, sizeof want, "%s:xgboost-model: learner: missing", tmp_path("bad.tar.gz"));
  assert_string_equal(lm_last_error(), want);
  free(json);
}

static void test_sniff(void **state) {
  (void)state;
  static const struct {
    const char *file;
    const char *bytes;
    size_t len;
    int code;
    const char *msg;
  } cases[] = {
      /* the importers' own errors (test_xgboost_formats.c has the full tables) */
      {"ubj", "{L\0\0\0\0\0\0\0\7learner{", 19, LM_EFORMAT,
       ": byte 18: object key: expected the int64 marker 'L', got 0x00"},
      {"bin", "binf\0\0\0?\3\0\0\0", 12, LM_EFORMAT,
       ": byte 4: learner_model_param: truncated: needs 136 bytes, 8 left"},
      {"oldbin", "\0\0\0?\3\0\0\0", 8, LM_EFORMAT,
       ": unrecognised bytes (00 00 00 3f …), taken as an old XGBoost legacy binary model"},
      {"pkl", "\x80\x04\x95\x10\0\0\0\0\0\0\0", 11, LM_EFORMAT,
       ": byte 2: pickle opcode FRAME: length 16 exceeds the 0 bytes left"},
      {"b64", "bs64AAAA", 8, LM_EUNSUPPORTED, ": base64-encoded XGBoost model ('bs64' header)"},
      /* ZIP goes to the Linear Learner importer, "tree\n" to the LightGBM one */
      {"zip", "PK\3\4\0\0", 6, LM_EFORMAT, ": truncated ZIP archive"},
      {"lgb", "tree\nversion=v4\n", 16, LM_EFORMAT, ": truncated: no Tree= line after the header"},
      {"empty", "", 0, LM_ENOMODEL, ": empty file (0 bytes, no model in it)"},
      {"blank", " \n\t", 3, LM_ENOMODEL, ": empty file (3 bytes, no model in it)"},
      /* '{' then neither '"' nor a letter: handed to the JSON importer for a precise message */
      {"brace", "{}", 2, LM_EFORMAT, ": version: missing"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *path = write_file(cases[i].file, cases[i].bytes, cases[i].len);
    lm_ir_model *ir = (lm_ir_model *)1;
    int rc = lm__import_any(path, NULL, &ir);
    char want[800];
    snprintf(want, sizeof want, "%s%s", path, cases[i].msg);
    if (rc != cases[i].code || strncmp(lm_last_error(), want, strlen(want)) != 0)
      print_error("sniff %s: got %d \"%s\"; want %d \"%s\"\n", cases[i].file, rc, lm_last_error(),
                  cases[i].code, want);
    assert_int_equal(rc, cases[i].code);
    assert_int_equal(strncmp(lm_last_error(), want, strlen(want)), 0);
    assert_null(ir);
  }
  /* the same inside an archive: named by member */
  const member m[] = {{"xgboost-model", "{L\1\2"}};
  const char *path = make_archive("ubj.tar.gz", 1, m, 1);
  lm_ir_model *ir = NULL;
  assert_int_equal(lm__import_any(path, NULL, &ir), LM_EFORMAT);
  char want[600];
  snprintf(want, sizeof want, "%s:xgboost-model: truncated UBJSON: object key needs 8 bytes", path);
  assert_int_equal(strncmp(lm_last_error(), want, strlen(want)), 0);
}

/* ---- harness ---------------------------------------------------------------------------- */

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
      cmocka_unit_test(test_archive_selection),
      cmocka_unit_test(test_archive_errors),
      cmocka_unit_test(test_import_any),
      cmocka_unit_test(test_sniff),
  };
  return cmocka_run_group_tests_name("xgboost_json", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
