# tests/contrib.mk — timing of lm_predict_contrib against XGBoost's C API (included by the top
# Makefile; not part of `make` or `make check`).
#   make contrib-bench      train/convert the bench models if needed (bench/bench.mk:
#                           bench-models), then run tests/contrib_bench.c on `small`
#                           (CONTRIB_BENCH_MODEL=large … for another, CONTRIB_BENCH_ROWS=10000)
# The same comparison is part of `make bench` (bench/lmbench's contrib cases: small and large,
# 1 and 10,000 rows, XGBoost's DMatrix built per call; docs/performance.md's figures); this
# standalone timing also prints thread-CPU ratios and the largest difference of the values.
CONTRIB_BENCH       := $(BUILD)/contrib_bench
CONTRIB_BENCH_MODEL ?= small
CONTRIB_BENCH_ROWS  ?= 10000

.PHONY: contrib-bench
$(CONTRIB_BENCH): tests/contrib_bench.c $(BUILD)/lib/liblmrt.a
	$(CC) $(CFLAGS) $(XCFLAGS) -o $@ $< $(BUILD)/lib/liblmrt.a -lxgboost $(LDLIBS)
contrib-bench: $(CONTRIB_BENCH) bench-models
	$(CONTRIB_BENCH) $(BENCH_MODELS)/$(CONTRIB_BENCH_MODEL).json \
	  $(BENCH_MODELS)/$(CONTRIB_BENCH_MODEL).lm $(CONTRIB_BENCH_ROWS)

# Contributions through the pool (tests/time_contrib_pool.c): one thread against the pool with 1
# and 2 threads on a 10k-row batch of each LightGBM fixture with counts and an XGBoost one.
#   make contrib-pool-time
CONTRIB_POOL_TIME := $(BUILD)/time_contrib_pool
CONTRIB_POOL_MODELS ?= $(addprefix tests/fixtures/lightgbm/real/,jpmml_multiclass_iris \
  jpmml_regression_housing leaves_poisson_fmtp jpmml_binary_audit)
.PHONY: contrib-pool-time
$(CONTRIB_POOL_TIME): tests/time_contrib_pool.c $(BUILD)/lib/liblmrt.a
	$(CC) $(CFLAGS) $(XCFLAGS) -o $@ $< $(BUILD)/lib/liblmrt.a $(LDLIBS)
contrib-pool-time: $(CONTRIB_POOL_TIME) tools
	@d=$$(mktemp -d) && for m in $(CONTRIB_POOL_MODELS); do \
	  $(BUILD)/bin/lmconvert -q $$m/model.txt -o $$d/$$(basename $$m).lm || exit 1; done && \
	  $(BUILD)/bin/lmconvert -q tests/fixtures/xgb/multi_softprob4/model.json -o $$d/xgb_multi_softprob4.lm && \
	  $(CONTRIB_POOL_TIME) $$d/*.lm; rc=$$?; rm -rf $$d; exit $$rc
