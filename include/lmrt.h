/*
 * lmrt.h — the public C API of liblmrt, the lean model runtime.
 *
 * liblmrt opens a compact `.lm` model file (written by lmconvert or lm_convert()) with mmap,
 * verifies it once, and scores rows of float32 or float64 features with no further parsing.
 * Lifecycle: lm_model_open → lm_session_new (one per thread) → lm_predict … → lm_session_free →
 * lm_model_close. A model is immutable after open and may be shared by any number of threads;
 * a session is scratch space for one thread at a time and must never be shared.
 *
 * Errors are negative LM_E* codes (one list, LM_ERRNO_MAP, generates the codes, their names and
 * messages). After a failed call, lm_last_error() returns a thread-local one-line detail naming
 * the file and what exactly was wrong (field, byte offset).
 *
 * This header is the contract: it is extended, never broken. Structs marked "append-only" only
 * ever gain fields at their end.
 */
#ifndef LMRT_H
#define LMRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LMRT_BUILDING) && defined(__GNUC__)
#define LM_API __attribute__((visibility("default")))
#else
#define LM_API
#endif

#define LM_VERSION_MAJOR 0
#define LM_VERSION_MINOR 1
#define LM_VERSION_PATCH 0
#define LM_VERSION_STRING "0.1.0"

/* The error list: X(NAME, message). Codes are -1, -2, … in this order; never reorder, only
 * append (retired codes stay, marked retired). */
#define LM_ERRNO_MAP(X)                                                        \
  X(INVAL, "invalid argument")                                                 \
  X(NOMEM, "out of memory")                                                    \
  X(IO, "input/output error")                                                  \
  X(FORMAT, "malformed input")                                                 \
  X(MAGIC, "not an lmrt model file (bad magic)")                               \
  X(VERSION, "unsupported format version")                                     \
  X(CHECKSUM, "checksum mismatch")                                             \
  X(UNSUPPORTED, "unsupported model feature")                                  \
  X(NOMODEL, "no model found in the input")                                    \
  X(RANGE, "value out of range")                                               \
  X(SELFTEST, "model self-test failed")

enum lm__errno_seq {
  LM__ERRNO_SEQ_ZERO = 0,
#define LM__X(name, msg) LM__ERRNO_SEQ_##name,
  LM_ERRNO_MAP(LM__X)
#undef LM__X
  LM__ERRNO_SEQ_END
};

enum lm_errno {
  LM_OK = 0,
#define LM__X(name, msg) LM_E##name = -LM__ERRNO_SEQ_##name,
  LM_ERRNO_MAP(LM__X)
#undef LM__X
};

/* Message for an error code ("unknown error" for codes not in the list). Static storage. */
LM_API const char *lm_strerror(int err);
/* The code's name without prefix ("FORMAT" for LM_EFORMAT). Static storage. */
LM_API const char *lm_err_name(int err);
/* Thread-local detail of the last failed call on this thread: one line naming the file and what
 * was wrong. Valid until the next failing call on the same thread. Never NULL (may be ""). */
LM_API const char *lm_last_error(void);

typedef struct lm_model lm_model;     /* immutable after open; share across threads */
typedef struct lm_session lm_session; /* per-thread scratch arena; never shared */

/* Map and verify a .lm file. On success *out owns the mapping; release with lm_model_close. */
LM_API int lm_model_open(const char *path, lm_model **out);
/* Release a model. All sessions of the model must have been freed. NULL is a no-op. */
LM_API void lm_model_close(lm_model *m);
LM_API size_t lm_model_num_features(const lm_model *m);
LM_API size_t lm_model_num_outputs(const lm_model *m);
/* Columns lm_predict writes per row for these flags: num_outputs, except multi:softmax values
 * (the class index: 1 column). Never more than num_outputs. */
LM_API size_t lm_model_output_width(const lm_model *m, unsigned flags);
/* Number of trees (0 for linear models and factorization machines): the column count of lm_predict_leaf. */
LM_API size_t lm_model_num_trees(const lm_model *m);

