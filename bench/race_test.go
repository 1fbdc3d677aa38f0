//go:build race

package bench

// raceEnabled: see TestCeiling.
const raceEnabled = true
