// lmbench_engines.cc — the engines the harness compares (lmbench.h): lmrt (planned kernels or,
// with LM_ISA=scalar at open, the scalar reference) and XGBoost's C API, made once per
// (engine, model, threads), and the start-up parity check between them.
#include <cblas.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include <sys/stat.h>

#include "bench/lmbench.h"

namespace lmb {

// `out` converted from `in` unless it exists and is at least as new.
static int convert_if_stale(const std::string &in, const std::string &out) {
  struct stat sj, sl;
  if (stat(in.c_str(), &sj) != 0) return LM_EIO;
  if (stat(out.c_str(), &sl) == 0 && sl.st_mtime >= sj.st_mtime) return 0;
  lm_convert_options o = {};
  o.quiet = 1;
  return lm_convert(in.c_str(), out.c_str(), &o);
}

int lm_model_file(const ModelSpec &m) { return convert_if_stale(m.source_path(), m.lm_path()); }

int lm_twin_file(const ModelSpec &m) {
  if (!m.has_twin()) return LM_EINVAL;
  return convert_if_stale(m.json_path(), m.twin_lm_path());
}

int open_with_env(const std::string &path, const char *var, const char *value, lm_model **out) {
  if (!value) return lm_model_open(path.c_str(), out);
  const char *old = getenv(var);
  std::string saved = old ? old : "";
  setenv(var, value, 1);
  int rc = lm_model_open(path.c_str(), out);
  if (old) setenv(var, saved.c_str(), 1);
  else unsetenv(var);
  return rc;
}

int open_with_isa(const std::string &path, const char *isa, lm_model **out) {
  return open_with_env(path, "LM_ISA", isa, out);
}

std::string planned_kernel(const lm_model *model, size_t batch) {
  lm_plan_band bands[8];
  size_t nb = lm_model_plan(model, bands, 8, nullptr);
  for (size_t i = 0; i < nb && i < 8; i++)
    if (batch >= bands[i].min_rows && batch <= bands[i].max_rows) return bands[i].kernel;
  return "?";
}

// XGBoost's __array_interface__ of n float32 rows of F features at x (read in place).
static void dense_interface(char *ai, size_t cap, const float *x, size_t n, size_t F) {
  snprintf(ai, cap,
           "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
           "\"version\": 3}",
           (unsigned long long)(uintptr_t)x, n, F);
}

struct LmrtEngine : Engine {
  lm_model *model = nullptr;
  lm_session *session = nullptr;
  size_t outputs = 0;
  std::string kernel;

  bool per_batch = false;  // label: the kernel planned for the case's batch size

  // isa: LM_ISA during lm_model_open; kernel: LM_KERNEL during lm_model_open (the planner's
  // hook for benchmarks, runtime/plan.c: "NAME" plans NAME alone, "-NAME" plans without it);
  // twin: open the model's XGBoost twin (<name>.twin.lm) instead of the model (lmrt-twin).
  LmrtEngine(const ModelSpec &m, const char *isa, const char *force = nullptr, bool twin = false) {
    const std::string path = twin ? m.twin_lm_path() : m.lm_path();
    int rc = twin ? lm_twin_file(m) : lm_model_file(m);
    if (rc == 0 && force) {
      per_batch = true;
      rc = open_with_env(path, "LM_KERNEL", force, &model);
    } else if (rc == 0) rc = open_with_isa(path, isa, &model);
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
  std::string label_at(size_t batch) const override {
    return per_batch && model ? planned_kernel(model, batch) : kernel;
  }
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
    std::vector<float> row(F, 0.5f), out(std::max<size_t>(64, m.outputs));  // one row's outputs
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
    dense_interface(ai, sizeof ai, x, n, F);
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

// Factorization machines through OpenBLAS (engines "openblas": two dgemm, the double-precision
// contract; "openblas-sgemm": two sgemm, float32 products, not the contract): A = X·V and
// B = X²·V² as matrix products, then w0 + w·x + ½Σ_f(A² − B) per row, missing values as 0 (as
// SageMaker's FM and lmrt's kernels treat them), the model's link (sigmoid for a binary
// classifier). lmrt plans no such kernel (docs/performance.md: the fused hand-written kernels
// measured faster, and float32 products land too close to the 1e-6 contract); this engine
// is the measured alternative beside the plan. The weights come from <name>.fm.f32, written by
// bench/gen_models.py beside the artifact (float32 w0, w[F], V[F × k]). Buffers grow on the
// first call of a size, none after.
// OpenBLAS's float and double routines under one name, for FmProducts<T>.
inline void blas_gemv(int N, int F, const float *X, const float *w, float *y) {
  cblas_sgemv(CblasRowMajor, CblasNoTrans, N, F, 1.0f, X, F, w, 1, 0.0f, y, 1);
}
inline void blas_gemv(int N, int F, const double *X, const double *w, double *y) {
  cblas_dgemv(CblasRowMajor, CblasNoTrans, N, F, 1.0, X, F, w, 1, 0.0, y, 1);
}
inline void blas_gemm(int N, int K, int F, const float *X, const float *V, float *C) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, F, 1.0f, X, F, V, K, 0.0f, C, K);
}
inline void blas_gemm(int N, int K, int F, const double *X, const double *V, double *C) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, K, F, 1.0, X, F, V, K, 0.0, C, K);
}

