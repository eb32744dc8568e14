/*
 * test_lightgbm.c — the LightGBM text-model importer (formats/import/lightgbm_txt.c) and
 * LightGBM scoring end to end.
 *
 * (a) IR level: hand-written models (every decision_type, inf/-inf and kZeroThreshold
 *     thresholds, a multi-word categorical set, a one-leaf tree, linear trees, averaging,
 *     multiclass, CRLF line ends, a v2 file, tree_sizes) with every IR field asserted, the
 *     objective mapping, and the eight real models' shapes;
 * (b) one table of broken inputs, each with its error code and a piece of its message, then
 *     every truncation of a good model and one-byte mutations anywhere (no crash, no leak);
 * (c) end to end: importer → lm__lmf_write → file → lm_model_open, scored with lm_predict_f64
 *     on the CSV doubles and with lm_predict on the same rows rounded to float32, against
 *     tests/lgbm_reference.py (the oracle: handmade models, tests/fixtures/lightgbm/handmade/)
 *     and against LightGBM's own outputs (real models, tests/fixtures/lightgbm/real/).
 *     Tree decisions must be exact: margins are compared bit for bit with the oracle's double
 *     margin rounded to float32 (both sum the same doubles in the same order), and lm_predict_leaf
 *     must give the oracle's leaf in every tree; transformed values within
 *     1e-6·max(1, |ref|). tests/gen_lightgbm_fixtures.py regenerates the fixtures.
 * Model text is written here with '\n' line ends; the models are small enough to read.
 */
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
#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "formats/objective.h"
#include "lmrt.h"
#include "tools/csv.h"

static char tmpdir[] = "/tmp/lm_test_lightgbm_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"

/* ---- the hand-written models ------------------------------------------------------------ */

/* Tree 0 (5 leaves; LightGBM numbering, IR ids: internal i → i, leaf j → 4 + j):
 *   node 0: f0 <= 1.0000000180025095e-35 (None, default left) ? node 1 : node 2
 *   node 1: f3 <= inf (NaN, default left) ? leaf 0 : node 3
 *   node 2: f1 in {0, 33, 63} (categorical; set 0 = words 1, 0x80000002) ? leaf 1 : leaf 2
 *   node 3: f2 <= -inf (Zero, default right) ? leaf 3 : leaf 4
 * Tree 1: one leaf -0.125 (LightGBM writes the split arrays empty).
 * Tree 2: f2 <= -1.5 ? 0.5 : -0.5, no decision_type line (all 0). */
#define HEADER(obj)                                                                                \
  "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"                       \
  "max_feature_idx=3\nobjective=" obj "\nfeature_names=a b c d\n"                                  \
  "feature_infos=[0:1] -1:0:33:63 none [1:2]\n\n"
#define TREE0                                                                                      \
  "Tree=0\nnum_leaves=5\nnum_cat=1\nsplit_feature=0 3 1 2\nsplit_gain=4 3 2 1\n"                   \
  "threshold=1.0000000180025095e-35 inf 0 -inf\ndecision_type=2 10 1 4\n"                          \
  "left_child=1 -1 -2 -4\nright_child=2 3 -3 -5\n"                                                 \
  "leaf_value=0.25 -0.5 1.0000000000000002 -1e-300 3\nleaf_weight=1 1 1 1 1\n"                    \
  "leaf_count=1 1 1 1 1\ninternal_value=0 0 0 0\ninternal_weight=5 3 2 2\n"                        \
  "internal_count=5 3 2 2\ncat_boundaries=0 2\ncat_threshold=1 2147483650\nis_linear=0\n"          \
  "shrinkage=1\n\n\n"
#define TREE1                                                                                      \
  "Tree=1\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\n"    \
  "left_child=\nright_child=\nleaf_value=-0.125\nleaf_weight=\nleaf_count=\ninternal_value=\n"     \
  "internal_weight=\ninternal_count=\nis_linear=0\nshrinkage=1\n\n\n"
#define TREE2                                                                                      \
  "Tree=2\nnum_leaves=2\nnum_cat=0\nsplit_feature=2\nsplit_gain=1\nthreshold=-1.5\n"               \
  "left_child=-1\nright_child=-2\nleaf_value=0.5 -0.5\nleaf_weight=1 1\nleaf_count=1 1\n"          \
  "internal_value=0\ninternal_weight=2\ninternal_count=2\nis_linear=0\nshrinkage=0.1\n\n\n"
#define TAIL                                                                                       \
  "end of trees\n\nfeature_importances:\nc=2\na=1\nb=1\nd=1\n\nparameters:\n[boosting: gbdt]\n"    \
  "end of parameters\n\npandas_categorical:null\n"

static const char GOOD[] = HEADER("binary sigmoid:0.5") TREE0 TREE1 TREE2 TAIL;

