#!/bin/sh
# scale-tls.sh — scale.sh over TLS: idle subscribed sessions through a wss://
# (or rss://) listener of `zwamp serve`, the router's RSS per session and
# one event to all. Same method as scale.sh (router on CPU 0, tool on
# CPU 1); the certificate is a throwaway ECDSA P-256 one made with openssl.
# Keepalive pings wait 5 minutes: establishing 19,500 TLS sessions on this
# loaded machine takes longer than the default 30 s + 10 s, and the tool
# does not answer pings before its sessions start reading.
#
#   SESSIONS=5000 bench/scale-tls.sh
#   SESSIONS=5000 TRANSPORT=rs bench/scale-tls.sh   # rss://
#   BIN=/tmp/old/zwamp NOBUILD=1 bench/scale-tls.sh  # a given binary
set -eu

SESSIONS=${SESSIONS:-19500}
SOURCES=${SOURCES:-4}
CONCURRENCY=${CONCURRENCY:-128}
EVENTS=${EVENTS:-5}
SERIALIZER=${SERIALIZER:-json}
TRANSPORT=${TRANSPORT:-ws}
ROUTER_CPU=${ROUTER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
BIN=${BIN:-/tmp/zwamp-scale-tls/zwamp}

mkdir -p "$(dirname "$BIN")"
[ -n "${NOBUILD:-}" ] || go build -o "$BIN" ./cmd/zwamp
DIR=$(mktemp -d)
LOG=$DIR/log
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
	-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
cat >"$DIR/zwamp.json" <<JSON
{"auto_create_realms": true, "realms": [{"name": "realm1"}],
 "limits": {"ping_interval": "5m"},
 "listeners": [{"address": "127.0.0.1:0", "tls": {"cert": "$DIR/cert.pem", "key": "$DIR/key.pem"}}]}
JSON
taskset -c "$ROUTER_CPU" "$BIN" serve --config "$DIR/zwamp.json" >/dev/null 2>"$LOG" &
PID=$!
ADDR=
for _ in $(seq 50); do
	ADDR=$(grep -o 'addr=127\.0\.0\.1:[0-9]*' "$LOG" | head -1 | sed 's/^addr=//')
	[ -n "$ADDR" ] && break
	sleep 0.1
done
[ -n "$ADDR" ] || { echo "scale-tls.sh: zwamp did not start" >&2; cat "$LOG" >&2; exit 1; }

URL="wss://$ADDR/ws"
[ "$TRANSPORT" = rs ] && URL="rss://$ADDR"
echo "scale-tls.sh: zwamp pid $PID at $URL" >&2
timeout 300 taskset -c "$TOOL_CPU" "$BIN" bench conns --url "$URL" --serializer "$SERIALIZER" \
	--sessions "$SESSIONS" --sources "$SOURCES" --concurrency "$CONCURRENCY" --events "$EVENTS" --pid "$PID"
