package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	zclient "github.com/zwamp/zwamp/client"
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
	body := fmt.Sprintf(`{"realms": [{"name": "realm1"}], "admin": {"address": %q}}`, adminAddr)
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
	const n = 50
	for i := 0; i < n; i++ {
		if err := c.Publish("com.example.status", []any{i}, nil, &zclient.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	_, after := load()
	if after < before+n {
		t.Errorf("messages in: %d before, %d after %d publications; want it to move by at least %d", before, after, n, n)
	}
	c.Close()
	d.stop(t)
}
