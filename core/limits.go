package core

import (
	"strconv"

	"github.com/zwamp/zwamp/codec"
)

// ErrLimitExceeded is the ERROR (or, for a HELLO, ABORT) URI of a request
// refused because it would take a session or realm over one of its
// configured Limits. The WAMP spec defines no URI for this; the request is
// refused, nothing else changes, and the session stays usable. The error's
// single argument says which limit and its value.
const ErrLimitExceeded = "zwamp.error.limit_exceeded"

// Limits bound what one session or realm may hold, so that memory stays
// bounded whoever connects. A zero field takes its default, which no
// normal application reaches; a negative one turns the limit off. Each
// check is a compare on a length the router keeps anyway.
type Limits struct {
	// SubscriptionsPerSession bounds one session's subscriptions (SUBSCRIBE
	// beyond it: ERROR, also for a topic the session already subscribes
	// to: the check comes before the lookup). Default 10000.
	SubscriptionsPerSession int
	// RegistrationsPerSession bounds one session's registrations (REGISTER
	// beyond it: ERROR). Default 10000.
	RegistrationsPerSession int
	// CallsPerSession bounds the calls one caller has outstanding (CALL
	// beyond it: ERROR). Default 10000.
	CallsPerSession int
	// InvocationsPerSession bounds the invocations one callee has
	// outstanding: a CALL that would send it one more is answered with an
	// ERROR instead of queueing behind the others. Default 10000.
	InvocationsPerSession int
	// ProgressiveChunks bounds the chunks of one progressive call
	// invocation (CALL with options.progress=true) that the router holds
	// for the callee at once. The dealer holds none today: continueCall
	// forwards each chunk as it arrives, so chunks in flight toward a slow
	// callee are bounded by its transport's pending-output limit and
	// slow-consumer policy, and this limit is not consulted. It is where a
	// dealer that buffers chunks (for a callee not ready yet, or for
	// re-routing a progressive call) must bound them, answering ERROR
	// ErrLimitExceeded counted as LimitStats.ProgressiveChunks.
	// Default 1000.
	ProgressiveChunks int
	// SessionsPerRealm bounds the sessions joined to one realm (HELLO
	// beyond it: ABORT). Default 100000.
	SessionsPerRealm int
}

// Defaults for Limits.
const (
	DefaultSubscriptionsPerSession = 10000
	DefaultRegistrationsPerSession = 10000
	DefaultCallsPerSession         = 10000
	DefaultInvocationsPerSession   = 10000
	DefaultProgressiveChunks       = 1000
	DefaultSessionsPerRealm        = 100000
)

// unlimited stands for a limit that is off: no length reaches it.
const unlimited = int(^uint(0) >> 1)

func limitOrDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return unlimited
	}
	return v
}

// resolved returns l with defaults applied and negative values turned into
// "no limit".
func (l Limits) resolved() Limits {
	return Limits{
		SubscriptionsPerSession: limitOrDefault(l.SubscriptionsPerSession, DefaultSubscriptionsPerSession),
		RegistrationsPerSession: limitOrDefault(l.RegistrationsPerSession, DefaultRegistrationsPerSession),
		CallsPerSession:         limitOrDefault(l.CallsPerSession, DefaultCallsPerSession),
		InvocationsPerSession:   limitOrDefault(l.InvocationsPerSession, DefaultInvocationsPerSession),
		ProgressiveChunks:       limitOrDefault(l.ProgressiveChunks, DefaultProgressiveChunks),
		SessionsPerRealm:        limitOrDefault(l.SessionsPerRealm, DefaultSessionsPerRealm),
	}
}

// LimitStats counts requests refused by each limit.
type LimitStats struct {
	Subscriptions, Registrations, Calls, Invocations, ProgressiveChunks, Sessions int64
}

type limitCounters struct {
	subscriptions, registrations, calls, invocations, progressiveChunks, sessions counter
}

func (c *limitCounters) load() LimitStats {
	return LimitStats{
		Subscriptions: c.subscriptions.Load(), Registrations: c.registrations.Load(),
		Calls: c.calls.Load(), Invocations: c.invocations.Load(),
		ProgressiveChunks: c.progressiveChunks.Load(), Sessions: c.sessions.Load(),
	}
}

// refuseLimit answers a request that would exceed a limit: it counts the
// refusal in n and sends ERROR ErrLimitExceeded naming the limit (what)
// and its configured value. Off the hot path: it runs only on refusal.
func (s *Session) refuseLimit(b *Batch, n *counter, reqType codec.Type, req uint64, what string, limit int) {
	n.Add(1)
	s.replyError(b, reqType, req, ErrLimitExceeded, limitMessage(what, limit))
}

func limitMessage(what string, limit int) string {
	return what + " limit reached (" + strconv.Itoa(limit) + ")"
}
