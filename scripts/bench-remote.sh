#!/usr/bin/env bash
# bench-remote.sh: the remote store's figures (issue 5), called by `make bench`.
#   1. Go benchmarks: warm get vs the file store, cold get, API requests per
#      1,000 gets across 50 registries (simulated clock: 10 min and 1 h).
#   2. Whole processes against a real keyportd (SQLite) on loopback:
#      warm-cache get next to the file store, cold get, and 1,000 helper
#      processes' gets across 50 registries counted in keyportd's access log.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-300}
helper=$PWD/bin/docker-credential-keyport
keyportd=$PWD/bin/keyportd
[ -x "$helper" ] && [ -x "$keyportd" ] || { echo "bench-remote.sh: run make build first" >&2; exit 1; }
work=$(mktemp -d /tmp/keyport-bench-remote.XXXXXX)
kpd_pid=
cleanup() { [ -n "$kpd_pid" ] && kill "$kpd_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "== go test -bench (backends/remote)"
go test -run '^$' -bench 'GetWarm|FileStoreGet|GetCold' -benchtime 2000x ./backends/remote
go test -run '^$' -bench 'RequestsPer1000Gets' -benchtime 1x ./backends/remote

echo "== whole process against keyportd (SQLite, loopback), 50 registries"
go build -o "$work/benchproc" ./scripts/internal/benchproc
db=sqlite:$work/api/keyportd.db
mkdir -p "$work/api"
kp() { KEYPORT_HOME=$work/api "$keyportd" "$@" --db "$db"; }
kp project create --name web >/dev/null
admin=$(kp token create --name bench-admin --role admin 2>/dev/null)
token=$(kp token create --name bench-ci --role reader --project web 2>/dev/null)
# Rate limit off: the bench makes more requests than an hour's budget.
KEYPORT_HOME=$work/api "$keyportd" serve --addr 127.0.0.1:0 --db "$db" --rate-limit 0 2>"$work/api/serve.log" &
kpd_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/.*"msg":"listening".*"addr":"\([^"]*\)".*/http:\/\/\1/p' "$work/api/serve.log" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/api/serve.log" >&2; exit 1; }
for i in $(seq 1 50); do
  printf '{"name":"reg %d","provider":"custom","registryUrl":"r%d.example.com","credentials":{"username":"u%d","password":"secret-%d"}}' "$i" "$i" "$i" "$i" |
    curl -sfS -o /dev/null -X POST "$url/v1/integrations/registries" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' --data-binary @-
  printf '{"ServerURL":"r%d.example.com","Username":"u%d","Secret":"secret-%d"}' "$i" "$i" "$i" |
    KEYPORT_HOME=$work/file KEYPORT_BACKEND=file "$helper" store
done
remote_env="KEYPORT_BACKEND=remote KEYPORT_API_URL=$url KEYPORT_PROJECT=web KEYPORT_API_TOKEN=$token"
echo r7.example.com | env KEYPORT_HOME="$work/warm" $remote_env "$helper" get >/dev/null # warm it

# Cold: a wrapper drops the cache first; the file store runs through the
# same wrapper shape so the shell's cost is on both sides.
printf '#!/bin/sh\nexec %s get\n' "$helper" >"$work/file-get.sh"
printf '#!/bin/sh\nrm -rf %s/cold\nexec %s get\n' "$work" "$helper" >"$work/cold-get.sh"
chmod +x "$work/file-get.sh" "$work/cold-get.sh"

echo "-- get on a warm cache vs the file store, $runs runs each, interleaved"
"$work/benchproc" -copies "${BENCH_COPIES:-4}" -n "$runs" -stdin r7.example.com \
  -name "keyport get (file)" -cmd "KEYPORT_HOME=$work/file KEYPORT_BACKEND=file $helper get" \
  -name "keyport get (remote, warm cache)" -cmd "KEYPORT_HOME=$work/warm $remote_env $helper get"
echo "-- cold cache (list + one get on keyportd), through a sh wrapper on both sides, $runs runs each"
"$work/benchproc" -copies "${BENCH_COPIES:-4}" -n "$runs" -stdin r7.example.com \
  -name "sh + keyport get (file)" -cmd "KEYPORT_HOME=$work/file KEYPORT_BACKEND=file $work/file-get.sh" \
  -name "sh + keyport get (remote, cold cache)" -cmd "KEYPORT_HOME=$work/cold $remote_env $work/cold-get.sh"

echo "-- API requests for 1,000 helper processes' gets round-robin over 50 registries (default TTL)"
count() { grep -c '"msg":"request".*integrations/registries' "$work/api/serve.log" || true; }
before=$(count)
start=$(date +%s.%N)
for i in $(seq 0 999); do
  echo "r$((i % 50 + 1)).example.com" | env KEYPORT_HOME="$work/fleet" $remote_env "$helper" get >/dev/null
done
end=$(date +%s.%N)
sleep 0.2
echo "1000 gets in $(printf '%.1f' "$(echo "$end - $start" | bc)") s: $(( $(count) - before )) API requests (target <= 60)"
