package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterConfig: the "cluster" section reaches the engine's
// configuration (durations as strings, the route secret), and a bad one is
// refused at start with the field named.
func TestClusterConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.json")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"cluster": {"name": "c1", "node": "a", "listen": "127.0.0.1:6222", "routes": ["nats-route://127.0.0.1:6222"],
	  "secret": "s", "heartbeat": "250ms", "dead_after": 4, "op_timeout": "3s", "kv_replicas": 3}}`)
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := cfg.Cluster.engineConfig()
	if err != nil {
		t.Fatal(err)
	}
	if ec.Name != "c1" || ec.Node != "a" || ec.Secret != "s" || ec.Heartbeat != 250*time.Millisecond ||
		ec.DeadAfter != 4 || ec.OpTimeout != 3*time.Second || ec.KVReplicas != 3 || len(ec.Routes) != 1 {
		t.Fatalf("engine config %+v", ec)
	}
	write(`{"cluster": {"name": "c1", "node": "a b", "listen": "127.0.0.1:6222", "routes": ["nats-route://127.0.0.1:6222"]}}`)
	if cfg, err = loadConfig(path); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Cluster.engineConfig(); err == nil || !strings.Contains(err.Error(), "node") {
		t.Fatalf("a node name with a space: %v, want an error naming cluster.node", err)
	}
	write(`{"cluster": {"name": "c1", "nodes": "a"}}`)
	if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), "nodes") {
		t.Fatalf("an unknown cluster key: %v, want an error naming it", err)
	}
}
