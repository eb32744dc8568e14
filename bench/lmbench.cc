// lmbench.cc — the benchmark harness: Google Benchmark over liblmrt's public C API, side by side
// with XGBoost's own C API on the same model and the same rows, so every lmrt figure has an
// in-run baseline (machine drift cancels in the ratio lmrt / xgboost; see bench/compare).
//
// This file: the options, the registration of the cases and main(); the rest, in namespace lmb
// (bench/lmbench.h): lmbench_models.cc (models.tsv, rows), lmbench_engines.cc (engines, parity),
// lmbench_timing.cc (timer, timed cases), lmbench_pool.cc (thread-pool and scaling cases).
//
// Benchmarks (names are stable; bench/compare and bench/report parse them):
//   predict/engine:E/model:M/batch:B/threads:T   one call scoring B rows (values, not margins)
//   open/engine:E/model:M                        lmrt: lm_model_open (mmap + verify) + session;
//                                                xgboost: XGBoosterCreate + XGBoosterLoadModel
//   convert/engine:lmrt/model:M                  lm_convert of the XGBoost JSON into a .lm file
//   contrib/engine:E/model:M/batch:B/threads:1   contributions (SHAP values) of B rows:
//                                                lm_predict_contrib vs XGBoost's pred_contribs
//                                                (XGDMatrixCreateFromDense +
//                                                XGBoosterPredictFromDMatrix type 2 + free per
//                                                call, nthread 1), E = lmrt | xgboost
// E is one of
//   lmrt         liblmrt with its planned kernels (honours LM_ISA if set in the environment)
//   lmrt-scalar  liblmrt forced to its scalar reference kernels: the harness sets LM_ISA=scalar
//                with setenv() just before that engine's lm_model_open (liblmrt reads LM_ISA at
//                every open) and restores it after; it then checks lm_model_get_info().isa ==
//                "scalar" and refuses to run otherwise. So all three engines run in one process,
//                interleaved, and both lmrt ratios have an in-run baseline.
//   xgboost      XGBoost 1.7.4's C API (libxgboost-dev)
// and, for linear and factorization-machine models only (the kernel table of issue 17:
// hand-written vs OpenBLAS beside the planner's pick):
//   lmrt-hand    liblmrt planned without the OpenBLAS kernel (LM_KERNEL=-linear_margin_blas set
//                around lm_model_open: runtime/plan.c's hook for benchmarks and tests)
//   openblas     linear: liblmrt's linear_margin_blas for every batch size
//                (LM_KERNEL=linear_margin_blas); FM: the harness's own OpenBLAS formulation,
//                two cblas_dgemm (X·V, X²·V²) in double, the precision contract (lmrt plans no
//                FM product; the weights come from <name>.fm.f32, see gen_models.py)
//   openblas-sgemm  FM only: the same in float32 (faster, but not within the contract)
// and, for LightGBM models only (those with an XGBoost twin; issue 15's criterion: lmrt's time
// per tree·row on a LightGBM model within 1.5x of lmrt's on the XGBoost model of the same shape):
//   lmrt-twin    liblmrt with its planned kernels on the model's XGBoost twin (xgb_model,
//                converted into <name>.twin.lm), one thread; its parity check is against
//                XGBoost on the same twin. bench/compare's twin_table divides per tree·row.
// Their labels name the kernel that ran for the case's batch size; the plan of each linear and
// FM model (lm_model_plan: batch bands and kernels) goes into the context as "plan.<name>",
// from which bench/compare and bench/report print the table and the pick.
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
//   --engines=LIST      default lmrt,lmrt-scalar,xgboost,lmrt-hand,openblas,openblas-sgemm,
//                       lmrt-twin
//   --model_list=LIST   models to run (default all in models.tsv)
//   --groups=LIST       models of these groups only (models.tsv: core, zoo)
//   --batches=LIST      default 1,8,64,1000,100000; a batch above a model's max_batch column
//                       (zoo models: 10,000) is measured at max_batch instead
//   --threads=LIST      default 1. T > 1 gives XGBoost nthread = T and lmrt an lm_pool of T
//                       threads (lm_predict_pool; see lmbench_pool.cc)
//   --kinds=LIST        predict,open,convert,scaling,contrib (default all)
//   --contrib_models=LIST  models of the contrib cases (default small,large)
//   --contrib_batches=LIST rows per contrib call (default 1,10000; capped at max_batch)
//   --contrib_batch_reps=N repetitions of contrib cases of >= 1,000 rows (default 1: XGBoost
//                       takes 8 s / 220 s per 10,000-row call on small / large; 0: the run's)
//   --no_parity         skip the start-up check that both engines return the same values
// Environment: LM_BENCH_SLOWDOWN=P (percent) makes every lmrt predict call P% longer: after
// lm_predict returns, the harness spins for P% of the time the call took. A deliberately slowed
// kernel, seen only by this harness (bench/lmcount.c has the instruction-count equivalent), to
// prove that bench-check and bench-ci catch regressions.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench/lmbench.h"

