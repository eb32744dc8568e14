/*
 * test_xgboost_json_archives.c — the artifact reader (formats/import/sagemaker.c) and format
 * sniffing (formats/import/sniff.c) on XGBoost JSON models:
 *
 * (c) archives built at test time with libarchive's writer: member selection and its errors;
 * (d) lm__import_any and sniffing: the artifact hash, UBJSON, legacy binary, pickle, bs64 named
 *     and rejected.
 * The hand-written models are in tests/util_xgboost_json.h (see test_xgboost_json.c).
 */
#include "tests/util_xgboost_json.h"

/* ---- (c) archives ----------------------------------------------------------------------- */

typedef tu_member member;

static const char *tmp_path(const char *name) { return tu_path(tmpdir, name); }

/* Write an archive of the members (gzip-compressed ustar, or plain ustar) at tmp/name. */
static const char *make_archive(const char *name, int gzip, const member *m, size_t n) {
  return tu_make_archive(tmp_path(name), gzip, m, n);
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
  const member m1[] = {
      {"notes.txt", "notes", 0}, {"xgboost-model", "MODEL", 0}, {".hidden", "h", 0}};
  expect_member(make_archive("a1.tar.gz", 1, m1, 3), NULL, "xgboost-model", "MODEL");
  /* "./xgboost-model", as tar -C dir . writes it */
  const member m2[] = {{"./", NULL, 0}, {"./xgboost-model", "DOT", 0}};
  expect_member(make_archive("a2.tar.gz", 1, m2, 2), NULL, "xgboost-model", "DOT");
  /* the only non-dot regular file, whatever its name */
  const member m3[] = {{".DS_Store", "x", 0},
                       {"sub/", NULL, 0},
                       {"sub/._model.json", "apple", 0},
                       {"sub/model.json", "{JSON}", 0},
                       {"./.keep", "", 0}};
  expect_member(make_archive("a3.tar.gz", 1, m3, 5), NULL, "sub/model.json", "{JSON}");
  /* plain tar (recognised by "ustar" at offset 257) */
  expect_member(make_archive("a4.tar", 0, m1, 3), NULL, "xgboost-model", "MODEL");
  /* --member picks any member, with or without "./"; it may even be a dotfile */
  const member m5[] = {
      {"a.txt", "A", 0}, {"xgboost-model-0", "F0", 0}, {"xgboost-model-1", "F1", 0}};
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
  const member m5[] = {
      {"a.txt", "A", 0}, {"xgboost-model-0", "F0", 0}, {"xgboost-model-1", "F1", 0}};
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
  const member md[] = {{".a", "1", 0}, {"d/", NULL, 0}, {"./.b", "2", 0}};
  expect_artifact_error(make_archive("e3.tar.gz", 1, md, 3), NULL, LM_ENOMODEL,
                        "no model in archive (members: .a, .b); choose one with --member");
  /* long member lists are cut */
  char names[15][16];
  member many[15];
  for (int i = 0; i < 15; i++) {
    snprintf(names[i], sizeof names[i], "f%02d", i);
    many[i] = (member){names[i], "x", 0};
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
  const member big[] = {{"xgboost-model", GOOD, 0}};
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
  const member m[] = {{".meta", "x", 0}, {"xgboost-model", json, 0}};
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
  const member mb[] = {{"xgboost-model", "{\"version\":[1,7,4]}", 0}};
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
  static const tu_bad_bytes cases[] = {
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
    const char *path = write_file(cases[i].what, cases[i].bytes, cases[i].len);
    lm_ir_model *ir = (lm_ir_model *)1;
    int rc = lm__import_any(path, NULL, &ir);
    char want[800];
    snprintf(want, sizeof want, "%s%s", path, cases[i].msg);
    if (rc != cases[i].code || strncmp(lm_last_error(), want, strlen(want)) != 0)
      print_error("sniff %s: got %d \"%s\"; want %d \"%s\"\n", cases[i].what, rc, lm_last_error(),
                  cases[i].code, want);
    assert_int_equal(rc, cases[i].code);
    assert_int_equal(strncmp(lm_last_error(), want, strlen(want)), 0);
    assert_null(ir);
  }
  /* the same inside an archive: named by member */
  const member m[] = {{"xgboost-model", "{L\1\2", 0}};
  const char *path = make_archive("ubj.tar.gz", 1, m, 1);
  lm_ir_model *ir = NULL;
  assert_int_equal(lm__import_any(path, NULL, &ir), LM_EFORMAT);
  char want[600];
  snprintf(want, sizeof want, "%s:xgboost-model: truncated UBJSON: object key needs 8 bytes", path);
  assert_int_equal(strncmp(lm_last_error(), want, strlen(want)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_archive_selection),
      cmocka_unit_test(test_archive_errors),
      cmocka_unit_test(test_import_any),
      cmocka_unit_test(test_sniff),
  };
  return cmocka_run_group_tests_name("xgboost_json_archives", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
