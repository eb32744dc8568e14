/*
 * tests/util.h — scaffolding shared by the cmocka tests (tests/test_*.c). Header only: every
 * function is static inline, so a test that uses none of them pays nothing and -Wunused stays
 * quiet. Include it as "tests/util.h" (the build passes -I.); it includes what it needs
 * (<cmocka.h> with its prerequisites, <ftw.h>, "lmrt.h").
 *
 *   tu_mkdtemp(tmpl)            mkdtemp() in place on a "/tmp/..._XXXXXX" buffer: 0, or -1.
 *   tu_rmtree(dir)              remove dir and everything below it (nftw(), depth first, links
 *                               not followed; no shell): 0, or -1 / the failing remove()'s value.
 *   tu_path(dir, name)          "dir/name" in one of 8 rotating static buffers (so up to 8
 *                               results may be held at once); for names in a scratch directory.
 *   tu_env_or(name, fallback)   getenv(name), or fallback when it is unset (LM_SRC, LM_BIN).
 *   tu_read_file(path, &len)    the whole file, malloc'd (NUL-terminated), its size in len; the
 *                               test fails when it cannot be read.
 *   fbits(f), dbits(d)          the bits of a float / double (uint32_t / uint64_t), to assert
 *                               exact equality (−0 ≠ +0, NaN payloads) with assert_int_equal.
 *   tu_expect_ok(rc, out)       an lm__import_* style call succeeded: rc is 0 (otherwise rc and
 *                               lm_last_error() are printed) and it produced a non-NULL out.
 *   tu_subst(base, find, repl)  base with the one occurrence of find replaced by repl
 *                               (malloc'd); the test fails when find does not occur exactly
 *                               once (a typo in a mutation must not pass silently).
 *   tu_spawn(exe, argv, in,     run exe with argv, stdin from the file in, stdout and stderr
 *            out, err)          into the files out and err (truncated), and wait: its exit
 *                               status, or 128 + the signal that ended it; the test fails when
 *                               it cannot be started.
 *   tu_open_ir(dir, name, ir)   write ir as a .lm file dir/name (lm__lmf_write, converter
 *                               "t"; ir is freed) and open it: the model; the test fails when
 *                               either step does.
 *
 * Group fixtures for a per-file scratch directory. A test file keeps its directory in a buffer
 * holding a mkdtemp() template and names it before including this header:
 *
 *   static char tmpdir[] = "/tmp/lm_test_NAME_XXXXXX";
 *   #define TU_TMPDIR tmpdir
 *   #include "tests/util.h"
 *
 * which defines tu_tmpdir_setup (creates it) and tu_tmpdir_teardown (removes it with everything
 * in it), cmocka group (or per-test) fixtures:
 *
 *   return cmocka_run_group_tests_name("NAME", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
 *
 * A file whose setup does more calls tu_tmpdir_setup(state) from its own.
 */
#ifndef LMRT_TESTS_UTIL_H
#define LMRT_TESTS_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats/ir.h"
#include "formats/lmf_write.h"
#include "lmrt.h"

static inline int tu_mkdtemp(char *tmpl) { return mkdtemp(tmpl) ? 0 : -1; }

static inline int tu__rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}

static inline int tu_rmtree(const char *dir) {
  return nftw(dir, tu__rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline const char *tu_path(const char *dir, const char *name) {
  static char path[8][1200];
  static int k;
  k = (k + 1) % 8;
  snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
  return path[k];
}

static inline const char *tu_env_or(const char *name, const char *fallback) {
  const char *s = getenv(name);
  return s ? s : fallback;
}

static inline char *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("%s: cannot open", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(*len + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, *len, f), *len);
  b[*len] = '\0';
  fclose(f);
  return b;
}

static inline uint32_t fbits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static inline uint64_t dbits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static inline void tu_expect_ok(int rc, const void *out) {
  if (rc) print_error("unexpected error %d: %s\n", rc, lm_last_error());
  assert_int_equal(rc, 0);
  assert_non_null(out);
}

static inline char *tu_subst(const char *base, const char *find, const char *repl) {
  const char *at = strstr(base, find);
  if (!at || strstr(at + 1, find)) {
    print_error("subst: '%s' must occur exactly once\n", find);
    fail();
  }
  size_t nb = strlen(base), nf = strlen(find), nr = strlen(repl);
  char *out = malloc(nb - nf + nr + 1);
  assert_non_null(out);
  memcpy(out, base, (size_t)(at - base));
  memcpy(out + (at - base), repl, nr);
  memcpy(out + (at - base) + nr, at + nf, nb - (size_t)(at - base) - nf + 1);
  return out;
}

static inline int tu_spawn(const char *exe, char *const *argv, const char *in, const char *out,
                           const char *err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) fail_msg("cannot run %s: %s", exe, strerror(rc));
  int st;
  while (waitpid(pid, &st, 0) < 0) assert_int_equal(errno, EINTR);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline lm_model *tu_open_ir(const char *dir, const char *name, lm_ir_model *ir) {
  uint8_t *img;
  size_t len;
  assert_int_equal(lm__lmf_write(ir, "t", &img, &len), 0);
  lm_ir_free(ir);
  char file[128];
  snprintf(file, sizeof file, "%s/%s", dir, name);
  FILE *f = fopen(file, "wb");
  fwrite(img, 1, len, f);
  fclose(f);
  free(img);
  lm_model *m;
  assert_int_equal(lm_model_open(file, &m), 0);
  return m;
}

#ifdef TU_TMPDIR
static inline int tu_tmpdir_setup(void **state) {
  (void)state;
  return tu_mkdtemp(TU_TMPDIR);
}

static inline int tu_tmpdir_teardown(void **state) {
  (void)state;
  return tu_rmtree(TU_TMPDIR);
}
#endif /* TU_TMPDIR */

#endif /* LMRT_TESTS_UTIL_H */
