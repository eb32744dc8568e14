/*
 * linear_learner.c — the SageMaker Linear Learner importer: the bytes of `model_algo-1` (what
 * SageMaker puts in model.tar.gz) → IR (formats/ir.h), a plain linear model (LM_BOOSTER_LINEAR).
 *
 * What the file is (../shared/reference/input-formats.md §6; the algorithm is not open source).
 * `model_algo-1` is a ZIP (members stored; we also read deflated ones) of an MXNet Module
 * checkpoint: `mx-mod-symbol.json` (the graph), `mx-mod-0000.params` (an MXNet NDArray list),
 * `manifest.json` and `additional-params.json` (predictor_type, threshold, loss_type). Members
 * are found by name: their order differs between artifacts.
 *
 * CONFIRMED on real files (tests/fixtures/linear-learner/: five artifacts from four public
 * repositories, 2018–2024, MXNet 1.0.0 and 1.3.1 containers), binary_classifier and regressor:
 *   data → dot(data, fc0_weight (F,1)) → broadcast_add(·, fc0_bias (1,1))
 *        → LogisticRegressionOutput (binary: score = sigmoid(x·w + b))
 *        | LinearRegressionOutput  (regressor: score = x·w + b), the second input `out_label`.
 * Params: NDArray list v2 arrays (magic 0xF993FAC9), dense, cpu, float32, named
 * `arg:fc0_weight` / `arg:fc0_bias` in either order. Normalisation is folded into the stored
 * weights (they apply to raw features), so nothing else is needed to score.
 * The value lmrt returns is SageMaker's `score`. For binary_classifier the endpoint also returns
 * predicted_label = (score vs `threshold`, `>` or `>=` UNCONFIRMED); the .lm format has no field
 * for a threshold, so it is checked (a finite number if present) and otherwise dropped.
 *
 * UNCONFIRMED (no real artifact found): multiclass_classifier. We accept the presumed form:
 * SoftmaxOutput as the output operator, weights (F, K), bias (1, K) or (K,), K ≥ 2, scored as
 * softmax over the K margins (objective "linear-learner:multiclass_classifier"). Also accepted
 * without a real file to prove it: bias of shape (1,) for one output, NDArray v1 / v3 / legacy
 * array layouts (from MXNet's src/ndarray/ndarray.cc), deflated ZIP members, the operator alias
 * `broadcast_plus`, dot's transpose_a/transpose_b present but false, and any params
 * member named `*-<digits>.params` when `mx-mod-0000.params` is absent (MXNet checkpoints are
 * `<prefix>-<epoch %04d>.params`; Linear Learner has only ever been seen writing epoch 0000).
 *
 * Anything else is refused, naming what was found: other operators ("unsupported operator
 * 'FullyConnected' in mx-mod-symbol.json node 3"), transposed dot, extra graph nodes or extra
 * params arrays, non-dense storage, dtypes other than float32, shapes that do not fit together
 * (or disagree with the graph's __shape__ attributes), non-finite weights, a predictor_type that
 * disagrees with the graph's output operator, a ZIP without its end-of-central-directory record
 * (truncated: libarchive's streaming fallback would otherwise read the members it finds), bad
 * member CRCs. SageMaker PCA and KMeans also write files named `model_algo-1`: those are bare
 * NDArray files, not ZIPs, and are named as such (LM_EUNSUPPORTED, with their arrays listed).
 *
 * Everything is untrusted: every count and size in the params file is checked against the bytes
 * that remain before use (overflow-safe), and errors name the input, the member, the field and
 * the byte offset inside the member, with an LM_E* code: LM_EFORMAT malformed / missing /
 * inconsistent, LM_EUNSUPPORTED well-formed but not something lmrt can score, LM_ERANGE sizes
 * beyond lmrt's limits, LM_ENOMEM.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <json-c/json.h>

#include "formats/import/import.h"
#include "formats/objective.h"
#include "base/error.h"

/* Limits on untrusted input. */
#define LL_MAX_MEMBERS 64                     /* ZIP entries (Linear Learner writes 4) */
#define LL_MAX_JSON ((size_t)16 << 20)       /* a JSON member (real ones: < 1 KiB) */
#define LL_MAX_PARAMS ((uint64_t)8 << 30)    /* the params member */
#define LL_MAX_NDIM 32                        /* dimensions of one NDArray */
#define LL_MAX_NODES 1024                     /* symbol graph nodes (real ones: 7) */
#define LL_MAX_OUTPUTS (1u << 16)             /* classes of a multiclass model */

#define SYMBOL_MEMBER "mx-mod-symbol.json"
#define PARAMS_MEMBER "mx-mod-0000.params"
#define MANIFEST_MEMBER "manifest.json"
#define ADDPARAMS_MEMBER "additional-params.json"

/* MXNet: src/ndarray/ndarray.cc, include/mxnet/c_api.h (kMXAPINDArrayListMagic). */
#define ND_LIST_MAGIC 0x112u
#define ND_V1_MAGIC 0xF993FAC8u
#define ND_V2_MAGIC 0xF993FAC9u
#define ND_V3_MAGIC 0xF993FACAu

typedef struct ll_member {
  char *name;
  uint8_t *data; /* NULL for members not read */
  size_t len;
} ll_member;

/* One array of an NDArray list, as found in the file. */
typedef struct nd_array {
  size_t offset;         /* byte offset of the array's first field */
  uint32_t magic;        /* ND_V*_MAGIC, or 0 for the legacy layout */
  int empty;             /* "none" array: no context, dtype or data */
  uint32_t ndim;
  int64_t dims[LL_MAX_NDIM];
  int32_t stype, dev_type, dev_id, dtype;
  uint64_t n_elems;
  size_t data_off;       /* byte offset of the raw data */
  size_t name_off, name_len; /* name bytes (not NUL-terminated); name_len 0 + no names: unnamed */
} nd_array;

typedef struct nd_list {
  uint64_t n;
  nd_array *a;
  int named;
} nd_list;

typedef struct ll {
  const char *name;         /* input name for messages */
  size_t input_len;         /* bytes of the ZIP */
  ll_member mem[LL_MAX_MEMBERS];
  size_t n_mem;
  const ll_member *params;  /* the chosen params member */
} ll;

/* ---- errors ---------------------------------------------------------------------------- */

LM__PRINTF(3, 4)
static int ll_fail(const ll *c, int code, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return lm__fail(code, "%s: %s", c->name, msg);
}

/* Copy untrusted bytes for a message: at most 60, control and non-ASCII bytes as '?'. */
static const char *printable_n(char *dst, size_t n, const char *src, size_t len) {
  size_t lim = n - 1 < 60 ? n - 1 : 60, i = 0;
  for (; i < len && i < lim; i++) {
    unsigned char ch = (unsigned char)src[i];
    dst[i] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
  }
  dst[i] = '\0';
  if (i < len && i >= 3) memcpy(dst + i - 3, "...", 4);
  return dst;
}

static const char *printable(char *dst, size_t n, const char *src) {
  return printable_n(dst, n, src, strlen(src));
}

