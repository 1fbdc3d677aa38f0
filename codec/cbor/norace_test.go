//go:build !race

package cbor

// raceEnabled: see race_test.go.
const raceEnabled = false
