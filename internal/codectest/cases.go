package codectest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// Case is one valid message.
type Case struct {
	Name  string
	Value []any // the message as a list of Go values
	Want  Want
}

// Want is what a decoded Message must hold. Args/Kwargs are compared as Go
// values (codec.ToGo); DictKeys lists the typed keys that must be Set, and
// Check compares their values to Details.
type Want struct {
	Type        codec.Type
	Request     uint64
	ID          uint64
	Publication uint64
	ErrorType   codec.Type
	URI         string
	Details     codec.Details // typed keys expected (compare only keys in Details.Set)
	Args        any           // nil means absent
	Kwargs      any           // nil means absent
}

// dict is shorthand for map[string]any.
type dict = map[string]any

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func det(f func(d *codec.Details)) codec.Details {
	var d codec.Details
	f(&d)
	return d
}

// Cases covers every message type, the spec's examples, every typed key,
// optional trailing elements, unicode, binary and big numbers in payloads.
var Cases = []Case{
	{"HELLO", []any{1, "somerealm", dict{
		"roles": dict{
			"publisher":  dict{},
			"subscriber": dict{"features": dict{"pattern_based_subscription": true}},
			"caller":     dict{"features": dict{"progressive_call_results": true, "call_canceling": true, "unknown_feature": true}},
			"callee":     dict{"features": dict{"call_cancelling": true, "shared_registration": false}},
		},
		"authmethods": []any{"wampcra", "anonymous"},
		"authid":      "joe",
		"authextra":   dict{"pubkey": "abc"},
		"x_unknown":   []any{1, 2, 3},
	}}, Want{Type: codec.HELLO, URI: "somerealm", Details: det(func(d *codec.Details) {
		d.Roles = codec.RolePublisher | codec.RoleSubscriber | codec.RoleCaller | codec.RoleCallee
		d.Features[1] = codec.FeaturePatternBasedSubscription
		d.Features[2] = codec.FeatureProgressiveCallResults | codec.FeatureCallCanceling
		d.Features[3] = codec.FeatureCallCanceling
		d.Mark(codec.KeyRoles)
		d.AuthMethods = bs("wampcra", "anonymous")
		d.Mark(codec.KeyAuthMethods)
		d.SetString(codec.KeyAuthID, []byte("joe"))
		d.Mark(codec.KeyAuthExtra)
	})}},
	{"WELCOME", []any{2, 9129137332, dict{"roles": dict{"broker": dict{}, "dealer": dict{"features": dict{"call_timeout": true}}}, "authid": "joe", "authrole": "user", "authmethod": "ticket", "authprovider": "static"}},
		Want{Type: codec.WELCOME, ID: 9129137332, Details: det(func(d *codec.Details) {
			d.Roles = codec.RoleBroker | codec.RoleDealer
			d.Features[5] = codec.FeatureCallTimeout
			d.Mark(codec.KeyRoles)
			d.SetString(codec.KeyAuthID, []byte("joe"))
			d.SetString(codec.KeyAuthRole, []byte("user"))
			d.SetString(codec.KeyAuthMethod, []byte("ticket"))
			d.SetString(codec.KeyAuthProvider, []byte("static"))
		})}},
	{"ABORT", []any{3, dict{"message": "The realm does not exist."}, "wamp.error.no_such_realm"},
		Want{Type: codec.ABORT, URI: "wamp.error.no_such_realm", Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMessage, []byte("The realm does not exist."))
		})}},
	{"ABORT args kwargs", []any{3, dict{}, "wamp.error.protocol_violation", []any{"bad"}, dict{"k": 1}},
		Want{Type: codec.ABORT, URI: "wamp.error.protocol_violation", Args: []any{"bad"}, Kwargs: dict{"k": int64(1)}}},
	{"CHALLENGE", []any{4, "wampcra", dict{"challenge": "{\"nonce\": \"LHRTC9zeOIrt_9U3\"}", "salt": "salt123", "keylen": 32, "iterations": 1000}},
		Want{Type: codec.CHALLENGE, URI: "wampcra"}},
	{"AUTHENTICATE", []any{5, "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=", dict{}},
		Want{Type: codec.AUTHENTICATE, URI: "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI="}},
	{"GOODBYE", []any{6, dict{"message": "The host is shutting down now."}, "wamp.close.system_shutdown"},
		Want{Type: codec.GOODBYE, URI: "wamp.close.system_shutdown", Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMessage, []byte("The host is shutting down now."))
		})}},
	{"ERROR", []any{8, 68, 6131533, dict{}, "com.myapp.error.object_write_protected", []any{"Object is write protected."}, dict{"severity": 3}},
		Want{Type: codec.ERROR, ErrorType: codec.INVOCATION, Request: 6131533, URI: "com.myapp.error.object_write_protected",
			Args: []any{"Object is write protected."}, Kwargs: dict{"severity": int64(3)}}},
	{"ERROR bare", []any{8, 32, 713845233, dict{}, "wamp.error.not_authorized"},
		Want{Type: codec.ERROR, ErrorType: codec.SUBSCRIBE, Request: 713845233, URI: "wamp.error.not_authorized"}},
	{"PUBLISH spec", []any{16, 239714735, dict{}, "com.myapp.topic1", []any{"Hello, world!"}, dict{"color": "orange"}},
		Want{Type: codec.PUBLISH, Request: 239714735, URI: "com.myapp.topic1", Args: []any{"Hello, world!"}, Kwargs: dict{"color": "orange"}}},
	{"PUBLISH options", []any{16, 1, dict{
		"acknowledge": true, "exclude_me": false, "disclose_me": true,
		"exclude": []any{7, 9007199254740992}, "eligible": []any{1},
		"exclude_authid": []any{"a", "b"}, "exclude_authrole": "admin",
		"eligible_authid": []any{}, "eligible_authrole": []any{"user"},
		"retain": true, "ppt_scheme": "x_custom", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k1",
		"unknown": dict{"deep": []any{dict{}}}, "_x_impl": 1,
	}, "com.myapp.topic1"},
		Want{Type: codec.PUBLISH, Request: 1, URI: "com.myapp.topic1", Details: det(func(d *codec.Details) {
			d.SetBool(codec.KeyAcknowledge, true)
			d.SetBool(codec.KeyExcludeMe, false)
			d.SetBool(codec.KeyDiscloseMe, true)
			d.Exclude = []uint64{7, 9007199254740992}
			d.Mark(codec.KeyExclude)
			d.Eligible = []uint64{1}
			d.Mark(codec.KeyEligible)
			d.ExcludeAuthID = bs("a", "b")
			d.Mark(codec.KeyExcludeAuthID)
			d.ExcludeAuthRole = bs("admin")
			d.Mark(codec.KeyExcludeAuthRole)
			d.EligibleAuthID = bs()
			d.Mark(codec.KeyEligibleAuthID)
			d.EligibleAuthRole = bs("user")
			d.Mark(codec.KeyEligibleAuthRole)
			d.SetBool(codec.KeyRetain, true)
			d.SetString(codec.KeyPPTScheme, []byte("x_custom"))
			d.SetString(codec.KeyPPTSerializer, []byte("cbor"))
			d.SetString(codec.KeyPPTCipher, []byte("xsalsa20poly1305"))
			d.SetString(codec.KeyPPTKeyID, []byte("k1"))
		})}},
	{"PUBLISH null option is absent", []any{16, 2, dict{"acknowledge": nil, "exclude": nil}, "a.b"},
		Want{Type: codec.PUBLISH, Request: 2, URI: "a.b"}},
	{"PUBLISH kwargs only", []any{16, 3, dict{}, "a.b", []any{}, dict{"x": []any{1.5, -2, "ü€𝄞"}}},
		Want{Type: codec.PUBLISH, Request: 3, URI: "a.b", Args: []any{}, Kwargs: dict{"x": []any{1.5, int64(-2), "ü€𝄞"}}}},
	{"PUBLISHED", []any{17, 239714735, 4429313566},
		Want{Type: codec.PUBLISHED, Request: 239714735, ID: 4429313566}},
	{"SUBSCRIBE", []any{32, 713845233, dict{"match": "prefix", "get_retained": true}, "com.myapp.mytopic1"},
		Want{Type: codec.SUBSCRIBE, Request: 713845233, URI: "com.myapp.mytopic1", Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMatch, []byte("prefix"))
			d.Match = codec.MatchPrefix
			d.SetBool(codec.KeyGetRetained, true)
		})}},
	{"SUBSCRIBE unknown match", []any{32, 1, dict{"match": "regex"}, "a..b"},
		Want{Type: codec.SUBSCRIBE, Request: 1, URI: "a..b", Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMatch, []byte("regex"))
			d.Match = codec.MatchInvalid
		})}},
	{"SUBSCRIBED", []any{33, 713845233, 5512315355}, Want{Type: codec.SUBSCRIBED, Request: 713845233, ID: 5512315355}},
	{"UNSUBSCRIBE", []any{34, 85346237, 5512315355}, Want{Type: codec.UNSUBSCRIBE, Request: 85346237, ID: 5512315355}},
	{"UNSUBSCRIBED", []any{35, 85346237}, Want{Type: codec.UNSUBSCRIBED, Request: 85346237}},
	{"UNSUBSCRIBED details", []any{35, 0, dict{"subscription": 1293722, "reason": "moving"}}, Want{Type: codec.UNSUBSCRIBED}},
	{"EVENT", []any{36, 5512315355, 4429313566, dict{"publisher": 3335656, "publisher_authid": "joe", "publisher_authrole": "user", "topic": "com.myapp.topic1", "retained": true, "trustlevel": 2}, []any{"Hello, world!"}},
		Want{Type: codec.EVENT, ID: 5512315355, Publication: 4429313566, Args: []any{"Hello, world!"}, Details: det(func(d *codec.Details) {
			d.SetUint(codec.KeyPublisher, 3335656)
			d.SetString(codec.KeyPublisherAuthID, []byte("joe"))
			d.SetString(codec.KeyPublisherAuthRole, []byte("user"))
			d.SetString(codec.KeyTopic, []byte("com.myapp.topic1"))
			d.SetBool(codec.KeyRetained, true)
			d.SetUint(codec.KeyTrustlevel, 2)
		})}},
	{"EVENT bare", []any{36, 1, 2, dict{}}, Want{Type: codec.EVENT, ID: 1, Publication: 2}},
	{"CALL", []any{48, 7814135, dict{"receive_progress": true, "timeout": 1000, "disclose_me": true}, "com.myapp.user.new", []any{"johnny"}, dict{"firstname": "John", "surname": "Doe"}},
		Want{Type: codec.CALL, Request: 7814135, URI: "com.myapp.user.new", Args: []any{"johnny"}, Kwargs: dict{"firstname": "John", "surname": "Doe"}, Details: det(func(d *codec.Details) {
			d.SetBool(codec.KeyReceiveProgress, true)
			d.SetUint(codec.KeyTimeout, 1000)
			d.SetBool(codec.KeyDiscloseMe, true)
		})}},
	{"CALL big numbers", []any{48, 9007199254740992, dict{}, "a.b", []any{uint64(math.MaxUint64), int64(math.MinInt64), 1e300, -0.5, 0, true, false, nil}},
		Want{Type: codec.CALL, Request: 9007199254740992, URI: "a.b", Args: []any{uint64(math.MaxUint64), int64(math.MinInt64), 1e300, -0.5, int64(0), true, false, nil}}},
	{"CANCEL", []any{49, 7814135, dict{"mode": "killnowait"}},
		Want{Type: codec.CANCEL, Request: 7814135, Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMode, []byte("killnowait"))
			d.Mode = codec.ModeKillNoWait
		})}},
	{"RESULT", []any{50, 7814135, dict{"progress": true}, []any{30}, dict{"userid": 123, "karma": 10}},
		Want{Type: codec.RESULT, Request: 7814135, Args: []any{int64(30)}, Kwargs: dict{"userid": int64(123), "karma": int64(10)}, Details: det(func(d *codec.Details) {
			d.SetBool(codec.KeyProgress, true)
		})}},
	{"RESULT bare", []any{50, 1, dict{}}, Want{Type: codec.RESULT, Request: 1}},
	{"REGISTER", []any{64, 25349185, dict{"match": "wildcard", "invoke": "roundrobin", "forward_timeout": true}, "com.myapp..add2"},
		Want{Type: codec.REGISTER, Request: 25349185, URI: "com.myapp..add2", Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMatch, []byte("wildcard"))
			d.Match = codec.MatchWildcard
			d.SetString(codec.KeyInvoke, []byte("roundrobin"))
			d.Invoke = codec.InvokeRoundRobin
			d.SetBool(codec.KeyForwardTimeout, true)
		})}},
	{"REGISTERED", []any{65, 25349185, 2103333224}, Want{Type: codec.REGISTERED, Request: 25349185, ID: 2103333224}},
	{"UNREGISTER", []any{66, 788923562, 2103333224}, Want{Type: codec.UNREGISTER, Request: 788923562, ID: 2103333224}},
	{"UNREGISTERED", []any{67, 788923562}, Want{Type: codec.UNREGISTERED, Request: 788923562}},
	{"INVOCATION", []any{68, 6131533, 9823529, dict{"caller": 3335656, "caller_authid": "joe", "caller_authrole": "user", "procedure": "com.myapp.echo", "receive_progress": true, "timeout": 5}, []any{"Hello, world!"}},
		Want{Type: codec.INVOCATION, Request: 6131533, ID: 9823529, Args: []any{"Hello, world!"}, Details: det(func(d *codec.Details) {
			d.SetUint(codec.KeyCaller, 3335656)
			d.SetString(codec.KeyCallerAuthID, []byte("joe"))
			d.SetString(codec.KeyCallerAuthRole, []byte("user"))
			d.SetString(codec.KeyProcedure, []byte("com.myapp.echo"))
			d.SetBool(codec.KeyReceiveProgress, true)
			d.SetUint(codec.KeyTimeout, 5)
		})}},
	{"INTERRUPT", []any{69, 6131533, dict{"mode": "kill"}},
		Want{Type: codec.INTERRUPT, Request: 6131533, Details: det(func(d *codec.Details) {
			d.SetString(codec.KeyMode, []byte("kill"))
			d.Mode = codec.ModeKill
		})}},
	{"YIELD", []any{70, 6131533, dict{}, []any{"Hello, world!"}},
		Want{Type: codec.YIELD, Request: 6131533, Args: []any{"Hello, world!"}}},
	{"YIELD kwargs", []any{70, 6131533, dict{"progress": false}, []any{}, dict{"nested": dict{"a": []any{[]any{[]any{}}}}}},
		Want{Type: codec.YIELD, Request: 6131533, Args: []any{}, Kwargs: dict{"nested": dict{"a": []any{[]any{[]any{}}}}}, Details: det(func(d *codec.Details) {
			d.SetBool(codec.KeyProgress, false)
		})}},
	{"YIELD binary", []any{70, 1, dict{}, []any{[]byte{0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c, 0xdb}, []byte{}}},
		Want{Type: codec.YIELD, Request: 1, Args: []any{[]byte{0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c, 0xdb}, []byte{}}}},
}

