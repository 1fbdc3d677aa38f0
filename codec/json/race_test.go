//go:build race

package json

import "testing"

func skipIfRace(t *testing.T) { t.Skip("allocation counts are not meaningful under -race") }
