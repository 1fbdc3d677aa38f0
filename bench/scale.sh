#!/bin/sh
# scale.sh — the connection-scale run (`make scale`): as many idle
# subscribed sessions as one router process can hold on this machine, the
# router's RSS per session, and the time one event takes to reach all of
# them. The router runs on CPU 0, the load tool on CPU 1; each process has
# its own open-file limit (20,000 here), so SESSIONS defaults to 19,500.
#
#   bench/scale.sh
#   SESSIONS=10000 SERIALIZER=msgpack TRANSPORT=rs bench/scale.sh
#   TARGET=ceiling bench/scale.sh      # the same against the reference ceiling (WebSocket only)
#   TLS=1 SESSIONS=5000 bench/scale.sh  # wss:// (TRANSPORT=rs: rss://) through a TLS listener
#   BIN=/tmp/old/zwamp NOBUILD=1 bench/scale.sh   # a given binary
#
# With TLS=1 the certificate is a throwaway ECDSA P-256 one made with
# openssl, and keepalive pings wait 5 minutes: establishing 19,500 TLS
# sessions on this loaded machine takes longer than the default 30 s + 10 s,
# and the tool does not answer pings before its sessions start reading.
#
# Prints the load tool's table and JSON line. Bounded: establishment is
# capped by the tool's 10 s setup timeout per session and the run by
# `timeout`. Run from the repository root.
set -eu

SESSIONS=${SESSIONS:-19500}
SOURCES=${SOURCES:-4}
CONCURRENCY=${CONCURRENCY:-128}
EVENTS=${EVENTS:-5}
SERIALIZER=${SERIALIZER:-json}
TRANSPORT=${TRANSPORT:-ws}
TARGET=${TARGET:-zwamp}
ROUTER_CPU=${ROUTER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
BIN=${BIN:-/tmp/zwamp-scale/zwamp}

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

SCHEME_WS=ws SCHEME_RS=rs
if [ -n "${TLS:-}" ]; then
	[ "$TARGET" = zwamp ] || { echo "scale.sh: TLS=1 needs TARGET=zwamp" >&2; exit 2; }
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
	cat >"$DIR/zwamp.json" <<JSON
{"auto_create_realms": true, "realms": [{"name": "realm1"}],
 "limits": {"ping_interval": "5m"},
 "listeners": [{"address": "127.0.0.1:0", "tls": {"cert": "$DIR/cert.pem", "key": "$DIR/key.pem"}}]}
JSON
	SCHEME_WS=wss SCHEME_RS=rss
fi

if [ "$TARGET" = ceiling ]; then
	taskset -c "$ROUTER_CPU" "$BIN" bench ceiling --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
	pattern='ws://127\.0\.0\.1:[0-9]*'
else
	if [ -n "${TLS:-}" ]; then
		taskset -c "$ROUTER_CPU" "$BIN" serve --config "$DIR/zwamp.json" >/dev/null 2>"$LOG" &
	else
		taskset -c "$ROUTER_CPU" "$BIN" serve --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
	fi
	pattern='addr=127\.0\.0\.1:[0-9]*'
fi
PID=$!
ADDR=
for _ in $(seq 50); do
	ADDR=$(grep -o "$pattern" "$LOG" | head -1 | sed 's/^addr=//; s|^ws://||')
	[ -n "$ADDR" ] && break
	sleep 0.1
done
[ -n "$ADDR" ] || { echo "scale.sh: $TARGET did not start" >&2; cat "$LOG" >&2; exit 1; }

URL="$SCHEME_WS://$ADDR/ws"
[ "$TRANSPORT" = rs ] && URL="$SCHEME_RS://$ADDR"
echo "scale.sh: $TARGET pid $PID at $URL (open files: router $(grep 'open files' /proc/$PID/limits | awk '{print $4}'), tool $(ulimit -Hn))" >&2
timeout 300 taskset -c "$TOOL_CPU" "$BIN" bench conns --url "$URL" --serializer "$SERIALIZER" \
	--sessions "$SESSIONS" --sources "$SOURCES" --concurrency "$CONCURRENCY" --events "$EVENTS" --pid "$PID"
