/*
 * xgboost_json_dom.c — typed access to an XGBoost model's json-c document for the JSON reader
 * (xgboost_json.c; UBJSON documents too, xgboost_ubj.c builds the same tree): fields of a given
 * type, numbers as float32 the way XGBoost reads them, integers in a range, integers written as
 * strings; every error names the input and the JSON path of the value ("model.json:
 * learner.gradient_booster.model.trees[3].left_children[7]: …"), paths being formatted only when
 * an error is reported.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/import/xgboost_json.h"
#include "base/cursor.h"
#include "base/error.h"

/* ---- errors ---------------------------------------------------------------------------- */

/* "name: path: message". */
LM__PRINTF(4, 5)
int lm__xj_fail(const xj *c, int code, const char *path, const char *fmt, ...) {
  char ctx[512];
  snprintf(ctx, sizeof ctx, "%s: %s", c->name, path);
  va_list ap;
  va_start(ap, fmt);
  int rc = lm__vfail(code, ctx, fmt, ap);
  va_end(ap);
  return rc;
}

const char *lm__xj_type_name(json_object *o) {
  switch (json_object_get_type(o)) {
  case json_type_null: return "null";
  case json_type_boolean: return "boolean";
  case json_type_double:
  case json_type_int: return "number";
  case json_type_object: return "object";
  case json_type_array: return "array";
  case json_type_string: return "string";
  }
  return "?";
}

static const char *want_name(enum json_type t) {
  switch (t) {
  case json_type_object: return "object";
  case json_type_array: return "array";
  case json_type_string: return "string";
  case json_type_int: return "integer";
  case json_type_double: return "number";
  case json_type_boolean: return "boolean";
  case json_type_null: return "null";
  }
  return "?";
}

/* ---- paths ----------------------------------------------------------------------------- */

/* Truncated paths end in "..." (snprintf's result is checked, which also tells GCC that the
 * truncation is intended). */
static const char *path_done(char *dst, int n) {
  if (n < 0 || n >= XJ_PATH) memcpy(dst + XJ_PATH - 4, "...", 4);
  return dst;
}

const char *lm__xj_path_key(char *dst, const char *parent, const char *key) {
  if (parent && parent[0]) return path_done(dst, snprintf(dst, XJ_PATH, "%s.%s", parent, key));
  return path_done(dst, snprintf(dst, XJ_PATH, "%s", key));
}

const char *lm__xj_path_idx(char *dst, const char *parent, size_t i) {
  return path_done(dst, snprintf(dst, XJ_PATH, "%s[%zu]", parent, i));
}

const char *lm__xj_at_str(char *dst, xat a) {
  char tmp[XJ_PATH];
  const char *p = a.key ? lm__xj_path_key(tmp, a.base, a.key) : a.base;
  if (a.indexed) return lm__xj_path_idx(dst, p, a.idx);
  return path_done(dst, snprintf(dst, XJ_PATH, "%s", p));
}

/* ---- typed access ---------------------------------------------------------------------- */

/* obj.key with type want (json_type_double also accepts integers). Missing: LM_EFORMAT if
 * required, else *out = NULL. */
int lm__xj_get_field(const xj *c, json_object *obj, const char *path, const char *key,
                     enum json_type want, int required, json_object **out) {
  char p[XJ_PATH];
  json_object *v = NULL;
  *out = NULL;
  if (!json_object_object_get_ex(obj, key, &v)) {
    if (!required) return LM_OK;
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, path, key), "missing");
  }
  enum json_type t = json_object_get_type(v);
  if (t != want && !(want == json_type_double && t == json_type_int))
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_path_key(p, path, key), "expected %s, got %s",
                       want_name(want), lm__xj_type_name(v));
  *out = v;
  return LM_OK;
}

/* A float32 from a JSON number, converted from the number's original text (see the file
 * comment). */
int lm__xj_num_to_float(const xj *c, json_object *v, xat at, float *out) {
  char p[XJ_PATH];
  enum json_type t = json_object_get_type(v);
  if (t != json_type_double && t != json_type_int)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_at_str(p, at), "expected number, got %s",
                       lm__xj_type_name(v));
  /* Fast path: a double that is exactly a float32 came from text within half a double ulp
   * of that float, so strtof of the same text gives that float too (a float's neighbours are
   * 2^29 double ulps away). This is also how UBJSON's binary float32 values arrive
   * (xgboost_ubj.c stores each as the double of the float, exactly). NaN and anything not a
   * float32 take the text path below. */
  if (t == json_type_double) {
    double d = json_object_get_double(v);
    if (d == (double)(float)d) {
      *out = (float)d;
      return LM_OK;
    }
  }
  const char *text = json_object_get_string(v);
  if (!text) return lm__fail(LM_ENOMEM, "%s: out of memory", c->name);
  char *end = NULL;
  float f = strtof(text, &end);
  /* Require strtof to consume the whole text (defensive: json-c's tokenizer already checked
   * the syntax, though it leniently drops a dangling exponent, "2.5E" → "2.5"). Text beyond
   * float range becomes ±inf, as a float would. */
  if (end == text || *end != '\0') {
    char b[64];
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_at_str(p, at), "malformed number '%s'",
                       lm__printable_utf8(b, sizeof b, text));
  }
  *out = f;
  return LM_OK;
}

/* An integer in [lo, hi] from a JSON integer; out of range: range_code. json-c saturates
 * integers beyond int64 (and uint64) range, which then fail the range check. */
int lm__xj_num_to_int(const xj *c, json_object *v, xat at, int64_t lo, int64_t hi, int range_code,
                      int64_t *out) {
  char p[XJ_PATH];
  if (json_object_get_type(v) != json_type_int)
    return lm__xj_fail(c, LM_EFORMAT, lm__xj_at_str(p, at), "expected integer, got %s",
                       lm__xj_type_name(v));
  int64_t x = json_object_get_int64(v);
  if (x < lo || x > hi)
    return lm__xj_fail(c, range_code, lm__xj_at_str(p, at), "value %lld out of range [%lld, %lld]",
                       (long long)x, (long long)lo, (long long)hi);
  *out = x;
  return LM_OK;
}

/* An integer in [lo, hi] written as a JSON string (XGBoost's parameter objects hold strings). */
static int str_to_int(const xj *c, json_object *v, const char *path, int64_t lo, int64_t hi,
                      int64_t *out) {
  char b[64];
  if (json_object_get_type(v) != json_type_string)
    return lm__xj_fail(c, LM_EFORMAT, path, "expected string, got %s", lm__xj_type_name(v));
  const char *s = json_object_get_string(v);
  char *end = NULL;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE)
    return lm__xj_fail(c, LM_EFORMAT, path, "expected an integer string, got \"%s\"",
                       lm__printable_utf8(b, sizeof b, s));
  if (x < lo || x > hi)
    return lm__xj_fail(c, LM_ERANGE, path, "value %lld out of range [%lld, %lld]", x, (long long)lo,
                       (long long)hi);
  *out = x;
  return LM_OK;
}

/* obj.key as a string holding an integer in [lo, hi]; absent and not required: *out = dflt. */
int lm__xj_field_str_int(const xj *c, json_object *obj, const char *path, const char *key,
                         int required, int64_t dflt, int64_t lo, int64_t hi, int64_t *out) {
  char p[XJ_PATH];
  json_object *v;
  int rc = lm__xj_get_field(c, obj, path, key, json_type_string, required, &v);
  if (rc) return rc;
  if (!v) {
    *out = dflt;
    return LM_OK;
  }
  return str_to_int(c, v, lm__xj_path_key(p, path, key), lo, hi, out);
}
