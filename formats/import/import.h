/*
 * import.h — the importers: each turns one source format's bytes into the IR (formats/ir.h),
 * validating every field of the untrusted input and naming it in errors. sagemaker.c finds the
 * model bytes inside what SageMaker leaves (model.tar.gz, .tar, or a raw file); lm__import_any
 * sniffs the format the way XGBoost's own loader does and calls the right importer.
 */
#ifndef LM_FORMATS_IMPORT_H
#define LM_FORMATS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "formats/ir.h"
#include "lmrt.h"

/* Parse XGBoost JSON (1.x–3.x) held in data[0..len). name is used in error details
 * ("model.tar.gz:xgboost-model"). On success *out is a new IR model owned by the caller. */
int lm__import_xgboost_json(const uint8_t *data, size_t len, const char *name,
                            lm_ir_model **out);

/* XGBoost UBJSON (2.1+, SageMaker 3.0), legacy binary (with or without 'binf'), and pickled
 * Boosters (SageMaker 1.0/1.2 containers) — same IR and validation as the JSON importer. */
int lm__import_xgboost_ubj(const uint8_t *data, size_t len, const char *name, lm_ir_model **out);
int lm__import_xgboost_binary(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out);
int lm__import_xgboost_pickle(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out);

/* Any pickled model (pickle.dump or joblib.dump, compressed or not; pickled.c): XGBoost and
 * LightGBM Boosters and their scikit-learn wrappers, scikit-learn estimators. Nothing in the
 * pickle is executed. */
int lm__import_pickle(const uint8_t *data, size_t len, const char *name, lm_ir_model **out);

/* Shared by the XGBoost importers: JSON text or UBJSON bytes → a json-c document (UBJSON:
 * skip_top_key names a wrapping key to descend into, or NULL), and a document → IR (format is
 * the IR's source_format). The caller owns *root (json_object_put). */
struct json_object;
int lm__xgboost_json_parse(const uint8_t *data, size_t len, const char *name,
                           struct json_object **root);
int lm__xgboost_ubj_parse(const uint8_t *data, size_t len, const char *name,
                          const char *skip_top_key, struct json_object **root);
int lm__xgboost_dom_import(struct json_object *root, const char *name, const char *format,
                           lm_ir_model **out);

/* Keep the boosting rounds SageMaker's endpoint predicts with (best_ntree_limit /
 * best_iteration); returns the number of trees dropped. */
int lm__ir_keep_best(lm_ir_model *ir);

/* SageMaker Linear Learner: data = the bytes of `model_algo-1` (a ZIP of an MXNet checkpoint). */
int lm__import_linear_learner(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out);

/* SageMaker Factorization Machines: data = the bytes of `model_algo-1` (a ZIP of an MXNet
 * checkpoint: symbol.json, params, meta.json). lm__zip_is_factorization_machines: 1 when data
 * is a readable ZIP with a `params` member and no Linear Learner `mx-mod-symbol.json` (the sniff;
 * the importer then checks the arrays). */
int lm__import_factorization_machines(const uint8_t *data, size_t len, const char *name,
                                      lm_ir_model **out);
int lm__zip_is_factorization_machines(const uint8_t *data, size_t len);

/* LightGBM text model (model.txt, v2–v4). Produces an IR with decision LM_DECISION_LIGHTGBM. */
int lm__import_lightgbm_text(const uint8_t *data, size_t len, const char *name,
                             lm_ir_model **out);

/* Read the model bytes of an artifact at path: a .tar.gz/.tar (member `member`, or
 * "xgboost-model", or the only regular non-dot file) or a raw file. On success *data (malloc'd,
 * caller frees) holds *len bytes and *display (malloc'd) names them for errors, e.g.
 * "model.tar.gz:xgboost-model". */
int lm__artifact_read(const char *path, const char *member, uint8_t **data, size_t *len,
                      char **display);

/* Read the artifact at path and import it, sniffing the format. Sets (*out)->source_hash to the
 * XXH64 of the artifact file's bytes. */
int lm__import_any(const char *path, const lm_convert_options *opts, lm_ir_model **out);

#endif
