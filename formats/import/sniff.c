/*
 * sniff.c — lm__import_any: read an artifact (sagemaker.c), decide which format its bytes are
 * in, the way XGBoost's own loader decides (src/learner.cc), and hand them to that importer.
 * Also records the XXH64 of the artifact file, so a .lm file says exactly what it came from.
 *
 * XGBoost's rule: "bs64" → rejected; "binf" → legacy binary; '{' then (after whitespace) '"' →
 * JSON, a letter → UBJSON (its first key's length marker 'L'); anything else → legacy binary
 * (very old files have no "binf"). Two additions for better messages, pinned by tests: a '{'
 * followed by anything else, or whitespace before the '{', goes to the JSON importer (whose
 * error then says what is wrong, where XGBoost would report a bad binary file); and pickles
 * (0x80, SageMaker's 1.0/1.2 containers), ZIP files (Linear Learner's model_algo-1) and LightGBM
 * text models are named. Only JSON is implemented so far; every other format fails with
 * LM_EUNSUPPORTED and says how to convert the model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "formats/import/import.h"
#include "runtime/error.h"

#define CONVERT_HINT "convert with xgboost: bst.save_model('model.json')"

enum sniffed {
  SNIFF_EMPTY,
  SNIFF_JSON,
  SNIFF_UBJSON,
  SNIFF_BINARY,     /* "binf" header */
  SNIFF_BINARY_OLD, /* no recognisable header: XGBoost's fallback */
  SNIFF_BASE64,
  SNIFF_PICKLE,
  SNIFF_ZIP,
  SNIFF_LIGHTGBM,
};

/* std::isspace in the C locale, as XGBoost uses. */
static int sn_space(uint8_t ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static int sn_alpha(uint8_t ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }

static enum sniffed sniff(const uint8_t *d, size_t n) {
  if (n == 0) return SNIFF_EMPTY;
  if (n >= 4 && memcmp(d, "bs64", 4) == 0) return SNIFF_BASE64;
  if (n >= 4 && memcmp(d, "binf", 4) == 0) return SNIFF_BINARY;
  size_t i = 0;
  while (i < n && sn_space(d[i])) i++;
  if (i == n) return SNIFF_EMPTY; /* whitespace only */
  if (d[i] == '{') {
    size_t k = i + 1;
    while (k < n && sn_space(d[k])) k++;
    /* A letter right after '{' is UBJSON's length marker; XGBoost checks this only when the
     * '{' is the very first byte. */
    if (i == 0 && k < n && sn_alpha(d[k])) return SNIFF_UBJSON;
    return SNIFF_JSON;
  }
  if (d[0] == 0x80) return SNIFF_PICKLE;
  if (n >= 4 && memcmp(d, "PK\3\4", 4) == 0) return SNIFF_ZIP;
  if (n >= 5 && memcmp(d, "tree", 4) == 0 && (d[4] == '\n' || d[4] == '\r')) return SNIFF_LIGHTGBM;
  return SNIFF_BINARY_OLD;
}

/* XXH64 (seed 0) of the file's bytes, streamed. */
static int hash_file(const char *path, uint64_t *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lm__fail(LM_EIO, "%s: cannot open: %s", path, strerror(errno));
  XXH64_state_t *st = XXH64_createState();
  uint8_t *buf = malloc(1 << 20);
  int rc = LM_OK;
  if (!st || !buf) {
    rc = lm__fail(LM_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  XXH64_reset(st, 0);
  for (;;) {
    ssize_t r = read(fd, buf, 1 << 20);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = lm__fail(LM_EIO, "%s: read failed: %s", path, strerror(errno));
      goto out;
    }
    if (r == 0) break;
    XXH64_update(st, buf, (size_t)r);
  }
  *out = XXH64_digest(st);
out:
  free(buf);
  if (st) XXH64_freeState(st);
  close(fd);
  return rc;
}

int lm__import_any(const char *path, const lm_convert_options *opts, lm_ir_model **out) {
  *out = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  char *name = NULL;
  int rc = lm__artifact_read(path, opts ? opts->member : NULL, &data, &len, &name);
  if (rc) return rc;

  switch (sniff(data, len)) {
  case SNIFF_EMPTY:
    rc = lm__fail(LM_ENOMODEL, "%s: empty file (%zu bytes, no model in it)", name, len);
    break;
  case SNIFF_JSON: rc = lm__import_xgboost_json(data, len, name, out); break;
  case SNIFF_UBJSON:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: XGBoost UBJSON model: not supported yet (" CONVERT_HINT ")", name);
    break;
  case SNIFF_BINARY:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: XGBoost legacy binary model ('binf' header): not supported yet "
                  "(" CONVERT_HINT ")",
                  name);
    break;
  case SNIFF_BINARY_OLD:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: unrecognised bytes (%02x %02x %02x %02x …), taken as an old XGBoost "
                  "legacy binary model without header: not supported yet (" CONVERT_HINT ")",
                  name, data[0], len > 1 ? data[1] : 0, len > 2 ? data[2] : 0,
                  len > 3 ? data[3] : 0);
    break;
  case SNIFF_BASE64:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: base64-encoded XGBoost model ('bs64' header): not supported "
                  "(decode it, or " CONVERT_HINT ")",
                  name);
    break;
  case SNIFF_PICKLE:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: Python pickle (SageMaker XGBoost 1.0/1.2 container): not supported yet "
                  "(unpickle the Booster in Python, then bst.save_model('model.json'))",
                  name);
    break;
  case SNIFF_ZIP:
    rc = lm__fail(LM_EUNSUPPORTED,
                  "%s: ZIP file (SageMaker Linear Learner model?): not supported yet", name);
    break;
  case SNIFF_LIGHTGBM:
    rc = lm__fail(LM_EUNSUPPORTED, "%s: LightGBM text model: not supported yet", name);
    break;
  }
  free(data);
  free(name);
  if (rc == LM_OK) {
    /* The hash covers the artifact file as given (the whole .tar.gz), not just the member. */
    rc = hash_file(path, &(*out)->source_hash);
    if (rc) {
      lm_ir_free(*out);
      *out = NULL;
    }
  }
  return rc;
}
