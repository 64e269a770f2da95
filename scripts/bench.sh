#!/usr/bin/env bash
# The benchmark command (`make bench`): native criterion benches of the core, the release and
# bench Wasm builds, their sizes, then the in-workerd runs (bench/run.mjs: Rust/Wasm vs jose
# verification, autocannon load against the worker with the local IdP, KV operation counts,
# wrangler dev start-up, the gated GET against a pass-through worker, 50 MB through the gate,
# revocation latency per channel). Renders bench/RESULTS.md from what it measured. Loopback
# only; bounded: about 13 minutes on 2 cores (run of 2026-12-01).
# BENCH_ONLY=verify,load,startup,gateway,memory,revocation,soak,coldstart,lookup limits the workerd
# part (BENCH_RESULTS=<file> writes its results elsewhere, so RESULTS.md keeps the full run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH" WRANGLER_SEND_METRICS=false
NODE=node_modules/node/bin/node
OUT=bench/.out
mkdir -p "$OUT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "native micro-benchmarks (criterion)"
cargo bench --locked --bench core -- --warm-up-time 1 --measurement-time 2 2>&1 | tee "$OUT/criterion.log"

step "release build (build/) and its size"
EDGE_SSO_SKIP_BUILD= bash scripts/build.sh
raw=$(stat -c %s build/index_bg.wasm)
gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
js_raw=$(stat -c %s build/index.js)
js_gz=$(gzip -9 -c build/index.js | wc -c)
printf '{"wasm_raw":%s,"wasm_gzip9":%s,"js_raw":%s,"js_gzip9":%s}\n' "$raw" "$gz" "$js_raw" "$js_gz" | tee "$OUT/size.json"

step "bench build (build-bench/: release + the bench-only routes)"
EDGE_SSO_SKIP_BUILD= bash scripts/build.sh --out-dir build-bench --features bench

step "in-workerd benchmarks"
"$NODE" bench/run.mjs

step "bench/RESULTS.md"
"$NODE" bench/report.mjs "${CARGO_TARGET_DIR:-target}/criterion"
