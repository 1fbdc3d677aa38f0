package bench

import (
	"math"
	"math/bits"
)

// Histogram records latencies in nanoseconds in log-linear buckets: exact
// below 128 ns, then 64 buckets per power of two, so every recorded value
// is known to within 1/64 (1.6 %). It covers up to 2^40 ns (about 18
// minutes); larger values are clamped. Record is a handful of instructions
// and never allocates; each connection goroutine owns one Histogram and
// the run merges them at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64
	min    uint64
	max    uint64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // buckets per power of two
	histMaxBits = 40               // values are clamped to 2^40-1 ns
	// histBuckets is index(2^40-1)+1: values below 2*histSub are their own
	// bucket, then histSub buckets per extra bit of magnitude.
	histBuckets = (histMaxBits-histSubBits)*histSub + histSub
	histMax     = 1<<histMaxBits - 1
)

// histIndex returns the bucket of v (v <= histMax).
func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2*histSub)
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// histLow returns the smallest value that falls into bucket i, and the
// bucket's width.
func histLow(i int) (low, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	shift := uint(i/histSub - 1)
	return uint64(i%histSub+histSub) << shift, 1 << shift
}

// Record adds one value in nanoseconds. Negative values (a clock step) are
// recorded as 0.
func (h *Histogram) Record(ns int64) {
	v := uint64(0)
	if ns > 0 {
		v = uint64(ns)
	}
	if v > histMax {
		v = histMax
	}
	h.counts[histIndex(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Quantile returns the value at quantile q (0 < q <= 1) in nanoseconds: the
// middle of the bucket holding the ceil(q*n)-th smallest value, clamped to
// the exact minimum and maximum. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histLow(i)
			v := low + width/2
			if v < h.min {
				v = h.min
			}
			if v > h.max {
				v = h.max
			}
			return int64(v)
		}
	}
	return int64(h.max)
}

// Mean returns the exact mean in nanoseconds (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.n)
}

// Max returns the exact largest value in nanoseconds.
func (h *Histogram) Max() int64 { return int64(h.max) }

// Min returns the exact smallest value in nanoseconds.
func (h *Histogram) Min() int64 { return int64(h.min) }
