package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// daemonBinary builds zwamp once for the daemon tests.
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zwamp-daemon-test")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "zwamp")
		if out, err := exec.Command("go", "build", "-o", buildBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" {
		_ = os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// withRealm adds realm1 to a JSON configuration object, and turns the
// admin listener off (its default port is shared by every test).
func withRealm(config string) string {
	return `{"realms": [{"name": "realm1"}], "admin": {"disabled": true}, ` + strings.TrimPrefix(strings.TrimSpace(config), "{")
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeListenerErrors: every way a listener can fail to start makes
// `zwamp serve` exit non-zero within a second with one error line naming
// the listener and the cause.
func TestServeListenerErrors(t *testing.T) {
	bin := daemonBinary(t)
	dir := t.TempDir()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	certA, _, _ := testcert.WriteFiles(t, dir, "a")
	_, keyB, _ := testcert.WriteFiles(t, dir, "b")
	unreadable := writeFile(t, dir, "unreadable.key", "secret")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// root reads a mode-000 file; a directory cannot be read by anyone.
		unreadable = t.TempDir()
	}
	notSocket := writeFile(t, dir, "not-a-socket", "keep")
	tlsListener := func(cert, key string) string {
		return fmt.Sprintf(`{"listeners": [{"address": "127.0.0.1:0"},
			{"kind": "websocket", "address": "127.0.0.1:0", "tls": {"cert": %q, "key": %q}}]}`, cert, key)
	}
	cases := []struct {
		name   string
		args   []string
		config string
		want   []string
	}{
		{"port in use", []string{"--listen", held.Addr().String()}, "",
			[]string{"listener 0 (universal tcp " + held.Addr().String() + ")", "address already in use"}},
		{"address not available", []string{"--listen", "10.255.255.1:18772"}, "",
			[]string{"listener 0 (universal tcp 10.255.255.1:18772)", "cannot assign requested address"}},
		{"second listener in use", nil, fmt.Sprintf(`{"listeners": [{"address": "127.0.0.1:0"}, {"kind": "rawsocket", "address": %q}]}`, held.Addr().String()),
			[]string{"listener 1 (rawsocket tcp " + held.Addr().String() + ")", "address already in use"}},
		{"tls key unreadable", nil, tlsListener(certA, unreadable),
			[]string{"listener 1 (websocket tcp 127.0.0.1:0)", unreadable}},
		{"tls key missing", nil, tlsListener(certA, filepath.Join(dir, "nope.key")),
			[]string{"listener 1 (websocket tcp 127.0.0.1:0)", "no such file or directory"}},
		{"tls key does not match", nil, tlsListener(certA, keyB),
			[]string{"listener 1 (websocket tcp 127.0.0.1:0)", "private key does not match public key"}},
		{"unix path is a file", nil, fmt.Sprintf(`{"listeners": [{"kind": "rawsocket", "network": "unix", "address": %q}]}`, notSocket),
			[]string{"listener 0 (rawsocket unix " + notSocket + ")", "is not a socket"}},
		{"unix directory missing", nil, fmt.Sprintf(`{"listeners": [{"kind": "rawsocket", "network": "unix", "address": %q}]}`, dir+"/no/dir/z.sock"),
			[]string{"listener 0 (rawsocket unix " + dir + "/no/dir/z.sock)", "no such file or directory"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve"}, c.args...)
			if c.config != "" {
				args = append(args, "--config", writeFile(t, dir, "c"+strconv.Itoa(i)+".json", withRealm(c.config)))
			}
			cmd := exec.Command(bin, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running after 10s; stderr:\n%s", stderr.String())
			}
			took := time.Since(start)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("exit: %v, want a non-zero status; stderr:\n%s", err, stderr.String())
			}
			if took > time.Second {
				t.Errorf("exited after %v, want within 1s", took)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") {
				t.Fatalf("want one error line, got:\n%s", stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error line lacks %q: %s", w, lines[0])
				}
			}
		})
	}
}

// daemon is a running `zwamp serve` whose stderr is collected.
type daemon struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	log  bytes.Buffer
	done chan error
}

