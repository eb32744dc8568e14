/*
 * test_convert_paths.c — lm_convert's input and output paths as a careless operator gives them
 * (issue 18, findings 8 and 9): an output that is a device or the input itself is refused and
 * left as it was; a long output name works (the temporary file is a short name beside it); a
 * raw model read from a FIFO converts without hanging, hashed from the bytes read; an archive
 * from a FIFO is refused with a clear message instead of a wrong hash. An archive holding the
 * model's name twice is refused (finding 11: lmconvert read the first copy, extraction keeps
 * the last). Inputs that are no model are refused after their first 64 KiB, not read whole
 * (finding 10): a 1 MB .tar.gz of 1 GiB of zeros, a private /dev/zero, whitespace; and the
 * size limits (--max-input-bytes: the raw file, the member, twice that for an archive's
 * members, refused at the header before decompressing) — lmconvert is run as a child process
 * and its time and peak RSS are asserted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

static char tmpdir[] = "/tmp/lm_test_convert_paths_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util_import.h"
#include "formats/import/import.h"

static char src[1024], json[1024];

static void on_alarm(int sig) {
  (void)sig;
  fail_msg("lm_convert blocked on a FIFO");
}

static int setup(void **state) {
  snprintf(src, sizeof src, "%s/examples/model.tar.gz", tu_env_or("LM_SRC", "."));
  snprintf(json, sizeof json, "%s/tests/fixtures/xgb/binary_logistic/model.json", tu_env_or("LM_SRC", "."));
  return tu_tmpdir_setup(state);
}

static void test_output_rules(void **state) {
  (void)state;
  /* a character device (a private twin of /dev/null: a regression must not destroy the real
   * one; a FIFO where mknod is not allowed): refused, still what it was */
  const char *dev = tu_path(tmpdir, "null");
  int is_chr = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0;
  if (!is_chr) assert_int_equal(mkfifo(dev, 0600), 0);
  assert_int_equal(lm_convert(src, dev, NULL), LM_EINVAL);
  assert_non_null(strstr(lm_last_error(), "not a regular file"));
  struct stat st;
  assert_int_equal(lstat(dev, &st), 0);
  assert_true(is_chr ? S_ISCHR(st.st_mode) : S_ISFIFO(st.st_mode));
  /* a directory: refused */
  assert_int_equal(lm_convert(src, tmpdir, NULL), LM_EINVAL);
  /* the input itself (a copy of the artifact, converted onto itself): refused, unchanged */
  size_t len, len2;
  char *a = tu_read_file(src, &len);
  const char *copy = tu_path(tmpdir, "model.tar.gz");
  FILE *f = fopen(copy, "wb");
  fwrite(a, 1, len, f);
  fclose(f);
  assert_int_equal(lm_convert(copy, copy, NULL), LM_EINVAL);
  assert_non_null(strstr(lm_last_error(), "input artifact itself"));
  char *b = tu_read_file(copy, &len2);
  assert_int_equal(len2, len);
  assert_memory_equal(a, b, len);
  free(a), free(b);
  /* a 250-character output name (NAME_MAX 255: the old ".tmp.XXXXXX" suffix overflowed it) */
  char name[251];
  memset(name, 'm', 247);
  memcpy(name + 247, ".lm", 4);
  const char *out = tu_path(tmpdir, name);
  assert_int_equal(lm_convert(src, out, NULL), 0);
  lm_model *m;
  assert_int_equal(lm_model_open(out, &m), 0);
  lm_model_close(m);
}

/* Write buf into the FIFO from a child process, then exit. */
static pid_t feed(const char *fifo, const char *buf, size_t len) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(fifo, O_WRONLY);
    size_t done = 0;
    while (fd >= 0 && done < len) {
      ssize_t w = write(fd, buf + done, len - done);
      if (w <= 0) break;
      done += (size_t)w;
    }
    _exit(done == len ? 0 : 1);
  }
  return pid;
}

