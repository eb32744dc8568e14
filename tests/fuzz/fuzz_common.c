/*
 * fuzz_common.c — the harness shared by every fuzz target (see fuzz.h): return-code checks,
 * the in-memory file the path-taking readers are given, and the deep check of a .lm image —
 * verify, prove the verified view stays inside the image, then score it every way the library
 * can (each kernel variant directly on an exact-size copy, so AddressSanitizer sees any read past
 * the image; and the public API on an mmap'ed file under each LM_ISA) and compare the results.
 *
 * Linked into each libFuzzer binary; #included once by tests/test_fuzz_replay.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/lmf.h"
#include "formats/lmf_write.h"
#include "kernels/cpu.h"
#include "kernels/kernels.h"
#include "runtime/plan.h"
#include "lmrt.h"
#include "base/error.h"
#include "tests/fuzz/fuzz.h"

/* Scoring budget per image: rows × features floats, and the largest output row scored. */
#define LMF_ROWS 70          /* a 64-row block of the AVX-512 batch kernel plus a tail */
#define LMF_MAX_CELLS 65536  /* rows × num_features, and rows × num_outputs */
#define LMF_MAX_OUTPUTS 65536

int lm_fuzz_rc(const char *call, int rc) {
  if (rc == 0) return 0;
  if (rc > 0 || strcmp(lm_err_name(rc), "UNKNOWN") == 0)
    LM_FUZZ_VIOLATION("%s returned %d: not 0 or a negative LM_E* code", call, rc);
  if (!lm_last_error()[0])
    LM_FUZZ_VIOLATION("%s failed with LM_E%s but left no lm_last_error() detail", call,
                      lm_err_name(rc));
  /* Fuzz inputs are at most a few hundred KiB: running out of memory on one means some
   * allocation is sized by a count the input claims instead of the bytes it holds. */
  if (rc == LM_ENOMEM)
    LM_FUZZ_VIOLATION("%s ran out of memory on a small input: %s", call, lm_last_error());
  return rc;
}

/* Known bugs, each kept as a regression in tests/fuzz/regressions/: a fuzzing campaign run with
 * LM_FUZZ_AVOID_KNOWN=1 in the environment steps around them, so that it explores beyond the
 * first crash instead of finding it again. The replay test never sets it; make fuzz does not
 * either (so a fixed bug is seen fixed). */
static int lm_fuzz_avoid_known(void) {
  static int avoid = -1;
  if (avoid < 0) avoid = getenv("LM_FUZZ_AVOID_KNOWN") != NULL;
  return avoid;
}

/* ---- the in-memory file ------------------------------------------------------------------ */

static char lm_fuzz_shm_path[64];
static void lm_fuzz_unlink_shm(void) { unlink(lm_fuzz_shm_path); }

const char *lm_fuzz_file(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("lm_fuzz", MFD_CLOEXEC);
    if (fd >= 0) {
      snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    } else {
      snprintf(lm_fuzz_shm_path, sizeof lm_fuzz_shm_path, "/dev/shm/lm_fuzz.%ld", (long)getpid());
      fd = open(lm_fuzz_shm_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) LM_FUZZ_VIOLATION("cannot create %s: %s", lm_fuzz_shm_path, strerror(errno));
      atexit(lm_fuzz_unlink_shm);
      memcpy(path, lm_fuzz_shm_path, sizeof path);
    }
  }
  if (ftruncate(fd, 0) != 0) LM_FUZZ_VIOLATION("ftruncate: %s", strerror(errno));
  size_t done = 0;
  while (done < size) {
    ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) LM_FUZZ_VIOLATION("write to %s: %s", path, strerror(errno));
    done += (size_t)w;
  }
  return path;
}

/* ---- the verified view must stay inside the image ---------------------------------------- */

typedef unsigned __int128 u128;

