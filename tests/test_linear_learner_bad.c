/*
 * test_linear_learner_bad.c — bad inputs for the SageMaker Linear Learner importer
 * (formats/import/linear_learner.c, zip.c, mxnet_ndarray.c): one table of bad inputs (truncated
 * ZIP, missing member, bad magic, truncated array, wrong dtype, shape mismatch, unknown operator,
 * predictor_type/graph mismatch, the PCA/KMeans NDArray files, …), each with its code and a piece
 * of its message; then every truncation of a real model_algo-1 and of its params member, and many
 * one-byte mutations of the params (no crash, no leak, one-line messages). Fixtures and helpers
 * as in test_linear_learner.c (tests/util_linear_learner.h).
 */
#include "tests/util_linear_learner.h"

/* ---- (c) bad inputs ---------------------------------------------------------------------- */

typedef struct bad_case {
  const char *label;
  int code;
  const char *msg;
} bad_case;

static void expect_error(const char *label, const uint8_t *d, size_t n, int code,
                         const char *msg) {
  lm_ir_model *m = (lm_ir_model *)1;
  int rc = lm__import_linear_learner(d, n, "model.tar.gz:model_algo-1", &m);
  const char *e = lm_last_error();
  if (rc != code || !strstr(e, msg) || strncmp(e, "model.tar.gz:model_algo-1: ", 27) != 0 ||
      strchr(e, '\n')) {
    print_error("%s: got %d (%s) '%s', expected %d (%s) with '%s'\n", label, rc,
                lm_err_name(rc), e, code, lm_err_name(code), msg);
    fail();
  }
  assert_null(m);
}

/* Found by libFuzzer (out-of-memory): the central directory declares a 2.9 GB params member in
 * a 147-byte file. The importer must not allocate what a member claims, only what arrives. */
static const uint8_t huge_declared_size[] = {
    0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x45, 0x6e,
    0x83, 0x50, 0xa2, 0x47, 0x90, 0x58, 0xa2, 0x08, 0x00, 0x00, 0xa2, 0x08,
    0xff, 0xad, 0x12, 0x00, 0x00, 0x00, 0x6d, 0x78, 0x2d, 0x6d, 0x6f, 0x64,
    0x2d, 0x30, 0x30, 0x30, 0x30, 0x2e, 0x70, 0x61, 0x72, 0x61, 0x6d, 0x73,
    0x12, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6d, 0x78, 0x2d, 0x6d,
    0x6f, 0x64, 0x2d, 0x73, 0x79, 0x6d, 0x62, 0x6f, 0x6c, 0x2e, 0x6a, 0x73,
    0x6f, 0x6e, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x45, 0x6e, 0x83, 0x50, 0x42, 0x00, 0xee, 0x2a, 0xb5, 0xff,
    0xff, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x6e, 0x61, 0x6c, 0x2d, 0x70, 0x61, 0xf2, 0x61, 0x6d, 0x73,
    0x2e, 0x6a, 0x73, 0x6f, 0x6e, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00,
    0x00, 0x04, 0x00, 0x04, 0x00, 0xff, 0x00, 0x00, 0x00, 0xc0, 0x0e, 0x00,
    0x00, 0x00, 0x00
};