/* What a model is, for lminfo and for logs. Append-only. Strings live as long as the model. */
typedef struct lm_model_info {
  const char *source_format;   /* "xgboost-json", … */
  const char *source_version;  /* trainer version as recorded in the artifact, e.g. "1.7.4" */
  const char *converter;       /* "lmconvert 0.1.0" */
  const char *booster;         /* "gbtree", "dart", "gblinear" */
  const char *objective;       /* trainer's objective name, e.g. "binary:logistic" */
  const char *link;            /* output transform: "identity", "sigmoid", "exp", "softmax", … */
  uint64_t source_hash;        /* XXH64 of the source artifact's bytes */
  uint64_t file_size;          /* bytes of the .lm file */
  uint32_t format_major, format_minor;
  uint32_t num_features, num_outputs;
  uint32_t num_trees, num_nodes, max_depth;
  uint32_t num_categorical_splits;
  float base_score;            /* as the trainer stores it (output space) */
  float base_margin;           /* the starting margin every row's sum begins at */
  const char *kernel;          /* the planned scoring kernel, e.g. "tree_margin__avx512" */
  const char *isa;             /* the instruction set allowed: CPU capped by LM_ISA */
  uint32_t num_trees_trained;  /* trees in the artifact (> num_trees when truncated at
                                  best_ntree_limit / best_iteration) */
  int64_t best_iteration;      /* trainer attributes, -1 if absent */
  int64_t best_ntree_limit;
  const char *link_kernel;     /* the planned output transform, e.g. "link__avx2" */
  int has_cover;               /* 1: the file carries node covers (COVER section, format 1.1),
                                  so lm_predict_contrib works on this tree model */
  uint32_t num_factors;        /* factorization machines (booster "fm", format 1.2): factors
                                  per feature (k); 0 for other models */
} lm_model_info;

/* Fill *info. Returns 0, or LM_EINVAL for NULL arguments. */
LM_API int lm_model_get_info(const lm_model *m, lm_model_info *info);

/* The plan: which kernel scores a call of how many rows on this machine. One band per kernel,
 * largest batches first: calls of min_rows to max_rows rows (SIZE_MAX: no bound) run kernel.
 * Fills at most cap bands and returns how many there are (at most 4). *notes (if not NULL)
 * receives why faster kernels of the model's family were not planned, e.g.
 * "tree_margin_bits__avx512: no bin-and-bitmask layout: feature 3 has 300 distinct thresholds
 * (at most 254)", or "" when none was left out; owned by the model. */
typedef struct lm_plan_band {
  size_t min_rows, max_rows;
  const char *kernel;
} lm_plan_band;
LM_API size_t lm_model_plan(const lm_model *m, lm_plan_band *bands, size_t cap,
                            const char **notes);
/* Feature name i (NULL if the model has no names or i is out of range), and its type:
 * 'q' numeric, 'c' categorical. */
LM_API const char *lm_model_feature_name(const lm_model *m, size_t i);
LM_API char lm_model_feature_type(const lm_model *m, size_t i);

/* Sessions hold the scratch arena of one thread. */
LM_API int lm_session_new(const lm_model *m, lm_session **out);
LM_API void lm_session_free(lm_session *s);

#define LM_PREDICT_MARGIN 1u /* raw margin (sum of trees + base), no output transform */

/* x: n_rows × num_features floats, row-major, NaN = missing.
 * out: n_rows × num_outputs floats (row r's values start at out[r · lm_model_output_width]). flags: 0 = transformed value (what XGBoost's predict
 * returns), LM_PREDICT_MARGIN = raw margin. Returns 0 or a negative LM_E* code. */
LM_API int lm_predict(lm_session *s, const float *x, size_t n_rows, unsigned flags, float *out);
/* The same for float64 rows: each model's decisions exactly as its trainer makes them for such
 * rows (XGBoost rounds inputs to float32; LightGBM compares doubles). */
LM_API int lm_predict_f64(lm_session *s, const double *x, size_t n_rows, unsigned flags,
                          float *out);
/* Leaf reached in every tree, like the trainer's pred_leaf: out is n_rows × num_trees, each the
 * trainer's own id of the leaf (XGBoost: its node id; LightGBM: its leaf index; scikit-learn:
 * the node id apply() gives).
 * LM_EUNSUPPORTED for linear models. */
LM_API int lm_predict_leaf(lm_session *s, const float *x, size_t n_rows, uint32_t *out);

