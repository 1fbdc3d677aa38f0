package interop

import (
	"os"
	"path/filepath"
	"testing"
)

// Advanced RPC features with real clients (python/rpc_advanced.py,
// node/rpc_advanced.js): call canceling, dealer-enforced call timeouts,
// progressive call results and registration revocation. Progressive call
// invocations have no client here that sends them (Autobahn|Python 22.7.1
// and autobahn-js 26.3.1 lack the feature); core's tests cover them.

func pythonAdvanced(args ...string) []string {
	return append([]string{pythonBin, filepath.Join("python", "rpc_advanced.py")}, args...)
}

func nodeAdvanced(args ...string) []string {
	return append([]string{"node", filepath.Join("node", "rpc_advanced.js")}, args...)
}

// TestRPCAdvancedPython: Autobahn|Python as caller and callee. CANCEL
// (Autobahn sends no mode: killnowait) gets the caller ERROR
// wamp.error.canceled at once and the callee an INTERRUPT; a 300 ms
// timeout gets the caller ERROR wamp.error.timeout and the callee an
// INTERRUPT; a timeout that does not fire leaves the RESULT alone (a second
// answer would be a ProtocolError in Autobahn and end the session); a
// callee answering wamp.error.unavailable has the call re-routed to the
// other callee of a roundrobin registration.
func TestRPCAdvancedPython(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ transport, ser string }{{"websocket", "json"}, {"websocket", "msgpack"}, {"rawsocket", "cbor"}} {
		t.Run(tc.transport+"-"+tc.ser, func(t *testing.T) {
			t.Parallel()
			need(t, "python")
			slot(t)
			d := startDaemon(t)
			u := d.ws()
			if tc.transport == "rawsocket" {
				u = d.rs()
			}
			out := run(t, "autobahn-python rpc_advanced", pythonAdvanced("suite", "--url", u, "--serializer", tc.ser))
			equalJSON(t, "cancel", out["cancel"], `{"callee_interrupted":"cancel","caller_settled":true,"caller_errors":["wamp.error.canceled"]}`)
			equalJSON(t, "timeout", out["timeout"], `{"error":"wamp.error.timeout","callee_interrupted":"timeout"}`)
			equalJSON(t, "timeout not reached", out["timeout_not_reached"], `"done"`)
			equalJSON(t, "progressive results", out["progressive"], `{"progress":[0,1,2],"final":"done"}`)
			equalJSON(t, "re-routing after wamp.error.unavailable", out["reroute"], `{"result":"served","tried":["unavailable","available"]}`)
			equalJSON(t, "interrupts seen by the callee", out["interrupts"], `2`)
			equalJSON(t, "leave", out["leave"], `["wamp.close.goodbye_and_out","wamp.close.goodbye_and_out"]`)
			d.stop(t)
		})
	}
}

// TestRPCAdvancedJS: autobahn-js cancels in kill mode a call to an
// Autobahn|Python callee (INTERRUPT; the callee's ERROR wamp.error.canceled
// ends the call) and a call to an autobahn-js callee, which does not
// announce call_canceling (the dealer cancels as skip: ERROR at once, the
// callee's late result is discarded); receives progressive results from
// the Python callee; and registers with disclose_caller, so its callee
// learns the caller's session id, authid and authrole.
func TestRPCAdvancedJS(t *testing.T) {
	t.Parallel()
	for _, ser := range []string{"json", "msgpack"} {
		t.Run("websocket-"+ser, func(t *testing.T) {
			t.Parallel()
			need(t, "python", "node")
			slot(t)
			d := startDaemon(t)
			svc := startClient(t, "autobahn-python rpc_advanced service", pythonAdvanced("service", "--url", d.ws(), "--serializer", "cbor"))
			svc.next(readyTimeout)
			out := run(t, "autobahn-js rpc_advanced", nodeAdvanced("caller", "--url", d.ws(), "--serializer", ser))
			equalJSON(t, "kill, canceling callee", out["kill_canceling_callee"], `{"error":"wamp.error.canceled"}`)
			equalJSON(t, "kill, callee without call_canceling", out["kill_plain_callee"], `{"error":"wamp.error.canceled","before_callee_answered":true}`)
			equalJSON(t, "progressive results", out["progressive"], `{"progress":[0,1,2],"final":"done"}`)
			equalJSON(t, "disclose_caller", out["disclose_caller"], `{"caller_is_session":true,"authid_is_callers":true,"authrole":"anonymous"}`)
			equalJSON(t, "a call after the cancels", out["after"], `{"result":"done"}`)
			equalJSON(t, "leave", out["leave"], `["wamp.close.goodbye_and_out","wamp.close.goodbye_and_out"]`)
			svc.closeStdin()
			res := svc.result()
			equalJSON(t, "interrupts seen by the Python callee", res["interrupted"], `1`)
			d.stop(t)
		})
	}
}

// TestRegistrationRevocationPython: with allow_meta_kill on, an
// Autobahn|Python session calls wamp.registration.remove_callee on another
// one's registration; the callee (it announces registration_revocation)
// gets [UNREGISTERED, 0, {registration, reason}] and the procedure is gone.
func TestRegistrationRevocationPython(t *testing.T) {
	t.Parallel()
	need(t, "python")
	slot(t)
	cfg := filepath.Join(t.TempDir(), "zwamp.json")
	if err := os.WriteFile(cfg, []byte(`{"realms": [{"name": "realm1"}], "allow_meta_kill": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", cfg)
	out := run(t, "autobahn-python rpc_advanced revoke", pythonAdvanced("revoke", "--url", d.ws(), "--serializer", "msgpack"))
	equalJSON(t, "call before", out["before"], `"here"`)
	equalJSON(t, "remove_callee result", out["remove_callee"], `null`)
	equalJSON(t, "UNREGISTERED seen by the callee", out["unregistered"], `[{"reason":"adv.reason.moving","registration_matches":true}]`)
	equalJSON(t, "call after", out["after"], `{"error":"wamp.error.no_such_procedure"}`)
	equalJSON(t, "leave", out["leave"], `["wamp.close.goodbye_and_out","wamp.close.goodbye_and_out"]`)
	d.stop(t)
}
