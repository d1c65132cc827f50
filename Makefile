# timehook: the README's commands.
#   make demo   build and run the main example (embedded SQLite file, local receiver, retries, cron)
#   make test   install what the tests need, then run every test of every language
#   make bench  print the benchmark figures recorded in BENCHMARKS.md
#   make lint   formatting and clippy

SHELL := /bin/bash
CARGO ?= cargo
CACHE ?= $(HOME)/.cache/timehook

.PHONY: demo test test-rust lint wasm-check bench fmt

demo:
	$(CARGO) run --release -p timehook --example demo

test: lint test-rust wasm-check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace

# The verifier must build without tokio, rusqlite or reqwest, for wasm32.
wasm-check:
	rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	$(CARGO) build -p timehook --no-default-features --target wasm32-unknown-unknown

bench:
	$(CARGO) bench -p timehook --bench scheduler -- --quick

fmt:
	$(CARGO) fmt --all
