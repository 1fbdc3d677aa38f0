package fuzz

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zwamp/zwamp/netpoll/ws"
)

// Everything top-level here is prefixed with ws: the package is shared by
// the fuzz targets of every codec and parser.

var wsUpdateCorpus = flag.Bool("wscorpus.update", false, "rewrite testdata/fuzz/FuzzWS*/ seed files")

const wsGoodRequest = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Protocol: wamp.2.json, wamp.2.cbor\r\nOrigin: http://o\r\n\r\n"

// wsUpgradeSeed is one input of FuzzWSUpgrade: the bytes, where to cut them
// in two, and the header size limit selector.
type wsUpgradeSeed struct {
	data []byte
	cut  uint16
	max  uint8
}

var wsUpgradeSeeds = []wsUpgradeSeed{
	{[]byte(wsGoodRequest), 0, 255},
	{[]byte(wsGoodRequest + "\x81\x85frame"), 30, 255},
	{[]byte(strings.ReplaceAll(wsGoodRequest, "\r\n", "\n")), 7, 255},
	{[]byte(strings.Replace(wsGoodRequest, "GET", "PUT", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "13", "8", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "Host: h\r\n", "", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "Upgrade: websocket", "upgrade: WEBSOCKET, h2c", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "Origin: http://o\r\n", "Sec-WebSocket-Protocol: ,a,, b\r\nX: \xff\r\n", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "HTTP/1.1", "HTTP/1.0", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "Host: h", "Host : h", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "Host: h\r\n", "Host: h\r\n folded\r\n", 1)), 0, 255},
	{[]byte(strings.Replace(wsGoodRequest, "Host: h", "Host: h\rx", 1)), 0, 255},
	{[]byte(wsGoodRequest), 100, 2},
	{[]byte("\x16\x03\x01\x00\xa5\x01\x00\x00"), 1, 255},
	{[]byte("\r\n\r\n"), 1, 0},
	{[]byte("GET / HTTP/1.1\r\n"), 3, 255},
}

// wsMaxHeader maps the fuzzer's selector to a header size limit, small
// enough that 431 is within reach.
func wsMaxHeader(sel uint8) int { return 32 + int(sel)*32 }

// FuzzWSUpgrade feeds arbitrary bytes to the server handshake, whole, in two
// pieces and byte by byte: it must never panic, give the same verdict every
// way, and agree with wsRefUpgrade, a plain string-based reading of the same
// rules.
func FuzzWSUpgrade(f *testing.F) {
	for _, s := range wsUpgradeSeeds {
		f.Add(s.data, s.cut, s.max)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, sel uint8) {
		max := wsMaxHeader(sel)
		whole := wsRunUpgrade(t, max, [][]byte{data})
		c := int(cut) % (len(data) + 1)
		if two := wsRunUpgrade(t, max, [][]byte{data[:c], data[c:]}); two != whole {
			t.Fatalf("split at %d: %+v, whole: %+v", c, two, whole)
		}
		if len(data) <= 256 {
			var bytewise [][]byte
			for i := range data {
				bytewise = append(bytewise, data[i:i+1])
			}
			if bw := wsRunUpgrade(t, max, bytewise); bw != whole {
				t.Fatalf("byte by byte: %+v, whole: %+v", bw, whole)
			}
		}
		ref := wsRefUpgrade(string(data), max)
		if whole.status != ref.status || whole.end != ref.end {
			t.Fatalf("got status %d (%s) end %d, reference %d (%s) end %d",
				whole.status, whole.text, whole.end, ref.status, ref.text, ref.end)
		}
		if whole.status == 0 && whole.req != ref.req {
			t.Fatalf("got %+v, reference %+v", whole.req, ref.req)
		}
	})
}

// wsUpgradeResult is the verdict on a request: status 0 for accepted, -1 for
// incomplete, else the HTTP status; end is the offset just past the header
// block in the concatenated input.
type wsUpgradeResult struct {
	status int
	text   string
	end    int
	req    wsRefRequest
}

type wsRefRequest struct {
	target, host, origin, key, protocols string
	hasOrigin                            bool
}

