/*
 * mxnet_zip.h — the shared part of the importers of SageMaker's MXNet-checkpoint ZIPs
 * (`model_algo-1`): Linear Learner (linear_learner.c) and Factorization Machines
 * (factorization_machines.c). A context holds the input's name and its members (zip.c); errors
 * name the input; JSON members are parsed strictly (mxnet_zip.c). Private to those importers.
 */
#ifndef LM_FORMATS_IMPORT_MXNET_ZIP_H
#define LM_FORMATS_IMPORT_MXNET_ZIP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "formats/import/import.h"
#include "formats/import/mxnet_ndarray.h"
#include "formats/import/zip.h"
#include "base/cursor.h"
#include "base/error.h"

/* Limits on untrusted input. */
#define LL_MAX_MEMBERS 64                 /* ZIP entries (Linear Learner writes 4) */
#define LL_MAX_JSON ((size_t)16 << 20)    /* a JSON member (real ones: < 1 KiB) */
#define LL_MAX_PARAMS ((uint64_t)1 << 30) /* the params member: LM_DEFAULT_MAX_INPUT */

typedef struct ll {
  const char *name;            /* input name for messages */
  lm_zip zip;                  /* the members */
  const lm_zip_member *params; /* the chosen params member */
} ll;

/* The public entry of an MXNet-checkpoint importer (Linear Learner, Factorization Machines): the
 * argument checks, then import on a fresh context, whose ZIP is freed afterwards. fn names the
 * entry point in the NULL-out message. */
int lm__ll_entry(const uint8_t *data, size_t len, const char *name, lm_ir_model **out,
                 const char *fn, int (*import)(ll *, const uint8_t *, size_t, lm_ir_model **));

/* "<input>: <fmt…>". */
int lm__ll_fail(const ll *c, int code, const char *fmt, ...) LM__PRINTF(3, 4);

/* A NUL-terminated untrusted string for a message (base/cursor.h). */
static inline const char *lm__ll_printable(char *dst, size_t n, const char *src) {
  return lm__printable(dst, n, src, strlen(src));
}

/* o[key], or NULL. */
static inline json_object *lm__ll_get(json_object *o, const char *key) {
  json_object *v = NULL;
  return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The member named nm (its data read), or an error listing the members there are. */
int lm__ll_need_member(const ll *c, const char *nm, const lm_zip_member **out);
/* Member nm parsed as one JSON object (the caller json_object_put()s *out); errors name the
 * member and the byte. */
int lm__ll_json_member(const ll *c, const char *nm, json_object **out);

#endif
