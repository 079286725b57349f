#!/usr/bin/env bash
# Installs the Debian packages the tests need, when missing: redis-server,
# libsqlite3-dev (Dendrite and the goolm test pass link Debian's SQLite with
# -tags libsqlite3 instead of compiling the copy bundled with
# mattn/go-sqlite3, a minute of CPU each), and nodejs, npm and python3 for
# the real MCP servers. One apt-get run, so that nothing else holds dpkg's
# lock meanwhile.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ "${#missing[@]}" -gt 0 ]; then
	echo "==> installing Debian's ${missing[*]}" >&2
	$SUDO apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi
