/*
 * test_xgboost_bad_pickle.c — bad pickles (formats/import/pickle.c, xgboost_pickle.c): one table
 * of hand-made inputs with their error code and a piece of their message (opcode, byte offset),
 * bad Booster handles; then every truncation and many one-byte mutations of real files of every
 * XGBoost serialisation: no crash, no leak (the sanitizer build checks). Fixtures and helpers as
 * in test_xgboost_formats.c (tests/util_xgboost_formats.h).
 */
#include "tests/util_xgboost_formats.h"

/* ---- (f) bad inputs: pickles -------------------------------------------------------------- */

/* A protocol-4 pickle of xgboost.core.Booster whose state is {'handle': bytearray(h)} plus the
 * raw pickle bytes `extra_items` inside the dict's MARK … SETITEMS. */
static void booster_pickle(bb *b, const void *h, size_t hl, const char *extra_items) {
  bb_s(b, "\x80\x04\x8c\x0cxgboost.core\x8c\x07"
          "Booster\x93)\x81}(");
  if (h) {
    bb_s(b, "\x8c\x06handle\x96");
    bb_le(b, hl, 8);
    bb_put(b, h, hl);
  }
  if (extra_items) bb_s(b, extra_items);
  bb_s(b, "ub.");
}

static void test_bad_pickle(void **state) {
  (void)state;
  int failures = 0;
  static const tu_bad_bytes lit[] = {
      {"unknown opcode", LIT("\x80\x04\xff"), LM_EFORMAT,
       "m.pkl: byte 2: unknown pickle opcode 0xff"},
      {"protocol 0 opcode", LIT("\x80\x02I1\n."), LM_EFORMAT,
       "m.pkl: not a pickled XGBoost Booster: the pickle holds an int"},
      {"EXT1", LIT("\x80\x02\x82\x01."), LM_EUNSUPPORTED,
       "m.pkl: byte 2: pickle opcode 0x82 (EXT1) is not supported"},
      {"persistent id", LIT("\x80\x04N\x51."), LM_EUNSUPPORTED,
       "byte 3: pickle opcode 0x51 (BINPERSID)"},
      {"out-of-band buffer", LIT("\x80\x05\x97."), LM_EUNSUPPORTED,
       "byte 2: pickle opcode 0x97 (NEXT_BUFFER)"},
      {"protocol 6", LIT("\x80\x06N."), LM_EUNSUPPORTED,
       "m.pkl: byte 0: pickle protocol 6: not supported (0 to 5 are)"},
      {"no STOP", LIT("\x80\x04N"), LM_EFORMAT, "m.pkl: byte 3: truncated pickle: no STOP opcode"},
      {"truncated operand", LIT("\x80\x04J\1\2"), LM_EFORMAT,
       "m.pkl: byte 2: pickle opcode BININT: truncated: needs 4 bytes, 2 left"},
      {"truncated string",
       LIT("\x80\x04\x8c\x09"
           "abc"),
       LM_EFORMAT, "byte 2: pickle opcode SHORT_BINUNICODE: length 9 exceeds the 3 bytes left"},
      {"huge bytes length", LIT("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f"), LM_EFORMAT,
       "pickle opcode BINBYTES8: length 9223372036854775807 exceeds the 0 bytes left"},
      {"stack underflow", LIT("\x80\x04s."), LM_EFORMAT,
       "byte 2: pickle opcode SETITEM: stack underflow"},
      {"memo not set", LIT("\x80\x04h\x05."), LM_EFORMAT,
       "byte 2: pickle opcode BINGET: memo index 5 not set"},
      {"memo index too far", LIT("\x80\x04Nr\xff\xff\xff\x0f."), LM_EFORMAT,
       "byte 3: pickle opcode LONG_BINPUT: memo index 268435455 out of range"},
      {"non-Booster pickle", LIT("\x80\x04}."), LM_EFORMAT,
       "m.pkl: not a pickled XGBoost Booster: the pickle holds a dict"},
      /* found by fuzzing: an empty MARK … TUPLE (no items to add), with and without a stack */
      {"an empty tuple", LIT("\x80\x04N0(t."), LM_EFORMAT, "the pickle holds a tuple"},
      {"an empty tuple first", LIT("(t."), LM_EFORMAT, "the pickle holds a tuple"},
      {"a list", LIT("\x80\x04](K\1K\2e."), LM_EFORMAT, "the pickle holds a list"},
      /* os.system('echo hi') is only recorded, never called */
      {"a call", LIT("\x80\x02\x63os\nsystem\nX\x07\0\0\0echo hi\x85R."), LM_EUNSUPPORTED,
       "m.pkl: byte 2: pickle global os.system is not allowed"},
      {"a wrapper without its Booster",
       LIT("\x80\x04\x8c\x0fxgboost.sklearn\x8c\x0dXGBClassifier\x93)\x81}b."), LM_ENOMODEL,
       "m.pkl: pickled XGBClassifier without a fitted '_Booster'"},
      {"another class", LIT("\x80\x04\x8c\x0fxgboost.sklearn\x8c\x0cXGBSomething\x93)\x81}b."),
       LM_EFORMAT, "the pickle holds an object of class xgboost.sklearn.XGBSomething"},
      {"no handle",
       LIT("\x80\x04\x8c\x0cxgboost.core\x8c\x07"
           "Booster\x93)\x81}b."),
       LM_ENOMODEL, "m.pkl: pickled Booster without 'handle' in its state"},
      {"handle None",
       LIT("\x80\x04\x8c\x0cxgboost.core\x8c\x07"
           "Booster\x93)\x81}(\x8c\x06handleNub."),
       LM_ENOMODEL, "m.pkl: pickled Booster whose handle is None"},
      {"handle an int",
       LIT("\x80\x04\x8c\x0cxgboost.core\x8c\x07"
           "Booster\x93)\x81}(\x8c\x06handleK\x07ub."),
       LM_EFORMAT, "Booster state 'handle': expected bytes or bytearray, got an int"},
      {"no state",
       LIT("\x80\x04\x8c\x0cxgboost.core\x8c\x07"
           "Booster\x93)\x81."),
       LM_EFORMAT, "m.pkl: pickled Booster without a state dict"},
      {"BUILD on a dict", LIT("\x80\x04}}b."), LM_EFORMAT,
       "byte 4: pickle opcode BUILD: target is not an object"},
      {"bytearray of non-latin-1",
       LIT("\x80\x02\x63__builtin__\nbytearray\nX\x03\0\0\0\xe2\x82\xac"
           "X\x07\0\0\0latin-1\x86R."),
       LM_EFORMAT, "pickle opcode REDUCE: bytearray of a str that is not latin-1"},
      {"odd SETITEMS", LIT("\x80\x04}(K\1u."), LM_EFORMAT,
       "pickle opcode SETITEMS: wrong target or odd"},
  };
  failures +=
      tu_expect_bad_table(lm__import_xgboost_pickle, "m.pkl", lit, sizeof lit / sizeof lit[0]);

  /* CONFIG-offset handles */
  size_t n;
  uint8_t *bin = slurp(fx_path("gbtree_binary", "model.bin"), &n);
  struct {
    const char *what;
    int64_t off;
    size_t cut; /* handle bytes kept (0: all) */
    const char *config;
    int code;
    const char *msg;
  } cfg[] = {
      {"CONFIG-offset beyond the handle", 1 << 30, 0, "{}", LM_EFORMAT,
       "m.pkl:handle: byte 14: CONFIG-offset 1073741824 out of range"},
      {"negative CONFIG-offset", -5, 0, "{}", LM_EFORMAT,
       "m.pkl:handle: byte 14: CONFIG-offset -5"},
      {"zero CONFIG-offset", 0, 0, "{}", LM_EFORMAT, "CONFIG-offset 0 out of range"},
      {"truncated CONFIG-offset", 0, 18, "{}", LM_EFORMAT,
       "m.pkl:handle: byte 14: CONFIG-offset: truncated: needs 8 bytes, 4 left"},
      {"bad config", -1, 0, "{\"learner\":", LM_EFORMAT, "m.pkl:handle:config: truncated JSON"},
      {"model shorter than said", -2, 0, "{}", LM_EFORMAT, "m.pkl:handle:model: byte "},
  };
  for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
    bb h = {0}, p = {0};
    bb_s(&h, "CONFIG-offset:");
    int64_t off = cfg[i].off == -1 ? (int64_t)n : cfg[i].off == -2 ? (int64_t)n - 10 : cfg[i].off;
    bb_le(&h, (uint64_t)off, 8);
    bb_put(&h, bin, n);
    bb_s(&h, cfg[i].config);
    booster_pickle(&p, h.p, cfg[i].cut ? cfg[i].cut : h.n, NULL);
    failures += expect_bad(lm__import_xgboost_pickle, cfg[i].what, p.p, p.n, "m.pkl", cfg[i].code,
                           cfg[i].msg);
    free(h.p), free(p.p);
  }
  /* a JSON snapshot without "Model"; a UBJSON one; handle bytes that are no model */
  {
    bb p = {0};
    booster_pickle(&p, "{\"Config\": {}}", 14, NULL);
    failures +=
        expect_bad(lm__import_xgboost_pickle, "snapshot without Model", p.p, p.n, "m.pkl",
                   LM_EFORMAT, "m.pkl:handle: the serialised Booster has no \"Model\" object");
    free(p.p);
    bb u = {0};
    bb_s(&u, "{");
    ub_str(&u, "Config");
    bb_s(&u, "{}");
    bb_s(&u, "}");
    p = (bb){0};
    booster_pickle(&p, u.p, u.n, NULL);
    failures += expect_bad(lm__import_xgboost_pickle, "UBJSON snapshot without Model", p.p, p.n,
                           "m.pkl", LM_EFORMAT, "has no \"Model\" object");
    free(p.p), free(u.p);
    p = (bb){0};
    booster_pickle(&p, "junk", 4, NULL);
    failures += expect_bad(lm__import_xgboost_pickle, "handle junk", p.p, p.n, "m.pkl", LM_EFORMAT,
                           "m.pkl:handle: byte 0: learner_model_param: truncated");
    free(p.p);
    /* the Python attribute of the wrong type */
    p = (bb){0};
    booster_pickle(&p, bin, n,
                   "\x8c\x10"
                   "best_ntree_limit\x8c\x01x");
    failures +=
        expect_bad(lm__import_xgboost_pickle, "best_ntree_limit a str", p.p, p.n, "m.pkl",
                   LM_EFORMAT, "Booster state 'best_ntree_limit': expected an int >= 0, got a str");
    free(p.p);
  }
  /* a save_raw() handle (legacy binary) with Python attributes: they win, names are taken */
  {
    bb p = {0};
    char items[600] = "\x8c\x10"
                      "best_ntree_limit"
                      "K\x03"
                      "\x8c\x0e"
                      "best_iteration"
                      "K\x02"
                      "\x8c\x0d"
                      "feature_names"
                      "](";
    for (int i = 0; i < 10; i++) {
      char nm[16];
      snprintf(nm, sizeof nm,
               "\x8c\x02"
               "c%d",
               i);
      strcat(items, nm);
    }
    strcat(items, "e");
    booster_pickle(&p, bin, n, items);
    lm_ir_model *ir = NULL;
    if (lm__import_xgboost_pickle(p.p, p.n, "m.pkl", &ir)) fail_msg("%s", lm_last_error());
    assert_string_equal(ir->source_format, "xgboost-pickle");
    assert_int_equal(ir->best_ntree_limit, 3);
    assert_int_equal(ir->best_iteration, 2);
    assert_non_null(ir->feature_names);
    assert_string_equal(ir->feature_names[9], "c9");
    assert_int_equal(lm__ir_keep_best(ir), 8 - 3);
    lm_ir_free(ir);
    free(p.p);
  }
  free(bin);
  assert_int_equal(failures, 0);
}

