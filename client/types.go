package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EventHandler receives the events of a subscription. Handlers of one
// Client run one at a time, on the Client's event goroutine, in the order
// the router delivered the events. The Event is shared by every handler of
// the same router-side subscription and must be treated as read-only.
type EventHandler func(ev *Event)

// InvocationHandler answers one invocation of a registered procedure. It
// runs in a goroutine of its own; ctx is cancelled when the router
// interrupts the call (call canceling) or the session ends. Returning an
// *Error sends that error to the caller; any other error is sent as
// wamp.error.runtime_error with the error's text as the only argument, and
// so is a panic. A nil *Result yields an empty result.
type InvocationHandler func(ctx context.Context, inv *Invocation) (*Result, error)

// Event is one EVENT received for a subscription.
type Event struct {
	// Subscription is the router's subscription id.
	Subscription uint64
	// Publication is the router's publication id.
	Publication uint64
	// Topic is the topic the event was published to: the router's
	// Details.topic for pattern subscriptions, otherwise the subscribed URI.
	Topic string
	// Details is EVENT.Details; nil when the router sent an empty dict.
	Details map[string]any
	// Args and Kwargs are the event's payload; nil when absent.
	Args   []any
	Kwargs map[string]any
	// Publisher is the publisher's session id when it disclosed itself
	// (PublishOptions.DiscloseMe), else 0.
	Publisher uint64
}

// Invocation is one INVOCATION of a registered procedure.
type Invocation struct {
	// Request is the router's INVOCATION request id.
	Request uint64
	// Registration is the router's registration id.
	Registration uint64
	// Procedure is the procedure called: the router's Details.procedure
	// for pattern registrations, otherwise the registered URI.
	Procedure string
	// Details is INVOCATION.Details; nil when the router sent an empty dict.
	Details map[string]any
	// Args and Kwargs are the call's payload; nil when absent.
	Args   []any
	Kwargs map[string]any
	// Caller is the caller's session id when it disclosed itself
	// (CallOptions.DiscloseMe), else 0.
	Caller uint64
	// Progress sends a progressive result to the caller. It is nil unless
	// the caller asked for progressive results (the router then sets
	// Details.receive_progress). It may be called from any goroutine until
	// the handler returns; afterwards it returns ErrInvocationDone.
	Progress func(args []any, kwargs map[string]any) error
}

// Result is the outcome of a call (or one progressive part of it), and what
// an InvocationHandler returns.
type Result struct {
	Args    []any
	Kwargs  map[string]any
	Details map[string]any
}

// Error is a WAMP error: an ERROR answering a request, an ABORT, or the
// reason of a GOODBYE the router sent to end the session. Every error the
// router reports surfaces as an *Error (use errors.As); an InvocationHandler
// returns one to send a specific error URI to the caller.
type Error struct {
	// URI is the error or close reason, e.g. "wamp.error.no_such_procedure".
	URI string
	// Args and Kwargs are the error's payload; nil when absent.
	Args   []any
	Kwargs map[string]any
	// Details is ERROR.Details (or ABORT/GOODBYE.Details); nil when empty.
	Details map[string]any
}

// Error returns the URI, followed by the first argument or the "message"
// detail when they are strings, since that is where routers put the
// human-readable text.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.URI)
	if len(e.Args) > 0 {
		if s, ok := e.Args[0].(string); ok {
			b.WriteString(": ")
			b.WriteString(s)
			return b.String()
		}
		fmt.Fprintf(&b, ": %v", e.Args)
		return b.String()
	}
	if s, ok := e.Details["message"].(string); ok && s != "" {
		b.WriteString(": ")
		b.WriteString(s)
	}
	return b.String()
}

// PublishOptions are the options of a PUBLISH.
type PublishOptions struct {
	// Acknowledge asks the router to confirm the publication; Publish then
	// waits for the answer (bounded by Config.RequestTimeout) and returns
	// the router's error, if any.
	Acknowledge bool
	// ExcludeMe, when set, overrides the router's default (true) of not
	// delivering the event to the publishing session itself.
	ExcludeMe *bool
	// Exclude and Eligible black- and whitelist subscriber session ids.
	Exclude, Eligible []uint64
	// The authid and authrole black- and whitelists.
	ExcludeAuthID, ExcludeAuthRole, EligibleAuthID, EligibleAuthRole []string
	// DiscloseMe asks the router to tell subscribers who published.
	DiscloseMe bool
	// Retain asks the router to keep the event as the topic's retained
	// event (pubsub_event_retention.md).
	Retain bool
}

// SubscribeOptions are the options of a SUBSCRIBE.
type SubscribeOptions struct {
	// Match is the match policy: "" or "exact", "prefix", "wildcard".
	Match string
	// GetRetained asks for the topic's retained event, if any, right
	// after the subscription is confirmed.
	GetRetained bool
}

// RegisterOptions are the options of a REGISTER.
type RegisterOptions struct {
	// Match is the match policy: "" or "exact", "prefix", "wildcard".
	Match string
	// Invoke is the shared-registration policy: "" or "single",
	// "roundrobin", "random", "first", "last".
	Invoke string
}

// CallOptions are the options of a CALL.
type CallOptions struct {
	// Timeout, when positive, is sent as CALL.Options.timeout (in
	// milliseconds, for dealers that implement call timeouts) and also
	// bounds the wait locally: Call returns context.DeadlineExceeded when
	// it passes.
	Timeout time.Duration
	// DiscloseMe asks the router to tell the callee who called.
	DiscloseMe bool
	// OnProgress, when set, asks for progressive results and receives
	// each of them, in order, on the goroutine that called Call, before
	// Call returns the final result.
	OnProgress func(*Result)
}

// Errors of the client itself (not sent by the router).
var (
	// ErrClosed is returned for requests made after Close, and by requests
	// still pending when Close ended the session.
	ErrClosed = errors.New("client: session closed")
	// ErrTimeout is wrapped by the error of a request that got no answer
	// within Config.RequestTimeout.
	ErrTimeout = errors.New("client: request timed out")
	// ErrInvocationDone is returned by Invocation.Progress once the handler
	// has returned.
	ErrInvocationDone = errors.New("client: invocation already answered")
	// ErrMessageTooLong is wrapped by a Transport's Send error when the
	// message exceeds what the peer accepts; the session stays usable.
	ErrMessageTooLong = errors.New("client: message longer than the router accepts")
)

// WAMP URIs the client sends or tests for.
const (
	uriRuntimeError       = "wamp.error.runtime_error"
	uriCanceled           = "wamp.error.canceled"
	uriNoSuchRegistration = "wamp.error.no_such_registration"
	uriProtocolViolation  = "wamp.error.protocol_violation"
	uriCannotAuthenticate = "wamp.error.cannot_authenticate"
	uriCloseRealm         = "wamp.close.close_realm"
	uriGoodbyeAndOut      = "wamp.close.goodbye_and_out"
)
