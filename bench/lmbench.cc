// lmbench.cc — the benchmark harness: Google Benchmark over liblmrt's public C API, side by side
// with XGBoost's own C API on the same model and the same rows, so every lmrt figure has an
// in-run baseline (machine drift cancels in the ratio lmrt / xgboost; see bench/compare).
//
// Benchmarks (names are stable; bench/compare and bench/report parse them):
//   predict/engine:E/model:M/batch:B/threads:T   one call scoring B rows (values, not margins)
//   open/engine:E/model:M                        lmrt: lm_model_open (mmap + verify) + session;
//                                                xgboost: XGBoosterCreate + XGBoosterLoadModel
//   convert/engine:lmrt/model:M                  lm_convert of the XGBoost JSON into a .lm file
// E is one of
//   lmrt         liblmrt with its planned kernels (honours LM_ISA if set in the environment)
//   lmrt-scalar  liblmrt forced to its scalar reference kernels: the harness sets LM_ISA=scalar
//                with setenv() just before that engine's lm_model_open (liblmrt reads LM_ISA at
//                every open) and restores it after; it then checks lm_model_get_info().isa ==
//                "scalar" and refuses to run otherwise. So all three engines run in one process,
//                interleaved, and both lmrt ratios have an in-run baseline.
//   xgboost      XGBoost 1.7.4's C API (libxgboost-dev)
// The label of an lmrt case names the kernel that ran (e.g. "tree_margin__avx512").
//
// Models come from models.tsv (bench/gen_models.py): the core models and the zoo. lmrt converts
// each model's `source` (XGBoost JSON or LightGBM text); XGBoost loads its `xgb_model`: the
// same JSON, or for a LightGBM model its XGBoost twin of the same shape (label "twin";
// bench/compare then judges ns per tree·row). Each model's manifest line is written into the
// results' context as "model.<name>" (a JSON object) for bench/compare and bench/report.
//
// Every call is timed individually (fenced rdtsc/rdtscp on x86-64, else steady_clock; the
// calibrated cost of an empty timed region is subtracted) and reported as counters: ns_per_call (mean), ns_per_row,
// p50_ns, p99_ns (≥ 100 calls), p999_ns (≥ 1,000 calls). Google Benchmark's own real_time
// column includes the timer's ~20 ns per call; bench/compare uses ns_per_call.
//
// XGBoost is called as users call it: one booster per model with nthread = T, and per call
// XGBoosterPredictFromDense with an array-interface JSON built for that call's rows ("inplace"
// in the label). gblinear has no inplace prediction in XGBoost 1.7, so for linear models the
// harness does what users must do there: XGDMatrixCreateFromDense + XGBoosterPredictFromDMatrix
// + XGDMatrixFree per call ("dmatrix" in the label).
//
// Options (after Google Benchmark's own --benchmark_* flags):
//   --models=DIR        where bench/gen_models.py wrote models.tsv, the models and the rows
//                       (default build/bench/models); <name>.lm is converted there if missing
//   --engines=LIST      default lmrt,lmrt-scalar,xgboost
//   --model_list=LIST   models to run (default all in models.tsv)
//   --groups=LIST       models of these groups only (models.tsv: core, zoo)
//   --batches=LIST      default 1,8,64,1000,100000; a batch above a model's max_batch column
//                       (zoo models: 10,000) is measured at max_batch instead
//   --threads=LIST      default 1. T > 1 gives XGBoost nthread = T and lmrt an lm_pool of T
//                       threads (lm_predict_pool; see the thread-pool block at the end)
//   --kinds=LIST        predict,open,convert,scaling (default all)
//   --no_parity         skip the start-up check that both engines return the same values
// Environment: LM_BENCH_SLOWDOWN=P (percent) makes every lmrt predict call P% longer: after
// lm_predict returns, the harness spins for P% of the time the call took. A deliberately slowed
// kernel, seen only by this harness (bench/lmcount.c has the instruction-count equivalent), to
// prove that bench-check and bench-ci catch regressions.
#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define LMB_RDTSC 1
#endif

