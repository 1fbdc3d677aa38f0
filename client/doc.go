// Package client is the zwamp Go client library: a WAMP peer that can be a
// caller, callee, publisher and subscriber at once, against zwamp or any
// WAMP router.
//
//	c, err := client.Connect(ctx, "ws://127.0.0.1:8080/ws", client.Config{Realm: "realm1"})
//	// or client.ConnectLocal(router, cfg) for an in-process router,
//	// or client.New(transport, cfg) over a Transport of your own.
//	defer c.Close()
//	sub, err := c.Subscribe("com.example.topic", func(ev *client.Event) { ... }, nil)
//	err = c.Publish("com.example.topic", []any{"hello"}, nil, nil)
//	reg, err := c.Register("com.example.add", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) { ... }, nil)
//	res, err := c.Call(ctx, "com.example.add", []any{2, 3}, nil, nil)
//
// # Goroutines
//
// A Client runs one reader goroutine, which decodes everything the router
// sends and hands it on without ever running user code: replies wake the
// goroutine waiting for them, EVENTs go to an unbounded queue drained by one
// event goroutine (so handlers run one at a time, in the order the router
// delivered the events, and a slow handler never stalls the reader), and
// each INVOCATION runs in a goroutine of its own. Progressive call results
// are passed to CallOptions.OnProgress on the goroutine that called Call.
//
// All methods are safe for concurrent use. Outgoing messages are encoded and
// written under one lock, which is also where session-scope request ids are
// assigned, so ids reach the router in increasing order as the protocol
// requires.
//
// # Lock order
//
// A goroutine holding a lock later in this list never takes one earlier:
//
//  1. Client.subMu (Subscribe holds it shared, an Unsubscribe that removes
//     the router-side subscription holds it exclusively)
//  2. invocationRun.mu (a callee's progressive results against its final answer)
//  3. Client.wmu (request ids, the encode buffer, Transport.Send)
//  4. Client.mu (pending requests, subscriptions, registrations, invocations)
//  5. request.mu (a call's queue of progressive results) and eventQueue.mu
//
// The reader goroutine takes Client.wmu only to answer the router (GOODBYE,
// an ERROR for an unknown registration, ABORT), never while holding
// Client.mu. It may therefore wait behind a Send that waits for the router
// to read; that relies on the router reading independently of its own
// writes, as zwamp (and every router with asynchronous output) does.
//
// # Payloads
//
// Arguments and keyword arguments are Go values: nil, bool, integers,
// floats, string, []byte, []any, map[string]any and their common typed
// variants are encoded directly; anything else (structs, typed maps) goes
// through JSON marshalling, so json struct tags apply. Received payloads are
// decoded into nil, bool, int64 (uint64 above MaxInt64), float64, string,
// []byte, []any and map[string]any. []byte travels as binary in every
// serializer (JSON uses the WAMP "\u0000"+base64 convention).
package client
