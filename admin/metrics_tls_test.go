package admin_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zwamp/zwamp/admin"
	"github.com/zwamp/zwamp/core"
)

// TestTLSMetrics: the TLS listeners' counters appear on /metrics with a
// listener label, read at each scrape, refusals split by bound.
func TestTLSMetrics(t *testing.T) {
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	s := admin.New(admin.Config{Address: "127.0.0.1:0"}, r, nil, nil)
	var completed atomic.Int64
	completed.Store(7)
	s.RegisterTLSMetrics(func() []admin.TLSListenerStats {
		return []admin.TLSListenerStats{
			{Listener: "127.0.0.1:8443", Handshakes: completed.Load(), Resumed: 3, Failures: 2, InProgress: 4, Refused: 5, RefusedPerIP: 1},
			{Listener: "127.0.0.1:9443"},
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	scrape := func() string {
		code, body := get(t, "http://"+s.Addr()+"/metrics", "")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		return body
	}
	body := scrape()
	for _, want := range []string{
		`zwamp_tls_handshakes_completed_total{listener="127.0.0.1:8443"} 7`,
		`zwamp_tls_handshakes_resumed_total{listener="127.0.0.1:8443"} 3`,
		`zwamp_tls_handshakes_failed_total{listener="127.0.0.1:8443"} 2`,
		`zwamp_tls_handshakes_in_progress{listener="127.0.0.1:8443"} 4`,
		`zwamp_tls_handshakes_refused_total{bound="total",listener="127.0.0.1:8443"} 4`,
		`zwamp_tls_handshakes_refused_total{bound="per_ip",listener="127.0.0.1:8443"} 1`,
		`zwamp_tls_handshakes_completed_total{listener="127.0.0.1:9443"} 0`,
		`# TYPE zwamp_tls_handshakes_in_progress gauge`,
		`# TYPE zwamp_tls_handshakes_completed_total counter`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	completed.Add(1)
	if body := scrape(); !strings.Contains(body, `zwamp_tls_handshakes_completed_total{listener="127.0.0.1:8443"} 8`+"\n") {
		t.Error("/metrics does not read the counters at scrape time")
	}
}
