/*
 * infer.c — KServe V2 inference on lmserve's request path: the request (JSON, or a JSON header
 * followed by binary tensor data) parsed into the worker's preallocated arrays (v2json.c), the
 * rows scored with lm_predict / lm_predict_f64 in the worker's session, and the response written
 * as JSON (%.9g floats, null for non-finite values) or as binary output data. Scratch arrays
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
  b->len += (size_t)snprintf(b->p + b->len, 32, "%.9g", (double)f);
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
};
static const int_type *int_type_of(const char *dt) {
  for (size_t i = 0; i < sizeof int_types / sizeof *int_types; i++)
    if (strcmp(dt, int_types[i].name) == 0) return &int_types[i];
  return NULL;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap * 2 > need ? *cap * 2 : need;
  void *n = realloc(*p, c * elem);
  if (!n) return -1;
  *p = n;
  *cap = c;
  return 0;
}

int ls_infer(ls_worker *w, ls_conn *c, ls_slot *slot, ls_version *v, const char *body,
             size_t blen) {
  char msg[320];
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
  if (q.ninputs != 1) {
    snprintf(msg, sizeof msg, "expected exactly one input tensor [rows, %zu], got %d", v->nfeat,
             q.ninputs);
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  if (q.bad_output_name) {
    ls_respond_error(w, c, 400, NULL, "unknown output requested: the model's output is output-0");
    return 400;
  }
  size_t esz = 0;
  int f32 = 0;
  const char *dt = q.datatype;
  const int_type *it = NULL;
  if (strcmp(dt, "FP32") == 0) esz = 4, f32 = 1;
  else if (strcmp(dt, "FP64") == 0) esz = 8;
  else if ((it = int_type_of(dt)) != NULL)
    esz = 0;
  else {
    char e[40];
    ls_json_escape(e, sizeof e, dt, strlen(dt));
    snprintf(msg, sizeof msg, "unsupported datatype '%s': expected FP32 or FP64%s", e,
             dt[0] ? "" : " (datatype missing)");
    ls_respond_error(w, c, 400, NULL, msg);
    return 400;
  }
  int64_t rows, cols;
  if (q.ndim == 2) rows = q.shape[0], cols = q.shape[1];
  else if (q.ndim == 1) rows = 1, cols = q.shape[0];
  else {
    snprintf(msg, sizeof msg, "shape must be [rows, %zu] (or [%zu] for one row), got %d dimensions",
             v->nfeat, v->nfeat, q.ndim);
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
  size_t n = (size_t)rows;
  ls_config *cfg = &w->srv->cfg;
  if (cfg->max_rows && (uint64_t)rows > cfg->max_rows) {
    snprintf(msg, sizeof msg, "%lld rows: over the limit of %llu rows per request (--max-batch-rows)",
             (long long)rows, (unsigned long long)cfg->max_rows);
    ls_respond_error(w, c, 413, NULL, msg);
    return 413;
  }
  /* The response's largest size: each FP32 value printed %.9g takes at most 15 characters and
   * a comma (binary: 4 bytes), plus the JSON around them. */
  uint64_t resp;
  if (__builtin_mul_overflow((uint64_t)rows, (uint64_t)v->width, &resp) ||
      __builtin_mul_overflow(resp, q.binary_output ? 4u : 16u, &resp))
    resp = UINT64_MAX;
  else
    resp += 512 + slot->name_len + q.id_len;
  if (cfg->max_response && resp > cfg->max_response) {
    snprintf(msg, sizeof msg,
             "response of %lld rows x %zu outputs could take %llu bytes: over the limit of %zu "
             "(--max-response-bytes)",
             (long long)rows, v->width, (unsigned long long)resp, cfg->max_response);
    ls_respond_error(w, c, 413, NULL, msg);
    return 413;
  }
  if (q.binary_size >= 0) {
    if (ihl < 0) {
      ls_respond_error(w, c, 400, NULL,
                    "binary_data_size without an Inference-Header-Content-Length header");
      return 400;
    }
    if (q.has_data || esz == 0) {
      ls_respond_error(w, c, 400, NULL,
                    q.has_data ? "input has both data and binary_data_size"
                               : "binary tensor data supports FP32 and FP64 only");
      return 400;
    }
    if ((uint64_t)q.binary_size != total * esz || blen - jlen != (size_t)q.binary_size) {
      snprintf(msg, sizeof msg,
               "binary_data_size %lld, binary bytes %zu: shape [%lld, %lld] %s needs %llu",
               (long long)q.binary_size, blen - jlen, (long long)rows, (long long)cols, dt,
               (unsigned long long)(total * esz));
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    if (f32 ? grow((void **)&w->fvals, &w->fvals_cap, total, sizeof(float))
            : grow((void **)&w->vals, &w->vals_cap, total, sizeof(double))) {
      ls_respond_error(w, c, 500, NULL, "out of memory");
      return 500;
    }
    memcpy(f32 ? (void *)w->fvals : (void *)w->vals, body + jlen, (size_t)q.binary_size);
  } else {
    if (ihl >= 0 && blen != jlen) {
      ls_respond_error(w, c, 400, NULL, "binary data after the JSON header but no binary_data_size");
      return 400;
    }
    if (!q.has_data) {
      ls_respond_error(w, c, 400, NULL, "input has no data");
      return 400;
    }
    if (q.nvals != total) {
      snprintf(msg, sizeof msg, "data has %zu values; shape [%lld, %lld] needs %llu", q.nvals,
               (long long)rows, (long long)cols, (unsigned long long)total);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    /* Nested data must be nested as the shape says (the parser refused ragged arrays). */
    if (q.data_ndim > 1 && total > 0) {
      int same = q.data_ndim == q.ndim;
      for (int d = 0; same && d < q.ndim; d++) same = q.data_dims[d] == q.shape[d];
      if (!same) {
        char dims[96] = "";
        for (int d = 0; d < q.data_ndim && d < 8; d++) {
          size_t l = strlen(dims);
          snprintf(dims + l, sizeof dims - l, "%s%lld", d ? ", " : "", (long long)q.data_dims[d]);
        }
        snprintf(msg, sizeof msg, "data nested as [%s] but shape is [%lld, %lld]", dims,
                 (long long)rows, (long long)cols);
        if (q.ndim == 1)
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
      if (grow((void **)&w->fvals, &w->fvals_cap, total, sizeof(float))) {
        ls_respond_error(w, c, 500, NULL, "out of memory");
        return 500;
      }
      for (size_t i = 0; i < total; i++) w->fvals[i] = (float)w->vals[i];
    }
  }
  size_t width = v->width, nout = n * width;
  if (grow((void **)&w->outs, &w->outs_cap, nout ? nout : 1, sizeof(float))) {
    ls_respond_error(w, c, 500, NULL, "out of memory");
    return 500;
  }
  int rc = 0;
  if (n) {
    lm_session *sess = v->sess[w->idx];
    uint64_t t0 = ls_now_ns();
    rc = f32 ? lm_predict(sess, w->fvals, n, 0, w->outs) : lm_predict_f64(sess, w->vals, n, 0, w->outs);
    uint64_t t1 = ls_now_ns();
    ls_hist_observe(&w->m.inf_dur[slot - w->srv->reg.slots], t1 - t0);
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
  ls_buf_printf(b, "\",\"outputs\":[{\"name\":\"output-0\",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],", n,
          width);
  if (q.binary_output) {
    ls_buf_printf(b, "\"parameters\":{\"binary_data_size\":%zu}}]}", nout * sizeof(float));
    size_t hlen = b->len;
    ls_buf_append(b, w->outs, nout * sizeof(float));
    char extra[64];
    snprintf(extra, sizeof extra, "Inference-Header-Content-Length: %zu\r\n", hlen);
    ls_respond(w, c, 200, "application/octet-stream", extra, b->p, b->len);
    return 200;
  }
  ls_buf_puts(b, "\"data\":[");
  for (size_t i = 0; i < nout; i++) {
    if (i) ls_buf_append(b, ",", 1);
    fmt_float(b, w->outs[i]);
  }
  ls_buf_puts(b, "]}]}");
  ls_respond_json(w, c, 200, NULL);
  return 200;
}
