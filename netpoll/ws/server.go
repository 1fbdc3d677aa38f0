package ws

import (
	"bytes"
	"encoding/base64"
	"strconv"
)

// MaxProtocols bounds how many subprotocols a request may offer; a request
// with more is refused (400), since no real client offers that many.
const MaxProtocols = 16

// HTTPError is the refusal of an upgrade request: the HTTP status and a short
// text saying what is wrong, which becomes the body of the answer.
type HTTPError struct {
	Status int
	Text   string
}

// Error returns the status and the text.
func (e *HTTPError) Error() string {
	return "websocket handshake: " + strconv.Itoa(e.Status) + " " + e.Text
}

// AppendResponse appends the complete HTTP answer for e to dst; the driver
// writes it and closes the connection.
func (e *HTTPError) AppendResponse(dst []byte) []byte {
	return AppendHTTPError(dst, e.Status, e.Text)
}

// Refusals found by ServerHandshake. They are values, not built per request,
// so a flood of bad requests costs no garbage.
var (
	errBadByte          = &HTTPError{400, "control character or bare CR in the request header"}
	errTooLarge         = &HTTPError{431, "request header too large"}
	errRequestLine      = &HTTPError{400, "malformed request line"}
	errTarget           = &HTTPError{400, "request target must be an absolute path"}
	errMethod           = &HTTPError{405, "method must be GET"}
	errHTTPVersion      = &HTTPError{400, "HTTP/1.1 required"}
	errFolded           = &HTTPError{400, "folded header line"}
	errHeaderLine       = &HTTPError{400, "malformed header line"}
	errDupHost          = &HTTPError{400, "more than one Host header"}
	errDupKey           = &HTTPError{400, "more than one Sec-WebSocket-Key header"}
	errDupVersion       = &HTTPError{400, "more than one Sec-WebSocket-Version header"}
	errDupOrigin        = &HTTPError{400, "more than one Origin header"}
	errProtocol         = &HTTPError{400, "malformed Sec-WebSocket-Protocol header"}
	errTooManyProtocols = &HTTPError{400, "too many subprotocols offered"}
	errNoHost           = &HTTPError{400, "missing Host header"}
	errNoUpgrade        = &HTTPError{400, "Upgrade header must contain websocket"}
	errNoConnection     = &HTTPError{400, "Connection header must contain upgrade"}
	errVersion          = &HTTPError{426, "Sec-WebSocket-Version must be 13"}
	errKey              = &HTTPError{400, "missing or malformed Sec-WebSocket-Key"}
)

// ErrNoWAMPProtocol is the refusal for a request that offers none of the WAMP
// subprotocols; send it when ChooseProtocol(IsWAMPProtocol) returns nil.
var ErrNoWAMPProtocol = &HTTPError{400, "no supported subprotocol offered (want wamp.2.json, wamp.2.msgpack or wamp.2.cbor)"}

// Request is a valid WebSocket upgrade request. Its byte slices are views
// into the bytes given to ServerHandshake.Feed, or into the handshake's
// buffer when the request spanned several Feed calls: they are valid until
// ServerHandshake.Release and, in the first case, only as long as the caller
// keeps those bytes.
type Request struct {
	// Target is the request target, an absolute path with optional query.
	Target []byte
	// Host is the Host header.
	Host []byte
	// Origin is the Origin header, nil if absent.
	Origin []byte
	// Key is the Sec-WebSocket-Key header: base64 of 16 bytes.
	Key []byte
	// Cookie is the first Cookie header, nil if absent.
	Cookie []byte

	protos  [MaxProtocols][]byte
	nProtos int
}

// Path returns the request target without its query.
func (r *Request) Path() []byte {
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		return r.Target[:i:i]
	}
	return r.Target
}

// Protocols returns the subprotocols the client offered, in its order of
// preference, over all its Sec-WebSocket-Protocol headers.
func (r *Request) Protocols() [][]byte { return r.protos[:r.nProtos:r.nProtos] }

// ChooseProtocol returns the first subprotocol, in the client's order, for
// which accept reports true, or nil if there is none.
func (r *Request) ChooseProtocol(accept func(protocol []byte) bool) []byte {
	for _, p := range r.protos[:r.nProtos] {
		if accept(p) {
			return p
		}
	}
	return nil
}

// IsWAMPProtocol reports whether p is a WAMP subprotocol of the Basic
// Profile's serializers: wamp.2.json, wamp.2.msgpack or wamp.2.cbor. It is
// meant for ChooseProtocol.
func IsWAMPProtocol(p []byte) bool {
	switch string(p) {
	case "wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor":
		return true
	}
	return false
}

// AppendAccept appends the 101 Switching Protocols answer to r to dst, with
// protocol as the chosen subprotocol (omitted if empty). No extension is
// ever accepted.
func (r *Request) AppendAccept(dst, protocol []byte) []byte {
	return r.AppendAcceptCookie(dst, protocol, "")
}

// AppendAcceptCookie is AppendAccept with a Set-Cookie header when
// setCookie is not empty (the caller builds a valid cookie value).
func (r *Request) AppendAcceptCookie(dst, protocol []byte, setCookie string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = AppendAcceptKey(dst, r.Key)
	if len(protocol) > 0 {
		dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
		dst = append(dst, protocol...)
	}
	if setCookie != "" {
		dst = append(dst, "\r\nSet-Cookie: "...)
		dst = append(dst, setCookie...)
	}
	return append(dst, "\r\n\r\n"...)
}

