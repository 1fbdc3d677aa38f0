package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	pythonBin   = "/usr/bin/python3" // Debian's: the pyenv python3 on PATH does not see python3-autobahn
	chromiumBin = "/usr/bin/chromium"

	installHint = "install the interop clients with `scripts/install-interop-deps.sh` (as root; `make interop-deps`), " +
		"or set ZWAMP_SKIP_INTEROP=1 to skip these tests"

	// clientTimeout is the hard limit on one client process. The scripts
	// give up on any single step after 30 s; this is the backstop for a
	// client that hangs outside a step (the machine may be loaded).
	clientTimeout = 120 * time.Second
	// readyTimeout bounds the wait for a service or subscriber to say it is
	// ready, which includes the interpreter's start-up.
	readyTimeout = 60 * time.Second
)

var (
	tmpDir string // TestMain's, for the daemon binary

	buildOnce  sync.Once
	daemonPath string
	buildErr   error

	// slots bounds the client-heavy tests running at once: the machine has
	// two cores, and a Python client doing 1000 calls keeps one busy.
	slots = make(chan struct{}, 2)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zwamp-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// slot takes one of the slots for the rest of the test.
func slot(t *testing.T) {
	t.Helper()
	slots <- struct{}{}
	t.Cleanup(func() { <-slots })
}

// ---- prerequisites -----------------------------------------------------

type prereq struct {
	once sync.Once
	err  error
}

var prereqs = map[string]*prereq{"python": {}, "node": {}, "chromium": {}}

var prereqChecks = map[string]func() error{
	"python": func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, pythonBin, "-c",
			"import autobahn, msgpack, cbor2; print(autobahn.__version__)").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s cannot import autobahn, msgpack and cbor2 (Debian packages python3-autobahn python3-msgpack python3-cbor2): %v\n%s",
				pythonBin, err, out)
		}
		return nil
	},
	"node": func() error {
		if _, err := exec.LookPath("node"); err != nil {
			return fmt.Errorf("node is not on PATH: %w", err)
		}
		// Every pinned package must be installed at its pinned version, so a
		// stale node_modules is caught here rather than as odd failures.
		var pkg struct {
			Dependencies map[string]string `json:"dependencies"`
		}
		b, err := os.ReadFile(filepath.Join("node", "package.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &pkg); err != nil {
			return fmt.Errorf("node/package.json: %w", err)
		}
		names := make([]string, 0, len(pkg.Dependencies))
		for name := range pkg.Dependencies {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			pin := pkg.Dependencies[name]
			var got struct {
				Version string `json:"version"`
			}
			b, err := os.ReadFile(filepath.Join("node", "node_modules", name, "package.json"))
			if err == nil {
				err = json.Unmarshal(b, &got)
			}
			if err != nil || got.Version != pin {
				return fmt.Errorf("interop/node/node_modules lacks %s@%s (found %q, %v): run `npm ci` in interop/node",
					name, pin, got.Version, err)
			}
		}
		return nil
	},
	"chromium": func() error {
		if _, err := exec.LookPath(chromiumBin); err != nil {
			return fmt.Errorf("no headless browser (Debian package chromium): %w", err)
		}
		return nil
	},
}

// need fails the test (or skips it under ZWAMP_SKIP_INTEROP=1) unless the
// named client is installed.
func need(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		p := prereqs[name]
		p.once.Do(func() { p.err = prereqChecks[name]() })
		if p.err == nil {
			continue
		}
		if os.Getenv("ZWAMP_SKIP_INTEROP") == "1" {
			t.Skipf("skipped (ZWAMP_SKIP_INTEROP=1): %v", p.err)
		}
		t.Fatalf("interop prerequisite missing: %v\n%s", p.err, installHint)
	}
}

// ---- the daemon --------------------------------------------------------

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "/usr/local/go/bin/go"
}

// daemonBinary builds cmd/zwamp once per test binary. With
// ZWAMP_INTEROP_RACE=1 it is built with -race, so that real clients'
// traffic runs the router under the race detector (a race makes the daemon
// exit 66, which stop reports).
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		daemonPath = filepath.Join(tmpDir, "zwamp")
		args := []string{"build", "-o", daemonPath}
		if os.Getenv("ZWAMP_INTEROP_RACE") == "1" {
			args = append(args, "-race")
		}
		args = append(args, "github.com/zwamp/zwamp/cmd/zwamp")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goTool(), args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return daemonPath
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is one `zwamp serve` process on a loopback port.
type daemon struct {
	addr    string
	cmd     *exec.Cmd
	log     syncBuffer
	exited  chan struct{}
	waitErr error
}