/* "(20, 1)" into dst. */
static const char *shape_str(char *dst, size_t n, const nd_array *a) {
  size_t k = 0;
  int w = snprintf(dst, n, "(");
  k = w > 0 ? (size_t)w : 0;
  for (uint32_t i = 0; i < a->ndim && k < n; i++) {
    w = snprintf(dst + k, n - k, "%s%" PRId64, i ? ", " : "", a->dims[i]);
    if (w < 0) break;
    k += (size_t)w;
  }
  if (k < n) snprintf(dst + k, n - k, a->ndim == 1 ? ",)" : ")");
  return dst;
}

static const char *dtype_name(int32_t t) {
  static const char *const names[] = {"float32", "float64", "float16", "uint8", "int32",
                                      "int8",    "int64",   "bool",    "int16", "uint16",
                                      "uint32",  "uint64",  "bfloat16"};
  return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

/* mshadow type flag → element size; 0 if unknown. */
static size_t dtype_size(int32_t t) {
  static const uint8_t sizes[] = {4, 8, 2, 1, 4, 1, 8, 1, 2, 2, 4, 8, 2};
  return t >= 0 && t < (int32_t)sizeof sizes ? sizes[t] : 0;
}

static const char *stype_name(int32_t s) {
  switch (s) {
  case 0: return "dense";
  case 1: return "row_sparse";
  case 2: return "csr";
  case -1: return "undefined";
  }
  return "unknown";
}

/* ---- ZIP ------------------------------------------------------------------------------- */

/* `*-<digits>.params`: an MXNet checkpoint's parameter file at some epoch. */
static int is_params_name(const char *s) {
  size_t n = strlen(s);
  if (n < 9 || strcmp(s + n - 7, ".params") != 0) return 0;
  size_t e = n - 7, b = e;
  while (b > 0 && s[b - 1] >= '0' && s[b - 1] <= '9') b--;
  return b < e && b >= 2 && s[b - 1] == '-';
}

static int wanted(const char *s) {
  return !strcmp(s, SYMBOL_MEMBER) || !strcmp(s, MANIFEST_MEMBER) ||
         !strcmp(s, ADDPARAMS_MEMBER) || is_params_name(s);
}

/* "a, b, c" (at most ~400 bytes) into dst. */
static const char *member_list(const ll *c, char *dst, size_t n) {
  size_t k = 0;
  dst[0] = '\0';
  if (c->n_mem == 0) {
    snprintf(dst, n, "none");
    return dst;
  }
  for (size_t i = 0; i < c->n_mem && k + 1 < n; i++) {
    char p[64];
    int w = snprintf(dst + k, n - k, "%s%s", i ? ", " : "", printable(p, sizeof p, c->mem[i].name));
    if (w < 0 || (size_t)w >= n - k) {
      if (n > 4) memcpy(dst + n - 4, "...", 4);
      break;
    }
    k += (size_t)w;
  }
  return dst;
}

static int read_entry_data(ll *c, struct archive *a, struct archive_entry *e, ll_member *m) {
  char p[64];
  printable(p, sizeof p, m->name);
  uint64_t cap = is_params_name(m->name) ? LL_MAX_PARAMS : LL_MAX_JSON;
  if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > cap)
    return ll_fail(c, LM_ERANGE, "ZIP member '%s' is %lld bytes (limit %" PRIu64 ")", p,
                   (long long)archive_entry_size(e), cap);
  /* The declared size is untrusted: allocate for at most what the input itself could hold
   * (stored members) and grow as data actually arrives. */
  size_t have = 0, alloc = 4096;
  if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 &&
      (uint64_t)archive_entry_size(e) < c->input_len)
    alloc = (size_t)archive_entry_size(e) + 1;
  uint8_t *buf = malloc(alloc);
  if (!buf) return ll_fail(c, LM_ENOMEM, "out of memory reading ZIP member '%s'", p);
  for (;;) {
    if (have == alloc) {
      size_t na = alloc * 2;
      if (na > cap + 1) na = (size_t)cap + 1;
      if (na <= alloc) {
        free(buf);
        return ll_fail(c, LM_ERANGE, "ZIP member '%s' exceeds %" PRIu64 " bytes", p, cap);
      }
      uint8_t *nb = realloc(buf, na);
      if (!nb) {
        free(buf);
        return ll_fail(c, LM_ENOMEM, "out of memory reading ZIP member '%s'", p);
      }
      buf = nb, alloc = na;
    }
    la_ssize_t r = archive_read_data(a, buf + have, alloc - have);
    if (r < 0) {
      free(buf);
      return ll_fail(c, LM_EFORMAT, "ZIP member '%s': cannot read its data at byte %zu: %s", p,
                     have, archive_error_string(a) ? archive_error_string(a) : "unknown error");
    }
    if (r == 0) break;
    have += (size_t)r;
    if (have > cap) {
      free(buf);
      return ll_fail(c, LM_ERANGE, "ZIP member '%s' exceeds %" PRIu64 " bytes", p, cap);
    }
  }
  m->data = buf;
  m->len = have;
  return LM_OK;
}

/* Read the ZIP's entry list, and the data of the members we use. */
static int zip_read(ll *c, const uint8_t *data, size_t len) {
  struct archive *a = archive_read_new();
  if (!a) return ll_fail(c, LM_ENOMEM, "out of memory");
  /* ZIP only, no filters: nothing but the ZIP reader runs on the untrusted bytes. With a
   * memory source libarchive reads the central directory (seekable mode); without one it falls
   * back to the local headers (streaming mode). */
  archive_read_support_format_zip(a);
  int rc = LM_OK;
  if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
    rc = ll_fail(c, LM_EFORMAT, "not a readable ZIP archive: %s",
                 archive_error_string(a) ? archive_error_string(a) : "unknown error");
    goto out;
  }
  for (size_t idx = 0;; idx++) {
    struct archive_entry *e = NULL;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      rc = ll_fail(c, LM_EFORMAT, "ZIP archive: cannot read entry %zu: %s", idx,
                   archive_error_string(a) ? archive_error_string(a) : "unknown error");
      goto out;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue; /* directories */
    const char *nm = archive_entry_pathname(e);
    if (!nm) nm = "";
    if (c->n_mem == LL_MAX_MEMBERS) {
      rc = ll_fail(c, LM_EFORMAT, "ZIP archive has more than %d members (Linear Learner writes 4)",
                   LL_MAX_MEMBERS);
      goto out;
    }
    for (size_t i = 0; i < c->n_mem; i++)
      if (!strcmp(c->mem[i].name, nm)) {
        char p[64];
        rc = ll_fail(c, LM_EFORMAT, "ZIP member '%s' appears twice", printable(p, sizeof p, nm));
        goto out;
      }
    ll_member *m = &c->mem[c->n_mem];
    m->name = strdup(nm);
    if (!m->name) {
      rc = ll_fail(c, LM_ENOMEM, "out of memory");
      goto out;
    }
    c->n_mem++;
    if (wanted(nm)) {
      rc = read_entry_data(c, a, e, m);
      if (rc) goto out;
    }
  }
out:
  archive_read_free(a);
  return rc;
}

/* A complete end-of-central-directory record ("PK\5\6", 22 bytes + its comment) in the last
 * 64 KiB + 22 bytes. Without one the archive is truncated: libarchive would then fall back to
 * reading local headers (streaming mode), read the members it finds, and never notice. */
