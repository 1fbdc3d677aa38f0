package json

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden.txt from the current encoder")

func raw(s string) codec.Raw { return codec.Raw{Format: codec.JSON, Bytes: []byte(s)} }

func details(f func(d *codec.Details)) codec.Details {
	var d codec.Details
	f(&d)
	return d
}

// goldenMessages are built from typed fields (never a Dict), so the golden
// file pins the Details encoder: key order, each KeyKind, enum fallbacks,
// roles and features, string escaping.
var goldenMessages = []struct {
	name string
	m    codec.Message
}{
	{"HELLO", codec.Message{Type: codec.HELLO, URI: []byte("realm1"), Details: details(func(d *codec.Details) {
		d.Roles = codec.RolePublisher | codec.RoleSubscriber | codec.RoleCaller | codec.RoleCallee
		d.Features[codec.RoleIndex(codec.RoleSubscriber)] = codec.FeaturePatternBasedSubscription | codec.FeatureSubscriptionRevocation
		d.Features[codec.RoleIndex(codec.RoleCaller)] = codec.FeatureProgressiveCallResults | codec.FeatureCallCanceling
		d.Mark(codec.KeyRoles)
		d.AuthMethods = [][]byte{[]byte("ticket"), []byte("wampcra")}
		d.Mark(codec.KeyAuthMethods)
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.AuthExtra = raw(`{"pubkey":"0a1b"}`)
		d.Mark(codec.KeyAuthExtra)
	})}},
	{"WELCOME", codec.Message{Type: codec.WELCOME, ID: 9129137332, Details: details(func(d *codec.Details) {
		d.Roles = codec.RoleBroker | codec.RoleDealer
		d.Features[codec.RoleIndex(codec.RoleDealer)] = codec.FeatureCallTimeout | codec.FeatureCallerIdentification
		d.Mark(codec.KeyRoles)
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.SetString(codec.KeyAuthRole, []byte("user"))
		d.SetString(codec.KeyAuthMethod, []byte("ticket"))
		d.SetString(codec.KeyAuthProvider, []byte("static"))
	})}},
	{"ABORT", codec.Message{Type: codec.ABORT, URI: []byte("wamp.error.no_such_realm"), Details: details(func(d *codec.Details) {
		d.SetString(codec.KeyMessage, []byte("Realm \"x\" does not exist.\n"))
	})}},
	{"CHALLENGE", codec.Message{Type: codec.CHALLENGE, URI: []byte("wampcra")}},
	{"AUTHENTICATE", codec.Message{Type: codec.AUTHENTICATE, URI: []byte("gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=")}},
	{"GOODBYE", codec.Message{Type: codec.GOODBYE, URI: []byte("wamp.close.system_shutdown"), Details: details(func(d *codec.Details) {
		d.SetString(codec.KeyMessage, []byte("Bye – ünïcödé 𝄞"))
	})}},
	{"ERROR", codec.Message{Type: codec.ERROR, ErrorType: codec.CALL, Request: 7814135, URI: []byte("wamp.error.no_such_procedure"),
		Args: raw(`["no such procedure"]`), Kwargs: raw(`{"procedure":"com.x"}`)}},
	{"PUBLISH", codec.Message{Type: codec.PUBLISH, Request: 239714735, URI: []byte("com.myapp.topic1"), Details: details(func(d *codec.Details) {
		d.SetBool(codec.KeyAcknowledge, true)
		d.SetBool(codec.KeyExcludeMe, false)
		d.SetBool(codec.KeyDiscloseMe, true)
		d.Exclude = []uint64{1, codec.MaxID}
		d.Mark(codec.KeyExclude)
		d.Eligible = []uint64{}
		d.Mark(codec.KeyEligible)
		d.ExcludeAuthID = [][]byte{[]byte("a\\b")}
		d.Mark(codec.KeyExcludeAuthID)
		d.ExcludeAuthRole = [][]byte{[]byte("guest")}
		d.Mark(codec.KeyExcludeAuthRole)
		d.EligibleAuthID = [][]byte{[]byte("joe"), []byte("ann")}
		d.Mark(codec.KeyEligibleAuthID)
		d.EligibleAuthRole = [][]byte{[]byte("user")}
		d.Mark(codec.KeyEligibleAuthRole)
		d.SetBool(codec.KeyRetain, true)
		d.SetString(codec.KeyPPTScheme, []byte("wamp"))
		d.SetString(codec.KeyPPTSerializer, []byte("cbor"))
		d.SetString(codec.KeyPPTCipher, []byte("xsalsa20poly1305"))
		d.SetString(codec.KeyPPTKeyID, []byte("k1"))
	}), Args: raw(`["Hello, world!"]`), Kwargs: raw(`{"color":"orange"}`)}},
	{"PUBLISH kwargs only", codec.Message{Type: codec.PUBLISH, Request: 1, URI: []byte("a.b"), Kwargs: raw(`{"x":1}`)}},
	{"PUBLISHED", codec.Message{Type: codec.PUBLISHED, Request: 239714735, ID: 4429313566}},
	{"SUBSCRIBE", codec.Message{Type: codec.SUBSCRIBE, Request: 713845233, URI: []byte("com.myapp"), Details: details(func(d *codec.Details) {
		d.Match = codec.MatchPrefix // no raw string: the enum's name is written
		d.Mark(codec.KeyMatch)
		d.SetBool(codec.KeyGetRetained, true)
	})}},
	{"SUBSCRIBED", codec.Message{Type: codec.SUBSCRIBED, Request: 713845233, ID: 5512315355}},
	{"UNSUBSCRIBE", codec.Message{Type: codec.UNSUBSCRIBE, Request: 85346237, ID: 5512315355}},
	{"UNSUBSCRIBED", codec.Message{Type: codec.UNSUBSCRIBED, Request: 85346237}},
	{"UNSUBSCRIBED details", codec.Message{Type: codec.UNSUBSCRIBED, Details: details(func(d *codec.Details) {
		d.SetString(codec.KeyMessage, []byte("revoked"))
	})}},
	{"EVENT", codec.Message{Type: codec.EVENT, ID: 5512315355, Publication: 4429313566, Details: details(func(d *codec.Details) {
		d.SetUint(codec.KeyPublisher, 3335656)
		d.SetString(codec.KeyPublisherAuthID, []byte("joe"))
		d.SetString(codec.KeyPublisherAuthRole, []byte("user"))
		d.SetBool(codec.KeyRetained, true)
		d.SetString(codec.KeyTopic, []byte("com.myapp.topic1"))
		d.SetUint(codec.KeyTrustlevel, 2)
	}), Args: raw(`["Hello, world!"]`)}},
	{"CALL", codec.Message{Type: codec.CALL, Request: 7814135, URI: []byte("com.myapp.user.new"), Details: details(func(d *codec.Details) {
		d.SetBool(codec.KeyReceiveProgress, true)
		d.SetUint(codec.KeyTimeout, 1000)
	}), Args: raw(`["johnny"]`), Kwargs: raw(`{"firstname":"John","surname":"Doe"}`)}},
	{"CANCEL", codec.Message{Type: codec.CANCEL, Request: 7814135, Details: details(func(d *codec.Details) {
		d.Mode = codec.ModeKillNoWait
		d.Mark(codec.KeyMode)
	})}},
	{"RESULT", codec.Message{Type: codec.RESULT, Request: 7814135, Details: details(func(d *codec.Details) {
		d.SetBool(codec.KeyProgress, true)
	}), Args: raw(`[30]`)}},
	{"REGISTER", codec.Message{Type: codec.REGISTER, Request: 25349185, URI: []byte("com.myapp..add2"), Details: details(func(d *codec.Details) {
		d.SetString(codec.KeyMatch, []byte("wildcard"))
		d.Match = codec.MatchWildcard
		d.Invoke = codec.InvokeRoundRobin
		d.Mark(codec.KeyInvoke)
		d.SetBool(codec.KeyForwardTimeout, true)
	})}},
	{"REGISTERED", codec.Message{Type: codec.REGISTERED, Request: 25349185, ID: 2103333224}},
	{"UNREGISTER", codec.Message{Type: codec.UNREGISTER, Request: 788923562, ID: 2103333224}},
	{"UNREGISTERED", codec.Message{Type: codec.UNREGISTERED, Request: 788923562}},
	{"INVOCATION", codec.Message{Type: codec.INVOCATION, Request: 6131533, ID: 9823529, Details: details(func(d *codec.Details) {
		d.SetBool(codec.KeyReceiveProgress, true)
		d.SetUint(codec.KeyTimeout, 5)
		d.SetUint(codec.KeyCaller, 3335656)
		d.SetString(codec.KeyCallerAuthID, []byte("joe"))
		d.SetString(codec.KeyCallerAuthRole, []byte("user"))
		d.SetString(codec.KeyProcedure, []byte("com.myapp.echo"))
	}), Args: raw(`["Hello, world!"]`)}},
	{"INTERRUPT", codec.Message{Type: codec.INTERRUPT, Request: 6131533, Details: details(func(d *codec.Details) {
		d.SetString(codec.KeyMode, []byte("kill"))
		d.Mode = codec.ModeKill
	})}},
	{"YIELD", codec.Message{Type: codec.YIELD, Request: 6131533, Details: details(func(d *codec.Details) {
		d.SetBool(codec.KeyProgress, false)
	}), Args: raw(`["\u0000EOP/kFMHXFJvX8BtT+N82w=="]`)}},
}

