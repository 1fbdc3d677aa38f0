//go:build race

package msgpack

// raceEnabled shrinks the randomized tests, which the race detector slows
// tenfold without finding anything the plain run does not.
const raceEnabled = true
