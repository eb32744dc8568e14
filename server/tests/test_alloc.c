/*
 * test_alloc.c — proves lmserve's "no heap allocation on the request path after warm-up":
 * links the server's request path and liblmrt with malloc, calloc, realloc and free wrapped
 * (-Wl,--wrap), loads a real model (examples/model.tar.gz, converted here), warms one worker and
 * one connection up with one request of each kind, then drives 2,000 more — single-row JSON
 * inference (values checked against the warm-up answer), binary-tensor inference, health,
 * metadata, pipelined pairs, error responses, leaf + margin + contrib outputs — through ls_conn_process and asserts that none
 * of them called the allocator. Run by `make check` (check-server), also under ASan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/ls.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
static long allocs;
void *__wrap_malloc(size_t n) { allocs++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { allocs++; return __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { allocs++; return __real_realloc(p, n); }
void __wrap_free(void *p) {
  if (p) allocs++;
  __real_free(p);
}

static ls_server srv;
static ls_worker wk;
static int fails;

#define CHECK(c, ...)                                                     \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "test_alloc: FAIL %s:%d: ", __FILE__, __LINE__);    \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
      fails++;                                                            \
    }                                                                     \
  } while (0)

static char reqbuf[8192];

static size_t make_post(const char *path, const char *extra, const char *body, size_t blen) {
  int n = snprintf(reqbuf, sizeof reqbuf, "POST %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n",
                   path, extra, blen);
  memcpy(reqbuf + n, body, blen);
  return (size_t)n + blen;
}

/* The same body with Transfer-Encoding: chunked, in two chunks and a trailer. */
static size_t make_chunked(const char *path, const char *body, size_t blen) {
  size_t h = blen / 3;
  int n = snprintf(reqbuf, sizeof reqbuf,
                   "POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%zx;a=b\r\n%.*s"
                   "\r\n%zx\r\n%.*s\r\n0\r\nX-T: 1\r\n\r\n",
                   path, h, (int)h, body, blen - h, (int)(blen - h), body + h);
  return (size_t)n;
}

/* Feed bytes, return the output (NUL-terminated copy in a static buffer) and reset it. */
static const char *feed(ls_conn *c, const char *p, size_t n) {
  static char out[16384];
  memcpy(c->in.p + c->in.len, p, n);
  c->in.len += n;
  ls_conn_process(&wk, c, 1);
  size_t k = c->out.len < sizeof out - 1 ? c->out.len : sizeof out - 1;
  memcpy(out, c->out.p, k);
  out[k] = 0;
  c->out.len = 0;
  return out;
}

