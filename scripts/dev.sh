#!/usr/bin/env bash
# The dev command (`make dev`): sets everything up, builds the worker, then runs it in
# `wrangler dev` on 127.0.0.1:8787 with a local OpenID Provider (127.0.0.1:9100) as the demo
# organisation's IdP, seeds the demo organisation and prints the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec node_modules/node/bin/node scripts/dev.mjs
