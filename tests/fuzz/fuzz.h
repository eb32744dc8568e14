/*
 * fuzz.h — what the fuzz targets share (tests/fuzz/fuzz_common.c) and how each target is
 * written so that the same body serves two masters: libFuzzer (`make fuzz`, clang, built with
 * -DLM_FUZZ_LIBFUZZER) and the corpus replay of `make test` (tests/test_fuzz_replay.c, plain
 * gcc, which #includes fuzz_common.c and every target file).
 *
 * A target is one function `int lm_fuzz_NAME(const uint8_t *data, size_t size)` that feeds the
 * bytes to one reader and returns what the reader returned: 0 or a negative LM_E* code. Anything
 * else the harness can detect — a positive or unknown return code, an error without a detail
 * string, a writer image the verifier refuses, a verified view whose arrays leave the file,
 * kernels that disagree — is a violation: LM_FUZZ_VIOLATION prints it and aborts (libFuzzer
 * then saves the input), or fails the cmocka test in the replay. Memory errors and undefined
 * behaviour are caught by the sanitizers of either build.
 */
#ifndef LM_TESTS_FUZZ_H
#define LM_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "formats/ir.h"

#ifndef LM_FUZZ_VIOLATION
#include <stdio.h>
#include <stdlib.h>
#define LM_FUZZ_VIOLATION(...) \
  (fprintf(stderr, "lm_fuzz violation: " __VA_ARGS__), fputc('\n', stderr), abort())
#endif

/* Define LLVMFuzzerTestOneInput for target fn when built for libFuzzer; nothing otherwise. */
#ifdef LM_FUZZ_LIBFUZZER
#define LM_FUZZ_ENTRY(fn)                                                  \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);            \
  int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {           \
    (void)fn(data, size);                                                  \
    return 0;                                                              \
  }
#else
#define LM_FUZZ_ENTRY(fn)
#endif

/* Check the result of one library call: 0, or a known negative LM_E* code with a non-empty
 * lm_last_error() detail (call lm__clear_error() before the call). Violation otherwise. */
int lm_fuzz_rc(const char *call, int rc);

/* Path of a file holding exactly data[0..size): a memfd (/proc/self/fd/N) reused by every call,
 * or a file under /dev/shm when memfd_create is unavailable. Valid until the next call. */
const char *lm_fuzz_file(const uint8_t *data, size_t size);

/* A .lm image through everything that reads one: lm__lmf_verify on a 64-byte-aligned copy
 * (`must_accept`: the image came from the writer, so a refusal is a violation); when accepted,
 * the verified view's arrays must lie inside the image (with LM_PAD_BYTES of over-read), and the
 * image is written to a file, opened with lm_model_open under every LM_ISA, and scored with
 * lm_predict / lm_predict_f64 / lm_predict_leaf / lm_model_selftest: tree margins must be
 * bit-identical across ISAs and batch shapes, float32 and float64 rows must agree. Returns the
 * verifier's result. */
int lm_fuzz_lm_image(const uint8_t *img, size_t len, int must_accept);

/* After an importer accepted: write the IR (lm__lmf_write), then lm_fuzz_lm_image(must_accept).
 * Returns the writer's result. Does not free ir. */
int lm_fuzz_ir(const lm_ir_model *ir);

/* The end of an importer target: `rc` is what importer `call` returned after lm__clear_error(),
 * `*ir` its model. Checks rc (lm_fuzz_rc); an accepted model must exist and goes on through
 * lm_fuzz_ir, a refusal must leave none. Frees *ir (NULL after) and returns rc. Pass &ir, not
 * ir: the importer call in the same argument list writes it. */
int lm_fuzz_imported(const char *call, int rc, lm_ir_model **ir);

/* The whole of a target over an importer of bytes: imp(data, size, name) (named `call` in
 * violations) after lm__clear_error(), then lm_fuzz_imported. Returns the importer's result. */
typedef int (*lm_fuzz_importer)(const uint8_t *data, size_t size, const char *name,
                                lm_ir_model **out);
int lm_fuzz_bytes(const char *call, lm_fuzz_importer imp, const uint8_t *data, size_t size,
                  const char *name);

/* The targets (one file each: tests/fuzz/fuzz_NAME.c). */
int lm_fuzz_xgboost_json(const uint8_t *data, size_t size);
int lm_fuzz_artifact(const uint8_t *data, size_t size);
int lm_fuzz_lmf(const uint8_t *data, size_t size);
int lm_fuzz_import_any(const uint8_t *data, size_t size);
int lm_fuzz_linear_learner(const uint8_t *data, size_t size);
int lm_fuzz_lightgbm_text(const uint8_t *data, size_t size);
int lm_fuzz_xgboost_ubj(const uint8_t *data, size_t size);
int lm_fuzz_xgboost_bin(const uint8_t *data, size_t size);
int lm_fuzz_xgboost_pickle(const uint8_t *data, size_t size);
int lm_fuzz_pickle(const uint8_t *data, size_t size);

#endif
