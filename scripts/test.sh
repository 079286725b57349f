#!/usr/bin/env bash
# The whole test suite, integration tests included, on a fresh machine of
# this kind (Debian, Go, root or sudo): installs what is missing, starts a
# private Redis and a throw-away Dendrite homeserver on loopback, runs
# `go vet` and `go test -race ./...`, and stops both servers again.
#
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestCaseStudies ./evaluation/...).
set -euo pipefail
cd "$(dirname "$0")/.."

# Integration tests fail, never skip, when a service is missing.
export CI="${CI:-true}"

log() { printf '==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

scripts/debian-packages.sh

log "building Dendrite v0.13.8 (cached after the first run)"
DENDRITE_BIN=$(scripts/dendrite-build.sh)
export DENDRITE_BIN

cleanup() {
	[ -n "${SECGPT_TEST_MATRIX_PID:-}" ] && kill "$SECGPT_TEST_MATRIX_PID" 2>/dev/null || true
	[ -n "${SECGPT_TEST_MATRIX_DIR:-}" ] && rm -rf "$SECGPT_TEST_MATRIX_DIR" || true
	[ -n "${REDIS_PIDFILE:-}" ] && [ -f "$REDIS_PIDFILE" ] && kill "$(cat "$REDIS_PIDFILE")" 2>/dev/null || true
}
trap cleanup EXIT

log "starting a private redis-server"
redis_out=$(scripts/redis-test-server.sh --export 2>/tmp/secgpt-redis-start.$$)
eval "$redis_out"
REDIS_PIDFILE=$(sed -n 's/.*dir \([^ ]*\) .*/\1\/redis.pid/p' /tmp/secgpt-redis-start.$$ | tail -n 1)
rm -f /tmp/secgpt-redis-start.$$
log "redis at $SECGPT_TEST_REDIS_URL"

log "starting Dendrite"
set -a
eval "$(scripts/dendrite-start.sh)"
set +a
log "dendrite at $SECGPT_TEST_MATRIX_URL"

log "installing the real MCP test servers (cached; pinned in scripts/mcp-servers.sh)"
eval "$(scripts/mcp-servers.sh)"
log "installing the matrix-js-sdk test client (cached; pinned in scripts/matrix-js-client.sh)"
js_env=$(scripts/matrix-js-client.sh) # a failed install stops the run here
eval "$js_env"

# vet with -race: it then type-checks against the same compiled packages
# the race tests use, instead of compiling everything a second time. The
# go test runs below pass -vet=off: go test would otherwise run a subset of
# these same analyzers on every package again.
log "go vet -race ./..."
go vet -race ./...
# The sandbox and the harness have Linux files; every package must still
# build elsewhere (spokes refuse to start there, and say why), so that the
# module vets and builds on a developer's Mac.
log "GOOS=darwin go vet ./..."
GOOS=darwin go vet ./...

if [ "$#" -gt 0 ]; then
	log "go test -race $*"
	go test -race -vet=off -count=1 "$@"
	exit 0
fi
log "go test -race ./..."
go test -race -vet=off -count=1 -timeout 15m ./...

# The invariants harness: 1000 randomized adversarial episodes against the
# real hub and sandboxed spokes (docs/invariants.md). Without -race: under
# the race detector 1000 episodes would take most of CI's time.
log "1000 invariant episodes (evaluation/invariants)"
SECGPT_INVARIANTS_EPISODES=${SECGPT_INVARIANTS_EPISODES:-1000} \
	go test -vet=off -count=1 -run 'TestEpisodes$' -timeout 40m ./evaluation/invariants/

# The same harness on several replicas: 200 episodes, each on 3 hubs sharing
# the test Redis (SECGPT_TEST_REDIS_URL), every message and answer on a random
# replica, the episode's Redis connections cut at random points.
log "200 invariant episodes on 3 replicas over one Redis (evaluation/invariants)"
SECGPT_INVARIANTS_REPLICA_EPISODES=${SECGPT_INVARIANTS_REPLICA_EPISODES:-200} \
	go test -vet=off -count=1 -run 'TestReplicaEpisodes$' -timeout 20m ./evaluation/invariants/

# deploy/ (Kubernetes manifests, compose file, Dockerfile) is checked by its
# own module, so the bot's go.mod does not carry k8s.io/api and compose-go.
log "validating deploy/ (scripts/validate-deploy.sh)"
scripts/validate-deploy.sh

# End-to-end encryption is built only with the pure-Go olm (-tags goolm, see
# docs/matrix.md): its encrypted-room and cross-signing tests run here.
# mautrix's crypto helper links mattn/go-sqlite3 whenever cgo is on (the
# race detector needs cgo), though the bot's crypto store is the pure-Go
# modernc driver; libsqlite3 links Debian's SQLite instead of compiling the
# bundled one.
log "go vet and go test -race -tags goolm ./adapters/matrix/..."
go vet -race -tags goolm,libsqlite3 ./adapters/matrix/...
go test -race -vet=off -count=1 -tags goolm,libsqlite3 -timeout 10m ./adapters/matrix/...
