package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	zclient "github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

// TestStatusPage loads the admin listener's /status page in headless
// Chromium: the page shows the session this test opened, and its message
// counter moves when the test publishes.
func TestStatusPage(t *testing.T) {
	t.Parallel()
	need(t, "chromium")
	slot(t)
	adminAddr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "zwamp.json")
	body := fmt.Sprintf(`{"realms": [{"name": "realm1"}], "limits": {"max_pending_output": 268435456},
		"admin": {"address": %q, "uri_metrics": [{"uri": "com.example.", "match": "prefix"},
			{"uri": "com.example.status.proc"}, {"uri": "com.unused..x", "match": "wildcard"}]}}`, adminAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := zclient.Connect(ctx, d.ws(), zclient.Config{Realm: "realm1", AuthID: "status-page-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	msgsIn := regexp.MustCompile(`id="msgs-in">([0-9,]+)<`)
	load := func() (dom string, in int) {
		t.Helper()
		// --dump-dom prints the DOM once the page's scripts have run for the
		// virtual time budget (the first status.json poll included).
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, chromiumBin, "--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync",
			"--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
			"--user-data-dir="+t.TempDir(), "--virtual-time-budget=2500", "--dump-dom",
			"http://"+adminAddr+"/status").Output()
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		dom = string(out)
		m := msgsIn.FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no message counter on the page:\n%s", tail(dom, 3000))
		}
		in, _ = strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		return dom, in
	}

	dom, before := load()
	for _, want := range []string{"<td>" + strconv.FormatUint(c.ID(), 10) + "</td>", "<td>status-page-test</td>", "<td>realm1</td>"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page does not show %q:\n%s", want, tail(dom, 3000))
		}
	}
	// Nothing published or called yet: the top lists and the slow
	// consumers are empty.
	topicsBefore, procsBefore := topRows(dom, "top-topics"), topRows(dom, "top-procedures")
	if topicsBefore["com.example."] != nil || procsBefore["com.example.status.proc"] != nil || len(topRows(dom, "slow-list")) != 0 {
		t.Errorf("top lists or slow consumers not empty before any traffic:\n%s", tail(dom, 4000))
	}

	// A subscriber that never reads: flooded, it falls behind and is
	// listed as a slow consumer.
	slowAddr := stuckSubscriber(t, d.addr, "com.example.flood")
	_, err = c.Register("com.example.status.proc", func(context.Context, *zclient.Invocation) (*zclient.Result, error) {
		return &zclient.Result{}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n, calls, floods = 50, 5, 24
	for i := 0; i < n; i++ {
		if err := c.Publish("com.example.status", []any{i}, nil, &zclient.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < calls; i++ {
		if _, err := c.Call(ctx, "com.example.status.proc", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("x", 1<<20)
	for i := 0; i < floods; i++ {
		if err := c.Publish("com.example.flood", []any{big}, nil, &zclient.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	dom, after := load()
	if after < before+n {
		t.Errorf("messages in: %d before, %d after %d publications; want it to move by at least %d", before, after, n, n)
	}
	// The prefix pattern counts both topics (the flood's events went to
	// the stuck subscriber); the exact one the calls; the unused wildcard
	// is not listed.
	topics, procs := topRows(dom, "top-topics"), topRows(dom, "top-procedures")
	if r := topics["com.example."]; r == nil || r[0] != "prefix" || num(r[3]) != n+floods || num(r[4]) != floods {
		t.Errorf("top topics: %v, want com.example. (prefix) with %d publishes and %d events:\n%s", topics, n+floods, floods, tail(dom, 4000))
	}
	if topics["com.unused..x"] != nil {
		t.Errorf("a pattern with no traffic is listed: %v", topics)
	}
	if r := procs["com.example.status.proc"]; r == nil || r[0] != "exact" || num(r[2]) != calls {
		t.Errorf("top procedures: %v, want com.example.status.proc (exact) with %d calls:\n%s", procs, calls, tail(dom, 4000))
	}
	slow := topRows(dom, "slow-list")
	if r := slow[slowAddr]; r == nil || r[0] != "rawsocket" || num(r[2]) < 64<<10 {
		t.Errorf("slow consumers: %v, want %s (rawsocket) with at least 64 KiB pending:\n%s", slow, slowAddr, tail(dom, 4000))
	}
	c.Close()
	d.stop(t)
}

// topRows reads the rows of the table with id on the dumped page: first
// cell → the other cells' texts.
func topRows(dom, id string) map[string][]string {
	out := map[string][]string{}
	table := regexp.MustCompile(`(?s)<table id="` + id + `">.*?</table>`).FindString(dom)
	body := regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`).FindStringSubmatch(table)
	if body == nil {
		return out
	}
	cell := regexp.MustCompile(`<td[^>]*>([^<]*)</td>`)
	for _, row := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(body[1], -1) {
		var cells []string
		for _, c := range cell.FindAllStringSubmatch(row[1], -1) {
			cells = append(cells, c[1])
		}
		if len(cells) > 0 {
			out[cells[0]] = cells[1:]
		}
	}
	return out
}

// num parses a number as the page prints it (1,234).
func num(s string) int {
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		return -1
	}
	return n
}

// stuckSubscriber joins over RawSocket (JSON), subscribes to topic and
// then never reads again; it returns its local address as the router
// sees it.
func stuckSubscriber(t *testing.T, addr, topic string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(clientTimeout))
	frame := func(v string) {
		b, _ := rawsocket.AppendFrame(nil, rawsocket.Message, []byte(v), rawsocket.MaxLen)
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		var h [4]byte
		if _, err := io.ReadFull(nc, h[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, int(h[1])<<16|int(h[2])<<8|int(h[3]))
		if _, err := io.ReadFull(nc, b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if _, err := nc.Write(rawsocket.AppendHandshake(nil, rawsocket.Handshake{Serializer: rawsocket.JSON, LengthExp: 15})); err != nil {
		t.Fatal(err)
	}
	var reply [4]byte
	if _, err := io.ReadFull(nc, reply[:]); err != nil || reply[0] != 0x7F {
		t.Fatalf("rawsocket handshake: %x %v", reply, err)
	}
	frame(`[1, "realm1", {"roles": {"subscriber": {}}}]`)
	if m := read(); !strings.HasPrefix(m, "[2,") {
		t.Fatalf("want WELCOME, got %s", m)
	}
	frame(`[32, 1, {}, "` + topic + `"]`)
	if m := read(); !strings.HasPrefix(m, "[33,") {
		t.Fatalf("want SUBSCRIBED, got %s", m)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc.LocalAddr().String()
}
