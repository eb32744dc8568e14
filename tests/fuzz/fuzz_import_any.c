/*
 * fuzz_import_any.c — fuzz target: lm__import_any, the entry of lm_convert: the artifact reader,
 * format sniffing, and whichever importer the bytes select (XGBoost JSON, UBJSON, legacy binary,
 * pickle, Linear Learner ZIP, LightGBM text: each as it lands), raw or inside an archive. What
 * is accepted goes on through the writer, the verifier and the kernels (lm_fuzz_ir).
 */
#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_import_any(const uint8_t *data, size_t size) {
  const char *path = lm_fuzz_file(data, size);
  lm_convert_options opts = {.quiet = 1};
  lm_ir_model *ir = NULL;
  lm__clear_error();
  return lm_fuzz_imported("lm__import_any", lm__import_any(path, &opts, &ir), &ir);
}

LM_FUZZ_ENTRY(lm_fuzz_import_any)
