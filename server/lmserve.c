/*
 * lmserve.c — the lmserve program: command line, listener, one epoll event loop per allowed CPU,
 * signals, hot reload and graceful shutdown. The request path itself (framing and routing) is
 * handler.c, with inference in infer.c, /metrics in metrics.c and chunked bodies in chunked.c;
 * models are registry.c.
 *
 * Why a hand-written HTTP/1.1 server and not libmicrohttpd: measured first on this 2-core Zen 5
 * machine (shared, noisy; wrk -t1 on loopback, bench/server/probe/mhd_probe.c): libmicrohttpd 0.9.75
 * with epoll and a 2-thread internal pool answered a fixed 60-byte JSON body to a 200-byte V2
 * POST at ~100-105k req/s with 4 connections (p99 0.1-0.9 ms) and only 17-26k req/s with one
 * connection — before any parsing or scoring, at the edge of the ~104k req/s target (20x the
 * Flask anchor), and it allocates a response object per request. lmserve's own loop (below)
 * allocates nothing per request once warm and is fuzzed end to end (server/fuzz/). The figures
 * are in docs/lmserve.md.
 *
 * Threads: N workers (default lm_cpus_allowed()), each with its own epoll set, connection pool,
 * buffers, lm_sessions and metrics, all waiting on one shared non-blocking listening socket
 * (EPOLLEXCLUSIVE: one worker woken per connection). Workers are pinned one per CPU when the
 * process owns exactly that many CPUs (a cpuset, as the Kubernetes static CPU manager gives);
 * otherwise the scheduler places them. The main thread handles signals (sigtimedwait), polls the
 * model directory, and runs reloads off the request path.
 *
 * Shutdown: SIGTERM/SIGINT → readiness false at once (draining; requests still served) →
 * after --drain-seconds the listener leaves every epoll set, idle connections are closed, the
 * responses of requests already under way carry "Connection: close" → exit 0 once no
 * connection is left, or exit 1 at --shutdown-timeout. A second SIGTERM skips the drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "server/ls.h"

static const char usage[] =
    "Usage: lmserve --models DIR [options]\n"
    "Serve DIR/*.lm over HTTP/1.1 with the KServe V2 protocol (model name = file stem).\n"
    "\n"
    "Options (a value as --opt VALUE or --opt=VALUE):\n"
    "  --models DIR           the model directory (required, except with --sagemaker)\n"
    "  --sagemaker            SageMaker's container defaults: --models /opt/ml/model, port 8080,\n"
    "                         rows and response bounded by the body only; SAGEMAKER_BIND_TO_PORT,\n"
    "                         SAGEMAKER_MAX_PAYLOAD_IN_MB, SAGEMAKER_MODEL_SERVER_WORKERS,\n"
    "                         SAGEMAKER_MODEL_SERVER_TIMEOUT, SAGEMAKER_BATCH honoured unless the\n"
    "                         matching option is given (GET /ping and POST /invocations are\n"
    "                         always served)\n"
    "  --listen HOST:PORT     address to listen on (default 0.0.0.0:8080; port 0: ephemeral)\n"
    "  --threads N            event loops (0, the default: the CPUs this process may use,\n"
    "                         cgroup quota included)\n"
    "  --drain-seconds S      after SIGTERM: not ready, still serving for S s (default 5)\n"
    "  --shutdown-timeout S   hard deadline after SIGTERM (default 25)\n"
    "  --max-body-bytes N     largest request body (default 16777216)\n"
    "  --max-header-bytes N   largest request head (default 16384)\n"
    "  --max-connections N    open connections (default 4096; when full, the oldest idle\n"
    "                         one is closed for a new one)\n"
    "  --request-timeout S    time to receive a whole request (default 10)\n"
    "  --idle-timeout S       keep-alive idle time (default 60)\n"
    "  --header-timeout S     time to send a complete request head, from accept or from a\n"
    "                         request's first byte (default 5)\n"
    "  --max-queued-bytes N   unsent response bytes per connection before its further\n"
    "                         requests wait (default 262144)\n"
    "  --max-batch-rows N     rows per inference request (default 65536)\n"
    "  --max-response-bytes N largest inference response (default 16777216)\n"
    "  --max-models N         models served at once (default and most 256)\n"
    "  --max-features N       refuse models declaring more input features (default\n"
    "                         1048576, at most 16777216)\n"
    "  --reload-poll-ms N     model directory poll period (default 1000; SIGHUP: at once)\n"
    "  --numa-replicas M      auto|off|force: copy each model onto the NUMA node of every\n"
    "                         pinned event loop (auto: on machines with >1 node; default auto)\n"
    "  --log-level L          debug|info|warn|error (default info; JSON lines on stderr)\n"
    "  -h, --help             show this help and exit\n"
    "  --version              show the version and exit\n"
    "\n"
    "Endpoints: /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME[/versions/V]"
    "[/ready|/infer], /metrics\n"
    "\n"
    "Exit status (the same for lmconvert, lmscore, lminfo and lmserve):\n"
    "  0  success: stopped after a graceful drain (SIGTERM/SIGINT)\n"
    "  1  DIR cannot be opened, the address cannot be bound, or the shutdown deadline\n"
    "     passed with connections open (one line on stderr: lmserve: WHAT: what is wrong)\n"
    "  2  usage error (one line on stderr: lmserve: what (try 'lmserve --help'))\n"
    "  3  (a failed check: used by lmscore --check and lminfo --selftest, not by lmserve)\n";

/* A bad command line: one line, exit 2 (the convention of tools/cli.h). */
static void die(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "lmserve: ");
  fprintf(stderr, fmt, a, b);
  fputs(" (try 'lmserve --help')\n", stderr);
  exit(2);
}

