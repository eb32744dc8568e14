/*
 * test_fuzz_replay.c — replays every committed fuzz input through the fuzz targets' own code:
 * each file of tests/fuzz/corpus/<target>/ (the seed corpora, minimised after fuzzing) and of
 * tests/fuzz/regressions/<target>/ (every crash the fuzzers found, minimised). The target bodies
 * are #included from tests/fuzz/ and compiled here with gcc against the normal library, so
 * `make test` runs them plain and under ASan + UBSan (check-san).
 *
 * Each call must return 0 or a negative LM_E* code with an error detail; the harness's deeper
 * checks (writer images the verifier accepts, verified views inside the file, kernels agreeing
 * bit for bit) fail the test through LM_FUZZ_VIOLATION. Fuzz replays are the one place where
 * tests assert "did not crash" rather than values: the inputs are arbitrary bytes. Every
 * directory under corpus/ and regressions/ must belong to a target compiled here.
 *
 * Each regression's file name is printed before it runs (a crash is then named by the last
 * line); corpus files too with LM_FUZZ_VERBOSE=1. Without AddressSanitizer the address space is
 * capped at 8 GiB, so that an allocation sized by a count in the input fails at once (and is
 * reported) instead of being overcommitted and then written.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

/* The file being replayed, named in every failure (and by the sanitizers' death callback). */
static char replay_file[1024];

#define LM_FUZZ_VIOLATION(...)                   \
  do {                                           \
    print_error("%s: violation: ", replay_file); \
    fail_msg(__VA_ARGS__);                       \
  } while (0)

#include "tests/fuzz/fuzz_common.c"
#include "tests/fuzz/fuzz_artifact.c"
#include "tests/fuzz/fuzz_import_any.c"
#include "tests/fuzz/fuzz_lightgbm_text.c"
#include "tests/fuzz/fuzz_linear_learner.c"
#include "tests/fuzz/fuzz_lmf.c"
#include "tests/fuzz/fuzz_pickle.c"
#include "tests/fuzz/fuzz_xgboost_bin.c"
#include "tests/fuzz/fuzz_xgboost_json.c"
#include "tests/fuzz/fuzz_xgboost_pickle.c"
#include "tests/fuzz/fuzz_xgboost_ubj.c"

typedef struct replay_target {
  const char *name;
  int (*fn)(const uint8_t *data, size_t size);
} replay_target;

static const replay_target targets[] = {
    {"artifact", lm_fuzz_artifact},
    {"import_any", lm_fuzz_import_any},
    {"lightgbm_text", lm_fuzz_lightgbm_text},
    {"linear_learner", lm_fuzz_linear_learner},
    {"lmf", lm_fuzz_lmf},
    {"pickle", lm_fuzz_pickle},
    {"xgboost_bin", lm_fuzz_xgboost_bin},
    {"xgboost_json", lm_fuzz_xgboost_json},
    {"xgboost_pickle", lm_fuzz_xgboost_pickle},
    {"xgboost_ubj", lm_fuzz_xgboost_ubj},
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

#if defined(__SANITIZE_ADDRESS__)
/* A huge allocation returns NULL (the library reports LM_ENOMEM, which the harness turns into a
 * failure naming the file) instead of ending the whole run. */
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
void __sanitizer_set_death_callback(void (*callback)(void));
static void on_death(void) {
  fprintf(stderr, "test_fuzz_replay: died replaying %s\n", replay_file);
}
#endif

static const char *src_dir(void) {
  const char *s = getenv("LM_SRC");
  return s && *s ? s : ".";
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  for (;;) {
    if (n == cap) {
      buf = realloc(buf, cap *= 2);
      assert_non_null(buf);
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    if (r == 0) break;
    n += r;
  }
  assert_int_equal(ferror(f), 0);
  fclose(f);
  /* An exact-size copy, as libFuzzer passes inputs: ASan sees a read past the end. */
  uint8_t *exact = malloc(n ? n : 1);
  assert_non_null(exact);
  memcpy(exact, buf, n);
  free(buf);
  *len = n;
  return exact;
}

static int only_files(const struct dirent *e) { return e->d_name[0] != '.'; }

/* Replay one file through t; 1 if the target accepted it. */
static int replay_one(const replay_target *t, const char *path) {
  snprintf(replay_file, sizeof replay_file, "%s", path);
  size_t len = 0;
  uint8_t *data = read_file(path, &len);
  int rc = t->fn(data, len);
  if (rc > 0 || (rc < 0 && strcmp(lm_err_name(rc), "UNKNOWN") == 0))
    fail_msg("%s: returned %d, not 0 or a negative LM_E* code", path, rc);
  free(data);
  replay_file[0] = '\0';
  return rc == 0;
}

/* The regular files of tests/fuzz/KIND/TARGET, sorted; NULL-terminated, malloc'd. */
static char **list_dir(const char *kind, const char *target) {
  char dir[768];
  snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", src_dir(), kind, target);
  struct dirent **list = NULL;
  int n = scandir(dir, &list, only_files, alphasort);
  char **paths = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof *paths);
  assert_non_null(paths);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) paths[k++] = strdup(path);
    free(list[i]);
  }
  free(list);
  return paths;
}

