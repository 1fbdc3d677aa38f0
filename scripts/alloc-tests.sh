#!/usr/bin/env bash
# alloc-tests.sh [PACKAGES] — run every allocation test (default ./...)
# without the race detector.
#
# The allocation tests (every test whose name contains "Alloc"; the exact
# ones go through internal/alloctest) skip under -race, which is how the
# unit step runs, so make test runs them here in a second pass. A skip is a
# failure here, and so is a total of exact checks below ALLOC_MIN_CHECKS:
# a test that stops running cannot pass silently. Raise the minimum when
# adding checks; lower it only when removing them on purpose.
set -uo pipefail
cd "$(dirname "$0")/.."

go="${GO:-go}"
min="${ALLOC_MIN_CHECKS:-600}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

if [ "$#" -eq 0 ]; then set -- ./...; fi
$go test -count=1 -run 'Alloc' -v -timeout=20m "$@" >"$log" 2>&1
rc=$?

passed=$(grep -cE -- '^ *--- PASS: ' "$log")
failed=$(grep -cE -- '^ *--- FAIL: ' "$log")
skipped=$(grep -cE -- '^ *--- SKIP: ' "$log")
checks=$(grep -cE -- 'alloctest ok: ' "$log")
bounded=$(grep -E -- 'alloctest ok: ' "$log" | grep -cv -- 'max allowed 0)')

if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
	grep -vE -- '^=== (RUN|PAUSE|CONT)|alloctest ok: |^ *--- PASS: ' "$log"
fi
if [ "$skipped" -ne 0 ]; then
	echo "skipped allocation tests:"
	grep -E -B1 -- '^ *--- SKIP: ' "$log"
fi
echo "allocation tests (go test -run Alloc, no -race): $passed passed, $failed failed, $skipped skipped;" \
	"exact alloctest checks: $checks passed ($bounded with a stated bound above 0), minimum $min"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$checks" -lt "$min" ]; then
	echo "alloc-tests.sh: FAIL" >&2
	exit 1
fi
