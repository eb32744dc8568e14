# lmrt — one Makefile for everything (see README.md).
#   make            library (build/lib/liblmrt.{a,so}) and tools (build/bin/)
#   make test       install missing packages, build, run every cmocka test, then again under
#                   AddressSanitizer + UndefinedBehaviorSanitizer
#   make run        convert and score the bundled example (examples/)
#   make install    PREFIX=/usr/local LIBDIR=$(PREFIX)/lib DESTDIR=  (headers, libraries, tools,
#                   lmrt.pc, man pages); make uninstall removes them (docs/man/man.mk)
#   make fixtures   regenerate the parity fixtures (XGBoost via /usr/bin/python3 + xgboost;
#                   pickles via python3-sklearn, python3-joblib: tests/gen_sklearn_fixtures.py;
#                   LightGBM via the pure-Python oracle tests/lgbm_reference.py)
#   make deps       install missing Debian packages (apt-get; idempotent)

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
# -ffp-contract=off: sums must round exactly as XGBoost's (no fused multiply-add contraction).
CFLAGS  ?= -O2 -g
SAN     ?=
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
XCFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
           -ffp-contract=off -DLMRT_BUILDING -Iinclude -I. $(SANFLAGS)
# The runtime (liblmrt) links only these (libc, libm, xxhash, libnuma, mimalloc: make
# check-layers checks liblmrt.so's and lmserve's libraries); the converter library (liblmconvert:
# importers, writer, lm_convert) adds json-c and libarchive, so serving processes never load them.
# OpenBLAS serves the batched products of wide multi-output linear models where it measured
# faster than the hand-written kernels (kernels/linear_blas.c; docs/architecture.md), but is not
# linked (issue 14: it brings libgfortran and libquadmath): the first plan that would pick that
# kernel dlopen()s libopenblas.so.0, Debian's pthread-free build (libopenblas-serial-dev) from
# OPENBLAS_DIR first, then the default search path; without it the hand-written kernels are
# planned. lmrt owns threading: the default (pthread) variant starts threads when loaded, and one
# started before main() with every signal unblocked took lmserve's SIGHUP (reload) and killed the
# server. OPENBLAS_LIBS links it directly, for the benchmarks that call it themselves.
OPENBLAS_DIR := /usr/lib/$(shell $(CC) -print-multiarch)/openblas-serial
OPENBLAS_LIBS := -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas
LDLIBS  := -lxxhash -lmimalloc -lnuma -lm
CONV_LDLIBS := -ljson-c -larchive -lz -lbz2 -llzma -llz4
TEST_LDLIBS := -lcmocka

DEBS := build-essential pkg-config libjson-c-dev libarchive-dev libxxhash-dev libmimalloc-dev \
        libcmocka-dev libnuma-dev libopenblas-serial-dev zlib1g-dev libbz2-dev liblzma-dev liblz4-dev \
        python3-xgboost python3-numpy python3-pandas python3-sklearn python3-joblib python3-lz4

