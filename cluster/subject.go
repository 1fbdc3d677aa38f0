package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Subjects. Every subject zwamp uses starts with "zw.":
//
//	zw.e.<realm>.<t1>.<t2>…   an event on topic t1.t2.… of realm (one token per URI component)
//	zw.h.<realm>.<hash>       an event whose subject would exceed MaxSubjectLen
//	zw.n.<instance>.<kind>    traffic addressed to one node instance
//	zw.b.<kind>               traffic for every node (meta events)
//	zw.hb                     liveness heartbeats
//
// <realm> is the realm as one token (its dots escaped too) and each <ti> is
// one URI component, escaped by escapeToken so that the mapping is
// injective and every token is legal and literal for NATS: NATS rejects
// empty tokens and whitespace, splits its protocol lines on spaces and
// tabs, and treats a token that is exactly "*" or ">" as a wildcard, while
// WAMP realms and loose URIs may contain all of those, and dots in a realm.
const (
	prefixEvent     = "zw.e."
	prefixHashed    = "zw.h."
	prefixNode      = "zw.n."
	prefixBroadcast = "zw.b."
	subjHeartbeat   = "zw.hb"
)

// MaxSubjectLen bounds the subjects zwamp publishes and subscribes to.
//
// A NATS client's protocol line (PUB/HPUB <subject> [reply] <sizes>) is
// limited to max_control_line, 4 KiB by default, and the server answers a
// longer one by closing the connection ("maximum control line exceeded") —
// the node's whole NATS connection, not one message. 2 KiB leaves room for
// a reply subject and the sizes. An event whose subject would be longer
// travels on zw.h.<realm>.<hash of the topic> instead: an exact subscriber
// to such a long topic subscribes to that same hashed subject, and every
// pattern subscriber of the realm also listens on zw.h.<realm>.* (the
// receiver re-matches the topic against its own trie, so the coarse
// interest costs a message, never a wrong delivery). Realms whose escaped
// token would exceed maxRealmToken are replaced by a hash the same way.
const MaxSubjectLen = 2048

// maxRealmToken bounds the realm's token; longer realms are hashed.
const maxRealmToken = 256

// hashLen is the length of a hashed token: 128 bits of SHA-256 in hex.
const hashLen = 32

// needsEscape marks the bytes escapeToken writes as %XX: controls, space
// and DEL (NATS splits and validates on whitespace), '.', '*', '>' (token
// separator and wildcards) and '%' itself.
var needsEscape = func() (t [256]bool) {
	for c := 0; c <= 0x20; c++ {
		t[c] = true
	}
	t[0x7f] = true
	for _, c := range []byte{'%', '.', '*', '>'} {
		t[c] = true
	}
	return t
}()

const hexUpper = "0123456789ABCDEF"

