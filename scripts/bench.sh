#!/usr/bin/env bash
# bench.sh: in-process Go benchmarks, then whole-process `get` timings of the
# built helper next to the floor (a minimal Go program that reads stdin and
# prints a JSON line), interleaved in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-300}
work=$(mktemp -d /tmp/keyport-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== go test -bench"
go test -run '^$' -bench . -benchtime 2000x ./credhelper ./backends/file

echo "== whole process: get on the file store (50 registries), $runs runs each, interleaved"
CGO_ENABLED=0 go build -trimpath -o "$work/floor" ./scripts/internal/floor
go build -o "$work/benchproc" ./scripts/internal/benchproc
export KEYPORT_HOME=$work/home KEYPORT_BACKEND=file
for i in $(seq 1 50); do
  printf '{"ServerURL":"r%d.example.com","Username":"u%d","Secret":"secret-%d"}' "$i" "$i" "$i" | bin/docker-credential-keyport store
done
"$work/benchproc" -copies "${BENCH_COPIES:-4}" -n "$runs" -stdin r7.example.com \
  -name floor -cmd "$work/floor" \
  -name "keyport get (file)" -cmd "bin/docker-credential-keyport get" \
  -name "keyport version" -cmd "bin/docker-credential-keyport version"
scripts/bench-peers.sh
scripts/bench-remote.sh

echo "== keyportd under load (loopback, same 2 cores): SQLite, then PostgreSQL"
go run ./server/loadtest -db sqlite
pgdir=$(mktemp -d /tmp/keyport-bench-pg.XXXXXX)
chmod 0755 "$pgdir"
pg_env=$(scripts/postgres.sh start "$pgdir/pg")
eval "$pg_env"
go run ./server/loadtest -db postgres || status=$?
scripts/postgres.sh stop "$pgdir/pg" >/dev/null 2>&1 || true
rm -rf "$pgdir"
exit "${status:-0}"
