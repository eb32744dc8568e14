// lmbench.h — what the files of the benchmark harness (bench/lmbench.cc: options, registration,
// main; lmbench_models.cc: models.tsv and rows; lmbench_engines.cc: the engines and the parity
// check; lmbench_timing.cc: the timer and the timed cases; lmbench_pool.cc: thread-pool and
// scaling cases) share, in namespace lmb. What the benchmarks are: bench/lmbench.cc.
#ifndef LMBENCH_H
#define LMBENCH_H

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define LMB_RDTSC 1
#endif

#include "lmrt.h"

namespace lmb {

// ---------------------------------------------------------------------------------------------
// Timer: ticks, their length in ns, and the cost of one read.

extern double g_ns_per_tick;
extern double g_timer_overhead_ticks;

// A call's start and end. On x86-64 the reads are fenced (lfence; rdtsc … rdtscp; lfence):
// the call starts only after everything before it has completed and the end is read only after
// the call has completed, so back-to-back calls cannot overlap in the out-of-order core and a
// sample is the call's latency, not the loop's throughput.
inline uint64_t ticks_start() {
#ifdef LMB_RDTSC
  _mm_lfence();
  uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
#else
  return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
#endif
}
inline uint64_t ticks_end() {
#ifdef LMB_RDTSC
  unsigned aux;
  uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
#else
  return ticks_start();
#endif
}

// Measure the tick length and the cost of an empty timed region (lmbench_timing.cc).
void calibrate_timer();

// ---------------------------------------------------------------------------------------------
// Options.

struct Options {
  std::string models = "build/bench/models";
  // lmrt-hand, openblas, openblas-sgemm: linear and FM models only (the kernel table);
  // openblas-sgemm: FM only.
  // lmrt-twin: LightGBM models only (lmrt on the model's XGBoost twin, issue 15's criterion).
  std::vector<std::string> engines = {"lmrt", "lmrt-scalar", "xgboost", "lmrt-hand", "openblas",
                                      "openblas-sgemm", "lmrt-twin"};
  std::vector<std::string> model_list;
  std::vector<std::string> groups;  // core, zoo (models.tsv's group column); empty = all
  std::vector<size_t> batches = {1, 8, 64, 1000, 100000};
  std::vector<int> threads = {1};
  std::vector<std::string> kinds = {"predict", "open", "convert", "scaling", "contrib"};
  std::vector<std::string> contrib_models = {"small", "large"};
  std::vector<size_t> contrib_batches = {1, 10000};
  int contrib_batch_reps = 1;  // repetitions of contrib cases of >= 1,000 rows (0: the run's)
  bool parity = true;
  double slowdown_pct = 0.0;
};
extern Options g_opt;

// lmbench_models.cc: option helpers.
std::vector<std::string> split(const std::string &s, char sep);
bool has(const std::vector<std::string> &v, const std::string &x);
[[noreturn]] void die(const std::string &msg);

// ---------------------------------------------------------------------------------------------
// Models and rows (models.tsv written by bench/gen_models.py).

struct ModelSpec {
  std::string name, kind, booster, objective, rows_file;
  size_t features = 0, outputs = 0, trees = 0, depth = 0, pool_rows = 0;
  // Columns added with the zoo (older manifests lack them: defaults below).
  std::string source, xgb_model, group = "core", trainer, parity = "xgboost";
  size_t xgb_trees = 0, max_batch = 0;
  std::map<std::string, std::string> cols;  // every column, by header name
  std::string json_path() const { return g_opt.models + "/" + xgb_model; }
  std::string source_path() const { return g_opt.models + "/" + source; }
  std::string lm_path() const { return g_opt.models + "/" + name + ".lm"; }
  // A LightGBM model's XGBoost twin (xgb_model differs from source): lmrt scores it too, as
  // engine lmrt-twin, converted from xgb_model into <name>.twin.lm (bench.mk's BENCH_CONVERT
  // or lm_twin_file()).
  bool has_twin() const { return xgb_model != source && xgb_model != "-" && !xgb_model.empty(); }
  std::string twin_lm_path() const { return g_opt.models + "/" + name + ".twin.lm"; }
};

// models.tsv: columns looked up by the header's names (bench/gen_models.py documents them).
std::vector<ModelSpec> read_manifest();
// The model's manifest line as a JSON object (a custom context entry "model.<name>").
std::string model_context(const ModelSpec &m);
extern std::vector<ModelSpec> g_models;

// Rows of one feature count: the pool from the .f32 file, and per batch size the windows a
// benchmark cycles through (batches larger than the pool are tiled from it).
struct Rows {
  size_t F = 0, n = 0;
  std::vector<float> pool;
  std::map<size_t, std::vector<float>> tiled;

