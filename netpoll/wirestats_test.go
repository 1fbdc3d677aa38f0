package netpoll_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

// countingConn counts the bytes a client wrote to and read from its socket.
type countingConn struct {
	net.Conn
	in, out atomic.Uint64 // out: written by the client; in: read by it
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(uint64(n))
	return n, err
}

// dialRSCounted is dialRS over a countingConn; roles are all four.
func dialRSCounted(t *testing.T, addr string, ser rawsocket.Serializer, f codec.Format) (*rsPeer, *countingConn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: nc}
	t.Cleanup(func() { nc.Close() })
	_, _ = cc.Write(rawsocket.AppendHandshake(nil, rawsocket.Handshake{Serializer: ser, LengthExp: 15}))
	p := &rsPeer{t: t, c: cc, r: bufio.NewReader(cc), f: f}
	var reply [4]byte
	_ = cc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(p.r, reply[:]); err != nil {
		t.Fatal(err)
	}
	p.send(codec.HELLO, "realm1", map[string]any{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}})
	p.expect(codec.WELCOME)
	return p, cc
}

func wireOf(s *netpoll.Server, kind string) (w netpoll.WireCount) {
	for _, x := range s.WireStats() {
		if x.Transport == kind && !x.TLS {
			w = x
		}
	}
	return w
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestWireCounters checks the bytes in and out per transport kind against
// what real clients wrote and read, the sessions by transport and
// serializer, and the messages-per-write histogram: 50 PUBLISHes in one
// TCP write reach each subscriber in fewer writes than messages, and the
// histogram's sum is exactly the messages the clients received.
func TestWireCounters(t *testing.T) {
	s, r, addr := startServer(t, netpoll.Config{})
	writes0 := core.WritesHistogram()

	sub, subConn := dialRSCounted(t, addr, rawsocket.MsgPack, codec.MsgPack)
	sub.send(codec.SUBSCRIBE, 1, map[string]any{}, "com.example.wire")
	sub.expect(codec.SUBSCRIBED)

	var wsConn *countingConn
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, a)
			if err != nil {
				return nil, err
			}
			wsConn = &countingConn{Conn: nc}
			return wsConn, nil
		}}
	c, _, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := &wsPeer{t: t, c: c, f: codec.JSON}
	ws.join()
	ws.send(codec.SUBSCRIBE, ws.req(), map[string]any{}, "com.example.wire")
	ws.expect(codec.SUBSCRIBED)

	_, pubConn := dialRSCounted(t, addr, rawsocket.CBOR, codec.CBOR)
	const n = 50
	var burst []byte
	for i := 0; i < n; i++ {
		m, _ := codec.AppendGo(nil, codec.CBOR, []any{codec.PUBLISH, i + 1, map[string]any{}, "com.example.wire", []any{i}})
		burst, _ = rawsocket.AppendFrame(burst, rawsocket.Message, m, rawsocket.MaxLen)
	}
	if _, err := pubConn.Write(burst); err != nil { // one write: the router reads it in one go
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		sub.expect(codec.EVENT)
		ws.expect(codec.EVENT)
	}

	counts := map[string]int{}
	for _, sc := range r.Realms()[0].SessionCounts() {
		counts[sc.Transport+"/"+sc.Serializer] = sc.Sessions
	}
	if len(counts) != 3 || counts["rawsocket/msgpack"] != 1 || counts["rawsocket/cbor"] != 1 || counts["websocket/json"] != 1 {
		t.Errorf("sessions by transport/serializer: %v, want one each of rawsocket/msgpack, rawsocket/cbor, websocket/json", counts)
	}

	// Every byte the clients wrote was read (the router answered the last
	// ones) and every byte the router sent was read by a client.
	rsIn := subConn.out.Load() + pubConn.out.Load()
	rsOut := subConn.in.Load() + pubConn.in.Load()
	if w := wireOf(s, "rawsocket"); w.BytesIn != rsIn || w.BytesOut != rsOut {
		t.Errorf("rawsocket bytes in/out %d/%d, the clients wrote %d and read %d", w.BytesIn, w.BytesOut, rsIn, rsOut)
	}
	if w := wireOf(s, "websocket"); w.BytesIn != wsConn.out.Load() || w.BytesOut != wsConn.in.Load() {
		t.Errorf("websocket bytes in/out %d/%d, the client wrote %d and read %d", w.BytesIn, w.BytesOut, wsConn.out.Load(), wsConn.in.Load())
	}

	// WELCOME ×3, SUBSCRIBED ×2, EVENT ×2n: each one counted in exactly
	// one write, and the bursts coalesced.
	const msgs = 3 + 2 + 2*n
	var writes core.Histogram
	waitUntil(t, "the writes to be folded", func() bool {
		writes = core.WritesHistogram()
		return writes.Sum-writes0.Sum >= msgs
	})
	if got := writes.Sum - writes0.Sum; got != msgs {
		t.Errorf("messages written: %v, want %d", got, msgs)
	}
	if got := writes.Count - writes0.Count; got*2 >= msgs {
		t.Errorf("%d writes for %d messages: the burst of %d events per subscriber was not coalesced", got, msgs, n)
	}
	var big uint64
	for i := 3; i < len(writes.Counts); i++ { // writes of 4 messages or more
		big += writes.Counts[i] - writes0.Counts[i]
	}
	if big == 0 {
		t.Errorf("no write carried 4 messages or more: %v", writes.Counts)
	}

	// A connection that ends is folded into the totals: the counts keep
	// every byte, including the close handshake, and never go down.
	before := wireOf(s, "websocket")
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	for {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil {
			break
		}
	}
	c.Close()
	waitUntil(t, "the WebSocket connection to end", func() bool { return s.Stats().Conns == 2 })
	after := wireOf(s, "websocket")
	if after.BytesIn < before.BytesIn || after.BytesOut < before.BytesOut {
		t.Errorf("websocket counters went down after the close: %+v → %+v", before, after)
	}
	if after.BytesIn != wsConn.out.Load() || after.BytesOut != wsConn.in.Load() {
		t.Errorf("after the close: websocket bytes in/out %d/%d, the client wrote %d and read %d", after.BytesIn, after.BytesOut, wsConn.out.Load(), wsConn.in.Load())
	}
}

