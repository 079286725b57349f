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

# A port outside the kernel's ephemeral range (which outgoing connections
# take their local ports from, so one picked there can be taken before
# redis binds it), retried on another when it is in use: asking the kernel
# for a free port and binding it later raced with other processes, and a
# failed start failed the whole test run.
# (dash's read gets one byte of a procfs file at a time: awk reads it.)
lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
case "$lo" in '' | *[!0-9]*) lo=32768 ;; esac
[ "$lo" -gt 11000 ] || lo=61000 # an unusual range: use the ports above it
dir=$(mktemp -d "${TMPDIR:-/tmp}/secgpt-redis.XXXXXX")
attempt=0
while :; do
	attempt=$((attempt + 1))
	if [ "$lo" -eq 61000 ]; then
		port=$(shuf -i 61001-65000 -n 1)
	else
		port=$(shuf -i 10000-$((lo - 1)) -n 1)
	fi
	: >"$dir/redis.log"
	redis-server --bind 127.0.0.1 --port "$port" \
		--save '' --appendonly no \
		--daemonize yes --dir "$dir" \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
	# Wait until this server says it listens (daemonize returns before
	# it does). Not a ping: another server on a taken port would answer it.
	i=0
	until grep -q "Ready to accept connections" "$dir/redis.log" 2>/dev/null; do
		i=$((i + 1))
		if grep -q "Address already in use\|Failed listening" "$dir/redis.log" 2>/dev/null || [ "$i" -gt 100 ]; then
			break
		fi
		sleep 0.1
	done
	if grep -q "Ready to accept connections" "$dir/redis.log" 2>/dev/null; then
		break
	fi
	if ! grep -q "Address already in use\|Failed listening" "$dir/redis.log" 2>/dev/null || [ "$attempt" -ge 10 ]; then
		echo "redis-server did not start; log: $dir/redis.log" >&2
		cat "$dir/redis.log" >&2 || true
		exit 1
	fi
	echo "port $port in use; trying another" >&2
done

echo "redis-server on port $port, dir $dir (pid $(cat "$dir/redis.pid"))" >&2
url="redis://127.0.0.1:$port/0"
if [ "${1:-}" = "--export" ]; then
	echo "export SECGPT_TEST_REDIS_URL=$url"
else
	echo "$url"
fi
