/*
 * test_lmf.c — the .lm writer and verifier (formats/lmf_write.c, formats/lmf_read.c) and the
 * scalar reference decisions, on hand-built models whose every prediction is worked out by hand;
 * then one table of broken files, each rejected with its own error code and message.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/ir.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "lmrt.h"

static char tmpdir[] = "/tmp/lm_test_lmf_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"

/* tree 0: node 0: f0 < 1.5 (missing → left) ? node 1 : node 2
 *         node 1: leaf 0.25
 *         node 2: f1 in {1, 3, 40} (categorical; missing → right) ? node 4 : node 3
 *         node 3: leaf -0.5;  node 4: leaf 1.0
 * tree 1: a single leaf 0.125.   reg:squarederror, base_score 0.5. */
static lm_ir_model *make_tree_ir(void) {
  lm_ir_model *m = lm_ir_new();
  strcpy(m->source_format, "xgboost-json");
  strcpy(m->source_version, "1.7.4");
  strcpy(m->objective, "reg:squarederror");
  m->booster = LM_BOOSTER_GBTREE;
  m->base_score = 0.5f;
  m->num_features = 2;
  m->num_outputs = 1;
  m->n_trees = 2;
  m->trees = calloc(2, sizeof *m->trees);
  m->cat_values = malloc(3 * sizeof *m->cat_values);
  m->cat_values[0] = 1, m->cat_values[1] = 3, m->cat_values[2] = 40;
  m->n_cat_values = 3;
  lm_ir_tree *t = &m->trees[0];
  t->n_nodes = 5;
  t->weight = 1.0f;
  t->nodes = calloc(5, sizeof *t->nodes);
  t->nodes[0] = (lm_ir_node){.left = 1, .right = 2, .feature = 0, .value = 1.5f, .default_left = 1, .categorical = 0, .cat_begin = 0, .cat_count = 0};
  t->nodes[1] = (lm_ir_node){.left = -1, .right = -1, .feature = 0, .value = 0.25f, .default_left = 0, .categorical = 0, .cat_begin = 0, .cat_count = 0};
  t->nodes[2] = (lm_ir_node){.left = 3, .right = 4, .feature = 1, .value = 0.0f, .default_left = 0, .categorical = 1, .cat_begin = 0, .cat_count = 3};
  t->nodes[3] = (lm_ir_node){.left = -1, .right = -1, .feature = 0, .value = -0.5f, .default_left = 0, .categorical = 0, .cat_begin = 0, .cat_count = 0};
  t->nodes[4] = (lm_ir_node){.left = -1, .right = -1, .feature = 0, .value = 1.0f, .default_left = 0, .categorical = 0, .cat_begin = 0, .cat_count = 0};
  t = &m->trees[1];
  t->n_nodes = 1;
  t->weight = 1.0f;
  t->nodes = calloc(1, sizeof *t->nodes);
  t->nodes[0] = (lm_ir_node){.left = -1, .right = -1, .feature = 0, .value = 0.125f, .default_left = 0, .categorical = 0, .cat_begin = 0, .cat_count = 0};
  m->feature_names = calloc(2, sizeof(char *));
  m->feature_names[0] = strdup("distance_km");
  m->feature_names[1] = strdup("zone");
  m->feature_types = malloc(2);
  m->feature_types[0] = 'q', m->feature_types[1] = 'c';
  return m;
}

static uint8_t *write_image(const lm_ir_model *m, size_t *len) {
  uint8_t *img = NULL;
  assert_int_equal(lm__lmf_write(m, "test", &img, len), 0);
  return img;
}

static const char *save(const char *name, const uint8_t *img, size_t len) {
  const char *path = tu_path(tmpdir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(img, 1, len, f), len);
  fclose(f);
  return path;
}

