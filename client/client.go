package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// Agent is the agent string announced in HELLO.Details.agent.
const Agent = "zwamp-client"

// DefaultRequestTimeout bounds joining, Subscribe, Register, acknowledged
// Publish, Unsubscribe, Unregister and Close when Config.RequestTimeout is 0.
const DefaultRequestTimeout = 10 * time.Second

// Config configures a Client.
type Config struct {
	// Realm is the realm to join.
	Realm string
	// Serializer is the serializer to speak; 0 means codec.JSON. The codec
	// package must be linked in (import codec/json, codec/msgpack,
	// codec/cbor); this package imports all three.
	Serializer codec.Format
	// AuthID is sent as HELLO.Details.authid when not empty.
	AuthID string
	// AuthMethods are offered in HELLO.Details.authmethods; none means
	// anonymous.
	AuthMethods []string
	// AuthExtra is sent as HELLO.Details.authextra when not nil.
	AuthExtra map[string]any
	// Authenticate answers a CHALLENGE (its method and extra) with the
	// AUTHENTICATE signature and extra: ticket, wampcra and cryptosign
	// plug in here. With nil, a CHALLENGE is refused (ABORT
	// wamp.error.cannot_authenticate).
	Authenticate func(method string, extra map[string]any) (signature string, ext map[string]any, err error)
	// RequestTimeout bounds joining, Subscribe, Register, acknowledged
	// Publish, Unsubscribe, Unregister and the wait for the router's
	// GOODBYE in Close; 0 means DefaultRequestTimeout. Calls are bounded by
	// their context and CallOptions.Timeout instead.
	RequestTimeout time.Duration
	// Logger receives the client's logs (handler panics, messages
	// dropped); nil means slog.Default().
	Logger *slog.Logger
	// TLSConfig is used by Connect for wss://, rss:// and tcps:// URLs;
	// nil means a default configuration with ServerName taken from the URL.
	TLSConfig *tls.Config
	// TLSHandshake, when set, is called by Connect with the state of the
	// TLS connection once its handshake is done and before HELLO: channel
	// binding (auth.SCRAMClient.Config sets it to read tls-unique or
	// tls-exporter) needs what this side of the connection sees.
	TLSHandshake func(tls.ConnectionState)
	// MaxMessageSize bounds the messages Connect's transports accept from
	// the router (and is announced in the RawSocket handshake); 0 means
	// 16 MiB.
	MaxMessageSize int
}

// Client is one WAMP session. Create it with Connect, ConnectLocal or New;
// all its methods are safe for concurrent use.
type Client struct {
	t       Transport
	f       codec.Format
	cd      codec.Codec
	log     *slog.Logger
	timeout time.Duration
	id      uint64
	details map[string]any
	dealer  codec.Feature // features the router announced for its dealer role
	broker  codec.Feature

	// ctx is cancelled when the session ends; invocation contexts derive
	// from it so that handlers learn that their answer is moot.
	ctx    context.Context
	cancel context.CancelFunc

	// wmu serialises request-id assignment, encoding into out/wbuf and
	// Transport.Send, so that ids reach the wire in the order assigned.
	wmu     sync.Mutex
	out     codec.Message
	wbuf    []byte
	lastReq uint64
	ended   atomic.Bool // mirrors mu-guarded state for lock-free fast checks

	mu   sync.Mutex
	err  error               // why the session ended; set once, before done closes
	reqs map[uint64]*request // pending requests by request id
	// gaveUp holds the request ids of SUBSCRIBEs and REGISTERs whose caller
	// timed out: if the router confirms one later, onAck undoes it rather
	// than leave a subscription or registration nobody owns.
	gaveUp map[uint64]codec.Type
	subs   map[uint64]*subEntry      // by router subscription id
	regs   map[uint64]*Registration  // by router registration id
	invs   map[uint64]*invocationRun // running invocations by INVOCATION request id

	// subMu keeps an Unsubscribe that removes the router-side subscription
	// from racing a Subscribe to the same topic, which the router would
	// answer with the id being removed.
	subMu sync.RWMutex

	events eventQueue

	// Owned by the reader goroutine (and by join, before it starts).
	in   codec.Message
	vb   codec.Builder
	rseq uint64 // messages received; orders handler installation against events

	closing     atomic.Bool
	goodbyeOnce sync.Once
	goodbye     chan struct{} // closed when the router answers our GOODBYE
	done        chan struct{}
	readerDone  chan struct{}
}

