#!/bin/sh
# cpu-tls.sh — router CPU per message over wss:// against ws://, same
# router process, runs alternated: pubsub 1→1, pubsub 1→100 and rpc 16×16
# (16 callers with 16 calls in flight each, one callee). Router on CPU 0,
# tool on CPU 1; prints one line per run: scenario, transport and the tool's
# JSON (router_cpu.ns_per_msg is the figure compared).
#
#   bench/cpu-tls.sh                 # RUNS=3 DURATION=5s
set -eu
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
BIN=${BIN:-/tmp/zwamp-cpu-tls/zwamp}
mkdir -p "$(dirname "$BIN")"
[ -n "${NOBUILD:-}" ] || go build -o "$BIN" ./cmd/zwamp
DIR=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
cat >"$DIR/zwamp.json" <<JSON
{"auto_create_realms": true, "realms": [{"name": "realm1"}],
 "listeners": [{"address": "127.0.0.1:0"},
               {"address": "127.0.0.1:0", "tls": {"cert": "$DIR/cert.pem", "key": "$DIR/key.pem"}}]}
JSON
taskset -c 0 "$BIN" serve --config "$DIR/zwamp.json" >/dev/null 2>"$DIR/log" &
PID=$!
for _ in $(seq 50); do
	[ "$(grep -c 'addr=127' "$DIR/log")" -ge 2 ] && break
	sleep 0.1
done
WS=$(grep 'tls=false' "$DIR/log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | sed 's/addr=//')
WSS=$(grep 'tls=true' "$DIR/log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | sed 's/addr=//')
run() { # name transport args...
	name=$1 tr=$2
	shift 2
	url="ws://$WS/ws"
	[ "$tr" = wss ] && url="wss://$WSS/ws"
	line=$(timeout 120 taskset -c 1 "$BIN" bench "$@" --url "$url" --duration "$DURATION" --quiet --pid "$PID" | tail -1)
	echo "$name $tr $line"
}
for i in $(seq "$RUNS"); do
	for tr in ws wss; do
		run pubsub-1-1 $tr pubsub
		run pubsub-1-100 $tr pubsub --subscribers 100
		run rpc-16x16 $tr rpc --callers 16 --inflight 16
	done
done