static void test_tree_decisions(void **state) {
  (void)state;
  lm_ir_model *ir = make_tree_ir();
  size_t len;
  uint8_t *img = write_image(ir, &len);
  lm_ir_free(ir);
  lm_model *m;
  assert_int_equal(lm_model_open(save("tree.lm", img, len), &m), 0);
  free(img);
  assert_int_equal(lm_model_num_features(m), 2);
  assert_int_equal(lm_model_num_outputs(m), 1);
  assert_int_equal(lm_model_num_trees(m), 2);
  assert_string_equal(lm_model_feature_name(m, 1), "zone");
  assert_int_equal(lm_model_feature_type(m, 1), 'c');
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  assert_int_equal(info.max_depth, 2);
  assert_int_equal(info.num_nodes, 6);
  assert_int_equal(info.num_categorical_splits, 1);
  assert_string_equal(info.objective, "reg:squarederror");

  const float x[][2] = {
      {1.0f, 0}, {NAN, 0},    {1.5f, 3},   {2, 2},     {2, NAN},
      {2, -1},   {2, 64},     {2, 40.7f},  {2, 41},    {INFINITY, 1},
      {-INFINITY, 1}, {2, 1e9f}, {2, -0.0f}, {2, 31.9f}, {2, 16777216.0f},
  };
  const float want[] = {
      0.875f, 0.875f, 1.625f, 0.125f, 1.625f, /* NaN category: default (right) */
      0.125f, /* -1: invalid → left */ 0.125f, /* 64 ≥ 2 words: invalid → left */
      1.625f, /* 40.7 → 40, in set */ 0.125f, 1.625f, 0.875f, 0.125f, /* 1e9: invalid */
      0.125f, /* -0 → 0 */ 0.125f, /* 31 not in set */ 0.125f, /* 2^24: invalid */
  };
  const uint32_t want_leaf0[] = {1, 1, 4, 3, 4, 3, 3, 4, 3, 4, 1, 3, 3, 3, 3};
  size_t n = sizeof want / sizeof want[0];
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  float out[16];
  uint32_t leaf[32];
  assert_int_equal(lm_predict(s, &x[0][0], n, 0, out), 0);
  for (size_t i = 0; i < n; i++) assert_true(out[i] == want[i]);
  assert_int_equal(lm_predict_leaf(s, &x[0][0], n, leaf), 0);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(leaf[2 * i], want_leaf0[i]);
    assert_int_equal(leaf[2 * i + 1], 0);
  }
  double xd[sizeof x / sizeof x[0]][2];
  for (size_t i = 0; i < n; i++) xd[i][0] = x[i][0], xd[i][1] = x[i][1];
  memset(out, 0, sizeof out);
  assert_int_equal(lm_predict_f64(s, &xd[0][0], n, LM_PREDICT_MARGIN, out), 0);
  for (size_t i = 0; i < n; i++) assert_true(out[i] == want[i]);
  assert_int_equal(lm_predict(s, &x[0][0], 1, 0x80, out), LM_EINVAL);
  lm_session_free(s);
  lm_model_close(m);
}

/* gblinear, 3 features × 2 outputs, multi:softprob: margins by hand, missing contributes 0. */
static void test_linear(void **state) {
  (void)state;
  lm_ir_model *ir = lm_ir_new();
  strcpy(ir->source_version, "1.7.4");
  strcpy(ir->objective, "multi:softprob");
  ir->booster = LM_BOOSTER_GBLINEAR;
  ir->base_score = 0.5f;
  ir->num_features = 3;
  ir->num_outputs = 2;
  static const float w[] = {1, -1, 2, 0.5f, -3, 0.25f, /* biases */ 0.125f, -0.125f};
  ir->linear_weights = malloc(sizeof w);
  memcpy(ir->linear_weights, w, sizeof w);
  size_t len;
  uint8_t *img = write_image(ir, &len);
  lm_ir_free(ir);
  lm_model *m;
  assert_int_equal(lm_model_open(save("linear.lm", img, len), &m), 0);
  free(img);
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  const float x[] = {1, 2, 3, NAN, 2, NAN};
  float out[4];
  assert_int_equal(lm_predict(s, x, 2, LM_PREDICT_MARGIN, out), 0);
  assert_true(out[0] == 0.625f + 1 + 4 - 9);        /* bias 0.125 + base 0.5 + 1·1 + 2·2 + 3·-3 */
  assert_true(out[1] == 0.375f - 1 + 1 + 0.75f);    /* -0.125 + 0.5 - 1 + 1 + 0.75 */
  assert_true(out[2] == 0.625f + 4);
  assert_true(out[3] == 0.375f + 1);
  assert_int_equal(lm_predict(s, x, 2, 0, out), 0);
  assert_float_equal(out[0] + out[1], 1.0, 1e-6);
  assert_true(out[0] < out[1]);
  uint32_t leaf[2];
  assert_int_equal(lm_predict_leaf(s, x, 1, leaf), LM_EUNSUPPORTED);
  lm_session_free(s);
  lm_model_close(m);
}

