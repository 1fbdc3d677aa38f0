#!/bin/sh
# compare.sh — zwamp against the two reference ceilings, same session, same
# load tool, pinned cores: the router (or ceiling) on CPU 0 (taskset -c 0),
# the load tool on CPU 1 (taskset -c 1). Every run starts a fresh server;
# within a run the targets alternate scenario by scenario.
#
#   bench/compare.sh                      # RUNS=3 DURATION=5s SERIALIZER=json PAYLOAD=32
#   RUNS=5 DURATION=10s bench/compare.sh
#   SCENARIOS="pubsub-1x1 rpc-16x16" TARGETS="zwamp coalesce" bench/compare.sh
#
# Targets: zwamp (zwamp serve), coalesce (zwamp bench ceiling --coalesce:
# one write per destination per read, the honest ceiling) and ceiling
# (zwamp bench ceiling: one write(2) per message); for a before/after
# comparison, base (BASE_BIN serve, e.g. a binary built from main) —
# TARGETS="base zwamp coalesce" BASE_BIN=/tmp/zwamp-main bench/compare.sh.
#
# Writes every run's JSON line (plus "target", "scenario", "run" and the
# 1-minute load average before the run, "load1") to $OUT. Prints the
# medians per scenario and target over COMPLETE runs only (an incomplete run
# — losses, gaps, duplicates, reordering, errors, unanswered calls, a time
# cap — is dropped and counted), and the zwamp/coalescing-ceiling ratio of
# server CPU per message against issue 14's targets: ≤ 1.5 per delivered
# event for pubsub, ≤ 3 per call (a call is four frames in a router, an
# echo two in the ceiling) for rpc.
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
BASE_BIN=${BASE_BIN:-/tmp/zwamp-compare/zwamp-base}
SCENARIOS=${SCENARIOS:-"pubsub-1x1 pubsub-1x100 pubsub-100x1 pubsub-1x1-r10k rpc-1x16 rpc-16x16 conns-5000"}
TARGETS=${TARGETS:-"zwamp coalesce ceiling"}

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
	case $1 in
	zwamp)
		taskset -c "$ROUTER_CPU" "$BIN" serve --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
		PID=$!
		pattern='addr=127\.0\.0\.1:[0-9]*'
		;;
	base)
		taskset -c "$ROUTER_CPU" "$BASE_BIN" serve --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
		PID=$!
		pattern='addr=127\.0\.0\.1:[0-9]*'
		;;
	coalesce)
		taskset -c "$ROUTER_CPU" "$BIN" bench ceiling --coalesce --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
		PID=$!
		pattern='ws://127\.0\.0\.1:[0-9]*'
		;;
	ceiling)
		taskset -c "$ROUTER_CPU" "$BIN" bench ceiling --listen 127.0.0.1:0 >/dev/null 2>"$LOG" &
		PID=$!
		pattern='ws://127\.0\.0\.1:[0-9]*'
		;;
	*)
		echo "compare.sh: unknown target $1 (zwamp, base, coalesce, ceiling)" >&2
		exit 2
		;;
	esac
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
			load1=$(cut -d' ' -f1 /proc/loadavg)
			start "$tgt"
			# shellcheck disable=SC2046
			line=$(taskset -c "$TOOL_CPU" "$BIN" bench $(args_for "$sc") --url "ws://$ADDR/ws" \
				--serializer "$SERIALIZER" --payload "$PAYLOAD" --duration "$DURATION" --warmup "$WARMUP" \
				--pid "$PID" --quiet | tail -1)
			stop
			if [ -z "$line" ]; then
				echo "run $run $sc $tgt: the load tool printed no result" >&2
				continue
			fi
			echo "$line" | jq -c --arg t "$tgt" --arg s "$sc" --argjson r "$run" --argjson l "$load1" '. + {target: $t, scenario: $s, run: $r, load1: $l}' >>"$OUT"
			echo "$line" | jq -r --arg t "$tgt" --arg s "$sc" --argjson r "$run" '
				if .mode == "conns" then
					"run \($r) \($s) \($t): \(.conns.sessions) sessions at \(.conns.sessions_per_sec | floor)/s  rss \(.conns.router_rss_per_session_bytes) B/session  fan-out \(.conns.fanout_kernel_us) µs  complete \(.complete)"
				else
					"run \($r) \($s) \($t): \((.deliveries_per_sec // .calls_per_sec // 0) | floor)/s  p50 \(.latency_us.p50)µs  p99 \(.latency_us.p99)µs  router \(.router_cpu.percent)% \(.router_cpu.ns_per_msg)ns/msg  tool \(.tool_cpu.percent)% \(.tool_cpu.ns_per_msg)ns/msg  complete \(.complete)\(if .complete then "" else "  (" + ((.notes // []) | join("; ")) + ")" end)  load \($l)"
				end' --argjson l "$load1" >&2
		done
	done