// The products of one precision: weights (w, V, V²) and the buffers of a call (X, X², A, B, x·w).
template <class T> struct FmProducts {
  std::vector<T> w, V, V2, X, X2, A, B, lin;
  void set(const std::vector<float> &w32, const std::vector<float> &V32) {
    w.assign(w32.begin(), w32.end());
    V.assign(V32.begin(), V32.end());
    V2.resize(V.size());
    for (size_t i = 0; i < V.size(); i++) V2[i] = V[i] * V[i];
  }
  void grow(size_t n, size_t F, size_t k) {
    X.resize(n * F), X2.resize(n * F), A.resize(n * k), B.resize(n * k), lin.resize(n);
  }
  void run(const float *x, size_t n, size_t F, size_t k) {
    for (size_t i = 0; i < n * F; i++) {
      T q = std::isnan(x[i]) ? T(0) : T(x[i]);
      X[i] = q, X2[i] = q * q;
    }
    const int N = int(n), Fi = int(F), K = int(k);
    blas_gemv(N, Fi, X.data(), w.data(), lin.data());
    blas_gemm(N, K, Fi, X.data(), V.data(), A.data());
    blas_gemm(N, K, Fi, X2.data(), V2.data(), B.data());
  }
};

struct FmBlasEngine : Engine {
  bool dbl, sigmoid;
  size_t F = 0, k = 0, cap = 0;
  float w0 = 0;
  FmProducts<float> s;
  FmProducts<double> d;

  FmBlasEngine(const ModelSpec &m, bool dbl_) : dbl(dbl_), F(m.features) {
    sigmoid = m.objective.find("binary") != std::string::npos;
    std::string path = g_opt.models + "/" + m.name + ".fm.f32";
    FILE *fp = fopen(path.c_str(), "rb");
    if (!fp) {
      error = path + ": cannot open (bench/gen_models.py writes it)";
      return;
    }
    std::vector<float> all;
    float buf[4096];
    size_t got;
    while ((got = fread(buf, sizeof(float), 4096, fp)) > 0) all.insert(all.end(), buf, buf + got);
    fclose(fp);
    if (all.size() < 1 + F || (all.size() - 1 - F) % F) {
      error = path + ": size does not match the model's features";
      return;
    }
    k = (all.size() - 1 - F) / F;
    w0 = all[0];
    std::vector<float> w(all.begin() + 1, all.begin() + 1 + F), V(all.begin() + 1 + F, all.end());
    if (dbl) d.set(w, V);
    else s.set(w, V);
  }
  std::string label() const override {
    return dbl ? "cblas_dgemm x 2 + dgemv" : "cblas_sgemm x 2 + sgemv";
  }
  int predict(const float *x, size_t n, float *out) override {
    if (n > cap) {
      cap = n;
      if (dbl) d.grow(n, F, k);
      else s.grow(n, F, k);
    }
    if (dbl) d.run(x, n, F, k);
    else s.run(x, n, F, k);
    for (size_t r = 0; r < n; r++) {
      double p = 0.0;
      for (size_t f = 0; f < k; f++) {
        double a = dbl ? d.A[r * k + f] : double(s.A[r * k + f]);
        p += a * a - (dbl ? d.B[r * k + f] : double(s.B[r * k + f]));
      }
      double z = double(w0) + (dbl ? d.lin[r] : double(s.lin[r])) + 0.5 * p;
      float margin = float(z);
      out[r] = sigmoid ? 1.0f / (1.0f + std::exp(-margin)) : margin;
    }
    return 0;
  }
};

// Contributions (the "contrib" cases): lm_predict_contrib against XGBoost's pred_contribs
// through its C API (XGDMatrixCreateFromDense + XGBoosterPredictFromDMatrix with type 2 +
// XGDMatrixFree per call, as users call it: XGBoost 1.7's inplace prediction has no
// contributions), both one thread. out: n × (outputs × (features + 1)) floats.
struct LmrtContribEngine : LmrtEngine {
  explicit LmrtContribEngine(const ModelSpec &m) : LmrtEngine(m, nullptr) {
    if (error.empty() && lm_model_contrib_width(model) == 0)
      error = "lmrt: the model has no contributions (no cover)";
  }
  std::string label() const override { return "lm_predict_contrib, " + kernel; }
  int predict(const float *x, size_t n, float *out) override {
    return lm_predict_contrib(session, x, n, out);
  }
};