/* Linear trees: tree 0 leaf 0 = 1.25 + 0.5·z − 0.25·x, leaf 1 = −2.75 (no terms);
 * tree 1 (one leaf) = 0.5 + 3·y. */
static const char LINEAR[] =
    "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
    "max_feature_idx=2\nobjective=regression\nfeature_names=x y z\n"
    "feature_infos=[0:1] [0:1] [0:1]\n\n"
    "Tree=0\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\n"
    "decision_type=10\nleft_child=-1\nright_child=-2\nleaf_value=1.5 -2.5\nleaf_weight=1 1\n"
    "leaf_count=1 1\ninternal_value=0\ninternal_weight=0\ninternal_count=2\nis_linear=1\n"
    "leaf_const=1.25 -2.75\nnum_features=2 0\nleaf_features=2 0  \nleaf_coeff=0.5 -0.25  \n"
    "shrinkage=1\n\n\n"
    "Tree=1\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\n"
    "left_child=\nright_child=\nleaf_value=0.75\nleaf_weight=\nleaf_count=\ninternal_value=\n"
    "internal_weight=\ninternal_count=\nis_linear=1\nleaf_const=0.5\nnum_features=1\n"
    "leaf_features=1  \nleaf_coeff=3  \nshrinkage=1\n\n\nend of trees\n";

/* Multiclass random forest: 2 iterations × 3 classes of one-leaf trees. */
#define LEAF_TREE(i, v)                                                                            \
  "Tree=" #i "\nnum_leaves=1\nnum_cat=0\nleaf_value=" #v "\nis_linear=0\nshrinkage=1\n\n\n"
static const char MULTI_RF[] =
    "tree\nversion=v4\nnum_class=3\nnum_tree_per_iteration=3\nlabel_index=0\n"
    "max_feature_idx=0\nobjective=multiclass num_class:3\naverage_output\nfeature_names=only\n"
    "feature_infos=none\n\n" LEAF_TREE(0, 1) LEAF_TREE(1, 2) LEAF_TREE(2, 3) LEAF_TREE(3, 4)
        LEAF_TREE(4, 5) LEAF_TREE(5, 6) "end of trees\n";

/* ---- helpers ------------------------------------------------------------------------------ */

/* base with the one occurrence of find replaced by repl (malloc'd). */
static char *subst(const char *base, const char *find, const char *repl) {
  return tu_subst(base, find, repl);
}

static lm_ir_model *import_ok(const char *text) {
  lm_ir_model *m = NULL;
  int rc = lm__import_lightgbm_text((const uint8_t *)text, strlen(text), "model.txt", &m);
  tu_expect_ok(rc, m);
  return m;
}

static void assert_split(const lm_ir_node *n, int32_t l, int32_t r, uint32_t feat, double t,
                         int dl, int missing) {
  assert_int_equal(n->left, l);
  assert_int_equal(n->right, r);
  assert_int_equal(n->feature, feat);
  assert_int_equal(n->categorical, 0);
  assert_int_equal(dbits(n->value_d), dbits(t));
  assert_int_equal(fbits(n->value), fbits((float)t));
  assert_int_equal(n->default_left, dl);
  assert_int_equal(n->missing_type, missing);
  assert_int_equal(n->lin_count, 0);
}

static void assert_leaf(const lm_ir_node *n, double v) {
  assert_int_equal(n->left, -1);
  assert_int_equal(n->right, -1);
  assert_int_equal(n->categorical, 0);
  assert_int_equal(dbits(n->value_d), dbits(v));
  assert_int_equal(fbits(n->value), fbits((float)v));
}

/* The text with "tree_sizes=" inserted after the header's feature_infos line, the sizes being
 * the distances between consecutive Tree= lines (the last: to "end of trees"), as LightGBM
 * writes them; delta[i] is added to size i (to break it). */
