/*
 * mxnet_zip.c — what the importers of SageMaker's MXNet-checkpoint ZIPs (`model_algo-1`: Linear
 * Learner, linear_learner.c; Factorization Machines, factorization_machines.c) share once the
 * ZIP's members are read (zip.c): errors that name the input, a member that must be there, and
 * a JSON member parsed strictly (complete, one top-level object, nothing after it). The params
 * member is an MXNet NDArray list, read by mxnet_ndarray.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formats/import/mxnet_zip.h"

int lm__ll_entry(const uint8_t *data, size_t len, const char *name, lm_ir_model **out,
                 const char *fn, int (*import)(ll *, const uint8_t *, size_t, lm_ir_model **)) {
  if (!out) return lm__fail(LM_EINVAL, "%s: NULL out", fn);
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  if (!data) data = (const uint8_t *)"";
  ll c = {.name = name};
  int rc = import(&c, data, len, out);
  lm__zip_free(&c.zip);
  return rc;
}

int lm__ll_fail(const ll *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = lm__vfail(code, c->name, fmt, ap);
  va_end(ap);
  return rc;
}

int lm__ll_need_member(const ll *c, const char *nm, const lm_zip_member **out) {
  *out = lm__zip_find(&c->zip, nm);
  if (*out) return LM_OK;
  char list[512];
  return lm__ll_fail(c, LM_EFORMAT, "ZIP has no member '%s' (members: %s)", nm,
                     lm__zip_list(&c->zip, list, sizeof list));
}

int lm__ll_json_member(const ll *c, const char *nm, json_object **out) {
  const lm_zip_member *m;
  int rc = lm__ll_need_member(c, nm, &m);
  if (rc) return rc;
  *out = NULL;
  struct json_tokener *tok = json_tokener_new();
  if (!tok) return lm__ll_fail(c, LM_ENOMEM, "out of memory");
  /* A terminating NUL completes a trailing number; members are at most LL_MAX_JSON bytes, so
   * the int length cannot overflow. */
  json_object *root = json_tokener_parse_ex(tok, (const char *)m->data, (int)m->len);
  enum json_tokener_error err = json_tokener_get_error(tok);
  size_t end = m->len;
  if (err == json_tokener_continue) {
    root = json_tokener_parse_ex(tok, "", 1);
    err = json_tokener_get_error(tok);
    if (err != json_tokener_success) {
      json_object_put(root);
      root = NULL;
      err = json_tokener_continue;
    }
  } else if (err == json_tokener_success) {
    end = json_tokener_get_parse_end(tok);
  } else {
    end = json_tokener_get_parse_end(tok);
  }
  json_tokener_free(tok);
  if (err == json_tokener_continue)
    return lm__ll_fail(c, LM_EFORMAT, "%s: truncated JSON (%zu bytes)", nm, m->len);
  if (err != json_tokener_success)
    return lm__ll_fail(c, LM_EFORMAT, "%s: malformed JSON at byte %zu: %s", nm, end,
                       json_tokener_error_desc(err));
  for (size_t i = end; i < m->len; i++) {
    uint8_t ch = m->data[i];
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
      json_object_put(root);
      return lm__ll_fail(c, LM_EFORMAT,
                         "%s: malformed JSON at byte %zu: data after the top-level value", nm, i);
    }
  }
  if (!json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    return lm__ll_fail(c, LM_EFORMAT, "%s: top-level value is not an object", nm);
  }
  *out = root;
  return LM_OK;
}