// TestSlowConsumersListed: a subscriber that does not read shows up in
// SlowConsumers with its pending output; one that reads does not.
func TestSlowConsumersListed(t *testing.T) {
	s, _, addr := startServer(t, netpoll.Config{MaxPendingOutput: 256 << 20})
	slow, _ := dialRSCounted(t, addr, rawsocket.MsgPack, codec.MsgPack)
	slow.send(codec.SUBSCRIBE, 1, map[string]any{}, "com.example.flood")
	slow.expect(codec.SUBSCRIBED)
	pub, _ := dialRSCounted(t, addr, rawsocket.MsgPack, codec.MsgPack)
	payload := strings.Repeat("x", 1<<20)
	// 48 MiB: more than loopback's socket buffers take (a few MiB each
	// side), so the rest waits in the router.
	for i := 0; i < 48; i++ {
		pub.send(codec.PUBLISH, i+1, map[string]any{}, "com.example.flood", []any{payload})
	}
	var list []netpoll.PendingConn
	waitUntil(t, "the slow subscriber to be listed", func() bool {
		list = s.SlowConsumers(10, 1<<20)
		return len(list) == 1
	})
	if p := list[0]; p.Transport != "rawsocket" || p.Protocol != "wamp.2.msgpack" || p.Pending < 1<<20 ||
		p.Remote != slow.c.LocalAddr().String() {
		t.Errorf("listed %+v, want the slow subscriber at %s with over 1 MiB pending", p, slow.c.LocalAddr())
	}
	if all := s.SlowConsumers(10, 0); len(all) != 1 {
		t.Errorf("with no minimum: %d listed, want only the slow subscriber (the publisher reads nothing but is sent nothing)", len(all))
	}
}
