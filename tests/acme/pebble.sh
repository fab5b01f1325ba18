#!/usr/bin/env bash
# Runs the `pebble` ACME (RFC 8555) test CA on loopback, fully offline, for
# ACME integration tests. See tests/acme/README.md for the interface.
#
#   tests/acme/pebble.sh --dir DIR --http-port N --tls-port N [--ports-out FILE]
#
# Installs Debian's `pebble` package if needed (it ships both /usr/bin/pebble
# and /usr/bin/pebble-challtestsrv), generates a throwaway CA ("minica") and a
# certificate for pebble's own HTTPS listener (the package ships none), starts
# pebble-challtestsrv as a mock DNS server answering every A query with
# 127.0.0.1 (and no AAAA), then pebble with `-dnsserver` pointing at it, waits
# until the ACME directory answers and prints, one per line:
#
#   DIRECTORY=https://127.0.0.1:PORT/dir   the ACME directory URL
#   CA=DIR/pebble.minica.pem               trust this for the ACME API (HTTPS)
#   MANAGEMENT=https://127.0.0.1:PORT      pebble's management API (same CA);
#                                          GET /roots/0 = root of issued certs
#   DNS=127.0.0.1:PORT                     the mock DNS server pebble's VA uses
#   CHALLTESTSRV=http://127.0.0.1:PORT     challtestsrv's management API
#                                          (POST /add-a, /set-default-ipv4, ...)
#   PIDS=PID1 PID2                         challtestsrv and pebble; kill these
#
# The servers keep running (own session, stdin/stdout/stderr detached, logs
# in DIR) after this script exits; the caller kills PIDS.
set -euo pipefail

usage() {
    echo "usage: $0 --dir DIR --http-port N --tls-port N [--ports-out FILE]" >&2
    exit 2
}

DIR="" HTTP_PORT="" TLS_PORT="" PORTS_OUT=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) DIR=${2:?}; shift 2 ;;
        --http-port) HTTP_PORT=${2:?}; shift 2 ;;
        --tls-port) TLS_PORT=${2:?}; shift 2 ;;
        --ports-out) PORTS_OUT=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "pebble.sh: unknown argument: $1" >&2; usage ;;
    esac
