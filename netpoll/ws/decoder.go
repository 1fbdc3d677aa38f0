package ws

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/bytebufferpool"
)

// DefaultMaxMessageSize bounds a message's payload when
// Decoder.MaxMessageSize is 0. It matches RawSocket's largest limit.
const DefaultMaxMessageSize = 16 << 20

// bufPool is separate from bytebufferpool's default pool so that its size
// calibration reflects partial WebSocket messages only.
var bufPool bytebufferpool.Pool

// Handler receives what a Decoder decodes. A payload is valid only until the
// method returns; a Handler that keeps it must copy it. A non-nil error stops
// Feed, which returns that error, and makes the Decoder unusable.
//
// Methods must not call Feed on the same Decoder.
type Handler interface {
	// OnMessage is called once per complete data message: op is OpText
	// (payload is valid UTF-8) or OpBinary; fragments are already joined.
	OnMessage(op Opcode, payload []byte) error
	// OnPing is called for each ping; the driver answers with a pong that
	// carries the same payload (AppendFrame(dst, OpPong, true, payload)).
	OnPing(payload []byte) error
	// OnPong is called for each pong.
	OnPong(payload []byte) error
	// OnClose is called for the peer's close frame with its code
	// (CloseNoStatus if it had no body) and UTF-8 reason. The driver echoes
	// the close (if it did not send one first) and closes the connection;
	// the Decoder ignores everything after it.
	OnClose(code int, reason []byte) error
}

// Decoder turns the bytes of a WebSocket connection into messages and control
// frames. It is an incremental state machine: Feed takes whatever the
// connection read, in pieces of any size, and calls the Handler for
// everything complete in it. The zero value is a server-side decoder with the
// default message size limit; set the exported fields before the first Feed.
//
// A message that lies wholly inside one Feed call is unmasked in place and
// handed out as a view of the caller's bytes (fragments are moved together in
// place), so the common case copies nothing. Only what spans Feed calls is
// accumulated, in a buffer from a pool that goes back to the pool as soon as
// the message is delivered: an idle connection holds no buffer.
//
// A Decoder is not safe for concurrent use; a connection's reads are
// sequential anyway.
type Decoder struct {
	// Client selects the client role: frames must arrive unmasked. In the
	// default server role every frame must be masked.
	Client bool
	// MaxMessageSize bounds the payload of one message, all fragments
	// together; 0 means DefaultMaxMessageSize. It is checked against the
	// declared frame lengths before anything is buffered.
	MaxMessageSize int

	// Frame header, collected here only when it spans Feed calls.
	hdr  [MaxHeaderSize]byte
	hdrN int

	// The frame whose payload is being read (inFrame).
	inFrame   bool
	op        Opcode
	fin       bool
	masked    bool
	key       [4]byte
	keyPos    int
	remaining int

	// The data message being assembled (msgOp != 0): its opcode, the
	// declared length of its frames so far, UTF-8 state for text, and the
	// bytes that arrived in earlier Feed calls.
	msgOp  Opcode
	msgLen int
	text   utf8State
	buf    *bytebufferpool.ByteBuffer

	// A control frame's payload, collected here only when it spans Feed
	// calls.
	ctrl  [MaxControlPayload]byte
	ctrlN int

	closed bool
	err    error
}

// Feed decodes data, calling h for each complete message and control frame.
// It unmasks data in place. It returns nil when data is used up (a frame may
// be left incomplete, to be continued by the next Feed), the Handler's error,
// or a *CloseError for a violation of RFC 6455. After an error every Feed
// returns the same error; after the peer's close frame Feed ignores its
// input.
func (d *Decoder) Feed(data []byte, h Handler) error {
	if d.err != nil {
		return d.err
	}
	if d.closed {
		return nil
	}
	// data[vs:ve] holds the payload of the message in progress when it
	// started in this call (vs >= 0); later fragments are moved down to ve.
	vs, ve := -1, -1
	p := 0
	for p < len(data) {
		if !d.inFrame {
			var hdr []byte
			if d.hdrN == 0 && len(data)-p >= 2 {
				if need := headerLen(data[p], data[p+1]); len(data)-p >= need {
					hdr = data[p : p+need]
					p += need
				}
			}
			if hdr == nil {
				if d.hdrN < 2 {
					c := copy(d.hdr[d.hdrN:2], data[p:])
					d.hdrN += c
					p += c
					if d.hdrN < 2 {
						break
					}
				}
				need := headerLen(d.hdr[0], d.hdr[1])
				c := copy(d.hdr[d.hdrN:need], data[p:])
				d.hdrN += c
				p += c
				if d.hdrN < need {
					break
				}
				hdr = d.hdr[:need]
				d.hdrN = 0
			}
			if err := d.startFrame(hdr); err != nil {
				return d.fail(err)
			}
		}

		if !d.op.IsControl() && vs < 0 && d.buf == nil {
			// Nothing of this message is buffered: it can live in data.
			vs, ve = p, p
		}
		n := d.remaining
		if avail := len(data) - p; n > avail {
			n = avail
		}
		chunk := data[p : p+n : p+n]
		p += n
		d.remaining -= n
		if d.masked {
			d.keyPos = MaskBytes(d.key, d.keyPos, chunk)
		}

		if d.op.IsControl() {
			payload := chunk
			if d.ctrlN > 0 || d.remaining > 0 {
				d.ctrlN += copy(d.ctrl[d.ctrlN:], chunk)
				payload = d.ctrl[:d.ctrlN:d.ctrlN]
			}
			if d.remaining > 0 {
				break // data is used up
			}
			d.inFrame = false
			d.ctrlN = 0
			if err := d.control(payload, h); err != nil || d.closed {
				return err
			}
			continue
		}

		if d.msgOp == OpText && !d.text.valid(chunk) {
			return d.fail(invalidPayload("invalid UTF-8 in text message"))
		}
		if vs >= 0 {
			if ve != p-n {
				copy(data[ve:], chunk)
			}
			ve += n
		} else {
			d.buf.B = append(d.buf.B, chunk...)
		}
		if d.remaining > 0 {
			break
		}
		d.inFrame = false
		if !d.fin {
			continue
		}
		if d.msgOp == OpText && !d.text.complete() {
			return d.fail(invalidPayload("text message ends inside a UTF-8 sequence"))
		}
		var payload []byte
		if vs >= 0 {
			payload = data[vs:ve:ve]
			vs, ve = -1, -1
		} else {
			payload = d.buf.B[:len(d.buf.B):len(d.buf.B)]
		}
		op := d.msgOp
		d.msgOp, d.msgLen = 0, 0
		err := h.OnMessage(op, payload)
		d.releaseBuf()
		if err != nil {
			return d.fail(err)
		}
	}
	if vs >= 0 && ve > vs {
		// The message goes on in a later call, and data is the caller's
		// only until we return.
		d.buf = bufPool.Get()
		d.buf.B = append(d.buf.B[:0], data[vs:ve]...)
	}
	return nil
}

