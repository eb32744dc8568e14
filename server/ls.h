/*
 * ls.h — lmserve's internal declarations, shared by its modules: the configuration, the strict
 * HTTP/1.1 request-head parser (http.c), the KServe V2 JSON request parser and response writer
 * (v2json.c), the model registry with its lock-free read side and hot reload (registry.c), the
 * per-worker metrics and their Prometheus text (metrics.c), structured logs (log.c), buffers
 * (buf.c), worker and connection state (conn.c), and the request path that turns the bytes a
 * connection received into response bytes (handler.c: framing, routing, responses; chunked.c:
 * chunked bodies; infer.c: inference) — the one function both the epoll loop (lmserve.c) and the
 * libFuzzer target (server/fuzz/fuzz_request.c) call.
 *
 * Threading: each worker (one per allowed CPU) owns its connections, buffers, sessions and
 * metrics; the control thread (main) owns the registry's write side. Workers read models through
 * atomically published pointers; retired models are freed after every worker has passed a
 * quiescent point (ls_registry_synchronize), so the request path takes no lock.
 */
#ifndef LS_H
#define LS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "include/lmrt.h"

#define LS_MAX_MODELS 256 /* registry slots (compile-time; --max-models caps them lower) */
/* --max-features default: 2^20 = 1,048,576 columns (a 4 MiB float32 row; a JSON row of that
 * width is already 2 MiB or more of the 16 MiB body). Loading costs memory and time per
 * declared feature (metadata with one name per feature, warm-up rows, session scratch): a
 * 1 KB file declaring 2^20 features loads in 0.7 s / 31 MB RSS, one declaring 2^24 (the format's
 * limit, LMF_MAX_FEATURES) in about 12 s / 400 MB. */
#define LS_DEFAULT_MAX_FEATURES (1u << 20)
#define LS_NAME_MAX 128
#define LS_MAX_WORKERS 256
#define LS_DEFAULT_SPIN_US 200

/* ---- configuration (lmserve.c parses the command line into it) ---- */
typedef struct ls_config {
  const char *models_dir;
  char host[256];
  int port;
  int threads;
  double drain_s, shutdown_s;
  size_t max_body, max_header;
  int max_conns;
  double request_timeout_s, idle_timeout_s;
  int reload_poll_ms;
  int replicas;      /* --numa-replicas: 0 off, 1 auto, 2 force */
  double header_timeout_s; /* --header-timeout: a connection's request head must be complete */
  size_t max_queued;       /* --max-queued-bytes: unsent response bytes per connection before
                              its input is no longer processed (0: no cap) */
  uint64_t max_rows;       /* --max-batch-rows: rows per inference request (0: no cap) */
  size_t max_response;     /* --max-response-bytes: one response body (0: no cap) */
  int max_models;          /* --max-models: models served at once (<= LS_MAX_MODELS) */
  size_t max_features;     /* --max-features: a model declaring more is refused at load */
  int sagemaker;           /* --sagemaker: SageMaker's container defaults and environment */
  int sm_batch;            /* SAGEMAKER_BATCH (with --sagemaker): text/csv answers one
                              prediction per line, as the XGBoost container in Batch Transform */
} ls_config;

/* ---- logs: JSON lines on stderr ---- */
enum { LS_LOG_DEBUG, LS_LOG_INFO, LS_LOG_WARN, LS_LOG_ERROR };
extern int ls_log_level;
/* fields: a JSON object's inner text built by the caller ("\"k\":1,\"s\":\"x\"") or NULL. */
void ls_log(int level, const char *msg, const char *fmt_fields, ...)
    __attribute__((format(printf, 3, 4)));
/* Escape s (length n) as JSON string content into dst (cap bytes, NUL-terminated, truncated at
 * a character boundary): quotes, backslashes and control characters escaped, valid UTF-8 kept,
 * every byte of invalid UTF-8 written as \ufffd. Every string lmserve writes into JSON (responses,
 * model metadata, logs) that it did not write itself goes through it. */
