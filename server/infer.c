/*
 * infer.c — KServe V2 inference on lmserve's request path: the request (JSON, or a JSON header
 * followed by binary tensor data; one [rows, features] tensor or one tensor per feature,
 * matched by name) parsed into the worker's preallocated arrays (v2json.c), the rows scored
 * with lm_predict / lm_predict_f64 in the worker's session (values, or margins with
 * output_margin), lm_predict_leaf (pred_leaf: the UINT32 leaf output) and
 * lm_predict_contrib{,_f64} (pred_contribs: the FP32 contrib output, XGBoost's pred_contribs:
 * [rows, features + 1], or [rows, outputs, features + 1] for several outputs, the bias last),
 * and the response
 * written as JSON (%.9g floats, null for non-finite values) or as binary output data. Unknown
 * parameters are refused by name. Scratch arrays
 * grow to the largest request seen and are reused: a warm request allocates nothing. Limits
 * checked before any scratch grows or a row is scored: rows per request (--max-batch-rows) and
 * the response's largest possible size (--max-response-bytes), both a 413 naming the limit;
 * integer datatypes' values must be integers in range, nested data must match the shape.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ls.h"

static void fmt_float(ls_buf *b, float f) {
  if (!isfinite(f)) {
    ls_buf_append(b, "null", 4);
    return;
  }
  if (ls_buf_reserve(b, 32)) return;
  /* strfromd, not snprintf: the same digits without printf's slow path (ls_buf_u64) */
  b->len += (size_t)strfromd(b->p + b->len, 32, "%.9g", (double)f);
}

/* An output tensor's head: name, datatype and shape, then either its binary_data_size (bin:
 * returns 1, the tensor is closed) or the opening of its data array (returns 0: the caller
 * writes the values and "]}"). */
static int out_head(ls_buf *b, const char *name, const char *dtype, const size_t *dims, int nd,
                    int bin, size_t nbytes) {
  ls_buf_puts(b, "{\"name\":\"");
  ls_buf_puts(b, name);
  ls_buf_puts(b, "\",\"datatype\":\"");
  ls_buf_puts(b, dtype);
  ls_buf_puts(b, "\",\"shape\":[");
  for (int d = 0; d < nd; d++) {
    if (d) ls_buf_append(b, ",", 1);
    ls_buf_u64(b, dims[d]);
  }
  if (bin) {
    ls_buf_puts(b, "],\"parameters\":{\"binary_data_size\":");
    ls_buf_u64(b, nbytes);
    ls_buf_puts(b, "}}");
    return 1;
  }
  ls_buf_puts(b, "],\"data\":[");
  return 0;
}

/* Integer datatypes: JSON numbers that must be integers in the type's range (null: missing). */
typedef struct int_type {
  const char *name;
  double lo, hi_excl; /* integers in [lo, hi_excl) */
  const char *range;
} int_type;
static const int_type int_types[] = {
    {"INT8", -128, 128, "-128..127"},
    {"INT16", -32768, 32768, "-32768..32767"},
    {"INT32", -2147483648.0, 2147483648.0, "-2147483648..2147483647"},
    {"INT64", -9223372036854775808.0, 9223372036854775808.0, "-2^63..2^63-1"},
    {"UINT8", 0, 256, "0..255"},
    {"UINT16", 0, 65536, "0..65535"},
    {"UINT32", 0, 4294967296.0, "0..4294967295"},
    {"UINT64", 0, 18446744073709551616.0, "0..2^64-1"},
    {"BOOL", 0, 2, "0 or 1, or false and true"},
};
static const int_type *int_type_of(const char *dt) {
  for (size_t i = 0; i < sizeof int_types / sizeof *int_types; i++)
    if (strcmp(dt, int_types[i].name) == 0) return &int_types[i];
  return NULL;
}


