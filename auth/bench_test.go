package auth_test

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// BenchmarkLogin measures complete logins (HELLO → CHALLENGE →
// AUTHENTICATE → WELCOME → GOODBYE) over the in-process transport, client
// and router in one process; run with -cpu 1 for "logins per second on
// one core". The principals use the cheapest KDF parameters the config
// accepts (pbkdf2 4096 iterations, argon2id13 1 iteration / 8 MiB): the
// ticket figures scale with the configured cost, the others do not (the
// router verifies wampcra with one HMAC, cryptosign with one Ed25519
// verification and wamp-scram with two HMACs and a SHA-256; the wamp-scram
// client caches its salted password, as the spec allows).
func BenchmarkLogin(b *testing.B) {
	b.ReportAllocs()
	bts, err := secureConfig(b).Build("x", "secure", 10*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "secure", Authenticators: bts.Authenticators}},
		Auth: core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}})
	if err != nil {
		b.Fatal(err)
	}
	sc := auth.NewSCRAMClient("alice", "alice-pw")
	scBob := auth.NewSCRAMClient("bob", "bob-pw")
	for _, c := range []struct {
		name string
		cfg  func() client.Config
	}{
		{"ticket-pbkdf2-4096", func() client.Config { return ticket("alice", "alice-ticket") }},
		{"ticket-argon2id-1x8MiB", func() client.Config { return ticket("bob", "bob-ticket") }},
		{"wampcra-salted", func() client.Config { return cra("alice", "cra-secret") }},
		{"wampcra-plain", func() client.Config { return cra("bob", "bob-plain") }},
		{"cryptosign", func() client.Config { return cs("alice", aliceKey, aliceKey) }},
		{"scram-argon2id", func() client.Config { sc.Renew(); return sc.Config(client.Config{}) }},
		{"scram-pbkdf2", func() client.Config { scBob.Renew(); return scBob.Config(client.Config{}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				cfg := c.cfg()
				cfg.Realm = "secure"
				cl, err := client.ConnectLocal(r, cfg)
				if err != nil {
					b.Fatal(err)
				}
				_ = cl.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}
