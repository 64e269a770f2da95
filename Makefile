# edge-sso: the two commands are `make dev` and `make test` (see README.md).
.PHONY: dev test check e2e fuzz build setup bench clean

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh

# The inner loop, no setup and no worker: formatting, lints (native and wasm32), native tests.
check:
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --locked -- -D warnings
	cargo test --locked

# The end-to-end tier only: builds the worker, then runs e2e/ against it (needs the toolchain and
# npm packages that `make build` or `make test` installed once).
e2e:
	bash scripts/build.sh
	WRANGLER_SEND_METRICS=false EDGE_SSO_SKIP_BUILD=1 \
	  node_modules/node/bin/node --test --test-concurrency=1 --test-reporter=spec "e2e/*.test.mjs"

# The property tests of every parser of untrusted input, with many more generated cases than CI
# runs (PROPTEST_CASES; override with `make fuzz CASES=...`). A few minutes on 2 cores.
CASES ?= 20000
fuzz:
	PROPTEST_CASES=$(CASES) cargo test --locked --release --lib

build:
	bash scripts/setup.sh
	bash scripts/build.sh

setup:
	bash scripts/setup.sh --browser

bench:
	bash scripts/bench.sh

clean:
	rm -rf build target/wasm32-unknown-unknown .wrangler e2e/.out
