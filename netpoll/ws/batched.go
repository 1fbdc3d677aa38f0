package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// WAMP-over-Batched-WebSocket framing (the WAMP spec's
// transport_batched_websocket.md): one WebSocket message carries several
// WAMP messages. Text (JSON) batches end each message with the record
// separator 0x1e; binary (MessagePack, CBOR) batches prefix each message
// with its length as a 4-byte big-endian integer.

// Separators of JSON batches: the spec's record separator, and 0x18, which
// Autobahn|Python writes (its b'\30' is octal). Neither can occur unescaped
// in JSON.
const (
	BatchSeparator         = 0x1e
	BatchSeparatorAutobahn = 0x18
)

// Errors of NextBatched.
var (
	ErrEmptyBatch     = errors.New("batched websocket: empty batch")
	ErrEmptyBatched   = errors.New("batched websocket: empty message in batch")
	ErrBatchTruncated = errors.New("batched websocket: length prefix past the end of the batch")
)

// NextBatched splits the first WAMP message off a batch. binary selects
// length prefixes, otherwise separators; for a text batch sep is the
// separator that ended msg (0 for a last message without one, which is
// tolerated). An empty payload is ErrEmptyBatch: callers check that before
// the first call and stop when rest is empty.
func NextBatched(payload []byte, binaryBatch bool) (msg, rest []byte, sep byte, err error) {
	if len(payload) == 0 {
		return nil, nil, 0, ErrEmptyBatch
	}
	if binaryBatch {
		if len(payload) < 4 {
			return nil, nil, 0, ErrBatchTruncated
		}
		n := binary.BigEndian.Uint32(payload)
		if uint64(n) > uint64(len(payload)-4) {
			return nil, nil, 0, ErrBatchTruncated
		}
		msg, rest = payload[4:4+n], payload[4+n:]
	} else {
		i := bytes.IndexAny(payload, "\x1e\x18")
		if i < 0 {
			msg = payload
		} else {
			msg, rest, sep = payload[:i], payload[i+1:], payload[i]
		}
	}
	if len(msg) == 0 {
		return nil, nil, 0, ErrEmptyBatched
	}
	return msg, rest, sep, nil
}
