package core

import (
	"math/bits"
	"sync/atomic"

	"github.com/zwamp/zwamp/codec"
)

// Message counters by WAMP type, in and out, for the metrics endpoint.
//
// Counting must not put a shared atomic on the per-message path (every
// poller would bounce its cache line). A Batch counts in plain fields while
// its goroutine handles one input batch; Flush folds the counts into one of
// msgShards, touching only the types seen: one atomic add per type per
// batch, on a shard that few other batches use. MessageCounts sums the
// shards when someone asks (a scrape every few seconds).

// countedTypes are the WAMP types counted one by one; any other code
// counts as the last slot.
var countedTypes = [...]codec.Type{
	codec.HELLO, codec.WELCOME, codec.ABORT, codec.CHALLENGE, codec.AUTHENTICATE, codec.GOODBYE,
	codec.ERROR, codec.PUBLISH, codec.PUBLISHED, codec.SUBSCRIBE, codec.SUBSCRIBED,
	codec.UNSUBSCRIBE, codec.UNSUBSCRIBED, codec.EVENT, codec.CALL, codec.CANCEL, codec.RESULT,
	codec.REGISTER, codec.REGISTERED, codec.UNREGISTER, codec.UNREGISTERED, codec.INVOCATION,
	codec.INTERRUPT, codec.YIELD,
}

const numCounted = len(countedTypes) + 1 // + other

// typeSlot maps a type code to its counter slot.
var typeSlot = func() (s [256]uint8) {
	for i := range s {
		s[i] = uint8(numCounted - 1)
	}
	for i, t := range countedTypes {
		s[t] = uint8(i)
	}
	return s
}()

func slotOf(t codec.Type) int {
	if t < 256 {
		return int(typeSlot[t])
	}
	return numCounted - 1
}

// The touched masks are uint32 bitsets of slots.
var _ [32 - numCounted]struct{}

// batchCounts is a Batch's plain-field tally since its last fold.
type batchCounts struct {
	in, out           [numCounted]uint64
	inTouch, outTouch uint32
	shard             *msgShard
}

func (c *batchCounts) countIn(t codec.Type) {
	i := slotOf(t)
	c.in[i]++
	c.inTouch |= 1 << i
}

func (c *batchCounts) countOut(t codec.Type, n uint64) {
	i := slotOf(t)
	c.out[i] += n
	c.outTouch |= 1 << i
}

// fold adds the tally to the batch's shard and clears it.
func (c *batchCounts) fold() {
	for m := c.inTouch; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		c.shard.in[i].Add(c.in[i])
		c.in[i] = 0
	}
	for m := c.outTouch; m != 0; m &= m - 1 {
		i := bits.TrailingZeros32(m)
		c.shard.out[i].Add(c.out[i])
		c.out[i] = 0
	}
	c.inTouch, c.outTouch = 0, 0
}

type msgShard struct {
	in, out [numCounted]atomic.Uint64
	callShard
	_ [64]byte // keep the next shard's first counters off this one's last line
}

var (
	msgShards    [16]msgShard
	msgShardNext atomic.Uint32
)

// nextShard spreads new Batches over the shards.
func nextShard() *msgShard {
	return &msgShards[msgShardNext.Add(1)%uint32(len(msgShards))]
}

// MessageCount is the number of messages of one type received and sent.
type MessageCount struct {
	Type    codec.Type // 0 for the codes not counted one by one
	In, Out uint64
}

// MessageCounts returns the messages received and sent by every router in
// the process, by type, as folded so far (each driver folds at the end of
// its input batch). Types never seen are left out.
func MessageCounts() []MessageCount {
	var out []MessageCount
	for i := 0; i < numCounted; i++ {
		var mc MessageCount
		if i < len(countedTypes) {
			mc.Type = countedTypes[i]
		}
		for s := range msgShards {
			mc.In += msgShards[s].in[i].Load()
			mc.Out += msgShards[s].out[i].Load()
		}
		if mc.In != 0 || mc.Out != 0 {
			out = append(out, mc)
		}
	}
	return out
}
