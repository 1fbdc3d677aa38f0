package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
)

// TLS targets (wss://, rss://, tcps://) are loopback only: the tool
// measures what TLS costs the router, so it does not verify the router's
// certificate (a test certificate on 127.0.0.1), and it must not be pointed
// at a remote router without verification.

func errTLSRemote(rawURL string) error {
	return fmt.Errorf("bench: --url %q: TLS targets must be loopback (the load tool does not verify certificates)", rawURL)
}

// tlsClient runs the TLS handshake on nc (closing it on failure). The
// connection then carries the same WebSocket or RawSocket handshake as a
// plain one.
func tlsClient(ctx context.Context, nc net.Conn, t *Target) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(t.Addr)
	cfg := &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // loopback test certificate, see above
		MinVersion:         tls.VersionTLS12,
	}
	if t.WebSocket {
		cfg.NextProtos = []string{"http/1.1"}
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("bench: tls handshake with %s: %w", t.Addr, err)
	}
	return tc, nil
}
