#!/usr/bin/env bash
# portico's HTTPS listener with the clients people use: curl and
# `openssl s_client` (OpenSSL, not rustls, on the client side). Checks SNI
# selection and the default certificate, TLS 1.2 and 1.3, ALPN, session
# resumption with a saved session, and certificate verification against
# the CA curl is given. Starts its own portico (debug build) on loopback
# with certificates from `portico cert self-signed`. Run by tests/e2e/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
    echo "tls_clients: installing openssl and curl (Debian packages)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl curl >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssl curl >&2; } \
        || { echo "tls_clients: needs openssl and curl" >&2; exit 1; }
fi
BIN=$(tests/e2e/portico_bin.sh)
TMP=$(mktemp -d /tmp/portico-tls-e2e.XXXXXX)
PID=""
SPID=""
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    [[ -n $SPID ]] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "tls_clients: $*" >&2; exit 1; }

"$BIN" cert self-signed --host a.test --out "$TMP" >/dev/null
"$BIN" cert self-signed --host '*.b.test' --out "$TMP" >/dev/null
cat >"$TMP/portico.toml" <<TOML
[server]
listen = "127.0.0.1:0"
workers = 2

[state]
dir = "$TMP/state"

[admin]
listen = "127.0.0.1:0"

[tls]
listen = "127.0.0.1:0"

[[tls.certificates]]
cert = "$TMP/a.test.crt"
key = "$TMP/a.test.key"

[[tls.certificates]]
cert = "$TMP/_wildcard.b.test.crt"
key = "$TMP/_wildcard.b.test.key"

[[api]]
name = "site"
[api.stages.prod]
[[api.routes]]
method = "GET"
path = "/hello"
integration = { type = "mock", status = 200, body = "hello over tls" }
TOML
"$BIN" --config "$TMP/portico.toml" 2>"$TMP/stderr.log" &
PID=$!
for _ in $(seq 1 200); do
    grep -q 'listening on https://' "$TMP/stderr.log" && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/stderr.log" >&2; fail "portico did not start"; }
    sleep 0.05
done
PORT=$(grep -o 'listening on https://127.0.0.1:[0-9]*' "$TMP/stderr.log" | head -n1 | sed 's/.*://')
[[ -n $PORT ]] || fail "no https port in the log"

# curl, verifying against the certificate it is given, by name (SNI).
body=$(curl -sS --cacert "$TMP/a.test.crt" --resolve "a.test:$PORT:127.0.0.1" "https://a.test:$PORT/prod/hello")
[[ $body == "hello over tls" ]] || fail "curl to a.test: '$body'"
body=$(curl -sS --cacert "$TMP/_wildcard.b.test.crt" --resolve "x.b.test:$PORT:127.0.0.1" "https://x.b.test:$PORT/prod/hello")
[[ $body == "hello over tls" ]] || fail "curl to x.b.test (wildcard): '$body'"
# The wrong CA for the name: curl refuses (exit 60: peer certificate cannot be authenticated).
rc=0
curl -sS -o /dev/null --cacert "$TMP/_wildcard.b.test.crt" --resolve "a.test:$PORT:127.0.0.1" "https://a.test:$PORT/prod/hello" 2>/dev/null || rc=$?
[[ $rc == 60 ]] || fail "curl with the wrong CA exited $rc, wanted 60"

subject() { # servername (empty: no SNI) -> the presented certificate's subject alt names
    local sni=()
    [[ -n $1 ]] && sni=(-servername "$1")
    openssl s_client -connect "127.0.0.1:$PORT" "${sni[@]}" </dev/null 2>/dev/null \
        | openssl x509 -noout -ext subjectAltName 2>/dev/null | tail -n1 | tr -d ' '
}
[[ $(subject a.test) == "DNS:a.test" ]] || fail "SNI a.test got $(subject a.test)"
[[ $(subject y.b.test) == "DNS:*.b.test" ]] || fail "SNI y.b.test got $(subject y.b.test)"
[[ $(subject unknown.test) == "DNS:a.test" ]] || fail "an unknown name did not get the default"
[[ $(subject "") == "DNS:a.test" ]] || fail "no SNI did not get the default"

