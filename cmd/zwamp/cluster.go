package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/zwamp/zwamp/cluster"
	"github.com/zwamp/zwamp/core"
)

// ClusterConfig is the "cluster" section: this daemon is one node of a
// cluster that serves every realm together (package cluster). Durations
// are strings like "500ms".
type ClusterConfig struct {
	Name         string   `json:"name"`
	Node         string   `json:"node"`
	Listen       string   `json:"listen"`
	Routes       []string `json:"routes"`
	JetStreamDir string   `json:"jetstream_dir"`
	ExternalNATS string   `json:"external_nats"`
	// Secret authenticates the nodes' routes to each other (every node
	// the same); without it anyone who reaches listen joins the cluster.
	Secret     string   `json:"secret"`
	KVReplicas int      `json:"kv_replicas"`
	Heartbeat  Duration `json:"heartbeat"`
	DeadAfter  int      `json:"dead_after"`
	OpTimeout  Duration `json:"op_timeout"`
	// StartTimeout bounds joining the cluster at start (the registry needs
	// a quorum of its replicas); default 60s.
	StartTimeout Duration `json:"start_timeout"`
}

func (c *ClusterConfig) engineConfig() (cluster.Config, error) {
	ec := cluster.Config{
		Name: c.Name, Node: c.Node, Listen: c.Listen, Routes: c.Routes,
		JetStreamDir: c.JetStreamDir, ExternalNATS: c.ExternalNATS, KVReplicas: c.KVReplicas, Secret: c.Secret,
		Heartbeat: time.Duration(c.Heartbeat), DeadAfter: c.DeadAfter, OpTimeout: time.Duration(c.OpTimeout),
	}
	if err := ec.Validate(); err != nil {
		return ec, fmt.Errorf("cluster: %w", err)
	}
	return ec, nil
}

// joinCluster makes router a node of the configured cluster (nothing
// without a "cluster" section). The returned stop detaches the node, then
// closes the engine with a goodbye so that the other nodes reap this one's
// registrations at once; call it after the sessions have left.
func joinCluster(cfg *Config, router *core.Router, log *slog.Logger) (stop func(), err error) {
	if cfg.Cluster == nil {
		return func() {}, nil
	}
	ec, err := cfg.Cluster.engineConfig()
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cfg.Cluster.StartTimeout)
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	e, err := cluster.Start(ctx, ec, log)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n, err := cluster.Attach(router, e, log)
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	log.Info("cluster joined", "cluster", ec.Name, "node", ec.Node, "instance", e.Instance(), "routes", e.ClusterAddr())
	return func() {
		n.Close()
		e.Close()
	}, nil
}
