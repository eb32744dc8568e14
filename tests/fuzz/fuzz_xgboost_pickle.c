/*
 * fuzz_xgboost_pickle.c — fuzz target: pickled XGBoost Boosters (SageMaker 1.0/1.2 containers;
 * the pickle is walked, never executed) through lm__import_xgboost_pickle
 * (formats/import/xgboost_pickle.c). What it accepts goes on through the writer, the verifier
 * and the kernels (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_xgboost_pickle(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_xgboost_pickle", lm__import_xgboost_pickle, data, size,
                       "fuzz/xgboost-model");
}

LM_FUZZ_ENTRY(lm_fuzz_xgboost_pickle)
