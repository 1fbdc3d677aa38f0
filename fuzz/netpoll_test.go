package fuzz

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// Everything top-level here is prefixed with netpoll: the package is shared
// by the fuzz targets of every codec and parser.
//
// FuzzNetpoll writes arbitrary bytes, split at arbitrary points, into a
// live connection to a real netpoll server on 127.0.0.1 (one server for
// every execution of a process), as WebSocket or RawSocket, optionally
// after a valid opening handshake and HELLO and optionally framed, so the
// fuzzer reaches every layer: handshake, framing, codec, router. After each
// input the client closes; the server must then forget the connection (its
// and the router's connection counts and the router's tables back to the
// observer's alone), and an observer session on its own connection must
// still get its own event and call result.

var netpollUpdateCorpus = flag.Bool("netpollcorpus.update", false, "rewrite testdata/fuzz/FuzzNetpoll/ seed files")

// Mode bits of FuzzNetpoll's first argument.
const (
	netpollRawSocket = 1 << iota // RawSocket instead of WebSocket
	netpollHandshake             // prefix a valid opening handshake
	netpollFramed                // data is split into messages (msgCuts) and framed by the harness
	netpollHello                 // after the handshake, a valid framed HELLO
	// bits 4-5: the serializer (JSON, MsgPack, CBOR)
)

type netpollEnv struct {
	srv    *netpoll.Server
	r      *core.Router
	addr   string
	obs    *client.Client
	events chan string
	seq    int
	tables core.TableSizes // with the observer alone
}

var (
	netpollOnce sync.Once
	netpollE    *netpollEnv
	netpollErr  error
)

// netpollServer starts the shared server and the observer once per process.
func netpollServer() (*netpollEnv, error) {
	netpollOnce.Do(func() {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, Logger: quiet})
		if err != nil {
			netpollErr = err
			return
		}
		srv, err := netpoll.NewServer(r, netpoll.Config{
			Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}, Logger: quiet, Pollers: 2,
		})
		if err != nil {
			netpollErr = err
			return
		}
		if err := srv.Start(); err != nil {
			netpollErr = err
			return
		}
		e := &netpollEnv{srv: srv, r: r, addr: srv.Addrs()[0].String(), events: make(chan string, 64)}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.obs, err = client.Connect(ctx, "ws://"+e.addr+"/", client.Config{Realm: "realm1", Logger: quiet, RequestTimeout: 30 * time.Second})
		if err != nil {
			netpollErr = fmt.Errorf("observer: %w", err)
			return
		}
		if _, err := e.obs.Subscribe("obs.t", func(ev *client.Event) {
			if len(ev.Args) == 1 {
				if s, ok := ev.Args[0].(string); ok {
					select {
					case e.events <- s:
					default:
					}
				}
			}
		}, nil); err != nil {
			netpollErr = fmt.Errorf("observer subscribe: %w", err)
			return
		}
		if _, err := e.obs.Register("obs.p", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: inv.Args}, nil
		}, nil); err != nil {
			netpollErr = fmt.Errorf("observer register: %w", err)
			return
		}
		e.tables = r.Tables()
		netpollE = e
	})
	return netpollE, netpollErr
}

var netpollFormats = []struct {
	f   codec.Format
	rs  rawsocket.Serializer
	sub string
}{{codec.JSON, rawsocket.JSON, "wamp.2.json"}, {codec.MsgPack, rawsocket.MsgPack, "wamp.2.msgpack"}, {codec.CBOR, rawsocket.CBOR, "wamp.2.cbor"}}

// netpollStream builds the bytes FuzzNetpoll writes.
func netpollStream(mode byte, data, msgCuts []byte) []byte {
	ser := netpollFormats[int(mode>>4&3)%len(netpollFormats)]
	rs := mode&netpollRawSocket != 0
	var out []byte
	if mode&netpollHandshake != 0 {
		if rs {
			out = rawsocket.AppendHandshake(out, rawsocket.Handshake{Serializer: ser.rs, LengthExp: 15})
		} else {
			out = append(out, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
				"Sec-WebSocket-Protocol: "+ser.sub+"\r\n\r\n"...)
		}
	}
	frame := func(msg []byte) {
		if rs {
			out, _ = rawsocket.AppendFrame(out, rawsocket.Message, msg, rawsocket.MaxLen)
		} else {
			op := ws.OpBinary
			if ser.f == codec.JSON {
				op = ws.OpText
			}
			out = ws.AppendMaskedFrame(out, op, true, msg, [4]byte{1, 2, 3, 4})
		}
	}
	if mode&netpollHandshake != 0 && mode&netpollHello != 0 {
		hello, err := codec.AppendGo(nil, ser.f, []any{1, "realm1", map[string]any{"roles": routerRoles}})
		if err != nil {
			panic(err)
		}
		frame(hello)
	}
	if mode&netpollFramed == 0 {
		return append(out, data...)
	}
	for _, c := range msgCuts {
		n := min(int(c), len(data))
		frame(data[:n])
		data = data[n:]
	}
	if len(data) > 0 {
		frame(data)
	}
	return out
}

