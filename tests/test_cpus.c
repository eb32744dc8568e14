/*
 * test_cpus.c — CPU discovery from injected container views (runtime/cpus.h): kernel CPU lists,
 * cgroup v2 cpu.max and v1 cfs quota/period contents (valid, unlimited, malformed), the cgroup
 * path in /proc/self/cgroup resolved under a fake cgroup file system built in a temporary
 * directory (v2, v1, hybrid, nested limits, cgroup namespaces), the final decision (affinity ∩
 * cpuset, quota limit, fallbacks), and lm_cpus_allowed on this machine against
 * sched_getaffinity.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "lmrt.h"
#include "runtime/cpus.h"

static char root[] = "/tmp/lm_test_cpus_XXXXXX";
#define TU_TMPDIR root
#include "tests/util.h"

static int has(const uint64_t *m, int c) { return (int)(m[c / 64] >> (c % 64) & 1); }

static void test_cpulist(void **state) {
  (void)state;
  uint64_t m[LM__CPU_WORDS];
  assert_int_equal(lm__cpulist_parse("0-3,8,10-11\n", m), 7);
  for (int c = 0; c < 16; c++) assert_int_equal(has(m, c), c <= 3 || c == 8 || c == 10 || c == 11);
  assert_int_equal(lm__cpulist_parse("5", m), 1);
  assert_true(has(m, 5) && !has(m, 4));
  assert_int_equal(lm__cpulist_parse("", m), 0);
  assert_int_equal(lm__cpulist_parse("\n", m), 0);
  assert_int_equal(lm__cpulist_parse("0-1023", m), 1024);
  assert_int_equal(lm__cpulist_parse("1,1,0-1", m), 2); /* duplicates count once */
  assert_int_equal(lm__cpulist_parse("64-65,127", m), 3);
  assert_true(has(m, 64) && has(m, 65) && has(m, 127) && !has(m, 63));
  const char *bad[] = {"a", "3-1", "1-", "-1", "1,,2", "1024", "0-1024", "1 2", "1,", "0x3",
                       "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (lm__cpulist_parse(bad[i], m) != -1) fail_msg("accepted '%s'", bad[i]);
}

static void test_cpumax(void **state) {
  (void)state;
  assert_int_equal(lm__cpumax_parse("150000 100000\n"), 2);
  assert_int_equal(lm__cpumax_parse("100000 100000"), 1);
  assert_int_equal(lm__cpumax_parse("50000 100000"), 1);
  assert_int_equal(lm__cpumax_parse("400000 100000\n"), 4);
  assert_int_equal(lm__cpumax_parse("max 100000\n"), 0);
  assert_int_equal(lm__cpumax_parse("max"), 0);
  const char *bad[] = {"", "abc 100000", "150000", "150000 0", "-5 100000", "0 100000",
                       "150000 100000 7", "maxi 100000", "150000 x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (lm__cpumax_parse(bad[i]) != -1) fail_msg("accepted '%s'", bad[i]);
}

static void test_cfs(void **state) {
  (void)state;
  assert_int_equal(lm__cfs_parse("-1\n", "100000\n"), 0);
  assert_int_equal(lm__cfs_parse("250000\n", "100000\n"), 3);
  assert_int_equal(lm__cfs_parse("100000", "100000"), 1);
  assert_int_equal(lm__cfs_parse("", "100000"), -1);
  assert_int_equal(lm__cfs_parse("x", "100000"), -1);
  assert_int_equal(lm__cfs_parse("100000", "0"), -1);
  assert_int_equal(lm__cfs_parse("-2", "100000"), -1);
}

static void put(const char *rel, const char *content) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  /* mkdir -p the parent */
  for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
    *s = '\0';
    mkdir(p, 0755);
    *s = '/';
  }
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
}

static void sub(char *out, const char *name) { snprintf(out, 512, "%s/%s", root, name); }

