/*
 * test_strings.c — strings lmserve did not write itself never break its outputs (issue 18,
 * finding 13). Table-driven checks of the two escapers (ls_json_escape for JSON: responses,
 * model metadata, logs; ls_prom_escape for Prometheus label values) and of the UTF-8 check the
 * request parser uses; then end to end, with a real .lm file patched (checksums recomputed):
 * an objective string carrying a quote, a newline and a Prometheus line ("\"}\nlmserve_ready
 * 0") is refused by the verifier (it must equal the objective id's name: formats/lmf_read.c),
 * and the "model rejected" log line stays one JSON object; a feature name carrying the same
 * (feature names may hold control characters: XGBoost accepts any pandas column name) is served,
 * and the model metadata (JSON), /metrics (no injected line) and the log lines are checked; a
 * model name that is not a file-name stem is refused. Run by `make check` (check-server), also
 * under ASan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "server/ls.h"

static int fails;

#define CHECK(c, ...)                                                     \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "test_strings: FAIL %s:%d: ", __FILE__, __LINE__);  \
      fprintf(stderr, __VA_ARGS__);                                       \
      fputc('\n', stderr);                                                \
      fails++;                                                            \
    }                                                                     \
  } while (0)

static const struct {
  const char *in;
  size_t n;
  const char *json, *prom;
} esc[] = {
    {"plain", 5, "plain", "plain"},
    {"a\"b\\c", 5, "a\\\"b\\\\c", "a\\\"b\\\\c"},
    {"x\ny", 3, "x\\ny", "x\\ny"},
    {"\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f", "???"},
    {"caf\xc3\xa9", 5, "caf\xc3\xa9", "caf\xc3\xa9"},           /* valid UTF-8 kept */
    {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    {"\xff", 1, "\\ufffd", "?"},                                  /* invalid byte */
    {"a\xc3", 2, "a\\ufffd", "a?"},                               /* cut sequence */
    {"\xc0\xaf", 2, "\\ufffd\\ufffd", "??"},                      /* overlong */
    {"\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd", "???"},          /* surrogate */
    {"\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd", "????"}, /* above U+10FFFF */
    {"\"}\nlmserve_ready 0", 18, "\\\"}\\nlmserve_ready 0", "\\\"}\\nlmserve_ready 0"},
};

static const struct {
  const char *s;
  size_t n;
  int ok;
} utf8[] = {
    {"", 0, 1},      {"abc", 3, 1},         {"\xc3\xa9", 2, 1}, {"\xe2\x82\xac", 3, 1},
    {"\xc3", 1, 0},  {"\xc0\x80", 2, 0},    {"\xed\xb0\x80", 3, 0}, {"\xf5\x80\x80\x80", 4, 0},
    {"\x80", 1, 0},  {"\xef\xbf\xbf", 3, 1}, {"\xf4\x8f\xbf\xbf", 4, 1},
};

/* Rewrite a string of the .lm at path (NUL-padded in place) and fix the checksums: the META
 * section's and the table's (XXH3-64, formats/SPEC.md). field: the META offset of the string's
 * pool offset (92 objective, 100 feature names); skip: strings to pass over from there (the
 * feature name's index). */