/* Feature contributions (SHAP values), exactly what XGBoost's predict(pred_contribs=True)
 * returns: per row and output, one value per feature and the bias last, so out is
 * n_rows × lm_model_contrib_width(m) floats, row-major [rows][outputs][num_features + 1]. The
 * contributions of one row and output sum to its margin (LM_PREDICT_MARGIN), within float
 * rounding. Tree models: exact TreeSHAP with the node covers the file carries (files converted
 * without them, e.g. by lmconvert before format 1.1: LM_EUNSUPPORTED naming the file; convert
 * again); dart tree weights, multi-class, categorical splits and missing values as XGBoost.
 * Linear models: weight × value (0 for a missing value), bias = bias + base margin. LightGBM
 * models: what its predict(pred_contrib=True) returns (covers: its leaf and internal data
 * counts; missing types, default_left and categorical sets as LightGBM decides; random forests
 * NOT averaged, as LightGBM: their contributions sum to the sum of the trees, i.e. the margin ×
 * iterations; linear trees LM_EUNSUPPORTED, as LightGBM refuses them). The first call builds per-leaf path tables kept with the
 * model until lm_model_close (thread-safe; O(nodes × depth) bytes plus at most 64 MiB of
 * per-leaf pattern tables, so that first call takes longer); after the first call of a given
 * size, no heap allocation. */
LM_API int lm_predict_contrib(lm_session *s, const float *x, size_t n_rows, float *out);
/* The same for float64 rows (XGBoost models: rounded to float32 first, as XGBoost does;
 * LightGBM models: every decision on the double itself, as lm_predict_f64). */
LM_API int lm_predict_contrib_f64(lm_session *s, const double *x, size_t n_rows, float *out);
/* Columns of lm_predict_contrib per row: num_outputs × (num_features + 1); 0 for NULL. */
LM_API size_t lm_model_contrib_width(const lm_model *m);

/* Run the self-test embedded at conversion (lmconvert --selftest) on this machine with the
 * planned kernels: score its rows and compare with the recorded outputs within
 * 1e-6·max(1, |expected|). Returns the number of rows checked (0: the model has no self-test)
 * or LM_ESELFTEST with lm_last_error() naming the first row and output that differ. */
LM_API int lm_model_selftest(const lm_model *m);

/* CPUs this process may use: the affinity mask (cgroup cpuset, Kubernetes static CPU manager),
 * limited to ceil(quota/period) by a cgroup CPU quota. Writes up to cap CPU ids (ascending; the
 * first ones when a quota limits the count) to cpus (may be NULL) and returns the count (≥ 1). */
LM_API size_t lm_cpus_allowed(int *cpus, size_t cap);

/* Conversion (what lmconvert does). Append-only. */
typedef struct lm_convert_options {
  const char *member; /* archive member to read; NULL: "xgboost-model", else the only model */
  int quiet;          /* non-zero: no progress on stderr */
  int all_trees;      /* non-zero: keep every tree; default: honour best_ntree_limit /
                         best_iteration the way SageMaker's XGBoost endpoint does */
  /* Embedded self-test (optional): selftest_rows holds selftest_n rows of the model's features
   * (float64, NaN = missing); selftest_expected the values they must produce (selftest_n ×
   * output width), or NULL to have the converter compute them with the scalar reference. */
  const double *selftest_rows;
  const float *selftest_expected;
  size_t selftest_n;
  size_t selftest_features;  /* columns of selftest_rows: must equal the model's features */
  size_t selftest_width;     /* columns of selftest_expected: must equal the output width
                                (lm_model_output_width with flags 0) */
  /* Largest model accepted, in bytes: the raw file, or the archive member holding it (an
   * archive's members may add up to twice this). 0: 1 GiB (lmconvert --max-input-bytes). */
  unsigned long long max_input_bytes;
  /* Progress (optional): called on lm_convert's thread while the model is read, every few
   * megabytes or every tree: trees read of trees_total (0 while the input is first scanned) and
   * the model's bytes gone through of bytes_total. lmconvert prints it (docs/lmconvert.md). */
  void (*progress)(void *ctx, unsigned long long trees, unsigned long long trees_total,
                   unsigned long long bytes, unsigned long long bytes_total);
  void *progress_ctx;
} lm_convert_options;

