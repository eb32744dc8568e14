/* Which CPUs this process may run on, as the container sees it: the scheduler affinity mask
 * (which already reflects a cgroup cpuset and the Kubernetes static CPU manager's exclusive
 * CPUs), further limited by a CFS bandwidth quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us):
 * a pod limited to 1.5 CPUs gets 2 workers at most, never one per host core.
 * lmscore --threads, lm_pool and lmserve's event loops all size themselves from here. */
#include "include/lmrt.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

/* CPUs' worth of quota (ceil(quota / period)), or 0 when unlimited or unknown. */
static size_t quota_cpus(void) {
  long long quota = -1, period = 0;
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
  if (f) {
    char q[32] = "";
    if (fscanf(f, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0)
      sscanf(q, "%lld", &quota);
    fclose(f);
  } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
    if (fscanf(f, "%lld", &quota) != 1) quota = -1;
    fclose(f);
    if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
      if (fscanf(f, "%lld", &period) != 1) period = 0;
      fclose(f);
    }
  }
  if (quota <= 0 || period <= 0) return 0;
  return (size_t)((quota + period - 1) / period);
}

LM_API size_t lm_cpus_allowed(int *cpus, size_t cap) {
  cpu_set_t set;
  CPU_ZERO(&set);
  size_t n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) {
        if (cpus && n < cap) cpus[n] = c;
        n++;
      }
  }
  if (n == 0) { /* affinity unknown: one CPU, the one we are on */
    if (cpus && cap) cpus[0] = sched_getcpu() < 0 ? 0 : sched_getcpu();
    return 1;
  }
  size_t q = quota_cpus();
  return q && q < n ? q : n;
}
