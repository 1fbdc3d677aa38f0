package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// Buffer sizes. Hot connections read in big chunks so that one syscall
// brings many messages; idle ones (conns mode, tens of thousands of them)
// keep a small buffer.
const (
	hotReadBuffer  = 256 << 10
	idleReadBuffer = 4 << 10
	maxMessage     = 16 << 20
)

// setupTimeout bounds every handshake and setup exchange (HELLO, SUBSCRIBE,
// REGISTER) so that a router that never answers cannot hang the tool.
const setupTimeout = 10 * time.Second

// clock gives the run's timestamps: monotonic nanoseconds since its epoch.
type clock struct{ epoch time.Time }

func (k *clock) now() int64 { return int64(time.Since(k.epoch)) }

// sink consumes the messages of a connection; msg is valid only during the
// call.
type sink interface {
	onMessage(c *conn, msg []byte) error
}

// conn is one client connection: a TCP socket, its WebSocket or RawSocket
// framing and a serializer. One goroutine reads it (and, except for
// publishers, also writes it); the hot path reuses every buffer.
type conn struct {
	nc  net.Conn
	t   *Target
	f   codec.Format
	cd  codec.Codec
	clk *clock

	op      ws.Opcode // text for JSON, binary otherwise
	peerMax int       // RawSocket: the router's receive limit
	wsd     ws.Decoder
	rsd     rawsocket.Decoder
	wsh     ws.Handler
	rsh     rawsocket.Handler

	rbuf []byte
	wbuf []byte // frames for the writing goroutine, flushed with one Write
	ctrl []byte // pong and close replies produced while reading
	msg  []byte // scratch for setup messages
	werr error  // sticky error from building a frame

	rng     uint64 // mask keys for wbuf frames (writing goroutine)
	key     [4]byte
	ctrlKey [4]byte // mask key for ctrl frames (reading goroutine)

	req     uint64 // last request id sent
	session uint64
	sink    sink
	queue   [][]byte // messages read during setup, not yet consumed
	m       codec.Message

	now  int64    // clk.now() after the last read
	rxTS int64    // kernel receive time (unix ns) of the last read, see enableRxTimestamps
	rx   *rxState // readOnceTS's state; nil until enableRxTimestamps
}

// errClosed is the router closing the connection (close frame, GOODBYE or
// ABORT) while the tool still wanted it.
var errClosed = errors.New("bench: router closed the session")