/* Read a trained artifact (model.tar.gz, .tar, or a raw model file; format sniffed) and write
 * a .lm file at out_path. The output is written to a temporary name and renamed at the end:
 * on failure nothing is left at out_path. opts may be NULL. With selftest_expected, values the
 * model does not reproduce (first row and output named) fail with LM_ESELFTEST, nothing written. */
LM_API int lm_convert(const char *in_path, const char *out_path, const lm_convert_options *opts);

/* ---- Parallel scoring: a persistent thread pool (runtime/pool.c) ----------------------------
 *
 * A pool owns threads created once (by lm_pool_new), each pinned (to the allowed CPUs of its NUMA
 * node by default, or to one CPU) and waiting on a futex between batches; no call creates a
 * thread or allocates after the first call with a given model and batch size. lm_predict_pool scores a batch with the calling thread and the
 * workers together: rows are split in contiguous blocks whose boundaries are multiples of 256
 * rows, handed out dynamically, so every kernel call sees what a single-threaded call sees and
 * the outputs are bit-identical to lm_predict / lm_predict_f64 for any thread count. Batches
 * smaller than the model's parallel threshold stay on the calling thread: the threshold is
 * derived from two measurements, the pool's wake-up round trip (timed at lm_pool_new) and the
 * model's time per row (timed on the first use of the model with a pool, or by
 * lm_pool_add_model), as the smallest batch for which splitting saves at least twice the
 * round trip (never below 512 rows). lm_pool_options.min_parallel_rows or the environment
 * variable LM_POOL_MIN_ROWS override it.
 *
 * NUMA: with replicas enabled the pool copies each model's hot memory (the verified file image
 * and the layouts derived at open) onto every NUMA node that has pool threads; workers, and
 * sessions created on a thread of that node, then read their node's copy. Replicas belong to the
 * model (freed by lm_model_close) and count against max_replica_bytes of the pool that made
 * them; a replica that does not fit is skipped (that node reads the mapping) and counted in
 * lm_pool_info.replicas_skipped. Without kernel NUMA support there is one node and no replica.
 *
 * A pool scores one batch at a time: calls from several threads are serialised on a mutex. */
typedef struct lm_pool lm_pool;

#define LM_POOL_PIN_NONE 0 /* workers may run on any allowed CPU */
#define LM_POOL_PIN_CPU 1  /* worker k runs only on the k-th CPU of the placement */
#define LM_POOL_PIN_NODE 2 /* worker k runs on the allowed CPUs of its placement's NUMA node: it
                              stays by its node's replica, and the scheduler can still move it
                              off a CPU the calling thread (not pinned by lmrt) is using */

#define LM_POOL_NUMA_OFF 0   /* no replicas: every thread reads the model's mapping */
#define LM_POOL_NUMA_AUTO 1  /* replicas on each node with pool threads, if the machine has > 1 */
#define LM_POOL_NUMA_FORCE 2 /* a replica on each node with pool threads even on a one-node
                                machine (tests, measurements) */

/* Append-only; zero-initialise, then set fields. lm_pool_new(NULL, …) means threads 0, pin
 * LM_POOL_PIN_NODE, numa LM_POOL_NUMA_AUTO, no bounds. */
typedef struct lm_pool_options {
  size_t threads;           /* threads scoring a batch, the caller's included (so 1 = the caller
                               alone, no worker); 0: lm_cpus_allowed(). An explicit count may
                               exceed the allowed CPUs (the CPUs are then shared). */
  int pin;                  /* LM_POOL_PIN_NONE / _CPU / _NODE (the calling thread is never
                               pinned by lmrt) */
  int numa;                 /* LM_POOL_NUMA_OFF / _AUTO / _FORCE */
  size_t max_replica_bytes; /* bound on the replica memory this pool creates; 0: no bound */
  size_t min_parallel_rows; /* batches below this stay on the caller; 0: measured (see above) */
} lm_pool_options;

/* Create a pool: discover the allowed CPUs and the NUMA topology, place and start the workers,
 * and time the wake-up round trip. Returns 0 or a negative LM_E* code. */
