package codec

// Slot says where a message element lives in Message and what wire type it
// has. Every serializer decodes and encodes elements through this one table,
// so the three codecs cannot disagree on field order or counts.
type Slot uint8

const (
	SlotRequest     Slot = iota + 1 // id → Message.Request
	SlotID                          // id → Message.ID
	SlotPublication                 // id → Message.Publication
	SlotErrorType                   // integer → Message.ErrorType
	SlotURI                         // string → Message.URI
	SlotDict                        // dict → Message.Dict and Message.Details
	SlotArgs                        // list → Message.Args
	SlotKwargs                      // dict → Message.Kwargs
)

// Elem is one element of a message after the type code.
type Elem struct {
	Slot Slot
	Name string // the spec's name, used in errors ("Options", "Topic")
}

// Layout describes the elements of one message type, in wire order, after
// the leading type code. Elements at index >= Min-1 are optional; a message
// has between Min and len(Elems)+1 elements including the type code.
type Layout struct {
	Elems []Elem
	Min   int // minimum element count including the type code
}

// Max returns the maximum element count including the type code.
func (l *Layout) Max() int { return len(l.Elems) + 1 }

// LayoutOf returns the layout of t, or nil for an unknown type.
func LayoutOf(t Type) *Layout {
	if !t.Valid() {
		return nil
	}
	return &layouts[t]
}

var (
	eRequest  = Elem{SlotRequest, "Request"}
	eArgs     = Elem{SlotArgs, "Arguments"}
	eKwargs   = Elem{SlotKwargs, "ArgumentsKw"}
	eOptions  = Elem{SlotDict, "Options"}
	eDetails  = Elem{SlotDict, "Details"}
	eSubID    = Elem{SlotID, "Subscription"}
	eRegID    = Elem{SlotID, "Registration"}
	eExtra    = Elem{SlotDict, "Extra"}
	eReason   = Elem{SlotURI, "Reason"}
	eTopic    = Elem{SlotURI, "Topic"}
	eProc     = Elem{SlotURI, "Procedure"}
	layouts   [YIELD + 1]Layout
	allLayout = map[Type]Layout{
		HELLO:        {[]Elem{{SlotURI, "Realm"}, eDetails}, 3},
		WELCOME:      {[]Elem{{SlotID, "Session"}, eDetails}, 3},
		ABORT:        {[]Elem{eDetails, eReason, eArgs, eKwargs}, 3},
		CHALLENGE:    {[]Elem{{SlotURI, "AuthMethod"}, eExtra}, 3},
		AUTHENTICATE: {[]Elem{{SlotURI, "Signature"}, eExtra}, 3},
		GOODBYE:      {[]Elem{eDetails, eReason}, 3},
		ERROR:        {[]Elem{{SlotErrorType, "REQUEST.Type"}, eRequest, eDetails, {SlotURI, "Error"}, eArgs, eKwargs}, 5},
		PUBLISH:      {[]Elem{eRequest, eOptions, eTopic, eArgs, eKwargs}, 4},
		PUBLISHED:    {[]Elem{eRequest, {SlotID, "Publication"}}, 3},
		SUBSCRIBE:    {[]Elem{eRequest, eOptions, eTopic}, 4},
		SUBSCRIBED:   {[]Elem{eRequest, eSubID}, 3},
		UNSUBSCRIBE:  {[]Elem{eRequest, eSubID}, 3},
		UNSUBSCRIBED: {[]Elem{eRequest, eDetails}, 2},
		EVENT:        {[]Elem{eSubID, {SlotPublication, "Publication"}, eDetails, eArgs, eKwargs}, 4},
		CALL:         {[]Elem{eRequest, eOptions, eProc, eArgs, eKwargs}, 4},
		CANCEL:       {[]Elem{eRequest, eOptions}, 3},
		RESULT:       {[]Elem{eRequest, eDetails, eArgs, eKwargs}, 3},
		REGISTER:     {[]Elem{eRequest, eOptions, eProc}, 4},
		REGISTERED:   {[]Elem{eRequest, eRegID}, 3},
		UNREGISTER:   {[]Elem{eRequest, eRegID}, 3},
		UNREGISTERED: {[]Elem{eRequest, eDetails}, 2},
		INVOCATION:   {[]Elem{eRequest, eRegID, eDetails, eArgs, eKwargs}, 4},
		INTERRUPT:    {[]Elem{eRequest, eOptions}, 3},
		YIELD:        {[]Elem{eRequest, eOptions, eArgs, eKwargs}, 3},
	}
)

func init() {
	for t, l := range allLayout {
		layouts[t] = l
	}
}

// EncodedLen returns how many elements (including the type code) m is
// written with: trailing optional elements are dropped when absent, and
// Arguments is written (as an empty list if need be) whenever ArgumentsKw is.
func (l *Layout) EncodedLen(m *Message) int {
	n := l.Max()
	for n > l.Min {
		e := l.Elems[n-2]
		switch e.Slot {
		case SlotKwargs:
			if m.Kwargs.Bytes != nil {
				return n
			}
		case SlotArgs:
			if m.Args.Bytes != nil || m.Kwargs.Bytes != nil {
				return n
			}
		case SlotDict:
			if m.Dict.Bytes != nil || m.Details.Set != 0 {
				return n
			}
		default:
			return n
		}
		n--
	}
	return n
}
