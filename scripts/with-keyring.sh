#!/usr/bin/env bash
# with-keyring.sh CMD...: runs CMD inside a private D-Bus session bus with a
# real gnome-keyring Secret Service, unlocked, in a throwaway keyring
# directory. Needs Debian's dbus, dbus-user-session and gnome-keyring.
set -euo pipefail

if [ -z "${KEYPORT_KEYRING_SESSION:-}" ]; then
  for bin in dbus-run-session gnome-keyring-daemon dbus-send; do
    command -v "$bin" >/dev/null || { echo "with-keyring: $bin is missing (apt-get install dbus dbus-user-session gnome-keyring)" >&2; exit 1; }
  done
  export KEYPORT_KEYRING_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi

# Inside the session bus now. Keep the keyring files out of the real home.
keyring_data=$(mktemp -d)
export XDG_DATA_HOME="$keyring_data"
trap 'rm -rf "$keyring_data"' EXIT

# --unlock reads the login password on stdin and creates the login keyring.
eval "$(printf 'keyport-test' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

for _ in $(seq 1 100); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    break
  fi
  sleep 0.1
done
dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true' \
  || { echo "with-keyring: org.freedesktop.secrets never appeared on the bus" >&2; exit 1; }

export KEYPORT_TEST_KEYRING=1
"$@"
