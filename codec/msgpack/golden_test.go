package msgpack

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt from Append's output")

const goldenPath = "testdata/golden.txt"

// goldenCase is a Message built from typed fields (Details, never Dict),
// and the value the reference library must read from its encoding: the
// golden bytes are checked against an independent decoder, not only
// against themselves.
type goldenCase struct {
	name string
	msg  func(t testing.TB) *codec.Message
	ref  []any
}

// raw encodes a payload value with the reference library (sorted keys,
// smallest ints), so that payload bytes are reproducible.
func raw(t testing.TB, v any) codec.Raw {
	return codec.Raw{Format: codec.MsgPack, Bytes: refEncode(t, v, refModes[1])}
}

func msg(typ codec.Type, f func(m *codec.Message)) func(t testing.TB) *codec.Message {
	return func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: typ}
		f(m)
		return m
	}
}

func bss(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

var goldenCases = []goldenCase{
	{"HELLO", func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: codec.HELLO, URI: []byte("realm1")}
		d := &m.Details
		d.Mark(codec.KeyRoles)
		d.Roles = codec.RolePublisher | codec.RoleSubscriber | codec.RoleCaller | codec.RoleCallee
		d.Features[1] = codec.FeaturePatternBasedSubscription
		d.Features[2] = codec.FeatureProgressiveCallResults | codec.FeatureCallCanceling
		d.Features[3] = codec.FeatureSharedRegistration
		d.AuthMethods = bss("wampcra", "ticket")
		d.Mark(codec.KeyAuthMethods)
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.AuthExtra = raw(t, dict{"pubkey": "abc"})
		d.Mark(codec.KeyAuthExtra)
		return m
	}, []any{1, "realm1", dict{
		"roles": dict{
			"publisher":  dict{},
			"subscriber": dict{"features": dict{"pattern_based_subscription": true}},
			"caller":     dict{"features": dict{"progressive_call_results": true, "call_canceling": true}},
			"callee":     dict{"features": dict{"shared_registration": true}},
		},
		"authmethods": []any{"wampcra", "ticket"},
		"authid":      "joe",
		"authextra":   dict{"pubkey": "abc"},
	}}},
	{"WELCOME", msg(codec.WELCOME, func(m *codec.Message) {
		m.ID = 9129137332
		d := &m.Details
		d.Mark(codec.KeyRoles)
		d.Roles = codec.RoleBroker | codec.RoleDealer
		d.Features[4] = codec.FeaturePublisherExclusion
		d.Features[5] = codec.FeatureCallTimeout | codec.FeatureCallerIdentification
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.SetString(codec.KeyAuthRole, []byte("user"))
		d.SetString(codec.KeyAuthMethod, []byte("ticket"))
		d.SetString(codec.KeyAuthProvider, []byte("static"))
	}), []any{2, 9129137332, dict{
		"roles": dict{
			"broker": dict{"features": dict{"publisher_exclusion": true}},
			"dealer": dict{"features": dict{"call_timeout": true, "caller_identification": true}},
		},
		"authid": "joe", "authrole": "user", "authmethod": "ticket", "authprovider": "static",
	}}},
	{"ABORT", msg(codec.ABORT, func(m *codec.Message) {
		m.Details.SetString(codec.KeyMessage, []byte("The realm does not exist."))
		m.URI = []byte("wamp.error.no_such_realm")
	}), []any{3, dict{"message": "The realm does not exist."}, "wamp.error.no_such_realm"}},
	{"CHALLENGE", msg(codec.CHALLENGE, func(m *codec.Message) {
		m.URI = []byte("ticket")
	}), []any{4, "ticket", dict{}}},
	{"AUTHENTICATE", msg(codec.AUTHENTICATE, func(m *codec.Message) {
		m.URI = []byte("gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=")
	}), []any{5, "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=", dict{}}},
	{"GOODBYE", msg(codec.GOODBYE, func(m *codec.Message) {
		m.Details.SetString(codec.KeyMessage, []byte("The host is shutting down now."))
		m.URI = []byte("wamp.close.system_shutdown")
	}), []any{6, dict{"message": "The host is shutting down now."}, "wamp.close.system_shutdown"}},
	{"ERROR", func(t testing.TB) *codec.Message {
		return &codec.Message{Type: codec.ERROR, ErrorType: codec.INVOCATION, Request: 6131533,
			URI: []byte("com.myapp.error.object_write_protected"), Args: raw(t, []any{"Object is write protected."}),
			Kwargs: raw(t, dict{"severity": 3})}
	}, []any{8, 68, 6131533, dict{}, "com.myapp.error.object_write_protected", []any{"Object is write protected."}, dict{"severity": 3}}},
	{"PUBLISH", func(t testing.TB) *codec.Message {
		return &codec.Message{Type: codec.PUBLISH, Request: 239714735, URI: []byte("com.myapp.topic1"),
			Args: raw(t, []any{"Hello, world!"}), Kwargs: raw(t, dict{"color": "orange"})}
	}, []any{16, 239714735, dict{}, "com.myapp.topic1", []any{"Hello, world!"}, dict{"color": "orange"}}},
	{"PUBLISH options", msg(codec.PUBLISH, func(m *codec.Message) {
		m.Request = 1
		m.URI = []byte("com.myapp.topic1")
		d := &m.Details
		d.SetBool(codec.KeyAcknowledge, true)
		d.SetBool(codec.KeyExcludeMe, false)
		d.SetBool(codec.KeyDiscloseMe, true)
		d.Exclude = []uint64{7, 1 << 53}
		d.Mark(codec.KeyExclude)
		d.Eligible = []uint64{300}
		d.Mark(codec.KeyEligible)
		d.ExcludeAuthID = bss("a", "b")
		d.Mark(codec.KeyExcludeAuthID)
		d.ExcludeAuthRole = bss("admin")
		d.Mark(codec.KeyExcludeAuthRole)
		d.EligibleAuthID = bss()
		d.Mark(codec.KeyEligibleAuthID)
		d.EligibleAuthRole = bss("user")
		d.Mark(codec.KeyEligibleAuthRole)
		d.SetBool(codec.KeyRetain, true)
		d.SetString(codec.KeyPPTScheme, []byte("x_custom"))
		d.SetString(codec.KeyPPTSerializer, []byte("cbor"))
		d.SetString(codec.KeyPPTCipher, []byte("xsalsa20poly1305"))
		d.SetString(codec.KeyPPTKeyID, []byte("k1"))
	}), []any{16, 1, dict{
		"acknowledge": true, "exclude_me": false, "disclose_me": true,
		"exclude": []any{7, uint64(1 << 53)}, "eligible": []any{300},
		"exclude_authid": []any{"a", "b"}, "exclude_authrole": []any{"admin"},
		"eligible_authid": []any{}, "eligible_authrole": []any{"user"},
		"retain": true, "ppt_scheme": "x_custom", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k1",
	}, "com.myapp.topic1"}},
	{"PUBLISHED", msg(codec.PUBLISHED, func(m *codec.Message) { m.Request, m.ID = 239714735, 4429313566 }),
		[]any{17, 239714735, 4429313566}},
	{"SUBSCRIBE", msg(codec.SUBSCRIBE, func(m *codec.Message) {
		m.Request = 713845233
		m.Details.SetString(codec.KeyMatch, []byte("prefix"))
		m.Details.SetBool(codec.KeyGetRetained, true)
		m.URI = []byte("com.myapp")
	}), []any{32, 713845233, dict{"match": "prefix", "get_retained": true}, "com.myapp"}},
	{"SUBSCRIBED", msg(codec.SUBSCRIBED, func(m *codec.Message) { m.Request, m.ID = 713845233, 5512315355 }),
		[]any{33, 713845233, 5512315355}},
	{"UNSUBSCRIBE", msg(codec.UNSUBSCRIBE, func(m *codec.Message) { m.Request, m.ID = 85346237, 5512315355 }),
		[]any{34, 85346237, 5512315355}},
	{"UNSUBSCRIBED", msg(codec.UNSUBSCRIBED, func(m *codec.Message) { m.Request = 85346237 }),
		[]any{35, 85346237}},
	{"EVENT", func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: codec.EVENT, ID: 5512315355, Publication: 4429313566, Args: raw(t, []any{"Hello, world!"})}
		d := &m.Details
		d.SetUint(codec.KeyPublisher, 3335656)
		d.SetString(codec.KeyPublisherAuthID, []byte("joe"))
		d.SetString(codec.KeyPublisherAuthRole, []byte("user"))
		d.SetString(codec.KeyTopic, []byte("com.myapp.topic1"))
		d.SetBool(codec.KeyRetained, true)
		d.SetUint(codec.KeyTrustlevel, 2)
		return m
	}, []any{36, 5512315355, 4429313566, dict{
		"publisher": 3335656, "publisher_authid": "joe", "publisher_authrole": "user",
		"topic": "com.myapp.topic1", "retained": true, "trustlevel": 2,
	}, []any{"Hello, world!"}}},
	{"CALL", func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: codec.CALL, Request: 7814135, URI: []byte("com.myapp.user.new"),
			Args: raw(t, []any{"johnny"}), Kwargs: raw(t, dict{"firstname": "John", "surname": "Doe"})}
		m.Details.SetBool(codec.KeyReceiveProgress, true)
		m.Details.SetUint(codec.KeyTimeout, 1000)
		m.Details.SetBool(codec.KeyDiscloseMe, true)
		return m
	}, []any{48, 7814135, dict{"receive_progress": true, "timeout": 1000, "disclose_me": true}, "com.myapp.user.new",
		[]any{"johnny"}, dict{"firstname": "John", "surname": "Doe"}}},
	{"CANCEL", msg(codec.CANCEL, func(m *codec.Message) {
		m.Request = 7814135
		m.Details.Mark(codec.KeyMode) // enum only: written by name
		m.Details.Mode = codec.ModeKillNoWait
	}), []any{49, 7814135, dict{"mode": "killnowait"}}},
	{"RESULT", func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: codec.RESULT, Request: 7814135, Args: raw(t, []any{30}), Kwargs: raw(t, dict{"userid": 123, "karma": 10})}
		m.Details.SetBool(codec.KeyProgress, true)
		return m
	}, []any{50, 7814135, dict{"progress": true}, []any{30}, dict{"userid": 123, "karma": 10}}},
	{"REGISTER", msg(codec.REGISTER, func(m *codec.Message) {
		m.Request = 25349185
		m.Details.Mark(codec.KeyMatch)
		m.Details.Match = codec.MatchWildcard
		m.Details.SetString(codec.KeyInvoke, []byte("roundrobin"))
		m.Details.SetBool(codec.KeyForwardTimeout, true)
		m.URI = []byte("com.myapp..add2")
	}), []any{64, 25349185, dict{"match": "wildcard", "invoke": "roundrobin", "forward_timeout": true}, "com.myapp..add2"}},
	{"REGISTERED", msg(codec.REGISTERED, func(m *codec.Message) { m.Request, m.ID = 25349185, 2103333224 }),
		[]any{65, 25349185, 2103333224}},
	{"UNREGISTER", msg(codec.UNREGISTER, func(m *codec.Message) { m.Request, m.ID = 788923562, 2103333224 }),
		[]any{66, 788923562, 2103333224}},
	{"UNREGISTERED", msg(codec.UNREGISTERED, func(m *codec.Message) { m.Request = 788923562 }),
		[]any{67, 788923562}},
	{"INVOCATION", func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: codec.INVOCATION, Request: 6131533, ID: 9823529, Args: raw(t, []any{"Hello, world!"})}
		d := &m.Details
		d.SetUint(codec.KeyCaller, 3335656)
		d.SetString(codec.KeyCallerAuthID, []byte("joe"))
		d.SetString(codec.KeyCallerAuthRole, []byte("user"))
		d.SetString(codec.KeyProcedure, []byte("com.myapp.echo"))
		d.SetBool(codec.KeyReceiveProgress, true)
		d.SetUint(codec.KeyTimeout, 5)
		return m
	}, []any{68, 6131533, 9823529, dict{
		"caller": 3335656, "caller_authid": "joe", "caller_authrole": "user",
		"procedure": "com.myapp.echo", "receive_progress": true, "timeout": 5,
	}, []any{"Hello, world!"}}},
	{"INTERRUPT", msg(codec.INTERRUPT, func(m *codec.Message) {
		m.Request = 6131533
		m.Details.SetString(codec.KeyMode, []byte("kill"))
	}), []any{69, 6131533, dict{"mode": "kill"}}},
	{"YIELD", func(t testing.TB) *codec.Message {
		m := &codec.Message{Type: codec.YIELD, Request: 6131533,
			Args: raw(t, []any{[]byte{0x10, 0xe3, 0xff}, -1, 1.5}), Kwargs: raw(t, dict{"k": nil})}
		m.Details.SetBool(codec.KeyProgress, false)
		return m
	}, []any{70, 6131533, dict{"progress": false}, []any{[]byte{0x10, 0xe3, 0xff}, -1, 1.5}, dict{"k": nil}}},
}

