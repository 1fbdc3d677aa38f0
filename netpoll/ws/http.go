package ws

import (
	"crypto/sha1"
	"encoding/base64"

	"github.com/valyala/bytebufferpool"
)

// DefaultMaxHeaderSize bounds an HTTP header block (request line or status
// line, headers and the empty line) when MaxHeaderSize is 0.
const DefaultMaxHeaderSize = 8 << 10

// headScanner finds the end of an HTTP/1.1 header block in bytes that arrive
// in pieces. It looks at every byte exactly once, whatever the pieces, so its
// verdict does not depend on how the block was split. Lines end in LF with an
// optional CR before it (RFC 9112 section 2.2 lets a recipient accept a bare
// LF); control characters other than HTAB, and a CR not followed by LF, are
// rejected on sight.
type headScanner struct {
	n     int                        // bytes of the block seen so far
	state uint8                      // scan* below
	buf   *bytebufferpool.ByteBuffer // the block so far, when it spans calls
}

const (
	scanLine      = iota // inside a line
	scanCR               // after a CR inside a line
	scanLineStart        // at the start of a line (after its predecessor's LF)
	scanStartCR          // after a CR at the start of a line
)

// Scan results besides an end offset.
const (
	scanMore     = -1 // the block is not complete yet
	scanBadByte  = -2 // a control character or a bare CR
	scanTooLarge = -3 // max bytes seen without the end of the block
)

// scan looks at data, the bytes after those of earlier calls, and returns
// the offset in data just past the empty line that ends the block, or one of
// scanMore, scanBadByte, scanTooLarge.
func (s *headScanner) scan(data []byte, max int) int {
	for i, c := range data {
		if s.n >= max {
			return scanTooLarge
		}
		s.n++
		switch s.state {
		case scanLine:
			switch {
			case c == '\n':
				s.state = scanLineStart
			case c == '\r':
				s.state = scanCR
			case c < 0x20 && c != '\t' || c == 0x7F:
				return scanBadByte
			}
		case scanCR:
			if c != '\n' {
				return scanBadByte
			}
			s.state = scanLineStart
		case scanLineStart:
			switch {
			case c == '\n':
				return i + 1
			case c == '\r':
				s.state = scanStartCR
			case c < 0x20 && c != '\t' || c == 0x7F:
				return scanBadByte
			default:
				s.state = scanLine
			}
		case scanStartCR:
			if c != '\n' {
				return scanBadByte
			}
			return i + 1
		}
	}
	return scanMore
}

// feed runs scan over data and returns the complete block (a view of data,
// or of the scanner's buffer when the block spans calls) and how many bytes
// of data it took. block is nil while the block is incomplete; res < 0
// reports scanBadByte or scanTooLarge. max <= 0 means DefaultMaxHeaderSize.
func (s *headScanner) feed(data []byte, max int) (block []byte, n int, res int) {
	if max <= 0 {
		max = DefaultMaxHeaderSize
	}
	end := s.scan(data, max)
	switch end {
	case scanMore:
		if s.buf == nil {
			s.buf = bufPool.Get()
		}
		s.buf.B = append(s.buf.B, data...)
		return nil, len(data), scanMore
	case scanBadByte, scanTooLarge:
		s.release()
		return nil, len(data), end
	}
	if s.buf == nil {
		return data[:end:end], end, end
	}
	s.buf.B = append(s.buf.B, data[:end]...)
	return s.buf.B, end, end
}

func (s *headScanner) release() {
	if s.buf != nil {
		bufPool.Put(s.buf)
		s.buf = nil
	}
}

// nextLine splits the first line (without its CR LF or LF) off b.
func nextLine(b []byte) (line, rest []byte) {
	for i, c := range b {
		if c == '\n' {
			line, rest = b[:i], b[i+1:]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, rest
		}
	}
	return b, nil
}

// splitHeader splits a header line into name and value (without the
// optional whitespace around it). ok is false for a line that is not
// "token ':' value" (RFC 9110 section 5.1; whitespace before the colon is an
// error by RFC 9112 section 5.1, and so is a folded line).
func splitHeader(line []byte) (name, value []byte, ok bool) {
	for i, c := range line {
		if c == ':' {
			if i == 0 {
				return nil, nil, false
			}
			return line[:i], trimOWS(line[i+1:]), true
		}
		if !isTokenChar(c) {
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextElement splits the first element off a comma-separated list (RFC 9110
// section 5.6.1) and trims it. Empty elements come back empty; callers skip
// them, as the list syntax allows.
func nextElement(list []byte) (elem, rest []byte) {
	for i, c := range list {
		if c == ',' {
			return trimOWS(list[:i]), list[i+1:]
		}
	}
	return trimOWS(list), nil
}

// listContains reports whether the comma-separated list holds token,
// compared case-insensitively. token is lower case.
func listContains(list []byte, token string) bool {
	for len(list) > 0 {
		var e []byte
		e, list = nextElement(list)
		if equalFold(e, token) {
			return true
		}
	}
	return false
}

// equalFold compares b with lower, an ASCII lower-case string, ignoring the
// case of ASCII letters in b.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// tokenChars marks the tchar set of RFC 9110 section 5.6.2.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isTokenChar(c byte) bool { return tokenChars[c] }

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

// acceptGUID is the fixed suffix of RFC 6455 section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKeySize is the length of a Sec-WebSocket-Accept value.
const AcceptKeySize = 28

// AppendAcceptKey appends the Sec-WebSocket-Accept value for the client's
// Sec-WebSocket-Key (base64 of the SHA-1 of key and the RFC's GUID) to dst.
// It allocates nothing beyond growing dst. Keys longer than 64 bytes, which
// no valid handshake has, are hashed through a heap buffer.
func AppendAcceptKey(dst, key []byte) []byte {
	var in [64 + len(acceptGUID)]byte
	b := in[:0]
	if len(key) > 64 {
		b = nil
	}
	b = append(append(b, key...), acceptGUID...)
	sum := sha1.Sum(b)
	var out [AcceptKeySize]byte
	base64.StdEncoding.Encode(out[:], sum[:])
	return append(dst, out[:]...)
}