func wsRunUpgrade(t *testing.T, max int, chunks [][]byte) wsUpgradeResult {
	hs := ws.ServerHandshake{MaxHeaderSize: max}
	defer hs.Release()
	off := 0
	for _, c := range chunks {
		req, n, err := hs.Feed(c)
		if n < 0 || n > len(c) {
			t.Fatalf("n=%d for %d bytes", n, len(c))
		}
		if err != nil {
			var he *ws.HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not an *HTTPError", err)
			}
			return wsUpgradeResult{status: he.Status, text: he.Text, end: -1}
		}
		if req != nil {
			r := wsRefRequest{
				target: string(req.Target), host: string(req.Host), origin: string(req.Origin),
				key: string(req.Key), hasOrigin: req.Origin != nil,
			}
			for _, p := range req.Protocols() {
				r.protocols += string(p) + "|"
			}
			return wsUpgradeResult{end: off + n, req: r}
		}
		if n != len(c) {
			t.Fatalf("incomplete request consumed %d of %d bytes", n, len(c))
		}
		off += n
	}
	return wsUpgradeResult{status: -1, end: -1}
}

// wsRefUpgrade is the reference: what RFC 6455 section 4.2.1 and RFC 9112
// say about a request, written as plainly as possible with the strings
// package and no state machine.
func wsRefUpgrade(s string, max int) wsUpgradeResult {
	bad := func(status int, text string) wsUpgradeResult {
		return wsUpgradeResult{status: status, text: text, end: -1}
	}
	// The header block ends with the first empty line after the request
	// line; lines end in LF, optionally preceded by CR.
	end, pos := -1, 0
	for i, l := range strings.SplitAfter(s, "\n") {
		if i > 0 && (l == "\n" || l == "\r\n") {
			end = pos + len(l)
			break
		}
		pos += len(l)
	}
	// Control characters and a CR not followed by LF are refused where they
	// stand; nothing past max bytes is looked at.
	badAt := -1
	for i := 0; i < len(s) && badAt < 0; i++ {
		switch c := s[i]; {
		case c == '\r':
			if i+1 < len(s) && s[i+1] != '\n' {
				badAt = i + 1
			}
		case c == '\n' || c == '\t':
		case c < 0x20 || c == 0x7F:
			badAt = i
		}
	}
	limit := len(s)
	if end >= 0 {
		limit = end
	}
	switch {
	case badAt >= 0 && badAt < limit && badAt < max:
		return bad(400, "bad byte")
	case end >= 0 && end <= max:
	case len(s) > max:
		return bad(431, "too large")
	default:
		return wsUpgradeResult{status: -1, end: -1}
	}

	lines := strings.Split(s[:end], "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || !wsRefToken(parts[0]) || !wsRefVersion(parts[2]) || parts[1] == "" ||
		strings.IndexFunc(parts[1], func(r rune) bool { return r <= ' ' || r >= 0x7F }) >= 0 {
		return bad(400, "request line")
	}
	switch {
	case parts[0] != "GET":
		return bad(405, "method")
	case parts[2] != "HTTP/1.1":
		return bad(400, "version")
	case parts[1][0] != '/':
		return bad(400, "target")
	}
	r := wsRefRequest{target: parts[1]}
	seen := map[string]int{}
	var upgrade, connection bool
	var version string
	nProtos := 0
	for _, l := range lines[1 : len(lines)-2] { // drop the empty line and what follows its LF
		if l[0] == ' ' || l[0] == '\t' {
			return bad(400, "folded")
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || !wsRefToken(name) {
			return bad(400, "header line")
		}
		value = strings.Trim(value, " \t")
		name = wsRefLower(name)
		seen[name]++
		if seen[name] > 1 && (name == "host" || name == "sec-websocket-key" || name == "sec-websocket-version" || name == "origin") {
			return bad(400, "duplicate "+name)
		}
		switch name {
		case "host":
			r.host = value
		case "origin":
			r.origin, r.hasOrigin = value, true
		case "sec-websocket-key":
			r.key = value
		case "sec-websocket-version":
			version = value
		case "upgrade":
			upgrade = upgrade || wsRefListHas(value, "websocket")
		case "connection":
			connection = connection || wsRefListHas(value, "upgrade")
		case "sec-websocket-protocol":
			for _, p := range strings.Split(value, ",") {
				p = strings.Trim(p, " \t")
				if p == "" {
					continue
				}
				if !wsRefToken(p) {
					return bad(400, "protocol")
				}
				if nProtos++; nProtos > ws.MaxProtocols {
					return bad(400, "too many protocols")
				}
				r.protocols += p + "|"
			}
		}
	}
	key, err := base64.StdEncoding.DecodeString(r.key)
	switch {
	case seen["host"] == 0 || r.host == "":
		return bad(400, "host")
	case !upgrade:
		return bad(400, "upgrade")
	case !connection:
		return bad(400, "connection")
	case version != "13":
		return bad(426, "version")
	case len(r.key) != 24 || err != nil || len(key) != 16:
		return bad(400, "key")
	}
	return wsUpgradeResult{end: end, req: r}
}

func wsRefToken(s string) bool {
	const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return s != "" && strings.Trim(s, tchar) == ""
}

func wsRefVersion(s string) bool {
	return len(s) == 8 && strings.HasPrefix(s, "HTTP/") && s[6] == '.' &&
		s[5] >= '0' && s[5] <= '9' && s[7] >= '0' && s[7] <= '9'
}

// wsRefLower lowers ASCII letters only: HTTP names are ASCII, and Unicode
// folding (strings.EqualFold) would match "ſ" with "s".
func wsRefLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func wsRefListHas(list, token string) bool {
	for _, e := range strings.Split(list, ",") {
		if wsRefLower(strings.Trim(e, " \t")) == token {
			return true
		}
	}
	return false
}

// --- frames ---

type wsFrameSeed struct {
	data   []byte
	client bool
	max    uint16
	seed   uint64
}

func wsMasked(op byte, payload string) []byte {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	out := ws.AppendMaskedFrame(nil, ws.Opcode(op&0x0F), op&0x80 != 0, []byte(payload), key)
	out[0] = op // keep RSV bits and unusual opcodes as given
	return out
}

var wsFrameSeeds = []wsFrameSeed{
	{wsMasked(0x81, "hello"), false, 0, 1},
	{slices.Concat(wsMasked(0x01, "he\xe2"), wsMasked(0x89, "ping"), wsMasked(0x80, "\x82\xacllo")), false, 0, 2},
	{slices.Concat(wsMasked(0x82, strings.Repeat("b", 300)), wsMasked(0x88, "\x03\xe8bye")), false, 0, 3},
	{wsMasked(0x82, strings.Repeat("z", 70000)), false, 100, 4},
	{ws.AppendFrame(ws.AppendFrame(nil, ws.OpText, false, []byte("a")), ws.OpContinuation, true, []byte("b")), true, 0, 5},
	{wsMasked(0xC1, "rsv"), false, 0, 6},
	{wsMasked(0x83, ""), false, 0, 7},
	{wsMasked(0x09, "fragmented ping"), false, 0, 8},
	{wsMasked(0x81, "\xed\xa0\x80"), false, 0, 9},
	{wsMasked(0x88, "\x03"), false, 0, 10},
	{wsMasked(0x88, "\x03\xed"), false, 0, 11},
	{[]byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, false, 0, 12},
	{slices.Concat(wsMasked(0x80, "cont"), wsMasked(0x81, "x")), false, 0, 13},
	{ws.AppendFrame(nil, ws.OpBinary, true, []byte("unmasked")), false, 0, 14},
	{wsMasked(0x82, "masked to client"), true, 0, 15},
}

// FuzzWSFrames feeds arbitrary bytes to the frame decoder, in one call and
// in pieces cut at random points: it must never panic, report the same
// messages and the same close code either way, deliver only valid UTF-8 as
// text, and respect the size and control-frame limits.
func FuzzWSFrames(f *testing.F) {
	for _, s := range wsFrameSeeds {
		f.Add(s.data, s.client, s.max, s.seed)
	}
	f.Fuzz(func(t *testing.T, data []byte, client bool, max uint16, seed uint64) {
		limit := int(max) // 0: the default
		whole := wsRunFrames(t, client, limit, [][]byte{slices.Clone(data)})
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		for range 3 {
			chunks := wsChunks(slices.Clone(data), rng, 64)
			if got := wsRunFrames(t, client, limit, chunks); !slices.Equal(got, whole) {
				t.Fatalf("split in %d pieces:\n%q\nwhole:\n%q", len(chunks), got, whole)
			}
		}
	})
}

// wsChunks cuts data into pieces of 1 to maxChunk bytes at random points.
func wsChunks(data []byte, rng *rand.Rand, maxChunk int) [][]byte {
	var chunks [][]byte
	for len(data) > 0 {
		n := 1 + rng.IntN(min(len(data), 1+rng.IntN(maxChunk)))
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	return chunks
}

// wsFrameRec records the decoder's output and checks each item against the
// rules on the spot.
type wsFrameRec struct {
	t     *testing.T
	limit int
	ev    []string
}

func (r *wsFrameRec) OnMessage(op ws.Opcode, p []byte) error {
	if op != ws.OpText && op != ws.OpBinary {
		r.t.Fatalf("message with opcode %v", op)
	}
	if op == ws.OpText && !utf8.Valid(p) {
		r.t.Fatalf("invalid UTF-8 delivered as text: %q", p)
	}
	if len(p) > r.limit {
		r.t.Fatalf("message of %d bytes over the limit %d", len(p), r.limit)
	}
	r.ev = append(r.ev, fmt.Sprintf("%v %q", op, p))
	return nil
}

func (r *wsFrameRec) control(kind string, p []byte) error {
	if len(p) > ws.MaxControlPayload {
		r.t.Fatalf("%s payload of %d bytes", kind, len(p))
	}
	r.ev = append(r.ev, fmt.Sprintf("%s %q", kind, p))
	return nil
}

func (r *wsFrameRec) OnPing(p []byte) error { return r.control("ping", p) }
func (r *wsFrameRec) OnPong(p []byte) error { return r.control("pong", p) }
func (r *wsFrameRec) OnClose(code int, reason []byte) error {
	if code != ws.CloseNoStatus && !ws.ValidCloseCode(code) || !utf8.Valid(reason) {
		r.t.Fatalf("close %d %q delivered", code, reason)
	}
	return r.control(fmt.Sprintf("close %d", code), reason)
}

func wsRunFrames(t *testing.T, client bool, limit int, chunks [][]byte) []string {
	d := ws.Decoder{Client: client, MaxMessageSize: limit}
	defer d.Reset()
	if limit == 0 {
		limit = ws.DefaultMaxMessageSize
	}
	r := &wsFrameRec{t: t, limit: limit}
	for _, c := range chunks {
		if err := d.Feed(c, r); err != nil {
			var ce *ws.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CloseError", err)
			}
			switch ce.Code {
			case ws.CloseProtocolError, ws.CloseInvalidPayload, ws.CloseMessageTooBig:
			default:
				t.Fatalf("close code %d", ce.Code)
			}
			if d.Buffered() {
				t.Fatal("buffer held after an error")
			}
			return append(r.ev, fmt.Sprintf("error %d", ce.Code))
		}
	}
	return r.ev
}

// TestWSSeedCorpus keeps the checked-in seed corpus in step with the seeds
// above; run with -wscorpus.update to rewrite it.
func TestWSSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for i, s := range wsUpgradeSeeds {
		files[fmt.Sprintf("FuzzWSUpgrade/seed%02d", i)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\nbyte(%q)\n", s.data, s.cut, s.max)
	}
	for i, s := range wsFrameSeeds {
		files[fmt.Sprintf("FuzzWSFrames/seed%02d", i)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\nuint16(%d)\nuint64(%d)\n", s.data, s.client, s.max, s.seed)
	}
	wsCheckCorpus(t, files, *wsUpdateCorpus, "-wscorpus.update", "TestWSSeedCorpus")
}

// wsCheckCorpus checks that every file (path under testdata/fuzz, content)
// is checked in as given, or writes them all when update is set. It is the
// corpus check of every target in this package, not only the ws ones.
func wsCheckCorpus(t *testing.T, files map[string]string, update bool, flagName, testName string) {
	t.Helper()
	for name, want := range files {
		path := filepath.Join("testdata", "fuzz", name)
		if update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (run go test ./fuzz -run %s %s)", path, testName, flagName)
		}
	}
}
