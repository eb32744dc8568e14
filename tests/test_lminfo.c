/*
 * test_lminfo.c — lminfo end to end (spawned from $LM_BIN): its text and --json output agree with
 * what each fixture's source model says (read independently with json-c; the source hash
 * recomputed with XXH64), and names that need JSON escaping come out escaped. Helpers in
 * tests/util_tools.h (see test_tools.c).
 */
#include "tests/util_tools.h"

/* ---- tests: lminfo --------------------------------------------------------------------- */

static json_object *jget(json_object *o, const char *path) { /* "a.b.c" */
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
    if (!json_object_object_get_ex(o, k, &o)) o = NULL;
  return o;
}

static long long jint(json_object *o) { /* XGBoost stores many integers as strings */
  if (!o) return -1;
  if (json_object_is_type(o, json_type_string)) return atoll(json_object_get_string(o));
  return json_object_get_int64(o);
}

static json_object *parse_json_or_fail(const char *text) {
  enum json_tokener_error jerr;
  json_object *o = json_tokener_parse_verbose(text, &jerr);
  if (!o) fail_msg("lminfo --json is not JSON (%s):\n%s", json_tokener_error_desc(jerr), text);
  return o;
}

static const char *jstr(json_object *o, const char *key) {
  json_object *v = jget(o, key);
  return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void check_info_against_source(const fixture *c) {
  char *src = fpath(c, "model.json"), *model = convert_case(c, "info.lm");
  json_object *xgb = json_object_from_file(src);
  assert_non_null(xgb);

  result r = RUN(NULL, "lminfo", model, "--json");
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, "");
  json_object *info = parse_json_or_fail(r.out);

  /* every documented key is there, with the right type */
  const char *str_keys[] = {"file",      "format_version", "source_format", "source_version",
                            "source_hash", "converter",    "booster",       "objective",
                            "link",        "kernel",       "isa"};
  for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++)
    if (!jstr(info, str_keys[i])) fail_msg("%s: no string \"%s\" in:\n%s", c->name, str_keys[i],
                                           r.out);
  const char *int_keys[] = {"file_size", "num_trees", "num_nodes", "max_depth",
                            "num_categorical_splits", "num_features", "num_outputs"};
  for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++)
    if (!json_object_is_type(jget(info, int_keys[i]), json_type_int))
      fail_msg("%s: no integer \"%s\" in:\n%s", c->name, int_keys[i], r.out);

  /* values that the source model and the generator's meta.json say independently */
  char *mp = fpath(c, "meta.json");
  json_object *meta = json_object_from_file(mp);
  if (!meta) fail_msg("%s: cannot read %s", c->name, mp);
  free(mp);
  assert_string_equal(jstr(info, "file"), model);
  assert_int_equal(jint(jget(info, "file_size")), file_size(model));
  assert_string_equal(jstr(info, "source_format"), "xgboost-json");
  assert_string_equal(jstr(info, "objective"), jstr(xgb, "learner.objective.name"));
  assert_string_equal(jstr(info, "objective"), jstr(meta, "objective"));
  assert_string_equal(jstr(info, "booster"), jstr(meta, "booster"));
  assert_string_equal(jstr(info, "source_version"), jstr(meta, "xgboost_version"));
  assert_string_equal(jstr(info, "converter"), "lmconvert " LM_VERSION_STRING);
  assert_int_equal(jint(jget(info, "num_features")), jint(jget(meta, "num_features")));
  assert_int_equal(jint(jget(info, "num_features")),
                   jint(jget(xgb, "learner.learner_model_param.num_feature")));
  assert_int_equal(jint(jget(info, "num_outputs")), jint(jget(meta, "num_outputs")));
  assert_int_equal(jint(jget(info, "num_trees")), jint(jget(meta, "num_trees")));
  char *p = fpath(c, "input.csv");
  table t = load_csv(p);
  assert_int_equal(jint(jget(info, "num_features")), t.cols);
  table_free(&t), free(p);
  p = fpath(c, "expected_margin.csv");
  t = load_csv(p);
  assert_int_equal(jint(jget(info, "num_outputs")), t.cols);
  table_free(&t), free(p);
  p = fpath(c, "expected_leaf.csv");
  if (exists(p)) {
    t = load_csv(p);
    assert_int_equal(jint(jget(info, "num_trees")), t.cols);
    table_free(&t);
  }
  free(p);
  json_object_put(meta);

  /* the source hash is XXH64 of the artifact's bytes, 16 hex digits */
  size_t len;
  char *bytes = slurp(src, &len);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)XXH64(bytes, len, 0));
  free(bytes);
  assert_string_equal(jstr(info, "source_hash"), hex);

  /* feature names and types: as many as features; names as in the source when it has them */
  json_object *types = jget(info, "feature_types"), *names = jget(info, "feature_names");
  assert_true(json_object_is_type(types, json_type_array));
  assert_int_equal(json_object_array_length(types), jint(jget(info, "num_features")));
  json_object *src_names = jget(xgb, "learner.feature_names");
  if (src_names && json_object_array_length(src_names) > 0) {
    assert_true(json_object_is_type(names, json_type_array));
    assert_int_equal(json_object_array_length(names), json_object_array_length(src_names));
    for (size_t i = 0; i < json_object_array_length(names); i++)
      assert_string_equal(json_object_get_string(json_object_array_get_idx(names, i)),
                          json_object_get_string(json_object_array_get_idx(src_names, i)));
  }

  /* the text form says the same */
  result tx = RUN(NULL, "lminfo", model);
  assert_int_equal(tx.status, 0);
  char line[256];
  snprintf(line, sizeof line, "\nobjective:%*s%s\n", 20 - 9, "", jstr(info, "objective"));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\ntrees:%*s%lld\n", 20 - 5, "", jint(jget(info, "num_trees")));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\nsource hash:%*s%s\n", 20 - 11, "", hex);
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\nfeatures:%*s%lld (", 20 - 8, "", jint(jget(info, "num_features")));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  snprintf(line, sizeof line, "\nkernel:%*s%s\n", 20 - 6, "", jstr(info, "kernel"));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  /* the plan: largest batches first (the kernel above), down to single rows */
  json_object *plan = jget(info, "plan");
  size_t nb = json_object_array_length(plan);
  assert_true(nb >= 1 && nb <= 4);
  json_object *b0 = json_object_array_get_idx(plan, 0), *bl = json_object_array_get_idx(plan, nb - 1);
  assert_string_equal(jstr(b0, "kernel"), jstr(info, "kernel"));
  assert_int_equal(jint(jget(bl, "min_rows")), 1);
  snprintf(line, sizeof line, "\nkernel plan:%*s%lld+ rows: %s", 20 - 11, "",
           jint(jget(b0, "min_rows")), jstr(info, "kernel"));
  if (!strstr(tx.out, line)) fail_msg("no '%s' in:\n%s", line + 1, tx.out);
  result_free(&tx);

  json_object_put(info);
  json_object_put(xgb);
  result_free(&r);
  unlink(model);
  free(model), free(src);
}