size_t ls_json_escape(char *dst, size_t cap, const char *s, size_t n);
/* The same for a Prometheus label value (text format 0.0.4: backslash, quote and newline
 * escaped; other control characters and invalid UTF-8 as '?'). */
size_t ls_prom_escape(char *dst, size_t cap, const char *s, size_t n);
/* Is s[0..n) valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)? */
int ls_utf8_valid(const char *s, size_t n);

/* ---- HTTP/1.1 request head ---- */
enum { LS_GET = 1, LS_POST, LS_HEAD, LS_OTHER };
typedef struct ls_req {
  int method;
  const char *path;          /* target without the query string */
  size_t path_len;
  size_t head_len;           /* bytes of the request line and headers, blank line included */
  uint64_t content_length;   /* 0 when absent */
  int has_content_length;
  int chunked;               /* Transfer-Encoding: chunked (content_length: 0 until decoded) */
  int keep_alive;
  int http10;            /* HTTP/1.0: keep-alive only when asked, and said in the response */
  int expect_continue;
  int64_t infer_header_len;  /* Inference-Header-Content-Length, -1 when absent */
  const char *ctype, *accept; /* Content-Type and Accept values (NULL when absent) */
  size_t ctype_len, accept_len;
  const char *err;           /* on error: what was wrong (static string) */
} ls_req;
/* Parse a request head at p[0..n). Returns the head length (> 0) when complete, 0 when more
 * bytes are needed, or -STATUS (400, 411, 413, 431, 501, 505) with r->err set. */
int ls_http_parse(const char *p, size_t n, size_t max_header, uint64_t max_body, ls_req *r);

