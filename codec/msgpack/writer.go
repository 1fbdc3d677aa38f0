package msgpack

import (
	"math"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/codec/internal/tally"
)

// Writer encodes value tokens as MessagePack, appending to the buffer given
// to Reset. It is the inverse of Walk: integers and lengths take their
// smallest encoding, strings the str family, bytes the bin family, floats
// float64. It checks what it is given — the element counts promised by
// BeginArray/BeginMap and string map keys (kept by its tally.Tally), valid
// UTF-8 — and records the first problem in Err, after which it writes
// nothing more. Once its container stack has grown to the deepest nesting
// seen it does not allocate (beyond growing the output buffer).
type Writer struct {
	tally.Tally
	buf []byte
}

var _ codec.Writer = (*Writer)(nil)

// NewWriter returns a Writer; call Reset before use to choose the buffer.
func NewWriter() *Writer { return &Writer{} }

// Reset starts a new output appended to dst and clears any error.
func (w *Writer) Reset(dst []byte) { w.buf = dst; w.Tally.Reset() }

// Bytes returns the buffer passed to Reset with everything written since
// appended.
func (w *Writer) Bytes() []byte { return w.buf }

// WriteNil writes nil.
func (w *Writer) WriteNil() {
	if w.Item(false) {
		w.buf = append(w.buf, cNil)
	}
}

// WriteBool writes true or false.
func (w *Writer) WriteBool(v bool) {
	if w.Item(false) {
		if v {
			w.buf = append(w.buf, cTrue)
		} else {
			w.buf = append(w.buf, cFalse)
		}
	}
}

// WriteInt writes v in its smallest integer encoding.
func (w *Writer) WriteInt(v int64) {
	if w.Item(false) {
		w.buf = appendInt(w.buf, v)
	}
}

// WriteUint writes v in its smallest integer encoding.
func (w *Writer) WriteUint(v uint64) {
	if w.Item(false) {
		w.buf = appendUint(w.buf, v)
	}
}

// WriteFloat writes v as float64, so that it stays a float, exactly.
func (w *Writer) WriteFloat(v float64) {
	if w.Item(false) {
		w.buf = appendFloat(w.buf, v)
	}
}

// WriteString writes s as a str; s must be valid UTF-8.
func (w *Writer) WriteString(s []byte) {
	if !w.Item(true) {
		return
	}
	if !validUTF8(s) {
		w.Fail(codec.ErrUTF8, "")
		return
	}
	if uint64(len(s)) > math.MaxUint32 {
		w.Fail(codec.ErrUnsupported, "string longer than 4 GiB")
		return
	}
	w.buf = append(appendStrHeader(w.buf, len(s)), s...)
}

// WriteBytes writes b as bin.
func (w *Writer) WriteBytes(b []byte) {
	if !w.Item(false) {
		return
	}
	if uint64(len(b)) > math.MaxUint32 {
		w.Fail(codec.ErrUnsupported, "binary longer than 4 GiB")
		return
	}
	w.buf = append(appendBinHeader(w.buf, len(b)), b...)
}

// BeginArray opens an array of exactly n elements.
func (w *Writer) BeginArray(n int) {
	if w.Item(false) && w.length(n, "array length out of range") {
		w.buf = appendArrayHeader(w.buf, n)
		w.Push(n, false)
	}
}

// BeginMap opens a map of exactly n key/value pairs.
func (w *Writer) BeginMap(n int) {
	if w.Item(false) && w.length(n, "map length out of range") {
		w.buf = appendMapHeader(w.buf, n)
		w.Push(n, true)
	}
}

// length checks a container length against the 32-bit limit of the format.
func (w *Writer) length(n int, detail string) bool {
	if n < 0 || uint64(n) > math.MaxUint32 {
		w.Fail(codec.ErrUnsupported, detail)
		return false
	}
	return true
}

// End closes the innermost open array or map.
func (w *Writer) End() { w.Pop() }