// BadCase is a message that Decode must reject with Err (errors.Is) and,
// when Field is set, a *codec.Error whose Field contains it.
type BadCase struct {
	Name  string
	Value any
	Err   error
	Field string
}

// BadCases are malformed WAMP messages expressible in every serializer.
var BadCases = []BadCase{
	{"not a list", dict{"a": 1}, codec.ErrType, ""},
	{"empty list", []any{}, codec.ErrCount, ""},
	{"type not int", []any{"16", 1, dict{}, "a"}, codec.ErrType, ""},
	{"unknown type", []any{7, 1}, codec.ErrUnknownType, ""},
	{"extension type", []any{300, 1}, codec.ErrUnknownType, ""},
	{"too few", []any{16, 1, dict{}}, codec.ErrCount, ""},
	{"too many", []any{32, 1, dict{}, "a", []any{}}, codec.ErrCount, ""},
	{"too many publish", []any{16, 1, dict{}, "a", []any{}, dict{}, 1}, codec.ErrCount, ""},
	{"id too big", []any{16, uint64(1<<53 + 1), dict{}, "a"}, codec.ErrRange, "Request"},
	{"id negative", []any{16, -1, dict{}, "a"}, codec.ErrRange, "Request"},
	{"id float", []any{16, 1.5, dict{}, "a"}, codec.ErrType, "Request"},
	{"id string", []any{17, 1, "2"}, codec.ErrType, "Publication"},
	{"uri not string", []any{16, 1, dict{}, 5}, codec.ErrType, "Topic"},
	{"options not dict", []any{16, 1, []any{}, "a"}, codec.ErrType, "Options"},
	{"args not list", []any{16, 1, dict{}, "a", dict{}}, codec.ErrType, "Arguments"},
	{"kwargs not dict", []any{16, 1, dict{}, "a", []any{}, []any{}}, codec.ErrType, "ArgumentsKw"},
	{"int for bool", []any{16, 1, dict{"acknowledge": 1}, "a"}, codec.ErrType, "acknowledge"},
	{"string for bool", []any{48, 1, dict{"receive_progress": "true"}, "a"}, codec.ErrType, "receive_progress"},
	{"bool for int", []any{48, 1, dict{"timeout": true}, "a"}, codec.ErrType, "timeout"},
	{"negative timeout", []any{48, 1, dict{"timeout": -5}, "a"}, codec.ErrRange, "timeout"},
	{"exclude not ids", []any{16, 1, dict{"exclude": []any{"x"}}, "a"}, codec.ErrType, "exclude"},
	{"exclude id range", []any{16, 1, dict{"exclude": []any{uint64(1 << 60)}}, "a"}, codec.ErrRange, "exclude"},
	{"authid list of int", []any{16, 1, dict{"exclude_authid": []any{1}}, "a"}, codec.ErrType, "exclude_authid"},
	{"match not string", []any{32, 1, dict{"match": 1}, "a"}, codec.ErrType, "match"},
	{"roles not dict", []any{1, "r", dict{"roles": []any{}}}, codec.ErrType, "roles"},
	{"feature not bool", []any{1, "r", dict{"roles": dict{"caller": dict{"features": dict{"call_canceling": 1}}}}}, codec.ErrType, "call_canceling"},
	{"error type not int", []any{8, "x", 1, dict{}, "e"}, codec.ErrType, "REQUEST.Type"},
	{"too deep", []any{16, 1, dict{}, "a", nest(100)}, codec.ErrDepth, "Arguments"},
}