static int has_eocd(const uint8_t *d, size_t len) {
  if (len < 22) return 0;
  size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
  for (size_t p = len - 22 + 1; p-- > lo;)
    if (d[p] == 'P' && d[p + 1] == 'K' && d[p + 2] == 5 && d[p + 3] == 6 &&
        p + 22 + ((size_t)d[p + 20] | (size_t)d[p + 21] << 8) <= len)
      return 1;
  return 0;
}

static const ll_member *find_member(const ll *c, const char *nm) {
  for (size_t i = 0; i < c->n_mem; i++)
    if (!strcmp(c->mem[i].name, nm)) return &c->mem[i];
  return NULL;
}

static int need_member(const ll *c, const char *nm, const ll_member **out) {
  *out = find_member(c, nm);
  if (*out) return LM_OK;
  char list[512];
  return ll_fail(c, LM_EFORMAT, "ZIP has no member '%s' (members: %s)", nm,
                 member_list(c, list, sizeof list));
}

/* PARAMS_MEMBER, else the only `*-<digits>.params`. */
static int choose_params(ll *c) {
  c->params = find_member(c, PARAMS_MEMBER);
  if (c->params) return LM_OK;
  size_t n = 0;
  for (size_t i = 0; i < c->n_mem; i++)
    if (is_params_name(c->mem[i].name)) {
      c->params = &c->mem[i];
      n++;
    }
  char list[512];
  if (n == 0)
    return ll_fail(c, LM_EFORMAT, "ZIP has no member '%s' (nor any '*-NNNN.params'; members: %s)",
                   PARAMS_MEMBER, member_list(c, list, sizeof list));
  if (n > 1)
    return ll_fail(c, LM_EFORMAT,
                   "ZIP has no member '%s' and %zu other '*-NNNN.params' members: which one is "
                   "the model is ambiguous (members: %s)",
                   PARAMS_MEMBER, n, member_list(c, list, sizeof list));
  return LM_OK;
}

/* ---- MXNet NDArray list ---------------------------------------------------------------- */

typedef struct cur {
  const ll *c;
  const char *member; /* for messages */
  const uint8_t *d;
  size_t len, off;
} cur;

