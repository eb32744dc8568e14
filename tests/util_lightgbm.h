/*
 * util_lightgbm.h — what the LightGBM tests share (test_lightgbm.c, test_lightgbm_bad.c,
 * test_lightgbm_parity.c): the hand-written models, text substitutions, IR assertions, tree_sizes
 * insertion, a model with a large categorical set, and reading the real models' fixtures.
 *
 * Each of those programs includes this header alone: it carries their includes, declarations,
 * scratch directory and globals, the shared helpers and the group set-up.
 */
#ifndef TESTS_UTIL_LIGHTGBM_H
#define TESTS_UTIL_LIGHTGBM_H

/* Helpers are plain static functions (as when they lived in one test file); a program
 * that uses only some of them drops the rest silently. */
#define TU_HELPER __attribute__((unused))

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

static TU_HELPER char tmpdir[] = "/tmp/lm_test_lightgbm_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"
#include "tests/util_import.h"

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
  "leaf_value=0.25 -0.5 1.0000000000000002 -1e-300 3\nleaf_weight=1 1 1 1 1\n"                     \
  "leaf_count=1 1 1 1 1\ninternal_value=0 0 0 0\ninternal_weight=5 3 2 2\n"                        \
  "internal_count=5 3 2 2\ncat_boundaries=0 2\ncat_threshold=1 2147483650\nis_linear=0\n"          \
  "shrinkage=1\n\n\n"
#define TREE1                                                                                      \
  "Tree=1\nnum_leaves=1\nnum_cat=0\nsplit_feature=\nsplit_gain=\nthreshold=\ndecision_type=\n"     \
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
static TU_HELPER char *subst(const char *base, const char *find, const char *repl) {
  return tu_subst(base, find, repl);
}

static TU_HELPER lm_ir_model *import_ok(const char *text) {
  return tu_import_ok(lm__import_lightgbm_text, text, "model.txt");
}

static TU_HELPER void assert_split(const lm_ir_node *n, int32_t l, int32_t r, uint32_t feat,
                                   double t, int dl, int missing) {
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

static TU_HELPER void assert_leaf(const lm_ir_node *n, double v) {
  assert_int_equal(n->left, -1);
  assert_int_equal(n->right, -1);
  assert_int_equal(n->categorical, 0);
  assert_int_equal(dbits(n->value_d), dbits(v));
  assert_int_equal(fbits(n->value), fbits((float)v));
}

/* The text with "tree_sizes=" inserted after the header's feature_infos line, the sizes being
 * the distances between consecutive Tree= lines (the last: to "end of trees"), as LightGBM
 * writes them; delta[i] is added to size i (to break it). */
static TU_HELPER char *with_tree_sizes(const char *text, const int *delta) {
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

static TU_HELPER char *big_set_model(size_t words, uint32_t last) {
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

static TU_HELPER char *read_file(const char *path, size_t *len) {
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

static TU_HELPER const char *fixture_dir(void) {
  static char dir[1024];
  const char *src = getenv("LM_SRC");
  snprintf(dir, sizeof dir, "%s/tests/fixtures/lightgbm", src ? src : ".");
  return dir;
}

static TU_HELPER lm_ir_model *import_path(const char *path) {
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

#endif
