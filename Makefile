# portpool: `make demo` shows the main job on a scratch registry; `make test` runs every suite.
# Both work on a fresh clone: each suite installs what it needs (virtualenv, npm packages).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export CARGO_TARGET_DIR ?= $(CURDIR)/target
CARGO ?= cargo
PORTPOOL := $(CARGO_TARGET_DIR)/debug/portpool


.PHONY: cargo-fuzz all build demo test lint test-rust test-c test-go test-python test-node test-interop test-contrib fuzz-smoke fuzz bench install clean

all: build

build:
	$(CARGO) build --workspace

demo:
	$(CARGO) build -p portpool-cli
	PORTPOOL=$(PORTPOOL) ./scripts/demo.sh

test: lint test-rust test-c test-go test-python test-node test-interop test-contrib fuzz-smoke
	@echo "make test: every suite passed"

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

test-c:
	$(MAKE) -C ffi test

test-go:
	$(MAKE) -C bindings/go test

test-python:
	$(MAKE) -C bindings/python test

test-node:
	$(MAKE) -C bindings/node test

# Fuzzing runs on the stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
CARGO_FUZZ_VERSION := 0.13.1
FUZZ_TARGETS := registry_reader arguments
FUZZ_SECONDS ?= 5
FUZZ := cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz

cargo-fuzz:
	@cargo fuzz --version 2>/dev/null | grep -q '$(CARGO_FUZZ_VERSION)' || \
	    $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked

# A few seconds per target, in make test: finds regressions, not deep bugs.
fuzz-smoke: cargo-fuzz
	$(FUZZ) build --dev -s none
	for t in $(FUZZ_TARGETS); do \
	    ( $(FUZZ) run --dev -s none $$t -- -max_total_time=$(FUZZ_SECONDS) ) || exit 1; \
	done

# A long run of one target: make fuzz TARGET=registry_reader FUZZ_SECONDS=600
fuzz: cargo-fuzz
	$(FUZZ) run -s none $(or $(TARGET),registry_reader) -- -max_total_time=$(FUZZ_SECONDS)

# Benchmarks, never part of make test: results and ratios go to docs/benchmarks.md.
bench:
	$(MAKE) -C bench all

test-interop:
	$(MAKE) -C tests/interop test

# The FOSS stack's port_manager.sh on portpool: sourced by 50 installers at once, and run.
test-contrib:
	$(CARGO) build -p portpool-cli
	PORTPOOL=$(PORTPOOL) contrib/foss/test/test_port_manager.sh

install:
	$(MAKE) -C ffi install PREFIX=$(or $(PREFIX),/usr/local)

clean:
	$(CARGO) clean
