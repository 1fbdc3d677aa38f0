package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/zwamp/zwamp/codec"
)

// sentinelID stands for the request id while a template is encoded; it is
// found again in the encoding to cut the template around it. 2^53-2 takes
// the widest integer encoding in every format, so it cannot be confused
// with a small integer elsewhere in the message.
const sentinelID = codec.MaxID - 2

// template is one pre-encoded message with two holes: the request id and
// the payload's stamp. Sending a message is appending head, the id, mid, the
// stamp and tail: a few copies, no encoding and no allocation.
type template struct {
	format          codec.Format
	head, mid, tail []byte
}

// payloadString returns the payload of every message the tool sends: a
// string of n bytes whose last stampLen bytes are the stamp (zeroed here).
func payloadString(n int) string {
	b := bytes.Repeat([]byte{'x'}, n)
	putStamp(b[n-stampLen:], 0, 0, 0)
	return string(b)
}

// newTemplate encodes m (whose Request it overwrites) with the serializer f
// and an Arguments list holding one string of payload bytes, and cuts the
// encoding into a template. It checks its own work: a message built from
// the template must decode to the same type, id and stamp.
func newTemplate(f codec.Format, m codec.Message, payload int) (*template, error) {
	cd := codec.ByFormat(f)
	if cd == nil {
		return nil, fmt.Errorf("bench: serializer %v not available", f)
	}
	if payload < MinPayload {
		return nil, fmt.Errorf("bench: payload of %d bytes is below the minimum of %d (the stamp must fit)", payload, MinPayload)
	}
	ps := payloadString(payload)
	args, err := codec.EncodeGo(f, []any{ps})
	if err != nil {
		return nil, fmt.Errorf("bench: encode payload: %w", err)
	}
	m.Request = sentinelID
	m.Args = args
	enc, err := cd.Append(nil, &m)
	if err != nil {
		return nil, fmt.Errorf("bench: encode %v template: %w", m.Type, err)
	}
	id := appendID(f, nil, sentinelID)
	i := bytes.Index(enc, id)
	if i < 0 || bytes.LastIndex(enc, id) != i {
		return nil, fmt.Errorf("bench: %v template: request id not found exactly once in the %v encoding", m.Type, f)
	}
	j := bytes.LastIndex(enc, []byte(ps))
	if j < i+len(id) {
		return nil, fmt.Errorf("bench: %v template: payload not found after the request id in the %v encoding", m.Type, f)
	}
	j += payload - stampLen
	t := &template{
		format: f,
		head:   enc[:i:i],
		mid:    enc[i+len(id) : j : j],
		tail:   enc[j+stampLen:],
	}
	// Self-check with an id and a stamp unlike the sentinel's.
	var st [stampLen]byte
	putStamp(st[:], 0xBEE, 0x12345, 0x6789AB)
	out := t.appendStamp(nil, 7, st[:])
	if len(out) != t.size(7) {
		return nil, fmt.Errorf("bench: %v template: size %d, built %d bytes", m.Type, t.size(7), len(out))
	}
	var back codec.Message
	if err := cd.Decode(&back, out); err != nil {
		return nil, fmt.Errorf("bench: %v template does not decode: %w", m.Type, err)
	}
	got, err := stampOfArgs(cd, back.Args)
	if back.Type != m.Type || back.Request != 7 || err != nil || !bytes.Equal(got[:], st[:]) {
		return nil, fmt.Errorf("bench: %v template decodes to %v request %d stamp %q", m.Type, back.Type, back.Request, got[:])
	}
	return t, nil
}

// size returns the length of the message with request id id.
func (t *template) size(id uint64) int {
	return len(t.head) + idLen(t.format, id) + len(t.mid) + stampLen + len(t.tail)
}

// append appends the message with request id id and a fresh stamp to dst.
func (t *template) append(dst []byte, id uint64, src int, seq uint64, ts int64) []byte {
	dst = append(dst, t.head...)
	dst = appendID(t.format, dst, id)
	dst = append(dst, t.mid...)
	n := len(dst)
	dst = append(dst, stampZero[:]...)
	putStamp(dst[n:], src, seq, ts)
	return append(dst, t.tail...)
}

// appendStamp appends the message with request id id carrying stamp st (a
// callee echoing its caller's stamp) to dst.
func (t *template) appendStamp(dst []byte, id uint64, st []byte) []byte {
	dst = append(dst, t.head...)
	dst = appendID(t.format, dst, id)
	dst = append(dst, t.mid...)
	dst = append(dst, st[:stampLen]...)
	return append(dst, t.tail...)
}

var stampZero [stampLen]byte

// appendID appends an unsigned integer in the smallest encoding of format
// f, which is what every serializer of the codec package writes.
func appendID(f codec.Format, dst []byte, v uint64) []byte {
	if f == codec.JSON {
		return strconv.AppendUint(dst, v, 10)
	}
	direct, marker := uintHead(f)
	switch {
	case v <= direct:
		return append(dst, byte(v))
	case v <= 0xFF:
		return append(dst, marker, byte(v))
	case v <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, marker+1), uint16(v))
	case v <= 0xFFFFFFFF:
		return binary.BigEndian.AppendUint32(append(dst, marker+2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, marker+3), v)
}

// uintHead describes the unsigned integers of the binary formats: direct
// is the largest held in the first byte alone, and marker the first byte of
// the 1-byte form, followed by those of the 2-, 4- and 8-byte forms
// (MessagePack positive fixint and uint 8…64, CBOR major type 0).
func uintHead(f codec.Format) (direct uint64, marker byte) {
	if f == codec.MsgPack {
		return 0x7F, 0xcc
	}
	return 23, 0x18
}

