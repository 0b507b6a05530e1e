#!/usr/bin/env bash
# install-deps.sh [PACKAGE...]: installs, from Debian's packages, every real
# component the test suite runs against, and any PACKAGE named (the benchmark
# adds its own). Idempotent; needs root (CI runs as root).
set -euo pipefail

# command → package that provides it
declare -A need=(
  [dbus-run-session]=dbus
  [dbus-send]=dbus
  [gnome-keyring-daemon]=gnome-keyring
  [secret-tool]=libsecret-tools
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [openssl]=openssl
  [skopeo]=skopeo
  [podman]=podman
  [buildah]=buildah
  [chromium]=chromium
)
pkgs=(dbus-user-session "$@")
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || pkgs+=("${need[$cmd]}")
done
# PostgreSQL's server binaries live outside PATH.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || pkgs+=(postgresql)
# The docker CLI (docker login / docker manifest inspect work without a daemon).
command -v docker >/dev/null 2>&1 || pkgs+=(docker.io)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "install-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # dbus-x11 is kept out on purpose: its dbus-launch makes D-Bus libraries
  # spawn stray session buses instead of failing fast.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
