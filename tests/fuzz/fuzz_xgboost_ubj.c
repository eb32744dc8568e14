/*
 * fuzz_xgboost_ubj.c — fuzz target: XGBoost UBJSON models (XGBoost 2.1+, SageMaker 3.0) through
 * lm__import_xgboost_ubj (formats/import/xgboost_ubj.c). What it accepts goes on through the
 * writer, the verifier and the kernels (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_xgboost_ubj(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_xgboost_ubj", lm__import_xgboost_ubj, data, size,
                       "fuzz/xgboost-model");
}

LM_FUZZ_ENTRY(lm_fuzz_xgboost_ubj)