/* LightGBM semantics (decision 1), worked by hand: thresholds compared as doubles (`x <= t`
 * goes left) — exactly for float64 rows, and through the normalised float32 threshold for
 * float32 rows; missing types NaN / Zero / None; categorical sets sending their members LEFT
 * with LightGBM's integer cast (−0.5 is category 0); a `+inf` threshold; a linear leaf with a
 * NaN fallback; double sums.
 *   tree 0: n0: x0 <= 0.1 (missing NaN, default right) ? n1 : n2
 *           n1: x1 in {0, 5} ? leaf3 = 1 : leaf4 = 2
 *           n2: x2 <= 2.5 (missing Zero, default right) ? leaf5 = 4 : leaf6 = 8
 *   tree 1: n0: x0 <= +inf (missing None) ? leaf1 = 0.25 + 2·x3 (NaN: 0.75) : leaf2 = 100 */
static lmf_section *sec_of(uint8_t *img, uint32_t kind) {
  lmf_header *h = (lmf_header *)img;
  lmf_section *t = (lmf_section *)(img + 64);
  for (uint32_t i = 0; i < h->n_sections; i++)
    if (t[i].kind == kind) return &t[i];
  fail_msg("no section %u", kind);
  return NULL;
}
static lmf_node *nodes_of(uint8_t *img) { return (lmf_node *)(img + sec_of(img, LMF_NODES)->offset); }

