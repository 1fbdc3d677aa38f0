package cbor

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.txt from Append")

const goldenPath = "testdata/golden.txt"

type goldenMsg struct {
	name string
	m    codec.Message
}

// goldenMessages builds one message of every type from typed fields (no
// Dict), exercising every KeyKind and every enum written from its value.
func goldenMessages(t testing.TB) []goldenMsg {
	raw := func(v any) codec.Raw { return codec.Raw{Format: codec.CBOR, Bytes: mustRef(t, v)} }
	hello := []any{"Hello, world!"}
	var out []goldenMsg
	add := func(name string, m codec.Message, f func(d *codec.Details)) {
		if f != nil {
			f(&m.Details)
		}
		out = append(out, goldenMsg{name, m})
	}
	add("HELLO", codec.Message{Type: codec.HELLO, URI: []byte("realm1")}, func(d *codec.Details) {
		d.Roles = codec.RolePublisher | codec.RoleSubscriber | codec.RoleCaller | codec.RoleCallee
		d.Features[1] = codec.FeaturePatternBasedSubscription
		d.Features[2] = codec.FeatureProgressiveCallResults | codec.FeatureCallCanceling
		d.Features[3] = codec.FeatureSharedRegistration | codec.FeatureCallerIdentification
		d.Mark(codec.KeyRoles)
		d.AuthMethods = [][]byte{[]byte("wampcra"), []byte("ticket")}
		d.Mark(codec.KeyAuthMethods)
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.AuthExtra = raw(map[string]any{"pubkey": "abc"})
		d.Mark(codec.KeyAuthExtra)
	})
	add("WELCOME", codec.Message{Type: codec.WELCOME, ID: 9129137332}, func(d *codec.Details) {
		d.Roles = codec.RoleBroker | codec.RoleDealer
		d.Features[4] = codec.FeaturePublisherExclusion | codec.FeatureSubscriptionMetaAPI
		d.Features[5] = codec.FeatureCallTimeout | codec.FeaturePayloadPassthruMode
		d.Mark(codec.KeyRoles)
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.SetString(codec.KeyAuthRole, []byte("user"))
		d.SetString(codec.KeyAuthMethod, []byte("ticket"))
		d.SetString(codec.KeyAuthProvider, []byte("static"))
	})
	add("ABORT", codec.Message{Type: codec.ABORT, URI: []byte("wamp.error.no_such_realm"), Args: raw([]any{"bad"}), Kwargs: raw(map[string]any{"k": 1})}, func(d *codec.Details) {
		d.SetString(codec.KeyMessage, []byte("The realm does not exist."))
	})
	add("CHALLENGE", codec.Message{Type: codec.CHALLENGE, URI: []byte("ticket")}, nil)
	add("AUTHENTICATE", codec.Message{Type: codec.AUTHENTICATE, URI: []byte("secret!!!")}, nil)
	add("GOODBYE", codec.Message{Type: codec.GOODBYE, URI: []byte("wamp.close.system_shutdown")}, func(d *codec.Details) {
		d.SetString(codec.KeyMessage, []byte("The host is shutting down now."))
	})
	add("ERROR", codec.Message{Type: codec.ERROR, ErrorType: codec.INVOCATION, Request: 6131533, URI: []byte("com.myapp.error.object_write_protected"),
		Args: raw([]any{"Object is write protected."}), Kwargs: raw(map[string]any{"severity": 3})}, nil)
	add("PUBLISH", codec.Message{Type: codec.PUBLISH, Request: 239714735, URI: []byte("com.myapp.topic1"), Args: raw(hello), Kwargs: raw(map[string]any{"color": "orange"})}, func(d *codec.Details) {
		d.SetBool(codec.KeyAcknowledge, true)
		d.SetBool(codec.KeyExcludeMe, false)
		d.Exclude = []uint64{7, codec.MaxID}
		d.Mark(codec.KeyExclude)
		d.Eligible = []uint64{}
		d.Mark(codec.KeyEligible)
		d.ExcludeAuthID = [][]byte{[]byte("ü€𝄞")}
		d.Mark(codec.KeyExcludeAuthID)
		d.EligibleAuthRole = [][]byte{[]byte("user"), []byte("admin")}
		d.Mark(codec.KeyEligibleAuthRole)
		d.SetBool(codec.KeyRetain, true)
		d.SetString(codec.KeyPPTScheme, []byte("x_custom"))
		d.SetString(codec.KeyPPTSerializer, []byte("cbor"))
		d.SetString(codec.KeyPPTCipher, []byte("xsalsa20poly1305"))
		d.SetString(codec.KeyPPTKeyID, []byte("k1"))
	})
	add("PUBLISHED", codec.Message{Type: codec.PUBLISHED, Request: 239714735, ID: 4429313566}, nil)
	add("SUBSCRIBE", codec.Message{Type: codec.SUBSCRIBE, Request: 713845233, URI: []byte("com.myapp")}, func(d *codec.Details) {
		d.Match = codec.MatchPrefix // written from the enum: Str is nil
		d.Mark(codec.KeyMatch)
		d.SetBool(codec.KeyGetRetained, true)
	})
	add("SUBSCRIBED", codec.Message{Type: codec.SUBSCRIBED, Request: 713845233, ID: 5512315355}, nil)
	add("UNSUBSCRIBE", codec.Message{Type: codec.UNSUBSCRIBE, Request: 85346237, ID: 5512315355}, nil)
	add("UNSUBSCRIBED", codec.Message{Type: codec.UNSUBSCRIBED, Request: 85346237}, nil)
	add("EVENT", codec.Message{Type: codec.EVENT, ID: 5512315355, Publication: 4429313566, Args: raw(hello)}, func(d *codec.Details) {
		d.SetUint(codec.KeyPublisher, 3335656)
		d.SetString(codec.KeyPublisherAuthID, []byte("joe"))
		d.SetString(codec.KeyPublisherAuthRole, []byte("user"))
		d.SetString(codec.KeyTopic, []byte("com.myapp.topic1"))
		d.SetBool(codec.KeyRetained, true)
		d.SetUint(codec.KeyTrustlevel, 2)
	})
	add("CALL", codec.Message{Type: codec.CALL, Request: 7814135, URI: []byte("com.myapp.user.new"), Kwargs: raw(map[string]any{"firstname": "John", "surname": "Doe"})}, func(d *codec.Details) {
		d.SetBool(codec.KeyDiscloseMe, true)
		d.SetBool(codec.KeyReceiveProgress, true)
		d.SetUint(codec.KeyTimeout, math.MaxUint32+1)
	})
	add("CANCEL", codec.Message{Type: codec.CANCEL, Request: 7814135}, func(d *codec.Details) {
		d.Mode = codec.ModeKillNoWait
		d.Mark(codec.KeyMode)
	})
	add("RESULT", codec.Message{Type: codec.RESULT, Request: 7814135, Args: raw([]any{30, -1.5, nil, []byte{0, 0xff}}), Kwargs: raw(map[string]any{"userid": 123, "karma": 10})}, func(d *codec.Details) {
		d.SetBool(codec.KeyProgress, true)
	})
	add("REGISTER", codec.Message{Type: codec.REGISTER, Request: 25349185, URI: []byte("com.myapp..add2")}, func(d *codec.Details) {
		d.SetString(codec.KeyMatch, []byte("wildcard"))
		d.Match = codec.MatchWildcard
		d.Invoke = codec.InvokeRoundRobin
		d.Mark(codec.KeyInvoke)
		d.SetBool(codec.KeyForwardTimeout, true)
	})
	add("REGISTERED", codec.Message{Type: codec.REGISTERED, Request: 25349185, ID: 2103333224}, nil)
	add("UNREGISTER", codec.Message{Type: codec.UNREGISTER, Request: 788923562, ID: 2103333224}, nil)
	add("UNREGISTERED", codec.Message{Type: codec.UNREGISTERED, Request: 788923562}, nil)
	add("INVOCATION", codec.Message{Type: codec.INVOCATION, Request: 6131533, ID: 9823529, Args: raw(hello)}, func(d *codec.Details) {
		d.SetBool(codec.KeyReceiveProgress, true)
		d.SetUint(codec.KeyTimeout, 5)
		d.SetUint(codec.KeyCaller, 3335656)
		d.SetString(codec.KeyCallerAuthID, []byte("joe"))
		d.SetString(codec.KeyCallerAuthRole, []byte("user"))
		d.SetString(codec.KeyProcedure, []byte("com.myapp.echo"))
	})
	add("INTERRUPT", codec.Message{Type: codec.INTERRUPT, Request: 6131533}, func(d *codec.Details) {
		d.Mode = codec.ModeKill
		d.Mark(codec.KeyMode)
	})
	add("YIELD", codec.Message{Type: codec.YIELD, Request: 6131533, Args: raw(hello), Kwargs: raw(map[string]any{"nested": map[string]any{"a": []any{[]any{}}}})}, func(d *codec.Details) {
		d.SetBool(codec.KeyProgress, false)
	})
	return out
}