static int patch_str(const char *path, int field, int skip, const char *obj) {
  FILE *f = fopen(path, "r+b");
  if (!f) return -1;
  static unsigned char b[1 << 22];
  size_t n = fread(b, 1, sizeof b, f);
  uint32_t nsec;
  uint64_t toff;
  memcpy(&nsec, b + 24, 4);
  memcpy(&toff, b + 32, 8);
  int rc = -1;
  for (uint32_t i = 0; i < nsec; i++) {
    unsigned char *e = b + toff + 32 * (size_t)i;
    uint32_t kind;
    uint64_t off, size;
    memcpy(&kind, e, 4);
    memcpy(&off, e + 8, 8);
    memcpy(&size, e + 16, 8);
    if (kind != 1 || off + size > n) continue;
    uint32_t so;
    memcpy(&so, b + off + (size_t)field, 4);
    char *old = (char *)b + off + so;
    for (int k = 0; k < skip; k++) old += strlen(old) + 1;
    size_t ol = strlen(old);
    if (strlen(obj) > ol) break;
    memset(old, 0, ol);
    memcpy(old, obj, strlen(obj));
    uint64_t ck = XXH3_64bits(b + off, size);
    memcpy(e + 24, &ck, 8);
    static unsigned char h[40 + 64 * 32];
    memcpy(h, b, 40);
    memcpy(h + 40, b + toff, 32 * (size_t)nsec);
    ck = XXH3_64bits(h, 40 + 32 * (size_t)nsec);
    memcpy(b + 40, &ck, 8);
    rc = 0;
  }
  if (rc == 0) {
    rewind(f);
    rc = fwrite(b, 1, n, f) == n ? 0 : -1;
  }
  fclose(f);
  return rc;
}

static ls_server srv;
static ls_worker wk;

