#!/usr/bin/env bash
# registry.sh — run real container registries with real auth for keyport's tests.
#
# Debian packages needed (apt-get install -y ...):
#   docker-registry apache2-utils openssl skopeo curl
# plus Go (to build scripts/internal/pushimage, which seeds the test image).
#
# Usage:
#   eval "$(scripts/registry.sh start /tmp/kp-reg)"   # start (or reuse), print exports
#   scripts/registry.sh env /tmp/kp-reg               # print the exports again
#   scripts/registry.sh stop /tmp/kp-reg              # stop both registries
#
# `start DIR` makes, under DIR:
#   - a throwaway CA and a server certificate for 127.0.0.1 and localhost,
#   - an htpasswd file (bcrypt) for user "keyport" with a random password,
#   - a TLS registry and a plain-HTTP registry, both with htpasswd auth, each on
#     a free port of 127.0.0.1 (the registry binds port 0 and we read the port
#     from its log, so there is no race for a port),
#   - the image keyport/test:latest pushed into both,
# then prints on stdout (and saves in DIR/env):
#   KEYPORT_TEST_REGISTRY               host:port of the TLS registry
#   KEYPORT_TEST_REGISTRY_HTTP          host:port of the plain-HTTP registry
#   KEYPORT_TEST_REGISTRY_CA            the CA certificate (PEM)
#   KEYPORT_TEST_REGISTRY_CERT_DIR      a directory holding only ca.crt (skopeo/podman --cert-dir)
#   KEYPORT_TEST_REGISTRY_USER          the user name
#   KEYPORT_TEST_REGISTRY_PASSWORD_FILE a 0600 file holding the password
#   KEYPORT_TEST_REGISTRY_NETRC         a 0600 netrc for curl --netrc-file
#   KEYPORT_TEST_IMAGE                  keyport/test:latest
#   KEYPORT_TEST_IMAGE_DIGEST           its digest (the same on every push)
# The password itself never appears in that output nor on a command line,
# except htpasswd's, which is acceptable for a throwaway test password.
#
# Everything but the exports goes to stderr, so `eval "$(...)"` stays clean.

set -euo pipefail

readonly USER_NAME=keyport
readonly IMAGE=keyport/test:latest
readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly START_TIMEOUT=30

die() {
	echo "registry.sh: $*" >&2
	exit 1
}

usage() {
	die "usage: $0 start|stop|env DIR"
}

need() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 ||
			die "$cmd not found; install the Debian packages docker-registry apache2-utils openssl skopeo curl (and Go)"
	done
}

