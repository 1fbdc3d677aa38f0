package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// TestReloadURIMetrics: a reload installs the new admin.uri_metrics list,
// keeps the counts of the patterns it keeps, and a bad list changes
// nothing.
func TestReloadURIMetrics(t *testing.T) {
	t.Cleanup(func() { core.SetURICounters(nil) })
	if err := core.SetURICounters([]core.URIPattern{{URI: "a.b"}, {URI: "c.", Match: "prefix"}}); err != nil {
		t.Fatal(err)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	c, err := client.ConnectLocal(r, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		if _, err := c.PublishAck("a.b", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	write := func(body string) *Config {
		t.Helper()
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if _, err := reloadURIMetrics(write(`{"admin": {"uri_metrics": [{"uri": "x", "match": "regex"}]}}`)); err == nil || !strings.Contains(err.Error(), "regex") {
		t.Fatalf("bad list: %v", err)
	}
	if n := len(core.URICounts()); n != 2 {
		t.Fatalf("a refused reload changed the list: %v", core.URICounts())
	}
	commit, err := reloadURIMetrics(write(`{"admin": {"uri_metrics": [{"uri": "a.b"}, {"uri": "d..e", "match": "wildcard"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	commit()
	got := core.URICounts()
	if len(got) != 2 || got[0].URI != "a.b" || got[0].Publishes != 3 || got[1].URI != "d..e" || got[1].Match != "wildcard" || got[1].Publishes != 0 {
		t.Fatalf("after the reload: %+v; want a.b with its 3 publications kept and d..e new", got)
	}
	commit, err = reloadURIMetrics(write(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	commit()
	if core.URICounts() != nil {
		t.Fatalf("an empty list left counters on: %v", core.URICounts())
	}
}
