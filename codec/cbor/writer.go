package cbor

import (
	"encoding/binary"
	"math"

	"github.com/zwamp/zwamp/codec"
)

// Writer encodes value tokens as CBOR into the buffer given to Reset: the
// destination side of transcoding (codec.AppendRaw) and of codec.AppendGo.
// It is the inverse of Walk: preferred serialization, definite lengths
// taken from BeginArray/BeginMap, float64 for every float, byte strings for
// bytes, no tags. It checks what it is given (the element counts promised
// by BeginArray/BeginMap, string map keys, valid UTF-8) and records the
// first problem in Err, after which it writes nothing more: definite
// lengths mean a miscounting token source would otherwise produce CBOR
// that reads as a different value. Once its container stack has grown to
// the deepest nesting seen, it does not allocate when the buffer has room.
type Writer struct {
	buf []byte
	err error
	// open holds, per open container, the tokens still owed: remaining<<1,
	// with the low bit set for a map (whose even remainders are keys).
	open []uint64
}

var _ codec.Writer = (*Writer)(nil)

// NewWriter returns an empty Writer; call Reset to give it a buffer.
func NewWriter() *Writer { return &Writer{open: make([]uint64, 0, 16)} }

// Reset starts a new output appended to dst and clears any error.
func (w *Writer) Reset(dst []byte) { w.buf, w.err, w.open = dst, nil, w.open[:0] }

// Bytes returns dst with everything written since Reset appended.
func (w *Writer) Bytes() []byte { return w.buf }

// Err returns the first error since Reset (invalid UTF-8, a miscounted or
// negative-length container, a map key that is not a string) or, when there
// is none but a container is still open, an error saying so.
func (w *Writer) Err() error {
	if w.err == nil && len(w.open) > 0 {
		return &codec.Error{Field: "payload", Offset: -1, Err: codec.ErrCount, Detail: "container not closed"}
	}
	return w.err
}

// fail records the first error only.
func (w *Writer) fail(err error, detail string) {
	if w.err == nil {
		w.err = &codec.Error{Field: "payload", Offset: -1, Err: err, Detail: detail}
	}
}

// item accounts for one token about to be written; key says whether it is
// a string, which may serve as a map key. It reports whether to write it.
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

// begin opens a container owing tokens values (pairs count twice).
func (w *Writer) begin(major byte, n int, tokens uint64, isMap uint64) {
	if n < 0 || n > 1<<60 {
		w.fail(codec.ErrUnsupported, "bad container length")
		return
	}
	if !w.item(false) {
		return
	}
	w.buf = appendHead(w.buf, major, uint64(n))
	w.open = append(w.open, tokens<<1|isMap)
}

// WriteNil writes null (undefined is never written).
func (w *Writer) WriteNil() {
	if w.item(false) {
		w.buf = append(w.buf, byteNull)
	}
}

// WriteBool writes false or true.
func (w *Writer) WriteBool(v bool) {
	if w.item(false) {
		w.buf = appendBool(w.buf, v)
	}
}

// WriteInt writes v as an unsigned (v >= 0) or negative integer.
func (w *Writer) WriteInt(v int64) {
	if !w.item(false) {
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
	if w.item(false) {
		w.buf = appendHead(w.buf, majorUint, v)
	}
}

// WriteFloat writes a float64 (0xfb). Floats are never shortened to half
// or single precision, so a float stays a float of the same value and the
// Walk → Writer → Walk round trip is exact, NaN payloads included.
func (w *Writer) WriteFloat(v float64) {
	if w.item(false) {
		w.buf = binary.BigEndian.AppendUint64(append(w.buf, byteF64), math.Float64bits(v))
	}
}

// WriteString writes a text string (or a map key). Invalid UTF-8 is an
// error: the Writer is also where Go strings from codec.AppendGo enter the
// wire.
func (w *Writer) WriteString(s []byte) {
	if !w.item(true) {
		return
	}
	if !validUTF8(s) {
		w.fail(codec.ErrUTF8, "text string")
		return
	}
	w.buf = appendText(w.buf, s)
}

// WriteBytes writes a byte string.
func (w *Writer) WriteBytes(b []byte) {
	if w.item(false) {
		w.buf = append(appendHead(w.buf, majorBytes, uint64(len(b))), b...)
	}
}

// BeginArray writes the head of an array of n elements.
func (w *Writer) BeginArray(n int) { w.begin(majorArray, n, uint64(n), 0) }

// BeginMap writes the head of a map of n pairs.
func (w *Writer) BeginMap(n int) { w.begin(majorMap, n, 2*uint64(n), 1) }

// End closes the innermost container, which must have received exactly
// the elements it announced. Definite lengths need no marker on the wire.
func (w *Writer) End() {
	if w.err != nil {
		return
	}
	n := len(w.open)
	if n == 0 {
		w.fail(codec.ErrCount, "End without Begin")
		return
	}
	if w.open[n-1]>>1 != 0 {
		w.fail(codec.ErrCount, "fewer elements than announced")
		return
	}
	w.open = w.open[:n-1]
}
