// Package interop tests the zwamp daemon against WAMP clients nobody here
// wrote: Autobahn|Python (Debian's python3-autobahn, over WebSocket with JSON,
// MessagePack and CBOR and over RawSocket), autobahn-js and wampy (npm, pinned
// in node/package.json and node/package-lock.json) and autobahn-js in headless
// Chromium.
//
// The tests build cmd/zwamp, start it on a free loopback port, run the client
// scripts (python/client.py, node/client.js, browser/index.html) with a hard
// timeout, and assert on the one JSON line each script prints. Everything the
// scripts send is fixed, so the tests check the values that came back, not
// just that something did.
//
// node/package.json overrides cbor-extract, an optional native add-on of
// wampy's cbor-x, to 2.2.2: the per-platform builds of 2.2.3 are not served by
// the registry this project can reach, and without them in the lock file
// `npm ci` refuses to install.
//
// A missing client (no /usr/bin/chromium, no node_modules, no
// python3-autobahn) fails the test with the install step to run,
// scripts/install-interop-deps.sh; with ZWAMP_SKIP_INTEROP=1 in the
// environment it skips instead. The package has no non-test code.
package interop