  const float *window(size_t batch, size_t i) {
    if (batch > n) {
      auto &t = tiled[batch];
      if (t.empty()) {
        t.resize(batch * F);
        for (size_t r = 0; r < batch; r++)
          memcpy(&t[r * F], &pool[(r % n) * F], F * sizeof(float));
      }
      return t.data();
    }
    size_t windows = n / batch;
    return &pool[(i % windows) * batch * F];
  }
};

// The rows of m's feature count, read once (lmbench_models.cc).
Rows &rows_for(const ModelSpec &m);

// ---------------------------------------------------------------------------------------------
// Engines.

struct Engine {
  virtual ~Engine() {}
  // Score n rows of x into out (n × outputs floats). 0 on success.
  virtual int predict(const float *x, size_t n, float *out) = 0;
  virtual std::string label() const { return ""; }
  // The label of a case of `batch` rows (lmrt-hand, openblas: the kernel planned for it).
  virtual std::string label_at(size_t batch) const { (void)batch; return label(); }
  std::string error;
};

// lmbench_engines.cc. The model's .lm file, converted from its source when missing or older.
int lm_model_file(const ModelSpec &m);
// The twin's .lm file (ModelSpec::twin_lm_path), converted from xgb_model when missing or older.
int lm_twin_file(const ModelSpec &m);
// Open a model, with LM_ISA=isa in the environment during lm_model_open when isa is given.
int open_with_isa(const std::string &path, const char *isa, lm_model **out);
// The same with any variable (LM_KERNEL: runtime/plan.c's hook for benchmarks).
int open_with_env(const std::string &path, const char *var, const char *value, lm_model **out);
// The kernel lm_model_plan() gives calls of `batch` rows.
std::string planned_kernel(const lm_model *model, size_t batch);
// Engines are made once per (engine, model, threads) and kept for the whole run.
Engine &engine_for(const std::string &engine, const ModelSpec &m, int threads);
void free_engines();
// Once per (engine, model): an lmrt engine must return its reference's values.
void parity_check(const std::string &engine, const ModelSpec &m);

// ---------------------------------------------------------------------------------------------
// Samples → counters.

struct Samples {
  std::vector<uint64_t> v;
  double sum = 0;
  uint64_t count = 0;
  static constexpr size_t kCap = size_t(1) << 22;  // percentiles over the first 4M calls

  explicit Samples(uint64_t expected) { v.reserve(std::min<uint64_t>(expected, kCap)); }
  inline void add(uint64_t d) {
    sum += double(d);
    count++;
    if (v.size() < kCap) v.push_back(d);
  }
  double pct(double q) {
    size_t k = std::min(v.size() - 1, size_t(q * double(v.size())));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return ns(double(v[k]));
  }
  static double ns(double t) { return std::max(0.0, t - g_timer_overhead_ticks) * g_ns_per_tick; }

  void report(benchmark::State &st, size_t rows_per_call) {
    if (!count) return;
    double mean = ns(sum / double(count));
    st.counters["ns_per_call"] = mean;
    st.counters["ns_per_row"] = mean / double(rows_per_call);
    st.counters["p50_ns"] = pct(0.50);
    if (v.size() >= 100) st.counters["p99_ns"] = pct(0.99);
    if (v.size() >= 1000) st.counters["p999_ns"] = pct(0.999);
    st.counters["batch"] = double(rows_per_call);
  }
};

// Progress on stderr: each case once, when it first runs.
void announce(const std::string &name);

/* The timed loop shared by every predict case: one call per iteration on a sliding window of
 * rows, each call timed alone; reports the samples and returns them. */
template <class E>
Samples time_predict(benchmark::State &st, E &e, Rows &rows, size_t batch, size_t outputs,
                     const std::string &what) {
  std::vector<float> out(batch * outputs + 16);
  size_t i = 0;
  Samples s(st.max_iterations);
  for (auto _ : st) {
    const float *x = rows.window(batch, i++);
    uint64_t t0 = ticks_start();
    int rc = e.predict(x, batch, out.data());
    uint64_t t1 = ticks_end();
    if (rc != 0) {
      st.SkipWithError((what + " failed").c_str());
      break;
    }
    s.add(t1 - t0);
  }
  benchmark::DoNotOptimize(out.data());
  s.report(st, batch);
  return s;
}

// The cases (lmbench_timing.cc).
void bm_predict(benchmark::State &st, const ModelSpec *m, const std::string &engine,
                const std::string &name, size_t batch, int threads);
void bm_open(benchmark::State &st, const ModelSpec *m, const std::string &engine,
             const std::string &name);
void bm_convert(benchmark::State &st, const ModelSpec *m, const std::string &name);
void bm_contrib(benchmark::State &st, const ModelSpec *m, const std::string &engine,
                const std::string &name, size_t batch);

// Thread-pool cases (lmbench_pool.cc).
void register_pool_predict(const ModelSpec *m, const std::string &engine, const std::string &name,
                           size_t batch, int threads, benchmark::TimeUnit unit);
void register_scaling();

}  // namespace lmb

#endif
