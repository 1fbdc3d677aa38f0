package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request signing, Crossbar's scheme for its HTTP bridge services (the
// publisher's and caller's "key"/"secret" options). A signed request
// carries five query parameters:
//
//	key        the key the bridge is configured with
//	timestamp  the client's UTC time, ISO 8601 (2011-10-14T16:59:51.123Z)
//	seq        a sequence number (an integer)
//	nonce      a random integer in [0, 2^53]
//	signature  Base64 (URL-safe alphabet) of
//	           HMAC-SHA256(secret, key | timestamp | seq | nonce | body)
//
// where | is concatenation and body the raw request body. crossbarconnect
// and Crossbar's own tests compute exactly this.
//
// Crossbar checks the timestamp against timestamp_delta_limit and nothing
// else; a captured request could be replayed within that window. Here the
// window is always bounded (DefaultMaxSkew unless configured) and every
// nonce accepted is remembered until its timestamp leaves the window, so a
// replay is refused. The secret never travels; a request without a valid
// signature is refused before its body is decoded.

// DefaultMaxSkew is Signing.MaxSkew's default.
const DefaultMaxSkew = 5 * time.Minute

// maxNonces bounds the nonces remembered; past it (more signed requests
// in one window than that) requests are refused with 429 rather than
// letting memory grow or forgetting nonces early.
const maxNonces = 1 << 17

// Signing configures request signing.
type Signing struct {
	Key, Secret string
	// MaxSkew bounds |now - timestamp| (Crossbar's timestamp_delta_limit);
	// default DefaultMaxSkew.
	MaxSkew time.Duration
}

// signer verifies signed requests and remembers their nonces.
type signer struct {
	cfg Signing
	now func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // nonce → when it may be forgotten
	sweep  time.Time
}

func newSigner(cfg Signing) *signer {
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	return &signer{cfg: cfg, now: time.Now, nonces: map[string]time.Time{}}
}

// Sign returns the signature of a request: the value of its signature
// parameter. For clients and tests.
func Sign(key, secret, timestamp, seq, nonce string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(key))
	m.Write([]byte(timestamp))
	m.Write([]byte(seq))
	m.Write([]byte(nonce))
	m.Write(body)
	return base64.URLEncoding.EncodeToString(m.Sum(nil))
}

// SignedQuery returns the query parameters of a request signed now with
// key and secret.
func SignedQuery(key, secret string, seq uint64, nonce uint64, body []byte) url.Values {
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	s, n := strconv.FormatUint(seq, 10), strconv.FormatUint(nonce, 10)
	return url.Values{"key": {key}, "timestamp": {ts}, "seq": {s}, "nonce": {n}, "signature": {Sign(key, secret, ts, s, n, body)}}
}

// signError is why a signed request was refused.
type signError struct {
	status int
	uri    string
	msg    string
}

func refused(uri, msg string) *signError {
	return &signError{http.StatusUnauthorized, uri, msg}
}

// verify checks r's signature over body; nil when it is good (and its
// nonce is now spent).
func (s *signer) verify(r *http.Request, body []byte) *signError {
	q := r.URL.Query()
	var p [5]string
	for i, name := range [...]string{"key", "timestamp", "seq", "nonce", "signature"} {
		v := q[name]
		if len(v) != 1 || v[0] == "" {
			return refused("bridge.error.unsigned", "signed request expected: query parameter "+strconv.Quote(name)+" missing or repeated")
		}
		p[i] = v[0]
	}
	key, ts, seq, nonce, sig := p[0], p[1], p[2], p[3], p[4]
	if !hmac.Equal([]byte(key), []byte(s.cfg.Key)) {
		return refused("bridge.error.bad_signature", "unknown key")
	}
	if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
		return refused("bridge.error.bad_signature", "seq is not an integer")
	}
	if n, err := strconv.ParseUint(nonce, 10, 64); err != nil || n > 1<<53 {
		return refused("bridge.error.bad_signature", "nonce is not an integer in [0, 2^53]")
	}
	got, err := base64.URLEncoding.DecodeString(sig)
	if err != nil {
		// Unpadded, or the standard alphabet: both are seen in the wild.
		if got, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(sig, "=")); err != nil {
			got, err = base64.StdEncoding.DecodeString(sig)
		}
	}
	want, _ := base64.URLEncoding.DecodeString(Sign(key, s.cfg.Secret, ts, seq, nonce, body))
	if err != nil || !hmac.Equal(got, want) {
		return refused("bridge.error.bad_signature", "signature does not match (HMAC-SHA256 of key|timestamp|seq|nonce|body with the shared secret, URL-safe Base64)")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return refused("bridge.error.bad_timestamp", "timestamp is not ISO 8601 UTC (2011-10-14T16:59:51.123Z)")
	}
	now := s.now()
	if d := now.Sub(t); d > s.cfg.MaxSkew || d < -s.cfg.MaxSkew {
		return refused("bridge.error.bad_timestamp", "timestamp is "+d.Round(time.Second).String()+" away from the bridge's clock, more than "+s.cfg.MaxSkew.String())
	}
	return s.spend(nonce, t, now)
}

// spend records nonce, refusing one seen before within the window. An
// entry is forgotten once its timestamp is out of the window: a replay
// after that fails the timestamp check.
func (s *signer) spend(nonce string, ts, now time.Time) *signError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.nonces[nonce]; ok && now.Before(until) {
		return refused("bridge.error.replayed", "nonce already used (replayed request)")
	}
	if len(s.nonces) >= maxNonces || now.Sub(s.sweep) > s.cfg.MaxSkew {
		for n, until := range s.nonces {
			if !now.Before(until) {
				delete(s.nonces, n)
			}
		}
		s.sweep = now
		if len(s.nonces) >= maxNonces {
			return &signError{http.StatusTooManyRequests, "bridge.error.busy", "too many signed requests in the timestamp window; try again later"}
		}
	}
	s.nonces[nonce] = ts.Add(s.cfg.MaxSkew)
	return nil
}
