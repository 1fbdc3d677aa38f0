package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// What the client scripts send; they echo it back through the router and
// print what came back, and the checks below compare it with these. The
// same literals are in python/client.py, node/client.js and
// browser/index.html.
const (
	uni        = "ü€𝄞中文"
	argsJSON   = `[1,"two",3.5,true,null,[1,2,[3]],{"a":"b","n":-7}]`
	kwargsJSON = `{"k":"v","n":42,"nested":{"list":[1,"x"],"f":0.25},"ü€𝄞中文":"ü€𝄞中文"}`
	// the application error every service's ".fail" raises
	appErrorJSON = `{"error":"interop.error.custom","args":["bad thing",7],"kwargs":{"code":42,"why":"ü€𝄞中文"}}`
	// calls per caller: echo ×3 (rpc, unicode, 1 MiB), fail ×1, double ×1000
	invocationsPerCaller = 1004

	goodbyeAndOut  = "wamp.close.goodbye_and_out"
	systemShutdown = "wamp.close.system_shutdown"
	// wampyLeave is what the Node script reports for wampy, which resolves
	// disconnect() once the router has answered but does not expose the
	// reason of that answer.
	wampyLeave = "closed"
)

// mixedJSON is what every subscriber must print for the publisher's mixed
// payload (python/client.py MIXED_ARGS, MIXED_KWARGS): binary as
// {"$bytes": hex}, so that bytes that became text (or the reverse) show.
var mixedJSON = func() string {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return `{"args":[{"$bytes":"000102feff"},"ü€𝄞中文",1,-2,2.5,true,null,[{"$bytes":"1020"},{"k":{"$bytes":"ff"}}]],` +
		`"kwargs":{"bin":{"$bytes":"` + hex.EncodeToString(all) + `"},"text":"ü€𝄞中文",` +
		`"nested":{"empty":{"$bytes":""},"list":[1,{"$bytes":"00"}]}}}`
}()

// bigJSON is the expected length and SHA-256 of the 1 MiB echo.
var bigJSON = func() string {
	sum := sha256.Sum256([]byte(strings.Repeat("0123456789abcdef", 65536)))
	return fmt.Sprintf(`{"len":1048576,"sha256":"%x"}`, sum)
}()

// equalJSON checks that got (decoded from a client's output) is the JSON
// value want.
func equalJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation %s: %v", what, want, err)
	}
	if !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		t.Errorf("%s:\n got %s\nwant %s", what, gb, want)
	}
}

