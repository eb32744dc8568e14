/*
 * fuzz_xgboost_json.c — fuzz target: XGBoost JSON text (lm__import_xgboost_json on the bytes).
 * What the importer accepts goes on through the writer, the verifier and every kernel
 * (lm_fuzz_ir): an accepted model must make a file the runtime opens and scores safely.
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_xgboost_json(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_xgboost_json", lm__import_xgboost_json, data, size, "fuzz.json");
}

LM_FUZZ_ENTRY(lm_fuzz_xgboost_json)