static void test_fifo_inputs(void **state) {
  (void)state;
  signal(SIGALRM, on_alarm);
  size_t len;
  char *model = tu_read_file(json, &len);
  const char *fifo = tu_path(tmpdir, "model.fifo"), *out = tu_path(tmpdir, "fifo.lm");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  pid_t pid = feed(fifo, model, len);
  alarm(20);
  int rc = lm_convert(fifo, out, NULL);
  alarm(0);
  int status;
  waitpid(pid, &status, 0);
  if (rc) fail_msg("%s", lm_last_error());
  lm_model *m;
  assert_int_equal(lm_model_open(out, &m), 0);
  lm_model_info info;
  assert_int_equal(lm_model_get_info(m, &info), 0);
  /* the hash of the bytes read, not of an empty re-read */
  assert_true(info.source_hash == XXH64(model, len, 0));
  lm_model_close(m);
  free(model);
  /* an archive through the FIFO: refused, no hang */
  char *tgz = tu_read_file(src, &len);
  pid = feed(fifo, tgz, len);
  alarm(20);
  rc = lm_convert(fifo, out, NULL);
  alarm(0);
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  assert_int_equal(rc, LM_EUNSUPPORTED);
  assert_non_null(strstr(lm_last_error(), "save it to a file first"));
  free(tgz);
}

static void test_duplicate_members(void **state) {
  (void)state;
  size_t len;
  char *model = tu_read_file(json, &len);
  const tu_member twice[] = {{"xgboost-model", model, len}, {"xgboost-model", "{\"x\": 1}", 0}};
  const char *tgz = tu_make_archive(tu_path(tmpdir, "dup.tar.gz"), 1, twice, 2);
  const char *out = tu_path(tmpdir, "dup.lm");
  assert_int_equal(lm_convert(tgz, out, NULL), LM_EFORMAT);
  assert_non_null(strstr(lm_last_error(), "appears more than once"));
  assert_int_equal(access(out, F_OK), -1); /* nothing written */
  /* --member names it explicitly: the same refusal */
  lm_convert_options o = {0};
  o.member = "xgboost-model";
  assert_int_equal(lm_convert(tgz, out, &o), LM_EFORMAT);
  /* one copy (and another file beside it): converts */
  const tu_member once[] = {{"xgboost-model", model, len}, {"README", "notes", 0}};
  tgz = tu_make_archive(tu_path(tmpdir, "once.tar.gz"), 1, once, 2);
  assert_int_equal(lm_convert(tgz, out, NULL), 0);
  free(model);
}

/* Run lmconvert with args (NULL-terminated), killed after 30 s; its exit status, stderr (first
 * 2 KiB), seconds and peak RSS (KiB). */
typedef struct child_run {
  int status;
  double secs;
  long maxrss_kb;
  char err[2048];
} child_run;

