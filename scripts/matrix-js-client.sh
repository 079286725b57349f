#!/usr/bin/env bash
# Installs the second Matrix client of the e2e tests (adapters/matrix:
# TestJSClient*): matrix-js-sdk with its Rust crypto (the SDK Element is
# built on), pinned, into a cached directory, links the Node 22 that
# scripts/node22.sh installs (shared with scripts/mcp-conformance.sh) as
# $dir/node, and prints `export SECGPT_MATRIX_JS_DIR=...` for eval. Needs
# npm (Debian's is enough: only the linked Node 22 runs the client).
set -euo pipefail

dir="${SECGPT_MATRIX_JS_DIR:-${SECGPT_CACHE:-$HOME/.cache/secgpt}/matrix-js}"
# Pinned: the versions the tests were written against.
pkgs=(
	matrix-js-sdk@43.0.0
	@matrix-org/matrix-sdk-crypto-wasm@18.9.0
)

log() { printf '==> %s\n' "$*" >&2; }
node=$("$(dirname "$0")/node22.sh")
stamp="$dir/.secgpt-installed"
want=$(printf '%s\n' "${pkgs[@]}")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	log "installing matrix-js-sdk into $dir"
	mkdir -p "$dir"
	# From scratch: an install of other versions (or one that carried
	# its own Node) leaves nothing behind.
	rm -rf "$dir/node_modules" "$dir/package-lock.json" "$stamp"
	echo '{"name":"secgpt-matrix-js-client","private":true,"type":"module"}' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --save-exact "${pkgs[@]}" >&2
	printf '%s\n' "$want" >"$stamp"
fi
ln -sfn "$node" "$dir/node"
echo "export SECGPT_MATRIX_JS_DIR=$dir"
