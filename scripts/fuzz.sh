#!/usr/bin/env bash
# fuzz.sh BUDGET: runs every Go fuzz target in the module for BUDGET each: a
# duration (60s) or an input count (3000x). On Go 1.26 a duration can end in
# a spurious "context deadline exceeded" with no failing input
# (go.dev/issue/75804); a real failure writes a reproducer under testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-30s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz: $pkg $target for $time"
    go test -run '^$' -fuzz "^$target\$" -fuzztime "$time" "$pkg" >/tmp/keyport-fuzz.log 2>&1 \
      || { cat /tmp/keyport-fuzz.log; exit 1; }
  done
done
