# tests/fuzz/fuzz.mk — libFuzzer targets (included by the Makefile).
#
#   make fuzz                 build every target and run each for FUZZ_SECONDS (default 60);
#                             make -j2 fuzz runs two at a time. New corpus entries go to
#                             build/fuzz/corpus-new/<target>/, crashes to build/fuzz/crashes/<target>/,
#                             logs to build/fuzz/logs/; a summary table ends the run, and the
#                             exit status is non-zero if any target found a crash.
#   make fuzz FUZZ_TARGETS="lmf artifact" FUZZ_SECONDS=300      some targets, longer
#   make fuzz-build           only build build/fuzz/bin/fuzz_<target>
#   make fuzz-replay          run each binary over its committed corpus and tests/fuzz/regressions/
#   make fuzz-merge           minimise into tests/fuzz/corpus/<target>/: the seeds plus, smallest
#                             first, up to FUZZ_CORPUS_KB KiB of the finds of build/fuzz/corpus-new/
#                             that add coverage (libFuzzer -merge=1)
#   make fuzz-deps            apt-get install clang and libclang-rt-14-dev when missing
#
# The library is compiled again with clang into build/fuzz/obj (-fsanitize=fuzzer-no-link,
# address,undefined), from the Makefile's LIB_SRC with its XCFLAGS (warnings not fatal: clang
# warns about other things than gcc); per-ISA files get the Makefile's per-ISA flags. A target
# is tests/fuzz/fuzz_<name>.c (see tests/fuzz/fuzz.h); `make test` replays every committed
# corpus through the same code (tests/test_fuzz_replay.c).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 20
FUZZ_RSS_MB  ?= 2048
FUZZ_MAXLEN  ?= 16384
FUZZ_KEEP_BYTES ?= 65536
FUZZ_CORPUS_KB ?= 140
FUZZ_DIR     := build/fuzz
# -max_len per target: room for a few trees of JSON, for examples/model.tar.gz (40 KiB) in the
# archive seeds, and for .lm files of a few trees.
FUZZ_MAXLEN_xgboost_json ?= 32768
FUZZ_MAXLEN_import_any   ?= 65536
FUZZ_MAXLEN_artifact     ?= 65536
FUZZ_MAXLEN_lmf          ?= 16384
FUZZ_MAXLEN_linear_learner ?= 32768
FUZZ_MAXLEN_lightgbm_text ?= 32768
FUZZ_MAXLEN_xgboost_ubj ?= 32768
FUZZ_MAXLEN_xgboost_bin ?= 32768
FUZZ_MAXLEN_xgboost_pickle ?= 32768
FUZZ_MAXLEN_pickle ?= 32768

FUZZ_ALL     := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_common.c,\
                  $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_TARGETS ?= $(FUZZ_ALL)
# UBSan reports are fatal through UBSAN_OPTIONS=halt_on_error=1 (not -fno-sanitize-recover), so
# that a campaign run with LM_FUZZ_AVOID_KNOWN=1 can suppress known bugs (known.supp).
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_UBSAN   = UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1$(if $(LM_FUZZ_AVOID_KNOWN),:suppressions=$(CURDIR)/tests/fuzz/known.supp)
FUZZ_CFLAGS  := -O1 -g $(XCFLAGS) -Wno-error $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(CONV_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-replay fuzz-merge fuzz-deps

$(FUZZ_DIR)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -mavx2 -mfma -MMD -MP -c $< -o $@
$(FUZZ_DIR)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -MMD -MP -c $< -o $@
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DLM_FUZZ_LIBFUZZER -MMD -MP -c $< -o $@

$(FUZZ_DIR)/bin/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_common.o \
                        $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(CONV_LDLIBS) $(LDLIBS)

fuzz-build: fuzz-deps $(FUZZ_BINS)

# One target's run: its own rule so that make -j2 fuzz runs two at a time. It records the
# outcome in build/fuzz/logs/<target>.status instead of failing, so every target runs.
fuzz-run-%: $(FUZZ_DIR)/bin/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus-new/$* $(FUZZ_DIR)/crashes/$* $(FUZZ_DIR)/logs tests/fuzz/corpus/$*
	@if [ -n "$$(ls $(FUZZ_DIR)/crashes/$*)" ]; then mkdir -p $(FUZZ_DIR)/crashes-old/$* && \
	  mv $(FUZZ_DIR)/crashes/$*/* $(FUZZ_DIR)/crashes-old/$*/; fi
	@echo "fuzz: $* for $(FUZZ_SECONDS) s (log: $(FUZZ_DIR)/logs/$*.log)"
	@dict=; [ -f tests/fuzz/dict/$*.dict ] && dict=-dict=tests/fuzz/dict/$*.dict; \
	t0=$$(date +%s); \
	$(FUZZ_UBSAN) $< -max_total_time=$(FUZZ_SECONDS) -max_len=$(or $(FUZZ_MAXLEN_$*),$(FUZZ_MAXLEN)) \
	  -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/crashes/$*/ $$dict \
	  $(FUZZ_DIR)/corpus-new/$* tests/fuzz/corpus/$* > $(FUZZ_DIR)/logs/$*.log 2>&1; \
	echo $$? > $(FUZZ_DIR)/logs/$*.status; echo $$(( $$(date +%s) - t0 )) > $(FUZZ_DIR)/logs/$*.secs

# The summary: runs, coverage, corpus and crashes per target, from the logs.
fuzz: fuzz-build
	@rm -f $(FUZZ_TARGETS:%=$(FUZZ_DIR)/logs/%.status) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/logs/%.secs)
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=fuzz-run-%)
	@fail=0; printf '%-16s %6s %10s %8s %8s %8s %8s %s\n' target secs runs cov ft corpus crashes status; \
	for t in $(FUZZ_TARGETS); do \
	  log=$(FUZZ_DIR)/logs/$$t.log; st=$$(cat $(FUZZ_DIR)/logs/$$t.status 2>/dev/null || echo ?); \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -1); \
	  last=$$(grep -E '^#[0-9]+' $$log | tail -1); \
	  cov=$$(echo "$$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p'); \
	  ft=$$(echo "$$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p'); \
	  corp=$$(echo "$$last" | sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p'); \
	  crashes=$$(ls $(FUZZ_DIR)/crashes/$$t 2>/dev/null | wc -l); \
	  [ "$$st" = 0 ] && [ "$$crashes" = 0 ] || fail=1; \
	  secs=$$(cat $(FUZZ_DIR)/logs/$$t.secs 2>/dev/null); \
	  printf '%-16s %6s %10s %8s %8s %8s %8s %s\n' $$t "$${secs:-?}" "$${runs:-?}" "$${cov:-?}" \
	    "$${ft:-?}" "$${corp:-?}" $$crashes $$st; \
	done; \
	if [ $$fail != 0 ]; then echo "fuzz: crashes in $(FUZZ_DIR)/crashes/ (see the logs); minimise with" \
	  "build/fuzz/bin/fuzz_<target> -minimize_crash=1 -runs=100000 FILE, keep in tests/fuzz/regressions/<target>/"; fi; \
	exit $$fail

