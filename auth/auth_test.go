package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// Test principals, hashed with the cheapest parameters the configuration
// accepts so that the tests stay quick under -race.
var (
	pbkdf2Params = auth.KDFParams{KDF: auth.KDFPBKDF2, Iterations: auth.MinPBKDF2Iterations}
	argonParams  = auth.KDFParams{KDF: auth.KDFArgon2id, Iterations: 1, Memory: auth.MinArgon2Memory}
	aliceKey     = newKey()
	otherKey     = newKey()
)

func newKey() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func secureConfig(t testing.TB) *auth.RealmConfig {
	cra, err := auth.CRAKeyFor("cra-secret", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	return &auth.RealmConfig{
		Methods: []string{"cryptosign", "wamp-scram", "wampcra", "ticket"},
		Principals: map[string]auth.PrincipalConfig{
			"alice": {Role: "user", AuthExtra: map[string]any{"team": "a"},
				Ticket:     must(auth.HashTicket("alice-ticket", pbkdf2Params)),
				WampCRA:    cra,
				Cryptosign: []string{hex.EncodeToString(aliceKey.Public().(ed25519.PublicKey))},
				SCRAM:      must(auth.SCRAMKeysFor("alice-pw", argonParams))},
			"bob": {Role: "admin",
				WampCRA: &auth.CRAKey{Secret: "bob-plain"},
				Ticket:  must(auth.HashTicket("bob-ticket", argonParams)),
				SCRAM:   must(auth.SCRAMKeysFor("bob-pw", pbkdf2Params))},
		},
	}
}

type testRouter struct {
	r    *core.Router
	url  string
	dyns []*auth.Dynamic
}

// start runs a router with realms "secure" (secureConfig), "realm1"
// (anonymous), and extra realms, behind a real WebSocket listener.
func start(t testing.TB, lim core.AuthLimits, extra map[string]*auth.RealmConfig) *testRouter {
	t.Helper()
	tr := &testRouter{}
	cfgs := map[string]*auth.RealmConfig{"secure": secureConfig(t)}
	for k, v := range extra {
		cfgs[k] = v
	}
	cc := core.Config{Auth: lim, Realms: []core.RealmConfig{{Name: "realm1"}}}
	for name, ac := range cfgs {
		b, err := ac.Build("realms."+name+".auth", name, 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.Dynamic != nil {
			tr.dyns = append(tr.dyns, b.Dynamic)
		}
		cc.Realms = append(cc.Realms, core.RealmConfig{Name: name, Authenticators: b.Authenticators})
	}
	r, err := core.NewRouter(cc)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range tr.dyns {
		d.SetRouter(r)
		t.Cleanup(d.Close)
	}
	s, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	tr.r, tr.url = r, "ws://"+s.Addrs()[0].String()+"/ws"
	return tr
}

func (tr *testRouter) connect(t testing.TB, cfg client.Config) (*client.Client, error) {
	t.Helper()
	if cfg.Realm == "" {
		cfg.Realm = "secure"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, tr.url, cfg)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func (tr *testRouter) ok(t *testing.T, cfg client.Config, authid, role, method, provider string) *client.Client {
	t.Helper()
	c, err := tr.connect(t, cfg)
	if err != nil {
		t.Fatalf("%s login refused: %v", method, err)
	}
	d := c.Details()
	if d["authid"] != authid || d["authrole"] != role || d["authmethod"] != method || d["authprovider"] != provider {
		t.Fatalf("WELCOME %v, want %s/%s/%s/%s", d, authid, role, method, provider)
	}
	return c
}

// refused checks that the login fails with uri and the generic message
// that does not say what was wrong.
func (tr *testRouter) refused(t *testing.T, cfg client.Config, uri string) {
	t.Helper()
	_, err := tr.connect(t, cfg)
	var we *client.Error
	if !errors.As(err, &we) {
		t.Fatalf("login: want ABORT %s, got %v", uri, err)
	}
	if we.URI != uri {
		t.Fatalf("ABORT %s %v, want %s", we.URI, we.Details, uri)
	}
	msg, _ := we.Details["message"].(string)
	for _, w := range []string{"authid", "ticket", "secret", "key", "password", "signature", "unknown", "principal"} {
		if strings.Contains(strings.ToLower(msg), w) {
			t.Fatalf("ABORT message %q says which part was wrong", msg)
		}
	}
}

func ticket(authid, tk string) client.Config {
	return client.Config{AuthID: authid, AuthMethods: []string{"ticket"}, Authenticate: client.TicketAuth(tk)}
}

func cra(authid, secret string) client.Config {
	return client.Config{AuthID: authid, AuthMethods: []string{"wampcra"}, Authenticate: client.CRAAuth(secret)}
}

func cs(authid string, announce, sign ed25519.PrivateKey) client.Config {
	return client.Config{AuthID: authid, AuthMethods: []string{"cryptosign"},
		AuthExtra: client.CryptosignExtra(announce), Authenticate: client.CryptosignAuth(sign)}
}

func TestTicket(t *testing.T) {
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}, nil)
	c := tr.ok(t, ticket("alice", "alice-ticket"), "alice", "user", "ticket", "static")
	if ae, _ := c.Details()["authextra"].(map[string]any); ae["team"] != "a" {
		t.Fatalf("authextra %v", c.Details()["authextra"])
	}
	tr.ok(t, ticket("bob", "bob-ticket"), "bob", "admin", "ticket", "static") // argon2id hash
	tr.refused(t, ticket("alice", "wrong"), core.ErrAuthenticationFailed)
	tr.refused(t, ticket("alice", "bob-ticket"), core.ErrAuthenticationFailed)
	tr.refused(t, ticket("mallory", "alice-ticket"), core.ErrAuthenticationFailed)
	tr.refused(t, ticket("", "alice-ticket"), core.ErrAuthenticationFailed)

	// The same over RawSocket on the universal port.
	rs := &testRouter{r: tr.r, url: "rs://" + strings.TrimSuffix(strings.TrimPrefix(tr.url, "ws://"), "/ws")}
	rs.ok(t, ticket("alice", "alice-ticket"), "alice", "user", "ticket", "static")
	rs.refused(t, ticket("alice", "wrong"), core.ErrAuthenticationFailed)
}

func TestWampCRA(t *testing.T) {
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}, nil)
	tr.ok(t, cra("alice", "cra-secret"), "alice", "user", "wampcra", "static") // salted
	tr.ok(t, cra("bob", "bob-plain"), "bob", "admin", "wampcra", "static")     // plain secret
	tr.refused(t, cra("alice", "wrong"), core.ErrAuthenticationFailed)
	tr.refused(t, cra("bob", "wrong"), core.ErrAuthenticationFailed)

	// An unknown authid gets a challenge shaped like a salted principal's,
	// with the same salt every time, and is refused.
	var salts []any
	for i := 0; i < 2; i++ {
		inner := client.CRAAuth("x")
		tr.refused(t, client.Config{AuthID: "mallory", AuthMethods: []string{"wampcra"},
			Authenticate: func(m string, extra map[string]any) (string, map[string]any, error) {
				if extra["salt"] == nil || extra["iterations"] == nil || extra["keylen"] == nil ||
					!strings.Contains(extra["challenge"].(string), `"authid":"mallory"`) {
					t.Errorf("mock challenge %v", extra)
				}
				salts = append(salts, extra["salt"])
				return inner(m, extra)
			}}, core.ErrAuthenticationFailed)
	}
	if salts[0] != salts[1] {
		t.Fatalf("mock salts differ: %v", salts)
	}
}

