# bench/bench.mk — performance regression benchmarks (included by the top Makefile; none of
# these targets is part of `make` or `make test`). docs/performance.md explains the method.
#
#   make bench              the whole matrix over the core models and the zoo (Google
#                           Benchmark: lmrt, lmrt forced to scalar kernels and XGBoost's C API
#                           in one process); prints per case lmrt, XGBoost and the ratio, then
#                           per model its shape, plan and speed-ups. Also: the linear/FM kernel
#                           table (per linear and FM model and batch: hand-written kernels,
#                           OpenBLAS, XGBoost gblinear, the planner's pick and whether it is the
#                           faster; engines lmrt-hand, openblas, openblas-sgemm) and the
#                           contributions (lm_predict_contrib vs XGBoost's pred_contribs, small
#                           and large, 1 and 10,000 rows, one thread; kind contrib: XGBoost's
#                           10,000-row call on large alone takes 220-450 s).
#                           Results: $(BUILD)/bench/results.json
#   make bench-lgbtwin      issue 15's LightGBM criterion alone: the zoo's LightGBM models, lmrt
#                           on each and on its XGBoost twin (engine lmrt-twin) and XGBoost on the
#                           twin, 1, 1,000 and 10,000 rows (a few minutes); prints per model lmrt
#                           LightGBM / lmrt twin per tree·row and whether it is <= 1.5
#   make bench-zoo-models   train the zoo (bench/gen_models.py --set zoo; a few minutes, once)
#   make bench-check        a reduced matrix (7 interleaved repetitions) judged by bench/check
#                           against the committed baseline bench/baselines/<machine-class>.json:
#                           fails when a ratio lmrt/xgboost got worse by > max(10%, noise) and
#                           the slowdown reproduces when the case is measured again. Without a
#                           baseline for this machine class: make bench-ab instead
#   make bench-ab [BASE=rev] the working tree against BASE (default origin/main if it exists,
#                           else HEAD), built in a temporary git worktree; both lmbench binaries
#                           run interleaved, round by round, on the reduced matrix (bench/ab)
#   make bench-check-update refresh that baseline (two runs pooled; refuses on a busy machine;
#                           review and commit the file)
#   make bench-ci           deterministic: instructions per call under valgrind's callgrind
#                           (bench/lmcount.c) vs bench/baselines/callgrind.json, tolerance 2%
#   make bench-ci-update    refresh bench/baselines/callgrind.json
#   make bench-report       PNG charts (gnuplot) and $(BUILD)/bench/report.md from the last
#                           `make bench` (runs it first if there is none)
#   make bench-docs         copy the report's figures into bench/figures/ and its tables into
#                           docs/performance.md
#   make bench-deps         install missing Debian packages (apt-get; idempotent)
#
# Knobs: BENCH_MIN_TIME (s per repetition), BENCH_REPS, BENCH_ARGS (extra lmbench flags, e.g.
# --model_list=small,large --batches=1,64), BENCH_PIN (CPU pinning command), BENCH_NICE,
# BENCH_CHECK_WAIT (seconds bench-check waits for a quiet machine),
# BENCH_CLASS (machine class; derived from the CPU), BENCH_TOLERANCE (callgrind, default 0.02).

BENCH_DIR    := $(BUILD)/bench
BENCH_MODELS := $(BENCH_DIR)/models
BENCH_PY     ?= /usr/bin/python3
BENCH_CXX    ?= g++
BENCH_CXXFLAGS ?= -O2 -g
# The core models (bench-ci's and bench-check's baselines use them) and the zoo models bench-ci
# counts (gen_models.py's CI_ZOO: cheap to train). `--set zoo` trains everything else too.
BENCH_NAMES  := small large deep multi5 dart linear-50 linear-200 linear-1000 linear-multi5
BENCH_CI_ZOO := exact-bin30 cat-hist lgb-multi5 lgbr-jpmml_binary_audit
BENCH_LM     := $(BENCH_NAMES:%=$(BENCH_MODELS)/%.lm)
BENCH_GEN    := bench/gen_models.py tests/gen_lightgbm_fixtures.py tests/lgbm_reference.py
BENCH_DEBS   := g++ libbenchmark-dev libxgboost-dev gnuplot-nox valgrind python3-xgboost \
                python3-numpy util-linux

