package netpoll_test

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// wireClient drives a connection with pre-sized buffers so that the client
// side allocates nothing; what AllocsPerRun sees is the server.
type wireClient struct {
	t   testing.TB
	c   net.Conn
	out []byte
	in  []byte
	raw bool
}

func (w *wireClient) write(msg []byte) {
	if w.raw {
		w.out, _ = rawsocket.AppendFrame(w.out[:0], rawsocket.Message, msg, rawsocket.MaxLen)
	} else {
		w.out = ws.AppendMaskedFrame(w.out[:0], ws.OpText, true, msg, [4]byte{9, 8, 7, 6})
	}
	if _, err := w.c.Write(w.out); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the payload of the next frame (server frames are unmasked).
func (w *wireClient) read() []byte {
	hdr := w.in[:2]
	if w.raw {
		hdr = w.in[:4]
	}
	if _, err := io.ReadFull(w.c, hdr); err != nil {
		w.t.Fatal(err)
	}
	var n int
	if w.raw {
		n = int(binary.BigEndian.Uint32(hdr) & 0xFFFFFF)
	} else {
		n = int(hdr[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(w.c, w.in[:2]); err != nil {
				w.t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint16(w.in))
		case 127:
			w.t.Fatal("unexpected 64-bit frame")
		}
	}
	if _, err := io.ReadFull(w.c, w.in[:n]); err != nil {
		w.t.Fatal(err)
	}
	return w.in[:n]
}

func newWireClient(t testing.TB, addr string, raw bool) *wireClient {
	w := &wireClient{t: t, out: make([]byte, 0, 4096), in: make([]byte, 64<<10), raw: raw}
	if raw {
		p := dialRS(t, "tcp", addr, rawsocket.JSON, 0)
		w.c = p.c
	} else {
		w.c = dialRawWS(t, addr, "wamp.2.json", 0).c
	}
	_ = w.c.SetDeadline(time.Now().Add(time.Minute))
	return w
}

// TestAllocsOnTheWire: a PUBLISH read from a socket, decoded, routed to a
// subscriber, encoded, framed and written allocates nothing in steady state,
// over WebSocket and over RawSocket.
func TestAllocsOnTheWire(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, raw := range []bool{false, true} {
		name := map[bool]string{false: "websocket", true: "rawsocket"}[raw]
		t.Run(name, func(t *testing.T) {
			_, _, addr := startServer(t, netpoll.Config{PingInterval: -1})
			sub := newWireClient(t, addr, raw)
			sub.write([]byte(`[1,"realm1",{"roles":{"subscriber":{}}}]`))
			sub.read()
			sub.write([]byte(`[32,1,{},"com.myapp.topic1"]`))
			sub.read()
			pub := newWireClient(t, addr, raw)
			pub.write([]byte(`[1,"realm1",{"roles":{"publisher":{}}}]`))
			pub.read()
			msg := make([]byte, 0, 128)
			req := uint64(0)
			run := func() {
				req++
				msg = append(msg[:0], "[16,"...)
				msg = strconv.AppendUint(msg, req, 10)
				msg = append(msg, `,{},"com.myapp.topic1",["Hello, world!"],{"color":"orange"}]`...)
				pub.write(msg)
				if ev := sub.read(); ev[1] != '3' { // [36,...
					t.Fatalf("got %s", ev)
				}
			}
			for i := 0; i < 100; i++ {
				run()
			}
			if n := testing.AllocsPerRun(500, run); n > 0 {
				t.Fatalf("%s: %v allocations per message, want 0", name, n)
			}
		})
	}
}