LM_API int lm_pool_new(const lm_pool_options *opts, lm_pool **out);
/* Stop and join the workers. Models used with the pool stay valid. NULL is a no-op. */
LM_API void lm_pool_free(lm_pool *p);
/* Threads that score a batch (the caller's included). */
LM_API size_t lm_pool_num_threads(const lm_pool *p);
/* Prepare a model for the pool ahead of the first batch (optional; the first lm_predict_pool
 * with the model does it otherwise): time its scoring per row, and make the replicas the pool's
 * NUMA setting asks for (within max_replica_bytes). Returns 0 or a negative LM_E* code. */
LM_API int lm_pool_add_model(lm_pool *p, const lm_model *m);
/* lm_predict / lm_predict_f64 with the pool's threads. s: the calling thread's session of the
 * model (its scratch serves the caller's share). Same arguments, results and errors. */
LM_API int lm_predict_pool(lm_pool *p, lm_session *s, const float *x, size_t n_rows,
                           unsigned flags, float *out);
LM_API int lm_predict_pool_f64(lm_pool *p, lm_session *s, const double *x, size_t n_rows,
                               unsigned flags, float *out);
/* lm_predict_contrib / lm_predict_contrib_f64 with the pool's threads: the batch split into
 * blocks of rows (from a smaller batch size than lm_predict_pool: a contribution row costs far
 * more than a prediction), the same floats as the single-thread call for any number of threads,
 * no allocation after the first batch of a given size. Same arguments, results and errors. */
LM_API int lm_predict_contrib_pool(lm_pool *p, lm_session *s, const float *x, size_t n_rows,
                                   float *out);
LM_API int lm_predict_contrib_pool_f64(lm_pool *p, lm_session *s, const double *x,
                                       size_t n_rows, float *out);

/* What a pool is and, for a model, how the pool treats it. Append-only. */
typedef struct lm_pool_info {
  size_t threads;            /* as lm_pool_num_threads */
  size_t cpus_allowed;       /* lm_cpus_allowed() when the pool was made */
  int numa_available;        /* 1: the kernel reports NUMA support (libnuma) */
  int nodes;                 /* NUMA nodes of the machine (1 without support) */
  int nodes_used;            /* nodes holding pool threads */
  double wake_ns;            /* measured wake-up round trip of the workers, ns (0: no worker) */
  /* For the model passed (zeros when NULL or not yet used with a pool): */
  size_t min_parallel_rows;  /* batches from this size are split */
  double ns_per_row;         /* measured single-thread scoring time per row */
  size_t replica_bytes;      /* bytes of one replica of the model */
  int replicas;              /* nodes of this pool holding a replica of the model */
  int replicas_skipped;      /* nodes of this pool that wanted one but max_replica_bytes denied */
  size_t pool_replica_bytes; /* replica memory this pool created so far (all models) */
} lm_pool_info;

/* Fill *info (m may be NULL). Returns 0, or LM_EINVAL for NULL p or info. */
LM_API int lm_pool_get_info(const lm_pool *p, const lm_model *m, lm_pool_info *info);
/* Bytes one NUMA replica of m takes (its file image, padding and the layouts derived at open):
 * the memory a pool with replicas adds per node that has pool threads. */
LM_API size_t lm_model_replica_bytes(const lm_model *m);
/* For programs that place their own threads (lmserve): make a replica of m on the NUMA node of
 * the calling thread, so that sessions then created on that node read local memory. force: make
 * one even on a one-node machine (plain memory; tests). Not bounded by any pool's
 * max_replica_bytes; freed by lm_model_close. Returns 1 when the node has a replica afterwards,
 * 0 when none is needed (one node, or no NUMA support, and not force), or a negative LM_E*
 * code. */
LM_API int lm_model_replicate_local(const lm_model *m, int force);
/* The placement's CPU of pool thread `slot` (slot 0: the one meant for the caller, advisory;
 * with LM_POOL_PIN_NODE a worker may run on any allowed CPU of that CPU's node), or -1 when
 * slot ≥ threads. */
LM_API int lm_pool_thread_cpu(const lm_pool *p, size_t slot);

#ifdef __cplusplus
}
#endif
#endif /* LMRT_H */
