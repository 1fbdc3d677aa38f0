package auth

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zwamp/zwamp/core"
)

// MethodCookie is the cookie authmethod (WebSocket only).
const MethodCookie = "cookie"

// CookieStore remembers WebSocket logins: a listener with cookies
// (netpoll.Listener.Cookies) gives each connection a cookie id, set on the
// upgrade answer when the browser has none; a successful login on such a
// connection (any method but anonymous and cookie, in a realm that lists
// "cookie") binds the id to the identity for MaxAge; a later connection
// presenting the cookie and offering "cookie" is admitted as that identity
// without a challenge. In memory only: a restart logs everyone out.
type CookieStore struct {
	// Name is the cookie's name (default "cbtid", Crossbar's).
	Name string
	// MaxAge is how long a login is remembered (default 24 h).
	MaxAge time.Duration
	// MaxEntries bounds the bound cookies (default 100,000); past it,
	// expired entries are swept and, if still full, a new login is not
	// remembered.
	MaxEntries int

	mu sync.RWMutex
	m  map[string]*cookieEntry
}

type cookieEntry struct {
	expires time.Time
	ids     map[string]core.Identity // by realm
}

func (s *CookieStore) name() string {
	if s.Name == "" {
		return "cbtid"
	}
	return s.Name
}

func (s *CookieStore) maxAge() time.Duration {
	if s.MaxAge <= 0 {
		return 24 * time.Hour
	}
	return s.MaxAge
}

// Cookie implements netpoll.CookieJar: it reads this store's cookie out of
// the Cookie header and keeps it when it is a live one, else issues a new
// id with its Set-Cookie value. Unbound ids are not stored, so
// connections that never log in cost the store nothing.
func (s *CookieStore) Cookie(header []byte, secure bool) (string, string) {
	if v := cookieValue(string(header), s.name()); v != "" {
		s.mu.RLock()
		e := s.m[v]
		s.mu.RUnlock()
		if e != nil && time.Now().Before(e.expires) {
			return v, ""
		}
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	set := s.name() + "=" + id + "; Max-Age=" + strconv.Itoa(int(s.maxAge()/time.Second)) + "; Path=/; HttpOnly; SameSite=Strict"
	if secure {
		set += "; Secure"
	}
	return id, set
}

// cookieValue finds name's value in a Cookie header ("a=1; b=2").
func cookieValue(h, name string) string {
	for h != "" {
		var part string
		part, h, _ = strings.Cut(h, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return v
		}
	}
	return ""
}

// bind remembers id for realm. A wamp-scram verifier belongs to the
// login that produced it and is not replayed to cookie logins.
func (s *CookieStore) bind(cookie, realm string, id core.Identity) {
	if cookie == "" {
		return
	}
	if _, ok := id.AuthExtra["verifier"]; ok && id.AuthMethod == MethodSCRAM {
		extra := make(map[string]any, len(id.AuthExtra))
		for k, v := range id.AuthExtra {
			if k != "verifier" {
				extra[k] = v
			}
		}
		id.AuthExtra = extra
	}
	now := time.Now()
	max := s.MaxEntries
	if max <= 0 {
		max = 100_000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*cookieEntry{}
	}
	e := s.m[cookie]
	if e == nil || !now.Before(e.expires) {
		if len(s.m) >= max {
			for k, v := range s.m {
				if !now.Before(v.expires) {
					delete(s.m, k)
				}
			}
			if len(s.m) >= max {
				return
			}
		}
		e = &cookieEntry{expires: now.Add(s.maxAge()), ids: map[string]core.Identity{}}
		s.m[cookie] = e
	}
	e.ids[realm] = id
}

func (s *CookieStore) lookup(cookie, realm string) (core.Identity, bool) {
	if cookie == "" {
		return core.Identity{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.m[cookie]
	if e == nil || !time.Now().Before(e.expires) {
		return core.Identity{}, false
	}
	id, ok := e.ids[realm]
	return id, ok
}

// Len returns the number of bound cookies (expired ones included until
// swept).
func (s *CookieStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

func cookieOf(h *core.Hello) string {
	v, _ := h.Transport.Auth["cookie"].(string)
	return v
}

// Cookie is the cookie method: it applies only to a connection whose
// cookie is bound in this realm (core then tries the client's next
// method), and admits it without a challenge as the remembered identity,
// with authmethod "cookie".
type Cookie struct{ Store *CookieStore }

// Method implements core.Authenticator.
func (*Cookie) Method() string { return MethodCookie }

// Applies implements core.Optional.
func (c *Cookie) Applies(h *core.Hello) bool {
	_, ok := c.Store.lookup(cookieOf(h), h.Realm)
	return ok
}

// Authenticate implements core.Authenticator: a map lookup, cheap enough
// for the driver goroutine.
func (c *Cookie) Authenticate(h *core.Hello) (core.Identity, *core.AuthError) {
	id, ok := c.Store.lookup(cookieOf(h), h.Realm)
	if !ok || (h.AuthID != "" && h.AuthID != id.AuthID) {
		return core.Identity{}, failed
	}
	id.AuthMethod, id.AuthProvider = MethodCookie, "cookie"
	return id, nil
}

// cookieBinder wraps a Challenger so that its successful logins on a
// connection with a cookie are remembered.
type cookieBinder struct {
	core.Challenger
	store *CookieStore
}

func (b *cookieBinder) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	ch, id, err := b.Challenger.Begin(h)
	if ch == nil && err == nil {
		b.store.bind(cookieOf(h), h.Realm, id)
	}
	return ch, id, err
}

func (b *cookieBinder) Verify(h *core.Hello, ch *core.Challenge, a *core.Authenticate) (core.Identity, *core.AuthError) {
	id, err := b.Challenger.Verify(h, ch, a)
	if err == nil {
		b.store.bind(cookieOf(h), h.Realm, id)
	}
	return id, err
}