// netpollSeeds are inputs for every layer; data in framed seeds is WAMP in
// the mode's serializer (JSON for mode bits 4-5 = 0).
var netpollSeeds = []struct {
	mode          byte
	data          string
	msgCuts, cuts string
}{
	{netpollHandshake | netpollHello, "", "", ""},
	{netpollRawSocket | netpollHandshake | netpollHello, "", "", ""},
	{netpollHandshake | netpollHello | netpollFramed, `[32,1,{},"obs.t"][16,2,{"acknowledge":true},"obs.t",["x"]][48,3,{},"obs.p",[1]]`, "\x11\x29", "\x05\x85\x01"},
	{netpollRawSocket | netpollHandshake | netpollHello | netpollFramed, `[64,1,{},"p.a"][48,2,{"receive_progress":true},"p.a",[]][70,1,{"progress":true},[1]]`, "\x0f\x29", "\x03\x03\x83"},
	{netpollHandshake | netpollHello | netpollFramed, `[48,1,{},"obs.p",[1]][6,{},"wamp.close.normal"][1,"realm1",{"roles":{"caller":{}}}]`, "\x15\x1a", ""},
	{netpollHandshake | netpollHello | netpollFramed, `[16,5,{},"t"]`, "", ""},
	{netpollHandshake | netpollHello | netpollFramed, `[1,"realm1",{}]`, "", ""},
	{netpollHandshake | netpollHello | netpollFramed, "[\xff", "", ""},
	{netpollRawSocket | netpollHandshake | netpollHello, "\x00\x00\x00\x05[6,{}\x01\x00\x00\x00\x02\x00\x00\x00\x01", "", "\x01\x01\x01\x01"},
	{netpollRawSocket | netpollHandshake, "\x00\xff\xff\xff", "", ""},
	{netpollRawSocket, "\x7f\xf1\x00\x00\x07\x00\x00\x01x", "", "\x02\x82"},
	{0, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x05hello", "", "\x07\x10\x90"},
	{netpollHandshake, "\x81\x80\x00\x00\x00\x00\x88\x80\x00\x00\x00\x00", "", ""},
	{netpollHandshake | netpollHello, "\x01\x83\x00\x00\x00\x00[16\x80\x80\x00\x00\x00\x00", "", "\x04\x84"},
	{netpollHandshake | netpollHello, "\x89\x84\x01\x02\x03\x04abcd\x82\xfe\x00\x02\x00\x00\x00\x00[]", "", ""},
	{0, "PUT / HTTP/1.1\r\n\r\n", "", ""},
	{netpollHandshake | netpollHello | netpollFramed | 0x10, "\x93\x10\x01\x80", "", ""},
	{netpollRawSocket | netpollHandshake | netpollHello | netpollFramed | 0x20, "\x83\x18\x20\x01\xa0", "", ""},
}

func FuzzNetpoll(f *testing.F) {
	for _, s := range netpollSeeds {
		f.Add(s.mode, []byte(s.data), []byte(s.msgCuts), []byte(s.cuts))
	}
	f.Fuzz(func(t *testing.T, mode byte, data, msgCuts, cuts []byte) {
		e, err := netpollServer()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 64<<10 || len(msgCuts) > 64 {
			return
		}
		stream := netpollStream(mode, data, msgCuts)
		accepted := e.srv.Stats().Accepted
		conn, err := net.DialTimeout("tcp", e.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		// Write in pieces; a piece whose cut has the top bit set is followed
		// by a short pause so that the server's reads end there too.
		for i := 0; len(stream) > 0; i++ {
			n := len(stream)
			if i < len(cuts) && i < 32 {
				n = min(1+int(cuts[i]&0x7f), n)
			}
			if _, err := conn.Write(stream[:n]); err != nil {
				break // the server closed the connection: fine
			}
			stream = stream[n:]
			if i < len(cuts) && cuts[i]&0x80 != 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
		if mode&(netpollHandshake|netpollFramed) == netpollHandshake|netpollFramed {
			netpollPing(t, conn, mode&netpollRawSocket != 0)
		}
		conn.Close()
		netpollSettle(t, e, accepted+1)
		netpollObserve(t, e)
	})
}

// netpollPing checks that a connection that got a valid handshake and
// whole frames ended cleanly: either the server closed it, or it is still
// usable — it answers a ping (WebSocket ping, RawSocket PING) with the
// matching pong, after whatever else it had to say.
func netpollPing(t *testing.T, conn net.Conn, rs bool) {
	t.Helper()
	payload := []byte("zwamp-fuzz-ping")
	var ping []byte
	if rs {
		ping, _ = rawsocket.AppendFrame(nil, rawsocket.Ping, payload, rawsocket.MaxLen)
	} else {
		ping = ws.AppendMaskedFrame(nil, ws.OpPing, true, payload, [4]byte{9, 8, 7, 6})
	}
	if _, err := conn.Write(ping); err != nil {
		return // closed by the server
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := &netpollReader{t: t, c: conn}
	if rs {
		if r.next(4) == nil {
			return
		}
		for {
			h := r.next(4)
			if h == nil {
				return
			}
			body := r.next(int(h[1])<<16 | int(h[2])<<8 | int(h[3]))
			if body == nil {
				return
			}
			if rawsocket.MsgType(h[0]&7) == rawsocket.Pong && string(body) == string(payload) {
				return
			}
		}
	}
	for { // the HTTP response, then frames
		l := r.next(1)
		if l == nil {
			return
		}
		if strings.HasSuffix(string(r.seen), "\r\n\r\n") {
			break
		}
	}
	r.seen = r.seen[:0]
	for {
		h := r.next(2)
		if h == nil {
			return
		}
		op, n := ws.Opcode(h[0]&0x0f), int(h[1]&0x7f)
		masked := h[1]&0x80 != 0
		switch n {
		case 126:
			b := r.next(2)
			if b == nil {
				return
			}
			n = int(b[0])<<8 | int(b[1])
		case 127:
			b := r.next(8)
			if b == nil {
				return
			}
			n = 0
			for _, x := range b {
				n = n<<8 | int(x)
			}
		}
		if masked {
			t.Fatal("the server sent a masked frame")
		}
		if n > 64<<20 {
			t.Fatalf("the server sent a frame of %d bytes", n)
		}
		body := r.next(n)
		if body == nil {
			return
		}
		if op == ws.OpPong && string(body) == string(payload) {
			return
		}
	}
}

// netpollReader reads exactly n bytes at a time; nil means the server
// closed the connection (EOF or reset), and a read timeout fails the test:
// the connection is then neither closed nor usable.
type netpollReader struct {
	t    *testing.T
	c    net.Conn
	seen []byte // everything read, for the HTTP response's end
}

func (r *netpollReader) next(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.c, b); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("the connection neither closed nor answered a ping within 20 s (last bytes read: %q)", r.tail())
		}
		return nil
	}
	if len(r.seen) < 64<<10 {
		r.seen = append(r.seen, b...)
	}
	return b
}

func (r *netpollReader) tail() []byte {
	if len(r.seen) > 200 {
		return r.seen[len(r.seen)-200:]
	}
	return r.seen
}

// netpollSettle waits until the server has accepted the fuzzed connection
// (its accept goroutine may lag the client's connect) and then forgotten it
// and every other but the observer's, in its and the router's counts, and
// the router's tables are the observer's alone.
func netpollSettle(t *testing.T, e *netpollEnv, accepted int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := e.srv.Stats()
		sc, rc, tab := st.Conns, e.r.Stats().Conns, e.r.Tables()
		if st.Accepted == accepted && sc == 1 && rc == 1 && tab == e.tables {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the client closed: server accepted %d (want %d), has %d connections, router %d (want 1, the observer's), tables %+v, want %+v",
				st.Accepted, accepted, sc, rc, tab, e.tables)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// netpollObserve checks the observer's round trips: its own event and call.
func netpollObserve(t *testing.T, e *netpollEnv) {
	t.Helper()
	e.seq++
	want := fmt.Sprintf("ping-%d", e.seq)
	no := false
	if err := e.obs.Publish("obs.t", []any{want}, nil, &client.PublishOptions{Acknowledge: true, ExcludeMe: &no}); err != nil {
		t.Fatalf("observer publish: %v", err)
	}
	timeout := time.After(20 * time.Second)
	for got := ""; got != want; {
		select {
		case got = <-e.events: // events a fuzzed session published to obs.t come first
			if !strings.HasPrefix(got, "ping-") {
				got = ""
			}
		case <-timeout:
			t.Fatal("observer: own event lost")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.obs.Call(ctx, "obs.p", []any{want}, nil, nil)
	if err != nil || len(res.Args) != 1 || res.Args[0] != want {
		t.Fatalf("observer call: %v, %v", res, err)
	}
}

// TestNetpollSeedCorpus keeps the checked-in seed corpus in step with the
// seeds above; run with -netpollcorpus.update to rewrite it.
func TestNetpollSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for i, s := range netpollSeeds {
		files[fmt.Sprintf("FuzzNetpoll/seed%02d", i)] = fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n[]byte(%q)\n[]byte(%q)\n",
			s.mode, s.data, s.msgCuts, s.cuts)
	}
	wsCheckCorpus(t, files, *netpollUpdateCorpus, "-netpollcorpus.update", "TestNetpollSeedCorpus")
}
