/*
 * sagemaker.c — SageMaker's inference container contract on lmserve's request path, as
 * SageMaker's XGBoost container answers it: GET /ping (200 when ready, else 503), GET
 * /execution-parameters (what Batch Transform should send: MultiRecord, payload and
 * concurrency from lmserve's limits) and POST /invocations scoring rows of the one model served
 * (the first in name order when the directory holds several). Request Content-Type: text/csv
 * (the default when absent: rows without header, one per line, comma-separated, an empty field,
 * nan or NA = missing), text/libsvm or text/x-libsvm (sparse rows "label index:value ...",
 * lmscore's LIBSVM reader), application/json (an array of rows, one row, or {"instances":
 * rows}) or application/x-recordio-protobuf (recordio.c: dense and sparse float32, float64 and
 * int32 tensors, as the XGBoost container reads them); an empty body is a 204; other types a 415. The answer is in the type Accept asks for
 * (absent, or the wildcard type: text/csv):
 * text/csv — predictions joined by commas, a multi-output row as "[a, b, …]" (the XGBoost
 * container's str() of a row); application/json — {"predictions":[{"score":v}, …]} (score a
 * list for multi-output rows); application/jsonlines — one {"score":v} per line; anything else
 * a 406. Values go to the worker's scratch like V2 requests (no allocation once warm).
 * lmserve --sagemaker sets the container defaults (models in /opt/ml/model, port 8080) and reads
 * SageMaker's environment (lmserve.c); with SAGEMAKER_BATCH a text/csv answer has one prediction
 * per line, as the XGBoost container's in Batch Transform.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/ls.h"
#include "tools/csv.h"

/* The media type of a Content-Type or of Accept's first entry: s[0..n) up to ';' or ',',
 * blanks trimmed, compared case-insensitively. */
static int media_is(const char *s, size_t n, const char *lit) {
  size_t e = 0;
  while (e < n && s[e] != ';' && s[e] != ',') e++;
  while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
  size_t b = 0;
  while (b < e && (s[b] == ' ' || s[b] == '\t')) b++;
  return e - b == strlen(lit) && strncasecmp(s + b, lit, e - b) == 0;
}

enum { OUT_CSV, OUT_JSON, OUT_JSONL };

/* text/csv rows into w->vals: 0 with *rows, or the status of the error already written. */
static int parse_csv(ls_worker *w, ls_conn *c, ls_version *v, const char *p, size_t n,
                     size_t *rows) {
  char msg[200];
  size_t nv = 0, r = 0, i = 0;
  while (i < n) {
    size_t le = i;
    while (le < n && p[le] != '\n') le++;
    size_t e = le;
    if (e > i && p[e - 1] == '\r') e--;
    if (e == i) { /* blank line */
      i = le + 1;
      continue;
    }
    size_t f = 0;
    for (size_t s = i; s <= e;) {
      size_t fe = s;
      while (fe < e && p[fe] != ',') fe++;
      size_t a = s, b = fe;
      while (a < b && (p[a] == ' ' || p[a] == '\t')) a++;
      while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t')) b--;
      double x = NAN;
      char tmp[64];
      if (b > a && !(b - a == 3 && strncasecmp(p + a, "nan", 3) == 0) &&
          !(b - a == 2 && memcmp(p + a, "NA", 2) == 0)) {
        char *end;
        if (b - a >= sizeof tmp) goto bad;
        memcpy(tmp, p + a, b - a);
        tmp[b - a] = 0;
        x = strtod(tmp, &end);
        if (*end || isinf(x) != 0 || tmp[0] == '+' || (tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'X'))) {
        bad:
          snprintf(msg, sizeof msg, "text/csv: row %zu, field %zu is not a number", r + 1, f + 1);
          ls_respond_error(w, c, 400, NULL, msg);
          return 400;
        }
      }
      if (f < v->nfeat) {
        if (w->vals_limit && nv >= w->vals_limit) {
          ls_respond_error(w, c, 413, NULL, "text/csv: more rows than --max-batch-rows");
          return 413;
        }
        if (ls_grow_or_500(w, c, (void **)&w->vals, &w->vals_cap, nv + 1, sizeof(double))) return 500;
        w->vals[nv++] = x;
      }
      f++;
      s = fe + 1;
    }
    if (f != v->nfeat) {
      snprintf(msg, sizeof msg, "text/csv: row %zu has %zu fields; the model has %zu features",
               r + 1, f, v->nfeat);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    r++;
    i = le + 1;
  }
  *rows = r;
  return 0;
}

/* text/libsvm rows into w->vals: "label index:value ..." per line, read by lmscore's reader
 * (tools/csv.c, lm_csv_libsvm_row: indices 0-based as XGBoost's parser takes them by default,
 * features a row does not give missing); blank lines skipped as XGBoost's parser does. 0 with
 * *rows, or the status of the error already written. */
