package admin

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/zwamp/zwamp/core"
)

// statusPage is the live status page: one file, no external assets, so it
// works on an air-gapped host.
//
//go:embed static/status.html
var statusPage []byte

// maxListed bounds the sessions listed per realm on the status page.
const maxListed = 100

// SetStatusExtra adds fn's answer under "transport" in /status.json (the
// daemon passes the transports' counters, which admin cannot import).
func (s *Server) SetStatusExtra(fn func() map[string]any) { s.statusExtra = fn }

func (s *Server) statusHTML(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	w.Write(statusPage)
}

type statusRealm struct {
	Name     string `json:"name"`
	Sessions int    `json:"sessions"`
}

type statusSession struct {
	ID        uint64 `json:"id"`
	Realm     string `json:"realm"`
	AuthID    string `json:"authid"`
	AuthRole  string `json:"authrole"`
	Transport string `json:"transport"`
	Peer      string `json:"peer"`
}

type statusURI struct {
	Pattern   string `json:"pattern"`
	Match     string `json:"match"`
	Publishes uint64 `json:"publishes"`
	Events    uint64 `json:"events"`
	Calls     uint64 `json:"calls"`
}

type statusType struct {
	Type string `json:"type"`
	In   uint64 `json:"in"`
	Out  uint64 `json:"out"`
}

func (s *Server) statusJSON(w http.ResponseWriter, _ *http.Request) {
	st := s.router.Stats()
	out := map[string]any{
		"version":     core.Version,
		"uptime":      time.Since(s.started).Round(time.Second).String(),
		"sessions":    st.Sessions,
		"connections": st.Conns,
	}
	var in, sent uint64
	types := []statusType{}
	for _, mc := range core.MessageCounts() {
		name := "other"
		if mc.Type != 0 {
			name = mc.Type.String()
		}
		types = append(types, statusType{name, mc.In, mc.Out})
		in += mc.In
		sent += mc.Out
	}
	out["messages"] = map[string]any{"in": in, "out": sent, "by_type": types}
	realms := []statusRealm{}
	list := []statusSession{}
	for _, r := range s.router.Realms() {
		realms = append(realms, statusRealm{r.Name(), r.SessionCount()})
		for _, inf := range r.SessionInfos(maxListed) {
			list = append(list, statusSession{inf.ID, inf.Realm, inf.AuthID, inf.AuthRole, inf.Transport.Kind, inf.Transport.RemoteAddr})
		}
	}
	sort.Slice(realms, func(i, j int) bool { return realms[i].Name < realms[j].Name })
	sort.Slice(list, func(i, j int) bool {
		return list[i].Realm < list[j].Realm || list[i].Realm == list[j].Realm && list[i].ID < list[j].ID
	})
	out["realms"], out["session_list"] = realms, list
	// Top topics and procedures come from the opt-in per-pattern counters
	// (exact, already counted, bounded by the configured list); the page
	// turns the totals into rates over the last minute.
	uris := []statusURI{}
	for _, u := range core.URICounts() {
		uris = append(uris, statusURI{u.URI, u.Match, u.Publishes, u.Events, u.Calls})
	}
	out["uri_counts"] = uris
	if s.statusExtra != nil {
		out["transport"] = s.statusExtra()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