namespace lmb {
namespace {

// The plan of a linear or FM model as lm_model_plan() gives it (the one planner's answer, with
// the LM_ISA of the environment): a JSON object {"bands": [[min_rows, max_rows, kernel], ...],
// "notes": "..."}, the context entry "plan.<name>" from which bench/compare and bench/report
// read the pick of each case of the kernel table (max_rows -1: no bound).
std::string plan_context(const ModelSpec &m) {
  lm_model *model = nullptr;
  if (lm_model_file(m) != 0 || lm_model_open(m.lm_path().c_str(), &model) != 0)
    return "{\"error\": \"cannot open\"}";
  lm_plan_band bands[8];
  const char *notes = nullptr;
  size_t nb = lm_model_plan(model, bands, 8, &notes);
  std::string j = "{\"bands\": [";
  for (size_t i = 0; i < nb && i < 8; i++) {
    j += (i ? ", [" : "[") + std::to_string(bands[i].min_rows) + ", " +
         (bands[i].max_rows == SIZE_MAX ? std::string("-1") : std::to_string(bands[i].max_rows)) +
         ", \"" + bands[i].kernel + "\"]";
  }
  j += "], \"notes\": \"";
  for (const char *c = notes ? notes : ""; *c; c++)
    if (*c != '"' && *c != '\\') j += *c;
  j += "\"}";
  lm_model_close(model);
  return j;
}

void register_all() {
  // Order: per model, per batch, per thread count, the engines side by side (so an engine's
  // case and its baseline run close together in time).
  for (const ModelSpec &m : g_models) {
    if (!g_opt.model_list.empty() && !has(g_opt.model_list, m.name)) continue;
    if (!g_opt.groups.empty() && !has(g_opt.groups, m.group)) continue;
    const ModelSpec *mp = &m;
    benchmark::AddCustomContext("model." + m.name, model_context(m));
    if ((m.kind == "linear" || m.kind == "fm") && has(g_opt.kinds, "predict"))
      benchmark::AddCustomContext("plan." + m.name, plan_context(m));
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
            if (e == "xgboost" && m.xgb_model == "-") continue;  // no XGBoost counterpart (FM)
            // The kernel table's engines: linear and FM models, one thread.
            if ((e == "lmrt-hand" || e == "openblas") && ((m.kind != "linear" && m.kind != "fm") || t > 1))
              continue;
            if (e == "openblas-sgemm" && (m.kind != "fm" || t > 1)) continue;
            // lmrt on the XGBoost twin: LightGBM models (a twin), one thread.
            if (e == "lmrt-twin" && (!m.has_twin() || t > 1)) continue;
            if (e != "xgboost" && t > 1) {  // lmrt with T threads: lm_pool (lmbench_pool.cc)
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
        if (e == "xgboost" && m.xgb_model == "-") continue;
        if (e == "lmrt-twin") continue;  // predict cases only
        std::string name = "open/engine:" + e + "/model:" + m.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_open, mp, e, name)
            ->Unit(benchmark::kMicrosecond);
      }
    }
    if (has(g_opt.kinds, "contrib") && has(g_opt.contrib_models, m.name)) {
      for (size_t b : g_opt.contrib_batches) {
        if (m.max_batch && b > m.max_batch) b = m.max_batch;
        for (const char *e : {"lmrt", "xgboost"}) {
          if (!has(g_opt.engines, e)) continue;
          std::string name = std::string("contrib/engine:") + e + "/model:" + m.name +
                             "/batch:" + std::to_string(b) + "/threads:1";
          auto *bm = benchmark::RegisterBenchmark(name.c_str(), bm_contrib, mp, std::string(e), name, b)
              ->Unit(b >= 1000 ? benchmark::kMillisecond : benchmark::kMicrosecond);
          // XGBoost's pred_contribs takes ≈ 0.8 ms a row on small and ≈ 22 ms on large: a
          // 10,000-row call lasts 8 s and 220 s, so batches run --contrib_batch_reps times.
          if (b >= 1000 && g_opt.contrib_batch_reps > 0) bm->Repetitions(g_opt.contrib_batch_reps);
        }
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
    else if ((v = val("--contrib_models="))) g_opt.contrib_models = split(v, ',');
    else if ((v = val("--contrib_batches="))) {
      g_opt.contrib_batches.clear();
      for (auto &s : split(v, ',')) g_opt.contrib_batches.push_back(std::stoul(s));
    } else if ((v = val("--contrib_batch_reps="))) g_opt.contrib_batch_reps = std::stoi(v);
    else if (a == "--no_parity") g_opt.parity = false;
    else if (a == "--help" || a == "-h") {
      fprintf(stderr, "usage: lmbench [--benchmark_* flags] [--models=DIR] "
                      "[--engines=lmrt,lmrt-scalar,xgboost,lmrt-twin,...] [--model_list=LIST] [--groups=core,zoo] "
                      "[--batches=LIST] [--threads=LIST] "
                      "[--kinds=predict,open,convert,scaling,contrib] [--contrib_models=LIST] "
                      "[--contrib_batches=LIST] [--contrib_batch_reps=N] [--no_parity]\n");
      exit(0);
    } else die("unknown option " + a + " (see --help)");
  }
  if (const char *s = getenv("LM_BENCH_SLOWDOWN")) g_opt.slowdown_pct = atof(s);
}

}  // namespace
}  // namespace lmb

using namespace lmb;

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  parse_args(argc, argv);
  calibrate_timer();
  g_models = read_manifest();
  for (const auto &e : g_opt.engines)
    if (e != "lmrt" && e != "lmrt-scalar" && e != "xgboost" && e != "lmrt-hand" &&
        e != "openblas" && e != "openblas-sgemm" && e != "lmrt-twin")
      die("unknown engine " + e);
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
  free_engines();
  return 0;
}
