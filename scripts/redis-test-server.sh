#!/bin/sh
# Start a private, throwaway redis-server for tests on a free loopback port and
# print its URL (redis://127.0.0.1:PORT/0). Installs Debian's redis-server
# with apt-get if it is missing. No persistence; the data dir, pidfile and
# logfile live in a fresh temp dir. Stop it with:
#   kill "$(cat "$DIR/redis.pid")"    (DIR is printed on stderr)
# Usage: eval "$(scripts/redis-test-server.sh --export)" exports
# SECGPT_TEST_REDIS_URL for `go test`.
set -eu

if ! command -v redis-server >/dev/null 2>&1; then
	echo "redis-server not found; installing Debian's package" >&2
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y redis-server >&2
fi

# A free port: ask the kernel for one by binding port 0.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null) ||
	port=$(shuf -i 20000-60000 -n 1)

dir=$(mktemp -d "${TMPDIR:-/tmp}/secgpt-redis.XXXXXX")
redis-server --bind 127.0.0.1 --port "$port" \
	--save '' --appendonly no \
	--daemonize yes --dir "$dir" \
	--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2

# Wait until it answers (daemonize returns before it listens).
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 50 ]; then
		echo "redis-server did not start; log: $dir/redis.log" >&2
		cat "$dir/redis.log" >&2 || true
		exit 1
	fi
	sleep 0.1
done

echo "redis-server on port $port, dir $dir (pid $(cat "$dir/redis.pid"))" >&2
url="redis://127.0.0.1:$port/0"
if [ "${1:-}" = "--export" ]; then
	echo "export SECGPT_TEST_REDIS_URL=$url"
else
	echo "$url"
fi
