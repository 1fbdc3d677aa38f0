package bridge

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// Config configures one bridge.
type Config struct {
	// Realm the bridge's session joins.
	Realm string
	// AuthID and AuthRole are the bridge session's identity (default
	// "http-bridge" both). The session joins without authentication (it
	// is the router's own); on a realm with roles, AuthRole's permissions
	// decide what the bridge may publish and call.
	AuthID, AuthRole string
	// Token, when set, is the bearer token every request must carry
	// (Authorization: Bearer TOKEN).
	Token string
	// Signing, when set, requires every request to be signed with
	// Crossbar's scheme (sign.go): an alternative to Token for clients
	// written for Crossbar's bridge, or in addition to it. Each one
	// configured is checked.
	Signing *Signing
	// MaxBody bounds a request body in bytes (default 1 MiB).
	MaxBody int64
	// CallTimeout bounds a call made through /call (default 30 s).
	CallTimeout time.Duration
	// Webhooks POST the events of their subscriptions to URLs.
	Webhooks []Webhook
}

// DefaultMaxBody is Config.MaxBody's default.
const DefaultMaxBody = 1 << 20

// Bridge serves /publish and /call for one realm and runs its webhooks.
type Bridge struct {
	cfg   Config
	c     *client.Client
	log   *slog.Logger
	hooks []*hook
	sign  *signer // nil: requests need no signature
	stats counters
}

type counters struct {
	published, calls, callErrors, badRequests, unauthorized atomic.Int64
}

// Stats counts what a bridge did since it started.
type Stats struct {
	Published, Calls, CallErrors, BadRequests, Unauthorized int64
	Webhooks                                                []WebhookStats
}

// New joins cfg.Realm on r and subscribes the webhooks.
func New(r *core.Router, cfg Config, log *slog.Logger) (*Bridge, error) {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.AuthID == "" {
		cfg.AuthID = "http-bridge"
	}
	if cfg.AuthRole == "" {
		cfg.AuthRole = "http-bridge"
	}
	if log == nil {
		log = slog.Default()
	}
	c, err := client.ConnectLocalAs(r, core.Identity{AuthID: cfg.AuthID, AuthRole: cfg.AuthRole, AuthMethod: "trusted", AuthProvider: "zwamp"},
		client.Config{Realm: cfg.Realm, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("bridge: join realm %q: %w", cfg.Realm, err)
	}
	b := &Bridge{cfg: cfg, c: c, log: log}
	if cfg.Signing != nil {
		if cfg.Signing.Key == "" || cfg.Signing.Secret == "" {
			c.Close()
			return nil, fmt.Errorf("bridge: realm %q: signing needs both a key and a secret", cfg.Realm)
		}
		b.sign = newSigner(*cfg.Signing)
	}
	for i := range cfg.Webhooks {
		h, err := startHook(c, cfg.Webhooks[i], log)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("bridge: realm %q webhook %d: %w", cfg.Realm, i, err)
		}
		b.hooks = append(b.hooks, h)
	}
	return b, nil
}

// Close stops the webhooks and leaves the realm.
func (b *Bridge) Close() {
	for _, h := range b.hooks {
		h.stop()
	}
	b.c.Close()
}

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	st := Stats{
		Published: b.stats.published.Load(), Calls: b.stats.calls.Load(), CallErrors: b.stats.callErrors.Load(),
		BadRequests: b.stats.badRequests.Load(), Unauthorized: b.stats.unauthorized.Load(),
	}
	for _, h := range b.hooks {
		st.Webhooks = append(st.Webhooks, h.stats())
	}
	return st
}

// Handler serves POST /publish and POST /call relative to where it is
// mounted (use http.StripPrefix for a prefix).
func (b *Bridge) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/publish", b.guard(b.publish))
	mux.HandleFunc("/call", b.guard(b.call))
	return mux
}

// publishRequest is Crossbar's publisher body.
type publishRequest struct {
	Topic   string         `json:"topic"`
	Args    []any          `json:"args"`
	Kwargs  map[string]any `json:"kwargs"`
	Options struct {
		ExcludeMe  *bool `json:"exclude_me"`
		DiscloseMe bool  `json:"disclose_me"`
	} `json:"options"`
}

// callRequest is Crossbar's caller body.
type callRequest struct {
	Procedure string         `json:"procedure"`
	Args      []any          `json:"args"`
	Kwargs    map[string]any `json:"kwargs"`
	Options   struct {
		// Timeout in milliseconds, as in WAMP's CALL options.
		Timeout int64 `json:"timeout"`
	} `json:"options"`
}

func (b *Bridge) publish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	if !b.decode(w, r, &req) {
		return
	}
	if req.Topic == "" {
		b.badRequest(w, "missing \"topic\"")
		return
	}
	id, err := b.c.PublishAck(req.Topic, req.Args, req.Kwargs, &client.PublishOptions{
		ExcludeMe: req.Options.ExcludeMe, DiscloseMe: req.Options.DiscloseMe,
	})
	if err != nil {
		b.wampError(w, err)
		return
	}
	b.stats.published.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

