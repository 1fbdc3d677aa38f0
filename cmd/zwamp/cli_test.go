package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLI runs the client subcommands as a user would: the built binary
// against a running daemon, each command a process of its own.
func TestCLI(t *testing.T) {
	bin := daemonBinary(t)
	url := "ws://" + cliDaemon(t, bin) + "/ws"

	// zwamp runs the CLI with ZWAMP_URL pointing at the daemon (the env
	// fallback) unless the arguments name --url themselves.
	zwamp := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "ZWAMP_URL="+url)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code = cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatalf("zwamp %v: %v", args, err)
		}
		return o.String(), e.String(), code
	}

	t.Run("call meta procedure", func(t *testing.T) {
		// The count includes the calling session itself.
		out, errOut, code := zwamp(t, "call", "wamp.session.count")
		if code != 0 || strings.TrimSpace(out) != "1" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and the count 1", code, out, errOut)
		}
	})

	t.Run("call error exits 1 with the URI", func(t *testing.T) {
		out, errOut, code := zwamp(t, "call", "com.example.none", "1")
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "wamp.error.no_such_procedure ") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and wamp.error.no_such_procedure", code, out, errOut)
		}
		_, errOut, code = zwamp(t, "call", "--json", "com.example.none")
		var e struct{ Error string }
		if code != 1 || json.Unmarshal([]byte(errOut), &e) != nil || e.Error != "wamp.error.no_such_procedure" {
			t.Fatalf("--json: exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("pub reaches sub", func(t *testing.T) {
		sub, lines := cliStart(t, bin, url, "sub", "com.example.cli", "--count", "2", "--json")
		// sub says it is subscribed on stderr before any event can arrive.
		waitLine(t, lines, "subscribed")
		_, errOut, code := zwamp(t, "pub", "com.example.cli", "hello", "42", `{"a":[1,2]}`, "--kw", "k=v", "--kw", "n=7", "--count", "2", "--ack")
		if code != 0 {
			t.Fatalf("pub exit %d: %s", code, errOut)
		}
		if err := sub.wait(); err != nil {
			t.Fatalf("sub: %v, stderr %s", err, sub.stderr.String())
		}
		evs := strings.Split(strings.TrimSpace(sub.stdout.String()), "\n")
		if len(evs) != 2 {
			t.Fatalf("sub printed %d lines, want 2: %q", len(evs), sub.stdout.String())
		}
		for _, line := range evs {
			var ev struct {
				Topic  string
				Args   []any
				Kwargs map[string]any
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("event line %q: %v", line, err)
			}
			args, _ := json.Marshal(ev.Args)
			kw, _ := json.Marshal(ev.Kwargs)
			if ev.Topic != "com.example.cli" || string(args) != `["hello",42,{"a":[1,2]}]` || string(kw) != `{"k":"v","n":7}` {
				t.Fatalf("event %q: want topic com.example.cli, args [\"hello\",42,{\"a\":[1,2]}], kwargs {k:v,n:7}", line)
			}
		}
	})

	t.Run("register exec serves calls", func(t *testing.T) {
		script := `python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"sum": sum(d["args"]), "kw": d["kwargs"]}))'`
		if _, err := exec.LookPath("python3"); err != nil {
			script = `cat` // echo the invocation back: still checks the stdin contract
		}
		reg, lines := cliStart(t, bin, url, "register", "com.example.sum", "--exec", script)
		waitLine(t, lines, "registered")
		out, errOut, code := zwamp(t, "call", "com.example.sum", "2", "3", "--kw", "x=1")
		if code != 0 {
			t.Fatalf("call exit %d: %s", code, errOut)
		}
		want := `{"kw":{"x":1},"sum":5}`
		if script == "cat" {
			want = `{"args":[2,3],"kwargs":{"x":1}}`
		}
		if strings.TrimSpace(out) != want {
			t.Fatalf("call printed %q, want %s", out, want)
		}
		reg.interrupt(t)

		fail, lines := cliStart(t, bin, url, "register", "com.example.fail", "--exec", "echo broken >&2; exit 3")
		waitLine(t, lines, "registered")
		_, errOut, code = zwamp(t, "call", "com.example.fail")
		if code != 1 || !strings.HasPrefix(errOut, `wamp.error.runtime_error "broken"`) {
			t.Fatalf("failing command: exit %d, stderr %q; want 1 and wamp.error.runtime_error \"broken\"", code, errOut)
		}
		fail.interrupt(t)
	})

	t.Run("join prints welcome details", func(t *testing.T) {
		out, errOut, code := zwamp(t, "join", "--serializer", "msgpack")
		if code != 0 || !strings.Contains(out, "joined realm1") || !strings.Contains(out, `authrole: "anonymous"`) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		_, errOut, code = zwamp(t, "join", "--realm", "no.such.realm")
		if code != 1 || !strings.Contains(errOut, "wamp.error.no_such_realm") {
			t.Fatalf("unknown realm: exit %d, stderr %q; want 1 naming wamp.error.no_such_realm", code, errOut)
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{{"pub"}, {"call", "--bogus", "x"}, {"register", "p"}, {"join", "--serializer", "xml"}} {
			_, errOut, code := zwamp(t, args...)
			want := 2
			if args[0] == "join" {
				want = 1 // a bad value is reported when connecting
			}
			if code != want || errOut == "" {
				t.Errorf("zwamp %v: exit %d, stderr %q; want %d and a message", args, code, errOut, want)
			}
		}
		out, _, code := zwamp(t, "sub", "--help")
		if code != 0 || !strings.Contains(out, "usage: zwamp sub TOPIC") || !strings.Contains(out, "-match") {
			t.Errorf("sub --help: exit %d, %q", code, out)
		}
	})
}

// cliDaemon starts `zwamp serve` on a free port and returns its address;
// the daemon is killed when the test ends.
func cliDaemon(t *testing.T, bin string) string {
	addr, _ := cliServe(t, bin, "serve", "--listen", "127.0.0.1:0")
	return addr
}

// cliServe starts the daemon with args and returns the address its first
// listener reports and its process id; it is killed when the test ends.
func cliServe(t *testing.T, bin string, args ...string) (addr string, pid int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrRe := regexp.MustCompile(`msg=listening .*addr=(\S+)`)
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1], cmd.Process.Pid
		}
	}
	t.Fatal("daemon did not report its address")
	return "", 0
}

// cliProc is a long-running CLI command (sub, register).
type cliProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

// cliStart starts a CLI command in the background; lines carries its stderr
// line by line (the "subscribed"/"registered" notices).
func cliStart(t *testing.T, bin, url string, args ...string) (*cliProc, <-chan string) {
	t.Helper()
	p := &cliProc{cmd: exec.Command(bin, append(args, "--url", url)...), done: make(chan error, 1)}
	p.cmd.Stdout = &p.stdout
	pr, pw := io.Pipe()
	p.cmd.Stderr = io.MultiWriter(&p.stderr, pw)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p, lines
}

func (p *cliProc) wait() error {
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		return <-p.done
	}
}

// interrupt sends SIGINT, as Ctrl-C would, and expects exit status 0.
func (p *cliProc) interrupt(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	if err := p.wait(); err != nil {
		t.Fatalf("after SIGINT: %v, stderr %s", err, p.stderr.String())
	}
}

func waitLine(t *testing.T, lines <-chan string, substr string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, substr) {
				return
			}
		case <-timeout:
			t.Fatalf("no stderr line with %q within 30 s", substr)
		}
	}
}
