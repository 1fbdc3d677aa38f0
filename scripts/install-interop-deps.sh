#!/usr/bin/env bash
# Installs the third-party WAMP clients that the interop tests (interop/) run
# against the daemon: Debian's Autobahn|Python with its MessagePack and CBOR
# serializers, Debian's Chromium, and the npm packages pinned in
# interop/node/package-lock.json (autobahn-js, wampy, autobahn-browser, ws).
#
# Idempotent: installs only what is missing, so a second run does nothing.
# Quiet unless something fails, then it prints the failing step's output.
# Needs root (or sudo) for apt-get, and the Debian and npm registries.
#
# With ZWAMP_SKIP_INTEROP=1 (a developer without apt; the interop tests then
# skip what is missing) it does nothing.
set -euo pipefail

if [ "${ZWAMP_SKIP_INTEROP:-}" = 1 ]; then
	exit 0
fi

cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# run runs a step with its output in the log, shown only if it fails.
run() {
	if ! "$@" >"$log" 2>&1; then
		cat "$log" >&2
		echo "install-interop-deps: failed: $*" >&2
		exit 1
	fi
}

# retry runs a network step up to three times: a registry that drops one
# connection should not fail CI.
retry() {
	local i
	for i in 1 2; do
		if "$@" >"$log" 2>&1; then
			return 0
		fi
		echo "install-interop-deps: retrying after a failure of: $*" >&2
		sleep $((i * 5))
	done
	run "$@"
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "install-interop-deps: need root (or sudo) to run: $*" >&2
		echo "(or set ZWAMP_SKIP_INTEROP=1 to skip the interop tests)" >&2
		exit 1
	fi
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# Debian packages. /usr/bin/python3 is the interpreter that sees them.
want=(python3 python3-autobahn python3-msgpack python3-cbor2 chromium)
# The machine's own Node.js is used when there is one; otherwise Debian's.
command -v node >/dev/null 2>&1 || want+=(nodejs)
command -v npm >/dev/null 2>&1 || want+=(npm)

missing=()
for p in "${want[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt_install=(apt-get install -y -q --no-install-recommends "${missing[@]}")
	# Refresh the package lists only when installing from the current ones
	# fails (never fetched on a fresh machine, or outdated).
	if ! as_root "${apt_install[@]}" >"$log" 2>&1; then
		retry as_root apt-get update -q
		retry as_root "${apt_install[@]}"
	fi
fi

# npm packages, exactly as locked. The stamp records the lock file that
# node_modules was installed from, so an unchanged lock is not reinstalled.
# --ignore-scripts: no package needs its install script (the native add-ons
# are optional speed-ups with pure-JavaScript fallbacks), and skipping them
# keeps a compiler off the list of requirements.
nodedir=interop/node
stamp="$nodedir/node_modules/.zwamp-lock.sha256"
sum="$(sha256sum "$nodedir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
	retry npm ci --prefix "$nodedir" --ignore-scripts --no-audit --no-fund --loglevel=error
	echo "$sum" >"$stamp"
fi
