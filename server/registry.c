/*
 * registry.c — lmserve's model repository: the models of one directory (DIR/NAME.lm serves as
 * model NAME), loaded, verified and swapped in without ever blocking the request path.
 *
 * Write side (the control thread only): a scan stats every *.lm file and loads the new or
 * changed ones (all of them on SIGHUP): lm_model_open (the format verifier), the embedded
 * self-test, one lm_session per worker created and warmed up with a scoring call on that
 * worker's CPU when workers are pinned (NUMA-local arena and replica), the metadata response
 * prepared, the file's XXH64 computed. Only a version that passed all of that is published,
 * with one atomic exchange of the slot's pointer; a file that fails is logged, counted
 * (lmserve_model_reload_failures_total) and the previous version keeps serving. A removed file
 * unpublishes its model (404 afterwards) and frees its slot after a grace period, so names may
 * come and go for ever (model-v1.lm, model-v2.lm, ...); when more files than --max-models are
 * present, slots go by name order and the rest are skipped, counted and logged (rate-limited).
 * Strings from a .lm file (objective, source format, kernel) are escaped wherever they are
 * written: metadata JSON, logs (ls_json_escape), Prometheus labels (ls_prom_escape).
 *
 * Read side (workers): one acquire load of the slot's pointer per request; no lock, no
 * reference count. A retired version is freed only after every worker has passed a quiescent
 * point (quiescent-state-based reclamation): workers bump a counter around each epoll_wait
 * (odd while blocked, even while handling events), and ls_registry_synchronize waits until each
 * counter is odd or has moved. A request in flight on the old version therefore finishes on it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "server/ls.h"

void ls_registry_init(ls_registry *r, const char *dir, int nworkers) {
  memset(r, 0, sizeof *r);
  r->dir = dir;
  r->nworkers = nworkers;
  r->max_models = LS_MAX_MODELS;
  r->max_features = LS_DEFAULT_MAX_FEATURES;
  for (int i = 0; i < LS_MAX_WORKERS; i++) r->cpu[i] = -1;
}

/* Run the calling (control) thread on CPU cpu, or back on *saved (cpu < 0); 0 or -1. Sessions
 * are created and warmed up there: lm_session_new picks the model replica of the creating
 * thread's NUMA node, and the arena's pages are first touched on it, so each worker's session
 * is local to the worker without a round trip through the worker's event loop. */
static int run_on(int cpu, cpu_set_t *saved, int *have_saved) {
  if (cpu < 0) {
    return *have_saved ? sched_setaffinity(0, sizeof *saved, saved) : 0;
  }
  if (!*have_saved) {
    if (sched_getaffinity(0, sizeof *saved, saved)) return -1;
    *have_saved = 1;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof one, &one);
}

ls_slot *ls_registry_find(ls_registry *r, const char *name, size_t n) {
  int ns = atomic_load_explicit(&r->nslots, memory_order_acquire);
  for (int i = 0; i < ns; i++)
    if (atomic_load_explicit(&r->slots[i].live, memory_order_acquire) &&
        r->slots[i].name_len == n && memcmp(r->slots[i].name, name, n) == 0)
      return &r->slots[i];
  return NULL;
}

int ls_registry_count_ready(ls_registry *r) {
  int ns = atomic_load_explicit(&r->nslots, memory_order_acquire), k = 0;
  for (int i = 0; i < ns; i++)
    if (atomic_load_explicit(&r->slots[i].live, memory_order_relaxed) &&
        atomic_load_explicit(&r->slots[i].cur, memory_order_relaxed))
      k++;
  return k;
}

int ls_ready(ls_server *s, ls_buf *body) {
  ls_registry *r = &s->reg;
  int ns = atomic_load_explicit(&r->nslots, memory_order_acquire), served = 0, rejected = 0;
  int running = atomic_load_explicit(&s->state, memory_order_relaxed) == LS_RUNNING;
  for (int i = 0; i < ns; i++) {
    ls_slot *sl = &r->slots[i];
    if (!atomic_load_explicit(&sl->live, memory_order_acquire)) continue;
    if (atomic_load_explicit(&sl->cur, memory_order_acquire)) served++;
    /* Any rejected file keeps the server unready (issue 20), also when an older version of it
     * still answers requests: the repository is not what was deployed. */
    if (atomic_load_explicit(&sl->rejected, memory_order_relaxed)) rejected++;
  }
  int ready = running && served > 0 && rejected == 0;
  if (!body) return ready;
  ls_buf_puts(body, ready ? "{\"ready\":true" : "{\"ready\":false");
  /* Model names are [A-Za-z0-9_.-] (valid_stem): JSON-safe as they are. */
  for (int pass = 0; pass < 2; pass++) {
    int k = 0;
    for (int i = 0; i < ns; i++) {
      ls_slot *sl = &r->slots[i];
      if (!atomic_load_explicit(&sl->live, memory_order_acquire) ||
          !atomic_load_explicit(&sl->rejected, memory_order_relaxed) ||
          (atomic_load_explicit(&sl->cur, memory_order_acquire) != NULL) != pass)
        continue;
      char e[3 * LS_NAME_MAX];
      ls_json_escape(e, sizeof e, sl->name, sl->name_len);
      ls_buf_printf(body, "%s\"%s\"", k++ ? "," : pass ? ",\"stale\":[" : ",\"not_loaded\":[", e);
    }
    if (k) ls_buf_puts(body, "]");
  }
  uint64_t sk = atomic_load(&r->skipped);
  if (sk) ls_buf_printf(body, ",\"skipped\":%llu", (unsigned long long)sk);
  ls_buf_puts(body, "}");
  return ready;
}

void ls_registry_synchronize(ls_registry *r) {
  uint64_t snap[LS_MAX_WORKERS];
  for (int i = 0; i < r->nworkers; i++) snap[i] = r->qs[i] ? atomic_load(r->qs[i]) : 1;
  for (int i = 0; i < r->nworkers; i++) {
    if (snap[i] & 1) continue; /* idle in epoll_wait: holds no model pointer */
    while (atomic_load(r->qs[i]) == snap[i]) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
  }
}

static void free_version(ls_version *v) {
  if (!v) return;
  for (int i = 0; i < v->nsess; i++) lm_session_free(v->sess[i]);
  free(v->sess);
  lm_model_close(v->model);
  free(v->meta);
  free(v);
}

static int file_hash(const char *path, uint64_t *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  XXH64_state_t *st = XXH64_createState();
  if (!st) {
    fclose(f);
    return -1;
  }
  XXH64_reset(st, 0);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) XXH64_update(st, buf, n);
  int err = ferror(f);
  fclose(f);
  *out = XXH64_digest(st);
  XXH64_freeState(st);
  return err ? -1 : 0;
}