static void test_lightgbm_decisions(void **state) {
  (void)state;
  lm_ir_model *m = lm_ir_new();
  strcpy(m->source_format, "lightgbm-text");
  strcpy(m->source_version, "v4");
  strcpy(m->objective, "lightgbm:regression");
  m->decision = LM_DECISION_LIGHTGBM;
  m->num_features = 4;
  m->num_outputs = 1;
  m->n_trees = 2;
  m->trees = calloc(2, sizeof *m->trees);
  m->cat_values = malloc(2 * sizeof *m->cat_values);
  m->cat_values[0] = 0, m->cat_values[1] = 5;
  m->n_cat_values = 2;
  lm_ir_tree *t = &m->trees[0];
  t->n_nodes = 7;
  t->weight = 1.0f;
  t->nodes = calloc(7, sizeof *t->nodes);
  t->nodes[0] = (lm_ir_node){.left = 1, .right = 2, .feature = 0, .value_d = 0.1,
                             .missing_type = LM_MISSING_NAN, .default_left = 0};
  t->nodes[1] = (lm_ir_node){.left = 3, .right = 4, .feature = 1, .categorical = 1,
                             .cat_begin = 0, .cat_count = 2};
  t->nodes[2] = (lm_ir_node){.left = 5, .right = 6, .feature = 2, .value_d = 2.5,
                             .missing_type = LM_MISSING_ZERO, .default_left = 0};
  const double leaf[] = {1, 2, 4, 8};
  for (int k = 0; k < 4; k++) t->nodes[3 + k] = (lm_ir_node){.left = -1, .right = -1, .value_d = leaf[k]};
  t = &m->trees[1];
  t->n_nodes = 3;
  t->weight = 1.0f;
  t->linear = 1;
  t->nodes = calloc(3, sizeof *t->nodes);
  t->nodes[0] = (lm_ir_node){.left = 1, .right = 2, .feature = 0, .value_d = INFINITY,
                             .missing_type = LM_MISSING_NONE};
  t->nodes[1] = (lm_ir_node){.left = -1, .right = -1, .value_d = 0.75, .lin_const = 0.25,
                             .lin_begin = 0, .lin_count = 1};
  t->nodes[2] = (lm_ir_node){.left = -1, .right = -1, .value_d = 100, .lin_const = 100};
  m->lin_feat = malloc(sizeof *m->lin_feat);
  m->lin_coeff = malloc(sizeof *m->lin_coeff);
  m->lin_feat[0] = 3, m->lin_coeff[0] = 2.0;
  m->n_lin_terms = 1;
  size_t len;
  uint8_t *img = write_image(m, &len);
  lm_ir_free(m);
  lm_model *lm;
  assert_int_equal(lm_model_open(save("lgbm.lm", img, len), &lm), 0);
  /* The verifier holds each float32 threshold and leaf to the one derived from NODE_F64: one
   * float ulp off (checksums resealed) is refused, naming the node. */
  for (int leaf_case = 0; leaf_case < 2; leaf_case++) {
    uint8_t *bad = malloc(len);
    memcpy(bad, img, len);
    lmf_node *nd = &nodes_of(bad)[leaf_case ? 3 : 0];
    if (leaf_case) nd->u.leaf = nextafterf(nd->u.leaf, INFINITY);
    else nd->threshold = nextafterf(nd->threshold, -INFINITY);
    lm__lmf_seal(bad, len);
    lm_model *bm = NULL;
    assert_int_equal(lm_model_open(save("lgbm_bad.lm", bad, len), &bm), LM_EFORMAT);
    assert_null(bm);
    char want[64];
    snprintf(want, sizeof want, "node %d: %s", leaf_case ? 3 : 0, leaf_case ? "leaf" : "threshold");
    if (!strstr(lm_last_error(), want) || !strstr(lm_last_error(), "disagrees with NODE_F64"))
      fail_msg("got \"%s\", want \"%s … disagrees with NODE_F64\"", lm_last_error(), want);
    free(bad);
  }
  free(img);
  lm_session *s;
  assert_int_equal(lm_session_new(lm, &s), 0);
  const double rows[][4] = {
      {0.1, 5, 0, 2},                   /* f64: 0.1 <= 0.1 left → {5}: 1; f32: 0.1f > 0.1 right */
      {0.05, -0.5, 3, NAN},             /* −0.5 → category 0: 1; linear NaN → 0.75 */
      {0.2, NAN, 2.5, 1},               /* 2.5 <= 2.5: 4; 0.25 + 2 */
      {NAN, 1.7, 1e-36, 0},             /* NaN → right; 1e-36 is zero → right: 8; None: 0.25 */
      {-INFINITY, 2, 2e-35, -1},        /* left, 2 not in set: 2; 0.25 − 2 */
      {INFINITY, 0, 3, 1},              /* inf > 0.1: 3 > 2.5: 8; inf <= +inf: 2.25 */
      {0x1.999999999999bp-4, 0, 0, 0},  /* one double ulp above 0.1: right, 0 is zero: 8 */
  };
  const float want64[] = {5.25f, 1.75f, 6.25f, 8.25f, 0.25f, 10.25f, 8.25f};
  const float want32[] = {12.25f, 1.75f, 6.25f, 8.25f, 0.25f, 10.25f, 8.25f};
  float out[7], x32[7][4];
  for (int r = 0; r < 7; r++)
    for (int f = 0; f < 4; f++) x32[r][f] = (float)rows[r][f];
  assert_int_equal(lm_predict_f64(s, &rows[0][0], 7, 0, out), 0);
  for (int r = 0; r < 7; r++)
    if (out[r] != want64[r]) fail_msg("f64 row %d: %.9g, want %.9g", r, out[r], want64[r]);
  assert_int_equal(lm_predict(s, &x32[0][0], 7, 0, out), 0);
  for (int r = 0; r < 7; r++)
    if (out[r] != want32[r]) fail_msg("f32 row %d: %.9g, want %.9g", r, out[r], want32[r]);
  /* float32 rows one float ulp either side of 0.1 and exactly at the largest float <= 0.1 */
  float below = nextafterf(0.1f, 0.0f), x1[2][4] = {{below, 5, 0, 0}, {0.1f, 5, 0, 0}};
  assert_int_equal(lm_predict(s, &x1[0][0], 2, 0, out), 0);
  assert_true(out[0] == 1.25f); /* below <= 0.1: left, {5}: 1, + 0.25 */
  assert_true(out[1] == 8.25f); /* 0.1f > 0.1: right, 0 is zero → right: 8 */
  lm_model_info info;
  assert_int_equal(lm_model_get_info(lm, &info), 0);
  assert_string_equal(info.kernel, "tree_margin_lgbm__scalar");
  lm_session_free(s);
  lm_model_close(lm);
}

/* ---- broken files: one table ---- */

typedef struct bad_case {
  const char *what;
  void (*mutate)(uint8_t *img, size_t *len); /* may shrink *len */
  int reseal;                                /* recompute checksums after mutating */
  int code;
  const char *msg;
} bad_case;


