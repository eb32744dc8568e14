/*
 * test_model_file.c — an open model is a snapshot of the bytes the verifier accepted: whatever
 * happens to its file afterwards (overwritten in place with other or corrupt bytes of the same
 * size, truncated to nothing, removed) the model keeps scoring exactly as before and never
 * crashes (a mapping of the file raised SIGBUS on truncation and scored the new bytes: issue 18).
 * Also: a FIFO is refused at once instead of blocking the opener.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/lm_test_model_file_XXXXXX";
#define TU_TMPDIR tmpdir
#include "tests/util.h"

enum { F = 20, N = 64 };

/* Overwrite path in place (O_TRUNC when truncate, like cp; otherwise the same inode's bytes
 * rewritten without changing the size) with len bytes of buf. */
static void overwrite(const char *path, const void *buf, size_t len, int truncate) {
  int fd = open(path, O_WRONLY | (truncate ? O_TRUNC : 0));
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

static void scores(lm_model *m, const float *x, float *out) {
  lm_session *s;
  assert_int_equal(lm_session_new(m, &s), 0);
  assert_int_equal(lm_predict(s, x, N, 0, out), 0);
  lm_session_free(s);
}

static void test_file_changes_under_an_open_model(void **state) {
  (void)state;
  char src[1024];
  snprintf(src, sizeof src, "%s/examples/model.tar.gz", tu_env_or("LM_SRC", "."));
  const char *path = tu_path(tmpdir, "served.lm"), *other = tu_path(tmpdir, "other.lm");
  assert_int_equal(lm_convert(src, path, NULL), 0);
  lm_model *m;
  assert_int_equal(lm_model_open(path, &m), 0);
  assert_int_equal(lm_model_num_features(m), F);
  static float x[N * F], want[N], got[N];
  for (size_t i = 0; i < N * F; i++) x[i] = (float)((i * 2654435761u) % 1000) / 37.0f;
  scores(m, x, want);

  size_t len;
  char *img = tu_read_file(path, &len);
  /* 1. the same size, every byte after the header flipped: the file is now corrupt (the
   *    verifier refuses it), the open model must not see it */
  char *bad = malloc(len);
  memcpy(bad, img, len);
  for (size_t i = 64; i < len; i++) bad[i] ^= 0x5A;
  overwrite(path, bad, len, 0);
  lm_model *m2;
  assert_true(lm_model_open(path, &m2) < 0); /* really corrupt */
  scores(m, x, got);
  assert_memory_equal(want, got, sizeof want);
  /* 2. truncated to nothing, as `cp` does before writing: no SIGBUS, the same scores */
  overwrite(path, "", 0, 1);
  scores(m, x, got);
  assert_memory_equal(want, got, sizeof want);
  /* 3. another valid model written over it (a different conversion's bytes) and the file
   *    removed: still the old scores */
  assert_int_equal(lm_convert(src, other, NULL), 0);
  size_t olen;
  char *oimg = tu_read_file(other, &olen);
  overwrite(path, oimg, olen, 1);
  unlink(path);
  scores(m, x, got);
  assert_memory_equal(want, got, sizeof want);
  lm_model_close(m);
  free(img), free(bad), free(oimg);
}

static void on_alarm(int sig) {
  (void)sig;
  fail_msg("lm_model_open blocked on a FIFO");
}

static void test_fifo_is_refused_at_once(void **state) {
  (void)state;
  const char *fifo = tu_path(tmpdir, "model.fifo");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  signal(SIGALRM, on_alarm);
  alarm(5);
  lm_model *m = NULL;
  int rc = lm_model_open(fifo, &m);
  alarm(0);
  assert_int_equal(rc, LM_EIO);
  assert_null(m);
  assert_non_null(strstr(lm_last_error(), "not a regular file"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_changes_under_an_open_model),
      cmocka_unit_test(test_fifo_is_refused_at_once),
  };
  return cmocka_run_group_tests_name("model_file", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
