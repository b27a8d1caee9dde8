# portpool: `make demo` shows the main job on a scratch registry; `make test` runs every suite.
# Both work on a fresh clone: each suite installs what it needs (virtualenv, npm packages).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export CARGO_TARGET_DIR ?= $(CURDIR)/target
CARGO ?= cargo
PORTPOOL := $(CARGO_TARGET_DIR)/debug/portpool

.PHONY: all build demo test lint test-rust test-c test-go test-python test-node test-interop install clean

all: build

build:
	$(CARGO) build --workspace

demo:
	$(CARGO) build -p portpool-cli
	PORTPOOL=$(PORTPOOL) ./scripts/demo.sh

test: lint test-rust test-c test-go test-python test-node
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

install:
	$(MAKE) -C ffi install PREFIX=$(or $(PREFIX),/usr/local)

clean:
	$(CARGO) clean