BENCH_MIN_TIME ?= 0.2
BENCH_REPS     ?= 3
BENCH_ARGS     ?=
# No CPU pinning by default: on a small shared machine the scheduler's choice of the idle CPU
# beats a fixed one that another process may hold. On a dedicated machine, e.g.
# BENCH_PIN="taskset -c 1".
BENCH_PIN      ?=
# As root, run the benchmarks at nice -20: other processes on the machine then take (almost)
# no CPU time from them (they still share caches and memory bandwidth; bench/check reports how
# busy the machine was). Empty it to run at normal priority.
BENCH_NICE     ?= $(shell [ "$$(id -u)" = 0 ] && echo nice -n -20)
# Machine class (CPU model, family/model, CPU count): names the committed baseline.
BENCH_CLASS     = $(shell $(BENCH_PY) bench/compare --machine-class)
BENCH_BASELINE  = bench/baselines/$(BENCH_CLASS).json
BENCH_TOLERANCE ?= 0.02

# The reduced matrix of bench-check (its baseline must be recorded with the same one).
BENCH_CHECK_MODELS := small,large,deep,multi5,linear-200,linear-multi5,exact-bin30,cat-hist,$\
                      lgb-multi5,lgbr-jpmml_binary_audit
BENCH_CHECK_ARGS := --model_list=$(BENCH_CHECK_MODELS) --batches=1,64,1000 --kinds=predict,open \
                    --engines=lmrt,lmrt-scalar,xgboost

BENCH_RUN = $(BENCH_NICE) $(BENCH_PIN) $(BENCH_DIR)/lmbench --models=$(BENCH_MODELS) \
            --benchmark_out_format=json --benchmark_display_aggregates_only=true \
            --benchmark_enable_random_interleaving=true

.PHONY: bench bench-check bench-check-update bench-ci bench-ci-update bench-report bench-docs \
        bench-deps bench-models bench-build bench-ci-models bench-zoo-models bench-ab

