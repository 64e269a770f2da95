#!/usr/bin/env bash
# Builds the worker (Rust -> Wasm -> build/worker/shim.mjs) with pinned local tools: worker-build
# would otherwise download wasm-bindgen and wasm-opt from GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$PWD/node_modules/.bin/wasm-opt}"
# wrangler dev/deploy run this as their [build] command; the e2e harness builds once and sets
# EDGE_SSO_SKIP_BUILD=1 so each test worker starts without rebuilding.
if [ "${EDGE_SSO_SKIP_BUILD:-}" = 1 ] && [ -f build/worker/shim.mjs ]; then exit 0; fi
exec worker-build --release "$@"
