// Package bench is zwamp's load tool (`zwamp bench`) and its end-to-end
// benchmarks. It loads any WAMP router at a URL — WebSocket or RawSocket,
// JSON, MessagePack or CBOR, anonymous — so that routers can be compared
// with one instrument:
//
//   - pubsub: P publishers and S subscribers on one topic, flow-controlled
//     by a window of events not yet seen by every subscriber (lossless) or
//     flat out; publishes/s, deliveries/s, lost events, latency
//     percentiles.
//   - rpc: K callees registered for one procedure, C callers with W calls
//     in flight each; calls/s, errors, latency percentiles.
//   - conns: N idle subscribed sessions; time to establish them, the
//     router's RSS per session, and the time one event takes to reach all.
//
// With --sub-url the receiving side (subscribers, callees, held sessions)
// connects to other routers than the sending side — the nodes of a
// cluster — so that every message crosses nodes (cross.go); conns --hold
// lets several processes hold the sessions of one fan-out (one process
// may open only so many files) and time it together.
//
// Given the router's pid, every run also reports the router's CPU time per
// message (/proc/PID/stat) next to the tool's own, so that a run whose
// tool is the bottleneck shows it. Package bench/ceiling holds the
// reference servers the figures are read against; the coalescing one
// (`zwamp bench ceiling --coalesce`) is the honest ceiling.
//
// # What the tool checks
//
// A run cannot look better than it was: a call counts as completed only
// when a RESULT with its own outstanding request id arrives carrying the
// call's payload (ERRORs, answers for no outstanding call and altered
// payloads are counted apart); a subscriber counts each publication once
// (duplicates are counted, not delivered), notes gaps and late arrivals,
// and checks every byte of the payload, not just the stamp. Any of these
// makes the run incomplete (Result.Complete false), and compare.sh drops
// incomplete runs from its medians.
//
// # Keeping the client out of the way
//
// The tool must cost the router's machine less than the router. Every
// message it sends is a pre-encoded template (see template) with two
// holes, the request id (the router checks that they are sequential) and a
// 27-byte stamp (sender, sequence number, send time) at the end of the
// payload string; sending is a few copies and one WebSocket mask, and a
// batch of frames goes out with one write. Receivers read 64–256 KiB at a
// time, decode the framing with netpoll/ws and netpoll/rawsocket, and find
// the message type and the stamp at fixed places (see peek and findStamp)
// without decoding the message; only a router that encodes differently
// sends them to the codec. The hot paths allocate nothing (tested). One
// goroutine per connection, on Go's netpoller.
//
// # What the figures mean
//
// Rates and CPU figures cover the measured interval: after --warmup, for
// --duration (or, with --count, from the first message to the last
// delivery). Latency is from the sender's clock reading just before its
// write to the receiver's just after its read, both in this process
// (monotonic clock), for messages sent during the measured interval; with
// a window, it includes the time spent queued behind the window. Losses,
// gaps and totals cover the whole run, after a drain.
package bench
