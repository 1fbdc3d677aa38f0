package main

import (
	"io"

	"github.com/zwamp/zwamp/bench"
)

// benchCmd runs `zwamp bench`: the load generator for any WAMP router and
// the reference ceiling server (see package bench).
func benchCmd(args []string, stdout, stderr io.Writer) int {
	return bench.Main(args, stdout, stderr)
}