static void lm_fuzz_extent(const lmf_view *v, const char *what, const void *p, u128 bytes) {
  if (bytes == 0 && !p) return;
  if (!p) LM_FUZZ_VIOLATION("verified view: %s is NULL but holds %llu bytes", what,
                            (unsigned long long)bytes);
  uintptr_t b = (uintptr_t)v->base, q = (uintptr_t)p;
  if (q < b || q - b > v->size)
    LM_FUZZ_VIOLATION("verified view: %s starts outside the image", what);
  u128 end = (u128)(q - b) + bytes + LM_PAD_BYTES;
  if (end > v->size)
    LM_FUZZ_VIOLATION("verified view: %s at offset %zu, %llu bytes (+%d padding) runs past the "
                      "end of the %zu-byte image",
                      what, (size_t)(q - b), (unsigned long long)bytes, LM_PAD_BYTES, v->size);
}

static void lm_fuzz_check_view(const lmf_view *v) {
  const lmf_meta *m = v->meta;
  if (!m || !v->header || !v->source_version || !v->objective || !v->converter)
    LM_FUZZ_VIOLATION("verified view: a required pointer is NULL");
  lm_fuzz_extent(v, "META", m, sizeof *m);
  (void)strlen(v->source_version), (void)strlen(v->objective), (void)strlen(v->converter);
  u128 F = m->num_features, G = m->num_outputs;
  if (m->model_kind == LMF_MODEL_FM) {
    lm_fuzz_extent(v, "FM header", v->fm, sizeof *v->fm);
    lm_fuzz_extent(v, "FM w", v->fm_w, F * 4);
    lm_fuzz_extent(v, "FM v", v->fm_v, F * v->fm->num_factors * 4);
  } else if (m->model_kind == LMF_MODEL_LINEAR) {
    lm_fuzz_extent(v, "LINEAR weights", v->lin_weights, F * G * 4);
    lm_fuzz_extent(v, "LINEAR biases", v->lin_bias, G * 4);
  } else {
    lm_fuzz_extent(v, "TREES", v->trees, (u128)m->n_trees * sizeof(lmf_tree));
    lm_fuzz_extent(v, "NODES", v->nodes, (u128)m->n_nodes * sizeof(lmf_node));
    lm_fuzz_extent(v, "LEAF_IDS", v->leaf_ids, (u128)m->n_nodes * 4);
    lm_fuzz_extent(v, "CATSETS sets", v->catsets, (u128)v->n_catsets * sizeof(lmf_catset));
    u128 words = 0;
    for (uint32_t i = 0; i < v->n_catsets; i++) {
      u128 e = (u128)v->catsets[i].word_offset + v->catsets[i].n_words;
      if (e > words) words = e;
    }
    if (words) lm_fuzz_extent(v, "CATSETS words", v->cat_words, words * 4);
  }
  if (v->selftest) {
    const lmf_selftest *st = v->selftest;
    lm_fuzz_extent(v, "SELFTEST header", st, sizeof *st);
    lm_fuzz_extent(v, "SELFTEST rows", v->selftest_rows, (u128)st->n_rows * st->num_features * 8);
    lm_fuzz_extent(v, "SELFTEST expected", v->selftest_expected, (u128)st->n_rows * st->width * 4);
  }
}

/* ---- rows ------------------------------------------------------------------------------------ */

static uint64_t lm_fuzz_rng;
static uint32_t lm_fuzz_rnd(void) {
  lm_fuzz_rng ^= lm_fuzz_rng << 13;
  lm_fuzz_rng ^= lm_fuzz_rng >> 7;
  lm_fuzz_rng ^= lm_fuzz_rng << 17;
  return (uint32_t)(lm_fuzz_rng >> 16);
}

/* Values that break kernels: NaN, thresholds of the model and their neighbours, categories
 * (small integers, the edges 2^24 and 2^32), ±0, ±inf, huge and ordinary values. */
