package codectest

import (
	"math"
	"testing"
)

// TestComparisons pins how strict each comparison is with scalars.
func TestComparisons(t *testing.T) {
	nan1, nan2 := math.NaN(), math.Float64frombits(0x7ff8000000000002)
	negZero := math.Copysign(0, -1)
	tests := []struct {
		name                         string
		a, b                         any
		equal, strict, anyNaN, ident bool
	}{
		{"same int64", int64(5), int64(5), true, true, true, true},
		{"int64 vs uint64", int64(5), uint64(5), true, true, true, false},
		{"int vs int64", 5, int64(5), true, true, true, false},
		{"negative vs huge", int64(-1), uint64(math.MaxUint64), false, false, false, false},
		{"0 vs -0", 0.0, negZero, true, false, false, false},
		{"same NaN", nan1, nan1, true, true, true, true},
		{"NaN payloads", nan1, nan2, true, false, true, false},
		{"float vs int", 1.0, int64(1), false, false, false, false},
		{"bytes", []byte{1}, []byte{1}, true, true, true, true},
		{"bytes vs string", []byte("a"), "a", false, false, false, false},
		{"nested -0", []any{map[string]any{"k": 0.0}}, []any{map[string]any{"k": negZero}}, true, false, false, false},
		{"nested types", []any{int64(1)}, []any{uint64(1)}, true, true, true, false},
		{"missing key", map[string]any{"a": nil}, map[string]any{"b": nil}, false, false, false, false},
		{"list lengths", []any{}, []any{nil}, false, false, false, false},
		{"nil", nil, nil, true, true, true, true},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			name string
			f    func(a, b any) bool
			want bool
		}{
			{"EqualValues", EqualValues, tt.equal},
			{"StrictEqual", StrictEqual, tt.strict},
			{"StrictEqualAnyNaN", StrictEqualAnyNaN, tt.anyNaN},
			{"IdenticalValues", IdenticalValues, tt.ident},
		} {
			if got := c.f(tt.a, tt.b); got != c.want {
				t.Errorf("%s: %s = %v, want %v", tt.name, c.name, got, c.want)
			}
		}
	}
}
