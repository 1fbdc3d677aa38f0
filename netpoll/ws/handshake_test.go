package ws

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const goodRequest = "GET /ws?x=1 HTTP/1.1\r\n" +
	"Host: example.com:8080\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: keep-alive, Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: wamp.2.cbor, wamp.2.json\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// serverFeed runs a fresh ServerHandshake over chunks and returns the
// request (or nil), the bytes consumed in the last call, and the refusal.
func serverFeed(t *testing.T, max int, chunks []string) (*Request, int, *HTTPError) {
	t.Helper()
	hs := &ServerHandshake{MaxHeaderSize: max}
	for i, c := range chunks {
		req, n, err := hs.Feed([]byte(c))
		if err != nil {
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not an *HTTPError", err)
			}
			return nil, n, he
		}
		if req != nil {
			return req, n, nil
		}
		if n != len(c) {
			t.Fatalf("chunk %d: incomplete request consumed %d of %d bytes", i, n, len(c))
		}
	}
	return nil, 0, nil
}

func TestServerHandshakeGood(t *testing.T) {
	in := goodRequest + "\x81\x80frames"
	for _, chunks := range [][]string{{in}, bytewise(in), {in[:10], in[10:100], in[100:]}} {
		req, n, herr := serverFeed(t, 0, chunks)
		if herr != nil || req == nil {
			t.Fatalf("got %v, want a request", herr)
		}
		last := chunks[len(chunks)-1]
		if rest := last[n:]; len(chunks) == 1 && rest != "\x81\x80frames" {
			t.Errorf("bytes after the header block: %q", rest)
		}
		if string(req.Target) != "/ws?x=1" || string(req.Path()) != "/ws" {
			t.Errorf("target %q path %q", req.Target, req.Path())
		}
		if string(req.Host) != "example.com:8080" || string(req.Origin) != "http://example.com" {
			t.Errorf("host %q origin %q", req.Host, req.Origin)
		}
		if got := protoStrings(req); !slices.Equal(got, []string{"wamp.2.cbor", "wamp.2.json"}) {
			t.Errorf("protocols %q", got)
		}
		// RFC 6455 section 1.3's example.
		resp := string(req.AppendAccept(nil, req.ChooseProtocol(IsWAMPProtocol)))
		want := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: wamp.2.cbor\r\n\r\n"
		if resp != want {
			t.Errorf("accept answer:\n%q\nwant\n%q", resp, want)
		}
	}
}

func bytewise(s string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i : i+1]
	}
	return out
}

func protoStrings(r *Request) []string {
	var out []string
	for _, p := range r.Protocols() {
		out = append(out, string(p))
	}
	return out
}

// TestServerHandshakeN checks that n counts exactly the header block when
// the block ends inside a later chunk.
func TestServerHandshakeN(t *testing.T) {
	hs := &ServerHandshake{}
	split := len(goodRequest) - 3
	if req, n, err := hs.Feed([]byte(goodRequest[:split])); req != nil || err != nil || n != split {
		t.Fatalf("first part: %v %d %v", req, n, err)
	}
	second := goodRequest[split:] + "rest"
	req, n, err := hs.Feed([]byte(second))
	if req == nil || err != nil || second[n:] != "rest" {
		t.Fatalf("second part: %v, n=%d (rest %q), %v", req, n, second[n:], err)
	}
	if string(req.Key) != "dGhlIHNhbXBsZSBub25jZQ==" {
		t.Errorf("key %q", req.Key)
	}
	// Finished: the same request again, nothing consumed.
	if again, n2, err := hs.Feed([]byte("more")); again != req || n2 != 0 || err != nil {
		t.Errorf("Feed after completion: %v %d %v", again, n2, err)
	}
	hs.Release()
	if hs.scan.buf != nil {
		t.Error("Release kept the buffer")
	}
}