#include "lmrt.h"

namespace {

// ---------------------------------------------------------------------------------------------
// Timer: ticks, their length in ns, and the cost of one read.

double g_ns_per_tick = 1.0;
double g_timer_overhead_ticks = 0.0;

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

void calibrate_timer() {
#ifdef LMB_RDTSC
  using clk = std::chrono::steady_clock;
  auto c0 = clk::now();
  uint64_t t0 = ticks_start();
  while (clk::now() - c0 < std::chrono::milliseconds(50)) {
  }
  auto c1 = clk::now();
  uint64_t t1 = ticks_end();
  g_ns_per_tick = std::chrono::duration<double, std::nano>(c1 - c0).count() / double(t1 - t0);
#endif
  std::vector<uint64_t> d(20001);
  for (auto &v : d) {
    uint64_t a = ticks_start();
    uint64_t b = ticks_end();
    v = b - a;
  }
  std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
  g_timer_overhead_ticks = double(d[d.size() / 2]);
}

// ---------------------------------------------------------------------------------------------
// Options.

struct Options {
  std::string models = "build/bench/models";
  std::vector<std::string> engines = {"lmrt", "lmrt-scalar", "xgboost"};
  std::vector<std::string> model_list;
  std::vector<std::string> groups;  // core, zoo (models.tsv's group column); empty = all
  std::vector<size_t> batches = {1, 8, 64, 1000, 100000};
  std::vector<int> threads = {1};
  std::vector<std::string> kinds = {"predict", "open", "convert", "scaling"};
  bool parity = true;
  double slowdown_pct = 0.0;
};
Options g_opt;

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool has(const std::vector<std::string> &v, const std::string &x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

[[noreturn]] void die(const std::string &msg) {
  fprintf(stderr, "lmbench: %s\n", msg.c_str());
  exit(2);
}

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
};

// models.tsv: columns looked up by the header's names (bench/gen_models.py documents them).
std::vector<ModelSpec> read_manifest() {
  std::string path = g_opt.models + "/models.tsv";
  std::ifstream in(path);
  if (!in)
    die(path + ": cannot open (generate the models: /usr/bin/python3 bench/gen_models.py)");
  std::vector<ModelSpec> out;
  std::string line;
  std::getline(in, line);
  std::vector<std::string> hdr = split(line, '\t');
  for (const char *need : {"name", "kind", "booster", "objective", "features", "outputs", "trees",
                           "max_depth", "rows_file", "pool_rows"})
    if (!has(hdr, need)) die(path + ": header lacks column " + need);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    {  // keep empty fields: split() would drop them
      size_t a = 0, b;
      while ((b = line.find('\t', a)) != std::string::npos) {
        f.push_back(line.substr(a, b - a));
        a = b + 1;
      }
      f.push_back(line.substr(a));
    }
    if (f.size() != hdr.size()) die(path + ": malformed line: " + line);
    ModelSpec m;
    for (size_t i = 0; i < hdr.size(); i++) m.cols[hdr[i]] = f[i];
    auto num = [&](const char *k, size_t dflt) -> size_t {
      auto it = m.cols.find(k);
      if (it == m.cols.end() || it->second.empty() || it->second == "-") return dflt;
      return std::stoul(it->second);
    };
    auto str = [&](const char *k, const std::string &dflt) -> std::string {
      auto it = m.cols.find(k);
      return it == m.cols.end() || it->second.empty() ? dflt : it->second;
    };
    m.name = str("name", "");
    m.kind = str("kind", "");
    m.booster = str("booster", "");
    m.objective = str("objective", "");
    m.features = num("features", 0);
    m.outputs = num("outputs", 0);
    m.trees = num("trees", 0);
    m.depth = num("max_depth", 0);
    m.rows_file = str("rows_file", "");
    m.pool_rows = num("pool_rows", 0);
    m.source = str("source", m.name + ".json");
    m.xgb_model = str("xgb_model", m.name + ".json");
    m.xgb_trees = num("xgb_trees", m.trees);
    m.max_batch = num("max_batch", 0);
    m.group = str("group", "core");
    m.trainer = str("trainer", "");
    m.parity = str("parity", "xgboost");
    out.push_back(m);
  }
  return out;
}

