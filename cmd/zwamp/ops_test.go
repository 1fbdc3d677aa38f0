package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zwamp/zwamp/bridge"
	"github.com/zwamp/zwamp/client"
)

// opsDaemon starts `zwamp serve` with the configuration cfg and returns its
// WAMP and admin addresses; it is killed when the test ends.
func opsDaemon(t *testing.T, bin, cfg string) (wampAddr, adminAddr string, cmd *exec.Cmd) {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "zwamp.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "serve", "--config", cfgPath)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	wampRe := regexp.MustCompile(`msg=listening .*addr=(\S+)`)
	adminRe := regexp.MustCompile(`msg="admin listening" addr=(\S+)`)
	sc := bufio.NewScanner(stderr)
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	for (wampAddr == "" || adminAddr == "") && sc.Scan() {
		if m := wampRe.FindStringSubmatch(sc.Text()); m != nil {
			wampAddr = m[1]
		}
		if m := adminRe.FindStringSubmatch(sc.Text()); m != nil {
			adminAddr = m[1]
		}
	}
	timer.Stop()
	if wampAddr == "" || adminAddr == "" {
		t.Fatalf("daemon did not report its addresses (wamp %q, admin %q)", wampAddr, adminAddr)
	}
	go io.Copy(io.Discard, stderr)
	return wampAddr, adminAddr, cmd
}