static float lm_fuzz_value(const lmf_view *v) {
  const lmf_meta *m = v->meta;
  float thr = 0.5f;
  if (m->model_kind == LMF_MODEL_TREES && m->n_nodes)
    thr = v->nodes[lm_fuzz_rnd() % m->n_nodes].threshold;
  switch (lm_fuzz_rnd() % 12) {
  case 0: return NAN;
  case 1: case 2: return thr;
  case 3: return nextafterf(thr, -INFINITY);
  case 4: return nextafterf(thr, INFINITY);
  case 5: return (float)(lm_fuzz_rnd() % 70);
  case 6: return (lm_fuzz_rnd() & 1) ? -0.0f : 0.0f;
  case 7: return (lm_fuzz_rnd() & 1) ? INFINITY : -INFINITY;
  case 8: return (lm_fuzz_rnd() & 1) ? 16777216.0f : 4294967296.0f;
  case 9: return (lm_fuzz_rnd() & 1) ? 1e30f : -1e30f;
  case 10: return -1.0f - (float)(lm_fuzz_rnd() % 3);
  default: return (float)((int)(lm_fuzz_rnd() % 2001) - 1000) / 100.0f;
  }
}

static int lm_fuzz_same(float a, float b) {
  if (isnan(a) && isnan(b)) return 1;
  uint32_t x, y;
  memcpy(&x, &a, 4), memcpy(&y, &b, 4);
  return x == y;
}

static void lm_fuzz_compare(const char *what, const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!lm_fuzz_same(a[i], b[i]))
      LM_FUZZ_VIOLATION("%s: value %zu differs: %.9g vs %.9g", what, i, (double)a[i],
                        (double)b[i]);
}

/* ---- scoring ------------------------------------------------------------------------------- */

/* Every kernel variant of the model's family this CPU runs, directly on the view (an exact-size
 * heap copy of the image: AddressSanitizer sees any read past it), with the layouts the planner
 * builds. Tree margins must be bit-identical to the family's scalar reference. ref receives the
 * reference margins (n × G). */
static void lm_fuzz_kernels(const lmf_view *v, const float *x, size_t n, float *ref, float *tmp,
                            uint32_t *leaf) {
  const lmf_meta *m = v->meta;
  size_t G = m->num_outputs;
  int fam = lm__model_family(v), cpu = lm__cpu_isa(), vbmi = lm__cpu_has_vbmi();
  lm__plan plan;
  if (lm__plan_build(&plan, v, cpu, &lm__alloc_default, "fuzz") != 0) return;
  /* scratch: the most any variant of the family asks (lm__kernel_scratch) */
  size_t scratch = 8 * (G + 1);
  for (const lm__kernel *k = lm__kernels; k->name; k++)
    if (k->family == fam && lm__kernel_scratch(k, v) > scratch) scratch = lm__kernel_scratch(k, v);
  double *acc = malloc(scratch);
  const lm__kernel *rk = NULL;
  for (const lm__kernel *k = lm__kernels; k->name; k++)
    if (k->family == fam && k->isa == LM_ISA_SCALAR) rk = k;
  if (acc && rk) {
    rk->f32(v, &plan.L, x, n, ref, acc);
    /* trees decide identically in every kernel; linear and FM kernels sum in other orders */
    const int tree = fam == LM_FAM_TREE || fam == LM_FAM_LGBM;
    if (tree) lm__tree_leaf__scalar(v, x, n, leaf);
    for (const lm__kernel *k = lm__kernels; k->name; k++) {
      if (k == rk || !lm__kernel_usable(k, v, &plan.L, cpu, vbmi, NULL)) continue;
      k->f32(v, &plan.L, x, n, tmp, acc);
      if (tree) lm_fuzz_compare(k->name, ref, tmp, n * G);
      /* Fewer rows take other paths inside some kernels (tails of a block). */
      if (tree && n > 3) {
        k->f32(v, &plan.L, x, 3, tmp, acc);
        lm_fuzz_compare(k->name, ref, tmp, 3 * G);
      }
    }
  }
  free(acc);
  lm__plan_free(&plan);
}

