// lmbench_timing.cc — the harness's timer (fenced rdtsc/rdtscp, calibrated) and the timed cases:
// predict, open and convert (lmbench.h; the pool's cases: lmbench_pool.cc).
#include <xgboost/c_api.h>

#include <cstdio>
#include <set>

#include <unistd.h>

#include "bench/lmbench.h"

namespace lmb {

double g_ns_per_tick = 1.0;
double g_timer_overhead_ticks = 0.0;

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

std::set<std::string> g_announced;

void announce(const std::string &name) {
  if (g_announced.insert(name).second)
    fprintf(stderr, "lmbench: [%zu] %s\n", g_announced.size(), name.c_str());
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
  st.SetLabel(e.label_at(batch));
}

void bm_contrib(benchmark::State &st, const ModelSpec *m, const std::string &engine,
                const std::string &name, size_t batch) {
  announce(name);
  Engine &e = engine_for("contrib-" + engine, *m, 1);
  if (!e.error.empty()) {
    st.SkipWithError(e.error.c_str());
    for (auto _ : st) {
    }
    return;
  }
  parity_check("contrib-" + engine, *m);
  Rows &rows = rows_for(*m);
  time_predict(st, e, rows, batch, m->outputs * (m->features + 1), engine + ": contributions");
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

}  // namespace lmb
