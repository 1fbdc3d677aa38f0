package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config is the "cluster" section of the daemon config.
type Config struct {
	// Name is the cluster's name: the NATS cluster name, and part of the
	// registry bucket's name. Letters, digits, '-' and '_'.
	Name string `json:"name"`
	// Node is this node's name, unique in the cluster (the embedded NATS
	// server's name, which JetStream requires to be unique). Letters,
	// digits, '-' and '_', at most 64 bytes.
	Node string `json:"node"`
	// Listen is the host:port the embedded server accepts NATS routes on
	// ("" = no routes: a one-node cluster). Port 0 picks a free port
	// (Engine.ClusterAddr tells which). With Listen, Routes must not be
	// empty.
	Listen string `json:"listen"`
	// Routes are the nats-route://host:port URLs of other nodes. The list
	// may include this node itself: NATS detects and ignores that, and the
	// same list can then be given to every node.
	Routes []string `json:"routes"`
	// Secret, if set, is a shared secret the nodes' routes authenticate
	// with (every node must have the same): without it anyone who can
	// reach Listen can join the cluster and read and inject every event
	// and call. Routes are not encrypted either: keep them on a private
	// network.
	Secret string `json:"secret"`
	// JetStreamDir is where the embedded JetStream keeps its state ("" = a
	// temporary directory removed by Close).
	JetStreamDir string `json:"jetstream_dir"`
	// ExternalNATS, if set, is the nats://… URL (comma-separated for
	// several servers) of an external NATS cluster with JetStream to use
	// instead of embedding a server; Listen, Routes and JetStreamDir are
	// then ignored. The subjects are the same. One zwamp cluster per NATS
	// account: the subjects do not carry the cluster name.
	ExternalNATS string `json:"external_nats"`
	// KVReplicas is the registry bucket's replica count; 0 means
	// min(3, 1+len(Routes)). All nodes must agree on it (the first node to
	// create the bucket decides; the others use the bucket as it is).
	KVReplicas int `json:"kv_replicas"`
	// Heartbeat is the interval of this node's liveness heartbeat; 0 means
	// 500ms. JSON: "heartbeat": "500ms".
	Heartbeat time.Duration `json:"-"`
	// DeadAfter is the number of heartbeat intervals a peer may stay silent
	// before it is declared dead; 0 means 3.
	DeadAfter int `json:"dead_after"`
	// OpTimeout bounds each registry operation (Register, Unregister, one
	// key of Reap); 0 means 2s. JSON: "op_timeout": "2s".
	OpTimeout time.Duration `json:"-"`

	// serverOptions, if set, adjusts the embedded server's options before
	// it starts (tests: NoAdvertise for partitions through proxies).
	serverOptions func(*server.Options)
	// onServer, if set, is called once the embedded server runs, before
	// Start waits for the cluster (tests: learn the route address).
	onServer func(*server.Server)
}

const (
	defaultHeartbeat = 500 * time.Millisecond
	defaultDeadAfter = 3
	defaultOpTimeout = 2 * time.Second
	maxNodeName      = 64
)

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.KVReplicas == 0 {
		c.KVReplicas = min(3, 1+len(c.Routes))
		if c.ExternalNATS != "" {
			c.KVReplicas = 1
		}
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = defaultHeartbeat
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = defaultDeadAfter
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = defaultOpTimeout
	}
	return c
}

// Validate checks the configuration and returns an error naming the first
// bad field.
func (c *Config) Validate() error {
	if err := checkName("cluster.name", c.Name); err != nil {
		return err
	}
	if err := checkName("cluster.node", c.Node); err != nil {
		return err
	}
	if c.ExternalNATS != "" {
		u, err := url.Parse(firstURL(c.ExternalNATS))
		if err != nil || u.Host == "" {
			return fmt.Errorf("cluster.external_nats: %q is not a nats://host:port URL", c.ExternalNATS)
		}
	} else {
		if c.Listen != "" {
			if _, _, err := splitHostPort(c.Listen); err != nil {
				return fmt.Errorf("cluster.listen: %w", err)
			}
		}
		for i, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" || (u.Scheme != "nats-route" && u.Scheme != "nats" && u.Scheme != "tls") {
				return fmt.Errorf("cluster.routes[%d]: %q is not a nats-route://host:port URL", i, r)
			}
		}
		if len(c.Routes) > 0 && c.Listen == "" {
			return errors.New("cluster.listen: required when cluster.routes is set (other nodes must be able to route to this one)")
		}
		if c.Listen != "" && len(c.Routes) == 0 {
			// nats-server refuses to start clustered JetStream without a
			// route ("JetStream cluster requires configured routes").
			return errors.New("cluster.routes: required when cluster.listen is set (JetStream needs at least one route; the first node may list its own address)")
		}
	}
	if c.KVReplicas < 0 || c.KVReplicas > 5 {
		return fmt.Errorf("cluster.kv_replicas: %d is out of range 0..5", c.KVReplicas)
	}
	if c.Listen == "" && c.ExternalNATS == "" && c.KVReplicas > 1 {
		return fmt.Errorf("cluster.kv_replicas: %d needs a cluster (cluster.listen is empty)", c.KVReplicas)
	}
	if c.Heartbeat < 0 || (c.Heartbeat > 0 && c.Heartbeat < 10*time.Millisecond) {
		return fmt.Errorf("cluster.heartbeat: %v is below 10ms", c.Heartbeat)
	}
	if c.DeadAfter < 0 {
		return fmt.Errorf("cluster.dead_after: %d is negative", c.DeadAfter)
	}
	if c.OpTimeout < 0 {
		return fmt.Errorf("cluster.op_timeout: %v is negative", c.OpTimeout)
	}
	return nil
}

// checkName accepts what NATS accepts in a server, cluster and bucket name
// and what is safe in a subject token: [A-Za-z0-9_-]{1,64}.
func checkName(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s: required", field)
	}
	if len(s) > maxNodeName {
		return fmt.Errorf("%s: %q is longer than %d bytes", field, s, maxNodeName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%s: %q may contain only letters, digits, '-' and '_'", field, s)
		}
	}
	return nil
}

func firstURL(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i]
		}
	}
	return s
}

// splitHostPort parses host:port; port 0 is allowed (a free port).
func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", hp, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", hp)
	}
	return h, n, nil
}

// UnmarshalJSON reads the "cluster" section of the daemon config, with
// durations written as strings ("500ms", "2s") as elsewhere in it, and
// rejects unknown fields (a misspelt key would silently be a default).
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config // without this method
	var raw struct {
		plain
		Heartbeat string `json:"heartbeat"`
		OpTimeout string `json:"op_timeout"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	*c = Config(raw.plain)
	for _, d := range []struct {
		field, s string
		dst      *time.Duration
	}{{"cluster.heartbeat", raw.Heartbeat, &c.Heartbeat}, {"cluster.op_timeout", raw.OpTimeout, &c.OpTimeout}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("%s: %w", d.field, err)
		}
		*d.dst = v
	}
	return nil
}