int main(void) {
  const char *src = getenv("LM_SRC");
  char in[4096], model[] = "/tmp/lmserve-alloc-XXXXXX";
  snprintf(in, sizeof in, "%s/examples/model.tar.gz", src ? src : ".");
  int fd = mkstemp(model);
  close(fd);
  lm_convert_options o = {0};
  o.quiet = 1;
  if (lm_convert(in, model, &o) < 0) {
    fprintf(stderr, "test_alloc: convert %s: %s\n", in, lm_last_error());
    return 1;
  }
  ls_log_level = LS_LOG_ERROR + 1;
  srv.cfg.max_header = 4096;
  srv.cfg.max_body = 1 << 20;
  srv.nworkers = 1;
  ls_registry_init(&srv.reg, "/nonexistent", 1);
  CHECK(ls_registry_load_file(&srv.reg, model, "example") == 0, "load");
  unlink(model);
  CHECK(ls_worker_init(&wk, &srv, 0) == 0, "worker");
  srv.workers = &wk;
  ls_conn c;
  CHECK(ls_conn_init(&c, srv.cfg.max_header + 16384, 16384) == 0, "conn");
  c.fd = 0;

  const char *json =
      "{\"id\":\"r\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,20],\"datatype\":\"FP32\","
      "\"data\":[4.01164722,5.40814734,1.10000002,14,6,4.80000019,0.988289475,15.4348793,25,16,0,"
      "12.0686932,0.0523917563,8.00209427,0,1,0,5,0.0158108566,8]}]}";
  char bin[512];
  const char *hdr = "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,20],\"datatype\":\"FP32\","
                    "\"parameters\":{\"binary_data_size\":80}}],\"parameters\":{\"binary_data_output\":true}}";
  size_t hl = strlen(hdr);
  memcpy(bin, hdr, hl);
  for (int i = 0; i < 20; i++) {
    float v = (float)i * 0.5f;
    memcpy(bin + hl + 4 * (size_t)i, &v, 4);
  }
  char ihcl[64];
  snprintf(ihcl, sizeof ihcl, "Inference-Header-Content-Length: %zu\r\n", hl);
  /* Issue 20: one tensor per feature (names from the model), margins and leaves, SageMaker
   * CSV, /metrics (process_* read without allocation). */
  static char pf[8192];
  ls_version *ev = atomic_load(&ls_registry_find(&srv.reg, "example", 7)->cur);
  static const double row[20] = {4.01164722, 5.40814734, 1.10000002, 14, 6, 4.80000019,
                                 0.988289475, 15.4348793, 25, 16, 0, 12.0686932, 0.0523917563,
                                 8.00209427, 0, 1, 0, 5, 0.0158108566, 8};
  size_t po = (size_t)snprintf(pf, sizeof pf, "{\"inputs\":[");
  for (int i = 0; i < 20; i++)
    po += (size_t)snprintf(pf + po, sizeof pf - po,
                           "%s{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[%.9g]}",
                           i ? "," : "", lm_model_feature_name(ev->model, (size_t)(19 - i)), row[19 - i]);
  po += (size_t)snprintf(pf + po, sizeof pf - po, "]}");
  const char *leafq =
      "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,20],\"datatype\":\"FP64\","
      "\"data\":[4.01164722,5.40814734,1.10000002,14,6,4.80000019,0.988289475,15.4348793,25,16,0,"
      "12.0686932,0.0523917563,8.00209427,0,1,0,5,0.0158108566,8]}],\"outputs\":[{\"name\":\"leaf\"},"
      "{\"name\":\"output-0\",\"parameters\":{\"output_margin\":true}},{\"name\":\"contrib\"}]}";
  const char *csv = "4.01164722,5.40814734,1.10000002,14,6,4.80000019,0.988289475,15.4348793,25,16,0,"
                    "12.0686932,0.0523917563,8.00209427,0,1,0,5,0.0158108566,8\n";
  /* The same row as sparse LIBSVM (label, then index:value for every feature; text/libsvm). */
  char svm[1024];
  {
    size_t k = (size_t)snprintf(svm, sizeof svm, "1");
    int j = 0;
    for (const char *q = csv; *q && *q != '\n'; j++) {
      const char *e = q;
      while (*e && *e != ',' && *e != '\n') e++;
      if (e > q) k += (size_t)snprintf(svm + k, sizeof svm - k, " %d:%.*s", j, (int)(e - q), q);
      q = *e == ',' ? e + 1 : e;
    }
    snprintf(svm + k, sizeof svm - k, "\n");
  }
  /* The same row as one application/x-recordio-protobuf record (recordio.c): frame header,
   * Record{features: {"values": Value{float32_tensor{values: 20 packed floats}}}}. */
  unsigned char rio[104] = {0x0a, 0x23, 0xd7, 0xce, 96, 0, 0, 0, 0x0a, 94, 0x0a, 6, 'v', 'a', 'l',
                            'u', 'e', 's', 0x12, 84, 0x12, 82, 0x0a, 80};
  for (int i = 0; i < 20; i++) {
    float f = (float)row[i];
    memcpy(rio + 24 + 4 * i, &f, 4);
  }
  static const char metrics_get[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
  static const char gets[] =
      "GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n\r\nGET /v2/models/example HTTP/1.1\r\nHost: t\r\n\r\n";

  /* Warm-up: one of each. */
  size_t n = make_post("/v2/models/example/infer", "", json, strlen(json));
  const char *out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "\"data\":[0.955204189]") != NULL, "warm-up JSON answer: %s", out);
  n = make_post("/v2/models/example/infer", ihcl, bin, hl + 80);
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "HTTP/1.1 200") == out, "warm-up binary answer: %.80s", out);
  feed(&c, gets, sizeof gets - 1);
  n = make_chunked("/v2/models/example/infer", json, strlen(json));
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "\"data\":[0.955204189]") != NULL, "warm-up chunked answer: %s", out);
  n = make_post("/v2/models/example/infer", "", "{\"inputs\":[", 11);
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "HTTP/1.1 400") == out, "warm-up 400: %.80s", out);
  n = make_post("/v2/models/example/infer", "", pf, po);
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "\"data\":[0.955204189]") != NULL, "warm-up per-feature answer: %.300s", out);
  n = make_post("/v2/models/example/infer", "", leafq, strlen(leafq));
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "\"name\":\"leaf\"") != NULL && strstr(out, "\"name\":\"contrib\"") != NULL,
        "warm-up leaf, margin and contrib answer: %.300s", out);
  n = make_post("/invocations", "Content-Type: text/csv\r\nAccept: application/json\r\n", csv, strlen(csv));
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "{\"predictions\":[{\"score\":0.955204189}]}") != NULL, "warm-up SageMaker: %.300s", out);
  n = make_post("/invocations", "Content-Type: text/libsvm\r\n", svm, strlen(svm));
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "\r\n\r\n0.955204189") != NULL, "warm-up SageMaker LIBSVM: %.300s", out);
  n = make_post("/invocations", "Content-Type: application/x-recordio-protobuf\r\n", (const char *)rio,
                sizeof rio);
  out = feed(&c, reqbuf, n);
  CHECK(strstr(out, "\r\n\r\n0.955204189") != NULL, "warm-up SageMaker RecordIO: %.300s", out);
  out = feed(&c, metrics_get, sizeof metrics_get - 1);
  CHECK(strstr(out, "process_open_fds") != NULL, "warm-up /metrics");

  long warm = allocs;
  CHECK(warm > 0, "the wrapper sees the set-up's allocations");
  allocs = 0;
  int ok = 0;
  for (int i = 0; i < 500; i++) {
    n = make_post("/v2/models/example/infer", "", json, strlen(json));
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "\"data\":[0.955204189]") != NULL && strstr(out, "HTTP/1.1 200") == out;
    n = make_post("/v2/models/example/versions/1/infer", ihcl, bin, hl + 80);
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "HTTP/1.1 200") == out;
    n = make_chunked("/v2/models/example/infer", json, strlen(json));
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "\"data\":[0.955204189]") != NULL && strstr(out, "HTTP/1.1 200") == out;
    out = feed(&c, gets, sizeof gets - 1);
    ok += strstr(out, "{\"ready\":true}") != NULL && strstr(out, "\"versions\":[\"1\"]") != NULL;
    n = make_post("/v2/models/example/infer", "", "{\"inputs\":[", 11);
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "HTTP/1.1 400") == out;
    n = make_post("/v2/models/example/infer", "", pf, po);
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "\"data\":[0.955204189]") != NULL;
    n = make_post("/v2/models/example/infer", "", leafq, strlen(leafq));
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "\"name\":\"leaf\"") != NULL && strstr(out, "\"name\":\"contrib\",\"datatype\":\"FP32\",\"shape\":[1,21]") != NULL;
    n = make_post("/invocations", "Content-Type: text/csv\r\nAccept: application/json\r\n", csv,
                  strlen(csv));
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "{\"predictions\":[{\"score\":0.955204189}]}") != NULL;
    n = make_post("/invocations", "Content-Type: text/libsvm\r\n", svm, strlen(svm));
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "\r\n\r\n0.955204189") != NULL;
    n = make_post("/invocations", "Content-Type: application/x-recordio-protobuf\r\n",
                  (const char *)rio, sizeof rio);
    out = feed(&c, reqbuf, n);
    ok += strstr(out, "\r\n\r\n0.955204189") != NULL;
    out = feed(&c, metrics_get, sizeof metrics_get - 1);
    ok += strstr(out, "HTTP/1.1 200") == out;
  }
  long during = allocs;
  CHECK(ok == 5500, "%d of 5500 answers as expected", ok);
  CHECK(during == 0, "%ld allocator calls on the request path after warm-up", during);
  ls_conn_free(&c);
  ls_registry_free(&srv.reg);
  ls_worker_free(&wk);
  printf("test_alloc: set-up and warm-up %ld allocator calls; then 5500 requests, %ld: %s\n",
         warm, during, fails ? "FAILED" : "ok");
  return fails ? 1 : 0;
}
