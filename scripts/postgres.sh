#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL for keyportd's tests.
#
#   eval "$(scripts/postgres.sh start DIR)"   # exports KEYPORT_TEST_POSTGRES_DSN and KEYPORT_TEST_PG_BIN
#   scripts/postgres.sh stop DIR              # stops the server and removes DIR
#
# It uses Debian's binaries (/usr/lib/postgresql/*/bin, the newest version), initialises a cluster
# in DIR/data with trust authentication, and listens on 127.0.0.1 only, on a free port, with a
# socket directory inside DIR. Run as root, the cluster runs as the `postgres` user (initdb refuses
# root). Starting an already running DIR just prints the exports again. Only stdout carries the
# exports, so eval sees nothing else.
set -euo pipefail

usage() { echo "usage: $0 start|stop|dsn DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

pgbin=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
	[ -x "$d/initdb" ] && pgbin=$d
done
if [ -z "$pgbin" ]; then
	echo "postgres.sh: no PostgreSQL under /usr/lib/postgresql/*/bin; install it: apt-get install -y postgresql" >&2
	exit 1
fi

# as runs a command as the cluster owner.
as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

print_env() {
	local port
	port=$(cat "$dir/port")
	echo "export KEYPORT_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
	echo "export KEYPORT_TEST_PG_BIN='$pgbin'"
}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "postgres.sh: no free port found" >&2
	return 1
}

case $cmd in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/port" ] && as "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		print_env
		exit 0
	fi
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
		chmod 0700 "$dir"
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			echo "postgres.sh: initdb failed (is $dir reachable by the postgres user?)" >&2
			exit 1
		}
	fi
	port=$(free_port)
	echo "$port" >"$dir/port"
	mkdir -p "$dir/sock"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/sock" "$dir/port"
	# fsync and full_page_writes off: the data is thrown away, speed matters more.
	as "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200" \
		start >/dev/null || {
		cat "$dir/postgres.log" >&2 || true
		echo "postgres.sh: postgres did not start" >&2
		exit 1
	}
	print_env
	;;
stop)
	if [ -d "$dir/data" ]; then
		as "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	# Remove DIR only when it looks like ours, so a mistyped path cannot wipe something else.
	if [ -f "$dir/port" ] || [ -f "$dir/data/PG_VERSION" ]; then
		rm -rf "$dir"
	fi
	;;
dsn)
	print_env
	;;
*)
	usage
	;;
esac
