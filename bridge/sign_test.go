package bridge_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/bridge"
	"github.com/zwamp/zwamp/client"
)

// postQuery posts body to url with the query q and returns the status and
// the answer's error URI.
func postQuery(t *testing.T, u string, q url.Values, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u+"?"+q.Encode(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Error string }
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, out.Error
}

func signedAt(key, secret string, ts time.Time, seq, nonce uint64, body string) url.Values {
	tss := ts.UTC().Format("2006-01-02T15:04:05.000Z")
	s, n := strconv.FormatUint(seq, 10), strconv.FormatUint(nonce, 10)
	return url.Values{"key": {key}, "timestamp": {tss}, "seq": {s}, "nonce": {n}, "signature": {bridge.Sign(key, secret, tss, s, n, []byte(body))}}
}

// TestSignedRequests: with Crossbar's key/secret signing configured, a
// signed publish reaches the subscriber and a signed call its callee;
// a bad signature, another key, a tampered body, a stale or future
// timestamp, a replayed nonce and a missing parameter are refused with
// 401 and the reason, and nothing is published for them.
func TestSignedRequests(t *testing.T) {
	r := newRouter(t)
	sub := join(t, r)
	events := make(chan *client.Event, 16)
	if _, err := sub.Subscribe("com.example.signed", func(ev *client.Event) { events <- ev }, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Register("com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: []any{inv.Args[0].(int64) + inv.Args[1].(int64)}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	b, srv := newBridge(t, r, bridge.Config{Signing: &bridge.Signing{Key: "app1", Secret: "s3cret", MaxSkew: time.Minute}})
	pub := srv.URL + "/publish"
	body := `{"topic": "com.example.signed", "args": ["signed"]}`

	if code, uri := postQuery(t, pub, bridge.SignedQuery("app1", "s3cret", 1, 42, []byte(body)), body); code != 200 {
		t.Fatalf("signed publish: %d %s", code, uri)
	}
	select {
	case ev := <-events:
		if len(ev.Args) != 1 || ev.Args[0] != "signed" {
			t.Fatalf("event %v", ev.Args)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber got no event")
	}
	callBody := `{"procedure": "com.example.add", "args": [2, 3]}`
	if code, uri := postQuery(t, srv.URL+"/call", bridge.SignedQuery("app1", "s3cret", 2, 43, []byte(callBody)), callBody); code != 200 {
		t.Fatalf("signed call: %d %s", code, uri)
	}

	now := time.Now()
	bad := signedAt("app1", "s3cret", now, 3, 44, body)
	bad.Set("signature", bridge.Sign("app1", "wrong", bad.Get("timestamp"), "3", "44", []byte(body)))
	replay := signedAt("app1", "s3cret", now, 9, 99, body)
	missing := signedAt("app1", "s3cret", now, 10, 100, body)
	missing.Del("nonce")
	for _, c := range []struct {
		name string
		q    url.Values
		body string
		uri  string
	}{
		{"no signature at all", url.Values{}, body, "bridge.error.unsigned"},
		{"missing nonce", missing, body, "bridge.error.unsigned"},
		{"wrong secret", bad, body, "bridge.error.bad_signature"},
		{"another key", signedAt("app2", "s3cret", now, 4, 45, body), body, "bridge.error.bad_signature"},
		{"tampered body", signedAt("app1", "s3cret", now, 5, 46, body), strings.Replace(body, "signed", "forged", 1), "bridge.error.bad_signature"},
		{"stale timestamp", signedAt("app1", "s3cret", now.Add(-2*time.Minute), 6, 47, body), body, "bridge.error.bad_timestamp"},
		{"future timestamp", signedAt("app1", "s3cret", now.Add(2*time.Minute), 7, 48, body), body, "bridge.error.bad_timestamp"},
		{"replay, first time", replay, body, ""},
		{"replay, second time", replay, body, "bridge.error.replayed"},
		{"same nonce, new signature", signedAt("app1", "s3cret", now, 11, 99, body), body, "bridge.error.replayed"},
	} {
		code, uri := postQuery(t, pub, c.q, c.body)
		if c.uri == "" {
			if code != 200 {
				t.Errorf("%s: %d %s, want 200", c.name, code, uri)
			} else {
				<-events
			}
			continue
		}
		if code != http.StatusUnauthorized || uri != c.uri {
			t.Errorf("%s: %d %s, want 401 %s", c.name, code, uri, c.uri)
		}
	}
	select {
	case ev := <-events:
		t.Fatalf("a refused request was published: %v", ev.Args)
	case <-time.After(100 * time.Millisecond):
	}
	if st := b.Stats(); st.Unauthorized != 9 || st.Published != 2 {
		t.Errorf("stats %+v: want 9 unauthorized, 2 published", st)
	}
}

// TestSignedRequestPython signs a request the way Crossbar's own tests and
// crossbarconnect do (Python's hmac, urlsafe_b64encode) and posts it.
func TestSignedRequestPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	r := newRouter(t)
	_, srv := newBridge(t, r, bridge.Config{Signing: &bridge.Signing{Key: "foobar", Secret: "secret"}})
	body := `{"topic": "com.myapp.topic1", "args": ["Hello, world"]}`
	script := `
import base64, hashlib, hmac, random, sys, urllib.parse
from datetime import datetime, timezone
body = sys.argv[1].encode()
now = datetime.now(timezone.utc)
params = {"timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "seq": "1", "key": "foobar",
          "nonce": str(random.randint(0, 9007199254740992))}
hm = hmac.new(b"secret", None, hashlib.sha256)
for k in ("key", "timestamp", "seq", "nonce"):
    hm.update(params[k].encode())
hm.update(body)
params["signature"] = base64.urlsafe_b64encode(hm.digest()).decode()
print(urllib.parse.urlencode(params))
`
	out, err := exec.Command(py, "-c", script, body).Output()
	if err != nil {
		t.Fatal(err)
	}
	q, err := url.ParseQuery(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	if code, uri := postQuery(t, srv.URL+"/publish", q, body); code != 200 {
		t.Fatalf("Python-signed request: %d %s", code, uri)
	}
}
