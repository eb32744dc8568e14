/*
 * recordio.c — SageMaker's application/x-recordio-protobuf request body on /invocations (what
 * SageMaker's XGBoost container and the built-in algorithms accept), decoded into rows of the
 * model's features in the worker's value buffer (doubles, NaN = missing) for sagemaker.c.
 *
 * The format (AWS's public source: sagemaker-python-sdk src/sagemaker/amazon/record.proto and
 * serializer_utils.py, _write_recordio, write_numpy_to_dense_tensor,
 * write_spmatrix_to_sparse_tensor; sagemaker-xgboost-container recordio_protobuf.py, the
 * reader behind its DMatrix):
 *   - RecordIO framing, one frame per row: uint32 magic 0xCED7230A, uint32 length L (both
 *     little-endian), L bytes of a serialized Record, then zero padding to a multiple of 4
 *     bytes (the last frame padded too). MXNet's RecordIO keeps a continuation flag in the
 *     length's top 3 bits; AWS's writers never set it, and a frame with it set is refused.
 *   - Record (proto2, package aialgs.data): features = 1, map<string, Value> (each entry a
 *     message: key = 1 string, value = 2 Value); label = 2 (ignored: no effect on predictions),
 *     uid = 3, metadata = 4, configuration = 5 (ignored).
 *   - Value: a oneof float32_tensor = 2, float64_tensor = 3, int32_tensor = 7, bytes = 9 (refused).
 *   - Float32Tensor / Float64Tensor / Int32Tensor: values = 1 (packed float / double / int32
 *     varint), keys = 2 (packed uint64), shape = 3 (packed uint64). Keys empty: a dense row,
 *     values in feature order. Keys given: a sparse row, keys[i] the column of values[i],
 *     shape[0] the number of columns (else the largest key + 1). No keys and no values but a
 *     shape: a sparse row that stores nothing, every feature missing (what the SDK's
 *     write_spmatrix_to_sparse_tensor writes for an empty CSR row; the container takes it for
 *     a dense row of 0 values and fails the request).
 * Rows are features["values"], as AWS's writers name them. Sparse rows as the XGBoost
 * container scores them: it stacks them into a scipy CSR matrix and builds a DMatrix, where a
 * column a row does not give is missing (a stored 0 is a 0; a stored NaN missing). A batch
 * that mixes dense and sparse records is one CSR matrix there too, and scipy's vstack drops the
 * dense records' zeros on the way — so they become missing values: done here the same way.
 * Stricter than the container (a 400 naming the record and the fault, not a silent skip or a
 * crash): a record without features["values"] or with an empty Value (the container skips
 * it, shifting every later prediction), bytes values, duplicate or out-of-range keys, a dense
 * row whose length is not the model's feature count, more columns than the model has, 1-7
 * trailing bytes after the last frame; an infinite value (XGBoost's DMatrix refuses it too).
 *
 * Hand-written, no protobuf library: the few fields above are varints, fixed 32/64-bit values
 * and length-delimited spans — generated code and a runtime dependency for a dozen lines of wire
 * format would be most of the attack surface. Every length and count is checked against the
 * bytes that remain before it is used; varints longer than 10 bytes, groups (wire types 3, 4)
 * and unknown wire types are errors; unknown fields are skipped by wire type; both the packed
 * and the unpacked encoding of repeated fields are read, in any order and split in any number
 * of pieces, as protobuf parsers must. Fuzzed as part of the request path
 * (server/fuzz/fuzz_request.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ls.h"

#define RIO_MAGIC 0xced7230au

typedef struct pb {
  const unsigned char *p, *e;
} pb;

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A varint: 0, or -1 (truncated, or longer than 10 bytes). */
static int varint(pb *b, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; i++) {
    if (b->p >= b->e) return -1;
    unsigned char c = *b->p++;
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* The next field's number and wire type; its value for wire type 0 (*vi), its bytes for
 * wire types 1, 2 and 5 (*span, checked to fit): 1 when a field was read, 0 at the end, -1
 * on malformed bytes (*why set). */
static int field(pb *b, uint32_t *num, int *wt, pb *span, uint64_t *vi, const char **why) {
  if (b->p >= b->e) return 0;
  uint64_t k, len;
  if (varint(b, &k)) return *why = "truncated field key", -1;
  if (k >> 3 == 0 || k >> 3 > 0x1fffffff) return *why = "bad field number", -1;
  *num = (uint32_t)(k >> 3);
  *wt = (int)(k & 7);
  switch (*wt) {
  case 0:
    if (varint(b, vi)) return *why = "truncated varint", -1;
    return 1;
  case 1:
  case 5:
    len = *wt == 1 ? 8 : 4;
    if ((uint64_t)(b->e - b->p) < len) return *why = "truncated fixed-size value", -1;
    break;
  case 2:
    if (varint(b, &len)) return *why = "truncated length", -1;
    if (len > (uint64_t)(b->e - b->p)) return *why = "length past the end of its message", -1;
    break;
  default:
    return *why = "unsupported wire type (groups or reserved)", -1;
  }
  span->p = b->p;
  span->e = b->p + len;
  b->p += len;
  return 1;
}

/* Elements of one repeated scalar field of a tensor message, packed or not, in order, however
 * its pieces are interleaved with other fields. kind: 'f' float (fixed32), 'd' double
 * (fixed64), 'i' int32 (varint), 'u' uint64 (varint). */
typedef struct rep {
  pb msg;   /* the rest of the tensor message */
  pb chunk; /* the packed piece (or the one unpacked fixed-size element) being read */
  uint32_t num;
  int kind;
} rep;

static void rep_init(rep *r, pb msg, uint32_t num, int kind) {
  r->msg = msg;
  r->chunk.p = r->chunk.e = NULL;
  r->num = num;
  r->kind = kind;
}

static double varint_value(int kind, uint64_t u, uint64_t *uv) {
  *uv = u;
  return kind == 'i' ? (double)(int32_t)(uint32_t)u : 0; /* int32: the low 32 bits, signed */
}

/* The next element (a value in *dv, a key or shape entry in *uv): 1, 0 at the end, -1 when
 * malformed (*why set). */
static int rep_next(rep *r, double *dv, uint64_t *uv, const char **why) {
  for (;;) {
    pb *c = &r->chunk;
    if (c->p < c->e) {
      if (r->kind == 'f') {
        if (c->e - c->p < 4) return *why = "packed floats not a multiple of 4 bytes", -1;
        uint32_t u = le32(c->p);
        float f;
        memcpy(&f, &u, 4);
        *dv = f;
        c->p += 4;
      } else if (r->kind == 'd') {
        if (c->e - c->p < 8) return *why = "packed doubles not a multiple of 8 bytes", -1;
        uint64_t u = le64(c->p);
        memcpy(dv, &u, 8);
        c->p += 8;
      } else {
        uint64_t u;
        if (varint(c, &u)) return *why = "truncated packed varint", -1;
        *dv = varint_value(r->kind, u, uv);
      }
      return 1;
    }
    uint32_t num;
    int wt;
    pb span = {NULL, NULL};
    uint64_t vi = 0;
    int rc = field(&r->msg, &num, &wt, &span, &vi, why);
    if (rc <= 0) return rc;
    if (num != r->num) continue;
    int unpacked = r->kind == 'f' ? 5 : r->kind == 'd' ? 1 : 0;
    if (wt == 2 || (wt == unpacked && wt != 0)) {
      r->chunk = span; /* a packed piece, or one fixed-size element */
    } else if (wt == 0 && unpacked == 0) {
      *dv = varint_value(r->kind, vi, uv); /* one unpacked varint */
      return 1;
    } else {
      return *why = "a tensor field of the wrong wire type", -1;
    }
  }
}

/* One record's features["values"]: its tensor message and kind ('f', 'd', 'i'), the last map
 * entry named "values" (protobuf maps: the last entry of a key wins). 0, or -1 with *why. */
static int record_tensor(pb rec, pb *tensor, int *kind, const char **why) {
  int found = 0;
  uint32_t num;
  int wt;
  pb span = {NULL, NULL};
  uint64_t vi;
  int rc;
  while ((rc = field(&rec, &num, &wt, &span, &vi, why)) == 1) {
    if (num != 1) continue; /* label, uid, metadata, configuration, unknown */
    if (wt != 2) return *why = "features: not a map entry", -1;
    pb ent = span, key = {NULL, NULL}, val = {NULL, NULL};
    int has_key = 0, has_val = 0, erc;
    uint32_t en;
    int ew;
    pb es = {NULL, NULL};
    while ((erc = field(&ent, &en, &ew, &es, &vi, why)) == 1) {
      if (en == 1 && ew == 2) key = es, has_key = 1;
      else if (en == 2 && ew == 2) val = es, has_val = 1;
      else if (en == 1 || en == 2) return *why = "features: map entry of the wrong wire type", -1;
    }
    if (erc < 0) return -1;
    if (!has_key || key.e - key.p != 6 || memcmp(key.p, "values", 6) != 0) continue;
    /* the Value: exactly one tensor field */
    int nt = 0;
    pb vs = {NULL, NULL};
    int vrc;
    *kind = 0;
    while (has_val && (vrc = field(&val, &en, &ew, &vs, &vi, why)) == 1) {
      if (en == 9) return *why = "features[\"values\"] holds bytes, not a tensor", -1;
      if (en != 2 && en != 3 && en != 7) continue;
      if (ew != 2) return *why = "Value: a tensor of the wrong wire type", -1;
      if (++nt > 1) return *why = "Value: more than one tensor", -1;
      *tensor = vs;
      *kind = en == 2 ? 'f' : en == 3 ? 'd' : 'i';
    }
    if (has_val && vrc < 0) return -1;
    found = nt ? 1 : -1;
  }
  if (rc < 0) return -1;
  if (found == 0) return *why = "no features[\"values\"]", -1;
  if (found < 0) return *why = "features[\"values\"] holds no tensor", -1;
  return 0;
}

/* Decode one record's tensor into row (nf values, NaN first). zero_missing: a dense row's
 * zeros become missing (a batch that mixes dense and sparse records, as the container's CSR
 * stacking does). 0 with *sparse, or -1 with msg written. */
static int decode_row(pb tensor, int kind, size_t nf, double *row, unsigned char *seen,
                      int zero_missing, int *sparse, char *msg, size_t cap) {
  const char *why = NULL;
  rep keys, vals, shape;
  double d;
  uint64_t u, nkeys = 0, nvals = 0, ncols = 0, maxkey = 0;
  int rc;
  rep_init(&keys, tensor, 2, 'u');
  while ((rc = rep_next(&keys, &d, &u, &why)) == 1) {
    if (!nkeys++ || u > maxkey) maxkey = u;
  }
  if (rc < 0) goto malformed;
  rep_init(&shape, tensor, 3, 'u');
  int has_shape = 0;
  while ((rc = rep_next(&shape, &d, &u, &why)) == 1)
    if (!has_shape++) ncols = u; /* shape[0]: the columns (the container's reading) */
  if (rc < 0) goto malformed;
  rep_init(&vals, tensor, 1, kind);
  while ((rc = rep_next(&vals, &d, &u, &why)) == 1) nvals++;
  if (rc < 0) goto malformed;
  for (size_t i = 0; i < nf; i++) row[i] = NAN;
  rep_init(&vals, tensor, 1, kind);
  if (!nkeys && !(nvals == 0 && has_shape)) { /* dense (no keys, no values, a shape: an
                                                    empty sparse row, all missing) */
    *sparse = 0;
    if (nvals != nf) {
      snprintf(msg, cap, "a dense row of %llu values; the model has %zu features",
               (unsigned long long)nvals, nf);
      return -1;
    }
    for (size_t i = 0; i < nf; i++) {
      if (rep_next(&vals, &d, &u, &why) != 1) goto malformed;
      if (isinf(d)) goto infinite;
      row[i] = zero_missing && d == 0 ? NAN : d;
    }
    return 0;
  }
  *sparse = 1;
  if (!has_shape) ncols = maxkey + 1;
  if (nvals != nkeys) {
    snprintf(msg, cap, "a sparse row of %llu keys and %llu values", (unsigned long long)nkeys,
             (unsigned long long)nvals);
    return -1;
  }
  if (ncols > nf) {
    snprintf(msg, cap, "a sparse row of %llu columns; the model has %zu features",
             (unsigned long long)ncols, nf);
    return -1;
  }
  if (nf) memset(seen, 0, nf);
  rep_init(&keys, tensor, 2, 'u');
  for (uint64_t i = 0; i < nkeys; i++) {
    uint64_t key = 0, uu;
    double dd, val = 0;
    if (rep_next(&keys, &dd, &key, &why) != 1 || rep_next(&vals, &val, &uu, &why) != 1)
      goto malformed;
    if (key >= ncols) {
      snprintf(msg, cap, "key %llu outside the row's %llu columns", (unsigned long long)key,
               (unsigned long long)ncols);
      return -1;
    }
    if (seen[key]) {
      snprintf(msg, cap, "key %llu given twice", (unsigned long long)key);
      return -1;
    }
    if (isinf(val)) {
      d = val;
      goto infinite;
    }
    seen[key] = 1;
    row[key] = val; /* a stored NaN stays missing, a stored 0 is a 0 */
  }
  return 0;
infinite: /* as XGBoost's DMatrix refuses them, and lmserve's CSV reader */
  snprintf(msg, cap, "value %g: infinite values are not features (XGBoost refuses them)", d);
  return -1;
malformed:
  snprintf(msg, cap, "malformed tensor: %s", why ? why : "truncated");
  return -1;
}

/* One frame at body[off]: the record's span and the next frame's offset. 0, or -1 with msg. */
static int frame(const unsigned char *b, size_t n, size_t off, pb *rec, size_t *next, char *msg,
                 size_t cap) {
  if (n - off < 8) {
    snprintf(msg, cap, "%zu bytes after the last record: not a frame (a frame header is 8 bytes)",
             n - off);
    return -1;
  }
  uint32_t magic = le32(b + off), len = le32(b + off + 4);
  if (magic != RIO_MAGIC) {
    snprintf(msg, cap, "magic 0x%08x, expected 0xced7230a (RecordIO)", magic);
    return -1;
  }
  if (len >> 29) {
    snprintf(msg, cap, "length field 0x%08x: continuation flag set (multi-part RecordIO records "
             "are not supported)", len);
    return -1;
  }
  size_t padded = ((size_t)len + 3) & ~(size_t)3;
  if (padded > n - off - 8) {
    snprintf(msg, cap, "record of %u bytes (%zu padded) but %zu bytes remain", len, padded,
             n - off - 8);
    return -1;
  }
  rec->p = b + off + 8;
  rec->e = rec->p + len;
  *next = off + 8 + padded;
  return 0;
}

int ls_recordio_parse(ls_worker *w, ls_conn *c, ls_version *v, const char *body, size_t n,
                      size_t *rows) {
  const unsigned char *b = (const unsigned char *)body;
  size_t nf = v->nfeat, r = 0, off = 0, next;
  int any_sparse = 0, any_dense = 0, st = 400;
  char why[200], msg[320];
  const char *pw = NULL;
  if (ls_grow_or_500(w, c, (void **)&w->fseen, &w->fseen_cap, nf, 1)) return 500;
  for (int pass = 0; pass < 2; pass++) {
    for (off = 0, r = 0; off < n; off = next, r++) {
      pb rec, tensor = {NULL, NULL};
      int kind = 0, sparse = 0;
      if (frame(b, n, off, &rec, &next, why, sizeof why)) goto bad;
      if (pass == 0) {
        if (w->vals_limit && (r + 1) * (nf ? nf : 1) > w->vals_limit) {
          snprintf(why, sizeof why, "more records than --max-batch-rows");
          st = 413;
          goto bad;
        }
        if ((r + 1) * nf > ls_sparse_values_max(n)) { /* small sparse records, a wide model */
          snprintf(why, sizeof why, "%zu rows of %zu features pass the scratch bound for sparse "
                   "bodies (rows x features <= max(body bytes, %zu)): send fewer rows per request",
                   r + 1, nf, LS_SPARSE_MIN_VALUES);
          st = 413;
          goto bad;
        }
        if (ls_grow_or_500(w, c, (void **)&w->vals, &w->vals_cap, r * nf + nf, sizeof(double)))
          return 500;
      }
      if (record_tensor(rec, &tensor, &kind, &pw)) {
        snprintf(why, sizeof why, "%s", pw);
        goto bad;
      }
      /* pass 1 (a batch mixing dense and sparse records): the dense rows again, zeros missing */
      if (pass == 1) {
        rep k;
        double d;
        uint64_t u;
        rep_init(&k, tensor, 2, 'u');
        if (rep_next(&k, &d, &u, &pw) != 0) continue; /* sparse (or malformed: pass 0 said no) */
      }
      if (decode_row(tensor, kind, nf, w->vals + r * nf, w->fseen, pass, &sparse, why,
                     sizeof why))
        goto bad;
      any_sparse |= sparse;
      any_dense |= !sparse;
    }
    if (!(any_sparse && any_dense)) break;
  }
  *rows = r;
  return 0;
bad:
  snprintf(msg, sizeof msg, "application/x-recordio-protobuf: record %zu (byte %zu): %s", r + 1,
           off, why);
  ls_respond_error(w, c, st, NULL, msg);
  return st;
}