static child_run run_lmconvert(const char *const *args) {
  child_run r = {0};
  char prog[1100], errf[1100];
  snprintf(prog, sizeof prog, "%s/lmconvert", tu_env_or("LM_BIN", "build/bin"));
  snprintf(errf, sizeof errf, "%s/child.err", tmpdir);
  const char *argv[16] = {prog};
  size_t k = 1;
  while (args[k - 1] && k < 15) argv[k] = args[k - 1], k++;
  argv[k] = NULL;
  struct timeval t0, t1;
  gettimeofday(&t0, NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    execv(prog, (char *const *)argv);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  for (int i = 0; i < 3000; i++) { /* 30 s */
    if (wait4(pid, &st, WNOHANG, &ru) == pid) goto done;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  wait4(pid, &st, 0, &ru);
  fail_msg("lmconvert did not finish within 30 s");
done:
  gettimeofday(&t1, NULL);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_usec - t0.tv_usec);
  r.maxrss_kb = ru.ru_maxrss;
  FILE *f = fopen(errf, "r");
  if (f) {
    size_t n = fread(r.err, 1, sizeof r.err - 1, f);
    r.err[n] = 0;
    fclose(f);
  }
  return r;
}

/* A ustar .tar.gz with one member `name` of `size` zero bytes (gzip -9: ~1 MB per GiB). */
static const char *zeros_archive(const char *path, const char *name, size_t size) {
  struct archive *a = archive_write_new();
  assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
  archive_write_set_filter_option(a, "gzip", "compression-level", "9");
  assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
  assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, (la_int64_t)size);
  assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
  static char zero[1 << 20];
  for (size_t done = 0; done < size; done += sizeof zero)
    assert_int_equal(archive_write_data(a, zero, sizeof zero), (la_ssize_t)sizeof zero);
  archive_entry_free(e);
  assert_int_equal(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return path;
}

static void test_no_model_refused_early(void **state) {
  (void)state;
  const char *out = tu_path(tmpdir, "zeros.lm");
  /* 1 GiB of zeros in about 1 MB: was read whole (93 s and 2.1 GB in the issue; 14 s and
   * 2.1 GB here before the fix), now refused after 64 KiB */
  const char *tgz = zeros_archive(tu_path(tmpdir, "zeros.tar.gz"), "xgboost-model", (size_t)1 << 30);
  struct stat st;
  assert_int_equal(stat(tgz, &st), 0);
  assert_true(st.st_size < 2 << 20);
  child_run r = run_lmconvert((const char *[]){tgz, "-o", out, NULL});
  print_message("1 GiB of zeros in a %lld-byte .tar.gz: exit %d in %.2f s, peak RSS %ld KiB\n",
                (long long)st.st_size, r.status, r.secs, r.maxrss_kb);
  assert_int_equal(r.status, 1);
  assert_non_null(strstr(r.err, "zeros.tar.gz:xgboost-model: unrecognised bytes (00 00 00 00 …), "
                                "not a model in any format lmconvert reads"));
  assert_non_null(strstr(r.err, "refused after its first 65536 bytes"));
  assert_true(r.secs < 5 && r.maxrss_kb < 64 * 1024);
  assert_int_equal(access(out, F_OK), -1);
  unlink(tgz);
  /* a private /dev/zero (never the real device path as an output; as an input it only reads):
   * it grew without bound before */
  const char *zero = tu_path(tmpdir, "zero");
  if (mknod(zero, S_IFCHR | 0444, makedev(1, 5)) == 0) {
    r = run_lmconvert((const char *[]){zero, "-o", out, NULL});
    print_message("/dev/zero: exit %d in %.2f s, peak RSS %ld KiB\n", r.status, r.secs, r.maxrss_kb);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "refused after its first 65536 bytes"));
    assert_true(r.secs < 5 && r.maxrss_kb < 64 * 1024);
  } else {
    print_message("mknod not allowed: the /dev/zero case is skipped\n");
  }
  /* 100 KiB of whitespace: no model */
  const char *ws = tu_path(tmpdir, "spaces.json");
  FILE *f = fopen(ws, "wb");
  for (int i = 0; i < 100 * 1024; i++) fputc(i % 80 ? ' ' : '\n', f);
  fclose(f);
  assert_int_equal(lm_convert(ws, out, NULL), LM_ENOMODEL);
  assert_non_null(strstr(lm_last_error(), "its first 65536 bytes are whitespace"));
  /* a real model, a long one in any format, is not refused by the head check: its JSON */
  assert_int_equal(lm_convert(json, out, NULL), 0);
}

/* The head check itself: every headerless legacy binary fixture (XGBoost's fallback format, the
 * one a head is judged on) passes on its first bytes, padded to a 64 KiB head; the same head
 * with an unknown objective name, a major version above 3 or a huge name length does not; JSON,
 * UBJSON, pickle and archive heads always pass (the importer judges them whole). */