// pick returns the value at a dotted path of a client's output, or nil.
func pick(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// positiveID reports whether v is a WAMP ID as a client printed it: an
// integer in [1, 2^53].
func positiveID(v any) bool {
	f, ok := v.(float64)
	return ok && f >= 1 && f <= 1<<53 && f == float64(int64(f))
}

// checkCalls checks the caller's side of the RPC cases (see exercise() in
// the client scripts).
func checkCalls(t *testing.T, out map[string]any) {
	t.Helper()
	equalJSON(t, "call with args/kwargs echoed", out["rpc"], `{"args":`+argsJSON+`,"kwargs":`+kwargsJSON+`}`)
	equalJSON(t, "unicode echoed", out["unicode"], `{"args":["ü€𝄞中文"],"kwargs":{"ü€𝄞中文":["ü€𝄞中文"]}}`)
	equalJSON(t, "callee's application error at the caller", out["app_error"], appErrorJSON)
	equalJSON(t, "call to a procedure nobody registered", out["no_such_procedure"], `"wamp.error.no_such_procedure"`)
	equalJSON(t, "1 MiB echoed", out["big"], bigJSON)
	equalJSON(t, "1000 calls in flight", out["inflight"], `{"n":1000,"ok":1000,"first_bad":null}`)
}

// checkSuite checks a client's suite: two sessions of the same client and
// serializer, one the callee and subscriber, the other the caller and
// publisher. Clients that do not hand the publication id to the subscriber
// (wampy) print null for it.
func checkSuite(t *testing.T, out map[string]any, leave string, publicationIDs bool) {
	t.Helper()
	equalJSON(t, "join", out["join"], `{"realm":"realm1","distinct":true,"ids_positive":true}`)
	equalJSON(t, "wamp.session.count (meta API)", out["session_count"], `2`)
	checkCalls(t, out)
	equalJSON(t, "invocations seen by the callee", out["invocations"], fmt.Sprint(invocationsPerCaller))

	acks, _ := pick(out, "pubsub.acks").([]any)
	events, _ := pick(out, "pubsub.events").([]any)
	if len(acks) != 2 || len(events) != 2 {
		t.Fatalf("pubsub: want 2 acknowledged publications and 2 events, got %v", out["pubsub"])
	}
	if !positiveID(acks[0]) || !positiveID(acks[1]) || acks[0] == acks[1] {
		t.Errorf("pubsub: PUBLISHED ids %v: want two distinct IDs", acks)
	}
	equalJSON(t, "event 1 args", pick(events[0], "args"), argsJSON)
	equalJSON(t, "event 1 kwargs", pick(events[0], "kwargs"), kwargsJSON)
	equalJSON(t, "event 2 args (unicode)", pick(events[1], "args"), `["ü€𝄞中文"]`)
	equalJSON(t, "event 2 kwargs (unicode key)", pick(events[1], "kwargs"), `{"ü€𝄞中文":"ü€𝄞中文"}`)
	for i, ev := range events {
		got := pick(ev, "publication")
		if publicationIDs && got != acks[i] {
			t.Errorf("event %d: publication %v, want the id PUBLISHED acknowledged, %v", i+1, got, acks[i])
		}
		if !publicationIDs && got != nil {
			t.Errorf("event %d: publication %v from a client said not to report it", i+1, got)
		}
	}
	equalJSON(t, "GOODBYE reasons from the router", out["leave"], fmt.Sprintf(`[%q,%q]`, leave, leave))
}

// ---- one client at a time ----------------------------------------------

func TestAutobahnPython(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"websocket", "rawsocket"} {
		for _, ser := range []string{"json", "msgpack", "cbor"} {
			t.Run(transport+"-"+ser, func(t *testing.T) {
				t.Parallel()
				need(t, "python")
				slot(t)
				d := startDaemon(t)
				u := d.ws()
				if transport == "rawsocket" {
					u = d.rs()
				}
				out := run(t, "autobahn-python", python("suite", "--url", u, "--serializer", ser))
				checkSuite(t, out, goodbyeAndOut, true)
				d.stop(t)
			})
		}
	}
}

func TestAutobahnJS(t *testing.T) {
	t.Parallel()
	// autobahn-js's RawSocket transport (Node only) has no serializer but JSON.
	for _, name := range []string{"websocket-json", "websocket-msgpack", "rawsocket-json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			need(t, "node")
			slot(t)
			d := startDaemon(t)
			transport, ser, _ := strings.Cut(name, "-")
			u := d.ws()
			if transport == "rawsocket" {
				u = d.rs()
			}
			out := run(t, "autobahn-js", node("suite", "--lib", "autobahn", "--url", u, "--serializer", ser))
			checkSuite(t, out, goodbyeAndOut, true)
			d.stop(t)
		})
	}
}

func TestWampy(t *testing.T) {
	t.Parallel()
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			need(t, "node")
			slot(t)
			d := startDaemon(t)
			out := run(t, "wampy", node("suite", "--lib", "wampy", "--url", d.ws(), "--serializer", ser))
			checkSuite(t, out, wampyLeave, false)
			d.stop(t)
		})
	}
}

// ---- several clients ---------------------------------------------------