static double num_arg(const char *opt, const char *v, double lo, double hi, int integer) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= lo && x <= hi) || (integer && x != (double)(long long)x)) {
    char range[128];
    snprintf(range, sizeof range, "'%s' (expected %s %g..%g)", v,
             integer ? "an integer in" : "a number in", lo, hi);
    die("%s: bad value %s", opt, range);
  }
  return x;
}

static void parse_args(int argc, char **argv, ls_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->host, sizeof c->host, "0.0.0.0");
  c->port = 8080;
  c->threads = 0;
  c->drain_s = 5;
  c->shutdown_s = 25;
  c->max_body = 16777216;
  c->max_header = 16384;
  c->max_conns = 4096;
  c->header_timeout_s = 5;
  c->max_queued = 262144;
  c->max_rows = 65536;
  c->max_response = 16777216;
  c->max_models = LS_MAX_MODELS;
  c->max_features = LS_DEFAULT_MAX_FEATURES;
  c->request_timeout_s = 10;
  c->idle_timeout_s = 60;
  c->reload_poll_ms = 1000;
  c->replicas = 1;
  int no_more_opts = 0, sagemaker = 0;
  unsigned given = 0; /* options given on the command line (SAGEMAKER_* never override them) */
  enum { G_LISTEN = 1, G_THREADS = 2, G_BODY = 4, G_ROWS = 8, G_RESPONSE = 16, G_TIMEOUT = 32 };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    char opt[64];
    if (!no_more_opts && strcmp(a, "--") == 0) {
      no_more_opts = 1;
      continue;
    }
    if (!no_more_opts && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
      fputs(usage, stdout);
      exit(0);
    }
    if (!no_more_opts && strcmp(a, "--version") == 0) {
      printf("lmserve %s\n", LM_VERSION_STRING);
      exit(0);
    }
    if (no_more_opts || a[0] != '-' || a[1] == '\0') die("unexpected argument '%s'%s", a, "");
    if (strcmp(a, "--sagemaker") == 0) { /* SageMaker's container defaults */
      sagemaker = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) die("unknown option '%s'%s", a, "");
    const char *eqs = strchr(a, '=');
    size_t ol = eqs ? (size_t)(eqs - a) : strlen(a);
    if (ol >= sizeof opt) die("unknown option '%s'%s", a, "");
    memcpy(opt, a, ol);
    opt[ol] = 0;
    static const char *const known[] = {
        "--models", "--listen", "--threads", "--drain-seconds", "--shutdown-timeout",
        "--max-body-bytes", "--max-header-bytes", "--max-connections", "--request-timeout",
        "--idle-timeout", "--reload-poll-ms", "--log-level", "--numa-replicas",
        "--header-timeout", "--max-queued-bytes", "--max-batch-rows", "--max-response-bytes",
        "--max-models", "--max-features"};
    size_t k = 0;
    while (k < sizeof known / sizeof *known && strcmp(opt, known[k]) != 0) k++;
    if (k == sizeof known / sizeof *known) die("unknown option '%s'%s", opt, "");
    if (eqs) val = eqs + 1;
    else if (i + 1 < argc) val = argv[++i];
    else die("option '%s' needs a value%s", opt, "");
    if (!*val) die("option '%s' needs a value%s", opt, "");
    given |= !strcmp(opt, "--listen") ? G_LISTEN : !strcmp(opt, "--threads") ? G_THREADS
           : !strcmp(opt, "--max-body-bytes") ? G_BODY : !strcmp(opt, "--max-batch-rows") ? G_ROWS
           : !strcmp(opt, "--max-response-bytes") ? G_RESPONSE
           : !strcmp(opt, "--request-timeout") ? G_TIMEOUT : 0;
    if (!strcmp(opt, "--models")) c->models_dir = val;
    else if (!strcmp(opt, "--listen")) {
      const char *colon = strrchr(val, ':');
      if (!colon) die("--listen: expected HOST:PORT, got '%s'%s", val, "");
      size_t hl = (size_t)(colon - val);
      if (hl >= 2 && val[0] == '[' && val[hl - 1] == ']') val++, hl -= 2;
      if (hl >= sizeof c->host) die("--listen: host too long%s%s", "", "");
      memcpy(c->host, val, hl);
      c->host[hl] = 0;
      c->port = (int)num_arg("--listen port", colon + 1, 0, 65535, 1);
    } else if (!strcmp(opt, "--threads")) c->threads = (int)num_arg(opt, val, 0, LS_MAX_WORKERS, 1);
    else if (!strcmp(opt, "--drain-seconds")) c->drain_s = num_arg(opt, val, 0, 86400, 0);
    else if (!strcmp(opt, "--shutdown-timeout")) c->shutdown_s = num_arg(opt, val, 0, 86400, 0);
    else if (!strcmp(opt, "--max-body-bytes")) c->max_body = (size_t)num_arg(opt, val, 1, 1ull << 32, 1);
    else if (!strcmp(opt, "--max-header-bytes")) c->max_header = (size_t)num_arg(opt, val, 256, 1 << 20, 1);
    else if (!strcmp(opt, "--max-connections")) c->max_conns = (int)num_arg(opt, val, 1, 1 << 20, 1);
    else if (!strcmp(opt, "--request-timeout")) c->request_timeout_s = num_arg(opt, val, 0.001, 86400, 0);
    else if (!strcmp(opt, "--idle-timeout")) c->idle_timeout_s = num_arg(opt, val, 0.001, 86400, 0);
    else if (!strcmp(opt, "--reload-poll-ms")) c->reload_poll_ms = (int)num_arg(opt, val, 1, 86400000, 1);
    else if (!strcmp(opt, "--header-timeout")) c->header_timeout_s = num_arg(opt, val, 0.001, 86400, 0);
    else if (!strcmp(opt, "--max-queued-bytes")) c->max_queued = (size_t)num_arg(opt, val, 4096, 1ull << 32, 1);
    else if (!strcmp(opt, "--max-batch-rows")) c->max_rows = (uint64_t)num_arg(opt, val, 1, 1e12, 1);
    else if (!strcmp(opt, "--max-response-bytes")) c->max_response = (size_t)num_arg(opt, val, 4096, 1ull << 34, 1);
    else if (!strcmp(opt, "--max-models")) c->max_models = (int)num_arg(opt, val, 1, LS_MAX_MODELS, 1);
    else if (!strcmp(opt, "--max-features")) c->max_features = (size_t)num_arg(opt, val, 1, 1 << 24, 1);
    else if (!strcmp(opt, "--numa-replicas")) {
      if (!strcmp(val, "off")) c->replicas = 0;
      else if (!strcmp(val, "auto")) c->replicas = 1;
      else if (!strcmp(val, "force")) c->replicas = 2;
      else die("--numa-replicas: expected auto|off|force, got '%s'%s", val, "");
    } else if (!strcmp(opt, "--log-level")) {
      if (!strcmp(val, "debug")) ls_log_level = LS_LOG_DEBUG;
      else if (!strcmp(val, "info")) ls_log_level = LS_LOG_INFO;
      else if (!strcmp(val, "warn")) ls_log_level = LS_LOG_WARN;
      else if (!strcmp(val, "error")) ls_log_level = LS_LOG_ERROR;
      else die("--log-level: expected debug|info|warn|error, got '%s'%s", val, "");
    } else die("unknown option '%s'%s", opt, "");
  }
  if (sagemaker) {
    /* SageMaker's container contract: the environment SageMaker sets (the command line wins). */
    const char *e;
    c->sagemaker = 1;
    if (!c->models_dir) c->models_dir = "/opt/ml/model";
    if (!(given & G_LISTEN) && (e = getenv("SAGEMAKER_BIND_TO_PORT")) && *e)
      c->port = (int)num_arg("SAGEMAKER_BIND_TO_PORT", e, 1, 65535, 1);
    if (!(given & G_BODY) && (e = getenv("SAGEMAKER_MAX_PAYLOAD_IN_MB")) && *e)
      c->max_body = (size_t)(num_arg("SAGEMAKER_MAX_PAYLOAD_IN_MB", e, 1, 4096, 1) * 1048576);
    if (!(given & G_THREADS) && (e = getenv("SAGEMAKER_MODEL_SERVER_WORKERS")) && *e)
      c->threads = (int)num_arg("SAGEMAKER_MODEL_SERVER_WORKERS", e, 1, LS_MAX_WORKERS, 1);
    if (!(given & G_TIMEOUT) && (e = getenv("SAGEMAKER_MODEL_SERVER_TIMEOUT")) && *e)
      c->request_timeout_s = num_arg("SAGEMAKER_MODEL_SERVER_TIMEOUT", e, 0.001, 86400, 0);
    if ((e = getenv("SAGEMAKER_BATCH")) && *e && strcmp(e, "false") != 0 && strcmp(e, "0") != 0)
      c->sm_batch = 1;
    /* Batch Transform sends as many rows as fit in the payload (MultiRecord): rows are bounded
     * by the body (a row is at least 2 bytes), the response by the rows. */
    if (!(given & G_ROWS)) c->max_rows = c->max_body / 2 > 65536 ? c->max_body / 2 : 65536;
    if (!(given & G_RESPONSE)) c->max_response = 0;
  }
  if (!c->models_dir) die("missing --models DIR%s%s", "", "");
}