// idLen returns len(appendID(f, nil, v)) without building it.
func idLen(f codec.Format, v uint64) int {
	if f == codec.JSON {
		n := 1
		for v >= 10 {
			v /= 10
			n++
		}
		return n
	}
	direct, _ := uintHead(f)
	switch {
	case v <= direct:
		return 1
	case v <= 0xFF:
		return 2
	case v <= 0xFFFF:
		return 3
	case v <= 0xFFFFFFFF:
		return 5
	}
	return 9
}

// peek reads a message's type and its first element, an integer (a
// request id for RESULT, INVOCATION; the request type for ERROR), straight
// from the bytes, for the encodings the codec package and every common
// router write: JSON without whitespace, MessagePack and CBOR definite
// arrays. ok is false when the message does not look like that, or its
// first element is not an unsigned integer (ABORT, GOODBYE); the caller
// then decodes it properly.
func peek(f codec.Format, b []byte) (t codec.Type, id uint64, ok bool) {
	switch f {
	case codec.JSON:
		if len(b) < 3 || b[0] != '[' {
			return 0, 0, false
		}
		v, n := parseDec(b[1:])
		if n == 0 || 1+n >= len(b) || v > 0xFFFF {
			return 0, 0, false
		}
		t = codec.Type(v)
		p := 1 + n
		if b[p] != ',' {
			return t, 0, b[p] == ']'
		}
		id, n = parseDec(b[p+1:])
		return t, id, n > 0
	case codec.MsgPack:
		if len(b) < 2 || b[0]&0xF0 != 0x90 || b[1] >= 0x80 {
			return 0, 0, false
		}
		t = codec.Type(b[1])
		id, n := readUint(f, b[2:])
		return t, id, n > 0
	case codec.CBOR:
		if len(b) < 2 || b[0] < 0x80 || b[0] > 0x97 {
			return 0, 0, false
		}
		v, n := readUint(f, b[1:])
		if n == 0 || v > 0xFFFF {
			return 0, 0, false
		}
		t = codec.Type(v)
		id, n = readUint(f, b[1+n:])
		return t, id, n > 0
	}
	return 0, 0, false
}

// parseDec reads an unsigned decimal number; n is the number of digits (0:
// none). More than 19 digits is treated as none.
func parseDec(b []byte) (v uint64, n int) {
	for n < len(b) && n < 19 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	if n < len(b) && b[n] >= '0' && b[n] <= '9' {
		return 0, 0
	}
	return v, n
}

// readUint reads a MessagePack or CBOR unsigned integer; n is 0 when b does
// not start with one.
func readUint(f codec.Format, b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	direct, marker := uintHead(f)
	c := b[0]
	var w int
	switch {
	case uint64(c) <= direct:
		return uint64(c), 1
	case c >= marker && c <= marker+3:
		w = 1 << (c - marker)
	default:
		return 0, 0
	}
	if len(b) < 1+w {
		return 0, 0
	}
	for _, d := range b[1 : 1+w] {
		v = v<<8 | uint64(d)
	}
	return v, 1 + w
}

// findStamp returns the stamp at the end of a message whose last element
// is the tool's payload list: `..."]]` in JSON, the string's bytes
// themselves in MessagePack and CBOR. nil when it is not there.
func findStamp(f codec.Format, b []byte) []byte {
	end := len(b)
	if f == codec.JSON {
		if end < 3 || b[end-1] != ']' || b[end-2] != ']' || b[end-3] != '"' {
			return nil
		}
		end -= 3
	}
	if end < stampLen || b[end-stampLen] != stampMark {
		return nil
	}
	return b[end-stampLen : end : end]
}

// stampOfArgs finds the stamp in the first element of a decoded Arguments
// list, the slow path for a router that encodes messages differently.
func stampOfArgs(cd codec.Codec, args codec.Raw) (st [stampLen]byte, err error) {
	if !args.Present() {
		return st, errNoStamp
	}
	var fs firstString
	if err := cd.Walk(args.Bytes, &fs, codec.DefaultMaxDepth); err != nil {
		return st, err
	}
	if !fs.found {
		return st, errNoStamp
	}
	return fs.stamp, nil
}

// firstString is a codec.ValueWriter that keeps the stamp of the first
// string in a list and, given fill, checks that the string is fill and a
// stamp and counts the list's items.
type firstString struct {
	depth, index int
	found        bool
	stamp        [stampLen]byte

	fill  []byte // the string before the stamp; nil: not checked
	bad   bool   // the first string is not fill and a stamp
	items int    // elements of the outer list
}

func (w *firstString) item() {
	if w.depth == 1 {
		w.items++
	}
	w.index++
}
func (w *firstString) WriteNil()          { w.item() }
func (w *firstString) WriteBool(bool)     { w.item() }
func (w *firstString) WriteInt(int64)     { w.item() }
func (w *firstString) WriteUint(uint64)   { w.item() }
func (w *firstString) WriteFloat(float64) { w.item() }
func (w *firstString) WriteBytes([]byte)  { w.item() }
func (w *firstString) BeginArray(int)     { w.begin() }
func (w *firstString) BeginMap(int)       { w.begin() }
func (w *firstString) End()               { w.depth-- }
func (w *firstString) begin() {
	if w.depth == 1 {
		w.items++
		w.index++
	}
	w.depth++
}
func (w *firstString) WriteString(s []byte) {
	if w.depth == 1 && w.index == 0 && len(s) >= stampLen && s[len(s)-stampLen] == stampMark {
		copy(w.stamp[:], s[len(s)-stampLen:])
		w.found = true
		if w.fill != nil && (len(s) != len(w.fill)+stampLen || !bytes.Equal(s[:len(w.fill)], w.fill)) {
			w.bad = true
		}
	}
	w.item()
}
