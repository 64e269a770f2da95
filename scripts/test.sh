#!/usr/bin/env bash
# The test command (`make test`, and CI's .ci/run): sets everything up, then runs every tier:
# formatting, lints (native and wasm32), native unit tests, the Wasm build, and the end-to-end
# tests (the built worker in workerd via wrangler dev, a real OpenID Provider, headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export PATH="$HOME/.cargo/bin:$PATH"
# A CI run builds once from nothing: incremental state would only take disk (gigabytes of it).
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy (native, all targets)"
cargo clippy --all-targets --locked -- -D warnings
step "cargo clippy (wasm32 worker)"
cargo clippy --target wasm32-unknown-unknown --lib --locked -- -D warnings
step "cargo test (native: protocol core and app)"
cargo test --locked 2>&1 | tee target/cargo-test.log
step "build the worker (release Wasm)"
bash scripts/build.sh
step "end-to-end: workerd + oidc-provider + Chromium"
export WRANGLER_SEND_METRICS=false EDGE_SSO_SKIP_BUILD=1
node_modules/node/bin/node --test --test-concurrency=1 --test-reporter=spec "e2e/*.test.mjs" \
  2>&1 | tee target/e2e-test.log

step "summary"
read -r np nf < <(awk '/^test result:/ {p += $4; f += $6} END {print p+0, f+0}' target/cargo-test.log)
read -r ep ef < <(awk '/^ℹ pass / {p = $3} /^ℹ fail / {f = $3} END {print p+0, f+0}' target/e2e-test.log)
echo "native (cargo test): $np passed, $nf failed"
echo "end-to-end (workerd + oidc-provider + Chromium): $ep passed, $ef failed"
echo "total: $((np + ep)) passed, $((nf + ef)) failed"
