# Two commands matter: `make run` and `make test` (see README.md). Both install what is missing,
# configure and build first.
PRESET ?= release
BUILD_DIR := $(if $(filter release,$(PRESET)),build,build-$(PRESET))
JOBS ?= $(shell nproc)
SHARED ?= $(abspath ../shared)

.PHONY: all deps configure build run test test-e2e test-asan bench eval fuzz clean format

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) -DIDMATCH_SHARED_DIR=$(SHARED) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The main job on embedded defaults: the verification service on http://127.0.0.1:8080, data in
# ./idmatch-data. The first run creates an operator "demo" and prints its API key (once).
run: build
	@./$(BUILD_DIR)/idmatch operator list --data-dir ./idmatch-data 2>/dev/null | grep -q '^demo' || \
	  ./$(BUILD_DIR)/idmatch operator add demo --data-dir ./idmatch-data
	./$(BUILD_DIR)/idmatch serve --listen 127.0.0.1:8080 --data-dir ./idmatch-data

test: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -LE slow
	@$(MAKE) --no-print-directory test-e2e
	@$(MAKE) --no-print-directory test-asan

# The capture page in Debian's Chromium against a real server (tests/e2e/run.mjs).
test-e2e: build
	@node tests/e2e/run.mjs --server $(BUILD_DIR)/idmatch --shared $(SHARED) --require-serve

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer. Two groups run in the plain
# pass only: Retention.* inspects what freed memory still holds, which under ASan is ASan's
# quarantine rather than our allocators (and LeakSanitizer cannot run under strace); ServerLoad.*
# asserts latencies that ASan's slowdown would turn into noise.
test-asan:
	@$(MAKE) --no-print-directory build PRESET=asan
	@ctest --test-dir build-asan --output-on-failure -j$(JOBS) -LE slow -E '^(Retention|ServerLoad)\.'

bench: build
	./bench/run_bench.sh

# Full LFW View-2 evaluation (not part of make test).
eval: build
	./$(BUILD_DIR)/idmatch eval --pairs $(SHARED)/data/faces/lfw_view2/pairs.csv --roc docs/lfw_roc.svg

# libFuzzer targets (clang), each run for FUZZ_SECONDS (default 30).
fuzz: deps
	@cmake --preset fuzz -DIDMATCH_SHARED_DIR=$(SHARED) >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),30) SHARED=$(SHARED) ./fuzz/run_fuzz.sh

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-debug build-asan build-fuzz