/* cgroup v2: the limit is the smallest along the path; the cpuset is the leaf's effective one. */
static void test_cgroup_v2(void **state) {
  (void)state;
  char r[512];
  sub(r, "v2");
  put("v2/cpu.max", "max 100000\n");
  put("v2/kubepods/cpu.max", "800000 100000\n");
  put("v2/kubepods/pod1/cpu.max", "max 100000\n");
  put("v2/kubepods/pod1/ctr/cpu.max", "150000 100000\n");
  put("v2/kubepods/pod1/ctr/cpuset.cpus.effective", "2-3,6\n");
  put("v2/kubepods/pod2/cpu.max", "max 100000\n");
  const char *pc = "0::/kubepods/pod1/ctr\n";
  assert_int_equal(lm__cgroup_quota(r, pc), 2);
  uint64_t m[LM__CPU_WORDS];
  assert_int_equal(lm__cgroup_cpuset(r, pc, m), 3);
  assert_true(has(m, 2) && has(m, 3) && has(m, 6) && !has(m, 4));
  /* a parent's limit applies to an unlimited child */
  assert_int_equal(lm__cgroup_quota(r, "0::/kubepods/pod2\n"), 8);
  /* no cgroup namespace: the path is not under the mount, the mount is the process's cgroup */
  sub(r, "v2/kubepods/pod1/ctr");
  assert_int_equal(lm__cgroup_quota(r, "0::/some/host/path\n"), 2);
  assert_int_equal(lm__cgroup_cpuset(r, "0::/some/host/path\n", m), 3);
  /* a cgroup namespace: "/" is the mount itself */
  assert_int_equal(lm__cgroup_quota(r, "0::/\n"), 2);
  /* unreadable / absent */
  sub(r, "nowhere");
  assert_int_equal(lm__cgroup_quota(r, pc), 0);
  assert_int_equal(lm__cgroup_cpuset(r, pc, m), -1);
  assert_int_equal(lm__cgroup_quota(r, NULL), 0);
  /* a malformed file is ignored, not trusted */
  put("bad/cpu.max", "lots\n");
  put("bad/cpuset.cpus.effective", "0-\n");
  sub(r, "bad");
  assert_int_equal(lm__cgroup_quota(r, "0::/\n"), 0);
  assert_int_equal(lm__cgroup_cpuset(r, "0::/\n", m), -1);
}

/* cgroup v1 (this machine's layout): controllers in separate hierarchies; cpu,cpuacct joined. */
static void test_cgroup_v1(void **state) {
  (void)state;
  char r[512];
  sub(r, "v1");
  put("v1/cpu,cpuacct/kubepods/burstable/pod9/c1/cpu.cfs_quota_us", "250000\n");
  put("v1/cpu,cpuacct/kubepods/burstable/pod9/c1/cpu.cfs_period_us", "100000\n");
  put("v1/cpu,cpuacct/kubepods/cpu.cfs_quota_us", "-1\n");
  put("v1/cpu,cpuacct/kubepods/cpu.cfs_period_us", "100000\n");
  put("v1/cpuset/kubepods/burstable/pod9/c1/cpuset.effective_cpus", "0,4-5,9\n");
  const char *pc = "12:memory:/kubepods/burstable/pod9/c1\n"
                   "11:cpuset:/kubepods/burstable/pod9/c1\n"
                   "4:cpu,cpuacct:/kubepods/burstable/pod9/c1\n"
                   "0::/\n";
  assert_int_equal(lm__cgroup_quota(r, pc), 3);
  uint64_t m[LM__CPU_WORDS];
  assert_int_equal(lm__cgroup_cpuset(r, pc, m), 4);
  assert_true(has(m, 0) && has(m, 4) && has(m, 5) && has(m, 9) && !has(m, 1));
  /* v1 with cpuset.cpus only (older kernels), and a separate "cpu" mount */
  put("v1b/cpuset/a/cpuset.cpus", "1-2\n");
  put("v1b/cpu/a/cpu.cfs_quota_us", "100000\n");
  put("v1b/cpu/a/cpu.cfs_period_us", "100000\n");
  sub(r, "v1b");
  const char *pc2 = "3:cpuset:/a\n2:cpu:/a\n";
  assert_int_equal(lm__cgroup_quota(r, pc2), 1);
  assert_int_equal(lm__cgroup_cpuset(r, pc2, m), 2);
  /* hybrid: a v2 line whose unified mount has no cpu.max falls back to the v1 controllers */
  put("hy/unified/cgroup.procs", "");
  put("hy/cpu,cpuacct/x/cpu.cfs_quota_us", "300000\n");
  put("hy/cpu,cpuacct/x/cpu.cfs_period_us", "100000\n");
  sub(r, "hy");
  assert_int_equal(lm__cgroup_quota(r, "4:cpu,cpuacct:/x\n0::/x\n"), 3);
}

