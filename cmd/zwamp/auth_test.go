package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/authz"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// TestAuthConfig: the example's secured realms build, and bad auth
// sections are refused at startup with the field named.
func TestAuthConfig(t *testing.T) {
	cfg, err := loadConfig("zwamp.example.json")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.routerConfig(nil)
	if err != nil {
		t.Fatalf("example auth config: %v", err)
	}
	if len(rc.Realms) != 4 || len(rc.Realms[1].Authenticators) != 8 || len(cfg.dynamics) != 1 {
		t.Fatalf("example realms %+v, dynamics %d", rc.Realms, len(cfg.dynamics))
	}
	r, err := core.NewRouter(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.attachRouter(r); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := map[string]string{
		`{"realms": [{"name": "r", "auth": {"methods": ["ticket"], "principals": {"a": {"role": "u", "tikcet": {}}}}}]}`:                                                                       "tikcet",
		`{"realms": [{"name": "r", "auth": {"methods": ["ticket", "cookie"]}}]}`:                                                                                                               "realms[0].auth.methods[1]: cookie needs",
		`{"realms": [{"name": "r", "auth": {"methods": ["kerberos"]}}]}`:                                                                                                                       "realms[0].auth.methods[0]",
		`{"realms": [{"name": "r", "auth": {"methods": ["ticket"], "principals": {"a": {"role": "u", "ticket": {"kdf": "pbkdf2", "salt": "AAAAAAAAAAA=", "iterations": 10, "hash": "x"}}}}}]}`: `realms[0].auth.principals["a"].ticket.iterations`,
		`{"realms": [{"name": "r", "auth": {"methods": ["ticket"], "authenticator": "x.y", "authenticator_realm": "nope"}}]}`:                                                                  `authenticator_realm "nope"`,
	}
	i := 0
	for body, want := range cases {
		i++
		p := filepath.Join(dir, "c"+string(rune('0'+i))+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(p)
		if err == nil {
			var rc core.Config
			if rc, err = c.routerConfig(nil); err == nil {
				r, _ := core.NewRouter(rc)
				err = c.attachRouter(r)
			}
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to name %s", body, err, want)
		}
	}
}

// TestPasswd: `zwamp passwd` prints entries the config accepts, and never
// the secret.
func TestPasswd(t *testing.T) {
	for _, args := range [][]string{
		{"--method", "ticket", "--kdf", "pbkdf2", "--iterations", "4096"},
		{"--method", "wampcra"},
		{"--method", "wamp-scram", "--memory", "8192", "--iterations", "1"},
	} {
		var out, errb bytes.Buffer
		if code := passwd(args, strings.NewReader("s3cr3t-value\n"), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		if strings.Contains(out.String(), "s3cr3t-value") {
			t.Fatalf("passwd printed the secret: %s", out.String())
		}
		var pc auth.PrincipalConfig
		dec := json.NewDecoder(&out)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pc); err != nil {
			t.Fatalf("%v: output does not fit a principal: %v", args, err)
		}
		pc.Role = "r"
		rc := auth.RealmConfig{Methods: []string{args[1]}, Principals: map[string]auth.PrincipalConfig{"a": pc}}
		if _, err := rc.Build("x", "r", 0, nil); err != nil {
			t.Fatalf("%v: printed entry refused: %v", args, err)
		}
	}
	var out, errb bytes.Buffer
	if code := passwd([]string{"--method", "wamp-scram", "--kdf", "pbkdf2", "--iterations", "100"}, strings.NewReader("x\n"), &out, &errb); code == 0 {
		t.Fatal("weak iterations accepted")
	}
}

// TestReloadAuth: a reload swaps the principals in (new secret in, old
// out, established sessions untouched) and refuses what needs a restart.
func TestReloadAuth(t *testing.T) {
	dir := t.TempDir()
	write := func(ticket string, methods string) *Config {
		t.Helper()
		h, err := auth.HashTicket(ticket, auth.KDFParams{KDF: auth.KDFPBKDF2, Iterations: auth.MinPBKDF2Iterations})
		if err != nil {
			t.Fatal(err)
		}
		hj, _ := json.Marshal(h)
		body := `{"realms": [{"name": "r", "auth": {"methods": ` + methods + `, "principals": {"joe": {"role": "u", "ticket": ` + string(hj) + `}}}}]}`
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := write("old", `["ticket"]`)
	rc, err := cfg.routerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := core.NewRouter(rc)
	if err != nil {
		t.Fatal(err)
	}
	login := func(tk string) (*client.Client, error) {
		return client.ConnectLocal(r, client.Config{Realm: "r", AuthID: "joe", AuthMethods: []string{"ticket"}, Authenticate: client.TicketAuth(tk)})
	}
	before, err := login("old")
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	commit, err := cfg.reloadAuth(write("new", `["ticket"]`))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := login("old"); err != nil {
		t.Fatal("reload applied before commit:", err)
	} else {
		_ = c.Close()
	}
	commit()
	if c, err := login("old"); err == nil {
		_ = c.Close()
		t.Fatal("the old ticket still works after the reload")
	}
	c, err := login("new")
	if err != nil {
		t.Fatal("the new ticket is refused:", err)
	}
	_ = c.Close()
	select {
	case <-before.Done():
		t.Fatal("an established session was dropped by the reload")
	default:
	}
	if _, err := cfg.reloadAuth(write("new", `["ticket", "wampcra"]`)); err == nil || !strings.Contains(err.Error(), "realms[0].auth.methods") {
		t.Fatalf("method change: %v", err)
	}
}

// TestPasswdSASLprep: `zwamp passwd --method wamp-scram` prepares the
// password with SASLprep (the keys printed for "I<soft hyphen>X" are those
// of "IX" under the printed salt) and refuses one SASLprep prohibits.
func TestPasswdSASLprep(t *testing.T) {
	var out, errb bytes.Buffer
	if code := passwd([]string{"--method", "wamp-scram", "--kdf", "pbkdf2", "--iterations", "4096"}, strings.NewReader("I\u00ADX\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got map[string]*auth.SCRAMKeys
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	k := got["wamp-scram"]
	want, err := auth.SCRAMKeysFor("IX", k.KDFParams)
	if err != nil {
		t.Fatal(err)
	}
	if k.StoredKey != want.StoredKey || k.ServerKey != want.ServerKey {
		t.Fatal("the keys printed for I<soft hyphen>X are not those of IX")
	}
	errb.Reset()
	if code := passwd([]string{"--method", "wamp-scram", "--kdf", "pbkdf2", "--iterations", "4096"}, strings.NewReader("bell\a\n"), &out, &errb); code == 0 || !strings.Contains(errb.String(), "saslprep") {
		t.Fatalf("a password with a control character: exit %d, %q", code, errb.String())
	}
}

// TestAuthenticatorRoleChecked: a dynamic authenticator whose realm has
// roles but not the trusted role its caller joins with is a startup (and
// reload) error naming the field; with the role it passes.
func TestAuthenticatorRoleChecked(t *testing.T) {
	cfg := &Config{Realms: []RealmConfig{
		{Name: "users", Auth: &auth.RealmConfig{Methods: []string{"ticket"}, Authenticator: "com.x.authenticate", AuthenticatorRealm: "ops"}},
		{Name: "ops", Auth: &auth.RealmConfig{Methods: []string{"anonymous"}},
			Roles: []authz.RoleConfig{{Name: "anonymous", Permissions: []authz.PermissionConfig{{URI: "com.x.", Match: "prefix", Allow: authz.AllowConfig{Register: true}}}}}},
	}}
	err := cfg.checkRoles()
	if err == nil || !strings.Contains(err.Error(), `realms[1].auth.trusted_role: "trusted"`) {
		t.Fatalf("checkRoles: %v, want an error naming realms[1].auth.trusted_role", err)
	}
	cfg.Realms[1].Roles = append(cfg.Realms[1].Roles, authz.RoleConfig{Name: "trusted",
		Permissions: []authz.PermissionConfig{{URI: "com.x.authenticate", Allow: authz.AllowConfig{Call: true}}}})
	if err := cfg.checkRoles(); err != nil {
		t.Fatalf("with the trusted role: %v", err)
	}
}
