/*
 * fuzz_request.c — libFuzzer target over lmserve's whole request path: HTTP bytes in, response
 * bytes out, no socket. Each input is fed to one connection in chunks whose size the first byte
 * chooses (1..256 bytes), so that every prefix of a request head and body is seen by the
 * incremental framing; ls_conn_process parses (strict HTTP/1.1 head, V2 JSON or binary body),
 * routes, scores with a real model (examples/model.tar.gz converted at start-up) and writes
 * responses. Checked: no crash, no leak, no undefined behaviour (ASan/UBSan/LSan), every
 * response starts with a status line, the in-flight gauge never goes negative.
 *
 * The first byte also picks the client and the clock (connection lifetime): bits 1-2 how the
 * client reads its responses (0: never — pipelined requests must be held once
 * --max-queued-bytes of output are queued, and the queue must stay bounded; 1: 100 bytes per
 * step; 2-3: everything, and held input is then processed as the event loop's flush does), bit
 * 0 whether the clock moves 0.7 s per step (the header, request and idle timeouts of
 * ls_conn_timeouts fire as in the event loop's sweep; a 408 must be a response, a close ends
 * the connection); bit 3 SAGEMAKER_BATCH (one CSV prediction per line on /invocations). Limits
 * are small so that 413s for rows and response size are reachable. SageMaker's routes (/ping,
 * /execution-parameters, /invocations with text/csv, text/libsvm, application/json,
 * application/x-recordio-protobuf: server/tests/gen_recordio.py --seeds) have seeds
 * in the corpus and tokens in the dictionary.
 *
 *   make fuzz-server FUZZ_SECONDS=300      libFuzzer build (clang), corpus server/fuzz/corpus
 * Without -DLM_FUZZ_LIBFUZZER this file builds a replay program (main: each argument is an
 * input file) that `make check` runs over the committed corpus, under ASan in check-san.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/ls.h"

static ls_server srv;
static ls_worker wk;

static void fail(const char *what) {
  fprintf(stderr, "fuzz_request violation: %s\n", what);
  abort();
}

static int setup(void) {
  static int done;
  if (done) return 0;
  done = 1;
  const char *src = getenv("LM_SRC");
  char in[4096], out[] = "/tmp/lmserve-fuzz-XXXXXX";
  snprintf(in, sizeof in, "%s/examples/model.tar.gz", src ? src : ".");
  int fd = mkstemp(out);
  if (fd < 0) fail("mkstemp");
  close(fd);
  lm_convert_options o = {0};
  o.quiet = 1;
  if (lm_convert(in, out, &o) < 0) {
    fprintf(stderr, "fuzz_request: cannot convert %s (set LM_SRC): %s\n", in, lm_last_error());
    exit(1);
  }
  ls_log_level = LS_LOG_ERROR + 1; /* quiet */
  srv.cfg.max_header = 1024;
  srv.cfg.max_body = 8192;
  srv.cfg.max_conns = 1;
  srv.cfg.max_queued = 4096;
  srv.cfg.header_timeout_s = 5;
  srv.cfg.request_timeout_s = 10;
  srv.cfg.idle_timeout_s = 60;
  srv.cfg.max_rows = 64;
  srv.cfg.max_response = 4096;
  srv.nworkers = 1;
  ls_registry_init(&srv.reg, "/nonexistent", 1);
  if (ls_registry_load_file(&srv.reg, out, "m") < 0) fail("model load");
  unlink(out);
  if (ls_worker_init(&wk, &srv, 0)) fail("worker init");
  srv.workers = &wk;
  return 0;
}

/* Queued (unsent) output may pass the cap by at most one response: the cap is checked before
 * each request; /metrics and errors are the largest responses here. */
#define QUEUE_BOUND (4096 + 65536)

static void check_out(const ls_conn *c, size_t from) {
  if (c->out.len > from && memcmp(c->out.p + from, "HTTP/1.1 ", 9) != 0)
    fail("response without a status line");
  if (c->out.len - c->out_off > QUEUE_BOUND) fail("queued output over the cap");
}

int lm_fuzz_server_request(const uint8_t *data, size_t size) {
  setup();
  if (size == 0) return 0;
  size_t chunk = (size_t)data[0] + 1;
  int reader = data[0] >> 1 & 3, clock = data[0] & 1;
  srv.cfg.sm_batch = data[0] >> 3 & 1; /* SAGEMAKER_BATCH's text/csv answer for /invocations */
  data++, size--;
  ls_conn c;
  if (ls_conn_init(&c, srv.cfg.max_header + 512, 2048)) fail("conn init");
  uint64_t now = 1;
  c.t_accept_ns = c.t_last_ns = now;
  size_t off = 0;
  int closed = 0;
  while (off < size && !c.closing && !closed) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (c.in.cap - c.in.len < n && ls_buf_reserve(&c.in, n)) fail("reserve");
    memcpy(c.in.p + c.in.len, data + off, n);
    c.in.len += n;
    off += n;
    c.t_last_ns = now;
    size_t before = c.out.len;
    ls_conn_process(&wk, &c, now);
    check_out(&c, before);
    /* The client reads (the event loop's flush): all, some, or nothing. */
    for (int round = 0; round < 64 && reader; round++) {
      size_t k = c.out.len - c.out_off;
      if (reader == 1 && k > 100) k = 100;
      c.out_off += k;
      if (c.out_off < c.out.len) break;
      c.out.len = c.out_off = 0;
      ls_buf_shrink(&c.out);
      if (!(c.held && c.in.len > c.in_off) || c.closing) break;
      ls_conn_process(&wk, &c, now);
      check_out(&c, 0);
    }
    (void)ls_conn_evictable(&c);
    now += clock ? 700000000ull : 1;
    size_t b2 = c.out.len;
    int to = ls_conn_timeouts(&wk, &c, now);
    if (to == LS_TO_408) {
      if (c.out.len <= b2 || memcmp(c.out.p + b2, "HTTP/1.1 408 ", 13) != 0) fail("timeout without a 408");
      if (!c.closing) fail("408 without closing");
    }
    if (to == LS_TO_CLOSE) closed = 1;
  }
  if (c.have_head) {
    atomic_store(&wk.m.inflight, atomic_load(&wk.m.inflight) - 1);
    c.have_head = 0;
  }
  if (atomic_load(&wk.m.inflight) != 0) fail("in-flight gauge unbalanced");
  ls_conn_free(&c);
  return 0;
}

#ifdef LM_FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return lm_fuzz_server_request(data, size);
}
#else
int main(int argc, char **argv) {
  size_t n = 0;
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) {
      perror(argv[i]);
      return 1;
    }
    static uint8_t buf[1 << 20];
    size_t k = fread(buf, 1, sizeof buf, f);
    fclose(f);
    lm_fuzz_server_request(buf, k);
    n++;
  }
  ls_registry_free(&srv.reg);
  ls_worker_free(&wk);
  printf("fuzz_request replay: %zu inputs, no violation\n", n);
  return 0;
}
#endif
