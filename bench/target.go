package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

// Target is where and how the tool connects: a parsed --url and
// --serializer.
type Target struct {
	// WebSocket is true for ws:// and wss:// URLs, false for RawSocket
	// (rs://, tcp://, rss://, tcps://).
	WebSocket bool
	// TLS is true for wss://, rss:// and tcps:// (see tls.go).
	TLS bool
	// Addr is host:port to dial.
	Addr string
	// Host is the Host header (the URL's host, with its port if given).
	Host string
	// Path is the WebSocket request target ("/" when the URL has none).
	Path string
	// Format is the serializer.
	Format codec.Format
	// Loopback reports whether every address Addr resolves to is a loopback
	// address.
	Loopback bool
}

// ParseTarget parses a router URL (ws://host:port/path, rs://host:port or
// tcp://host:port) and a serializer name. Without allowRemote it refuses a
// host that does not resolve to loopback addresses only, so that a typo
// cannot point a load generator at someone else's machine.
func ParseTarget(rawURL, serializer string, allowRemote bool) (*Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bench: --url: %w", err)
	}
	t := &Target{Path: u.RequestURI(), Host: u.Host}
	switch u.Scheme {
	case "ws":
		t.WebSocket = true
	case "rs", "rawsocket", "tcp":
	case "wss":
		t.WebSocket, t.TLS = true, true
	case "rss", "tcps":
		t.TLS = true
	default:
		return nil, fmt.Errorf("bench: --url %q: scheme must be ws, rs, tcp, wss, rss or tcps", rawURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("bench: --url %q: credentials in the URL are not supported", rawURL)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, fmt.Errorf("bench: --url %q: no host", rawURL)
	}
	if port == "" {
		port = "8080"
		if t.WebSocket {
			port = "80"
		}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("bench: --url %q: bad port %q", rawURL, port)
	}
	t.Addr = net.JoinHostPort(host, port)
	if t.Path == "" {
		t.Path = "/"
	}
	f, ok := codec.ParseFormat(strings.ToLower(serializer))
	if !ok || codec.ByFormat(f) == nil {
		return nil, fmt.Errorf("bench: --serializer %q: want json, msgpack or cbor", serializer)
	}
	t.Format = f
	ips, err := net.DefaultResolver.LookupIPAddr(context.Background(), host)
	if err != nil {
		return nil, fmt.Errorf("bench: resolve %q: %w", host, err)
	}
	t.Loopback = len(ips) > 0
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			t.Loopback = false
		}
	}
	if !t.Loopback && !allowRemote {
		return nil, fmt.Errorf("bench: %s is not a loopback address; pass --allow-remote to load a remote router", host)
	}
	if t.TLS && !t.Loopback {
		return nil, errTLSRemote(rawURL)
	}
	return t, nil
}

// rsSerializer maps a Format to its RawSocket serializer id.
func rsSerializer(f codec.Format) rawsocket.Serializer {
	switch f {
	case codec.MsgPack:
		return rawsocket.MsgPack
	case codec.CBOR:
		return rawsocket.CBOR
	}
	return rawsocket.JSON
}

// sourceAddrs returns the local addresses to spread connections over:
// 127.0.0.1 … 127.0.0.n. One source address gives a router on one port
// about 28k connections (the ephemeral port range); every address of
// 127.0.0.0/8 is local on Linux, so more sources give more room. n <= 1
// means the kernel's choice.
func sourceAddrs(n int, t *Target) ([]*net.TCPAddr, error) {
	if n <= 1 {
		return []*net.TCPAddr{nil}, nil
	}
	if !t.Loopback {
		return nil, fmt.Errorf("bench: --sources applies to loopback targets only")
	}
	if n > 254 {
		return nil, fmt.Errorf("bench: --sources %d: at most 254", n)
	}
	out := make([]*net.TCPAddr, n)
	for i := range out {
		out[i] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}
	}
	return out, nil
}

// bindNoPort asks the kernel to choose the source port at connect time
// rather than at bind time (IP_BIND_ADDRESS_NO_PORT), so that binding a
// source address does not reserve a port for every destination.
func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h (absent
// from package syscall).
const ipBindAddressNoPort = 24

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns
// the new soft limit. Go already does this at start-up since 1.19; doing
// it again here makes the limit explicit and reportable.
func RaiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: setrlimit: %w", err)
		}
	}
	return lim.Cur, nil
}
