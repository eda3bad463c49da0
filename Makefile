# Ballast front door. `make run` starts ballastd on the embedded default; `make test` runs every
# test with AddressSanitizer + UndefinedBehaviorSanitizer; `make bench` runs the benchmarks;
# `make fuzz` runs each libFuzzer target for FUZZ_SECONDS (tests/fuzz/README.md).
SHELL := /bin/bash
JOBS ?= 2
FUZZ_SECONDS ?= 60
export CCACHE_DIR ?= $(HOME)/.cache/ballast-ccache
# Paths relative to the checkout, so a second clone or worktree reuses the cache.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

.PHONY: deps deps-bench configure-release build-release build-test run test soak bench fuzz clean

deps:
	scripts/install-deps

deps-bench:
	scripts/install-deps --bench

configure-release: deps
	cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBALLAST_SANITIZE=OFF -DBALLAST_FAULT_INJECTION=OFF

build-release: configure-release
	cmake --build build/release -j$(JOBS)

build-test: deps
	cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DBALLAST_SANITIZE=ON -DBALLAST_FAULT_INJECTION=ON
	cmake --build build/test -j$(JOBS)

run: configure-release
	cmake --build build/release -j$(JOBS) --target ballastd ballast
	mkdir -p var/ballast
	./build/release/src/daemon/ballastd --data-dir var/ballast --http-listen 127.0.0.1:8080

test: build-test
	ctest --test-dir build/test -j$(JOBS) --output-on-failure --timeout 900

# The kill -9 loop of `make test` for longer: SOAK_ITERATIONS crashes within SOAK_SECONDS; it
# prints its seed first, and SOAK_SEED=S repeats a run's schedule of kills.
SOAK_ITERATIONS ?= 1000
SOAK_SECONDS ?= 3600
SOAK_SEED ?=
soak: build-test
	/usr/bin/python3 tests/e2e/test_kill9_loop.py --ballastd build/test/src/daemon/ballastd \
	  --iterations $(SOAK_ITERATIONS) --max-seconds $(SOAK_SECONDS) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

bench: deps-bench build-release
	bench/run-all build/release

fuzz:
	scripts/install-deps --fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/run-fuzz

clean:
	rm -rf build