static void free_list(char **paths) {
  for (char **p = paths; *p; p++) free(*p);
  free(paths);
}

/* A target's whole seed corpus (tests/fuzz/corpus/TARGET). */
static void test_corpus(void **state) {
  const replay_target *t = *state;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char **paths = list_dir("corpus", t->name);
  size_t files = 0, accepted = 0;
  for (char **p = paths; *p; p++, files++) {
    if (getenv("LM_FUZZ_VERBOSE")) print_message("replay %s\n", *p);
    accepted += (size_t)replay_one(t, *p);
  }
  free_list(paths);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  print_message("replay %-14s %4zu corpus files (%zu accepted) in %.0f ms\n", t->name, files,
                accepted, ms);
  /* A target without a seed corpus would be fuzzed from nothing: every target has one. */
  assert_true(files > 0);
}

/* One crash the fuzzers found (tests/fuzz/regressions/TARGET/FILE): a test of its own. */
typedef struct regression {
  const replay_target *t;
  char *path;
} regression;

static void test_regression(void **state) {
  const regression *r = *state;
  replay_one(r->t, r->path);
}

/* Every directory of corpus/ and regressions/ is a target's: none is silently skipped. */
static void test_no_orphan_dirs(void **state) {
  (void)state;
  static const char *const kinds[] = {"corpus", "regressions"};
  for (size_t k = 0; k < 2; k++) {
    char dir[768];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s", src_dir(), kinds[k]);
    DIR *d = opendir(dir);
    if (!d) {
      assert_int_equal(k, 1); /* the corpora must exist; regressions may not */
      continue;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      size_t i = 0;
      while (i < N_TARGETS && strcmp(targets[i].name, e->d_name) != 0) i++;
      if (i == N_TARGETS)
        fail_msg("tests/fuzz/%s/%s: no such target in test_fuzz_replay.c", kinds[k], e->d_name);
    }
    closedir(d);
  }
}

int main(void) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(on_death);
#else
  struct rlimit as = {(rlim_t)8 << 30, (rlim_t)8 << 30};
  struct rlimit cur;
  if (getrlimit(RLIMIT_AS, &cur) == 0 &&
      (cur.rlim_cur == RLIM_INFINITY || cur.rlim_cur > as.rlim_cur))
    setrlimit(RLIMIT_AS, &as);
#endif
  /* The tests: each target's corpus, then each regression file, then the directory check. */
  size_t cap = N_TARGETS + 1, n = 0;
  struct CMUnitTest *tests = malloc(sizeof *tests * cap);
  for (size_t i = 0; i < N_TARGETS; i++)
    tests[n++] = (struct CMUnitTest){targets[i].name, test_corpus, NULL, NULL, (void *)&targets[i]};
  for (size_t i = 0; i < N_TARGETS; i++) {
    char **paths = list_dir("regressions", targets[i].name);
    for (char **p = paths; *p; p++) {
      regression *r = malloc(sizeof *r);
      r->t = &targets[i];
      r->path = *p;
      tests = realloc(tests, sizeof *tests * ++cap);
      const char *base = strrchr(*p, '/') + 1;
      char *name = malloc(strlen(targets[i].name) + strlen(base) + 16);
      sprintf(name, "regression %s/%s", targets[i].name, base);
      tests[n++] = (struct CMUnitTest){name, test_regression, NULL, NULL, r};
    }
    free(paths); /* the strings now belong to the regressions */
  }
  tests[n++] = (struct CMUnitTest){"no_orphan_dirs", test_no_orphan_dirs, NULL, NULL, NULL};
  int rc = _cmocka_run_group_tests("fuzz_replay", tests, n, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    if (tests[i].test_func != test_regression) continue;
    regression *r = tests[i].initial_state;
    free(r->path), free(r), free((char *)tests[i].name);
  }
  free(tests);
  return rc;
}
