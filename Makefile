# Makefile: the project's front door. `make run` and `make test` are the two
# README commands; both install what is missing first (scripts/deps.sh), so
# they work on a fresh Debian 12 machine as well as on a warm one.
#
# Stack ports and state follow the environment (see scripts/stack.sh):
#   KAFKA_PORT=9092 KAFKA_CONTROLLER_PORT=9093 REGISTRY_PORT=8081 STACK_DIR=var
#   CART_PORT=8000 ORDER_PORT=8001; ORDERSTREAM_M2 = Maven cache.
# The e2e suite starts its own stacks on other ports (tests/e2e/conftest.py).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# cmake's generated makefiles recurse; their "Entering directory" lines are noise
MAKEFLAGS += --no-print-directory

# two cores shared by everyone: never more
JOBS ?= 2
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
VENV ?= .venv
PYTEST_ARGS ?=
CMAKE ?= cmake

.PHONY: help deps infra build build-asan run start-stack stop status test unit e2e \
        clean distclean format bench

help: ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

deps: ## install missing Debian packages and the Python venv (.venv)
	@scripts/deps.sh

infra: deps ## fetch Kafka and the registry from Maven Central into var/infra
	@scripts/fetch-infra.sh

build: deps ## release build of both services into build/
	@$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)

# Debug: exact sanitizer stack traces; the release build compiles with
# optimisation, so -O2-only warnings (e.g. format-truncation) are caught there.
build-asan: deps ## ASan+UBSan build (what the tests run) into build-asan/
	@$(CMAKE) -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug \
	  -DORDERSTREAM_SANITIZE=ON >/dev/null
	@$(CMAKE) --build $(ASAN_DIR) -j$(JOBS)

run: infra build ## install, build, start Kafka + registry + both services, leave them running
	@scripts/stack.sh start
	@BIN_DIR=$(BUILD_DIR) scripts/services.sh start
	@BIN_DIR=$(BUILD_DIR) scripts/services.sh urls

start-stack: infra ## start only Kafka and the registry
	@scripts/stack.sh start

stop: ## stop what `make run` started (services, registry, Kafka; data kept)
	@BIN_DIR=$(BUILD_DIR) scripts/services.sh stop
	@scripts/stack.sh stop

status: ## what is running
	@BIN_DIR=$(BUILD_DIR) scripts/services.sh status || true
	@scripts/stack.sh status || true

test: infra build-asan build ## everything: C unit tests (ASan+UBSan), then the e2e suite
	@echo "== C unit tests (ctest, $(ASAN_DIR))"
	@scripts/with-stack.sh ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS)
	@echo "== end-to-end tests (pytest, own stack)"
	@ORDERSTREAM_BIN_DIR=$(ASAN_DIR) ORDERSTREAM_REQUIRE_BINARIES=1 $(VENV)/bin/python -m pytest tests/e2e $(PYTEST_ARGS)

unit: infra build-asan ## C unit tests only (given a private Kafka + registry: scripts/with-stack.sh)
	@scripts/with-stack.sh ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS)

e2e: infra build-asan ## end-to-end tests only (PYTEST_ARGS="-k smoke" to pick)
	@ORDERSTREAM_BIN_DIR=$(ASAN_DIR) ORDERSTREAM_REQUIRE_BINARIES=1 $(VENV)/bin/python -m pytest tests/e2e $(PYTEST_ARGS)

bench: infra build ## measure (not a test): writes docs/BENCHMARKS.md; ~15 min
	@bench/run.sh

format: ## clang-format all C sources in place
	@find src tests -name '*.[ch]' -print0 | xargs -0 -r clang-format -i

clean: ## remove the build directories
	rm -rf $(BUILD_DIR) $(ASAN_DIR)

distclean: stop clean ## also remove var/ (data, logs, unpacked jars) and .venv
	rm -rf var $(VENV)
