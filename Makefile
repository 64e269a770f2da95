# edge-sso: the two commands are `make dev` and `make test` (see README.md).
.PHONY: dev test build setup bench clean

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh

build:
	bash scripts/setup.sh
	bash scripts/build.sh

setup:
	bash scripts/setup.sh --browser

bench:
	bash scripts/bench.sh

clean:
	rm -rf build target/wasm32-unknown-unknown .wrangler e2e/.out
