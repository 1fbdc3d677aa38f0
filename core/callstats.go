package core

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// Call outcomes, call latency and fan-out size, for the metrics endpoint.
//
// Counted like the message counters (msgstats.go): plain fields of the
// Batch while its goroutine handles one input batch, folded into the
// Batch's msgShard by Flush, summed by CallCounts, CallLatency and
// FanOutHistogram. Histograms have fixed power-of-two buckets, so placing
// an observation is one bits.Len64.
//
// A call is counted once, when its final answer is sent to the caller: a
// RESULT without progress, or an ERROR for a CALL, classified by the error
// URI as the caller sees it (wamp.error.canceled: canceled,
// wamp.error.timeout: timeout, any other: error). This covers the answers
// the router makes itself (no_such_procedure, limits, meta procedures).
// Calls that end without an answer (the caller left; the router shut down)
// are not counted.
//
// Latency is router-measured: from the input batch in which the CALL was
// handled to the one in which its answer is sent, on the monotonic clock
// read at most once per input batch (Batch.callNow), so the error is at
// most the time one input batch takes to handle, and a burst of calls
// and answers in one read pays for one clock read. A call answered while
// its CALL is handled (a router error, a meta procedure) reads no clock
// and lands in the first bucket.

// Call outcome slots.
const (
	outcomeResult = iota
	outcomeError
	outcomeCanceled
	outcomeTimeout
	numOutcomes
)

const (
	// LatencyBuckets is the number of call latency buckets: bucket i
	// holds latencies below 2^i µs (bucket 0: under 1 µs), the last one
	// everything from 2^(LatencyBuckets-2) µs (≈ 33.6 s) up.
	LatencyBuckets = 27
	// FanOutBuckets is the number of fan-out buckets: bucket 0 holds
	// publications that reached no subscriber, bucket i ≥ 1 those that
	// reached 2^(i-1) to 2^i-1, the last one everything from
	// 2^(FanOutBuckets-2) up.
	FanOutBuckets = 22
)

var _ [32 - LatencyBuckets]struct{} // touched masks are uint32
var _ [32 - FanOutBuckets]struct{}

// monoBase anchors Batch.callNow: time.Since reads only the monotonic
// clock (about half the cost of time.Now).
var monoBase = time.Now()

// callNow returns the monotonic time of this input batch in ns since
// monoBase (never 0), reading the clock on first use after a Flush.
func (b *Batch) callNow() int64 {
	if b.monoNS == 0 {
		b.monoNS = int64(time.Since(monoBase)) | 1
	}
	return b.monoNS
}

// callCounts is a Batch's plain-field tally of calls and fan-outs since
// its last fold.
type callCounts struct {
	outcome      [numOutcomes]uint64
	lat          [LatencyBuckets]uint64
	latSum       uint64 // ns
	fan          [FanOutBuckets]uint64
	fanSum       uint64
	wr           [WriteBuckets]uint64 // messages per write (wirestats.go)
	wrSum        uint64
	latTouch     uint32
	fanTouch     uint32
	wrTouch      uint32
	outcomeTouch uint8
}

// callAnswered counts the answer m (sent to a caller, RESULT or ERROR);
// start is Batch.callStart.
func (b *Batch) callAnswered(m *codec.Message) {
	c := &b.calls
	o := outcomeResult
	if m.Type == codec.ERROR {
		switch string(m.URI) {
		case ErrCanceled:
			o = outcomeCanceled
		case ErrTimeout:
			o = outcomeTimeout
		default:
			o = outcomeError
		}
	}
	c.outcome[o]++
	c.outcomeTouch |= 1 << o
	var ns uint64
	if start := b.callStart; start != 0 {
		if d := b.callNow() - start; d > 0 {
			ns = uint64(d)
		}
		b.callStart = 0
	}
	i := min(bits.Len64(ns/1000), LatencyBuckets-1)
	c.lat[i]++
	c.latSum += ns
	c.latTouch |= 1 << i
}

// fanOut counts one publication that reached n subscribers.
func (c *callCounts) fanOut(n uint64) {
	i := min(bits.Len64(n), FanOutBuckets-1)
	c.fan[i]++
	c.fanSum += n
	c.fanTouch |= 1 << i
}

