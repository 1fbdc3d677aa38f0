package netpoll

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// Starting and stopping: every listener is bound before nbio's engine
// starts, and the engine is stopped only once each poller is known to be
// in its event loop, because nbio v1.6.8 loses a Stop that comes before
// that. poller.readWriteLoop (poller_epoll.go:232) begins with
// `p.shutdown = false`, so a poller.stop (poller_epoll.go:317-330: set
// shutdown, write the eventfd) that runs between `go p.start()`
// (engine_unix.go:89) and that line is undone; the eventfd is registered
// level-triggered and never read (poller_epoll.go:254, an empty case), so
// EpollWait returns at once forever and the loop spins at 100 % of a core,
// while Engine.Stop waits for it in g.Wait() (engine.go:243). A 200-round
// loop of Start followed at once by Stop hung 195 times. That is what
// `zwamp serve` did when a listener could not bind: Start started the
// engine, net.Listen failed, Stop hung. The fix here is in our use of
// nbio: bind first (a failed bind never starts the engine), prove each
// poller is looping before Start returns (waitPollers), and bound the
// wait for Stop all the same (stopEngine).

// bind opens every configured listener, or none: on the first error it
// closes those already open and returns an error naming the listener and
// the cause.
func (s *Server) bind() ([]net.Listener, []*listenerSpec, error) {
	var lns []net.Listener
	var specs []*listenerSpec
	for i, l := range s.cfg.Listeners {
		network := l.Network
		if network == "" {
			network = "tcp"
		}
		ln, err := listen(network, l.Addr)
		if err != nil {
			for _, o := range lns {
				_ = o.Close()
			}
			return nil, nil, fmt.Errorf("netpoll: listener %d (%s %s %s): %w", i, l.Kind, network, l.Addr, err)
		}
		origins, _ := CompileOrigins(l.AllowedOrigins) // checked by NewServer
		spec := &listenerSpec{Listener: l, srv: s, origins: origins}
		spec.Network = network
		lns = append(lns, ln)
		specs = append(specs, spec)
	}
	return lns, specs, nil
}

// listen binds one listener. Errors drop net's "listen tcp ADDR:" prefix,
// which the caller's message already carries.
func listen(network, addr string) (net.Listener, error) {
	if network == "unix" {
		if err := prepareUnixPath(addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return nil, op.Err
		}
		return nil, err
	}
	return ln, nil
}

// maxUnixPath is the longest unix socket path Linux accepts (sun_path is
// 108 bytes with the terminating NUL).
const maxUnixPath = 107

// prepareUnixPath checks a unix socket path before binding it: a stale
// socket left by an earlier run is removed, but a socket another process
// still serves, or a file that is not a socket, is an error (the path may
// be a typo for something that must not be deleted).
func prepareUnixPath(path string) error {
	if len(path) > maxUnixPath {
		return fmt.Errorf("unix socket path is %d bytes, the limit is %d", len(path), maxUnixPath)
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket (%s); not replacing it", path, fi.Mode().Type())
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		_ = c.Close()
		return fmt.Errorf("%s: another process is serving this socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// probe is a connection whose one byte of input proves that the poller
// it was added to has entered its event loop.
type probe struct{ seen chan struct{} }

// waitPollers returns once every nbio poller has delivered input, that is
// once each is inside readWriteLoop, past the line that would undo an
// earlier stop (see the note at the top of this file). nbio assigns a
// connection to poller fd % NPoller, so probe connections are made until
// every remainder has one; the fds that land on an already proven poller
// are held meanwhile so the next one gets a new number.
func (s *Server) waitPollers(timeout time.Duration) error {
	n := s.cfg.Pollers
	proven := make([]bool, n)
	left := n
	var held []*nbio.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	deadline := time.Now().Add(timeout)
	for tries := 0; left > 0; tries++ {
		if tries > 4*n+64 || time.Now().After(deadline) {
			return fmt.Errorf("netpoll: %d of %d nbio pollers did not start", left, n)
		}
		nbc, peer, err := probePair()
		if err != nil {
			return fmt.Errorf("netpoll: start pollers: %w", err)
		}
		i := nbc.Hash() % n
		if proven[i] {
			_ = syscall.Close(peer)
			held = append(held, nbc)
			continue
		}
		p := &probe{seen: make(chan struct{})}
		nbc.SetSession(p)
		if _, err := s.engine.AddConn(nbc); err != nil {
			_ = syscall.Close(peer)
			return fmt.Errorf("netpoll: start pollers: %w", err)
		}
		_, err = syscall.Write(peer, []byte{0})
		if err == nil {
			select {
			case <-p.seen:
				proven[i] = true
				left--
			case <-time.After(time.Until(deadline)):
			}
		}
		_ = nbc.Close()
		_ = syscall.Close(peer)
		if err != nil {
			return fmt.Errorf("netpoll: start pollers: %w", err)
		}
	}
	return nil
}

// probePair returns one end of a unix socket pair as an nbio connection
// and the other end's fd.
func probePair() (*nbio.Conn, int, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, err
	}
	f := os.NewFile(uintptr(fds[0]), "netpoll-probe")
	nc, err := net.FileConn(f) // dups the fd
	_ = f.Close()
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, -1, err
	}
	nbc, err := nbio.NBConn(nc) // dups it again and closes nc
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, -1, err
	}
	return nbc, fds[1], nil
}

// engineStopTimeout bounds Engine.Stop. With waitPollers it returns at
// once; the bound keeps Shutdown from hanging should another nbio path
// lose the stop too (the daemon then exits anyway and says so).
const engineStopTimeout = 2 * time.Second

// stopEngine stops nbio's engine, waiting at most engineStopTimeout; it
// reports whether the engine stopped.
func (s *Server) stopEngine() bool {
	if !s.engineUp.Swap(false) {
		return true // never started, or already stopped
	}
	done := make(chan struct{})
	go func() {
		s.engine.Stop()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(engineStopTimeout):
		s.log.Error("nbio engine did not stop in time; leaving it", "waited", engineStopTimeout.String())
		return false
	}
}

// admitIP counts a new connection from addr against MaxConnsPerIP; it
// reports false when the address is at the limit. Connections without an
// IP (unix sockets) are not limited.
func (s *Server) admitIP(addr net.Addr) bool {
	ip, ok := ipOf(addr)
	if !ok {
		return true
	}
	s.ipMu.Lock()
	n := s.perIP[ip]
	if n >= s.cfg.MaxConnsPerIP {
		s.ipMu.Unlock()
		s.stats.refusedPerIP.Add(1)
		s.rlog.Warn("per_ip", "connection refused: too many connections from one address",
			"remote", ip.String(), "limit", s.cfg.MaxConnsPerIP)
		return false
	}
	s.perIP[ip] = n + 1
	s.ipMu.Unlock()
	return true
}

// releaseIP undoes admitIP for addr.
func (s *Server) releaseIP(addr net.Addr) {
	ip, ok := ipOf(addr)
	if !ok {
		return
	}
	s.ipMu.Lock()
	if n := s.perIP[ip]; n <= 1 {
		delete(s.perIP, ip)
	} else {
		s.perIP[ip] = n - 1
	}
	s.ipMu.Unlock()
}

func ipOf(addr net.Addr) (netip.Addr, bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := ta.AddrPort().Addr().Unmap()
	return ip, ip.IsValid()
}