LM__PRINTF(4, 5)
static int cur_fail(const cur *k, int code, size_t at, const char *fmt, ...) {
  char msg[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ll_fail(k->c, code, "%s: byte %zu: %s", k->member, at, msg);
}

static int need(const cur *k, size_t n, const char *field) {
  if (k->len - k->off >= n) return LM_OK;
  return cur_fail(k, LM_EFORMAT, k->off, "truncated: %s needs %zu bytes, %zu left", field, n,
                  k->len - k->off);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int rd_u32(cur *k, const char *field, uint32_t *v) {
  int rc = need(k, 4, field);
  if (rc) return rc;
  *v = le32(k->d + k->off);
  k->off += 4;
  return LM_OK;
}

static int rd_i32(cur *k, const char *field, int32_t *v) {
  uint32_t u;
  int rc = rd_u32(k, field, &u);
  if (!rc) memcpy(v, &u, sizeof u);
  return rc;
}

static int rd_u64(cur *k, const char *field, uint64_t *v) {
  int rc = need(k, 8, field);
  if (rc) return rc;
  *v = le64(k->d + k->off);
  k->off += 8;
  return LM_OK;
}

/* Field names "array 3 dtype" into buf. */
static const char *fld(char *buf, size_t n, uint64_t i, const char *what) {
  snprintf(buf, n, "array %" PRIu64 " %s", i, what);
  return buf;
}

/* One array (src/ndarray/ndarray.cc: NDArray::Load, LegacyLoad). */
static int nd_read_array(cur *k, uint64_t i, nd_array *a) {
  char f[64];
  int rc;
  a->offset = k->off;
  uint32_t magic;
  if ((rc = rd_u32(k, fld(f, sizeof f, i, "magic"), &magic))) return rc;
  int v3 = magic == ND_V3_MAGIC, i64dims = 1;
  if (magic == ND_V2_MAGIC || magic == ND_V3_MAGIC) {
    a->magic = magic;
    if ((rc = rd_i32(k, fld(f, sizeof f, i, "storage type"), &a->stype))) return rc;
    if (a->stype != 0)
      return cur_fail(k, LM_EUNSUPPORTED, k->off - 4,
                      "array %" PRIu64 " has storage type %d (%s): only dense arrays are supported",
                      i, a->stype, stype_name(a->stype));
  } else if (magic == ND_V1_MAGIC) {
    a->magic = magic;
  } else {
    /* Legacy layout: the word just read is ndim, then ndim uint32 dimensions. */
    a->magic = 0;
    i64dims = 0;
    if (magic > LL_MAX_NDIM)
      return cur_fail(k, LM_EFORMAT, k->off - 4,
                      "array %" PRIu64 ": bad array magic 0x%08" PRIx32
                      " (not 0xF993FAC8/9/A, nor a legacy ndim ≤ %d)",
                      i, magic, LL_MAX_NDIM);
    a->ndim = magic;
  }
  if (a->magic) {
    if ((rc = rd_u32(k, fld(f, sizeof f, i, "ndim"), &a->ndim))) return rc;
    if (v3 && a->ndim == UINT32_MAX) { /* -1: unknown shape, saved as a "none" array */
      a->empty = 1;
      a->ndim = 0;
      return LM_OK;
    }
    if (a->ndim > LL_MAX_NDIM)
      return cur_fail(k, LM_EFORMAT, k->off - 4, "array %" PRIu64 ": ndim %" PRIu32 " > %d", i,
                      a->ndim, LL_MAX_NDIM);
  }
  for (uint32_t d = 0; d < a->ndim; d++) {
    snprintf(f, sizeof f, "array %" PRIu64 " dims[%" PRIu32 "]", i, d);
    size_t at = k->off;
    if (i64dims) {
      uint64_t u;
      if ((rc = rd_u64(k, f, &u))) return rc;
      memcpy(&a->dims[d], &u, sizeof u);
    } else {
      uint32_t u;
      if ((rc = rd_u32(k, f, &u))) return rc;
      a->dims[d] = u;
    }
    /* v3 (numpy shapes) allows 0-size dimensions; before v3 a 0 meant "unknown" and MXNet
     * versions disagree on what follows, so it is refused. */
    if (a->dims[d] < 0 || (a->dims[d] == 0 && !v3))
      return cur_fail(k, LM_EFORMAT, at, "%s = %" PRId64 " is not a valid dimension", f,
                      a->dims[d]);
  }
  /* Before v3 a shape of ndim 0 is a "none" array: nothing else follows. */
  if (a->ndim == 0 && !v3) {
    a->empty = 1;
    return LM_OK;
  }
  if ((rc = rd_i32(k, fld(f, sizeof f, i, "context dev_type"), &a->dev_type))) return rc;
  if (a->dev_type != 1 && a->dev_type != 2 && a->dev_type != 3 && a->dev_type != 5)
    return cur_fail(k, LM_EFORMAT, k->off - 4,
                    "array %" PRIu64 ": context dev_type %d is not cpu(1), gpu(2), "
                    "cpu_pinned(3) or cpu_shared(5)",
                    i, a->dev_type);
  if ((rc = rd_i32(k, fld(f, sizeof f, i, "context dev_id"), &a->dev_id))) return rc;
  if ((rc = rd_i32(k, fld(f, sizeof f, i, "dtype"), &a->dtype))) return rc;
  size_t esz = dtype_size(a->dtype);
  if (!esz)
    return cur_fail(k, LM_EFORMAT, k->off - 4, "array %" PRIu64 ": unknown dtype %d", i,
                    a->dtype);
  /* Element count and byte size, overflow-safe; they must fit in the bytes that remain. */
  uint64_t n = 1;
  int overflow = 0;
  for (uint32_t d = 0; d < a->ndim; d++) {
    uint64_t dim = (uint64_t)a->dims[d];
    if (dim == 0) {
      n = 0;
      overflow = 0;
      break;
    }
    if (n > UINT64_MAX / esz / dim) overflow = 1; /* keep looking: a later 0 makes it empty */
    else n *= dim;
  }
  a->data_off = k->off;
  if (overflow || n * esz > k->len - k->off) {
    char s[160];
    if (overflow)
      return cur_fail(k, LM_EFORMAT, k->off,
                      "truncated: array %" PRIu64 " data of shape %s %s needs more than 2^64 "
                      "bytes, %zu left",
                      i, shape_str(s, sizeof s, a), dtype_name(a->dtype), k->len - k->off);
    return cur_fail(k, LM_EFORMAT, k->off,
                    "truncated: array %" PRIu64 " data of shape %s %s needs %" PRIu64
                    " bytes, %zu left",
                    i, shape_str(s, sizeof s, a), dtype_name(a->dtype), n * esz,
                    k->len - k->off);
  }
  a->n_elems = n;
  k->off += (size_t)(n * esz);
  return LM_OK;
}

/* NDArray::Load(Stream*, vector<NDArray>*, vector<string>*): u64 magic 0x112, u64 reserved,
 * u64 count, the arrays, u64 name count (0 or count), names (u64 length + bytes). */
static int nd_read_list(cur *k, nd_list *l) {
  uint64_t magic, reserved, n, nn;
  int rc;
  if ((rc = rd_u64(k, "file magic", &magic))) return rc;
  if (magic != ND_LIST_MAGIC)
    return cur_fail(k, LM_EFORMAT, 0,
                    "bad magic 0x%016" PRIx64 " (an MXNet NDArray file starts with 0x112)", magic);
  if ((rc = rd_u64(k, "reserved", &reserved))) return rc;
  if ((rc = rd_u64(k, "array count", &n))) return rc;
  /* Every array takes at least 4 bytes. */
  if (n > (k->len - k->off) / 4)
    return cur_fail(k, LM_EFORMAT, k->off - 8,
                    "array count %" PRIu64 " cannot fit in the %zu bytes left", n,
                    k->len - k->off);
  l->n = n;
  l->a = calloc(n ? (size_t)n : 1, sizeof *l->a);
  if (!l->a) return ll_fail(k->c, LM_ENOMEM, "out of memory for %" PRIu64 " arrays", n);
  for (uint64_t i = 0; i < n; i++)
    if ((rc = nd_read_array(k, i, &l->a[i]))) return rc;
  if ((rc = rd_u64(k, "name count", &nn))) return rc;
  if (nn != 0 && nn != n)
    return cur_fail(k, LM_EFORMAT, k->off - 8,
                    "name count %" PRIu64 " is neither 0 nor the array count %" PRIu64, nn, n);
  l->named = nn != 0;
  for (uint64_t i = 0; i < nn; i++) {
    char f[64];
    uint64_t sl;
    snprintf(f, sizeof f, "name %" PRIu64 " length", i);
    if ((rc = rd_u64(k, f, &sl))) return rc;
    if (sl > k->len - k->off)
      return cur_fail(k, LM_EFORMAT, k->off - 8,
                      "truncated: name %" PRIu64 " is %" PRIu64 " bytes, %zu left", i, sl,
                      k->len - k->off);
    l->a[i].name_off = k->off;
    l->a[i].name_len = (size_t)sl;
    k->off += (size_t)sl;
  }
  if (k->off != k->len)
    return cur_fail(k, LM_EFORMAT, k->off, "%zu unexpected bytes after the last name",
                    k->len - k->off);
  return LM_OK;
}

/* "arg:fc0_bias (1, 1) float32, …" for messages. */
static const char *nd_summary(const nd_list *l, const uint8_t *d, char *dst, size_t n) {
  size_t k = 0;
  dst[0] = '\0';
  for (uint64_t i = 0; i < l->n && k + 1 < n; i++) {
    char nm[64], s[160];
    const nd_array *a = &l->a[i];
    if (l->named) printable_n(nm, sizeof nm, (const char *)d + a->name_off, a->name_len);
    else snprintf(nm, sizeof nm, "unnamed");
    int w = a->empty ? snprintf(dst + k, n - k, "%s%s (empty)", i ? ", " : "", nm)
                     : snprintf(dst + k, n - k, "%s%s %s %s", i ? ", " : "", nm,
                                shape_str(s, sizeof s, a), dtype_name(a->dtype));
    if (w < 0 || (size_t)w >= n - k) {
      if (n > 4) memcpy(dst + n - 4, "...", 4);
      break;
    }
    k += (size_t)w;
  }
  return dst;
}

/* ---- JSON members ---------------------------------------------------------------------- */

static int json_member(const ll *c, const char *nm, json_object **out) {
  const ll_member *m;
  int rc = need_member(c, nm, &m);
  if (rc) return rc;
  *out = NULL;
  struct json_tokener *tok = json_tokener_new();
  if (!tok) return ll_fail(c, LM_ENOMEM, "out of memory");
  /* A terminating NUL completes a trailing number; members are at most LL_MAX_JSON bytes, so
   * the int length cannot overflow. */
  json_object *root = json_tokener_parse_ex(tok, (const char *)m->data, (int)m->len);
  enum json_tokener_error err = json_tokener_get_error(tok);
  size_t end = m->len;
  if (err == json_tokener_continue) {
    root = json_tokener_parse_ex(tok, "", 1);
    err = json_tokener_get_error(tok);
    if (err != json_tokener_success) {
      json_object_put(root);
      root = NULL;
      err = json_tokener_continue;
    }
  } else if (err == json_tokener_success) {
    end = json_tokener_get_parse_end(tok);
  } else {
    end = json_tokener_get_parse_end(tok);
  }
  json_tokener_free(tok);
  if (err == json_tokener_continue)
    return ll_fail(c, LM_EFORMAT, "%s: truncated JSON (%zu bytes)", nm, m->len);
  if (err != json_tokener_success)
    return ll_fail(c, LM_EFORMAT, "%s: malformed JSON at byte %zu: %s", nm, end,
                   json_tokener_error_desc(err));
  for (size_t i = end; i < m->len; i++) {
    uint8_t ch = m->data[i];
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
      json_object_put(root);
      return ll_fail(c, LM_EFORMAT, "%s: malformed JSON at byte %zu: data after the top-level value",
                     nm, i);
    }
  }
  if (!json_object_is_type(root, json_type_object)) {
    json_object_put(root);
    return ll_fail(c, LM_EFORMAT, "%s: top-level value is not an object", nm);
  }
  *out = root;
  return LM_OK;
}

static json_object *get(json_object *o, const char *key) {
  json_object *v = NULL;
  return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* ---- manifest.json and additional-params.json ------------------------------------------- */

static int check_manifest(const ll *c) {
  json_object *root;
  int rc = json_member(c, MANIFEST_MEMBER, &root);
  if (rc) return rc;
  /* Seen: {"additional-params.json": "json", "mx-mod": "mxnet_module", "version": 1}. The
   * "mx-mod" entry names the MXNet module whose members we read. */
  json_object *mod = get(root, "mx-mod");
  if (!mod || !json_object_is_type(mod, json_type_string) ||
      strcmp(json_object_get_string(mod), "mxnet_module") != 0)
    rc = ll_fail(c, LM_EUNSUPPORTED,
                 "%s: no \"mx-mod\": \"mxnet_module\" entry (not an MXNet Module checkpoint)",
                 MANIFEST_MEMBER);
  json_object *ver = get(root, "version");
  if (!rc && ver && !json_object_is_type(ver, json_type_int))
    rc = ll_fail(c, LM_EFORMAT, "%s: \"version\" is not an integer", MANIFEST_MEMBER);
  json_object_put(root);
  return rc;
}

enum ll_pred { PRED_BINARY, PRED_REGRESSOR, PRED_MULTICLASS };
static const char *const pred_names[] = {"binary_classifier", "regressor", "multiclass_classifier"};
static const char *const pred_ops[] = {"LogisticRegressionOutput", "LinearRegressionOutput",
                                       "SoftmaxOutput"};

static int read_additional_params(const ll *c, int *pred) {
  json_object *root;
  int rc = json_member(c, ADDPARAMS_MEMBER, &root);
  if (rc) return rc;
  json_object *pt = get(root, "predictor_type");
  char p[64];
  if (!pt) {
    rc = ll_fail(c, LM_EFORMAT, "%s: predictor_type: missing", ADDPARAMS_MEMBER);
  } else if (!json_object_is_type(pt, json_type_string)) {
    rc = ll_fail(c, LM_EFORMAT, "%s: predictor_type: not a string", ADDPARAMS_MEMBER);
  } else {
    const char *s = json_object_get_string(pt);
    *pred = -1;
    for (int i = 0; i < 3; i++)
      if (!strcmp(s, pred_names[i])) *pred = i;
    if (*pred < 0)
      rc = ll_fail(c, LM_EUNSUPPORTED,
                   "%s: predictor_type '%s' (expected binary_classifier, regressor or "
                   "multiclass_classifier)",
                   ADDPARAMS_MEMBER, printable(p, sizeof p, s));
  }
  /* threshold: SageMaker's predicted_label cut-off for binary_classifier. The .lm format has no
   * field for it (lmrt returns the score); checked, then dropped. */
  json_object *th = get(root, "threshold");
  if (!rc && th &&
      (!(json_object_is_type(th, json_type_double) || json_object_is_type(th, json_type_int)) ||
       !isfinite(json_object_get_double(th))))
    rc = ll_fail(c, LM_EFORMAT, "%s: threshold: not a finite number", ADDPARAMS_MEMBER);
  json_object *lt = get(root, "loss_type");
  if (!rc && lt && !json_object_is_type(lt, json_type_string))
    rc = ll_fail(c, LM_EFORMAT, "%s: loss_type: not a string", ADDPARAMS_MEMBER);
  json_object_put(root);
  return rc;
}

/* ---- the symbol graph ------------------------------------------------------------------ */

typedef struct sym_node {
  const char *op, *name;
  json_object *attrs; /* "attrs" (MXNet ≥ 0.9), else "attr"/"param" (older), or NULL */
  size_t n_in;
  uint32_t in[4];     /* input node ids (first 4) */
} sym_node;

typedef struct sym {
  size_t n;
  sym_node *nodes;
  uint32_t head;
  char version[32];   /* "mxnet 1.3.1" or "" */
} sym;

static int sym_parse(const ll *c, json_object *root, sym *g) {
  const char *M = SYMBOL_MEMBER;
  json_object *nodes = get(root, "nodes");
  if (!nodes || !json_object_is_type(nodes, json_type_array))
    return ll_fail(c, LM_EFORMAT, "%s: nodes: missing or not an array", M);
  size_t n = json_object_array_length(nodes);
  if (n == 0 || n > LL_MAX_NODES)
    return ll_fail(c, LM_EFORMAT, "%s: nodes: %zu nodes (expected 1..%d)", M, n, LL_MAX_NODES);
  g->nodes = calloc(n, sizeof *g->nodes);
  if (!g->nodes) return ll_fail(c, LM_ENOMEM, "out of memory");
  g->n = n;
  for (size_t i = 0; i < n; i++) {
    json_object *nd = json_object_array_get_idx(nodes, i);
    sym_node *s = &g->nodes[i];
    if (!json_object_is_type(nd, json_type_object))
      return ll_fail(c, LM_EFORMAT, "%s: nodes[%zu]: not an object", M, i);
    json_object *op = get(nd, "op"), *nm = get(nd, "name"), *in = get(nd, "inputs");
    if (!op || !json_object_is_type(op, json_type_string))
      return ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].op: missing or not a string", M, i);
    if (!nm || !json_object_is_type(nm, json_type_string))
      return ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].name: missing or not a string", M, i);
    if (!in || !json_object_is_type(in, json_type_array))
      return ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].inputs: missing or not an array", M, i);
    s->op = json_object_get_string(op);
    s->name = json_object_get_string(nm);
    s->attrs = get(nd, "attrs");
    if (!s->attrs) s->attrs = get(nd, "attr");
    if (!s->attrs) s->attrs = get(nd, "param");
    if (s->attrs && !json_object_is_type(s->attrs, json_type_object))
      return ll_fail(c, LM_EFORMAT, "%s: nodes[%zu].attrs: not an object", M, i);
    s->n_in = json_object_array_length(in);
    for (size_t j = 0; j < s->n_in; j++) {
      json_object *e = json_object_array_get_idx(in, j);
      size_t el = json_object_is_type(e, json_type_array) ? json_object_array_length(e) : 0;
      json_object *id = el ? json_object_array_get_idx(e, 0) : NULL;
      json_object *ix = el > 1 ? json_object_array_get_idx(e, 1) : NULL;
      if ((el != 2 && el != 3) || !json_object_is_type(id, json_type_int) ||
          !json_object_is_type(ix, json_type_int))
        return ll_fail(c, LM_EFORMAT,
                       "%s: nodes[%zu].inputs[%zu]: not [node, output(, version)]", M, i, j);
      int64_t v = json_object_get_int64(id), o = json_object_get_int64(ix);
      /* Nodes are in topological order: inputs come earlier. */
      if (v < 0 || (uint64_t)v >= i)
        return ll_fail(c, LM_EFORMAT,
                       "%s: nodes[%zu].inputs[%zu]: node %" PRId64 " is not an earlier node", M,
                       i, j, v);
      if (o != 0)
        return ll_fail(c, LM_EUNSUPPORTED,
                       "%s: nodes[%zu].inputs[%zu]: output %" PRId64 " of node %" PRId64
                       " (only single-output operators are expected)",
                       M, i, j, o, v);
      if (j < 4) s->in[j] = (uint32_t)v;
    }
  }
  json_object *heads = get(root, "heads");
  json_object *h0 = heads && json_object_is_type(heads, json_type_array) &&
                            json_object_array_length(heads) == 1
                        ? json_object_array_get_idx(heads, 0)
                        : NULL;
  json_object *hid = h0 && json_object_is_type(h0, json_type_array) &&
                             json_object_array_length(h0) >= 2
                         ? json_object_array_get_idx(h0, 0)
                         : NULL;
  if (!hid || !json_object_is_type(hid, json_type_int))
    return ll_fail(c, LM_EFORMAT, "%s: heads: expected exactly one output [node, 0, 0]", M);
  int64_t h = json_object_get_int64(hid);
  if (h < 0 || (uint64_t)h >= n)
    return ll_fail(c, LM_EFORMAT, "%s: heads[0]: node %" PRId64 " out of range (%zu nodes)", M,
                   h, n);
  g->head = (uint32_t)h;
  /* attrs.mxnet_version: ["int", 10301] = 1.3.1 */
  json_object *ga = get(root, "attrs"), *mv = ga ? get(ga, "mxnet_version") : NULL;
  if (mv && json_object_is_type(mv, json_type_array) && json_object_array_length(mv) == 2) {
    json_object *v = json_object_array_get_idx(mv, 1);
    int64_t x = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
    if (x > 0 && x < 100000000)
      snprintf(g->version, sizeof g->version, "mxnet %d.%d.%d", (int)(x / 10000),
               (int)(x / 100 % 100), (int)(x % 100));
  }
  return LM_OK;
}

