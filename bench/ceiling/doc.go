// Package ceiling holds the reference ceilings for the load tool: the
// smallest servers that speak just enough WAMP for `zwamp bench` to drive
// them, so that a router's figures can be read against what a server with
// no WAMP work costs on the same machine. There are two:
//
//   - Server (`zwamp bench ceiling`): nbio's own nbhttp/websocket, no zwamp
//     code, one write(2) per message as it comes. The bare way to write a
//     WebSocket server; a router that coalesces beats it by not paying a
//     syscall per message, which says little about the router's own work.
//   - Coalescing (`zwamp bench ceiling --coalesce`, coalesce.go): nbio's
//     bare event loop with zwamp's WebSocket framing (netpoll/ws), every
//     frame produced while handling one read gathered per destination and
//     written with one write per destination, 0 allocations per message.
//     This is the honest ceiling: what is left between it and a router is
//     the router's WAMP work (decode, route, encode, sessions).
//
// Both answer the same way; the rest of this comment describes Server.
//
// What it does, per WebSocket message (subprotocols wamp.2.json and
// wamp.2.msgpack; handlers run inline on nbio's pollers):
//
//   - HELLO: answers a canned WELCOME (session ids count up; the details
//     announce the broker and dealer roles with no features).
//   - SUBSCRIBE: adds the connection to the one subscriber list of its
//     serializer, whatever the topic, and answers SUBSCRIBED with
//     subscription id 1. UNSUBSCRIBE removes it and answers UNSUBSCRIBED.
//   - PUBLISH: builds one EVENT (subscription 1, a fresh publication id,
//     empty details, the PUBLISH's Arguments and ArgumentsKw bytes
//     verbatim) and writes it to every subscriber of the same serializer
//     with one WriteMessage each, the publisher included if it subscribed:
//     a write per message, no coalescing. No PUBLISHED, ever.
//   - CALL: answers a RESULT to the caller at once, with the CALL's request
//     id and Arguments/ArgumentsKw bytes, empty details. There is no
//     callee: an RPC costs one hop here and two in a router.
//   - REGISTER: answers REGISTERED with registration id 1 (no INVOCATION
//     ever follows). GOODBYE: answers GOODBYE and closes.
//   - Anything else is ignored.
//
// What it does not do: validate anything beyond the few bytes it reads
// (message type, the request id's extent, the extent of the Options dict
// and the URI so as to find the payload), check request ids or realms,
// match topics, honour any option, transcode between serializers,
// authenticate, speak RawSocket, CBOR or TLS, or bound a slow consumer's
// queue (nbio queues without limit). Handlers run on the poller (nbio's
// default would hand them to a goroutine pool), keepalive is off, and
// nothing is pooled or batched beyond what nbio does itself.
package ceiling
