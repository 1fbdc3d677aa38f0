package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	zclient "github.com/zwamp/zwamp/client"
)

// clusterConfig is one node of a two-daemon cluster: node "a" accepts
// routes on routeAddr (and lists itself, which NATS ignores), node "c"
// routes to it. One registry replica (two nodes cannot keep a majority of
// three).
func clusterConfig(t *testing.T, node, routeAddr string) string {
	listen, routes := `"127.0.0.1:0"`, `["nats-route://`+routeAddr+`"]`
	if node == "a" {
		listen = fmt.Sprintf("%q", routeAddr)
	}
	return fmt.Sprintf(`{
  "listeners": [{"kind": "universal", "address": "127.0.0.1:0"}],
  "realms": [{"name": "realm1"}],
  "admin": {"disabled": true},
  "cluster": {"name": "interop", "node": %q, "listen": %s, "routes": %s,
              "kv_replicas": 1, "secret": "interop-route-secret", "jetstream_dir": %q}
}`, node, listen, routes, filepath.Join(t.TempDir(), "js"))
}

// TestClusterCrossNodeRPC: Autobahn|Python joined to daemon A calls an
// autobahn-js callee joined to daemon C of the same cluster: every call of
// the caller suite (args/kwargs, unicode, an application error, a missing
// procedure, 1 MiB, 1000 calls in flight) crosses the nodes.
func TestClusterCrossNodeRPC(t *testing.T) {
	t.Parallel()
	need(t, "python", "node")
	slot(t)
	routeAddr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ds := startDaemonsTogether(t, clusterConfig(t, "a", routeAddr), clusterConfig(t, "c", routeAddr))
	a, c := ds[0], ds[1]
	prefix := "interop.cluster"
	svc := startClient(t, "autobahn-js service on node C", node("service", "--lib", "autobahn", "--url", c.ws(), "--serializer", "msgpack", "--prefix", prefix))
	if ready := svc.next(readyTimeout); !positiveID(ready["session"]) {
		t.Fatalf("service ready line %v: want a session id", ready)
	}
	// The registration reaches node A through the cluster's registry: wait
	// until A's dealer routes the procedure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	probe, err := zclient.Connect(ctx, a.ws(), zclient.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	for {
		r, err := probe.Call(ctx, "wamp.registration.lookup", []any{prefix + ".echo"}, nil, nil)
		if err != nil {
			t.Fatalf("waiting for the registration on node A: %v", err)
		}
		if len(r.Args) == 1 && r.Args[0] != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := run(t, "autobahn-python caller on node A", python("caller", "--url", a.ws(), "--serializer", "json", "--prefix", prefix))
	checkCalls(t, out)
	svc.closeStdin()
	res := svc.result()
	equalJSON(t, "service invocations", res["invocations"], fmt.Sprint(invocationsPerCaller))
	stopTogether(t, a, c)
}

// stopTogether sends SIGTERM to every daemon at once and checks that each
// exits 0 with no error in its log other than NATS failing to reach a
// route to a node that is stopping too.
func stopTogether(t *testing.T, ds ...*daemon) {
	t.Helper()
	for _, d := range ds {
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM: %v", err)
		}
	}
	for _, d := range ds {
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			d.kill()
			t.Fatalf("daemon still running 30 s after SIGTERM; its log:\n%s", d.log.String())
		}
		log := d.log.String()
		if d.waitErr != nil {
			t.Fatalf("daemon after SIGTERM: %v, want exit status 0; its log:\n%s", d.waitErr, log)
		}
		for _, line := range strings.Split(log, "\n") {
			bad := strings.Contains(line, "panic:") || strings.Contains(line, "DATA RACE") ||
				strings.Contains(line, "level=ERROR") && !strings.Contains(line, "nats: Error trying to connect to route")
			if bad {
				t.Errorf("daemon log line %q; its log:\n%s", line, log)
				break
			}
		}
	}
}

// startDaemonsTogether starts one daemon per configuration at once and
// waits until all accept connections: clustered daemons open their
// listeners only after joining the cluster, which needs the others up.
func startDaemonsTogether(t *testing.T, configs ...string) []*daemon {
	t.Helper()
	bin := daemonBinary(t)
	ds := make([]*daemon, len(configs))
	for i, config := range configs {
		path := filepath.Join(t.TempDir(), "zwamp.json")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		addr, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		d := launchDaemon(t, bin, addr, "--config", path)
		t.Cleanup(d.kill)
		ds[i] = d
	}
	for _, d := range ds {
		if err := d.waitAccepting(90 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return ds
}
