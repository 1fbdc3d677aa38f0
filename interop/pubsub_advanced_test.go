package interop

import (
	"os"
	"path/filepath"
	"testing"
)

// advancedConfig turns on what interop/python/pubsub_advanced.py exercises:
// event history on com.adv.hist (3 events) and the kill meta procedures.
const advancedConfig = `{
  "listeners": [{"kind": "universal", "address": "127.0.0.1:0"}],
  "realms": [{"name": "realm1"}],
  "allow_meta_kill": true,
  "history": [{"topic": "com.adv.hist", "limit": 3}]
}`

// startDaemonConfig is startDaemon with a configuration file (whose first
// listener --listen overrides).
func startDaemonConfig(t *testing.T, config string) *daemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zwamp.json")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, "--config", path)
}

// TestAutobahnPythonPubSubAdvanced: Autobahn|Python gets the retained event
// on subscribing with get_retained, reads event history with
// wamp.subscription.get_events, sees another session's testaments (detached
// scope first) when that session's transport is cut, and kills a session
// with wamp.session.kill — over every serializer, the batched WebSocket
// subprotocols and RawSocket.
func TestAutobahnPythonPubSubAdvanced(t *testing.T) {
	t.Parallel()
	cases := []struct{ transport, ser string }{
		{"websocket", "json"}, {"websocket", "msgpack"}, {"websocket", "cbor"},
		{"websocket", "json.batched"}, {"websocket", "msgpack.batched"}, {"websocket", "cbor.batched"},
		{"rawsocket", "msgpack"},
	}
	for _, c := range cases {
		t.Run(c.transport+"-"+c.ser, func(t *testing.T) {
			t.Parallel()
			need(t, "python")
			slot(t)
			d := startDaemonConfig(t, advancedConfig)
			u := d.ws()
			if c.transport == "rawsocket" {
				u = d.rs()
			}
			out := run(t, "autobahn-python pubsub_advanced",
				[]string{pythonBin, filepath.Join("python", "pubsub_advanced.py"), "suite", "--url", u, "--serializer", c.ser})
			equalJSON(t, "retained event (args, details.retained)", out["retained"], `[["new"], true]`)
			equalJSON(t, "event history (args, kwargs, publication, subscription)", out["history"],
				`[[[2],{"n":2},true,true],[[3],{"n":3},true,true],[[4],{"n":4},true,true]]`)
			equalJSON(t, "event history, reverse, limit 1", out["history_last"], `[[4]]`)
			equalJSON(t, "testaments on transport loss", out["testament"],
				`[[["detached"],{"who":"t1"}],[["destroyed"],{"who":"t1"}]]`)
			equalJSON(t, "kill: GOODBYE reason, message, testament", out["kill"], `["com.adv.killed","bye",[["killed"],{}]]`)
			equalJSON(t, "GOODBYE reasons", out["leave"], `["wamp.close.goodbye_and_out","wamp.close.goodbye_and_out"]`)
			d.stop(t)
		})
	}
}
