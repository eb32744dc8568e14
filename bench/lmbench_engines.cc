// lmbench_engines.cc — the engines the harness compares (lmbench.h): lmrt (planned kernels or,
// with LM_ISA=scalar at open, the scalar reference) and XGBoost's C API, made once per
// (engine, model, threads), and the start-up parity check between them.
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include <sys/stat.h>

#include "bench/lmbench.h"

namespace lmb {

int lm_model_file(const ModelSpec &m) {
  struct stat sj, sl;
  if (stat(m.source_path().c_str(), &sj) != 0) return LM_EIO;
  if (stat(m.lm_path().c_str(), &sl) == 0 && sl.st_mtime >= sj.st_mtime) return 0;
  lm_convert_options o = {};
  o.quiet = 1;
  return lm_convert(m.source_path().c_str(), m.lm_path().c_str(), &o);
}

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

void free_engines() { g_engines.clear(); }

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

}  // namespace lmb
