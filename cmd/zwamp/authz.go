package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"

	"github.com/zwamp/zwamp/authz"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// authorizers holds the running authz.Authorizer of each realm that has
// roles. Realms without roles have none: every action is allowed, as in
// the default configuration.
type authorizers struct {
	router *core.Router
	log    *slog.Logger
	byName map[string]*authz.Authorizer
}

// checkRoles validates every realm's roles; errors name the field
// (realms[0].roles[1].permissions[2].match).
func (c *Config) checkRoles() error {
	var errs []error
	for i, r := range c.Realms {
		if err := authz.Validate(fmt.Sprintf("realms[%d].", i), r.Roles); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, c.checkAuthenticatorRole())...)
}

// checkAuthenticatorRole refuses a dynamic authenticator whose caller
// could never join: it joins the authenticator's realm as an in-process
// session with method zwamp-local and that realm's trusted_role (package
// auth's LocalTrust), and a secured realm with roles refuses a role it
// does not have (wamp.error.no_such_role), which would fail every login.
func (c *Config) checkAuthenticatorRole() error {
	for i, r := range c.Realms {
		if r.Auth == nil || r.Auth.Authenticator == "" {
			continue
		}
		target := r.Auth.AuthenticatorRealm
		if target == "" {
			target = r.Name
		}
		for j, t := range c.Realms {
			if t.Name != target || t.Auth == nil || len(t.Roles) == 0 {
				continue
			}
			role := t.Auth.TrustedRole
			if role == "" {
				role = "trusted"
			}
			if !slices.ContainsFunc(t.Roles, func(rc authz.RoleConfig) bool { return rc.Name == role }) {
				return fmt.Errorf("realms[%d].auth.trusted_role: %q is not one of realms[%d].roles, but realms[%d].auth.authenticator %q is called through a session of that role (give it call on the procedure)",
					j, role, j, i, r.Auth.Authenticator)
			}
		}
	}
	return nil
}

// startAuthorizers installs an Authorizer on every realm with roles and
// starts its dynamic-authorizer workers. Call before the listeners start.
func startAuthorizers(c *Config, r *core.Router, log *slog.Logger) (*authorizers, error) {
	if err := c.checkRoles(); err != nil {
		return nil, err
	}
	a := &authorizers{router: r, log: log, byName: make(map[string]*authz.Authorizer)}
	for _, rc := range c.Realms {
		if len(rc.Roles) == 0 {
			continue
		}
		if err := a.install(rc); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

func (a *authorizers) install(rc RealmConfig) error {
	realm := a.router.Realm(rc.Name)
	if realm == nil {
		return fmt.Errorf("realm %q: not on the router", rc.Name)
	}
	az, err := authz.New(rc.Name, rc.Roles, authz.Options{Logger: a.log})
	if err != nil {
		return fmt.Errorf("realm %q: %w", rc.Name, err)
	}
	if err := az.Start(a.router); err != nil {
		return err
	}
	realm.SetAuthorizer(az)
	a.byName[rc.Name] = az
	return nil
}

func (a *authorizers) close() {
	for _, az := range a.byName {
		az.Close()
	}
}

// reloadRoles prepares the roles of c for every realm; commit applies them.
// Nothing is applied unless every realm's roles compile.
func (a *authorizers) reloadRoles(c *Config) (commit func(), err error) {
	if err := c.checkRoles(); err != nil {
		return nil, err
	}
	return func() {
		seen := make(map[string]bool)
		for _, rc := range c.Realms {
			seen[rc.Name] = true
			if a.router.Realm(rc.Name) == nil {
				a.log.Warn("reload: new realm ignored (adding a realm needs a restart)", "realm", rc.Name)
				continue
			}
			az := a.byName[rc.Name]
			switch {
			case az != nil && len(rc.Roles) > 0:
				_ = az.Reload(rc.Roles) // checked above
			case az == nil && len(rc.Roles) > 0:
				if err := a.install(rc); err != nil {
					a.log.Error("reload: cannot install roles", "realm", rc.Name, "error", err)
				}
			case az != nil:
				a.log.Warn("reload: realm has no roles any more: every action is allowed", "realm", rc.Name)
				a.router.Realm(rc.Name).SetAuthorizer(nil)
				az.Close()
				delete(a.byName, rc.Name)
			}
		}
		for name := range a.byName {
			if !seen[name] {
				a.log.Warn("reload: realm missing from the new config keeps its roles (removing a realm needs a restart)", "realm", name)
			}
		}
	}, nil
}

// originWarnings returns a warning for every WebSocket-capable listener on
// a non-loopback address that accepts any origin while some realm lets
// browsers log in with cookies (usesCookie) — where cross-site WebSocket
// hijacking would ride on the visitor's cookie (usesCookieAuth).
func originWarnings(c *Config, usesCookie func(RealmConfig) bool) []string {
	var cookieRealms []string
	for _, r := range c.Realms {
		if usesCookie(r) {
			cookieRealms = append(cookieRealms, r.Name)
		}
	}
	if len(cookieRealms) == 0 {
		return nil
	}
	var out []string
	for i, l := range c.Listeners {
		if strings.EqualFold(l.Kind, "rawsocket") || strings.EqualFold(l.Kind, "rs") || l.Network == "unix" {
			continue
		}
		o, err := netpoll.CompileOrigins(l.AllowedOrigins)
		if err != nil || !o.Any() || isLoopback(l.Address) {
			continue
		}
		out = append(out, fmt.Sprintf("listeners[%d] (%s) accepts WebSocket connections from any origin while realms %s use cookie authentication: set allowed_origins",
			i, l.Address, strings.Join(cookieRealms, ", ")))
	}
	return out
}

// usesCookieAuth reports whether a realm lets clients log in with the
// cookie authmethod.
func usesCookieAuth(r RealmConfig) bool {
	if r.Auth == nil {
		return false
	}
	for _, m := range r.Auth.Methods {
		if m == "cookie" {
			return true
		}
	}
	return false
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