static char *with_tree_sizes(const char *text, const int *delta) {
  size_t starts[64], n = 0;
  const char *p = text;
  while ((p = strstr(p, "\nTree=")) && n < 63) starts[n++] = (size_t)(p + 1 - text), p++;
  const char *end = strstr(text, "\nend of trees");
  assert_non_null(end);
  starts[n] = (size_t)(end + 1 - text);
  char line[512] = "tree_sizes=";
  for (size_t i = 0; i < n; i++)
    snprintf(line + strlen(line), sizeof line - strlen(line), "%s%lld", i ? " " : "",
             (long long)(starts[i + 1] - starts[i]) + (delta ? delta[i] : 0));
  strcat(line, "\n");
  const char *ins = strstr(text, "feature_infos=");
  assert_non_null(ins);
  ins = strchr(ins, '\n') + 1;
  size_t nb = strlen(text), nl = strlen(line);
  char *out = malloc(nb + nl + 1);
  assert_non_null(out);
  memcpy(out, text, (size_t)(ins - text));
  memcpy(out + (ins - text), line, nl);
  memcpy(out + (ins - text) + nl, ins, nb - (size_t)(ins - text) + 1);
  return out;
}

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
static char *big_set_model(size_t words, uint32_t last) {
  static const char head[] =
      "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
      "max_feature_idx=0\nobjective=regression\nfeature_names=cat\nfeature_infos=-1:0\n\n"
      "Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\ndecision_type=1\n"
      "left_child=-1\nright_child=-2\nleaf_value=1 2\n";
  char bounds[64];
  snprintf(bounds, sizeof bounds, "cat_boundaries=0 %zu\ncat_threshold=", words);
  static const char tail[] = "\nis_linear=0\nshrinkage=1\n\n\nend of trees\n";
  size_t n = strlen(head) + strlen(bounds) + 2 * words + 16 + strlen(tail);
  char *s = malloc(n);
  assert_non_null(s);
  char *p = s + sprintf(s, "%s%s", head, bounds);
  for (size_t w = 0; w + 1 < words; w++) *p++ = '0', *p++ = ' ';
  p += sprintf(p, "%u%s", last, tail);
  return s;
}

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
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  b[n] = '\0';
  *len = (size_t)n;
  return b;
}

static const char *fixture_dir(void) {
  static char dir[1024];
  const char *src = getenv("LM_SRC");
  snprintf(dir, sizeof dir, "%s/tests/fixtures/lightgbm", src ? src : ".");
  return dir;
}

static lm_ir_model *import_path(const char *path) {
  size_t len = 0;
  char *text = read_file(path, &len);
  if (!text) {
    print_error("cannot read %s\n", path);
    fail();
  }
  lm_ir_model *m = NULL;
  int rc = lm__import_lightgbm_text((const uint8_t *)text, len, path, &m);
  if (rc) print_error("%s: %s\n", path, lm_last_error());
  assert_int_equal(rc, 0);
  free(text);
  return m;
}

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

/* ---- (b) bad inputs ----------------------------------------------------------------------- */

#define P "model.txt: "
typedef struct bad_case {
  const char *what;
  const char *base;
  const char *find; /* NULL: base as is */
  const char *repl;
  size_t len;       /* bytes to parse; 0: all */
  int code;
  const char *msg;  /* must appear in lm_last_error() */
} bad_case;

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
     P "line 6: max_feature_idx: -1 out of range [0, 536870911]"},
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
    lm_ir_model *m = (lm_ir_model *)1;
    int rc = lm__import_lightgbm_text((const uint8_t *)text, len, "model.txt", &m);
    const char *e = lm_last_error();
    if (rc != c->code || m != NULL || !strstr(e, c->msg) || strncmp(e, P, strlen(P)) != 0 ||
        strchr(e, '\n')) {
      print_error("bad case \"%s\": got %d (%s) \"%s\"; want %d \"%s\"\n", c->what, rc,
                  lm_err_name(rc), e, c->code, c->msg);
      failures++;
    }
    if (rc == 0 && m) lm_ir_free(m);
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
    assert_true(ok > 0 && failed > 0);
    free(buf);
  }
  free(sized);
}

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

/* Every handmade model of the MANIFEST except tiny_values (below). */
static void test_handmade_parity(void **state) {
  (void)state;
  char path[1200];
  snprintf(path, sizeof path, "%s/MANIFEST", fixture_dir());
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[256];
  size_t bad = 0, models = 0;
  while (fgets(line, sizeof line, f)) {
    char kind[32], name[200];
    if (sscanf(line, "%31s %199s", kind, name) != 2 || strcmp(kind, "handmade") ||
        !strcmp(name, "tiny_values"))
      continue;
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
  char path[1200];
  snprintf(path, sizeof path, "%s/MANIFEST", fixture_dir());
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[256];
  size_t bad = 0, models = 0;
  while (fgets(line, sizeof line, f)) {
    char kind[32], name[200];
    if (sscanf(line, "%31s %199s", kind, name) != 2 || strcmp(kind, "real")) continue;
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
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_variants),
      cmocka_unit_test(test_linear),
      cmocka_unit_test(test_multiclass_average),
      cmocka_unit_test(test_objectives),
      cmocka_unit_test(test_big_sets),
      cmocka_unit_test(test_real_shapes),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_prefixes_and_mutations),
      cmocka_unit_test(test_handmade_parity),
      cmocka_unit_test(test_tiny_values_parity),
      cmocka_unit_test(test_real_parity),
      cmocka_unit_test(test_big_set_scoring),
  };
  return cmocka_run_group_tests_name("lightgbm", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
