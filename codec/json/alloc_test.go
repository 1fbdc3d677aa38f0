package json

import (
	"fmt"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/internal/codectest"
)

// Zero allocation is part of the contract; these fail when one creeps in.
// They count exactly (internal/alloctest) and skip under -race, where
// sync.Pool drops items at random on purpose; make test runs them without.

func TestDecodeAllocs(t *testing.T) {
	for _, hm := range hotMessages {
		data := []byte(hm.data)
		var m codec.Message
		if err := Decode(&m, data); err != nil {
			t.Fatal(err)
		}
		alloctest.Zero(t, fmt.Sprintf("Decode %s", hm.name), func() { _ = Decode(&m, data) })
	}
	// Escapes into m.Buf, typed lists and roles reach a steady state too.
	data := []byte(`[1, "re\u0061lm", {"roles": {"caller": {"features": {"call_canceling": true}}, "x": {}}, "authmethods": ["ticket", "wamp\u0063ra"], "authextra": {"a": 1}, "x_\u00e9": [1.5e300, "\ud834\udd1e"]}]`)
	var m codec.Message
	if err := Decode(&m, data); err != nil {
		t.Fatal(err)
	}
	alloctest.Zero(t, "Decode HELLO with escapes", func() { _ = Decode(&m, data) })
	data = []byte(`[16, 1, {"exclude": [1, 2, 3, 4, 5, 6, 7, 8, 9], "eligible_authid": ["a", "b\n"]}, "a", ["` + "12345678901234567890123456789012345678901234567890.5e-3" + `"]]`)
	if err := Decode(&m, data); err != nil {
		t.Fatal(err)
	}
	alloctest.Zero(t, "Decode PUBLISH with lists", func() { _ = Decode(&m, data) })
}

// TestAllocsAllCases covers every message type and typed key.
func TestAllocsAllCases(t *testing.T) { codectest.CheckCaseAllocs(t, Codec, refMarshal) }

func TestAppendAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	for _, hm := range hotMessages {
		var m codec.Message
		if err := Decode(&m, []byte(hm.data)); err != nil {
			t.Fatal(err)
		}
		alloctest.Zero(t, fmt.Sprintf("Append %s (verbatim dict)", hm.name), func() { _, _ = Append(dst, &m) })
		m.Dict = codec.Raw{}
		alloctest.Zero(t, fmt.Sprintf("Append %s (typed details)", hm.name), func() { _, _ = Append(dst, &m) })
	}
	for _, g := range goldenMessages {
		alloctest.Zero(t, fmt.Sprintf("Append golden %s", g.name), func() { _, _ = Append(dst, &g.m) })
	}
}

func TestWalkAllocs(t *testing.T) {
	skipIfRace(t)
	inputs := []string{
		`["Hello, world!", 42, -7, 3.25, true, null, "\u0000EOP/kFMHXFJvX8BtT+N82w==", "tab\there", {"k\u00e9": [1e300]}]`,
		// Numbers longer than the compiler's 32-byte stack buffer for
		// string conversions: parseFloat must not copy them.
		`[1234567890123456789012345678901234567890.0987654321e-5, -99999999999999999999999999999999999999999]`,
	}
	for _, in := range walkInputs {
		inputs = append(inputs, in.data)
	}
	w := NewWriter()
	dst := make([]byte, 0, 4096)
	for _, in := range inputs {
		data := []byte(in)
		w.Reset(dst)
		if err := Walk(data, w, 64); err != nil {
			t.Fatal(err)
		}
		alloctest.Zero(t, fmt.Sprintf("Walk %.30s... into Writer", in), func() {
			w.Reset(dst)
			_ = Walk(data, w, 64)
		})
	}
}

// TestTranscodeAllocs: AppendRaw between formats pools its Writer.
func TestTranscodeAllocs(t *testing.T) {
	skipIfRace(t)
	r := codec.Raw{Format: fakeFormat, Bytes: []byte(`[1, "x\n", {"a": 1.5}]`)}
	dst := make([]byte, 0, 256)
	if _, err := codec.AppendRaw(dst, codec.JSON, r, 64); err != nil {
		t.Fatal(err)
	}
	alloctest.Zero(t, "AppendRaw transcode", func() { _, _ = codec.AppendRaw(dst, codec.JSON, r, 64) })
}