/* ---- growable buffer: fixed storage first, heap only when a message outgrows it ---- */
typedef struct ls_buf {
  char *p;
  size_t len, cap;
  char *fixed;
  size_t fixed_cap;
} ls_buf;
int ls_buf_reserve(ls_buf *b, size_t extra); /* 0 or -1 (out of memory) */
int ls_buf_append(ls_buf *b, const void *s, size_t n);
void ls_buf_shrink(ls_buf *b); /* back to the fixed storage when empty */
void ls_buf_free(ls_buf *b);
/* printf / puts at the end of b (growing it; on out of memory the text is cut). */
void ls_buf_printf(ls_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ls_buf_puts(ls_buf *b, const char *s);
void ls_buf_u64(ls_buf *b, unsigned long long v); /* decimal, without printf (buf.c) */

/* ---- model registry ---- */
typedef struct ls_version {
  lm_model *model;
  lm_session **sess;    /* one per worker */
  int nsess;
  unsigned version;
  char vstr[16];
  uint64_t hash;        /* XXH64 of the .lm file */
  size_t nfeat, width;
  lm_model_info info;
  int replicas;         /* NUMA replicas made for the workers' nodes */
  int contrib;          /* contributions offered (the contrib output): linear models, tree
                           models with cover; else contrib_why says why not */
  char contrib_why[200];
  char *meta;           /* GET /v2/models/{name} body */
  size_t meta_len;
  int selftest_rows;
} ls_version;

typedef struct ls_slot {
  _Atomic int live;             /* 0: free (readers skip it; the control thread may reuse it
                                   once a grace period has passed since it was freed) */
  char name[LS_NAME_MAX];
  size_t name_len;
  _Atomic(ls_version *) cur;   /* NULL: not served (removed or never loaded) */
  /* control thread only */
  struct stat seen;             /* identity of the file last tried */
  int have_seen;
  unsigned gen;
  /* metrics (written by the control thread) */
  _Atomic uint64_t reloads, reload_failures;
  _Atomic int rejected;         /* the file as it is now was rejected (logged once, when it
                                   changed): the server is not ready */
} ls_slot;

typedef struct ls_ratelog {
  uint64_t hash, last_ns;
  int pending;
} ls_ratelog;

typedef struct ls_registry {
  const char *dir;
  int nworkers;
  ls_slot slots[LS_MAX_MODELS];
  _Atomic int nslots;
  _Atomic uint64_t *qs[LS_MAX_WORKERS]; /* workers' quiescent-state counters (NULL: none) */
  int cpu[LS_MAX_WORKERS];              /* worker i's CPU when pinned, else -1 (sessions are
                                           made there: arena and model replica node-local) */
  int replicas;                         /* 0: none, 1: per node when > 1 node, 2: always */
  int max_models;                       /* slots usable (<= LS_MAX_MODELS) */
  size_t max_features;                  /* models declaring more features are refused */
  struct ls_metrics *met[LS_MAX_WORKERS]; /* workers' metrics: a reused slot's are zeroed */
  _Atomic uint64_t scan_errors;
  _Atomic uint64_t skipped;             /* model files not served for lack of a slot (last scan) */
  _Atomic uint64_t bad_names;           /* *.lm files whose names are not model names (last scan) */
  ls_ratelog skip_log, bad_log;         /* their log lines: when the set changes, <= 1 per 10 s */
  uint64_t rejected_hash;               /* the set of rejected files last logged (control thread) */
  int rejected_count;
} ls_registry;

void ls_registry_init(ls_registry *r, const char *dir, int nworkers);
/* Scan the directory: load new and changed files (all files when force), retire removed ones.
 * Returns the number of models served afterwards, or -1 if the directory cannot be read. */
int ls_registry_scan(ls_registry *r, int force);
/* Load one file into its slot now (tests, fuzz target): 0 or a negative LM_E* code. Slots of
 * removed files are freed after a grace period (ls_registry_synchronize) and reused; when the
 * directory holds more models than max_models, the first max_models names in byte order are
 * given slots in byte order of their names (a model served keeps its slot) and the rest are
 * skipped: counted (lmserve_models_skipped) and logged, at most once every 10 s and only when
 * the set changes. */
int ls_registry_load_file(ls_registry *r, const char *path, const char *name);
ls_slot *ls_registry_find(ls_registry *r, const char *name, size_t n);
int ls_registry_count_ready(ls_registry *r);
/* Readiness: serving, at least one model, and no model file of the directory rejected (issue
 * 20: also when an older version of it still serves). With body: its JSON ({"ready":...} plus,
 * when not empty, "not_loaded": rejected files with nothing served, "stale": rejected files
 * whose previous version still serves, "skipped": files over --max-models). */
struct ls_server;
int ls_ready(struct ls_server *s, ls_buf *body);
void ls_registry_free(ls_registry *r);
/* Wait until every worker has passed a quiescent point (then retired versions are unused). */
void ls_registry_synchronize(ls_registry *r);

/* ---- metrics (per worker; summed by /metrics) ---- */
enum { LS_C200, LS_C400, LS_C404, LS_C405, LS_C408, LS_C411, LS_C413, LS_C431, LS_C500,
       LS_C501, LS_C503, LS_C505, LS_C204, LS_C406, LS_C415, LS_NCODES };
#define LS_NBUCKETS 20
extern const double ls_bucket_s[LS_NBUCKETS]; /* upper bounds, seconds; +Inf implicit */
typedef struct ls_hist {
  _Atomic uint64_t b[LS_NBUCKETS + 1];
  _Atomic uint64_t count, sum_ns;
} ls_hist;
typedef struct ls_metrics {
  _Atomic uint64_t req[LS_MAX_MODELS + 1][LS_NCODES]; /* [LS_MAX_MODELS]: no model */
  ls_hist req_dur;
  ls_hist model_dur[LS_MAX_MODELS]; /* request duration by model (routed to one) */
  ls_hist inf_dur[LS_MAX_MODELS];
  _Atomic int64_t inflight;
  _Atomic int64_t conns_open;
  _Atomic uint64_t conns_total, conns_rejected, timeouts;
  _Atomic uint64_t conns_evicted;  /* idle connections closed to admit a new one */
  _Atomic uint64_t header_timeouts; /* connections closed for an incomplete head */
  _Atomic uint64_t output_held;    /* times a connection's input waited for its output */
  _Atomic uint64_t scratch_shrinks; /* scratch buffers given back after an outsized request */
} ls_metrics;
int ls_code_index(int status);
void ls_hist_observe(ls_hist *h, uint64_t ns);
static inline void ls_inc(_Atomic uint64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* ---- server state shared by workers and the control thread ---- */
enum { LS_RUNNING, LS_DRAINING, LS_CLOSING };
typedef struct ls_server {
  ls_config cfg;
  ls_registry reg;
  _Atomic int state;          /* LS_RUNNING → LS_DRAINING (SIGTERM) → LS_CLOSING (drain over) */
  _Atomic int conns;          /* open connections, all workers */
  struct ls_worker *workers;
  int nworkers;
  int listen_fd;
  _Atomic int workers_done;
  uint64_t spin_ns;           /* busy-poll window after traffic (LMSERVE_SPIN_US) */
  int spin_yield, spin_idle, spin_backoff; /* busy-poll parts (LMSERVE_SPIN_*=0: off) */
  _Atomic uint64_t last_traffic_ns; /* last time any loop handled events (spin decisions) */
} ls_server;

/* ---- one connection's request path state ---- */
typedef struct ls_conn {
  int fd;
  ls_buf in, out;
  size_t in_off;        /* start of the unparsed input */
  size_t out_off;       /* bytes of out already sent */
  ls_req req;
  int have_head;        /* req holds the parsed head of the pending request */
  int held;             /* input left unprocessed: the output queue is over --max-queued-bytes */
  int served;           /* requests answered on this connection */
  uint64_t t_accept_ns; /* accepted (the first head must be complete by --header-timeout) */
  int sent_continue;
  int closing;          /* close once out is flushed */
  uint64_t t_start_ns;  /* first byte of the pending request (0: none) */
  uint64_t t_last_ns;   /* last activity */
  int in_use, want_out;
  int lingering;        /* response sent, write side shut: discarding input until EOF */
  /* A chunked body is decoded in place right behind its head, as its bytes arrive: the
   * decoded bytes, then the still-encoded rest (offsets from the body's start). */
  size_t ck_len;        /* decoded bytes so far */
  uint64_t ck_left;     /* data bytes still to come in the current chunk */
  size_t ck_trailer;    /* trailer-section bytes so far (limited like a head) */
  int ck_state;         /* what comes next: size line, data, data's CRLF, trailer, done */
  struct ls_conn *next_free;
} ls_conn;

typedef struct ls_worker {
  int idx, cpu, epfd;
  ls_server *srv;
  ls_conn *conns;
  ls_conn *free_list;
  int nconns;
  int nbuffered;        /* pooled connections holding buffers (kept up to LS_KEEP_BUFFERS) */
  /* scratch, grown to the largest request seen (high-water), reused after */
  double *vals;
  size_t vals_cap;
  float *fvals, *outs;
  size_t fvals_cap, outs_cap;
  double *cols;         /* per-feature tensors: the rows assembled here, then swapped with vals */
  size_t cols_cap;
  uint32_t *leaves;     /* pred_leaf output */
  size_t leaves_cap;
  float *contribs;      /* pred_contribs output */
  size_t contribs_cap;
  struct ls_input *ins; /* the request's input tensors (per-feature requests: one per feature) */
  size_t ins_cap;
  unsigned char *fseen; /* per-feature requests: features already given */
  size_t fseen_cap;
  size_t vals_limit;    /* values one request may parse (--max-batch-rows × features; 0: none) */
  ls_buf body;          /* response body scratch */
  char body_fixed[16384];
  char date[64];
  int64_t date_sec;
  ls_metrics m;
  _Atomic uint64_t qs;  /* odd: idle in epoll_wait; even: handling events */
} ls_worker;

/* Initialise a worker's request-path state (not its thread, epoll or connection pool). */
int ls_worker_init(ls_worker *w, ls_server *s, int idx);
void ls_worker_free(ls_worker *w);
int ls_conn_init(ls_conn *c, size_t in_fixed, size_t out_fixed);
/* ls_conn_init keeping the pool linkage (event loop: buffers made when a connection first has
 * bytes to read, so idle connections cost no buffer). */
int ls_conn_alloc_buffers(ls_conn *c, size_t in_fixed, size_t out_fixed);
void ls_conn_reset(ls_conn *c);
/* Timeouts of one connection at now (called by the event loop's 100 ms sweep and the fuzz
 * target): LS_TO_NONE, LS_TO_CLOSE (close it now), or LS_TO_408 (a 408 was queued in c->out,
 * closing set: flush it). Header timeout: from accept until the first head is complete, and
 * from a later request's first byte until its head is complete. */
enum { LS_TO_NONE, LS_TO_CLOSE, LS_TO_408 };
int ls_conn_timeouts(ls_worker *w, ls_conn *c, uint64_t now);
/* May c be closed to admit a new connection? (No request under way, no output pending.) */
int ls_conn_evictable(const ls_conn *c);
/* Give back scratch grown past LS_SCRATCH_KEEP by an outsized request (after its response). */
void ls_worker_trim(ls_worker *w);
#define LS_SCRATCH_KEEP (1u << 20) /* bytes of each scratch array kept between requests */
#define LS_KEEP_BUFFERS 256        /* per worker: closed connections whose buffers are kept */
void ls_conn_free(ls_conn *c);
/* Process the bytes in c->in: parse every complete request, append responses to c->out.
 * Sets c->closing when the connection must be closed after flushing. */
void ls_conn_process(ls_worker *w, ls_conn *c, uint64_t now_ns);
/* Append a complete response (status line, headers, body) to c->out. */
void ls_respond(ls_worker *w, ls_conn *c, int status, const char *ctype, const char *extra,
                const char *body, size_t len);
/* The same with the worker's body buffer as a JSON body; an error is {"error": msg}. */
void ls_respond_json(ls_worker *w, ls_conn *c, int status, const char *extra);
void ls_respond_error(ls_worker *w, ls_conn *c, int status, const char *extra, const char *msg);
/* *p grown to at least need elements of elem bytes (doubling): 0 or -1 (buf.c); the same
 * answering a 500 on out of memory (returns 0 or 500). */
int ls_grow(void **p, size_t *cap, size_t need, size_t elem);
int ls_grow_or_500(ls_worker *w, ls_conn *c, void **p, size_t *cap, size_t need, size_t elem);
uint64_t ls_now_ns(void);
/* A chunked body (chunked.c), decoded in place behind its head as bytes arrive: start before
 * the first call; then 1 when the body is complete (its length in c->ck_len), 0 when more bytes
 * are needed, or -STATUS with *err set. n: bytes from b to the end of the input (c->in.len
 * shrinks as the gap closes). */
void ls_dechunk_start(ls_conn *c);
int ls_dechunk(ls_server *s, ls_conn *c, char *b, size_t n, const char **err);
/* GET /metrics: every worker's counters as Prometheus text (metrics.c). */
void ls_metrics_respond(ls_worker *w, ls_conn *c);

/* ---- V2 JSON ---- */
/* One input tensor of a request, as parsed (its values are w->vals[off .. off + nvals)). */
typedef struct ls_input {
  const char *name;         /* raw JSON string content (escapes kept) */
  size_t name_len;
  char datatype[16];
  int64_t shape[8];
  int ndim;
  int has_data, has_bool;   /* has_bool: true/false literals among the data */
  size_t off, nvals;
  int data_ndim;
  int64_t data_dims[9];
  int64_t binary_size;
} ls_input;
/* Outputs a request asks for (bits of ls_infer_req.want). */
enum { LS_OUT_PRED = 1, LS_OUT_LEAF = 2, LS_OUT_CONTRIB = 4 };
typedef struct ls_infer_req {
  const char *id;           /* raw JSON string content (escapes kept) or NULL */
  size_t id_len;
  int ninputs;
  const char *in_name;
  size_t in_name_len;
  char datatype[16];
  int64_t shape[8];
  int ndim;
  int has_data;
  size_t nvals;             /* numbers parsed into the worker's vals */
  int data_ndim;            /* nesting of data (1: flat), its lengths per level: */
  int64_t data_dims[9];
  int64_t binary_size;      /* parameters.binary_data_size, -1 when absent */
  int binary_output;        /* outputs requested as binary */
  int bad_output_name;
  int has_bool;             /* true/false literals in the current input's data */
  int output_margin;        /* output_margin: the prediction output is the raw margin */
  int pred_leaf;            /* request parameter pred_leaf: the leaf output only */
  int pred_contribs;        /* request parameter pred_contribs: the contrib output only */
  unsigned want;            /* outputs named in "outputs" (LS_OUT_*; 0: none named) */
  unsigned binary_want;     /* of those, asked for as binary data */
  unsigned out_bit, out_binary; /* the output object being parsed */
  int out_margin;
  size_t in_off;            /* the input being parsed: its first value in w->vals */
  char unknown_param[48];   /* the first parameter lmserve does not know (the response: 400) */
  int too_many_values;      /* data passed w->vals_limit (the response is a 413) */
  const char *err;          /* on error: what was wrong */
  char errbuf[160];
} ls_infer_req;
/* Parse a V2 inference request body (JSON). Numbers of the input's "data" go to w->vals (NaN
 * for null). Returns 0, or -1 with q->err set (the response is a 400). */
/* A JSON string's content s[0..n) (escapes already validated) decoded into out (cap bytes,
 * NUL-terminated, cut at a character boundary when full): its length. */
size_t ls_json_decode(const char *s, size_t n, char *out, size_t cap);
/* A SageMaker application/json body: an array of rows, one row, or {"instances": rows}; the
 * numbers go to w->vals (q->nvals, q->data_ndim and q->data_dims as for V2 data). 0 or -1. */
int ls_rows_json_parse(ls_worker *w, const char *p, size_t n, ls_infer_req *q);
/* SageMaker routes (sagemaker.c): kind 0 GET /ping, 1 POST /invocations, 2 GET
 * /execution-parameters; the status. */
int ls_sagemaker(ls_worker *w, ls_conn *c, int kind, const char *body, size_t blen, int *model);
/* Sparse bodies (text/libsvm, sparse RecordIO) cost the model's feature count of doubles per
 * row however few bytes a row takes: their rows × features stay within the larger of the body's
 * byte count and this many values (128 MiB of doubles), else a 413 — dense bodies need a byte
 * or more per value, so they are bounded by the body already. */
#define LS_SPARSE_MIN_VALUES ((size_t)1 << 24)
static inline size_t ls_sparse_values_max(size_t body_len) {
  return body_len > LS_SPARSE_MIN_VALUES ? body_len : LS_SPARSE_MIN_VALUES;
}
/* An application/x-recordio-protobuf body (recordio.c): one row per RecordIO frame, its
 * Record's features["values"] tensor, dense or sparse, into w->vals (the model's features per
 * row, NaN = missing). 0 with *rows, or the status of the error response already written. */
int ls_recordio_parse(ls_worker *w, ls_conn *c, ls_version *v, const char *body, size_t n,
                      size_t *rows);
int ls_v2_parse(ls_worker *w, const char *p, size_t n, ls_infer_req *q);
/* An inference request for model version v of slot (infer.c): parsed, scored, answered; returns
 * the response's status code. */
int ls_infer(ls_worker *w, ls_conn *c, ls_slot *slot, ls_version *v, const char *body,
             size_t blen);

#endif