done

echo
echo "medians of the complete runs among $RUNS ($SERIALIZER, payload $PAYLOAD B, $DURATION measured after $WARMUP warmup; server on CPU $ROUTER_CPU, tool on CPU $TOOL_CPU)"
echo "load average (1 min) before the runs: $(jq -s -r 'map(.load1) | sort | "min \(.[0]) median \(.[length/2|floor]) max \(.[-1])"' "$OUT")"
jq -s -r '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def r: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
  def rate: .deliveries_per_sec // .calls_per_sec;
  map(select(.mode != "conns")) | group_by(.scenario) | map(
    . as $g
    | ($g | map(select(.target == "zwamp"))) as $za
    | ($g | map(select(.target == "coalesce"))) as $ka
    | ($g | map(select(.target == "ceiling"))) as $ca
    | ($g | map(select(.target == "base" and .complete))) as $b
    | ($za | map(select(.complete))) as $z
    | ($ka | map(select(.complete))) as $k
    | ($ca | map(select(.complete))) as $c
    | ($z | map(.router_cpu.ns_per_msg) | median) as $zcpu
    | ($k | map(.router_cpu.ns_per_msg) | median) as $kcpu
    | {
        s: $g[0].scenario,
        kept: "\($z|length)/\($za|length) \($k|length)/\($ka|length) \($c|length)/\($ca|length)",
        zr: ($z | map(rate) | median), kr: ($k | map(rate) | median), cr: ($c | map(rate) | median),
        z99: ($z | map(.latency_us.p99) | median), k99: ($k | map(.latency_us.p99) | median), c99: ($c | map(.latency_us.p99) | median),
        bcpu: ($b | map(.router_cpu.ns_per_msg) | median), nb: ($b | length),
        zcpu: $zcpu, kcpu: $kcpu, ccpu: ($c | map(.router_cpu.ns_per_msg) | median),
        zpct: ($z | map(.router_cpu.percent) | median), kpct: ($k | map(.router_cpu.percent) | median), cpct: ($c | map(.router_cpu.percent) | median),
        ztool: ($z | map(.tool_cpu.percent) | median), ktool: ($k | map(.tool_cpu.percent) | median),
        ratio: (if $zcpu != null and $kcpu != null and $kcpu > 0 then ($zcpu / $kcpu * 100 | round / 100) else null end),
        paired: ([$z[] as $x | $k[] | select(.run == $x.run) | $x.router_cpu.ns_per_msg / .router_cpu.ns_per_msg] | median | if . == null then null else (. * 100 | round / 100) end),
        bratio: ([$b[] as $x | $k[] | select(.run == $x.run) | $x.router_cpu.ns_per_msg / .router_cpu.ns_per_msg] | median | if . == null then null else (. * 100 | round / 100) end),
        target: (if ($g[0].scenario | startswith("rpc")) then 3 elif ($g[0].scenario | test("^pubsub-1x(1|100)$")) then 1.5 else null end)
      }
  )
  | (["scenario", "complete z k c", "msg/s zwamp", "coalesce", "ceiling", "p99 µs z/k/c", "server ns/msg z/k/c", "server cpu% z/k/c", "tool cpu% z/k", "CPU z/coalesce", "paired", "target"] | @tsv),
    (.[] | [.s, .kept, (.zr // 0 | floor), (.kr // 0 | floor), (.cr // 0 | floor),
            "\(.z99|r)/\(.k99|r)/\(.c99|r)", "\(.zcpu|r)/\(.kcpu|r)/\(.ccpu|r)", "\(.zpct|r)/\(.kpct|r)/\(.cpct|r)", "\(.ztool|r)/\(.ktool|r)",
            (.ratio // "-"), (.paired // "-"),
            (if .target == null or .ratio == null then "-" elif .ratio <= .target and (.paired // 0) <= .target then "≤ \(.target) met" else "≤ \(.target) MISSED" end)] | @tsv)
' "$OUT" | column -t -s "$(printf '\t')"
if grep -q '"target":"base"' "$OUT"; then
	echo "base ($BASE_BIN), server ns/msg median of its complete runs, and paired per-run ratios:"
	jq -s -r '
	  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
	  def r2: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
	  map(select(.mode != "conns" and .complete)) | group_by(.scenario)[]
	  | . as $g | ($g | map(select(.target == "base"))) as $b | ($g | map(select(.target == "zwamp"))) as $z | ($g | map(select(.target == "coalesce"))) as $k
	  | "  \($g[0].scenario): base \($b | map(.router_cpu.ns_per_msg) | median | r2) ns/msg (\($b|length) runs)  base/coalesce \([$b[] as $x | $k[] | select(.run == $x.run) | $x.router_cpu.ns_per_msg / .router_cpu.ns_per_msg] | median | r2)  zwamp/base \([$z[] as $x | $b[] | select(.run == $x.run) | $x.router_cpu.ns_per_msg / .router_cpu.ns_per_msg] | median | r2)"
	' "$OUT"
fi
echo "(msg = delivered event for pubsub, completed call for rpc; complete z k c = complete/total runs of zwamp, coalesce, ceiling;"
echo " CPU z/coalesce = ratio of the medians, paired = median of the per-run ratios; a target is met only when both are within it)"
if grep -q '"mode":"conns"' "$OUT"; then
	echo
	jq -s -r '
	  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
	  def r: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
	  def m(f): map(f) | median | r;
	  map(select(.mode == "conns")) | group_by(.scenario) | map(
	    . as $g
	    | ($g | map(select(.target == "zwamp" and .complete))) as $z
	    | ($g | map(select(.target == "coalesce" and .complete))) as $k
	    | ($g | map(select(.target == "ceiling" and .complete))) as $c
	    | [$g[0].scenario, "\($z|length)/\($k|length)/\($c|length) of \($g|length)",
	       "\($z|m(.conns.sessions_per_sec))/\($k|m(.conns.sessions_per_sec))/\($c|m(.conns.sessions_per_sec))",
	       "\($z|m(.conns.router_rss_per_session_bytes))/\($k|m(.conns.router_rss_per_session_bytes))/\($c|m(.conns.router_rss_per_session_bytes))",
	       "\($z|m(.conns.router_cpu_per_session_us))/\($k|m(.conns.router_cpu_per_session_us))/\($c|m(.conns.router_cpu_per_session_us))",
	       "\($z|m(.conns.fanout_kernel_us | median))/\($k|m(.conns.fanout_kernel_us | median))/\($c|m(.conns.fanout_kernel_us | median))"]
	  )
	  | (["scenario", "complete z/k/c", "sessions/s z/k/c", "server rss B/session z/k/c", "server cpu µs/session z/k/c", "fan-out kernel µs z/k/c"] | @tsv),
	    (.[] | @tsv)
	' "$OUT" | column -t -s "$(printf '\t')"
fi
echo
echo "all runs: $OUT"