static const char *get(ls_conn *c, const char *path) {
  static char out[1 << 16];
  int n = snprintf(c->in.p, c->in.cap, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
  c->in.len = (size_t)n;
  c->in_off = 0;
  ls_conn_process(&wk, c, 1);
  size_t k = c->out.len < sizeof out - 1 ? c->out.len : sizeof out - 1;
  memcpy(out, c->out.p, k);
  out[k] = 0;
  c->out.len = 0;
  return out;
}

int main(void) {
  char buf[256];
  for (size_t i = 0; i < sizeof esc / sizeof *esc; i++) {
    ls_json_escape(buf, sizeof buf, esc[i].in, esc[i].n);
    CHECK(strcmp(buf, esc[i].json) == 0, "json escape #%zu: got '%s', want '%s'", i, buf, esc[i].json);
    ls_prom_escape(buf, sizeof buf, esc[i].in, esc[i].n);
    CHECK(strcmp(buf, esc[i].prom) == 0, "prom escape #%zu: got '%s', want '%s'", i, buf, esc[i].prom);
  }
  /* truncation never cuts an escape or a character in half */
  ls_json_escape(buf, 4, "\xc3\xa9\xc3\xa9", 4);
  CHECK(strcmp(buf, "\xc3\xa9") == 0, "truncated at a character: '%s'", buf);
  for (size_t i = 0; i < sizeof utf8 / sizeof *utf8; i++)
    CHECK(ls_utf8_valid(utf8[i].s, utf8[i].n) == utf8[i].ok, "utf8 #%zu", i);

  /* A .lm whose objective string carries a quote, a newline and a metric line: refused by the
   * verifier, logged as one JSON line; the same in a feature name: served, escaped. */
  const char *src = getenv("LM_SRC");
  char in[4096], model[] = "/tmp/lmserve-strings-XXXXXX", evil_obj[] = "/tmp/lmserve-strings-obj-XXXXXX",
       logf[] = "/tmp/lmserve-strings-log-XXXXXX";
  snprintf(in, sizeof in, "%s/examples/model.tar.gz", src ? src : ".");
  int fd = mkstemp(model);
  close(fd);
  fd = mkstemp(evil_obj);
  close(fd);
  lm_convert_options o = {0};
  o.quiet = 1;
  if (lm_convert(in, model, &o) < 0 || lm_convert(in, evil_obj, &o) < 0) {
    fprintf(stderr, "test_strings: convert %s: %s\n", in, lm_last_error());
    return 1;
  }
  const char *evil = "\"}\nlmserve_ready 0";
  CHECK(patch_str(evil_obj, 92, 0, "\"}\nlmserve_up 0") == 0, "patch the objective (15 bytes)");
  CHECK(patch_str(model, 100, 6, evil) == 0, "patch feature name 6 (driver_acceptance_rate)");
  int lfd = mkstemp(logf);
  int saved = dup(2);
  dup2(lfd, 2);
  ls_log_level = LS_LOG_INFO;
  srv.cfg.max_header = 4096;
  srv.cfg.max_body = 1 << 20;
  srv.nworkers = 1;
  ls_registry_init(&srv.reg, "/nonexistent", 1);
  int rc_obj = ls_registry_load_file(&srv.reg, evil_obj, "evilobj");
  int rc = ls_registry_load_file(&srv.reg, model, "evil");
  int rc_bad = ls_registry_load_file(&srv.reg, model, "bad\nname");
  dup2(saved, 2);
  close(saved);
  ls_slot *so = ls_registry_find(&srv.reg, "evilobj", 7);
  CHECK(rc_obj != 0 && (!so || !atomic_load(&so->cur)),
        "a hostile objective string is refused by the verifier");
  CHECK(rc == 0, "the model with a hostile feature name loads (%d: %s)", rc, lm_last_error());
  CHECK(rc_bad != 0 && !ls_registry_find(&srv.reg, "bad\nname", 8),
        "a model name that is not a file stem is refused");
  unlink(model);
  unlink(evil_obj);
  CHECK(ls_worker_init(&wk, &srv, 0) == 0, "worker");
  srv.workers = &wk;
  ls_conn c;
  CHECK(ls_conn_init(&c, srv.cfg.max_header + 16384, 16384) == 0, "conn");

  const char *meta = get(&c, "/v2/models/evil");
  const char *body = strstr(meta, "\r\n\r\n");
  CHECK(body && strstr(body, ",\"\\\"}\\nlmserve_ready 0\",") != NULL,
        "metadata: feature name escaped: %s", body ? body : meta);
  CHECK(body && !strchr(body + 4, '\n'), "metadata: no raw newline in the JSON");

  const char *mt = strstr(get(&c, "/metrics"), "\r\n\r\n");
  int ready_lines = 0, info_ok = 0, bad_lines = 0;
  for (const char *l = mt ? mt + 4 : ""; *l;) {
    const char *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l) : strlen(l);
    if (n >= 13 && memcmp(l, "lmserve_ready", 13) == 0) ready_lines++;
    if (n && l[0] != '#' && memcmp(l, "lmserve_", 8) != 0 && memcmp(l, "process_", 8) != 0)
      bad_lines++;
    if (strstr(l, "objective=\"binary:logistic\"") && strstr(l, "objective=") < l + n)
      info_ok = 1;
    l = e ? e + 1 : l + n;
  }
  CHECK(ready_lines == 1, "/metrics: exactly one lmserve_ready line (got %d)", ready_lines);
  CHECK(bad_lines == 0, "/metrics: every sample line is a metric (%d are not)", bad_lines);
  CHECK(info_ok, "/metrics: the objective label is the verified name");

  FILE *lf = fdopen(lfd, "r");
  rewind(lf);
  char line[4096];
  int loaded = 0, rejected = 0, lines = 0, json_lines = 0;
  while (fgets(line, sizeof line, lf)) {
    lines++;
    size_t l = strlen(line);
    json_lines += line[0] == '{' && l >= 2 && line[l - 2] == '}';
    if (strstr(line, "\"model loaded\"") && strstr(line, "\"objective\":\"binary:logistic\""))
      loaded = 1;
    if (strstr(line, "\"model rejected\"") && strstr(line, "\"model\":\"evilobj\"") &&
        strstr(line, "META objective string at META offset"))
      rejected = 1;
  }
  fclose(lf);
  unlink(logf);
  CHECK(loaded, "the model loaded log line carries the objective");
  CHECK(rejected, "the hostile objective's rejection is logged, naming the field");
  CHECK(lines > 0 && lines == json_lines, "every log line is one JSON object (%d of %d)",
        json_lines, lines);

  ls_conn_free(&c);
  ls_registry_free(&srv.reg);
  ls_worker_free(&wk);
  printf("test_strings: %zu escapes, %zu UTF-8 cases, a .lm with a hostile objective: %s\n",
         2 * (sizeof esc / sizeof *esc), sizeof utf8 / sizeof *utf8, fails ? "FAILED" : "ok");
  return fails ? 1 : 0;
}
