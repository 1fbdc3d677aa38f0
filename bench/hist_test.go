package bench

import (
	"math/rand/v2"
	"testing"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lands in a bucket that contains it, buckets are
	// contiguous, and a bucket is at most 1/64 of its values wide.
	check := func(v uint64) {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("index(%d) = %d out of range", v, i)
		}
		low, width := histLow(i)
		if v < low || v >= low+width {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, low, low+width)
		}
		if low >= 2*histSub && width*histSub > low {
			t.Fatalf("bucket %d = [%d, %d) wider than 1/%d", i, low, low+width, histSub)
		}
	}
	for v := uint64(0); v < 1<<16; v++ {
		check(v)
	}
	for s := 16; s < histMaxBits; s++ {
		for _, d := range []uint64{0, 1, 12345} {
			check(1<<s - 1)
			check(1<<s + d)
		}
	}
	check(histMax)
	for i := 1; i < histBuckets; i++ {
		pl, pw := histLow(i - 1)
		l, _ := histLow(i)
		if pl+pw != l {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, l, pl+pw)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram is not zero")
	}
	for v := int64(1); v <= 100000; v++ {
		h.Record(v * 1000) // 1 µs … 100 ms, uniform
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * 100000 * 1000
		got := float64(h.Quantile(q))
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("q%.3f = %.0f, want %.0f ± 2%%", q, got, want)
		}
	}
	if h.Min() != 1000 || h.Max() != 100000*1000 {
		t.Errorf("min %d max %d", h.Min(), h.Max())
	}
	if h.Quantile(1) != h.Max() {
		t.Errorf("q1 = %d, max %d", h.Quantile(1), h.Max())
	}
	if m := h.Mean(); m != 50000.5*1000 {
		t.Errorf("mean %f", m)
	}
}

func TestHistogramMergeClamp(t *testing.T) {
	var a, b Histogram
	r := rand.New(rand.NewPCG(1, 2))
	var all Histogram
	for i := 0; i < 10000; i++ {
		v := int64(r.IntN(1 << 30))
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
		all.Record(v)
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merge differs from recording everything in one histogram")
	}
	var c Histogram
	c.Record(-5)
	c.Record(1 << 62)
	if c.Min() != 0 || c.Max() != histMax {
		t.Fatalf("clamping: min %d max %d", c.Min(), c.Max())
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	h := new(Histogram)
	v := int64(1)
	if n := testing.AllocsPerRun(1000, func() { h.Record(v); v = v*3 + 7 }); n != 0 {
		t.Fatalf("Record allocates %v times", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	for i := 0; i < b.N; i++ {
		h.Record(int64(i) * 37)
	}
}
