// Package core is the WAMP router: realms, sessions, the Broker and the
// Dealer. It knows transports only through the Transport interface and
// serializers only through codec.Codec.
//
// # Threads
//
// A transport driver (netpoll's pollers, the in-process transport, a test)
// calls Session.Receive for each incoming message, from one goroutine at a
// time per session, with a Batch it owns for the duration of its input
// batch. Decoding, routing and encoding run inline on that goroutine; there
// is no goroutine per session and nothing on the PUBLISH/CALL path waits for
// a peer. Output for other sessions is copied into their transports' pending
// output (Transport.Send) and flushed once per batch (Batch.Flush).
//
// Router state is read by every driver goroutine at once: topic and
// procedure matching (package trie) takes no lock; subscriber lists are
// append-only arrays read without locks. Mutations (join, leave, subscribe,
// register) take short per-object locks.
//
// # Lock order
//
// Locks are only ever taken in this order (a goroutine holding a lock later
// in the list never acquires one earlier in it):
//
//  1. trie shard writer lock (inside trie.Index.Update)
//  2. subscription.mu / registration.mu
//  3. Session.mu (a session's pending calls and invocations)
//  4. Realm session-table shard locks
//  5. the transport's own output lock (inside Transport.Send)
//
// Two Session.mu are never held at once: the dealer moves an invocation
// between caller and callee by taking them one after the other.
//
// # Buffers
//
// A decoded message holds views into the driver's read buffer and is done
// with before Receive returns; what outlives it (a pending call's caller and
// request id) is copied into router-owned records taken from pools. An
// outgoing message is encoded once per (subscription, serializer) into the
// Batch's buffers and copied by each Transport.Send into that connection's
// pending output; the Batch reuses its buffers for the next message.
package core