// The model's manifest line as a JSON object (a custom context entry "model.<name>" of the
// results file: bench/compare and bench/report read the zoo's shapes from it).
std::string json_escape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if ((unsigned char)c < 0x20) continue;
    o += c;
  }
  return o;
}
std::string model_context(const ModelSpec &m) {
  std::string o = "{";
  bool first = true;
  for (auto &kv : m.cols) {
    o += (first ? "\"" : ", \"") + json_escape(kv.first) + "\": \"" + json_escape(kv.second) + "\"";
    first = false;
  }
  return o + "}";
}

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

std::map<std::string, std::unique_ptr<Rows>> g_rows;

Rows &rows_for(const ModelSpec &m) {
  auto &slot = g_rows[m.rows_file];
  if (!slot) {
    slot.reset(new Rows);
    std::string path = g_opt.models + "/" + m.rows_file;
    FILE *fp = fopen(path.c_str(), "rb");
    if (!fp) die(path + ": cannot open");
    slot->F = m.features;
    slot->n = m.pool_rows;
    slot->pool.resize(m.features * m.pool_rows);
    size_t got = fread(slot->pool.data(), sizeof(float), slot->pool.size(), fp);
    fclose(fp);
    if (got != slot->pool.size()) die(path + ": short file");
  }
  return *slot;
}

// ---------------------------------------------------------------------------------------------
// Engines.

struct Engine {
  virtual ~Engine() {}
  // Score n rows of x into out (n × outputs floats). 0 on success.
  virtual int predict(const float *x, size_t n, float *out) = 0;
  virtual std::string label() const { return ""; }
  std::string error;
};

int lm_model_file(const ModelSpec &m) {
  struct stat sj, sl;
  if (stat(m.source_path().c_str(), &sj) != 0) return LM_EIO;
  if (stat(m.lm_path().c_str(), &sl) == 0 && sl.st_mtime >= sj.st_mtime) return 0;
  lm_convert_options o = {};
  o.quiet = 1;
  return lm_convert(m.source_path().c_str(), m.lm_path().c_str(), &o);
}

// Open a model, with LM_ISA=isa in the environment during lm_model_open when isa is given.
int open_with_isa(const std::string &path, const char *isa, lm_model **out) {
  if (!isa) return lm_model_open(path.c_str(), out);
  const char *old = getenv("LM_ISA");
  std::string saved = old ? old : "";
  setenv("LM_ISA", isa, 1);
  int rc = lm_model_open(path.c_str(), out);
  if (old) setenv("LM_ISA", saved.c_str(), 1);
  else unsetenv("LM_ISA");
  return rc;
}

struct LmrtEngine : Engine {
  lm_model *model = nullptr;
  lm_session *session = nullptr;
  size_t outputs = 0;
  std::string kernel;

  LmrtEngine(const ModelSpec &m, const char *isa) {
    int rc = lm_model_file(m);
    if (rc == 0) rc = open_with_isa(m.lm_path(), isa, &model);
    if (rc == 0) rc = lm_session_new(model, &session);
    if (rc != 0) {
      error = std::string("lmrt: ") + lm_strerror(rc) + ": " + lm_last_error();
      return;
    }
    outputs = lm_model_num_outputs(model);
    lm_model_info info;
    if (lm_model_get_info(model, &info) == 0) {
      kernel = info.kernel ? info.kernel : "";
      if (isa && (!info.isa || strcmp(info.isa, isa) != 0))
        error = std::string("lmrt: LM_ISA=") + isa + " set before lm_model_open was not honoured "
                "(allowed isa: " + (info.isa ? info.isa : "?") + "); the scalar baseline needs "
                "LM_ISA read at open";
    }
  }
  std::string label() const override { return kernel; }
  ~LmrtEngine() override {
    lm_session_free(session);
    lm_model_close(model);
  }
  int predict(const float *x, size_t n, float *out) override {
    if (g_opt.slowdown_pct <= 0) return lm_predict(session, x, n, 0, out);
    // The deliberate slowdown: spin for P% of the call's own time.
    uint64_t t0 = ticks_start();
    int rc = lm_predict(session, x, n, 0, out);
    uint64_t t1 = ticks_end();
    uint64_t until = t1 + uint64_t(double(t1 - t0) * g_opt.slowdown_pct / 100.0);
    while (ticks_end() < until) {
    }
    return rc;
  }
};

