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
// compare-and-set makes safe), retrying while the bucket has no quorum,
// and once after start it sweeps callees of instances nobody has heard of.
//
// This package does not import core: it deals in strings and integers, and
// the router's cluster layer (router.go, pubsub.go, rpc.go) builds the WAMP
// behaviour on it.
//
// # Identity
//
// A node has a configured name (Config.Node); each process run of it is an
// instance, "<node>-<16 hex digits>" drawn at start (Engine.Instance), so a
// node that restarts is a new instance and nothing addressed to, or
// registered by, its previous run is mistaken for its own.
package cluster
