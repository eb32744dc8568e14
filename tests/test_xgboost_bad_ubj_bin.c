/*
 * test_xgboost_bad_ubj_bin.c — bad inputs for the UBJSON (formats/import/xgboost_ubj.c) and
 * legacy binary (xgboost_bin.c) readers: one table per reader of hand-made and patched inputs,
 * each with its error code and a piece of its message (file name, field, byte offset). Fixtures
 * and helpers as in test_xgboost_formats.c (tests/util_xgboost_formats.h).
 */
#include "tests/util_xgboost_formats.h"

/* ---- (f) bad inputs: UBJSON --------------------------------------------------------------- */
static void test_bad_ubjson(void **state) {
  (void)state;
  size_t n, pn;
  uint8_t *good = slurp(fx_path("gbtree_binary", "model.ubj"), &n);
  int failures = 0;
  /* 1. hand-built byte strings */
  static const tu_bad_bytes lit[] = {
      {"empty", LIT(""), LM_EFORMAT,
       "m.ubj: truncated UBJSON: a value needs 1 byte at byte 0, 0 left"},
      {"bad marker", LIT("{L\0\0\0\0\0\0\0\1aX"), LM_EFORMAT,
       "m.ubj: byte 11: unknown UBJSON marker 'X'"},
      {"bad marker byte", LIT("[#L\0\0\0\0\0\0\0\1\xfe"), LM_EFORMAT,
       "m.ubj: byte 11: unknown UBJSON marker 0xfe"},
      {"negative count", LIT("[#L\xff\xff\xff\xff\xff\xff\xff\xfb"), LM_EFORMAT,
       "m.ubj: byte 2: array count: negative count -5"},
      {"huge count", LIT("[#L\x40\0\0\0\0\0\0\0i\1"), LM_EFORMAT,
       "m.ubj: byte 2: array count: count 4611686018427387904 needs 4611686018427387904 bytes, "
       "only 2 left"},
      {"huge typed count", LIT("[$l#L\0\0\0\0\x40\0\0\0\0\0"), LM_EFORMAT,
       "m.ubj: byte 4: typed array count: count 1073741824 needs 4294967296 bytes, only 2 left"},
      {"typed count overflowing", LIT("[$L#L\x7f\xff\xff\xff\xff\xff\xff\xff"), LM_EFORMAT,
       "needs over 18446744073709551615 bytes"},
      {"negative string length", LIT("SL\xff\xff\xff\xff\xff\xff\xff\xff"), LM_EFORMAT,
       "m.ubj: byte 1: string: negative count -1"},
      {"string longer than the input",
       LIT("SL\0\0\0\0\0\0\0\x09"
           "abc"),
       LM_EFORMAT, "m.ubj: byte 1: string: count 9 needs 9 bytes, only 3 left"},
      {"key without 'L'", LIT("{i\3abc}"), LM_EFORMAT,
       "m.ubj: byte 1: object key: expected the int64 marker 'L', got 'i'"},
      {"count without 'L'", LIT("[#l\0\0\0\1i\1"), LM_EFORMAT,
       "m.ubj: byte 2: array count: expected the int64 marker 'L', got 'l'"},
      {"typed array of strings", LIT("[$S#L\0\0\0\0\0\0\0\0"), LM_EFORMAT,
       "m.ubj: byte 2: typed array of 'S' elements: not supported"},
      {"typed array of chars", LIT("[$C#L\0\0\0\0\0\0\0\0"), LM_EFORMAT, "typed array of 'C'"},
      {"typed array without '#'", LIT("[$dL\0\0\0\0\0\0\0\0"), LM_EFORMAT,
       "m.ubj: byte 3: typed array: expected '#' after the type, got 'L'"},
      {"truncated float", LIT("d\1\2"), LM_EFORMAT,
       "m.ubj: truncated UBJSON: a 4-byte number needs 4 bytes at byte 1, 2 left"},
      {"truncated object", LIT("{L\0\0\0\0\0\0\0\1aT"), LM_EFORMAT,
       "m.ubj: truncated UBJSON: object (no closing '}') needs 1 byte at byte 12, 0 left"},
      {"truncated array", LIT("[T"), LM_EFORMAT, "array (no closing ']') needs 1 byte at byte 2"},
      {"NUL in a key", LIT("{L\0\0\0\0\0\0\0\2a\0T}"), LM_EFORMAT,
       "m.ubj: byte 1: object key contains a NUL byte"},
      {"NUL in a string", LIT("SL\0\0\0\0\0\0\0\2a\0"), LM_EFORMAT,
       "byte 1: string contains a NUL"},
      {"duplicate key", LIT("{L\0\0\0\0\0\0\0\1aTL\0\0\0\0\0\0\0\1aF}"), LM_EFORMAT,
       "m.ubj: byte 12: duplicate key \"a\""},
      {"high-precision number", LIT("[#L\0\0\0\0\0\0\0\1H"), LM_EUNSUPPORTED,
       "m.ubj: byte 11: high-precision number ('H'): not supported"},
      {"data after the value", LIT("{}{}"), LM_EFORMAT,
       "m.ubj: byte 2: unexpected data after the top-level value (2 bytes)"},
      {"not an object", LIT("[#L\0\0\0\0\0\0\0\0"), LM_EFORMAT,
       "m.ubj: top level: expected object, got array"},
      {"empty object", LIT("{}"), LM_EFORMAT, "m.ubj: version: missing"},
  };
  failures += tu_expect_bad_table(lm__import_xgboost_ubj, "m.ubj", lit, sizeof lit / sizeof lit[0]);
  /* nesting: 40 arrays deep */
  {
    bb b = {0};
    for (int i = 0; i < 40; i++) bb_s(&b, "[");
    failures += expect_bad(lm__import_xgboost_ubj, "too deep", b.p, b.n, "m.ubj", LM_EFORMAT,
                           "m.ubj: byte 32: nested deeper than 32 levels");
    free(b.p);
  }
  /* 2. the real model, one field changed: the shared walk's messages, as for JSON */
  static const char ver_good[] = "version[#L\0\0\0\0\0\0\0\3i\1i\7i\4";
  bb b = {0};
  bb_s(&b, "version");
  bb_s(&b, "SL");
  bb_be64(&b, 3);
  bb_s(&b, "1.7");
  uint8_t *p = patch(good, n, ver_good, sizeof ver_good - 1, b.p, b.n, &pn);
  failures += expect_bad(lm__import_xgboost_ubj, "wrong type", p, pn, "m.ubj", LM_EFORMAT,
                         "m.ubj: version: expected array, got string");
  free(p), free(b.p);
  /* num_feature 3 (the trees split on features up to 9) */
  static const char nf_good[] = "num_featureSL\0\0\0\0\0\0\0\x02"
                                "10";
  static const char nf_bad[] = "num_featureSL\0\0\0\0\0\0\0\x02"
                               "03";
  p = patch_after(good, n, "learner_model_param", nf_good, sizeof nf_good - 1, nf_bad,
                  sizeof nf_bad - 1, &pn);
  failures += expect_bad(lm__import_xgboost_ubj, "feature out of range", p, pn, "m.ubj", LM_ERANGE,
                         "m.ubj: learner.gradient_booster.model.trees[0].split_indices[");
  free(p);
  /* objective name */
  static const char ob_good[] = "SL\0\0\0\0\0\0\0\x0f"
                                "binary:logistic";
  static const char ob_bad[] = "SL\0\0\0\0\0\0\0\x0f"
                               "binary:logistiX";
  p = patch(good, n, ob_good, sizeof ob_good - 1, ob_bad, sizeof ob_bad - 1, &pn);
  failures +=
      expect_bad(lm__import_xgboost_ubj, "unknown objective", p, pn, "m.ubj", LM_EUNSUPPORTED,
                 "m.ubj: learner.objective.name: unknown objective \"binary:logistiX\"");
  free(p);
  /* a typed array of the wrong element type where integers go: floats */
  const uint8_t *lc = memmem(good, n, "left_children[$l#L", 18);
  assert_non_null(lc);
  p = malloc(n);
  memcpy(p, good, n);
  p[(size_t)(lc - good) + 15] = 'd';
  failures +=
      expect_bad(lm__import_xgboost_ubj, "floats for children", p, n, "m.ubj", LM_EFORMAT,
                 "m.ubj: learner.gradient_booster.model.trees[0].left_children[0]: expected "
                 "integer, got number");
  free(p);
  assert_int_equal(failures, 0);

  /* 3. the typed array forms of 3.x and generic/closing arrays decode to the same model */
  lm_ir_model *ref = NULL, *ir = NULL;
  assert_int_equal(lm__import_xgboost_ubj(good, n, "m.ubj", &ref), 0);
  /* version as an int16 typed array, then as an uncounted array with a closing ']' */
  static const char v16[] = "version[$I#L\0\0\0\0\0\0\0\3\0\1\0\7\0\4";
  p = patch(good, n, ver_good, sizeof ver_good - 1, v16, sizeof v16 - 1, &pn);
  assert_int_equal(lm__import_xgboost_ubj(p, pn, "m.ubj", &ir), 0);
  assert_string_equal(ir->source_version, "1.7.4");
  lm_ir_free(ir), free(p);
  static const char vopen[] = "version[U\1i\7L\0\0\0\0\0\0\0\4]";
  p = patch(good, n, ver_good, sizeof ver_good - 1, vopen, sizeof vopen - 1, &pn);
  assert_int_equal(lm__import_xgboost_ubj(p, pn, "m.ubj", &ir), 0);
  assert_string_equal(ir->source_version, "1.7.4");
  lm_ir_free(ir), free(p);
  /* the split_conditions of tree 0 as float64 ('D'), each the double of the float32 */
  const uint8_t *sc = memmem(good, n, "split_conditions[$d#L", 21);
  assert_non_null(sc);
  size_t at = (size_t)(sc - good) + 16, cnt = 0;
  for (int i = 0; i < 8; i++) cnt = cnt << 8 | good[at + 5 + i];
  bb d = {0};
  bb_put(&d, good, at);
  bb_s(&d, "[$D#L");
  bb_put(&d, good + at + 5, 8);
  for (size_t i = 0; i < cnt; i++) {
    const uint8_t *q = good + at + 13 + 4 * i;
    uint32_t u = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
    float f;
    memcpy(&f, &u, 4);
    double dv = f;
    uint64_t w;
    memcpy(&w, &dv, 8);
    bb_be64(&d, (int64_t)w);
  }
  bb_put(&d, good + at + 13 + 4 * cnt, n - (at + 13 + 4 * cnt));
  assert_int_equal(lm__import_xgboost_ubj(d.p, d.n, "m.ubj", &ir), 0);
  assert_int_equal(ir->trees[0].n_nodes, ref->trees[0].n_nodes);
  for (uint32_t k = 0; k < ir->trees[0].n_nodes; k++)
    assert_int_equal(fbits(ir->trees[0].nodes[k].value), fbits(ref->trees[0].nodes[k].value));
  lm_ir_free(ir), free(d.p);
  /* booleans: 'F' is false (XGBoost 1.7.4's reader would say true) — default_left as booleans */
  lm_ir_free(ref);
  {
    bb t = {0};
    bb_s(&t, "{");
    ub_str(&t, "learner");
    bb_s(&t, "{");
    ub_str(&t, "gradient_booster");
    bb_s(&t, "{");
    ub_str(&t, "model");
    bb_s(&t, "{");
    ub_str(&t, "gbtree_model_param");
    bb_s(&t, "{");
    ub_str(&t, "num_trees"), bb_s(&t, "S"), ub_str(&t, "1");
    bb_s(&t, "}");
    ub_str(&t, "tree_info"), bb_s(&t, "[#L"), bb_be64(&t, 1), bb_put(&t, "i\0", 2);
    ub_str(&t, "trees"), bb_s(&t, "[#L"), bb_be64(&t, 1);
    bb_s(&t, "{");
    ub_str(&t, "default_left"), bb_s(&t, "[#L"), bb_be64(&t, 3), bb_s(&t, "FTF");
    ub_str(&t, "left_children"), bb_s(&t, "[$i#L"), bb_be64(&t, 3), bb_put(&t, "\1\xff\xff", 3);
    ub_str(&t, "right_children"), bb_s(&t, "[$i#L"), bb_be64(&t, 3), bb_put(&t, "\2\xff\xff", 3);
    ub_str(&t, "split_conditions"), bb_s(&t, "[$d#L"), bb_be64(&t, 3);
    bb_put(&t, "\x3f\x80\0\0\xbf\0\0\0\x3f\0\0\0", 12); /* 1, -0.5, 0.5 */
    ub_str(&t, "split_indices"), bb_s(&t, "[$L#L"), bb_be64(&t, 3);
    bb_be64(&t, 1), bb_be64(&t, 0), bb_be64(&t, 0);
    ub_str(&t, "tree_param"), bb_s(&t, "{"), ub_str(&t, "num_nodes"), bb_s(&t, "S"),
        ub_str(&t, "3");
    bb_s(&t, "}}");
    bb_s(&t, "}");
    ub_str(&t, "name"), bb_s(&t, "S"), ub_str(&t, "gbtree");
    bb_s(&t, "}");
    ub_str(&t, "learner_model_param"), bb_s(&t, "{");
    ub_str(&t, "base_score"), bb_s(&t, "S"), ub_str(&t, "5E-1");
    ub_str(&t, "num_feature"), bb_s(&t, "S"), ub_str(&t, "2");
    bb_s(&t, "}");
    ub_str(&t, "objective"), bb_s(&t, "{"), ub_str(&t, "name"), bb_s(&t, "S");
    ub_str(&t, "reg:squarederror");
    bb_s(&t, "}}");
    ub_str(&t, "version"), bb_s(&t, "[$U#L"), bb_be64(&t, 3), bb_put(&t, "\2\1\0", 3);
    bb_s(&t, "}");
    if (lm__import_xgboost_ubj(t.p, t.n, "m.ubj", &ir)) fail_msg("%s", lm_last_error());
    assert_string_equal(ir->source_version, "2.1.0");
    assert_int_equal(ir->trees[0].nodes[0].default_left, 0); /* F */
    assert_int_equal(ir->trees[0].nodes[0].feature, 1);
    assert_int_equal(fbits(ir->trees[0].nodes[1].value), fbits(-0.5f));
    assert_int_equal(ir->num_parallel_tree, 1);
    lm_ir_free(ir);
    /* 'T' is true */
    uint8_t *q = memmem(t.p, t.n, "FTF", 3);
    q[0] = 'T';
    assert_int_equal(lm__import_xgboost_ubj(t.p, t.n, "m.ubj", &ir), 0);
    assert_int_equal(ir->trees[0].nodes[0].default_left, 1);
    lm_ir_free(ir);
    free(t.p);
  }
  free(good);
}