bench-deps: deps
	@missing=""; for p in $(BENCH_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "bench-deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "bench-deps: run as root: apt-get install$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Models and rows: a model is retrained only when its recipe changed (gen_models.py keeps a
# hash per model, so a fresh checkout's newer mtime costs one quick check, not a retraining).
# Three sets, each behind its own stamp: core (the nine original models), ci (core + the zoo
# models bench-ci counts) and zoo (everything; only make bench, bench-zoo-models and an
# explicit --model_list need it). CI trains core and ci only.
$(BENCH_MODELS)/.stamp-core: $(BENCH_GEN) | bench-deps
	$(BENCH_PY) bench/gen_models.py --out $(BENCH_MODELS) --set core --stamp $@
$(BENCH_MODELS)/.stamp-ci: $(BENCH_GEN) $(wildcard tests/fixtures/lightgbm/real/*/model.txt) | bench-deps
	$(BENCH_PY) bench/gen_models.py --out $(BENCH_MODELS) --set ci --stamp $@
$(BENCH_MODELS)/.stamp-zoo: $(BENCH_GEN) $(wildcard tests/fixtures/lightgbm/real/*/model.txt) | bench-deps
	$(BENCH_PY) bench/gen_models.py --out $(BENCH_MODELS) --set zoo --stamp $@
$(BENCH_LM): $(BENCH_MODELS)/%.lm: $(BENCH_MODELS)/.stamp-core $(BUILD)/bin/lmconvert
	$(BUILD)/bin/lmconvert $(BENCH_MODELS)/$*.json -o $@ >/dev/null
bench-models: $(BENCH_LM)
# Every model of models.tsv converted from its source column (XGBoost JSON or LightGBM text)
# when its .lm is missing or older than the source or lmconvert; a LightGBM model's XGBoost
# twin (xgb_model column, when it differs from source) likewise into <name>.twin.lm (engine
# lmrt-twin).
BENCH_CONVERT = awk -F'\t' 'NR==1{for(i=1;i<=NF;i++){if($$i=="source")c=i;if($$i=="xgb_model")x=i};next} \
                  {print $$1 ".lm", $$c; if(x && $$x!=$$c && $$x!="-" && $$x!="")print $$1 ".twin.lm", $$x}' \
                  $(BENCH_MODELS)/models.tsv | while read out src; do lm=$(BENCH_MODELS)/$$out; \
                  if [ ! -e $$lm ] || [ $$lm -ot $(BENCH_MODELS)/$$src ] || [ $$lm -ot $(BUILD)/bin/lmconvert ]; then \
                    $(BUILD)/bin/lmconvert -q $(BENCH_MODELS)/$$src -o $$lm || exit 1; fi; done
bench-ci-models: $(BENCH_MODELS)/.stamp-ci $(BUILD)/bin/lmconvert
	@$(BENCH_CONVERT)
bench-zoo-models: $(BENCH_MODELS)/.stamp-zoo $(BUILD)/bin/lmconvert
	@$(BENCH_CONVERT)

# lmbench: options and registration (lmbench.cc), models and rows, engines, timed cases, pool
# cases (lmbench_*.cc), sharing bench/lmbench.h; one compiler call.
BENCH_SRC := bench/lmbench.cc bench/lmbench_models.cc bench/lmbench_engines.cc \
             bench/lmbench_timing.cc bench/lmbench_pool.cc
$(BENCH_DIR)/lmbench: $(BENCH_SRC) bench/lmbench.h include/lmrt.h $(LIBS_A) | bench-deps
	@mkdir -p $(@D)
	$(BENCH_CXX) $(BENCH_CXXFLAGS) -std=c++17 -Wall -Wextra -Iinclude -I. -o $@ $(BENCH_SRC) \
	  $(LIBS_A) -lbenchmark -lxgboost $(CONV_LDLIBS) $(LDLIBS) -lpthread
$(BENCH_DIR)/lmcount: bench/lmcount.c include/lmrt.h $(BUILD)/lib/liblmrt.a | bench-deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -o $@ $< $(BUILD)/lib/liblmrt.a $(LDLIBS)
bench-build: $(BENCH_DIR)/lmbench $(BENCH_DIR)/lmcount

# The whole matrix in one process: engines lmrt (planned kernels), lmrt-scalar (LM_ISA=scalar,
# set by the harness around that engine's lm_model_open) and xgboost, side by side.
bench: $(BENCH_DIR)/lmbench bench-zoo-models
	@echo "bench: $(BENCH_REPS) repetitions of >= $(BENCH_MIN_TIME) s per case; progress on stderr, log: $(BENCH_DIR)/bench.log"
	@start=$$(date +%s); \
	$(BENCH_RUN) --benchmark_min_time=$(BENCH_MIN_TIME) --benchmark_repetitions=$(BENCH_REPS) \
	  --benchmark_out=$(BENCH_DIR)/results.raw.json $(BENCH_ARGS) > $(BENCH_DIR)/bench.log && \
	$(BENCH_PY) bench/compare --merge $(BENCH_DIR)/results.json $(BENCH_DIR)/results.raw.json && \
	$(BENCH_PY) bench/compare --show $(BENCH_DIR)/results.json && \
	echo "bench: done in $$(( $$(date +%s) - start )) s; results: $(BENCH_DIR)/results.json"

# Issue 15's LightGBM criterion alone: every LightGBM model of the zoo (models.tsv's booster
# column) with its XGBoost twin, engines lmrt (the LightGBM model), lmrt-twin (lmrt on the twin)
# and xgboost (XGBoost on the twin), predict only, one thread, at BENCH_TWIN_BATCHES rows, in
# one interleaved process; results in $(BENCH_DIR)/results-lgbtwin.json (not results.json),
# printed by bench/compare --twin. `bench/report $(BENCH_DIR)/results-lgbtwin.json --publish
# --only twin` puts the table into docs/performance.md's bench-twin block.
# Knobs: BENCH_TWIN_MODELS (comma-separated; empty: every LightGBM model), BENCH_TWIN_BATCHES,
# BENCH_TWIN_REPS, BENCH_MIN_TIME, BENCH_ARGS.
BENCH_TWIN_MODELS  ?=
BENCH_TWIN_BATCHES ?= 1,1000,10000
BENCH_TWIN_REPS    ?= 5
.PHONY: bench-lgbtwin
bench-lgbtwin: $(BENCH_DIR)/lmbench bench-zoo-models
	@models="$(BENCH_TWIN_MODELS)"; \
	[ -n "$$models" ] || models=$$(awk -F'\t' 'NR==1{for(i=1;i<=NF;i++)if($$i=="booster")b=i;next}$$b=="lightgbm"{printf "%s%s",s,$$1;s=","}' $(BENCH_MODELS)/models.tsv); \
	echo "bench-lgbtwin: $$models at $(BENCH_TWIN_BATCHES) rows, $(BENCH_TWIN_REPS) repetitions of >= $(BENCH_MIN_TIME) s; load: $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	start=$$(date +%s); \
	$(BENCH_RUN) --model_list=$$models --engines=lmrt,lmrt-twin,xgboost --kinds=predict \
	  --batches=$(BENCH_TWIN_BATCHES) --threads=1 --benchmark_min_time=$(BENCH_MIN_TIME) \
	  --benchmark_repetitions=$(BENCH_TWIN_REPS) --benchmark_out=$(BENCH_DIR)/results-lgbtwin.raw.json \
	  $(BENCH_ARGS) > $(BENCH_DIR)/bench-lgbtwin.log && \
	$(BENCH_PY) bench/compare --merge $(BENCH_DIR)/results-lgbtwin.json $(BENCH_DIR)/results-lgbtwin.raw.json && \
	$(BENCH_PY) bench/compare --twin $(BENCH_DIR)/results-lgbtwin.json && \
	echo "bench-lgbtwin: done in $$(( $$(date +%s) - start )) s; load: $$(cut -d' ' -f1-3 /proc/loadavg); results: $(BENCH_DIR)/results-lgbtwin.json"

# Reduced matrix, compared with the committed baseline of this machine class (bench/check:
# flagged cases are measured again and count only if the slowdown reproduces).
BENCH_CHECK_WAIT ?= 120
# e.g. --force (bench-check-update on a machine that never gets quiet), --threshold 0.15
BENCH_CHECK_FLAGS ?=
BENCH_CHECK = $(BENCH_PY) bench/check --lmbench "$(BENCH_NICE) $(BENCH_PIN) $(BENCH_DIR)/lmbench" \
              --models $(BENCH_MODELS) --baseline $(BENCH_BASELINE) --out $(BENCH_DIR)/check.json \
              --wait $(BENCH_CHECK_WAIT) $(BENCH_CHECK_FLAGS)
bench-check: $(BENCH_DIR)/lmbench bench-ci-models
	@if [ ! -f $(BENCH_BASELINE) ]; then \
	  echo "bench-check: no baseline $(BENCH_BASELINE) for this machine class: A/B run against $(or $(BASE),the default base) instead (make bench-ab)"; \
	  $(MAKE) --no-print-directory bench-ab; exit $$?; fi; \
	start=$$(date +%s); $(BENCH_CHECK) -- $(BENCH_CHECK_ARGS); rc=$$?; \
	echo "bench-check: $$(( $$(date +%s) - start )) s"; exit $$rc
bench-check-update: $(BENCH_DIR)/lmbench bench-ci-models
	$(BENCH_CHECK) --update -- $(BENCH_CHECK_ARGS)

# A/B against a base revision on this machine, whatever its class (bench/ab): the base is built
# from its own sources in a temporary git worktree (into $(BENCH_DIR)/ab/base-<commit>, kept for
# the next run), then base and working-tree lmbench alternate, BENCH_AB_ROUNDS rounds of one
# process each, on bench-check's reduced matrix (predict cases); flagged cases are measured
# again. LM_BENCH_SLOWDOWN reaches the new side only. BASE defaults to origin/main, else HEAD.
BASE            ?=
BENCH_AB_ROUNDS ?= 8
BENCH_AB_FLAGS  ?=
BENCH_AB_ARGS   ?= --model_list=$(BENCH_CHECK_MODELS) --batches=1,64,1000
bench-ab: $(BENCH_DIR)/lmbench bench-ci-models
	@start=$$(date +%s); $(BENCH_PY) bench/ab --new $(BENCH_DIR)/lmbench --models $(BENCH_MODELS) \
	  --work $(BENCH_DIR)/ab $(if $(BASE),--base $(BASE)) --rounds $(BENCH_AB_ROUNDS) \
	  --prefix "$(BENCH_NICE) $(BENCH_PIN)" $(BENCH_AB_FLAGS) -- $(BENCH_AB_ARGS); rc=$$?; \
	echo "bench-ab: $$(( $$(date +%s) - start )) s"; exit $$rc

# Deterministic CI mode: instruction counts under callgrind.
# Cases: every core model but linear-1000 (its rows file is the largest) and the CI zoo models
# (exact trees with > 254 thresholds per feature, categorical splits, a LightGBM-shaped
# multi-class model, a real LightGBM model), 1 and 64 rows per call, LM_ISA unset ("auto":
# AVX2 at most under valgrind) and LM_ISA=scalar.
BENCH_CI_CASES := small:1,small:64,large:1,large:64,deep:1,deep:64,multi5:1,multi5:64,dart:1,dart:64,$\
                  linear-50:1,linear-50:64,linear-200:1,linear-200:64,linear-multi5:1,linear-multi5:64,$\
                  exact-bin30:1,exact-bin30:64,cat-hist:1,cat-hist:64,lgb-multi5:1,lgb-multi5:64,$\
                  lgbr-jpmml_binary_audit:1,lgbr-jpmml_binary_audit:64
BENCH_ICOUNT = CC="$(CC)" BENCH_CFLAGS="$(CFLAGS)" $(BENCH_PY) bench/icount --lmcount $(BENCH_DIR)/lmcount \
               --models $(BENCH_MODELS) --out $(BENCH_DIR)/callgrind.json --tolerance $(BENCH_TOLERANCE) \
               --cases $(BENCH_CI_CASES)
bench-ci: $(BENCH_DIR)/lmcount bench-ci-models
	@start=$$(date +%s); $(BENCH_ICOUNT) --baseline bench/baselines/callgrind.json; rc=$$?; \
	echo "bench-ci: $$(( $$(date +%s) - start )) s"; exit $$rc
bench-ci-update: $(BENCH_DIR)/lmcount bench-ci-models
	$(BENCH_ICOUNT) --update bench/baselines/callgrind.json

# Pictures and a Markdown summary of the last `make bench`.
$(BENCH_DIR)/results.json:
	$(MAKE) bench
bench-report: $(BENCH_DIR)/results.json | bench-deps
	$(BENCH_PY) bench/report $(BENCH_DIR)/results.json --out $(BENCH_DIR)
bench-docs: bench-report
	$(BENCH_PY) bench/report $(BENCH_DIR)/results.json --out $(BENCH_DIR) --publish

# ---- bench-blas (issue 17): hand-written linear kernels vs the OpenBLAS product -----------------
# tests/time_linear_blas.c times every linear kernel of the registry on the same rows per shape and
# batch size and prints the planner's pick; the numbers behind linear_margin_blas's registry
# line (docs/architecture.md). `make bench`'s kernel table (bench/lmbench: engines lmrt-hand and
# openblas) now measures the same choice through the public API beside the planner's pick; this
# one times every registry kernel directly, on random models of any shape.
.PHONY: bench-blas
$(BUILD)/bench/time_linear_blas: tests/time_linear_blas.c $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -o $@ $< $(LIBS_A) $(CONV_LDLIBS) $(LDLIBS)
bench-blas: $(BUILD)/bench/time_linear_blas
	$(BUILD)/bench/time_linear_blas $(BENCH_BLAS_ARGS)

# ---- bench-fm (issue 17): the factorization machine kernels vs OpenBLAS products ----------------
# tests/time_fm.c times every FM kernel of the registry (single rows and a 1,000-row batch) and
# two OpenBLAS formulations (dgemm, sgemm) on the same model and rows for k = 8, 32, 64: the
# numbers behind docs/performance.md's FM paragraph (no product is planned). Separate from lmbench.
.PHONY: bench-fm
$(BUILD)/bench/time_fm: tests/time_fm.c $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -o $@ $< $(LIBS_A) $(CONV_LDLIBS) $(LDLIBS)
bench-fm: $(BUILD)/bench/time_fm
	$(BUILD)/bench/time_fm
