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
