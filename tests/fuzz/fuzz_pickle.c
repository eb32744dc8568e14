/*
 * fuzz_pickle.c — fuzz target: any pickled model (pickle.dump / joblib.dump, compressed or not:
 * XGBoost and LightGBM Boosters and wrappers, scikit-learn estimators; walked, never executed)
 * through lm__import_pickle (formats/import/pickled.c, pickle.c, joblib.c, sklearn.c). What it
 * accepts goes on through the writer, the verifier and the kernels (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_pickle(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_pickle", lm__import_pickle, data, size, "fuzz/model.joblib");
}

LM_FUZZ_ENTRY(lm_fuzz_pickle)