// replace substitutes the header line starting with name (as spelled in
// goodRequest) by line, or removes it if line is "".
func replace(name, line string) string {
	var out []string
	for _, l := range strings.SplitAfter(goodRequest, "\r\n") {
		if strings.HasPrefix(l, name+":") {
			if line != "" {
				out = append(out, line+"\r\n")
			}
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func withHeader(line string) string {
	return strings.Replace(goodRequest, "\r\n\r\n", "\r\n"+line+"\r\n\r\n", 1)
}

func TestServerHandshakeRefusals(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		status int
		max    int
	}{
		{"POST", strings.Replace(goodRequest, "GET", "POST", 1), 405, 0},
		{"lower-case get", strings.Replace(goodRequest, "GET", "get", 1), 405, 0},
		{"HTTP/1.0", strings.Replace(goodRequest, "HTTP/1.1", "HTTP/1.0", 1), 400, 0},
		{"HTTP/2.0", strings.Replace(goodRequest, "HTTP/1.1", "HTTP/2.0", 1), 400, 0},
		{"garbage version", strings.Replace(goodRequest, "HTTP/1.1", "HTTX/1.1", 1), 400, 0},
		{"no target", strings.Replace(goodRequest, "/ws?x=1 ", "", 1), 400, 0},
		{"double space", strings.Replace(goodRequest, "GET ", "GET  ", 1), 400, 0},
		{"absolute-form target", strings.Replace(goodRequest, "/ws?x=1", "http://h/ws", 1), 400, 0},
		{"non-ASCII target", strings.Replace(goodRequest, "/ws", "/w\xe9", 1), 400, 0},
		{"tab in target", strings.Replace(goodRequest, "/ws", "/w\ts", 1), 400, 0},
		{"empty request line", "\r\n" + goodRequest, 400, 0},
		{"no Host", replace("Host", ""), 400, 0},
		{"empty Host", replace("Host", "Host:"), 400, 0},
		{"two Host", withHeader("Host: other"), 400, 0},
		{"no Upgrade", replace("Upgrade", ""), 400, 0},
		{"Upgrade h2c", replace("Upgrade", "Upgrade: h2c"), 400, 0},
		{"no Connection", replace("Connection", ""), 400, 0},
		{"Connection close", replace("Connection", "Connection: close"), 400, 0},
		{"no version", replace("Sec-WebSocket-Version", ""), 426, 0},
		{"version 8", replace("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), 426, 0},
		{"version list", replace("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8"), 426, 0},
		{"two version headers", withHeader("Sec-WebSocket-Version: 13"), 400, 0},
		{"no key", replace("Sec-WebSocket-Key", ""), 400, 0},
		{"short key", replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"), 400, 0},
		{"key of 17 bytes", replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXg="), 400, 0},
		{"key not base64", replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!Q=="), 400, 0},
		{"two keys", withHeader("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), 400, 0},
		{"two origins", withHeader("Origin: http://evil"), 400, 0},
		{"bad protocol token", replace("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: wamp.2.json, a b"), 400, 0},
		{"protocol with slash", replace("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: a/b"), 400, 0},
		{"17 protocols", replace("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: "+strings.Repeat("p,", 16)+"p"), 400, 0},
		{"space before colon", replace("Host", "Host : example.com"), 400, 0},
		{"no colon", withHeader("Bogus"), 400, 0},
		{"empty header name", withHeader(": x"), 400, 0},
		{"folded line", withHeader("X-A: a\r\n b"), 400, 0},
		{"control character", withHeader("X-A: a\x01b"), 400, 0},
		{"NUL", withHeader("X-A: \x00"), 400, 0},
		{"DEL", withHeader("X-A: \x7f"), 400, 0},
		{"bare CR", withHeader("X-A: a\rb"), 400, 0},
		{"TLS client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, 0},
		{"too large", withHeader("X-Pad: " + strings.Repeat("p", 9000)), 431, 0},
		{"too large for a custom limit", goodRequest, 431, 100},
		{"endless line", strings.Repeat("G", 10000), 431, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first *HTTPError
			for i, chunks := range [][]string{{tc.in}, bytewise(tc.in)} {
				req, _, herr := serverFeed(t, tc.max, chunks)
				if req != nil || herr == nil {
					t.Fatalf("split %d: accepted, want %d", i, tc.status)
				}
				if herr.Status != tc.status {
					t.Fatalf("split %d: got %d %q, want %d", i, herr.Status, herr.Text, tc.status)
				}
				if first != nil && herr != first {
					t.Fatalf("split %d: got %q, but whole input gave %q", i, herr.Text, first.Text)
				}
				first = herr
			}
		})
	}
}

// TestServerHandshakeLenient covers what a server must accept although it
// is not the canonical spelling.
func TestServerHandshakeLenient(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		protos []string
	}{
		{"bare LF line ends", strings.ReplaceAll(goodRequest, "\r\n", "\n"), []string{"wamp.2.cbor", "wamp.2.json"}},
		{"case-insensitive names and values", strings.NewReplacer(
			"Upgrade: websocket", "UPGRADE: WebSocket",
			"Connection: keep-alive, Upgrade", "connection: UPGRADE",
			"Sec-WebSocket-Key:", "sec-websocket-key:",
			"Sec-WebSocket-Version:", "SEC-WEBSOCKET-VERSION:").Replace(goodRequest), []string{"wamp.2.cbor", "wamp.2.json"}},
		{"Upgrade list", replace("Upgrade", "Upgrade: foo/2, websocket"), []string{"wamp.2.cbor", "wamp.2.json"}},
		{"Connection in two headers", replace("Connection", "Connection: keep-alive\r\nConnection: upgrade"), []string{"wamp.2.cbor", "wamp.2.json"}},
		{"whitespace around values", replace("Host", "Host: \t example.com \t"), []string{"wamp.2.cbor", "wamp.2.json"}},
		{"several protocol headers", replace("Sec-WebSocket-Protocol",
			"Sec-WebSocket-Protocol: a\r\nX-Other: 1\r\nsec-websocket-protocol: ,b , ,c,\r\nSec-WebSocket-Protocol: wamp.2.json"),
			[]string{"a", "b", "c", "wamp.2.json"}},
		{"no protocol", replace("Sec-WebSocket-Protocol", ""), nil},
		{"16 protocols", replace("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: "+strings.Repeat("p,", 15)+"p"), slices.Repeat([]string{"p"}, 16)},
		{"no Origin", replace("Origin", ""), []string{"wamp.2.cbor", "wamp.2.json"}},
		{"obs-text in a value", withHeader("User-Agent: caf\xe9"), []string{"wamp.2.cbor", "wamp.2.json"}},
	}
	for _, tc := range tests {
		for i, chunks := range [][]string{{tc.in}, bytewise(tc.in)} {
			req, _, herr := serverFeed(t, 0, chunks)
			if herr != nil || req == nil {
				t.Fatalf("%s (split %d): refused: %v", tc.name, i, herr)
			}
			if got := protoStrings(req); !slices.Equal(got, tc.protos) {
				t.Errorf("%s: protocols %q, want %q", tc.name, got, tc.protos)
			}
		}
	}
	// Origin is nil when absent, so that an empty Origin can be told apart.
	req, _, _ := serverFeed(t, 0, []string{replace("Origin", "")})
	if req.Origin != nil {
		t.Errorf("absent Origin is %q, want nil", req.Origin)
	}
}

func TestChooseProtocol(t *testing.T) {
	in := replace("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: mqtt, wamp.2.msgpack\r\nSec-WebSocket-Protocol: wamp.2.json")
	req, _, herr := serverFeed(t, 0, []string{in})
	if herr != nil {
		t.Fatal(herr)
	}
	// The client's order wins, not the server's.
	if got := req.ChooseProtocol(IsWAMPProtocol); string(got) != "wamp.2.msgpack" {
		t.Errorf("chose %q, want the client's first WAMP protocol wamp.2.msgpack", got)
	}
	jsonOnly := func(p []byte) bool { return string(p) == "wamp.2.json" }
	if got := req.ChooseProtocol(jsonOnly); string(got) != "wamp.2.json" {
		t.Errorf("chose %q with a JSON-only predicate", got)
	}
	if got := req.ChooseProtocol(func([]byte) bool { return false }); got != nil {
		t.Errorf("chose %q with a predicate accepting nothing", got)
	}
	resp := string(req.AppendAccept(nil, nil))
	if strings.Contains(resp, "Sec-WebSocket-Protocol") {
		t.Errorf("answer names a protocol although none was chosen:\n%s", resp)
	}
	for _, p := range []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"} {
		if !IsWAMPProtocol([]byte(p)) {
			t.Errorf("IsWAMPProtocol(%q) = false", p)
		}
	}
	for _, p := range []string{"wamp.2.JSON", "wamp.2.ubjson", "wamp", ""} {
		if IsWAMPProtocol([]byte(p)) {
			t.Errorf("IsWAMPProtocol(%q) = true", p)
		}
	}
}

// TestHTTPErrorResponse parses the error answers with net/http to be sure
// they are well-formed HTTP with the headers RFC 6455 and RFC 9110 require.
func TestHTTPErrorResponse(t *testing.T) {
	for _, tc := range []struct {
		status int
		text   string
		header map[string]string
	}{
		{400, "missing Host header", nil},
		{404, "no WAMP endpoint here", nil},
		{405, "method must be GET", map[string]string{"Allow": "GET"}},
		{426, "Sec-WebSocket-Version must be 13", map[string]string{"Sec-Websocket-Version": "13", "Upgrade": "websocket"}},
		{431, "request header too large", nil},
		{599, "odd", nil},
	} {
		raw := AppendHTTPError(nil, tc.status, tc.text)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%d: %v\n%s", tc.status, err, raw)
		}
		body := new(bytes.Buffer)
		body.ReadFrom(resp.Body)
		if resp.StatusCode != tc.status || body.String() != tc.text+"\n" || !resp.Close {
			t.Errorf("%d: status %d, body %q, close %v", tc.status, resp.StatusCode, body, resp.Close)
		}
		for k, v := range tc.header {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%d: %s = %q, want %q", tc.status, k, got, v)
			}
		}
	}
	e := &HTTPError{Status: 404, Text: "nope"}
	if !bytes.Equal(e.AppendResponse(nil), AppendHTTPError(nil, 404, "nope")) || !strings.Contains(e.Error(), "404") {
		t.Error("HTTPError.AppendResponse or Error is off")
	}
}

// serverAnswer builds a server's answer to c's request with our own server
// side.
func serverAnswer(t *testing.T, c *ClientHandshake, proto string) string {
	t.Helper()
	var hs ServerHandshake
	req, _, err := hs.Feed(c.AppendRequest(nil))
	if err != nil || req == nil {
		t.Fatalf("our server refused our client's request: %v", err)
	}
	return string(req.AppendAccept(nil, []byte(proto)))
}

func TestClientHandshake(t *testing.T) {
	c := &ClientHandshake{
		Host: "h:1", Target: "/wamp", Origin: "http://o", Protocols: []string{"wamp.2.cbor", "wamp.2.json"},
		Header: [][2]string{{"Authorization", "Bearer x"}}, Nonce: [16]byte{1, 2, 3},
	}
	req := string(c.AppendRequest(nil))
	for _, want := range []string{"GET /wamp HTTP/1.1\r\n", "Host: h:1\r\n", "Sec-WebSocket-Protocol: wamp.2.cbor, wamp.2.json\r\n",
		"Origin: http://o\r\n", "Authorization: Bearer x\r\n", "Sec-WebSocket-Version: 13\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
	// net/http must see a valid upgrade request too.
	hr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(req)))
	if err != nil || hr.Header.Get("Sec-Websocket-Key") == "" {
		t.Fatalf("net/http: %v", err)
	}

	answer := serverAnswer(t, c, "wamp.2.json") + "\x82\x01x"
	for _, chunks := range [][]string{{answer}, bytewise(answer)} {
		cc := *c
		var res *Response
		var n int
		for _, ch := range chunks {
			var err error
			res, n, err = cc.Feed([]byte(ch))
			if err != nil {
				t.Fatal(err)
			}
			if res != nil {
				if len(chunks) == 1 && ch[n:] != "\x82\x01x" {
					t.Errorf("bytes after the answer: %q", ch[n:])
				}
				break
			}
		}
		if res == nil || string(res.Protocol) != "wamp.2.json" {
			t.Fatalf("response %+v", res)
		}
		cc.Release()
	}
}

func TestClientHandshakeRefusals(t *testing.T) {
	c := ClientHandshake{Host: "h", Protocols: []string{"wamp.2.json"}, Nonce: [16]byte{9}}
	good := serverAnswer(t, &c, "wamp.2.json")
	noProto := serverAnswer(t, &c, "")
	tests := []struct {
		name   string
		in     string
		want   error
		status int
	}{
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", nil, 404},
		{"426", "HTTP/1.1 426 Upgrade Required\r\n\r\n", nil, 426},
		{"200", "HTTP/1.1 200 OK\r\n\r\n", nil, 200},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", ErrBadResponse, 0},
		{"HTTP/1.0", strings.Replace(good, "HTTP/1.1", "HTTP/1.0", 1), ErrBadResponse, 0},
		{"short status", "HTTP/1.1 10\r\n\r\n", ErrBadResponse, 0},
		{"status not digits", "HTTP/1.1 1x1 Switching\r\n\r\n", ErrBadResponse, 0},
		{"bad header", strings.Replace(good, "Upgrade: websocket", "Upgrade websocket", 1), ErrBadResponse, 0},
		{"control byte", strings.Replace(good, "Upgrade: websocket", "Upgrade: web\x00socket", 1), ErrBadResponse, 0},
		{"no Upgrade", strings.Replace(good, "Upgrade: websocket\r\n", "", 1), ErrNotUpgraded, 0},
		{"no Connection", strings.Replace(good, "Connection: Upgrade\r\n", "", 1), ErrNotUpgraded, 0},
		{"wrong accept", strings.Replace(good, "Sec-WebSocket-Accept: ", "Sec-WebSocket-Accept: x", 1), ErrAcceptMismatch, 0},
		{"no accept", strings.Replace(good, "Sec-WebSocket-Accept", "X-Accept", 1), ErrAcceptMismatch, 0},
		{"unoffered protocol", strings.Replace(good, "wamp.2.json", "wamp.2.cbor", 1), ErrUnofferedProto, 0},
		{"two protocols", strings.Replace(good, "\r\n\r\n", "\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n", 1), ErrUnofferedProto, 0},
		{"extension", strings.Replace(good, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1), ErrUnofferedExt, 0},
		{"too large", "HTTP/1.1 101 Switching Protocols\r\nX: " + strings.Repeat("x", 9000) + "\r\n\r\n", ErrResponseTooLarge, 0},
	}
	for _, tc := range tests {
		cc := c
		_, _, err := cc.Feed([]byte(tc.in))
		if tc.status != 0 {
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != tc.status {
				t.Errorf("%s: got %v, want status %d", tc.name, err, tc.status)
			}
			continue
		}
		if err != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if _, _, again := cc.Feed([]byte("x")); again != err {
			t.Errorf("%s: error did not stick", tc.name)
		}
	}
	// No protocol chosen is the caller's call, not an error.
	cc := c
	res, _, err := cc.Feed([]byte(noProto))
	if err != nil || res.Protocol != nil {
		t.Errorf("no protocol: %v, %+v", err, res)
	}
}