fuzz-replay: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  files=$$(find tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t -type f 2>/dev/null); \
	  [ -n "$$files" ] || continue; echo "fuzz-replay: $$t"; \
	  $(FUZZ_UBSAN) $(FUZZ_DIR)/bin/fuzz_$$t $$files > $(FUZZ_DIR)/replay-$$t.log 2>&1 || \
	    { echo "fuzz-replay: $$t failed (see $(FUZZ_DIR)/replay-$$t.log)"; exit 1; }; \
	done

# Minimise: merge the committed corpus and the new finds into the inputs that add coverage,
# then keep the seeds of seeds.py (named files) and, smallest first, at most FUZZ_CORPUS_KB KiB
# of the merged finds (files named by their SHA-1).
fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  tmp=$(FUZZ_DIR)/merge/$$t; rm -rf $$tmp; mkdir -p $$tmp $(FUZZ_DIR)/corpus-new/$$t tests/fuzz/corpus/$$t; \
	  $(FUZZ_UBSAN) $(FUZZ_DIR)/bin/fuzz_$$t -merge=1 -max_len=$(FUZZ_KEEP_BYTES) $$tmp tests/fuzz/corpus/$$t \
	    $(FUZZ_DIR)/corpus-new/$$t > $(FUZZ_DIR)/merge-$$t.log 2>&1 || { echo "fuzz-merge: $$t failed"; exit 1; }; \
	  find tests/fuzz/corpus/$$t -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete; \
	  budget=$$(( $(FUZZ_CORPUS_KB) * 1024 )); \
	  for f in $$(ls -Sr $$tmp); do \
	    [ -e tests/fuzz/corpus/$$t/$$f ] && continue; \
	    sz=$$(stat -c %s $$tmp/$$f); [ $$sz -le $$budget ] || break; \
	    cmp -s $$tmp/$$f /dev/null && continue; \
	    dup=0; for g in tests/fuzz/corpus/$$t/*; do cmp -s $$tmp/$$f $$g && { dup=1; break; }; done; \
	    [ $$dup = 1 ] && continue; \
	    cp $$tmp/$$f tests/fuzz/corpus/$$t/$$f; budget=$$(( budget - sz )); \
	  done; \
	  echo "fuzz-merge: $$t: $$(ls $$tmp | wc -l) inputs add coverage; kept $$(ls tests/fuzz/corpus/$$t | wc -l) files," \
	    "$$(du -sk --apparent-size tests/fuzz/corpus/$$t | cut -f1) KiB"; \
	done

fuzz-deps:
	@missing=""; command -v $(FUZZ_CC) >/dev/null 2>&1 || missing="clang"; \
	dpkg-query -W -f='$${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" || \
	  missing="$$missing libclang-rt-14-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "fuzz-deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "fuzz-deps: run as root: apt-get install$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
