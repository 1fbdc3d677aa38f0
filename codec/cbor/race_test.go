//go:build race

package cbor

// raceEnabled skips allocation tests that depend on sync.Pool keeping what
// is Put: under the race detector the pool drops items at random.
const raceEnabled = true
