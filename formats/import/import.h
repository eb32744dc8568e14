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

/* SageMaker Linear Learner: data = the bytes of `model_algo-1` (a ZIP of an MXNet checkpoint). */
int lm__import_linear_learner(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out);

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
