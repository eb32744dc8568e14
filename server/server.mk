# server/server.mk — lmserve (included by the top Makefile).
#
#   make                      also builds $(BUILD)/bin/lmserve
#   make check                also runs the server's end-to-end tests (check-server)
#   make serve                lmserve on the bundled example in the foreground (SERVE_LISTEN)
#   make loadtest             lmserve vs the Flask + gunicorn + xgboost anchor under wrk;
#                             table in $(BUILD)/loadtest/results.md
#   make soak                 SOAK_SECONDS (600) at 80% of max throughput, reload every 10 s
#   make soak-inplace         SOAK_SECONDS (600) under load, the model file overwritten in place
#                             (cp, not rename) every 10 s with good and corrupt versions: 0
#                             failed requests, no prediction from rejected bytes, flat RSS
#                             (server/tests/soak_inplace.py; a 12 s version runs in check-server)
#   make fuzz-server          libFuzzer over the whole request path (FUZZ_SECONDS)

LMSERVE_BIN := $(BUILD)/bin/lmserve
SERVER_SRC  := server/handler.c server/buf.c server/conn.c server/chunked.c server/infer.c \
               server/http.c server/v2json.c server/registry.c server/metrics.c server/log.c \
               server/sagemaker.c server/recordio.c tools/csv.c tools/csv_header.c
SERVER_OBJ  := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_LDLIBS := -lpthread
# lmserve itself needs nothing more; make loadtest and make soak need wrk and the anchor's stack.
# (bench/server/probe/mhd_probe.c, the libmicrohttpd measurement, needs libmicrohttpd-dev: not built.)
DEBS += wrk python3-flask gunicorn python3-xgboost python3-numpy

# promtool (Prometheus' own exposition checker) for check-server's /metrics test, from Debian's
# prometheus package: downloaded with apt-get and unpacked under build/promtool by make deps —
# not installed: the package (19 MB download, 96 MB installed) would also install and, under
# systemd, start a Prometheus server daemon with its own user. promtool alone: 48 MB. A fixed path,
# whatever BUILD is, so that make check-san finds it too.
PROMTOOL := build/promtool/promtool
deps: $(PROMTOOL)
$(PROMTOOL):
	@rm -rf $(@D) && mkdir -p $(@D)/x && cd $(@D) && \
	  { apt-get download -q prometheus 2>/dev/null || \
	    { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null && apt-get download -q prometheus; }; } && \
	  dpkg-deb -x prometheus_*.deb x && mv x/usr/bin/promtool promtool && rm -rf x prometheus_*.deb && \
	  ./promtool --version | head -1

.PHONY: check-server serve loadtest soak soak-inplace fuzz-server fuzz-server-build

all: $(LMSERVE_BIN)
run: $(LMSERVE_BIN)

$(LMSERVE_BIN): $(BUILD)/obj/server/lmserve.o $(SERVER_OBJ) $(BUILD)/lib/liblmrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(SERVER_OBJ) $(BUILD)/lib/liblmrt.a $(LDLIBS) $(SERVER_LDLIBS)

