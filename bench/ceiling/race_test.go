//go:build race

package ceiling

const raceEnabled = true
