# iggy-connectors for Go. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := build/bin
export CGO_ENABLED_RUNTIME := 0

.PHONY: help setup build plugins test test-unit bench bench-smoke soak demo fuzz clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

setup: ## install system packages, the Python venv and Go modules (idempotent)
	scripts/setup.sh

build: ## build the runtime (CGO_ENABLED=0) and the Iggy development server into build/bin
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/iggy-connectors ./runtime/cmd/iggy-connectors
	CGO_ENABLED=0 $(GO) build -o $(BIN)/iggy-devserver ./test/cmd/iggy-devserver

plugins: ## build every connector plugin (Go, C, Rust) into build/plugins
	scripts/build-plugins.sh

test: ## set up, then run every test (unit, integration against real servers, interop)
	scripts/test.sh

test-unit: ## unit tests only (no external services)
	scripts/test.sh --unit

bench: ## full benchmark report: bench/RESULTS.md and the chart
	scripts/bench.sh

bench-smoke: ## a few-second run of the benchmark harness
	scripts/bench.sh --smoke

soak: ## memory soak of the runtime, 10 minutes (SOAK=1h for an hour): bench/out/full/soak.json, SOAK.md, soak.png
	$(if $(SOAK),SOAK_DURATION=$(SOAK) ,)scripts/bench.sh --soak

demo: ## random source -> Iggy -> stdout sink, in the foreground (Ctrl-C stops)
	scripts/demo.sh

clean: ## remove build outputs
	rm -rf build

.PHONY: docker-check
docker-check: ## the Dockerfile's build stage as plain commands, the result run with the image's ENV, hadolint (no Docker engine needed)
	scripts/check-dockerfile.sh