static int parse_libsvm(ls_worker *w, ls_conn *c, ls_version *v, const char *p, size_t n,
                        size_t *rows) {
  char msg[600], err[400];
  size_t nv = 0, r = 0, i = 0, nf = v->nfeat;
  if (ls_grow_or_500(w, c, (void **)&w->fseen, &w->fseen_cap, nf, 1)) return 500;
  while (i < n) {
    size_t le = i;
    while (le < n && p[le] != '\n') le++;
    size_t e = le;
    if (e > i && p[e - 1] == '\r') e--;
    size_t b = i;
    while (b < e && (p[b] == ' ' || p[b] == '\t')) b++;
    if (b == e) { /* blank line */
      i = le + 1;
      continue;
    }
    if (w->vals_limit && nv + nf > w->vals_limit) {
      ls_respond_error(w, c, 413, NULL, "text/libsvm: more rows than --max-batch-rows");
      return 413;
    }
    if (nv + nf > ls_sparse_values_max(n)) {
      snprintf(msg, sizeof msg, "text/libsvm: %zu rows of %zu features pass the scratch bound "
               "for sparse bodies (rows x features <= max(body bytes, %zu)): send fewer rows "
               "per request", r + 1, nf, LS_SPARSE_MIN_VALUES);
      ls_respond_error(w, c, 413, NULL, msg);
      return 413;
    }
    if (ls_grow_or_500(w, c, (void **)&w->vals, &w->vals_cap, nv + nf, sizeof(double))) return 500;
    size_t col = 1;
    if (lm_csv_libsvm_row(p + i, e - i, nf, w->vals + nv, w->fseen, err, sizeof err, &col) < 0) {
      snprintf(msg, sizeof msg, "text/libsvm: row %zu, byte %zu: %s", r + 1, col, err);
      ls_respond_error(w, c, 400, NULL, msg);
      return 400;
    }
    nv += nf;
    r++;
    i = le + 1;
  }
  *rows = r;
  return 0;
}

