package alloctest

import (
	"fmt"
	"strings"
	"testing"
)

var sink []byte

// occasional returns an operation that allocates once every `every` runs.
func occasional(every int) func() {
	i := 0
	return func() {
		i++
		if i%every == 0 {
			sink = make([]byte, 64)
		}
	}
}

// TestAllocsHelperCatchesOccasional: a path allocating once in 500 runs
// reads as 0 through testing.AllocsPerRun but fails the exact check, in
// every round, and the report names the allocating function.
func TestAllocsHelperCatchesOccasional(t *testing.T) {
	if Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	if n := testing.AllocsPerRun(499, occasional(500)); n != 0 {
		t.Fatalf("AllocsPerRun saw %v; this test shows it rounds 1/500 down to 0", n)
	}
	res := Measure(Spec{}, occasional(500))
	if res.OK() || len(res.Rounds) != 5 {
		t.Fatalf("an allocation every 500 runs passed: %v", res)
	}
	for _, n := range res.Rounds {
		if n < MinRuns/500 {
			t.Fatalf("round counted %d allocations, want at least %d: %v", n, MinRuns/500, res)
		}
	}
	sites := Sites(MinRuns, occasional(500))
	if !strings.Contains(sites, "occasional") {
		t.Fatalf("sites do not name the allocating function:\n%s", sites)
	}

	// Check reports it as a test failure.
	ft := &fakeT{TB: t}
	Check(ft, "op", Spec{}, occasional(500))
	if !ft.failed || !strings.Contains(ft.msg, "alloctest_test.go:") {
		t.Fatalf("Check did not fail with the site: failed=%v %q", ft.failed, ft.msg)
	}
}

// TestAllocsHelperBounds: a stated bound is a bound per round: one
// allocation in 10,000 runs passes a bound of 1, two do not.
func TestAllocsHelperBounds(t *testing.T) {
	if Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	if res := Measure(Spec{Max: 1}, occasional(10000)); !res.OK() {
		t.Fatalf("1 per 10,000 failed a bound of 1: %v", res)
	}
	if res := Measure(Spec{Max: 1}, occasional(5000)); res.OK() {
		t.Fatalf("2 per 10,000 passed a bound of 1: %v", res)
	}
	if res := Measure(Spec{}, func() {}); !res.OK() || res.Min() != 0 || len(res.Rounds) < 1 {
		t.Fatalf("an empty operation: %v", res)
	}
	Zero(t, "empty operation", func() {})
	ft := &fakeT{TB: t}
	AtMost(ft, "no reason", MinRuns, 1, "", func() {})
	if !ft.failed {
		t.Fatal("AtMost accepted a bound without a reason")
	}
}

// fakeT records a failure instead of failing the test; Fatalf ends the
// calling goroutine as testing.T's does, so it is called on its own.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}
func (f *fakeT) Fatalf(format string, args ...any) { f.Errorf(format, args...) }
func (f *fakeT) Logf(string, ...any)               {}