struct XgbContribEngine : Engine {
  BoosterHandle booster = nullptr;
  size_t F = 0;
  char ai[256];
  explicit XgbContribEngine(const ModelSpec &m) : F(m.features) {
    if (XGBoosterCreate(nullptr, 0, &booster) != 0 ||
        XGBoosterLoadModel(booster, m.json_path().c_str()) != 0 ||
        XGBoosterSetParam(booster, "nthread", "1") != 0)
      error = std::string("xgboost: ") + XGBGetLastError();
  }
  ~XgbContribEngine() override {
    if (booster) XGBoosterFree(booster);
  }
  std::string label() const override { return "pred_contribs, dmatrix"; }
  int predict(const float *x, size_t n, float *out) override {
    static const char *cfg =
        "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
        "\"strict_shape\": false}";
    dense_interface(ai, sizeof ai, x, n, F);
    const bst_ulong *shape = nullptr;
    bst_ulong dim = 0;
    const float *res = nullptr;
    DMatrixHandle dm = nullptr;
    if (XGDMatrixCreateFromDense(ai, "{\"missing\": NaN, \"nthread\": 1}", &dm) != 0) return -1;
    int rc = XGBoosterPredictFromDMatrix(booster, dm, cfg, &shape, &dim, &res);
    XGDMatrixFree(dm);
    if (rc != 0) return -1;
    size_t total = 1;
    for (bst_ulong d = 0; d < dim; d++) total *= shape[d];
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
    else if (engine == "contrib-lmrt")
      slot.reset(new LmrtContribEngine(m));
    else if (engine == "contrib-xgboost")
      slot.reset(new XgbContribEngine(m));
    else if (engine == "lmrt-hand")  // the plan without the OpenBLAS kernel
      slot.reset(new LmrtEngine(m, nullptr, "-linear_margin_blas"));
    else if (engine == "openblas" && m.kind == "fm")
      slot.reset(new FmBlasEngine(m, true));
    else if (engine == "openblas-sgemm" && m.kind == "fm")
      slot.reset(new FmBlasEngine(m, false));
    else if (engine == "openblas")  // the OpenBLAS kernel for every batch size
      slot.reset(new LmrtEngine(m, nullptr, "linear_margin_blas"));
    else if (engine == "lmrt-scalar")
      slot.reset(new LmrtEngine(m, "scalar"));
    else if (engine == "lmrt-twin")  // lmrt on the LightGBM model's XGBoost twin
      slot.reset(new LmrtEngine(m, nullptr, nullptr, true));
    else
      slot.reset(new LmrtEngine(m, nullptr));
  }
  return *slot;
}

void free_engines() { g_engines.clear(); }

// Once per (engine, model): an lmrt engine must return XGBoost's values on the first 64 rows,
// (for a real LightGBM model: lmrt's scalar reference's values; lmrt-twin: XGBoost's on the
// twin, the same model),
// scored in one call and one row per call (else the comparison would be meaningless). Prints
// the largest relative difference.
std::set<std::string> g_parity_done;

void parity_check(const std::string &engine, const ModelSpec &m) {
  if (!g_opt.parity || engine == "xgboost" || !g_parity_done.insert(engine + "/" + m.name).second)
    return;
  // A real LightGBM model's XGBoost twin computes something else: lmrt's planned kernels are
  // checked against lmrt's scalar reference instead (parity column "scalar").
  const bool contrib = engine.compare(0, 8, "contrib-") == 0;
  if (engine == "contrib-xgboost") return;
  const bool twin = engine == "lmrt-twin";  // both engines score the twin
  const bool vs_scalar = m.parity == "scalar" && !contrib && !twin;
  if (vs_scalar && engine == "lmrt-scalar") return;
  const std::string ref = contrib ? "contrib-xgboost" : vs_scalar ? "lmrt-scalar" : "xgboost";
  Engine &a = engine_for(engine, m, 1);
  Engine &b = engine_for(ref, m, 1);
  if (!a.error.empty() || !b.error.empty()) return;
  Rows &rows = rows_for(m);
  size_t n = std::min<size_t>(64, rows.n), G = contrib ? m.outputs * (m.features + 1) : m.outputs;
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
          engine.c_str(), m.name.c_str(), ref.c_str(), twin ? " (both on the twin)" :
          m.xgb_model != m.source && !vs_scalar ? " (twin: the same trees)" : "", n, worst, worst > 1e-5 ? "  <-- MISMATCH" : "");
}

}  // namespace lmb
