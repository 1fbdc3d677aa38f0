//go:build !race

package json

import "testing"

func skipIfRace(*testing.T) {}