/* The public API on the image as a file, under one LM_ISA cap. from_writer: the image is the
 * writer's, so its values are consistent too (a LightGBM file's float32 thresholds are the
 * rounding of its double ones); in an arbitrary file only the structure is verified. */
static void lm_fuzz_public(const char *path, const char *isa, const lmf_view *v, const float *x,
                           const double *xd, size_t n, const float *ref, const uint32_t *ref_leaf,
                           float *o1, float *o2, uint32_t *leaf, int from_writer) {
  const lmf_meta *meta = v->meta;
  int trees = meta->model_kind == LMF_MODEL_TREES;
  int xgb = meta->decision == 0; /* the reference kernels of lm_fuzz_kernels apply */
  /* float64 rows holding float32 values decide as the float32 rows: XGBoost rounds them anyway;
   * LightGBM's double thresholds round to the float32 ones by construction (the writer's). */
  int f64_same = xgb || from_writer;
  setenv("LM_ISA", isa, 1);
  lm_model *m = NULL;
  lm__clear_error();
  int rc = lm_fuzz_rc("lm_model_open", lm_model_open(path, &m));
  if (rc == LM_ENOMEM) return;
  if (rc) LM_FUZZ_VIOLATION("verified image refused by lm_model_open (LM_ISA=%s): %s", isa,
                            lm_last_error());
  size_t F = lm_model_num_features(m), G = lm_model_num_outputs(m);
  if (F != meta->num_features || G != meta->num_outputs)
    LM_FUZZ_VIOLATION("lm_model_num_features/outputs disagree with META");
  if (lm_model_output_width(m, 0) > G || lm_model_output_width(m, LM_PREDICT_MARGIN) != G)
    LM_FUZZ_VIOLATION("lm_model_output_width out of range");
  lm_model_info info;
  lm__clear_error();
  lm_fuzz_rc("lm_model_get_info", lm_model_get_info(m, &info));
  const char *strs[] = {info.source_format, info.source_version, info.converter, info.booster,
                        info.objective, info.link, info.kernel, info.isa};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (!strs[i]) LM_FUZZ_VIOLATION("lm_model_get_info: string %zu is NULL", i);
    else (void)strlen(strs[i]);
  for (size_t f = 0; f < F && f < 4096; f++) {
    const char *nm = lm_model_feature_name(m, f);
    if (nm) (void)strlen(nm);
    char t = lm_model_feature_type(m, f);
    if (t != 'q' && t != 'c') LM_FUZZ_VIOLATION("feature %zu has type 0x%02x", f, (unsigned)t);
  }
  lm_session *s = NULL;
  lm__clear_error();
  rc = lm_fuzz_rc("lm_session_new", lm_session_new(m, &s));
  if (rc == 0) {
    /* n = 0 with NULL buffers is valid and still runs the argument checks. */
    lm__clear_error();
    lm_fuzz_rc("lm_predict(0 rows)", lm_predict(s, NULL, 0, 0, NULL));
    lm__clear_error();
    lm_fuzz_rc("lm_predict_f64(0 rows)", lm_predict_f64(s, NULL, 0, LM_PREDICT_MARGIN, NULL));
    lm__clear_error();
    lm_fuzz_rc("lm_predict_leaf(0 rows)", lm_predict_leaf(s, NULL, 0, NULL));
    /* SIZE_MAX rows cannot have an output buffer: refused (LM_ERANGE) before any row is read. */
    float dummy[4] = {0};
    uint32_t dummy_leaf[4] = {0};
    lm__clear_error();
    if (lm_fuzz_rc("lm_predict(SIZE_MAX rows)", lm_predict(s, dummy, SIZE_MAX, 0, dummy)) !=
        LM_ERANGE)
      LM_FUZZ_VIOLATION("lm_predict accepted SIZE_MAX rows");
    lm__clear_error();
    if (lm_fuzz_rc("lm_predict_f64(SIZE_MAX rows)",
                   lm_predict_f64(s, (const double *)dummy, SIZE_MAX, 0, dummy)) != LM_ERANGE)
      LM_FUZZ_VIOLATION("lm_predict_f64 accepted SIZE_MAX rows");
    lm__clear_error();
    rc = lm_fuzz_rc("lm_predict_leaf(SIZE_MAX rows)",
                    lm_predict_leaf(s, dummy, SIZE_MAX, dummy_leaf));
    if (rc != LM_ERANGE && !(rc == LM_EUNSUPPORTED && !trees))
      LM_FUZZ_VIOLATION("lm_predict_leaf accepted SIZE_MAX rows");
    rc = 0;
  }
  if (rc == 0 && n) {
    lm__clear_error();
    rc = lm_fuzz_rc("lm_predict(margin)", lm_predict(s, x, n, LM_PREDICT_MARGIN, o1));
    if (rc == 0) {
      /* The scalar plan must reproduce the reference bit for bit; trees also under every ISA
       * (linear SIMD kernels may sum in another order). */
      if (xgb && (trees || strcmp(isa, "scalar") == 0))
        lm_fuzz_compare("lm_predict margin vs reference", ref, o1, n * G);
      lm__clear_error();
      rc = lm_fuzz_rc("lm_predict_f64(margin)", lm_predict_f64(s, xd, n, LM_PREDICT_MARGIN, o2));
      if (rc == 0 && f64_same)
        lm_fuzz_compare("lm_predict_f64 vs lm_predict (margin)", o1, o2, n * G);
    }
    lm__clear_error();
    rc = lm_fuzz_rc("lm_predict", lm_predict(s, x, n, 0, o1));
    if (rc == 0) {
      lm__clear_error();
      rc = lm_fuzz_rc("lm_predict_f64", lm_predict_f64(s, xd, n, 0, o2));
      if (rc == 0 && f64_same)
        lm_fuzz_compare("lm_predict_f64 vs lm_predict", o1, o2, n * lm_model_output_width(m, 0));
    }
    if (xgb && trees && n > 1) {
      /* One row at a time must give what the batch gave. */
      lm__clear_error();
      if (lm_fuzz_rc("lm_predict(1 row)", lm_predict(s, x, 1, LM_PREDICT_MARGIN, o2)) == 0)
        lm_fuzz_compare("lm_predict 1 row vs batch", ref, o2, G);
    }
    lm__clear_error();
    rc = lm_fuzz_rc("lm_predict_leaf", lm_predict_leaf(s, x, n, leaf));
    if (trees && rc != 0)
      LM_FUZZ_VIOLATION("lm_predict_leaf failed on a tree model: %s", lm_last_error());
    if (!trees && rc != LM_EUNSUPPORTED)
      LM_FUZZ_VIOLATION("lm_predict_leaf on a linear model returned %d", rc);
    if (xgb && trees && memcmp(leaf, ref_leaf, n * meta->n_trees * sizeof *leaf) != 0)
      LM_FUZZ_VIOLATION("lm_predict_leaf differs from the reference walk");
  }
  lm_session_free(s);
  /* Known bug (regressions/lmf/selftest-argmax-rows-times-outputs-alloc.lm): lm_model_selftest
   * allocates n_rows × num_outputs floats, but for the argmax link the SELFTEST section holds
   * only n_rows × 1 outputs: a 75 KiB file asks for 26 GB. */
  if (!(lm_fuzz_avoid_known() && v->selftest &&
        (uint64_t)v->selftest->n_rows * meta->num_outputs > (1u << 24))) {
    lm__clear_error();
    rc = lm_model_selftest(m);
    if (rc < 0) lm_fuzz_rc("lm_model_selftest", rc);
  }
  lm_model_close(m);
}