// startDaemon runs the binary through sh so the test can lower limits
// (prefix, e.g. "ulimit -n 64;") and waits for its listening address.
func startDaemon(t *testing.T, prefix, config string) *daemon {
	t.Helper()
	bin := daemonBinary(t)
	cfgFile := writeFile(t, t.TempDir(), "zwamp.json", withRealm(config))
	cmd := exec.Command("sh", "-c", prefix+" exec "+bin+" serve --config "+cfgFile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, done: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addrRe := regexp.MustCompile(`msg=listening .*addr=(\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log.WriteString(line + "\n")
			d.mu.Unlock()
			if m := addrRe.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		d.done <- cmd.Wait()
	}()
	select {
	case d.addr = <-found:
	case err := <-d.done:
		t.Fatalf("daemon exited (%v); log:\n%s", err, d.logText())
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not report its address; log:\n%s", d.logText())
	}
	return d
}

func (d *daemon) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// stop sends SIGTERM and waits up to bound for the exit.
func (d *daemon) stop(t *testing.T, bound time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		return time.Since(start), err
	case <-time.After(bound):
		t.Fatalf("daemon still running %v after SIGTERM; log:\n%s", bound, d.logText())
	}
	return 0, nil
}

func (d *daemon) rssKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in %s", b)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// rsClient is a RawSocket JSON client on a plain TCP connection.
type rsClient struct {
	c  net.Conn
	r  *bufio.Reader
	rq uint64
	wb []byte
}

var errRefused = errors.New("connection closed before the handshake reply")

func dialRawSocket(addr string) (*rsClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, _ = c.Write(rawsocket.AppendHandshake(nil, rawsocket.Handshake{Serializer: rawsocket.JSON, LengthExp: 15}))
	r := bufio.NewReader(c)
	var reply [4]byte
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(r, reply[:]); err != nil {
		c.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, errRefused
		}
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	if reply[0] != rawsocket.Magic {
		c.Close()
		return nil, fmt.Errorf("handshake reply %x", reply)
	}
	return &rsClient{c: c, r: r}, nil
}

// queue appends one JSON message frame to the write buffer.
func (p *rsClient) queue(msg string) {
	p.wb, _ = rawsocket.AppendFrame(p.wb, rawsocket.Message, []byte(msg), rawsocket.MaxLen)
}

func (p *rsClient) flush() error {
	_, err := p.c.Write(p.wb)
	p.wb = p.wb[:0]
	return err
}

func (p *rsClient) send(msg string) error { p.queue(msg); return p.flush() }

// read returns the next message frame's payload (pings are answered).
func (p *rsClient) read() ([]byte, error) {
	var h [4]byte
	for {
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			return nil, err
		}
		n := int(binary.BigEndian.Uint32(h[:]) & 0xFFFFFF)
		b := make([]byte, n)
		if _, err := io.ReadFull(p.r, b); err != nil {
			return nil, err
		}
		switch rawsocket.MsgType(h[0] & 0x07) {
		case rawsocket.Message:
			return b, nil
		case 1: // PING
			f, _ := rawsocket.AppendFrame(nil, 2, b, rawsocket.MaxLen)
			_, _ = p.c.Write(f)
		}
	}
}

func (p *rsClient) expect(prefix string) ([]byte, error) {
	b, err := p.read()
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return b, fmt.Errorf("want %s..., got %s", prefix, b)
	}
	return b, nil
}

func (p *rsClient) join() error {
	if err := p.send(`[1,"realm1",{"roles":{"publisher":{},"subscriber":{},"caller":{},"callee":{}}}]`); err != nil {
		return err
	}
	_, err := p.expect("[2,")
	return err
}

func (p *rsClient) req() uint64 { p.rq++; return p.rq }

// TestServeSIGTERMUnderLoad: 1,000 sessions with events flowing; half
// answer the router's GOODBYE and half never do. SIGTERM still ends the
// daemon within the configured shutdown timeout (plus a margin), and it
// says that the graceful part timed out.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 sessions")
	}
	const sessions = 1000
	const timeout = 2 * time.Second
	d := startDaemon(t, "", `{"listeners": [{"address": "127.0.0.1:0"}], "shutdown_timeout": "2s"}`)
	var clients []*rsClient
	for i := 0; i < sessions; i++ {
		p, err := dialRawSocket(d.addr)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		defer p.c.Close()
		if err := p.join(); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if err := p.send(fmt.Sprintf(`[32,%d,{},"com.example.load"]`, p.req())); err != nil {
			t.Fatal(err)
		}
		if _, err := p.expect("[33,"); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		clients = append(clients, p)
	}
	var events, goodbyes atomic.Int64
	for i, p := range clients {
		answer := i%2 == 0
		go func() {
			for {
				b, err := p.read()
				if err != nil {
					return
				}
				switch {
				case bytes.HasPrefix(b, []byte("[36,")):
					events.Add(1)
				case bytes.HasPrefix(b, []byte("[6,")):
					goodbyes.Add(1)
					if answer {
						_ = p.send(`[6,{},"wamp.close.goodbye_and_out"]`)
					}
				}
			}
		}()
	}
	// Traffic: four publishers with their own sessions, until the end.
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	for i := 0; i < 4; i++ {
		p, err := dialRawSocket(d.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer p.c.Close()
		if err := p.join(); err != nil {
			t.Fatal(err)
		}
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			go func() { // drain
				for {
					if _, err := p.read(); err != nil {
						return
					}
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p.queue(fmt.Sprintf(`[16,%d,{},"com.example.load",["tick"]]`, p.req()))
				if p.flush() != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	waitUntil(t, 20*time.Second, func() bool { return events.Load() >= sessions })

	took, err := d.stop(t, timeout+hardExitGrace+10*time.Second)
	close(stop)
	pubs.Wait()
	t.Logf("exit after SIGTERM in %v with %d sessions (%d events delivered, %d GOODBYEs seen)", took, sessions, events.Load(), goodbyes.Load())
	if err != nil {
		t.Fatalf("exit status: %v; log:\n%s", err, d.logText())
	}
	if took > timeout+hardExitGrace {
		t.Errorf("exit took %v, beyond the bound %v", took, timeout+hardExitGrace)
	}
	if !strings.Contains(d.logText(), "graceful shutdown timed out") {
		t.Errorf("the log does not say the graceful shutdown timed out:\n%s", d.logText())
	}
	if goodbyes.Load() < sessions/2 {
		t.Errorf("only %d sessions got GOODBYE", goodbyes.Load())
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeSubscriptionLimitRSS: one session reaches the default
// subscription limit and then sends 200,000 SUBSCRIBEs to new topics; each
// is refused with zwamp.error.limit_exceeded, the session keeps working,
// and the daemon's RSS stays flat.
func TestServeSubscriptionLimitRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 requests")
	}
	const limit = 10000 // core.DefaultSubscriptionsPerSession
	const attempts = 200000
	d := startDaemon(t, "", `{"listeners": [{"address": "127.0.0.1:0"}]}`)
	p, err := dialRawSocket(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.c.Close()
	if err := p.join(); err != nil {
		t.Fatal(err)
	}
	// subscribe sends n SUBSCRIBEs to fresh topics in batches and counts
	// the SUBSCRIBED and limit ERROR replies.
	topic := 0
	subscribe := func(n int) (ok, refused int) {
		errc := make(chan error, 1)
		go func() {
			for i := 0; i < n; i += 500 {
				for j := i; j < i+500 && j < n; j++ {
					topic++
					p.queue(fmt.Sprintf(`[32,%d,{},"com.example.topic.%d"]`, p.req(), topic))
				}
				if err := p.flush(); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		_ = p.c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		for i := 0; i < n; i++ {
			b, err := p.read()
			if err != nil {
				t.Fatalf("after %d replies: %v", i, err)
			}
			switch {
			case bytes.HasPrefix(b, []byte("[33,")):
				ok++
			case bytes.HasPrefix(b, []byte("[8,32,")) && bytes.Contains(b, []byte("zwamp.error.limit_exceeded")):
				refused++
			default:
				t.Fatalf("unexpected reply %s", b)
			}
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		return ok, refused
	}
	ok, refused := subscribe(limit)
	if ok != limit || refused != 0 {
		t.Fatalf("%d subscribed, %d refused, want %d and 0", ok, refused, limit)
	}
	// RSS is sampled after the first and the second half of the
	// attempts: the first half may still grow the Go heap's garbage
	// headroom (each refusal formats an error message), but nothing is
	// kept, so the second half must not add to it.
	before := d.rssKB(t)
	ok1, refused1 := subscribe(attempts / 2)
	mid := d.rssKB(t)
	ok2, refused2 := subscribe(attempts / 2)
	after := d.rssKB(t)
	t.Logf("RSS with %d subscriptions: %d kB; after %d SUBSCRIBEs over the limit: %d kB; after %d: %d kB (%+d kB in all, %+d kB in the second half)",
		limit, before, attempts/2, mid, attempts, after, after-before, after-mid)
	if ok1+ok2 != 0 || refused1+refused2 != attempts {
		t.Fatalf("%d subscribed, %d refused, want 0 and %d", ok1+ok2, refused1+refused2, attempts)
	}
	if after-mid > 4<<10 || after-before > 32<<10 {
		t.Errorf("RSS keeps growing with refused SUBSCRIBEs: %d, %d, %d kB", before, mid, after)
	}
	// The session still works: a publish with acknowledgement.
	if err := p.send(fmt.Sprintf(`[16,%d,{"acknowledge":true},"com.example.topic.1",[1]]`, p.req())); err != nil {
		t.Fatal(err)
	}
	for {
		b, err := p.read()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(b, []byte("[17,")) { // PUBLISHED (the EVENT is excluded: the publisher is the subscriber)
			break
		}
	}
}

// TestServeFDLimitLogAggregation: at the open-files limit every new
// connection is refused; 1,000 of them make a handful of log lines whose
// counts add up to the refusals the clients saw.
func TestServeFDLimitLogAggregation(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections")
	}
	d := startDaemon(t, "ulimit -n 64 &&", `{"listeners": [{"address": "127.0.0.1:0"}], "pollers": 2}`)
	// Fill the daemon's descriptors with idle connections until one is
	// refused: from then on each new connection finds exactly one free fd
	// (accept takes it, registering needs a second) and is refused.
	var held []*rsClient
	refused := 0
	for refused == 0 {
		p, err := dialRawSocket(d.addr)
		switch {
		case errors.Is(err, errRefused):
			refused++
		case err != nil:
			t.Fatal(err)
		default:
			held = append(held, p)
			if len(held) > 100 {
				t.Fatal("no refusal after 100 connections: the fd limit did not apply")
			}
		}
	}
	const n = 1000
	served := 0
	for i := 0; i < n; i++ {
		p, err := dialRawSocket(d.addr)
		switch {
		case errors.Is(err, errRefused):
			refused++
		case err != nil:
			t.Fatal(err)
		default:
			served++
			p.c.Close()
		}
	}
	t.Logf("%d idle connections held; %d refused, %d served of %d more", len(held), refused, served, n)
	if refused < n {
		t.Fatalf("only %d connections refused", refused)
	}
	for _, p := range held {
		p.c.Close()
	}
	if _, err := d.stop(t, 20*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	var lines []string
	total := 0
	fullRe := regexp.MustCompile(`msg="register connection"`)
	sumRe := regexp.MustCompile(`msg="register connection \(repeated\)" repeated=(\d+)`)
	for _, l := range strings.Split(d.logText(), "\n") {
		if m := sumRe.FindStringSubmatch(l); m != nil {
			k, _ := strconv.Atoi(m[1])
			total += k
			lines = append(lines, l)
		} else if fullRe.MatchString(l) {
			total++
			lines = append(lines, l)
		}
	}
	t.Logf("%d log lines for %d refused connections:\n%s", len(lines), refused, strings.Join(lines, "\n"))
	if total != refused {
		t.Errorf("log lines count %d refusals, clients saw %d", total, refused)
	}
	if len(lines) > 5 {
		t.Errorf("%d log lines, want a handful", len(lines))
	}
}

// TestLimitsConfig: the limits in the file reach core and netpoll.
func TestLimitsConfig(t *testing.T) {
	cfg, err := loadConfig(writeFile(t, t.TempDir(), "l.json", `{"realms": [{"name": "r"}], "limits": {"max_subscriptions_per_session": 7,
		"max_registrations_per_session": 8, "max_calls_per_caller": 9, "max_invocations_per_callee": 10,
		"max_progressive_chunks": 11, "max_sessions_per_realm": 12, "max_conns_per_ip": 13},
		"shutdown_timeout": "1500ms", "log_interval": "1m"}`))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.routerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	l := rc.Limits
	if l.SubscriptionsPerSession != 7 || l.RegistrationsPerSession != 8 || l.CallsPerSession != 9 ||
		l.InvocationsPerSession != 10 || l.ProgressiveChunks != 11 || l.SessionsPerRealm != 12 || rc.LogInterval != time.Minute {
		t.Fatalf("router config %+v", rc)
	}
	sc, err := cfg.serverConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.MaxConnsPerIP != 13 || sc.LogInterval != time.Minute || cfg.shutdownTimeout() != 1500*time.Millisecond {
		t.Fatalf("server config %+v, shutdown %v", sc, cfg.shutdownTimeout())
	}
	if defaultConfig().shutdownTimeout() != DefaultShutdownTimeout {
		t.Fatal("default shutdown timeout")
	}
}

// TestServeSecondSignal: while the graceful shutdown waits for sessions
// that never answer GOODBYE, a second SIGTERM ends the process at once and
// says so.
func TestServeSecondSignal(t *testing.T) {
	d := startDaemon(t, "", `{"listeners": [{"address": "127.0.0.1:0"}], "shutdown_timeout": "60s"}`)
	p, err := dialRawSocket(d.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.c.Close()
	if err := p.join(); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := p.expect("[6,"); err != nil { // GOODBYE, left unanswered
		t.Fatal(err)
	}
	took, err := d.stop(t, 20*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; log:\n%s", err, d.logText())
	}
	if !strings.Contains(d.logText(), "second signal: exiting now") {
		t.Fatalf("the log does not say why it exited:\n%s", d.logText())
	}
	t.Logf("exit %v after the second SIGTERM", took)
}