func nest(n int) any {
	var v any = []any{}
	for i := 0; i < n; i++ {
		v = []any{v}
	}
	return v
}

// Check reports every difference between m and w.
func Check(t testing.TB, m *codec.Message, w Want) {
	t.Helper()
	if m.Type != w.Type {
		t.Errorf("Type = %v, want %v", m.Type, w.Type)
	}
	if m.Request != w.Request || m.ID != w.ID || m.Publication != w.Publication || m.ErrorType != w.ErrorType {
		t.Errorf("Request/ID/Publication/ErrorType = %d/%d/%d/%d, want %d/%d/%d/%d",
			m.Request, m.ID, m.Publication, m.ErrorType, w.Request, w.ID, w.Publication, w.ErrorType)
	}
	if string(m.URI) != w.URI {
		t.Errorf("URI = %q, want %q", m.URI, w.URI)
	}
	if m.Dict.Bytes == nil && codec.LayoutOf(m.Type) != nil && hasDict(m.Type) && !optionalDict(m.Type) {
		t.Errorf("Dict not set")
	}
	CheckDetails(t, &m.Details, &w.Details)
	checkPayload(t, "Args", m.Args, w.Args)
	checkPayload(t, "Kwargs", m.Kwargs, w.Kwargs)
}

func hasDict(t codec.Type) bool {
	for _, e := range codec.LayoutOf(t).Elems {
		if e.Slot == codec.SlotDict {
			return true
		}
	}
	return false
}

