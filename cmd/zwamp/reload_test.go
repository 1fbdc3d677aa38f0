package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/codec"
)

const rolesConfig = `{
  "admin": {"disabled": true},
  "listeners": [{"address": "127.0.0.1:0", "allowed_origins": ["https://app.example.com"]}],
  "realms": [{"name": "realm1", "roles": [
    {"name": "anonymous", "permissions": [
      {"uri": "com.", "match": "prefix", "allow": {"publish": %PUBLISH%, "subscribe": true}}
    ]}
  ]}]
}`

// TestReloadOnSIGHUP: the daemon with roles in its config; SIGHUP applies
// changed permissions to the next action of a live session, and a bad
// config is refused with the old one kept and the error logged.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := daemonBinary(t)
	cfgPath := filepath.Join(dir, "zwamp.json")
	write := func(body string) {
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(rolesConfig, "%PUBLISH%", "true", 1))
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLog := func(re string) string {
		t.Helper()
		rx := regexp.MustCompile(re)
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("daemon exited before logging %q", re)
				}
				if m := rx.FindStringSubmatch(l); m != nil {
					return m[len(m)-1]
				}
			case <-timeout:
				t.Fatalf("daemon did not log %q", re)
			}
		}
	}
	addr := waitLog(`msg=listening .*addr=(\S+)`)

	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	if c, resp, err := d.Dial("ws://"+addr+"/ws", map[string][]string{"Origin": {"https://evil.example"}}); err == nil {
		c.Close()
		t.Fatal("disallowed origin upgraded")
	} else if resp == nil || resp.StatusCode != 403 {
		t.Fatalf("disallowed origin: %v, want 403", err)
	}
	c, _, err := d.Dial("ws://"+addr+"/ws", map[string][]string{"Origin": {"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(v ...any) {
		b, _ := codec.AppendGo(nil, codec.JSON, v)
		if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() []any {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		v, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: b})
		if err != nil {
			t.Fatal(err)
		}
		return v.([]any)
	}
	send(1, "realm1", map[string]any{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}})
	if m := recv(); m[0] != int64(2) {
		t.Fatalf("want WELCOME, got %v", m)
	}
	req := int64(0)
	publish := func() []any {
		req++
		send(16, req, map[string]any{"acknowledge": true}, "com.x")
		return recv()
	}
	if m := publish(); m[0] != int64(17) {
		t.Fatalf("publish before reload: %v, want PUBLISHED", m)
	}

	write(strings.Replace(rolesConfig, "%PUBLISH%", "false", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="configuration reloaded"`)
	if m := publish(); m[0] != int64(8) || m[4] != "wamp.error.not_authorized" {
		t.Fatalf("publish after reload: %v, want ERROR wamp.error.not_authorized", m)
	}

	write(strings.Replace(strings.Replace(rolesConfig, "%PUBLISH%", "true", 1), `"prefix"`, `"glob"`, 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if e := waitLog(`msg="reload refused: the running configuration is kept" error="?(.*)`); !strings.Contains(e, "realms[0].roles[0].permissions[0].match") {
		t.Fatalf("refused reload logged %q, want the field named", e)
	}
	if m := publish(); m[0] != int64(8) {
		t.Fatalf("publish after a refused reload: %v, want ERROR (the last good roles stay)", m)
	}
	req++
	send(32, req, map[string]any{}, "com.y")
	if m := recv(); m[0] != int64(33) {
		t.Fatalf("subscribe after a refused reload: %v, want SUBSCRIBED", m)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if m := recv(); m[0] != int64(6) {
		t.Fatalf("want GOODBYE, got %v", m)
	}
	send(6, map[string]any{}, "wamp.close.goodbye_and_out")
	go func() {
		for range lines {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not exit after SIGTERM")
	}
}

// TestRolesConfigErrors: bad roles stop the daemon at start with the field
// named.
func TestRolesConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{`{"realms": [{"name": "realm1", "roles": [{"name": "a", "permissions": [{"uri": "com.", "match": "glob"}]}]}]}`, "realms[0].roles[0].permissions[0].match"},
		{`{"realms": [{"name": "realm1", "roles": [{"name": "a", "permissions": [{"uri": "com.", "alow": {}}]}]}]}`, `unknown field "alow"`},
		{`{"realms": [{"name": "realm1", "roles": [{"name": "a"}, {"name": "a"}]}]}`, "realms[0].roles[1].name"},
		{`{"realms": [{"name": "realm1"}], "listeners": [{"address": "127.0.0.1:0", "allowed_origins": ["https://a.com/x"]}]}`, "allowed_origins[0]"},
	} {
		p := filepath.Join(dir, "c.json")
		body := `{"admin": {"disabled": true}, ` + strings.TrimPrefix(tc.body, "{")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if code := run([]string{"serve", "--config", p}, &out, &out); code != 1 {
			t.Fatalf("%s: exit %d, want 1\n%s", tc.body, code, out.String())
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%s: output %q does not name %q", tc.body, out.String(), tc.want)
		}
	}
}

func TestOriginWarnings(t *testing.T) {
	c := &Config{
		Listeners: []ListenerConfig{
			{Address: "0.0.0.0:8080"},
			{Address: "127.0.0.1:8081"},
			{Address: "0.0.0.0:8082", AllowedOrigins: []string{"https://app.example.com"}},
			{Address: "0.0.0.0:8083", Kind: "rawsocket"},
		},
		Realms: []RealmConfig{{Name: "realm1"}},
	}
	if w := originWarnings(c, noCookieAuth); len(w) != 0 {
		t.Fatalf("warnings without cookie auth: %v", w)
	}
	c.Realms = append(c.Realms, RealmConfig{Name: "secure", Auth: &auth.RealmConfig{Methods: []string{"ticket", "cookie"}}})
	w := originWarnings(c, usesCookieAuth)
	if len(w) != 1 || !strings.Contains(w[0], "listeners[0]") || !strings.Contains(w[0], "secure") {
		t.Fatalf("warnings %v, want one for listeners[0] naming realm secure", w)
	}
}

// noCookieAuth: no realm uses cookies.
func noCookieAuth(RealmConfig) bool { return false }

// TestExampleRoles: the example config's roles compile.
func TestExampleRoles(t *testing.T) {
	cfg, err := loadConfig("zwamp.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.checkRoles(); err != nil {
		t.Fatalf("example roles: %v", err)
	}
	roles := 0
	for _, r := range cfg.Realms {
		if r.Name == "app" {
			roles = len(r.Roles)
		}
	}
	if roles != 3 || len(cfg.Listeners[1].AllowedOrigins) != 2 {
		t.Fatalf("example config parsed as %+v", cfg)
	}
}