/* The roles of the seven nodes of the accepted graph. */
typedef struct ll_graph {
  uint32_t out, add, dot, data, weight, bias, label;
  int pred; /* enum ll_pred implied by the output operator */
} ll_graph;

static int node_is(const ll *c, const sym *g, uint32_t i, const char *want, const char *ctx) {
  char p[64];
  const sym_node *s = &g->nodes[i];
  if (!strcmp(s->op, want)) return LM_OK;
  if (!strcmp(s->op, "null"))
    return ll_fail(c, LM_EUNSUPPORTED, "%s node %u is the variable '%s' where operator %s was "
                   "expected (%s)", SYMBOL_MEMBER, i, printable(p, sizeof p, s->name), want, ctx);
  return ll_fail(c, LM_EUNSUPPORTED, "unsupported operator '%s' in %s node %u (expected %s, %s)",
                 printable(p, sizeof p, s->op), SYMBOL_MEMBER, i, want, ctx);
}

static int node_inputs(const ll *c, const sym *g, uint32_t i, size_t want) {
  if (g->nodes[i].n_in == want) return LM_OK;
  return ll_fail(c, LM_EUNSUPPORTED, "%s node %u (%s) has %zu inputs, expected %zu",
                 SYMBOL_MEMBER, i, g->nodes[i].op, g->nodes[i].n_in, want);
}

