/* cpus.c — which CPUs this process may run on, as the container sees it: the scheduler affinity
 * mask (which already reflects a cgroup cpuset and the Kubernetes static CPU manager's exclusive
 * CPUs), narrowed to the cgroup's effective cpuset when it can be read, and limited by a CFS
 * bandwidth quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, the smallest along
 * the cgroup path): a pod limited to 1.5 CPUs gets 2 threads at most, never one per host core.
 * lmscore --threads, lm_pool and lmserve's event loops all size themselves from here. Every
 * parsing step takes its input as an argument (runtime/cpus.h) so tests inject container views.
 */
#include "include/lmrt.h"
#include "runtime/cpus.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int lm__cpulist_parse(const char *s, uint64_t *mask) {
  memset(mask, 0, LM__CPU_WORDS * sizeof *mask);
  int n = 0;
  const char *p = s;
  while (*p == ' ' || *p == '\t') p++;
  if (*p == '\n' || *p == '\0') return 0;
  for (;;) {
    if (!isdigit((unsigned char)*p)) return -1;
    char *end;
    errno = 0;
    unsigned long a = strtoul(p, &end, 10), b = a;
    if (errno || a >= LM__CPU_MAX) return -1;
    p = end;
    if (*p == '-') {
      p++;
      if (!isdigit((unsigned char)*p)) return -1;
      b = strtoul(p, &end, 10);
      if (errno || b >= LM__CPU_MAX || b < a) return -1;
      p = end;
    }
    for (unsigned long c = a; c <= b; c++)
      if (!(mask[c / 64] >> (c % 64) & 1)) {
        mask[c / 64] |= 1ull << (c % 64);
        n++;
      }
    if (*p == ',') {
      p++;
      continue;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    return *p ? -1 : n;
  }
}

static long lm__quota_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  long long c = (quota + period - 1) / period;
  return c > LONG_MAX ? LONG_MAX : (long)c;
}

/* One integer field: optional spaces, digits (or a leading '-'), then space/newline/end. */
static int lm__read_ll(const char **p, long long *v) {
  while (**p == ' ' || **p == '\t') (*p)++;
  if (!isdigit((unsigned char)**p) && **p != '-') return -1;
  char *end;
  errno = 0;
  *v = strtoll(*p, &end, 10);
  if (errno || end == *p || (*end && *end != ' ' && *end != '\n' && *end != '\t')) return -1;
  *p = end;
  return 0;
}

static int lm__at_end(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n') p++;
  return *p == '\0';
}

long lm__cpumax_parse(const char *s) {
  const char *p = s;
  while (*p == ' ' || *p == '\t') p++;
  long long quota = -1, period;
  if (!strncmp(p, "max", 3) && (p[3] == ' ' || p[3] == '\t' || p[3] == '\n' || !p[3])) {
    p += 3;
    if (lm__at_end(p)) return 0; /* "max" alone: period left at its default */
  } else if (lm__read_ll(&p, &quota) || quota <= 0) {
    return -1;
  }
  if (lm__read_ll(&p, &period) || period <= 0 || !lm__at_end(p)) return -1;
  return lm__quota_cpus(quota, period);
}

long lm__cfs_parse(const char *quota_s, const char *period_s) {
  const char *p = quota_s, *q = period_s;
  long long quota, period;
  if (lm__read_ll(&p, &quota) || !lm__at_end(p) || (quota <= 0 && quota != -1)) return -1;
  if (quota == -1) return 0;
  if (lm__read_ll(&q, &period) || !lm__at_end(q) || period <= 0) return -1;
  return lm__quota_cpus(quota, period);
}

/* Contents of a small file (at most cap-1 bytes), NUL-terminated; -1 if unreadable. */
static int lm__slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  int err = ferror(f);
  fclose(f);
  if (err) return -1;
  buf[n] = '\0';
  return 0;
}

/* The cgroup path of this process for a controller: v2 ("0::/path") when controller is NULL,
 * else the v1 line whose controller list contains it. Copies the path (no trailing newline). */