/* ---- the event loop ---- */

static const char busy_503[] =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 37\r\n"
    "Connection: close\r\n\r\n{\"error\":\"too many open connections\"}";

static void dec64(_Atomic int64_t *g) {
  atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) - 1, memory_order_relaxed);
}
static void inc64(_Atomic int64_t *g) {
  atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void close_conn(ls_worker *w, ls_conn *c) {
  close(c->fd);
  if (c->have_head) dec64(&w->m.inflight);
  dec64(&w->m.conns_open);
  atomic_fetch_sub(&w->srv->conns, 1);
  ls_conn_reset(c);
  /* Buffers are kept for reuse by up to LS_KEEP_BUFFERS pooled connections per loop; past that
   * they go back (a burst of connections does not pin its memory for good). */
  if (c->in.fixed && w->nbuffered > LS_KEEP_BUFFERS) {
    ls_conn_free(c);
    w->nbuffered--;
  }
  c->in_use = 0;
  c->lingering = 0;
  c->next_free = w->free_list;
  w->free_list = c;
}

static void set_events(ls_worker *w, ls_conn *c, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Send what is pending; returns -1 if the connection was closed. When everything is sent,
 * requests held back (by backpressure or --max-queued-bytes) are processed and sent in turn. */
static int flush(ls_worker *w, ls_conn *c, uint64_t now) {
  for (;;) {
    while (c->out_off < c->out.len) {
      ssize_t k = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
      if (k < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        close_conn(w, c);
        return -1;
      }
      c->out_off += (size_t)k;
      c->t_last_ns = now;
    }
    if (c->out_off != c->out.len) {
      if (!c->want_out) {
        set_events(w, c, EPOLLOUT); /* backpressure: stop reading until the output drains */
        c->want_out = 1;
      }
      return 0;
    }
    c->out.len = c->out_off = 0;
    ls_buf_shrink(&c->out);
    if (c->closing) {
      /* Let the peer read the response: shut our side, discard its input until EOF. */
      shutdown(c->fd, SHUT_WR);
      c->lingering = 1;
      c->t_last_ns = now;
      if (c->want_out) set_events(w, c, EPOLLIN | EPOLLRDHUP);
      c->want_out = 0;
      return 0;
    }
    int was_blocked = c->want_out;
    if (c->want_out) {
      set_events(w, c, EPOLLIN | EPOLLRDHUP);
      c->want_out = 0;
    }
    /* Input held back while the output was blocked or over the cap may hold complete requests. */
    if (!(c->in.len > c->in_off && (was_blocked || c->held))) return 0;
    ls_conn_process(w, c, now);
  }
}

static void on_read(ls_worker *w, ls_conn *c, uint64_t now) {
  if (c->lingering) {
    char junk[4096];
    ssize_t k = recv(c->fd, junk, sizeof junk, 0);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) close_conn(w, c);
    return;
  }
  if (!c->in.fixed) { /* first bytes: the connection's buffers (kept in the pool after) */
    ls_server *s = w->srv;
    if (ls_conn_alloc_buffers(c, s->cfg.max_header + 16384, 16384)) {
      close_conn(w, c);
      return;
    }
    w->nbuffered++;
  }
  if (c->in.cap == c->in.len && ls_buf_reserve(&c->in, 4096)) {
    close_conn(w, c);
    return;
  }
  ssize_t k = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
  if (k == 0) {
    close_conn(w, c);
    return;
  }
  if (k < 0) {
    if (errno != EAGAIN && errno != EINTR) close_conn(w, c);
    return;
  }
  c->in.len += (size_t)k;
  c->t_last_ns = now;
  ls_conn_process(w, c, now);
  flush(w, c, now);
}

/* The connection to close for a new one when the pool is full: one that is only lingering,
 * else the one idle (or sending a head) the longest, those that never completed a request
 * first; NULL when every connection has a request under way. */
static ls_conn *victim(ls_worker *w) {
  ls_conn *best = NULL;
  int best_rank = 0;
  for (int i = 0; i < w->nconns; i++) {
    ls_conn *c = &w->conns[i];
    if (!ls_conn_evictable(c)) continue;
    int rank = c->lingering ? 0 : c->served ? 2 : 1;
    if (!best || rank < best_rank || (rank == best_rank && c->t_last_ns < best->t_last_ns))
      best = c, best_rank = rank;
  }
  return best;
}

static void on_accept(ls_worker *w, uint64_t now) {
  ls_server *s = w->srv;
  int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  if (atomic_fetch_add(&s->conns, 1) >= s->cfg.max_conns || !w->free_list) {
    atomic_fetch_sub(&s->conns, 1);
    /* Full: idle connections must not lock new clients out (a health probe included). */
    ls_conn *v = victim(w);
    if (!v) {
      ssize_t k = send(fd, busy_503, sizeof busy_503 - 1, MSG_NOSIGNAL);
      (void)k;
      close(fd);
      ls_inc(&w->m.conns_rejected);
      return;
    }
    close_conn(w, v);
    ls_inc(&w->m.conns_evicted);
    atomic_fetch_add(&s->conns, 1);
  }
  ls_conn *c = w->free_list;
  w->free_list = c->next_free;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->in_use = 1;
  c->t_last_ns = c->t_accept_ns = now;
  c->served = 0;
  struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e)) {
    c->in_use = 0;
    close(fd);
    atomic_fetch_sub(&s->conns, 1);
    c->fd = -1;
    c->next_free = w->free_list;
    w->free_list = c;
    return;
  }
  inc64(&w->m.conns_open);
  ls_inc(&w->m.conns_total);
}

