//go:build !race

package ceiling

const raceEnabled = false
