package client

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/zwamp/zwamp/codec"
)

// Registration is a procedure registered by this client.
type Registration struct {
	c       *Client
	proc    string
	h       InvocationHandler
	id      uint64      // set by the reader before the Registration is published
	leaving atomic.Bool // an Unregister is under way or done
}

// ID returns the router's registration id.
func (r *Registration) ID() uint64 { return r.id }

// Procedure returns the registered procedure URI (or pattern).
func (r *Registration) Procedure() string { return r.proc }

// Register registers h for proc. It waits for the router's answer, bounded
// by Config.RequestTimeout; a refusal is returned as an *Error
// (wamp.error.procedure_already_exists, wamp.error.invalid_uri, ...).
// Invocations start flowing to h as soon as the router confirms. After
// ErrTimeout, a confirmation that still comes is undone with UNREGISTER.
func (c *Client) Register(proc string, h InvocationHandler, opts *RegisterOptions) (*Registration, error) {
	if h == nil {
		return nil, errors.New("client: Register with a nil handler")
	}
	var o RegisterOptions
	if opts != nil {
		o = *opts
	}
	reg := &Registration{c: c, proc: proc, h: h}
	req := newRequest(codec.REGISTER)
	req.reg = reg
	if _, err := c.request(req, "register", proc, func(m *codec.Message) {
		m.Type = codec.REGISTER
		m.URI = view(proc)
		setMatch(&m.Details, o.Match)
		if o.Invoke != "" && o.Invoke != "single" {
			m.Details.SetString(codec.KeyInvoke, view(o.Invoke))
		}
	}); err != nil {
		return nil, err
	}
	return reg, nil
}

// Unregister removes the registration and waits for the router's answer,
// bounded by Config.RequestTimeout. Invocations already running finish;
// none start once it returns. Unregistering after the session ended
// returns nil.
func (r *Registration) Unregister() error {
	c := r.c
	if !r.leaving.CompareAndSwap(false, true) {
		return nil
	}
	c.mu.Lock()
	mine := c.regs[r.id] == r
	c.mu.Unlock()
	if !mine || c.ended.Load() {
		return nil
	}
	if err := c.unregister(r.id, r.proc); err != nil && !c.ended.Load() {
		r.leaving.Store(false) // still registered: a later Unregister may retry
		return err
	}
	// Unregistered, or gone with the session.
	c.mu.Lock()
	if c.regs[r.id] == r {
		delete(c.regs, r.id)
	}
	c.mu.Unlock()
	return nil
}

// unregister removes router registration id (for proc, named in errors)
// and waits for the answer.
func (c *Client) unregister(id uint64, proc string) error {
	_, err := c.request(newRequest(codec.UNREGISTER), "unregister", proc, func(m *codec.Message) {
		m.Type = codec.UNREGISTER
		m.ID = id
	})
	return err
}

// Call calls proc and waits for its result. A WAMP error (from the callee
// or the router) is returned as an *Error. When ctx is done first, Call
// returns ctx.Err() at once: if the router announced call canceling it is
// sent a CANCEL (mode killnowait), otherwise the call is forgotten and a
// late result dropped.
func (c *Client) Call(ctx context.Context, proc string, args []any, kwargs map[string]any, opts *CallOptions) (*Result, error) {
	var o CallOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := encodePayload(c.f, args, kwargs)
	if err != nil {
		return nil, fmt.Errorf("client: call %q: %w", proc, err)
	}
	req := newRequest(codec.CALL)
	req.progress = o.OnProgress != nil
	id, err := c.write(req, func(m *codec.Message) {
		m.Type = codec.CALL
		m.URI = view(proc)
		p.set(m)
		d := &m.Details
		if req.progress {
			d.SetBool(codec.KeyReceiveProgress, true)
		}
		if o.Timeout > 0 {
			ms := uint64(o.Timeout.Milliseconds())
			if ms == 0 {
				ms = 1
			}
			d.SetUint(codec.KeyTimeout, ms)
		}
		if o.DiscloseMe {
			d.SetBool(codec.KeyDiscloseMe, true)
		}
	})
	p.release()
	if err != nil {
		req.free()
		return nil, fmt.Errorf("client: call %q: %w", proc, err)
	}
	for {
		select {
		case r := <-req.ch:
			if req.progress {
				deliverProgress(req, o.OnProgress)
			}
			req.free()
			return r.res, r.err
		case <-req.notify:
			deliverProgress(req, o.OnProgress)
		case <-ctx.Done():
			if !c.forget(id, req) {
				// Answered (or failed by the session's end) just now;
				// the answer is in req.ch, but the caller asked to stop
				// waiting. req is left to the garbage collector.
				return nil, ctx.Err()
			}
			req.free()
			if c.dealer&codec.FeatureCallCanceling != 0 {
				_, _ = c.write(nil, func(m *codec.Message) {
					m.Type = codec.CANCEL
					m.Request = id
					m.Details.Mode = codec.ModeKillNoWait
					m.Details.Mark(codec.KeyMode)
				})
			}
			return nil, ctx.Err()
		}
	}
}

// deliverProgress hands queued progressive results to fn, in order.
func deliverProgress(req *request, fn func(*Result)) {
	for {
		req.mu.Lock()
		if len(req.queue) == 0 {
			req.mu.Unlock()
			return
		}
		res := req.queue[0]
		req.queue[0] = nil
		req.queue = req.queue[1:]
		if len(req.queue) == 0 {
			req.queue = req.queue[:0:cap(req.queue)]
		}
		req.mu.Unlock()
		fn(res)
	}
}

