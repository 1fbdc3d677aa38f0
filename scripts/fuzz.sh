#!/usr/bin/env bash
# fuzz.sh BUDGET — run every fuzz target in ./fuzz with -fuzztime=BUDGET.
#
# BUDGET is a duration (30s, 1m) or an execution count (20000x). make test
# uses a count: Go 1.26's fuzz coordinator can report a bare "context
# deadline exceeded" failure when a duration budget expires while a worker is
# mid-call (go.dev/issue/75804, fixed in Go 1.27), and a count budget has no
# deadline to race. For duration budgets this script tells that flake from a
# finding: a finding writes "Failing input written to ..." (or panics, or
# fails an assertion); a bare deadline failure is re-checked by replaying the
# target's corpus deterministically and, if that passes, reported as a flake.
set -uo pipefail
cd "$(dirname "$0")/.."

budget="${1:?usage: scripts/fuzz.sh BUDGET (e.g. 30s or 20000x)}"
go="${GO:-go}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

targets="$($go test -list '^Fuzz' ./fuzz | grep '^Fuzz')" || {
	echo "fuzz.sh: cannot list fuzz targets" >&2
	exit 1
}

# capped TARGET BUDGET prints the budget for TARGET: a count budget (Nx)
# larger than the target's cap is lowered to the cap; durations are left
# alone. The caps keep the smoke run to a few seconds per target for targets
# whose executions are heavy:
#   FuzzRouter  - each execution drives up to 96 operations on 5 sessions of
#                 a fresh router, comparing every reply and the router's
#                 tables with its model after each one (1500-4000 exec/s);
#   FuzzNetpoll - each execution is a real TCP connection to a live server:
#                 it may wait for a pong, waits for the server to forget the
#                 connection and runs an observer's publish and call round
#                 trips (300-800 exec/s on a loaded 2-core machine).
capped() {
	local cap=""
	case "$1" in
	FuzzRouter) cap=5000 ;;
	FuzzNetpoll) cap=1500 ;;
	esac
	if [ -n "$cap" ] && [[ "$2" =~ ^([0-9]+)x$ ]] && [ "${BASH_REMATCH[1]}" -gt "$cap" ]; then
		echo "${cap}x"
	else
		echo "$2"
	fi
}

failed=0
flaked=0
for t in $targets; do
	tb="$(capped "$t" "$budget")"
	echo "== $t ($tb)"
	$go test -run='^$' -fuzz="^$t\$" -fuzztime="$tb" -timeout=10m ./fuzz 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] && continue
	if grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written to|panic:|_test\.go:[0-9]+:' "$log"; then
		echo "== $t: bare deadline failure at the end of the budget; replaying its corpus"
		if $go test -count=1 -run="^$t\$" ./fuzz; then
			echo "== $t: corpus replay passes: Go fuzz coordinator deadline flake, not a finding"
			flaked=$((flaked + 1))
			continue
		fi
	fi
	echo "== $t: FAILED"
	failed=$((failed + 1))
done

echo "== fuzz: $(echo "$targets" | wc -w) targets, $failed failed, $flaked deadline flakes"
[ "$failed" -eq 0 ]