/* Each case builds its input (members of the base, changed) and names the expected error. */
static void test_bad_inputs(void **state) {
  (void)state;
  base B;
  base_load(&B);
  size_t real_len;
  uint8_t *real = slurp(ROMEO "model_algo-1", &real_len);
  size_t n;
  uint8_t *z;
  buf p;
  char *s, *s2;

#define BAD(label, code, msg, data, len)                                                           \
  do {                                                                                             \
    expect_error(label, data, len, code, msg);                                                     \
    cases++;                                                                                       \
  } while (0)
  int cases = 0;

  /* The input itself. */
  BAD("empty", LM_EFORMAT, "not a ZIP archive", (const uint8_t *)"", 0);
  BAD("text", LM_EFORMAT, "not a ZIP archive (first bytes 7b 22 6c 65",
      (const uint8_t *)"{\"learner\": 1}", 14);
  BAD("truncated zip (half)", LM_EFORMAT,
      "truncated ZIP archive: no end-of-central-directory record (1058 bytes)", real,
      real_len / 2);
  BAD("truncated zip (in the directory)", LM_EFORMAT, "truncated ZIP archive", real,
      real_len - 30);
  BAD("truncated zip (header)", LM_EFORMAT, "truncated ZIP archive", real, 20);
  {
    /* A corrupt member: its CRC no longer matches (stored, so the byte is read as is). */
    uint8_t *bad = malloc(real_len);
    assert_non_null(bad);
    memcpy(bad, real, real_len);
    size_t at = 0;
    for (size_t k = 0; k + 8 < real_len; k++)
      if (!memcmp(bad + k, "\"loss_type", 10)) at = k;
    assert_true(at > 0);
    bad[at + 1] = 'L';
    BAD("bad CRC", LM_EFORMAT,
        "ZIP member 'additional-params.json': cannot read its data at byte 0: ZIP bad CRC", bad,
        real_len);
    free(bad);
  }
  BAD("empty zip", LM_EFORMAT, "ZIP has no member 'mx-mod-symbol.json' (members: none)",
      (const uint8_t *)"PK\5\6\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);
  {
    const char *negs[] = {NEG "kmeans_EllyKyles_aws_sagemaker_model_algo-1",
                          NEG "pca_deepanshu-yadav_plagiarism-detection_model_algo-1"};
    const char *arrays[] = {"arrays: unnamed (10, 2) float32",
                            "arrays: s (6,) float32, v (7, 6) float32, mean (1, 7) float32"};
    for (int i = 0; i < 2; i++) {
      size_t nl;
      uint8_t *neg = slurp(negs[i], &nl);
      BAD(negs[i], LM_EUNSUPPORTED,
          "is an MXNet NDArray file, not a Linear Learner model (SageMaker PCA/KMeans also write "
          "model_algo-1)",
          neg, nl);
      BAD(negs[i], LM_EUNSUPPORTED, arrays[i], neg, nl);
      /* A truncated NDArray file is still named as one. */
      BAD(negs[i], LM_EUNSUPPORTED, "not a Linear Learner model (SageMaker PCA/KMeans", neg, 30);
      free(neg);
    }
  }

  /* (refused by its declared size since the params limit is 1 GiB, LM_DEFAULT_MAX_INPUT; with
   * the old 8 GiB limit it failed reading its data) */
  BAD("huge declared member size", LM_ERANGE,
      "ZIP member 'mx-mod-0000.params' is 2919172258 bytes (limit 1073741824)", huge_declared_size,
      sizeof huge_declared_size);

  /* Members. */
  {
    zmember m[] = {{"mx-mod-symbol.json", B.symbol, (size_t)-1},
                   {"mx-mod-0000.params", B.params, B.params_len},
                   {"manifest.json", B.manifest, (size_t)-1}};
    z = make_zip(m, 3, 1, &n);
    BAD("missing member", LM_EFORMAT,
        "ZIP has no member 'additional-params.json' (members: mx-mod-symbol.json, "
        "mx-mod-0000.params, manifest.json)",
        z, n);
    free(z);
    zmember m2[] = {{"mx-mod-symbol.json", B.symbol, (size_t)-1},
                    {"additional-params.json", B.addp, (size_t)-1},
                    {"manifest.json", B.manifest, (size_t)-1}};
    z = make_zip(m2, 3, 1, &n);
    BAD("missing params", LM_EFORMAT, "ZIP has no member 'mx-mod-0000.params' (nor any", z, n);
    free(z);
    zmember m3[] = {{"mx-mod-symbol.json", B.symbol, (size_t)-1},
                    {"additional-params.json", B.addp, (size_t)-1},
                    {"mx-mod-0001.params", B.params, B.params_len},
                    {"mx-mod-0002.params", B.params, B.params_len},
                    {"manifest.json", B.manifest, (size_t)-1}};
    z = make_zip(m3, 5, 1, &n);
    BAD("two params", LM_EFORMAT, "ambiguous", z, n);
    free(z);
    zmember m4[] = {{"mx-mod-symbol.json", B.symbol, (size_t)-1},
                    {"mx-mod-symbol.json", B.symbol, (size_t)-1}};
    z = make_zip(m4, 2, 1, &n);
    BAD("duplicate member", LM_EFORMAT, "ZIP member 'mx-mod-symbol.json' appears twice", z, n);
    free(z);
  }

  /* The params file. */
  uint8_t *pp = malloc(B.params_len + 64);
  assert_non_null(pp);
#define PARAMS_CASE(label, code, msg, bytes, blen)                                                 \
  do {                                                                                             \
    z = zip4(&B, NULL, NULL, NULL, bytes, blen, 1, &n);                                            \
    BAD(label, code, msg, z, n);                                                                   \
    free(z);                                                                                       \
  } while (0)
  memcpy(pp, B.params, B.params_len);
  pp[0] = 0x13;
  PARAMS_CASE("bad params magic", LM_EFORMAT,
              "mx-mod-0000.params: byte 0: bad magic 0x0000000000000113", pp, B.params_len);
  PARAMS_CASE("truncated array", LM_EFORMAT,
              "mx-mod-0000.params: byte 64: truncated: array 0 data of shape (20, 1) float32 "
              "needs 80 bytes, 78 left",
              B.params, 64 + 78);
  PARAMS_CASE("truncated header", LM_EFORMAT,
              "mx-mod-0000.params: byte 16: array count: truncated: needs 8 bytes, 4 left (of 20)",
              B.params, 20);
  PARAMS_CASE("truncated names", LM_EFORMAT, "truncated: name 1 is 12 bytes, 11 left", B.params,
              B.params_len - 1);
  memcpy(pp, B.params, B.params_len);
  memcpy(pp + B.params_len, "xy", 2);
  PARAMS_CASE("trailing bytes", LM_EFORMAT, "byte 238: 2 unexpected bytes after the last name",
              pp, B.params_len + 2);
  memcpy(pp, B.params, B.params_len);
  pp[16] = 0xff, pp[17] = 0xff, pp[18] = 0xff, pp[19] = 0x7f;
  PARAMS_CASE("huge array count", LM_EFORMAT, "byte 16: array count 2147483647 cannot fit", pp,
              B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[24] = 0x00;
  PARAMS_CASE("bad array magic", LM_EFORMAT, "byte 24: array 0: bad array magic 0xf993fa00", pp,
              B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[28] = 1;
  PARAMS_CASE("row_sparse", LM_EUNSUPPORTED,
              "byte 28: array 0 has storage type 1 (row_sparse): only dense arrays", pp,
              B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[32] = 40;
  PARAMS_CASE("ndim too large", LM_EFORMAT, "byte 32: array 0: ndim 40 > 32", pp, B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[36 + 7] = 0x40; /* dims[0] = 2^62 + 20 */
  PARAMS_CASE("dimension overflow", LM_EFORMAT,
              "byte 64: truncated: array 0 data of shape (4611686018427387924, 1) float32 needs "
              "more than 2^64 bytes, 174 left",
              pp, B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[36 + 7] = 0x80; /* dims[0] negative */
  PARAMS_CASE("negative dimension", LM_EFORMAT, "byte 36: array 0 dims[0] = -9223372036854775788",
              pp, B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[52] = 7;
  PARAMS_CASE("bad device", LM_EFORMAT, "byte 52: array 0: context dev_type 7", pp, B.params_len);
  memcpy(pp, B.params, B.params_len);
  pp[60] = 99;
  PARAMS_CASE("unknown dtype", LM_EFORMAT, "byte 60: array 0: unknown dtype 99", pp, B.params_len);
  memcpy(pp, B.params, B.params_len);
  memcpy(pp + 184, "\x00\x00\x80\x7f", 4); /* the bias (at byte 184) = +inf */
  PARAMS_CASE("infinite bias", LM_EFORMAT, "byte 184: arg:fc0_bias[0] is not finite (inf)", pp,
              B.params_len);
  memcpy(pp, B.params, B.params_len);
  memcpy(pp + 64 + 4 * 7, "\x01\x00\xc0\xff", 4); /* weight 7 = NaN */
  PARAMS_CASE("NaN weight", LM_EFORMAT, "byte 92: arg:fc0_weight[7, 0] is not finite (", pp,
              B.params_len);
  {
    size_t k = B.params_len - 12 - 8 - 14 - 8 - 8; /* the name count (byte 188) */
    assert_int_equal(rd64(B.params + k), 2);
    memcpy(pp, B.params, B.params_len);
    pp[k] = 1;
    PARAMS_CASE("name count", LM_EFORMAT, "name count 1 is neither 0 nor the array count 2", pp,
                B.params_len);
    memcpy(pp, B.params, k);
    memset(pp + k, 0, 8);
    PARAMS_CASE("no names", LM_EFORMAT,
                "mx-mod-0000.params: the arrays have no names (expected arg:fc0_weight and "
                "arg:fc0_bias)",
                pp, k + 8);
  }
  free(pp);
  {
    /* Written by our NDArray writer. */
    nd w = {"arg:fc0_weight", 2, 0, 0, 2, {20, 1}, B.w, 20, 0};
    nd b = {"arg:fc0_bias", 2, 0, 0, 2, {1, 1}, &B.b, 1, 0};
    nd wd = {"arg:fc0_weight", 2, 0, 1, 2, {20, 1}, NULL, 20, 0};
    nd arr[3] = {w, wd, b};
    arr[0] = wd, arr[1] = b;
    p = nd_file(arr, 2, 1);
    PARAMS_CASE("wrong dtype", LM_EUNSUPPORTED,
                "mx-mod-0000.params: 'arg:fc0_weight' has dtype float64 (1): only float32", p.p,
                p.n);
    free(p.p);
    nd b2 = {"arg:fc0_bias", 2, 0, 0, 2, {1, 2}, NULL, 2, 0};
    arr[0] = w, arr[1] = b2;
    p = nd_file(arr, 2, 1);
    s = subst(B.symbol, "\"__shape__\": \"(1, 1)\"", "\"__shape__\": \"(1, 2)\"");
    z = zip4(&B, s, NULL, NULL, p.p, p.n, 1, &n);
    BAD("shape mismatch", LM_EFORMAT,
        "mx-mod-0000.params: shape mismatch: 'arg:fc0_weight' is (20, 1) but 'arg:fc0_bias' is "
        "(1, 2) (expected (1, 1) or (1,))",
        z, n);
    free(z), free(s), free(p.p);
    p = nd_file(arr, 2, 1);
    PARAMS_CASE("__shape__ mismatch", LM_EFORMAT,
                "mx-mod-symbol.json node 3 'fc0_bias': __shape__ (1, 1) but the params array is "
                "(1, 2)",
                p.p, p.n);
    free(p.p);
    nd w3 = {"arg:fc0_weight", 2, 0, 0, 3, {20, 1, 1}, B.w, 20, 0};
    arr[0] = w3, arr[1] = b;
    p = nd_file(arr, 2, 1);
    /* The weight's __shape__ sits alone in its attrs object: drop the object. */
    s = subst(B.symbol, "\"attrs\": {\"__shape__\": \"(20, 1)\"}, ", "");
    z = zip4(&B, s, NULL, NULL, p.p, p.n, 1, &n);
    BAD("3-d weights", LM_EFORMAT,
        "'arg:fc0_weight' has shape (20, 1, 1), expected (features, outputs)", z, n);
    free(z), free(p.p);
    nd w2 = {"arg:fc0_weight", 2, 0, 0, 2, {20, 2}, NULL, 40, 0};
    arr[0] = w2, arr[1] = b2;
    p = nd_file(arr, 2, 1);
    s2 = subst(s, "\"__shape__\": \"(1, 1)\"", "\"__shape__\": \"(1, 2)\"");
    z = zip4(&B, s2, NULL, NULL, p.p, p.n, 1, &n);
    BAD("two outputs, binary", LM_EFORMAT,
        "'arg:fc0_weight' is (20, 2): LogisticRegressionOutput needs exactly 1 output", z, n);
    free(z), free(p.p), free(s), free(s2);
    arr[0] = b, arr[1] = w, arr[2] = b;
    arr[2].name = "arg:fc1_bias";
    p = nd_file(arr, 3, 1);
    PARAMS_CASE("extra array", LM_EUNSUPPORTED,
                "unexpected array 'arg:fc1_bias' (the graph uses only arg:fc0_weight and "
                "arg:fc0_bias)",
                p.p, p.n);
    free(p.p);
    arr[2].name = "arg:fc0_bias";
    p = nd_file(arr, 3, 1);
    PARAMS_CASE("duplicate array", LM_EFORMAT, "two arrays named 'arg:fc0_bias'", p.p, p.n);
    free(p.p);
    arr[1].name = "arg:weights";
    p = nd_file(arr, 2, 1);
    PARAMS_CASE("missing array", LM_EFORMAT,
                "no array named 'arg:fc0_weight' (arrays: arg:fc0_bias (1, 1) float32, "
                "arg:weights (20, 1) float32)",
                p.p, p.n);
    free(p.p);
    nd e = {"arg:fc0_bias", 2, 0, 0, 0, {0}, NULL, 0, 0};
    arr[0] = w, arr[1] = e;
    buf eb = {0};
    put64(&eb, 0x112), put64(&eb, 0), put64(&eb, 2);
    put_nd(&eb, &arr[0]);
    put32(&eb, 0xF993FAC9u), put32(&eb, 0), put32(&eb, 0); /* v2 ndim 0: a none array */
    put64(&eb, 2);
    put64(&eb, 14), put(&eb, "arg:fc0_weight", 14);
    put64(&eb, 12), put(&eb, "arg:fc0_bias", 12);
    PARAMS_CASE("none array", LM_EFORMAT, "'arg:fc0_bias' is an empty (none) array", eb.p, eb.n);
    free(eb.p);
  }

  /* The symbol graph. */
#define SYMBOL_CASE(label, code, msg, find, repl)                                                  \
  do {                                                                                             \
    s = subst(B.symbol, find, repl);                                                               \
    z = zip4(&B, s, NULL, NULL, NULL, 0, 1, &n);                                                   \
    BAD(label, code, msg, z, n);                                                                   \
    free(z), free(s);                                                                              \
  } while (0)
  SYMBOL_CASE("unknown output operator", LM_EUNSUPPORTED,
              "unsupported operator 'FullyConnected' in mx-mod-symbol.json node 6 (expected "
              "LogisticRegressionOutput, LinearRegressionOutput or SoftmaxOutput as the output)",
              "LogisticRegressionOutput", "FullyConnected");
  SYMBOL_CASE("unknown inner operator", LM_EUNSUPPORTED,
              "unsupported operator 'FullyConnected' in mx-mod-symbol.json node 2 (expected dot",
              "\"op\": \"dot\"", "\"op\": \"FullyConnected\"");
  SYMBOL_CASE("elemwise_add", LM_EUNSUPPORTED,
              "unsupported operator 'elemwise_add' in mx-mod-symbol.json node 4 (expected "
              "broadcast_add",
              "\"op\": \"broadcast_add\"", "\"op\": \"elemwise_add\"");
  SYMBOL_CASE("transposed dot", LM_EUNSUPPORTED,
              "mx-mod-symbol.json node 2 (dot): transpose_b=True is not supported",
              "\"op\": \"dot\", ", "\"op\": \"dot\", \"attrs\": {\"transpose_b\": \"True\"}, ");
  SYMBOL_CASE("weights computed", LM_EUNSUPPORTED,
              "unsupported operator 'relu' in mx-mod-symbol.json node 1 (expected the variable "
              "for the weights)",
              "\"op\": \"null\", \n      \"name\": \"fc0_weight\"",
              "\"op\": \"relu\", \n      \"name\": \"fc0_weight\"");
  SYMBOL_CASE("extra operator", LM_EUNSUPPORTED,
              "unsupported operator 'Activation' in mx-mod-symbol.json node 7 (not part of the "
              "Linear Learner graph)",
              "  ], \n  \"arg_nodes\"",
              ", {\"op\": \"Activation\", \"name\": \"act\", \"inputs\": [[4, 0, 0]]}], "
              "\"arg_nodes\"");
  SYMBOL_CASE("extra variable", LM_EUNSUPPORTED, "unexpected variable 'extra' (node 7)",
              "  ], \n  \"arg_nodes\"",
              ", {\"op\": \"null\", \"name\": \"extra\", \"inputs\": []}], \"arg_nodes\"");
  SYMBOL_CASE("two heads", LM_EFORMAT, "heads: expected exactly one output",
              "\"heads\": [[6, 0, 0]]", "\"heads\": [[6, 0, 0], [4, 0, 0]]");
  SYMBOL_CASE("head out of range", LM_EFORMAT, "heads[0]: node 9 out of range (7 nodes)",
              "\"heads\": [[6, 0, 0]]", "\"heads\": [[9, 0, 0]]");
  SYMBOL_CASE("forward reference", LM_EFORMAT,
              "nodes[2].inputs[1]: node 5 is not an earlier node", "[[0, 0, 0], [1, 0, 0]]",
              "[[0, 0, 0], [5, 0, 0]]");
  SYMBOL_CASE("output 1", LM_EUNSUPPORTED, "nodes[4].inputs[0]: output 1 of node 2",
              "[[2, 0, 0], [3, 0, 0]]", "[[2, 1, 0], [3, 0, 0]]");
  SYMBOL_CASE("one input", LM_EUNSUPPORTED,
              "mx-mod-symbol.json node 4 (broadcast_add) has 1 inputs, expected 2",
              "[[2, 0, 0], [3, 0, 0]]", "[[2, 0, 0]]");
  SYMBOL_CASE("data is the weight", LM_EUNSUPPORTED, "node 1 'fc0_weight' plays two roles",
              "[[0, 0, 0], [1, 0, 0]]", "[[1, 0, 0], [1, 0, 0]]");
  SYMBOL_CASE("bad __shape__", LM_EFORMAT, "node 1 'fc0_weight': __shape__ '(20; 1)' is not a shape",
              "(20, 1)", "(20; 1)");
  SYMBOL_CASE("__shape__ mismatch", LM_EFORMAT,
              "node 1 'fc0_weight': __shape__ (21, 1) but the params array is (20, 1)", "(20, 1)",
              "(21, 1)");
  SYMBOL_CASE("malformed JSON", LM_EFORMAT, "mx-mod-symbol.json: malformed JSON at byte",
              "\"heads\": [[6, 0, 0]]", "\"heads\": [[6, 0, 0]");
  SYMBOL_CASE("no nodes", LM_EFORMAT, "mx-mod-symbol.json: nodes: missing or not an array",
              "\"nodes\"", "\"modes\"");

  /* manifest.json and additional-params.json. */
#define JSON_CASE(label, code, msg, which, find, repl)                                             \
  do {                                                                                             \
    s = subst(which == 0 ? B.manifest : B.addp, find, repl);                                       \
    z = zip4(&B, NULL, which == 0 ? s : NULL, which == 1 ? s : NULL, NULL, 0, 1, &n);              \
    BAD(label, code, msg, z, n);                                                                   \
    free(z), free(s);                                                                              \
  } while (0)
  JSON_CASE("predictor_type mismatch", LM_EFORMAT,
            "predictor_type 'regressor' in additional-params.json does not match the graph's "
            "output operator LogisticRegressionOutput (mx-mod-symbol.json node 6; regressor "
            "expects LinearRegressionOutput)",
            1, "\"predictor_type\": \"binary_classifier\"", "\"predictor_type\": \"regressor\"");
  JSON_CASE("predictor_type multiclass", LM_EFORMAT,
            "predictor_type 'multiclass_classifier' in additional-params.json does not match", 1,
            "\"predictor_type\": \"binary_classifier\"",
            "\"predictor_type\": \"multiclass_classifier\"");
  JSON_CASE("predictor_type unknown", LM_EUNSUPPORTED,
            "additional-params.json: predictor_type 'ranker' (expected", 1,
            "\"predictor_type\": \"binary_classifier\"", "\"predictor_type\": \"ranker\"");
  JSON_CASE("predictor_type missing", LM_EFORMAT, "additional-params.json: predictor_type: missing",
            1, "\"predictor_type\"", "\"predictor\"");
  JSON_CASE("threshold", LM_EFORMAT, "additional-params.json: threshold: not a finite number", 1,
            "{\"threshold\": 0.4867939054965973", "{\"threshold\": \"high\"");
  z = zip4(&B, NULL, NULL, "[{\"predictor_type\": \"regressor\"}]", NULL, 0, 1, &n);
  BAD("additional-params not an object", LM_EFORMAT,
      "additional-params.json: top-level value is not an object", z, n);
  free(z);
  z = zip4(&B, NULL, NULL, "{\"predictor_type\": \"regressor\"} {}", NULL, 0, 1, &n);
  BAD("additional-params: two values", LM_EFORMAT,
      "additional-params.json: malformed JSON at byte 32: data after the top-level value", z, n);
  free(z);
  JSON_CASE("manifest", LM_EUNSUPPORTED, "manifest.json: no \"mx-mod\": \"mxnet_module\" entry", 0,
            "\"mxnet_module\"", "\"gluon\"");
  JSON_CASE("manifest truncated", LM_EFORMAT, "manifest.json: truncated JSON", 0, "\"version\": 1}",
            "\"version\": 1");

  /* The regressor with a Logistic graph, the other way round. */
  {
    char *sym = subst(B.symbol, "LogisticRegressionOutput", "LinearRegressionOutput");
    z = zip4(&B, sym, NULL, NULL, NULL, 0, 1, &n);
    BAD("graph regressor, params binary", LM_EFORMAT,
        "predictor_type 'binary_classifier' in additional-params.json does not match the graph's "
        "output operator LinearRegressionOutput",
        z, n);
    free(z), free(sym);
    sym = subst(B.symbol, "LogisticRegressionOutput", "SoftmaxOutput");
    char *ap = subst(B.addp, "\"predictor_type\": \"binary_classifier\"",
                     "\"predictor_type\": \"multiclass_classifier\"");
    z = zip4(&B, sym, NULL, ap, NULL, 0, 1, &n);
    BAD("softmax with one output", LM_EFORMAT, "SoftmaxOutput needs at least 2 outputs", z, n);
    free(z), free(sym), free(ap);
  }
  print_message("  %d bad inputs, each with its code and message\n", cases);
  free(real);
  base_free(&B);
}

/* Every truncation of a real model_algo-1 and of its params member, and one-byte mutations of
 * the params: an error (one line, prefixed with the input name) or, where the bytes still say
 * the same thing, the same model. Never a crash or a leak (ASan/UBSan builds). */
static void test_truncations_and_mutations(void **state) {
  (void)state;
  base B;
  base_load(&B);
  size_t len;
  uint8_t *real = slurp(ROMEO "model_algo-1", &len);
  size_t ok = 0, failed = 0;
  for (size_t k = 0; k < len; k++) {
    uint8_t *cp = malloc(k ? k : 1);
    assert_non_null(cp);
    memcpy(cp, real, k);
    lm_ir_model *m = NULL;
    int rc = lm__import_linear_learner(cp, k, "t", &m);
    if (rc == 0) {
      lm_ir_free(m);
      ok++;
    } else {
      assert_null(m);
      assert_int_equal(strncmp(lm_last_error(), "t: ", 3), 0);
      assert_null(strchr(lm_last_error(), '\n'));
      failed++;
    }
    free(cp);
  }
  assert_int_equal(ok, 0);
  size_t zl;
  for (size_t k = 0; k < B.params_len; k++) {
    uint8_t *z = zip4(&B, NULL, NULL, NULL, B.params, k, 1, &zl);
    lm_ir_model *m = NULL;
    assert_true(lm__import_linear_learner(z, zl, "t", &m) < 0);
    assert_null(m);
    free(z);
  }
  static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  uint8_t *pp = malloc(B.params_len);
  assert_non_null(pp);
  size_t mut_ok = 0, mut_failed = 0;
  for (size_t k = 0; k < B.params_len; k++)
    for (size_t v = 0; v < sizeof vals; v++) {
      memcpy(pp, B.params, B.params_len);
      if (pp[k] == vals[v]) continue;
      pp[k] = vals[v];
      uint8_t *z = zip4(&B, NULL, NULL, NULL, pp, B.params_len, 1, &zl);
      lm_ir_model *m = NULL;
      int rc = lm__import_linear_learner(z, zl, "t", &m);
      if (rc == 0) {
        /* Only bytes that do not change what the file means: the reserved word, the device
         * ids, the weight and bias values (except those made non-finite). */
        int harmless = (k >= 8 && k < 16) || (k >= 56 && k < 60) || (k >= 64 && k < 144) ||
                       (k >= 176 && k < 180) || (k >= 184 && k < 188);
        if (!harmless) fail_msg("params byte %zu = 0x%02x accepted", k, vals[v]);
        assert_int_equal(m->num_features, 20);
        for (int f = 0; f < 20; f++)
          if (k < 64 || k >= 144 || (size_t)f != (k - 64) / 4)
            assert_int_equal(fbits(m->linear_weights[f]), fbits(B.w[f]));
        lm_ir_free(m);
        mut_ok++;
      } else {
        assert_null(m);
        assert_null(strchr(lm_last_error(), '\n'));
        mut_failed++;
      }
      free(z);
    }
  print_message("  %zu truncations rejected; params mutations: %zu rejected, %zu accepted "
                "(values, reserved, device ids)\n",
                failed, mut_failed, mut_ok);
  free(pp);
  free(real);
  base_free(&B);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_truncations_and_mutations),
  };
  return cmocka_run_group_tests_name("linear_learner_bad", tests, setup, tu_tmpdir_teardown);
}
