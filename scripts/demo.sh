#!/usr/bin/env bash
# demo.sh: the helper's main job, through the protocol docker speaks, on the
# encrypted file store in a throwaway KEYPORT_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
helper=$PWD/bin/docker-credential-keyport
export KEYPORT_HOME=$(mktemp -d /tmp/keyport-demo.XXXXXX)
export KEYPORT_BACKEND=file
trap 'rm -rf "$KEYPORT_HOME"' EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$1"; bash -c "$1" || echo "(exit $?)"; }

run "echo '{\"ServerURL\":\"https://index.docker.io/v1/\",\"Username\":\"demo\",\"Secret\":\"dckr_pat_demo\"}' | $helper store"
run "echo '{\"ServerURL\":\"ghcr.io\",\"Username\":\"octocat\",\"Secret\":\"ghp_demo\"}' | $helper store"
run "echo registry-1.docker.io | $helper get      # any Docker Hub alias finds the one entry"
run "echo ghcr.io/octocat/app | $helper get        # a repository falls back to its registry"
run "$helper list"
run "echo ghcr.io | $helper erase"
run "echo ghcr.io | $helper get                    # docker reads this line as 'not found'"
step "ls -l \$KEYPORT_HOME"
ls -l "$KEYPORT_HOME"
echo "plaintext secret found in $(grep -l dckr_pat_demo "$KEYPORT_HOME"/* 2>/dev/null | wc -l) files (the store is encrypted)"

# ---------------------------------------------------------------------------
# Part two: the account API. keyportd on SQLite, two projects, a CI runner's
# helper in remote mode with a project-bound token, then an outage.
keyportd=$PWD/bin/keyportd
api_home=$(mktemp -d /tmp/keyportd-demo.XXXXXX)
kpd_pid=
trap 'rm -rf "$KEYPORT_HOME" "$api_home"; [ -n "$kpd_pid" ] && kill "$kpd_pid" 2>/dev/null || true' EXIT
db=sqlite:$api_home/keyportd.db
kp() { KEYPORT_HOME=$api_home "$keyportd" "$@" --db "$db"; }

printf '\n\033[1m== the account API (keyportd on SQLite in %s)\033[0m\n' "$api_home"
step "keyportd project create --name web; keyportd project create --name api"
kp project create --name web
kp project create --name api
step 'ADMIN=$(keyportd token create --name ops --role admin)'
ADMIN=$(kp token create --name ops --role admin)
step 'CI_WEB=$(keyportd token create --name ci-web --role reader --project web)   # and CI_API for api'
CI_WEB=$(kp token create --name ci-web --role reader --project web)
CI_API=$(kp token create --name ci-api --role reader --project api)
step "keyportd serve --addr 127.0.0.1:0 &"
KEYPORT_HOME=$api_home "$keyportd" serve --addr 127.0.0.1:0 --db "$db" 2>"$api_home/serve.log" &
kpd_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/.*"addr":"\(127\.0\.0\.1:[0-9]*\)".*/http:\/\/\1/p; s/.*addr=\(127\.0\.0\.1:[0-9]*\).*/http:\/\/\1/p' "$api_home/serve.log" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$api_home/serve.log"; exit 1; }
echo "listening on $url"

create() {
  curl -sS -o /dev/null -w "  POST %{http_code}  $1\n" -X POST "$url/v1/integrations/registries" \
    -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' --data-binary @-
}
step "curl -X POST $url/v1/integrations/registries   # two credentials, one restricted to web"
create "ghcr bot (restricted to web)" <<'JSON'
{"name": "ghcr bot", "provider": "github", "credentials": {"username": "octo-bot", "password": "ghp_web_only"},
 "restrictions": {"restricted": true, "projects": ["web"]}}
JSON
create "hub puller (every project)" <<'JSON'
{"name": "hub puller", "provider": "dockerhub", "credentials": {"username": "acmepull", "password": "dckr_pat_all"},
 "restrictions": {"restricted": false}}
JSON

# Each runner is the helper with its environment: remote store only, the
# project's token, its own KEYPORT_HOME (written as tiny wrapper scripts so
# the commands below read as a CI job would run them).
runner() { # NAME PROJECT TOKEN_VAR [EXTRA_ENV...]
  local name=$1 project=$2 token=$3; shift 3
  mkdir -p "$api_home/$name" "$api_home/bin"
  { echo '#!/bin/sh'
    echo "export KEYPORT_HOME=$api_home/$name KEYPORT_BACKEND=remote KEYPORT_API_URL=$url KEYPORT_PROJECT=$project $*"
    echo "export KEYPORT_API_TOKEN=\"\$$token\""
    echo "exec $helper \"\$@\""; } >"$api_home/bin/$name"
  chmod +x "$api_home/bin/$name"
}
export CI_WEB CI_API PATH="$api_home/bin:$PATH"
runner web-runner web CI_WEB
runner api-runner api CI_API
runner web-runner-ttl1s web CI_WEB KEYPORT_CACHE_TTL=1s KEYPORT_HOME=$api_home/web-runner
runner new-runner web CI_WEB
printf '\n\033[1m== CI runners: web-runner = the helper with KEYPORT_BACKEND=remote KEYPORT_API_URL=%s\n   KEYPORT_PROJECT=web KEYPORT_API_TOKEN=$CI_WEB (api-runner: project api, $CI_API)\033[0m\n' "$url"
run "echo ghcr.io | web-runner get"
run "echo ghcr.io | api-runner get        # restricted to web: not for api"
run "echo docker.io | api-runner get      # unrestricted: every project"
run "web-runner list"
run "web-runner ls"
run "web-runner account status"
run "echo '{\"ServerURL\":\"quay.io\",\"Username\":\"x\",\"Secret\":\"y\"}' | web-runner store   # read-only"

printf '\n\033[1m== keyportd goes down\033[0m\n'
step "kill keyportd; wait past the fresh TTL (KEYPORT_CACHE_TTL=1s here, 5m by default)"
kill "$kpd_pid"; wait "$kpd_pid" 2>/dev/null || true; kpd_pid=
sleep 1.2
run "echo ghcr.io | web-runner-ttl1s get   # the cached answer, a warning on stderr"
run "echo ghcr.io | new-runner get         # a runner that never fetched: a clear error"
echo "plaintext secret found in $(grep -rl ghp_web_only "$api_home/web-runner" 2>/dev/null | wc -l) cache files (the cache is encrypted)"
