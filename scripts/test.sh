#!/usr/bin/env bash
# test.sh: starts the real components (Secret Service, registry, PostgreSQL)
# and runs every Go test against them, then the suite again under -race.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/keyport-test.XXXXXX)
cleanup() {
  [ -x scripts/registry.sh ] && scripts/registry.sh stop "$work/registry" >/dev/null 2>&1 || true
  [ -x scripts/postgres.sh ] && scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -x scripts/registry.sh ]; then
  eval "$(scripts/registry.sh start "$work/registry")"
fi
if [ -x scripts/postgres.sh ]; then
  eval "$(scripts/postgres.sh start "$work/pg")"
fi
export CI="${CI:-}"

echo "== go test (real gnome-keyring, registry, PostgreSQL)"
scripts/with-keyring.sh go test -count=1 -timeout 15m ./...
echo "== go test -race"
scripts/with-keyring.sh go test -count=1 -race -timeout 20m ./...
echo "== fuzz targets, briefly"
scripts/fuzz.sh 5s