static int tick(ls_worker *w, uint64_t now, int *listening) {
  ls_server *s = w->srv;
  int state = atomic_load(&s->state);
  if (state == LS_CLOSING && *listening) {
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
    *listening = 0;
  }
  int open = 0;
  for (int i = 0; i < w->nconns; i++) {
    ls_conn *c = &w->conns[i];
    if (!c->in_use) continue;
    int to = ls_conn_timeouts(w, c, now);
    if (to == LS_TO_CLOSE) {
      close_conn(w, c);
      continue;
    }
    if (to == LS_TO_408 && flush(w, c, now) < 0) continue;
    open++;
  }
  return state == LS_CLOSING && open == 0;
}

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg) {
  ls_worker *w = arg;
  ls_server *s = w->srv;
  struct epoll_event evs[64];
  int listening = 1;
  uint64_t last_tick = ls_now_ns(), last_event = 0, last_pub = 0;
  uint64_t spin_ns = s->spin_ns;
  /* Busy-poll (LMSERVE_SPIN_US, default LS_DEFAULT_SPIN_US). Right after its own traffic a loop
   * polls without blocking for up to spin_ns, so the next request of a busy connection is
   * picked up without a wake-up. While another loop of the server had traffic within spin_ns,
   * an idle loop polls too. Every turn yields the CPU (sched_yield: nearly free when nothing
   * else is runnable), so a task woken on that CPU — the client of a co-located benchmark,
   * another process — runs at once, and the CPU does not halt: waking a halted CPU costs tens
   * of µs on a virtual machine (a VM exit and a host wake-up), more than the request itself.
   * Each turn is a quiescent point for the registry. Quiet servers block at once.
   *
   * Contention back-off: polling only pays when the CPU would otherwise idle. Over windows of
   * 10 ms a loop compares the time it wanted the CPU (wall time minus time blocked in
   * epoll_wait) with the CPU time it got; when other tasks took more than two thirds of it (a
   * co-located client alone takes about half), the loop stops polling for 1 s (it blocks at
   * once, as with LMSERVE_SPIN_US=0): on a busy CPU a
   * poller spends the loop's fair share and delays the tasks it waits for. */
  uint64_t win_start = last_tick, win_blocked = 0, win_cpu = thread_cpu_ns(), spin_off_until = 0;
  /* main() set qs to 1 (odd: idle) before this thread ran; the increments below keep its parity,
   * so make it even (handling events) first: otherwise it is odd exactly while requests hold a
   * model version, and ls_registry_synchronize skips this worker and frees the version under it. */
  atomic_store(&w->qs, 2);
  for (;;) {
    int n = 0;
    uint64_t now = ls_now_ns();
    if (spin_ns && now - win_start >= 10000000ull) {
      uint64_t cpu = thread_cpu_ns(), wall = now - win_start;
      uint64_t wanted = wall > win_blocked ? wall - win_blocked : 0, got = cpu - win_cpu;
      if (s->spin_backoff && wanted > 2000000ull && got * 3 < wanted)
        spin_off_until = now + 1000000000ull;
      win_start = now;
      win_blocked = 0;
      win_cpu = cpu;
    }
    if (spin_ns && now >= spin_off_until) {
      for (;;) {
        n = epoll_wait(w->epfd, evs, 64, 0);
        now = ls_now_ns();
        if (n != 0 || now - last_tick >= 100000000ull) break;
        if (now - last_event > spin_ns &&
            (!s->spin_idle ||
             now - atomic_load_explicit(&s->last_traffic_ns, memory_order_relaxed) > spin_ns))
          break;
        atomic_store(&w->qs, atomic_load_explicit(&w->qs, memory_order_relaxed) + 2);
        if (s->spin_yield) sched_yield();
      }
    }
    if (n == 0) {
      atomic_store(&w->qs, atomic_load_explicit(&w->qs, memory_order_relaxed) + 1); /* odd: idle */
      uint64_t t0 = ls_now_ns();
      n = epoll_wait(w->epfd, evs, 64, 100);
      now = ls_now_ns();
      win_blocked += now - t0;
      atomic_store(&w->qs, atomic_load_explicit(&w->qs, memory_order_relaxed) + 1); /* even */
    } else {
      /* Events taken while spinning: pass a quiescent point all the same. */
      atomic_store(&w->qs, atomic_load_explicit(&w->qs, memory_order_relaxed) + 2);
    }
    if (n > 0) {
      last_event = now;
      if (now - last_pub > 10000) { /* publish at most every 10 µs: one shared cache line */
        atomic_store_explicit(&s->last_traffic_ns, now, memory_order_relaxed);
        last_pub = now;
      }
    }
    for (int i = 0; i < n; i++) {
      ls_conn *c = evs[i].data.ptr;
      if (!c) {
        if (listening) on_accept(w, now);
        continue;
      }
      if (!c->in_use) continue;
      uint32_t ev = evs[i].events;
      if (ev & EPOLLOUT) {
        if (flush(w, c, now) < 0) continue;
      }
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (c->want_out && !(ev & (EPOLLHUP | EPOLLERR))) continue;
        on_read(w, c, now);
      }
    }
    if (now - last_tick >= 100000000ull || n == 0) {
      last_tick = now;
      if (tick(w, now, &listening)) break;
    }
  }
  atomic_store(&w->qs, (atomic_load(&w->qs) | 1)); /* idle for good */
  atomic_fetch_add(&w->srv->workers_done, 1);
  return NULL;
}

