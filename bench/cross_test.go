package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCrossFlags: the cross-node flags are checked before anything is
// dialed.
func TestCrossFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"pubsub", "--pids", "12"}, "--pids needs --pid"},
		{[]string{"pubsub", "--pid", "1", "--pids", "12,x"}, `--pids: "x" is not a process id`},
		{[]string{"conns", "--hold", "-1s"}, "--hold -1s: must be >= 0"},
		{[]string{"pubsub", "--sub-url", "ws://192.0.2.1:8080/ws", "--duration", "1s"}, "is not a loopback address"},
		{[]string{"rpc", "--callee-url", "http://127.0.0.1:1/", "--duration", "1s"}, "scheme must be"},
	} {
		var out, errb bytes.Buffer
		code := Main(tt.args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want a failure saying %q", tt.args, code, errb.String(), tt.want)
		}
	}
	if l := splitList(" ws://a/ws, ,ws://b/ws,"); len(l) != 2 || l[0] != "ws://a/ws" || l[1] != "ws://b/ws" {
		t.Errorf("splitList: %q", l)
	}
	// A run that cannot reach a --sub-url fails before any load.
	_, err := RunPubSub(context.Background(), Config{URL: "ws://127.0.0.1:1/ws", SubURLs: []string{"ws://127.0.0.1:1/ws"}})
	if err == nil {
		t.Fatal("a run against nothing succeeded")
	}
}
