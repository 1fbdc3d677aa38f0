package codec

import "math/bits"

// Key names an Options/Details key the router acts on or writes. Keys not in
// this list are ignored when decoding, as the spec requires (they stay
// available in Message.Dict).
type Key uint8

// Known keys, in the order encoders write them.
const (
	KeyMatch             Key = iota // string: "exact" | "prefix" | "wildcard"
	KeyInvoke                       // string: invocation policy
	KeyAcknowledge                  // bool
	KeyExcludeMe                    // bool
	KeyDiscloseMe                   // bool
	KeyExclude                      // list of id
	KeyEligible                     // list of id
	KeyExcludeAuthID                // list of string (a single string is accepted)
	KeyExcludeAuthRole              // list of string (a single string is accepted)
	KeyEligibleAuthID               // list of string (a single string is accepted)
	KeyEligibleAuthRole             // list of string (a single string is accepted)
	KeyReceiveProgress              // bool
	KeyProgress                     // bool
	KeyTimeout                      // integer, milliseconds
	KeyMode                         // string: "skip" | "kill" | "killnowait"
	KeyRetain                       // bool
	KeyGetRetained                  // bool
	KeyRetained                     // bool
	KeyForwardTimeout               // bool
	KeyPPTScheme                    // string
	KeyPPTSerializer                // string
	KeyPPTCipher                    // string
	KeyPPTKeyID                     // string
	KeyPublisher                    // id
	KeyPublisherAuthID              // string
	KeyPublisherAuthRole            // string
	KeyCaller                       // id
	KeyCallerAuthID                 // string
	KeyCallerAuthRole               // string
	KeyTopic                        // uri
	KeyProcedure                    // uri
	KeyTrustlevel                   // integer
	KeyRoles                        // dict: role → {"features": {feature: bool}}
	KeyAuthMethods                  // list of string
	KeyAuthID                       // string
	KeyAuthRole                     // string
	KeyAuthMethod                   // string
	KeyAuthProvider                 // string
	KeyAuthExtra                    // dict, kept as a Raw view
	KeyMessage                      // string: human readable text in ABORT/GOODBYE/ERROR
	NumKeys
)

// KeyNames maps each Key to its wire name.
var KeyNames = [NumKeys]string{
	KeyMatch: "match", KeyInvoke: "invoke", KeyAcknowledge: "acknowledge",
	KeyExcludeMe: "exclude_me", KeyDiscloseMe: "disclose_me",
	KeyExclude: "exclude", KeyEligible: "eligible",
	KeyExcludeAuthID: "exclude_authid", KeyExcludeAuthRole: "exclude_authrole",
	KeyEligibleAuthID: "eligible_authid", KeyEligibleAuthRole: "eligible_authrole",
	KeyReceiveProgress: "receive_progress", KeyProgress: "progress",
	KeyTimeout: "timeout", KeyMode: "mode", KeyRetain: "retain",
	KeyGetRetained: "get_retained", KeyRetained: "retained",
	KeyForwardTimeout: "forward_timeout",
	KeyPPTScheme:      "ppt_scheme", KeyPPTSerializer: "ppt_serializer",
	KeyPPTCipher: "ppt_cipher", KeyPPTKeyID: "ppt_keyid",
	KeyPublisher: "publisher", KeyPublisherAuthID: "publisher_authid",
	KeyPublisherAuthRole: "publisher_authrole",
	KeyCaller:            "caller", KeyCallerAuthID: "caller_authid",
	KeyCallerAuthRole: "caller_authrole",
	KeyTopic:          "topic", KeyProcedure: "procedure", KeyTrustlevel: "trustlevel",
	KeyRoles: "roles", KeyAuthMethods: "authmethods", KeyAuthID: "authid",
	KeyAuthRole: "authrole", KeyAuthMethod: "authmethod",
	KeyAuthProvider: "authprovider", KeyAuthExtra: "authextra",
	KeyMessage: "message",
}

// KeyKind is the wire type of a known key's value.
type KeyKind uint8

const (
	KindBool       KeyKind = iota + 1
	KindInt                // non-negative integer
	KindID                 // integer in [0, MaxID]
	KindString             // string, stored as a []byte view
	KindIDList             // list of id
	KindStringList         // list of string; a single string is accepted
	KindRoles              // nested roles/features dict
	KindDict               // any dict, stored as a Raw view
)