// TestGolden asserts Append byte for byte against testdata/golden.txt (one
// "name<TAB>json" line per message) and decodes every line back.
func TestGolden(t *testing.T) {
	var out bytes.Buffer
	for _, g := range goldenMessages {
		b, err := Append(nil, &g.m)
		if err != nil {
			t.Fatalf("%s: Append: %v", g.name, err)
		}
		out.WriteString(g.name + "\t" + string(b) + "\n")
	}
	const path = "testdata/golden.txt"
	if *updateGolden {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	golden := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(want))
	for sc.Scan() {
		name, js, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("bad golden line %q", sc.Text())
		}
		golden[name] = js
	}
	seen := map[codec.Type]bool{}
	for _, g := range goldenMessages {
		seen[g.m.Type] = true
		b, _ := Append(nil, &g.m)
		if golden[g.name] != string(b) {
			t.Errorf("%s:\n got %s\nwant %s", g.name, b, golden[g.name])
			continue
		}
		var m codec.Message
		if err := Decode(&m, b); err != nil {
			t.Errorf("%s: Decode(golden): %v", g.name, err)
			continue
		}
		if m.Type != g.m.Type || m.Request != g.m.Request || m.ID != g.m.ID || m.Publication != g.m.Publication ||
			m.ErrorType != g.m.ErrorType || string(m.URI) != string(g.m.URI) {
			t.Errorf("%s: scalars differ after decode: %+v", g.name, m)
		}
		want := codectest.DecodedDetails(g.m.Details)
		codectest.CheckDetails(t, &m.Details, &want)
		if !bytes.Equal(m.Args.Bytes, g.m.Args.Bytes) && !(g.m.Args.Bytes == nil && g.m.Kwargs.Bytes != nil && string(m.Args.Bytes) == "[]") {
			t.Errorf("%s: Args = %s", g.name, m.Args.Bytes)
		}
		if !bytes.Equal(m.Kwargs.Bytes, g.m.Kwargs.Bytes) {
			t.Errorf("%s: Kwargs = %s", g.name, m.Kwargs.Bytes)
		}
	}
	for t2 := codec.Type(1); t2 <= codec.YIELD; t2++ {
		if t2.Valid() && !seen[t2] {
			t.Errorf("no golden vector for %v", t2)
		}
	}
}

