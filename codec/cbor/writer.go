package cbor

import (
	"encoding/binary"
	"math"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/codec/internal/tally"
)

// Writer encodes value tokens as CBOR into the buffer given to Reset: the
// destination side of transcoding (codec.AppendRaw) and of codec.AppendGo.
// It is the inverse of Walk: preferred serialization, definite lengths
// taken from BeginArray/BeginMap, float64 for every float, byte strings for
// bytes, no tags. It checks what it is given (the element counts promised
// by BeginArray/BeginMap and string map keys, kept by its tally.Tally, and
// valid UTF-8) and records the first problem in Err, after which it writes
// nothing more. Once its container stack has grown to the deepest nesting
// seen, it does not allocate when the buffer has room.
type Writer struct {
	tally.Tally
	buf []byte
}

var _ codec.Writer = (*Writer)(nil)

// NewWriter returns an empty Writer; call Reset to give it a buffer.
func NewWriter() *Writer { return &Writer{} }

// Reset starts a new output appended to dst and clears any error.
func (w *Writer) Reset(dst []byte) { w.buf = dst; w.Tally.Reset() }

// Bytes returns dst with everything written since Reset appended.
func (w *Writer) Bytes() []byte { return w.buf }

// begin opens a container of n elements (pairs, for a map).
func (w *Writer) begin(major byte, n int, isMap bool) {
	if n < 0 || n > tally.Max {
		w.Fail(codec.ErrUnsupported, "bad container length")
		return
	}
	if w.Item(false) {
		w.buf = appendHead(w.buf, major, uint64(n))
		w.Push(n, isMap)
	}
}

// WriteNil writes null (undefined is never written).
func (w *Writer) WriteNil() {
	if w.Item(false) {
		w.buf = append(w.buf, byteNull)
	}
}

// WriteBool writes false or true.
func (w *Writer) WriteBool(v bool) {
	if w.Item(false) {
		w.buf = appendBool(w.buf, v)
	}
}

// WriteInt writes v as an unsigned (v >= 0) or negative integer.
func (w *Writer) WriteInt(v int64) {
	if !w.Item(false) {
		return
	}
	if v >= 0 {
		w.buf = appendHead(w.buf, majorUint, uint64(v))
		return
	}
	// A negative integer n is encoded with argument -1-n, which is ^n.
	w.buf = appendHead(w.buf, majorNeg, uint64(^v))
}

// WriteUint writes an unsigned integer.
func (w *Writer) WriteUint(v uint64) {
	if w.Item(false) {
		w.buf = appendHead(w.buf, majorUint, v)
	}
}

// WriteFloat writes a float64 (0xfb). Floats are never shortened to half
// or single precision, so a float stays a float of the same value and the
// Walk → Writer → Walk round trip is exact, NaN payloads included.
func (w *Writer) WriteFloat(v float64) {
	if w.Item(false) {
		w.buf = binary.BigEndian.AppendUint64(append(w.buf, byteF64), math.Float64bits(v))
	}
}

// WriteString writes a text string (or a map key). Invalid UTF-8 is an
// error: the Writer is also where Go strings from codec.AppendGo enter the
// wire.
func (w *Writer) WriteString(s []byte) {
	if !w.Item(true) {
		return
	}
	if !validUTF8(s) {
		w.Fail(codec.ErrUTF8, "text string")
		return
	}
	w.buf = appendText(w.buf, s)
}

// WriteBytes writes a byte string.
func (w *Writer) WriteBytes(b []byte) {
	if w.Item(false) {
		w.buf = append(appendHead(w.buf, majorBytes, uint64(len(b))), b...)
	}
}

// BeginArray writes the head of an array of n elements.
func (w *Writer) BeginArray(n int) { w.begin(majorArray, n, false) }

// BeginMap writes the head of a map of n pairs.
func (w *Writer) BeginMap(n int) { w.begin(majorMap, n, true) }

// End closes the innermost container, which must have received exactly
// the elements it announced. Definite lengths need no marker on the wire.
func (w *Writer) End() { w.Pop() }
