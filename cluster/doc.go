// Package cluster spreads zwamp's realms over many router nodes, on NATS:
// the engine (an embedded nats-server, node liveness, the replicated
// registration registry) and the WAMP layer around package core that uses
// it (Node).
//
// An Engine is one node's connection to the cluster. It embeds a
// nats-server (github.com/nats-io/nats-server/v2) whose routes form a full
// mesh with the other nodes, connects to it in-process, and keeps the one
// piece of state that needs consensus — the registrations — in a
// replicated JetStream key-value bucket. Alternatively it connects to an
// external NATS cluster with JetStream (Config.ExternalNATS); the subjects
// are the same.
//
// The engine:
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
// # The WAMP layer
//
// A Node (router.go) attaches a core.Router to an Engine as its
// core.Cluster. The engine's files deal in strings and integers; the
// node's files import core:
//
//   - PubSub (pubsub.go, interest.go): a PUBLISH accepted on a node is
//     delivered there as usual and, if another node wants it, sent once
//     on the topic's subject (the raw WAMP message behind a small header,
//     envelope.go); each node subscribes to the interest subjects of its
//     own subscriptions, and one goroutine per node takes every forwarded
//     event in arrival order, drops duplicates (overlapping subjects) and
//     delivers it through its own trie (core.Realm.DeliverRemote), so every
//     subscription gets one EVENT in the publisher's order. Nodes also
//     announce their WAMP subscriptions to each other (with a digest every
//     second to repair losses), so a publication nobody elsewhere wants is
//     never written to NATS. Retained events go to every node.
//   - RPC (rpc.go): a REGISTER is held until the registry admits it
//     (core.Cluster.Register); every node mirrors the others' callees as
//     proxy sessions in its own dealer (core.Router.JoinPeer), in the
//     registry's order, so the caller's node routes each CALL with the
//     ordinary dealer. An INVOCATION the dealer sends a proxy is forwarded
//     to the callee's node, where a peer caller re-issues it as a CALL
//     aimed at that callee (core.Session.PeerCall); the RESULT or ERROR it
//     gets back is forwarded home as the proxy's YIELD or ERROR. INTERRUPT
//     and CANCEL travel the same way.
//   - Failures (router.go, reconcile.go): a dead node's proxies leave at
//     once (calls in flight to them fail with wamp.error.canceled) and the
//     calls it made are interrupted; a local callee the registry could not
//     keep after a partition is revoked.
//   - Meta (meta.go): wamp.session.count, list and get are scatter-gathered
//     over every live node (1 s bound); meta events travel like events.
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
