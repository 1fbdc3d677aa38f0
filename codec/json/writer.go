package json

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/zwamp/zwamp/codec"
)

// Writer encodes value tokens as compact JSON into a caller's buffer. It is
// the exact inverse of Walk: floats always carry a '.' or an exponent so
// they come back as floats, and bytes use the WAMP binary convention
// ("\u0000" + base64), so Walk → Writer → Walk reproduces every token.
//
// A Writer is not safe for concurrent use and must not be copied (its
// container stack starts in an inline array); it does not allocate once
// its buffer (and, for nesting deeper than 32, its stack) has grown.
type Writer struct {
	buf []byte
	err error
	// stack holds one state per open container: 'a' array, 'k' object
	// expecting a key, 'v' object expecting the value of a written key.
	stack  []byte
	inline [32]byte
}

var _ codec.Writer = (*Writer)(nil)

// NewWriter returns a Writer with an empty buffer.
func NewWriter() *Writer {
	w := &Writer{}
	w.stack = w.inline[:0]
	return w
}

// Reset starts a new output appended to dst and clears any error.
func (w *Writer) Reset(dst []byte) {
	w.buf = dst
	w.err = nil
	if w.stack == nil {
		w.stack = w.inline[:0]
	}
	w.stack = w.stack[:0]
}

// Bytes returns the buffer given to Reset with everything written since.
func (w *Writer) Bytes() []byte { return w.buf }

// Err returns the first error met since Reset.
func (w *Writer) Err() error { return w.err }

func (w *Writer) fail(err error, detail string) {
	if w.err == nil {
		w.err = &codec.Error{Offset: -1, Err: err, Detail: detail}
	}
}

// value prepares for a value that is not an object key: writes the comma
// and advances the enclosing object's state. It reports false (and records
// ErrKey) when a key was expected.
func (w *Writer) value() bool {
	if w.err != nil {
		return false
	}
	n := len(w.stack)
	if n == 0 {
		return true
	}
	switch w.stack[n-1] {
	case 'a':
		// The byte before an array's first element is its '['; after any
		// element it is that element's last byte, which is never '['.
		if w.buf[len(w.buf)-1] != '[' {
			w.buf = append(w.buf, ',')
		}
	case 'k':
		w.fail(codec.ErrKey, "object key must be a string")
		return false
	default:
		w.stack[n-1] = 'k'
	}
	return true
}

// WriteNil writes null.
func (w *Writer) WriteNil() {
	if w.value() {
		w.buf = append(w.buf, "null"...)
	}
}

// WriteBool writes true or false.
func (w *Writer) WriteBool(v bool) {
	if w.value() {
		if v {
			w.buf = append(w.buf, "true"...)
		} else {
			w.buf = append(w.buf, "false"...)
		}
	}
}

// WriteInt writes a signed integer.
func (w *Writer) WriteInt(v int64) {
	if w.value() {
		w.buf = strconv.AppendInt(w.buf, v, 10)
	}
}

// WriteUint writes an unsigned integer.
func (w *Writer) WriteUint(v uint64) {
	if w.value() {
		w.buf = strconv.AppendUint(w.buf, v, 10)
	}
}

// WriteFloat writes a float in its shortest round-trip form, always with a
// '.' or an exponent. NaN and infinities have no JSON form (ErrUnsupported).
func (w *Writer) WriteFloat(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		w.fail(codec.ErrUnsupported, "NaN or infinity in JSON")
		return
	}
	if w.value() {
		w.buf = appendFloat(w.buf, v)
	}
}

// appendFloat formats v like encoding/json (plain decimal between 1e-6 and
// 1e21, exponent form outside) and appends ".0" to integral plain output so
// that the value is read back as a float.
func appendFloat(b []byte, v float64) []byte {
	abs := math.Abs(v)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, v, 'e', -1, 64)
		// Shorten "e-07" to "e-7" as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}

// WriteString writes a string (or an object key). Invalid UTF-8 is ErrUTF8.
func (w *Writer) WriteString(s []byte) {
	if w.err != nil {
		return
	}
	key := false
	if n := len(w.stack); n > 0 && w.stack[n-1] == 'k' {
		key = true
		if c := w.buf[len(w.buf)-1]; c != '{' {
			w.buf = append(w.buf, ',')
		}
		w.stack[n-1] = 'v'
	} else if !w.value() {
		return
	}
	var ok bool
	if w.buf, ok = appendString(w.buf, s); !ok {
		w.fail(codec.ErrUTF8, "string")
		return
	}
	if key {
		w.buf = append(w.buf, ':')
	}
}

// WriteBytes writes binary as "\u0000" followed by padded standard base64.
func (w *Writer) WriteBytes(p []byte) {
	if w.value() {
		w.buf = appendBinary(w.buf, p)
	}
}

func appendBinary(b, p []byte) []byte {
	b = append(b, `"\u0000`...)
	b = base64.StdEncoding.AppendEncode(b, p)
	return append(b, '"')
}

// BeginArray opens an array; JSON does not need the count.
func (w *Writer) BeginArray(int) {
	if w.value() {
		w.buf = append(w.buf, '[')
		w.stack = append(w.stack, 'a')
	}
}

// BeginMap opens an object; JSON does not need the count.
func (w *Writer) BeginMap(int) {
	if w.value() {
		w.buf = append(w.buf, '{')
		w.stack = append(w.stack, 'k')
	}
}

// End closes the innermost open container.
func (w *Writer) End() {
	if w.err != nil {
		return
	}
	n := len(w.stack)
	if n == 0 {
		w.fail(codec.ErrSyntax, "End without an open container")
		return
	}
	switch w.stack[n-1] {
	case 'a':
		w.buf = append(w.buf, ']')
	case 'k':
		w.buf = append(w.buf, '}')
	default:
		w.fail(codec.ErrSyntax, "object key without a value")
		return
	}
	w.stack = w.stack[:n-1]
}

// escapes gives the short escape of the bytes that have one; other control
// characters are written as \u00XX.
var escapes = [256]byte{'"': '"', '\\': '\\', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'}

const hexDigits = "0123456789abcdef"

// appendString appends s as a quoted JSON string, escaping only what JSON
// requires and copying valid non-ASCII UTF-8 as is. It reports false when
// s is not valid UTF-8.
func appendString(b, s []byte) ([]byte, bool) {
	b = append(b, '"')
	i := 0
	for {
		j := nextSpecial(s, i)
		b = append(b, s[i:j]...)
		if j >= len(s) {
			return append(b, '"'), true
		}
		c := s[j]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[j:])
			if r == utf8.RuneError && size == 1 {
				return b, false
			}
			b = append(b, s[j:j+size]...)
			i = j + size
			continue
		case escapes[c] != 0:
			b = append(b, '\\', escapes[c])
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i = j + 1
	}
}
