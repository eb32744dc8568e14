/*
 * fuzz_xgboost_bin.c — fuzz target: XGBoost legacy binary models (SageMaker 1.3–1.7, with or
 * without "binf"; gbtree, dart, gblinear) through lm__import_xgboost_binary
 * (formats/import/xgboost_bin.c). What it accepts goes on through the writer, the verifier and
 * the kernels (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_xgboost_bin(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_xgboost_binary", lm__import_xgboost_binary, data, size,
                       "fuzz/xgboost-model");
}

LM_FUZZ_ENTRY(lm_fuzz_xgboost_bin)