static int node_var(const ll *c, const sym *g, uint32_t i, const char *role) {
  char p[64];
  if (!strcmp(g->nodes[i].op, "null")) return LM_OK;
  return ll_fail(c, LM_EUNSUPPORTED,
                 "unsupported operator '%s' in %s node %u (expected the variable %s)",
                 printable(p, sizeof p, g->nodes[i].op), SYMBOL_MEMBER, i, role);
}

/* A boolean operator attribute that must be false if present ("False", "false", "0"). */
static int attr_false(const ll *c, const sym *g, uint32_t i, const char *key) {
  const sym_node *s = &g->nodes[i];
  json_object *v = s->attrs ? get(s->attrs, key) : NULL;
  if (!v) return LM_OK;
  const char *t = json_object_get_string(v);
  if (json_object_is_type(v, json_type_string) &&
      (!strcmp(t, "False") || !strcmp(t, "false") || !strcmp(t, "0")))
    return LM_OK;
  char p[64];
  return ll_fail(c, LM_EUNSUPPORTED, "%s node %u (dot): %s=%s is not supported", SYMBOL_MEMBER, i,
                 key, printable(p, sizeof p, t ? t : "?"));
}

/* The graph must be exactly
 *   data → dot(data, W) → broadcast_add(·, B) → {Logistic|Linear}RegressionOutput | SoftmaxOutput
 * with the output's second input a label variable, and nothing else. */
static int graph_check(const ll *c, const sym *g, ll_graph *r) {
  int rc;
  char p[64];
  const uint32_t h = g->head;
  const sym_node *hs = &g->nodes[h];
  r->pred = -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(hs->op, pred_ops[i])) r->pred = i;
  if (r->pred < 0) {
    if (!strcmp(hs->op, "null"))
      return ll_fail(c, LM_EUNSUPPORTED, "%s: the output is the variable '%s', not an operator",
                     SYMBOL_MEMBER, printable(p, sizeof p, hs->name));
    return ll_fail(c, LM_EUNSUPPORTED,
                   "unsupported operator '%s' in %s node %u (expected LogisticRegressionOutput, "
                   "LinearRegressionOutput or SoftmaxOutput as the output)",
                   printable(p, sizeof p, hs->op), SYMBOL_MEMBER, h);
  }
  r->out = h;
  if ((rc = node_inputs(c, g, h, 2))) return rc;
  r->add = hs->in[0];
  r->label = hs->in[1];
  if ((rc = node_var(c, g, r->label, "for the label"))) return rc;
  /* broadcast_plus is broadcast_add's alias in MXNet's operator registry. */
  if (strcmp(g->nodes[r->add].op, "broadcast_plus") != 0 &&
      (rc = node_is(c, g, r->add, "broadcast_add", "the bias addition")))
    return rc;
  if ((rc = node_inputs(c, g, r->add, 2))) return rc;
  r->dot = g->nodes[r->add].in[0];
  r->bias = g->nodes[r->add].in[1];
  if ((rc = node_is(c, g, r->dot, "dot", "the product of the input and the weights"))) return rc;
  if ((rc = node_var(c, g, r->bias, "for the bias"))) return rc;
  if ((rc = node_inputs(c, g, r->dot, 2))) return rc;
  if ((rc = attr_false(c, g, r->dot, "transpose_a"))) return rc;
  if ((rc = attr_false(c, g, r->dot, "transpose_b"))) return rc;
  r->data = g->nodes[r->dot].in[0];
  r->weight = g->nodes[r->dot].in[1];
  if ((rc = node_var(c, g, r->data, "for the input"))) return rc;
  if ((rc = node_var(c, g, r->weight, "for the weights"))) return rc;
  const uint32_t used[7] = {r->out, r->add, r->dot, r->data, r->weight, r->bias, r->label};
  for (int i = 0; i < 7; i++)
    for (int j = i + 1; j < 7; j++)
      if (used[i] == used[j])
        return ll_fail(c, LM_EUNSUPPORTED, "%s: node %u '%s' plays two roles in the graph",
                       SYMBOL_MEMBER, used[i], printable(p, sizeof p, g->nodes[used[i]].name));
  for (uint32_t i = 0; i < g->n; i++) {
    int in_graph = 0;
    for (int j = 0; j < 7; j++) in_graph |= used[j] == i;
    if (in_graph) continue;
    if (strcmp(g->nodes[i].op, "null") != 0)
      return ll_fail(c, LM_EUNSUPPORTED,
                     "unsupported operator '%s' in %s node %u (not part of the Linear Learner "
                     "graph)",
                     printable(p, sizeof p, g->nodes[i].op), SYMBOL_MEMBER, i);
    return ll_fail(c, LM_EUNSUPPORTED, "%s: unexpected variable '%s' (node %u)", SYMBOL_MEMBER,
                   printable(p, sizeof p, g->nodes[i].name), i);
  }
  return LM_OK;
}

