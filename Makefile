# troupe: the two commands (see README.md).
#   make run    install what is missing, build, run the default job on configs/local.yaml
#   make test   install what is missing, build, run the whole test suite
#   make build  build only (build/troupe)
# Options: SAN=address,undefined builds into build-san/ with sanitizers;
#          CONFIG=path/to.yaml picks another config for `make run`;
#          CTEST_ARGS='-L unit' narrows the test run; JOBS=N sets build parallelism.
SHELL := /bin/bash
CONFIG ?= configs/local.yaml
JOBS ?= $(shell nproc)
SAN ?=
BUILD_TYPE ?= RelWithDebInfo
ifeq ($(SAN),)
BUILD_DIR ?= build
else
BUILD_DIR ?= build-san
endif
CMAKE_FLAGS ?=

.PHONY: run test build deps configure clean

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTROUPE_SANITIZE=$(SAN) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/troupe run $(CONFIG)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

clean:
	rm -rf build build-san
