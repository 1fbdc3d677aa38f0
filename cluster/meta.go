package cluster

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/zwamp/zwamp/core"
)

// The session meta procedures whose answer covers the whole cluster
// (wamp.session.count, list, get) are scatter-gathered: the caller's node
// asks every other live node on metaSubject and combines their answers
// with its own. A node that does not answer within metaTimeout is left out
// of the answer (its sessions are then missing from a count or list); the
// caller still gets an answer rather than waiting on a dead node.

const (
	metaSubject = "zw.meta"
	metaTimeout = time.Second
)

type metaRequest struct {
	Origin string         `json:"origin"` // the asking node, which answers itself
	Realm  string         `json:"realm"`
	Proc   string         `json:"proc"`
	Args   []any          `json:"args"`
	Kw     map[string]any `json:"kw,omitempty"`
}

type metaAnswer struct {
	Result any    `json:"result"`
	Error  string `json:"error,omitempty"`
	Msg    string `json:"msg,omitempty"`
}

// startMeta answers other nodes' meta requests.
func (n *Node) startMeta() (*nats.Subscription, error) {
	return n.nc.Subscribe(metaSubject, func(msg *nats.Msg) {
		var req metaRequest
		if json.Unmarshal(msg.Data, &req) != nil || msg.Reply == "" || req.Origin == n.self {
			return
		}
		var ans metaAnswer
		if r := n.router.Realm(req.Realm); r == nil {
			ans.Error, ans.Msg = core.ErrNoSuchRealm, "no realm "+req.Realm
		} else {
			ans.Result, ans.Error, ans.Msg = r.MetaLocal(req.Proc, req.Args, req.Kw, nil)
		}
		data, err := json.Marshal(ans)
		if err == nil {
			_ = n.nc.Publish(msg.Reply, data)
		}
	})
}

// MetaCall implements core.Cluster. The procedure runs here first (for a
// kill, with the caller excluded); a bad argument or a refusal is answered
// from here, and so is a session found here by get or kill.
func (n *Node) MetaCall(r *core.Realm, s *core.Session, proc string, args []any, kw map[string]any, req uint64) bool {
	peers := len(n.e.Liveness().Peers())
	if peers == 0 {
		return false
	}
	local, uri, msg := r.MetaLocal(proc, args, kw, s)
	one := proc == "wamp.session.get" || proc == "wamp.session.kill"
	// Replies come from goroutines: the caller's driver holds its
	// connection's lock, which Reply takes.
	switch {
	case uri == "" && one:
		go s.Reply(req, local)
		return true
	case uri != "" && uri != core.ErrNoSuchSession:
		go s.ReplyError(req, uri, msg)
		return true
	}
	go n.gather(r, s, metaRequest{Origin: n.self, Realm: r.Name(), Proc: proc, Args: args, Kw: kw}, req, peers, local, uri, msg)
	return true
}

// gather asks the other nodes and answers s, combining the answers with
// this node's (local, or its error uri and msg): get and kill with the
// first node that has the session, list and kill_by_authid with every
// node's ids, count, kill_by_authrole and kill_all with the total.
func (n *Node) gather(r *core.Realm, s *core.Session, q metaRequest, req uint64, peers int, local any, uri, msg string) {
	answers := n.askAll(q, peers)
	switch q.Proc {
	case "wamp.session.get", "wamp.session.kill":
		for _, a := range answers {
			if a.Error == "" {
				s.Reply(req, a.Result)
				return
			}
		}
		s.ReplyError(req, uri, msg)
	case "wamp.session.list", "wamp.session.kill_by_authid":
		ids, _ := local.([]any)
		for _, a := range answers {
			if l, ok := a.Result.([]any); ok && a.Error == "" {
				ids = append(ids, l...)
			}
		}
		if ids == nil {
			ids = []any{}
		}
		s.Reply(req, ids)
	default:
		total := toInt(local)
		for _, a := range answers {
			if a.Error == "" {
				total += toInt(a.Result)
			}
		}
		s.Reply(req, total)
	}
}

// askAll publishes q to every other node and collects up to want answers
// within metaTimeout.
func (n *Node) askAll(q metaRequest, want int) []metaAnswer {
	data, err := json.Marshal(q)
	if err != nil {
		return nil
	}
	inbox := nats.NewInbox()
	ch := make(chan *nats.Msg, want+4)
	sub, err := n.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil
	}
	defer sub.Unsubscribe()
	if err := n.nc.PublishRequest(metaSubject, inbox, data); err != nil {
		return nil
	}
	var out []metaAnswer
	timer := time.NewTimer(metaTimeout)
	defer timer.Stop()
	for len(out) < want {
		select {
		case m := <-ch:
			if a, ok := decodeAnswer(m.Data); ok {
				out = append(out, a)
			}
		case <-timer.C:
			return out
		case <-n.ctx.Done():
			return out
		}
	}
	return out
}

// decodeAnswer decodes an answer keeping integers integers: WAMP ids are
// 53-bit integers that must not come back as floats.
func decodeAnswer(data []byte) (metaAnswer, bool) {
	var a metaAnswer
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&a) != nil {
		return a, false
	}
	a.Result = integers(a.Result)
	return a, true
}

func integers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = integers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = integers(x[k])
		}
	}
	return v
}

func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return int(x)
	case int64:
		return int(x)
	}
	return 0
}
