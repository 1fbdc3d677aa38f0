package interop

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/zwamp/zwamp/auth"
)

// Principals of the secured daemon the login tests run against. The seeds
// are fixed test keys (never use them elsewhere).
var (
	csSeed  = "0101010101010101010101010101010101010101010101010101010101010101"
	badSeed = "0202020202020202020202020202020202020202020202020202020202020202"
)

func seedPub(seed string) string {
	b, _ := hex.DecodeString(seed)
	return hex.EncodeToString(ed25519.NewKeyFromSeed(b).Public().(ed25519.PublicKey))
}

// startSecureDaemon runs the daemon with a config whose realm "secure" has
// ticket, wampcra (salted) and cryptosign principals, written the way
// `zwamp passwd` prints them.
func startSecureDaemon(t *testing.T) *daemon {
	t.Helper()
	kdf := auth.KDFParams{KDF: auth.KDFPBKDF2, Iterations: auth.MinPBKDF2Iterations}
	tk, err := auth.HashTicket("joe-ticket", kdf)
	if err != nil {
		t.Fatal(err)
	}
	cra, err := auth.CRAKeyFor("peter-secret", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"listeners": []any{map[string]any{"kind": "universal", "address": "127.0.0.1:0"}}, // startDaemon's --listen decides
		"realms": []any{
			map[string]any{"name": "realm1"},
			map[string]any{"name": "secure", "auth": map[string]any{
				"methods": []string{"ticket", "wampcra", "cryptosign"},
				"principals": map[string]any{
					"joe":   map[string]any{"role": "user", "ticket": tk},
					"peter": map[string]any{"role": "admin", "wampcra": cra},
					"carol": map[string]any{"role": "signer", "cryptosign": []string{seedPub(csSeed)}},
				},
			}},
		},
		"auth_limits": map[string]any{"max_failures_per_addr": -1, "max_failures_per_authid": -1},
	}
	b, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "zwamp.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, "--config", path)
}

type loginCase struct {
	name, method, authid, secret, seed string
	role                               string // "" = must be refused
	noWampy                            bool   // wampy sends authmethods only with an authid
}

var loginCases = []loginCase{
	{"ticket", "ticket", "joe", "joe-ticket", "", "user", false},
	{"ticket wrong", "ticket", "joe", "nope", "", "", false},
	{"ticket unknown authid", "ticket", "nobody", "joe-ticket", "", "", false},
	{"wampcra salted", "wampcra", "peter", "peter-secret", "", "admin", false},
	{"wampcra wrong", "wampcra", "peter", "nope", "", "", false},
	{"wampcra unknown authid", "wampcra", "nobody", "peter-secret", "", "", false},
	{"cryptosign", "cryptosign", "carol", "", csSeed, "signer", false},
	{"cryptosign no authid", "cryptosign", "", "", csSeed, "signer", true},
	{"cryptosign wrong key", "cryptosign", "carol", "", badSeed, "", false},
}

// TestAuthLogins logs in with Autobahn|Python, autobahn-js and wampy,
// every method they have, right and wrong.
func TestAuthLogins(t *testing.T) {
	d := startSecureDaemon(t)
	clients := []struct {
		name string
		need string
		argv func(c loginCase) []string
	}{
		{"autobahn-python", "python", func(c loginCase) []string {
			return []string{pythonBin, filepath.Join("python", "auth.py"), "--url", d.ws(), "--realm", "secure",
				"--method", c.method, "--authid", c.authid, "--secret", c.secret, "--seed", c.seed}
		}},
		{"autobahn-js", "node", func(c loginCase) []string {
			return []string{"node", filepath.Join("node", "auth.js"), "--url", d.ws(), "--realm", "secure",
				"--method", c.method, "--authid", c.authid, "--secret", c.secret, "--seed", c.seed}
		}},
		{"wampy", "node", func(c loginCase) []string {
			return []string{"node", filepath.Join("node", "auth.js"), "--lib", "wampy", "--url", d.ws(), "--realm", "secure",
				"--method", c.method, "--authid", c.authid, "--secret", c.secret, "--seed", c.seed}
		}},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			need(t, cl.need)
			slot(t)
			for _, c := range loginCases {
				if c.noWampy && cl.name == "wampy" {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					out := startClient(t, cl.name+" "+c.name, cl.argv(c)).next(readyTimeout)
					if c.role == "" {
						if out["joined"] != false || out["reason"] != "wamp.error.authentication_failed" {
							t.Fatalf("want ABORT wamp.error.authentication_failed, got %v", out)
						}
						return
					}
					det, _ := out["details"].(map[string]any)
					if out["joined"] != true || det["authrole"] != c.role || det["authmethod"] != c.method ||
						det["authprovider"] != "static" {
						t.Fatalf("want joined as %s via %s, got %v", c.role, c.method, out)
					}
					if c.authid != "" && det["authid"] != c.authid {
						t.Fatalf("authid %v, want %s", det["authid"], c.authid)
					}
				})
			}
		})
	}
	// A method the realm does not offer.
	t.Run("not offered", func(t *testing.T) {
		need(t, "python")
		out := startClient(t, "python scram", []string{pythonBin, filepath.Join("python", "auth.py"), "--url", d.ws(),
			"--realm", "secure", "--method", "anonymous"}).next(readyTimeout)
		if out["joined"] != false || out["reason"] != "wamp.error.no_auth_method" {
			t.Fatalf("want ABORT wamp.error.no_auth_method, got %v", out)
		}
	})
}
