package tally_test

import (
	"errors"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/codec/internal/tally"
	"github.com/zwamp/zwamp/internal/alloctest"
)

func TestTally(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *tally.Tally)
		want error // nil: well-formed
	}{
		{"scalar", func(t *tally.Tally) { t.Item(false) }, nil},
		{"array", func(t *tally.Tally) { t.Item(false); t.Push(2, false); t.Item(false); t.Item(true); t.Pop() }, nil},
		{"map", func(t *tally.Tally) {
			t.Item(false)
			t.Push(1, true)
			t.Item(true)
			t.Item(false)
			t.Pop()
		}, nil},
		{"nested", func(t *tally.Tally) {
			t.Item(false)
			t.Push(1, true)
			t.Item(true)
			t.Item(false)
			t.Push(0, false)
			t.Pop()
			t.Pop()
		}, nil},
		{"more than announced", func(t *tally.Tally) { t.Item(false); t.Push(1, false); t.Item(false); t.Item(false) }, codec.ErrCount},
		{"fewer than announced", func(t *tally.Tally) { t.Item(false); t.Push(2, false); t.Item(false); t.Pop() }, codec.ErrCount},
		{"map value counts", func(t *tally.Tally) { t.Item(false); t.Push(1, true); t.Item(true); t.Pop() }, codec.ErrCount},
		{"non-string key", func(t *tally.Tally) { t.Item(false); t.Push(1, true); t.Item(false) }, codec.ErrKey},
		{"second key", func(t *tally.Tally) { t.Item(false); t.Push(2, true); t.Item(true); t.Item(true); t.Item(false) }, codec.ErrKey},
		{"pop without push", func(t *tally.Tally) { t.Pop() }, codec.ErrCount},
		{"not closed", func(t *tally.Tally) { t.Item(false); t.Push(0, true) }, codec.ErrCount},
		{"negative length", func(t *tally.Tally) { t.Push(-1, false) }, codec.ErrUnsupported},
		{"huge length", func(t *tally.Tally) { t.Push(tally.Max+1, true) }, codec.ErrUnsupported},
	}
	var tl tally.Tally
	for _, c := range cases {
		tl.Reset()
		c.run(&tl)
		err := tl.Err()
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: Err() = %v, want nil", c.name, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Err() = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestTallyFirstErrorSticks: after a failure nothing more is accepted and
// the first error is the one reported.
func TestTallyFirstErrorSticks(t *testing.T) {
	var tl tally.Tally
	tl.Item(false)
	tl.Push(1, true)
	if tl.Item(false) {
		t.Fatal("Item(false) accepted as a map key")
	}
	if tl.Item(true) {
		t.Error("Item accepted after a failure")
	}
	tl.Pop()
	tl.Fail(codec.ErrUTF8, "")
	if err := tl.Err(); !errors.Is(err, codec.ErrKey) {
		t.Errorf("Err() = %v, want the first error (ErrKey)", err)
	}
	tl.Reset()
	if err := tl.Err(); err != nil || !tl.Item(false) {
		t.Errorf("after Reset: Err() = %v, want a fresh Tally", err)
	}
}

func TestTallyAllocs(t *testing.T) {
	var tl tally.Tally
	run := func() {
		tl.Reset()
		tl.Item(false)
		for d := 0; d < 20; d++ {
			tl.Push(1, false)
			tl.Item(false)
		}
		tl.Push(0, true)
		for d := 0; d <= 20; d++ {
			tl.Pop()
		}
	}
	run()
	if tl.Err() != nil {
		t.Fatal(tl.Err())
	}
	alloctest.Zero(t, "", run)
}
