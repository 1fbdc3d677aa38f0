package main

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/zwamp/zwamp/admin"
	"github.com/zwamp/zwamp/netpoll"
)

// CertKey is one certificate (chain) and its key, in PEM files.
type CertKey struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// pairs lists the listener's certificate/key pairs: cert/key first, then
// certificates.
func (t *TLSConfig) pairs() []CertKey {
	var out []CertKey
	if t.Cert != "" || t.Key != "" {
		out = append(out, CertKey{Cert: t.Cert, Key: t.Key})
	}
	return append(out, t.Certificates...)
}

// load reads every pair. With several, crypto/tls picks the certificate
// by the client's server name (SNI) and key type, and falls back to the
// first.
func (t *TLSConfig) load() (*tls.Config, error) {
	pairs := t.pairs()
	if len(pairs) == 0 {
		return nil, errors.New("tls: no certificate (set cert and key, or certificates)")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, p := range pairs {
		cert, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return nil, fmt.Errorf("tls cert %s / key %s: %w", p.Cert, p.Key, err)
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	return cfg, nil
}

// tlsReloader reloads the certificates of every TLS listener: given the
// new configuration it loads them all (any error refuses the reload and
// leaves the running ones), and its commit installs them through
// netpoll.Server.ReloadTLS. Established sessions keep their connections;
// session tickets stay valid. Listeners are matched by position; adding
// or removing listeners, or TLS on one, needs a restart, so such a
// configuration is refused. Addresses are not compared: `serve --listen`
// overrides the first one, so the file's may differ from the running one.
//
// Its signature is that of the SIGHUP reloaders `zwamp serve` runs (the
// signal handling itself is wired in main.go).
func tlsReloader(srv *netpoll.Server, running *Config) func(c *Config) (commit func(), err error) {
	return func(c *Config) (func(), error) {
		if len(c.Listeners) != len(running.Listeners) {
			return nil, fmt.Errorf("tls reload: %d listeners configured, %d running (changing listeners needs a restart)", len(c.Listeners), len(running.Listeners))
		}
		cfgs := make([]*tls.Config, len(c.Listeners))
		for i, l := range c.Listeners {
			was := running.Listeners[i]
			if (l.TLS == nil) != (was.TLS == nil) {
				return nil, fmt.Errorf("tls reload: listener %d turned TLS on or off (needs a restart)", i)
			}
			if l.TLS == nil {
				continue
			}
			cfg, err := l.TLS.load()
			if err != nil {
				return nil, fmt.Errorf("tls reload: listener %d (%s): %w", i, l.Address, err)
			}
			// The client CA (auth.go) is reloaded with the certificates.
			nl := netpoll.Listener{TLS: cfg}
			lc := l
			lc.Cookie = nil
			if err := c.listenerAuth(i, &nl, &lc); err != nil {
				return nil, fmt.Errorf("tls reload: %w", err)
			}
			cfgs[i] = cfg
		}
		return func() {
			for i, cfg := range cfgs {
				if cfg != nil {
					_ = srv.ReloadTLS(i, cfg) // i is a running TLS listener, checked above
				}
			}
		}, nil
	}
}

// tlsMetrics hands the TLS listeners' handshake counters to /metrics
// (admin does not import netpoll).
func tlsMetrics(srv *netpoll.Server) func() []admin.TLSListenerStats {
	return func() []admin.TLSListenerStats {
		ls := srv.TLSListenerStats()
		out := make([]admin.TLSListenerStats, len(ls))
		for i, l := range ls {
			out[i] = admin.TLSListenerStats{Listener: l.Addr, Handshakes: l.Handshakes, Resumed: l.Resumed, Failures: l.Failures,
				InProgress: l.InProgress, Refused: l.Refused, RefusedPerIP: l.RefusedPerIP}
		}
		return out
	}
}
