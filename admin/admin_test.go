package admin_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zwamp/zwamp/admin"
	"github.com/zwamp/zwamp/client"
	_ "github.com/zwamp/zwamp/codec/json"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/testcert"
)

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminEndpoints(t *testing.T) {
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}, {Name: "realm2"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	var accepting atomic.Bool
	accepting.Store(true)
	s := admin.New(admin.Config{Address: "127.0.0.1:0", Token: "tok"}, r, accepting.Load, nil)
	s.Mount("/extra", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "path="+r.URL.Path) }))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr()

	if code, body := get(t, base+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _ := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz: %d, want 200", code)
	}
	accepting.Store(false)
	if code, _ := get(t, base+"/readyz", ""); code != 503 {
		t.Errorf("/readyz with listeners down: %d, want 503", code)
	}
	accepting.Store(true)
	s.SetDraining()
	if code, body := get(t, base+"/readyz", ""); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz while draining: %d %q, want 503 draining", code, body)
	}

	if code, _ := get(t, base+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	c, err := client.ConnectLocal(r, client.Config{Realm: "realm2"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, body := get(t, base+"/metrics", "tok")
	for _, want := range []string{"zwamp_sessions 1\n", `zwamp_realm_sessions{realm="realm2"} 1`, `zwamp_realm_sessions{realm="realm1"} 0`, "zwamp_protocol_violations_total 0\n", `zwamp_auth_handshakes_total{outcome="failure"} 0`, "go_goroutines ", `zwamp_messages_received_total{type="HELLO"} `, `zwamp_messages_sent_total{type="WELCOME"} `, `zwamp_limit_refusals_total{limit="subscriptions_per_session"} 0`, `zwamp_router_table_entries{table="sessions"} 1`, `zwamp_router_table_entries{table="pending_calls"} 0`, `zwamp_calls_total{outcome="result"} `, `zwamp_calls_total{outcome="error"} `, `zwamp_calls_total{outcome="canceled"} `, `zwamp_calls_total{outcome="timeout"} `, `zwamp_call_duration_seconds_bucket{le="1e-06"} `, `zwamp_call_duration_seconds_count `, `zwamp_publish_fanout_bucket{le="0"} `, `zwamp_publish_fanout_bucket{le="+Inf"} `, "zwamp_publish_fanout_sum ", `zwamp_sessions_by_transport{realm="realm2",serializer="json",transport="local"} 1`, `zwamp_messages_per_write_bucket{le="1"} `, "zwamp_messages_per_write_sum ", `zwamp_auth_logins_total{method="anonymous",outcome="success"} `} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics: %d, no %q in\n%s", code, want, body)
		}
	}
	code, body = get(t, base+"/status.json", "tok")
	var st struct {
		Sessions int
		Realms   []struct {
			Name     string
			Sessions int
		}
		SessionList []struct {
			ID    uint64
			Realm string
		} `json:"session_list"`
		Messages struct{ In, Out uint64 }
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/status.json: %d %v %q", code, err, body)
	}
	if st.Sessions != 1 || len(st.Realms) != 2 || st.Realms[1].Name != "realm2" || st.Realms[1].Sessions != 1 ||
		len(st.SessionList) != 1 || st.SessionList[0].ID != c.ID() || st.SessionList[0].Realm != "realm2" || st.Messages.In == 0 {
		t.Errorf("/status.json: %+v; want realm2 with the one session %d", st, c.ID())
	}
	if code, body = get(t, base+"/status", "tok"); code != 200 || !strings.Contains(body, "<canvas") {
		t.Errorf("/status: %d, not the page", code)
	}
	if code, body := get(t, base+"/extra/x", "tok"); code != 200 || body != "path=/x" {
		t.Errorf("mounted handler: %d %q, want the prefix stripped", code, body)
	}
	if code, _ := get(t, base+"/extra/x", ""); code != 401 {
		t.Errorf("mounted handler without the token: %d, want 401", code)
	}
}

func TestAdminAddressInUse(t *testing.T) {
	r, _ := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	a := admin.New(admin.Config{Address: "127.0.0.1:0"}, r, nil, nil)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	b := admin.New(admin.Config{Address: a.Addr()}, r, nil, nil)
	err := b.Start()
	if err == nil || !strings.Contains(err.Error(), "admin listener "+a.Addr()) {
		t.Fatalf("second listener on %s: %v; want an error naming the admin listener", a.Addr(), err)
	}
}

func TestAdminTLS(t *testing.T) {
	cert, leaf := testcert.New(t, "admin")
	r, _ := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	s := admin.New(admin.Config{Address: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, r, nil, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testcert.Pool(leaf)}}}
	resp, err := hc.Get("https://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered 200 on the TLS listener")
	}
}
