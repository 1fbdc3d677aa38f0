package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/codec"
)

// TestDaemon builds the binary, starts `zwamp serve`, joins realm1 over
// WebSocket, calls a meta procedure, and checks that SIGTERM sends GOODBYE
// wamp.close.system_shutdown and exits 0.
func TestDaemon(t *testing.T) {
	bin := daemonBinary(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRe := regexp.MustCompile(`msg=listening .*addr=(\S+)`)
	sc := bufio.NewScanner(stderr)
	var addr string
	deadline := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	for sc.Scan() {
		if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	deadline.Stop()
	if addr == "" {
		t.Fatal("daemon did not report its address")
	}
	go func() {
		for sc.Scan() {
		}
	}()

	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	c, _, err := d.Dial("ws://"+addr+"/any/path", nil)
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
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
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
	send(1, "realm1", map[string]any{"roles": map[string]any{"caller": map[string]any{}}})
	if m := recv(); m[0] != int64(2) {
		t.Fatalf("want WELCOME, got %v", m)
	}
	send(48, 1, map[string]any{}, "wamp.session.count")
	if m := recv(); m[0] != int64(50) || m[3].([]any)[0] != int64(1) {
		t.Fatalf("wamp.session.count: %v", m)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if m := recv(); m[0] != int64(6) || m[2] != "wamp.close.system_shutdown" {
		t.Fatalf("want GOODBYE system_shutdown, got %v", m)
	}
	send(6, map[string]any{}, "wamp.close.goodbye_and_out")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not exit after SIGTERM")
	}
}

func TestConfigFiles(t *testing.T) {
	cfg, err := loadConfig("zwamp.example.json")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if len(cfg.Listeners) != 3 || cfg.Listeners[2].Network != "unix" || cfg.Limits.PingInterval != Duration(30*time.Second) {
		t.Fatalf("example config parsed as %+v", cfg)
	}
	if _, err := cfg.serverConfig(nil); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("missing TLS files not reported: %v", err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := loadConfig(write("typo.json", `{"listners": []}`)); err == nil || !strings.Contains(err.Error(), "listners") {
		t.Fatalf("unknown field not reported: %v", err)
	}
	bad, _ := loadConfig(write("kind.json", `{"listeners": [{"kind": "carrier-pigeon", "address": "x"}]}`))
	if _, err := bad.serverConfig(nil); err == nil {
		t.Fatal("unknown listener kind accepted")
	}
	dur, err := loadConfig(write("dur.json", `{"limits": {"ping_interval": 30}}`))
	if err == nil {
		t.Fatalf("numeric duration accepted: %+v", dur)
	}
	norealm, _ := loadConfig(write("norealm.json", `{"realms": []}`))
	if _, err := norealm.routerConfig(nil); err == nil {
		t.Fatal("config without realms accepted")
	}
	if code := run([]string{"frobnicate"}, os.Stdout, os.Stderr); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}
