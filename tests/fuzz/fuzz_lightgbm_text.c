/*
 * fuzz_lightgbm_text.c — fuzz target: LightGBM text models (model.txt, v2–v4) through
 * lm__import_lightgbm_text. What it accepts goes on through the writer, the verifier and the
 * LightGBM (decision 1) kernels for float32 and float64 rows (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_lightgbm_text(const uint8_t *data, size_t size) {
  return lm_fuzz_bytes("lm__import_lightgbm_text", lm__import_lightgbm_text, data, size,
                       "fuzz/model.txt");
}

LM_FUZZ_ENTRY(lm_fuzz_lightgbm_text)
