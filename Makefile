# timehook: the README's commands.
#   make demo   build and run the main example (embedded SQLite file, local receiver, retries, cron)
#   make test   install what the tests need, then run every test of every language
#   make bench  print the benchmark figures recorded in BENCHMARKS.md
#   make lint   formatting and clippy

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test test-all lint test-rust wasm-check test-wasm test-python test-node test-dashboard test-api-schema bench bench-rust bench-postgres fmt

demo:
	$(CARGO) run --release -p timehook --example demo

# Everything runs beside one throwaway PostgreSQL cluster (tests/with-postgres.sh), or the server
# in TIMEHOOK_TEST_POSTGRES_URL.
test: lint
	bash tests/with-postgres.sh $(MAKE) --no-print-directory test-all

test-all: test-rust wasm-check test-wasm test-python test-node test-dashboard test-api-schema

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The fuzz targets (a workspace of their own, run with cargo-fuzz on nightly) still build.
	cd fuzz && $(CARGO) check --bins --locked

# The Rust crates' own tests (the Python and Node crates are tested through their languages), and
# the `timehook` binary run on real files and served on 127.0.0.1 (cli/tests). The behaviour tests
# run against SQLite and PostgreSQL (TIMEHOOK_TEST_POSTGRES_URL).
test-rust:
	$(CARGO) test -p timehook -p timehook-sqlite-vfs -p timehook-bindings -p timehook-cli

# The verifier must build without tokio, rusqlite or reqwest, for wasm32.
wasm-check:
	rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	$(CARGO) build -p timehook --no-default-features --target wasm32-unknown-unknown

test-wasm:
	bash wasm/test.sh

test-python:
	bash python/test.sh

test-node:
	bash node/test.sh

# The dashboard of `timehook serve` in headless Chromium (Debian's), driven by playwright-core.
test-dashboard:
	bash cli/tests/dashboard/test.sh

# schemathesis against the served /openapi.json: no 5xx, no answer that breaks the document.
test-api-schema:
	bash cli/tests/api-schema.sh

bench: bench-rust bench-postgres
	bash bench/serve.sh
	bash bench/deliveries.sh
	bash bench/peers.sh
	bash wasm/bench.sh
	bash python/bench.sh
	bash node/bench.sh

# timehook on PostgreSQL beside pg-boss and procrastinate (installed by the script), on a
# throwaway cluster; ROUNDS=n for more interleaved rounds (default 3).
bench-postgres:
	bash bench/postgres.sh

bench-rust:
	$(CARGO) bench -p timehook --bench scheduler

fmt:
	$(CARGO) fmt --all
