/*
 * fuzz_linear_learner.c — fuzz target: SageMaker Linear Learner `model_algo-1` bytes (a ZIP of an
 * MXNet checkpoint: symbol JSON, NDArray params, manifest, additional params) through
 * lm__import_linear_learner. What it accepts goes on through the writer, the verifier and the
 * linear kernels (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_linear_learner(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_linear_learner", lm__import_linear_learner, data, size,
                       "fuzz/model_algo-1");
}

LM_FUZZ_ENTRY(lm_fuzz_linear_learner)
