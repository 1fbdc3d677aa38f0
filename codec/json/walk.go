package json

import (
	"sync"

	"github.com/zwamp/zwamp/codec"
)

// Walk validates the single JSON value in data and reports it to w; see
// codec.Codec. The outermost container is depth 1; maxDepth <= 0 means
// codec.DefaultMaxDepth (and it is capped at 10000).
//
// ValueWriter wants exact element counts before the elements, which JSON
// does not give. Walk therefore makes two linear passes: the first
// validates everything and records the count of every container in the
// order the containers open; the second, which can trust the input,
// emits the tokens and takes the counts from that list in the same order.
// Every byte is read twice whatever the nesting, where counting each
// container with a skip-scan before emitting it would re-read a value
// once per enclosing level. A side effect: on invalid input w receives
// nothing at all.
func Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	st := walkPool.Get().(*walkState)
	err := st.walk(data, w, maxDepth)
	st.release()
	return err
}

// walkState is the per-call scratch of Walk, pooled so that steady-state
// walks do not allocate.
type walkState struct {
	sc      scanner
	scratch []byte // unescaped strings
	bin     []byte // decoded binary
}

var walkPool = sync.Pool{New: func() any { return new(walkState) }}

// maxPooledScratch bounds the buffers a pooled walkState keeps, so one huge
// payload does not pin its memory in the pool forever.
const maxPooledScratch = 64 << 10

func (st *walkState) release() {
	st.sc.data = nil
	if cap(st.scratch) > maxPooledScratch {
		st.scratch = nil
	}
	if cap(st.bin) > maxPooledScratch {
		st.bin = nil
	}
	if cap(st.sc.counts) > maxPooledScratch/8 {
		st.sc.counts = nil
	}
	walkPool.Put(st)
}

func (st *walkState) walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	st.sc = scanner{data: data, max: clampDepth(maxDepth), rec: true, counts: st.sc.counts[:0]}
	i := skipWS(data, 0)
	if i >= len(data) {
		return &codec.Error{Offset: i, Err: codec.ErrTruncated, Detail: "empty input"}
	}
	end, err := st.sc.skipValue(i, 1)
	if err != nil {
		return &codec.Error{Offset: end, Err: err}
	}
	if j := skipWS(data, end); j < len(data) {
		return &codec.Error{Offset: j, Err: codec.ErrTrailing}
	}
	st.emit(data[:end], i, w)
	return nil
}

// emit is the second pass over validated input: a flat loop, no recursion
// and no re-validation.
func (st *walkState) emit(data []byte, i int, w codec.ValueWriter) {
	counts := st.sc.counts
	ci := 0
	for i < len(data) {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r', ',', ':':
			i++
		case '[':
			w.BeginArray(counts[ci])
			ci++
			i++
		case '{':
			w.BeginMap(counts[ci])
			ci++
			i++
		case ']', '}':
			w.End()
			i++
		case '"':
			i = st.emitString(data, i, w)
		case 't':
			w.WriteBool(true)
			i += 4
		case 'f':
			w.WriteBool(false)
			i += 5
		case 'n':
			w.WriteNil()
			i += 4
		default:
			end, kind, mag, _ := scanNumber(data, i)
			switch kind {
			case numUint:
				w.WriteUint(mag)
			case numNeg:
				w.WriteInt(int64(-mag))
			default:
				f, _ := parseFloat(data[i:end])
				w.WriteFloat(f)
			}
			i = end
		}
	}
}

// emitString reports the validated string at data[i] and returns its end.
// A value (not key) whose unescaped text starts with U+0000 and continues
// with valid base64 is binary; U+0000 can only appear escaped, so plain
// strings skip the check.
func (st *walkState) emitString(data []byte, i int, w codec.ValueWriter) int {
	end, esc := stringEnd(data, i)
	body := data[i+1 : end-1]
	if !esc {
		w.WriteString(body)
		return end
	}
	st.scratch = appendUnescaped(st.scratch[:0], body)
	s := st.scratch
	if len(s) > 0 && s[0] == 0 {
		if j := skipWS(data, end); j >= len(data) || data[j] != ':' {
			var ok bool
			if st.bin, ok = decodeBase64(st.bin[:0], s[1:]); ok {
				w.WriteBytes(st.bin)
				return end
			}
		}
	}
	w.WriteString(s)
	return end
}