/* ---- (f) bad inputs: legacy binary --------------------------------------------------------- */

/* Offsets in a legacy binary model (an independent walk of input-formats.md §4). */
typedef struct blay {
  size_t hdr, objective, booster, gbm, tree_info, weight_drop, attrs;
  size_t tree[64], nodes[64];
  int32_t nn[64], ntrees;
} blay;

static uint64_t rd_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static blay layout(const uint8_t *b, size_t n) {
  blay L = {0};
  size_t p = memcmp(b, "binf", 4) == 0 ? 4 : 0;
  L.hdr = p;
  p += 136;
  L.objective = p;
  p += 8 + rd_le(b + p, 8);
  L.booster = p;
  int dart = rd_le(b + p, 8) == 4 && memcmp(b + p + 8, "dart", 4) == 0;
  int linear = rd_le(b + p, 8) == 8;
  p += 8 + rd_le(b + p, 8);
  L.gbm = p;
  if (linear) {
    p += 136;
    L.weight_drop = p; /* the weights vector */
    p += 8 + 4 * rd_le(b + p, 8);
  } else {
    L.ntrees = (int32_t)rd_le(b + p, 4);
    assert_true(L.ntrees <= 64);
    p += 160;
    for (int t = 0; t < L.ntrees; t++) {
      L.tree[t] = p;
      L.nn[t] = (int32_t)rd_le(b + p + 4, 4);
      L.nodes[t] = p + 148;
      p += 148 + (size_t)L.nn[t] * 36;
    }
    L.tree_info = p;
    p += 4 * (size_t)L.ntrees;
    if (dart) {
      L.weight_drop = p;
      p += 8 + 4 * rd_le(b + p, 8);
    }
  }
  L.attrs = p;
  assert_true(p < n);
  return L;
}

