/*
 * xgboost_pickle.c — pickled XGBoost Boosters (pickle.dump(booster), what SageMaker's 1.0 and
 * 1.2 XGBoost containers leave as xgboost-model, and what user scripts of any version write):
 * the pickle walker (pickle.c) finds the Booster's state without executing anything, then its
 * `handle` bytes are imported.
 *
 * What the Booster holds (input-formats.md §1; xgboost/core.py Booster.__getstate__): the
 * pickle's top-level object is xgboost.core.Booster created by NEWOBJ, whose BUILD state is
 * its __dict__ with `handle` = the bytes of XGBoosterSerializeToBuffer:
 *   1.0–1.2: "CONFIG-offset:", an int64 (little-endian) length N, N bytes of legacy binary model
 *            (xgboost_bin.c), then the JSON configuration;
 *   1.3–1.5: JSON text {"Config": …, "Model": …} (the Model is what save_model writes as JSON);
 *   1.6+:    the same as UBJSON (xgboost_ubj.c);
 * and, for pickles made by hand from save_raw(), a legacy binary model directly.
 * The dict's other entries are the Python attributes SageMaker's endpoint reads with getattr:
 * best_ntree_limit (1.0/1.2 kept it only there, not among the model's attributes) and
 * best_iteration override the model's own attributes; feature_names supplies names when the
 * model has none (legacy binary models carry no names).
 *
 * Errors name the input and the byte offset of the opcode ("model.pkl: byte 5: pickle opcode
 * 0x69 (INST) is not supported"); errors inside the handle name "<input>:handle" and offsets
 * within the handle's bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "formats/import/import.h"
#include "formats/import/pickle.h"
#include "formats/import/pickled.h"
#include "base/cursor.h"
#include "base/error.h"

/* A JSON object member by path (NULL if any step is missing or not an object). */
static json_object *jget(json_object *o, const char *const *path) {
  for (; *path; path++) {
    json_object *v;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, *path, &v))
      return NULL;
    o = v;
  }
  return o;
}

/* num_parallel_tree from a 1.0–1.2 configuration (the binary model there does not record it:
 * xgboost_bin.c). As xgboost/core.py _get_booster_layer_trees: gbtree_model_param, else
 * gbtree_train_param; dart's under its "gbtree". */
static uint32_t config_npt(json_object *cfg) {
  static const char *const paths[4][6] = {
      {"learner", "gradient_booster", "gbtree_model_param", "num_parallel_tree", NULL},
      {"learner", "gradient_booster", "gbtree_train_param", "num_parallel_tree", NULL},
      {"learner", "gradient_booster", "gbtree", "gbtree_model_param", "num_parallel_tree", NULL},
      {"learner", "gradient_booster", "gbtree", "gbtree_train_param", "num_parallel_tree", NULL},
  };
  for (int i = 0; i < 4; i++) {
    json_object *v = jget(cfg, paths[i]);
    if (!v || !json_object_is_type(v, json_type_string)) continue;
    const char *s = json_object_get_string(v);
    char *end = NULL;
    long x = strtol(s, &end, 10);
    if (end != s && *end == '\0' && x >= 1 && x <= INT32_MAX) return (uint32_t)x;
  }
  return 0;
}

static int import_snapshot(json_object *root, const char *hname, lm_ir_model **out) {
  char nm[600];
  json_object *model;
  if (!json_object_is_type(root, json_type_object) ||
      !json_object_object_get_ex(root, "Model", &model))
    return lm__fail(LM_EFORMAT, "%s: the serialised Booster has no \"Model\" object", hname);
  snprintf(nm, sizeof nm, "%s:Model", hname);
  return lm__xgboost_dom_import(model, nm, "xgboost-pickle", out);
}