// TestGolden asserts Append's exact bytes for one message of every type,
// checks them against the reference library's reading, and decodes them
// back into the same message. Run with -update to rewrite the file after a
// deliberate change, then review the diff.
func TestGolden(t *testing.T) {
	var out bytes.Buffer
	out.WriteString("# MessagePack encodings written by codec/msgpack.Append from typed Messages\n")
	out.WriteString("# (see golden_test.go). One message per line: name, tab, hex.\n")
	golden := readGolden(t)
	for _, c := range goldenCases {
		m := c.msg(t)
		got, err := Append(nil, m)
		if err != nil {
			t.Errorf("%s: Append: %v", c.name, err)
			continue
		}
		fmt.Fprintf(&out, "%s\t%x\n", c.name, got)
		if !*update {
			want, ok := golden[c.name]
			if !ok {
				t.Errorf("%s: missing from %s", c.name, goldenPath)
			} else if !bytes.Equal(got, want) {
				t.Errorf("%s: Append =\n%x\nwant\n%x", c.name, got, want)
			}
		}

		ref, err := reflib.MsgPackDecode(got)
		if err != nil {
			t.Errorf("%s: reference decode: %v", c.name, err)
		} else if d := diff(ref, c.ref, "$"); d != "" {
			t.Errorf("%s: reference library reads something else: %s", c.name, d)
		}

		var back codec.Message
		if err := Decode(&back, got); err != nil {
			t.Errorf("%s: Decode: %v", c.name, err)
			continue
		}
		want := *m
		want.Details = codectest.DecodedDetails(m.Details)
		t.Run(c.name, func(t *testing.T) { codectest.SameMessage(t, &back, &want) })
	}
	if *update {
		if err := os.WriteFile(goldenPath, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(golden) != len(goldenCases) && !*update {
		t.Errorf("%s has %d entries, want %d", goldenPath, len(golden), len(goldenCases))
	}
}

func readGolden(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(goldenPath)
	if err != nil {
		if *update {
			return nil
		}
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hx, ok := strings.Cut(line, "\t")
		b, err := hex.DecodeString(hx)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q", goldenPath, line)
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