# End-to-end tests: start lmserve on loopback, assert on every endpoint and error. Under
# SAN=1 the same tests run against the ASan+UBSan build (LSan checks the server at exit).
check: check-server
check-server: $(LMSERVE_BIN) $(TOOLS:%=$(BUILD)/bin/%) $(BUILD)/tests/server_fuzz_replay \
              $(BUILD)/tests/server_test_alloc $(BUILD)/tests/server_test_strings \
              $(BUILD)/tests/lmf_reseal
	@echo "== $(BUILD)/tests/server_test_alloc"
	@LM_SRC=$(CURDIR) $(BUILD)/tests/server_test_alloc
	@echo "== $(BUILD)/tests/server_test_strings"
	@LM_SRC=$(CURDIR) $(BUILD)/tests/server_test_strings
	@echo "== $(BUILD)/tests/server_fuzz_replay server/fuzz/corpus"
	@LM_SRC=$(CURDIR) $(BUILD)/tests/server_fuzz_replay $(wildcard server/fuzz/corpus/* server/fuzz/regressions/*)
	@echo "== server/tests/test_server.py ($(BUILD))"
	@LM_BIN=$(CURDIR)/$(BUILD)/bin LM_SRC=$(CURDIR) LM_BUILD=$(CURDIR)/$(BUILD) \
	  PROMTOOL=$(CURDIR)/$(PROMTOOL) ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} /usr/bin/python3 server/tests/test_server.py
	@echo "== server/tests/soak_inplace.py ($(BUILD), 12 s)"
	@ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} /usr/bin/python3 server/tests/soak_inplace.py \
	  --build $(CURDIR)/$(BUILD) --src $(CURDIR) --seconds 12 --every 0.4 \
	  $(if $(filter 1,$(SAN)),--no-rss-check)

# The fuzz target's corpus replay (gcc, plain or sanitized with the rest of the build).
# (The harness converts the example model at start-up: it links the converter too.)
$(BUILD)/tests/server_fuzz_replay: $(BUILD)/obj/server/fuzz/fuzz_request.o $(SERVER_OBJ) $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(CONV_LDLIBS) $(LDLIBS) $(SERVER_LDLIBS)

# No allocation on the request path after warm-up: malloc & co. wrapped at link time.
$(BUILD)/tests/server_test_alloc: $(BUILD)/obj/server/tests/test_alloc.o $(SERVER_OBJ) $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free \
	  -o $@ $^ $(CONV_LDLIBS) $(LDLIBS) $(SERVER_LDLIBS)

# Strings from .lm files and requests escaped in every output (JSON, Prometheus, logs).
$(BUILD)/tests/server_test_strings: $(BUILD)/obj/server/tests/test_strings.o $(SERVER_OBJ) $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(CONV_LDLIBS) $(LDLIBS) $(SERVER_LDLIBS)

# Re-seal a .lm file's checksums (tests/lmf_reseal.c): test_server.py builds a file whose
# self-test fails with it.
$(BUILD)/tests/lmf_reseal: $(BUILD)/obj/tests/lmf_reseal.o $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(CONV_LDLIBS) $(LDLIBS)

SERVE_LISTEN ?= 127.0.0.1:8080
serve: all
	@mkdir -p $(BUILD)/serve-models
	@$(BUILD)/bin/lmconvert -q examples/model.tar.gz -o $(BUILD)/serve-models/example.lm
	$(LMSERVE_BIN) --models $(BUILD)/serve-models --listen $(SERVE_LISTEN)

loadtest: deps all
	/usr/bin/python3 bench/server/loadtest/loadtest.py --build $(BUILD) $(LOADTEST_ARGS)

SOAK_SECONDS ?= 600
soak: deps all
	/usr/bin/python3 bench/server/loadtest/soak.py --build $(BUILD) --seconds $(SOAK_SECONDS)
soak-inplace: all
	/usr/bin/python3 server/tests/soak_inplace.py --build $(BUILD) --src $(CURDIR) \
	  --seconds $(SOAK_SECONDS) --every 10

# libFuzzer over the request path: the library and the server sources compiled with clang
# (tests/fuzz/fuzz.mk's flags and objects).
FUZZ_SERVER_OBJ := $(SERVER_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
$(FUZZ_DIR)/bin/fuzz_server_request: $(FUZZ_DIR)/obj/server/fuzz/fuzz_request.o $(FUZZ_SERVER_OBJ) $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(CONV_LDLIBS) $(LDLIBS) $(SERVER_LDLIBS)
fuzz-server-build: fuzz-deps $(FUZZ_DIR)/bin/fuzz_server_request
fuzz-server: fuzz-server-build
	@mkdir -p $(FUZZ_DIR)/corpus-new/server_request $(FUZZ_DIR)/crashes/server_request
	$(FUZZ_UBSAN) $(FUZZ_DIR)/bin/fuzz_server_request -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=4096 -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) -print_final_stats=1 \
	  -dict=server/fuzz/http.dict -artifact_prefix=$(FUZZ_DIR)/crashes/server_request/ \
	  $(FUZZ_DIR)/corpus-new/server_request server/fuzz/corpus
