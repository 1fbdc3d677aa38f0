package codec

import (
	"errors"
	"strconv"
	"sync"
)

// Format identifies a serializer.
type Format uint8

// The serializers of the Basic Profile.
const (
	JSON    Format = 1
	MsgPack Format = 2
	CBOR    Format = 3

	// NumFormats bounds Format values; arrays indexed by Format use it.
	NumFormats = 4
)

var formatNames = [NumFormats]string{"", "json", "msgpack", "cbor"}

// String returns the serializer's short name ("json", "msgpack", "cbor").
func (f Format) String() string {
	if f > 0 && int(f) < NumFormats {
		return formatNames[f]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Subprotocol returns the WebSocket subprotocol for f ("wamp.2.json", ...).
func (f Format) Subprotocol() string {
	if f > 0 && int(f) < NumFormats {
		return subprotocols[f]
	}
	return "wamp.2." + f.String()
}

var subprotocols = [NumFormats]string{"", "wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"}

// Binary reports whether f travels in binary WebSocket frames.
func (f Format) Binary() bool { return f != JSON }

// ParseFormat returns the Format named name ("json", "msgpack", "cbor").
func ParseFormat(name string) (Format, bool) {
	for f := Format(1); f < NumFormats; f++ {
		if formatNames[f] == name {
			return f, true
		}
	}
	return 0, false
}

// Raw is one encoded value — a list or dict of a message, usually a payload —
// kept as a view into the buffer it was decoded from, together with the
// serializer that encoded it. Nil Bytes means "absent".
type Raw struct {
	Format Format
	Bytes  []byte
}

// Present reports whether r holds a value.
func (r Raw) Present() bool { return r.Bytes != nil }

// Codec is one WAMP serializer. Implementations are stateless and safe for
// concurrent use; per-call state lives in the Message or the Writer.
type Codec interface {
	// Format identifies the serializer.
	Format() Format

	// Decode parses one complete WAMP message from data into m (which it
	// Resets first). On success m holds views into data and m.Buf. Every
	// malformed, truncated, wrong-typed or too-deep input yields an *Error.
	Decode(m *Message, data []byte) error

	// Append encodes m and appends it to dst. Raw values in another Format
	// are transcoded; the result is dst unchanged in length on error.
	Append(dst []byte, m *Message) ([]byte, error)

	// Walk validates the single value encoded in data (no trailing bytes)
	// and reports it token by token to w. The outermost container is depth
	// 1; maxDepth <= 0 means DefaultMaxDepth. Strings that follow the binary
	// convention of the format (JSON "\u0000"+base64) are reported as bytes.
	Walk(data []byte, w ValueWriter, maxDepth int) error

	// NewWriter returns a Writer that encodes tokens in this format.
	NewWriter() Writer
}

// ValueWriter receives one value as a stream of tokens. Containers give
// their exact element count up front (BeginMap counts pairs; keys are
// written with WriteString) and are closed with End.
type ValueWriter interface {
	WriteNil()
	WriteBool(v bool)
	WriteInt(v int64)
	WriteUint(v uint64)
	WriteFloat(v float64)
	WriteString(s []byte)
	WriteBytes(b []byte)
	BeginArray(n int)
	BeginMap(n int)
	End()
}

// Writer is a ValueWriter that appends its encoding to a buffer. Errors (a
// float JSON cannot represent, say) are sticky and reported by Err.
type Writer interface {
	ValueWriter
	// Reset starts a new output appended to dst and clears any error.
	Reset(dst []byte)
	// Bytes returns dst with everything written since Reset appended.
	Bytes() []byte
	// Err returns the first error met since Reset.
	Err() error
}

var (
	codecs  [NumFormats]Codec
	writers [NumFormats]sync.Pool
)

// Register makes a serializer available through ByFormat. The serializer
// packages call it from init.
func Register(c Codec) {
	f := c.Format()
	codecs[f] = c
	writers[f].New = func() any { return c.NewWriter() }
}

// ByFormat returns the registered serializer for f, or nil.
func ByFormat(f Format) Codec {
	if int(f) < NumFormats {
		return codecs[f]
	}
	return nil
}

// AcquireWriter returns a pooled Writer for format f, Reset to dst. Return
// it with ReleaseWriter once its Bytes are taken.
func AcquireWriter(f Format, dst []byte) Writer {
	w := writers[f].Get().(Writer)
	w.Reset(dst)
	return w
}

// ReleaseWriter returns w, acquired for format f, to the pool.
func ReleaseWriter(f Format, w Writer) {
	w.Reset(nil)
	writers[f].Put(w)
}

// AppendRaw appends the value r encoded in format to, transcoding through
// the value tokens when r is in another format. Same-format values are
// copied verbatim. In steady state it does not allocate (writers are pooled).
func AppendRaw(dst []byte, to Format, r Raw, maxDepth int) ([]byte, error) {
	if r.Format == to {
		return append(dst, r.Bytes...), nil
	}
	src := ByFormat(r.Format)
	if src == nil || ByFormat(to) == nil {
		return dst, &Error{Field: "payload", Err: ErrUnsupported, Detail: "transcode " + r.Format.String() + " to " + to.String()}
	}
	w := writers[to].Get().(Writer)
	w.Reset(dst)
	err := src.Walk(r.Bytes, w, maxDepth)
	if err == nil {
		err = w.Err()
	}
	out := w.Bytes()
	w.Reset(nil)
	writers[to].Put(w)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// Transcode returns r re-encoded in format to, appended to dst.
func Transcode(dst []byte, to Format, r Raw) ([]byte, error) {
	return AppendRaw(dst, to, r, DefaultMaxDepth)
}

// Sentinel errors wrapped by *Error.
var (
	ErrSyntax      = errors.New("malformed input")
	ErrTruncated   = errors.New("truncated input")
	ErrTrailing    = errors.New("trailing bytes after value")
	ErrType        = errors.New("wrong type")
	ErrCount       = errors.New("wrong element count")
	ErrRange       = errors.New("value out of range")
	ErrUTF8        = errors.New("invalid UTF-8")
	ErrDepth       = errors.New("nesting too deep")
	ErrKey         = errors.New("dict key is not a string")
	ErrUnknownType = errors.New("unknown message type")
	ErrUnsupported = errors.New("value not representable")
)

// Error is a decode or encode error: which message, which element or key,
// where, and what is wrong. Err is one of the sentinel errors above, so
// callers test with errors.Is.
type Error struct {
	Type   Type   // message type, 0 when not yet known
	Field  string // element or key, e.g. "Options.acknowledge" or "Arguments"
	Offset int    // byte offset in the input, -1 when not applicable
	Err    error  // sentinel
	Detail string // optional, e.g. "want bool"
}

func (e *Error) Error() string {
	b := make([]byte, 0, 96)
	b = append(b, "codec: "...)
	if e.Type != 0 {
		b = append(b, e.Type.String()...)
		b = append(b, ' ')
	}
	if e.Field != "" {
		b = append(b, e.Field...)
		b = append(b, ' ')
	}
	if e.Offset >= 0 {
		b = append(b, "at byte "...)
		b = strconv.AppendInt(b, int64(e.Offset), 10)
		b = append(b, ' ')
	}
	if len(b) > len("codec: ") {
		b[len(b)-1] = ':'
		b = append(b, ' ')
	}
	b = append(b, e.Err.Error()...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	return string(b)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }
