package core

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// countingTransport is a Transport whose every Flush reports n messages.
type countingTransport struct {
	n       int
	flushes int
}

func (*countingTransport) Format() codec.Format  { return codec.JSON }
func (*countingTransport) Send([]byte) bool      { return true }
func (t *countingTransport) Flush()              { t.flushes++ }
func (*countingTransport) Close()                {}
func (*countingTransport) Info() TransportInfo   { return TransportInfo{Kind: "test"} }
func (t *countingTransport) FlushCounted() int   { t.flushes++; return t.n }
func (*countingTransport) TransportKind() string { return "test" }

var _ CountingFlusher = (*countingTransport)(nil)

// TestWritesHistogram: Batch.Flush asks a CountingFlusher how many
// messages each write carried and the histogram has them, folded by that
// same Flush; writes of no message are not counted.
func TestWritesHistogram(t *testing.T) {
	before := WritesHistogram()
	b := newBatch()
	for _, n := range []int{1, 5, 5, 0, 1000, 1 << 20} {
		ct := &countingTransport{n: n}
		b.Queue(ct)
		b.Flush()
		if ct.flushes != 1 {
			t.Fatalf("n=%d: %d flushes, want 1", n, ct.flushes)
		}
	}
	after := WritesHistogram()
	want := map[int]uint64{1: 1, 3: 2, 10: 1, WriteBuckets - 1: 1} // 1; 4-7; 512-1023; ≥ 2^14
	for i := range after.Counts {
		if got := after.Counts[i] - before.Counts[i]; got != want[i] {
			t.Errorf("bucket %d (≤ %v): %d more writes, want %d", i, after.Upper[i], got, want[i])
		}
	}
	if got := after.Count - before.Count; got != 5 {
		t.Errorf("count: %d more, want 5", got)
	}
	if got := after.Sum - before.Sum; got != 1+5+5+1000+1<<20 {
		t.Errorf("sum: %v more, want %d", got, 1+5+5+1000+1<<20)
	}
	if after.Upper[1] != 1 || after.Upper[3] != 7 {
		t.Errorf("upper bounds %v", after.Upper[:4])
	}
}

func TestAllocsCountingFlush(t *testing.T) {
	b := newBatch()
	ct := &countingTransport{n: 3}
	alloctest.Zero(t, "Batch.Flush with a CountingFlusher", func() {
		b.Queue(ct)
		b.Flush()
	})
}

// TestAllocsURICounters: with a list set, counting a publication and a
// call allocates nothing once the Batch's tally exists.
func TestAllocsURICounters(t *testing.T) {
	if err := SetURICounters([]URIPattern{{URI: "a.b.c"}, {URI: "a.", Match: "prefix"}, {URI: "a..c", Match: "wildcard"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SetURICounters(nil) })
	b := newBatch()
	topics := [][]byte{[]byte("a.b.c"), []byte("a.x.c"), []byte("z.z")}
	i := 0
	alloctest.Zero(t, "per-URI counting", func() {
		b.published(topics[i%3], 7)
		b.uriCalled(topics[(i+1)%3])
		b.Flush()
		i++
	})
}
