#!/usr/bin/env bash
# test.sh: starts the real components (Secret Service, registry, PostgreSQL)
# and runs every Go test against them, then the suite again under -race.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/keyport-test.XXXXXX)
chmod 0755 "$work" # PostgreSQL runs as the postgres user and must reach its directory
cleanup() {
  [ -x scripts/registry.sh ] && scripts/registry.sh stop "$work/registry" >/dev/null 2>&1 || true
  [ -x scripts/postgres.sh ] && scripts/postgres.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Assign first: a failing start must stop the run (set -e), not be eval'd away.
registry_env=$(scripts/registry.sh start "$work/registry")
eval "$registry_env"
postgres_env=$(scripts/postgres.sh start "$work/pg")
eval "$postgres_env"
export CI="${CI:-}"

echo "== go test (real gnome-keyring, registry, PostgreSQL)"
scripts/with-keyring.sh go test -count=1 -timeout 15m ./...
echo "== go test -race -short (the heaviest load tests run at full size above)"
scripts/with-keyring.sh go test -count=1 -race -short -timeout 20m ./...
echo "== fuzz targets, briefly (3000 inputs each)"
# A count, not a duration: on Go 1.26 a duration -fuzztime can end in a
# spurious "context deadline exceeded" with no failing input
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
scripts/fuzz.sh 3000x
