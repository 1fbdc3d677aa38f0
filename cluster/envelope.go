package cluster

import (
	"encoding/binary"
	"errors"

	"github.com/zwamp/zwamp/codec"
)

// Node-to-node messages are a small binary header followed by a WAMP
// message exactly as one of the router's codecs encoded it, so a node
// forwards what it received without re-encoding and the receiver decodes
// it with the same codec (payloads stay views, transcoded only where a
// local peer speaks another serializer).
//
// Header fields are written in a fixed order: strings as uvarint length +
// bytes, integers as uvarints.

// Envelope kinds.
const (
	kindEvent  byte = 1 // a publication: to every node with interest
	kindInvoke byte = 2 // INVOCATION or INTERRUPT for a callee on the receiving node
	kindAnswer byte = 3 // RESULT or ERROR for a call made from the receiving node
)

var errShortEnvelope = errors.New("cluster: truncated envelope")

// eventHeader describes a publication forwarded to other nodes.
type eventHeader struct {
	origin    string // sending node's instance
	realm     string
	pubID     uint64
	publisher uint64 // 0 for the router's own meta events
	authID    string
	authRole  string
	format    codec.Format
}

func appendEvent(dst []byte, h *eventHeader, raw []byte) []byte {
	dst = append(dst, kindEvent, byte(h.format))
	dst = appendStr(dst, h.origin)
	dst = appendStr(dst, h.realm)
	dst = binary.AppendUvarint(dst, h.pubID)
	dst = binary.AppendUvarint(dst, h.publisher)
	dst = appendStr(dst, h.authID)
	dst = appendStr(dst, h.authRole)
	return append(dst, raw...)
}

// parseEvent reads an event envelope; the strings are views into b (the
// caller copies what it keeps).
func parseEvent(b []byte, h *eventHeader) (raw []byte, err error) {
	if len(b) < 2 || b[0] != kindEvent {
		return nil, errShortEnvelope
	}
	h.format = codec.Format(b[1])
	r := reader{b: b[2:]}
	h.origin = r.str()
	h.realm = r.str()
	h.pubID = r.uint()
	h.publisher = r.uint()
	h.authID = r.str()
	h.authRole = r.str()
	if r.err != nil {
		return nil, r.err
	}
	return r.b, nil
}

// rpcHeader addresses an INVOCATION/INTERRUPT (kindInvoke) or a
// RESULT/ERROR (kindAnswer) between a proxy callee on the caller's node
// and the peer caller that stands for it on the callee's node.
type rpcHeader struct {
	kind   byte
	format codec.Format
	origin string // the caller's node (where the proxy lives)
	realm  string
	proxy  uint64 // the proxy's id on the caller's node
	// kindInvoke only: the callee and the registration it is called on.
	callee uint64
	uri    string
	policy byte
}

func appendRPC(dst []byte, h *rpcHeader, raw []byte) []byte {
	dst = append(dst, h.kind, byte(h.format))
	dst = appendStr(dst, h.origin)
	dst = appendStr(dst, h.realm)
	dst = binary.AppendUvarint(dst, h.proxy)
	if h.kind == kindInvoke {
		dst = binary.AppendUvarint(dst, h.callee)
		dst = appendStr(dst, h.uri)
		dst = append(dst, h.policy)
	}
	return append(dst, raw...)
}

func parseRPC(b []byte, h *rpcHeader) (raw []byte, err error) {
	if len(b) < 2 || (b[0] != kindInvoke && b[0] != kindAnswer) {
		return nil, errShortEnvelope
	}
	h.kind, h.format = b[0], codec.Format(b[1])
	r := reader{b: b[2:]}
	h.origin = r.str()
	h.realm = r.str()
	h.proxy = r.uint()
	if h.kind == kindInvoke {
		h.callee = r.uint()
		h.uri = r.str()
		h.policy = r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.b, nil
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader decodes header fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShortEnvelope
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errShortEnvelope
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errShortEnvelope
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}