// TestOpsDaemon drives the admin listener and the HTTP bridge of a running
// daemon with net/http, against WebSocket clients.
func TestOpsDaemon(t *testing.T) {
	bin := daemonBinary(t)
	cfg := `{"listeners": [{"address": "127.0.0.1:0"}], "realms": [{"name": "realm1"}],
		"admin": {"address": "127.0.0.1:0", "uri_metrics": [{"uri": "com.example.bridged"}, {"uri": "com.example.", "match": "prefix"}]},
		"bridges": [{"realm": "realm1", "token": "t0ken", "max_body": 256},
			{"realm": "realm1", "prefix": "/signed", "key": "app1", "secret": "s3cret", "timestamp_delta_limit": 60}]}`
	wampAddr, adminAddr, _ := opsDaemon(t, bin, cfg)
	base := "http://" + adminAddr

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, err := client.Connect(ctx, "ws://"+wampAddr+"/ws", client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	events := make(chan *client.Event, 1)
	if _, err := ws.Subscribe("com.example.bridged", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Register("com.example.echo", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	post := func(path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: answer %q is not JSON", path, raw)
		}
		return resp.StatusCode, out
	}

	code, out := post("/bridge/realm1/publish", "t0ken", `{"topic": "com.example.bridged", "args": ["over http"]}`)
	if code != 200 || out["id"] == nil {
		t.Fatalf("publish: %d %v", code, out)
	}
	select {
	case ev := <-events:
		if len(ev.Args) != 1 || ev.Args[0] != "over http" {
			t.Fatalf("WebSocket subscriber got %v", ev.Args)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the WebSocket subscriber got no event")
	}
	code, out = post("/bridge/realm1/call", "t0ken", `{"procedure": "com.example.echo", "args": [1, "a"], "kwargs": {"x": null}}`)
	if a, _ := json.Marshal(out["args"]); code != 200 || string(a) != `[1,"a"]` {
		t.Fatalf("call: %d %v", code, out)
	}
	if code, out = post("/bridge/realm1/call", "t0ken", `{"procedure": "com.example.none"}`); code != 404 || out["error"] != "wamp.error.no_such_procedure" {
		t.Fatalf("unknown procedure: %d %v", code, out)
	}
	if code, out = post("/bridge/realm1/publish", "", `{"topic": "com.example.bridged"}`); code != 401 {
		t.Fatalf("no token: %d %v", code, out)
	}
	if code, out = post("/bridge/realm1/publish", "t0ken", `{"topic": "com.example.bridged", "args": ["`+strings.Repeat("x", 300)+`"]}`); code != 413 {
		t.Fatalf("oversized: %d %v", code, out)
	}
	if code, out = post("/bridge/realm1/publish", "t0ken", `{"topic": `); code != 400 {
		t.Fatalf("malformed: %d %v", code, out)
	}

	// The signed bridge: Crossbar's signature instead of a token.
	body := `{"topic": "com.example.bridged", "args": ["signed"]}`
	q := bridge.SignedQuery("app1", "s3cret", 1, 7, []byte(body))
	if code, out := post("/signed/publish?"+q.Encode(), "", body); code != 200 || out["id"] == nil {
		t.Fatalf("signed publish: %d %v", code, out)
	}
	<-events
	if code, out := post("/signed/publish?"+q.Encode(), "", body); code != 401 || out["error"] != "bridge.error.replayed" {
		t.Fatalf("replayed signed publish: %d %v", code, out)
	}
	if code, out := post("/signed/publish", "", body); code != 401 || out["error"] != "bridge.error.unsigned" {
		t.Fatalf("unsigned publish to the signed bridge: %d %v", code, out)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The WebSocket client and the bridges' two in-process sessions.
	for _, want := range []string{"zwamp_sessions 3\n", "zwamp_transport_connections 1\n", "zwamp_transport_accepted_total 1\n",
		`zwamp_sessions_by_transport{realm="realm1",serializer="json",transport="websocket"} 1`,
		`zwamp_sessions_by_transport{realm="realm1",serializer="json",transport="local"} 2`,
		`zwamp_auth_logins_total{method="anonymous",outcome="success"} 1`,
		// Two bridged publications (one through each bridge), one event each;
		// one call under the prefix.
		`zwamp_uri_publishes_total{match="exact",pattern="com.example.bridged"} 2`,
		`zwamp_uri_events_total{match="exact",pattern="com.example.bridged"} 2`,
		`zwamp_uri_calls_total{match="prefix",pattern="com.example."} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %q:\n%s", want, metrics)
		}
	}
	// The WebSocket client's bytes: at least its upgrade request, HELLO,
	// SUBSCRIBE and REGISTER in; the answers and the EVENT and INVOCATION out.
	for _, name := range []string{"zwamp_transport_received_bytes_total", "zwamp_transport_sent_bytes_total"} {
		m := regexp.MustCompile(name + `\{tls="false",transport="websocket"\} (\d+)`).FindSubmatch(metrics)
		if m == nil {
			t.Errorf("/metrics has no %s for websocket:\n%s", name, metrics)
		} else if n, _ := strconv.Atoi(string(m[1])); n < 200 {
			t.Errorf("%s{websocket} = %d, want at least 200", name, n)
		}
	}
	if m := regexp.MustCompile(`zwamp_messages_per_write_count (\d+)`).FindSubmatch(metrics); m == nil || string(m[1]) == "0" {
		t.Errorf("/metrics: no writes counted in zwamp_messages_per_write:\n%s", metrics)
	}
	resp, err = http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz: %v %v", err, resp)
	}
	resp.Body.Close()
}

// TestDrain: SIGUSR1 or POST /drain makes /readyz answer 503, refuses new
// connections and sends the sessions GOODBYE spread over drain_period, then
// the daemon exits 0.
func TestDrain(t *testing.T) {
	bin := daemonBinary(t)
	for _, how := range []string{"SIGUSR1", "POST /drain"} {
		t.Run(how, func(t *testing.T) {
			const period, n = 1500 * time.Millisecond, 10
			cfg := `{"listeners": [{"address": "127.0.0.1:0"}], "realms": [{"name": "realm1"}],
				"admin": {"address": "127.0.0.1:0"}, "drain_period": "1500ms", "shutdown_timeout": "5s"}`
			wampAddr, adminAddr, cmd := opsDaemon(t, bin, cfg)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ended := make(chan time.Time, n)
			for i := 0; i < n; i++ {
				c, err := client.Connect(ctx, "ws://"+wampAddr+"/ws", client.Config{Realm: "realm1"})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				go func() { <-c.Done(); ended <- time.Now() }()
			}

			start := time.Now()
			if how == "SIGUSR1" {
				cmd.Process.Signal(syscall.SIGUSR1)
			} else {
				resp, err := http.Post("http://"+adminAddr+"/drain", "", nil)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					t.Fatalf("POST /drain: %v %v", err, resp)
				}
				resp.Body.Close()
			}
			var first, last time.Time
			for i := 0; i < n; i++ {
				select {
				case at := <-ended:
					if i == 0 {
						first = at
						// Draining: not ready, and no new sessions.
						if resp, err := http.Get("http://" + adminAddr + "/readyz"); err == nil {
							resp.Body.Close()
							if resp.StatusCode != http.StatusServiceUnavailable {
								t.Errorf("/readyz while draining: %d, want 503", resp.StatusCode)
							}
						}
						if c, err := client.Connect(ctx, "ws://"+wampAddr+"/ws", client.Config{Realm: "realm1"}); err == nil {
							c.Close()
							t.Error("a new session joined a draining router")
						}
					}
					last = at
				case <-time.After(20 * time.Second):
					t.Fatalf("only %d of %d sessions ended", i, n)
				}
			}
			// Session i is told at i/n of the period: the last at 0.9 × 1.5 s.
			if spread := last.Sub(first); spread < period/2 {
				t.Errorf("GOODBYEs spread over %v, want them spread over most of %v", spread, period)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("daemon exit: %v, want 0", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("daemon still running 20 s after the drain began")
			}
			t.Logf("%s: GOODBYEs from %v to %v after the request", how, first.Sub(start).Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
		})
	}
}
