package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadPrincipalsOnSIGHUP goes through the binary as an operator
// would: `zwamp passwd` prints a ticket principal, the daemon starts with
// it, `zwamp join --ticket` logs in; the ticket is changed in the file and
// SIGHUP makes the old one fail and the new one work, while a session
// opened before the reload stays.
func TestReloadPrincipalsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := daemonBinary(t)
	zwamp := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		_ = cmd.Run()
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}
	entry := func(ticket string) string {
		t.Helper()
		// pbkdf2 with few iterations keeps the test quick; the default
		// argon2id13 is what an operator would use.
		out, errOut, code := zwamp(ticket+"\n", "passwd", "--method", "ticket", "--kdf", "pbkdf2", "--iterations", "100000")
		if code != 0 {
			t.Fatalf("zwamp passwd: exit %d: %s", code, errOut)
		}
		if strings.Contains(out, ticket) {
			t.Fatalf("zwamp passwd printed the secret: %s", out)
		}
		// {"ticket": {...}} → the inner object.
		out = strings.TrimSpace(out)
		return strings.TrimSuffix(strings.TrimPrefix(out, "{"), "}")
	}
	cfgPath := filepath.Join(dir, "zwamp.json")
	writeCfg := func(ticketEntry string) {
		body := fmt.Sprintf(`{"listeners": [{"address": "127.0.0.1:0"}], "admin": {"disabled": true},
			"realms": [{"name": "realm1", "auth": {"methods": ["ticket"],
				"principals": {"alice": {"role": "user", %s}}}}]}`, ticketEntry)
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg(entry("first-ticket"))
	addr, pid := cliServe(t, bin, "serve", "--config", cfgPath)
	url := "ws://" + addr + "/ws"
	join := func(ticket string) (string, int) {
		t.Helper()
		out, errOut, code := zwamp("", "join", "--url", url, "--authid", "alice", "--ticket", ticket)
		return out + errOut, code
	}
	if out, code := join("first-ticket"); code != 0 || !strings.Contains(out, `authrole: "user"`) {
		t.Fatalf("login with the first ticket: exit %d: %s", code, out)
	}
	if out, code := join("second-ticket"); code != 1 || !strings.Contains(out, "wamp.error.authentication_failed") {
		t.Fatalf("login with a wrong ticket: exit %d: %s; want 1 and authentication_failed", code, out)
	}
	// A session opened before the reload stays.
	sub, lines := cliStart(t, bin, url, "sub", "com.example.reload", "--authid", "alice", "--ticket", "first-ticket", "--count", "1")
	waitLine(t, lines, "subscribed")

	writeCfg(entry("second-ticket"))
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, code := join("second-ticket")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new ticket still fails 20 s after SIGHUP: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := join("first-ticket"); code != 1 {
		t.Fatalf("the old ticket after the reload: exit %d: %s; want refused", code, out)
	}
	if _, errOut, code := zwamp("", "pub", "--url", url, "--authid", "alice", "--ticket", "second-ticket", "com.example.reload", "after"); code != 0 {
		t.Fatalf("pub: %s", errOut)
	}
	if err := sub.wait(); err != nil || !strings.Contains(sub.stdout.String(), `"after"`) {
		t.Fatalf("the session opened before the reload: %v, got %q", err, sub.stdout.String())
	}
}
