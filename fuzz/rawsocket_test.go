package fuzz

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

// Everything top-level here is prefixed with rawSocket: the package is
// shared by the fuzz targets of every codec and parser.

var rawSocketUpdateCorpus = flag.Bool("rawsocketcorpus.update", false, "rewrite testdata/fuzz/FuzzRawSocket*/ seed files")

type rawSocketSeed struct {
	data   []byte
	client bool
	sel    uint8
	seed   uint64
}

func rawSocketFrame(t rawsocket.MsgType, p string) []byte {
	b, err := rawsocket.AppendFrame(nil, t, []byte(p), rawsocket.MaxLen)
	if err != nil {
		panic(err)
	}
	return b
}

var rawSocketSeeds = []rawSocketSeed{
	{slices.Concat([]byte{0x7F, 0xF1, 0, 0}, rawSocketFrame(0, `[1,"realm1",{}]`)), false, 0, 1},
	{slices.Concat([]byte{0x7F, 0x02, 0, 0}, rawSocketFrame(1, "ping"), rawSocketFrame(2, ""), rawSocketFrame(0, "m")), false, 0, 2},
	{slices.Concat([]byte{0x7F, 0x13, 0, 0}, rawSocketFrame(0, string(make([]byte, 600)))), false, 0, 3},
	{[]byte{0x7F, 0x10, 0, 0}, false, 0, 4},
	{[]byte{0x7F, 0x11, 0, 1}, false, 0, 5},
	{[]byte("GET / HTTP/1.1\r\n"), false, 0, 6},
	{slices.Concat([]byte{0x7F, 0x11, 0, 0}, []byte{0x08, 0, 0, 1}), false, 0xF0, 7},
	{slices.Concat([]byte{0x7F, 0x11, 0, 0}, []byte{0x13, 0, 0, 0}), false, 0, 8},
	{slices.Concat([]byte{0x7F, 0x11, 0, 0}, []byte{0x05, 0, 0, 0}), false, 0, 9},
	{slices.Concat([]byte{0x7F, 0xF1, 0, 0}, rawSocketFrame(0, "to the client")), true, 0xF0, 10},
	{[]byte{0x7F, 0x40, 0, 0}, true, 0, 11},
	{[]byte{0x7F, 0x12, 0, 0}, true, 0, 12},
}

// FuzzRawSocket feeds arbitrary bytes to a RawSocket connection, server or
// client side (handshake, then frames), in one call and in pieces cut at
// random points: it must never panic, report the same handshake, messages
// and error either way, and never deliver a frame over the negotiated limit.
func FuzzRawSocket(f *testing.F) {
	for _, s := range rawSocketSeeds {
		f.Add(s.data, s.client, s.sel, s.seed)
	}
	f.Fuzz(func(t *testing.T, data []byte, client bool, sel uint8, seed uint64) {
		whole := rawSocketRun(t, client, sel, [][]byte{data})
		rng := rand.New(rand.NewPCG(seed, ^seed))
		for range 3 {
			chunks := wsChunks(data, rng, 16)
			if got := rawSocketRun(t, client, sel, chunks); !slices.Equal(got, whole) {
				t.Fatalf("split in %d pieces:\n%q\nwhole:\n%q", len(chunks), got, whole)
			}
		}
	})
}

type rawSocketRec struct {
	t     *testing.T
	limit int
	ev    []string
}

func (r *rawSocketRec) add(kind string, p []byte) error {
	if len(p) > r.limit {
		r.t.Fatalf("%s of %d bytes over the limit %d", kind, len(p), r.limit)
	}
	r.ev = append(r.ev, fmt.Sprintf("%s %q", kind, p))
	return nil
}

func (r *rawSocketRec) OnMessage(p []byte) error { return r.add("msg", p) }
func (r *rawSocketRec) OnPing(p []byte) error    { return r.add("ping", p) }
func (r *rawSocketRec) OnPong(p []byte) error    { return r.add("pong", p) }

// rawSocketRun plays one side of a connection. The server announces
// 2^(9+sel&15) as its limit; the client asks for serializer 1+sel%5 and a
// limit of 2^(9+sel>>4).
func rawSocketRun(t *testing.T, client bool, sel uint8, chunks [][]byte) []string {
	var srv rawsocket.ServerHandshake
	cli := rawsocket.ClientHandshake{Request: rawsocket.Handshake{Serializer: rawsocket.Serializer(1 + sel%5), LengthExp: sel >> 4}}
	var d rawsocket.Decoder
	defer d.Reset()
	r := &rawSocketRec{t: t}
	shaken := false
	for _, c := range chunks {
		if !shaken {
			var hs *rawsocket.Handshake
			var n int
			var err error
			if client {
				hs, n, err = cli.Feed(c)
			} else {
				hs, n, err = srv.Feed(c)
			}
			if n < 0 || n > len(c) {
				t.Fatalf("n=%d for %d bytes", n, len(c))
			}
			if err != nil {
				return append(r.ev, "handshake error: "+err.Error())
			}
			if hs == nil {
				if n != len(c) {
					t.Fatalf("incomplete handshake consumed %d of %d bytes", n, len(c))
				}
				continue
			}
			if hs.Serializer == 0 || hs.LengthExp > rawsocket.MaxLengthExp {
				t.Fatalf("handshake %+v accepted", *hs)
			}
			r.ev = append(r.ev, fmt.Sprintf("handshake %d %d", hs.Serializer, hs.LengthExp))
			shaken = true
			if client {
				d.MaxLen = cli.Request.MaxLen()
			} else {
				d.MaxLen = rawsocket.Handshake{LengthExp: sel & 15}.MaxLen()
			}
			r.limit = d.MaxLen
			c = c[n:]
		}
		if err := d.Feed(c, r); err != nil {
			var fe *rawsocket.FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError", err)
			}
			if d.Buffered() {
				t.Fatal("buffer held after an error")
			}
			return append(r.ev, "error: "+err.Error())
		}
	}
	return r.ev
}

// TestRawSocketSeedCorpus keeps the checked-in seed corpus in step with the
// seeds above; run with -rawsocketcorpus.update to rewrite it.
func TestRawSocketSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for i, s := range rawSocketSeeds {
		files[fmt.Sprintf("FuzzRawSocket/seed%02d", i)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbool(%v)\nbyte(%q)\nuint64(%d)\n", s.data, s.client, s.sel, s.seed)
	}
	wsCheckCorpus(t, files, *rawSocketUpdateCorpus, "-rawsocketcorpus.update", "TestRawSocketSeedCorpus")
}
