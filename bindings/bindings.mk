# bindings/bindings.mk — the Python package (bindings/python) and the Go module (bindings/go)
# over liblmrt (included by the top Makefile).
#
#   make check-bindings   part of `make check`: builds the Python extension (pip, offline, into
#                         $(BUILD)/bindings/site) and a wheel + sdist (python3 -m build), runs
#                         bindings/python/tests/test_lmrt.py with /usr/bin/python3, then installs
#                         lmrt into a scratch DESTDIR ($(BUILD)/bindings/stage) and runs
#                         `go vet` and `go test -race` against it through pkg-config
#   make bench-bindings   single-row overhead: Python vs the C call vs xgboost's
#                         inplace_predict (bindings/bench_overhead.py), Go vs C (go test -bench)
#
# Everything runs offline: pip and build without isolation (Debian's setuptools, wheel, numpy),
# Go with GOPROXY=off, no module dependencies, its caches under $(BUILD)/bindings.
# Under SAN=1 (make check-san) the libraries are built with ASan+UBSan: the Python tests then
# run with libasan preloaded, and the Go tests are built with -asan.

BIND_DIR   := $(BUILD)/bindings
BIND_ABS   := $(abspath $(BIND_DIR))
BIND_PY    := /usr/bin/python3
BIND_SITE  := $(BIND_DIR)/site
BIND_STAGE := $(BIND_DIR)/stage
# python3-dev: Python.h; setuptools/wheel/pip/build: the offline build front-ends; golang-go:
# the Go toolchain (cgo); numpy/pandas/xgboost: the package's inputs and its parity tests;
# scipy: a C++ module the tests import after lmrt (python3-xgboost pulls it in anyway).
DEBS += python3-dev python3-setuptools python3-wheel python3-pip python3-build python3-numpy \
        python3-pandas python3-xgboost python3-scipy golang-go