// appendToken appends s escaped as one NATS token: bytes in needsEscape
// become %XX (uppercase hex), an empty s becomes a lone "%". A token that
// comes out of it is never empty, never "*" or ">", has no '.' and no
// whitespace, and decodes back to exactly s (a '%' is always followed by
// two uppercase hex digits except in the lone "%" and in the "%h" of a
// hashed realm, which no escaped text can produce).
func appendToken[T string | []byte](dst []byte, s T) []byte {
	if len(s) == 0 {
		return append(dst, '%')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape[c] {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// tokenLen is len(appendToken(nil, s)) without building it.
func tokenLen(s string) int {
	if s == "" {
		return 1
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if needsEscape[s[i]] {
			n += 2
		}
	}
	return n
}

// appendRealm appends realm as one token, or "%h<hash>" when the escaped
// form would be longer than maxRealmToken.
func appendRealm(dst []byte, realm string) []byte {
	if tokenLen(realm) <= maxRealmToken {
		return appendToken(dst, realm)
	}
	dst = append(dst, '%', 'h')
	return appendHashString(dst, realm)
}

// appendHashString appends the first 128 bits of SHA-256(s) in lowercase
// hex. Only long realms take this path; it may allocate.
func appendHashString(dst []byte, s string) []byte {
	return appendHashBytes(dst, []byte(s))
}

// appendHashBytes appends the first 128 bits of SHA-256(b) in lowercase hex.
func appendHashBytes(dst []byte, b []byte) []byte {
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:hashLen/2])
}

// appendComponents appends uri's dot-separated components as escaped
// tokens joined by dots (an empty component becomes "%").
func appendComponents[T string | []byte](dst []byte, uri T) []byte {
	start := 0
	for i := 0; i <= len(uri); i++ {
		if i == len(uri) || uri[i] == '.' {
			if start > 0 {
				dst = append(dst, '.')
			}
			dst = appendToken(dst, uri[start:i])
			start = i + 1
		}
	}
	return dst
}

// AppendEventSubject appends the subject an event on topic in realm is
// published on: zw.e.<realm>.<components>, or zw.h.<realm>.<hash> when that
// would exceed MaxSubjectLen. It does not allocate when dst has room.
func AppendEventSubject(dst []byte, realm string, topic []byte) []byte {
	start := len(dst)
	dst = append(dst, prefixEvent...)
	dst = appendRealm(dst, realm)
	dst = append(dst, '.')
	dst = appendComponents(dst, topic)
	if len(dst)-start <= MaxSubjectLen {
		return dst
	}
	dst = append(dst[:start], prefixHashed...)
	dst = appendRealm(dst, realm)
	dst = append(dst, '.')
	return appendHashBytes(dst, topic)
}

// InterestSubjects returns the NATS subjects (possibly with wildcards) a
// node subscribes to so that it receives every event of realm whose topic
// the WAMP pattern uri with match policy match ("exact", "prefix",
// "wildcard") matches. It returns nil for an unknown policy.
//
//   - exact: the topic's own subject (hashed if long), nothing else.
//   - wildcard: a..c becomes zw.e.<realm>.a.*.c — the same semantics, as an
//     empty WAMP component stands for exactly one non-empty component —
//     plus zw.h.<realm>.* for matching topics too long for a subject.
//   - prefix: WAMP prefix matching is on bytes (com.x.emer matches
//     com.x.emergency.low), NATS matches whole tokens, so the interest is
//     coarse: the pattern's complete components followed by ">"
//     (zw.e.<realm>.com.x.>; zw.e.<realm>.> for a one-component prefix),
//     plus zw.h.<realm>.*.
//
// The coarse forms deliver events the pattern does not match: the
// receiving node must re-match every event against its own trie. A
// pattern subject that would exceed MaxSubjectLen is left out (every topic
// it could match is at least as long, so travels hashed and is caught by
// zw.h.<realm>.*).
func InterestSubjects(realm, uri, match string) []string {
	switch match {
	case "exact":
		return []string{string(AppendEventSubject(nil, realm, []byte(uri)))}
	case "wildcard", "prefix":
	default:
		return nil
	}
	b := make([]byte, 0, 64+len(uri))
	b = append(b, prefixHashed...)
	b = appendRealm(b, realm)
	b = append(b, ".*"...)
	catchAll := string(b)

	b = append(b[:0], prefixEvent...)
	b = appendRealm(b, realm)
	if match == "wildcard" {
		start := 0
		for i := 0; i <= len(uri); i++ {
			if i == len(uri) || uri[i] == '.' {
				b = append(b, '.')
				if i == start {
					b = append(b, '*')
				} else {
					b = appendToken(b, uri[start:i])
				}
				start = i + 1
			}
		}
	} else {
		// The components before the last one must be equal; the last one
		// is a byte prefix of the topic's component at that position.
		if last := strings.LastIndexByte(uri, '.'); last >= 0 {
			b = append(b, '.')
			b = appendComponents(b, uri[:last])
		}
		b = append(b, ".>"...)
	}
	if len(b) > MaxSubjectLen {
		return []string{catchAll}
	}
	return []string{string(b), catchAll}
}

// NodeSubject returns the subject for traffic of the given kind addressed
// to one node instance: zw.n.<instance>.<kind>. kind must be a literal
// subject fragment chosen by the caller (letters, digits, dots).
func NodeSubject(instance, kind string) string {
	return string(AppendNodeSubject(nil, instance, kind))
}

// AppendNodeSubject is the append form of NodeSubject.
func AppendNodeSubject(dst []byte, instance, kind string) []byte {
	dst = append(dst, prefixNode...)
	dst = append(dst, instance...)
	dst = append(dst, '.')
	return append(dst, kind...)
}

// BroadcastSubject returns the subject for traffic of the given kind that
// every node receives: zw.b.<kind>.
func BroadcastSubject(kind string) string { return prefixBroadcast + kind }
