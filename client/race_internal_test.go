//go:build race

package client

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts through pools are meaningless under -race.
const raceEnabled = true
