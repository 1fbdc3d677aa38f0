package rawsocket

import (
	"errors"
	"strconv"

	"github.com/valyala/bytebufferpool"
)

// MsgType is the transport message type of a frame prefix (TTT).
type MsgType uint8

// Transport message types; 3–7 are reserved.
const (
	Message MsgType = 0 // a serialized WAMP message
	Ping    MsgType = 1
	Pong    MsgType = 2
)

// String names the type.
func (t MsgType) String() string {
	switch t {
	case Message:
		return "message"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	}
	return "MsgType(" + strconv.Itoa(int(t)) + ")"
}

// HeaderSize is the length of the frame prefix.
const HeaderSize = 4

// MaxLen is the largest payload a frame can carry (2^24, encoded with the X
// bit) and the largest limit a handshake can announce.
const MaxLen = 1 << 24

// ErrTooLong is returned by AppendHeader and AppendFrame for a payload longer
// than the peer accepts; such a message cannot be sent to that peer.
var ErrTooLong = errors.New("rawsocket: payload exceeds the peer's maximum message length")

// AppendHeader appends the 4-octet prefix of a frame of type t whose payload
// is length bytes. limit is the peer's maximum, from its handshake
// (Handshake.MaxLen); a longer payload yields ErrTooLong and dst unchanged.
func AppendHeader(dst []byte, t MsgType, length, limit int) ([]byte, error) {
	if length < 0 || length > limit || length > MaxLen {
		return dst, ErrTooLong
	}
	if length == MaxLen {
		// The X bit stands for 2^24 with the 24 length bits clear.
		return append(dst, byte(t&7)|0x08, 0, 0, 0), nil
	}
	return append(dst, byte(t&7), byte(length>>16), byte(length>>8), byte(length)), nil
}

// AppendFrame appends a whole frame (prefix and payload) to dst, under the
// same limit as AppendHeader. A PONG answers a PING with its payload.
func AppendFrame(dst []byte, t MsgType, payload []byte, limit int) ([]byte, error) {
	dst, err := AppendHeader(dst, t, len(payload), limit)
	if err != nil {
		return dst, err
	}
	return append(dst, payload...), nil
}

// Framing violations. The spec's answer to each is to fail the connection.
var (
	ErrReservedFrameBits = errors.New("rawsocket: reserved bits set in frame prefix")
	ErrReservedType      = errors.New("rawsocket: reserved transport message type")
	ErrBadLength         = errors.New("rawsocket: frame length bit X set with non-zero length bits")
	ErrFrameTooLong      = errors.New("rawsocket: frame longer than the negotiated maximum")
)

// FrameError is a violation of the framing rules: Err is one of the
// ErrReservedFrameBits, ErrReservedType, ErrBadLength, ErrFrameTooLong, and
// Header the offending prefix.
type FrameError struct {
	Err    error
	Header [HeaderSize]byte
	Limit  int
}

// Error describes the violation with the offending prefix.
func (e *FrameError) Error() string {
	s := e.Err.Error() + " (prefix " + hex4(e.Header)
	if e.Err == ErrFrameTooLong {
		s += ", length " + strconv.Itoa(frameLen(e.Header)) + " > " + strconv.Itoa(e.Limit)
	}
	return s + ")"
}

// Unwrap returns Err, for errors.Is.
func (e *FrameError) Unwrap() error { return e.Err }