static ls_version *load_version(ls_registry *r, ls_slot *s, const char *path, unsigned ver) {
  ls_version *v = calloc(1, sizeof *v);
  char why[600] = "";
  if (!v) {
    snprintf(why, sizeof why, "out of memory");
    goto fail;
  }
  int rc = lm_model_open(path, &v->model);
  if (rc < 0) {
    snprintf(why, sizeof why, "%s: %s", lm_strerror(rc), lm_last_error());
    goto fail;
  }
  v->nfeat = lm_model_num_features(v->model);
  if (v->nfeat > r->max_features) { /* before anything is sized by it (issue 18 finding 7) */
    snprintf(why, sizeof why, "META.num_features %zu exceeds --max-features %zu", v->nfeat,
             r->max_features);
    goto fail;
  }
  rc = lm_model_selftest(v->model);
  if (rc < 0) {
    snprintf(why, sizeof why, "%s: %s", lm_strerror(rc), lm_last_error());
    goto fail;
  }
  v->selftest_rows = rc;
  lm_model_get_info(v->model, &v->info);
  v->nfeat = lm_model_num_features(v->model);
  v->width = lm_model_output_width(v->model, 0);
  if (file_hash(path, &v->hash)) {
    snprintf(why, sizeof why, "cannot read the file to hash it: %s", strerror(errno));
    goto fail;
  }
  v->nsess = r->nworkers;
  v->sess = calloc((size_t)r->nworkers, sizeof *v->sess);
  float *x = malloc((v->nfeat ? v->nfeat : 1) * sizeof(float));
  float *y = malloc((v->width ? v->width : 1) * sizeof(float));
  double *xd = malloc((v->nfeat ? v->nfeat : 1) * sizeof(double));
  if (!v->sess || !x || !y || !xd) {
    free(x), free(y), free(xd);
    snprintf(why, sizeof why, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < v->nfeat; i++) x[i] = NAN, xd[i] = NAN;
  cpu_set_t saved;
  int have_saved = 0;
  uint64_t nodes = 0; /* NUMA nodes given a replica */
  for (int i = 0; i < r->nworkers; i++) {
    rc = 0;
    if (r->cpu[i] >= 0 && run_on(r->cpu[i], &saved, &have_saved) == 0 && r->replicas) {
      rc = lm_model_replicate_local(v->model, r->replicas == 2);
      int nd = numa_available() >= 0 ? numa_node_of_cpu(r->cpu[i]) : 0;
      nd = nd < 0 ? 0 : nd & 63;
      if (rc == 1 && !(nodes >> nd & 1)) nodes |= 1ull << nd, v->replicas++;
    }
    if (rc >= 0) rc = lm_session_new(v->model, &v->sess[i]);
    if (rc == 0) rc = lm_predict(v->sess[i], x, 1, 0, y); /* warm-up: arena sized */
    if (rc == 0) rc = lm_predict_f64(v->sess[i], xd, 1, 0, y);
    if (rc < 0) {
      run_on(-1, &saved, &have_saved);
      free(x), free(y), free(xd);
      snprintf(why, sizeof why, "session: %s: %s", lm_strerror(rc), lm_last_error());
      goto fail;
    }
  }
  run_on(-1, &saved, &have_saved);
  free(x), free(y), free(xd);
  /* Contributions (the contrib output): a tree model with cover is taken at its word (probing
   * it would build its TreeSHAP tables now, memory and time for a model that may never be
   * asked; the first contrib request builds them, and a model the library still refuses gets
   * its 400 then); other models are asked with zero rows, which costs nothing and says why not
   * (no cover, LightGBM, factorization machines) without the file's path. */
  if (v->info.num_trees && v->info.has_cover) {
    v->contrib = 1;
  } else {
    rc = lm_predict_contrib(v->sess[0], NULL, 0, NULL);
    v->contrib = rc == 0;
    if (rc < 0) {
      const char *e = lm_last_error();
      size_t pl = strlen(path);
      if (strncmp(e, path, pl) == 0 && strncmp(e + pl, ": ", 2) == 0) e += pl + 2;
      snprintf(v->contrib_why, sizeof v->contrib_why, "%s", e); /* escaped when answered */
    }
  }
  v->version = ver;
  snprintf(v->vstr, sizeof v->vstr, "%u", ver);
  char src[600], obj[600];
  ls_json_escape(src, sizeof src, v->info.source_format ? v->info.source_format : "",
                 v->info.source_format ? strlen(v->info.source_format) : 0);
  ls_json_escape(obj, sizeof obj, v->info.objective ? v->info.objective : "",
                 v->info.objective ? strlen(v->info.objective) : 0);
  /* Metadata: the single input-0 [-1, features] carries the feature names and types (XGBoost's
   * "q" numeric, "c" categorical) in its parameters — the names a request with one tensor per
   * feature uses (f0, f1, … when the model has none); outputs: output-0 (value or margin),
   * for tree models leaf (pred_leaf), and contrib (pred_contribs) when the model has them:
   * [-1, features + 1], or [-1, outputs, features + 1] for several outputs, as XGBoost shapes
   * pred_contribs. */
  char one[1];
  ls_buf mb = {one, 0, sizeof one, one, sizeof one};
  size_t ntrees = lm_model_num_trees(v->model);
  if (ls_buf_reserve(&mb, 4096) == 0) {
    ls_buf_printf(&mb, "{\"name\":\"%s\",\"versions\":[\"%s\"],\"platform\":\"lmrt\","
                  "\"inputs\":[{\"name\":\"input-0\",\"datatype\":\"FP32\",\"shape\":[-1,%zu],"
                  "\"parameters\":{\"feature_names\":[", s->name, v->vstr, v->nfeat);
    for (size_t i = 0; i < v->nfeat; i++) {
      const char *fn = lm_model_feature_name(v->model, i);
      char fe[800];
      if (fn) ls_json_escape(fe, sizeof fe, fn, strlen(fn));
      else snprintf(fe, sizeof fe, "f%zu", i);
      ls_buf_printf(&mb, "%s\"%s\"", i ? "," : "", fe);
    }
    ls_buf_puts(&mb, "],\"feature_types\":[");
    for (size_t i = 0; i < v->nfeat; i++)
      ls_buf_printf(&mb, "%s\"%s\"", i ? "," : "",
                    lm_model_feature_type(v->model, i) == 'c' ? "c" : "q");
    ls_buf_printf(&mb, "]}}],\"outputs\":[{\"name\":\"output-0\",\"datatype\":\"FP32\","
                  "\"shape\":[-1,%zu]}", v->width);
    if (ntrees)
      ls_buf_printf(&mb, ",{\"name\":\"leaf\",\"datatype\":\"UINT32\",\"shape\":[-1,%zu]}",
                    ntrees);
    size_t nout = lm_model_num_outputs(v->model);
    if (v->contrib && nout == 1)
      ls_buf_printf(&mb, ",{\"name\":\"contrib\",\"datatype\":\"FP32\",\"shape\":[-1,%zu]}",
                    v->nfeat + 1);
    else if (v->contrib)
      ls_buf_printf(&mb, ",{\"name\":\"contrib\",\"datatype\":\"FP32\","
                    "\"shape\":[-1,%zu,%zu]}", nout, v->nfeat + 1);
    ls_buf_printf(&mb, "],\"parameters\":{\"source_format\":\"%s\",\"objective\":\"%s\","
                  "\"trees\":%u,\"hash\":\"%016" PRIx64 "\",\"selftest_rows\":%d}}",
                  src, obj, v->info.num_trees, v->hash, v->selftest_rows);
  }
  if (mb.p == one || ls_buf_reserve(&mb, 1)) {
    if (mb.p != one) free(mb.p);
    snprintf(why, sizeof why, "out of memory (metadata)");
    goto fail;
  }
  mb.p[mb.len] = 0;
  v->meta = mb.p;
  v->meta_len = mb.len;
  return v;
fail:;
  char e[700];
  ls_json_escape(e, sizeof e, why, strlen(why));
  char pe[600];
  ls_json_escape(pe, sizeof pe, path, strlen(path));
  ls_log(LS_LOG_ERROR, "model rejected", "\"model\":\"%s\",\"file\":\"%s\",\"error\":\"%s\"",
         s->name, pe, e);
  ls_inc(&s->reload_failures);
  free_version(v);
  return NULL;
}

static void publish(ls_registry *r, ls_slot *s, ls_version *v) {
  ls_version *old = atomic_exchange(&s->cur, v);
  if (old) {
    ls_registry_synchronize(r);
    free_version(old);
  }
}

/* Zero the per-slot metrics of every worker (the slot is free and a grace period has passed:
 * no worker is counting into it). */
static void reset_slot_metrics(ls_registry *r, int idx) {
  for (int i = 0; i < r->nworkers; i++) {
    struct ls_metrics *m = r->met[i];
    if (!m) continue;
    for (int k = 0; k < LS_NCODES; k++) atomic_store_explicit(&m->req[idx][k], 0, memory_order_relaxed);
    ls_hist *h = &m->inf_dur[idx];
    for (int k = 0; k <= LS_NBUCKETS; k++) atomic_store_explicit(&h->b[k], 0, memory_order_relaxed);
    atomic_store_explicit(&h->count, 0, memory_order_relaxed);
    atomic_store_explicit(&h->sum_ns, 0, memory_order_relaxed);
  }
}

/* A free slot for a new name (NULL when max_models are in use). Free slots have passed their
 * grace period (free_gone_slots synchronizes before returning), so no reader still looks at the
 * old name; the name is written before the slot is published live (release). */
static ls_slot *alloc_slot(ls_registry *r, const char *name, size_t n) {
  int ns = atomic_load(&r->nslots), lim = r->max_models < LS_MAX_MODELS ? r->max_models : LS_MAX_MODELS;
  int idx = -1;
  for (int i = 0; i < ns && i < lim; i++)
    if (!atomic_load(&r->slots[i].live)) {
      idx = i;
      break;
    }
  if (idx < 0) {
    if (ns >= lim) return NULL;
    idx = ns;
  }
  ls_slot *s = &r->slots[idx];
  reset_slot_metrics(r, idx);
  memcpy(s->name, name, n);
  s->name[n] = 0;
  s->name_len = n;
  s->have_seen = 0;
  s->gen = 0;
  atomic_store(&s->reloads, 0);
  atomic_store(&s->reload_failures, 0);
  atomic_store(&s->rejected, 0);
  atomic_store_explicit(&s->live, 1, memory_order_release);
  if (idx == ns) atomic_store_explicit(&r->nslots, ns + 1, memory_order_release);
  return s;
}

static ls_slot *slot_for(ls_registry *r, const char *name, size_t n) {
  ls_slot *s = ls_registry_find(r, name, n);
  return s ? s : alloc_slot(r, name, n);
}

static void load_into(ls_registry *r, ls_slot *s, const char *path) {
  ls_version *v = load_version(r, s, path, s->gen + 1);
  atomic_store(&s->rejected, v == NULL);
  if (!v) return;
  s->gen++;
  int had = atomic_load(&s->cur) != NULL;
  publish(r, s, v);
  if (s->gen > 1) ls_inc(&s->reloads);
  char pe[600], src[200], obj[200], ker[200];
  ls_json_escape(pe, sizeof pe, path, strlen(path));
  ls_json_escape(src, sizeof src, v->info.source_format ? v->info.source_format : "",
                 v->info.source_format ? strlen(v->info.source_format) : 0);
  ls_json_escape(obj, sizeof obj, v->info.objective ? v->info.objective : "",
                 v->info.objective ? strlen(v->info.objective) : 0);
  ls_json_escape(ker, sizeof ker, v->info.kernel ? v->info.kernel : "",
                 v->info.kernel ? strlen(v->info.kernel) : 0);
  ls_log(LS_LOG_INFO, had ? "model reloaded" : "model loaded",
         "\"model\":\"%s\",\"version\":%u,\"file\":\"%s\",\"hash\":\"%016" PRIx64 "\","
         "\"source\":\"%s\",\"objective\":\"%s\",\"trees\":%u,\"features\":%zu,\"outputs\":%zu,"
         "\"kernel\":\"%s\",\"selftest_rows\":%d,\"numa_replicas\":%d",
         s->name, v->version, pe, v->hash, src, obj, v->info.num_trees, v->nfeat, v->width, ker,
         v->selftest_rows, v->replicas);
}

static int valid_stem(const char *n, size_t l) {
  if (l == 0 || l >= LS_NAME_MAX || n[0] == '.') return 0;
  for (size_t i = 0; i < l; i++) {
    char c = n[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int ls_registry_load_file(ls_registry *r, const char *path, const char *name) {
  if (!valid_stem(name, strlen(name))) return LM_ERANGE;
  ls_slot *s = slot_for(r, name, strlen(name));
  if (!s) return LM_ERANGE;
  load_into(r, s, path);
  return atomic_load(&s->cur) ? 0 : LM_EFORMAT;
}

/* Unpublish and free the slots whose files are gone (keep[i] == 0): one grace period for all of
 * them, then their versions are freed and the slots can take new names. */
static void free_gone_slots(ls_registry *r, const char *keep) {
  int ns = atomic_load(&r->nslots), any = 0;
  ls_version *old[LS_MAX_MODELS];
  for (int i = 0; i < ns; i++) {
    ls_slot *s = &r->slots[i];
    old[i] = NULL;
    if (keep[i] || !atomic_load(&s->live)) continue;
    old[i] = atomic_exchange(&s->cur, NULL);
    atomic_store_explicit(&s->live, 0, memory_order_release);
    any = 1;
    if (old[i]) ls_log(LS_LOG_INFO, "model removed", "\"model\":\"%s\"", s->name);
  }
  if (!any) return;
  ls_registry_synchronize(r);
  for (int i = 0; i < ns; i++) {
    free_version(old[i]);
    if (!keep[i]) r->slots[i].have_seen = 0;
  }
}

/* A rate-limited warning about a set of files: logged when the set (its hash) changed, at most
 * once every 10 s; names: the first few, already escaped. */
static void ratelog(ls_ratelog *rl, uint64_t hash, uint64_t count, const char *msg,
                    const char *names, int max) {
  if (hash != rl->hash) rl->pending = count > 0, rl->hash = hash;
  uint64_t now = ls_now_ns();
  if (!rl->pending || (rl->last_ns && now - rl->last_ns < 10000000000ull)) return;
  rl->pending = 0;
  rl->last_ns = now;
  ls_log(LS_LOG_WARN, msg, "\"count\":%llu,\"max_models\":%d,\"files\":\"%s\"",
         (unsigned long long)count, max, names);
}

typedef struct scan_entry {
  char name[LS_NAME_MAX];
  size_t len;
  struct stat st;
} scan_entry;

static int by_name(const void *a, const void *b) {
  return strcmp(((const scan_entry *)a)->name, ((const scan_entry *)b)->name);
}

/* Append name (escaped) to a comma-separated list of at most 5 names. */
static void list_add(char *list, size_t cap, int *k, const char *name, size_t n) {
  if (*k >= 5) {
    if (*k == 5 && strlen(list) + 6 < cap) strcat(list, ", ...");
    (*k)++;
    return;
  }
  char e[3 * LS_NAME_MAX];
  ls_json_escape(e, sizeof e, name, n < LS_NAME_MAX ? n : LS_NAME_MAX);
  size_t l = strlen(list);
  snprintf(list + l, cap - l, "%s%s", *k ? ", " : "", e);
  (*k)++;
}

/* Readiness over the repository: one log line when the set of rejected files changes (a file
 * rejected, fixed or removed), never one per poll. The load itself logs "model rejected" with
 * its reason, once per version of the file. */
static void log_rejected(ls_registry *r) {
  int ns = atomic_load(&r->nslots), k = 0;
  uint64_t h = 0;
  char list[1024] = "";
  for (int i = 0; i < ns; i++) {
    ls_slot *s = &r->slots[i];
    if (!atomic_load(&s->live) || !atomic_load(&s->rejected)) continue;
    h += XXH64(s->name, s->name_len, 0x5eed);
    list_add(list, sizeof list, &k, s->name, s->name_len);
  }
  if (h == r->rejected_hash && k == r->rejected_count) return;
  r->rejected_hash = h;
  r->rejected_count = k;
  if (k)
    ls_log(LS_LOG_ERROR, "not ready: model files rejected",
           "\"count\":%d,\"files\":\"%s\"", k, list);
  else
    ls_log(LS_LOG_INFO, "no model file rejected any more", NULL);
}

int ls_registry_scan(ls_registry *r, int force) {
  DIR *d = opendir(r->dir);
  if (!d) {
    ls_inc(&r->scan_errors);
    return -1;
  }
  /* 1. The directory's model files, in name order (deterministic when there are too many). */
  scan_entry *es = NULL;
  size_t ne = 0, cap = 0;
  uint64_t bad = 0, bad_hash = 0;
  char bad_list[1024] = "";
  int bad_k = 0;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l < 4 || strcmp(e->d_name + l - 3, ".lm") != 0) continue;
    if (!valid_stem(e->d_name, l - 3)) {
      bad++;
      bad_hash += XXH64(e->d_name, l, 0); /* order-independent */
      list_add(bad_list, sizeof bad_list, &bad_k, e->d_name, l);
      continue;
    }
    snprintf(path, sizeof path, "%s/%s", r->dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (ne == cap) {
      size_t nc = cap ? 2 * cap : 64;
      scan_entry *n = realloc(es, nc * sizeof *n);
      if (!n) break;
      es = n, cap = nc;
    }
    memcpy(es[ne].name, e->d_name, l - 3);
    es[ne].name[l - 3] = 0;
    es[ne].len = l - 3;
    es[ne].st = st;
    ne++;
  }
  closedir(d);
  if (ne) qsort(es, ne, sizeof *es, by_name);
  atomic_store(&r->bad_names, bad);
  ratelog(&r->bad_log, bad_hash, bad, "files skipped: model names use [A-Za-z0-9._-], at most 127",
          bad_list, r->max_models);
  /* 2. Slots whose files are gone are freed first, so that their places go to new files. */
  char keep[LS_MAX_MODELS] = {0};
  for (size_t i = 0; i < ne; i++) {
    ls_slot *s = ls_registry_find(r, es[i].name, es[i].len);
    if (s) keep[s - r->slots] = 1;
  }
  free_gone_slots(r, keep);
  /* 3. New and changed files. */
  uint64_t skipped = 0, skip_hash = 0;
  char skip_list[1024] = "";
  int skip_k = 0;
  for (size_t i = 0; i < ne; i++) {
    ls_slot *s = slot_for(r, es[i].name, es[i].len);
    if (!s) {
      skipped++;
      skip_hash += XXH64(es[i].name, es[i].len, 0);
      list_add(skip_list, sizeof skip_list, &skip_k, es[i].name, es[i].len);
      continue;
    }
    if (!force && s->have_seen && same_file(&s->seen, &es[i].st)) continue;
    s->seen = es[i].st;
    s->have_seen = 1;
    snprintf(path, sizeof path, "%s/%s.lm", r->dir, es[i].name);
    load_into(r, s, path);
  }
  free(es);
  atomic_store(&r->skipped, skipped);
  ratelog(&r->skip_log, skip_hash, skipped, "models skipped: no free model slot (--max-models)",
          skip_list, r->max_models);
  log_rejected(r);
  return ls_registry_count_ready(r);
}

void ls_registry_free(ls_registry *r) {
  int ns = atomic_load(&r->nslots);
  for (int i = 0; i < ns; i++) {
    free_version(atomic_exchange(&r->slots[i].cur, NULL));
    atomic_store(&r->slots[i].live, 0);
  }
}