// request is a pending request: the goroutine that sent it waits on ch for
// the one final answer. Requests are pooled; one is recycled only by the
// goroutine that removed it from Client.reqs itself or received from ch,
// because nobody else can reach it then.
type request struct {
	typ codec.Type    // the request's message type, matched against ERROR.REQUEST.Type
	ch  chan reply    // capacity 1: the final answer
	sub *Subscription // SUBSCRIBE: installed by the reader on SUBSCRIBED
	reg *Registration // REGISTER: installed by the reader on REGISTERED

	// Progressive results of a CALL, queued by the reader and handed to
	// OnProgress by the caller's goroutine.
	progress bool
	notify   chan struct{} // capacity 1
	mu       sync.Mutex
	queue    []*Result
}

type reply struct {
	id  uint64 // PUBLISHED.Publication, SUBSCRIBED.Subscription, REGISTERED.Registration
	res *Result
	err error
}

var requestPool = sync.Pool{New: func() any {
	return &request{ch: make(chan reply, 1), notify: make(chan struct{}, 1)}
}}

func newRequest(t codec.Type) *request {
	r := requestPool.Get().(*request)
	r.typ = t
	return r
}

func (r *request) free() {
	r.sub, r.reg = nil, nil
	r.progress = false
	for i := range r.queue {
		r.queue[i] = nil
	}
	r.queue = r.queue[:0]
	select {
	case <-r.notify:
	default:
	}
	requestPool.Put(r)
}

// ackOf is the request type each acknowledgement answers.
var ackOf = [codec.UNREGISTERED + 1]codec.Type{
	codec.PUBLISHED:    codec.PUBLISH,
	codec.SUBSCRIBED:   codec.SUBSCRIBE,
	codec.UNSUBSCRIBED: codec.UNSUBSCRIBE,
	codec.REGISTERED:   codec.REGISTER,
	codec.UNREGISTERED: codec.UNREGISTER,
}

// New joins cfg.Realm over t: HELLO, then WELCOME (answering any CHALLENGE
// with Config.Authenticate), bounded by Config.RequestTimeout. An ABORT is
// returned as an *Error. On failure New closes t.
func New(t Transport, cfg Config) (*Client, error) {
	return newClient(context.Background(), t, cfg)
}

// serializer returns the codec cfg names, after setting the default
// Serializer (JSON) in cfg.
func serializer(cfg *Config) (codec.Codec, error) {
	if cfg.Serializer == 0 {
		cfg.Serializer = codec.JSON
	}
	cd := codec.ByFormat(cfg.Serializer)
	if cd == nil {
		return nil, fmt.Errorf("serializer %v is not available", cfg.Serializer)
	}
	return cd, nil
}

func newClient(ctx context.Context, t Transport, cfg Config) (*Client, error) {
	cd, err := serializer(&cfg)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{
		t:          t,
		f:          cfg.Serializer,
		cd:         cd,
		log:        cfg.Logger,
		timeout:    cfg.RequestTimeout,
		reqs:       make(map[uint64]*request),
		gaveUp:     make(map[uint64]codec.Type),
		subs:       make(map[uint64]*subEntry),
		regs:       make(map[uint64]*Registration),
		invs:       make(map[uint64]*invocationRun),
		goodbye:    make(chan struct{}),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRequestTimeout
	}
	c.events.wake = make(chan struct{}, 1)

	c.ctx, c.cancel = context.WithCancel(context.Background())

	// A blocked Recv only returns when the transport closes, so the join's
	// deadline and ctx are enforced by closing it.
	var expired atomic.Bool
	timer := time.AfterFunc(c.timeout, func() { expired.Store(true); t.Close() })
	stop := context.AfterFunc(ctx, func() { t.Close() })
	err = c.join(&cfg)
	timer.Stop()
	switch {
	case !stop():
		err = fmt.Errorf("client: join %q: %w", cfg.Realm, ctx.Err())
	case expired.Load():
		err = fmt.Errorf("client: join %q: %w: no WELCOME within %v", cfg.Realm, ErrTimeout, c.timeout)
	}
	if err != nil {
		c.cancel()
		t.Close()
		return nil, err
	}
	go c.readLoop()
	go c.dispatchLoop()
	return c, nil
}

