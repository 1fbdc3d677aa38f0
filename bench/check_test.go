package bench

import (
	"math/rand/v2"
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// TestPendingCalls: the open-addressing set agrees with a map under random
// adds and takes, including ids that collide and runs that wrap around the
// table.
func TestPendingCalls(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, inflight := range []int{1, 4, 16, 100} {
		p := newPendingCalls(inflight)
		model := map[uint64]uint64{}
		next := uint64(1)
		for step := 0; step < 200000; step++ {
			if len(model) < inflight && r.IntN(2) == 0 {
				id := next
				next += 1 + uint64(r.IntN(3))
				p.add(id, id*7)
				model[id] = id * 7
				continue
			}
			// Take an outstanding id, or one that is not.
			var id uint64
			if len(model) > 0 && r.IntN(4) != 0 {
				for k := range model {
					id = k
					break
				}
			} else {
				id = next + uint64(r.IntN(1000))
			}
			seq, ok := p.take(id)
			want, wok := model[id]
			if ok != wok || seq != want {
				t.Fatalf("inflight %d step %d: take(%d) = %d, %v; want %d, %v", inflight, step, id, seq, ok, want, wok)
			}
			delete(model, id)
			if p.n != len(model) {
				t.Fatalf("n %d, want %d", p.n, len(model))
			}
		}
	}
	var none *pendingCalls
	if _, ok := none.take(1); ok {
		t.Fatal("nil set has an id")
	}
}

// TestCheckedPathsAllocs: the checks allocate nothing on the hot path: a
// caller's RESULT (pending lookup, payload check) and a subscriber's
// in-order, duplicate and checked event.
func TestCheckedPathsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
		c := newConn(nil, &Target{WebSocket: true, Format: f}, &clock{}, 0)
		pc, err := newPayloadCheck(f, 40)
		if err != nil {
			t.Fatal(err)
		}
		k := &caller{pc: pc, pending: newPendingCalls(16)}
		msgs := make([][]byte, 64)
		for i := range msgs {
			var st [stampLen]byte
			putStamp(st[:], 0, uint64(i), 1)
			msgs[i] = routerMessage(t, f, codec.Message{Type: codec.RESULT, Request: uint64(i + 1)}, st[:], 40)
		}
		i := 0
		if n := testing.AllocsPerRun(1000, func() {
			k.pending.add(uint64(i%64+1), uint64(i%64))
			_ = k.onMessage(c, msgs[i%64])
			i++
		}); n != 0 || k.n != int64(i) || k.corrupt != 0 || k.unexpected != 0 {
			t.Errorf("%v: caller: %v allocs per RESULT, %d completed of %d, corrupt %d unexpected %d", f, n, k.n, i, k.corrupt, k.unexpected)
		}
		s := &subscriber{pc: pc, expect: make([]uint64, 1)}
		evs := make([][]byte, 64)
		for i := range evs {
			var st [stampLen]byte
			putStamp(st[:], 0, uint64(i), 1)
			evs[i] = routerMessage(t, f, codec.Message{Type: codec.EVENT, ID: 1, Publication: 2}, st[:], 40)
		}
		i = 0
		if n := testing.AllocsPerRun(63, func() {
			_ = s.onMessage(c, evs[i])
			_ = s.onMessage(c, evs[i]) // a duplicate
			i++
		}); n != 0 || s.n != int64(i) || s.dups != int64(i) || s.corrupt != 0 || s.foreign != 0 {
			t.Errorf("%v: subscriber: %v allocs per event, %d seen of %d, dups %d corrupt %d foreign %d", f, n, s.n, i, s.dups, s.corrupt, s.foreign)
		}
	}
}