// dial connects to t from src (nil: any), performs the transport handshake
// and returns a connection ready for join. rbuf is the read buffer size.
func dial(ctx context.Context, t *Target, src *net.TCPAddr, clk *clock, rbuf int) (*conn, error) {
	d := net.Dialer{Timeout: setupTimeout}
	if src != nil {
		d.LocalAddr = src
		d.Control = bindNoPort
	}
	nc, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", t.Addr, err)
	}
	if t.TLS {
		if nc, err = tlsClient(ctx, nc, t); err != nil {
			return nil, err
		}
	}
	c := newConn(nc, t, clk, rbuf)
	_ = nc.SetDeadline(time.Now().Add(setupTimeout))
	if t.WebSocket {
		err = c.wsHandshake()
	} else {
		err = c.rsHandshake()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// newConn wraps nc, a connection to t, for the handshake and what follows.
func newConn(nc net.Conn, t *Target, clk *clock, rbuf int) *conn {
	c := &conn{
		nc: nc, t: t, f: t.Format, cd: codec.ByFormat(t.Format), clk: clk,
		op:   ws.OpBinary,
		rbuf: make([]byte, rbuf),
		sink: queueSink{},
		wsd:  ws.Decoder{Client: true, MaxMessageSize: maxMessage},
		rsd:  rawsocket.Decoder{MaxLen: maxMessage},
	}
	if !t.Format.Binary() {
		c.op = ws.OpText
	}
	c.wsh = wsAdapter{c}
	c.rsh = rsAdapter{c}
	var seed [12]byte
	_, _ = crand.Read(seed[:]) // never fails (it crashes the program instead)
	c.rng = binary.LittleEndian.Uint64(seed[:]) | 1
	copy(c.ctrlKey[:], seed[8:])
	return c
}

func (c *conn) wsHandshake() error {
	hs := ws.ClientHandshake{Host: c.t.Host, Target: c.t.Path, Protocols: []string{c.f.Subprotocol()}}
	_, _ = crand.Read(hs.Nonce[:])
	if _, err := c.nc.Write(hs.AppendRequest(nil)); err != nil {
		return fmt.Errorf("bench: websocket handshake with %s: %w", c.t.Addr, err)
	}
	defer hs.Release()
	for {
		n, err := c.nc.Read(c.rbuf)
		if n > 0 {
			res, used, herr := hs.Feed(c.rbuf[:n])
			if herr != nil {
				return fmt.Errorf("bench: websocket handshake with %s: %w", c.t.Addr, herr)
			}
			if res != nil {
				if string(res.Protocol) != c.f.Subprotocol() {
					return fmt.Errorf("bench: websocket handshake with %s: router did not accept subprotocol %s", c.t.Addr, c.f.Subprotocol())
				}
				return c.feed(c.rbuf[used:n])
			}
		}
		if err != nil {
			return fmt.Errorf("bench: websocket handshake with %s: %w", c.t.Addr, err)
		}
	}
}

func (c *conn) rsHandshake() error {
	hs := rawsocket.ClientHandshake{Request: rawsocket.Handshake{
		Serializer: rsSerializer(c.f),
		LengthExp:  rawsocket.LengthExpFor(maxMessage),
	}}
	if _, err := c.nc.Write(hs.AppendRequest(nil)); err != nil {
		return fmt.Errorf("bench: rawsocket handshake with %s: %w", c.t.Addr, err)
	}
	for {
		n, err := c.nc.Read(c.rbuf)
		if n > 0 {
			reply, used, herr := hs.Feed(c.rbuf[:n])
			if herr != nil {
				return fmt.Errorf("bench: rawsocket handshake with %s: %w", c.t.Addr, herr)
			}
			if reply != nil {
				c.peerMax = reply.MaxLen()
				return c.feed(c.rbuf[used:n])
			}
		}
		if err != nil {
			return fmt.Errorf("bench: rawsocket handshake with %s: %w", c.t.Addr, err)
		}
	}
}

// feed decodes bytes read from the router, handing each message to the
// sink, and sends the control replies (pong, close) that produced.
func (c *conn) feed(data []byte) error {
	var err error
	if c.t.WebSocket {
		err = c.wsd.Feed(data, c.wsh)
	} else {
		err = c.rsd.Feed(data, c.rsh)
	}
	if len(c.ctrl) > 0 {
		// net.Conn serialises Writes, so this cannot interleave with a
		// publisher's batch written from another goroutine.
		_, _ = c.nc.Write(c.ctrl)
		c.ctrl = c.ctrl[:0]
	}
	return err
}

// readOnce reads once and feeds what arrived; with kernel timestamps on
// (enableRxTimestamps) it is readOnceTS.
func (c *conn) readOnce() error {
	if c.rx != nil {
		return c.readOnceTS()
	}
	n, err := c.nc.Read(c.rbuf)
	if n > 0 {
		c.now = c.clk.now()
		if ferr := c.feed(c.rbuf[:n]); ferr != nil {
			return ferr
		}
	}
	return err
}

// readLoop reads c until a read fails, calling after, when set, after
// every read with the read's error and going on with what it returns. The
// error that ends the loop goes to *errp, unless the run is stopping (the
// tool itself closed the connection). It gives the decoders' buffers back
// when it returns.
func (c *conn) readLoop(stopping *atomic.Bool, errp *error, after func(error) error) {
	defer c.release()
	for {
		err := c.readOnce()
		if after != nil {
			err = after(err)
		}
		if err != nil {
			if !stopping.Load() {
				*errp = err
			}
			return
		}
	}
}

// nextKey draws a WebSocket mask key (xorshift64*): RFC 6455 wants an
// unpredictable key per frame; a fast generator seeded from crypto/rand
// costs a few nanoseconds rather than a syscall, and the router does the
// same unmasking work whatever the key.
func (c *conn) nextKey() [4]byte {
	x := c.rng
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	c.rng = x
	v := uint32((x * 0x2545F4914F6CDD1D) >> 32)
	return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

// frameStart appends the header of a frame carrying an n-byte message to
// wbuf and returns where the message starts; the caller appends exactly n
// bytes and calls frameEnd.
func (c *conn) frameStart(n int) int {
	if c.t.WebSocket {
		c.key = c.nextKey()
		c.wbuf = ws.AppendMaskedHeader(c.wbuf, c.op, true, n, c.key)
	} else {
		var err error
		c.wbuf, err = rawsocket.AppendHeader(c.wbuf, rawsocket.Message, n, c.peerMax)
		if err != nil && c.werr == nil {
			c.werr = fmt.Errorf("bench: message of %d bytes: %w", n, err)
		}
	}
	return len(c.wbuf)
}

// frameEnd masks the message appended since start (WebSocket).
func (c *conn) frameEnd(start int) {
	if c.t.WebSocket {
		ws.MaskBytes(c.key, 0, c.wbuf[start:])
	}
}

// appendTemplate appends one frame built from t with the next request id
// and a fresh stamp.
func (c *conn) appendTemplate(t *template, src int, seq uint64, ts int64) {
	c.req = nextID(c.req)
	start := c.frameStart(t.size(c.req))
	c.wbuf = t.append(c.wbuf, c.req, src, seq, ts)
	c.frameEnd(start)
}

// appendReply appends one frame built from t for request id id (not one of
// ours: a YIELD answers an INVOCATION) carrying stamp st.
func (c *conn) appendReply(t *template, id uint64, st []byte) {
	start := c.frameStart(t.size(id))
	c.wbuf = t.appendStamp(c.wbuf, id, st)
	c.frameEnd(start)
}

// flush writes wbuf with one Write.
func (c *conn) flush() error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

// nextID returns the session-scope request id after id: 1, 2, …, 2^53, 1.
func nextID(id uint64) uint64 {
	if id >= codec.MaxID {
		return 1
	}
	return id + 1
}

// send encodes m and writes it at once (setup messages).
func (c *conn) send(m *codec.Message) error {
	var err error
	c.msg, err = c.cd.Append(c.msg[:0], m)
	if err != nil {
		return fmt.Errorf("bench: encode %v: %w", m.Type, err)
	}
	start := c.frameStart(len(c.msg))
	c.wbuf = append(c.wbuf, c.msg...)
	c.frameEnd(start)
	return c.flush()
}

// next returns the next message read during setup, decoded into c.m.
func (c *conn) next() (*codec.Message, error) {
	for len(c.queue) == 0 {
		if err := c.readOnce(); err != nil {
			return nil, err
		}
	}
	b := c.queue[0]
	c.queue = c.queue[1:]
	if err := c.decode(b); err != nil {
		return nil, err
	}
	return &c.m, nil
}

// decode decodes msg into c.m.
func (c *conn) decode(msg []byte) error {
	if err := c.cd.Decode(&c.m, msg); err != nil {
		return fmt.Errorf("bench: decode %d bytes from the router: %w", len(msg), err)
	}
	return nil
}

// kind returns the type of a message handed to a sink and, for a message
// whose first element is an integer, that element (the request id of
// RESULT and INVOCATION; see peek). It reads them in place when it can and
// otherwise decodes msg into c.m, which decoded then reports.
func (c *conn) kind(msg []byte) (t codec.Type, id uint64, decoded bool, err error) {
	if t, id, ok := peek(c.f, msg); ok {
		return t, id, false, nil
	}
	if err := c.decode(msg); err != nil {
		return 0, 0, true, err
	}
	return c.m.Type, c.m.Request, true, nil
}

// stamp returns the stamp of msg: in place at its end when the router
// encodes like the codec package (findStamp), otherwise from its decoded
// Arguments, copied into buf (decoding msg into c.m unless kind already
// did). It fails for a message without the tool's stamp.
func (c *conn) stamp(msg []byte, decoded bool, buf *[stampLen]byte) ([]byte, error) {
	if st := findStamp(c.f, msg); st != nil {
		return st, nil
	}
	if !decoded {
		if err := c.cd.Decode(&c.m, msg); err != nil {
			return nil, err
		}
	}
	var err error
	if *buf, err = stampOfArgs(c.cd, c.m.Args); err != nil {
		return nil, err
	}
	return buf[:], nil
}

// readStamp is stamp, parsed.
func (c *conn) readStamp(msg []byte, decoded bool) (src int, seq uint64, ts int64, err error) {
	var buf [stampLen]byte
	st, err := c.stamp(msg, decoded, &buf)
	if err != nil {
		return 0, 0, 0, err
	}
	return parseStamp(st)
}

// roundTrip sends m and waits for the answer of type want (to m.Request
// when m has one). ABORT, GOODBYE, CHALLENGE and ERROR are errors; anything
// else in between is skipped.
func (c *conn) roundTrip(m *codec.Message, want codec.Type) (*codec.Message, error) {
	_ = c.nc.SetDeadline(time.Now().Add(setupTimeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.send(m); err != nil {
		return nil, fmt.Errorf("bench: send %v: %w", m.Type, err)
	}
	for {
		r, err := c.next()
		if err != nil {
			return nil, fmt.Errorf("bench: waiting for %v: %w", want, err)
		}
		switch r.Type {
		case want:
			if want == codec.WELCOME || r.Request == m.Request {
				return r, nil
			}
		case codec.ERROR:
			if r.Request == m.Request {
				return nil, fmt.Errorf("bench: %v refused: %s", m.Type, r.URI)
			}
		case codec.ABORT, codec.GOODBYE:
			return nil, fmt.Errorf("bench: router sent %v %s in answer to %v", r.Type, r.URI, m.Type)
		case codec.CHALLENGE:
			return nil, fmt.Errorf("bench: router asks for authentication (%s); the load tool joins anonymously", r.URI)
		}
	}
}

// helloDetails announces the four client roles, with no features: the
// tool uses none.
func helloDetails(f codec.Format) (codec.Raw, error) {
	return codec.EncodeGo(f, map[string]any{
		"agent": "zwamp-bench",
		"roles": map[string]any{
			"publisher": map[string]any{}, "subscriber": map[string]any{},
			"caller": map[string]any{}, "callee": map[string]any{},
		},
	})
}

// join opens a session on realm.
func (c *conn) join(realm string) error {
	d, err := helloDetails(c.f)
	if err != nil {
		return err
	}
	r, err := c.roundTrip(&codec.Message{Type: codec.HELLO, URI: []byte(realm), Dict: d}, codec.WELCOME)
	if err != nil {
		return err
	}
	c.session = r.ID
	return nil
}

// subscribe subscribes to topic and returns the subscription id.
func (c *conn) subscribe(topic string) (uint64, error) {
	c.req = nextID(c.req)
	r, err := c.roundTrip(&codec.Message{Type: codec.SUBSCRIBE, Request: c.req, URI: []byte(topic)}, codec.SUBSCRIBED)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// register registers procedure, as a shared round-robin registration if
// shared, and returns the registration id.
func (c *conn) register(procedure string, shared bool) (uint64, error) {
	c.req = nextID(c.req)
	m := codec.Message{Type: codec.REGISTER, Request: c.req, URI: []byte(procedure)}
	if shared {
		d, err := codec.EncodeGo(c.f, map[string]any{"invoke": "roundrobin"})
		if err != nil {
			return 0, err
		}
		m.Dict = d
	}
	r, err := c.roundTrip(&m, codec.REGISTERED)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// setSink hands the connection to s, first with the messages that arrived
// during setup.
func (c *conn) setSink(s sink) error {
	c.sink = s
	q := c.queue
	c.queue = nil
	for _, b := range q {
		if err := s.onMessage(c, b); err != nil {
			return err
		}
	}
	return nil
}

// close says GOODBYE (without waiting for the answer) and closes the
// socket. It may be called from any goroutine, also while another one
// reads or writes the connection: it touches none of their buffers (the
// GOODBYE frame is built apart and net.Conn serialises Writes).
func (c *conn) close() {
	_ = c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	if msg, err := c.cd.Append(nil, &codec.Message{Type: codec.GOODBYE, URI: []byte(closeNormal)}); err == nil {
		var frame []byte
		if c.t.WebSocket {
			frame = ws.AppendMaskedFrame(nil, c.op, true, msg, c.ctrlKey)
		} else {
			frame, _ = rawsocket.AppendFrame(nil, rawsocket.Message, msg, c.peerMax)
		}
		_, _ = c.nc.Write(frame)
	}
	_ = c.nc.Close()
}

// release gives the decoders' pooled buffers back. Only the goroutine that
// reads the connection calls it, once it has stopped reading.
func (c *conn) release() {
	c.wsd.Reset()
	c.rsd.Reset()
}

// closeNormal is wamp.close.normal; the tool does not import core, since it
// loads any router.
const closeNormal = "wamp.close.normal"

// queueSink keeps copies of the messages that arrive during setup.
type queueSink struct{}

func (queueSink) onMessage(c *conn, msg []byte) error {
	c.queue = append(c.queue, append([]byte(nil), msg...))
	return nil
}

// wsAdapter and rsAdapter connect the framing decoders to the sink; their
// OnMessage signatures differ, so conn cannot implement both itself.
type wsAdapter struct{ c *conn }

func (a wsAdapter) OnMessage(_ ws.Opcode, p []byte) error { return a.c.sink.onMessage(a.c, p) }
func (a wsAdapter) OnPing(p []byte) error {
	a.c.ctrl = ws.AppendMaskedFrame(a.c.ctrl, ws.OpPong, true, p, a.c.ctrlKey)
	return nil
}
func (a wsAdapter) OnPong([]byte) error { return nil }
func (a wsAdapter) OnClose(code int, _ []byte) error {
	if code == ws.CloseNoStatus {
		code = 0
	}
	a.c.ctrl = ws.AppendMaskedClose(a.c.ctrl, code, "", a.c.ctrlKey)
	return errClosed
}

type rsAdapter struct{ c *conn }

func (a rsAdapter) OnMessage(p []byte) error { return a.c.sink.onMessage(a.c, p) }
func (a rsAdapter) OnPing(p []byte) error {
	a.c.ctrl, _ = rawsocket.AppendFrame(a.c.ctrl, rawsocket.Pong, p, a.c.peerMax)
	return nil
}
func (a rsAdapter) OnPong([]byte) error { return nil }

// rxState is what readOnceTS reuses from read to read, built once by
// enableRxTimestamps so that a read allocates nothing: the raw socket, the
// recvmsg callback and its results, the control-message buffer.
type rxState struct {
	rc      syscall.RawConn
	recv    func(fd uintptr) bool
	oob     []byte
	n, oobn int
	err     error
}

// enableRxTimestamps asks the kernel to timestamp received data
// (SO_TIMESTAMPNS); readOnceTS then sets rxTS to when the last byte read
// reached the socket. On loopback that is when the router's write handed it
// to the kernel, independent of how late this process gets to read it.
func (c *conn) enableRxTimestamps() error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return errors.New("bench: kernel timestamps need a TCP socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("bench: SO_TIMESTAMPNS: %w", serr)
	}
	rx := &rxState{rc: rc, oob: make([]byte, syscall.CmsgSpace(16)*2)} // room for one struct timespec, twice
	rx.recv = func(fd uintptr) bool {
		rx.n, rx.oobn, _, _, rx.err = syscall.Recvmsg(int(fd), c.rbuf, rx.oob, 0)
		return rx.err != syscall.EAGAIN
	}
	c.rx = rx
	return nil
}

// readOnceTS is readOnce with the kernel receive timestamp (recvmsg).
func (c *conn) readOnceTS() error {
	rx := c.rx
	err := rx.rc.Read(rx.recv)
	if err == nil {
		err = rx.err
	}
	if err != nil {
		return err
	}
	if rx.n == 0 {
		return errClosed
	}
	c.now = c.clk.now()
	c.rxTS = rxTime(rx.oob[:rx.oobn])
	return c.feed(c.rbuf[:rx.n])
}

// rxTime returns the time in the SO_TIMESTAMPNS control message among oob
// (unix ns), 0 when there is none. It walks the messages in place:
// syscall.ParseSocketControlMessage would allocate on every read.
func rxTime(oob []byte) int64 {
	hdr := syscall.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && l-hdr >= 16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8:]))
			return sec*1e9 + nsec
		}
		next := syscall.CmsgSpace(l - hdr)
		if next > len(oob) {
			return 0
		}
		oob = oob[next:]
	}
	return 0
}
