package bench

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"

	"github.com/zwamp/zwamp/codec"
)

// What the load tool checks in every EVENT and RESULT, so that a router
// cannot make a run look better than it was: the payload is the one that
// was sent (every byte, not just the stamp), a RESULT answers a call that
// is outstanding (its own request id, once), and a subscriber sees each
// publication once and in order.

// errCorrupt is a message whose stamp is there but whose payload is not
// the one the tool sent.
var errCorrupt = errors.New("bench: payload altered (it is not the one the tool sent)")

// payloadCheck is the payload every message of a run carries: the
// Arguments list with one string of --payload bytes, 'x's and the stamp.
type payloadCheck struct {
	f codec.Format
	// head and tail are the encoded Arguments list around the stamp, as
	// the codec package encodes it (JSON `["xx…` and `"]`).
	head, tail []byte
	// fill is the string before the stamp.
	fill []byte
}

// newPayloadCheck describes the payload of payload bytes in format f.
func newPayloadCheck(f codec.Format, payload int) (*payloadCheck, error) {
	ps := payloadString(payload)
	args, err := codec.EncodeGo(f, []any{ps})
	if err != nil {
		return nil, fmt.Errorf("bench: encode payload: %w", err)
	}
	b := args.Bytes
	i := bytes.LastIndex(b, []byte(ps))
	if i < 0 {
		return nil, fmt.Errorf("bench: payload not found in its %v encoding", f)
	}
	j := i + payload - stampLen
	return &payloadCheck{f: f, head: b[:j:j], tail: b[j+stampLen:], fill: []byte(ps[:payload-stampLen])}, nil
}

// checkStamp returns the stamp of msg, parsed, after checking the whole
// payload against pc (nil: the stamp only). errNoStamp: not one of the
// tool's messages; errCorrupt: the stamp is there but the payload differs.
// It reads msg in place when the router encodes like the codec package
// (the Arguments list is the message's last element, encoded as the tool
// encoded it) and otherwise decodes it (into c.m unless decoded says kind
// already did).
func (c *conn) checkStamp(msg []byte, decoded bool, pc *payloadCheck) (src int, seq uint64, ts int64, err error) {
	if st := findStamp(c.f, msg); st != nil {
		// st ends where the message ends, but for JSON's `"]]`.
		start := len(msg) - stampLen
		if c.f == codec.JSON {
			start -= 3
		}
		if pc == nil || (start >= len(pc.head) && bytes.Equal(msg[start-len(pc.head):start], pc.head) &&
			bytes.HasPrefix(msg[start+stampLen:], pc.tail)) {
			return parseStamp(st)
		}
		// Encoded differently, or altered: the decoder decides.
	}
	if !decoded {
		if err := c.cd.Decode(&c.m, msg); err != nil {
			return 0, 0, 0, err
		}
	}
	var fs firstString
	if pc != nil {
		fs.fill = pc.fill
	}
	if !c.m.Args.Present() {
		return 0, 0, 0, errNoStamp
	}
	if err := c.cd.Walk(c.m.Args.Bytes, &fs, codec.DefaultMaxDepth); err != nil {
		return 0, 0, 0, err
	}
	if !fs.found {
		return 0, 0, 0, errNoStamp
	}
	src, seq, ts, err = parseStamp(fs.stamp[:])
	if err == nil && (fs.bad || fs.items != 1) && pc != nil {
		err = errCorrupt
	}
	return src, seq, ts, err
}

// pendingCalls is a caller's set of outstanding request ids, each with the
// stamp sequence number its call carried: open addressing with linear
// probing and backward-shift deletion, sized at four times the calls in
// flight so that it never fills. It allocates nothing after newPendingCalls.
type pendingCalls struct {
	keys  []uint64 // 0: empty slot (request ids are ≥ 1)
	seqs  []uint64
	shift uint
	n     int
}

func newPendingCalls(inflight int) *pendingCalls {
	size := 16
	for size < 4*inflight {
		size <<= 1
	}
	return &pendingCalls{keys: make([]uint64, size), seqs: make([]uint64, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
}

func (p *pendingCalls) home(id uint64) int { return int((id * 0x9E3779B97F4A7C15) >> p.shift) }

// add records id as outstanding with sequence number seq. An id already
// outstanding (the id space wrapped around within one run: never) is
// overwritten.
func (p *pendingCalls) add(id, seq uint64) {
	if p == nil {
		return
	}
	mask := len(p.keys) - 1
	for i := p.home(id); ; i = (i + 1) & mask {
		switch p.keys[i] {
		case 0:
			p.keys[i], p.seqs[i] = id, seq
			p.n++
			return
		case id:
			p.seqs[i] = seq
			return
		}
	}
}

// take removes id and returns its sequence number; ok is false when id is
// not outstanding (never sent, or answered already). A nil set has none.
func (p *pendingCalls) take(id uint64) (seq uint64, ok bool) {
	if p == nil || id == 0 {
		return 0, false
	}
	mask := len(p.keys) - 1
	i := p.home(id)
	for ; p.keys[i] != id; i = (i + 1) & mask {
		if p.keys[i] == 0 {
			return 0, false
		}
	}
	seq = p.seqs[i]
	p.n--
	// Backward-shift: move later entries of the probe run into the hole
	// when their home slot does not lie cyclically in (hole, j].
	for j := (i + 1) & mask; p.keys[j] != 0; j = (j + 1) & mask {
		h := p.home(p.keys[j])
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			p.keys[i], p.seqs[i] = p.keys[j], p.seqs[j]
			i = j
		}
	}
	p.keys[i] = 0
	return seq, true
}

// maxMissing bounds the sequence numbers a subscriber remembers as missing
// per publisher; gaps beyond it are counted without being remembered (a
// late arrival for one of them then counts as a duplicate).
const maxMissing = 4096

// missingSeqs is what a subscriber remembers of one publisher's gaps: the
// sequence numbers skipped and not seen since, oldest first.
type missingSeqs struct {
	seqs      []uint64
	untracked int64 // skipped beyond maxMissing
}

// see records publisher src's sequence number seq given *next, the one
// expected. It reports whether seq is new (not a duplicate), whether it
// arrived late (after a later one, filling a gap) and how many sequence
// numbers it skipped. gaps is allocated at the first gap (one entry per
// publisher); in-order and duplicate events allocate nothing.
func see(next *uint64, gaps *[]missingSeqs, src, publishers int, seq uint64) (fresh, late bool, skipped uint64) {
	switch {
	case seq == *next:
		*next = seq + 1
		return true, false, 0
	case seq > *next:
		if *gaps == nil {
			*gaps = make([]missingSeqs, publishers)
		}
		m := &(*gaps)[src]
		skipped = seq - *next
		kept := skipped
		if room := uint64(maxMissing - len(m.seqs)); kept > room {
			m.untracked += int64(kept - room)
			kept = room
		}
		for q := seq - kept; q < seq; q++ {
			m.seqs = append(m.seqs, q)
		}
		*next = seq + 1
		return true, false, skipped
	}
	if *gaps != nil {
		m := &(*gaps)[src]
		for i, q := range m.seqs {
			if q == seq {
				m.seqs = append(m.seqs[:i], m.seqs[i+1:]...)
				return true, true, 0
			}
		}
	}
	return false, false, 0
}