// KeyKinds gives the wire type of each Key.
var KeyKinds = [NumKeys]KeyKind{
	KeyMatch: KindString, KeyInvoke: KindString, KeyAcknowledge: KindBool,
	KeyExcludeMe: KindBool, KeyDiscloseMe: KindBool,
	KeyExclude: KindIDList, KeyEligible: KindIDList,
	KeyExcludeAuthID: KindStringList, KeyExcludeAuthRole: KindStringList,
	KeyEligibleAuthID: KindStringList, KeyEligibleAuthRole: KindStringList,
	KeyReceiveProgress: KindBool, KeyProgress: KindBool, KeyTimeout: KindInt,
	KeyMode: KindString, KeyRetain: KindBool, KeyGetRetained: KindBool,
	KeyRetained: KindBool, KeyForwardTimeout: KindBool,
	KeyPPTScheme: KindString, KeyPPTSerializer: KindString,
	KeyPPTCipher: KindString, KeyPPTKeyID: KindString,
	KeyPublisher: KindID, KeyPublisherAuthID: KindString, KeyPublisherAuthRole: KindString,
	KeyCaller: KindID, KeyCallerAuthID: KindString, KeyCallerAuthRole: KindString,
	KeyTopic: KindString, KeyProcedure: KindString, KeyTrustlevel: KindInt,
	KeyRoles: KindRoles, KeyAuthMethods: KindStringList, KeyAuthID: KindString,
	KeyAuthRole: KindString, KeyAuthMethod: KindString, KeyAuthProvider: KindString,
	KeyAuthExtra: KindDict, KeyMessage: KindString,
}

// Details holds the typed Options/Details keys of one message. Set records
// which keys were present (decode) or are to be written (encode), so that an
// explicit false differs from an absent key. A key whose value is null on the
// wire is treated as absent.
type Details struct {
	Set uint64 // bit 1<<Key for each present key

	Match  Match
	Invoke Invoke
	Mode   CancelMode

	Acknowledge     bool
	ExcludeMe       bool
	DiscloseMe      bool
	ReceiveProgress bool
	Progress        bool
	Retain          bool
	GetRetained     bool
	Retained        bool
	ForwardTimeout  bool

	Timeout    uint64
	Trustlevel uint64
	Publisher  uint64
	Caller     uint64

	Exclude  []uint64
	Eligible []uint64

	ExcludeAuthID    [][]byte
	ExcludeAuthRole  [][]byte
	EligibleAuthID   [][]byte
	EligibleAuthRole [][]byte
	AuthMethods      [][]byte

	// Str holds the string-valued keys (KindString), indexed by Key; for
	// match/invoke/mode it holds the raw string next to the parsed enum.
	Str [NumKeys][]byte

	// Roles and Features come from HELLO/WELCOME "roles".
	Roles    Role
	Features [NumRoles]Feature

	AuthExtra Raw
}

// Has reports whether key k is present.
func (d *Details) Has(k Key) bool { return d.Set&(1<<k) != 0 }

// Mark records key k as present.
func (d *Details) Mark(k Key) { d.Set |= 1 << k }

// Clear records key k as absent and drops the value stored for it, so a
// key set to null after a value (a duplicate in one dict) reads as absent
// through every accessor, and Reset, which only visits set keys, leaves
// nothing stale behind.
func (d *Details) Clear(k Key) {
	if !d.Has(k) {
		return
	}
	switch KeyKinds[k] {
	case KindBool:
		d.SetBool(k, false)
	case KindInt, KindID:
		d.SetUint(k, 0)
	case KindIDList:
		p := d.IDList(k)
		*p = (*p)[:0]
	case KindStringList:
		p := d.StringList(k)
		*p = (*p)[:0]
	case KindRoles:
		d.Roles = 0
		d.Features = [NumRoles]Feature{}
	case KindDict:
		d.AuthExtra = Raw{}
	}
	d.Set &^= 1 << k
	d.Str[k] = nil
}

// String returns the value of a string-valued key (nil when absent).
func (d *Details) String(k Key) []byte { return d.Str[k] }

// SetString sets a string-valued key and marks it present.
func (d *Details) SetString(k Key, v []byte) { d.Str[k] = v; d.Mark(k) }

// Bool returns the value of a bool key, or def when the key is absent.
func (d *Details) Bool(k Key, def bool) bool {
	if !d.Has(k) {
		return def
	}
	switch k {
	case KeyAcknowledge:
		return d.Acknowledge
	case KeyExcludeMe:
		return d.ExcludeMe
	case KeyDiscloseMe:
		return d.DiscloseMe
	case KeyReceiveProgress:
		return d.ReceiveProgress
	case KeyProgress:
		return d.Progress
	case KeyRetain:
		return d.Retain
	case KeyGetRetained:
		return d.GetRetained
	case KeyRetained:
		return d.Retained
	case KeyForwardTimeout:
		return d.ForwardTimeout
	}
	return def
}

