package ws

import (
	"encoding/binary"
	"strconv"
)

// Opcode is the 4-bit frame opcode.
type Opcode uint8

// Frame opcodes defined by RFC 6455 section 5.2. All others are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved control opcode).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// String returns the opcode's name as RFC 6455 spells it.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "Opcode(" + strconv.Itoa(int(op)) + ")"
}

// Close status codes of RFC 6455 section 7.4.1 that this package produces or
// a driver commonly sends.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	// CloseNoStatus is what a Handler sees for a close frame without a body;
	// it is never sent on the wire.
	CloseNoStatus        = 1005
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
	CloseTryAgainLater   = 1013
)

// ValidCloseCode reports whether code may appear in a close frame on the
// wire: 1000–1003 and 1007–1014 (registered), 3000–4999 (libraries and
// applications). 1004–1006 and 1015 are reserved or local-only, and
// everything below 3000 that IANA has not registered is invalid.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// MaxHeaderSize is the largest frame header: 2 bytes, an 8-byte extended
// length and a 4-byte masking key. A buffer of this size always holds the
// output of AppendHeader or AppendMaskedHeader.
const MaxHeaderSize = 14

// MaxControlPayload is the largest payload of a control frame.
const MaxControlPayload = 125

// HeaderSize returns how many bytes the header of a frame with a payload of
// length bytes takes, so a writer can reserve room in front of a payload.
func HeaderSize(length int, masked bool) int {
	n := 2
	switch {
	case length > 0xFFFF:
		n += 8
	case length > 125:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// AppendHeader appends the header of an unmasked frame (server to client)
// with the given opcode, FIN bit and payload length (≥ 0) to dst. The
// router builds an event's header once with it and sends it in front of the
// shared payload bytes.
func AppendHeader(dst []byte, op Opcode, fin bool, length int) []byte {
	return appendHeader(dst, op, fin, length, 0)
}

// AppendMaskedHeader appends the header of a masked frame (client to server)
// carrying key. The payload that follows must be masked with MaskBytes(key,
// 0, payload).
func AppendMaskedHeader(dst []byte, op Opcode, fin bool, length int, key [4]byte) []byte {
	dst = appendHeader(dst, op, fin, length, 0x80)
	return append(dst, key[0], key[1], key[2], key[3])
}

func appendHeader(dst []byte, op Opcode, fin bool, length int, maskBit byte) []byte {
	b0 := byte(op) & 0x0F
	if fin {
		b0 |= 0x80
	}
	switch {
	case length <= 125:
		return append(dst, b0, maskBit|byte(length))
	case length <= 0xFFFF:
		return append(dst, b0, maskBit|126, byte(length>>8), byte(length))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, maskBit|127), uint64(length))
}

// AppendFrame appends an unmasked frame (server to client) holding payload.
// Control frames (close, ping, pong) must be final and carry at most
// MaxControlPayload bytes; that is the caller's duty.
func AppendFrame(dst []byte, op Opcode, fin bool, payload []byte) []byte {
	dst = appendHeader(dst, op, fin, len(payload), 0)
	return append(dst, payload...)
}

// AppendMaskedFrame appends a frame (client to server) holding payload
// masked with key, which the caller draws from a strong random source for
// every frame (RFC 6455 section 5.3). payload itself is not modified.
func AppendMaskedFrame(dst []byte, op Opcode, fin bool, payload []byte, key [4]byte) []byte {
	dst = AppendMaskedHeader(dst, op, fin, len(payload), key)
	start := len(dst)
	dst = append(dst, payload...)
	MaskBytes(key, 0, dst[start:])
	return dst
}

// AppendClose appends an unmasked close frame. A code of 0 or CloseNoStatus
// (what the Handler saw for a close without a body, so a driver can echo it
// as it came) sends a close frame without a body; otherwise the body is the
// code and reason, the reason cut to the 123 bytes a control frame leaves
// for it (at a UTF-8 boundary).
func AppendClose(dst []byte, code int, reason string) []byte {
	var body [MaxControlPayload]byte
	return AppendFrame(dst, OpClose, true, closePayload(&body, code, reason))
}

// AppendMaskedClose is AppendClose for the client side.
func AppendMaskedClose(dst []byte, code int, reason string, key [4]byte) []byte {
	var body [MaxControlPayload]byte
	return AppendMaskedFrame(dst, OpClose, true, closePayload(&body, code, reason), key)
}

// closePayload builds the body of a close frame in buf.
func closePayload(buf *[MaxControlPayload]byte, code int, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return buf[:0]
	}
	return append(append(buf[:0], byte(code>>8), byte(code)), clipReason(reason)...)
}

// clipReason shortens reason to what fits in a close frame, without splitting
// a UTF-8 sequence (a cut sequence would make the peer fail with 1007).
func clipReason(reason string) string {
	const max = MaxControlPayload - 2
	if len(reason) <= max {
		return reason
	}
	i := max
	for i > 0 && reason[i]&0xC0 == 0x80 {
		i--
	}
	return reason[:i]
}

// MaskBytes XORs b with the masking key, starting at position pos (0–3) of
// the key, and returns the key position for the byte after b. Masking and
// unmasking are the same operation.
func MaskBytes(key [4]byte, pos int, b []byte) int {
	pos &= 3
	if len(b) >= 16 {
		// Rotate the key so that word-wide XOR starts at b[0]; a multiple of
		// 4 bytes later the phase is the same again.
		k32 := uint32(key[pos&3]) | uint32(key[(pos+1)&3])<<8 | uint32(key[(pos+2)&3])<<16 | uint32(key[(pos+3)&3])<<24
		k := uint64(k32) | uint64(k32)<<32
		for len(b) >= 32 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^k)
			binary.LittleEndian.PutUint64(b[16:], binary.LittleEndian.Uint64(b[16:])^k)
			binary.LittleEndian.PutUint64(b[24:], binary.LittleEndian.Uint64(b[24:])^k)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}