// ID returns the session id the router assigned.
func (c *Client) ID() uint64 { return c.id }

// Details returns WELCOME.Details as the router sent it (realm, roles,
// authid, authrole, ...). The map is shared; do not modify it.
func (c *Client) Details() map[string]any { return c.details }

// Done returns a channel that is closed when the session ends, for any
// reason: Close, a GOODBYE or ABORT from the router, or a transport failure.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended: an *Error for a GOODBYE or ABORT from
// the router (its reason as URI), the transport's error, or nil when the
// session ended by Close or has not ended.
func (c *Client) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the session: it sends GOODBYE, waits for the router's answer
// (bounded by Config.RequestTimeout), closes the transport and waits for the
// reader goroutine to stop. Pending requests fail with ErrClosed, running
// invocation handlers see their context cancelled, and events not yet
// handed to a handler are dropped. Close does not wait for handlers that are
// running (it may be called from one). It returns an error only when the
// GOODBYE could not be sent or was not answered in time; the session is
// over either way. Calling Close again, or after the session ended, returns
// nil.
func (c *Client) Close() error {
	if !c.closing.CompareAndSwap(false, true) {
		<-c.readerDone
		return nil
	}
	var err error
	if !c.ended.Load() {
		err = c.writeGoodbye(uriCloseRealm)
		if err != nil && c.ended.Load() {
			// The session ended on its own meanwhile (the router's GOODBYE
			// crossed ours, say): nothing left to close.
			err = nil
		} else if err == nil {
			t := time.NewTimer(c.timeout)
			select {
			case <-c.goodbye:
			case <-c.done:
			case <-t.C:
				err = fmt.Errorf("client: close: %w: no GOODBYE from the router within %v", ErrTimeout, c.timeout)
			}
			t.Stop()
		}
	}
	c.end(nil)
	c.t.Close()
	<-c.readerDone
	return err
}

// end finishes the session once: it records why, fails every pending
// request, cancels running invocations, stops the event goroutine and
// closes Done. A session ended by Close records no error.
func (c *Client) end(cause error) {
	c.mu.Lock()
	if c.ended.Load() {
		c.mu.Unlock()
		return
	}
	if c.closing.Load() {
		cause = nil
	}
	c.err = cause
	c.ended.Store(true)
	reqs := c.reqs
	c.reqs = make(map[uint64]*request)
	c.mu.Unlock()

	fail := cause
	if fail == nil {
		fail = ErrClosed
	}
	for _, r := range reqs {
		r.ch <- reply{err: fail}
	}
	c.cancel()
	c.events.close()
	close(c.done)
}

// endErr is the error for requests made after the session ended.
func (c *Client) endErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

// nextRequestID returns the session-scope id after id: 1, 2, ..., 2^53, 1, ...
func nextRequestID(id uint64) uint64 {
	if id >= codec.MaxID {
		return 1
	}
	return id + 1
}

// isRequest reports whether t carries a session-scope request id that the
// client assigns.
func isRequest(t codec.Type) bool {
	switch t {
	case codec.PUBLISH, codec.SUBSCRIBE, codec.UNSUBSCRIBE, codec.CALL, codec.REGISTER, codec.UNREGISTER:
		return true
	}
	return false
}

