package rawsocket

import (
	"errors"
	"strconv"
)

// Magic is the first octet of every RawSocket handshake. No HTTP request can
// begin with it, which is what Sniff relies on.
const Magic = 0x7F

// Protocol is what a connection speaks, as told by its first byte.
type Protocol uint8

// The protocols a universal listener tells apart.
const (
	HTTP      Protocol = iota // an HTTP request, normally a WebSocket upgrade
	RawSocket                 // a RawSocket handshake
)

// Sniff tells which protocol a connection speaks from its first byte: Magic
// starts a RawSocket handshake, anything else is handed to the HTTP parser
// (which refuses what is not HTTP).
func Sniff(first byte) Protocol {
	if first == Magic {
		return RawSocket
	}
	return HTTP
}

// Serializer is the serializer id of the handshake's low nibble.
type Serializer uint8

// Serializer ids of the spec. 0 is illegal and 6–15 are reserved.
const (
	JSON        Serializer = 1
	MsgPack     Serializer = 2
	CBOR        Serializer = 3
	UBJSON      Serializer = 4
	FlatBuffers Serializer = 5
)

// ErrorCode is a handshake error of the spec, sent in place of a success
// reply (AppendError). It is also an error value: ServerHandshake returns
// the code to reply with, and ClientHandshake wraps the router's code.
type ErrorCode uint8

// Error codes of the spec. 0 must not be used; 5–15 are reserved.
const (
	ErrSerializerUnsupported ErrorCode = 1
	ErrMaxLenUnacceptable    ErrorCode = 2
	ErrReservedBits          ErrorCode = 3
	ErrMaxConnections        ErrorCode = 4
)

// Error describes the code as the spec names it.
func (c ErrorCode) Error() string {
	switch c {
	case ErrSerializerUnsupported:
		return "rawsocket: serializer unsupported"
	case ErrMaxLenUnacceptable:
		return "rawsocket: maximum message length unacceptable"
	case ErrReservedBits:
		return "rawsocket: use of reserved bits (unsupported feature)"
	case ErrMaxConnections:
		return "rawsocket: maximum connection count reached"
	}
	return "rawsocket: handshake error " + strconv.Itoa(int(c))
}

// ErrNotRawSocket is a handshake whose first octet is not Magic. The spec
// says to fail the connection; there is no reply.
var ErrNotRawSocket = errors.New("rawsocket: first handshake octet is not 0x7F")

// Errors of a router's reply found by ClientHandshake (besides a wrapped
// ErrorCode for an error reply).
var (
	ErrReplyReserved   = errors.New("rawsocket: reserved octets of the handshake reply are not zero")
	ErrReplySerializer = errors.New("rawsocket: router replied with a serializer the client did not request")
)

// MaxLengthExp is the largest LENGTH value: 2^(9+15) = 16 MiB.
const MaxLengthExp = 15

// Handshake is the content of a handshake request or success reply.
type Handshake struct {
	// Serializer is the serializer the client asks for and the router
	// echoes.
	Serializer Serializer
	// LengthExp (0–15) announces the largest message the sender is willing
	// to receive: 2^(9+LengthExp) octets.
	LengthExp uint8
}

// MaxLen returns the largest message length h announces: 2^(9+LengthExp).
func (h Handshake) MaxLen() int { return 1 << (9 + uint(h.LengthExp&0x0F)) }

// LengthExpFor returns the largest LENGTH value whose maximum does not exceed
// maxLen, clamped to 0–15: the exponent to announce for a receive limit of
// maxLen bytes.
func LengthExpFor(maxLen int) uint8 {
	var e uint8
	for e < MaxLengthExp && 1<<(9+uint(e)+1) <= maxLen {
		e++
	}
	return e
}

// AppendHandshake appends the 4 octets of h to dst: the client's request,
// or the router's success reply (which echoes the client's serializer).
func AppendHandshake(dst []byte, h Handshake) []byte {
	return append(dst, Magic, h.LengthExp<<4|byte(h.Serializer)&0x0F, 0, 0)
}

// AppendError appends a router's error reply to dst.
func AppendError(dst []byte, code ErrorCode) []byte {
	return append(dst, Magic, byte(code)<<4, 0, 0)
}

