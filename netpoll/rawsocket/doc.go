// Package rawsocket implements WAMP-over-RawSocket (the WAMP spec's
// transport_rawsocket section) as pure state machines: the 4-octet opening
// handshake on both sides, and the length-prefixed framing with its
// negotiated size limits and PING/PONG. Like package ws it does no I/O and
// knows nothing of sessions; bytes go in, messages come out, and output is
// appended to the caller's buffer.
//
// Server side:
//
//	var hs rawsocket.ServerHandshake
//	req, n, err := hs.Feed(data)       // until req != nil or err != nil
//	// err == ErrNotRawSocket: fail the connection without a reply.
//	// err is an ErrorCode: out = AppendError(out, code), then close.
//	// req.Serializer not supported: out = AppendError(out, ErrSerializerUnsupported).
//	out = AppendHandshake(out, Handshake{Serializer: req.Serializer, LengthExp: mine})
//	dec := Decoder{MaxLen: Handshake{LengthExp: mine}.MaxLen()}
//	err = dec.Feed(data[n:], handler)  // and for every later read
//	// send with AppendHeader(out, Message, len(p), req.MaxLen()) + p
//
// Universal listeners use Sniff on the first byte to tell RawSocket from
// HTTP.
package rawsocket
