#!/usr/bin/env bash
# Installs the real MCP servers the tests run (apps/mcp) from the npm
# registry, pinned, into a cached directory, and prints
# `export SECGPT_NPM_DIR=...` for eval. Needs node and npm; installs
# Debian's nodejs and npm when they are missing. Under CI=true a failed
# install fails the run (the tests fail, never skip, without the servers).
set -euo pipefail

dir="${SECGPT_NPM_DIR:-$HOME/.cache/secgpt/npm}"
# Pinned: the versions the tests were written against.
pkgs=(
	@modelcontextprotocol/server-filesystem@2026.8.31
	@modelcontextprotocol/server-memory@2026.8.31
	@modelcontextprotocol/server-everything@2026.8.31
)

log() { printf '==> %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	log "installing Debian's nodejs and npm"
	$SUDO apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >&2
fi
if ! command -v python3 >/dev/null 2>&1; then
	log "installing Debian's python3"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 >&2
fi

stamp="$dir/.secgpt-installed"
want=$(printf '%s\n' "${pkgs[@]}")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	log "installing MCP test servers into $dir"
	mkdir -p "$dir"
	[ -f "$dir/package.json" ] || echo '{"name":"secgpt-mcp-test-servers","private":true}' >"$dir/package.json"
	npm install --prefix "$dir" --no-audit --no-fund --save-exact "${pkgs[@]}" >&2
	printf '%s\n' "$want" >"$stamp"
fi
echo "export SECGPT_NPM_DIR=$dir"