struct XgbEngine : Engine {
  BoosterHandle booster = nullptr;
  size_t F = 0;
  bool inplace = true, twin = false;
  char ai[256];

  // A LightGBM model's XGBoost engine scores its twin (gen_models.py: an XGBoost model of the
  // same shape; the label says "twin").
  XgbEngine(const ModelSpec &m, int threads) : F(m.features), twin(m.xgb_model != m.source) {
    if (XGBoosterCreate(nullptr, 0, &booster) != 0 ||
        XGBoosterLoadModel(booster, m.json_path().c_str()) != 0 ||
        XGBoosterSetParam(booster, "nthread", std::to_string(threads).c_str()) != 0) {
      error = std::string("xgboost: ") + XGBGetLastError();
      return;
    }
    // Inplace prediction where XGBoost has it (gbtree, dart); DMatrix otherwise (gblinear).
    std::vector<float> row(F, 0.5f), out(64);
    inplace = true;
    if (predict(row.data(), 1, out.data()) != 0) {
      inplace = false;
      if (predict(row.data(), 1, out.data()) != 0)
        error = std::string("xgboost: ") + XGBGetLastError();
    }
  }
  ~XgbEngine() override {
    if (booster) XGBoosterFree(booster);
  }
  std::string label() const override {
    return std::string(inplace ? "inplace" : "dmatrix") + (twin ? ", twin" : "");
  }

  size_t outputs = 0;
  int predict(const float *x, size_t n, float *out) override {
    static const char *cfg =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
        "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";
    snprintf(ai, sizeof ai,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, F);
    const bst_ulong *shape = nullptr;
    bst_ulong dim = 0;
    const float *res = nullptr;
    if (inplace) {
      if (XGBoosterPredictFromDense(booster, ai, cfg, nullptr, &shape, &dim, &res) != 0) return -1;
    } else {
      DMatrixHandle dm = nullptr;
      if (XGDMatrixCreateFromDense(ai, "{\"missing\": NaN, \"nthread\": 1}", &dm) != 0) return -1;
      int rc = XGBoosterPredictFromDMatrix(booster, dm, cfg, &shape, &dim, &res);
      XGDMatrixFree(dm);
      if (rc != 0) return -1;
    }
    size_t total = 1;
    for (bst_ulong d = 0; d < dim; d++) total *= shape[d];
    outputs = total / n;
    memcpy(out, res, total * sizeof(float));
    return 0;
  }
};

// Engines are made once per (engine, model, threads) and kept for the whole run.
std::map<std::string, std::unique_ptr<Engine>> g_engines;

Engine &engine_for(const std::string &engine, const ModelSpec &m, int threads) {
  std::string key = engine + "/" + m.name + "/" + std::to_string(threads);
  auto &slot = g_engines[key];
  if (!slot) {
    if (engine == "xgboost")
      slot.reset(new XgbEngine(m, threads));
    else if (engine == "lmrt-scalar")
      slot.reset(new LmrtEngine(m, "scalar"));
    else
      slot.reset(new LmrtEngine(m, nullptr));
  }
  return *slot;
}

// Once per (engine, model): an lmrt engine must return XGBoost's values on the first 64 rows,
// (for a real LightGBM model: lmrt's scalar reference's values),
// scored in one call and one row per call (else the comparison would be meaningless). Prints
// the largest relative difference.
std::set<std::string> g_parity_done;

