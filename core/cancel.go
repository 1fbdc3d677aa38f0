package core

import (
	"sync"

	"github.com/zwamp/zwamp/codec"
)

// WAMP error URIs of the advanced RPC features.
const (
	ErrTimeout             = "wamp.error.timeout"
	ErrFeatureNotSupported = "wamp.error.feature_not_supported"
	ErrUnavailable         = "wamp.error.unavailable"
	ErrNoAvailableCallee   = "wamp.error.no_available_callee"
)

// defaultCancelMode applies to a CANCEL without a mode (the spec names
// none). killnowait answers the caller at once, whatever the callee does,
// and still tells a callee that supports canceling to stop.
const defaultCancelMode = codec.ModeKillNoWait

// handleCancel implements CANCEL (rpc_call_canceling.md). The mode is the
// caller's, downgraded to skip when the callee did not announce
// call_canceling:
//   - skip: ERROR wamp.error.canceled to the caller now; the callee's answer
//     is discarded when it comes.
//   - kill: INTERRUPT {mode: kill} to the callee; its answer (RESULT or,
//     usually, ERROR) ends the call for the caller.
//   - killnowait: ERROR to the caller now and INTERRUPT {mode: killnowait}
//     to the callee, whose answer, if any, is discarded.
//
// A CANCEL for a call that is not pending (unknown, already answered) is
// ignored: the caller has its answer or is about to get it.
func (s *Session) handleCancel(b *Batch, m *codec.Message) {
	mode := defaultCancelMode
	if m.Details.Has(codec.KeyMode) {
		mode = m.Details.Mode
		if mode == codec.ModeInvalid {
			s.violation(b, "CANCEL with unknown mode "+quote(m.Details.Str[codec.KeyMode]))
			return
		}
	}
	s.mu.Lock()
	inv := s.calls[m.Request]
	if inv == nil {
		s.mu.Unlock()
		return
	}
	callee, id := inv.callee, inv.id.Load()
	if id == 0 || callee.features[roleCallee]&codec.FeatureCallCanceling == 0 {
		mode = codec.ModeSkip
	}
	if mode == codec.ModeKill {
		if inv.canceled {
			s.mu.Unlock()
			return // already interrupted
		}
		inv.canceled = true
		s.mu.Unlock()
		callee.interrupt(b, inv, id, codec.ModeKill)
		return
	}
	delete(s.calls, m.Request)
	start := inv.start // read while the record is s's: the callee may release it now
	s.mu.Unlock()
	b.callStart = start
	s.replyErrorArgs(b, codec.CALL, m.Request, ErrCanceled, canceledArgs.get(s.format))
	b.callStart = 0
	if mode == codec.ModeKillNoWait {
		callee.interruptNoWait(b, inv, id)
	}
}

// interrupt sends INTERRUPT for invocation id to s if inv is still pending
// there; inv stays in s's table (mode kill: the callee answers).
func (s *Session) interrupt(b *Batch, inv *invocation, id uint64, mode codec.CancelMode) {
	s.mu.Lock()
	if s.invs[id] == inv {
		s.sendInterrupt(b, id, mode)
	}
	s.mu.Unlock()
}

// interruptNoWait takes inv out of callee s's table, if it is still there,
// sends INTERRUPT {mode: killnowait} and releases the record: the callee
// owes no answer and a late one is discarded. The caller's table must no
// longer hold inv. If the callee already answered, its goroutine owns the
// record and nothing is done.
func (s *Session) interruptNoWait(b *Batch, inv *invocation, id uint64) {
	s.mu.Lock()
	if s.invs[id] != inv {
		s.mu.Unlock()
		return
	}
	delete(s.invs, id)
	s.sendInterrupt(b, id, codec.ModeKillNoWait)
	s.mu.Unlock()
	s.realm.router.release(inv)
}

// sendInterrupt sends [INTERRUPT, id, {mode}]; s.mu is held so it is
// ordered after the INVOCATION it interrupts.
func (s *Session) sendInterrupt(b *Batch, id uint64, mode codec.CancelMode) {
	out := &b.out
	out.Reset()
	out.Type = codec.INTERRUPT
	out.Request = id
	out.Details.Mode = mode
	out.Details.Mark(codec.KeyMode)
	_ = s.send(b, out)
}

// expireCalls fails calls whose timeout passed (rpc_call_timeout.md,
// dealer-initiated timeouts): ERROR wamp.error.timeout to the caller, and
// the callee is interrupted as for killnowait when it supports canceling,
// skipped otherwise. It runs on the timer goroutine, outside any poller:
// like Router.Shutdown it sends through its own Batch, and like the dealer
// on a poller it takes one Session.mu at a time; it needs no Conn.mu, as it
// changes no connection state (Transport.Send is safe from any goroutine).
func (r *Router) expireCalls(due []timerEntry) {
	b := AcquireBatch()
	for i, e := range due {
		caller := e.caller
		caller.mu.Lock()
		inv := caller.calls[e.req]
		if inv != e.inv {
			caller.mu.Unlock()
			continue // answered, canceled, or the caller left
		}
		delete(caller.calls, e.req)
		callee, id, start := inv.callee, inv.id.Load(), inv.start
		caller.mu.Unlock()
		b.callStart = start
		caller.replyErrorArgs(b, codec.CALL, e.req, ErrTimeout, timeoutArgs.get(caller.format))
		b.callStart = 0
		if id != 0 && callee.features[roleCallee]&codec.FeatureCallCanceling != 0 {
			callee.interruptNoWait(b, inv, id)
		}
		if i%64 == 63 {
			b.Flush()
		}
	}
	b.Release()
}

// fixedArgs is an ERROR's Arguments for a message that never changes,
// encoded once per serializer, so that the replies a caller may trigger
// at a high rate (a CANCEL, a timeout) allocate nothing.
type fixedArgs struct {
	msg  string
	once sync.Once
	raw  [codec.NumFormats]codec.Raw
}

var (
	canceledArgs = &fixedArgs{msg: "canceled by the caller"}
	timeoutArgs  = &fixedArgs{msg: "the call timed out"}
)

func (a *fixedArgs) get(f codec.Format) codec.Raw {
	a.once.Do(func() {
		for g := codec.Format(1); g < codec.NumFormats; g++ {
			if codec.ByFormat(g) != nil {
				a.raw[g], _ = codec.EncodeGo(g, []any{a.msg})
			}
		}
	})
	return a.raw[f]
}

// replyErrorArgs is replyError with Arguments already encoded.
func (s *Session) replyErrorArgs(b *Batch, reqType codec.Type, req uint64, uri string, args codec.Raw) {
	s.realm.router.stats.errors.Add(1)
	out := &b.out
	out.Reset()
	out.Type = codec.ERROR
	out.ErrorType = reqType
	out.Request = req
	out.URI = unsafeBytes(uri)
	out.Args = args
	_ = s.send(b, out)
}
