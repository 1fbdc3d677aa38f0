// Package ws implements the WebSocket protocol (RFC 6455) as pure state
// machines: bytes in, messages out; bytes appended to a caller's buffer for
// output. It knows nothing of sockets, pollers, goroutines or WAMP sessions,
// so the same code serves the nbio driver, TLS connections, unix sockets and
// the Go client library.
//
// Server side:
//
//	var hs ws.ServerHandshake                // one per connection, until the upgrade
//	req, n, err := hs.Feed(data)             // call for every read until req != nil or err != nil
//	// err != nil: out = err.(*ws.HTTPError).AppendResponse(out), then close.
//	// req.Path() not served: out = ws.AppendHTTPError(out, 404, "no WAMP here").
//	proto := req.ChooseProtocol(ws.IsWAMPProtocol)
//	// proto == nil: out = ws.ErrNoWAMPProtocol.AppendResponse(out), then close.
//	out = req.AppendAccept(out, proto)
//	hs.Release()                             // req's views die here
//	// data[n:] are the first frames:
//	dec := ws.Decoder{MaxMessageSize: limit}
//	err = dec.Feed(data[n:], handler)        // and for every later read
//
// Client side: ClientHandshake builds the request and checks the answer;
// Decoder{Client: true} decodes the server's frames; AppendMaskedFrame
// writes the client's frames.
//
// Ownership: a payload handed to a Handler is a view either into the bytes
// given to Feed (unmasked in place) or into a pooled buffer of the Decoder.
// It is valid only until the Handler method returns.
//
// Errors: every error from Decoder.Feed that is not the Handler's own is a
// *CloseError whose Code is the close code to send before closing the
// connection (1002, 1007 or 1009).
package ws