done
[[ -n $DIR && -n $HTTP_PORT && -n $TLS_PORT ]] || usage
[[ $HTTP_PORT =~ ^[0-9]+$ && $TLS_PORT =~ ^[0-9]+$ ]] || { echo "pebble.sh: ports must be numbers" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

log() { echo "pebble.sh: $*" >&2; }

# --- 1. packages ------------------------------------------------------------
need_pkgs=()
command -v pebble >/dev/null 2>&1 || need_pkgs+=(pebble)
command -v pebble-challtestsrv >/dev/null 2>&1 || need_pkgs+=(pebble)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v perl >/dev/null 2>&1 || need_pkgs+=(perl-base)
command -v setsid >/dev/null 2>&1 || need_pkgs+=(util-linux)
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
    mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
    log "installing ${need_pkgs[*]}"
    SUDO=()
    [[ $(id -u) -eq 0 ]] || SUDO=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    # Parallel tests each run this script: one apt-get at a time (the lock
    # is shared with tests/nginx/install.sh), and a test that waited finds
    # the packages installed by the one before it.
    (
        flock 9
        missing=()
        for p in "${need_pkgs[@]}"; do
            dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
        done
        if [[ ${#missing[@]} -gt 0 ]] \
            && ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
            "${SUDO[@]}" apt-get update >&2
            "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
        fi
    ) 9>/tmp/portico-apt.lock
fi
PEBBLE=$(command -v pebble)
CHALLTESTSRV=$(command -v pebble-challtestsrv)

# --- 2. certificates for pebble's HTTPS listeners (ACME API + management) ---
# Debian's package ships no test/certs/, so make a minica-style CA and a leaf
# for localhost/127.0.0.1/::1 (usable by rustls/webpki: v3, SAN, CA:FALSE).
CA_CERT=$DIR/pebble.minica.pem
CA_KEY=$DIR/pebble.minica.key.pem
TLS_CERT=$DIR/localhost-cert.pem
TLS_KEY=$DIR/localhost-key.pem
if [[ ! -s $CA_CERT || ! -s $TLS_CERT || ! -s $TLS_KEY ]]; then
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$CA_KEY" -out "$CA_CERT" -days 3650 -subj "/CN=pebble test minica" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TLS_KEY" -out "$DIR/localhost.csr" -subj "/CN=localhost" 2>/dev/null
    cat >"$DIR/localhost.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:pebble,IP:127.0.0.1,IP:::1
EXT
    openssl x509 -req -in "$DIR/localhost.csr" -CA "$CA_CERT" -CAkey "$CA_KEY" \
        -CAcreateserial -out "$TLS_CERT" -days 825 -extfile "$DIR/localhost.ext" 2>/dev/null
    rm -f "$DIR/localhost.csr" "$DIR/localhost.ext" "$DIR/pebble.minica.srl"
fi

# --- helpers ------------------------------------------------------------------
# N distinct loopback ports, each free for both TCP and UDP at the time of asking.
free_ports() {
    perl -MIO::Socket::INET -e '
        my ($n, @keep, @out) = ($ARGV[0]);
        while (@out < $n) {
            my $t = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                          Proto => "tcp", Listen => 1) or die "tcp: $!";
            my $p = $t->sockport;
            my $u = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $p,
                                          Proto => "udp");
            push @keep, $t;
            next unless $u;
            push @keep, $u;
            push @out, $p;
        }
        print "@out\n";' "$1"
}

# Start "$@" in its own session, detached from our stdio; print its PID.
# (setsid -f forks, so the PID comes from the child shell that execs the server.)
spawn() {
    local logfile=$1 pidfile=$2; shift 2
    rm -f "$pidfile"
    setsid -f /bin/sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
        </dev/null >"$logfile" 2>&1
    local i
    for i in $(seq 1 100); do
        [[ -s $pidfile ]] && { cat "$pidfile"; return 0; }
        sleep 0.02
    done
    log "no pid file $pidfile"
    return 1
}

alive() { kill -0 "$1" 2>/dev/null; }

stop() {
    local p
    for p in "$@"; do
        [[ -n $p ]] && kill "$p" 2>/dev/null || true
    done
}

# --- 3-5. config, start, wait (retried with fresh ports if a port was taken) --
TIMEOUT=${PEBBLE_START_TIMEOUT:-30}
attempt=0
while :; do
    attempt=$((attempt + 1))
    read -r ACME_PORT MGMT_PORT DNS_PORT CTS_MGMT_PORT < <(free_ports 4)

    cat >"$DIR/pebble-config.json" <<JSON
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$MGMT_PORT",
    "certificate": "$TLS_CERT",
    "privateKey": "$TLS_KEY",
    "httpPort": $HTTP_PORT,
    "tlsPort": $TLS_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
JSON

    # Mock DNS only: every A query -> 127.0.0.1, AAAA -> nothing (so a
    # challenge server listening on 127.0.0.1 only is reached directly);
    # its own HTTP-01/HTTPS-01/TLS-ALPN-01 responders are disabled.
    CTS_PID=$(spawn "$DIR/challtestsrv.log" "$DIR/challtestsrv.pid" \
        "$CHALLTESTSRV" \
        -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
        -dns01 "127.0.0.1:$DNS_PORT" \
        -http01 "" -https01 "" -tlsalpn01 "" \
        -management "127.0.0.1:$CTS_MGMT_PORT")

    # Deterministic: no random validation sleeps, no spurious badNonce, real
    # validation (PEBBLE_VA_ALWAYS_VALID unset). Other PEBBLE_* variables
    # from the caller (PEBBLE_AUTHZREUSE, PEBBLE_CHAIN_LENGTH, ...) pass through.
    # (env execs pebble, so the PID is pebble's.)
    PEBBLE_PID=$(spawn "$DIR/pebble.log" "$DIR/pebble.pid" \
        env -u PEBBLE_VA_ALWAYS_VALID PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
        "$PEBBLE" -config "$DIR/pebble-config.json" -dnsserver "127.0.0.1:$DNS_PORT" -strict=false)

    ready=0
    deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        alive "$CTS_PID" && alive "$PEBBLE_PID" || break
        if curl -sf -o /dev/null --max-time 2 --cacert "$CA_CERT" "https://127.0.0.1:$ACME_PORT/dir" &&
           curl -sf -o /dev/null --max-time 2 --cacert "$CA_CERT" "https://127.0.0.1:$MGMT_PORT/roots/0" &&
           [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$CTS_MGMT_PORT/") != 000 ]]; then
            ready=1
            break
        fi
        sleep 0.1
    done
    ((ready)) && break

    why="pebble or pebble-challtestsrv exited at startup"
    alive "$CTS_PID" && alive "$PEBBLE_PID" && why="pebble did not become ready within ${TIMEOUT}s"
    stop "$PEBBLE_PID" "$CTS_PID"
    if ((attempt < 3)) && grep -qi 'address already in use' "$DIR/pebble.log" "$DIR/challtestsrv.log" 2>/dev/null; then
        log "port clash, retrying"
        continue
    fi
    log "$why; logs follow"
    for f in "$DIR/challtestsrv.log" "$DIR/pebble.log"; do
        echo "--- $f" >&2
        tail -n 40 "$f" >&2 || true
    done
    exit 1
done

OUT="DIRECTORY=https://127.0.0.1:$ACME_PORT/dir
CA=$CA_CERT
MANAGEMENT=https://127.0.0.1:$MGMT_PORT
DNS=127.0.0.1:$DNS_PORT
CHALLTESTSRV=http://127.0.0.1:$CTS_MGMT_PORT
PIDS=$CTS_PID $PEBBLE_PID"
if [[ -n $PORTS_OUT ]]; then
    printf '%s\n' "$OUT" >"$PORTS_OUT.tmp.$$"
    mv "$PORTS_OUT.tmp.$$" "$PORTS_OUT"
fi
printf '%s\n' "$OUT"