// fakeFormat stands in for a binary serializer so that transcoding
// through codec.AppendRaw can be tested without depending on the other
// codec packages: its "encoding" is JSON, but it is registered as another
// Format, so Append must walk it into a JSON Writer.
const fakeFormat = codec.CBOR

type fakeCodec struct{}

func (fakeCodec) Format() codec.Format                          { return fakeFormat }
func (fakeCodec) Decode(*codec.Message, []byte) error           { return codec.ErrUnsupported }
func (fakeCodec) Append([]byte, *codec.Message) ([]byte, error) { return nil, codec.ErrUnsupported }
func (fakeCodec) NewWriter() codec.Writer                       { return NewWriter() }
func (fakeCodec) Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	if string(data) == "nan" {
		w.WriteFloat(nan())
		return nil
	}
	return Walk(data, w, maxDepth)
}

func init() {
	if codec.ByFormat(fakeFormat) == nil {
		codec.Register(fakeCodec{})
	}
}

// TestAppendTranscodes checks that payloads and dicts in another Format are
// re-encoded compactly, and that a value JSON cannot hold fails cleanly.
func TestAppendTranscodes(t *testing.T) {
	if _, ok := codec.ByFormat(fakeFormat).(fakeCodec); !ok {
		t.Skip("a real serializer is registered for the fake format")
	}
	fr := func(s string) codec.Raw { return codec.Raw{Format: fakeFormat, Bytes: []byte(s)} }
	m := codec.Message{Type: codec.PUBLISH, Request: 1, URI: []byte("a"),
		Dict:   fr(`{ "acknowledge" : true }`),
		Args:   fr(`[ 1.0, "\u0000AQID", -5, 18446744073709551615 ]`),
		Kwargs: fr(`{ "k" : [ ] }`)}
	b, err := Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[16,1,{"acknowledge":true},"a",[1.0,"\u0000AQID",-5,18446744073709551615],{"k":[]}]`; string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	m.Args = fr("nan")
	if b, err := Append([]byte("x"), &m); err == nil || string(b) != "x" {
		t.Errorf("NaN payload: %q, %v", b, err)
	}
	m.Args = fr(`[1,]`)
	if _, err := Append(nil, &m); err == nil {
		t.Errorf("malformed foreign payload accepted")
	}
	m = codec.Message{Type: codec.HELLO, URI: []byte("r"), Details: details(func(d *codec.Details) {
		d.AuthExtra = fr(`{"a": [1]}`)
		d.Mark(codec.KeyAuthExtra)
	})}
	if b, err := Append(nil, &m); err != nil || string(b) != `[1,"r",{"authextra":{"a":[1]}}]` {
		t.Errorf("authextra: %s, %v", b, err)
	}
}

// TestAppendDetailsEdges: bits beyond the known keys are ignored, an
// empty Details is an empty dict, and a roles key without roles is {}.
func TestAppendDetailsEdges(t *testing.T) {
	m := codec.Message{Type: codec.HELLO, URI: []byte("r")}
	m.Details.Set = 1 << 63
	m.Details.SetBool(codec.KeyAcknowledge, true)
	b, err := Append(nil, &m)
	if err != nil || string(b) != `[1,"r",{"acknowledge":true}]` {
		t.Errorf("got %s, %v", b, err)
	}
	m.Details = codec.Details{}
	m.Details.Mark(codec.KeyRoles)
	m.Details.Mark(codec.KeyAuthExtra)
	if b, err = Append(nil, &m); err != nil || string(b) != `[1,"r",{"roles":{},"authextra":{}}]` {
		t.Errorf("got %s, %v", b, err)
	}
	m = codec.Message{Type: codec.RESULT, Request: 1}
	if b, err = Append(nil, &m); err != nil || string(b) != `[50,1,{}]` {
		t.Errorf("got %s, %v", b, err)
	}
}