// ServerHandshake reads a client's upgrade request (RFC 6455 section 4.2.1)
// as it arrives. The zero value is ready to use; set MaxHeaderSize before the
// first Feed.
type ServerHandshake struct {
	// MaxHeaderSize bounds the request's header block; 0 means
	// DefaultMaxHeaderSize. A larger request is refused with 431.
	MaxHeaderSize int

	scan headScanner
	req  Request
	done bool
	err  *HTTPError
}

// Feed reads the next bytes of the request. While the header block is
// incomplete it returns (nil, len(data), nil). Once it is complete it returns
// the request and n, the number of bytes of data it took: data[n:] are the
// client's first frames. A request that cannot be accepted yields an
// *HTTPError to answer with (AppendResponse) before closing the connection.
// Once Feed has returned a request or an error it returns the same again,
// consuming nothing.
func (s *ServerHandshake) Feed(data []byte) (req *Request, n int, err error) {
	if s.err != nil {
		return nil, 0, s.err
	}
	if s.done {
		return &s.req, 0, nil
	}
	block, n, res := s.scan.feed(data, s.MaxHeaderSize)
	switch res {
	case scanMore:
		return nil, n, nil
	case scanBadByte:
		s.err = errBadByte
		return nil, n, s.err
	case scanTooLarge:
		s.err = errTooLarge
		return nil, n, s.err
	}
	if e := s.req.parse(block); e != nil {
		s.scan.release()
		s.err = e
		return nil, n, e
	}
	s.done = true
	return &s.req, n, nil
}

// Release gives the handshake's buffer back to the pool and returns the
// handshake to its zero state (keeping MaxHeaderSize); the Request's views
// are invalid afterwards.
func (s *ServerHandshake) Release() {
	s.scan.release()
	*s = ServerHandshake{MaxHeaderSize: s.MaxHeaderSize}
}

// parse checks a complete header block, whose bytes headScanner has already
// vetted, and fills r with views into it.
func (r *Request) parse(block []byte) *HTTPError {
	*r = Request{}
	line, rest := nextLine(block)
	// request-line = method SP request-target SP HTTP-version
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errRequestLine
	}
	method, line := line[:sp], line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errRequestLine
	}
	target, version := line[:sp], line[sp+1:]
	if !isToken(method) || !isVersion(version) {
		return errRequestLine
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7F {
			return errRequestLine
		}
	}
	if string(method) != "GET" {
		return errMethod
	}
	if string(version) != "HTTP/1.1" {
		return errHTTPVersion
	}
	if target[0] != '/' {
		return errTarget
	}
	r.Target = target

	var haveHost, haveKey, haveVersion, upgrade, connection bool
	var wsVersion []byte
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break // the empty line that ends the block
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errFolded
		}
		name, value, ok := splitHeader(line)
		if !ok {
			return errHeaderLine
		}
		switch {
		case equalFold(name, "host"):
			if haveHost {
				return errDupHost
			}
			haveHost, r.Host = true, value
		case equalFold(name, "upgrade"):
			upgrade = upgrade || listContains(value, "websocket")
		case equalFold(name, "connection"):
			connection = connection || listContains(value, "upgrade")
		case equalFold(name, "sec-websocket-key"):
			if haveKey {
				return errDupKey
			}
			haveKey, r.Key = true, value
		case equalFold(name, "sec-websocket-version"):
			if haveVersion {
				return errDupVersion
			}
			haveVersion, wsVersion = true, value
		case equalFold(name, "sec-websocket-protocol"):
			for len(value) > 0 {
				var p []byte
				p, value = nextElement(value)
				if len(p) == 0 {
					continue
				}
				if !isToken(p) {
					return errProtocol
				}
				if r.nProtos == MaxProtocols {
					return errTooManyProtocols
				}
				r.protos[r.nProtos] = p[:len(p):len(p)]
				r.nProtos++
			}
		case equalFold(name, "cookie"):
			if r.Cookie == nil {
				r.Cookie = value[:len(value):len(value)]
			}
		case equalFold(name, "origin"):
			if r.Origin != nil {
				return errDupOrigin
			}
			r.Origin = value[:len(value):len(value)]
		}
	}
	switch {
	case !haveHost || len(r.Host) == 0:
		return errNoHost
	case !upgrade:
		return errNoUpgrade
	case !connection:
		return errNoConnection
	case string(wsVersion) != "13":
		return errVersion
	case !validKey(r.Key):
		return errKey
	}
	return nil
}

// isVersion reports whether v has the form HTTP/d.d.
func isVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Decode(raw[:], key)
	return err == nil && n == 16
}

// statusText covers the answers a WebSocket endpoint gives; net/http's table
// is not worth importing net/http for.
func statusText(code int) string {
	switch code {
	case 101:
		return "Switching Protocols"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

// AppendHTTPError appends a complete HTTP error answer to dst: the status
// line, the headers RFC 6455 and RFC 9110 ask for (Sec-WebSocket-Version and
// Upgrade with 426, Allow with 405), "Connection: close" and text as a
// plain-text body. Use it for refusals the caller decides on, such as 404
// for a path it does not serve.
func AppendHTTPError(dst []byte, status int, text string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(status)...)
	dst = append(dst, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(text)+1), 10)
	switch status {
	case 405:
		dst = append(dst, "\r\nAllow: GET"...)
	case 426:
		dst = append(dst, "\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13"...)
	}
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, text...)
	return append(dst, '\n')
}
