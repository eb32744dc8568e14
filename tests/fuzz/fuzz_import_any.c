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
  int rc = lm_fuzz_rc("lm__import_any", lm__import_any(path, &opts, &ir));
  if (rc == 0) {
    if (!ir) LM_FUZZ_VIOLATION("lm__import_any succeeded without a model");
    lm_fuzz_ir(ir);
  } else if (ir) {
    LM_FUZZ_VIOLATION("lm__import_any failed but returned a model");
  }
  lm_ir_free(ir);
  return rc;
}

LM_FUZZ_ENTRY(lm_fuzz_import_any)
