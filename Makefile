# Two commands matter: `make run` and `make test` (see README.md). Both install what is missing,
# configure and build first.
PRESET ?= release
BUILD_DIR := $(if $(filter release,$(PRESET)),build,build-$(PRESET))
JOBS ?= $(shell nproc)
# The shared test data sits next to the repository (../shared). A clone made elsewhere (e.g. in a
# temporary directory) finds it next to the repository it was cloned from, when that is a local path.
ORIGIN_SHARED := $(shell o=$$(git config --get remote.origin.url 2>/dev/null) && [ -d "$$o/../shared" ] && cd "$$o/../shared" && pwd)
SHARED ?= $(abspath $(or $(wildcard ../shared),$(ORIGIN_SHARED),../shared))
# Configure a preset's build directory: $(call configure_preset,NAME).
configure_preset = cmake --preset $(1) -DIDMATCH_SHARED_DIR=$(SHARED) >/dev/null

.PHONY: all deps configure build run test test-e2e test-e2e-beside-asan-build test-asan test-fuzz test-tsan bench load eval fuzz clean format

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@$(call configure_preset,$(PRESET))

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The main job on embedded defaults: the verification service on http://127.0.0.1:8080, data in
# ./idmatch-data, in demo mode: the capture page at / works from this machine without a key, as
# the operator "demo". The first run creates that operator and prints its API key (once), for curl.
run: build
	@./$(BUILD_DIR)/idmatch operator list --data-dir ./idmatch-data 2>/dev/null | grep -q '^demo' || \
	  ./$(BUILD_DIR)/idmatch operator add demo --data-dir ./idmatch-data
	./$(BUILD_DIR)/idmatch serve --listen 127.0.0.1:8080 --data-dir ./idmatch-data --demo

test: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -LE slow
	@$(MAKE) --no-print-directory test-e2e-beside-asan-build
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz

# The capture page in Debian's Chromium against a real server (tests/e2e/run.mjs).
E2E = node tests/e2e/run.mjs --server $(BUILD_DIR)/idmatch --shared $(SHARED) --require-serve
test-e2e: build
	@$(E2E)

# make test's e2e pass: the browser suite mostly waits on the page's timers (49 s of CPU in 230 s
# on two cores), so the ASan build runs beside it at the lowest CPU priority. Its output is shown
# only if it fails; test-asan then finds it built.
test-e2e-beside-asan-build: build
	@$(call configure_preset,asan)
	@log=$$(mktemp); nice -n 19 cmake --build build-asan -j$(JOBS) >$$log 2>&1 & pid=$$!; \
	  $(E2E); e2e=$$?; \
	  wait $$pid; asan=$$?; \
	  if [ $$asan -ne 0 ]; then tail -n 60 $$log; echo "the ASan build failed"; fi; rm -f $$log; \
	  [ $$e2e -eq 0 ] && [ $$asan -eq 0 ]

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer. Two groups run in the plain
# pass only: Retention.* inspects what freed memory still holds, which under ASan is ASan's
# quarantine rather than our allocators (and LeakSanitizer cannot run under strace); ServerLoad.*
# asserts latencies that ASan's slowdown would turn into noise.
test-asan:
	@$(MAKE) --no-print-directory build PRESET=asan
	@ctest --test-dir build-asan --output-on-failure -j$(JOBS) -LE slow -E '^(Retention|ServerLoad)\.'

bench: build
	./bench/run_bench.sh

# The service's load report (not part of make test): one-shot verifications and whole sessions
# (card, 120-frame clip, liveness) for LOAD_SECONDS at the concurrency that saturates the
# machine, then at twice it; prints verifications/s, p50/p99, peak RSS, refusals and errors.
LOAD_SECONDS ?= 60
load: build
	@IDMATCH_SLOW=1 IDMATCH_LOAD_SECONDS=$(LOAD_SECONDS) ./$(BUILD_DIR)/tests/idmatch_tests \
	  --gtest_filter='ServerLoad.SustainedLoadThenOverload:ServerLoad.WholeSessionsAtSaturationThenTwice'

# Full LFW View-2 evaluation (not part of make test).
eval: build
	./$(BUILD_DIR)/idmatch eval --pairs $(SHARED)/data/faces/lfw_view2/pairs.csv --roc docs/lfw_roc.svg

# libFuzzer targets (fuzz/), each run for FUZZ_SECONDS (default 30) on one core, as many at a time
# as there are cores (FUZZ_JOBS). They live in the asan build (clang-14, ASan + UBSan, engine
# compiled with fuzzer coverage): one sanitizer build serves both the ASan test suite and the
# fuzzers.
fuzz: deps
	@$(call configure_preset,asan)
	@cmake --build build-asan -j$(JOBS) --target fuzz_targets
	@FUZZ_SECONDS=$(or $(FUZZ_SECONDS),30) BUILD=$(CURDIR)/build-asan SHARED=$(SHARED) ./fuzz/run_fuzz.sh

# The CI share of fuzzing (part of make test, after test-asan has built build-asan): every target
# for 30 s.
test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30

# The service's concurrency tests under ThreadSanitizer (not part of make test: see
# docs/threat-model.md for its cost). The server tests start build-tsan/idmatch, the TSan build
# of the server itself (IDMATCH_BINARY); every TSan report, the server's included, lands in
# build-tsan/tsan-logs and fails the target.
TSAN_TESTS ?= ^(ServerApi|ServerLoad|ServerLifecycle|ServerLiveness|ServerTls|ServerHardening|ServerDemo|AuditLog|Session)
test-tsan: deps
	@$(call configure_preset,tsan)
	@cmake --build build-tsan -j$(JOBS) --target idmatch idmatch_tests
	@rm -rf build-tsan/tsan-logs && mkdir -p build-tsan/tsan-logs
	@TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4:suppressions=$(CURDIR)/fuzz/tsan.supp:log_path=$(CURDIR)/build-tsan/tsan-logs/tsan" \
	  ctest --test-dir build-tsan --output-on-failure -j1 -R '$(TSAN_TESTS)'
	@if ls build-tsan/tsan-logs/tsan.* >/dev/null 2>&1; then \
	  cat build-tsan/tsan-logs/tsan.*; echo "FAIL: ThreadSanitizer reports (build-tsan/tsan-logs)"; exit 1; fi

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-debug build-asan build-tsan
