package netpoll

import (
	"fmt"
	"strings"

	"github.com/zwamp/zwamp/netpoll/ws"
)

// Origins decides which browser origins may open a WebSocket on a
// listener (Listener.AllowedOrigins), against cross-site WebSocket
// hijacking: a page on another site must not open a session with the
// visitor's cookies or client certificate.
//
// Each entry is matched case-insensitively against the request's Origin
// header:
//   - "*" allows every origin;
//   - an entry with "://" ("https://app.example.com", "https://*.example.com")
//     is matched against the whole origin, scheme, host and port;
//   - an entry without it ("app.example.com", "*.example.com:8443") is
//     matched against the origin's host[:port], whatever the scheme.
//
// In an entry, "*" stands for any run of characters without '/'; so
// "*.example.com" matches "a.example.com" and "a.b.example.com" but not
// "example.com". A request without an Origin header is not from a browser
// page (browsers always send one on WebSocket requests) and is allowed: the
// attack needs a browser. The "null" origin (sandboxed frames, file://) is
// allowed only by "*" or an entry "null".
type Origins struct {
	any      bool
	patterns []originPattern
}

type originPattern struct {
	glob     string // lower case
	hostOnly bool   // matched against host[:port]
}

// errOrigin is the refusal of a disallowed origin (a value: a flood of
// refused requests costs no garbage).
var errOrigin = &ws.HTTPError{Status: 403, Text: "origin not allowed"}

// CompileOrigins checks and compiles a listener's allowed_origins. An empty
// list allows every origin (the same as ["*"]).
func CompileOrigins(list []string) (*Origins, error) {
	o := &Origins{}
	if len(list) == 0 {
		o.any = true
		return o, nil
	}
	for i, e := range list {
		if e == "" || strings.ContainsAny(e, " \t\r\n,") {
			return nil, fmt.Errorf("allowed_origins[%d]: %q is not an origin or origin pattern", i, e)
		}
		if e == "*" {
			o.any = true
			continue
		}
		lower := strings.ToLower(e)
		if strings.HasSuffix(lower, "/") {
			return nil, fmt.Errorf("allowed_origins[%d]: %q: an origin has no path (drop the trailing /)", i, e)
		}
		p := originPattern{glob: lower, hostOnly: !strings.Contains(lower, "://")}
		if !p.hostOnly && strings.Contains(lower[strings.Index(lower, "://")+3:], "/") {
			return nil, fmt.Errorf("allowed_origins[%d]: %q: an origin has no path", i, e)
		}
		o.patterns = append(o.patterns, p)
	}
	return o, nil
}

// Any reports whether every origin is allowed.
func (o *Origins) Any() bool { return o == nil || o.any }

// Allowed reports whether a request with this Origin header (nil if
// absent) may upgrade. It does not allocate.
func (o *Origins) Allowed(origin []byte) bool {
	if o == nil || o.any || origin == nil {
		return true
	}
	host := origin
	if i := indexScheme(origin); i >= 0 {
		host = origin[i+3:]
	}
	for _, p := range o.patterns {
		subject := origin
		if p.hostOnly {
			subject = host
		}
		if globMatch(p.glob, subject) {
			return true
		}
	}
	return false
}

func indexScheme(b []byte) int {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == ':' && b[i+1] == '/' && b[i+2] == '/' {
			return i
		}
		if b[i] == '/' {
			break
		}
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// globMatch matches s against pattern (lower case), where '*' is any run
// of characters other than '/', case-insensitively; iterative with one
// backtrack point, as path.Match does for a single star.
func globMatch(pattern string, s []byte) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && pattern[pi] == lower(s[si]):
			pi++
			si++
		case star >= 0 && s[mark] != '/':
			mark++
			si = mark
			pi = star + 1
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
