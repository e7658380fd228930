# drhost — see README.md.
#   make demo   run a real recovery against the local lab
#   make test   start the lab, build once, run every test
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
WASM_OUT := target/wasm/$(WASM_TARGET)/release
PLUGINS := $(patsubst plugins/%/Cargo.toml,%,$(wildcard plugins/*/Cargo.toml))
FIXTURES := $(patsubst tests/plugins/%/Cargo.toml,%,$(wildcard tests/plugins/*/Cargo.toml))
DRHOST := target/release/drhost
LAB_CONFIG := .lab/drhost.toml

.PHONY: build host plugins fixtures examples test lab lab-down demo bench lint clean

## build: the host (target/release/drhost), every plugin (plugins/<id>.wasm), test fixtures, examples
build: host plugins fixtures examples

host:
	$(CARGO) build --release --workspace

plugins:
	cd plugins && CARGO_TARGET_DIR=../target/wasm $(CARGO) build --release --target $(WASM_TARGET)
	for id in $(PLUGINS); do cp $(WASM_OUT)/$${id//-/_}.wasm plugins/$$id.wasm; done

fixtures:
	cd tests/plugins && CARGO_TARGET_DIR=../../target/wasm $(CARGO) build --release --target $(WASM_TARGET)
	for f in $(FIXTURES); do cp $(WASM_OUT)/$${f//-/_}.wasm tests/plugins/$$f.wasm; done

examples:
	bash examples/python-probe/build.sh

## test: every test, against the real services of the lab
test: lab build
	$(CARGO) test --release --workspace

## lab: install and start the real services on 127.0.0.1 (idempotent)
lab:
	bash lab/up.sh

## lab-down: stop only what the lab started
lab-down:
	bash lab/down.sh

## demo: the main job on the local lab
demo: lab build
	$(DRHOST) run plugins/hello.wasm --config $(LAB_CONFIG) --param url="$$(grep '^NGINX_URL=' .lab/env | cut -d= -f2-)/health"

## bench: print the foundation's performance figures
bench: build
	$(CARGO) bench -p drhost-tests --bench foundation

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

clean:
	rm -f plugins/*.wasm tests/plugins/*.wasm
	$(CARGO) clean