func TestWampCRASession(t *testing.T) {
	// The challenge's session is the id the session gets.
	tr := start(t, core.AuthLimits{}, nil)
	var promised any
	inner := client.CRAAuth("bob-plain")
	c := tr.ok(t, client.Config{AuthID: "bob", AuthMethods: []string{"wampcra"},
		Authenticate: func(m string, extra map[string]any) (string, map[string]any, error) {
			var ch map[string]any
			if err := json.Unmarshal([]byte(extra["challenge"].(string)), &ch); err != nil {
				t.Error(err)
			}
			promised = strconv.FormatFloat(ch["session"].(float64), 'f', 0, 64)
			return inner(m, extra)
		}}, "bob", "admin", "wampcra", "static")
	if got := strings.TrimSpace(promised.(string)); got != strconv.FormatUint(c.ID(), 10) {
		t.Fatalf("challenge promised session %s, got %d", got, c.ID())
	}
}

func TestCryptosign(t *testing.T) {
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}, nil)
	tr.ok(t, cs("alice", aliceKey, aliceKey), "alice", "user", "cryptosign", "static")
	// Without an authid, the key finds the principal.
	tr.ok(t, cs("", aliceKey, aliceKey), "alice", "user", "cryptosign", "static")
	// An unknown key; a known key announced but another one signing; a key
	// of another principal.
	tr.refused(t, cs("alice", otherKey, otherKey), core.ErrAuthenticationFailed)
	tr.refused(t, cs("alice", aliceKey, otherKey), core.ErrAuthenticationFailed)
	tr.refused(t, cs("bob", aliceKey, aliceKey), core.ErrAuthenticationFailed)
	tr.refused(t, cs("mallory", aliceKey, aliceKey), core.ErrAuthenticationFailed)
	// Channel binding on a transport without TLS cannot be honoured.
	cfg := cs("alice", aliceKey, aliceKey)
	cfg.AuthExtra["channel_binding"] = "tls-unique"
	tr.refused(t, cfg, core.ErrAuthenticationFailed)
}