int lm_fuzz_lm_image(const uint8_t *img, size_t len, int must_accept) {
  void *mem = NULL;
  if (posix_memalign(&mem, 64, len ? len : 1) != 0) return LM_ENOMEM;
  uint8_t *buf = mem;
  if (len) memcpy(buf, img, len);
  lmf_view v;
  lm__clear_error();
  int rc = lm_fuzz_rc("lm__lmf_verify", lm__lmf_verify(buf, len, "fuzz.lm", &v));
  if (rc) {
    if (must_accept && rc != LM_ENOMEM)
      LM_FUZZ_VIOLATION("the verifier refused the writer's image: %s", lm_last_error());
    free(buf);
    return rc;
  }
  lm_fuzz_check_view(&v);

  const lmf_meta *m = v.meta;
  size_t F = m->num_features, G = m->num_outputs;
  size_t T = m->model_kind == LMF_MODEL_TREES ? m->n_trees : 0;
  size_t n = 0;
  if (G <= LMF_MAX_OUTPUTS && F <= LMF_MAX_CELLS)
    n = (F > G ? F : G) * LMF_ROWS <= LMF_MAX_CELLS ? LMF_ROWS : 1;
  lm_fuzz_rng = 0x9E3779B97F4A7C15ull ^ len;
  /* Exact sizes: any read past the rows or write past the outputs is seen by ASan. */
  float *x = malloc(sizeof *x * (n * F + 1));
  double *xd = malloc(sizeof *xd * (n * F + 1));
  float *ref = malloc(sizeof *ref * (n * G + 1)), *tmp = malloc(sizeof *tmp * (n * G + 1));
  float *o1 = malloc(sizeof *o1 * (n * G + 1)), *o2 = malloc(sizeof *o2 * (n * G + 1));
  uint32_t *leaf = malloc(sizeof *leaf * (n * T + 1)), *leaf2 = malloc(sizeof *leaf2 * (n * T + 1));
  if (x && xd && ref && tmp && o1 && o2 && leaf && leaf2) {
    for (size_t i = 0; i < n * F; i++) xd[i] = x[i] = lm_fuzz_value(&v);
    /* The kernel lists hold XGBoost-decision kernels (META.decision 0). */
    if (n && m->decision == 0) lm_fuzz_kernels(&v, x, n, ref, tmp, leaf);
    const char *path = lm_fuzz_file(buf, len);
    char *saved = getenv("LM_ISA") ? strdup(getenv("LM_ISA")) : NULL;
    static const char *const isas[] = {"scalar", "avx2", "avx512"};
    for (size_t i = 0; i < 3; i++)
      lm_fuzz_public(path, isas[i], &v, x, xd, n, ref, leaf, o1, o2, leaf2, must_accept);
    if (saved) setenv("LM_ISA", saved, 1);
    else unsetenv("LM_ISA");
    free(saved);
  }
  free(x), free(xd), free(ref), free(tmp), free(o1), free(o2), free(leaf), free(leaf2);
  free(buf);
  return 0;
}

int lm_fuzz_ir(const lm_ir_model *ir) {
  uint8_t *img = NULL;
  size_t len = 0;
  lm__clear_error();
  int rc = lm_fuzz_rc("lm__lmf_write", lm__lmf_write(ir, "lm_fuzz", &img, &len));
  if (rc == 0) lm_fuzz_lm_image(img, len, 1);
  free(img);
  return rc;
}

int lm_fuzz_imported(const char *call, int rc, lm_ir_model **ir) {
  rc = lm_fuzz_rc(call, rc);
  if (rc == 0) {
    if (!*ir) LM_FUZZ_VIOLATION("%s succeeded without a model", call);
    lm_fuzz_ir(*ir);
  } else if (*ir) {
    LM_FUZZ_VIOLATION("%s failed but returned a model", call);
  }
  lm_ir_free(*ir);
  *ir = NULL;
  return rc;
}

int lm_fuzz_bytes(const char *call, lm_fuzz_importer imp, const uint8_t *data, size_t size,
                  const char *name) {
  lm_ir_model *ir = NULL;
  lm__clear_error();
  return lm_fuzz_imported(call, imp(data, size, name, &ir), &ir);
}