func readGolden(t *testing.T) map[string][]byte {
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, hx, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(hx)
		if !ok || err != nil {
			t.Fatalf("golden line %q: %v", line, err)
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGolden asserts Append's exact bytes for one message of every type,
// decodes them back to the same fields, and checks that they are in
// preferred serialization (the Writer, which always writes it, reproduces
// them) and readable by the reference library.
func TestGolden(t *testing.T) {
	msgs := goldenMessages(t)
	if *update {
		var b strings.Builder
		b.WriteString("# codec/cbor golden vectors: one WAMP message per line, \"TYPE HEX\", as\n")
		b.WriteString("# written by Append from typed Details (see goldenMessages in golden_test.go).\n")
		b.WriteString("# Regenerate: go test ./codec/cbor -run TestGolden -update\n")
		for _, g := range msgs {
			out, err := Append(nil, &g.m)
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			b.WriteString(g.name + " " + hex.EncodeToString(out) + "\n")
		}
		if err := os.WriteFile(goldenPath, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readGolden(t)
	seen := map[codec.Type]bool{}
	for _, g := range msgs {
		t.Run(g.name, func(t *testing.T) {
			seen[g.m.Type] = true
			want, ok := golden[g.name]
			if !ok {
				t.Fatalf("no golden vector")
			}
			out, err := Append(nil, &g.m)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("Append = %x\ngolden   %x", out, want)
			}

			var m codec.Message
			if err := Decode(&m, want); err != nil {
				t.Fatalf("Decode(golden): %v", err)
			}
			w := codectest.Want{Type: g.m.Type, Request: g.m.Request, ID: g.m.ID, Publication: g.m.Publication,
				ErrorType: g.m.ErrorType, URI: string(g.m.URI), Details: codectest.DecodedDetails(g.m.Details)}
			if g.m.Args.Bytes != nil {
				w.Args, _ = codec.ToGo(g.m.Args)
			} else if g.m.Kwargs.Bytes != nil {
				w.Args = []any{}
			}
			w.Kwargs, _ = codec.ToGo(g.m.Kwargs)
			codectest.Check(t, &m, w)

			wr := NewWriter()
			if err := Walk(want, wr, 0); err != nil || !bytes.Equal(wr.Bytes(), want) {
				t.Errorf("golden bytes are not in preferred serialization: rewritten as %x (%v)", wr.Bytes(), err)
			}
			var v any
			if err := reflib.CBORDec.Unmarshal(want, &v); err != nil {
				t.Errorf("reference library rejects golden bytes: %v", err)
			}
		})
	}
	for typ := codec.Type(0); typ < 1024; typ++ {
		if typ.Valid() && !seen[typ] {
			t.Errorf("no golden message of type %v", typ)
		}
	}
}
