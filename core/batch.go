package core

import (
	crand "crypto/rand"
	"math/rand/v2"
	"sync"

	"github.com/zwamp/zwamp/codec"
)

// Batch is the per-driver-goroutine working state for one batch of input:
// the decoded message, encode buffers, match results, a random source for
// global IDs, and the set of transports with pending output. A driver takes
// one with AcquireBatch when it starts processing input, passes it to every
// Conn.Receive of that batch, and calls Release at the end, which
// flushes every transport written to exactly once.
//
// A Batch is used by one goroutine at a time. Pooled, so steady-state
// message handling allocates nothing.
type Batch struct {
	pending []Transport

	in  codec.Message // the message being handled
	out codec.Message // the message being built

	enc     [codec.NumFormats][]byte // per-serializer encode buffers (fan-out)
	encOK   [codec.NumFormats]bool
	buf     []byte // encode buffer for single replies
	inRaw   []byte // the encoded form of in (a view into the driver's input)
	nowNS   int64  // wall clock for this input batch, 0 until read (history.go)
	welcome []byte // WELCOME.Details scratch
	subs    []*subscription
	rng     *rand.ChaCha8
	strict  bool
	counts  batchCounts // messages by type since the last Flush (msgstats.go)
	calls   callCounts  // call outcomes, latency, fan-out since the last Flush (callstats.go)
	// callStart is the start (callNow) of the recorded call whose answer
	// is about to be sent, 0 for an answer made while its CALL is handled;
	// set just before the send and cleared by it (callstats.go).
	callStart int64
	monoNS    int64     // monotonic clock for this input batch, 0 until read (callNow)
	uri       *uriTally // opt-in per-URI counters (uristats.go); nil until used
	// ghost stands for a publisher on another node (Realm.DeliverRemote).
	ghost Session
}

var batchPool = sync.Pool{New: func() any { return newBatch() }}

func newBatch() *Batch {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	return &Batch{
		rng:    rand.NewChaCha8(seed),
		buf:    make([]byte, 0, 512),
		subs:   make([]*subscription, 0, 16),
		counts: batchCounts{shard: nextShard()},
	}
}

// AcquireBatch returns a Batch from the pool.
func AcquireBatch() *Batch { return batchPool.Get().(*Batch) }

// Release flushes pending output and returns b to the pool. b must not be
// used afterwards.
func (b *Batch) Release() {
	b.Flush()
	batchPool.Put(b)
}

// Flush calls Flush on every transport that asked for it since the last
// Flush. Drivers that keep a Batch across input batches call it at the end
// of each one.
func (b *Batch) Flush() {
	for i, t := range b.pending {
		if cf, ok := t.(CountingFlusher); ok {
			b.calls.wrote(cf.FlushCounted()) // messages per write (wirestats.go)
		} else {
			t.Flush()
		}
		b.pending[i] = nil
	}
	b.pending = b.pending[:0]
	// Fold after the writes, which count messages per write.
	b.counts.fold()
	b.calls.fold(b.counts.shard)
	if b.uri != nil && len(b.uri.touched) != 0 {
		b.uri.fold()
	}
	b.nowNS = 0
	b.monoNS = 0
	b.callStart = 0
	b.inRaw = nil
}

// Queue records that t has pending output this batch must flush: output
// a driver appended itself (handshake answers, control frames) rather than
// through Send.
func (b *Batch) Queue(t Transport) { b.pending = append(b.pending, t) }

// send encodes m for t and queues it.
func (b *Batch) send(t Transport, m *codec.Message) error {
	c := codec.ByFormat(t.Format())
	out, err := c.Append(b.buf[:0], m)
	if err != nil {
		return err
	}
	b.buf = out
	b.counts.countOut(m.Type, 1)
	if m.Type == codec.RESULT && !m.Details.Progress || m.Type == codec.ERROR && m.ErrorType == codec.CALL {
		b.callAnswered(m) // the final answer to a call
	}
	b.sendRaw(t, out)
	return nil
}

// sendRaw queues already encoded bytes for t.
func (b *Batch) sendRaw(t Transport, msg []byte) {
	if t.Send(msg) {
		b.pending = append(b.pending, t)
	}
}

// globalID draws a global-scope ID uniformly from [1, 2^53].
func (b *Batch) globalID() uint64 {
	return b.rng.Uint64()&(codec.MaxID-1) + 1
}
