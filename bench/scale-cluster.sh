#!/bin/sh
# scale-cluster.sh — the cluster's connection-scale run (`make
# scale-cluster`): NODES router processes in one cluster on this machine
# (embedded NATS, registry KV with 3 replicas), SESSIONS idle subscribed
# sessions on each node, all in realm1 on one topic — one load-tool process
# per node, since each process here may open at most 20,000 files — then
# EVENTS single events published on node 0, each timed until it reached
# every session on every node. bench/scale.sh's method, spread over nodes:
#
#   - node i's load process is `zwamp bench conns --sub-url <node i>`; for
#     i ≥ 1 it is a holder (--hold): it establishes its sessions, writes a
#     ready file, and waits for the events; node 0's process, started when
#     every holder is ready, holds node 0's sessions and publishes the
#     events (one every GAP) on node 0.
#   - RSS per session per node is each load process's reading of its
#     node's VmRSS before and after its sessions were established (--pid).
#   - An event's fan-out time is the latest kernel receive timestamp
#     (SO_TIMESTAMPNS, wall clock, one clock for every process on this
#     machine) of any session's copy, on any node, minus the publisher's
#     wall-clock time just before its write.
#
#   bench/scale-cluster.sh                       # 6 nodes × 17,000 = 102,000 sessions
#   NODES=3 SESSIONS=5000 bench/scale-cluster.sh
#
# Nothing is pinned (NODES routers and NODES load processes share the
# machine's cores). Before starting it checks MemAvailable against a
# generous estimate (ESTIMATE_KB per session: router, load tool and both
# sockets' kernel memory) and lowers SESSIONS to fit if needed, saying so.
# Bounded: daemon start 90 s, establishment HOLD_MAX, the run `timeout`.
# Prints each process's table and a summary; JSON lines go to $OUT.
set -eu

NODES=${NODES:-6}
SESSIONS=${SESSIONS:-17000}
EVENTS=${EVENTS:-5}
GAP=${GAP:-3s}
SOURCES=${SOURCES:-4}
CONCURRENCY=${CONCURRENCY:-64}
HOLD_MAX=${HOLD_MAX:-900s}
ESTIMATE_KB=${ESTIMATE_KB:-48}
WORK=${WORK:-/tmp/zwamp-scale-cluster}
BIN=${BIN:-$WORK/zwamp}
OUT=${OUT:-$WORK/results.jsonl}

[ "$NODES" -ge 3 ] || { echo "scale-cluster.sh: NODES must be at least 3 (3 KV replicas)" >&2; exit 2; }
[ "$SESSIONS" -le 19000 ] || { echo "scale-cluster.sh: SESSIONS $SESSIONS per node: each process may open at most 20,000 files" >&2; exit 2; }
mkdir -p "$WORK"
[ -n "${NOBUILD:-}" ] || go build -o "$BIN" ./cmd/zwamp
: >"$OUT"

avail=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
need=$((NODES * SESSIONS * ESTIMATE_KB + NODES * 200000)) # + ~200 MB per node and load process
if [ "$need" -gt $((avail * 8 / 10)) ]; then
	fit=$(((avail * 8 / 10 - NODES * 200000) / NODES / ESTIMATE_KB))
	echo "scale-cluster.sh: $NODES × $SESSIONS sessions would need ~$((need / 1024)) MB, 80 % of MemAvailable is $((avail * 8 / 10240)) MB: lowering SESSIONS to $fit" >&2
	SESSIONS=$fit
fi
echo "scale-cluster.sh: $NODES nodes × $SESSIONS sessions = $((NODES * SESSIONS)); MemAvailable $((avail / 1024)) MB; load $(cut -d' ' -f1-3 /proc/loadavg); open files per process $(ulimit -Hn)" >&2

DIR=$(mktemp -d)
DPIDS=
TPIDS=
cleanup() {
	for p in $TPIDS $DPIDS; do kill "$p" 2>/dev/null || true; done
	for p in $TPIDS $DPIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$DIR"
}
trap cleanup EXIT

# 2 ports per node: WAMP and NATS routes.
PORTS=$(python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(2 * int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' "$NODES")
i=0
WP= RP=
for p in $PORTS; do
	if [ $i -lt "$NODES" ]; then WP="$WP $p"; else RP="$RP $p"; fi
	i=$((i + 1))
done
routes=
for p in $RP; do routes="$routes${routes:+, }\"nats-route://127.0.0.1:$p\""; done
nth() { echo "$2" | tr ' ' '\n' | grep -v '^$' | sed -n "$(($1 + 1))p"; }

for i in $(seq 0 $((NODES - 1))); do
	cat >"$DIR/n$i.json" <<JSON
{"listeners": [{"kind": "universal", "address": "127.0.0.1:$(nth "$i" "$WP")"}],
 "realms": [{"name": "realm1"}], "admin": {"disabled": true},
 "cluster": {"name": "scale", "node": "n$i", "listen": "127.0.0.1:$(nth "$i" "$RP")", "routes": [$routes],
             "kv_replicas": 3, "jetstream_dir": "$DIR/js$i"}}
JSON
	"$BIN" serve --config "$DIR/n$i.json" >"$DIR/n$i.log" 2>&1 &
	DPIDS="$DPIDS $!"
done
for i in $(seq 0 $((NODES - 1))); do
	port=$(nth "$i" "$WP")
	ok=
	for _ in $(seq 300); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$port" 2>/dev/null; then
			ok=1
			break
		fi
		sleep 0.3
	done
	[ -n "$ok" ] || { echo "scale-cluster.sh: node $i does not listen after 90 s; its log:" >&2; cat "$DIR/n$i.log" >&2; exit 1; }
done
sleep 2
echo "scale-cluster.sh: nodes up: pids$DPIDS" >&2

TOPIC=zwamp.bench.scale$$
URL0="ws://127.0.0.1:$(nth 0 "$WP")/ws"
t0=$(date +%s)
for i in $(seq 1 $((NODES - 1))); do
	"$BIN" bench conns --url "$URL0" --sub-url "ws://127.0.0.1:$(nth "$i" "$WP")/ws" --topic "$TOPIC" \
		--sessions "$SESSIONS" --sources "$SOURCES" --concurrency "$CONCURRENCY" --events "$EVENTS" \
		--hold "$HOLD_MAX" --ready-file "$DIR/ready$i" --pid "$(nth "$i" "$DPIDS")" \
		>"$DIR/tool$i.out" 2>"$DIR/tool$i.err" &
	TPIDS="$TPIDS $!"
done
# Wait for every holder (bounded by HOLD_MAX's own cap: a holder that gives
# up exits, which ends the wait too).
while :; do
	ready=0 alive=0
	for i in $(seq 1 $((NODES - 1))); do [ -f "$DIR/ready$i" ] && ready=$((ready + 1)); done
	for p in $TPIDS; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	[ "$ready" -eq $((NODES - 1)) ] && break
	[ "$alive" -lt $((NODES - 1 - ready)) ] && { echo "scale-cluster.sh: a holder exited before it was ready:" >&2; cat "$DIR"/tool*.err >&2; exit 1; }
	sleep 1
done
echo "scale-cluster.sh: $((NODES - 1)) holders ready after $(($(date +%s) - t0)) s: $(cat "$DIR"/ready* | tr '\n' ' ')sessions" >&2
sleep 2 # NATS interest for the topic reaches node 0 (one subscription per node)

timeout 1200 "$BIN" bench conns --url "$URL0" --topic "$TOPIC" --sessions "$SESSIONS" --sources "$SOURCES" \
	--concurrency "$CONCURRENCY" --events "$EVENTS" --event-gap "$GAP" --pid "$(nth 0 "$DPIDS")" --quiet \
	>"$DIR/tool0.out" 2>"$DIR/tool0.err" || true
for p in $TPIDS; do wait "$p" || true; done
TPIDS=
echo "scale-cluster.sh: load processes done after $(($(date +%s) - t0)) s; node RSS now (MB):$(for p in $DPIDS; do printf ' %s' $(($(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status) / 1024)); done)" >&2

for i in $(seq 0 $((NODES - 1))); do
	line=$(grep '^{' "$DIR/tool$i.out" | tail -1)
	if [ -z "$line" ]; then
		echo "scale-cluster.sh: load process $i printed no result:" >&2
		cat "$DIR/tool$i.err" >&2
		continue
	fi
	echo "$line" | jq -c --argjson n "$i" '. + {node: $n}' >>"$OUT"
done
for i in $(seq 0 $((NODES - 1))); do
	echo "--- node $i's load process" >&2
	grep -v '^{' "$DIR/tool$i.out" >&2 || true
done

jq -s -r '
  (map(select(.node == 0))[0]) as $pub
  | . as $all
  | (map(.conns.sessions) | add) as $total
  | "sessions \($total) over \(length) nodes (per node: \(map(.conns.sessions | tostring) | join(" "))), failed \(map(.conns.failed) | add), every run complete: \(map(.complete) | all)",
    "router RSS per session per node (B): \(map(.conns.router_rss_per_session_bytes | floor | tostring) | join(" "))",
    "router RSS after establishing, per node (MB): \(map(.conns.router_rss_after_bytes / 1048576 | floor | tostring) | join(" "))",
    "establishing, per load process (s): \(map(.conns.establish_seconds | tostring) | join(" "))",
    "missed per event (all nodes): \([range(0; $pub.conns.send_unix_ns | length)] | map(. as $e | $all | map(.conns.missed[$e] // 0) | add | tostring) | join(" "))",
    "fan-out to all \($total) sessions per event (ms): \([range(0; $pub.conns.send_unix_ns | length)] | map(. as $e | (($all | map(.conns.last_rx_unix_ns[$e] // 0) | max) - $pub.conns.send_unix_ns[$e]) / 1e6 | . * 10 | round / 10 | tostring) | join(" "))",
    "  node 0 only (the publisher'"'"'s node): \($pub.conns.fanout_kernel_us | map(. / 1000 | . * 10 | round / 10 | tostring) | join(" "))"
' "$OUT"
