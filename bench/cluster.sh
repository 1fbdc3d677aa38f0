#!/bin/sh
# cluster.sh — the cluster's throughput, latency and CPU against a single
# node and against NATS itself (`make bench-cluster`; bench/README.md,
# "Cluster"). Each round starts, on 127.0.0.1:
#   plain   one daemon without a "cluster" section,
#   n0..n2  a 3-node cluster of daemons (embedded NATS, registry KV with 3
#           replicas), the same configuration plus the "cluster" section,
# and runs every scenario against each target in turn:
#   plain   publishers/callers and subscribers/callees on the plain daemon
#   local   all of them on n0 (clustering on, nothing crosses nodes)
#   cross   publishers/callers on n0, subscribers/callees on n1
#           (--sub-url / --callee-url): every event and call crosses nodes
# then NATS's own cross-node publish→subscribe rate for the same message
# sizes (TestMeasureNATSCrossNode: two embedded nats-server nodes routed
# together in one process). Every daemon runs on CPU $ROUTER_CPU, the load
# tool on CPU $TOOL_CPU (the NATS measurement is not pinned: both cores,
# which flatters NATS). "router ns/msg" is the daemons' CPU time
# (/proc/PID/stat, --pid/--pids: for cross, n0+n1+n2) per delivered event
# or completed call, as in compare.sh.
#
#   bench/cluster.sh
#   RUNS=5 DURATION=10s SCENARIOS="pubsub-1x1" bench/cluster.sh
#
# Results go to $OUT (one JSON line per run, with target, scenario, run and
# the 1-minute load average before it); medians and ratios are printed at
# the end. Bounded: every daemon start waits at most 90 s, every run is
# capped by the tool's own timeouts and `timeout`.
set -eu

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
PAYLOAD=${PAYLOAD:-32}
SCENARIOS=${SCENARIOS:-"pubsub-1x1 pubsub-1x100 rpc-16x16"}
TARGETS=${TARGETS:-"plain local cross"}
ROUTER_CPU=${ROUTER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
# NATS_SIZES: 64 B, and ≈150 B, what a node sends for a 32-byte-payload
# JSON PUBLISH (≈78 B) in its envelope (≈72 B: origin instance, realm,
# publication and publisher ids, authid, authrole; cluster/envelope.go).
NATS_SIZES=${NATS_SIZES:-64,150}
WORK=${WORK:-/tmp/zwamp-clbench}
BIN=${BIN:-$WORK/zwamp}
OUT=${OUT:-$WORK/results.jsonl}

mkdir -p "$WORK"
[ -n "${NOBUILD:-}" ] || go build -o "$BIN" ./cmd/zwamp
[ -n "${NOBUILD:-}" ] || go test -c -o "$WORK/bench.test" ./bench
: >"$OUT"
DIR=$(mktemp -d)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=
}
trap 'cleanup; rm -rf "$DIR"' EXIT

freeports() {
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' "$1"
}

waitport() { # port, log
	for _ in $(seq 900); do
		if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "cluster.sh: nothing listens on $1 after 90 s; log:" >&2
	cat "$2" >&2
	exit 1
}

config() { # wamp port, [node name, route port, all route ports]
	printf '{"listeners": [{"kind": "universal", "address": "127.0.0.1:%s"}],\n "realms": [{"name": "realm1"}], "admin": {"disabled": true}' "$1"
	if [ $# -gt 1 ]; then
		routes=
		for p in $4; do routes="$routes${routes:+, }\"nats-route://127.0.0.1:$p\""; done
		printf ',\n "cluster": {"name": "clbench", "node": "%s", "listen": "127.0.0.1:%s", "routes": [%s], "kv_replicas": 3, "jetstream_dir": "%s"}' \
			"$2" "$3" "$routes" "$DIR/js-$2-$RUN"
	fi
	printf '}\n'
}

start_all() {
	set -- $(freeports 7)
	PORT_PLAIN=$1 PORT0=$2 PORT1=$3 PORT2=$4
	RP="$5 $6 $7"
	config "$PORT_PLAIN" >"$DIR/plain.json"
	i=0
	for rp in $RP; do
		eval "wp=\$PORT$i"
		config "$wp" "n$i" "$rp" "$RP" >"$DIR/n$i.json"
		i=$((i + 1))
	done
	taskset -c "$ROUTER_CPU" "$BIN" serve --config "$DIR/plain.json" >"$DIR/plain.log" 2>&1 &
	PID_PLAIN=$!
	taskset -c "$ROUTER_CPU" "$BIN" serve --config "$DIR/n0.json" >"$DIR/n0.log" 2>&1 &
	PID0=$!
	taskset -c "$ROUTER_CPU" "$BIN" serve --config "$DIR/n1.json" >"$DIR/n1.log" 2>&1 &
	PID1=$!
	taskset -c "$ROUTER_CPU" "$BIN" serve --config "$DIR/n2.json" >"$DIR/n2.log" 2>&1 &
	PID2=$!
	PIDS="$PID_PLAIN $PID0 $PID1 $PID2"
	waitport "$PORT_PLAIN" "$DIR/plain.log"
	waitport "$PORT0" "$DIR/n0.log"
	waitport "$PORT1" "$DIR/n1.log"
	waitport "$PORT2" "$DIR/n2.log"
	# Let the cluster's start-up work (meta leader, bucket, sweeps) settle.
	sleep 3
}

args_for() {
	case $1 in
	pubsub-1x1) echo "pubsub --publishers 1 --subscribers 1" ;;
	pubsub-1x100) echo "pubsub --publishers 1 --subscribers 100" ;;
	rpc-16x16) echo "rpc --callers 16 --inflight 16" ;; # one callee, as compare.sh
	*) echo "cluster.sh: unknown scenario $1" >&2; exit 2 ;;
	esac
}

target_args() { # target scenario
	case $1 in
	plain) echo "--url ws://127.0.0.1:$PORT_PLAIN/ws --pid $PID_PLAIN" ;;
	local) echo "--url ws://127.0.0.1:$PORT0/ws --pid $PID0" ;;
	cross) echo "--url ws://127.0.0.1:$PORT0/ws --sub-url ws://127.0.0.1:$PORT1/ws --pid $PID0 --pids $PID1,$PID2" ;;
	*) echo "cluster.sh: unknown target $1" >&2; exit 2 ;;
	esac
}

for RUN in $(seq "$RUNS"); do
	start_all
	echo "round $RUN: plain pid $PID_PLAIN :$PORT_PLAIN; cluster n0 $PID0 :$PORT0, n1 $PID1 :$PORT1, n2 $PID2 :$PORT2" >&2
	for sc in $SCENARIOS; do
		for tgt in $TARGETS; do
			load1=$(cut -d' ' -f1 /proc/loadavg)
			# shellcheck disable=SC2046
			line=$(timeout 300 taskset -c "$TOOL_CPU" "$BIN" bench $(args_for "$sc") $(target_args "$tgt") \
				--payload "$PAYLOAD" --duration "$DURATION" --warmup "$WARMUP" --quiet | tail -1) || true
			if [ -z "$line" ]; then
				echo "run $RUN $sc $tgt: the load tool printed no result" >&2
				continue
			fi
			echo "$line" | jq -c --arg t "$tgt" --arg s "$sc" --argjson r "$RUN" --argjson l "$load1" '. + {target: $t, scenario: $s, run: $r, load1: $l}' >>"$OUT"
			echo "$line" | jq -r --arg t "$tgt" --arg s "$sc" --argjson r "$RUN" --argjson l "$load1" '
				"run \($r) \($s) \($t): \((.deliveries_per_sec // .calls_per_sec // 0) | floor)/s (publishes \(.publishes_per_sec // "-" | tostring))  p50 \(.latency_us.p50)µs  p99 \(.latency_us.p99)µs  router \(.router_cpu.ns_per_msg)ns/msg \(if .router_cpu_each then "(" + ([.router_cpu_each[].ns_per_msg | tostring] | join(" + ")) + ")" else "" end)  complete \(.complete)\(if .complete then "" else "  (" + ((.notes // []) | join("; ")) + ")" end)  load \($l)"' >&2
		done
	done
	cleanup
	load1=$(cut -d' ' -f1 /proc/loadavg)
	ZWAMP_MEASURE=1 ZWAMP_NATS_SIZES="$NATS_SIZES" ZWAMP_NATS_DURATION="$DURATION" timeout 300 \
		"$WORK/bench.test" -test.run '^TestMeasureNATSCrossNode$' -test.count 1 2>&1 | grep '^{' |
		jq -c --argjson r "$RUN" --argjson l "$load1" '. + {target: "nats", scenario: ("nats-" + (.size | tostring)), run: $r, load1: $l, complete: (.lost == 0)}' |
		tee -a "$OUT" | jq -r '"run \(.run) nats \(.size) B: \(.messages_per_sec | floor) msg/s  p50 \(.latency_us.p50)µs  p99 \(.latency_us.p99)µs  load \(.load1)"' >&2
done

echo
echo "medians of the complete runs among $RUNS (json, payload $PAYLOAD B, window 1000, $DURATION after $WARMUP warm-up; daemons on CPU $ROUTER_CPU, tool on CPU $TOOL_CPU)"
echo "load average (1 min) before the runs: $(jq -s -r 'map(.load1) | sort | "min \(.[0]) median \(.[length/2|floor]) max \(.[-1])"' "$OUT")"
jq -s -r '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def r: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
  def rate: .deliveries_per_sec // .calls_per_sec;
  (map(select(.target == "nats" and .size == 150 and .complete)) | map(.messages_per_sec) | median) as $nats
  | (map(select(.target != "nats")) | group_by(.scenario)[] | . as $g
    | ($g | map(select(.target == "plain" and .complete))) as $p
    | ($g | map(select(.target == "local" and .complete))) as $l
    | ($g | map(select(.target == "cross" and .complete))) as $c
    | "\($g[0].scenario): complete plain \($p|length)/\($g|map(select(.target=="plain"))|length), local \($l|length)/\($g|map(select(.target=="local"))|length), cross \($c|length)/\($g|map(select(.target=="cross"))|length)",
      "  rate/s        plain \($p|map(rate)|median|r)  local \($l|map(rate)|median|r)  cross \($c|map(rate)|median|r)",
      "  p50 µs        plain \($p|map(.latency_us.p50)|median|r)  local \($l|map(.latency_us.p50)|median|r)  cross \($c|map(.latency_us.p50)|median|r)",
      "  p99 µs        plain \($p|map(.latency_us.p99)|median|r)  local \($l|map(.latency_us.p99)|median|r)  cross \($c|map(.latency_us.p99)|median|r)",
      "  router ns/msg plain \($p|map(.router_cpu.ns_per_msg)|median|r)  local \($l|map(.router_cpu.ns_per_msg)|median|r)  cross \($c|map(.router_cpu.ns_per_msg)|median|r) (n0 \($c|map(.router_cpu_each[0].ns_per_msg)|median|r), n1 \($c|map(.router_cpu_each[1].ns_per_msg)|median|r), n2 \($c|map(.router_cpu_each[2].ns_per_msg)|median|r))",
      "  local/plain router ns/msg \((($l|map(.router_cpu.ns_per_msg)|median) / ($p|map(.router_cpu.ns_per_msg)|median))|. * 100 | round / 100)",
      (if ($g[0].scenario | startswith("pubsub")) and $nats != null then
        "  cross publishes/s vs NATS 150 B msg/s (median \($nats|r)): \((($c|map(.publishes_per_sec)|median) / $nats) | . * 100 | round / 100)"
       else empty end))
  , (map(select(.target == "nats")) | group_by(.size)[] | map(select(.complete)) |
      "nats \(.[0].size) B: \(map(.messages_per_sec)|median|r) msg/s  p50 \(map(.latency_us.p50)|median|r)µs  p99 \(map(.latency_us.p99)|median|r)µs (\(length) runs)")
' "$OUT"
