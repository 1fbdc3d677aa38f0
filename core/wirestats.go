package core

import (
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/zwamp/zwamp/codec"
)

// Write coalescing, sessions by transport and serializer, and logins by
// authentication method, for the metrics endpoint.
//
// Messages per write are counted like the other histograms (callstats.go):
// a transport that can tell how many WAMP messages one Flush wrote
// implements CountingFlusher, and Batch.Flush adds the number to the
// Batch's plain fields, folded into its msgShard with the rest. A write is
// one Flush that wrote at least one WAMP message; writes of control frames
// or handshake answers alone are not counted.

// WriteBuckets is the number of messages-per-write buckets: bucket i ≥ 1
// holds writes of 2^(i-1) to 2^i-1 messages, the last one everything from
// 2^(WriteBuckets-2) up. Bucket 0 (no message) stays empty.
const WriteBuckets = 16

var _ [32 - WriteBuckets]struct{}

// CountingFlusher is a Transport whose Flush can report how many WAMP
// messages (Send calls) it wrote. Batch.Flush calls FlushCounted instead
// of Flush on such a transport.
type CountingFlusher interface {
	// FlushCounted does what Flush does and returns the number of
	// messages queued by Send since the previous write (0 if nothing
	// was written).
	FlushCounted() int
}

// wrote counts one write of n messages (nothing for n == 0).
func (c *callCounts) wrote(n int) {
	if n <= 0 {
		return
	}
	i := min(bits.Len64(uint64(n)), WriteBuckets-1)
	c.wr[i]++
	c.wrSum += uint64(n)
	c.wrTouch |= 1 << i
}

// WritesHistogram returns the histogram of WAMP messages per write, all
// transports that implement CountingFlusher (netpoll's), all routers.
// Upper bounds are inclusive: 0, 1, 3, 7, …, +Inf.
func WritesHistogram() Histogram {
	return pow2Histogram(WriteBuckets,
		func(s, i int) uint64 { return msgShards[s].wr[i].Load() },
		func(s int) uint64 { return msgShards[s].wrSum.Load() })
}

// TransportKinder is a Transport that can name its kind without building
// a whole TransportInfo (which formats the peer address); SessionCounts
// uses it when counting many sessions.
type TransportKinder interface {
	TransportKind() string
}

// SessionCount is the number of a realm's sessions on one kind of
// transport with one serializer.
type SessionCount struct {
	Transport  string // TransportInfo.Kind: websocket, rawsocket, local, ...
	Serializer string // json, msgpack, cbor
	Sessions   int
}

// SessionCounts counts the realm's sessions by transport kind and
// serializer, sorted by transport then serializer. It visits every
// session under the session table's shard locks: for a scrape, not for
// the hot path.
func (r *Realm) SessionCounts() []SessionCount {
	type key struct {
		kind string
		f    codec.Format
	}
	counts := map[key]int{}
	r.sessions.each(func(s *Session) {
		var kind string
		if k, ok := s.conn.t.(TransportKinder); ok {
			kind = k.TransportKind()
		} else {
			kind = s.conn.t.Info().Kind
		}
		counts[key{kind, s.format}]++
	})
	out := make([]SessionCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, SessionCount{Transport: k.kind, Serializer: formatName(k.f), Sessions: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Transport != out[j].Transport {
			return out[i].Transport < out[j].Transport
		}
		return out[i].Serializer < out[j].Serializer
	})
	return out
}

func formatName(f codec.Format) string {
	switch f {
	case codec.JSON:
		return "json"
	case codec.MsgPack:
		return "msgpack"
	case codec.CBOR:
		return "cbor"
	}
	return "other"
}

// AuthMethodCount is the number of logins that succeeded and failed with
// one authentication method.
type AuthMethodCount struct {
	Method              string
	Successes, Failures int64
}

// maxAuthMethods bounds the methods counted one by one (a dynamic
// authenticator may name any method); the rest count as "other".
const maxAuthMethods = 32

// authMethodStats counts logins by method: a join is not the hot path, so
// a sync.Map of small counter pairs is enough.
type authMethodStats struct {
	m sync.Map     // method → *[2]atomic.Int64 (success, failure)
	n atomic.Int32 // methods in m
}

func (a *authMethodStats) count(method string, ok bool) {
	if method == "" {
		method = "unknown"
	}
	v, found := a.m.Load(method)
	if !found {
		if a.n.Load() >= maxAuthMethods {
			method = "other"
		}
		var loaded bool
		v, loaded = a.m.LoadOrStore(method, new([2]atomic.Int64))
		if !loaded && method != "other" {
			a.n.Add(1)
		}
	}
	i := 1
	if ok {
		i = 0
	}
	v.(*[2]atomic.Int64)[i].Add(1)
}

// authMethods is per process, like the message counters: a router is
// usually alone in its process, and tests read differences.
var authMethods authMethodStats

// AuthMethodCounts returns the logins that succeeded (a session joined
// after authentication) and failed (an authenticator refused the
// credentials) by authentication method, all routers in the process,
// sorted by method. Sessions the router opens for itself (ConnectLocalAs)
// are not counted; nor are HELLOs refused before an authenticator looked
// at them (no acceptable method, rate limits, a busy pool: see AuthStats).
func AuthMethodCounts() []AuthMethodCount {
	var out []AuthMethodCount
	authMethods.m.Range(func(k, v any) bool {
		p := v.(*[2]atomic.Int64)
		out = append(out, AuthMethodCount{Method: k.(string), Successes: p[0].Load(), Failures: p[1].Load()})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	return out
}
