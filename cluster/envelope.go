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
	kindGone   byte = 4 // a proxy left: its peer caller on the receiving node may go
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

// parseEvent reads an event envelope. Its strings repeat from message to
// message (a few nodes, realms and identities), so they come from names
// rather than a new string each.
func parseEvent(b []byte, h *eventHeader, names *interner) (raw []byte, err error) {
	if len(b) < 2 || b[0] != kindEvent {
		return nil, errShortEnvelope
	}
	h.format = codec.Format(b[1])
	r := reader{b: b[2:]}
	h.origin = names.get(r.view())
	h.realm = names.get(r.view())
	h.pubID = r.uint()
	h.publisher = r.uint()
	h.authID = names.get(r.view())
	h.authRole = names.get(r.view())
	if r.err != nil {
		return nil, r.err
	}
	return r.b, nil
}

// interner hands out one string per distinct byte sequence, up to a bound
// (then it allocates like string(b) would). One goroutine uses it.
type interner struct{ m map[string]string }

const maxInterned = 1 << 14

func (in *interner) get(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if in.m == nil {
		in.m = make(map[string]string)
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
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
	if len(b) < 2 || (b[0] != kindInvoke && b[0] != kindAnswer && b[0] != kindGone) {
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

func (r *reader) str() string { return string(r.view()) }

// view returns the next string field as a view into the envelope.
func (r *reader) view() []byte {
	n := r.uint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errShortEnvelope
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
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

// EnvelopeFields is what ParseEnvelope read.
type EnvelopeFields struct {
	Kind                    byte
	Format                  codec.Format
	Origin, Realm           string
	PubID, Publisher, Proxy uint64
	AuthID, AuthRole        string
	Callee                  uint64
	URI                     string
	Policy                  byte
}

// ParseEnvelope decodes a node-to-node message: its header fields and the
// WAMP message it carries (a view into b). It is what every node runs on
// what arrives from the others, exported for the fuzz targets.
func ParseEnvelope(b []byte) (EnvelopeFields, []byte, error) {
	var f EnvelopeFields
	if len(b) == 0 {
		return f, nil, errShortEnvelope
	}
	switch b[0] {
	case kindEvent:
		var h eventHeader
		var names interner
		raw, err := parseEvent(b, &h, &names)
		f = EnvelopeFields{Kind: kindEvent, Format: h.format, Origin: h.origin, Realm: h.realm, PubID: h.pubID,
			Publisher: h.publisher, AuthID: h.authID, AuthRole: h.authRole}
		return f, raw, err
	case kindInvoke, kindAnswer, kindGone:
		var h rpcHeader
		raw, err := parseRPC(b, &h)
		f = EnvelopeFields{Kind: h.kind, Format: h.format, Origin: h.origin, Realm: h.realm, Proxy: h.proxy,
			Callee: h.callee, URI: h.uri, Policy: h.policy}
		return f, raw, err
	}
	return f, nil, errShortEnvelope
}

// AppendEnvelope is ParseEnvelope's inverse, for the fuzz targets.
func AppendEnvelope(dst []byte, f EnvelopeFields, msg []byte) []byte {
	if f.Kind == kindEvent {
		h := eventHeader{origin: f.Origin, realm: f.Realm, pubID: f.PubID, publisher: f.Publisher,
			authID: f.AuthID, authRole: f.AuthRole, format: f.Format}
		return appendEvent(dst, &h, msg)
	}
	h := rpcHeader{kind: f.Kind, format: f.Format, origin: f.Origin, realm: f.Realm, proxy: f.Proxy,
		callee: f.Callee, uri: f.URI, policy: f.Policy}
	return appendRPC(dst, &h, msg)
}
