package cbor

import (
	"fmt"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
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
		alloctest.Zero(t, fmt.Sprintf("Decode %s", bm.Name), func() { _ = Decode(&m, data) })
		dst := make([]byte, 0, 1024)
		alloctest.Zero(t, fmt.Sprintf("Append %s", bm.Name), func() { dst, _ = Append(dst[:0], &m) })
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
		alloctest.Zero(t, fmt.Sprintf("Append golden %s", g.name), func() { dst, _ = Append(dst[:0], &g.m) })
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
	alloctest.Zero(t, "Decode", func() { _ = Decode(&m, data) })
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
		alloctest.Zero(t, fmt.Sprintf("Walk(%x) into Writer", data), func() {
			w.Reset(buf[:0])
			_ = Walk(data, w, 0)
		})
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
	alloctest.Zero(t, "Append with transcoding", func() { dst, _ = Append(dst[:0], &m) })
}
