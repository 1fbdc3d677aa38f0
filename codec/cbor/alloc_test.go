package cbor

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// Zero allocation is a tested property: each test warms up a reused
// Message and buffer, then requires 0 allocations per operation.

func TestAllocsDecodeAppend(t *testing.T) {
	for _, bm := range codectest.HotMessages {
		data := mustRef(t, bm.Value)
		var m codec.Message
		if err := Decode(&m, data); err != nil {
			t.Fatalf("%s: %v", bm.Name, err)
		}
		if n := testing.AllocsPerRun(200, func() { _ = Decode(&m, data) }); n != 0 {
			t.Errorf("Decode %s: %v allocs/op", bm.Name, n)
		}
		dst := make([]byte, 0, 1024)
		if n := testing.AllocsPerRun(200, func() { dst, _ = Append(dst[:0], &m) }); n != 0 {
			t.Errorf("Append %s: %v allocs/op", bm.Name, n)
		}
		if string(dst) != string(data) {
			t.Errorf("Append %s = %x, want %x", bm.Name, dst, data)
		}
	}
}

// TestAllocsAllCases covers the typed-Details paths too: lists appended
// into reused capacity, roles, strings, and encoding from Details.
func TestAllocsAllCases(t *testing.T) {
	codectest.CheckCaseAllocs(t, Codec, mustRef)
	dst := make([]byte, 0, 4096)
	for _, g := range goldenMessages(t) {
		if n := testing.AllocsPerRun(50, func() { dst, _ = Append(dst[:0], &g.m) }); n != 0 {
			t.Errorf("Append golden %s: %v allocs/op", g.name, n)
		}
	}
}

// TestAllocsIndefinite decodes strings joined into m.Buf: after the first
// decode grows Buf, no more allocations.
func TestAllocsIndefinite(t *testing.T) {
	data := unhex(t, helloChunked)
	var m codec.Message
	if err := Decode(&m, data); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(200, func() { _ = Decode(&m, data) }); n != 0 {
		t.Errorf("Decode: %v allocs/op", n)
	}
}

func TestAllocsWalk(t *testing.T) {
	w := NewWriter()
	buf := make([]byte, 0, 4096)
	inputs := [][]byte{}
	for _, bm := range codectest.HotMessages {
		inputs = append(inputs, mustRef(t, bm.Value))
	}
	if !raceEnabled {
		// Indefinite strings are joined in a pooled scratch buffer.
		inputs = append(inputs, unhex(t, "bf 7f 62 6b31 61 78 ff 7f 62 7631 ff 7f 61 6b ff 5f 41 01 41 02 ff ff"))
	}
	for _, data := range inputs {
		if n := testing.AllocsPerRun(200, func() {
			w.Reset(buf[:0])
			_ = Walk(data, w, 0)
		}); n != 0 {
			t.Errorf("Walk(%x) into Writer: %v allocs/op", data, n)
		}
	}
}

// TestAllocsTranscode appends a message whose payload is in another format
// (see fakeFormat): the pooled Writer keeps it allocation-free.
func TestAllocsTranscode(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	m := codec.Message{Type: codec.EVENT, ID: 1, Publication: 2,
		Args:   codec.Raw{Format: fakeFormat, Bytes: unhex(t, "9f 18 01 f9 3c00 7f 61 61 ff c2 41 01 ff")},
		Kwargs: codec.Raw{Format: fakeFormat, Bytes: mustRef(t, map[string]any{"color": "orange"})}}
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(200, func() { dst, _ = Append(dst[:0], &m) }); n != 0 {
		t.Errorf("Append with transcoding: %v allocs/op", n)
	}
}