/* ---- (f) every truncation, many mutations -------------------------------------------------- */

static void prefixes_and_mutations(importer imp, const char *file, size_t stride) {
  size_t n;
  uint8_t *good = slurp(fx_path("gbtree_binary", file), &n);
  lm_ir_model *m = NULL;
  assert_int_equal(imp(good, n, "m", &m), 0);
  lm_ir_free(m);
  for (size_t cut = 0; cut < n; cut++) {
    m = (lm_ir_model *)1;
    int rc = imp(good, cut, "m", &m);
    if (rc >= 0 || m) fail_msg("%s cut at %zu: rc %d", file, cut, rc);
    assert_int_equal(strncmp(lm_last_error(), "m", 1), 0);
    assert_null(strchr(lm_last_error(), '\n'));
  }
  static const uint8_t subs[] = {0x00, 0xff, 0x7f, 0x80, 'L', '[', '{', 0x01};
  size_t ok = 0, failed = 0;
  for (size_t at = 0; at < n; at += (at % stride) ? stride - at % stride : 1 + (at / stride) % 3) {
    for (size_t s = 0; s < sizeof subs; s++) {
      uint8_t saved = good[at];
      if (saved == subs[s]) continue;
      good[at] = subs[s];
      m = NULL;
      int rc = imp(good, n, "m", &m);
      good[at] = saved;
      tu_import_outcome(rc, m, NULL, &ok, &failed);
    }
  }
  print_message("%s: %zu truncations rejected; mutations: %zu imported, %zu rejected\n", file, n,
                ok, failed);
  free(good);
}

static void test_truncations_and_mutations(void **state) {
  (void)state;
  prefixes_and_mutations(lm__import_xgboost_ubj, "model.ubj", 3);
  prefixes_and_mutations(lm__import_xgboost_binary, "model.bin", 3);
  prefixes_and_mutations(lm__import_xgboost_binary, "model_13.bin", 7);
  prefixes_and_mutations(lm__import_xgboost_pickle, "model_p2.pkl", 5);
  prefixes_and_mutations(lm__import_xgboost_pickle, "model_p5.pkl", 5);
  prefixes_and_mutations(lm__import_xgboost_pickle, "model_cfgoff.pkl", 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_pickle),
      cmocka_unit_test(test_truncations_and_mutations),
  };
  return cmocka_run_group_tests_name("xgboost_bad_pickle", tests, setup, tu_tmpdir_teardown);
}