// TestCrossSerializer publishes binary, unicode and numbers from one
// serializer and checks that subscribers on every other serializer (and on
// RawSocket) receive identical values: the router must carry JSON's
// "\u0000"+base64 binary over to MessagePack and CBOR byte strings and back.
func TestCrossSerializer(t *testing.T) {
	t.Parallel()
	for _, pub := range []string{"json", "msgpack", "cbor"} {
		t.Run("from-"+pub, func(t *testing.T) {
			t.Parallel()
			need(t, "python", "node")
			slot(t)
			d := startDaemon(t)
			const topic = "interop.mixed"
			subs := []struct {
				name           string
				argv           []string
				publicationIDs bool
			}{
				{"autobahn-python json", python("subscribe", "--url", d.ws(), "--serializer", "json", "--topic", topic), true},
				{"autobahn-python msgpack", python("subscribe", "--url", d.ws(), "--serializer", "msgpack", "--topic", topic), true},
				{"autobahn-python cbor", python("subscribe", "--url", d.ws(), "--serializer", "cbor", "--topic", topic), true},
				{"autobahn-python cbor rawsocket", python("subscribe", "--url", d.rs(), "--serializer", "cbor", "--topic", topic), true},
				// The Node clients' JSON serializers do not decode the binary
				// convention, so they subscribe over MessagePack only.
				{"autobahn-js msgpack", node("subscribe", "--lib", "autobahn", "--url", d.ws(), "--serializer", "msgpack", "--topic", topic), true},
				{"wampy msgpack", node("subscribe", "--lib", "wampy", "--url", d.ws(), "--serializer", "msgpack", "--topic", topic), false},
			}
			clients := make([]*client, len(subs))
			for i, s := range subs {
				clients[i] = startClient(t, s.name, s.argv)
			}
			for _, c := range clients {
				c.next(readyTimeout) // {"ready": true}: subscribed
			}
			out := run(t, "autobahn-python publisher "+pub, python("publish", "--url", d.ws(), "--serializer", pub, "--topic", topic))
			if !positiveID(out["publication"]) {
				t.Fatalf("publisher: PUBLISHED id %v", out["publication"])
			}
			for i, c := range clients {
				res := c.result()
				ev, _ := res["event"].(map[string]any)
				equalJSON(t, subs[i].name+" received", map[string]any{"args": ev["args"], "kwargs": ev["kwargs"]}, mixedJSON)
				if subs[i].publicationIDs && ev["publication"] != out["publication"] {
					t.Errorf("%s: publication %v, want %v", subs[i].name, ev["publication"], out["publication"])
				}
			}
			d.stop(t)
		})
	}
}

// TestCrossClientRPC has each client's procedures called by the others: a
// Python callee by autobahn-js and wampy, and autobahn-js and wampy callees
// by Python, on different serializers and transports. The Python service
// leaves by itself; the Node services are still joined when the daemon gets
// SIGTERM and must be told GOODBYE wamp.close.system_shutdown.
func TestCrossClientRPC(t *testing.T) {
	t.Parallel()
	type caller struct {
		name string
		argv func(d *daemon, prefix string) []string
	}
	cases := []struct {
		name    string
		service func(d *daemon, prefix string) []string
		callers []caller
		// byShutdown: the service is still joined when the daemon stops
		byShutdown bool
		leave      string
	}{
		{
			name: "python-callee",
			service: func(d *daemon, p string) []string {
				return python("service", "--url", d.rs(), "--serializer", "cbor", "--prefix", p)
			},
			callers: []caller{
				{"autobahn-js msgpack", func(d *daemon, p string) []string {
					return node("caller", "--lib", "autobahn", "--url", d.ws(), "--serializer", "msgpack", "--prefix", p)
				}},
				{"wampy json", func(d *daemon, p string) []string {
					return node("caller", "--lib", "wampy", "--url", d.ws(), "--serializer", "json", "--prefix", p)
				}},
			},
			leave: goodbyeAndOut,
		},
		{
			name: "autobahn-js-callee",
			service: func(d *daemon, p string) []string {
				return node("service", "--lib", "autobahn", "--url", d.ws(), "--serializer", "msgpack", "--prefix", p)
			},
			callers: []caller{
				{"autobahn-python cbor", func(d *daemon, p string) []string {
					return python("caller", "--url", d.ws(), "--serializer", "cbor", "--prefix", p)
				}},
				{"autobahn-python json rawsocket", func(d *daemon, p string) []string {
					return python("caller", "--url", d.rs(), "--serializer", "json", "--prefix", p)
				}},
			},
			byShutdown: true,
			leave:      systemShutdown,
		},
		{
			name: "wampy-callee",
			service: func(d *daemon, p string) []string {
				return node("service", "--lib", "wampy", "--url", d.ws(), "--serializer", "json", "--prefix", p)
			},
			callers: []caller{
				{"autobahn-python msgpack", func(d *daemon, p string) []string {
					return python("caller", "--url", d.ws(), "--serializer", "msgpack", "--prefix", p)
				}},
			},
			byShutdown: true,
			leave:      wampyLeave,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			need(t, "python", "node")
			slot(t)
			d := startDaemon(t)
			prefix := "interop." + strings.ReplaceAll(tc.name, "-", "_")
			svc := startClient(t, tc.name+" service", tc.service(d, prefix))
			if ready := svc.next(readyTimeout); !positiveID(ready["session"]) {
				t.Fatalf("service ready line %v: want a session id", ready)
			}
			for _, c := range tc.callers {
				out := run(t, c.name+" caller", c.argv(d, prefix))
				checkCalls(t, out)
				equalJSON(t, c.name+" leave", out["leave"], fmt.Sprintf(`[%q]`, leaveOf(c.name)))
			}
			if tc.byShutdown {
				d.stop(t)
			} else {
				svc.closeStdin()
			}
			res := svc.result()
			equalJSON(t, "service invocations", res["invocations"], fmt.Sprint(invocationsPerCaller*len(tc.callers)))
			equalJSON(t, "service's end of session", res["leave_reason"], fmt.Sprintf("%q", tc.leave))
			equalJSON(t, "service stopped by", res["stdin_closed"], fmt.Sprint(!tc.byShutdown))
			if !tc.byShutdown {
				d.stop(t)
			}
		})
	}
}

