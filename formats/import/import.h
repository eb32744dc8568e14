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
/* The same with a limit on the model's bytes (max_bytes; 0: LM_DEFAULT_MAX_INPUT): a raw file or
 * the chosen member larger than it is refused, and so is an archive whose members' declared
 * sizes add up to more than twice it (a decompression bomb is refused at its headers). */
int lm__artifact_read_ex(const char *path, const char *member, uint64_t max_bytes,
                         uint8_t **data, size_t *len, char **display);
/* The same for lm__import_any: an archive member of 16 MiB or more is decompressed into an
 * unlinked temporary file ($TMPDIR, else /tmp) and mapped (*mapped = 1) rather than held in
 * memory. Release *data with lm__artifact_free (either kind). */
int lm__artifact_read_spill(const char *path, const char *member, uint64_t max_bytes,
                            uint8_t **data, size_t *len, char **display, int *mapped);
void lm__artifact_free(uint8_t *data);
/* The default limit on a model's bytes: 1 GiB. The largest realistic model is well under it:
 * XGBoost JSON costs about 120 bytes per node, so 1 GiB holds some 9 million nodes (4,000 full
 * trees of depth 10); the bench zoo's largest artifact is far smaller. --max-input-bytes
 * raises it. */
#define LM_DEFAULT_MAX_INPUT ((uint64_t)1 << 30)
/* Bytes an input's head must have (or the whole input, if shorter) for lm__sniff_head. */
#define LM_SNIFF_HEAD ((size_t)64 << 10)
/* Can an input starting with d[0..n) be a model read here (a head of LM_SNIFF_HEAD bytes of a
 * longer input)? LM_OK, or LM_ENOMODEL naming what the bytes are not (sniff.c). */
int lm__sniff_head(const uint8_t *d, size_t n, const char *name);

/* Progress of an import (sniff.c): trees built of trees_total (0: still scanning) and the
 * input's bytes gone through of bytes_total; passed on to lm_convert_options.progress. */
void lm__import_progress(uint64_t trees, uint64_t trees_total, uint64_t bytes,
                         uint64_t bytes_total);
/* The importer is done, for now, with data[from, upto) of the input it was given, and with what
 * precedes from: when that input is a mapping of the file (lm__import_any maps large JSON and
 * UBJSON files), the pages from the one holding from up to the one holding upto (excluded) are
 * dropped from memory (read again from the file if touched again). Any other input: nothing
 * happens. */
void lm__input_done(const uint8_t *data, size_t from, size_t upto);

/* Read the artifact at path and import it, sniffing the format. Sets (*out)->source_hash to the
 * XXH64 of the artifact file's bytes. */
int lm__import_any(const char *path, const lm_convert_options *opts, lm_ir_model **out);
/* The same, handing the trees of an XGBoost JSON or UBJSON model to sink as they are read
 * (formats/ir.h, lm_ir_sink; NULL: none): the IR returned then holds every tree but their
 * nodes. Other formats are read as by lm__import_any. */
int lm__import_any_sink(const char *path, const lm_convert_options *opts, lm_ir_sink *sink,
                        lm_ir_model **out);
/* The sink of the import under way on this thread (lm__import_any_sink), or NULL. */
lm_ir_sink *lm__import_sink(void);

#endif
