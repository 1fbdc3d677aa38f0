// Package core is the WAMP router: realms, sessions, the Broker and the
// Dealer. It knows transports only through the Transport interface and
// serializers only through codec.Codec.
//
// # The data path
//
// One incoming message, from the socket to every peer it concerns:
//
//  1. netpoll: nbio's poller calls Server.onData → conn.onData, which takes a
//     Batch (AcquireBatch) for the whole read;
//  2. conn.feed → ws.Decoder.Feed or rawsocket.Decoder.Feed split the read
//     into frames → wsHandler.OnMessage / rsHandler.OnMessage;
//  3. Conn.Receive (conn.go) → codec.Codec.Decode into the Batch's Message
//     (views into the read buffer, no copy);
//  4. Conn.handleHello before a session exists, else Session.dispatch
//     (session.go);
//  5. the Broker (broker.go: publish → trie.Index.Match → encode once per
//     serializer) or the Dealer (dealer.go: call → pick a callee → invocation
//     record → INVOCATION; yield → RESULT);
//  6. Batch.send → Transport.Send copies the encoded frame into each target
//     connection's pending output and queues it on the Batch;
//  7. Batch.Release → Batch.Flush → Transport.Flush: one write per
//     connection per input batch.
//
// # Threads
//
// A transport driver (netpoll's pollers, the in-process transport, a test)
// calls Conn.Receive for each incoming message, from one goroutine at a
// time per connection, with a Batch it owns for the duration of its input
// batch. Decoding, routing and encoding run inline on that goroutine; there
// is no goroutine per session and nothing on the PUBLISH/CALL path waits for
// a peer. Output for other sessions is copied into their transports' pending
// output (Transport.Send) and flushed once per batch (Batch.Flush).
//
// Authorization (authorize.go) sits in each PUBLISH/SUBSCRIBE/CALL/REGISTER
// handler: the realm's Authorizer (a Decider where it can) answers inline;
// an answer that comes later (Pending) holds the message and the session's
// later messages, in order, until Session.Resume, which any goroutine may
// call and which routes them under the Conn's lock.
//
// Router state is read by every driver goroutine at once: topic and
// procedure matching (package trie) takes no lock; subscriber lists are
// append-only arrays of atomic slots read without locks. Mutations (join, leave,
// subscribe, register) take short locks.
//
// # Locks
//
// The order in which locks may be taken, router-wide, is in
// locksordering.txt at the root of the module; keep it in step with the
// code.
//
// One goroutine per router, running only while calls with a timeout are
// pending, expires them (Router.expireCalls): it sends from outside any
// driver, through its own Batch, as Router.Shutdown does.
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
