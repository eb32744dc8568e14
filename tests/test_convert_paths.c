/*
 * test_convert_paths.c — lm_convert's input and output paths as a careless operator gives them
 * (issue 18, findings 8 and 9): an output that is a device or the input itself is refused and
 * left as it was; a long output name works (the temporary file is a short name beside it); a
 * raw model read from a FIFO converts without hanging, hashed from the bytes read; an archive
 * from a FIFO is refused with a clear message instead of a wrong hash. An archive holding the
 * model's name twice is refused (finding 11: lmconvert read the first copy, extraction keeps
 * the last).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

static char tmpdir[] = "/tmp/lm_test_convert_paths_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util_import.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_output_rules),
      cmocka_unit_test(test_fifo_inputs),
      cmocka_unit_test(test_duplicate_members),
  };
  return cmocka_run_group_tests_name("convert_paths", tests, setup, tu_tmpdir_teardown);
}
