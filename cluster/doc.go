// Package cluster is the foundation of zwamp's clustering: many router
// nodes serving one realm, on NATS.
//
// An Engine is one node's connection to the cluster. It embeds a
// nats-server (github.com/nats-io/nats-server/v2) whose routes form a full
// mesh with the other nodes, connects to it in-process, and keeps the one
// piece of state that needs consensus — the registrations — in a
// replicated JetStream key-value bucket. Alternatively it connects to an
// external NATS cluster with JetStream (Config.ExternalNATS); the subjects
// are the same.
//
// The package provides the engine, not the WAMP wiring:
//
//   - Subjects (subject.go): how realms, topics and node-addressed traffic
//     map onto NATS subjects, injectively and within NATS's limits, and
//     which subjects a WAMP subscription pattern needs (InterestSubjects).
//   - Liveness (liveness.go): every node publishes a heartbeat; a peer
//     silent for DeadAfter heartbeats (1.5 s by default), or one that said
//     goodbye, is dead, and OnChange says so once, in order.
//   - Registry (registry.go): one KV key per WAMP registration (realm, URI,
//     match policy) whose value — invocation policy and callees — changes
//     only by compare-and-set, so an exclusive registration has exactly one
//     winner cluster-wide; a watched local replica answers Get without a
//     round trip; Reap removes a dead instance's callees.
//
// The engine reaps dead instances itself: when Liveness declares a peer
// dead the engine calls Registry.Reap for it (every survivor does, which
// compare-and-set makes safe), retrying while the bucket has no quorum;
// a periodic sweep reaps callees of instances nobody has heard of. A node
// falsely declared dead (a partition, a stall) is reaped too: its
// Registry notices its own callees missing and registers them again, or
// reports through Registry.OnLost an exclusive registration another
// callee took meanwhile. The registry watcher is renewed whenever a peer
// dies or returns, since it is a JetStream consumer that may have lived on
// the dead server.
//
// # Failure figures (3 nodes in one process, loopback, defaults)
//
// A killed node (TestNodeKilled: its server shut down, no goodbye) is
// declared dead by its peers after 1.45-1.5 s (DeadAfter × Heartbeat) and
// its callees are gone from the survivors' replicas 1.5 s after the kill.
// A node cut off by a partition (TestPartition) was reaped on the majority
// 2.0 s to 11.4 s after the cut: when the cut-off node leads the
// registry's stream, the majority must first elect a leader, and
// JetStream's Raft election timeout (4-9 s) is not configurable; a
// crashed process is in the same case. Until then the router should skip
// callees whose instance Liveness reports dead. A node that says goodbye
// (Close) is dead to its peers within milliseconds. Without quorum,
// Register fails with ErrUnavailable after OpTimeout (2 s).
//
// This package does not import core: it deals in strings and integers, and
// the router's cluster layer (router.go, pubsub.go, rpc.go) builds the WAMP
// behaviour on it.
//
// # Network
//
// The embedded server accepts routes on Config.Listen, authenticated with
// Config.Secret when set, not encrypted (keep routes on a private
// network). nats-server v2.15.3 does not start routing without its client
// listener (DontListen leaves StartRouting waiting forever), so the
// server also listens on a random 127.0.0.1 port, closed to everyone but
// the router by a random token; the router itself connects in-process.
// Subjects do not carry the cluster name: with an external NATS, give
// each zwamp cluster its own account.
//
// # Identity
//
// A node has a configured name (Config.Node); each process run of it is an
// instance, "<node>-<16 hex digits>" drawn at start (Engine.Instance), so a
// node that restarts is a new instance and nothing addressed to, or
// registered by, its previous run is mistaken for its own.
package cluster