static void put32(uint8_t *b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) b[at + i] = (uint8_t)(v >> (8 * i));
}

enum bwhere {
  B_ABS,
  B_HDR,
  B_GBM,
  B_TREE,
  B_NODE,
  B_TREE_INFO,
  B_WDROP,
  B_ATTRS,
  B_OBJ,
  B_BOOSTER
};
enum bkind { PUT, CUT, APPEND };

typedef struct bin_case {
  const char *what;
  const char *fixture; /* case whose model.bin is mutated */
  int where, tree, node;
  size_t off; /* within the part */
  int kind;
  uint32_t value;
  int code;
  const char *msg; /* may contain one %zu: the absolute offset of the part + off + madj */
  long madj;
} bin_case;

static size_t part(const blay *L, int where, int tree, int node) {
  switch (where) {
  case B_HDR: return L->hdr;
  case B_GBM: return L->gbm;
  case B_TREE: return L->tree[tree];
  case B_NODE: return L->nodes[tree] + (size_t)node * 20;
  case B_TREE_INFO: return L->tree_info;
  case B_WDROP: return L->weight_drop;
  case B_ATTRS: return L->attrs;
  case B_OBJ: return L->objective;
  case B_BOOSTER: return L->booster;
  }
  return 0;
}

static void test_bad_binary(void **state) {
  (void)state;
  static const bin_case cases[] = {
      {"truncated header", "gbtree_binary", B_ABS, 0, 0, 100, CUT, 0, LM_EFORMAT,
       "m.bin: byte 4: learner_model_param: truncated: needs 136 bytes, 96 left", 0},
      {"not a version", "gbtree_binary", B_HDR, 0, 0, 20, PUT, 7777, LM_EFORMAT,
       "m.bin: byte %zu: learner_model_param.major_version: 7777 is no XGBoost version", 0},
      {"negative num_class", "gbtree_binary", B_HDR, 0, 0, 8, PUT, (uint32_t)-2, LM_ERANGE,
       "m.bin: byte %zu: learner_model_param.num_class: value -2 out of range", 0},
      {"huge num_target", "gbtree_binary", B_HDR, 0, 0, 28, PUT, 1u << 30, LM_ERANGE,
       "m.bin: byte %zu: learner_model_param.num_target: value 1073741824 out of range", 0},
      {"multi-target", "gbtree_binary", B_HDR, 0, 0, 28, PUT, 2, LM_EUNSUPPORTED,
       "m.bin: byte %zu: learner_model_param.num_target: multi-target trees (2 targets)", 0},
      {"multiclass objective without classes", "gbtree_multi_softprob3", B_HDR, 0, 0, 8, PUT, 0,
       LM_EFORMAT,
       "m.bin: byte %zu: learner_model_param.num_class: objective multi:softprob needs "
       "num_class >= 2, got 0",
       0},
      {"objective length beyond the file", "gbtree_binary", B_OBJ, 0, 0, 4, PUT, 1, LM_EFORMAT,
       "m.bin: byte 140: objective: count 4294967311 needs more than the", 0},
      {"unknown objective", "gbtree_binary", B_OBJ, 0, 0, 8, PUT, 0x41414141, LM_EUNSUPPORTED,
       "m.bin: byte 140: objective: unknown objective \"AAAAry:logistic\"", 0},
      {"unknown booster", "gbtree_binary", B_BOOSTER, 0, 0, 8, PUT, 0x41414141, LM_EUNSUPPORTED,
       "m.bin: byte 163: booster: unknown booster \"AAAAee\"", 0},
      {"negative num_trees", "gbtree_binary", B_GBM, 0, 0, 0, PUT, (uint32_t)-1, LM_ERANGE,
       "m.bin: byte %zu: gbtree_model_param.num_trees: negative value -1", 0},
      {"bad num_trees", "gbtree_binary", B_GBM, 0, 0, 0, PUT, 1000000, LM_EFORMAT,
       "m.bin: byte %zu: gbtree_model_param.num_trees: 1000000 trees cannot fit in the", 0},
      {"gbtree size_leaf_vector", "gbtree_binary", B_GBM, 0, 0, 28, PUT, 2, LM_EUNSUPPORTED,
       "m.bin: byte %zu: gbtree_model_param.size_leaf_vector: multi-target trees (2 targets)", 0},
      {"tree size_leaf_vector", "gbtree_binary", B_TREE, 2, 0, 20, PUT, 3, LM_EUNSUPPORTED,
       "m.bin: byte %zu: trees[2].tree_param.size_leaf_vector: multi-target tree (leaf vectors of "
       "size 3) not supported",
       0},
      {"negative size_leaf_vector", "gbtree_binary", B_TREE, 0, 0, 20, PUT, (uint32_t)-1, LM_ERANGE,
       "m.bin: byte %zu: trees[0].tree_param.size_leaf_vector: negative value -1", 0},
      {"num_nodes zero", "gbtree_binary", B_TREE, 1, 0, 4, PUT, 0, LM_ERANGE,
       "m.bin: byte %zu: trees[1].tree_param.num_nodes: value 0 out of range", 0},
      {"num_nodes beyond the file", "gbtree_binary", B_TREE, 1, 0, 4, PUT, 100000000, LM_EFORMAT,
       "trees[1].nodes: truncated: 100000000 nodes need 3600000000 bytes", 0},
      {"num_deleted wrong", "gbtree_binary", B_TREE, 0, 0, 8, PUT, 1, LM_EFORMAT,
       "m.bin: byte %zu: trees[0].tree_param.num_deleted: 1, but 0 nodes are marked deleted", 0},
      {"node child out of range", "gbtree_binary", B_NODE, 0, 0, 4, PUT, 99, LM_ERANGE,
       "m.bin: byte %zu: trees[0].nodes[0].cleft: child index 99 out of range (num_nodes", 0},
      {"right child the root", "gbtree_binary", B_NODE, 0, 0, 8, PUT, 0, LM_ERANGE,
       "m.bin: byte %zu: trees[0].nodes[0].cright: child index 0 out of range", 0},
      {"one child", "gbtree_binary", B_NODE, 0, 0, 8, PUT, (uint32_t)-1, LM_EFORMAT,
       "m.bin: byte %zu: trees[0].nodes[0].cleft: node 0 has one child", -4},
      {"shared child", "gbtree_binary", B_NODE, 0, 0, 8, PUT, 1, LM_EFORMAT,
       "m.bin: byte %zu: trees[0]: cycle or shared child: node 1 is reached again from node 0",
       -(148 + 8)},
      {"feature out of range", "gbtree_binary", B_NODE, 0, 0, 12, PUT, 0x80000000u | 50, LM_ERANGE,
       "m.bin: byte %zu: trees[0].nodes[0].sindex: feature index out of range: 50 "
       "(num_feature 10)",
       0},
      {"truncated tree", "gbtree_binary", B_NODE, 3, 2, 7, CUT, 0, LM_EFORMAT,
       "trees[3].nodes: truncated: ", 0},
      {"truncated tree param", "gbtree_binary", B_TREE, 5, 0, 100, CUT, 0, LM_EFORMAT,
       "m.bin: byte %zu: trees[5].tree_param: truncated: needs 148 bytes, 100 left", -100},
      {"tree_info out of range", "gbtree_binary", B_TREE_INFO, 0, 0, 4, PUT, 1, LM_ERANGE,
       "m.bin: byte %zu: tree_info[1]: value 1 out of range [0, 0]", 0},
      {"truncated tree_info", "gbtree_binary", B_TREE_INFO, 0, 0, 6, CUT, 0, LM_EFORMAT,
       "tree_info: truncated: needs 32 bytes, 6 left", 0},
      {"dart weight_drop length", "dart_reg", B_WDROP, 0, 0, 0, PUT, 5, LM_EFORMAT,
       "m.bin: byte %zu: weight_drop: length 5 does not match num_trees 6", 0},
      {"gblinear weights length", "gblinear_reg", B_WDROP, 0, 0, 0, PUT, 10, LM_EFORMAT,
       "m.bin: byte %zu: weights: length 10, expected (num_feature + 1) x outputs = (10 + 1) x 1",
       0},
      {"attribute count beyond the file", "gbtree_binary", B_ATTRS, 0, 0, 0, PUT, 1000, LM_EFORMAT,
       "m.bin: byte %zu: attributes: count 1000 needs more than the", 0},
      {"truncated attributes", "gbtree_binary", B_ATTRS, 0, 0, 30, CUT, 0, LM_EFORMAT,
       "m.bin: byte %zu: attributes: count 3 needs more than the 22 bytes left", -30},
      {"attribute key beyond the file", "gbtree_binary", B_ATTRS, 0, 0, 12, PUT, 1, LM_EFORMAT,
       "m.bin: byte %zu: attributes[0].key: count 4294967310 needs more than the", -4},
      {"bytes after the model", "gbtree_binary", B_ABS, 0, 0, 0, APPEND, 0, LM_EFORMAT,
       "end of model: 3 unexpected bytes after the model", 0},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const bin_case *c = &cases[i];
    size_t n;
    uint8_t *b = slurp(fx_path(c->fixture, "model.bin"), &n);
    b = realloc(b, n + 8);
    blay L = layout(b, n);
    size_t at = (c->where == B_ABS ? 0 : part(&L, c->where, c->tree, c->node)) + c->off;
    if (c->kind == PUT) put32(b, at, c->value);
    if (c->kind == CUT) n = at;
    if (c->kind == APPEND) memcpy(b + n, "xyz", 3), n += 3;
    char want[300];
    snprintf(want, sizeof want, c->msg, (size_t)((long)at + c->madj));
    failures += expect_bad(lm__import_xgboost_binary, c->what, b, n, "m.bin", c->code, want);
    free(b);
  }
  /* an attribute value that is no integer */
  size_t n, pn;
  uint8_t *b = slurp(fx_path("gbtree_binary", "model.bin"), &n);
  static const char bntl_good[] = "best_ntree_limit\1\0\0\0\0\0\0\0"
                                  "8";
  static const char bntl_bad[] = "best_ntree_limit\1\0\0\0\0\0\0\0"
                                 "x";
  uint8_t *p = patch(b, n, bntl_good, sizeof bntl_good - 1, bntl_bad, sizeof bntl_bad - 1, &pn);
  failures +=
      expect_bad(lm__import_xgboost_binary, "best_ntree_limit not an integer", p, pn, "m.bin",
                 LM_EFORMAT, "attributes.best_ntree_limit: expected an integer string, got \"x\"");
  free(p), free(b);
  assert_int_equal(failures, 0);

  /* before 1.0 (major_version 0): base_score stored transformed, transformed again on load */
  b = slurp(fx_path("gbtree_binary", "model_nobinf.bin"), &n);
  put32(b, 20, 0), put32(b, 24, 90);
  put32(b, 0, fbits(-1.5f)); /* the stored base_score */
  lm_ir_model *ir = NULL;
  assert_int_equal(lm__import_xgboost_binary(b, n, "m.bin", &ir), 0);
  assert_string_equal(ir->source_version, "0.90");
  float want = 1.0f / (expf(1.5f) + 1.0f + 1e-16f);
  assert_int_equal(fbits(ir->base_score), fbits(want));
  lm_ir_free(ir), free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_ubjson),
      cmocka_unit_test(test_bad_binary),
  };
  return cmocka_run_group_tests_name("xgboost_bad_ubj_bin", tests, setup, tu_tmpdir_teardown);
}