void parity_check(const std::string &engine, const ModelSpec &m) {
  if (!g_opt.parity || engine == "xgboost" || !g_parity_done.insert(engine + "/" + m.name).second)
    return;
  // A real LightGBM model's XGBoost twin computes something else: lmrt's planned kernels are
  // checked against lmrt's scalar reference instead (parity column "scalar").
  const bool vs_scalar = m.parity == "scalar";
  if (vs_scalar && engine == "lmrt-scalar") return;
  const std::string ref = vs_scalar ? "lmrt-scalar" : "xgboost";
  Engine &a = engine_for(engine, m, 1);
  Engine &b = engine_for(ref, m, 1);
  if (!a.error.empty() || !b.error.empty()) return;
  Rows &rows = rows_for(m);
  size_t n = std::min<size_t>(64, rows.n), G = m.outputs;
  const float *x = rows.window(n, 0);
  std::vector<float> oa(n * G), o1(n * G), ob(n * G);
  if (a.predict(x, n, oa.data()) != 0 || b.predict(x, n, ob.data()) != 0) return;
  for (size_t r = 0; r < n; r++)
    if (a.predict(x + r * m.features, 1, &o1[r * G]) != 0) return;
  double worst = 0;
  for (size_t i = 0; i < oa.size(); i++) {
    double scale = std::max(1.0, std::fabs(double(ob[i])));
    worst = std::max(worst, std::fabs(double(oa[i]) - double(ob[i])) / scale);
    worst = std::max(worst, std::fabs(double(o1[i]) - double(ob[i])) / scale);
  }
  fprintf(stderr, "lmbench: parity %-11s %-14s vs %s%s, %zu rows: max relative difference %.3g%s\n",
          engine.c_str(), m.name.c_str(), ref.c_str(), m.xgb_model != m.source && !vs_scalar ?
          " (twin: the same trees)" : "", n, worst, worst > 1e-5 ? "  <-- MISMATCH" : "");
}

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
std::set<std::string> g_announced;

void announce(const std::string &name) {
  if (g_announced.insert(name).second)
    fprintf(stderr, "lmbench: [%zu] %s\n", g_announced.size(), name.c_str());
}

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

void bm_predict(benchmark::State &st, const ModelSpec *m, const std::string &engine,
                const std::string &name, size_t batch, int threads) {
  announce(name);
  Engine &e = engine_for(engine, *m, threads);
  if (!e.error.empty()) {
    st.SkipWithError(e.error.c_str());
    for (auto _ : st) {
    }
    return;
  }
  parity_check(engine, *m);
  Rows &rows = rows_for(*m);
  time_predict(st, e, rows, batch, m->outputs, engine + ": predict");
  st.SetItemsProcessed(int64_t(st.iterations()) * int64_t(batch));
  st.SetLabel(e.label());
}

void bm_open(benchmark::State &st, const ModelSpec *m, const std::string &engine,
             const std::string &name) {
  announce(name);
  Samples s(st.max_iterations);
  std::string err;
  const char *isa = engine == "lmrt-scalar" ? "scalar" : nullptr;
  if (engine == "xgboost") {
    for (auto _ : st) {
      uint64_t t0 = ticks_start();
      BoosterHandle h = nullptr;
      int rc = XGBoosterCreate(nullptr, 0, &h);
      if (rc == 0) rc = XGBoosterLoadModel(h, m->json_path().c_str());
      if (h) XGBoosterFree(h);
      uint64_t t1 = ticks_end();
      if (rc != 0) {
        err = std::string("xgboost: ") + XGBGetLastError();
        break;
      }
      s.add(t1 - t0);
    }
  } else {
    int rc = lm_model_file(*m);
    for (auto _ : st) {
      if (rc != 0) break;
      uint64_t t0 = ticks_start();
      lm_model *model = nullptr;
      lm_session *session = nullptr;
      rc = open_with_isa(m->lm_path(), isa, &model);
      if (rc == 0) rc = lm_session_new(model, &session);
      lm_session_free(session);
      lm_model_close(model);
      uint64_t t1 = ticks_end();
      if (rc == 0) s.add(t1 - t0);
    }
    if (rc != 0) err = std::string("lmrt: ") + lm_strerror(rc) + ": " + lm_last_error();
  }
  if (!err.empty()) {
    st.SkipWithError(err.c_str());
    return;
  }
  s.report(st, 1);
}