static void test_sniff_head(void **state) {
  (void)state;
  static const char *const fx[] = {"dart_reg", "gblinear_multi_softprob3", "rf_binary",
                                   "early_stop_binary"};
  uint8_t *head = calloc(1, LM_SNIFF_HEAD);
  for (size_t i = 0; i < sizeof fx / sizeof *fx; i++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/tests/fixtures/xgb_formats/%s/model_nobinf.bin",
             tu_env_or("LM_SRC", "."), fx[i]);
    size_t len;
    char *b = tu_read_file(path, &len);
    memset(head, 0, LM_SNIFF_HEAD);
    memcpy(head, b, len < LM_SNIFF_HEAD ? len : LM_SNIFF_HEAD);
    if (lm__sniff_head(head, LM_SNIFF_HEAD, "m") != LM_OK)
      fail_msg("%s: a real headerless model refused by the head check: %s", fx[i], lm_last_error());
    head[20] = 7; /* major_version 7 */
    assert_int_equal(lm__sniff_head(head, LM_SNIFF_HEAD, "m"), LM_ENOMODEL);
    assert_non_null(strstr(lm_last_error(), "major_version: 7 is no XGBoost version"));
    head[20] = b[20];
    head[144] ^= 0x20; /* the objective's first letter in the other case */
    assert_int_equal(lm__sniff_head(head, LM_SNIFF_HEAD, "m"), LM_ENOMODEL);
    assert_non_null(strstr(lm_last_error(), "unknown objective"));
    head[144] ^= 0x20;
    head[143] = 1; /* a name length of 2^56 */
    assert_int_equal(lm__sniff_head(head, LM_SNIFF_HEAD, "m"), LM_ENOMODEL);
    free(b);
  }
  static const char *const ok[] = {"{\"learner\"", "{L\x07learner", "\x80\x04\x95", "\x1f\x8b\x08",
                                   "PK\x03\x04", "tree\n", "binf"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    memset(head, 0, LM_SNIFF_HEAD);
    memcpy(head, ok[i], strlen(ok[i]));
    if (lm__sniff_head(head, LM_SNIFF_HEAD, "m") != LM_OK) fail_msg("head %zu refused", i);
  }
  free(head);
}

static void test_size_limits(void **state) {
  (void)state;
  const char *out = tu_path(tmpdir, "lim.lm");
  size_t len;
  char *model = tu_read_file(json, &len);
  char lim[32];
  /* a raw file over --max-input-bytes: refused by its size, named */
  snprintf(lim, sizeof lim, "%zu", len - 1);
  child_run r = run_lmconvert((const char *[]){json, "-o", out, "--max-input-bytes", lim, NULL});
  assert_int_equal(r.status, 1);
  assert_non_null(strstr(r.err, "larger than the limit of"));
  assert_non_null(strstr(r.err, "(--max-input-bytes)"));
  snprintf(lim, sizeof lim, "%zu", len);
  r = run_lmconvert((const char *[]){json, "-o", out, "--max-input-bytes", lim, "-q", NULL});
  assert_int_equal(r.status, 0);
  /* an archive member over it: refused at its header */
  const tu_member one[] = {{"xgboost-model", model, len}};
  const char *tgz = tu_make_archive(tu_path(tmpdir, "lim.tar.gz"), 1, one, 1);
  lm_convert_options o = {0};
  o.max_input_bytes = len - 1;
  assert_int_equal(lm_convert(tgz, out, &o), LM_ERANGE);
  assert_non_null(strstr(lm_last_error(), "lim.tar.gz:xgboost-model: member of "));
  o.max_input_bytes = len;
  assert_int_equal(lm_convert(tgz, out, &o), 0);
  /* members adding up to more than twice the limit: refused at the header that crosses it,
   * before its bytes are decompressed (the model is the last member) */
  char *pad = calloc(1, len);
  memset(pad, 'x', len - 1);
  const tu_member three[] = {{"a.txt", pad, 0}, {"b.txt", pad, 0}, {"xgboost-model", model, len}};
  tgz = tu_make_archive(tu_path(tmpdir, "sum.tar.gz"), 1, three, 3);
  assert_int_equal(lm_convert(tgz, out, &o), LM_ERANGE);
  assert_non_null(strstr(lm_last_error(), "members add up to more than"));
  assert_non_null(strstr(lm_last_error(), "at member \"xgboost-model\""));
  o.max_input_bytes = 2 * len;
  assert_int_equal(lm_convert(tgz, out, &o), 0);
  r = run_lmconvert((const char *[]){json, "-o", out, "--max-input-bytes", "12", NULL});
  assert_int_equal(r.status, 2); /* below 1024: a usage error */
  free(pad);
  free(model);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_output_rules),
      cmocka_unit_test(test_fifo_inputs),
      cmocka_unit_test(test_duplicate_members),
      cmocka_unit_test(test_no_model_refused_early),
      cmocka_unit_test(test_size_limits),
      cmocka_unit_test(test_sniff_head),
  };
  return cmocka_run_group_tests_name("convert_paths", tests, setup, tu_tmpdir_teardown);
}
