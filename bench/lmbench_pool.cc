// lmbench_pool.cc — thread pool and scaling cases of the harness (issue 6; owned by the pool
// work — the rest of the harness is the kernels'). Two kinds of case:
//   predict/engine:lmrt/model:M/batch:B/threads:T  for T > 1 (--threads=1,2): lm_predict_pool
//       with an lm_pool of T threads (pinned to their node, NUMA auto), beside XGBoost with nthread = T.
//   scaling/engine:lmrt/model:large/batch:100000/threads:T  for T = 1, 2 (and the allowed CPUs
//       when more): the throughput of one 100k-row call with a pool of T threads (T = 1: the
//       caller alone, no worker), the figure issue 6 asks for (≥ 1.8× with 2 threads on a
//       2-core machine). Counter rows_per_s; ns_per_row as elsewhere. Kind "scaling" is in the
//       default --kinds; bench-check's reduced matrix does not run it.
// Every case first checks that the pool's outputs equal lm_predict's bit for bit (the harness
// refuses to time a pool that disagrees).
#include <cstdio>
#include <cstring>

#include "bench/lmbench.h"

namespace lmb {

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

}  // namespace lmb
