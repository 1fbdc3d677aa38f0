package rawsocket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestLoopback runs a RawSocket server and client built on this package over
// a real TCP connection: handshake, messages up to the negotiated limits,
// PING/PONG both ways, and a refused handshake.
func TestLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const serverExp = 6 // the router accepts up to 32 KiB
	var wg sync.WaitGroup
	serverErr := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := serveEcho(c, serverExp); err != nil {
					serverErr <- err
				}
			}()
		}
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	hs := ClientHandshake{Request: Handshake{Serializer: MsgPack, LengthExp: 15}}
	c.Write(hs.AppendRequest(nil))
	buf := make([]byte, 1000)
	var reply *Handshake
	var rest []byte
	for reply == nil {
		n, err := c.Read(buf[:1]) // one byte at a time on purpose
		if err != nil {
			t.Fatal(err)
		}
		var used int
		if reply, used, err = hs.Feed(buf[:n]); err != nil {
			t.Fatal(err)
		}
		rest = buf[used:n]
	}
	if reply.MaxLen() != 32<<10 || len(rest) != 0 {
		t.Fatalf("reply %+v, rest %x", *reply, rest)
	}
	r := &recorder{}
	var d Decoder
	read := func() string {
		for len(r.ev) == 0 {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Feed(buf[:n], r); err != nil {
				t.Fatal(err)
			}
		}
		e := r.ev[0]
		r.ev = r.ev[1:]
		return e
	}
	for _, n := range []int{0, 1, 511, 512, 4096, 32 << 10} {
		p := bytes.Repeat([]byte{'m'}, n)
		out, err := AppendFrame(nil, Message, p, reply.MaxLen())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(out)
		want := (&recorder{})
		want.OnMessage(p)
		if got := read(); got != want.ev[0] {
			t.Fatalf("n=%d: got %s", n, got)
		}
	}
	if _, err := AppendFrame(nil, Message, make([]byte, 32<<10+1), reply.MaxLen()); err != ErrTooLong {
		t.Errorf("sending over the router's limit: %v", err)
	}
	ping, _ := AppendFrame(nil, Ping, []byte("rtt"), reply.MaxLen())
	c.Write(ping)
	if got := read(); got != `pong "rtt"` {
		t.Errorf("ping answered with %s", got)
	}
	// Over the router's limit: the router fails the connection.
	big, _ := AppendHeader(nil, Message, 40<<10, MaxLen)
	c.Write(big)
	if _, err := c.Read(buf); err == nil {
		t.Error("router kept the connection after an oversized frame")
	}

	// A serializer the router does not speak is refused with error 1.
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	hs2 := ClientHandshake{Request: Handshake{Serializer: UBJSON, LengthExp: 0}}
	c2.Write(hs2.AppendRequest(nil))
	n, _ := io.ReadFull(c2, buf[:4])
	_, _, err = hs2.Feed(buf[:n])
	if !errors.Is(err, ErrSerializerUnsupported) {
		t.Errorf("unsupported serializer: %v", err)
	}
	c.Close()
	c2.Close()
	ln.Close()
	wg.Wait()
	close(serverErr)
	for err := range serverErr {
		t.Error("server:", err)
	}
}

type echo struct {
	c    net.Conn
	peer int
	out  []byte
}

func (e *echo) send(t MsgType, p []byte) error {
	var err error
	if e.out, err = AppendFrame(e.out[:0], t, p, e.peer); err != nil {
		return err
	}
	_, err = e.c.Write(e.out)
	return err
}
func (e *echo) OnMessage(p []byte) error { return e.send(Message, p) }
func (e *echo) OnPing(p []byte) error    { return e.send(Pong, p) }
func (e *echo) OnPong([]byte) error      { return nil }

// serveEcho is a router-side connection: JSON and MessagePack only.
func serveEcho(c net.Conn, exp uint8) error {
	defer c.Close()
	buf := make([]byte, 777)
	var hs ServerHandshake
	var d Decoder
	var h *echo
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		data := buf[:n]
		if h == nil {
			req, used, err := hs.Feed(data)
			var code ErrorCode
			switch {
			case errors.As(err, &code):
				c.Write(AppendError(nil, code))
				return nil
			case err != nil:
				return nil
			case req == nil:
				continue
			case req.Serializer != JSON && req.Serializer != MsgPack:
				c.Write(AppendError(nil, ErrSerializerUnsupported))
				return nil
			}
			mine := Handshake{Serializer: req.Serializer, LengthExp: exp}
			c.Write(AppendHandshake(nil, mine))
			h = &echo{c: c, peer: req.MaxLen()}
			d.MaxLen = mine.MaxLen()
			data = data[used:]
		}
		if err := d.Feed(data, h); err != nil {
			if errors.Is(err, ErrFrameTooLong) {
				return nil // expected by the test: fail the connection
			}
			return err
		}
	}
}
