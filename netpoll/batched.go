package netpoll

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// WAMP-over-Batched-WebSocket (advanced/transport_batched_websocket.md):
// several WAMP messages in one WebSocket message. With JSON each message is
// followed by the record separator 0x1e; with MessagePack and CBOR each is
// preceded by its length as a 4-byte big-endian integer (the spec spells
// out MessagePack; CBOR is framed the same way by Autobahn and Crossbar).
//
// Output keeps today's write coalescing: the messages Send queues between
// two flushes go into one open WebSocket message whose header is written
// when it is sealed — at the flush, before any control frame, or when it
// reaches maxBatchPayload — so a batch of fan-out costs one frame header
// and one write per connection.
//
// Autobahn|Python (and so Crossbar) write the JSON separator as b'\30',
// which Python reads as octal: 0x18, not the spec's 0x1e. Neither byte can
// occur unescaped in JSON, so input is split on either, and a connection
// whose client uses 0x18 gets 0x18 back; everyone else gets 0x1e.

const (
	batchedSuffix = ".batched"
	// maxBatchPayload caps one batched WebSocket message; a message that
	// would overflow it starts the next one.
	maxBatchPayload = 64 << 10
)

// acceptWAMPProtocol is the ChooseProtocol filter: the Basic Profile's
// subprotocols and their batched variants.
func acceptWAMPProtocol(p []byte) bool {
	return ws.IsWAMPProtocol(bytes.TrimSuffix(p, []byte(batchedSuffix)))
}

// parseProtocol returns the serializer of a subprotocol accepted by
// acceptWAMPProtocol and whether it is batched.
func parseProtocol(p []byte) (codec.Format, bool) {
	s := string(p)
	batched := strings.HasSuffix(s, batchedSuffix)
	f, _ := codec.ParseFormat(strings.TrimSuffix(strings.TrimPrefix(s, "wamp.2."), batchedSuffix))
	return f, batched
}

// appendBatched adds msg to the open batched WebSocket message, opening
// one if needed; the caller holds c.mu.
func (c *conn) appendBatched(msg []byte) {
	if c.batchAt >= 0 && len(c.out)-c.batchAt+len(msg)+4 > maxBatchPayload {
		c.sealBatch()
	}
	if c.batchAt < 0 {
		c.batchAt = len(c.out)
	}
	if c.format == codec.JSON {
		c.out = append(c.out, msg...)
		c.out = append(c.out, c.jsonSep)
	} else {
		c.out = binary.BigEndian.AppendUint32(c.out, uint32(len(msg)))
		c.out = append(c.out, msg...)
	}
}

var headerRoom [ws.MaxHeaderSize]byte

// sealBatch writes the frame header of the open batched message, moving
// its payload up to make room; the caller holds c.mu. It is a no-op when
// no batch is open, so every path that appends a frame or flushes calls it.
func (c *conn) sealBatch() {
	at := c.batchAt
	if at < 0 {
		return
	}
	c.batchAt = -1
	n := len(c.out) - at
	h := ws.HeaderSize(n, false)
	c.out = append(c.out, headerRoom[:h]...)
	copy(c.out[at+h:], c.out[at:at+n])
	ws.AppendHeader(c.out[at:at], c.wsOp, true, n)
}

// receiveBatched splits one batched WebSocket message into WAMP messages
// and hands each to the router. An empty batch, an empty message or a
// length prefix past the end fails the transport.
func (c *conn) receiveBatched(payload []byte) error {
	if len(payload) == 0 {
		return &ws.CloseError{Code: ws.CloseProtocolError, Reason: "empty batch"}
	}
	binaryBatch := c.format != codec.JSON
	for len(payload) > 0 {
		msg, rest, sep, err := ws.NextBatched(payload, binaryBatch)
		if err != nil {
			return &ws.CloseError{Code: ws.CloseProtocolError, Reason: err.Error()}
		}
		if sep != 0 && !c.sepSeen {
			c.sepSeen = true
			if sep == ws.BatchSeparatorAutobahn {
				c.mu.Lock()
				c.jsonSep = sep
				c.mu.Unlock()
			}
		}
		c.core.Receive(c.batch, msg)
		payload = rest
	}
	return nil
}
