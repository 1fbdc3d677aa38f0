package ceiling

import (
	"bytes"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/zwamp/zwamp/netpoll/ws"
)

// wsClient is a test client with pre-sized buffers: after setup, writing
// frames and reading messages allocates nothing, so what an allocation
// count sees is the server.
type wsClient struct {
	t    testing.TB
	nc   net.Conn
	dec  ws.Decoder
	rbuf []byte
	wbuf []byte
	got  int    // messages read since the last reset
	last []byte // copy of the last message read
	bin  bool
}

func dialCoalescing(t testing.TB, addr, proto string) *wsClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	c := &wsClient{t: t, nc: nc, dec: ws.Decoder{Client: true}, rbuf: make([]byte, 64<<10),
		wbuf: make([]byte, 0, 64<<10), last: make([]byte, 0, 4096), bin: proto == "wamp.2.msgpack"}
	hs := ws.ClientHandshake{Host: addr, Protocols: []string{proto}, Nonce: [16]byte{1, 2, 3}}
	if _, err := nc.Write(hs.AppendRequest(nil)); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := nc.Read(c.rbuf)
		if err != nil {
			t.Fatal(err)
		}
		res, used, err := hs.Feed(c.rbuf[:n])
		if err != nil {
			t.Fatal(err)
		}
		if res != nil {
			if string(res.Protocol) != proto {
				t.Fatalf("subprotocol %q, want %q", res.Protocol, proto)
			}
			c.feed(c.rbuf[used:n])
			return c
		}
	}
}

func (c *wsClient) OnMessage(_ ws.Opcode, p []byte) error {
	c.got++
	c.last = append(c.last[:0], p...)
	return nil
}
func (c *wsClient) OnPing([]byte) error       { return nil }
func (c *wsClient) OnPong([]byte) error       { return nil }
func (c *wsClient) OnClose(int, []byte) error { return nil }

func (c *wsClient) feed(b []byte) {
	if err := c.dec.Feed(b, c); err != nil {
		c.t.Fatal(err)
	}
}

// queue appends one masked frame to the write buffer.
func (c *wsClient) queue(msg []byte) {
	op := ws.OpText
	if c.bin {
		op = ws.OpBinary
	}
	c.wbuf = ws.AppendMaskedFrame(c.wbuf, op, true, msg, [4]byte{9, 8, 7, 6})
}

// flush writes every queued frame with one write.
func (c *wsClient) flush() {
	if _, err := c.nc.Write(c.wbuf); err != nil {
		c.t.Fatal(err)
	}
	c.wbuf = c.wbuf[:0]
}

// await reads until n messages arrived since the last await.
func (c *wsClient) await(n int) {
	for c.got < n {
		k, err := c.nc.Read(c.rbuf)
		if err != nil {
			c.t.Fatalf("after %d of %d messages: %v", c.got, n, err)
		}
		c.feed(c.rbuf[:k])
	}
	if c.got != n {
		c.t.Fatalf("%d messages, want %d", c.got, n)
	}
	c.got = 0
}

// roundTrip sends msg and returns the one message that answers it.
func (c *wsClient) roundTrip(msg string) []byte {
	c.queue([]byte(msg))
	c.flush()
	c.await(1)
	return c.last
}

