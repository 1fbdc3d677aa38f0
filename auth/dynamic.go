package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// Dynamic is a Source that asks a procedure registered by a trusted
// session, with Crossbar's contract: the router calls it with
// (realm, authid, details) and gets back either a role (string) or a dict
// with "role" and, per method, "secret" (ticket is checked by the
// procedure itself, so it only needs to return; wampcra: the shared
// secret, with "salt"/"iterations"/"keylen" when salted), "pubkey"
// (cryptosign, hex), "extra" (sent as WELCOME.authextra) and optionally
// "authid". An error from the procedure refuses the login (its
// wamp.error.* URI is passed on).
//
// details carries "authmethod", "authextra", "session" (the id the
// session will get), "transport" (kind, peer) and, for ticket, "ticket".
//
// The call goes through an in-process client session joined to Realm with
// method zwamp-local (LocalTrust), made on first use and again after it
// ends; it runs on core's worker pool.
type Dynamic struct {
	// Procedure is the authenticator's URI; Realm the realm it is
	// registered in.
	Procedure, Realm string

	mu     sync.Mutex
	router *core.Router
	c      *client.Client
}

// SetRouter gives d the router to call through; cmd/zwamp calls it once the
// router exists (it is built from the same configuration as d).
func (d *Dynamic) SetRouter(r *core.Router) {
	d.mu.Lock()
	d.router = r
	d.mu.Unlock()
}

// DynamicError is a refusal by the dynamic authenticator.
type DynamicError struct {
	URI string
	Err error
}

func (e *DynamicError) Error() string {
	return "auth: dynamic authenticator: " + e.URI + ": " + e.Err.Error()
}
func (e *DynamicError) Unwrap() error { return e.Err }

func (d *Dynamic) session() (*client.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c != nil {
		select {
		case <-d.c.Done():
			d.c = nil
		default:
			return d.c, nil
		}
	}
	if d.router == nil {
		return nil, errors.New("auth: dynamic authenticator has no router")
	}
	c, err := client.ConnectLocal(d.router, client.Config{Realm: d.Realm, AuthID: "zwamp-authenticator", AuthMethods: []string{MethodLocal, MethodAnonymous}})
	if err != nil {
		return nil, fmt.Errorf("auth: dynamic authenticator session: %w", err)
	}
	d.c = c
	return c, nil
}

// Close ends the service session.
func (d *Dynamic) Close() {
	d.mu.Lock()
	c := d.c
	d.c = nil
	d.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// Lookup implements Source.
func (d *Dynamic) Lookup(ctx context.Context, q *Query) (*Principal, error) {
	c, err := d.session()
	if err != nil {
		return nil, err
	}
	h := q.Hello
	details := map[string]any{
		"authmethod": q.Method, "authid": h.AuthID, "authrole": h.AuthRole, "session": h.Session,
		"transport": map[string]any{"type": h.Transport.Kind, "protocol": h.Transport.Protocol, "peer": h.Transport.RemoteAddr},
	}
	if h.AuthExtra != nil {
		details["authextra"] = h.AuthExtra
	}
	if q.Method == MethodTicket {
		details["ticket"] = q.Ticket
	}
	if q.CertFingerprint != "" {
		details["transport"].(map[string]any)["client_cert"] = map[string]any{"cn": h.AuthID, "sha256": q.CertFingerprint}
	}
	res, err := c.Call(ctx, d.Procedure, []any{h.Realm, h.AuthID, details}, nil, nil)
	if err != nil {
		var we *client.Error
		if errors.As(err, &we) {
			uri := we.URI
			if !strings.HasPrefix(uri, "wamp.error.") {
				uri = core.ErrAuthenticationFailed
			}
			return nil, &DynamicError{URI: uri, Err: err}
		}
		return nil, &DynamicError{URI: core.ErrAuthenticationFailed, Err: err}
	}
	if len(res.Args) == 0 {
		return nil, &DynamicError{URI: core.ErrAuthenticationFailed, Err: errors.New("no result")}
	}
	p, err := principalFromResult(res.Args[0], q)
	if err != nil {
		return nil, &DynamicError{URI: core.ErrAuthenticationFailed, Err: err}
	}
	return p, nil
}

func principalFromResult(v any, q *Query) (*Principal, error) {
	p := &Principal{Provider: "dynamic"}
	switch r := v.(type) {
	case string:
		p.Role = r
	case map[string]any:
		p.Role, _ = r["role"].(string)
		p.AuthID, _ = r["authid"].(string)
		if e, ok := r["extra"].(map[string]any); ok {
			p.Extra = e
		}
		if s, ok := r["secret"].(string); ok && q.Method == MethodWampCRA {
			k := &CRAKey{Secret: s}
			if salt, ok := r["salt"].(string); ok && salt != "" {
				it, kl := asInt(r["iterations"], 1000), asInt(r["keylen"], 32)
				if it < 1 || it > MaxPBKDF2Iterations || kl < 1 || kl > 64 {
					return nil, errors.New("salting parameters out of range")
				}
				key, err := DeriveCRAKey(s, salt, it, kl)
				if err != nil {
					return nil, err
				}
				k = &CRAKey{Salt: salt, Iterations: it, KeyLen: kl, Key: key}
			}
			p.CRA = k
		}
		if pk, ok := r["pubkey"].(string); ok {
			key, err := parsePubkey(strings.ToLower(pk))
			if err != nil {
				return nil, fmt.Errorf("pubkey: %w", err)
			}
			p.Cryptosign = append(p.Cryptosign, key)
		}
	default:
		return nil, fmt.Errorf("result is %T, want a role or a dict", v)
	}
	if p.Role == "" {
		return nil, errors.New("no role")
	}
	// The procedure answered for this ticket; the other methods still check
	// the secret or key it returned.
	p.Vouched = q.Method == MethodTicket || q.Method == MethodTLS
	return p, nil
}

func asInt(v any, def int) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case uint64:
		return int(n)
	case float64:
		return int(n)
	case int:
		return n
	}
	return def
}
