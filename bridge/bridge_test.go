package bridge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/bridge"
	"github.com/zwamp/zwamp/client"
	_ "github.com/zwamp/zwamp/codec/json"
	"github.com/zwamp/zwamp/core"
)

func newRouter(t *testing.T) *core.Router {
	t.Helper()
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Shutdown)
	return r
}

func join(t *testing.T, r *core.Router) *client.Client {
	t.Helper()
	c, err := client.ConnectLocal(r, client.Config{Realm: "realm1", RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newBridge(t *testing.T, r *core.Router, cfg bridge.Config) (*bridge.Bridge, *httptest.Server) {
	t.Helper()
	cfg.Realm = "realm1"
	b, err := bridge.New(r, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(func() { srv.Close(); b.Close() })
	return b, srv
}

// post sends body and decodes the JSON answer.
func post(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, out
}

func TestPublishReachesSubscriber(t *testing.T) {
	r := newRouter(t)
	sub := join(t, r)
	got := make(chan *client.Event, 1)
	if _, err := sub.Subscribe("com.example.topic", func(ev *client.Event) { got <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	_, srv := newBridge(t, r, bridge.Config{})
	code, out := post(t, srv.URL+"/publish", "", `{"topic": "com.example.topic", "args": [1, "two"], "kwargs": {"k": true}}`)
	if code != http.StatusOK || out["id"] == nil || out["id"].(float64) <= 0 {
		t.Fatalf("publish: %d %v; want 200 and a publication id", code, out)
	}
	select {
	case ev := <-got:
		a, _ := json.Marshal(ev.Args)
		k, _ := json.Marshal(ev.Kwargs)
		if string(a) != `[1,"two"]` || string(k) != `{"k":true}` {
			t.Fatalf("event args %s kwargs %s", a, k)
		}
		if float64(ev.Publication) != out["id"].(float64) {
			t.Errorf("event publication %d, bridge answered id %v", ev.Publication, out["id"])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
}

func TestCallReachesCallee(t *testing.T) {
	r := newRouter(t)
	callee := join(t, r)
	_, err := callee.Register("com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		a, b := num(inv.Args[0]), num(inv.Args[1])
		if inv.Kwargs["fail"] == true {
			return nil, &client.Error{URI: "com.example.error.refused", Args: []any{"as asked"}}
		}
		return &client.Result{Args: []any{a + b}, Kwargs: map[string]any{"by": "callee"}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, srv := newBridge(t, r, bridge.Config{})
	code, out := post(t, srv.URL+"/call", "", `{"procedure": "com.example.add", "args": [2, 3]}`)
	if code != http.StatusOK || jsonOf(out["args"]) != "[5]" || jsonOf(out["kwargs"]) != `{"by":"callee"}` {
		t.Fatalf("call: %d %v; want 200, args [5], kwargs {by: callee}", code, out)
	}
	code, out = post(t, srv.URL+"/call", "", `{"procedure": "com.example.add", "args": [2, 3], "kwargs": {"fail": true}}`)
	if code != http.StatusInternalServerError || out["error"] != "com.example.error.refused" || jsonOf(out["args"]) != `["as asked"]` {
		t.Fatalf("application error: %d %v; want 500 with the callee's error", code, out)
	}
	code, out = post(t, srv.URL+"/call", "", `{"procedure": "com.example.none"}`)
	if code != http.StatusNotFound || out["error"] != "wamp.error.no_such_procedure" {
		t.Fatalf("unknown procedure: %d %v; want 404 wamp.error.no_such_procedure", code, out)
	}
	code, out = post(t, srv.URL+"/call", "", `{"procedure": "bad..uri"}`)
	if code != http.StatusBadRequest || out["error"] != "wamp.error.invalid_uri" {
		t.Fatalf("invalid URI: %d %v; want 400 wamp.error.invalid_uri", code, out)
	}
	if st := b.Stats(); st.Calls != 4 || st.CallErrors != 3 {
		t.Errorf("stats %+v; want 4 calls, 3 errors", st)
	}
}

func TestCallTimeout(t *testing.T) {
	r := newRouter(t)
	callee := join(t, r)
	release := make(chan struct{})
	defer close(release)
	if _, err := callee.Register("com.example.slow", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &client.Result{}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	_, srv := newBridge(t, r, bridge.Config{})
	code, out := post(t, srv.URL+"/call", "", `{"procedure": "com.example.slow", "options": {"timeout": 100}}`)
	if code != http.StatusGatewayTimeout || out["error"] != "wamp.error.timeout" {
		t.Fatalf("slow callee: %d %v; want 504 wamp.error.timeout", code, out)
	}
}

func TestBadRequests(t *testing.T) {
	r := newRouter(t)
	b, srv := newBridge(t, r, bridge.Config{Token: "s3cret", MaxBody: 64})
	cases := []struct {
		name, path, token, body string
		code                    int
		uri                     string
	}{
		{"no token", "/publish", "", `{"topic": "com.a"}`, 401, "bridge.error.unauthorized"},
		{"wrong token", "/publish", "guess", `{"topic": "com.a"}`, 401, "bridge.error.unauthorized"},
		{"not JSON", "/publish", "s3cret", `topic=com.a`, 400, "bridge.error.bad_request"},
		{"unknown field", "/call", "s3cret", `{"procedur": "com.a"}`, 400, "bridge.error.bad_request"},
		{"trailing data", "/publish", "s3cret", `{"topic": "com.a"} {}`, 400, "bridge.error.bad_request"},
		{"no topic", "/publish", "s3cret", `{"args": [1]}`, 400, "bridge.error.bad_request"},
		{"args not a list", "/publish", "s3cret", `{"topic": "com.a", "args": 5}`, 400, "bridge.error.bad_request"},
		{"too large", "/publish", "s3cret", `{"topic": "com.a", "args": ["` + strings.Repeat("x", 100) + `"]}`, 413, "bridge.error.body_too_large"},
		{"invalid topic", "/publish", "s3cret", `{"topic": "com..a"}`, 400, "wamp.error.invalid_uri"},
	}
	for _, c := range cases {
		code, out := post(t, srv.URL+c.path, c.token, c.body)
		if code != c.code || out["error"] != c.uri {
			t.Errorf("%s: %d %v; want %d %s", c.name, code, out, c.code, c.uri)
		}
	}
	resp, err := http.Get(srv.URL + "/publish")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q; want 405 and Allow: POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if st := b.Stats(); st.Unauthorized != 2 || st.BadRequests != 6 {
		t.Errorf("stats %+v; want 2 unauthorized, 6 bad requests", st)
	}
	// The bridge's session is still usable after all of that.
	if code, out := post(t, srv.URL+"/publish", "s3cret", `{"topic": "com.a"}`); code != 200 {
		t.Errorf("after bad requests: %d %v", code, out)
	}
}

func TestWebhookRetriesAndDelivers(t *testing.T) {
	var attempts atomic.Int32
	bodies := make(chan map[string]any, 4)
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		bodies <- v
	}))
	defer hookSrv.Close()
	r := newRouter(t)
	b, _ := newBridge(t, r, bridge.Config{Webhooks: []bridge.Webhook{{Topic: "com.example.", Match: "prefix", URL: hookSrv.URL + "/hook"}}})
	pub := join(t, r)
	if err := pub.Publish("com.example.hooked", []any{"payload"}, map[string]any{"n": 1}, &client.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-bodies:
		if v["topic"] != "com.example.hooked" || jsonOf(v["args"]) != `["payload"]` || jsonOf(v["kwargs"]) != `{"n":1}` {
			t.Fatalf("webhook body %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("webhook not called")
	}
	if attempts.Load() != 2 {
		t.Errorf("%d attempts; want 2 (one 503, one retry)", attempts.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().Webhooks[0].Delivered != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := b.Stats().Webhooks[0]; st.Delivered != 1 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("webhook stats %+v", st)
	}
}

func TestWebhookQueueBound(t *testing.T) {
	block := make(chan struct{})
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer hookSrv.Close()
	defer close(block)
	r := newRouter(t)
	b, _ := newBridge(t, r, bridge.Config{Webhooks: []bridge.Webhook{{Topic: "com.example.flood", URL: hookSrv.URL, Queue: 4}}})
	pub := join(t, r)
	for i := 0; i < 20; i++ {
		if err := pub.Publish("com.example.flood", []any{i}, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	// One event is being delivered (blocked), four wait; the rest drop.
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().Webhooks[0].Dropped < 15 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := b.Stats().Webhooks[0]; st.Dropped != 15 {
		t.Errorf("webhook stats %+v; want 15 dropped (20 events, 1 in flight, queue of 4)", st)
	}
}

func TestWebhookURLChecked(t *testing.T) {
	r := newRouter(t)
	_, err := bridge.New(r, bridge.Config{Realm: "realm1", Webhooks: []bridge.Webhook{{Topic: "com.a", URL: "ftp://example"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "webhook 0") {
		t.Fatalf("err %v; want a webhook 0 URL error", err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// num reads a WAMP number whatever Go type the codec chose for it.
func num(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	case float64:
		return n
	}
	return -1
}

// refuseAll is a realm's only authentication method, refusing everyone.
type refuseAll struct{}

func (refuseAll) Method() string { return "ticket" }
func (refuseAll) Authenticate(*core.Hello) (core.Identity, *core.AuthError) {
	return core.Identity{}, &core.AuthError{URI: "wamp.error.authentication_failed", Message: "no"}
}

// TestBridgeOnAuthenticatedRealm: the bridge is the router's own session,
// so it joins a realm whose methods no in-process client could pass, with
// its configured identity.
func TestBridgeOnAuthenticatedRealm(t *testing.T) {
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1", Authenticators: []core.Authenticator{refuseAll{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	if _, err := client.ConnectLocal(r, client.Config{Realm: "realm1", AuthID: "x", AuthMethods: []string{"ticket"}}); err == nil {
		t.Fatal("an ordinary session joined the realm that refuses everyone")
	}
	b, err := bridge.New(r, bridge.Config{Realm: "realm1", AuthID: "hooks", AuthRole: "publisher"}, nil)
	if err != nil {
		t.Fatalf("bridge on an authenticated realm: %v", err)
	}
	defer b.Close()
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	code, out := post(t, srv.URL+"/call", "", `{"procedure": "wamp.session.list"}`)
	if code != 200 {
		t.Fatalf("call: %d %v", code, out)
	}
	var ids []any
	if a, _ := out["args"].([]any); len(a) == 1 {
		ids, _ = a[0].([]any)
	}
	if len(ids) != 1 {
		t.Fatalf("wamp.session.list: %v; want the bridge's own session", out["args"])
	}
	code, out = post(t, srv.URL+"/call", "", `{"procedure": "wamp.session.get", "args": [`+jsonOf(ids[0])+`]}`)
	if a, _ := out["args"].([]any); code != 200 || len(a) != 1 || a[0].(map[string]any)["authid"] != "hooks" || a[0].(map[string]any)["authrole"] != "publisher" {
		t.Fatalf("wamp.session.get: %d %v; want authid hooks, authrole publisher", code, out)
	}
}
