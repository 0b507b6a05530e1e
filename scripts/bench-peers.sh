#!/usr/bin/env bash
# bench-peers.sh: keyport side by side with the reference helpers, whole
# processes, interleaved A/B on one machine and one unlocked gnome-keyring.
#
#   get, keychain   keyport (KEYPORT_BACKEND=keychain) vs docker-credential-secretservice   target ≤ 0.5×
#   get, file store keyport (KEYPORT_BACKEND=file)     vs docker-credential-pass            target ≤ 0.1×
#   list, 100 registries  keyport keychain vs secretservice                                  target ≤ 0.2×
#   get vs floor    keyport get (file) vs scripts/internal/floor                             target ≤ 1.3×
#   get, keychain, a repository path vs its host (keyport's own target)                      target ≤ 1.1×
#   peak RSS of keyport get (each store)                                                     target ≤ 20 MB
#
# The reference helpers (github.com/docker/docker-credential-helpers
# v0.9.13) are built from the Go module proxy into a temp dir at bench time;
# nothing of theirs is kept. Writes the "Peers" section of BENCHMARKS.md.
#
# Env: BENCH_PEERS_RUNS (timed runs per process, default 150),
#      BENCH_PEERS_LIST_RUNS (for the list pair, default 100),
#      BENCH_PEERS_FLOOR_RUNS (for the floor pair, default 500),
#      BENCH_PEERS_MD (default BENCHMARKS.md; empty: do not write),
#      BENCH_PEERS_STRICT=1 (exit 3 when a row misses its target),
#      BENCH_COPIES (each program runs from this many fresh copies in turn,
#      default 4: see benchproc -copies).
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS_MODULE=github.com/docker/docker-credential-helpers
PEERS_VERSION=v0.9.13
REGISTRIES=100
GET_KEY=r42.example.com

