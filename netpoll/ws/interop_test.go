package ws

// Differential tests against WebSocket implementations nobody here wrote:
// gorilla/websocket and coder/websocket clients talk to a loopback server
// built on this package, and this package's client side talks to gorilla's
// and coder's servers. Every message size class, text and binary, whole and
// fragmented, pings and the close handshake go through and are compared.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

var sizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20}

// textOf returns valid UTF-8 of exactly n bytes, rich in multi-byte code
// points so that fragment boundaries fall inside them.
func textOf(n int) []byte {
	const pattern = "aé€😀ß"
	var b []byte
	for len(b) < n {
		for _, r := range pattern {
			s := string(r)
			if len(b)+len(s) > n {
				s = strings.Repeat("z", n-len(b))
			}
			b = append(b, s...)
			if len(b) == n {
				break
			}
		}
	}
	return b
}

func binaryOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// --- a loopback server built on this package ---

// echoConn is the Handler of one server connection: it echoes messages,
// answers pings and the close handshake, writing straight to the socket.
type echoConn struct {
	c   net.Conn
	out []byte
}

func (e *echoConn) write() error {
	_, err := e.c.Write(e.out)
	e.out = e.out[:0]
	return err
}

func (e *echoConn) OnMessage(op Opcode, p []byte) error {
	e.out = AppendFrame(e.out, op, true, p)
	return e.write()
}

func (e *echoConn) OnPing(p []byte) error {
	e.out = AppendFrame(e.out, OpPong, true, p)
	return e.write()
}

func (e *echoConn) OnPong([]byte) error { return nil }

func (e *echoConn) OnClose(code int, reason []byte) error {
	e.out = AppendClose(e.out, code, string(reason))
	return e.write()
}

type testServer struct {
	addr   string
	maxMsg int
	wg     sync.WaitGroup
	errs   chan error // unexpected server-side failures
}

func startServer(t *testing.T, maxMsg int) *testServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), maxMsg: maxMsg, errs: make(chan error, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
		close(s.errs)
		for err := range s.errs {
			t.Error("server:", err)
		}
	})
	return s
}

func (s *testServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	// Reads of varying small sizes, so that headers, payloads and code
	// points are split across Feed calls in many places.
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	buf := make([]byte, 8192)
	read := func() ([]byte, error) {
		n, err := c.Read(buf[:1+rng.IntN(len(buf))])
		return buf[:n], err
	}
	var hs ServerHandshake
	var rest []byte
	for {
		data, err := read()
		if err != nil {
			return
		}
		req, n, err := hs.Feed(data)
		if err != nil {
			c.Write(err.(*HTTPError).AppendResponse(nil))
			return
		}
		if req != nil {
			proto := req.ChooseProtocol(IsWAMPProtocol)
			if proto == nil {
				c.Write(ErrNoWAMPProtocol.AppendResponse(nil))
				return
			}
			if _, err := c.Write(req.AppendAccept(nil, proto)); err != nil {
				return
			}
			rest = data[n:]
			break
		}
	}
	hs.Release()
	h := &echoConn{c: c}
	dec := Decoder{MaxMessageSize: s.maxMsg}
	defer dec.Reset()
	data := rest
	for {
		err := dec.Feed(data, h)
		var ce *CloseError
		if errors.As(err, &ce) {
			h.out = AppendClose(h.out, ce.Code, ce.Reason)
			h.write()
			lingeringClose(c)
			return
		}
		if err != nil {
			return // the peer went away while we wrote
		}
		if dec.Closed() {
			lingeringClose(c)
			return
		}
		if data, err = read(); err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				s.errs <- err
			}
			return
		}
	}
}

// lingeringClose half-closes and drains, so that unread client bytes do not
// turn our close into a reset that destroys the close frame in flight.
func lingeringClose(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
}

// --- gorilla client against our server ---

