package netpoll_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
)

// waitLong is waitFor with a deadline a loaded -race run cannot reach by
// accident.
func waitLong(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialStalled opens a TCP connection from src to addr that never sends a
// ClientHello: a handshake in progress until the router's timeout.
func dialStalled(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// refusedAtOnce reports whether the router closed c without a handshake:
// EOF (or a reset) well before the handshake timeout.
func refusedAtOnce(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || (err != nil && !isTimeout(err))
}

// roundTrips is an established session pair doing checked round trips: a
// call to an echo on the callee, and an acknowledged publish whose event
// the subscriber must receive, in order, with its sequence number.
type roundTrips struct {
	t        testing.TB
	callee   *client.Client
	caller   *client.Client
	proc     string
	topic    string
	events   chan uint64
	sent     uint64
	received uint64
}

func newRoundTrips(t testing.TB, url string, cfg *tls.Config, name string) *roundTrips {
	t.Helper()
	rt := &roundTrips{t: t, proc: "com.example." + name + ".echo", topic: "com.example." + name + ".topic", events: make(chan uint64, 1<<16)}
	rt.callee = connectTLS(t, url, codec.JSON, cfg)
	rt.caller = connectTLS(t, url, codec.JSON, cfg)
	if _, err := rt.callee.Register(rt.proc, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.callee.Subscribe(rt.topic, func(ev *client.Event) { rt.events <- toUint(ev.Args[0]) }, nil); err != nil {
		t.Fatal(err)
	}
	return rt
}

// one does a call and a publish and checks the call's answer and the
// event; it returns an error rather than failing, so goroutines can use it.
func (rt *roundTrips) one() error {
	rt.sent++
	n := rt.sent
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	res, err := rt.caller.Call(ctx, rt.proc, []any{n}, nil, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("call %d: %w", n, err)
	}
	if toUint(res.Args[0]) != n {
		return fmt.Errorf("call %d answered %v", n, res.Args)
	}
	if err := rt.caller.Publish(rt.topic, []any{n}, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
		return fmt.Errorf("publish %d: %w", n, err)
	}
	select {
	case got := <-rt.events:
		rt.received++
		if got != n {
			return fmt.Errorf("event %d arrived as %d (lost or reordered)", n, got)
		}
	case <-time.After(30 * time.Second):
		return fmt.Errorf("event %d never arrived", n)
	}
	return nil
}

// alive checks that neither session ended.
func (rt *roundTrips) alive() error {
	for _, c := range []*client.Client{rt.callee, rt.caller} {
		select {
		case <-c.Done():
			return fmt.Errorf("session %d ended: %v", c.ID(), c.Err())
		default:
		}
	}
	return nil
}

// TestTLSListenerStats: the handshake counters are kept per TLS listener
// (plain listeners have none) and summed by TLSStats.
func TestTLSListenerStats(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	tcfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	srv, _, _ := startServer(t, netpoll.Config{
		Listeners: []netpoll.Listener{
			{Addr: "127.0.0.1:0"},
			{Addr: "127.0.0.1:0", TLS: tcfg},
			{Addr: "127.0.0.1:0", Kind: netpoll.RawSocket, TLS: tcfg},
		},
		HandshakeTimeout:      time.Minute,
		MaxTLSHandshakesPerIP: 1,
	})
	addrs := srv.Addrs()
	a, b := addrs[1].String(), addrs[2].String()

	// Listener 1: a full handshake, then a resumed one.
	var s seen
	cfg := clientTLS(pool, "", tls.VersionTLS13, &s)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	connectTLS(t, "wss://"+a, codec.JSON, cfg)
	connectTLS(t, "wss://"+a, codec.JSON, cfg)
	if !s.last(t).DidResume {
		t.Fatal("second handshake did not resume")
	}
	// Listener 2: a handshake that fails (plain HTTP on a TLS port).
	c, err := net.Dial("tcp", b)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.Copy(io.Discard, c)
	_ = c.Close()
	// Listener 1: one stalled handshake from 127.0.0.4, and the next from
	// the same address refused by the per-address bound.
	dialStalled(t, "127.0.0.4", a)
	waitLong(t, "a handshake in progress", func() bool { return srv.TLSStats().InProgress == 1 })
	if !refusedAtOnce(dialStalled(t, "127.0.0.4", a)) {
		t.Fatal("second handshake from one address not refused")
	}
	waitLong(t, "the failed handshake counted", func() bool { return srv.TLSStats().Failures == 1 })

	ls := srv.TLSListenerStats()
	if len(ls) != 2 {
		t.Fatalf("%d TLS listeners in the stats, want 2: %+v", len(ls), ls)
	}
	want := []netpoll.TLSListenerStats{
		{Listener: 1, Addr: a, Kind: netpoll.Universal, TLSStats: netpoll.TLSStats{Handshakes: 2, Resumed: 1, InProgress: 1, Refused: 1, RefusedPerIP: 1}},
		{Listener: 2, Addr: b, Kind: netpoll.RawSocket, TLSStats: netpoll.TLSStats{Failures: 1}},
	}
	for i := range want {
		if ls[i] != want[i] {
			t.Errorf("listener stats %d: %+v, want %+v", i, ls[i], want[i])
		}
	}
	if got := srv.TLSStats(); got != (netpoll.TLSStats{Handshakes: 2, Resumed: 1, Failures: 1, InProgress: 1, Refused: 1, RefusedPerIP: 1}) {
		t.Errorf("summed stats %+v", got)
	}
}

// TestTLSReloadUnderLoad swaps the listener's certificate back and forth
// while established wss:// and rss:// sessions keep calling and publishing:
// no session is dropped, every call is answered and every acknowledged
// publication's event arrives in order, and each handshake made after a
// reload is served the certificate that reload installed.
func TestTLSReloadUnderLoad(t *testing.T) {
	cert1, leaf1 := testcert.New(t, "one", "zwamp.example")
	cert2, leaf2 := testcert.New(t, "two", "zwamp.example")
	pool := x509.NewCertPool()
	pool.AddCert(leaf1)
	pool.AddCert(leaf2)
	srv, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{
		{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert1}}},
	}})
	var s seen
	cfg := clientTLS(pool, "zwamp.example", 0, &s)
	pairs := []*roundTrips{
		newRoundTrips(t, "wss://"+addr, cfg, "wss1"),
		newRoundTrips(t, "wss://"+addr, cfg, "wss2"),
		newRoundTrips(t, "rss://"+addr, cfg, "rss1"),
	}

	const reloads = 12
	var reloading atomic.Bool
	reloading.Store(true)
	errs := make(chan error, len(pairs)+1)
	var wg sync.WaitGroup
	for _, rt := range pairs {
		wg.Add(1)
		go func(rt *roundTrips) {
			defer wg.Done()
			// At least 20 round trips each, and on until the reloads end
			// (bounded: the reloader stops after `reloads`).
			for i := 0; i < 20 || reloading.Load(); i++ {
				if err := rt.one(); err != nil {
					errs <- err
					return
				}
			}
		}(rt)
	}
	certs := []tls.Certificate{cert2, cert1}
	leaves := []*x509.Certificate{leaf2, leaf1}
	for i := 0; i < reloads; i++ {
		if err := srv.ReloadTLS(0, &tls.Config{Certificates: []tls.Certificate{certs[i%2]}}); err != nil {
			t.Fatal(err)
		}
		// A fresh handshake (no ticket) after the reload.
		var fresh seen
		c, err := tls.Dial("tcp", addr, clientTLS(pool, "zwamp.example", 0, &fresh))
		if err != nil {
			t.Fatalf("handshake after reload %d: %v", i, err)
		}
		_ = c.Close()
		if got := fresh.last(t).PeerCertificates[0]; !got.Equal(leaves[i%2]) {
			t.Fatalf("after reload %d the router served %q, want %q", i, got.Subject.CommonName, leaves[i%2].Subject.CommonName)
		}
	}
	reloading.Store(false)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, rt := range pairs {
		if err := rt.alive(); err != nil {
			t.Error(err)
		}
		if rt.received != rt.sent || rt.sent < 20 {
			t.Errorf("%s: %d round trips, %d events", rt.topic, rt.sent, rt.received)
		}
	}
	if st := srv.TLSStats(); st.Failures != 0 || st.Handshakes != int64(2*len(pairs)+reloads) {
		t.Errorf("stats %+v, want %d handshakes and no failure", st, 2*len(pairs)+reloads)
	}
}

