//go:build race

package authz

// raceEnabled: allocation counts are meaningless under -race.
const raceEnabled = true