static void m_magic(uint8_t *b, size_t *l) { (void)l; b[1] = 'X'; }
static void m_major(uint8_t *b, size_t *l) { (void)l; ((lmf_header *)b)->major = 2; }
static void m_truncate(uint8_t *b, size_t *l) { (void)b; *l -= 100; }
static void m_truncate_header(uint8_t *b, size_t *l) { (void)b; *l = 40; }
static void m_sec_oob(uint8_t *b, size_t *l) { (void)l; sec_of(b, LMF_NODES)->size += 4096; }
static void m_misalign(uint8_t *b, size_t *l) { (void)l; sec_of(b, LMF_TREES)->offset += 8; }
static void m_checksum(uint8_t *b, size_t *l) { (void)l; nodes_of(b)[0].threshold = 1.75f; }
static void m_table_checksum(uint8_t *b, size_t *l) { (void)l; sec_of(b, LMF_META)->flags = 0; }
static void m_child_oob(uint8_t *b, size_t *l) { (void)l; nodes_of(b)[0].left = 99; }
static void m_cycle(uint8_t *b, size_t *l) {
  /* node 2 (BFS slot 2) points back to slot 1..2: a cycle through its ancestor's level */
  (void)l;
  nodes_of(b)[2].left = 1;
}
static void m_leaf_not_fixed(uint8_t *b, size_t *l) { (void)l; nodes_of(b)[1].threshold = 0.0f; }
static void m_feature_oob(uint8_t *b, size_t *l) { (void)l; nodes_of(b)[0].split |= 7; }
static void m_catset_oob(uint8_t *b, size_t *l) { (void)l; nodes_of(b)[2].u.cat_set = 5; }
static void m_depth(uint8_t *b, size_t *l) {
  (void)l;
  ((lmf_tree *)(b + sec_of(b, LMF_TREES)->offset))[1].depth = 1;
}
static void m_group(uint8_t *b, size_t *l) {
  (void)l;
  ((lmf_tree *)(b + sec_of(b, LMF_TREES)->offset))[1].group = 1;
}
static void m_objective(uint8_t *b, size_t *l) {
  (void)l;
  ((lmf_meta *)(b + sec_of(b, LMF_META)->offset))->objective = 999;
}
static void m_string(uint8_t *b, size_t *l) {
  (void)l;
  ((lmf_meta *)(b + sec_of(b, LMF_META)->offset))->str_objective = 1u << 30;
}
static void m_unknown_required(uint8_t *b, size_t *l) { (void)l; sec_of(b, LMF_LEAF_IDS)->kind = 77; }
static void m_flags(uint8_t *b, size_t *l) { (void)l; ((lmf_header *)b)->flags = 1; }
/* issue 18 findings 7, 12, 13, 14 */
static lmf_meta *meta_of(uint8_t *b) { return (lmf_meta *)(b + sec_of(b, LMF_META)->offset); }
static char *meta_str(uint8_t *b, uint32_t off) { return (char *)b + sec_of(b, LMF_META)->offset + off; }
static void m_features_2p29(uint8_t *b, size_t *l) { (void)l; meta_of(b)->num_features = 1u << 29; }
static void m_features_2p24_1(uint8_t *b, size_t *l) { (void)l; meta_of(b)->num_features = (1u << 24) + 1; }
static void m_base_margin_nan(uint8_t *b, size_t *l) { (void)l; meta_of(b)->base_margin = NAN; }
static void m_base_score_inf(uint8_t *b, size_t *l) { (void)l; meta_of(b)->base_score = INFINITY; }
static void m_objective_string(uint8_t *b, size_t *l) {
  (void)l; /* "reg:squarederror" -> "reg:squaredlogerror" does not fit: same length, other name */
  memcpy(meta_str(b, meta_of(b)->str_objective), "reg:absoluteerro", 16);
}
static void m_objective_injected(uint8_t *b, size_t *l) {
  (void)l; /* a Prometheus line injected through the objective string */
  memcpy(meta_str(b, meta_of(b)->str_objective), "x\nlmserve_ready ", 16);
}
static void m_version_control(uint8_t *b, size_t *l) { (void)l; meta_str(b, meta_of(b)->str_source_version)[1] = '\x1b'; }
static void m_converter_utf8(uint8_t *b, size_t *l) { (void)l; meta_str(b, meta_of(b)->str_converter)[0] = (char)0xC3; }
static void m_feature_name_utf8(uint8_t *b, size_t *l) {
  (void)l; /* "zone": an overlong encoding of '/' */
  char *z = meta_str(b, meta_of(b)->str_feature_names) + strlen("distance_km") + 1;
  z[0] = (char)0xC0, z[1] = (char)0xAF;
}
static void m_header_reserved(uint8_t *b, size_t *l) { (void)l; ((lmf_header *)b)->reserved[15] = 1; }
static void m_meta_reserved(uint8_t *b, size_t *l) { (void)l; meta_of(b)->reserved0 = 7; }
static void m_meta_reserved_tail(uint8_t *b, size_t *l) { (void)l; meta_of(b)->reserved[3] = 1; }
static void m_tree_reserved(uint8_t *b, size_t *l) {
  (void)l;
  ((lmf_tree *)(b + sec_of(b, LMF_TREES)->offset))[1].reserved[1] = 1;
}
static void m_catsets_reserved(uint8_t *b, size_t *l) {
  (void)l;
  ((uint32_t *)(b + sec_of(b, LMF_CATSETS)->offset))[3] = 1;
}
static void m_padding_between(uint8_t *b, size_t *l) {
  (void)l; /* the byte just after NODES' content: padding, outside every checksum */
  lmf_section *s = sec_of(b, LMF_NODES);
  b[s->offset + s->size] = 0xff;
}
static void m_padding_after_table(uint8_t *b, size_t *l) {
  (void)l;
  b[64 + ((lmf_header *)b)->n_sections * sizeof(lmf_section)] = 1;
}
static void m_padding_at_end(uint8_t *b, size_t *l) { b[*l - 1] = 0x80; }

