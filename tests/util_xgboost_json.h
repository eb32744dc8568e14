/*
 * util_xgboost_json.h — what the XGBoost JSON tests share (test_xgboost_json.c,
 * test_xgboost_json_archives.c): J() (single quotes to double), the hand-written models in the
 * layout XGBoost 1.7.4 writes, substitutions in them, import_ok and IR node assertions.
 * Each of those programs includes this header alone: it carries their includes, declarations,
 * scratch directory and globals, the shared helpers and the group set-up.
 */
#ifndef TESTS_UTIL_XGBOOST_JSON_H
#define TESTS_UTIL_XGBOOST_JSON_H

/* Helpers are plain static functions (as when they lived in one test file); a program
 * that uses only some of them drops the rest silently. */
#define TU_HELPER __attribute__((unused))

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

static TU_HELPER char tmpdir[] = "/tmp/lm_test_xgbjson_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tests/util_import.h"

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
static TU_HELPER char *J(const char *s) {
  char *r = strdup(s);
  assert_non_null(r);
  for (char *p = r; *p; p++)
    if (*p == '\'') *p = '"';
  return r;
}

/* J(base) with the one occurrence of J(find) replaced by J(repl). */
static TU_HELPER char *subst(const char *base, const char *find, const char *repl) {
  char *b = J(base), *f = J(find), *r = J(repl);
  char *out = tu_subst(b, f, r);
  free(b), free(f), free(r);
  return out;
}

static TU_HELPER lm_ir_model *import_ok(const char *json) {
  return tu_import_ok(lm__import_xgboost_json, json, "model.json");
}

static TU_HELPER void assert_node(const lm_ir_node *n, int32_t l, int32_t r, uint32_t feat,
                                  float value, int dl, int cat) {
  assert_int_equal(n->left, l);
  assert_int_equal(n->right, r);
  assert_int_equal(n->feature, feat);
  if (isnan(value)) assert_true(isnan(n->value));
  else assert_int_equal(fbits(n->value), fbits(value));
  assert_int_equal(n->default_left, dl);
  assert_int_equal(n->categorical, cat);
}

/* The trees of GOOD (and DART), checked value by value. */
static TU_HELPER void assert_good_trees(const lm_ir_model *m) {
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

/* ---- harness ---------------------------------------------------------------------------- */

#endif
