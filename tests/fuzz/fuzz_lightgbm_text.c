/*
 * fuzz_lightgbm_text.c — fuzz target: LightGBM text models (model.txt, v2–v4) through
 * lm__import_lightgbm_text. What it accepts goes on through the writer, the verifier and the
 * LightGBM (decision 1) kernels for float32 and float64 rows (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_lightgbm_text(const uint8_t *data, size_t size) {
  lm_ir_model *ir = NULL;
  lm__clear_error();
  return lm_fuzz_imported("lm__import_lightgbm_text",
                          lm__import_lightgbm_text(data, size, "fuzz/model.txt", &ir), &ir);
}

LM_FUZZ_ENTRY(lm_fuzz_lightgbm_text)
