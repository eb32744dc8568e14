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
  lm_ir_model *ir = NULL;
  lm__clear_error();
  int rc = lm_fuzz_rc("lm__import_xgboost_pickle",
                      lm__import_xgboost_pickle(data, size, "fuzz/xgboost-model", &ir));
  if (rc == 0) {
    if (!ir) LM_FUZZ_VIOLATION("lm__import_xgboost_pickle succeeded without a model");
    lm_fuzz_ir(ir);
  } else if (ir) {
    LM_FUZZ_VIOLATION("lm__import_xgboost_pickle failed but returned a model");
  }
  lm_ir_free(ir);
  return rc;
}

LM_FUZZ_ENTRY(lm_fuzz_xgboost_pickle)