# ---------------------------------------------------------------------------
# Inside the keyring session (scripts/with-keyring.sh re-runs us with __inner).
inner() {
  local work=$1
  SECONDS=$(( $(date +%s) - ${BENCH_PEERS_T0:-$(date +%s)} ))
  local runs=${BENCH_PEERS_RUNS:-150}
  # The floor row sits closest to its target: time it longest.
  local floor_runs=${BENCH_PEERS_FLOOR_RUNS:-500}
  local list_runs=${BENCH_PEERS_LIST_RUNS:-100}
  local kp=$work/bin/docker-credential-keyport
  local ss=$work/bin/docker-credential-secretservice
  local pass=$work/bin/docker-credential-pass

  # A throwaway GPG key with no passphrase and a pass store for it.
  export GNUPGHOME=$work/gnupg PASSWORD_STORE_DIR=$work/password-store
  mkdir -m 700 "$GNUPGHOME"
  # Only gpg-agent is started (by gpg, on demand); stop it by its socket dir.
  trap 'gpgconf --kill all >/dev/null 2>&1 || true' EXIT
  gpg --batch --quiet --passphrase '' --quick-gen-key 'keyport bench <bench@keyport.invalid>' default default never 2>/dev/null
  local fpr
  fpr=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1=="fpr"{print $10; exit}')
  pass init "$fpr" >/dev/null 2>&1

  mkdir -m 700 "$work/home-keychain" "$work/home-file"
  local kc_env="KEYPORT_BACKEND=keychain KEYPORT_HOME=$work/home-keychain"
  local file_env="KEYPORT_BACKEND=file KEYPORT_HOME=$work/home-file"

  echo "== [${SECONDS}s] seeding $REGISTRIES registries into each helper (store verb)"
  local i json
  for i in $(seq 1 "$REGISTRIES"); do
    json=$(printf '{"ServerURL":"r%d.example.com","Username":"user%d","Secret":"secret-%d-0123456789abcdef"}' "$i" "$i" "$i")
    printf '%s' "$json" | env $kc_env "$kp" store
    printf '%s' "$json" | env $file_env "$kp" store
    printf '%s' "$json" | "$ss" store
    printf '%s' "$json" | "$pass" store
  done
  # Every helper answers the same get and lists every registry.
  local want='"Username":"user42"' h n
  for h in "env $kc_env $kp" "env $file_env $kp" "$ss" "$pass"; do
    printf '%s' "$GET_KEY" | $h get | grep -q "$want" || { echo "bench-peers: $h get $GET_KEY did not answer user42" >&2; exit 1; }
  done
  for h in "env $kc_env $kp" "$ss"; do
    n=$($h list | jq length)
    [ "$n" -eq "$REGISTRIES" ] || { echo "bench-peers: $h list has $n entries, want $REGISTRIES" >&2; exit 1; }
  done

  local bp=$work/bin/benchproc
  local copies=${BENCH_COPIES:-4}
  echo "== [${SECONDS}s] get, keychain: $runs interleaved runs"
  "$bp" -copies "$copies" -n "$runs" -stdin "$GET_KEY" -json "$work/get-keychain.json" \
    -name "secretservice get" -cmd "$ss get" \
    -name "keyport get (keychain)" -cmd "$kc_env $kp get"
  echo "== [${SECONDS}s] get, file store: $runs interleaved runs"
  "$bp" -copies "$copies" -n "$runs" -stdin "$GET_KEY" -json "$work/get-file.json" \
    -name "pass get" -cmd "$pass get" \
    -name "keyport get (file)" -cmd "$file_env $kp get"
  echo "== [${SECONDS}s] list, $REGISTRIES registries: $list_runs interleaved runs"
  "$bp" -copies "$copies" -n "$list_runs" -json "$work/list.json" \
    -name "secretservice list" -cmd "$ss list" \
    -name "keyport list (keychain)" -cmd "$kc_env $kp list"
  # go-containerregistry asks for host/repository before the host: the
  # resolver tries the repository and namespace keys first, and the
  # keychain index answers those misses without a D-Bus round trip.
  printf '%s\n' "$GET_KEY" >"$work/key-host"
  printf '%s\n' "$GET_KEY/team/app" >"$work/key-repo"
  printf '#!/bin/sh\nexec %s get <%s\n' "$kp" "$work/key-host" >"$work/get-host.sh"
  printf '#!/bin/sh\nexec %s get <%s\n' "$kp" "$work/key-repo" >"$work/get-repo.sh"
  chmod +x "$work/get-host.sh" "$work/get-repo.sh"
  echo "== [${SECONDS}s] get, keychain, repository path vs host: $runs interleaved runs"
  "$bp" -copies "$copies" -n "$runs" -json "$work/get-repo.json" \
    -name "keyport get (keychain), host" -cmd "$kc_env $work/get-host.sh" \
    -name "keyport get (keychain), repository path" -cmd "$kc_env $work/get-repo.sh"
  echo "== [${SECONDS}s] get vs the floor: $floor_runs interleaved runs"
  "$bp" -copies "$copies" -n "$floor_runs" -stdin "$GET_KEY" -json "$work/floor.json" \
    -name "floor" -cmd "$work/bin/floor" \
    -name "keyport get (file), floor run" -cmd "$file_env $kp get"
}

if [ "${1:-}" = __inner ]; then
  inner "$2"
  exit
fi

# ---------------------------------------------------------------------------
# Outside: dependencies, builds, then the keyring session, then the report.

# Debian packages: what make test needs, plus what the reference helpers
# build and run with.
scripts/install-deps.sh pkg-config pass gnupg jq libsecret-1-dev