void bm_convert(benchmark::State &st, const ModelSpec *m, const std::string &name) {
  announce(name);
  Samples s(st.max_iterations);
  std::string out = g_opt.models + "/" + m->name + ".bench-convert.lm";
  lm_convert_options o = {};
  o.quiet = 1;
  int rc = 0;
  for (auto _ : st) {
    uint64_t t0 = ticks_start();
    rc = lm_convert(m->source_path().c_str(), out.c_str(), &o);
    uint64_t t1 = ticks_end();
    if (rc != 0) break;
    s.add(t1 - t0);
  }
  unlink(out.c_str());
  if (rc != 0) {
    st.SkipWithError((std::string("lm_convert: ") + lm_strerror(rc) + ": " + lm_last_error()).c_str());
    return;
  }
  s.report(st, 1);
}

// ---------------------------------------------------------------------------------------------

std::vector<ModelSpec> g_models;

// Thread-pool cases: defined in the block at the end of this file.
void register_pool_predict(const ModelSpec *m, const std::string &engine, const std::string &name,
                           size_t batch, int threads, benchmark::TimeUnit unit);
void register_scaling();

void register_all() {
  // Order: per model, per batch, per thread count, the engines side by side (so an engine's
  // case and its baseline run close together in time).
  for (const ModelSpec &m : g_models) {
    if (!g_opt.model_list.empty() && !has(g_opt.model_list, m.name)) continue;
    if (!g_opt.groups.empty() && !has(g_opt.groups, m.group)) continue;
    const ModelSpec *mp = &m;
    benchmark::AddCustomContext("model." + m.name, model_context(m));
    if (has(g_opt.kinds, "predict")) {
      // Batches above the model's max_batch (zoo: 10,000 rows) are measured at max_batch.
      std::vector<size_t> batches;
      for (size_t b : g_opt.batches) {
        if (m.max_batch && b > m.max_batch) b = m.max_batch;
        if (std::find(batches.begin(), batches.end(), b) == batches.end()) batches.push_back(b);
      }
      for (size_t b : batches) {
        for (int t : g_opt.threads) {
          std::string tail = "/model:" + m.name + "/batch:" + std::to_string(b) +
                             "/threads:" + std::to_string(t);
          benchmark::TimeUnit unit = b >= 1000 ? benchmark::kMicrosecond : benchmark::kNanosecond;
          for (const std::string &e : g_opt.engines) {
            if (e != "xgboost" && t > 1) {  // lmrt with T threads: lm_pool (block at the end)
              register_pool_predict(mp, e, "predict/engine:" + e + tail, b, t, unit);
              continue;
            }
            std::string name = "predict/engine:" + e + tail;
            benchmark::RegisterBenchmark(name.c_str(), bm_predict, mp, e, name, b, t)->Unit(unit);
          }
        }
      }
    }
    if (has(g_opt.kinds, "open")) {
      for (const std::string &e : g_opt.engines) {
        std::string name = "open/engine:" + e + "/model:" + m.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_open, mp, e, name)
            ->Unit(benchmark::kMicrosecond);
      }
    }
    if (has(g_opt.kinds, "convert") && has(g_opt.engines, "lmrt")) {
      std::string name = "convert/engine:lmrt/model:" + m.name;
      benchmark::RegisterBenchmark(name.c_str(), bm_convert, mp, name)->Unit(benchmark::kMillisecond);
    }
  }
  if (has(g_opt.kinds, "scaling")) register_scaling();
}