/* A variable's "__shape__" attribute, e.g. "(20, 1)", if present, must agree with the params
 * array (0 in __shape__ means unknown). */
static int shape_attr_check(const ll *c, const sym *g, uint32_t i, const nd_array *a) {
  json_object *v = g->nodes[i].attrs ? get(g->nodes[i].attrs, "__shape__") : NULL;
  if (!v) return LM_OK;
  char p[64], s[160];
  const char *t = json_object_get_string(v);
  int64_t dims[LL_MAX_NDIM];
  uint32_t nd = 0;
  const char *q = t;
  int ok = json_object_is_type(v, json_type_string);
  if (ok) {
    while (*q == ' ') q++;
    ok = *q++ == '(';
  }
  while (ok) {
    while (*q == ' ') q++;
    if (*q == ')') { q++; break; }
    if (*q < '0' || *q > '9' || nd == LL_MAX_NDIM) { ok = 0; break; }
    int64_t x = 0;
    while (*q >= '0' && *q <= '9' && x < INT64_MAX / 16) x = x * 10 + (*q++ - '0');
    dims[nd++] = x;
    while (*q == ' ') q++;
    if (*q == ',') q++;
    else if (*q != ')') ok = 0;
  }
  if (ok) {
    while (*q == ' ') q++;
    ok = *q == '\0';
  }
  if (!ok)
    return ll_fail(c, LM_EFORMAT, "%s node %u '%s': __shape__ '%s' is not a shape", SYMBOL_MEMBER,
                   i, g->nodes[i].name, printable(p, sizeof p, t ? t : "?"));
  int same = nd == a->ndim;
  for (uint32_t d = 0; same && d < nd; d++) same = dims[d] == 0 || dims[d] == a->dims[d];
  if (!same)
    return ll_fail(c, LM_EFORMAT, "%s node %u '%s': __shape__ %s but the params array is %s",
                   SYMBOL_MEMBER, i, printable(p, sizeof p, g->nodes[i].name), t,
                   shape_str(s, sizeof s, a));
  return LM_OK;
}

/* ---- the model ------------------------------------------------------------------------- */

/* The array named "arg:<var>". */
static int find_arg(const ll *c, const nd_list *l, const char *var, const nd_array **out) {
  const uint8_t *d = c->params->data;
  char want[160], p[64], list[512];
  int w = snprintf(want, sizeof want, "arg:%s", var);
  *out = NULL;
  if (w < 0 || (size_t)w >= sizeof want)
    return ll_fail(c, LM_EFORMAT, "%s: variable name '%s' too long", SYMBOL_MEMBER,
                   printable(p, sizeof p, var));
  for (uint64_t i = 0; i < l->n; i++)
    if (l->a[i].name_len == (size_t)w && !memcmp(d + l->a[i].name_off, want, (size_t)w)) {
      if (*out)
        return ll_fail(c, LM_EFORMAT, "%s: two arrays named '%s'", c->params->name,
                       printable(p, sizeof p, want));
      *out = &l->a[i];
    }
  if (!*out)
    return ll_fail(c, LM_EFORMAT, "%s: no array named '%s' (arrays: %s)", c->params->name,
                   printable(p, sizeof p, want), nd_summary(l, d, list, sizeof list));
  return LM_OK;
}

static int float_array_check(const ll *c, const nd_array *a, const char *what) {
  char p[64];
  if (a->empty)
    return ll_fail(c, LM_EFORMAT, "%s: '%s' is an empty (none) array", c->params->name,
                   printable(p, sizeof p, what));
  if (a->dtype != 0)
    return ll_fail(c, LM_EUNSUPPORTED, "%s: '%s' has dtype %s (%d): only float32 is supported",
                   c->params->name, printable(p, sizeof p, what), dtype_name(a->dtype), a->dtype);
  return LM_OK;
}