export BENCH_PEERS_T0=$(date +%s)
work=$(mktemp -d /tmp/keyport-bench-peers.XXXXXX)
# GNUPGHOME's agent socket lives under /run/user or the home; kill it before
# the directory goes.
cleanup() {
  GNUPGHOME=$work/gnupg gpgconf --kill all >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/bin"

echo "== [${SECONDS}s] building the reference helpers ($PEERS_MODULE@$PEERS_VERSION) in $work"
# From outside keyport's module, so its go.mod and go.sum stay untouched.
src=$(cd "$work" && GOWORK=off GOFLAGS= go mod download -json "$PEERS_MODULE@$PEERS_VERSION" | jq -r .Dir)
[ -n "$src" ] && [ "$src" != null ] || { echo "bench-peers: go mod download $PEERS_MODULE@$PEERS_VERSION failed" >&2; exit 1; }
cp -r "$src" "$work/peers"
chmod -R u+w "$work/peers"
modflag=-mod=mod
[ -d "$work/peers/vendor" ] && modflag=-mod=vendor
(
  cd "$work/peers"
  # Outside keyport's module and workspace, with its own go.mod and vendor/.
  export GOWORK=off GOFLAGS=$modflag
  CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$work/bin/docker-credential-secretservice" ./secretservice/cmd
  CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$work/bin/docker-credential-pass" ./pass/cmd
)

echo "== [${SECONDS}s] building keyport (make build), the floor and the timers"
make --no-print-directory build BIN="$work/bin" >/dev/null
CGO_ENABLED=0 go build -trimpath -o "$work/bin/floor" ./scripts/internal/floor
go build -o "$work/bin/benchproc" ./scripts/internal/benchproc
go build -o "$work/bin/benchpeers" ./scripts/internal/benchpeers

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/with-keyring.sh "$0" __inner "$work"

model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
machine="${model:-unknown CPU}, $(nproc) cores (nproc); Linux $(uname -r); $(go version | sed 's/^go version //');"
machine+=" gnome-keyring $(dpkg-query -W -f='${Version}' gnome-keyring 2>/dev/null),"
machine+=" libsecret $(dpkg-query -W -f='${Version}' libsecret-1-0 2>/dev/null),"
machine+=" $(gpg --version | head -1), pass $(dpkg-query -W -f='${Version}' pass 2>/dev/null);"
machine+=" load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"

md=${BENCH_PEERS_MD-BENCHMARKS.md}
strict=()
[ "${BENCH_PEERS_STRICT:-}" = 1 ] && strict=(-strict)
echo
echo "== [${SECONDS}s] keyport vs the peers ($PEERS_MODULE $PEERS_VERSION), $REGISTRIES registries stored"
"$work/bin/benchpeers" "${strict[@]}" \
  -results "$work/get-keychain.json,$work/get-file.json,$work/list.json,$work/get-repo.json,$work/floor.json" \
  -title "Peers: keyport vs docker-credential-helpers $PEERS_VERSION" \
  -command "BENCH_PEERS_RUNS=${BENCH_PEERS_RUNS:-150} BENCH_PEERS_LIST_RUNS=${BENCH_PEERS_LIST_RUNS:-100} BENCH_PEERS_FLOOR_RUNS=${BENCH_PEERS_FLOOR_RUNS:-500} scripts/bench-peers.sh" \
  -machine "$machine" ${md:+-md "$md"} \
  -ratio "get, keychain (vs secretservice)|keyport get (keychain)|secretservice get|0.5" \
  -ratio "get, file store (vs pass)|keyport get (file)|pass get|0.1" \
  -ratio "list, $REGISTRIES registries (vs secretservice)|keyport list (keychain)|secretservice list|0.2" \
  -ratio "get, file store (vs floor)|keyport get (file), floor run|floor|1.3" \
  -ratio "get, keychain, host/team/app (vs the host's own get; keyport's target)|keyport get (keychain), repository path|keyport get (keychain), host|1.1" \
  -rss "peak RSS, keyport get (file)|keyport get (file)|20" \
  -rss "peak RSS, keyport get (keychain)|keyport get (keychain)|20"
if [ -n "$md" ]; then echo "(written to $md)"; fi