// TestTLSHandshakeFlood fills both bounds on handshakes in progress with
// connections that never send a ClientHello, throws more at each bound,
// then a flood of real concurrent handshakes from several addresses, while
// an established wss:// session pair keeps doing round trips. The excess is
// closed at once and counted per bound, every handshake that reaches the
// router either completes or is refused (nothing else), and every round
// trip of the established sessions comes back in order.
func TestTLSHandshakeFlood(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	const total, perIP = 16, 8
	srv, _, addr := startServer(t, netpoll.Config{
		Listeners:             []netpoll.Listener{{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}},
		HandshakeTimeout:      2 * time.Minute, // the stalled ones outlive the test unless closed
		MaxTLSHandshakes:      total,
		MaxTLSHandshakesPerIP: perIP,
	})
	var s seen
	rt := newRoundTrips(t, "wss://"+addr, clientTLS(pool, "", 0, &s), "flood")
	base := srv.TLSStats()
	check := func(phase string) {
		t.Helper()
		for i := 0; i < 10; i++ {
			if err := rt.one(); err != nil {
				t.Fatalf("%s: %v", phase, err)
			}
		}
	}

	// The per-address bound: 8 stalled from .2, then 5 more refused.
	var stalled []net.Conn
	for i := 0; i < perIP; i++ {
		stalled = append(stalled, dialStalled(t, "127.0.0.2", addr))
	}
	waitLong(t, "8 handshakes in progress", func() bool { return srv.TLSStats().InProgress == perIP })
	for i := 0; i < 5; i++ {
		if !refusedAtOnce(dialStalled(t, "127.0.0.2", addr)) {
			t.Fatalf("handshake %d over the per-address bound not refused", perIP+i+1)
		}
	}
	check("per-address bound full")

	// The overall bound: 8 stalled from .3 fill it; 6 more from .4 (and a
	// real client from .5) are refused.
	for i := 0; i < perIP; i++ {
		stalled = append(stalled, dialStalled(t, "127.0.0.3", addr))
	}
	waitLong(t, "16 handshakes in progress", func() bool { return srv.TLSStats().InProgress == total })
	for i := 0; i < 6; i++ {
		if !refusedAtOnce(dialStalled(t, "127.0.0.4", addr)) {
			t.Fatalf("handshake %d over the overall bound not refused", i+1)
		}
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}, Timeout: 10 * time.Second}
	if c, err := tls.DialWithDialer(d, "tcp", addr, clientTLS(pool, "", 0, &s)); err == nil {
		_ = c.Close()
		t.Fatal("a real handshake over the overall bound completed")
	}
	check("overall bound full")
	st := srv.TLSStats()
	if got, want := st.Refused-base.Refused, int64(5+6+1); got != want {
		t.Errorf("refused %d, want %d (%+v)", got, want, st)
	}
	if got := st.RefusedPerIP - base.RefusedPerIP; got != 5 {
		t.Errorf("refused by the per-address bound %d, want 5", got)
	}

	// The stalled clients give up: their handshakes fail, and the slots are
	// free again.
	for _, c := range stalled {
		_ = c.Close()
	}
	waitLong(t, "the stalled handshakes ended", func() bool {
		st := srv.TLSStats()
		return st.InProgress == 0 && st.Failures-base.Failures == 2*perIP
	})

	// A flood of real handshakes from 8 addresses, 32 at a time, while the
	// established session does round trips.
	before := srv.TLSStats()
	const attempts, workers = 160, 32
	var ok, refused atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > attempts {
					return
				}
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i%8+1))}, Timeout: 20 * time.Second}
				var hs seen
				c, err := tls.DialWithDialer(d, "tcp", addr, clientTLS(pool, "", 0, &hs))
				if err != nil {
					refused.Add(1)
					continue
				}
				ok.Add(1)
				_ = c.Close()
			}
		}()
	}
	flooding := make(chan struct{})
	rtErr := make(chan error, 1)
	go func() {
		defer close(rtErr)
		for {
			if err := rt.one(); err != nil {
				rtErr <- err
				return
			}
			select {
			case <-flooding:
				return
			default:
			}
		}
	}()
	wg.Wait()
	close(flooding)
	if err := <-rtErr; err != nil {
		t.Fatalf("round trip during the flood: %v", err)
	}
	waitLong(t, "the flood's handshakes counted", func() bool {
		st := srv.TLSStats()
		return st.InProgress == 0 && st.Handshakes-before.Handshakes == ok.Load()
	})
	st = srv.TLSStats()
	if got := st.Refused - before.Refused; got != refused.Load() {
		t.Errorf("flood: %d refused by the router, %d clients failed (%d completed): a handshake failed for another reason (%+v)", got, refused.Load(), ok.Load(), st)
	}
	if st.Failures != before.Failures {
		t.Errorf("flood: %d handshakes failed", st.Failures-before.Failures)
	}
	if ok.Load() == 0 {
		t.Error("flood: no handshake completed")
	}
	check("after the flood")
	if err := rt.alive(); err != nil {
		t.Fatal(err)
	}
	if rt.received != rt.sent {
		t.Fatalf("%d round trips, %d events", rt.sent, rt.received)
	}
	t.Logf("flood: %d handshakes completed, %d refused; %d round trips of the established session", ok.Load(), refused.Load(), rt.sent)
}
