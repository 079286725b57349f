#!/usr/bin/env bash
# Starts a throw-away Dendrite homeserver for the Matrix adapter's tests and
# prints shell-style env lines (KEY=value) describing it on stdout:
#
#   SECGPT_TEST_MATRIX_URL, SECGPT_TEST_MATRIX_SERVER_NAME,
#   SECGPT_TEST_MATRIX_{BOT,ALICE,BOB}_{USER,PASSWORD},
#   SECGPT_TEST_MATRIX_PID (kill it to stop), SECGPT_TEST_MATRIX_DIR (rm -rf it)
#
# The server listens on a free 127.0.0.1 port, keeps its data in SQLite under
# a temp dir, has federation off, registration disabled (accounts come from the
# shared-secret admin API) and no rate limiting. It keeps running after this
# script exits. Binaries come from scripts/dendrite-build.sh (run it first, or
# set DENDRITE_BIN).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${DENDRITE_BIN:-$("$HERE/dendrite-build.sh")}
DIR=${DENDRITE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/secgpt-dendrite.XXXXXX")}
mkdir -p "$DIR/data"
cd "$DIR"

"$BIN/generate-keys" --private-key "$DIR/matrix_key.pem" >/dev/null
# -ci: SQLite under -dir, shared secret "complement", no rate limiting, cheap bcrypt,
# in-memory JetStream. Dendrite resolves relative paths against its cwd, so
# the key path is made absolute.
"$BIN/generate-config" -ci -dir "$DIR/data" -server localhost > dendrite.yaml
sed -i \
  -e "s|private_key: matrix_key.pem|private_key: $DIR/matrix_key.pem|" \
  -e 's|disable_federation: false|disable_federation: true|' \
  -e 's|registration_disabled: false|registration_disabled: true|' \
  -e 's|level: trace|level: warn|' \
  dendrite.yaml
grep -q 'disable_federation: true' dendrite.yaml
grep -q 'registration_disabled: true' dendrite.yaml

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for attempt in 1 2 3 4 5; do
  PORT=${DENDRITE_PORT:-$((20000 + RANDOM % 20000))}
  port_free "$PORT" || continue
  # setsid: the server must outlive this script and not get the caller's signals.
  setsid "$BIN/dendrite" -config dendrite.yaml -http-bind-address "127.0.0.1:$PORT" \
    >dendrite.log 2>&1 </dev/null &
  PID=$!
  echo "$PID" > dendrite.pid
  HS="http://127.0.0.1:$PORT"
  for _ in $(seq 1 400); do
    if curl -fsS "$HS/_matrix/client/versions" >/dev/null 2>&1; then started=1; break; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$started" ] && break
  kill "$PID" 2>/dev/null || true
  echo "dendrite did not come up on port $PORT (attempt $attempt):" >&2
  tail -5 dendrite.log >&2
done
[ -n "$started" ] || { echo "dendrite failed to start; log in $DIR/dendrite.log" >&2; exit 1; }

for u in bot alice bob; do
  "$BIN/create-account" -config dendrite.yaml -url "$HS" -username "$u" -password "${u}password1" >>"$DIR/accounts.log" 2>&1 \
    || { echo "create-account $u failed:" >&2; cat "$DIR/accounts.log" >&2; exit 1; }
done

cat <<ENV
SECGPT_TEST_MATRIX_URL=$HS
SECGPT_TEST_MATRIX_SERVER_NAME=localhost
SECGPT_TEST_MATRIX_BOT_USER=@bot:localhost
SECGPT_TEST_MATRIX_BOT_PASSWORD=botpassword1
SECGPT_TEST_MATRIX_ALICE_USER=@alice:localhost
SECGPT_TEST_MATRIX_ALICE_PASSWORD=alicepassword1
SECGPT_TEST_MATRIX_BOB_USER=@bob:localhost
SECGPT_TEST_MATRIX_BOB_PASSWORD=bobpassword1
SECGPT_TEST_MATRIX_PID=$PID
SECGPT_TEST_MATRIX_DIR=$DIR
ENV