/* ---- listener ---- */

static int open_listener(ls_config *c, int *port_out) {
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char port[16];
  snprintf(port, sizeof port, "%d", c->port);
  const char *host = c->host[0] && strcmp(c->host, "*") ? c->host : NULL;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc) {
    fprintf(stderr, "lmserve: %s:%d: cannot listen (--listen): %s\n", c->host, c->port,
            gai_strerror(rc));
    exit(1);
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4096)) {
    fprintf(stderr, "lmserve: %s:%d: cannot listen (--listen): %s\n", c->host, c->port,
            strerror(errno));
    exit(1);
  }
  freeaddrinfo(ai);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

/* Open connections need file descriptors: raise the soft limit towards the hard one when
 * --max-connections asks for more than it allows. */
static void raise_fd_limit(int max_conns) {
  struct rlimit rl;
  rlim_t want = (rlim_t)max_conns + 256;
  if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want)
    ls_log(LS_LOG_WARN, "file descriptor limit below --max-connections",
           "\"limit\":%llu,\"max_connections\":%d", (unsigned long long)rl.rlim_cur, max_conns);
}

static double mono_s(void) { return (double)ls_now_ns() * 1e-9; }

int main(int argc, char **argv) {
  static ls_server srv;
  ls_server *s = &srv;
  parse_args(argc, argv, &s->cfg);
  ls_config *cfg = &s->cfg;

  /* Operator strings in the JSON logs: escaped like every other string written there. */
  static char dir_json[4096], host_json[800];
  ls_json_escape(dir_json, sizeof dir_json, cfg->models_dir, strlen(cfg->models_dir));
  ls_json_escape(host_json, sizeof host_json, cfg->host, strlen(cfg->host));
  DIR *d = opendir(cfg->models_dir);
  if (!d) {
    fprintf(stderr, "lmserve: %s: cannot open the model directory (--models): %s\n",
            cfg->models_dir, strerror(errno));
    return 1;
  }
  closedir(d);

  int cpus[LS_MAX_WORKERS];
  size_t ncpu = lm_cpus_allowed(cpus, LS_MAX_WORKERS);
  int nw = cfg->threads ? cfg->threads : (int)ncpu;
  if (nw > LS_MAX_WORKERS) nw = LS_MAX_WORKERS;
  cpu_set_t aff;
  CPU_ZERO(&aff);
  int pin = sched_getaffinity(0, sizeof aff, &aff) == 0 && (size_t)CPU_COUNT(&aff) == ncpu &&
            (size_t)nw == ncpu;
  const char *pin_env = getenv("LMSERVE_PIN"); /* 0: never pin, 1: pin (round-robin), else auto */
  if (pin_env && strcmp(pin_env, "0") == 0) pin = 0;
  else if (pin_env && strcmp(pin_env, "1") == 0) pin = 1;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  s->nworkers = nw;
  const char *spin_env = getenv("LMSERVE_SPIN_US"); /* busy-poll window after traffic */
  s->spin_ns = (uint64_t)(spin_env ? atof(spin_env) * 1000 : LS_DEFAULT_SPIN_US * 1000);
  /* Experiment switches (documented in docs/lmserve.md): 0 turns each part off. */
  const char *e;
  s->spin_yield = !(e = getenv("LMSERVE_SPIN_YIELD")) || strcmp(e, "0") != 0;
  s->spin_backoff = !(e = getenv("LMSERVE_SPIN_BACKOFF")) || strcmp(e, "0") != 0;
  s->spin_idle = !(e = getenv("LMSERVE_SPIN_IDLE")) || strcmp(e, "0") != 0;
  s->workers = calloc((size_t)nw, sizeof *s->workers);
  if (!s->workers) return 1;
  ls_registry_init(&s->reg, cfg->models_dir, nw);
  for (int i = 0; i < nw; i++) s->reg.cpu[i] = pin ? cpus[(size_t)i % ncpu] : -1;
  s->reg.replicas = pin ? cfg->replicas : 0;
  s->reg.max_models = cfg->max_models;
  s->reg.max_features = cfg->max_features;
  raise_fd_limit(cfg->max_conns);
  for (int i = 0; i < nw; i++) {
    ls_worker *w = &s->workers[i];
    if (ls_worker_init(w, s, i)) {
      fprintf(stderr, "lmserve: out of memory\n");
      return 1;
    }
    atomic_store(&w->qs, 1);
    s->reg.qs[i] = &w->qs;
    s->reg.met[i] = &w->m;
  }
  ls_log(LS_LOG_INFO, "starting",
         "\"version\":\"%s\",\"models\":\"%s\",\"threads\":%d,\"cpus_allowed\":%zu,\"pinned\":%s",
         LM_VERSION_STRING, dir_json, nw, ncpu, pin ? "true" : "false");
  int nready = ls_registry_scan(&s->reg, 0);
  if (nready < 0) {
    fprintf(stderr, "lmserve: %s: cannot read the model directory (--models): %s\n",
            cfg->models_dir, strerror(errno));
    return 1;
  }
  if (nready == 0) ls_log(LS_LOG_WARN, "no model loaded: not ready until one is", NULL);

  int port;
  s->listen_fd = open_listener(cfg, &port);

  for (int i = 0; i < nw; i++) {
    ls_worker *w = &s->workers[i];
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->conns = calloc((size_t)cfg->max_conns, sizeof *w->conns);
    if (w->epfd < 0 || !w->conns) {
      fprintf(stderr, "lmserve: cannot set up worker %d: %s\n", i, strerror(errno));
      return 1;
    }
    w->nconns = cfg->max_conns;
    for (int k = cfg->max_conns - 1; k >= 0; k--) {
      w->conns[k].fd = -1;
      w->conns[k].next_free = w->free_list;
      w->free_list = &w->conns[k];
    }
    struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->listen_fd, &e)) {
      fprintf(stderr, "lmserve: epoll: %s\n", strerror(errno));
      return 1;
    }
  }
  pthread_t *th = calloc((size_t)nw, sizeof *th);
  for (int i = 0; i < nw; i++) {
    ls_worker *w = &s->workers[i];
    pthread_attr_t at;
    pthread_attr_init(&at);
    if (pin) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[(size_t)i % ncpu], &one);
      pthread_attr_setaffinity_np(&at, sizeof one, &one);
      w->cpu = cpus[(size_t)i % ncpu];
    }
    if (pthread_create(&th[i], &at, worker_main, w)) {
      fprintf(stderr, "lmserve: cannot start worker %d\n", i);
      return 1;
    }
    pthread_attr_destroy(&at);
  }
  ls_log(LS_LOG_INFO, "listening", "\"host\":\"%s\",\"port\":%d,\"threads\":%d", host_json, port, nw);

  double last_scan = mono_s(), t_term = 0;
  int rc = 0;
  for (;;) {
    int state = atomic_load(&s->state);
    double now = mono_s();
    double wait = state == LS_RUNNING ? cfg->reload_poll_ms * 1e-3 - (now - last_scan) : 0.05;
    if (wait < 0.001) wait = 0.001;
    if (wait > 0.1) wait = 0.1;
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    int sig = sigtimedwait(&set, NULL, &ts);
    now = mono_s();
    if (sig == SIGHUP) {
      ls_log(LS_LOG_INFO, "SIGHUP: reloading every model", NULL);
      if (ls_registry_scan(&s->reg, 1) < 0)
        ls_log(LS_LOG_ERROR, "model directory unreadable", "\"dir\":\"%s\"", dir_json);
      last_scan = now;
    } else if (sig == SIGTERM || sig == SIGINT) {
      if (state == LS_RUNNING) {
        atomic_store(&s->state, LS_DRAINING);
        t_term = now;
        ls_log(LS_LOG_INFO, "draining: not ready; serving until the drain period ends",
               "\"signal\":\"%s\",\"drain_seconds\":%g,\"shutdown_timeout\":%g",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg->drain_s, cfg->shutdown_s);
      } else if (state == LS_DRAINING) {
        atomic_store(&s->state, LS_CLOSING);
        ls_log(LS_LOG_INFO, "second signal: closing now", NULL);
      }
    }
    state = atomic_load(&s->state);
    if (state == LS_RUNNING && now - last_scan >= cfg->reload_poll_ms * 1e-3) {
      if (ls_registry_scan(&s->reg, 0) < 0)
        ls_log(LS_LOG_ERROR, "model directory unreadable", "\"dir\":\"%s\"", dir_json);
      last_scan = now;
    }
    if (state == LS_DRAINING && now - t_term >= cfg->drain_s) {
      atomic_store(&s->state, LS_CLOSING);
      ls_log(LS_LOG_INFO, "drain over: closing the listener and idle connections", NULL);
    }
    if (state != LS_RUNNING && atomic_load(&s->workers_done) == nw) break;
    if (state != LS_RUNNING && now - t_term >= cfg->shutdown_s) {
      ls_log(LS_LOG_ERROR, "shutdown timeout: exiting with connections still open",
             "\"connections\":%d", atomic_load(&s->conns));
      _exit(1);
    }
  }
  for (int i = 0; i < nw; i++) pthread_join(th[i], NULL);
  close(s->listen_fd);
  uint64_t served = 0;
  for (int i = 0; i < nw; i++) {
    for (int m = 0; m <= LS_MAX_MODELS; m++)
      for (int k = 0; k < LS_NCODES; k++) served += atomic_load(&s->workers[i].m.req[m][k]);
    for (int k = 0; k < cfg->max_conns; k++)
      if (s->workers[i].conns[k].in.fixed) ls_conn_free(&s->workers[i].conns[k]);
    free(s->workers[i].conns);
    close(s->workers[i].epfd);
    ls_worker_free(&s->workers[i]);
  }
  ls_registry_free(&s->reg);
  free(s->workers);
  free(th);
  ls_log(LS_LOG_INFO, "stopped", "\"requests\":%llu", (unsigned long long)served);
  return rc;
}
