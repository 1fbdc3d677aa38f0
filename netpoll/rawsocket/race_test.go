//go:build race

package rawsocket

// raceEnabled: under the race detector sync.Pool drops a quarter of what it
// is given and the instrumentation allocates, so allocation counts mean
// nothing there.
const raceEnabled = true
