/*
 * convert.c — lm_convert(): artifact → importer → IR → writer → .lm file, atomically.
 *
 * The image is verified with the same verifier lm_model_open uses before a byte is written, so
 * lmconvert can never leave a file lmrt would refuse. It is written to a temporary file beside
 * the destination, fsync'ed and renamed over it: on any failure the destination is untouched
 * (an existing file stays as it was) and the temporary file is removed.
 *
 * The writer takes the trees of XGBoost JSON and UBJSON models from the importer one at a time
 * (lm_ir_sink), so the IR of the whole model is never held: the peak is about the .lm image
 * (docs/lmconvert.md, "Memory").
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/import/import.h"
#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "formats/objective.h"
#include "convert/reference.h"
#include "base/error.h"

/* The output may be a new name or an existing regular file other than the input: never a
 * device, FIFO or directory (the rename would replace it: `-o /dev/null` as root), never the
 * artifact being converted. */
static int lm__check_output(const char *in, const char *out) {
  struct stat so, si;
  if (lstat(out, &so) != 0) return LM_OK; /* a new file */
  if (!S_ISREG(so.st_mode))
    return lm__fail(LM_EINVAL, "%s: exists and is not a regular file: refusing to replace it",
                    out);
  if (stat(in, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
    return lm__fail(LM_EINVAL, "%s: is the input artifact itself: refusing to overwrite it", out);
  return LM_OK;
}

static int lm__write_atomic(const char *path, const uint8_t *buf, size_t len) {
  /* The temporary file is a short name in the destination's directory (a long destination
   * name plus a suffix could exceed NAME_MAX), renamed over the destination at the end. */
  const char *slash = strrchr(path, '/');
  size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
  char *tmp = malloc(dl + 20);
  if (!tmp) return lm__fail(LM_ENOMEM, "out of memory");
  memcpy(tmp, path, dl);
  memcpy(tmp + dl, ".lmconvert.XXXXXX", 18);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int rc = lm__fail(LM_EIO, "%s: cannot create a temporary file beside it: %s", path,
                      strerror(errno));
    free(tmp);
    return rc;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, buf + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    done += (size_t)w;
  }
  int rc = LM_OK;
  /* mkstemp creates mode 0600; a model file is read by other users (a server's uid): give it
   * the mode a plain create would have (0666 less the umask). */
  mode_t um = umask(0);
  umask(um);
  if (fchmod(fd, 0666 & ~um) != 0)
    rc = lm__fail(LM_EIO, "%s: chmod failed: %s", tmp, strerror(errno));
  if (rc == LM_OK && (done != len || fsync(fd) != 0))
    rc = lm__fail(LM_EIO, "%s: write failed: %s", tmp, strerror(errno));
  if (close(fd) != 0 && rc == LM_OK) rc = lm__fail(LM_EIO, "%s: close failed: %s", tmp, strerror(errno));
  if (rc == LM_OK && rename(tmp, path) != 0)
    rc = lm__fail(LM_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
  if (rc != LM_OK) unlink(tmp);
  free(tmp);
  return rc;
}

/* Attach the self-test of opts to the IR. Expected values not given are left zero (*compute =
 * 1): lm__fill_expected computes them with the scalar reference from the image once built. */
static int lm__add_selftest(lm_ir_model *ir, const lm_convert_options *o, int *compute) {
  if (o->selftest_features != ir->num_features)
    return lm__fail(LM_EINVAL, "self-test rows have %zu columns, the model has %u features",
                    o->selftest_features, ir->num_features);
  if (o->selftest_n > 1000000)
    return lm__fail(LM_ERANGE, "self-test of %zu rows: at most 1000000", o->selftest_n);
  const lm_objective *obj = lm__objective_by_name(ir->objective);
  uint32_t width = obj && obj->link == LM_LINK_ARGMAX ? 1 : ir->num_outputs;
  if (o->selftest_expected && o->selftest_width != width)
    return lm__fail(LM_EINVAL, "self-test expectations have %zu columns, the model gives %u",
                    o->selftest_width, width);
  size_t nr = o->selftest_n * ir->num_features, ne = o->selftest_n * width;
  ir->selftest_rows = malloc(sizeof(double) * (nr + 1));
  ir->selftest_expected = calloc(ne + 1, sizeof(float));
  if (!ir->selftest_rows || !ir->selftest_expected) return lm__fail(LM_ENOMEM, "out of memory");
  memcpy(ir->selftest_rows, o->selftest_rows, sizeof(double) * nr);
  if (o->selftest_expected) memcpy(ir->selftest_expected, o->selftest_expected, sizeof(float) * ne);
  *compute = !o->selftest_expected;
  ir->selftest_n = (uint32_t)o->selftest_n;
  ir->selftest_width = width;
  return LM_OK;
}

/* The self-test's expected values, computed with the scalar reference from the verified image
 * itself (the trees' sections, not the IR, which is gone by then: the SELFTEST section does not
 * change what they score), written into it, and the image sealed and verified again. */
static int lm__fill_expected(uint8_t *img, size_t len, const char *out_path, lmf_view *v) {
  const lmf_selftest *st = v->selftest;
  if (!st) return LM_OK;
  size_t off = (size_t)((const uint8_t *)v->selftest_expected - img);
  int rc = lm__score_reference(v, v->selftest_rows, st->n_rows, (float *)(img + off));
  if (rc) return rc;
  lm__lmf_seal(img, len);
  return lm__lmf_verify(img, len, out_path, v);
}

/* Expected values given with the self-test rows (EXPECTED.csv) must be what the image
 * produces, within the tolerance lm_model_selftest applies on the serving machine; otherwise the
 * file would be refused at deployment (lminfo --selftest, lmserve), so it is not written. */
static int lm__check_expected(const lmf_view *v, const char *out_path) {
  const lmf_selftest *st = v->selftest;
  size_t n = st->n_rows, W = st->width;
  float *got = malloc(sizeof *got * (n * W + 1));
  if (!got) return lm__fail(LM_ENOMEM, "out of memory");
  int rc = lm__score_reference(v, v->selftest_rows, n, got);
  for (size_t i = 0; rc == LM_OK && i < n * W; i++) {
    float e = v->selftest_expected[i], g = got[i];
    if (g == e || (isnan(g) && isnan(e))) continue;
    if (fabs((double)g - e) <= 1e-6 * fmax(1.0, fabs((double)e))) continue;
    const lmf_meta *m = v->meta;
    char hint[200] = "";
    if (m->n_trees_trained > m->n_trees)
      snprintf(hint, sizeof hint, " (the file keeps %u of %u trees: values from every tree, as "
               "a plain bst.predict() gives, need --all-trees)", m->n_trees, m->n_trees_trained);
    rc = lm__fail(LM_ESELFTEST, "%s: not written: self-test row %zu output %zu: the model gives "
                  "%.9g, the expected value is %.9g%s", out_path, i / W, i % W, g, e, hint);
  }
  free(got);
  return rc;
}

int lm_convert(const char *in_path, const char *out_path, const lm_convert_options *opts) {
  if (!in_path || !out_path) return lm__fail(LM_EINVAL, "lm_convert: NULL path");
  lm__clear_error();
  int orc = lm__check_output(in_path, out_path);
  if (orc) return orc;
  lm_ir_model *ir = NULL;
  /* XGBoost JSON and UBJSON trees go to the writer as they are read (lm_ir_sink): the IR of
   * the whole model is never held (docs/lmconvert.md, "Memory") */
  lm_ir_sink *sink = lm__lmf_sink_new();
  int rc = lm__import_any_sink(in_path, opts, sink, &ir), compute = 0;
  if (rc) {
    lm__lmf_sink_free(sink);
    return rc;
  }
  if (opts && opts->selftest_n && opts->selftest_rows) rc = lm__add_selftest(ir, opts, &compute);
  uint8_t *img = NULL;
  size_t len = 0;
  if (rc == LM_OK) rc = lm__lmf_write_sink(ir, sink, "lmconvert " LM_VERSION_STRING, &img, &len);
  lm_ir_free(ir);
  lm__lmf_sink_free(sink);
  if (rc) return lm__fail_prefix(rc, in_path);
  lmf_view v;
  rc = lm__lmf_verify(img, len, out_path, &v);
  if (rc == LM_OK && compute && (rc = lm__fill_expected(img, len, out_path, &v)))
    rc = lm__fail_prefix(rc, in_path);
  if (rc == LM_OK && opts && opts->selftest_expected && v.selftest)
    rc = lm__check_expected(&v, out_path);
  if (rc == LM_OK) rc = lm__write_atomic(out_path, img, len);
  lm__lmf_image_free(img, len);
  return rc;
}