func (d *daemon) ws() string { return "ws://" + d.addr + "/ws" }
func (d *daemon) rs() string { return "rs://" + d.addr }

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startDaemon starts the daemon and waits until it accepts connections. The
// port is found free and then handed to the daemon, so another process may
// take it in between: a daemon that does not come up is retried on a new port.
// args go to `zwamp serve` after --listen (e.g. --config FILE, whose first
// listener --listen overrides).
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	bin := daemonBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freePort()
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		d := launchDaemon(t, bin, addr, args...)
		if lastErr = d.waitAccepting(20 * time.Second); lastErr == nil {
			t.Cleanup(d.kill)
			return d
		}
		d.kill()
	}
	t.Fatalf("daemon did not start: %v", lastErr)
	return nil
}

// launchDaemon starts `zwamp serve --listen addr args...` without waiting
// for it to accept connections.
func launchDaemon(t *testing.T, bin, addr string, args ...string) *daemon {
	t.Helper()
	d := &daemon{addr: addr, exited: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"serve", "--listen", addr}, args...)...)
	d.cmd.Stdout = &d.log
	d.cmd.Stderr = &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	return d
}

func (d *daemon) waitAccepting(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("daemon exited (%v) before accepting connections; its log:\n%s", d.waitErr, d.log.String())
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("daemon not accepting on %s after %v; its log:\n%s", d.addr, timeout, d.log.String())
}

func (d *daemon) kill() {
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Kill()
		<-d.exited
	}
}

// stop sends SIGTERM and checks that the daemon exits 0: it must say
// GOODBYE to every session, wait for the answers and stop by itself.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.kill()
		t.Fatalf("daemon still running 30 s after SIGTERM; its log:\n%s", d.log.String())
	}
	if d.waitErr != nil {
		t.Fatalf("daemon after SIGTERM: %v, want exit status 0; its log:\n%s", d.waitErr, d.log.String())
	}
	// Nothing these clients do is an error on the router's side.
	log := d.log.String()
	for _, bad := range []string{"level=ERROR", "panic:", "DATA RACE"} {
		if strings.Contains(log, bad) {
			t.Errorf("daemon log has %q; its log:\n%s", bad, log)
			break
		}
	}
}

// ---- client processes --------------------------------------------------

// client is one client process. Its stdout is read line by line; every
// mode of the client scripts prints JSON lines only.
type client struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string
	stderr  syncBuffer
	exited  chan struct{}
	waitErr error
}

func python(args ...string) []string {
	return append([]string{pythonBin, filepath.Join("python", "client.py")}, args...)
}

func node(args ...string) []string {
	return append([]string{"node", filepath.Join("node", "client.js")}, args...)
}

// startClient starts argv in its own process group (Chromium has children),
// killed as a group after clientTimeout or when the test ends.
func startClient(t *testing.T, name string, argv []string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	c := &client{t: t, name: name, lines: make(chan string, 64), exited: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.Cancel = func() error { return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) }
	c.cmd.WaitDelay = 5 * time.Second
	c.cmd.Stderr = &c.stderr
	c.cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: start %v: %v", name, argv, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() {
		c.waitErr = c.cmd.Wait()
		cancel()
		close(c.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-c.exited
	})
	return c
}

func (c *client) fail(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s: %s\n--- its stderr (last 8 KiB):\n%s", c.name, fmt.Sprintf(format, args...), tail(c.stderr.String(), 8<<10))
}

// tail keeps failure messages readable: Chromium alone logs pages of D-Bus
// complaints.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// next returns the next JSON line the client prints.
func (c *client) next(timeout time.Duration) map[string]any {
	c.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				<-c.exited
				c.fail("exited (%v) without printing the expected line", c.waitErr)
			}
			if !strings.HasPrefix(line, "{") {
				continue // not ours: a library that prints on stdout
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				c.fail("bad JSON line %q: %v", line, err)
			}
			if f, ok := m["fatal"]; ok {
				c.fail("failed: %v", f)
			}
			return m
		case <-timer.C:
			c.fail("no output within %v", timeout)
		}
	}
}

// result waits for the client to exit 0 and returns the last JSON line it
// printed.
func (c *client) result() map[string]any {
	c.t.Helper()
	var last map[string]any
	for line := range c.lines {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			c.fail("bad JSON line %q: %v", line, err)
		}
		if f, ok := m["fatal"]; ok {
			c.fail("failed: %v", f)
		}
		last = m
	}
	<-c.exited
	if c.waitErr != nil {
		c.fail("exit: %v", c.waitErr)
	}
	if last == nil {
		c.fail("printed no result")
	}
	return last
}

// closeStdin is a service's signal to leave the realm and exit.
func (c *client) closeStdin() {
	if err := c.stdin.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		c.t.Errorf("%s: close stdin: %v", c.name, err)
	}
}

// run runs a client to completion and returns its result line.
func run(t *testing.T, name string, argv []string) map[string]any {
	t.Helper()
	return startClient(t, name, argv).result()
}