/* XGBoosterSerializeToBuffer's bytes → IR (see the file comment for the layouts). */
static int import_handle(const uint8_t *h, size_t n, const char *hname, lm_ir_model **out) {
  static const char cfg_hdr[] = "CONFIG-offset:";
  const size_t hl = sizeof cfg_hdr - 1;
  int rc;
  if (n >= hl && memcmp(h, cfg_hdr, hl) == 0) {
    lm_cursor hc;
    int64_t off;
    lm__cur_init(&hc, h, n, hname);
    hc.pos = hl;
    if ((rc = lm__cur_i64(&hc, "CONFIG-offset", &off))) return rc;
    if (off <= 0 || (uint64_t)off > n - hl - 8)
      return lm__cur_fail_at(&hc, LM_EFORMAT, hl, NULL,
                             "CONFIG-offset %lld out of range (1 to the %zu bytes that follow it)",
                             (long long)off, n - hl - 8);
    const uint8_t *bin = h + hl + 8, *cfg = bin + off;
    size_t cfg_len = n - hl - 8 - (size_t)off;
    char nm[600];
    json_object *root = NULL;
    snprintf(nm, sizeof nm, "%s:model", hname);
    if ((rc = lm__import_xgboost_binary(bin, (size_t)off, nm, out))) return rc;
    /* XGBoost loads the configuration too (Learner::Load): it must be JSON */
    snprintf(nm, sizeof nm, "%s:config", hname);
    if ((rc = lm__xgboost_json_parse(cfg, cfg_len, nm, &root))) {
      lm_ir_free(*out);
      *out = NULL;
      return rc;
    }
    uint32_t npt = config_npt(root);
    json_object_put(root);
    if (npt && (*out)->booster != LM_BOOSTER_GBLINEAR) (*out)->num_parallel_tree = npt;
    return LM_OK;
  }
  if (n > 0 && h[0] == '{') {
    /* JSON text or UBJSON, told apart as XGBoost's Learner::Load does (after '{': '"' or not) */
    size_t i = 1;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) i++;
    json_object *root = NULL;
    if (i < n && h[i] == '"')
      rc = lm__xgboost_json_parse(h, n, hname, &root);
    else
      rc = lm__xgboost_ubj_parse(h, n, hname, "Config", &root);
    if (rc) return rc;
    rc = import_snapshot(root, hname, out);
    json_object_put(root);
    return rc;
  }
  return lm__import_xgboost_binary(h, n, hname, out); /* save_raw() bytes */
}

/* The Python attributes of the state dict that SageMaker's endpoint reads (see the file
 * comment). */
static int apply_state(const char *name, const lm_pv *state, lm_ir_model *ir) {
  static const char *const ints[2] = {"best_ntree_limit", "best_iteration"};
  int64_t *dst[2] = {&ir->best_ntree_limit, &ir->best_iteration};
  for (int i = 0; i < 2; i++) {
    const lm_pv *v = lm__pv_dict_get(state, ints[i]);
    if (!v || v->kind == LM_PV_NONE) continue;
    if (v->kind != LM_PV_INT || v->i < 0)
      return lm__fail(LM_EFORMAT, "%s: Booster state '%s': expected an int >= 0, got %s", name,
                      ints[i], lm__pv_kind_name(v));
    *dst[i] = v->i;
  }
  const lm_pv *names = lm__pv_dict_get(state, "feature_names");
  if (!ir->feature_names && names && names->kind == LM_PV_LIST && names->n == ir->num_features &&
      names->n > 0) {
    for (size_t i = 0; i < names->n; i++)
      if (names->items[i]->kind != LM_PV_STR || memchr(names->items[i]->s, 0, names->items[i]->len))
        return LM_OK; /* not plain names: ignored */
    if (!(ir->feature_names = calloc(names->n, sizeof *ir->feature_names)))
      return lm__fail(LM_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < names->n; i++)
      if (!(ir->feature_names[i] = strndup((const char *)names->items[i]->s, names->items[i]->len)))
        return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  }
  return LM_OK;
}

/* A pickled xgboost.core.Booster object (its BUILD state holds `handle`) → IR. */
int lm__xgboost_booster_obj(const lm_pv *res, const char *name, lm_ir_model **out) {
  *out = NULL;
  char d[160];
  if (res->kind != LM_PV_OBJ || !lm__pv_global_is(res->cls, "xgboost.core", "Booster"))
    return lm__fail(LM_EFORMAT, "%s: not a pickled XGBoost Booster: the pickle holds %s", name,
                    lm__pv_describe(res, d, sizeof d));
  if (!res->state || res->state->kind != LM_PV_DICT)
    return lm__fail(LM_EFORMAT, "%s: pickled Booster without a state dict (BUILD)", name);
  const lm_pv *h = lm__pv_dict_get(res->state, "handle");
  if (!h) return lm__fail(LM_ENOMODEL, "%s: pickled Booster without 'handle' in its state", name);
  if (h->kind == LM_PV_NONE)
    return lm__fail(LM_ENOMODEL, "%s: pickled Booster whose handle is None (no model)", name);
  if (h->kind != LM_PV_BYTES)
    return lm__fail(LM_EFORMAT, "%s: Booster state 'handle': expected bytes or bytearray, got %s",
                    name, lm__pv_kind_name(h));
  size_t nl = strlen(name) + 8;
  char *hname = malloc(nl);
  if (!hname) return lm__fail(LM_ENOMEM, "%s: out of memory", name);
  snprintf(hname, nl, "%s:handle", name);
  int rc = import_handle(h->s, h->len, hname, out);
  free(hname);
  if (rc) return rc;
  snprintf((*out)->source_format, sizeof(*out)->source_format, "xgboost-pickle");
  if ((rc = apply_state(name, res->state, *out))) {
    lm_ir_free(*out);
    *out = NULL;
  }
  return rc;
}

int lm__import_xgboost_pickle(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out) {
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  lm_pickle *k = NULL;
  const lm_pv *res = NULL;
  int rc = lm__pickle_load(data, len, name, &k, &res);
  if (!rc) rc = lm__pickled_xgboost(res, name, out);
  lm__pickle_free(k);
  return rc;
}