// invocationRun is a running INVOCATION: the Invocation handed to the
// handler and what the client needs to interrupt and answer it, in one
// allocation.
type invocationRun struct {
	inv         Invocation
	reg         *Registration
	ctx         context.Context
	cancel      context.CancelFunc
	interrupted bool // guarded by Client.mu

	// mu orders progressive YIELDs before the final answer.
	mu   sync.Mutex
	done bool
}

// onInvocation starts the handler of an INVOCATION in its own goroutine.
func (c *Client) onInvocation(m *codec.Message) {
	run := &invocationRun{inv: Invocation{
		Request:      m.Request,
		Registration: m.ID,
		Details:      c.readDict(m.Dict),
		Caller:       m.Details.Caller,
	}}
	inv := &run.inv
	if m.Details.Has(codec.KeyProcedure) {
		inv.Procedure = string(m.Details.String(codec.KeyProcedure))
	}
	var err error
	inv.Args, inv.Kwargs, err = c.readPayload(m)
	progress := m.Details.ReceiveProgress

	c.mu.Lock()
	reg := c.regs[m.ID]
	if reg != nil && err == nil {
		run.reg = reg
		run.ctx, run.cancel = context.WithCancel(c.ctx)
		c.invs[m.Request] = run
	}
	c.mu.Unlock()

	switch {
	case reg == nil:
		c.sendInvocationError(m.Request, &Error{URI: uriNoSuchRegistration, Args: []any{"no registration with this id on this client"}})
		return
	case err != nil:
		c.sendInvocationError(m.Request, &Error{URI: "wamp.error.invalid_argument", Args: []any{"undecodable payload: " + err.Error()}})
		return
	}
	if inv.Procedure == "" {
		inv.Procedure = reg.proc
	}
	if progress {
		inv.Progress = run.progress(c)
	}
	go c.runInvocation(run)
}

// progress returns the Invocation.Progress function of run.
func (run *invocationRun) progress(c *Client) func(args []any, kwargs map[string]any) error {
	return func(args []any, kwargs map[string]any) error {
		return c.sendProgress(run, args, kwargs)
	}
}

// onInterrupt cancels the context of the invocation the router interrupts.
func (c *Client) onInterrupt(m *codec.Message) {
	c.mu.Lock()
	run := c.invs[m.Request]
	if run != nil {
		run.interrupted = true
	}
	c.mu.Unlock()
	if run != nil {
		run.cancel()
	}
}

func (c *Client) runInvocation(run *invocationRun) {
	inv := &run.inv
	res, err := c.callHandler(run.ctx, run.reg, inv)
	run.mu.Lock()
	run.done = true
	run.mu.Unlock()
	c.mu.Lock()
	delete(c.invs, inv.Request)
	interrupted := run.interrupted
	c.mu.Unlock()
	run.cancel()
	if c.ended.Load() {
		return
	}
	if err != nil {
		c.sendInvocationError(inv.Request, handlerError(err, interrupted))
		return
	}
	var p *payload
	if res != nil {
		if p, err = encodePayload(c.f, res.Args, res.Kwargs); err != nil {
			c.sendInvocationError(inv.Request, &Error{URI: uriRuntimeError, Args: []any{"cannot encode the result: " + err.Error()}})
			return
		}
	}
	_, err = c.write(nil, func(m *codec.Message) {
		m.Type = codec.YIELD
		m.Request = inv.Request
		p.set(m)
	})
	p.release()
	if err != nil && !c.ended.Load() {
		c.log.Warn("zwamp client: cannot send YIELD", "procedure", inv.Procedure, "error", err)
		c.sendInvocationError(inv.Request, &Error{URI: uriRuntimeError, Args: []any{err.Error()}})
	}
}

// callHandler runs the handler, turning a panic into an error.
func (c *Client) callHandler(ctx context.Context, reg *Registration, inv *Invocation) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("zwamp client: invocation handler panicked", "procedure", inv.Procedure, "panic", p, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("%v", p)
		}
	}()
	return reg.h(ctx, inv)
}

// handlerError maps a handler's error to the ERROR sent to the caller.
func handlerError(err error, interrupted bool) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if interrupted && errors.Is(err, context.Canceled) {
		return &Error{URI: uriCanceled, Args: []any{"the call was canceled"}}
	}
	return &Error{URI: uriRuntimeError, Args: []any{err.Error()}}
}

func (c *Client) sendProgress(run *invocationRun, args []any, kwargs map[string]any) error {
	p, err := encodePayload(c.f, args, kwargs)
	if err != nil {
		return fmt.Errorf("client: progress: %w", err)
	}
	defer p.release()
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.done {
		return ErrInvocationDone
	}
	_, err = c.write(nil, func(m *codec.Message) {
		m.Type = codec.YIELD
		m.Request = run.inv.Request
		m.Details.SetBool(codec.KeyProgress, true)
		p.set(m)
	})
	return err
}

func (c *Client) sendInvocationError(req uint64, e *Error) {
	p, err := encodePayload(c.f, e.Args, e.Kwargs)
	if err != nil {
		c.log.Warn("zwamp client: cannot encode the error payload; sending the URI alone", "error", err)
		p = nil
	}
	_, err = c.write(nil, func(m *codec.Message) {
		m.Type = codec.ERROR
		m.ErrorType = codec.INVOCATION
		m.Request = req
		m.URI = view(e.URI)
		p.set(m)
	})
	p.release()
	if err != nil && !c.ended.Load() {
		c.log.Warn("zwamp client: cannot send ERROR", "request", req, "error", err)
	}
}
