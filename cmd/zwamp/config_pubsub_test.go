package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/core"
)

func TestConfigPubSub(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "h.json")
	body := `{"realms": [{"name": "realm1"}], "allow_meta_kill": true, "event_store_max_bytes": 1048576,
		"history": [{"topic": "com.app.log", "match": "prefix", "limit": 10, "max_bytes": 4096}, {"topic": "com.app.state"}],
		"publication_trustlevels": [{"topic": "com.app", "match": "prefix", "authrole": "backend", "level": 2}]}`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.routerConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []core.HistoryRule{{Topic: "com.app.log", Match: "prefix", Limit: 10, MaxBytes: 4096}, {Topic: "com.app.state"}}
	if !rc.AllowMetaKill || rc.EventStoreMaxBytes != 1<<20 || len(rc.History) != 2 || rc.History[0] != want[0] || rc.History[1] != want[1] {
		t.Fatalf("router config %+v", rc)
	}
	if len(rc.PublicationTrustLevels) != 1 || rc.PublicationTrustLevels[0] != (core.TrustLevelRule{Topic: "com.app", Match: "prefix", AuthRole: "backend", Level: 2}) {
		t.Fatalf("trust levels %+v", rc.PublicationTrustLevels)
	}
	if _, err := core.NewRouter(rc); err != nil {
		t.Fatal(err)
	}
	bad := *cfg
	bad.History = []HistoryConfig{{Topic: "com.x", Match: "fuzzy"}}
	rc, _ = bad.routerConfig(nil)
	if _, err := core.NewRouter(rc); err == nil || !strings.Contains(err.Error(), "fuzzy") {
		t.Fatalf("bad match policy: %v", err)
	}
	bad.History = []HistoryConfig{{Match: "exact"}}
	if _, err := bad.routerConfig(nil); err == nil {
		t.Fatal("history rule without topic accepted")
	}
	// The example file carries the fields too.
	ex, err := loadConfig("zwamp.example.json")
	if err != nil || len(ex.History) == 0 {
		t.Fatalf("example config: %v %+v", err, ex)
	}
}