static void test_decide(void **state) {
  (void)state;
  uint64_t aff[LM__CPU_WORDS], cs[LM__CPU_WORDS];
  int cpus[64];
  /* affinity only */
  lm__cpulist_parse("0-7", aff);
  assert_int_equal(lm__cpus_decide(aff, NULL, 0, 0, cpus, 64), 8);
  assert_int_equal(cpus[7], 7);
  /* narrowed by the cpuset (static CPU manager: exclusive CPUs 2,3,6) */
  lm__cpulist_parse("2-3,6", cs);
  assert_int_equal(lm__cpus_decide(aff, cs, 0, 0, cpus, 64), 3);
  assert_int_equal(cpus[0], 2);
  assert_int_equal(cpus[1], 3);
  assert_int_equal(cpus[2], 6);
  /* quota 2 CPUs: the first two */
  assert_int_equal(lm__cpus_decide(aff, cs, 2, 0, cpus, 64), 2);
  assert_int_equal(cpus[1], 3);
  /* a quota larger than the set changes nothing */
  assert_int_equal(lm__cpus_decide(aff, cs, 16, 0, cpus, 64), 3);
  /* a cpuset disjoint from the affinity (a stale or foreign file) is ignored */
  lm__cpulist_parse("40-41", cs);
  assert_int_equal(lm__cpus_decide(aff, cs, 0, 0, cpus, 64), 8);
  /* no affinity: the cpuset; nothing: one CPU, the fallback */
  assert_int_equal(lm__cpus_decide(NULL, cs, 0, 0, cpus, 64), 2);
  assert_int_equal(cpus[0], 40);
  assert_int_equal(lm__cpus_decide(NULL, NULL, 4, 5, cpus, 64), 1);
  assert_int_equal(cpus[0], 5);
  /* cap: the count is still the full count; NULL output allowed */
  lm__cpulist_parse("0-99", aff);
  assert_int_equal(lm__cpus_decide(aff, NULL, 0, 0, cpus, 3), 100);
  assert_int_equal(cpus[2], 2);
  assert_int_equal(lm__cpus_decide(aff, NULL, 0, 0, NULL, 0), 100);
}

/* On this machine: never more than the affinity mask, ascending, at least one. */
static void test_this_machine(void **state) {
  (void)state;
  cpu_set_t set;
  assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
  int cpus[1024];
  size_t n = lm_cpus_allowed(cpus, 1024);
  assert_true(n >= 1);
  assert_true(n <= (size_t)CPU_COUNT(&set));
  for (size_t i = 0; i < n; i++) {
    assert_true(CPU_ISSET(cpus[i], &set));
    if (i) assert_true(cpus[i] > cpus[i - 1]);
  }
  assert_int_equal(lm_cpus_allowed(NULL, 0), n);
  /* narrowing the affinity narrows the answer */
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[n - 1], &one);
  assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
  int c;
  assert_int_equal(lm_cpus_allowed(&c, 1), 1);
  assert_int_equal(c, cpus[n - 1]);
  assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cpulist),   cmocka_unit_test(test_cpumax),
      cmocka_unit_test(test_cfs),       cmocka_unit_test(test_cgroup_v2),
      cmocka_unit_test(test_cgroup_v1), cmocka_unit_test(test_decide),
      cmocka_unit_test(test_this_machine)};
  return cmocka_run_group_tests_name("cpus", tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
