/*
 * fuzz_lmf.c — fuzz target: the .lm verifier (lm__lmf_verify) and everything that trusts it.
 *
 * Mutated files almost never keep valid XXH3 checksums, which would stop every input at the
 * first check. So each input is verified twice: as given (the checksum checks themselves), and
 * once more "sealed" — checksums recomputed, as lm__lmf_seal does for the writer — which lets
 * structural mutations reach the deep checks. Whatever the verifier accepts is then opened and
 * scored every way the library can (lm_fuzz_lm_image): the verifier promises that the kernels,
 * which never check bounds, are then safe.
 */
#include <stdlib.h>
#include <string.h>

#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "tests/fuzz/fuzz.h"

int lm_fuzz_lmf(const uint8_t *data, size_t size) {
  int rc = lm_fuzz_lm_image(data, size, 0);
  /* Seal a copy when the header locates a table that fits (lm__lmf_seal trusts it). */
  if (size < sizeof(lmf_header)) return rc;
  lmf_header h;
  memcpy(&h, data, sizeof h);
  if (h.table_offset != sizeof h || h.n_sections == 0 || h.n_sections > LMF_MAX_SECTIONS ||
      sizeof h + (size_t)h.n_sections * sizeof(lmf_section) > size)
    return rc;
  void *mem = NULL;
  if (posix_memalign(&mem, 64, size) != 0) return rc;
  memcpy(mem, data, size);
  lm__lmf_seal(mem, size);
  if (memcmp(mem, data, size) != 0) rc = lm_fuzz_lm_image(mem, size, 0);
  free(mem);
  return rc;
}

LM_FUZZ_ENTRY(lm_fuzz_lmf)