func (b *Bridge) call(w http.ResponseWriter, r *http.Request) {
	var req callRequest
	if !b.decode(w, r, &req) {
		return
	}
	if req.Procedure == "" {
		b.badRequest(w, "missing \"procedure\"")
		return
	}
	timeout := b.cfg.CallTimeout
	if t := time.Duration(req.Options.Timeout) * time.Millisecond; t > 0 && t < timeout {
		timeout = t
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	b.stats.calls.Add(1)
	res, err := b.c.Call(ctx, req.Procedure, req.Args, req.Kwargs, nil)
	if err != nil {
		b.stats.callErrors.Add(1)
		b.wampError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"args": orEmpty(res.Args), "kwargs": orEmptyMap(res.Kwargs)})
}

// guard checks the method and the bearer token.
func (b *Bridge) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody("bridge.error.method_not_allowed", "use POST"))
			return
		}
		if b.cfg.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(b.cfg.Token)) != 1 {
				b.stats.unauthorized.Add(1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="zwamp bridge"`)
				writeJSON(w, http.StatusUnauthorized, errorBody("bridge.error.unauthorized", "missing or wrong bearer token"))
				return
			}
		}
		h(w, r)
	}
}

// decode reads a JSON body of at most MaxBody bytes into v; on failure it
// answers and reports false.
func (b *Bridge) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		b.stats.badRequests.Add(1)
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("bridge.error.body_too_large",
			fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)))
		return false
	case err != nil:
		b.badRequest(w, "reading the body: "+err.Error())
		return false
	}
	if b.sign != nil {
		if e := b.sign.verify(r, body); e != nil {
			b.stats.unauthorized.Add(1)
			writeJSON(w, e.status, errorBody(e.uri, e.msg))
			return false
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	// Numbers stay json.Number until integers(): a float64 would send a
	// WAMP id such as 5009471777618490 as a float, which peers refuse.
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		b.badRequest(w, "body is not the expected JSON object: "+err.Error())
		return false
	}
	if dec.More() {
		b.badRequest(w, "body has data after the JSON object")
		return false
	}
	switch v := v.(type) {
	case *publishRequest:
		v.Args, v.Kwargs = integers(v.Args).([]any), integersMap(v.Kwargs)
	case *callRequest:
		v.Args, v.Kwargs = integers(v.Args).([]any), integersMap(v.Kwargs)
	}
	return true
}

// integers turns the json.Numbers in v into int64 (uint64 above
// MaxInt64) when they are integers and float64 otherwise, in place.
func integers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = integers(x[i])
		}
	case map[string]any:
		integersMap(x)
	}
	return v
}

func integersMap(m map[string]any) map[string]any {
	for k, e := range m {
		m[k] = integers(e)
	}
	return m
}

func (b *Bridge) badRequest(w http.ResponseWriter, msg string) {
	b.stats.badRequests.Add(1)
	writeJSON(w, http.StatusBadRequest, errorBody("bridge.error.bad_request", msg))
}

// wampError answers a failed publish or call: the WAMP error as JSON, with
// the HTTP status closest to its meaning.
func (b *Bridge) wampError(w http.ResponseWriter, err error) {
	var we *client.Error
	switch {
	case errors.As(err, &we):
		writeJSON(w, statusFor(we.URI), map[string]any{"error": we.URI, "args": orEmpty(we.Args), "kwargs": orEmptyMap(we.Kwargs)})
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, client.ErrTimeout):
		writeJSON(w, http.StatusGatewayTimeout, errorBody("wamp.error.timeout", "no answer in time"))
	case errors.Is(err, client.ErrClosed):
		writeJSON(w, http.StatusServiceUnavailable, errorBody("bridge.error.unavailable", "the bridge's session has ended"))
	default:
		writeJSON(w, http.StatusBadGateway, errorBody("bridge.error.failed", err.Error()))
	}
}

// statusFor maps a WAMP error URI to an HTTP status: the caller's mistakes
// are 4xx, the router's or the callee's failures 5xx.
func statusFor(uri string) int {
	switch uri {
	case "wamp.error.no_such_procedure", "wamp.error.no_such_realm":
		return http.StatusNotFound
	case "wamp.error.not_authorized", "wamp.error.authorization_failed":
		return http.StatusForbidden
	case "wamp.error.invalid_uri", "wamp.error.invalid_argument", "wamp.error.invalid_payload":
		return http.StatusBadRequest
	case "wamp.error.timeout":
		return http.StatusGatewayTimeout
	case "wamp.error.canceled", "wamp.error.unavailable", "wamp.error.no_available_callee":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func errorBody(uri, msg string) map[string]any {
	return map[string]any{"error": uri, "args": []any{msg}, "kwargs": map[string]any{}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"bridge.error.failed","args":["the answer cannot be written as JSON"],"kwargs":{}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
