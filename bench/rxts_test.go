package bench

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

// TestReadOnceTSAllocs: a conns session's read with the kernel receive
// timestamp (recvmsg, control message parsing) does not allocate.
func TestReadOnceTSAllocs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- s
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer peer.Close()

	f := codec.MsgPack
	c := newConn(nc, &Target{Format: f}, &clock{}, idleReadBuffer)
	if err := c.enableRxTimestamps(); err != nil {
		t.Skip(err)
	}
	is := &idleSession{fo: &fanout{got: make([]atomic.Int64, 1), lastMono: make([]atomic.Int64, 1), lastRx: make([]atomic.Int64, 1)}}
	c.sink = is
	var st [stampLen]byte
	putStamp(st[:], 0, 0, 1)
	frame, err := rawsocket.AppendFrame(nil, rawsocket.Message, routerMessage(t, f, codec.Message{Type: codec.EVENT, ID: 1, Publication: 2}, st[:], 32), 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	reads := int64(0)
	read := func() {
		if _, err := peer.Write(frame); err != nil {
			t.Fatal(err)
		}
		if err := c.readOnceTS(); err != nil {
			t.Fatal(err)
		}
		reads++
	}
	// The kernel may turn timestamping on a moment after the setsockopt
	// (net_enable_timestamp defers it): the first reads may come without.
	for read(); c.rxTS == 0 && reads < 100; read() {
		time.Sleep(time.Millisecond)
	}
	if c.rxTS == 0 {
		t.Fatal("no kernel receive timestamp")
	}
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Errorf("readOnceTS allocates %v times per read", n)
	}
	if c.rxTS == 0 {
		t.Error("no kernel receive timestamp")
	}
	if got := is.fo.got[0].Load(); got != reads {
		t.Errorf("%d events seen, want %d", got, reads)
	}
}