BIND_PY_SRC := $(wildcard bindings/python/src/*) $(wildcard bindings/python/lmrt/*) \
               bindings/python/setup.py bindings/python/MANIFEST.in \
               bindings/python/README.md
BIND_GO_SRC := $(wildcard bindings/go/*.go) bindings/go/go.mod

# The extension links $(BUILD)/lib/lib{lmconvert,lmrt}.a (bindings/python/setup.py says why).
BIND_PYENV := LMRT_ROOT=$(CURDIR) LMRT_BUILD_DIR=$(abspath $(BUILD))
ifeq ($(SAN),1)
BIND_PYENV += CFLAGS="$(SANFLAGS)" LDFLAGS="$(SANFLAGS)"
BIND_PYRUN := LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
              ASAN_OPTIONS=detect_leaks=0 LMRT_TEST_SAN=1
BIND_GOTEST_FLAGS := -asan
else
BIND_GOTEST_FLAGS := -race
endif
BIND_GOENV := GOCACHE=$(BIND_ABS)/gocache GOPATH=$(BIND_ABS)/gopath GOPROXY=off GOFLAGS= \
              GO111MODULE=on CGO_ENABLED=1 PKG_CONFIG_SYSROOT_DIR=$(BIND_ABS)/stage \
              PKG_CONFIG_PATH=$(BIND_ABS)/stage/usr/local/lib/pkgconfig \
              LD_LIBRARY_PATH=$(BIND_ABS)/stage/usr/local/lib LM_SRC=$(CURDIR) \
              LM_BIN=$(CURDIR)/$(BUILD)/bin

.PHONY: check-bindings bench-bindings python-dist

# pip builds from a copy of bindings/python (without any in-place build/ left by a user's
# `pip install ./bindings/python`) so that its build/ and egg-info land under $(BUILD): a build
# in place could reuse an extension linked against the other BUILD's archives.
$(BIND_SITE)/.stamp: $(BIND_PY_SRC) $(LIBS_A) include/lmrt.h
	@rm -rf $(BIND_SITE) $(BIND_DIR)/pysrc && mkdir -p $(BIND_DIR) && cp -r bindings/python $(BIND_DIR)/pysrc && \
	  rm -rf $(BIND_DIR)/pysrc/build $(BIND_DIR)/pysrc/dist $(BIND_DIR)/pysrc/*.egg-info
	$(BIND_PYENV) $(BIND_PY) -m pip install -q --root-user-action=ignore --no-build-isolation --no-deps --no-index \
	  --target $(BIND_SITE) $(BIND_DIR)/pysrc
	@touch $@

# Wheel and sdist with the PEP 517 front-end, offline (python3-build), from the same copy.
$(BIND_DIR)/dist/.stamp: $(BIND_PY_SRC) $(LIBS_A) include/lmrt.h | $(BIND_SITE)/.stamp
	@rm -rf $(BIND_DIR)/dist $(BIND_DIR)/pysrc-dist && cp -r bindings/python $(BIND_DIR)/pysrc-dist && \
	  rm -rf $(BIND_DIR)/pysrc-dist/build $(BIND_DIR)/pysrc-dist/dist $(BIND_DIR)/pysrc-dist/*.egg-info
	$(BIND_PYENV) $(BIND_PY) -m build --no-isolation --outdir $(BIND_DIR)/dist \
	  $(BIND_DIR)/pysrc-dist > $(BIND_DIR)/dist.log 2>&1 || { cat $(BIND_DIR)/dist.log; exit 1; }
	@$(BIND_PY) -c "import sys, zipfile, glob; w = glob.glob('$(BIND_DIR)/dist/*.whl'); \
	  names = zipfile.ZipFile(w[0]).namelist() if len(w) == 1 else []; \
	  need = ['lmrt/__init__.py', 'lmrt/__init__.pyi', 'lmrt/py.typed', 'lmrt/_frame.py']; \
	  miss = [n for n in need if n not in names] + ([] if any(n.startswith('lmrt/_lmrt.') and n.endswith('.so') for n in names) else ['lmrt/_lmrt*.so']); \
	  sys.exit('python-dist: wheel %s lacks %s' % (w, miss)) if miss else print('python-dist: %s' % w[0])"
	@touch $@
python-dist: $(BIND_DIR)/dist/.stamp

# The installed library (make install into a scratch DESTDIR), which the Go module finds with
# `#cgo pkg-config: lmrt`.
$(BIND_STAGE)/.stamp: $(LIBS_A) $(BUILD)/lib/liblmrt.so $(BUILD)/lib/liblmconvert.so include/lmrt.h lmrt.pc.in
	@rm -rf $(BIND_STAGE) && mkdir -p $(BIND_DIR)
	@$(MAKE) -s install DESTDIR=$(BIND_ABS)/stage PREFIX=/usr/local >/dev/null
	@touch $@

check: check-bindings
check-bindings: all $(BIND_SITE)/.stamp $(BIND_DIR)/dist/.stamp $(BIND_STAGE)/.stamp
	@echo "== bindings/python/tests/test_lmrt.py ($(BUILD))"
	@LM_SRC=$(CURDIR) LM_BIN=$(CURDIR)/$(BUILD)/bin PYTHONPATH=$(BIND_ABS)/site $(BIND_PYRUN) \
	  $(BIND_PY) bindings/python/tests/test_lmrt.py
	@echo "== bindings/go: go vet, go test $(BIND_GOTEST_FLAGS) ($(BUILD))"
	@cd bindings/go && $(BIND_GOENV) go vet ./... && \
	  { $(BIND_GOENV) go test $(BIND_GOTEST_FLAGS) -count=1 -v ./... > $(BIND_ABS)/go-test.log 2>&1; \
	    s=$$?; grep -vE '^(=== RUN|\s*$$)' $(BIND_ABS)/go-test.log; exit $$s; }

# Overhead of a single-row call through each binding, medians (bindings/bench_overhead.py): the
# benchmark 'small' model (bench/gen_models.py --only small: 100 trees of depth 6, 30 features,
# trained once into $(BUILD)/bindings/models), or BENCH_BIND_MODEL=M.lm (with M.json beside it
# for the xgboost comparison).
BENCH_BIND_MODEL ?= $(BIND_DIR)/models/small.lm
$(BIND_DIR)/models/small.json: bench/gen_models.py
	$(BIND_PY) bench/gen_models.py --out $(BIND_DIR)/models --only small
$(BIND_DIR)/models/small.lm: $(BIND_DIR)/models/small.json $(BUILD)/bin/lmconvert
	$(BUILD)/bin/lmconvert -q $< -o $@
bench-bindings: all $(BIND_SITE)/.stamp $(BIND_STAGE)/.stamp $(BIND_DIR)/cloop $(BENCH_BIND_MODEL)
	PYTHONPATH=$(BIND_ABS)/site $(BIND_PY) bindings/bench_overhead.py --model $(BENCH_BIND_MODEL) \
	  --cloop $(BIND_DIR)/cloop --json $(BIND_DIR)/bench_python.json --row-out $(BIND_DIR)/bench_row.f32; \
	  s=$$?; cd bindings/go && $(BIND_GOENV) LMRT_EXAMPLE_MODEL=$(abspath $(BENCH_BIND_MODEL)) \
	  LMRT_BENCH_ROW=$(BIND_ABS)/bench_row.f32 go test -run '^$$' -bench Overhead -benchtime 1x \
	  -count 5 ./... > $(BIND_ABS)/bench_go.txt && \
	  $(BIND_PY) ../bench_overhead.py --go-summary $(BIND_ABS)/bench_go.txt && exit $$s

# The C reference loop of bench_overhead.py: lm_predict on one row, timed in C.
$(BIND_DIR)/cloop: bindings/bench_cloop.c include/lmrt.h $(BUILD)/lib/liblmrt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -o $@ $< $(BUILD)/lib/liblmrt.a $(LDLIBS)
