package ceiling

import (
	"runtime"
	"slices"
	"testing"

	"github.com/lesismal/nbio/nbhttp/websocket"
)

// TestSubscribers: a connection is listed once, publishers' snapshots never
// change under them, and subscribing n connections costs O(n) memory, not a
// copy of the list each time.
func TestSubscribers(t *testing.T) {
	s := New(Config{Addr: "127.0.0.1:0"})
	list := func() []*websocket.Conn { return *s.subs[fmtJSON].Load() }
	a, b, c := new(websocket.Conn), new(websocket.Conn), new(websocket.Conn)
	s.subscribe(a, fmtJSON)
	s.subscribe(b, fmtJSON)
	s.subscribe(a, fmtJSON)
	if got := list(); !slices.Equal(got, []*websocket.Conn{a, b}) {
		t.Fatalf("after subscribing a, b, a: %v", got)
	}
	snap := list()
	s.subscribe(c, fmtJSON)
	s.unsubscribe(b)
	s.unsubscribe(b)
	if got := list(); !slices.Equal(got, []*websocket.Conn{a, c}) {
		t.Fatalf("after subscribing c and unsubscribing b twice: %v", got)
	}
	if !slices.Equal(snap, []*websocket.Conn{a, b}) {
		t.Fatalf("a publisher's snapshot changed: %v", snap)
	}
	s.unsubscribe(new(websocket.Conn)) // never subscribed
	if got := list(); len(got) != 2 || len(*s.subs[fmtMsgPack].Load()) != 0 {
		t.Fatalf("after unsubscribing a stranger: %v", got)
	}

	const n = 4096
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = new(websocket.Conn)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for _, x := range conns {
		s.subscribe(x, fmtMsgPack)
	}
	runtime.ReadMemStats(&m1)
	if got := len(*s.subs[fmtMsgPack].Load()); got != n {
		t.Fatalf("%d subscribers, want %d", got, n)
	}
	// A copy per subscription would be n*n/2 pointers: 64 MiB.
	if bytes := m1.TotalAlloc - m0.TotalAlloc; bytes > 1<<20 {
		t.Fatalf("subscribing %d connections allocated %d bytes", n, bytes)
	}
}
