//go:build !race

package alloctest

// Race is true when the binary is built with -race; see race.go.
const Race = false