// quad reads a 4-octet handshake, which may arrive in pieces, and keeps the
// verdict: every read after the handshake or an error returns it again,
// consuming nothing. ServerHandshake and ClientHandshake differ only in
// what they check.
type quad struct {
	b    [4]byte
	n    int
	hs   Handshake
	done bool
	err  error
}

// read takes up to the missing octets from data; once all 4 are present it
// checks them with check and decodes them. It is the Feed of both sides.
func (q *quad) read(data []byte, check func(b [4]byte) error) (*Handshake, int, error) {
	if q.err != nil {
		return nil, 0, q.err
	}
	if q.done {
		return &q.hs, 0, nil
	}
	if q.n == 0 && len(data) > 0 && data[0] != Magic {
		// Fail at the first byte; waiting for 4 octets of something else
		// gains nothing.
		q.err = ErrNotRawSocket
		return nil, 0, q.err
	}
	n := copy(q.b[q.n:], data)
	q.n += n
	if q.n < len(q.b) {
		return nil, n, nil
	}
	if q.err = check(q.b); q.err != nil {
		return nil, n, q.err
	}
	q.hs = Handshake{Serializer: Serializer(q.b[1] & 0x0F), LengthExp: q.b[1] >> 4}
	q.done = true
	return &q.hs, n, nil
}

// ServerHandshake reads a client's 4-octet handshake request. The zero value
// is ready to use.
type ServerHandshake struct {
	q quad
}

// Feed reads the next bytes of the request. While it is incomplete Feed
// returns (nil, len(data), nil); then the request and n, the number of bytes
// of data it took (data[n:] are the client's first frames). The caller
// decides whether it speaks the serializer and accepts the length, and
// replies with AppendHandshake or AppendError.
//
// A request that is not acceptable whatever the router supports yields
// ErrNotRawSocket (fail the connection, no reply) or an ErrorCode to reply
// with: ErrSerializerUnsupported for the illegal serializer 0,
// ErrReservedBits for non-zero reserved octets. Once Feed has returned a
// request or an error it returns the same again, consuming nothing.
func (s *ServerHandshake) Feed(data []byte) (req *Handshake, n int, err error) {
	return s.q.read(data, checkRequest)
}

func checkRequest(b [4]byte) error {
	switch {
	case b[1]&0x0F == 0:
		return ErrSerializerUnsupported
	case b[2] != 0 || b[3] != 0:
		return ErrReservedBits
	}
	return nil
}

// ClientHandshake is the client side of the handshake: it writes the
// request and checks the router's reply.
type ClientHandshake struct {
	// Request is what the client asks for: its serializer and the largest
	// message it accepts.
	Request Handshake

	q quad
}

// AppendRequest appends the client's 4-octet request to dst.
func (c *ClientHandshake) AppendRequest(dst []byte) []byte {
	return AppendHandshake(dst, c.Request)
}

// Feed reads the next bytes of the router's reply. While it is incomplete
// Feed returns (nil, len(data), nil); then the reply and n, the number of
// bytes of data it took. reply.MaxLen() is the largest message the client
// may send. An error reply yields an error wrapping the router's ErrorCode
// (errors.As); a malformed reply ErrNotRawSocket, ErrReplyReserved or
// ErrReplySerializer. Once Feed has returned a reply or an error it returns
// the same again, consuming nothing.
func (c *ClientHandshake) Feed(data []byte) (reply *Handshake, n int, err error) {
	return c.q.read(data, c.checkReply)
}

func (c *ClientHandshake) checkReply(b [4]byte) error {
	switch {
	case b[2] != 0 || b[3] != 0:
		return ErrReplyReserved
	case b[1]&0x0F == 0:
		return &RejectedError{Code: ErrorCode(b[1] >> 4)}
	case Serializer(b[1]&0x0F) != c.Request.Serializer:
		return ErrReplySerializer
	}
	return nil
}

// RejectedError is a router's error reply to the client's handshake.
type RejectedError struct {
	Code ErrorCode
}

// Error names the router's reason.
func (e *RejectedError) Error() string {
	return "rawsocket: router refused the handshake: " + e.Code.Error()
}

// Unwrap returns the ErrorCode, for errors.Is and errors.As.
func (e *RejectedError) Unwrap() error { return e.Code }