/* rows over --max-batch-rows: answered 413, returns 1; else 0. */
static int over_max_rows(ls_worker *w, ls_conn *c, int64_t rows) {
  const ls_config *cfg = &w->srv->cfg;
  if (!cfg->max_rows || (uint64_t)rows <= cfg->max_rows) return 0;
  char msg[160];
  snprintf(msg, sizeof msg, "%lld rows: over the limit of %llu rows per request (--max-batch-rows)",
           (long long)rows, (unsigned long long)cfg->max_rows);
  ls_respond_error(w, c, 413, NULL, msg);
  return 1;
}

/* The single input tensor [rows, features] (or [features]: one row), JSON or binary data, into
 * w->vals (doubles) or w->fvals (*f32). Returns 0 with *np rows, or the status of the error
 * response already written. */
static int single_tensor(ls_worker *w, ls_conn *c, ls_slot *slot, ls_version *v, ls_infer_req *q,
                         const char *body, size_t blen, size_t jlen, int64_t ihl, size_t *np,
                         int *f32p) {
  char msg[320];
  int f32 = 0;
  size_t esz = 0;
  const char *dt = q->datatype;
  const int_type *it = NULL;
  if (strcmp(dt, "FP32") == 0) esz = 4, f32 = 1;
  else if (strcmp(dt, "FP64") == 0) esz = 8;
  else if ((it = int_type_of(dt)) != NULL)
    esz = 0;
  else {
    char e[40];
    ls_json_escape(e, sizeof e, dt, strlen(dt));
    snprintf(msg, sizeof msg, "unsupported datatype '%s': expected FP32, FP64, INT*, UINT* or BOOL%s", e,
             dt[0] ? "" : " (datatype missing)");
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if (q->has_bool && (!it || strcmp(it->name, "BOOL") != 0)) {
    ls_respond_error(w, c, 400, NULL, "true/false in a tensor that is not BOOL");
    return 400;
  }
  int64_t rows, cols;
  if (q->ndim == 2) rows = q->shape[0], cols = q->shape[1];
  else if (q->ndim == 1) rows = 1, cols = q->shape[0];
  else {
    snprintf(msg, sizeof msg, "shape must be [rows, %zu] (or [%zu] for one row), got %d dimensions",
             v->nfeat, v->nfeat, q->ndim);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if ((uint64_t)cols != v->nfeat) {
    snprintf(msg, sizeof msg, "shape [%lld, %lld]: model '%s' expects %zu features per row",
             (long long)rows, (long long)cols, slot->name, v->nfeat);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  uint64_t total;
  if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)cols, &total) || total > (1ull << 40)) {
    ls_respond_error(w, c, 400, NULL, "shape too large");
    return 400;
  }
  *np = (size_t)rows;
  if (over_max_rows(w, c, rows)) return 413;
  if (q->binary_size >= 0) {
    if (ihl < 0) {
      ls_respond_error(w, c, 400, NULL,
                    "binary_data_size without an Inference-Header-Content-Length header");
      return 400;
    }
    if (q->has_data || esz == 0) {
      ls_respond_error(w, c, 400, NULL,
                    q->has_data ? "input has both data and binary_data_size"
                               : "binary tensor data supports FP32 and FP64 only");
      return 400;
    }
    if ((uint64_t)q->binary_size != total * esz || blen - jlen != (size_t)q->binary_size) {
      snprintf(msg, sizeof msg,
               "binary_data_size %lld, binary bytes %zu: shape [%lld, %lld] %s needs %llu",
               (long long)q->binary_size, blen - jlen, (long long)rows, (long long)cols, dt,
               (unsigned long long)(total * esz));
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (f32 ? ls_grow((void **)&w->fvals, &w->fvals_cap, total, sizeof(float))
            : ls_grow((void **)&w->vals, &w->vals_cap, total, sizeof(double))) {
      ls_respond_error(w, c, 500, NULL, "out of memory");
      return 500;
    }
    memcpy(f32 ? (void *)w->fvals : (void *)w->vals, body + jlen, (size_t)q->binary_size);
  } else {
    if (ihl >= 0 && blen != jlen) {
      ls_respond_error(w, c, 400, NULL, "binary data after the JSON header but no binary_data_size");
      return 400;
    }
    if (!q->has_data) {
      ls_respond_error(w, c, 400, NULL, "input has no data");
      return 400;
    }
    if (q->nvals != total) {
      snprintf(msg, sizeof msg, "data has %zu values; shape [%lld, %lld] needs %llu", q->nvals,
               (long long)rows, (long long)cols, (unsigned long long)total);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    /* Nested data must be nested as the shape says (the parser refused ragged arrays). */
    if (q->data_ndim > 1 && total > 0) {
      int same = q->data_ndim == q->ndim;
      for (int d = 0; same && d < q->ndim; d++) same = q->data_dims[d] == q->shape[d];
      if (!same) {
        char dims[96] = "";
        for (int d = 0; d < q->data_ndim && d < 8; d++) {
          size_t l = strlen(dims);
          snprintf(dims + l, sizeof dims - l, "%s%lld", d ? ", " : "", (long long)q->data_dims[d]);
        }
        snprintf(msg, sizeof msg, "data nested as [%s] but shape is [%lld, %lld]", dims,
                 (long long)rows, (long long)cols);
        if (q->ndim == 1)
          snprintf(msg, sizeof msg, "data nested as [%s] but shape is [%lld]", dims, (long long)cols);
        ls_respond_error(w, c, 400, NULL, msg);
        return 400;
      }
    }
    if (it) {
      for (size_t i = 0; i < total; i++) {
        double x = w->vals[i];
        if (x != x) continue; /* null: missing */
        if (x != floor(x) || x < it->lo || x >= it->hi_excl) {
          snprintf(msg, sizeof msg, "data[%zu] = %.17g is not an %s (integers %s)", i, x, it->name,
                   it->range);
          ls_respond_error(w, c, 400, NULL, msg);
          return 400;
        }
      }
    }
    if (f32) {
      if (ls_grow((void **)&w->fvals, &w->fvals_cap, total, sizeof(float))) {
        ls_respond_error(w, c, 500, NULL, "out of memory");
        return 500;
      }
      for (size_t i = 0; i < total; i++) w->fvals[i] = (float)w->vals[i];
    }
  }
  *f32p = f32;
  return 0;
}

/* Feature index of an input tensor's name (raw JSON string content), or -1. Models without
 * feature names answer to XGBoost's default names f0, f1, …. */
static long feature_index(ls_version *v, const char *raw, size_t rn) {
  char nm[256];
  size_t l = ls_json_decode(raw, rn, nm, sizeof nm);
  if (v->nfeat && !lm_model_feature_name(v->model, 0)) { /* f0, f1, …: read the digits */
    size_t i = 0, k = 1;
    if (l < 2 || l > 12 || nm[0] != 'f' || (nm[1] == '0' && l > 2)) return -1;
    for (; k < l && nm[k] >= '0' && nm[k] <= '9'; k++) i = 10 * i + (size_t)(nm[k] - '0');
    return k == l && i < v->nfeat ? (long)i : -1;
  }
  for (size_t i = 0; i < v->nfeat; i++) {
    const char *f = lm_model_feature_name(v->model, i);
    if (f && strlen(f) == l && memcmp(f, nm, l) == 0) return (long)i;
  }
  return -1;
}

static const char *feature_label(ls_version *v, size_t i, char *buf, size_t cap) {
  const char *f = lm_model_feature_name(v->model, i);
  if (f) {
    ls_json_escape(buf, cap, f, strlen(f));
  } else {
    snprintf(buf, cap, "f%zu", i);
  }
  return buf;
}


/* One input tensor per feature, matched by name in any order, each [rows] or [rows, 1] of
 * FP32, FP64, INT*, UINT* or BOOL: the rows assembled row-major in w->cols, then swapped into
 * w->vals. Returns 0 with *np rows, or the status of the error response already written. */
static int per_feature(ls_worker *w, ls_conn *c, ls_version *v, ls_infer_req *q, size_t *np) {
  char msg[400], e[160];
  size_t nin = (size_t)q->ninputs;
  if (ls_grow_or_500(w, c, (void **)&w->fseen, &w->fseen_cap, v->nfeat, 1)) return 500;
  memset(w->fseen, 0, v->nfeat);
  int64_t rows = -1;
  for (size_t k = 0; k < nin; k++) {
    ls_input *in = &w->ins[k];
    long f = in->name ? feature_index(v, in->name, in->name_len) : -1;
    char nm[160];
    size_t l = ls_json_decode(in->name ? in->name : "", in->name ? in->name_len : 0, nm, 120);
    ls_json_escape(e, sizeof e, nm, l);
    if (f < 0 && l == 7 && memcmp(nm, "input-0", 7) == 0) {
      snprintf(msg, sizeof msg, "%zu inputs: input-0 is the single [rows, %zu] tensor: send it "
               "alone, or one input per feature", nin, v->nfeat);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (f < 0) {
      snprintf(msg, sizeof msg, "unknown feature '%s': one input per feature, named as in the "
               "model's metadata (inputs[0].parameters.feature_names)", e);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (w->fseen[f]) {
      snprintf(msg, sizeof msg, "feature '%s' given twice", e);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    w->fseen[f] = 1;
    const int_type *it = int_type_of(in->datatype);
    int fp32 = strcmp(in->datatype, "FP32") == 0;
    if (!fp32 && !it && strcmp(in->datatype, "FP64") != 0) {
      char d[40];
      ls_json_escape(d, sizeof d, in->datatype, strlen(in->datatype));
      snprintf(msg, sizeof msg, "feature '%s': unsupported datatype '%s': expected FP32, FP64, "
               "INT*, UINT* or BOOL", e, d);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (in->binary_size >= 0 || !in->has_data) {
      snprintf(msg, sizeof msg, "feature '%s': per-feature inputs take JSON data (no binary data)",
               e);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (!(in->ndim == 1 || (in->ndim == 2 && in->shape[1] == 1)) ||
        (in->data_ndim > 1 && (in->data_ndim != in->ndim || in->data_dims[0] != in->shape[0] ||
                               in->data_dims[1] != 1))) {
      snprintf(msg, sizeof msg, "feature '%s': shape must be [rows] or [rows, 1] with data "
               "nested alike", e);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (rows < 0) rows = in->shape[0];
    if (in->shape[0] != rows || (uint64_t)in->shape[0] != in->nvals) {
      snprintf(msg, sizeof msg, "feature '%s': %zu values, shape [%lld]; every feature needs the "
               "same %lld rows", e, in->nvals, (long long)in->shape[0], (long long)rows);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (in->has_bool && (!it || strcmp(it->name, "BOOL") != 0)) {
      snprintf(msg, sizeof msg, "feature '%s': true/false in a %s tensor", e, in->datatype);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    for (size_t i = 0; it && i < in->nvals; i++) {
      double x = w->vals[in->off + i];
      if (x == x && (x != floor(x) || x < it->lo || x >= it->hi_excl)) {
        snprintf(msg, sizeof msg, "feature '%s': data[%zu] = %.17g is not %s (%s)", e, i, x,
                 it->name, it->range);
        ls_respond_error(w, c, 400, NULL, msg);
        return 400;
      }
    }
  }
  size_t missing = 0, first = 0;
  for (size_t i = 0; i < v->nfeat; i++)
    if (!w->fseen[i] && !missing++) first = i;
  if (missing) {
    char lab[160];
    snprintf(msg, sizeof msg, "%zu feature%s missing, the first '%s': give one input per "
             "feature (a missing value is null)", missing, missing > 1 ? "s" : "",
             feature_label(v, first, lab, sizeof lab));
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  size_t n = (size_t)rows, total = n * v->nfeat;
  if (over_max_rows(w, c, rows)) return 413;
  if (ls_grow((void **)&w->cols, &w->cols_cap, total ? total : 1, sizeof(double))) {
    ls_respond_error(w, c, 500, NULL, "out of memory");
    return 500;
  }
  for (size_t k = 0; k < nin; k++) {
    ls_input *in = &w->ins[k];
    size_t f = (size_t)feature_index(v, in->name, in->name_len);
    int fp32 = strcmp(in->datatype, "FP32") == 0;
    for (size_t r = 0; r < n; r++) {
      double x = w->vals[in->off + r];
      w->cols[r * v->nfeat + f] = fp32 ? (double)(float)x : x; /* FP32: a float's value */
    }
  }
  double *t = w->vals;
  size_t tc = w->vals_cap;
  w->vals = w->cols, w->vals_cap = w->cols_cap;
  w->cols = t, w->cols_cap = tc;
  *np = n;
  return 0;
}

int ls_infer(ls_worker *w, ls_conn *c, ls_slot *slot, ls_version *v, const char *body,
             size_t blen) {
  char msg[480];
  int64_t ihl = c->req.infer_header_len;
  if (ihl > (int64_t)blen) {
    ls_respond_error(w, c, 400, NULL, "Inference-Header-Content-Length exceeds the body");
    return 400;
  }
  size_t jlen = ihl >= 0 ? (size_t)ihl : blen;
  ls_infer_req q;
  /* Values are parsed into scratch before the shape is known: bounded by the row limit. */
  uint64_t lim = w->srv->cfg.max_rows * (uint64_t)(v->nfeat ? v->nfeat : 1);
  w->vals_limit = w->srv->cfg.max_rows && lim / (v->nfeat ? v->nfeat : 1) == w->srv->cfg.max_rows
                      ? (size_t)lim : 0;
  int prc = ls_v2_parse(w, body, jlen, &q);
  w->vals_limit = 0;
  if (prc) {
    int st = q.too_many_values ? 413 : 400;
    ls_respond_error(w, c, st, NULL, q.err);
    return st;
  }

  if (q.unknown_param[0]) {
    char e[120];
    ls_json_escape(e, sizeof e, q.unknown_param, strlen(q.unknown_param));
    snprintf(msg, sizeof msg, "unknown parameter '%s': lmserve knows output_margin, pred_leaf, "
             "pred_contribs, binary_data_output (request), binary_data, output_margin (outputs), "
             "binary_data_size, content_type (inputs)", e);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if (q.bad_output_name) {
    ls_respond_error(w, c, 400, NULL,
                     "unknown output requested: the model's outputs are output-0, leaf and "
                     "contrib");
    return 400;
  }
  /* pred_leaf / pred_contribs: their outputs instead of output-0 (added to those named) */
  unsigned extra = (q.pred_leaf ? LS_OUT_LEAF : 0) | (q.pred_contribs ? LS_OUT_CONTRIB : 0);
  unsigned want = extra ? q.want | extra : q.want ? q.want : LS_OUT_PRED;
  size_t ntrees = lm_model_num_trees(v->model);
  if ((want & LS_OUT_LEAF) && ntrees == 0) {
    snprintf(msg, sizeof msg, "model '%s' has no trees: no leaf output", slot->name);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if ((want & LS_OUT_CONTRIB) && !v->contrib) {
    snprintf(msg, sizeof msg, "model '%s' has no contributions (contrib output): %s", slot->name,
             v->contrib_why);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if (q.ninputs < 1) {
    snprintf(msg, sizeof msg, "no input tensor: send one [rows, %zu] tensor or one per feature",
             v->nfeat);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  size_t n = 0;
  int f32 = 0, st;
  if (q.ninputs > 1 || (w->ins[0].name && feature_index(v, w->ins[0].name, w->ins[0].name_len) >= 0))
    st = per_feature(w, c, v, &q, &n);
  else
    st = single_tensor(w, c, slot, v, &q, body, blen, jlen, ihl, &n, &f32);
  if (st) return st;
  unsigned bin = q.binary_output ? want : q.binary_want & want;
  /* The response's largest size: each FP32 value printed %.9g takes at most 15 characters and
   * a comma, a leaf id 10 and a comma (binary: 4 bytes each), plus the JSON around them. */
  unsigned flags = q.output_margin ? LM_PREDICT_MARGIN : 0;
  size_t width = lm_model_output_width(v->model, flags), nout = n * width;
  size_t cwidth = want & LS_OUT_CONTRIB ? lm_model_contrib_width(v->model) : 0, ncon = n * cwidth;
  uint64_t resp = 0, per = 0;
  if (want & LS_OUT_PRED) per += (uint64_t)width * (bin & LS_OUT_PRED ? 4u : 16u);
  if (want & LS_OUT_LEAF) per += (uint64_t)ntrees * (bin & LS_OUT_LEAF ? 4u : 11u);
  per += (uint64_t)cwidth * (bin & LS_OUT_CONTRIB ? 4u : 16u);
  if (__builtin_mul_overflow((uint64_t)n, per, &resp)) resp = UINT64_MAX;
  else resp += 768 + slot->name_len + q.id_len;
  ls_config *cfg = &w->srv->cfg;
  if (cfg->max_response && resp > cfg->max_response) {
    snprintf(msg, sizeof msg,
             "response of %zu rows x %zu outputs could take %llu bytes: over the limit of %zu "
             "(--max-response-bytes)",
             n, (want & LS_OUT_PRED ? width : 0) + (want & LS_OUT_LEAF ? ntrees : 0) + cwidth,
             (unsigned long long)resp, cfg->max_response);
    ls_respond_error(w, c, 413, NULL, msg);
    return 413;
  }
  if (ls_grow((void **)&w->outs, &w->outs_cap, nout ? nout : 1, sizeof(float)) ||
      ((want & LS_OUT_LEAF) &&
       (ls_grow((void **)&w->leaves, &w->leaves_cap, (n * ntrees) + 1, sizeof(uint32_t)) ||
        (!f32 && ls_grow((void **)&w->fvals, &w->fvals_cap, (n * v->nfeat) + 1,
                      sizeof(float))))) ||
      ((want & LS_OUT_CONTRIB) &&
       ls_grow((void **)&w->contribs, &w->contribs_cap, ncon + 1, sizeof(float)))) {
    ls_respond_error(w, c, 500, NULL, "out of memory");
    return 500;
  }
  int rc = 0;
  if (n) {
    lm_session *sess = v->sess[w->idx];
    uint64_t t0 = ls_now_ns();
    if (want & LS_OUT_PRED)
      rc = f32 ? lm_predict(sess, w->fvals, n, flags, w->outs)
               : lm_predict_f64(sess, w->vals, n, flags, w->outs);
    if (rc >= 0 && (want & LS_OUT_LEAF)) {
      /* Leaves take float rows (XGBoost's own rounding; LightGBM's f64 thresholds compare
       * the float value: documented). */
      if (!f32)
        for (size_t i = 0; i < n * v->nfeat; i++) w->fvals[i] = (float)w->vals[i];
      rc = lm_predict_leaf(sess, w->fvals, n, w->leaves);
    }
    /* contributions after leaves: for FP64 rows w->fvals may now hold their float rounding,
     * but lm_predict_contrib_f64 rounds the same way itself */
    if (rc >= 0 && (want & LS_OUT_CONTRIB))
      rc = f32 ? lm_predict_contrib(sess, w->fvals, n, w->contribs)
               : lm_predict_contrib_f64(sess, w->vals, n, w->contribs);
    uint64_t t1 = ls_now_ns();
    ls_hist_observe(&w->m.inf_dur[slot - w->srv->reg.slots], t1 - t0);
  }
  if (rc == LM_EUNSUPPORTED && (want & LS_OUT_CONTRIB)) { /* a tree model the library refuses */
    const char *e = lm_last_error(), *p = strstr(e, ".lm: ");
    snprintf(msg, sizeof msg, "model '%s' has no contributions (contrib output): %s", slot->name,
             p ? p + 5 : e);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if (rc < 0) {
    snprintf(msg, sizeof msg, "scoring failed: %s: %s", lm_strerror(rc), lm_last_error());
    ls_respond_error(w, c, 500, NULL, msg);
    return 500;
  }
  ls_buf *b = &w->body;
  b->len = 0;
  ls_buf_puts(b, "{\"model_name\":\"");
  ls_buf_append(b, slot->name, slot->name_len);
  ls_buf_puts(b, "\",\"model_version\":\"");
  ls_buf_puts(b, v->vstr);
  if (q.id) {
    ls_buf_puts(b, "\",\"id\":\"");
    ls_buf_append(b, q.id, q.id_len);
  }
  ls_buf_puts(b, "\",\"outputs\":[");
  if (want & LS_OUT_PRED) {
    ls_buf_puts(b, "{\"name\":\"output-0\",\"datatype\":\"FP32\",\"shape\":[");
    ls_buf_u64(b, n);
    ls_buf_puts(b, ",");
    ls_buf_u64(b, width);
    ls_buf_puts(b, "],");
    ls_buf_puts(b, q.output_margin ? "\"parameters\":{\"output_margin\":true" : "\"parameters\":{");
    if (bin & LS_OUT_PRED) {
      ls_buf_puts(b, q.output_margin ? ",\"binary_data_size\":" : "\"binary_data_size\":");
      ls_buf_u64(b, nout * sizeof(float));
      ls_buf_puts(b, "}}");
    } else {
      ls_buf_puts(b, "},\"data\":[");
      for (size_t i = 0; i < nout; i++) {
        if (i) ls_buf_append(b, ",", 1);
        fmt_float(b, w->outs[i]);
      }
      ls_buf_puts(b, "]}");
    }
  }
  size_t nleaf = n * ntrees;
  if (want & LS_OUT_LEAF) {
    if (want & LS_OUT_PRED) ls_buf_append(b, ",", 1);
    const size_t dims[2] = {n, ntrees};
    if (!out_head(b, "leaf", "UINT32", dims, 2, bin & LS_OUT_LEAF, nleaf * sizeof(uint32_t))) {
      for (size_t i = 0; i < nleaf; i++) {
        if (i) ls_buf_append(b, ",", 1);
        ls_buf_u64(b, w->leaves[i]);
      }
      ls_buf_puts(b, "]}");
    }
  }
  if (want & LS_OUT_CONTRIB) {
    size_t G = lm_model_num_outputs(v->model);
    if (want & (LS_OUT_PRED | LS_OUT_LEAF)) ls_buf_append(b, ",", 1);
    const size_t dims[3] = {n, G, v->nfeat + 1}, dims1[2] = {n, v->nfeat + 1};
    if (!out_head(b, "contrib", "FP32", G == 1 ? dims1 : dims, G == 1 ? 2 : 3,
                  bin & LS_OUT_CONTRIB, ncon * sizeof(float))) {
      for (size_t i = 0; i < ncon; i++) {
        if (i) ls_buf_append(b, ",", 1);
        fmt_float(b, w->contribs[i]);
      }
      ls_buf_puts(b, "]}");
    }
  }
  ls_buf_puts(b, "]}");
  if (bin) {
    size_t hlen = b->len;
    if (bin & LS_OUT_PRED) ls_buf_append(b, w->outs, nout * sizeof(float));
    if (bin & LS_OUT_LEAF) ls_buf_append(b, w->leaves, nleaf * sizeof(uint32_t));
    if (bin & LS_OUT_CONTRIB) ls_buf_append(b, w->contribs, ncon * sizeof(float));
    char extra[64];
    snprintf(extra, sizeof extra, "Inference-Header-Content-Length: %zu\r\n", hlen);
    ls_respond(w, c, 200, "application/octet-stream", extra, b->p, b->len);
    return 200;
  }
  ls_respond_json(w, c, 200, NULL);
  return 200;
}