void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&](const char *key) -> const char * {
      size_t k = strlen(key);
      return a.compare(0, k, key) == 0 ? argv[i] + k : nullptr;
    };
    const char *v;
    if ((v = val("--models="))) g_opt.models = v;
    else if ((v = val("--engines="))) g_opt.engines = split(v, ',');
    else if ((v = val("--model_list="))) g_opt.model_list = split(v, ',');
    else if ((v = val("--groups="))) g_opt.groups = split(v, ',');
    else if ((v = val("--batches="))) {
      g_opt.batches.clear();
      for (auto &s : split(v, ',')) g_opt.batches.push_back(std::stoul(s));
    } else if ((v = val("--threads="))) {
      g_opt.threads.clear();
      for (auto &s : split(v, ',')) g_opt.threads.push_back(std::stoi(s));
    } else if ((v = val("--kinds="))) g_opt.kinds = split(v, ',');
    else if (a == "--no_parity") g_opt.parity = false;
    else if (a == "--help" || a == "-h") {
      fprintf(stderr, "usage: lmbench [--benchmark_* flags] [--models=DIR] "
                      "[--engines=lmrt,lmrt-scalar,xgboost] [--model_list=LIST] [--groups=core,zoo] "
                      "[--batches=LIST] [--threads=LIST] "
                      "[--kinds=predict,open,convert,scaling] [--no_parity]\n");
      exit(0);
    } else die("unknown option " + a + " (see --help)");
  }
  if (const char *s = getenv("LM_BENCH_SLOWDOWN")) g_opt.slowdown_pct = atof(s);
}

}  // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  parse_args(argc, argv);
  calibrate_timer();
  g_models = read_manifest();
  for (const auto &e : g_opt.engines)
    if (e != "lmrt" && e != "lmrt-scalar" && e != "xgboost") die("unknown engine " + e);
  for (const auto &name : g_opt.model_list) {
    bool found = false;
    for (auto &m : g_models) found |= m.name == name;
    if (!found) die("unknown model " + name + " (see " + g_opt.models + "/models.tsv)");
  }
  register_all();
  const char *isa = getenv("LM_ISA");
  benchmark::AddCustomContext("lmrt_version", LM_VERSION_STRING);
  benchmark::AddCustomContext("LM_ISA", isa ? isa : "");
  benchmark::AddCustomContext("LM_BENCH_SLOWDOWN", std::to_string(g_opt.slowdown_pct));
  benchmark::AddCustomContext("timer_ns_per_tick", std::to_string(g_ns_per_tick));
  benchmark::AddCustomContext("timer_overhead_ns", std::to_string(g_timer_overhead_ticks * g_ns_per_tick));
  if (g_opt.slowdown_pct > 0)
    fprintf(stderr, "lmbench: LM_BENCH_SLOWDOWN=%g: lmrt predict calls do %g%% extra work\n",
            g_opt.slowdown_pct, g_opt.slowdown_pct);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_engines.clear();
  return 0;
}

// =============================================================================================
// Thread pool and scaling (issue 6; owned by the pool work — the rest of the file is the
// kernels' harness). Two kinds of case:
//   predict/engine:lmrt/model:M/batch:B/threads:T  for T > 1 (--threads=1,2): lm_predict_pool
//       with an lm_pool of T threads (pinned to their node, NUMA auto), beside XGBoost with nthread = T.
//   scaling/engine:lmrt/model:large/batch:100000/threads:T  for T = 1, 2 (and the allowed CPUs
//       when more): the throughput of one 100k-row call with a pool of T threads (T = 1: the
//       caller alone, no worker), the figure issue 6 asks for (≥ 1.8× with 2 threads on a
//       2-core machine). Counter rows_per_s; ns_per_row as elsewhere. Kind "scaling" is in the
//       default --kinds; bench-check's reduced matrix does not run it.
// Every case first checks that the pool's outputs equal lm_predict's bit for bit (the harness
// refuses to time a pool that disagrees).
namespace {

struct PoolEngine : Engine {
  lm_model *model = nullptr;
  lm_session *session = nullptr;
  lm_pool *pool = nullptr;
  std::string kernel;