for v in tls1_2 tls1_3; do
    out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername a.test "-$v" -alpn h2,http/1.1 </dev/null 2>&1)
    want=$([[ $v == tls1_2 ]] && echo TLSv1.2 || echo TLSv1.3)
    grep -q "Protocol *: *$want\|New, $want" <<<"$out" || fail "$v: not negotiated: $(grep -m1 -i protocol <<<"$out")"
    grep -q "ALPN protocol: http/1.1" <<<"$out" || fail "$v: ALPN is not http/1.1"
done
# TLS 1.1 is refused. OpenSSL 3 at its default security level cannot
# complete a TLS 1.1 handshake with anyone (no SHA-1 signatures), which would
# make this check pass whatever portico does; so offer TLS 1.1 at security
# level 0, and first prove against openssl's own server that this client
# really completes TLS 1.1 that way.
TLS11=(-tls1_1 -cipher 'DEFAULT@SECLEVEL=0')
tls11_done() { # s_client output -> true when a TLS 1.1 session was established
    grep -q "Protocol *: *TLSv1.1" <<<"$1" && grep -q "^New, .*Cipher is " <<<"$1" \
        && ! grep -q "Cipher is (NONE)" <<<"$1"
}
openssl s_server -accept 127.0.0.1:0 -cert "$TMP/a.test.crt" -key "$TMP/a.test.key" "${TLS11[@]}" \
    -naccept 1 -www </dev/null >"$TMP/s_server.out" 2>&1 &
SPID=$!
for _ in $(seq 1 200); do
    grep -q '^ACCEPT ' "$TMP/s_server.out" && break
    kill -0 "$SPID" 2>/dev/null || { cat "$TMP/s_server.out" >&2; fail "openssl s_server did not start"; }
    sleep 0.05
done
SPORT=$(grep -o '^ACCEPT 127.0.0.1:[0-9]*' "$TMP/s_server.out" | sed 's/.*://')
[[ -n $SPORT ]] || fail "no port from openssl s_server: $(cat "$TMP/s_server.out")"
out=$(openssl s_client -connect "127.0.0.1:$SPORT" -servername a.test "${TLS11[@]}" </dev/null 2>&1 || true)
wait "$SPID" || true
SPID=""
tls11_done "$out" || fail "this openssl cannot complete TLS 1.1 even at SECLEVEL=0, so portico's refusal cannot be checked: $out"
# The same security level with TLS 1.2 is served, so what portico refuses
# below is the version, not the cipher list.
out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername a.test -tls1_2 -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1 || true)
grep -q "Protocol *: *TLSv1.2" <<<"$out" && ! grep -q "Cipher is (NONE)" <<<"$out" \
    || fail "TLS 1.2 at SECLEVEL=0 was not served: $out"
rc=0
out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername a.test "${TLS11[@]}" </dev/null 2>&1) || rc=$?
tls11_done "$out" && fail "TLS 1.1 was accepted"
[[ $rc != 0 ]] || fail "s_client exited 0 offering TLS 1.1"
# rustls answers a hello offering neither 1.2 nor 1.3 with a fatal alert
# (handshake_failure, 40; protocol_version, 70, would be as right): the
# server refused, the connection did not merely drop.
grep -Eq "SSL alert number (40|70)" <<<"$out" || fail "TLS 1.1 not refused by an alert: $out"

# Resumption: a session saved from one connection resumes on the next (TLS 1.2 and 1.3, tickets).
for v in tls1_2 tls1_3; do
    openssl s_client -connect "127.0.0.1:$PORT" -servername a.test "-$v" -sess_out "$TMP/sess.$v" \
        -ign_eof <<<$'GET /prod/hello HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' >/dev/null 2>&1
    out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername a.test "-$v" -sess_in "$TMP/sess.$v" </dev/null 2>&1)
    grep -q "^Reused," <<<"$out" || fail "$v: the saved session was not resumed"
done

kill -TERM "$PID"
wait "$PID"
PID=""
echo "tls_clients: curl and openssl s_client checks passed"
