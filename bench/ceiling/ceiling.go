package ceiling

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// Message type codes the ceiling reads or writes.
const (
	tHello       = 1
	tWelcome     = 2
	tGoodbye     = 6
	tPublish     = 16
	tSubscribe   = 32
	tSubscribed  = 33
	tUnsubscribe = 34
	tUnsubbed    = 35
	tEvent       = 36
	tCall        = 48
	tResult      = 50
	tRegister    = 64
	tRegistered  = 65
)

const (
	fmtJSON    = 0
	fmtMsgPack = 1
)

// Server is a running ceiling server.
type Server struct {
	engine *nbhttp.Engine
	ln     net.Listener
	lnMu   sync.Mutex

	mu   sync.Mutex                           // serialises subscriber list updates
	subs [2]atomic.Pointer[[]*websocket.Conn] // per serializer; readers never see an element change

	sessions atomic.Uint64
	pubs     atomic.Uint64

	// Counters, for tests and the exit line.
	Received  atomic.Int64 // WebSocket messages handled
	Delivered atomic.Int64 // EVENTs written
	bufs      sync.Pool
}

// Config configures a ceiling server.
type Config struct {
	// Addr is the listen address (host:port; port 0 picks one).
	Addr string
	// Pollers is the number of nbio event loops; 0 means nbio's default
	// (GOMAXPROCS).
	Pollers int
}

// New creates a ceiling server; Start listens.
func New(cfg Config) *Server {
	s := &Server{}
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	for i := range s.subs {
		s.subs[i].Store(&[]*websocket.Conn{})
	}
	u := websocket.NewUpgrader()
	u.Subprotocols = []string{"wamp.2.json", "wamp.2.msgpack"}
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.KeepaliveTime = 0
	u.OnMessage(s.onMessage)
	u.OnClose(func(c *websocket.Conn, _ error) { s.unsubscribe(c) })
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := u.Upgrade(w, r, nil); err != nil {
			return // the upgrader has answered with an HTTP error
		}
	})
	logging.SetLevel(logging.LevelNone)
	s.engine = nbhttp.NewEngine(nbhttp.Config{
		Name:                    "zwamp-ceiling",
		Network:                 "tcp",
		Addrs:                   []string{cfg.Addr},
		NPoller:                 cfg.Pollers,
		Handler:                 mux,
		ReleaseWebsocketPayload: true,
		ReadBufferSize:          64 << 10,
		// Run handlers on the poller, as zwamp does, instead of nbio's
		// default goroutine pool.
		ServerExecutor: func(f func()) { f() },
		Listen: func(network, addr string) (net.Listener, error) {
			ln, err := net.Listen(network, addr)
			if err == nil {
				s.lnMu.Lock()
				s.ln = ln
				s.lnMu.Unlock()
			}
			return ln, err
		},
	})
	return s
}

// Start listens and serves.
func (s *Server) Start() error {
	if err := s.engine.Start(); err != nil {
		return fmt.Errorf("ceiling: start: %w", err)
	}
	return nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop closes the listener and every connection.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.engine.Shutdown(ctx)
}

func format(c *websocket.Conn) int {
	if c.Subprotocol() == "wamp.2.msgpack" {
		return fmtMsgPack
	}
	return fmtJSON
}

func (s *Server) onMessage(c *websocket.Conn, mt websocket.MessageType, data []byte) {
	s.Received.Add(1)
	f := format(c)
	typ, n, rest, ok := head(f, data)
	if !ok {
		return
	}
	bp := s.bufs.Get().(*[]byte)
	out := (*bp)[:0]
	defer func() { *bp = out[:0]; s.bufs.Put(bp) }()

	switch typ {
	case tHello:
		out = welcome(out, f, s.sessions.Add(1))
		_ = c.WriteMessage(mt, out)
	case tGoodbye:
		out = goodbye(out, f)
		_ = c.WriteMessage(mt, out)
		_ = c.Close()
	case tSubscribe, tRegister, tUnsubscribe:
		req, _, ok := requestID(f, rest)
		if !ok {
			return
		}
		out = ack(out, f, typ, req)
		switch typ {
		case tSubscribe:
			s.subscribe(c, f)
		case tUnsubscribe:
			s.unsubscribe(c)
		}
		_ = c.WriteMessage(mt, out)
	case tPublish, tCall:
		// [TYPE, Request, Options, URI, Arguments?, ArgumentsKw?]
		req, after, ok := requestID(f, rest)
		if !ok {
			return
		}
		payload, ok := skipTwo(f, after) // Options and URI
		if !ok {
			return
		}
		if typ == tCall {
			out = result(out, f, n, req, payload)
			_ = c.WriteMessage(mt, out)
			return
		}
		out = event(out, f, n, s.pubs.Add(1), payload)
		for _, sc := range *s.subs[f].Load() {
			if sc.WriteMessage(mt, out) == nil {
				s.Delivered.Add(1)
			}
		}
	}
}

