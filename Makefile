# Makefile: the project's front door. `make run` and `make test` are the two
# README commands; both install what is missing first (scripts/deps.sh), so
# they work on a fresh Debian 12 machine as well as on a warm one.
#
# Stack ports and state follow the environment (see scripts/stack.sh):
#   KAFKA_PORT=9092 KAFKA_CONTROLLER_PORT=9093 REGISTRY_PORT=8081 STACK_DIR=var
#   CART_PORT=8000 ORDER_PORT=8001; ORDERSTREAM_M2 = Maven cache.
#   KAFKA_BROKERS=3: a three-node KRaft cluster (clients 9092, 9094, 9096),
#   for run, start-stack, stop and status alike (make and the command line
#   pass it to the scripts through the environment).
# The e2e suite starts its own stacks on other ports (tests/e2e/conftest.py).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# cmake's generated makefiles recurse; their "Entering directory" lines are noise
MAKEFLAGS += --no-print-directory

# two cores shared by everyone: never more (builds, ctest, memcheck and fuzz
# run this many at a time)
JOBS ?= 2
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
MEMCHECK_DIR ?= build-memcheck
# libFuzzer seconds per target: `make fuzz` (longer tier) and inside `make test`
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 20
VENV ?= .venv
PYTEST_ARGS ?=
CMAKE ?= cmake

.PHONY: help deps doctor toolchain infra build build-asan build-fuzz build-memcheck run start-stack stop \
        status test unit e2e fuzz memcheck clean distclean format bench soak

help: ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# What deps.sh installs and doctor.sh checks: `make run` needs the build and
# run groups only (so it stays quick on a fresh machine), `make test` the test
# tools too, `make bench` the load generators. Target-specific values reach
# the prerequisites, so `make test` installs and checks the test group.
DEPS_GROUPS ?= all
run start-stack: DEPS_GROUPS = run
test unit e2e fuzz memcheck soak: DEPS_GROUPS = test
bench: DEPS_GROUPS = bench

deps: ## install missing Debian packages and the Python venv (.venv)
	@scripts/deps.sh $(DEPS_GROUPS)

doctor: ## toolchain self-check (seconds): each build kind compiles and links, each tool is found
	@scripts/doctor.sh $(DEPS_GROUPS)

# install, then check: the long builds and tests start only on a sound toolchain
toolchain: deps
	@scripts/doctor.sh $(DEPS_GROUPS)

infra: toolchain ## fetch Kafka and the registry from Maven Central into var/infra, Swagger UI (npm) into var/docs-ui
	@scripts/fetch-infra.sh
	@scripts/fetch-docs-ui.sh

build: toolchain ## release build of both services into build/
	@$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)

# Debug: exact sanitizer stack traces; the release build compiles with
# optimisation, so -O2-only warnings (e.g. format-truncation) are caught there.
build-asan: toolchain ## ASan+UBSan build (what the tests run) into build-asan/
	@$(CMAKE) -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug \
	  -DORDERSTREAM_SANITIZE=ON >/dev/null
	@$(CMAKE) --build $(ASAN_DIR) -j$(JOBS)

# libFuzzer targets (tests/fuzz/fuzz_*.c): clang, ASan+UBSan, no unit tests
build-fuzz: toolchain ## libFuzzer targets (clang, ASan+UBSan) into build-fuzz/
	@$(CMAKE) -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DORDERSTREAM_FUZZ=ON -DORDERSTREAM_SANITIZE=ON -DORDERSTREAM_TESTS=OFF >/dev/null
	@$(CMAKE) --build $(FUZZ_DIR) -j$(JOBS)

# valgrind cannot run ASan binaries: a Debug build without sanitizers
build-memcheck: toolchain ## unit tests without sanitizers (for valgrind) into build-memcheck/
	@$(CMAKE) -S . -B $(MEMCHECK_DIR) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@$(CMAKE) --build $(MEMCHECK_DIR) -j$(JOBS)

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

test: infra build-asan build build-memcheck build-fuzz ## everything: unit tests (ASan+UBSan, then valgrind), short fuzz, e2e
	@echo "== C unit tests (ctest, $(ASAN_DIR)), then valgrind memcheck ($(MEMCHECK_DIR)), one private stack"
	@scripts/with-stack.sh bash -c 'ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) && \
	  JOBS=$(JOBS) tests/unit/memcheck.sh $(MEMCHECK_DIR)'
	@echo "== libFuzzer, $(TEST_FUZZ_SECONDS)s per target ($(FUZZ_DIR))"
	@JOBS=$(JOBS) FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_DIR)
	@echo "== end-to-end tests (pytest, own stack)"
	@ORDERSTREAM_BIN_DIR=$(ASAN_DIR) ORDERSTREAM_REQUIRE_BINARIES=1 $(VENV)/bin/python -m pytest tests/e2e $(PYTEST_ARGS)

unit: infra build-asan ## C unit tests only (given a private Kafka + registry: scripts/with-stack.sh)
	@scripts/with-stack.sh ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS)

e2e: infra build-asan ## end-to-end tests only (PYTEST_ARGS="-k smoke" to pick)
	@ORDERSTREAM_BIN_DIR=$(ASAN_DIR) ORDERSTREAM_REQUIRE_BINARIES=1 $(VENV)/bin/python -m pytest tests/e2e $(PYTEST_ARGS)

# ASan's quarantine (256 MiB of freed blocks held back) makes the ASan RSS
# curve climb for a while by design; SOAK_BIN_DIR=build SOAK_DIR=var/soak-release
# gives the curve of the release binaries.
SOAK_BIN_DIR ?= $(ASAN_DIR)
SOAK_DIR ?= var/soak
soak: infra build-asan build ## long fault tier (ORDERSTREAM_SOAK=1, ASan); VmRSS each second in var/soak/rss.csv; ~12 min
	@rm -rf $(SOAK_DIR) && mkdir -p $(SOAK_DIR)
	@ORDERSTREAM_SOAK=1 ORDERSTREAM_SOAK_DIR=$(SOAK_DIR) ORDERSTREAM_BIN_DIR=$(SOAK_BIN_DIR) \
	  ORDERSTREAM_REQUIRE_BINARIES=1 $(VENV)/bin/python -m pytest -s \
	  tests/e2e/test_fault_load.py tests/e2e/test_three_brokers.py $(PYTEST_ARGS) 2>&1 | \
	  tee $(SOAK_DIR)/pytest.log
	@$(VENV)/bin/python tests/e2e/soak_summary.py $(SOAK_DIR) | tee $(SOAK_DIR)/summary.txt

fuzz: build-fuzz ## every libFuzzer target FUZZ_SECONDS (60) each, from a copy of its seed corpus
	@JOBS=$(JOBS) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_DIR)

memcheck: infra build-memcheck ## valgrind memcheck on every unit test binary (private stack)
	@JOBS=$(JOBS) scripts/with-stack.sh tests/unit/memcheck.sh $(MEMCHECK_DIR)

bench: infra build ## measure (not a test): writes docs/BENCHMARKS.md and its plot; ~15 min
	@bench/run.sh

format: ## clang-format all C sources in place
	@find src tests -name '*.[ch]' -print0 | xargs -0 -r clang-format -i

clean: ## remove the build directories
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(MEMCHECK_DIR)

distclean: stop clean ## also remove var/ (data, logs, unpacked jars) and .venv
	rm -rf var $(VENV)
