package codec

import "strconv"

// Type is a WAMP message type code.
type Type uint16

// WAMP message type codes (basic and advanced profile).
const (
	HELLO        Type = 1
	WELCOME      Type = 2
	ABORT        Type = 3
	CHALLENGE    Type = 4
	AUTHENTICATE Type = 5
	GOODBYE      Type = 6
	ERROR        Type = 8
	PUBLISH      Type = 16
	PUBLISHED    Type = 17
	SUBSCRIBE    Type = 32
	SUBSCRIBED   Type = 33
	UNSUBSCRIBE  Type = 34
	UNSUBSCRIBED Type = 35
	EVENT        Type = 36
	CALL         Type = 48
	CANCEL       Type = 49
	RESULT       Type = 50
	REGISTER     Type = 64
	REGISTERED   Type = 65
	UNREGISTER   Type = 66
	UNREGISTERED Type = 67
	INVOCATION   Type = 68
	INTERRUPT    Type = 69
	YIELD        Type = 70
)

// MaxID is the largest valid WAMP ID (2^53). IDs are integers in [0, MaxID]
// on the wire; 0 is accepted by the codecs and rejected, where the spec
// requires it, by the router.
const MaxID = 1 << 53

// DefaultMaxDepth bounds the nesting of lists and dicts (the message array
// itself is depth 1) when Message.MaxDepth is 0.
const DefaultMaxDepth = 64

// Message is one WAMP message in a flat, reusable form. Which fields are
// meaningful depends on Type; see Layout. A Message is meant to be reused
// across decodes (Reset keeps slice capacity), which is how decoding stays
// free of allocations.
type Message struct {
	Type Type

	// Request is the message's own Request|id, or the request it answers
	// (PUBLISHED, SUBSCRIBED, ..., RESULT, YIELD, ERROR's REQUEST.Request).
	Request uint64

	// ID is the one non-request ID of the message: WELCOME.Session,
	// PUBLISHED.Publication, SUBSCRIBED/UNSUBSCRIBE/EVENT.Subscription,
	// REGISTERED/UNREGISTER/INVOCATION.Registration.
	ID uint64

	// Publication is EVENT.Publication.
	Publication uint64

	// ErrorType is ERROR's REQUEST.Type.
	ErrorType Type

	// URI is the message's one string element: HELLO.Realm, ABORT/GOODBYE.Reason,
	// ERROR.Error, PUBLISH/SUBSCRIBE.Topic, CALL/REGISTER.Procedure,
	// CHALLENGE.AuthMethod, AUTHENTICATE.Signature.
	URI []byte

	// Dict is the Options|Details|Extra dict as encoded. After Decode it is
	// a view into the input. When encoding, a Dict with non-nil Bytes is
	// written verbatim (transcoded if its Format differs) and Details is
	// ignored; otherwise the keys set in Details are written.
	Dict Raw

	// Details holds the Options/Details keys the router acts on, decoded
	// into typed fields (Decode) or to be written (Append, when Dict is nil).
	Details Details

	// Args and Kwargs are the Arguments|list and ArgumentsKw|dict payload
	// views. Nil Bytes means absent. Decoding validates but never builds
	// Go values for them.
	Args   Raw
	Kwargs Raw

	// MaxDepth bounds nesting while decoding; 0 means DefaultMaxDepth.
	MaxDepth int

	// Buf is scratch memory owned by the Message. Decoders append
	// unescaped strings (JSON escapes, base64) to Buf[:0] and point URI or
	// Details entries at it, so a Message reused for every decode reaches
	// a steady state without allocating.
	Buf []byte
}

// Reset clears m for the next decode, keeping the capacity of its slices.
func (m *Message) Reset() {
	m.Type = 0
	m.Request, m.ID, m.Publication = 0, 0, 0
	m.ErrorType = 0
	m.URI = nil
	m.Dict, m.Args, m.Kwargs = Raw{}, Raw{}, Raw{}
	m.Buf = m.Buf[:0]
	m.Details.Reset()
}

// Depth returns the nesting limit in force for m.
func (m *Message) Depth() int {
	if m.MaxDepth > 0 {
		return m.MaxDepth
	}
	return DefaultMaxDepth
}

// HasArgs reports whether the message carries an Arguments element
// (possibly implied by the presence of ArgumentsKw).
func (m *Message) HasArgs() bool { return m.Args.Bytes != nil || m.Kwargs.Bytes != nil }

// String returns the message type's name, or its number when unknown.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is a message type defined by the spec.
func (t Type) Valid() bool {
	return int(t) < len(layouts) && layouts[t].Elems != nil
}

var typeNames = [...]string{
	HELLO: "HELLO", WELCOME: "WELCOME", ABORT: "ABORT", CHALLENGE: "CHALLENGE",
	AUTHENTICATE: "AUTHENTICATE", GOODBYE: "GOODBYE", ERROR: "ERROR",
	PUBLISH: "PUBLISH", PUBLISHED: "PUBLISHED", SUBSCRIBE: "SUBSCRIBE",
	SUBSCRIBED: "SUBSCRIBED", UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBSCRIBED: "UNSUBSCRIBED",
	EVENT: "EVENT", CALL: "CALL", CANCEL: "CANCEL", RESULT: "RESULT",
	REGISTER: "REGISTER", REGISTERED: "REGISTERED", UNREGISTER: "UNREGISTER",
	UNREGISTERED: "UNREGISTERED", INVOCATION: "INVOCATION", INTERRUPT: "INTERRUPT",
	YIELD: "YIELD",
}
