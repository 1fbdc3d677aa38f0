package ws

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// Errors of a server's upgrade answer other than a refusal (which is an
// *HTTPError carrying the server's status).
var (
	ErrBadResponse      = errors.New("websocket handshake: malformed response from the server")
	ErrResponseTooLarge = errors.New("websocket handshake: response header too large")
	ErrNotUpgraded      = errors.New("websocket handshake: response lacks Upgrade: websocket or Connection: upgrade")
	ErrAcceptMismatch   = errors.New("websocket handshake: wrong Sec-WebSocket-Accept")
	ErrUnofferedProto   = errors.New("websocket handshake: server chose a subprotocol the client did not offer")
	ErrUnofferedExt     = errors.New("websocket handshake: server chose an extension the client did not offer")
)

// KeySize is the length of a Sec-WebSocket-Key.
const KeySize = 24

// ClientHandshake is the client side of the opening handshake (RFC 6455
// section 4.1): it builds the upgrade request and checks the server's answer
// as it arrives. Fill in the exported fields, write AppendRequest's bytes,
// then Feed what the server sends.
type ClientHandshake struct {
	// Host is the Host header: host, or host:port.
	Host string
	// Target is the request target; "" means "/".
	Target string
	// Origin is sent as the Origin header if not empty.
	Origin string
	// Protocols are the subprotocols to offer, most preferred first.
	Protocols []string
	// Header holds further request headers as name, value pairs, e.g. an
	// Authorization header. Names and values must not contain CR or LF.
	Header [][2]string
	// Nonce is 16 bytes the caller draws from a strong random source for
	// every handshake (crypto/rand); the Sec-WebSocket-Key is its base64.
	Nonce [16]byte
	// MaxHeaderSize bounds the answer's header block; 0 means
	// DefaultMaxHeaderSize.
	MaxHeaderSize int

	scan headScanner
	res  Response
	done bool
	err  error
}

// Response is the server's acceptance of the upgrade.
type Response struct {
	// Protocol is the subprotocol the server chose, one of
	// ClientHandshake.Protocols, or nil if it chose none. It is a view that
	// is valid until ClientHandshake.Release, and only as long as the
	// caller keeps the bytes it gave to Feed.
	Protocol []byte
}

// AppendKey appends the Sec-WebSocket-Key for nonce to dst.
func AppendKey(dst []byte, nonce [16]byte) []byte {
	var k [KeySize]byte
	base64.StdEncoding.Encode(k[:], nonce[:])
	return append(dst, k[:]...)
}

// AppendRequest appends the upgrade request to dst.
func (c *ClientHandshake) AppendRequest(dst []byte) []byte {
	target := c.Target
	if target == "" {
		target = "/"
	}
	dst = append(dst, "GET "...)
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, c.Host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	dst = AppendKey(dst, c.Nonce)
	if len(c.Protocols) > 0 {
		dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
		for i, p := range c.Protocols {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, p...)
		}
	}
	if c.Origin != "" {
		dst = append(dst, "\r\nOrigin: "...)
		dst = append(dst, c.Origin...)
	}
	for _, h := range c.Header {
		dst = append(dst, "\r\n"...)
		dst = append(dst, h[0]...)
		dst = append(dst, ": "...)
		dst = append(dst, h[1]...)
	}
	return append(dst, "\r\n\r\n"...)
}

// Feed reads the next bytes of the server's answer. While the header block
// is incomplete it returns (nil, len(data), nil). Once it is complete it
// returns the Response and n, the number of bytes of data it took: data[n:]
// are the server's first frames. A refusal (any status but 101) is an
// *HTTPError with the server's status and reason phrase; an answer that
// breaks RFC 6455 is one of the Err* values of this package. Once Feed has
// returned a Response or an error it returns the same again.
func (c *ClientHandshake) Feed(data []byte) (res *Response, n int, err error) {
	if c.err != nil {
		return nil, 0, c.err
	}
	if c.done {
		return &c.res, 0, nil
	}
	block, n, r := c.scan.feed(data, c.MaxHeaderSize)
	switch r {
	case scanMore:
		return nil, n, nil
	case scanBadByte:
		c.err = ErrBadResponse
		return nil, n, c.err
	case scanTooLarge:
		c.err = ErrResponseTooLarge
		return nil, n, c.err
	}
	if err := c.parse(block); err != nil {
		c.scan.release()
		c.err = err
		return nil, n, err
	}
	c.done = true
	return &c.res, n, nil
}

// Release gives the handshake's buffer back to the pool; the Response's
// views are invalid afterwards.
func (c *ClientHandshake) Release() {
	c.scan.release()
	c.res = Response{}
}

func (c *ClientHandshake) parse(block []byte) error {
	line, rest := nextLine(block)
	// status-line = HTTP-version SP status-code SP [ reason-phrase ]
	if len(line) < 12 || string(line[:9]) != "HTTP/1.1 " || len(line) > 12 && line[12] != ' ' {
		return ErrBadResponse
	}
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return ErrBadResponse
	}
	status := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if status != 101 {
		reason := ""
		if len(line) > 13 {
			reason = string(line[13:])
		}
		return &HTTPError{Status: status, Text: reason}
	}

	var upgrade, connection, haveAccept, haveProto bool
	var accept, proto []byte
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := splitHeader(line)
		if !ok {
			return ErrBadResponse
		}
		switch {
		case equalFold(name, "upgrade"):
			upgrade = upgrade || listContains(value, "websocket")
		case equalFold(name, "connection"):
			connection = connection || listContains(value, "upgrade")
		case equalFold(name, "sec-websocket-accept"):
			if haveAccept {
				return ErrAcceptMismatch
			}
			haveAccept, accept = true, value
		case equalFold(name, "sec-websocket-protocol"):
			if haveProto {
				return ErrUnofferedProto
			}
			haveProto, proto = true, value
		case equalFold(name, "sec-websocket-extensions"):
			if len(value) > 0 {
				return ErrUnofferedExt
			}
		}
	}
	if !upgrade || !connection {
		return ErrNotUpgraded
	}
	var keyBuf [KeySize]byte
	var wantBuf [AcceptKeySize]byte
	want := AppendAcceptKey(wantBuf[:0], AppendKey(keyBuf[:0], c.Nonce))
	if !bytes.Equal(accept, want) {
		return ErrAcceptMismatch
	}
	c.res = Response{}
	if haveProto {
		offered := false
		for _, p := range c.Protocols {
			if string(proto) == p {
				offered = true
				break
			}
		}
		if !offered {
			return ErrUnofferedProto
		}
		c.res.Protocol = proto[:len(proto):len(proto)]
	}
	return nil
}
