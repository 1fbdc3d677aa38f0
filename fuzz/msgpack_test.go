package fuzz

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

// Everything top-level here is prefixed with msgpack: the package is shared
// by the fuzz targets of every codec and parser.

var msgpackUpdateCorpus = flag.Bool("msgpackcorpus.update", false, "rewrite testdata/fuzz/FuzzMsgPack*/ seed files")

// msgpackRefEncode encodes a seed value with the reference library, in its
// default (int64/uint64 for every int) or compact (smallest forms) mode.
func msgpackRefEncode(v any, compact bool) []byte {
	b, err := reflib.MsgPackEncode(v, compact, false)
	if err != nil {
		panic(fmt.Sprintf("msgpack seed %#v: %v", v, err))
	}
	return b
}

func msgpackHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// msgpackNasties are hand-made inputs aimed at the decoder's edges: huge
// declared lengths, the never-used code, ext values, bad UTF-8, non-string
// keys, every ID encoding, deep nesting, trailing bytes.
var msgpackNasties = []string{
	"", "c1", "90", "80", "91 c1", "dd ffffffff", "df ffffffff", "db ffffffff", "c6 ffffffff", "c9 ffffffff 01",
	"95 10 01 80 a1 61 dd ffffffff", "96 10 01 80 a1 61 90 df ffffffff",
	"94 10 01 80 db ffffffff 61", "94 10 01 df ffffffff a1 61",
	"96 10 01 81 a1 78 d4 01 00 a1 61 91 d8 01 00000000000000000000000000000000 81 a1 6b c7 02 05 0102",
	"95 10 01 80 a1 61 91 c8 0001 05 01", "95 10 01 80 a1 61 91 d5 01 0000",
	"94 10 01 80 a2 c3 28", "94 10 01 80 a3 ed a0 80", "95 10 01 80 a1 61 91 a1 ff",
	"96 10 01 80 a1 61 90 81 01 01", "96 10 01 80 a1 61 90 81 c4 01 61 01", "94 10 01 81 c0 01 a1 61",
	"93 11 01 cf 0020000000000000", "93 11 01 cf 0020000000000001", "93 11 01 d3 0020000000000000",
	"93 11 01 d3 ffffffffffffffff", "93 11 01 d0 7f", "93 11 01 ca 3f800000", "93 11 01 cb 3ff0000000000000",
	"93 d3 0000000000000011 01 02", "93 cf ffffffffffffffff 01 02", "93 ff 01 02", "92 cd 03ff 01",
	"95 08 ce 00010000 01 80 a1 65", "95 08 30 01 80 a1 65",
	"93 11 01 02 00", "92 23 01 92 23 01", "91 23", "94 23 01 80 80",
	"93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 81 a8 6665617475726573 81 ae 63616c6c5f63616e63656c696e67 01",
	"93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 81 a8 6665617475726573 81 af 63616c6c5f63616e63656c6c696e67 c3",
	"94 10 01 84 a7 6578636c756465 92 01 02 a7 6578636c756465 c0 a7 74696d656f7574 05 a7 74696d656f7574 c0 a1 61",
	"94 10 01 81 ae 6578636c7564655f617574686964 a3 6a6f65 a1 61",
	"95 32 01 80 92 cb 7ff8000000000001 ca 80000000",
	"95 32 01 80 93 d3 8000000000000000 cf ffffffffffffffff e0",
}

// msgpackDeep is a PUBLISH whose Arguments nest n lists deep.
func msgpackDeep(n int) []byte {
	b := msgpackHex("95 10 01 80 a1 61")
	b = append(b, bytes.Repeat([]byte{0x91}, n)...)
	return append(b, 0x90)
}

// msgpackSeeds returns every seed: each shared case and bad case encoded
// in both reference modes, and the nasties.
func msgpackSeeds() [][]byte {
	var seeds [][]byte
	for _, c := range codectest.Cases {
		seeds = append(seeds, msgpackRefEncode(c.Value, true), msgpackRefEncode(c.Value, false))
	}
	for _, c := range codectest.BadCases {
		seeds = append(seeds, msgpackRefEncode(c.Value, true))
	}
	for _, h := range msgpackNasties {
		seeds = append(seeds, msgpackHex(h))
	}
	return append(seeds, msgpackDeep(61), msgpackDeep(62), msgpackDeep(200))
}

// TestMsgPackSeedCorpus keeps the checked-in corpus in step with
// msgpackSeeds; run with -msgpackcorpus.update to rewrite it.
func TestMsgPackSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for _, s := range msgpackSeeds() {
		name := fmt.Sprintf("seed-%x", sha256.Sum256(s))[:21]
		for _, target := range []string{"FuzzMsgPackDecode", "FuzzMsgPackWalk"} {
			files[target+"/"+name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		}
	}
	wsCheckCorpus(t, files, *msgpackUpdateCorpus, "-msgpackcorpus.update", "TestMsgPackSeedCorpus")
}

// FuzzMsgPackDecode: Decode never panics and reports only *codec.Error;
// whatever it accepts, Append writes back (verbatim and from typed
// Details) and Decode reads again as the same message.
func FuzzMsgPackDecode(f *testing.F) {
	for _, s := range msgpackSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m codec.Message
		err := msgpack.Decode(&m, data)
		if err != nil {
			var ce *codec.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *codec.Error: %v", err, err)
			}
			return
		}
		codectest.ReEncode(t, msgpack.Codec, &m, func(m2 *codec.Message) { codectest.SameMessage(t, m2, &m) })
	})
}

// FuzzMsgPackWalk: Walk never panics; what it accepts, the reference
// library reads as the same value, our Writer re-encodes to the same
// tokens, canonically (codectest.ThroughWriter), and Decode's payload
// validation accepts too.
func FuzzMsgPackWalk(f *testing.F) {
	for _, s := range msgpackSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var first codectest.Recorder
		werr := msgpack.Walk(data, &first, codec.DefaultMaxDepth-2)

		// The same value as the only argument of a RESULT sits at depth 3
		// of the message: Decode's validation must agree with Walk,
		// except that it lets ext values through.
		wrapped := append(msgpackHex("94 32 01 80 91"), data...)
		var m codec.Message
		derr := msgpack.Decode(&m, wrapped)
		switch {
		case werr == nil && derr != nil:
			t.Fatalf("Walk accepts %x, Decode of it as an argument fails: %v", data, derr)
		case werr != nil && derr == nil && !errors.Is(werr, codec.ErrUnsupported):
			t.Fatalf("Decode accepts %x as an argument, Walk fails: %v", data, werr)
		}
		if werr != nil {
			var ce *codec.Error
			if !errors.As(werr, &ce) {
				t.Fatalf("error %T is not *codec.Error: %v", werr, werr)
			}
			return
		}

		// Accepted, hence no ext and every length bounded by the input:
		// safe to hand to the reference library, which must agree.
		ref, err := reflib.MsgPackDecode(data)
		if err != nil {
			t.Fatalf("Walk accepts %x, the reference library does not: %v", data, err)
		}
		ours, err := codec.ToGo(codec.Raw{Format: codec.MsgPack, Bytes: data})
		if err != nil {
			t.Fatalf("ToGo: %v", err)
		}
		if !codectest.EqualValues(ours, ref) {
			t.Fatalf("Walk reads %#v, the reference library %#v", ours, ref)
		}

		codectest.ThroughWriter(t, msgpack.Codec, data, first.Toks)
	})
}