static const bad_case bad_cases[] = {
    {"bad magic", m_magic, 0, LM_EMAGIC, "bad magic at offset 0"},
    {"future major version", m_major, 0, LM_EVERSION, "format version 2."},
    {"truncated file", m_truncate, 0, LM_EFORMAT, "truncated"},
    {"truncated header", m_truncate_header, 0, LM_EFORMAT, "shorter than the 64-byte header"},
    {"section out of bounds", m_sec_oob, 1, LM_EFORMAT, "(NODES)"},
    {"misaligned section", m_misalign, 1, LM_EFORMAT, "not 64-byte aligned"},
    {"section checksum", m_checksum, 0, LM_ECHECKSUM, "section 2 (NODES)"},
    {"table checksum", m_table_checksum, 0, LM_ECHECKSUM, "section table checksum"},
    {"child index out of range", m_child_oob, 1, LM_ERANGE, "tree 0 node 0: child index 99"},
    {"cycle in a tree", m_cycle, 1, LM_ERANGE, "tree 0 node 2: child index 1"},
    {"leaf not a fixed point", m_leaf_not_fixed, 1, LM_EFORMAT, "not a fixed point"},
    {"feature out of range", m_feature_oob, 1, LM_ERANGE, "feature 7 out of range"},
    {"category set out of range", m_catset_oob, 1, LM_ERANGE, "category set 5"},
    {"wrong depth", m_depth, 1, LM_EFORMAT, "tree 1: depth is 0, TREES says 1"},
    {"group out of range", m_group, 1, LM_ERANGE, "group 1 out of range"},
    {"unknown objective", m_objective, 1, LM_EFORMAT, "META.objective 999"},
    {"string offset", m_string, 1, LM_EFORMAT, "string offset"},
    {"unknown required section", m_unknown_required, 1, LM_EVERSION, "required kind 77"},
    {"unknown header flags", m_flags, 1, LM_EVERSION, "header flags"},
    {"2^29 features in a tiny file", m_features_2p29, 1, LM_ERANGE,
     "META.num_features 536870912 (at META offset 16) out of range 1..16777216"},
    {"2^24 + 1 features", m_features_2p24_1, 1, LM_ERANGE, "META.num_features 16777217"},
    {"base_margin NaN", m_base_margin_nan, 1, LM_EFORMAT, "base_margin nan at offset 24 not finite"},
    {"base_score inf", m_base_score_inf, 1, LM_EFORMAT, "META.base_score inf"},
    {"objective string of another objective", m_objective_string, 1, LM_EFORMAT,
     "META objective string \"reg:absoluteerro\" does not match META.objective 1 "
     "(reg:squarederror)"},
    {"objective string with a newline", m_objective_injected, 1, LM_EFORMAT,
     "META objective string at META offset"},
    {"source version with ESC", m_version_control, 1, LM_EFORMAT,
     "META source version at META offset"},
    {"converter string not UTF-8", m_converter_utf8, 1, LM_EFORMAT,
     "META converter string at META offset"},
    {"feature name overlong UTF-8", m_feature_name_utf8, 1, LM_EFORMAT,
     "META feature name 1 at META offset"},
    {"header reserved byte", m_header_reserved, 1, LM_EFORMAT,
     "header reserved byte at offset 63 is not zero"},
    {"META.reserved0", m_meta_reserved, 1, LM_EFORMAT, "META reserved fields"},
    {"META.reserved tail", m_meta_reserved_tail, 1, LM_EFORMAT, "META reserved fields"},
    {"TREES reserved", m_tree_reserved, 1, LM_EFORMAT, "tree 1: reserved bytes"},
    {"CATSETS reserved", m_catsets_reserved, 1, LM_EFORMAT, "CATSETS section at offset"},
    {"padding after a section", m_padding_between, 1, LM_EFORMAT, "padding byte at offset"},
    {"padding after the table", m_padding_after_table, 1, LM_EFORMAT, "padding byte at offset"},
    {"padding at the end", m_padding_at_end, 1, LM_EFORMAT,
     "(after the last section) is not zero"},
};