func TestSCRAM(t *testing.T) {
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}, nil)
	for _, u := range []struct{ id, pw, role string }{{"alice", "alice-pw", "user"}, {"bob", "bob-pw", "admin"}} {
		sc := auth.NewSCRAMClient(u.id, u.pw)
		c := tr.ok(t, sc.Config(client.Config{}), u.id, u.role, "wamp-scram", "static")
		if !sc.VerifyServer(c.Details()) {
			t.Fatalf("%s: router's verifier does not check out: %v", u.id, c.Details())
		}
	}
	tr.refused(t, auth.NewSCRAMClient("alice", "wrong").Config(client.Config{}), core.ErrAuthenticationFailed)

	// An unknown authid gets a believable challenge: the KDF and cost of
	// the real principals, a salt stable per authid.
	var seen []map[string]any
	for i := 0; i < 2; i++ {
		sc := auth.NewSCRAMClient("mallory", "x")
		cfg := sc.Config(client.Config{})
		cfg.Authenticate = func(m string, extra map[string]any) (string, map[string]any, error) {
			seen = append(seen, extra)
			return sc.Authenticate(m, extra)
		}
		tr.refused(t, cfg, core.ErrAuthenticationFailed)
	}
	if seen[0]["salt"] != seen[1]["salt"] || seen[0]["kdf"] == nil || seen[0]["iterations"] == nil {
		t.Fatalf("mock challenges %v", seen)
	}
}

func TestMethodNotOffered(t *testing.T) {
	tr := start(t, core.AuthLimits{}, map[string]*auth.RealmConfig{
		"csonly": {Methods: []string{"cryptosign"}, Principals: map[string]auth.PrincipalConfig{
			"alice": {Role: "user", Ticket: must(auth.HashTicket("alice-ticket", pbkdf2Params))}}},
	})
	cfg := ticket("alice", "alice-ticket")
	cfg.Realm = "csonly"
	tr.refused(t, cfg, core.ErrNoAuthMethod)
	tr.refused(t, client.Config{Realm: "csonly"}, core.ErrNoAuthMethod) // anonymous
	tr.refused(t, client.Config{Realm: "nope"}, core.ErrNoSuchRealm)
}

func TestExpiredChallenge(t *testing.T) {
	tr := start(t, core.AuthLimits{HandshakeTimeout: 300 * time.Millisecond}, nil)
	inner := client.TicketAuth("alice-ticket")
	tr.refused(t, client.Config{AuthID: "alice", AuthMethods: []string{"ticket"},
		Authenticate: func(m string, extra map[string]any) (string, map[string]any, error) {
			time.Sleep(time.Second)
			return inner(m, extra)
		}}, core.ErrAuthenticationFailed)
	if tr.r.AuthStats().Timeouts != 1 {
		t.Fatalf("stats %+v", tr.r.AuthStats())
	}
}