int ls_sagemaker(ls_worker *w, ls_conn *c, int kind, const char *body, size_t blen, int *model) {
  ls_server *s = w->srv;
  char msg[300];
  if (kind == 0) { /* /ping */
    int ready = ls_ready(s, NULL);
    w->body.len = 0;
    ls_respond(w, c, ready ? 200 : 503, "text/plain", NULL, "", 0);
    return ready ? 200 : 503;
  }
  if (kind == 2) { /* GET /execution-parameters: what Batch Transform should send */
    size_t mb = s->cfg.max_body / 1048576;
    w->body.len = 0;
    ls_buf_printf(&w->body, "{\"MaxConcurrentTransforms\":%d,\"BatchStrategy\":\"MULTI_RECORD\","
                  "\"MaxPayloadInMB\":%zu}", s->nworkers, mb ? (mb < 100 ? mb : 100) : 1);
    ls_respond_json(w, c, 200, NULL);
    return 200;
  }
  ls_slot *slot = NULL;
  ls_version *v = NULL;
  int ns = atomic_load_explicit(&s->reg.nslots, memory_order_acquire);
  for (int i = 0; i < ns; i++) { /* the first in name order */
    ls_slot *sl = &s->reg.slots[i];
    if (!atomic_load_explicit(&sl->live, memory_order_acquire)) continue;
    ls_version *cv = atomic_load(&sl->cur);
    if (cv && (!slot || strcmp(sl->name, slot->name) < 0)) slot = sl, v = cv;
  }
  if (!v) {
    ls_respond_error(w, c, 503, NULL, "no model loaded");
    return 503;
  }
  *model = (int)(slot - s->reg.slots);
  const char *ct = c->req.ctype, *ac = c->req.accept;
  size_t ctl = c->req.ctype_len, acl = c->req.accept_len;
  int out;
  if (!ac || acl == 0 || media_is(ac, acl, "*/*") || media_is(ac, acl, "text/csv")) out = OUT_CSV;
  else if (media_is(ac, acl, "application/json")) out = OUT_JSON;
  else if (media_is(ac, acl, "application/jsonlines")) out = OUT_JSONL;
  else {
    char e[120];
    ls_json_escape(e, sizeof e, ac, acl < 100 ? acl : 100);
    snprintf(msg, sizeof msg, "Accept '%s' not supported: text/csv, application/json or "
             "application/jsonlines", e);
    ls_respond_error(w, c, 406, NULL, msg);
    return 406;
  }
  if (blen == 0) {
    ls_respond(w, c, 204, "text/plain", NULL, "", 0);
    return 204;
  }
  uint64_t lim = s->cfg.max_rows * (uint64_t)(v->nfeat ? v->nfeat : 1);
  w->vals_limit = s->cfg.max_rows ? (size_t)lim : 0;
  size_t rows = 0;
  int st = 0;
  if (!ct || ctl == 0 || media_is(ct, ctl, "text/csv")) {
    st = parse_csv(w, c, v, body, blen, &rows);
  } else if (media_is(ct, ctl, "text/libsvm") || media_is(ct, ctl, "text/x-libsvm")) {
    st = parse_libsvm(w, c, v, body, blen, &rows);
  } else if (media_is(ct, ctl, "application/x-recordio-protobuf")) {
    st = ls_recordio_parse(w, c, v, body, blen, &rows);
  } else if (media_is(ct, ctl, "application/json")) {
    ls_infer_req q;
    if (ls_rows_json_parse(w, body, blen, &q)) {
      w->vals_limit = 0;
      int es = q.too_many_values ? 413 : 400;
      ls_respond_error(w, c, es, NULL, q.err);
      return es;
    }
    size_t cols = q.data_ndim == 1 ? (size_t)q.data_dims[0] : q.data_ndim == 2 ? (size_t)q.data_dims[1] : 0;
    rows = q.data_ndim == 1 ? 1 : q.data_ndim == 2 ? (size_t)q.data_dims[0] : 0;
    if (q.nvals == 0) rows = 0, cols = v->nfeat;
    if (q.data_ndim > 2 || cols != v->nfeat) {
      snprintf(msg, sizeof msg, "application/json: rows of %zu values; the model has %zu features",
               cols, v->nfeat);
      ls_respond_error(w, c, 400, NULL, msg);
      st = 400;
    }
  } else {
    char e[120];
    ls_json_escape(e, sizeof e, ct, ctl < 100 ? ctl : 100);
    snprintf(msg, sizeof msg, "Content-Type '%s' not supported: text/csv, text/libsvm, "
             "application/json or application/x-recordio-protobuf", e);
    ls_respond_error(w, c, 415, NULL, msg);
    st = 415;
  }
  w->vals_limit = 0;
  if (st) return st;
  if (s->cfg.max_rows && rows > s->cfg.max_rows) {
    ls_respond_error(w, c, 413, NULL, "more rows than --max-batch-rows");
    return 413;
  }
  size_t width = v->width, nout = rows * width;
  if (s->cfg.max_response && nout * 24 + 64 > s->cfg.max_response) {
    ls_respond_error(w, c, 413, NULL, "response over --max-response-bytes");
    return 413;
  }
  if (ls_grow_or_500(w, c, (void **)&w->outs, &w->outs_cap, nout, sizeof(float))) return 500;
  if (rows) {
    uint64_t t0 = ls_now_ns();
    int rc = lm_predict_f64(v->sess[w->idx], w->vals, rows, 0, w->outs);
    ls_hist_observe(&w->m.inf_dur[*model], ls_now_ns() - t0);
    if (rc < 0) {
      snprintf(msg, sizeof msg, "scoring failed: %s", lm_strerror(rc));
      ls_respond_error(w, c, 500, NULL, msg);
      return 500;
    }
  }
  ls_buf *b = &w->body;
  b->len = 0;
  if (out == OUT_JSON) ls_buf_puts(b, "{\"predictions\":[");
  for (size_t r = 0; r < rows; r++) {
    const float *o = w->outs + r * width;
    if (out == OUT_CSV) {
      if (r && !s->cfg.sm_batch) ls_buf_puts(b, ",");
      if (width > 1) ls_buf_puts(b, "[");
      for (size_t k = 0; k < width; k++)
        ls_buf_printf(b, k ? ", %.9g" : "%.9g", (double)o[k]);
      if (width > 1) ls_buf_puts(b, "]");
      if (s->cfg.sm_batch) ls_buf_puts(b, "\n"); /* SAGEMAKER_BATCH: one per line */
      continue;
    }
    ls_buf_puts(b, out == OUT_JSON && r ? ",{\"score\":" : "{\"score\":");
    if (width > 1) ls_buf_puts(b, "[");
    for (size_t k = 0; k < width; k++) {
      if (k) ls_buf_puts(b, ",");
      if (isfinite(o[k])) ls_buf_printf(b, "%.9g", (double)o[k]);
      else ls_buf_puts(b, "null");
    }
    ls_buf_puts(b, width > 1 ? "]}" : "}");
    if (out == OUT_JSONL) ls_buf_puts(b, "\n");
  }
  if (out == OUT_JSON) ls_buf_puts(b, "]}");
  ls_respond(w, c, 200,
             out == OUT_CSV ? "text/csv" : out == OUT_JSON ? "application/json"
                                                           : "application/jsonlines",
             NULL, b->p, b->len);
  return 200;
}