static void test_lminfo_fixtures(void **state) {
  (void)state;
  require_cases();
  for (size_t i = 0; i < n_cases; i++) {
    print_message("fixture: %s\n", cases[i].name);
    check_info_against_source(&cases[i]);
  }
}

/* Feature names that need JSON escaping come back intact through lmconvert → lminfo --json. */
static void test_lminfo_json_escaping(void **state) {
  (void)state;
  require_cases();
  char *src = fpath(&cases[0], "model.json"), *edited = tpath("names.json"),
       *model = tpath("names.lm");
  json_object *xgb = json_object_from_file(src);
  assert_non_null(xgb);
  json_object *learner = jget(xgb, "learner");
  long long nf = jint(jget(xgb, "learner.learner_model_param.num_feature"));
  assert_true(nf > 0);
  const char *tricky[] = {"quo\"te", "back\\slash", "tab\there", "caf\xC3\xA9", "new\nline",
                          "ctl\x01", "plain"};
  json_object *names = json_object_new_array();
  json_object *types = json_object_new_array();
  for (long long i = 0; i < nf; i++) {
    json_object_array_add(names, json_object_new_string(tricky[i % 7]));
    /* keep the source's types when it has them, else numeric */
    json_object *st = jget(xgb, "learner.feature_types");
    const char *t = st && (long long)json_object_array_length(st) == nf
                        ? json_object_get_string(json_object_array_get_idx(st, (size_t)i))
                        : "float";
    json_object_array_add(types, json_object_new_string(t));
  }
  json_object_object_add(learner, "feature_names", names);
  json_object_object_add(learner, "feature_types", types);
  assert_int_equal(json_object_to_file_ext(edited, xgb, JSON_C_TO_STRING_PLAIN), 0);

  result r = RUN(NULL, "lmconvert", edited, "-o", model, "-q");
  if (r.status != 0) fail_msg("lmconvert of renamed features: %s", r.err);
  result_free(&r);
  r = RUN(NULL, "lminfo", model, "--json");
  assert_int_equal(r.status, 0);
  json_object *info = parse_json_or_fail(r.out);
  json_object *got = jget(info, "feature_names");
  assert_true(json_object_is_type(got, json_type_array));
  assert_int_equal(json_object_array_length(got), nf);
  for (long long i = 0; i < nf; i++)
    assert_string_equal(json_object_get_string(json_object_array_get_idx(got, (size_t)i)),
                        tricky[i % 7]);
  json_object_put(info);
  result_free(&r);

  /* text: no raw control characters, first names shown */
  r = RUN(NULL, "lminfo", model);
  assert_int_equal(r.status, 0);
  assert_non_null(strstr(r.out, "feature names:"));
  assert_non_null(strstr(r.out, "quo\"te ("));
  if (nf > 4) assert_non_null(strstr(r.out, "new?line ("));
  assert_null(strchr(r.out, '\x01'));
  assert_null(strchr(r.out, '\t'));
  result_free(&r);

  json_object_put(xgb);
  unlink(edited), unlink(model);
  free(src), free(edited), free(model);
}

/* examples/run.sh, as `make run` runs it, into the temp dir. */

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lminfo_fixtures),
      cmocka_unit_test(test_lminfo_json_escaping),
  };
  return cmocka_run_group_tests_name("lminfo", tests, group_setup, group_teardown);
}