func TestDynamic(t *testing.T) {
	pub := hex.EncodeToString(aliceKey.Public().(ed25519.PublicKey))
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}, map[string]*auth.RealmConfig{
		"dyn": {Methods: []string{"ticket", "wampcra", "cryptosign"}, Authenticator: "com.example.authenticate", AuthenticatorRealm: "realm1"},
	})
	backend, err := tr.connect(t, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	_, err = backend.Register("com.example.authenticate", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		calls.Add(1)
		realm, authid, details := inv.Args[0], inv.Args[1], inv.Args[2].(map[string]any)
		if realm != "dyn" {
			return nil, &client.Error{URI: "com.example.bad_realm"}
		}
		switch details["authmethod"] {
		case "ticket":
			if details["ticket"] == "dyn-"+authid.(string) {
				return &client.Result{Args: []any{map[string]any{"role": "dynuser", "extra": map[string]any{"via": "dyn"}}}}, nil
			}
			return nil, &client.Error{URI: "wamp.error.not_authorized"}
		case "wampcra":
			if authid == "carol" {
				return &client.Result{Args: []any{map[string]any{"role": "cra", "secret": "s3", "salt": "salt1234", "iterations": 1000, "keylen": 32}}}, nil
			}
			return &client.Result{Args: []any{map[string]any{"role": "cra", "secret": "s4"}}}, nil
		case "cryptosign":
			return &client.Result{Args: []any{map[string]any{"role": "signer", "pubkey": pub}}}, nil
		}
		return nil, &client.Error{URI: "wamp.error.not_authorized"}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(c client.Config) client.Config { c.Realm = "dyn"; return c }
	c := tr.ok(t, at(ticket("dave", "dyn-dave")), "dave", "dynuser", "ticket", "dynamic")
	if ae, _ := c.Details()["authextra"].(map[string]any); ae["via"] != "dyn" {
		t.Fatalf("authextra %v", c.Details())
	}
	tr.refused(t, at(ticket("dave", "wrong")), core.ErrNotAuthorized)
	tr.ok(t, at(cra("carol", "s3")), "carol", "cra", "wampcra", "dynamic") // salted by the procedure
	tr.ok(t, at(cra("erin", "s4")), "erin", "cra", "wampcra", "dynamic")
	tr.refused(t, at(cra("erin", "wrong")), core.ErrAuthenticationFailed)
	tr.ok(t, at(cs("frank", aliceKey, aliceKey)), "frank", "signer", "cryptosign", "dynamic")
	tr.refused(t, at(cs("frank", otherKey, otherKey)), core.ErrAuthenticationFailed)
	if calls.Load() < 7 {
		t.Fatalf("authenticator called %d times", calls.Load())
	}
	// With the procedure gone, logins fail (wamp.error.no_such_procedure
	// from the dealer is passed on).
	_ = backend.Close()
	tr.refused(t, at(ticket("dave", "dyn-dave")), core.ErrNoSuchProcedure)
}

// TestBruteForce: 1,000 failed logins from one address are counted and,
// past the per-address limit, refused before any check, while an
// established session's pubsub keeps flowing.
func TestBruteForce(t *testing.T) {
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: 20, MaxFailuresPerAuthID: -1}, nil)
	sub, err := tr.connect(t, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tr.connect(t, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	if _, err := sub.Subscribe("com.test.tick", func(*client.Event) { got.Add(1) }, nil); err != nil {
		t.Fatal(err)
	}
	const attempts, workers = 1000, 8
	var wg sync.WaitGroup
	var refused atomic.Int64
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= attempts {
				// A connection lost before its HELLO reached the router
				// (a loaded machine) is not an attempt: try again.
				for try := 0; ; try++ {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					c, err := client.Connect(ctx, tr.url, client.Config{Realm: "secure", AuthID: "alice",
						AuthMethods: []string{"ticket"}, Authenticate: client.TicketAuth("guess")})
					cancel()
					if err == nil {
						_ = c.Close()
						t.Error("a wrong ticket got in")
						return
					}
					var we *client.Error
					if errors.As(err, &we) || try == 10 {
						refused.Add(1)
						break
					}
					t.Logf("not an ABORT, retrying: %v", err)
				}
			}
		}()
	}
	published := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-time.After(5 * time.Millisecond):
			if err := pub.Publish("com.test.tick", []any{published}, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
				t.Fatal(err)
			}
			published++
		}
	}
	st := tr.r.AuthStats()
	if refused.Load() != attempts || st.Failures+st.RateLimited+st.Busy != attempts || st.Failures > 20+workers {
		t.Fatalf("refused %d, stats %+v", refused.Load(), st)
	}
	if st.RateLimited < attempts-20-workers {
		t.Fatalf("rate limiting did not apply: %+v", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() < int64(published) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got.Load() != int64(published) || published == 0 {
		t.Fatalf("subscriber got %d of %d events during the attack", got.Load(), published)
	}
	t.Logf("%d refused (%+v); %d events delivered meanwhile", refused.Load(), st, published)
	// The right secret from the same address is refused too while the
	// window lasts: the limit is per address.
	tr.refused(t, ticket("alice", "alice-ticket"), core.ErrAuthenticationFailed)
}

func TestConfigErrors(t *testing.T) {
	weak := auth.KDFParams{KDF: auth.KDFPBKDF2, Salt: "AAAAAAAAAAA=", Iterations: 1000}
	cases := []struct {
		cfg  auth.RealmConfig
		want string
	}{
		{auth.RealmConfig{}, "x.methods"},
		{auth.RealmConfig{Methods: []string{"kerberos"}}, `x.methods[0]: unknown method "kerberos"`},
		{auth.RealmConfig{Methods: []string{"ticket"}, Principals: map[string]auth.PrincipalConfig{"a": {}}}, `x.principals["a"].role`},
		{auth.RealmConfig{Methods: []string{"ticket"}, Principals: map[string]auth.PrincipalConfig{"a": {Role: "r",
			Ticket: &auth.HashedSecret{KDFParams: weak, Hash: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}}, `x.principals["a"].ticket.iterations`},
		{auth.RealmConfig{Methods: []string{"wamp-scram"}, Principals: map[string]auth.PrincipalConfig{"a": {Role: "r",
			SCRAM: &auth.SCRAMKeys{KDFParams: auth.KDFParams{KDF: auth.KDFArgon2id, Salt: "AAAAAAAAAAA=", Iterations: 1, Memory: 1024}}}}}, `x.principals["a"].wamp-scram.memory`},
		{auth.RealmConfig{Methods: []string{"wampcra"}, Principals: map[string]auth.PrincipalConfig{"a": {Role: "r",
			WampCRA: &auth.CRAKey{Salt: "saltsalt", Iterations: 10, KeyLen: 32, Key: "x"}}}}, `x.principals["a"].wampcra.iterations`},
		{auth.RealmConfig{Methods: []string{"cryptosign"}, Principals: map[string]auth.PrincipalConfig{"a": {Role: "r",
			Cryptosign: []string{"abcd"}}}}, `x.principals["a"].cryptosign[0]`},
	}
	for _, c := range cases {
		_, err := c.cfg.Build("x", "r", time.Second, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to name %s", c.cfg, err, c.want)
		}
	}
}

// TestMockSecret: with mock_secret, an unknown authid's wamp-scram salt is
// the same on a new router (a restart), and differs per secret.
func TestMockSecret(t *testing.T) {
	salt := func(secret string) any {
		cfg := secureConfig(t)
		cfg.MockSecret = secret
		b, err := cfg.Build("x", "secure", 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		var s core.Challenger
		for _, a := range b.Authenticators {
			if a.Method() == "wamp-scram" {
				s = a.(core.Challenger)
			}
		}
		ch, _, aerr := s.Begin(&core.Hello{Realm: "secure", AuthID: "mallory", AuthExtra: map[string]any{"nonce": "AAAAAAAAAAAAAAAAAAAAAA=="}})
		if aerr != nil {
			t.Fatal(aerr.Message)
		}
		return ch.Extra["salt"]
	}
	a, b, c := salt("0123456789abcdef-one"), salt("0123456789abcdef-one"), salt("0123456789abcdef-two")
	if a != b || a == c {
		t.Fatalf("mock salts %v %v %v", a, b, c)
	}
	cfg := secureConfig(t)
	cfg.MockSecret = "short"
	if _, err := cfg.Build("x", "secure", time.Second, nil); err == nil || !strings.Contains(err.Error(), "x.mock_secret") {
		t.Fatalf("short mock_secret: %v", err)
	}
}
