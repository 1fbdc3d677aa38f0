package fuzz

import (
	stdjson "encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	zjson "github.com/zwamp/zwamp/codec/json"
	"github.com/zwamp/zwamp/internal/codectest"
)

// Everything top-level here is prefixed with json: the package is shared
// by the fuzz targets of every codec and parser.

var jsonUpdateCorpus = flag.Bool("jsoncorpus.update", false, "rewrite testdata/fuzz/FuzzJSON*/ seed files")

// jsonCaseSeeds returns every codectest case (valid and bad) as
// encoding/json writes it (binary as "\u0000"+base64), and the nasties,
// keyed by file name.
func jsonCaseSeeds(t testing.TB) map[string][]byte {
	nasties := make([][]byte, len(jsonNasties))
	for i, s := range jsonNasties {
		nasties[i] = []byte(s)
	}
	return codectest.Seeds(t, func(v any) ([]byte, error) { return stdjson.Marshal(codectest.JSONValue(v)) }, nasties)
}

// jsonNasties are JSON-specific inputs at the edges of RFC 8259 and of the
// WAMP message rules.
var jsonNasties = []string{
	"", " ", "[", "]", "[]", "{}", "null", `"\u0000"`, "[16]",
	`[16, 1, {}, "a"]`, " \t\r\n[16,1,{},\"a\"]\r\n", `[16, 1, {}, "a",]`, `[16, 1, {,}, "a"]`,
	`[16, 01, {}, "a"]`, `[16, -0, {}, "a"]`, `[16, 1.0, {}, "a"]`, `[16, 1e3, {}, "a"]`, `[16, +1, {}, "a"]`,
	`[16, 9007199254740992, {}, "a"]`, `[16, 9007199254740993, {}, "a"]`, `[16, 18446744073709551616, {}, "a"]`,
	`[16, 1, {}, "a", [NaN, Infinity, -Infinity]]`, `[16, 1, {}, "a", [1., .5, 1e, -, 1e+]]`,
	`[16, 1, {}, "a", [1e400]]`, `[16, 1, {}, "a", [-1e400, 1e-400, 0e99999, 1e99999999999999999999]]`,
	`[16, 1, {}, "a", [1.7976931348623157e308, 1.7976931348623159e308, 4.9e-324]]`,
	`[16, 1, {}, "a", [18446744073709551615, -9223372036854775808, -9223372036854775809]]`,
	`[16, 1, {}, "a", ["\ud834\udd1e", "\ud800", "\udc00", "\ud800\u0041", "\u12", "\x", "\'"]]`,
	"[16, 1, {}, \"a\", [\"\xff\", \"\xc0\xaf\", \"\xed\xa0\x80\", \"\xf4\x90\x80\x80\", \"\xe2\x82\"]]",
	"[16, 1, {}, \"a\t\"]", "[16, 1, {}, \"a\x00\"]", "\xef\xbb\xbf[16, 1, {}, \"a\"]", "[16,\f1,{},\"a\"]",
	`[16, 1, {} /* c */, "a"]`, `[16, 1, {}, "a"] // c`, `[16, 1, {}, "a"]]`, `[16, 1, {}, "a"] [`,
	`[16, 1, {}, "a", ["\u0000AQID", "\u0000AQI", "\u0000AQ==", "\u0000A", "\u0000", "\u0000!!", "\u0000AA\nAA"]]`,
	`[16, 1, {}, "a", [], {"\u0000AQID": "\u0000AQID"}]`, `[16, 1, {}, "a", [], {1: 2}]`,
	`[16, 1, {"acknowledge": true, "acknowledge": null, "exclude": [1], "exclude": [2, 3]}, "a"]`,
	`[16, 1, {"acknow\u006cedge": true, "exclude_authid": "x\ny"}, "com.\u0041pp"]`,
	`[1, "r", {"roles": {"caller": {"features": {"call_canceling": true, "call_cancelling": 1}}}}]`,
	`[1, "r", {"roles": {"callee": null, "broker": {"features": null}, "x": [1]}, "authextra": {"a": []}}]`,
	`[16, 1, {}, "a", [` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `]]`,
	`[16, 1, {}, "a", [` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `]]`,
	`[16, 1, {}, "a", [` + strings.Repeat("[", 5000),
	`[16, 1, {}, "a", [1` + strings.Repeat("0", 400) + `]]`,
	`[8, 68, 6131533, {}, "e", [], {}]`, `[8, 65536, 1, {}, "e"]`, `[300, 1]`, `[65552, 1]`, `[35, 1, {}, 1]`,
}

// TestJSONSeedCorpus keeps the checked-in corpus in step with codectest:
// run with -jsoncorpus.update to rewrite it.
func TestJSONSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for name, data := range jsonCaseSeeds(t) {
		for _, target := range []string{"FuzzJSONDecode", "FuzzJSONWalk"} {
			files[target+"/"+name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		}
	}
	wsCheckCorpus(t, files, *jsonUpdateCorpus, "-jsoncorpus.update", "TestJSONSeedCorpus")
}

func jsonAddSeeds(f *testing.F) {
	for _, data := range jsonCaseSeeds(f) {
		f.Add(data)
	}
}

// FuzzJSONDecode: Decode never panics and classifies every failure as a
// *codec.Error; what it accepts is valid JSON, and Append → Decode (with
// the verbatim dict and with typed Details only) gives an equal Message.
func FuzzJSONDecode(f *testing.F) {
	jsonAddSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m codec.Message
		err := zjson.Decode(&m, data)
		if err != nil {
			var ce *codec.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Decode error %T %v is not *codec.Error", err, err)
			}
			return
		}
		if !stdjson.Valid(data) {
			t.Fatalf("Decode accepted what encoding/json rejects: %q", data)
		}
		codectest.ReEncode(t, zjson.Codec, &m, func(m2 *codec.Message) { codectest.SameMessage(t, m2, &m) })
	})
}

// FuzzJSONWalk: Walk never panics; it rejects whatever encoding/json
// rejects; its tokens keep the Walk contract and Walk → Writer → Walk
// reproduces them, with stable output (codectest.ThroughWriter); and where
// it accepts, encoding/json reads the same values (the binary convention
// applied, numbers compared exactly).
func FuzzJSONWalk(f *testing.F) {
	jsonAddSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r codectest.Recorder
		err := zjson.Walk(data, &r, codec.DefaultMaxDepth)
		if err != nil {
			var ce *codec.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Walk error %T %v is not *codec.Error", err, err)
			}
			if len(r.Toks) != 0 {
				t.Fatalf("Walk emitted tokens before failing")
			}
			return
		}
		if !stdjson.Valid(data) {
			t.Fatalf("Walk accepted what encoding/json rejects: %q", data)
		}
		codectest.ThroughWriter(t, zjson.Codec, data, r.Toks)

		got, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: data})
		if err != nil {
			t.Fatalf("ToGo after a successful Walk: %v", err)
		}
		ref, err := codectest.JSONUnmarshal(data)
		if err != nil {
			t.Fatalf("encoding/json rejects %q: %v", data, err)
		}
		if !codectest.SameAsJSON(got, ref) {
			t.Fatalf("values differ for %q:\n got %#v\nref %#v", data, got, ref)
		}
	})
}