func hex4(b [4]byte) string {
	const digits = "0123456789abcdef"
	var s [8]byte
	for i, c := range b {
		s[2*i], s[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(s[:])
}

func frameLen(h [HeaderSize]byte) int {
	if h[0]&0x08 != 0 {
		return MaxLen
	}
	return int(h[1])<<16 | int(h[2])<<8 | int(h[3])
}

// Handler receives what a Decoder decodes. A payload is valid only until the
// method returns. A non-nil error stops Feed, which returns that error, and
// makes the Decoder unusable. Methods must not call Feed on the same
// Decoder.
type Handler interface {
	// OnMessage is called for each regular WAMP message.
	OnMessage(payload []byte) error
	// OnPing is called for each PING. The spec requires exactly one PONG
	// with the same payload in answer, sent at once:
	// AppendFrame(dst, Pong, payload, peerMax).
	OnPing(payload []byte) error
	// OnPong is called for each PONG.
	OnPong(payload []byte) error
}

// bufPool is this package's own, so its size calibration reflects partial
// RawSocket frames only.
var bufPool bytebufferpool.Pool

// Decoder turns the bytes of a RawSocket connection (after the handshake)
// into messages. Feed takes whatever the connection read, in pieces of any
// size. A frame that lies wholly inside one Feed call is handed out as a
// view of the caller's bytes; only a frame that spans calls is accumulated,
// in a pooled buffer that goes back to the pool as soon as the frame is
// delivered, so an idle connection holds no buffer. The zero value accepts
// frames up to MaxLen; set MaxLen before the first Feed.
type Decoder struct {
	// MaxLen is the largest payload accepted: the limit this side announced
	// in its handshake (Handshake.MaxLen). 0 means MaxLen (16 MiB).
	MaxLen int

	hdr       [HeaderSize]byte
	hdrN      int
	inFrame   bool
	typ       MsgType
	remaining int
	buf       *bytebufferpool.ByteBuffer
	err       error
}

// Feed decodes data, calling h for each complete frame. It returns nil when
// data is used up (a frame may be left incomplete, to be continued by the
// next Feed), the Handler's error, or a *FrameError, after which the spec
// says to fail the connection. After an error every Feed returns it again.
func (d *Decoder) Feed(data []byte, h Handler) error {
	if d.err != nil {
		return d.err
	}
	p := 0
	for p < len(data) {
		if !d.inFrame {
			if d.hdrN == 0 && len(data)-p >= HeaderSize {
				copy(d.hdr[:], data[p:p+HeaderSize])
				p += HeaderSize
			} else {
				c := copy(d.hdr[d.hdrN:], data[p:])
				d.hdrN += c
				p += c
				if d.hdrN < HeaderSize {
					break
				}
				d.hdrN = 0
			}
			if err := d.startFrame(); err != nil {
				return d.fail(err)
			}
		}
		var payload []byte
		if d.buf == nil && len(data)-p >= d.remaining {
			payload = data[p : p+d.remaining : p+d.remaining]
			p += d.remaining
			d.remaining = 0
		} else {
			if d.buf == nil {
				d.buf = bufPool.Get() // empty: Put resets what it takes
			}
			n := d.remaining
			if avail := len(data) - p; n > avail {
				n = avail
			}
			d.buf.B = append(d.buf.B, data[p:p+n]...)
			p += n
			d.remaining -= n
			if d.remaining > 0 {
				break
			}
			payload = d.buf.B[:len(d.buf.B):len(d.buf.B)]
		}
		d.inFrame = false
		var err error
		switch d.typ {
		case Message:
			err = h.OnMessage(payload)
		case Ping:
			err = h.OnPing(payload)
		default: // Pong; startFrame admits nothing else
			err = h.OnPong(payload)
		}
		d.releaseBuf()
		if err != nil {
			return d.fail(err)
		}
	}
	return nil
}

// startFrame checks the prefix in d.hdr and makes it the current frame.
func (d *Decoder) startFrame() error {
	b0 := d.hdr[0]
	max := d.MaxLen
	if max <= 0 || max > MaxLen {
		max = MaxLen
	}
	n := frameLen(d.hdr)
	var e error
	switch {
	case b0&0xF0 != 0:
		e = ErrReservedFrameBits
	case b0&0x07 > byte(Pong):
		e = ErrReservedType
	case b0&0x08 != 0 && (d.hdr[1]|d.hdr[2]|d.hdr[3]) != 0:
		e = ErrBadLength
	case n > max:
		e = ErrFrameTooLong
	}
	if e != nil {
		return &FrameError{Err: e, Header: d.hdr, Limit: max}
	}
	d.inFrame = true
	d.typ = MsgType(b0 & 0x07)
	d.remaining = n
	return nil
}

func (d *Decoder) fail(err error) error {
	d.err = err
	d.releaseBuf()
	return err
}

func (d *Decoder) releaseBuf() {
	if d.buf != nil {
		bufPool.Put(d.buf)
		d.buf = nil
	}
}

// Buffered reports whether the decoder holds a pooled buffer, that is,
// whether a frame spans Feed calls right now.
func (d *Decoder) Buffered() bool { return d.buf != nil }

// Reset returns the decoder to its initial state, keeping MaxLen, and gives
// its buffer back to the pool. Call it when the connection goes away, in
// case it did so in the middle of a frame.
func (d *Decoder) Reset() {
	d.releaseBuf()
	*d = Decoder{MaxLen: d.MaxLen}
}
