/*
 * fuzz_artifact.c — fuzz target: the SageMaker artifact reader (lm__artifact_read: gzip, bzip2,
 * xz and zstd tarballs, plain tar, raw files). The bytes become a file (a memfd); the reader
 * picks the model member by itself, and when it finds none or several it is asked again for a
 * named member. A raw file must come back byte for byte; every byte returned must be readable.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "formats/import/import.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

static void lm_fuzz_artifact_result(const uint8_t *data, size_t len, const char *display) {
  if (!data || !display) LM_FUZZ_VIOLATION("lm__artifact_read succeeded with a NULL result");
  (void)XXH64(data, len, 0); /* touches every byte: ASan checks the buffer holds len bytes */
  (void)strlen(display);
}

int lm_fuzz_artifact(const uint8_t *in, size_t size) {
  const char *path = lm_fuzz_file(in, size);
  uint8_t *data = NULL;
  size_t len = 0;
  char *display = NULL;
  lm__clear_error();
  int rc = lm_fuzz_rc("lm__artifact_read", lm__artifact_read(path, NULL, &data, &len, &display));
  if (rc == 0) {
    lm_fuzz_artifact_result(data, len, display);
    /* Read as a raw file (display is the path itself): the bytes must be the file's. */
    if (strcmp(display, path) == 0 && (len != size || (len && memcmp(data, in, len) != 0)))
      LM_FUZZ_VIOLATION("raw file read back as %zu different bytes (file has %zu)", len, size);
  } else if (data || display) {
    LM_FUZZ_VIOLATION("lm__artifact_read failed but left a result");
  }
  free(data), free(display);
  if (rc == LM_ENOMODEL) {
    /* An archive without an obvious model: ask for a member by name (with "./" as tar -C
     * writes it). */
    data = NULL, display = NULL;
    lm__clear_error();
    int rc2 = lm_fuzz_rc("lm__artifact_read(member)",
                         lm__artifact_read(path, "./xgboost-model-1", &data, &len, &display));
    if (rc2 == 0) lm_fuzz_artifact_result(data, len, display);
    free(data), free(display);
  }
  return rc;
}

LM_FUZZ_ENTRY(lm_fuzz_artifact)