static int build_ir(ll *c, const sym *g, const ll_graph *r, int pred, const nd_list *l,
                    lm_ir_model **out) {
  const uint8_t *d = c->params->data;
  const char *wv = g->nodes[r->weight].name, *bv = g->nodes[r->bias].name;
  const nd_array *W, *B;
  char s1[160], s2[160], p[64];
  int rc;
  if (!l->named)
    return ll_fail(c, LM_EFORMAT, "%s: the arrays have no names (expected arg:%s and arg:%s)",
                   c->params->name, printable(s1, sizeof s1, wv), printable(s2, sizeof s2, bv));
  if ((rc = find_arg(c, l, wv, &W))) return rc;
  if ((rc = find_arg(c, l, bv, &B))) return rc;
  /* Nothing but the weights and the bias: an extra array would be something this graph does
   * not use, i.e. not the model we think it is. */
  for (uint64_t i = 0; i < l->n; i++)
    if (&l->a[i] != W && &l->a[i] != B)
      return ll_fail(c, LM_EUNSUPPORTED, "%s: unexpected array '%s' (the graph uses only "
                     "arg:%s and arg:%s)", c->params->name,
                     printable_n(p, sizeof p, (const char *)d + l->a[i].name_off,
                                 l->a[i].name_len), wv, bv);
  char wn[80], bn[80];
  snprintf(wn, sizeof wn, "arg:%s", wv);
  snprintf(bn, sizeof bn, "arg:%s", bv);
  if ((rc = float_array_check(c, W, wn))) return rc;
  if ((rc = float_array_check(c, B, bn))) return rc;
  if ((rc = shape_attr_check(c, g, r->weight, W))) return rc;
  if ((rc = shape_attr_check(c, g, r->bias, B))) return rc;
  /* Weights (F, G); bias (1, G) or (G,). */
  if (W->ndim != 2 || W->dims[0] < 1 || W->dims[1] < 1)
    return ll_fail(c, LM_EFORMAT, "%s: '%s' has shape %s, expected (features, outputs)",
                   c->params->name, wn, shape_str(s1, sizeof s1, W));
  uint64_t F = (uint64_t)W->dims[0], G = (uint64_t)W->dims[1];
  int bias_ok = (B->ndim == 2 && B->dims[0] == 1 && (uint64_t)B->dims[1] == G) ||
                (B->ndim == 1 && (uint64_t)B->dims[0] == G);
  if (!bias_ok)
    return ll_fail(c, LM_EFORMAT,
                   "%s: shape mismatch: '%s' is %s but '%s' is %s (expected (1, %" PRIu64
                   ") or (%" PRIu64 ",))",
                   c->params->name, wn, shape_str(s1, sizeof s1, W), bn,
                   shape_str(s2, sizeof s2, B), G, G);
  if (pred == PRED_MULTICLASS ? G < 2 : G != 1)
    return ll_fail(c, LM_EFORMAT, "%s: '%s' is %s: %s needs %s", c->params->name, wn,
                   shape_str(s1, sizeof s1, W), pred_ops[pred],
                   pred == PRED_MULTICLASS ? "at least 2 outputs" : "exactly 1 output");
  if (F > UINT32_MAX)
    return ll_fail(c, LM_ERANGE, "%s: %" PRIu64 " features (limit %u)", c->params->name, F,
                   UINT32_MAX);
  if (G > LL_MAX_OUTPUTS)
    return ll_fail(c, LM_ERANGE, "%s: %" PRIu64 " outputs (limit %u)", c->params->name, G,
                   LL_MAX_OUTPUTS);
  /* F·G floats lie inside the params member (W->n_elems was checked against its length). */
  lm_ir_model *m = lm_ir_new();
  float *lw = malloc(((size_t)(F * G) + (size_t)G) * sizeof *lw);
  if (!m || !lw) {
    free(lw);
    lm_ir_free(m);
    return ll_fail(c, LM_ENOMEM, "out of memory for %" PRIu64 " weights", F * G);
  }
  m->linear_weights = lw;
  /* MXNet arrays are row-major: W(f, g) at f·G + g, as the IR wants. */
  for (size_t i = 0; i < (size_t)(F * G) + (size_t)G; i++) {
    int is_w = i < (size_t)(F * G);
    size_t at = is_w ? W->data_off + 4 * i : B->data_off + 4 * (i - (size_t)(F * G));
    uint32_t u = le32(d + at);
    memcpy(&lw[i], &u, sizeof u);
    if (!isfinite(lw[i])) {
      double v = lw[i];
      char idx[64];
      if (is_w) snprintf(idx, sizeof idx, "[%zu, %zu]", i / (size_t)G, i % (size_t)G);
      else snprintf(idx, sizeof idx, "[%zu]", i - (size_t)(F * G));
      lm_ir_free(m);
      return ll_fail(c, LM_EFORMAT, "%s: byte %zu: %s%s is not finite (%g)", c->params->name,
                     at, is_w ? wn : bn, idx, v);
    }
  }
  snprintf(m->source_format, sizeof m->source_format, "linear-learner");
  snprintf(m->source_version, sizeof m->source_version, "%s", g->version[0] ? g->version : "unknown");
  snprintf(m->objective, sizeof m->objective, "linear-learner:%s", pred_names[pred]);
  m->booster = LM_BOOSTER_LINEAR;
  m->base_score = 0.0f;
  m->num_features = (uint32_t)F;
  m->num_outputs = (uint32_t)G;
  *out = m;
  return LM_OK;
}

/* Not a ZIP: name what it is. SageMaker PCA and KMeans write bare NDArray files named
 * model_algo-1 too. */
static int not_a_zip(ll *c, const uint8_t *data, size_t len) {
  if (len >= 8 && le64(data) == ND_LIST_MAGIC) {
    cur k = {.c = c, .member = "NDArray file", .d = data, .len = len};
    nd_list l = {0};
    char list[512] = "";
    /* Describe the arrays when the file parses (errors of this parse are not reported). */
    int ok = nd_read_list(&k, &l) == LM_OK;
    if (ok) nd_summary(&l, data, list, sizeof list);
    free(l.a);
    return ll_fail(c, LM_EUNSUPPORTED,
                   "the input is an MXNet NDArray file, not a Linear Learner model (SageMaker "
                   "PCA/KMeans also write model_algo-1)%s%s",
                   ok ? "; arrays: " : "", list);
  }
  return ll_fail(c, LM_EFORMAT,
                 "not a ZIP archive (first bytes %02x %02x %02x %02x; a Linear Learner "
                 "model_algo-1 is a ZIP of an MXNet checkpoint)",
                 len > 0 ? data[0] : 0, len > 1 ? data[1] : 0, len > 2 ? data[2] : 0,
                 len > 3 ? data[3] : 0);
}

static int import(ll *c, const uint8_t *data, size_t len, lm_ir_model **out) {
  if (len < 4 || (memcmp(data, "PK\3\4", 4) != 0 && memcmp(data, "PK\5\6", 4) != 0))
    return not_a_zip(c, data, len);
  if (!has_eocd(data, len))
    return ll_fail(c, LM_EFORMAT,
                   "truncated ZIP archive: no end-of-central-directory record (%zu bytes)", len);
  int rc = zip_read(c, data, len);
  if (rc) return rc;
  /* Every member must be there before any is interpreted, so a missing one is named first. */
  const ll_member *m;
  if ((rc = need_member(c, SYMBOL_MEMBER, &m))) return rc;
  if ((rc = need_member(c, MANIFEST_MEMBER, &m))) return rc;
  if ((rc = need_member(c, ADDPARAMS_MEMBER, &m))) return rc;
  if ((rc = choose_params(c))) return rc;
  if ((rc = check_manifest(c))) return rc;
  int pred = -1;
  if ((rc = read_additional_params(c, &pred))) return rc;

  json_object *root = NULL;
  sym g = {0};
  nd_list l = {0};
  ll_graph r = {0};
  cur k = {.c = c, .member = c->params->name, .d = c->params->data, .len = c->params->len};
  if ((rc = json_member(c, SYMBOL_MEMBER, &root))) goto out;
  if ((rc = sym_parse(c, root, &g))) goto out;
  if ((rc = graph_check(c, &g, &r))) goto out;
  if (r.pred != pred) {
    rc = ll_fail(c, LM_EFORMAT,
                 "predictor_type '%s' in %s does not match the graph's output operator %s "
                 "(%s node %u; %s expects %s)",
                 pred_names[pred], ADDPARAMS_MEMBER, g.nodes[r.out].op, SYMBOL_MEMBER, r.out,
                 pred_names[pred], pred_ops[pred]);
    goto out;
  }
  if ((rc = nd_read_list(&k, &l))) goto out;
  rc = build_ir(c, &g, &r, pred, &l, out);
out:
  free(l.a);
  free(g.nodes);
  json_object_put(root);
  return rc;
}

int lm__import_linear_learner(const uint8_t *data, size_t len, const char *name,
                              lm_ir_model **out) {
  if (!out) return lm__fail(LM_EINVAL, "lm__import_linear_learner: NULL out");
  *out = NULL;
  if (!name) name = "(input)";
  if (!data && len) return lm__fail(LM_EINVAL, "%s: NULL data", name);
  if (!data) data = (const uint8_t *)"";
  ll c = {.name = name, .input_len = len};
  int rc = import(&c, data, len, out);
  for (size_t i = 0; i < c.n_mem; i++) {
    free(c.mem[i].name);
    free(c.mem[i].data);
  }
  return rc;
}