// leaveOf is the GOODBYE reason a client reports after leaving by itself.
func leaveOf(clientName string) string {
	if strings.HasPrefix(clientName, "wampy") {
		return wampyLeave
	}
	return goodbyeAndOut
}

// ---- the browser -------------------------------------------------------

// TestBrowser loads browser/index.html in headless Chromium. The page uses
// the autobahn-browser bundle to call a Python service, subscribe, have the
// service publish to it, and leave; it POSTs its outcome to /result here.
func TestBrowser(t *testing.T) {
	t.Parallel()
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			t.Parallel()
			need(t, "python", "node", "chromium")
			slot(t)
			d := startDaemon(t)
			const topic = "interop.browser"
			svc := startClient(t, "python service", python("service", "--url", d.ws(), "--serializer", "json", "--prefix", "interop.py", "--topic", topic))
			svc.next(readyTimeout)

			results := make(chan []byte, 1)
			page := servePage(t, "index.html", results)
			q := url.Values{"url": {d.ws()}, "serializer": {ser}, "topic": {topic}}
			profile := t.TempDir() // before startClient: Chromium must be gone before it is removed
			chrome := startClient(t, "chromium", []string{chromiumBin,
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
				"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic",
				// Belt and braces for "loopback only": no name resolves.
				"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
				"--user-data-dir=" + profile, page + "/?" + q.Encode()})

			var out map[string]any
			select {
			case b := <-results:
				if err := json.Unmarshal(b, &out); err != nil {
					t.Fatalf("page result %q: %v", b, err)
				}
			case <-chrome.exited:
				chrome.fail("exited (%v) before the page reported", chrome.waitErr)
			case <-time.After(clientTimeout):
				chrome.fail("page did not report within %v", clientTimeout)
			}
			if f, ok := out["fatal"]; ok {
				t.Fatalf("page failed: %v (steps %v)", f, out["steps"])
			}
			equalJSON(t, "browser: session id positive", out["session_positive"], `true`)
			equalJSON(t, "browser: call with args/kwargs", out["rpc"], `{"args":`+argsJSON+`,"kwargs":`+kwargsJSON+`}`)
			equalJSON(t, "browser: wamp.session.count", out["session_count"], `2`)
			equalJSON(t, "browser: application error", out["app_error"], appErrorJSON)
			equalJSON(t, "browser: missing procedure", out["no_such_procedure"], `"wamp.error.no_such_procedure"`)
			events, _ := out["events"].([]any)
			if len(events) != 1 {
				t.Fatalf("browser: want 1 event, got %v", out["events"])
			}
			equalJSON(t, "browser: event args", pick(events[0], "args"), `["from the browser","ü€𝄞中文"]`)
			equalJSON(t, "browser: event kwargs", pick(events[0], "kwargs"), `{"who":"ü€𝄞中文"}`)
			if !positiveID(out["published"]) || pick(events[0], "publication") != out["published"] {
				t.Errorf("browser: event publication %v, service published %v", pick(events[0], "publication"), out["published"])
			}
			equalJSON(t, "browser: GOODBYE reason", out["leave"], fmt.Sprintf("%q", goodbyeAndOut))

			svc.closeStdin()
			res := svc.result()
			equalJSON(t, "service invocations (echo, fail, publish)", res["invocations"], `3`)
			d.stop(t)
		})
	}
}

// servePage serves browser/<page> and the autobahn-browser bundle on a
// loopback port and sends the body POSTed to /result to results.
func servePage(t *testing.T, page string, results chan<- []byte) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("browser", page))
	})
	mux.HandleFunc("GET /autobahn.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("node", "node_modules", "autobahn-browser", "autobahn.min.js"))
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case results <- b:
		default: // the first report counts
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