static void test_bad_files(void **state) {
  (void)state;
  lm_ir_model *ir = make_tree_ir();
  size_t good_len;
  uint8_t *good = write_image(ir, &good_len);
  lm_ir_free(ir);
  int failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *c = &bad_cases[i];
    uint8_t *img = malloc(good_len);
    memcpy(img, good, good_len);
    size_t len = good_len;
    c->mutate(img, &len);
    if (c->reseal) lm__lmf_seal(img, len);
    const char *path = save("bad.lm", img, len);
    lm_model *m = NULL;
    int rc = lm_model_open(path, &m);
    if (rc != c->code || !strstr(lm_last_error(), c->msg) || !strstr(lm_last_error(), path)) {
      print_error("%s: got %d (%s) \"%s\", want %d and \"%s\"\n", c->what, rc, lm_err_name(rc),
                  lm_last_error(), c->code, c->msg);
      failures++;
    }
    if (m) lm_model_close(m), failures++;
    free(img);
  }
  free(good);
  assert_int_equal(failures, 0);
}

static void test_writer_rejects(void **state) {
  (void)state;
  lm_ir_model *ir = make_tree_ir();
  uint8_t *img = NULL;
  size_t len;
  ir->trees[0].nodes[2].left = 1; /* node 1 reached twice */
  assert_int_equal(lm__lmf_write(ir, "t", &img, &len), LM_EFORMAT);
  assert_non_null(strstr(lm_last_error(), "cycle or shared child"));
  ir->trees[0].nodes[2].left = 3;
  ir->trees[0].nodes[0].feature = 2;
  assert_int_equal(lm__lmf_write(ir, "t", &img, &len), LM_ERANGE);
  assert_non_null(strstr(lm_last_error(), "feature index 2 out of range"));
  ir->trees[0].nodes[0].feature = 0;
  strcpy(ir->objective, "reg:nonsense");
  assert_int_equal(lm__lmf_write(ir, "t", &img, &len), LM_EUNSUPPORTED);
  assert_null(img);
  lm_ir_free(ir);
}

static void test_errors(void **state) {
  (void)state;
  assert_string_equal(lm_err_name(LM_ECHECKSUM), "CHECKSUM");
  assert_string_equal(lm_strerror(LM_EMAGIC), "not an lmrt model file (bad magic)");
  assert_string_equal(lm_strerror(12345), "unknown error");
  lm_model *m = NULL;
  assert_int_equal(lm_model_open("/nonexistent/x.lm", &m), LM_EIO);
  assert_non_null(strstr(lm_last_error(), "/nonexistent/x.lm"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tree_decisions), cmocka_unit_test(test_linear),
      cmocka_unit_test(test_lightgbm_decisions),
      cmocka_unit_test(test_bad_files),      cmocka_unit_test(test_writer_rejects),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("lmf", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
