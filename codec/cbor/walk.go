package cbor

import (
	"math"
	"sync"

	"github.com/zwamp/zwamp/codec"
)

// scratch is the memory a Walk may need, pooled so that steady-state
// walks do not allocate: buf joins the chunks of indefinite-length strings,
// counts holds the prescanned element counts of indefinite containers.
type scratch struct {
	buf    []byte
	counts []int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 256)} }}

// maxPooledScratch keeps one huge input from pinning its scratch in the pool.
const maxPooledScratch = 64 << 10

// walker is the state of one Walk call; it lives on Walk's stack.
type walker struct {
	data []byte
	w    codec.ValueWriter
	max  int
	s    *scratch // taken from scratchPool on first use
	next int      // next unused entry of s.counts
}

// Walk validates the single CBOR value in data (no trailing bytes) and
// reports it token by token to w. Containers are reported with their exact
// element count; for indefinite-length containers Walk counts the elements
// first. Indefinite-length strings are joined and reported as one token.
// Tags are skipped (bignums therefore arrive as byte strings), undefined is
// reported as nil, and a negative integer below math.MinInt64 is
// codec.ErrUnsupported. maxDepth bounds nesting, the value itself being
// depth 1; maxDepth <= 0 means codec.DefaultMaxDepth. When Walk fails, w
// may have received part of the value.
func Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = codec.DefaultMaxDepth
	}
	wk := walker{data: data, w: w, max: maxDepth}
	p, err := wk.value(0, 1)
	if s := wk.s; s != nil && cap(s.buf) <= maxPooledScratch && cap(s.counts) <= maxPooledScratch {
		s.buf, s.counts = s.buf[:0], s.counts[:0]
		scratchPool.Put(s)
	}
	if err != nil {
		return &codec.Error{Offset: p, Err: err}
	}
	if p != len(data) {
		return &codec.Error{Offset: p, Err: codec.ErrTrailing}
	}
	return nil
}

// value reports the item at p, which has nesting depth depth if it is a
// container, and returns the offset after it (or where it failed).
func (wk *walker) value(p, depth int) (int, error) {
	data := wk.data
	major, ai, arg, start, q, err := head(data, p)
	if err != nil {
		return q, err
	}
	switch major {
	case majorUint:
		wk.w.WriteUint(arg)
		return q, nil
	case majorNeg:
		if arg > math.MaxInt64 {
			return start, codec.ErrUnsupported
		}
		wk.w.WriteInt(int64(^arg))
		return q, nil
	case majorBytes, majorText:
		s, end, err := wk.str(q, major, ai, arg)
		if err != nil {
			return end, err
		}
		if major == majorText {
			wk.w.WriteString(s)
		} else {
			wk.w.WriteBytes(s)
		}
		return end, nil
	case majorArray, majorMap:
		if depth > wk.max {
			return start, codec.ErrDepth
		}
		isMap := major == majorMap
		n := int(arg)
		if ai == aiIndef {
			// Counts come from one prescan of the outermost indefinite
			// container, consumed here in the same (pre-)order.
			wk.scratch()
			if wk.next == len(wk.s.counts) {
				wk.s.counts, wk.next = wk.s.counts[:0], 0
				if end, err := prescan(data, start, depth, wk.max, &wk.s.counts); err != nil {
					return end, err
				}
			}
			n = wk.s.counts[wk.next]
			wk.next++
		} else if !fits(data, q, arg, isMap) {
			return q, codec.ErrTruncated
		}
		if isMap {
			wk.w.BeginMap(n)
		} else {
			wk.w.BeginArray(n)
		}
		for i := 0; i < n; i++ {
			if isMap {
				if q, err = wk.key(q); err != nil {
					return q, err
				}
			}
			if q, err = wk.value(q, depth+1); err != nil {
				return q, err
			}
		}
		if ai == aiIndef {
			q++ // the break, found by prescan
		}
		wk.w.End()
		return q, nil
	default: // majorSimple
		switch ai {
		case aiFalse:
			wk.w.WriteBool(false)
		case aiTrue:
			wk.w.WriteBool(true)
		case aiNull, aiUndef:
			wk.w.WriteNil()
		case aiF16, aiF32, aiF64:
			wk.w.WriteFloat(float(ai, arg))
		default:
			return start, codec.ErrSyntax
		}
		return q, nil
	}
}

// key reports a map key, which must be a text string.
func (wk *walker) key(p int) (int, error) {
	major, ai, arg, start, q, err := head(wk.data, p)
	if err != nil {
		return q, err
	}
	if major != majorText {
		return start, keyMismatch(major, ai)
	}
	s, end, err := wk.str(q, major, ai, arg)
	if err != nil {
		return end, err
	}
	wk.w.WriteString(s)
	return end, nil
}

// str validates a string whose head ended at q and returns its bytes: a
// view into data, or for an indefinite string its chunks joined in the
// walker's scratch buffer (valid until the next indefinite string).
func (wk *walker) str(q int, major, ai byte, arg uint64) ([]byte, int, error) {
	end, err := str(wk.data, q, major, ai, arg)
	if err != nil {
		return nil, end, err
	}
	if ai != aiIndef {
		return wk.data[q:end:end], end, nil
	}
	wk.scratch()
	wk.s.buf, _ = appendChunks(wk.s.buf[:0], wk.data, q)
	return wk.s.buf, end, nil
}

// scratch makes sure the walker holds pooled scratch memory.
func (wk *walker) scratch() {
	if wk.s == nil {
		wk.s = scratchPool.Get().(*scratch)
	}
}
