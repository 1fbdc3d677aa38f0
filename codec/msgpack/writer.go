package msgpack

import (
	"math"

	"github.com/zwamp/zwamp/codec"
)

// Writer encodes value tokens as MessagePack, appending to the buffer given
// to Reset. It is the inverse of Walk: integers and lengths take their
// smallest encoding, strings the str family, bytes the bin family, floats
// float64. It checks what it is given — the element counts promised by
// BeginArray/BeginMap, string map keys, valid UTF-8 — and records the first
// problem in Err, after which it writes nothing more. Once its container
// stack has grown to the deepest nesting seen it does not allocate (beyond
// growing the output buffer).
type Writer struct {
	buf []byte
	err error
	// open holds, per open container, the tokens still owed: remaining<<1,
	// with the low bit set for a map (whose even remainders are keys).
	open []uint64
}

var _ codec.Writer = (*Writer)(nil)

// NewWriter returns a Writer; call Reset before use to choose the buffer.
func NewWriter() *Writer { return &Writer{open: make([]uint64, 0, 16)} }

// Reset starts a new output appended to dst and clears any error.
func (w *Writer) Reset(dst []byte) {
	w.buf = dst
	w.err = nil
	w.open = w.open[:0]
}

// Bytes returns the buffer passed to Reset with everything written since
// appended.
func (w *Writer) Bytes() []byte { return w.buf }

// Err returns the first error met since Reset or, when there is none but
// a container is still open, an error saying so: the output is not a
// complete value until every Begin has its End.
func (w *Writer) Err() error {
	if w.err == nil && len(w.open) > 0 {
		return &codec.Error{Field: "payload", Offset: -1, Err: codec.ErrCount, Detail: "container not closed"}
	}
	return w.err
}

func (w *Writer) fail(err error, detail string) {
	if w.err == nil {
		w.err = &codec.Error{Field: "payload", Offset: -1, Err: err, Detail: detail}
	}
}

// item accounts for one token about to be written; key says whether it is
// a string that may serve as a map key. It reports whether to write it.
func (w *Writer) item(key bool) bool {
	if w.err != nil {
		return false
	}
	if n := len(w.open); n > 0 {
		top := w.open[n-1]
		if top < 2 {
			w.fail(codec.ErrCount, "more elements than announced")
			return false
		}
		if top&1 != 0 && (top>>1)&1 == 0 && !key {
			// An even number of tokens left in a map: this one is a key.
			w.fail(codec.ErrKey, "")
			return false
		}
		w.open[n-1] = top - 2
	}
	return true
}

// WriteNil writes nil.
func (w *Writer) WriteNil() {
	if w.item(false) {
		w.buf = append(w.buf, cNil)
	}
}

// WriteBool writes true or false.
func (w *Writer) WriteBool(v bool) {
	if w.item(false) {
		if v {
			w.buf = append(w.buf, cTrue)
		} else {
			w.buf = append(w.buf, cFalse)
		}
	}
}

// WriteInt writes v in its smallest integer encoding.
func (w *Writer) WriteInt(v int64) {
	if w.item(false) {
		w.buf = appendInt(w.buf, v)
	}
}

// WriteUint writes v in its smallest integer encoding.
func (w *Writer) WriteUint(v uint64) {
	if w.item(false) {
		w.buf = appendUint(w.buf, v)
	}
}

// WriteFloat writes v as float64, so that it stays a float, exactly.
func (w *Writer) WriteFloat(v float64) {
	if w.item(false) {
		w.buf = appendFloat(w.buf, v)
	}
}

// WriteString writes s as a str; s must be valid UTF-8.
func (w *Writer) WriteString(s []byte) {
	if !w.item(true) {
		return
	}
	if !validUTF8(s) {
		w.fail(codec.ErrUTF8, "")
		return
	}
	if uint64(len(s)) > math.MaxUint32 {
		w.fail(codec.ErrUnsupported, "string longer than 4 GiB")
		return
	}
	w.buf = append(appendStrHeader(w.buf, len(s)), s...)
}

// WriteBytes writes b as bin.
func (w *Writer) WriteBytes(b []byte) {
	if !w.item(false) {
		return
	}
	if uint64(len(b)) > math.MaxUint32 {
		w.fail(codec.ErrUnsupported, "binary longer than 4 GiB")
		return
	}
	w.buf = append(appendBinHeader(w.buf, len(b)), b...)
}

// BeginArray opens an array of exactly n elements.
func (w *Writer) BeginArray(n int) {
	if !w.item(false) {
		return
	}
	if n < 0 || uint64(n) > math.MaxUint32 {
		w.fail(codec.ErrUnsupported, "array length out of range")
		return
	}
	w.buf = appendArrayHeader(w.buf, n)
	w.open = append(w.open, uint64(n)<<1)
}

// BeginMap opens a map of exactly n key/value pairs.
func (w *Writer) BeginMap(n int) {
	if !w.item(false) {
		return
	}
	if n < 0 || uint64(n) > math.MaxUint32 {
		w.fail(codec.ErrUnsupported, "map length out of range")
		return
	}
	w.buf = appendMapHeader(w.buf, n)
	w.open = append(w.open, uint64(n)<<2|1)
}

// End closes the innermost open array or map.
func (w *Writer) End() {
	if w.err != nil {
		return
	}
	n := len(w.open)
	if n == 0 {
		w.fail(codec.ErrCount, "End without Begin")
		return
	}
	if w.open[n-1] > 1 {
		w.fail(codec.ErrCount, "fewer elements than announced")
		return
	}
	w.open = w.open[:n-1]
}
