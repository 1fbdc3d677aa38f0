package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAutobahnPythonTLS runs Autobahn|Python over wss:// and rss://
// against the daemon's TLS listener (crypto/tls on nbio), verifying the
// router's certificate with a test CA: RPC with a 100 KiB payload and an
// acknowledged publish to a subscriber.
func TestAutobahnPythonTLS(t *testing.T) {
	t.Parallel()
	need(t, "python")
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
		"-keyout", key, "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "zwamp.json")
	body := `{"realms": [{"name": "realm1"}], "listeners": [{"address": "127.0.0.1:0", "tls": {"cert": "` + cert + `", "key": "` + key + `"}}]}`
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ scheme, ser string }{{"wss", "json"}, {"wss", "msgpack"}, {"rss", "cbor"}} {
		t.Run(c.scheme+"-"+c.ser, func(t *testing.T) {
			slot(t)
			d := startDaemon(t, "--config", conf)
			url := c.scheme + "://" + d.addr + "/ws"
			if c.scheme == "rss" {
				url = "rss://" + d.addr
			}
			out := run(t, "autobahn-python over "+c.scheme, []string{pythonBin, filepath.Join("python", "wss.py"),
				"--url", url, "--serializer", c.ser, "--ca", cert})
			if out["echo_ok"] != true || out["event"] != "over tls" {
				t.Fatalf("autobahn-python over %s: %v", c.scheme, out)
			}
			d.stop(t)
		})
	}
}