// SetBool sets a bool key and marks it present.
func (d *Details) SetBool(k Key, v bool) {
	switch k {
	case KeyAcknowledge:
		d.Acknowledge = v
	case KeyExcludeMe:
		d.ExcludeMe = v
	case KeyDiscloseMe:
		d.DiscloseMe = v
	case KeyReceiveProgress:
		d.ReceiveProgress = v
	case KeyProgress:
		d.Progress = v
	case KeyRetain:
		d.Retain = v
	case KeyGetRetained:
		d.GetRetained = v
	case KeyRetained:
		d.Retained = v
	case KeyForwardTimeout:
		d.ForwardTimeout = v
	default:
		return
	}
	d.Mark(k)
}

// Uint returns the value of an integer or id key (0 when absent).
func (d *Details) Uint(k Key) uint64 {
	switch k {
	case KeyTimeout:
		return d.Timeout
	case KeyTrustlevel:
		return d.Trustlevel
	case KeyPublisher:
		return d.Publisher
	case KeyCaller:
		return d.Caller
	}
	return 0
}

// SetUint sets an integer or id key and marks it present.
func (d *Details) SetUint(k Key, v uint64) {
	switch k {
	case KeyTimeout:
		d.Timeout = v
	case KeyTrustlevel:
		d.Trustlevel = v
	case KeyPublisher:
		d.Publisher = v
	case KeyCaller:
		d.Caller = v
	default:
		return
	}
	d.Mark(k)
}

// IDList returns a pointer to the slice behind an id-list key, for decoders
// to append into (reusing capacity) and encoders to read.
func (d *Details) IDList(k Key) *[]uint64 {
	switch k {
	case KeyExclude:
		return &d.Exclude
	case KeyEligible:
		return &d.Eligible
	}
	return nil
}

// StringList returns a pointer to the slice behind a string-list key.
func (d *Details) StringList(k Key) *[][]byte {
	switch k {
	case KeyExcludeAuthID:
		return &d.ExcludeAuthID
	case KeyExcludeAuthRole:
		return &d.ExcludeAuthRole
	case KeyEligibleAuthID:
		return &d.EligibleAuthID
	case KeyEligibleAuthRole:
		return &d.EligibleAuthRole
	case KeyAuthMethods:
		return &d.AuthMethods
	}
	return nil
}

// Count returns how many keys are set (the dict's entry count when encoded).
func (d *Details) Count() int {
	n := 0
	for s := d.Set; s != 0; s &= s - 1 {
		n++
	}
	return n
}

// Finish parses the enum-valued string keys (match, invoke, mode) after a
// decoder stored their raw strings. Decoders call it once per dict.
func (d *Details) Finish() {
	if d.Has(KeyMatch) {
		d.Match = ParseMatch(d.Str[KeyMatch])
	}
	if d.Has(KeyInvoke) {
		d.Invoke = ParseInvoke(d.Str[KeyInvoke])
	}
	if d.Has(KeyMode) {
		d.Mode = ParseCancelMode(d.Str[KeyMode])
	}
}

// Reset clears d, keeping the backing arrays of its lists. It touches only
// the string slots of keys that were set, so resetting an empty or small
// Details (the common case on the hot path) costs a handful of stores.
func (d *Details) Reset() {
	for s := d.Set; s != 0; s &= s - 1 {
		d.Str[bits.TrailingZeros64(s)] = nil
	}
	d.Set = 0
	d.Match, d.Invoke, d.Mode = 0, 0, 0
	d.Acknowledge, d.ExcludeMe, d.DiscloseMe = false, false, false
	d.ReceiveProgress, d.Progress = false, false
	d.Retain, d.GetRetained, d.Retained, d.ForwardTimeout = false, false, false, false
	d.Timeout, d.Trustlevel, d.Publisher, d.Caller = 0, 0, 0, 0
	d.Exclude = d.Exclude[:0]
	d.Eligible = d.Eligible[:0]
	d.ExcludeAuthID = d.ExcludeAuthID[:0]
	d.ExcludeAuthRole = d.ExcludeAuthRole[:0]
	d.EligibleAuthID = d.EligibleAuthID[:0]
	d.EligibleAuthRole = d.EligibleAuthRole[:0]
	d.AuthMethods = d.AuthMethods[:0]
	d.Roles = 0
	d.Features = [NumRoles]Feature{}
	d.AuthExtra = Raw{}
}

// Match is a subscription or registration match policy.
type Match uint8

const (
	MatchExact Match = iota
	MatchPrefix
	MatchWildcard
	MatchInvalid // an unknown policy string; the router answers invalid_argument
)

var matchNames = [...]string{"exact", "prefix", "wildcard", "invalid"}

func (m Match) String() string {
	if int(m) < len(matchNames) {
		return matchNames[m]
	}
	return "invalid"
}

// ParseMatch parses a match policy name.
func ParseMatch(b []byte) Match {
	for i, n := range matchNames[:MatchInvalid] {
		if string(b) == n {
			return Match(i)
		}
	}
	return MatchInvalid
}

// Invoke is a shared-registration invocation policy.
type Invoke uint8