# is_running NAME: whether the registry NAME (tls or http) of $DIR is alive.
# The command line is checked so a recycled pid is never mistaken for it.
is_running() {
	local pidfile="$DIR/$1/pid" pid
	[[ -f $pidfile ]] || return 1
	pid="$(cat "$pidfile")"
	[[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "docker-registry serve $DIR/$1/config.yml"
}

# make_certs: a CA and a server certificate with the SANs clients verify.
make_certs() {
	local ca="$DIR/ca" keys="$DIR/keys"
	[[ -f $ca/ca.crt && -f $keys/server.crt ]] && return 0
	mkdir -p "$ca" "$keys"
	chmod 700 "$keys"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
		-keyout "$keys/ca.key" -out "$ca/ca.crt" -subj "/CN=keyport test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -sha256 \
		-keyout "$keys/server.key" -out "$keys/server.csr" -subj "/CN=localhost" 2>/dev/null
	printf '%s\n' \
		"basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" \
		"extendedKeyUsage=serverAuth" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost" >"$keys/server.ext"
	openssl x509 -req -in "$keys/server.csr" -CA "$ca/ca.crt" -CAkey "$keys/ca.key" \
		-CAcreateserial -days 30 -sha256 -extfile "$keys/server.ext" -out "$keys/server.crt" 2>/dev/null
}

# make_credentials: the password file, the htpasswd file and a netrc, all 0600.
make_credentials() {
	[[ -f $DIR/password && -f $DIR/htpasswd ]] && return 0
	local password
	password="$(openssl rand -hex 16)"
	(
		umask 077
		printf '%s\n' "$password" >"$DIR/password"
		htpasswd -Bbn "$USER_NAME" "$password" | sed '/^$/d' >"$DIR/htpasswd"
		: >"$DIR/netrc"
		for host in 127.0.0.1 localhost; do
			printf 'machine %s login %s password %s\n' "$host" "$USER_NAME" "$password" >>"$DIR/netrc"
		done
	)
}

# write_config NAME TLS: the distribution v2.8 configuration of one registry.
write_config() {
	local name="$1" tls="$2" dir="$DIR/$1"
	mkdir -p "$dir/data"
	{
		cat <<-EOF
			version: 0.1
			log:
			  level: info
			  formatter: text
			storage:
			  filesystem:
			    rootdirectory: $dir/data
			  delete:
			    enabled: true
			auth:
			  htpasswd:
			    realm: keyport-test-$name
			    path: $DIR/htpasswd
			http:
			  addr: 127.0.0.1:0
			  secret: $(openssl rand -hex 16)
		EOF
		if [[ $tls == yes ]]; then
			cat <<-EOF
				  tls:
				    certificate: $DIR/keys/server.crt
				    key: $DIR/keys/server.key
			EOF
		fi
	} >"$dir/config.yml"
}

# start_one NAME TLS: starts one registry and records its address in NAME/addr.
start_one() {
	local name="$1" tls="$2" dir="$DIR/$1"
	if is_running "$name"; then
		return 0
	fi
	write_config "$name" "$tls"
	: >"$dir/registry.log"
	# 3>&-: the registry must not hold the exports pipe open, or $(...) never ends
	setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null 3>&- &
	echo $! >"$dir/pid"
	local port="" i
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/registry.log" | head -n1)"
		[[ -n $port ]] && break
		is_running "$name" || { cat "$dir/registry.log" >&2; die "the $name registry exited"; }
		sleep 0.1
	done
	[[ -n $port ]] || { cat "$dir/registry.log" >&2; die "the $name registry did not start in ${START_TIMEOUT}s"; }
	echo "127.0.0.1:$port" >"$dir/addr"
	wait_ready "$name"
}

# wait_ready NAME: /v2/ must answer 401 without credentials and 200 with them.
wait_ready() {
	local name="$1" addr scheme=http code="" i
	addr="$(cat "$DIR/$name/addr")"
	[[ $name == tls ]] && scheme=https
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca/ca.crt" "$scheme://$addr/v2/" || true)"
		[[ $code == 401 ]] && break
		sleep 0.1
	done
	[[ $code == 401 ]] || die "the $name registry at $addr answers $code, not 401, on /v2/ without credentials"
	code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/ca/ca.crt" --netrc-file "$DIR/netrc" "$scheme://$addr/v2/")"
	[[ $code == 200 ]] || die "the $name registry at $addr answers $code, not 200, on /v2/ with the test credentials"
}

# push_image NAME: seeds $IMAGE and records its digest.
push_image() {
	local name="$1" addr flags=()
	addr="$(cat "$DIR/$name/addr")"
	[[ $name == http ]] && flags+=(--plain-http)
	"$DIR/bin/pushimage" --registry "$addr" --ca "$DIR/ca/ca.crt" --user "$USER_NAME" \
		--password-file "$DIR/password" --repo "$IMAGE" "${flags[@]}" >"$DIR/digest" ||
		die "pushing $IMAGE to the $name registry at $addr failed"
}

build_pusher() {
	[[ -x $DIR/bin/pushimage ]] && return 0
	(cd "$REPO_ROOT" && go build -o "$DIR/bin/pushimage" ./scripts/internal/pushimage) ||
		die "building scripts/internal/pushimage failed"
}

write_env() {
	{
		echo "export KEYPORT_TEST_REGISTRY=$(cat "$DIR/tls/addr")"
		echo "export KEYPORT_TEST_REGISTRY_HTTP=$(cat "$DIR/http/addr")"
		echo "export KEYPORT_TEST_REGISTRY_CA=$DIR/ca/ca.crt"
		echo "export KEYPORT_TEST_REGISTRY_CERT_DIR=$DIR/ca"
		echo "export KEYPORT_TEST_REGISTRY_USER=$USER_NAME"
		echo "export KEYPORT_TEST_REGISTRY_PASSWORD_FILE=$DIR/password"
		echo "export KEYPORT_TEST_REGISTRY_NETRC=$DIR/netrc"
		echo "export KEYPORT_TEST_IMAGE=$IMAGE"
		echo "export KEYPORT_TEST_IMAGE_DIGEST=$(cat "$DIR/digest")"
	} >"$DIR/env"
}

cmd_start() {
	need docker-registry htpasswd openssl curl go setsid
	mkdir -p "$DIR"
	make_certs
	make_credentials
	build_pusher
	start_one tls yes
	start_one http no
	push_image tls
	push_image http
	write_env
	cat "$DIR/env" >&3
}

# stop_one NAME: TERM, then KILL after 5 seconds; only our own registry.
stop_one() {
	local name="$1" pid i
	if ! is_running "$name"; then
		rm -f "$DIR/$name/pid"
		return 0
	fi
	pid="$(cat "$DIR/$name/pid")"
	kill "$pid"
	for ((i = 0; i < 50; i++)); do
		is_running "$name" || break
		sleep 0.1
	done
	is_running "$name" && kill -KILL "$pid"
	rm -f "$DIR/$name/pid"
	echo "registry.sh: stopped the $name registry (pid $pid)" >&2
}

cmd_stop() {
	stop_one tls
	stop_one http
}

cmd_env() {
	[[ -f $DIR/env ]] || die "no registry was started in $DIR"
	is_running tls && is_running http || die "the registries in $DIR are not running; use start"
	cat "$DIR/env" >&3
}

main() {
	[[ $# -eq 2 ]] || usage
	DIR="$(realpath -m "$2")"
	readonly DIR
	exec 3>&1 1>&2 # stdout carries only the exports
	case "$1" in
	start) cmd_start ;;
	stop) cmd_stop ;;
	env) cmd_env ;;
	*) usage ;;
	esac
}

main "$@"