// headerLen returns the length of the frame header whose first two bytes are
// b0 and b1.
func headerLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// startFrame checks a complete frame header against RFC 6455 and the
// decoder's state, and makes it the current frame.
func (d *Decoder) startFrame(hdr []byte) error {
	b0, b1 := hdr[0], hdr[1]
	if b0&0x70 != 0 {
		return protocolError("reserved bits set in frame header (no extension negotiated)")
	}
	op := Opcode(b0 & 0x0F)
	fin := b0&0x80 != 0
	masked := b1&0x80 != 0
	var length uint64
	switch l := b1 & 0x7F; l {
	case 126:
		length = uint64(binary.BigEndian.Uint16(hdr[2:]))
	case 127:
		length = binary.BigEndian.Uint64(hdr[2:])
		if length>>63 != 0 {
			return protocolError("64-bit payload length has its most significant bit set")
		}
	default:
		length = uint64(l)
	}
	switch op {
	case OpContinuation, OpText, OpBinary:
	case OpClose, OpPing, OpPong:
		if !fin {
			return protocolError("fragmented " + op.String() + " frame")
		}
		if length > MaxControlPayload {
			return protocolError(op.String() + " frame with a payload of " +
				strconv.FormatUint(length, 10) + " bytes (control frames carry at most 125)")
		}
	default:
		return protocolError("reserved opcode " + strconv.Itoa(int(op)))
	}
	if d.Client && masked {
		return protocolError("masked frame from the server")
	}
	if !d.Client && !masked {
		return protocolError("unmasked frame from the client")
	}
	if !op.IsControl() {
		if op == OpContinuation {
			if d.msgOp == 0 {
				return protocolError("continuation frame without a message to continue")
			}
		} else {
			if d.msgOp != 0 {
				return protocolError("new " + op.String() + " frame inside a fragmented message")
			}
			d.msgOp, d.msgLen, d.text = op, 0, utf8State{}
		}
		max := d.MaxMessageSize
		if max <= 0 {
			max = DefaultMaxMessageSize
		}
		if length > uint64(max-d.msgLen) {
			return tooBig(uint64(d.msgLen)+length, max)
		}
		d.msgLen += int(length)
	}
	d.inFrame = true
	d.op, d.fin, d.masked = op, fin, masked
	d.remaining = int(length)
	d.keyPos = 0
	if masked {
		copy(d.key[:], hdr[len(hdr)-4:])
	}
	return nil
}

// control handles a complete control frame.
func (d *Decoder) control(payload []byte, h Handler) error {
	var err error
	switch d.op {
	case OpPing:
		err = h.OnPing(payload)
	case OpPong:
		err = h.OnPong(payload)
	default: // OpClose; startFrame admits no other control opcode
		code := CloseNoStatus
		var reason []byte
		switch len(payload) {
		case 0:
		case 1:
			return d.fail(protocolError("close frame with a 1-byte body"))
		default:
			code = int(binary.BigEndian.Uint16(payload))
			if !ValidCloseCode(code) {
				return d.fail(protocolError("invalid close code " + strconv.Itoa(code)))
			}
			reason = payload[2:]
			if !utf8.Valid(reason) {
				return d.fail(invalidPayload("close reason is not valid UTF-8"))
			}
		}
		d.closed = true
		d.msgOp = 0
		d.releaseBuf()
		err = h.OnClose(code, reason)
	}
	if err != nil {
		return d.fail(err)
	}
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

// Closed reports whether the peer's close frame has been decoded.
func (d *Decoder) Closed() bool { return d.closed }

// Buffered reports whether the decoder holds a pooled buffer, that is,
// whether a message spans Feed calls right now.
func (d *Decoder) Buffered() bool { return d.buf != nil }

// Reset returns the decoder to its initial state, keeping Client and
// MaxMessageSize, and gives its buffer back to the pool. Call it when the
// connection goes away, in case it did so in the middle of a message.
func (d *Decoder) Reset() {
	d.releaseBuf()
	*d = Decoder{Client: d.Client, MaxMessageSize: d.MaxMessageSize}
}
