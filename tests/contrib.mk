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