func TestGorillaClient(t *testing.T) {
	s := startServer(t, 2<<20)
	d := gorilla.Dialer{Subprotocols: []string{"mqtt", "wamp.2.msgpack", "wamp.2.json"}, WriteBufferSize: 1000}
	conn, _, err := d.Dial("ws://"+s.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Subprotocol() != "wamp.2.msgpack" {
		t.Errorf("subprotocol %q, want the client's first WAMP choice", conn.Subprotocol())
	}
	var pongs []string
	conn.SetPongHandler(func(p string) error { pongs = append(pongs, p); return nil })

	for _, n := range sizes {
		for _, typ := range []int{gorilla.TextMessage, gorilla.BinaryMessage} {
			payload := binaryOf(n)
			if typ == gorilla.TextMessage {
				payload = textOf(n)
			}
			// Whole message.
			if err := conn.WriteMessage(typ, payload); err != nil {
				t.Fatal(err)
			}
			gotTyp, got, err := conn.ReadMessage()
			if err != nil || gotTyp != typ || !bytes.Equal(got, payload) {
				t.Fatalf("n=%d type %d: echo type %d len %d, err %v", n, typ, gotTyp, len(got), err)
			}
			// Fragmented: NextWriter flushes a frame every WriteBufferSize
			// bytes; write in odd pieces and send a ping in the middle.
			w, err := conn.NextWriter(typ)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(payload); i += 777 {
				w.Write(payload[i:min(i+777, len(payload))])
				if i == 777*2 {
					conn.WriteControl(gorilla.PingMessage, []byte("mid"), time.Now().Add(time.Second))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			gotTyp, got, err = conn.ReadMessage()
			if err != nil || gotTyp != typ || !bytes.Equal(got, payload) {
				t.Fatalf("fragmented n=%d type %d: echo type %d len %d, err %v", n, typ, gotTyp, len(got), err)
			}
		}
	}
	if err := conn.WriteControl(gorilla.PingMessage, []byte("last"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	conn.WriteMessage(gorilla.BinaryMessage, []byte("sync"))
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if len(pongs) < 2 || pongs[len(pongs)-1] != "last" || pongs[0] != "mid" {
		t.Errorf("pongs %q, want mid… last", pongs)
	}

	// Close handshake: our server echoes the code and reason.
	conn.WriteMessage(gorilla.CloseMessage, gorilla.FormatCloseMessage(gorilla.CloseNormalClosure, "bye"))
	_, _, err = conn.ReadMessage()
	var ce *gorilla.CloseError
	if !errors.As(err, &ce) || ce.Code != 1000 || ce.Text != "bye" {
		t.Errorf("close: got %v, want close 1000 bye", err)
	}
}

// gorillaExpectClose sends raw bytes over a fresh gorilla connection and
// expects our server to close with code.
func gorillaExpectClose(t *testing.T, addr string, send func(*gorilla.Conn) error, code int) {
	t.Helper()
	d := gorilla.Dialer{Subprotocols: []string{"wamp.2.json"}, WriteBufferSize: 256}
	conn, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := send(conn); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = conn.ReadMessage()
	var ce *gorilla.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Errorf("got %v, want close %d", err, code)
	}
}

func TestGorillaClientViolations(t *testing.T) {
	s := startServer(t, 1000)
	gorillaExpectClose(t, s.addr, func(c *gorilla.Conn) error {
		return c.WriteMessage(gorilla.TextMessage, []byte("ok \xf4\x90\x80\x80"))
	}, CloseInvalidPayload)
	gorillaExpectClose(t, s.addr, func(c *gorilla.Conn) error {
		// The bad byte is in the second fragment.
		w, _ := c.NextWriter(gorilla.TextMessage)
		w.Write(bytes.Repeat([]byte("a"), 300))
		w.Write([]byte{0xc0, 0x80})
		return w.Close()
	}, CloseInvalidPayload)
	gorillaExpectClose(t, s.addr, func(c *gorilla.Conn) error {
		return c.WriteMessage(gorilla.BinaryMessage, make([]byte, 1001))
	}, CloseMessageTooBig)
	gorillaExpectClose(t, s.addr, func(c *gorilla.Conn) error {
		// A raw unmasked frame under gorilla's established connection.
		_, err := c.UnderlyingConn().Write([]byte{0x82, 0x01, 'x'})
		return err
	}, CloseProtocolError)
}

func TestHandshakeRefusedOverHTTP(t *testing.T) {
	s := startServer(t, 0)
	// A client offering no WAMP protocol is refused with 400 and a reason.
	_, resp, err := (&gorilla.Dialer{Subprotocols: []string{"mqtt"}}).Dial("ws://"+s.addr+"/", nil)
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("got %v, %v; want a 400 refusal", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "wamp.2.json") {
		t.Errorf("refusal body %q does not say what is wanted", body)
	}
	// Plain HTTP GET (no upgrade) gets 400 too.
	r, err := http.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 400 {
		t.Errorf("plain GET: %d", r.StatusCode)
	}
}

// --- coder client against our server ---

func TestCoderClient(t *testing.T) {
	s := startServer(t, 2<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := coder.Dial(ctx, "ws://"+s.addr+"/wamp", &coder.DialOptions{Subprotocols: []string{"wamp.2.cbor", "wamp.2.json"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != "wamp.2.cbor" {
		t.Errorf("subprotocol %q", c.Subprotocol())
	}
	c.SetReadLimit(4 << 20)
	for _, n := range sizes {
		for _, typ := range []coder.MessageType{coder.MessageText, coder.MessageBinary} {
			payload := binaryOf(n)
			if typ == coder.MessageText {
				payload = textOf(n)
			}
			if err := c.Write(ctx, typ, payload); err != nil {
				t.Fatal(err)
			}
			gotTyp, got, err := c.Read(ctx)
			if err != nil || gotTyp != typ || !bytes.Equal(got, payload) {
				t.Fatalf("n=%d %v: echo %v len %d, err %v", n, typ, gotTyp, len(got), err)
			}
			// Each Write of coder's Writer is one frame: fragment at
			// irregular sizes, so code points straddle frames.
			w, err := c.Writer(ctx, typ)
			if err != nil {
				t.Fatal(err)
			}
			for i, step := 0, 1; i < len(payload); i, step = i+step, step*3+1 {
				w.Write(payload[i:min(i+step, len(payload))])
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			gotTyp, got, err = c.Read(ctx)
			if err != nil || gotTyp != typ || !bytes.Equal(got, payload) {
				t.Fatalf("fragmented n=%d %v: echo %v len %d, err %v", n, typ, gotTyp, len(got), err)
			}
		}
	}
	// Ping waits for a pong, which only a Read in progress consumes: keep
	// one waiting for the message sent after the ping.
	type readResult struct {
		p   []byte
		err error
	}
	got := make(chan readResult, 1)
	go func() {
		_, p, err := c.Read(ctx)
		got <- readResult{p, err}
	}()
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	c.Write(ctx, coder.MessageBinary, []byte("after ping"))
	if r := <-got; r.err != nil || string(r.p) != "after ping" {
		t.Fatalf("read after ping: %q %v", r.p, r.err)
	}
	// Close handshake: coder waits for our echoed close frame.
	if err := c.Close(coder.StatusNormalClosure, "bye"); err != nil {
		t.Errorf("close handshake: %v", err)
	}
}

func TestCoderClientInvalidUTF8(t *testing.T) {
	s := startServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := coder.Dial(ctx, "ws://"+s.addr+"/", &coder.DialOptions{Subprotocols: []string{"wamp.2.json"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, coder.MessageText, []byte("\xed\xa0\x80"))
	_, _, err = c.Read(ctx)
	if coder.CloseStatus(err) != CloseInvalidPayload {
		t.Errorf("got %v, want close 1007", err)
	}
}

// --- our client against gorilla's and coder's servers ---

// client is a test client built on this package.
type client struct {
	c      net.Conn
	dec    Decoder
	events []recvEvent
	buf    []byte
	out    []byte
	proto  string
}

type recvEvent struct {
	op      Opcode
	payload []byte
	code    int
}

func (c *client) OnMessage(op Opcode, p []byte) error {
	c.events = append(c.events, recvEvent{op: op, payload: bytes.Clone(p)})
	return nil
}
func (c *client) OnPing(p []byte) error {
	c.events = append(c.events, recvEvent{op: OpPing, payload: bytes.Clone(p)})
	return c.send(OpPong, p, 0)
}
func (c *client) OnPong(p []byte) error {
	c.events = append(c.events, recvEvent{op: OpPong, payload: bytes.Clone(p)})
	return nil
}
func (c *client) OnClose(code int, reason []byte) error {
	c.events = append(c.events, recvEvent{op: OpClose, payload: bytes.Clone(reason), code: code})
	return nil
}

func newKey() (k [4]byte) {
	rand.Read(k[:])
	return k
}

func dialOurs(t *testing.T, addr, target string, protos ...string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	hs := ClientHandshake{Host: addr, Target: target, Protocols: protos}
	rand.Read(hs.Nonce[:])
	if _, err := conn.Write(hs.AppendRequest(nil)); err != nil {
		t.Fatal(err)
	}
	c := &client{c: conn, dec: Decoder{Client: true, MaxMessageSize: 4 << 20}, buf: make([]byte, 3000)}
	for {
		n, err := conn.Read(c.buf)
		if err != nil {
			t.Fatalf("reading the handshake answer: %v", err)
		}
		res, used, err := hs.Feed(c.buf[:n])
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if res != nil {
			c.proto = string(res.Protocol)
			hs.Release()
			if err := c.dec.Feed(c.buf[used:n], c); err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
}

// send writes a masked message, in fragments of frag bytes if frag > 0.
func (c *client) send(op Opcode, p []byte, frag int) error {
	c.out = c.out[:0]
	if frag <= 0 || op.IsControl() {
		c.out = AppendMaskedFrame(c.out, op, true, p, newKey())
	} else {
		first := true
		for len(p) > 0 || first {
			n := min(frag, len(p))
			fop := OpContinuation
			if first {
				fop = op
			}
			c.out = AppendMaskedFrame(c.out, fop, n == len(p), p[:n], newKey())
			p, first = p[n:], false
		}
	}
	_, err := c.c.Write(c.out)
	return err
}

// next returns the next event, reading as needed.
func (c *client) next(t *testing.T) recvEvent {
	t.Helper()
	for len(c.events) == 0 {
		n, err := c.c.Read(c.buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if err := c.dec.Feed(c.buf[:n], c); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	e := c.events[0]
	c.events = c.events[1:]
	return e
}

// exercise runs the whole exchange against an echo server.
func exercise(t *testing.T, c *client) {
	for _, n := range sizes {
		for _, op := range []Opcode{OpText, OpBinary} {
			payload := binaryOf(n)
			if op == OpText {
				payload = textOf(n)
			}
			for _, frag := range []int{0, 1000, 7} {
				if frag == 7 && n > 70000 {
					continue // 150k frames of 7 bytes say nothing new
				}
				if err := c.send(op, payload, frag); err != nil {
					t.Fatal(err)
				}
				e := c.next(t)
				if e.op != op || !bytes.Equal(e.payload, payload) {
					t.Fatalf("n=%d %v frag %d: got %v len %d", n, op, frag, e.op, len(e.payload))
				}
			}
		}
	}
	// The server answers our ping with a pong carrying its payload.
	c.send(OpPing, []byte("are you there"), 0)
	if e := c.next(t); e.op != OpPong || string(e.payload) != "are you there" {
		t.Errorf("ping answered with %v %q", e.op, e.payload)
	}
	// Close handshake: the server echoes our code.
	c.out = AppendMaskedClose(c.out[:0], CloseNormal, "done", newKey())
	c.c.Write(c.out)
	if e := c.next(t); e.op != OpClose || e.code != CloseNormal {
		t.Errorf("close answered with %v %d %q", e.op, e.code, e.payload)
	}
	c.c.Close()
}

func TestOurClientGorillaServer(t *testing.T) {
	up := gorilla.Upgrader{Subprotocols: []string{"wamp.2.json", "wamp.2.msgpack"}}
	var serverErr error
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		// The server pings first; our client must pong.
		conn.WriteControl(gorilla.PingMessage, []byte("hello?"), time.Now().Add(time.Second))
		for {
			typ, p, err := conn.ReadMessage()
			if err != nil {
				var ce *gorilla.CloseError
				if !errors.As(err, &ce) || ce.Code != 1000 {
					mu.Lock()
					serverErr = err
					mu.Unlock()
				}
				return
			}
			if err := conn.WriteMessage(typ, p); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := dialOurs(t, strings.TrimPrefix(srv.URL, "http://"), "/ws", "wamp.2.msgpack", "wamp.2.json")
	if c.proto != "wamp.2.json" {
		t.Errorf("gorilla chose %q", c.proto) // gorilla picks in its own order
	}
	if e := c.next(t); e.op != OpPing || string(e.payload) != "hello?" {
		t.Fatalf("first event %v %q, want gorilla's ping", e.op, e.payload)
	}
	exercise(t, c)
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	if serverErr != nil {
		t.Errorf("gorilla server: %v", serverErr)
	}
}

func TestOurClientCoderServer(t *testing.T) {
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{Subprotocols: []string{"wamp.2.cbor"}})
		if err != nil {
			done <- err
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(4 << 20)
		ctx := r.Context()
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				if coder.CloseStatus(err) == coder.StatusNormalClosure {
					err = nil
				}
				done <- err
				return
			}
			w, err := c.Writer(ctx, typ)
			if err != nil {
				done <- err
				return
			}
			io.Copy(w, rd)
			w.Close()
		}
	}))
	defer srv.Close()
	c := dialOurs(t, strings.TrimPrefix(srv.URL, "http://"), "/", "wamp.2.json", "wamp.2.cbor")
	if c.proto != "wamp.2.cbor" {
		t.Errorf("coder chose %q", c.proto)
	}
	exercise(t, c)
	if err := <-done; err != nil {
		t.Errorf("coder server: %v", err)
	}
}
