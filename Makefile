# Two commands matter: `make run` and `make test` (see README.md). Both install what is missing,
# configure and build first.
PRESET ?= release
BUILD_DIR := $(if $(filter release,$(PRESET)),build,build-$(PRESET))
JOBS ?= $(shell nproc)
SHARED ?= $(abspath ../shared)

.PHONY: all deps configure build run test test-asan bench eval clean format

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) -DIDMATCH_SHARED_DIR=$(SHARED) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The main job on embedded defaults: verify a same-person LFW pair end to end and print the decision.
run: build
	./$(BUILD_DIR)/idmatch verify \
	  --reference $(SHARED)/data/faces/lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0001.jpg \
	  --probe $(SHARED)/data/faces/lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0004.jpg

test: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -LE slow
	@$(MAKE) --no-print-directory test-asan

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	@$(MAKE) --no-print-directory build PRESET=asan
	@ctest --test-dir build-asan --output-on-failure -j$(JOBS) -LE slow

bench: build
	./bench/run_bench.sh

# Full LFW View-2 evaluation (not part of make test).
eval: build
	./$(BUILD_DIR)/idmatch eval --pairs $(SHARED)/data/faces/lfw_view2/pairs.csv --roc docs/lfw_roc.svg

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-debug build-asan
