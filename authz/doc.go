// Package authz is zwamp's authorization: per-realm roles with static
// permissions (Crossbar's shape) compiled into trie indexes, and dynamic
// authorizers — procedures the router calls to decide — with a bounded,
// expiring decision cache.
//
// An Authorizer plugs into core as the realm's core.Authorizer; it also
// implements core.Decider (forced or forbidden disclosure, answers that
// come later) and core.RoleChecker (unknown roles are refused at join with
// wamp.error.no_such_role).
//
// # Cost
//
// A static decision is one trie.Index.Best lookup in the role's index,
// with exact beating prefix beating wildcard and the longest prefix
// winning, as for pattern registrations: no lock, no allocation. A dynamic
// decision found in the cache is a hash, an uncontended mutex and a byte
// comparison: no allocation. In front of both, each session remembers its
// last decision (action and URI, compared byte for byte), and a session
// that keeps alternating between URIs gets a small memo table (32 slots in
// buckets of 4, allocated once; a one-byte tag per slot, kept beside the
// session's role, picks the one slot whose URI is compared): a repeated
// action costs a cheap hash and a comparison, not a lookup. A dynamic
// decision not in the cache returns
// core.Pending: core holds the action (and the session's later messages)
// while one of a few worker goroutines calls the authorizer through an
// in-process service session and then calls core.Session.Resume. Nothing
// on a poller waits for the authorizer.
//
// # Reload
//
// Reload compiles new roles and publishes them with one atomic store; the
// policy generation it carries invalidates every session's cached role and
// decision cache, so the next action is decided by the new roles.
//
// # Imports
//
// authz imports core, trie, codec and client (for the service session).
// Locks: decisionCache.mu (leaf) and Authorizer.mu (never held while
// calling into core).
package authz