func optionalDict(t codec.Type) bool { return t == codec.UNSUBSCRIBED || t == codec.UNREGISTERED }

func checkPayload(t testing.TB, name string, got codec.Raw, want any) {
	t.Helper()
	if want == nil {
		if got.Bytes != nil {
			t.Errorf("%s present (%x), want absent", name, got.Bytes)
		}
		return
	}
	v, err := codec.ToGo(got)
	if err != nil {
		t.Errorf("%s: ToGo: %v", name, err)
		return
	}
	if !EqualValues(v, want) {
		t.Errorf("%s = %#v, want %#v", name, v, want)
	}
}

// CheckDetails compares the typed keys of got and want.
func CheckDetails(t testing.TB, got, want *codec.Details) {
	t.Helper()
	if got.Set != want.Set {
		for k := codec.Key(0); k < codec.NumKeys; k++ {
			if got.Has(k) != want.Has(k) {
				t.Errorf("Details key %q present=%v, want %v", codec.KeyNames[k], got.Has(k), want.Has(k))
			}
		}
	}
	for k := codec.Key(0); k < codec.NumKeys; k++ {
		if !want.Has(k) || !got.Has(k) {
			continue
		}
		name := codec.KeyNames[k]
		switch codec.KeyKinds[k] {
		case codec.KindBool:
			if got.Bool(k, false) != want.Bool(k, false) {
				t.Errorf("%s = %v, want %v", name, got.Bool(k, false), want.Bool(k, false))
			}
		case codec.KindInt, codec.KindID:
			if got.Uint(k) != want.Uint(k) {
				t.Errorf("%s = %d, want %d", name, got.Uint(k), want.Uint(k))
			}
		case codec.KindString:
			if !bytes.Equal(got.Str[k], want.Str[k]) {
				t.Errorf("%s = %q, want %q", name, got.Str[k], want.Str[k])
			}
		case codec.KindIDList:
			g, w := *got.IDList(k), *want.IDList(k)
			if len(g) != len(w) || (len(g) > 0 && !reflect.DeepEqual(g, w)) {
				t.Errorf("%s = %v, want %v", name, g, w)
			}
		case codec.KindStringList:
			g, w := *got.StringList(k), *want.StringList(k)
			if fmt.Sprintf("%q", g) != fmt.Sprintf("%q", w) {
				t.Errorf("%s = %q, want %q", name, g, w)
			}
		case codec.KindRoles:
			if got.Roles != want.Roles || got.Features != want.Features {
				t.Errorf("roles = %b %v, want %b %v", got.Roles, got.Features, want.Roles, want.Features)
			}
		case codec.KindDict:
			if got.AuthExtra.Bytes == nil {
				t.Errorf("%s: no view", name)
			}
		}
	}
	if want.Has(codec.KeyMatch) && got.Match != want.Match {
		t.Errorf("Match = %v, want %v", got.Match, want.Match)
	}
	if want.Has(codec.KeyInvoke) && got.Invoke != want.Invoke {
		t.Errorf("Invoke = %v, want %v", got.Invoke, want.Invoke)
	}
	if want.Has(codec.KeyMode) && got.Mode != want.Mode {
		t.Errorf("Mode = %v, want %v", got.Mode, want.Mode)
	}
}

// CheckBad reports whether err matches c.
func CheckBad(t testing.TB, err error, c BadCase) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: decoded without error", c.Name)
		return
	}
	if !errors.Is(err, c.Err) {
		t.Errorf("%s: err = %v, want %v", c.Name, err, c.Err)
	}
	var ce *codec.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: err %T is not *codec.Error", c.Name, err)
		return
	}
	if c.Field != "" && !bytes.Contains([]byte(ce.Field), []byte(c.Field)) {
		t.Errorf("%s: Field = %q, want it to name %q (%v)", c.Name, ce.Field, c.Field, err)
	}
}