func startCoalescing(t testing.TB) *Coalescing {
	s := NewCoalescing(Config{Addr: "127.0.0.1:0"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// TestCoalescingWire: the coalescing ceiling answers like the other one
// (WELCOME, SUBSCRIBED, REGISTERED, RESULT echoing the CALL's request id
// and payload, EVENT with the PUBLISH's payload to every subscriber, the
// publisher included when it subscribed, GOODBYE), in JSON and MessagePack.
func TestCoalescingWire(t *testing.T) {
	s := startCoalescing(t)
	addr := s.Addr().String()
	a := dialCoalescing(t, addr, "wamp.2.json")
	b := dialCoalescing(t, addr, "wamp.2.json")
	if got := a.roundTrip(`[1,"realm1",{}]`); !bytes.HasPrefix(got, []byte("[2,")) {
		t.Fatalf("HELLO: %s", got)
	}
	if got := b.roundTrip(`[1,"realm1",{}]`); !bytes.HasPrefix(got, []byte("[2,")) {
		t.Fatalf("HELLO: %s", got)
	}
	if got := string(a.roundTrip(`[32,7,{},"t"]`)); got != "[33,7,1]" {
		t.Fatalf("SUBSCRIBE: %s", got)
	}
	if got := string(b.roundTrip(`[32,9,{},"t"]`)); got != "[33,9,1]" {
		t.Fatalf("SUBSCRIBE: %s", got)
	}
	if got := string(a.roundTrip(`[64,8,{},"p"]`)); got != "[65,8,1]" {
		t.Fatalf("REGISTER: %s", got)
	}
	if got := string(a.roundTrip(`[48,1234,{},"p",["x"],{"k":1}]`)); got != `[50,1234,{},["x"],{"k":1}]` {
		t.Fatalf("CALL: %s", got)
	}
	a.queue([]byte(`[16,5,{},"t",["hi"]]`))
	a.flush()
	a.await(1)
	b.await(1)
	if !bytes.HasPrefix(b.last, []byte("[36,1,")) || !bytes.HasSuffix(b.last, []byte(`,{},["hi"]]`)) {
		t.Fatalf("EVENT: %s", b.last)
	}
	if got := string(b.roundTrip(`[34,10,1]`)); got != "[35,10]" {
		t.Fatalf("UNSUBSCRIBE: %s", got)
	}
	a.queue([]byte(`[16,6,{},"t",["again"]]`))
	a.flush()
	a.await(1)
	// The counter is added when the server has flushed the read, which may
	// be just after a has its copy.
	for deadline := time.Now().Add(10 * time.Second); s.Delivered.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	// b's next answer comes after anything the second PUBLISH sent it.
	if got := string(b.roundTrip(`[48,11,{},"p",[]]`)); got != "[50,11,{},[]]" {
		t.Fatalf("b got %s after unsubscribing, want only the RESULT", got)
	}
	if s.Delivered.Load() != 3 {
		t.Fatalf("%d events delivered, want 3 (two, then one after b unsubscribed)", s.Delivered.Load())
	}
	if got := string(a.roundTrip(`[6,{},"wamp.close.close_realm"]`)); got != `[6,{},"wamp.close.goodbye_and_out"]` {
		t.Fatalf("GOODBYE: %s", got)
	}

	m := dialCoalescing(t, addr, "wamp.2.msgpack")
	if got := m.roundTrip("\x93\x01\xa6realm1\x80"); len(got) < 2 || got[0] != 0x93 || got[1] != tWelcome {
		t.Fatalf("HELLO msgpack: %x", got)
	}
	// [CALL, 300, {}, "p", ["x"]] → [RESULT, 300, {}, ["x"]]
	if got := m.roundTrip("\x95\x30\xcd\x01\x2c\x80\xa1p\x91\xa1x"); !bytes.Equal(got, []byte("\x94\x32\xcd\x01\x2c\x80\x91\xa1x")) {
		t.Fatalf("CALL msgpack: %x", got)
	}
}

// TestCoalescingOneWritePerRead: 64 PUBLISHes in one read reach the two
// subscribers with one write each, and 16 CALLs in one read are answered
// with one write.
func TestCoalescingOneWritePerRead(t *testing.T) {
	s := startCoalescing(t)
	addr := s.Addr().String()
	pub := dialCoalescing(t, addr, "wamp.2.json")
	subs := []*wsClient{dialCoalescing(t, addr, "wamp.2.json"), dialCoalescing(t, addr, "wamp.2.json")}
	for _, c := range subs {
		c.roundTrip(`[32,1,{},"t"]`)
	}
	w0 := s.Writes.Load()
	for i := 0; i < 64; i++ {
		pub.queue([]byte(`[16,` + strconv.Itoa(i+2) + `,{},"t",["payload"]]`))
	}
	pub.flush()
	for _, c := range subs {
		c.await(64)
	}
	// The 64 frames may arrive in more than one read (each read is one
	// write per subscriber); the test's single write makes one read likely.
	if w := s.Writes.Load() - w0; w != 2 {
		t.Logf("64 PUBLISHes: %d writes (%d reads of the publisher's write, presumably)", w, w/2)
		if w%2 != 0 || w > 2*4 {
			t.Fatalf("64 PUBLISHes to 2 subscribers took %d writes, want 2 per read", w)
		}
	}
	w0 = s.Writes.Load()
	for i := 0; i < 16; i++ {
		pub.queue([]byte(`[48,` + strconv.Itoa(i+100) + `,{},"p",[]]`))
	}
	pub.flush()
	pub.await(16)
	if w := s.Writes.Load() - w0; w > 2 {
		t.Fatalf("16 CALLs in one write were answered with %d writes", w)
	}
}

// TestCoalescingAllocs: in steady state the coalescing ceiling allocates
// nothing per message, counted over the whole process
// (runtime.MemStats.Mallocs, pollers included), not rounded: pubsub 1→2
// with 16 PUBLISHes per read, and 16 CALLs per read, 10,000 messages each.
func TestCoalescingAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, proto := range []string{"wamp.2.json", "wamp.2.msgpack"} {
		t.Run(proto, func(t *testing.T) {
			s := startCoalescing(t)
			addr := s.Addr().String()
			pub := dialCoalescing(t, addr, proto)
			subs := []*wsClient{dialCoalescing(t, addr, proto), dialCoalescing(t, addr, proto)}
			publish, call := []byte(`[16,1,{},"com.example.t",["0123456789abcdef0123456789abcdef"]]`), []byte(`[48,1,{},"com.example.p",["0123456789abcdef0123456789abcdef"]]`)
			subscribe := []byte(`[32,1,{},"com.example.t"]`)
			if pub.bin {
				publish = []byte("\x95\x10\x01\x80\xadcom.example.t\x91\xd9\x200123456789abcdef0123456789abcdef")
				call = []byte("\x95\x30\x01\x80\xadcom.example.p\x91\xd9\x200123456789abcdef0123456789abcdef")
				subscribe = []byte("\x94\x20\x01\x80\xadcom.example.t")
			}
			for _, c := range subs {
				c.roundTrip(string(subscribe))
			}
			const perRead, rounds = 16, 625 // 10,000 messages
			pubsub := func() {
				for i := 0; i < perRead; i++ {
					pub.queue(publish)
				}
				pub.flush()
				for _, c := range subs {
					c.await(perRead)
				}
			}
			rpc := func() {
				for i := 0; i < perRead; i++ {
					pub.queue(call)
				}
				pub.flush()
				pub.await(perRead)
			}
			for name, step := range map[string]func(){"pubsub 1→2": pubsub, "rpc": rpc} {
				// Warm-up: buffers reach their size; a collection empties
				// the sync.Pools, which the second warm-up refills.
				for i := 0; i < 100; i++ {
					step()
				}
				runtime.GC()
				for i := 0; i < 100; i++ {
					step()
				}
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for i := 0; i < rounds; i++ {
					step()
				}
				runtime.ReadMemStats(&m1)
				// The count covers the whole process, the runtime's own
				// bookkeeping too: a profile (MemProfileRate=1, 20 runs)
				// shows nothing on the server's path, and now and then
				// one runtime allocation (a sudog for the GC's mark
				// termination, the scavenger's timer heap). Hence a bound
				// of 1 per 10,000 messages, not exactly 0.
				if d := m1.Mallocs - m0.Mallocs; d > 1 {
					t.Errorf("%s %s: %d allocations in %d messages, want at most 1", proto, name, d, perRead*rounds)
				}
			}
		})
	}
}