const (
	InvokeSingle Invoke = iota
	InvokeRoundRobin
	InvokeRandom
	InvokeFirst
	InvokeLast
	InvokeInvalid
)

var invokeNames = [...]string{"single", "roundrobin", "random", "first", "last", "invalid"}

func (i Invoke) String() string {
	if int(i) < len(invokeNames) {
		return invokeNames[i]
	}
	return "invalid"
}

// ParseInvoke parses an invocation policy name.
func ParseInvoke(b []byte) Invoke {
	for i, n := range invokeNames[:InvokeInvalid] {
		if string(b) == n {
			return Invoke(i)
		}
	}
	return InvokeInvalid
}

// CancelMode is a CANCEL mode.
type CancelMode uint8

const (
	ModeSkip CancelMode = iota
	ModeKill
	ModeKillNoWait
	ModeInvalid
)

var modeNames = [...]string{"skip", "kill", "killnowait", "invalid"}

func (c CancelMode) String() string {
	if int(c) < len(modeNames) {
		return modeNames[c]
	}
	return "invalid"
}

// ParseCancelMode parses a cancel mode name.
func ParseCancelMode(b []byte) CancelMode {
	for i, n := range modeNames[:ModeInvalid] {
		if string(b) == n {
			return CancelMode(i)
		}
	}
	return ModeInvalid
}

// Role is a set of WAMP roles (bit flags).
type Role uint8

// Roles, in the order encoders write them.
const (
	RolePublisher Role = 1 << iota
	RoleSubscriber
	RoleCaller
	RoleCallee
	RoleBroker
	RoleDealer
)

// NumRoles is the number of distinct roles.
const NumRoles = 6

// RoleNames maps a role's bit index to its wire name.
var RoleNames = [NumRoles]string{"publisher", "subscriber", "caller", "callee", "broker", "dealer"}

// RoleIndex returns the bit index of a single role.
func RoleIndex(r Role) int {
	for i := 0; i < NumRoles; i++ {
		if r == 1<<i {
			return i
		}
	}
	return -1
}

// LookupRole returns the role named name.
func LookupRole(name []byte) (Role, bool) {
	for i, n := range RoleNames {
		if string(name) == n {
			return 1 << i, true
		}
	}
	return 0, false
}

// Feature is a set of advanced-profile features (bit flags) announced for a role.
type Feature uint32

// Features, in the order encoders write them.
const (
	FeatureProgressiveCallResults Feature = 1 << iota
	FeatureProgressiveCallInvocations
	FeatureCallTimeout
	FeatureCallCanceling
	FeatureCallerIdentification
	FeatureCallTrustlevels
	FeatureRegistrationMetaAPI
	FeaturePatternBasedRegistration
	FeatureSharedRegistration
	FeatureShardedRegistration
	FeatureRegistrationRevocation
	FeatureSubscriberBlackwhiteListing
	FeaturePublisherExclusion
	FeaturePublisherIdentification
	FeaturePublicationTrustlevels
	FeatureSubscriptionMetaAPI
	FeaturePatternBasedSubscription
	FeatureShardedSubscription
	FeatureEventHistory
	FeatureEventRetention
	FeatureSubscriptionRevocation
	FeatureSessionMetaAPI
	FeatureTestamentMetaAPI
	FeaturePayloadPassthruMode
	FeatureCallReroute
	NumFeatures = iota
)

// FeatureNames maps a feature's bit index to its wire name.
var FeatureNames = [NumFeatures]string{
	"progressive_call_results", "progressive_call_invocations", "call_timeout",
	"call_canceling", "caller_identification", "call_trustlevels",
	"registration_meta_api", "pattern_based_registration", "shared_registration",
	"sharded_registration", "registration_revocation", "subscriber_blackwhite_listing",
	"publisher_exclusion", "publisher_identification", "publication_trustlevels",
	"subscription_meta_api", "pattern_based_subscription", "sharded_subscription",
	"event_history", "event_retention", "subscription_revocation", "session_meta_api",
	"testament_meta_api", "payload_passthru_mode", "call_reroute",
}

// LookupFeature returns the feature named name. "call_cancelling", a
// spelling found in the spec and in clients, is accepted for call_canceling.
func LookupFeature(name []byte) (Feature, bool) {
	if string(name) == "call_cancelling" {
		return FeatureCallCanceling, true
	}
	for i, n := range FeatureNames {
		if string(name) == n {
			return 1 << i, true
		}
	}
	return 0, false
}

// Count returns the number of features in f.
func (f Feature) Count() int {
	n := 0
	for ; f != 0; f &= f - 1 {
		n++
	}
	return n
}

// Count returns the number of roles in r.
func (r Role) Count() int {
	n := 0
	for ; r != 0; r &= r - 1 {
		n++
	}
	return n
}