# Layers (docs/architecture.md; make check-layers): base → formats (reader) → kernels → runtime
# is liblmrt; formats (IR, writer, importers) → convert is liblmconvert, on top of liblmrt.
LIB_SRC  := $(wildcard base/*.c kernels/*.c runtime/*.c) formats/lmf_read.c formats/objective.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CONV_SRC := $(wildcard formats/import/*.c convert/*.c) formats/ir.c formats/lmf_write.c
CONV_OBJ := $(CONV_SRC:%.c=$(BUILD)/obj/%.o)
# Static archives of both, in link order (the converter first: it calls into the runtime).
LIBS_A   := $(BUILD)/lib/liblmconvert.a $(BUILD)/lib/liblmrt.a
TOOLS    := lmconvert lmscore lminfo
TOOL_COMMON_SRC := $(filter-out $(TOOLS:%=tools/%.c),$(wildcard tools/*.c))
TOOL_COMMON_OBJ := $(TOOL_COMMON_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all lib tools test check check-san check-install check-layers check-docs run install deps fixtures clean
all: lib tools

lib: $(BUILD)/lib/liblmrt.a $(BUILD)/lib/liblmrt.so $(BUILD)/lib/liblmconvert.a \
     $(BUILD)/lib/liblmconvert.so
tools: $(TOOLS:%=$(BUILD)/bin/%)

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -mavx2 -mfma -MMD -MP -c $< -o $@
$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -MMD -MP -c $< -o $@
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(XCFLAGS) -MMD -MP -c $< -o $@
# Where kernels/linear_blas.c looks for the serial OpenBLAS first.
$(BUILD)/obj/kernels/linear_blas.o: XCFLAGS += -DLM_OPENBLAS_DIR='"$(OPENBLAS_DIR)"'

$(BUILD)/lib/liblmrt.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/lib/liblmrt.so: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -shared -Wl,-soname,liblmrt.so.0 -Wl,--no-undefined -o $@ $^ $(LDLIBS)
$(BUILD)/lib/liblmconvert.a: $(CONV_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
# The converter's shared library needs the runtime's (errors, verifier, reference kernels: the
# lm__ symbols liblmrt exports with LM_INTERNAL, base/visibility.h).
$(BUILD)/lib/liblmconvert.so: $(CONV_OBJ) $(BUILD)/lib/liblmrt.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -shared -Wl,-soname,liblmconvert.so.0 -Wl,--no-undefined -o $@ \
	  $(CONV_OBJ) -L$(BUILD)/lib -llmrt $(CONV_LDLIBS) $(LDLIBS)

# lmconvert needs the converter; lmscore and lminfo only the runtime.
$(BUILD)/bin/lmconvert: $(BUILD)/obj/tools/lmconvert.o $(TOOL_COMMON_OBJ) $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(TOOL_COMMON_OBJ) $(LIBS_A) $(CONV_LDLIBS) $(LDLIBS)
$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(TOOL_COMMON_OBJ) $(BUILD)/lib/liblmrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(TOOL_COMMON_OBJ) $(BUILD)/lib/liblmrt.a $(LDLIBS)

# Tests link the static library (to reach internal lm__ functions) and the tools' helpers.
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TOOL_COMMON_OBJ) $(LIBS_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(TOOL_COMMON_OBJ) $(LIBS_A) $(CONV_LDLIBS) $(LDLIBS) $(TEST_LDLIBS)

# Run every test program; each prints cmocka's summary. Tests find tools and fixtures through
# LM_BIN and LM_SRC.
check: all $(TESTS) check-layers
	@fail=0; for t in $(TESTS); do \
	  echo "== $$t"; LM_BIN=$(CURDIR)/$(BUILD)/bin LM_SRC=$(CURDIR) $$t || fail=1; \
	done; exit $$fail

# Dependencies point down only (docs/architecture.md): the include graph against the layer list,
# and no call from liblmrt.a into the converter library; the self-test first proves that an
# injected bad include and an injected upward call are caught. Also what liblmrt.so links: libc,
# libm, xxhash, libnuma, mimalloc and nothing else; neither it nor lmserve loads OpenBLAS,
# libgfortran or libquadmath (ldd; OpenBLAS is dlopen()ed on demand).
check-layers: lib $(BUILD)/bin/lmserve
	@/usr/bin/python3 tests/check_layers.py --lib-dir $(BUILD)/lib --self-test
	@/usr/bin/python3 tests/check_layers.py --lib-dir $(BUILD)/lib --program $(BUILD)/bin/lmserve

# The documentation (tests/check_docs.py, docs/testing.md): README.md's first lines and size,
# links that stay inside the repository, and the README's quick start run verbatim against the
# built programs (the served predictions must equal examples/expected.csv).
DEBS += curl
check: check-docs
check-docs: all
	@/usr/bin/python3 tests/check_docs.py --bin $(BUILD)/bin

check-san:
	$(MAKE) BUILD=build/san SAN=1 check

test: deps
	$(MAKE) check
	$(MAKE) check-install
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) check-san

# Install into a scratch DESTDIR, then build examples/score.c against it with pkg-config alone:
# once against the shared runtime, once against the static one with `pkg-config --static` (the
# shared libraries removed, so the link must take liblmrt.a and every library it needs);
# neither program may load libarchive or json-c (the converter's dependencies), nor OpenBLAS
# (dlopen()ed by liblmrt on demand, so not in lmrt.pc).
check-install: all
	@d=$$(mktemp -d) && $(MAKE) -s install DESTDIR=$$d PREFIX=/usr/local >/dev/null && \
	  pc="env PKG_CONFIG_SYSROOT_DIR=$$d PKG_CONFIG_PATH=$$d/usr/local/lib/pkgconfig pkg-config" && \
	  $(CC) examples/score.c $$($$pc --cflags --libs lmrt) -o $$d/score && \
	  $(BUILD)/bin/lmconvert -q examples/model.tar.gz -o $$d/m.lm && LD_LIBRARY_PATH=$$d/usr/local/lib $$d/score $$d/m.lm > $$d/out && \
	  mkdir $$d/static && cp -a $$d/usr $$d/static/ && rm -f $$d/static/usr/local/lib/liblm*.so* && \
	  $(CC) examples/score.c $$(PKG_CONFIG_SYSROOT_DIR=$$d/static PKG_CONFIG_PATH=$$d/static/usr/local/lib/pkgconfig \
	    pkg-config --static --cflags --libs lmrt) -o $$d/score-static && \
	  $$d/score-static $$d/m.lm > $$d/out-static && cmp -s $$d/out $$d/out-static && \
	  if ldd $$d/score-static | grep -q liblmrt; then echo "check-install: the static build loads liblmrt.so" >&2; exit 1; fi && \
	  if LD_LIBRARY_PATH=$$d/usr/local/lib ldd $$d/score $$d/score-static $(BUILD)/bin/lmserve | grep -E 'libarchive|libjson-c|libxml2|libicu|libstdc'; then \
	    echo "check-install: a runtime program loads a converter dependency (above)" >&2; exit 1; fi && \
	  if LD_LIBRARY_PATH=$$d/usr/local/lib ldd $$d/score $$d/score-static | grep -E 'libopenblas|libgfortran|libquadmath'; then \
	    echo "check-install: a program built with pkg-config lmrt links OpenBLAS (above): liblmrt dlopen()s it" >&2; exit 1; fi && \
	  echo "check-install: installed to $$d, examples/score.c built with pkg-config (shared and --static), scored: $$(cat $$d/out)" && rm -rf $$d

run: deps all
	@sh examples/run.sh $(BUILD)

fixtures:
	/usr/bin/python3 tests/gen_fixtures.py
	/usr/bin/python3 tests/gen_format_fixtures.py
	/usr/bin/python3 tests/gen_lightgbm_fixtures.py
	/usr/bin/python3 tests/gen_sklearn_fixtures.py

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: run as root: apt-get install$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

# LIBDIR (default $(PREFIX)/lib), e.g. LIBDIR=/usr/lib/x86_64-linux-gnu for Debian multiarch
# (dpkg-architecture -qDEB_HOST_MULTIARCH); lmrt.pc and lmrt-convert.pc follow it.
install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/lmrt.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/lib/liblmrt.a $(BUILD)/lib/liblmconvert.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/lib/liblmrt.so $(DESTDIR)$(LIBDIR)/liblmrt.so.0
	install -m 755 $(BUILD)/lib/liblmconvert.so $(DESTDIR)$(LIBDIR)/liblmconvert.so.0
	ln -sf liblmrt.so.0 $(DESTDIR)$(LIBDIR)/liblmrt.so
	ln -sf liblmconvert.so.0 $(DESTDIR)$(LIBDIR)/liblmconvert.so
	install -m 755 $(TOOLS:%=$(BUILD)/bin/%) $(BUILD)/bin/lmserve $(DESTDIR)$(PREFIX)/bin/
	for pc in lmrt lmrt-convert; do \
	  sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' -e 's|@VERSION@|$(shell sed -n 's/^#define LM_VERSION_STRING "\(.*\)"/\1/p' include/lmrt.h)|' \
	    $$pc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/$$pc.pc; done

clean:
	rm -rf build

# Objects are kept (not deleted as intermediates), so rebuilds are incremental.
.SECONDARY:
# A failed link or archive leaves no file behind (a half-written .so looked up to date).
.DELETE_ON_ERROR:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Benchmarks (bench/bench.mk): make bench, bench-check, bench-ci, bench-report.
-include bench/bench.mk
# lmbench's FM engines and time_fm call OpenBLAS themselves (liblmrt loads it on demand).
$(BENCH_DIR)/lmbench $(BUILD)/bench/time_fm: LDLIBS += $(OPENBLAS_LIBS)

# Fuzzing (tests/fuzz/fuzz.mk): make fuzz runs each libFuzzer target for a bounded time; the
# corpora are replayed by `make test` through tests/test_fuzz_replay.c.
-include tests/fuzz/fuzz.mk

# Contribution timing against XGBoost's C API (tests/contrib.mk): make contrib-bench.
-include tests/contrib.mk

# lmserve (server/server.mk: build/bin/lmserve, its tests hooked into `check`, make serve,
# make loadtest) and the deployment checks (deploy/deploy.mk: manifests and Dockerfile,
# hooked into `check`).
-include server/server.mk
-include deploy/deploy.mk

# Man pages from the manual pages under docs/ (docs/man/man.mk: make man; make install also
# installs them under $(PREFIX)/share/man; make uninstall; check-man, run by make check).
-include docs/man/man.mk

# Python and Go packages over liblmrt (bindings/bindings.mk: check-bindings, run by make check;
# bench-bindings).
-include bindings/bindings.mk