static int lm__cgroup_path(const char *proc_cgroup, const char *controller, char *out, size_t cap) {
  const char *line = proc_cgroup;
  while (line && *line) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (c2) {
      int match = 0;
      if (!controller) {
        match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
      } else {
        const char *t = c1 + 1;
        while (t < c2) {
          const char *comma = memchr(t, ',', (size_t)(c2 - t));
          const char *e = comma ? comma : c2;
          if ((size_t)(e - t) == strlen(controller) && !strncmp(t, controller, (size_t)(e - t)))
            match = 1;
          t = e + 1;
        }
      }
      size_t plen = len - (size_t)(c2 + 1 - line);
      if (match && plen < cap) {
        memcpy(out, c2 + 1, plen);
        out[plen] = '\0';
        return 0;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  return -1;
}

static int lm__is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir = mount + path when that directory exists, else mount (a cgroup namespace or a bind mount
 * of the process's own cgroup shows it at the mount point). */
static void lm__cgroup_dir(const char *mount, const char *path, char *dir, size_t cap) {
  snprintf(dir, cap, "%s%s", mount, strcmp(path, "/") ? path : "");
  if (!lm__is_dir(dir)) snprintf(dir, cap, "%s", mount);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
}

/* Walk from dir up to mount (inclusive), calling f on each directory; keep the smallest positive
 * limit. */
static long lm__walk_min(const char *mount, char *dir, long (*f)(const char *dir)) {
  long best = 0;
  size_t mlen = strlen(mount);
  while (mlen > 1 && mount[mlen - 1] == '/') mlen--;
  for (;;) {
    long q = f(dir);
    if (q > 0 && (best == 0 || q < best)) best = q;
    size_t n = strlen(dir);
    if (n <= mlen) break;
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) < mlen) break;
    *slash = '\0';
  }
  return best;
}

static long lm__v2_quota_at(const char *dir) {
  char path[PATH_MAX + 32], buf[128];
  snprintf(path, sizeof path, "%s/cpu.max", dir);
  if (lm__slurp(path, buf, sizeof buf)) return 0;
  long q = lm__cpumax_parse(buf);
  return q > 0 ? q : 0;
}

static long lm__v1_quota_at(const char *dir) {
  char path[PATH_MAX + 32], qb[64], pb[64];
  snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
  if (lm__slurp(path, qb, sizeof qb)) return 0;
  snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
  if (lm__slurp(path, pb, sizeof pb)) return 0;
  long q = lm__cfs_parse(qb, pb);
  return q > 0 ? q : 0;
}

long lm__cgroup_quota(const char *root, const char *proc_cgroup) {
  char path[PATH_MAX], mount[PATH_MAX], dir[PATH_MAX];
  long best = 0;
  if (proc_cgroup && !lm__cgroup_path(proc_cgroup, NULL, path, sizeof path)) {
    /* v2: the unified hierarchy at root (or root/unified on hybrid systems) */
    const char *mounts[] = {"", "/unified"};
    for (int i = 0; i < 2 && !best; i++) {
      snprintf(mount, sizeof mount, "%s%s", root, mounts[i]);
      if (!lm__is_dir(mount)) continue;
      lm__cgroup_dir(mount, path, dir, sizeof dir);
      best = lm__walk_min(mount, dir, lm__v2_quota_at);
    }
  }
  if (!best && proc_cgroup && !lm__cgroup_path(proc_cgroup, "cpu", path, sizeof path)) {
    const char *mounts[] = {"/cpu,cpuacct", "/cpu", "/cpuacct,cpu"};
    for (int i = 0; i < 3 && !best; i++) {
      snprintf(mount, sizeof mount, "%s%s", root, mounts[i]);
      if (!lm__is_dir(mount)) continue;
      lm__cgroup_dir(mount, path, dir, sizeof dir);
      best = lm__walk_min(mount, dir, lm__v1_quota_at);
    }
  }
  return best;
}

int lm__cgroup_cpuset(const char *root, const char *proc_cgroup, uint64_t *mask) {
  char path[PATH_MAX], mount[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + 64];
  char buf[8192];
  static const struct {
    const char *mount, *controller, *file;
  } tries[] = {{"", NULL, "cpuset.cpus.effective"},
               {"/cpuset", "cpuset", "cpuset.effective_cpus"},
               {"/cpuset", "cpuset", "cpuset.cpus"}};
  if (!proc_cgroup) return -1;
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
    if (lm__cgroup_path(proc_cgroup, tries[i].controller, path, sizeof path)) continue;
    snprintf(mount, sizeof mount, "%s%s", root, tries[i].mount);
    if (!lm__is_dir(mount)) continue;
    lm__cgroup_dir(mount, path, dir, sizeof dir);
    snprintf(file, sizeof file, "%s/%s", dir, tries[i].file);
    if (lm__slurp(file, buf, sizeof buf)) continue;
    int n = lm__cpulist_parse(buf, mask);
    if (n > 0) return n;
  }
  return -1;
}

size_t lm__cpus_decide(const uint64_t *affinity, const uint64_t *cpuset, long quota_cpus,
                       int fallback_cpu, int *cpus, size_t cap) {
  uint64_t set[LM__CPU_WORDS];
  int have = 0;
  if (affinity) {
    memcpy(set, affinity, sizeof set);
    for (int w = 0; w < LM__CPU_WORDS; w++) have |= set[w] != 0;
  }
  if (cpuset) {
    if (have) {
      uint64_t both[LM__CPU_WORDS];
      int any = 0;
      for (int w = 0; w < LM__CPU_WORDS; w++) any |= (both[w] = set[w] & cpuset[w]) != 0;
      if (any) memcpy(set, both, sizeof set);
    } else {
      memcpy(set, cpuset, sizeof set);
      for (int w = 0; w < LM__CPU_WORDS; w++) have |= set[w] != 0;
    }
  }
  if (!have) {
    if (cpus && cap) cpus[0] = fallback_cpu < 0 ? 0 : fallback_cpu;
    return 1;
  }
  size_t n = 0, limit = quota_cpus > 0 ? (size_t)quota_cpus : SIZE_MAX;
  for (int c = 0; c < LM__CPU_MAX && n < limit; c++)
    if (set[c / 64] >> (c % 64) & 1) {
      if (cpus && n < cap) cpus[n] = c;
      n++;
    }
  return n;
}

LM_API size_t lm_cpus_allowed(int *cpus, size_t cap) {
  uint64_t aff[LM__CPU_WORDS] = {0}, cs[LM__CPU_WORDS];
  cpu_set_t set;
  CPU_ZERO(&set);
  const uint64_t *affp = NULL;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE && c < LM__CPU_MAX; c++)
      if (CPU_ISSET(c, &set)) aff[c / 64] |= 1ull << (c % 64);
    affp = aff;
  }
  char pc[4096];
  const char *proc = lm__slurp("/proc/self/cgroup", pc, sizeof pc) ? NULL : pc;
  const uint64_t *csp = lm__cgroup_cpuset("/sys/fs/cgroup", proc, cs) > 0 ? cs : NULL;
  long q = lm__cgroup_quota("/sys/fs/cgroup", proc);
  return lm__cpus_decide(affp, csp, q, sched_getcpu(), cpus, cap);
}