// write encodes the message build fills in and sends it. For request types
// it assigns the next request id, and when req is not nil records req as
// pending under that id before the message can reach the router (whose
// answer may come back before Send returns). It returns the id.
//
// An error means the message did not go out and req is not pending. A
// transport failure during Send closes the transport and is not returned
// for a pending req: the reader then ends the session, which fails req
// like every other pending request, after handing on whatever the router
// sent before (an ABORT explaining why, say).
func (c *Client) write(req *request, build func(m *codec.Message)) (uint64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended.Load() {
		return 0, c.endErr()
	}
	m := &c.out
	m.Reset()
	build(m)
	typ := m.Type
	var id uint64
	if isRequest(m.Type) {
		id = nextRequestID(c.lastReq)
		m.Request = id
	}
	out, err := c.cd.Append(c.wbuf[:0], m)
	// Drop the views into caller memory (payload buffers, strings).
	m.URI, m.Args, m.Kwargs, m.Dict = nil, codec.Raw{}, codec.Raw{}, codec.Raw{}
	if err != nil {
		return 0, fmt.Errorf("client: encode %v: %w", typ, err)
	}
	if cap(out) <= 1<<20 {
		c.wbuf = out
	}
	if req != nil {
		c.mu.Lock()
		if c.ended.Load() {
			c.mu.Unlock()
			return 0, c.endErr()
		}
		c.reqs[id] = req
		c.mu.Unlock()
	}
	err = c.t.Send(out)
	if err != nil && errors.Is(err, ErrMessageTooLong) {
		// Refused whole: the id is not spent and the session goes on.
		if req != nil && !c.forget(id, req) {
			// The session ended meanwhile and answered req; let the
			// caller collect that.
			return id, nil
		}
		return 0, err
	}
	// Once bytes may have reached the router the id is spent.
	if id != 0 {
		c.lastReq = id
	}
	if err == nil {
		return id, nil
	}
	c.t.Close()
	if req != nil {
		return id, nil
	}
	return 0, fmt.Errorf("client: send %v: %w", typ, err)
}

// forget removes req from the pending requests if it is still there and
// reports whether it was. When it was not, the reader (or end) has taken it
// and its answer is in req.ch or about to be.
func (c *Client) forget(id uint64, req *request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reqs[id] == req {
		delete(c.reqs, id)
		return true
	}
	return false
}

// giveUp is forget for a request whose caller stops waiting for it: a
// SUBSCRIBE or REGISTER may still succeed on the router, so its id is kept
// in gaveUp for onAck.
func (c *Client) giveUp(id uint64, req *request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reqs[id] != req {
		return false
	}
	delete(c.reqs, id)
	if req.sub != nil || req.reg != nil {
		c.gaveUp[id] = req.typ
	}
	return true
}

// await waits for the answer to req, bounded by the request timeout. op
// and uri name the request in a timeout error (built only then).
func (c *Client) await(id uint64, req *request, op, uri string) (reply, error) {
	t := timerPool.Get().(*time.Timer)
	t.Reset(c.timeout)
	defer func() {
		t.Stop()
		timerPool.Put(t)
	}()
	select {
	case r := <-req.ch:
		req.free()
		return r, r.err
	case <-t.C:
		if c.giveUp(id, req) {
			req.free()
			return reply{}, fmt.Errorf("client: %s %q: %w: no answer within %v", op, uri, ErrTimeout, c.timeout)
		}
		r := <-req.ch
		req.free()
		return r, r.err
	}
}

// request writes the request build fills in, with req pending, and waits
// for its answer like await. op and uri name the request in errors.
func (c *Client) request(req *request, op, uri string, build func(m *codec.Message)) (reply, error) {
	id, err := c.write(req, build)
	if err != nil {
		req.free()
		return reply{}, fmt.Errorf("client: %s %q: %w", op, uri, err)
	}
	return c.await(id, req, op, uri)
}

// timerPool holds stopped timers. Since Go 1.23 a stopped timer has no
// stale value in its channel, so Reset after Get is safe.
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

func (c *Client) writeGoodbye(reason string) error {
	_, err := c.write(nil, func(m *codec.Message) {
		m.Type = codec.GOODBYE
		m.URI = view(reason)
	})
	return err
}

// abort sends ABORT (best effort) and ends the session with cause.
func (c *Client) abort(reason, msg string, cause error) {
	c.sendAbort(reason, msg)
	c.end(cause)
	c.t.Close()
}