  PoolEngine(const ModelSpec &m, const char *isa, int threads) {
    int rc = lm_model_file(m);
    if (rc == 0) rc = open_with_isa(m.lm_path(), isa, &model);
    if (rc == 0) rc = lm_session_new(model, &session);
    lm_pool_options o = {};
    o.threads = size_t(threads);
    o.pin = LM_POOL_PIN_NODE;
    o.numa = LM_POOL_NUMA_AUTO;
    if (rc == 0) rc = lm_pool_new(&o, &pool);
    if (rc == 0) rc = lm_pool_add_model(pool, model);
    if (rc != 0) {
      error = std::string("lmrt pool: ") + lm_strerror(rc) + ": " + lm_last_error();
      return;
    }
    lm_model_info info;
    if (lm_model_get_info(model, &info) == 0 && info.kernel) kernel = info.kernel;
    lm_pool_info pi;
    if (lm_pool_get_info(pool, model, &pi) == 0)
      fprintf(stderr, "lmbench: pool %s: %zu threads, %.0f ns/row, wake-up %.0f ns, split from "
              "%zu rows, %d replicas\n", m.name.c_str(), pi.threads, pi.ns_per_row, pi.wake_ns,
              pi.min_parallel_rows, pi.replicas);
  }
  std::string label() const override { return kernel + "+pool"; }
  ~PoolEngine() override {
    lm_pool_free(pool);
    lm_session_free(session);
    lm_model_close(model);
  }
  int predict(const float *x, size_t n, float *out) override {
    return lm_predict_pool(pool, session, x, n, 0, out);
  }
  // The pool's outputs must equal lm_predict's, bit for bit.
  std::string check_exact(const float *x, size_t n, size_t G) {
    std::vector<float> a(n * G), b(n * G);
    if (lm_predict(session, x, n, 0, a.data()) != 0 || predict(x, n, b.data()) != 0)
      return "lmrt pool: predict failed";
    if (memcmp(a.data(), b.data(), a.size() * sizeof(float)) != 0)
      return "lmrt pool: outputs differ from lm_predict";
    return "";
  }
};

std::map<std::string, std::unique_ptr<PoolEngine>> g_pool_engines;

PoolEngine &pool_engine_for(const std::string &engine, const ModelSpec &m, int threads) {
  auto &slot = g_pool_engines[engine + "/" + m.name + "/" + std::to_string(threads)];
  if (!slot) slot.reset(new PoolEngine(m, engine == "lmrt-scalar" ? "scalar" : nullptr, threads));
  return *slot;
}

void bm_pool(benchmark::State &st, const ModelSpec *m, const std::string &engine,
             const std::string &name, size_t batch, int threads) {
  announce(name);
  PoolEngine &e = pool_engine_for(engine, *m, threads);
  Rows &rows = rows_for(*m);
  if (e.error.empty()) e.error = e.check_exact(rows.window(batch, 0), batch, m->outputs);
  if (!e.error.empty()) {
    st.SkipWithError(e.error.c_str());
    for (auto _ : st) {
    }
    return;
  }
  Samples s = time_predict(st, e, rows, batch, m->outputs, engine + ": lm_predict_pool");
  if (s.count) st.counters["rows_per_s"] = double(batch) * 1e9 / Samples::ns(s.sum / double(s.count));
  st.SetItemsProcessed(int64_t(st.iterations()) * int64_t(batch));
  st.SetLabel(e.label());
}

void register_pool_predict(const ModelSpec *m, const std::string &engine, const std::string &name,
                           size_t batch, int threads, benchmark::TimeUnit unit) {
  benchmark::RegisterBenchmark(name.c_str(), bm_pool, m, engine, name, batch, threads)->Unit(unit);
}

void register_scaling() {
  const ModelSpec *large = nullptr;
  for (const ModelSpec &m : g_models)
    if (m.name == "large") large = &m;
  if (!large || !has(g_opt.engines, "lmrt")) return;
  if (!g_opt.model_list.empty() && !has(g_opt.model_list, "large")) return;
  std::vector<int> ts = {1, 2};
  int allowed = int(lm_cpus_allowed(nullptr, 0));
  if (allowed > 2) ts.push_back(allowed);
  for (int t : ts) {
    std::string name = "scaling/engine:lmrt/model:large/batch:100000/threads:" + std::to_string(t);
    benchmark::RegisterBenchmark(name.c_str(), bm_pool, large, std::string("lmrt"), name,
                                 size_t(100000), t)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace
