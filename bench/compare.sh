#!/bin/sh
# compare.sh — zwamp against the reference ceiling, same session, same load
# tool, pinned cores: the router (or ceiling) on CPU 0 (taskset -c 0), the
# load tool on CPU 1 (taskset -c 1). Every run starts a fresh server.
#
#   bench/compare.sh                      # RUNS=3 DURATION=5s SERIALIZER=json PAYLOAD=32
#   RUNS=5 DURATION=10s bench/compare.sh
#   SCENARIOS="pubsub-1x1 rpc-1x16" bench/compare.sh
#
# Writes every run's JSON line (plus "target" and "scenario") to $OUT and
# prints the medians per scenario and target, and the zwamp/ceiling ratios.
# Needs taskset and jq. Run from the repository root.
set -eu

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
SERIALIZER=${SERIALIZER:-json}
PAYLOAD=${PAYLOAD:-32}
ROUTER_CPU=${ROUTER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
BIN=${BIN:-/tmp/zwamp-compare/zwamp}
OUT=${OUT:-/tmp/zwamp-compare/results.jsonl}
SCENARIOS=${SCENARIOS:-"pubsub-1x1 pubsub-1x100 pubsub-100x1 pubsub-1x1-r10k rpc-1x16 rpc-16x16 conns-5000"}
TARGETS=${TARGETS:-"zwamp ceiling"}

mkdir -p "$(dirname "$BIN")" "$(dirname "$OUT")"
go build -o "$BIN" ./cmd/zwamp
: >"$OUT"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

args_for() {
	case $1 in
	pubsub-1x1) echo "pubsub --publishers 1 --subscribers 1" ;;
	pubsub-1x100) echo "pubsub --publishers 1 --subscribers 100" ;;
	pubsub-100x1) echo "pubsub --publishers 100 --subscribers 1" ;;
	pubsub-1x1-r10k) echo "pubsub --publishers 1 --subscribers 1 --rate 10000" ;; # latency at a light load
	conns-*) echo "conns --sessions ${1#conns-} --events 5 --sources 2" ;;
	rpc-1x16) echo "rpc --callers 1 --inflight 16" ;;
	rpc-16x16) echo "rpc --callers 16 --inflight 16" ;;
	*) echo "compare.sh: unknown scenario $1" >&2; exit 2 ;;
	esac
}

# start TARGET: sets PID and ADDR.
start() {
	: >"$LOG"
	if [ "$1" = zwamp ]; then
		taskset -c "$ROUTER_CPU" "$BIN" serve --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
		PID=$!
		pattern='addr=127\.0\.0\.1:[0-9]*'
	else
		taskset -c "$ROUTER_CPU" "$BIN" bench ceiling --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
		PID=$!
		pattern='ws://127\.0\.0\.1:[0-9]*'
	fi
	ADDR=
	for _ in $(seq 50); do
		ADDR=$(grep -o "$pattern" "$LOG" | head -1 | sed 's/^addr=//; s|^ws://||')
		[ -n "$ADDR" ] && return 0
		sleep 0.1
	done
	echo "compare.sh: $1 did not start:" >&2
	cat "$LOG" >&2
	exit 1
}

stop() {
	kill "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
}

for run in $(seq "$RUNS"); do
	for sc in $SCENARIOS; do
		for tgt in $TARGETS; do
			start "$tgt"
			# shellcheck disable=SC2046
			line=$(taskset -c "$TOOL_CPU" "$BIN" bench $(args_for "$sc") --url "ws://$ADDR/ws" \
				--serializer "$SERIALIZER" --payload "$PAYLOAD" --duration "$DURATION" --warmup "$WARMUP" \
				--pid "$PID" --quiet | tail -1)
			stop
			echo "$line" | jq -c --arg t "$tgt" --arg s "$sc" --argjson r "$run" '. + {target: $t, scenario: $s, run: $r}' >>"$OUT"
			echo "$line" | jq -r --arg t "$tgt" --arg s "$sc" --argjson r "$run" '
				if .mode == "conns" then
					"run \($r) \($s) \($t): \(.conns.sessions) sessions at \(.conns.sessions_per_sec | floor)/s  rss \(.conns.router_rss_per_session_bytes) B/session  fan-out \(.conns.fanout_kernel_us) µs  complete \(.complete)"
				else
					"run \($r) \($s) \($t): \((.deliveries_per_sec // .calls_per_sec) | floor)/s  p50 \(.latency_us.p50)µs  p99 \(.latency_us.p99)µs  router \(.router_cpu.percent)% \(.router_cpu.ns_per_msg)ns/msg  tool \(.tool_cpu.percent)% \(.tool_cpu.ns_per_msg)ns/msg  complete \(.complete)"
				end' >&2
		done
	done
done

echo
echo "medians of $RUNS runs ($SERIALIZER, payload $PAYLOAD B, $DURATION measured after $WARMUP warmup; router/ceiling on CPU $ROUTER_CPU, tool on CPU $TOOL_CPU):"
jq -s -r '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def r: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
  map(select(.mode != "conns")) | group_by(.scenario) | map(
    . as $g
    | ($g | map(select(.target == "zwamp"))) as $z
    | ($g | map(select(.target == "ceiling"))) as $c
    | {
        s: $g[0].scenario,
        zr: ($z | map(.deliveries_per_sec // .calls_per_sec) | median),
        cr: ($c | map(.deliveries_per_sec // .calls_per_sec) | median),
        z50: ($z | map(.latency_us.p50) | median), c50: ($c | map(.latency_us.p50) | median),
        z99: ($z | map(.latency_us.p99) | median), c99: ($c | map(.latency_us.p99) | median),
        zcpu: ($z | map(.router_cpu.ns_per_msg) | median), ccpu: ($c | map(.router_cpu.ns_per_msg) | median),
        zpct: ($z | map(.router_cpu.percent) | median), cpct: ($c | map(.router_cpu.percent) | median),
        ztool: ($z | map(.tool_cpu.percent) | median), ctool: ($c | map(.tool_cpu.percent) | median)
      }
  )
  | (["scenario", "zwamp msg/s", "ceiling msg/s", "ratio", "p50 µs z/c", "p99 µs z/c", "server ns/msg z/c", "server cpu% z/c", "tool cpu% z/c"] | @tsv),
    (.[] | [.s, (.zr | floor), (.cr | floor),
            (if .zr != null and .cr != null and .cr > 0 then (.zr / .cr * 100 | round / 100) else "-" end),
            "\(.z50|r)/\(.c50|r)", "\(.z99|r)/\(.c99|r)", "\(.zcpu|r)/\(.ccpu|r)", "\(.zpct|r)/\(.cpct|r)", "\(.ztool|r)/\(.ctool|r)"] | @tsv)
' "$OUT" | column -t -s "$(printf '\t')"
if grep -q '"mode":"conns"' "$OUT"; then
	echo
	jq -s -r '
	  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
	  def r: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
	  map(select(.mode == "conns")) | group_by(.scenario) | map(
	    . as $g | ($g | map(select(.target == "zwamp"))) as $z | ($g | map(select(.target == "ceiling"))) as $c
	    | [$g[0].scenario,
	       "\($z | map(.conns.sessions_per_sec) | median | r)/\($c | map(.conns.sessions_per_sec) | median | r)",
	       "\($z | map(.conns.router_rss_per_session_bytes) | median | r)/\($c | map(.conns.router_rss_per_session_bytes) | median | r)",
	       "\($z | map(.conns.router_cpu_per_session_us) | median | r)/\($c | map(.conns.router_cpu_per_session_us) | median | r)",
	       "\($z | map(.conns.fanout_kernel_us | median) | median | r)/\($c | map(.conns.fanout_kernel_us | median) | median | r)",
	       "\($z | map(.conns.fanout_us | median) | median | r)/\($c | map(.conns.fanout_us | median) | median | r)"]
	  )
	  | (["scenario", "sessions/s z/c", "server rss B/session z/c", "server cpu µs/session z/c", "fan-out kernel µs z/c", "fan-out seen µs z/c"] | @tsv),
	    (.[] | @tsv)
	' "$OUT" | column -t -s "$(printf '\t')"
fi
echo
echo "all runs: $OUT"