// fold adds the tally to shard and clears it.
func (c *callCounts) fold(sh *msgShard) {
	if c.outcomeTouch == 0 && c.latTouch|c.fanTouch|c.wrTouch == 0 {
		return
	}
	for m := c.wrTouch; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		sh.wr[i].Add(c.wr[i])
		c.wr[i] = 0
	}
	if c.wrSum != 0 {
		sh.wrSum.Add(c.wrSum)
		c.wrSum = 0
	}
	for m := uint32(c.outcomeTouch); m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		sh.outcome[i].Add(c.outcome[i])
		c.outcome[i] = 0
	}
	for m := c.latTouch; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		sh.lat[i].Add(c.lat[i])
		c.lat[i] = 0
	}
	for m := c.fanTouch; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		sh.fan[i].Add(c.fan[i])
		c.fan[i] = 0
	}
	if c.latSum != 0 {
		sh.latSum.Add(c.latSum)
		c.latSum = 0
	}
	if c.fanSum != 0 {
		sh.fanSum.Add(c.fanSum)
		c.fanSum = 0
	}
	c.outcomeTouch, c.latTouch, c.fanTouch, c.wrTouch = 0, 0, 0, 0
}

// callShard is the msgShard part for calls and fan-outs.
type callShard struct {
	outcome [numOutcomes]atomic.Uint64
	lat     [LatencyBuckets]atomic.Uint64
	latSum  atomic.Uint64
	fan     [FanOutBuckets]atomic.Uint64
	fanSum  atomic.Uint64
	wr      [WriteBuckets]atomic.Uint64
	wrSum   atomic.Uint64
}

// CallOutcomes is the number of calls answered, by outcome.
type CallOutcomes struct {
	Result   uint64 // final RESULT
	Error    uint64 // ERROR other than canceled and timeout
	Canceled uint64 // ERROR wamp.error.canceled
	Timeout  uint64 // ERROR wamp.error.timeout
}

// CallCounts returns the calls answered by every router in the process,
// by outcome, as folded so far (each driver folds at the end of its input
// batch).
func CallCounts() CallOutcomes {
	var o [numOutcomes]uint64
	for s := range msgShards {
		for i := range o {
			o[i] += msgShards[s].outcome[i].Load()
		}
	}
	return CallOutcomes{Result: o[outcomeResult], Error: o[outcomeError], Canceled: o[outcomeCanceled], Timeout: o[outcomeTimeout]}
}

// Histogram is a snapshot of a fixed-bucket histogram.
type Histogram struct {
	// Upper is each bucket's upper bound; math.Inf(1) for the last.
	// Latency: seconds, exclusive (bucket i holds latencies below
	// 2^i µs). Fan-out: subscribers, inclusive (2^i - 1).
	Upper []float64
	// Counts is the number of observations in each bucket (not
	// cumulative).
	Counts []uint64
	Count  uint64  // observations
	Sum    float64 // sum of the observations, in the unit of Upper
}

// CallLatency returns the router-measured call latency histogram (CALL
// handled → final answer sent to the caller), all routers, in seconds.
func CallLatency() Histogram {
	h := Histogram{Upper: make([]float64, LatencyBuckets), Counts: make([]uint64, LatencyBuckets)}
	var sum uint64
	for s := range msgShards {
		for i := range h.Counts {
			h.Counts[i] += msgShards[s].lat[i].Load()
		}
		sum += msgShards[s].latSum.Load()
	}
	for i := range h.Upper {
		h.Upper[i] = float64(uint64(1)<<i) * 1e-6
		h.Count += h.Counts[i]
	}
	h.Upper[LatencyBuckets-1] = math.Inf(1)
	h.Sum = float64(sum) / 1e9
	return h
}

// FanOutHistogram returns the histogram of subscribers reached per
// publication (EVENTs sent for one PUBLISH or router meta event), all
// routers.
func FanOutHistogram() Histogram {
	return pow2Histogram(FanOutBuckets,
		func(s, i int) uint64 { return msgShards[s].fan[i].Load() },
		func(s int) uint64 { return msgShards[s].fanSum.Load() })
}

// pow2Histogram sums n buckets with upper bounds 0, 1, 3, 7, …, +Inf
// (inclusive) and their sum over every counter shard.
func pow2Histogram(n int, bucket func(shard, i int) uint64, sum func(shard int) uint64) Histogram {
	h := Histogram{Upper: make([]float64, n), Counts: make([]uint64, n)}
	var total uint64
	for s := range msgShards {
		for i := range h.Counts {
			h.Counts[i] += bucket(s, i)
		}
		total += sum(s)
	}
	for i := range h.Upper {
		h.Upper[i] = float64(uint64(1)<<i - 1)
		h.Count += h.Counts[i]
	}
	h.Upper[n-1] = math.Inf(1)
	h.Sum = float64(total)
	return h
}
