package cbor

import (
	"encoding/binary"
	"math"

	"github.com/zwamp/zwamp/codec"
)

// Writer encodes value tokens as CBOR into the buffer given to Reset: the
// destination side of transcoding (codec.AppendRaw) and of codec.AppendGo.
// It is the inverse of Walk: preferred serialization, definite lengths
// taken from BeginArray/BeginMap (which must be exact; the Writer trusts
// them), float64 for every float, byte strings for bytes, no tags. It does
// not allocate when the buffer has room.
type Writer struct {
	buf []byte
	err error
}

var _ codec.Writer = (*Writer)(nil)

// NewWriter returns an empty Writer; call Reset to give it a buffer.
func NewWriter() *Writer { return &Writer{} }

// Reset starts a new output appended to dst and clears any error.
func (w *Writer) Reset(dst []byte) { w.buf, w.err = dst, nil }

// Bytes returns dst with everything written since Reset appended.
func (w *Writer) Bytes() []byte { return w.buf }

// Err returns the first error since Reset: a string that is not valid
// UTF-8 or a negative container length.
func (w *Writer) Err() error { return w.err }

// setErr records the first error only.
func (w *Writer) setErr(err error, detail string) {
	if w.err == nil {
		w.err = &codec.Error{Offset: -1, Err: err, Detail: detail}
	}
}

// WriteNil writes null (undefined is never written).
func (w *Writer) WriteNil() { w.buf = append(w.buf, byteNull) }

// WriteBool writes false or true.
func (w *Writer) WriteBool(v bool) { w.buf = appendBool(w.buf, v) }

// WriteInt writes v as an unsigned (v >= 0) or negative integer.
func (w *Writer) WriteInt(v int64) {
	if v >= 0 {
		w.buf = appendHead(w.buf, majorUint, uint64(v))
		return
	}
	// A negative integer n is encoded with argument -1-n, which is ^n.
	w.buf = appendHead(w.buf, majorNeg, uint64(^v))
}

// WriteUint writes an unsigned integer.
func (w *Writer) WriteUint(v uint64) { w.buf = appendHead(w.buf, majorUint, v) }

// WriteFloat writes a float64 (0xfb). Floats are never shortened to half
// or single precision, so a float stays a float of the same value and the
// Walk → Writer → Walk round trip is exact, NaN payloads included.
func (w *Writer) WriteFloat(v float64) {
	w.buf = binary.BigEndian.AppendUint64(append(w.buf, byteF64), math.Float64bits(v))
}

// WriteString writes a text string. Invalid UTF-8 is an error, since the
// Writer is also where Go strings from codec.AppendGo enter the wire.
func (w *Writer) WriteString(s []byte) {
	if !validUTF8(s) {
		w.setErr(codec.ErrUTF8, "text string")
		return
	}
	w.buf = appendText(w.buf, s)
}

// WriteBytes writes a byte string.
func (w *Writer) WriteBytes(b []byte) {
	w.buf = append(appendHead(w.buf, majorBytes, uint64(len(b))), b...)
}

// BeginArray writes the head of an array of n elements.
func (w *Writer) BeginArray(n int) {
	if n < 0 {
		w.setErr(codec.ErrUnsupported, "negative array length")
		return
	}
	w.buf = appendHead(w.buf, majorArray, uint64(n))
}

// BeginMap writes the head of a map of n pairs.
func (w *Writer) BeginMap(n int) {
	if n < 0 {
		w.setErr(codec.ErrUnsupported, "negative map length")
		return
	}
	w.buf = appendHead(w.buf, majorMap, uint64(n))
}

// End closes a container; definite lengths need no marker.
func (w *Writer) End() {}
