#!/usr/bin/env bash
# Builds the Dendrite v0.13.8 homeserver used by the Matrix adapter's
# integration tests. It is built outside the project's go.mod (from a temp dir,
# straight from the Go module proxy) and cached, so later runs cost nothing.
# Prints the directory holding the binaries.
#
#   SECGPT_CACHE   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/secgpt)
set -euo pipefail
VERSION=v0.13.8
CACHE=${SECGPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secgpt}
BIN=$CACHE/dendrite-bin-$VERSION
TOOLS="dendrite generate-config generate-keys create-account"

have_all() {
  for t in $TOOLS; do [ -x "$BIN/$t" ] || return 1; done
}

if ! have_all; then
  mkdir -p "$CACHE"
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  # Build into a temp dir first so an interrupted build never leaves a
  # half-filled cache that have_all would accept.
  pkgs=()
  for t in $TOOLS; do pkgs+=("github.com/matrix-org/dendrite/cmd/$t@$VERSION"); done
  echo "building Dendrite $VERSION into $BIN (about 100 s cold)" >&2
  # libsqlite3: link Debian's libsqlite3 (libsqlite3-dev) instead of
  # compiling mattn/go-sqlite3's bundled SQLite, about a minute of CPU cold.
  (cd "$TMP" && GOBIN=$TMP/bin GOFLAGS= GOWORK=off go install -tags libsqlite3 "${pkgs[@]}") >&2
  rm -rf "$BIN"
  mv "$TMP/bin" "$BIN"
fi
echo "$BIN"
