/*
 * cpus.h — the pieces of lm_cpus_allowed (runtime/cpus.c), each taking its inputs as arguments
 * so that tests can inject what a container would show: kernel CPU lists ("0-3,8,10-11"), cgroup
 * v2 cpu.max and v1 cfs quota/period contents, /proc/self/cgroup contents and a fake cgroup
 * file system root, affinity masks.
 */
#ifndef LM_RUNTIME_CPUS_H
#define LM_RUNTIME_CPUS_H

#include <stddef.h>
#include <stdint.h>

#define LM__CPU_MAX 1024
#define LM__CPU_WORDS (LM__CPU_MAX / 64)

/* A kernel CPU list ("0-3,8,10-11", optional trailing newline; "" or "\n" is empty) into mask
 * (LM__CPU_WORDS words, cleared first). Returns the number of CPUs, or -1 when malformed
 * (garbage, a descending range, an id ≥ LM__CPU_MAX). */
int lm__cpulist_parse(const char *s, uint64_t *mask);
/* cgroup v2 cpu.max ("QUOTA PERIOD" or "max PERIOD"): CPUs' worth of quota, ceil(quota/period);
 * 0 when unlimited; -1 when malformed. */
long lm__cpumax_parse(const char *s);
/* cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us contents: the same (quota -1: unlimited). */
long lm__cfs_parse(const char *quota, const char *period);
/* The CPU quota (as above; 0: none) of the cgroup named in proc_cgroup (the contents of
 * /proc/self/cgroup) under the cgroup file system mounted at root: the smallest limit along the
 * path from the process's cgroup up to the mount (v2 cpu.max; v1 cpu controller's cfs files).
 * A path missing under root (no cgroup namespace) falls back to root itself. */
long lm__cgroup_quota(const char *root, const char *proc_cgroup);
/* The effective cpuset of that cgroup (v2 cpuset.cpus.effective; v1 cpuset.effective_cpus,
 * else cpuset.cpus) into mask. Returns its CPU count, or -1 when unknown. */
int lm__cgroup_cpuset(const char *root, const char *proc_cgroup, uint64_t *mask);
/* The decision: the affinity mask (NULL: unknown), narrowed to the cpuset (NULL, or disjoint
 * from the affinity: ignored), then limited to the first quota_cpus CPUs (0: no limit). Writes
 * up to cap ids (ascending) to cpus (may be NULL) and returns the count; with nothing known,
 * 1 CPU (fallback_cpu). */
size_t lm__cpus_decide(const uint64_t *affinity, const uint64_t *cpuset, long quota_cpus,
                       int fallback_cpu, int *cpus, size_t cap);

#endif