// subscribe adds c to the subscriber list of its serializer f, once. The
// list grows in place, into spare capacity that no publisher's snapshot
// covers, so that a subscription costs O(1) amortised rather than a copy of
// the list (with thousands of subscribers, that copy cost more than the
// rest of a session's setup). The connection's session slot, unused
// otherwise, marks it subscribed.
func (s *Server) subscribe(c *websocket.Conn, f int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Session() != nil {
		return
	}
	c.SetSession(subscribed{})
	list := append(*s.subs[f].Load(), c)
	s.subs[f].Store(&list)
}

// unsubscribe removes c from its subscriber list, with a copy: publishers
// may be walking the old one.
func (s *Server) unsubscribe(c *websocket.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Session() == nil {
		return
	}
	c.SetSession(nil)
	f := format(c)
	old := *s.subs[f].Load()
	for i, x := range old {
		if x == c {
			list := make([]*websocket.Conn, 0, len(old)-1)
			list = append(list, old[:i]...)
			list = append(list, old[i+1:]...)
			s.subs[f].Store(&list)
			return
		}
	}
}

// subscribed is the session of a subscribed connection.
type subscribed struct{}

// goodbye appends [GOODBYE, {}, "wamp.close.goodbye_and_out"].
func goodbye(out []byte, f int) []byte {
	if f == fmtJSON {
		return append(out, `[6,{},"wamp.close.goodbye_and_out"]`...)
	}
	out = append(out, 0x93, tGoodbye, 0x80, 0xba)
	return append(out, "wamp.close.goodbye_and_out"...)
}

// ack appends the answer to a SUBSCRIBE, REGISTER or UNSUBSCRIBE (typ)
// with request id req (its encoded bytes): [SUBSCRIBED|REGISTERED, req, 1]
// or [UNSUBSCRIBED, req].
func ack(out []byte, f, typ int, req []byte) []byte {
	reply := tSubscribed
	switch typ {
	case tRegister:
		reply = tRegistered
	case tUnsubscribe:
		reply = tUnsubbed
	}
	if f == fmtJSON {
		out = append(out, '[')
		out = strconv.AppendInt(out, int64(reply), 10)
		out = append(out, ',')
		out = append(out, req...)
		if reply == tUnsubbed {
			return append(out, ']')
		}
		return append(out, ",1]"...)
	}
	if reply == tUnsubbed {
		out = append(out, 0x92, byte(reply))
		return append(out, req...)
	}
	out = append(out, 0x93, byte(reply))
	out = append(out, req...)
	return append(out, 1)
}

// welcome appends [WELCOME, session, {"roles": {"broker": {}, "dealer": {}}}].
func welcome(out []byte, f int, session uint64) []byte {
	if f == fmtJSON {
		out = append(out, "[2,"...)
		out = strconv.AppendUint(out, session, 10)
		return append(out, `,{"roles":{"broker":{},"dealer":{}}}]`...)
	}
	out = append(out, 0x93, tWelcome)
	out = appendMsgpackUint(out, session)
	out = append(out, 0x81, 0xa5)
	out = append(out, "roles"...)
	out = append(out, 0x82, 0xa6)
	out = append(out, "broker"...)
	out = append(out, 0x80, 0xa6)
	out = append(out, "dealer"...)
	return append(out, 0x80)
}

// event appends [EVENT, 1, publication, {}, payload...]; payload is what
// followed the PUBLISH's topic (JSON: from the byte after the topic, so
// `,[args]]` or `]`; MessagePack: the remaining elements).
func event(out []byte, f, n int, pub uint64, payload []byte) []byte {
	if f == fmtJSON {
		out = append(out, "[36,1,"...)
		out = strconv.AppendUint(out, pub, 10)
		out = append(out, ",{}"...)
		return append(out, payload...)
	}
	out = append(out, 0x90|byte(n), tEvent, 1)
	out = appendMsgpackUint(out, pub)
	out = append(out, 0x80)
	return append(out, payload...)
}

// result appends [RESULT, request, {}, payload...] (the CALL had n
// elements, the RESULT has one fewer: no procedure).
func result(out []byte, f, n int, req, payload []byte) []byte {
	if f == fmtJSON {
		out = append(out, "[50,"...)
		out = append(out, req...)
		out = append(out, ",{}"...)
		return append(out, payload...)
	}
	out = append(out, 0x90|byte(n-1), tResult)
	out = append(out, req...)
	out = append(out, 0x80)
	return append(out, payload...)
}

func appendMsgpackUint(out []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(out, byte(v))
	case v <= 0xFF:
		return append(out, 0xcc, byte(v))
	case v <= 0xFFFF:
		return append(out, 0xcd, byte(v>>8), byte(v))
	case v <= 0xFFFFFFFF:
		return append(out, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(out, 0xcf, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// Counts returns the WebSocket messages handled and the EVENTs written.
func (s *Server) Counts() (received, delivered int64) {
	return s.Received.Load(), s.Delivered.Load()
}
