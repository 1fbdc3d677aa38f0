package core

import (
	"fmt"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// Publication trust levels (advanced/pubsub_publication_trustlevels.md):
// "A Broker may be configured to automatically assign trust levels to
// events ... on a per-topic basis and/or depending on the application
// defined role of the (authenticated) Publisher" and then provides
// EVENT.Details.trustlevel. The spec leaves the configuration to the
// router; here it is an ordered list of rules, the first match wins, and an
// event no rule matches carries no trustlevel. Router-originated events
// (the meta API) carry none either: the spec gives them the router's own
// trust.

// TrustLevelRule assigns Level to the events published to topics matching
// Topic under Match ("exact" default, "prefix", "wildcard"; an empty Topic
// matches every topic) by a publisher with authrole AuthRole (empty: any).
type TrustLevelRule struct {
	Topic    string
	Match    string
	AuthRole string
	Level    uint64
}

type trustRule struct {
	topic    string
	policy   trie.Policy
	anyTopic bool
	authRole string
	level    uint64
}

func compileTrustLevels(rules []TrustLevelRule) ([]trustRule, error) {
	var out []trustRule
	for i, tr := range rules {
		m := codec.MatchExact
		if tr.Match != "" {
			m = codec.ParseMatch([]byte(tr.Match))
		}
		p, ok := matchPolicy(m)
		if !ok {
			return nil, fmt.Errorf("core: trust level rule %d: unknown match policy %q", i, tr.Match)
		}
		if tr.Topic != "" && !validPatternLoose([]byte(tr.Topic), p) {
			return nil, fmt.Errorf("core: trust level rule %d: invalid topic %q for match %q", i, tr.Topic, tr.Match)
		}
		out = append(out, trustRule{topic: tr.Topic, policy: p, anyTopic: tr.Topic == "", authRole: tr.AuthRole, level: tr.Level})
	}
	return out, nil
}

// trustLevel returns the level the configuration assigns to an event on
// topic by a publisher with authRole.
func (r *Router) trustLevel(topic []byte, authRole string) (uint64, bool) {
	for i := range r.trust {
		tr := &r.trust[i]
		if (tr.authRole == "" || tr.authRole == authRole) && (tr.anyTopic || patternMatches(tr.topic, tr.policy, topic)) {
			return tr.level, true
		}
	}
	return 0, false
}

// setTrustLevel adds trustlevel to outgoing EVENT details d when a rule
// assigns one.
func (r *Router) setTrustLevel(d *codec.Details, topic []byte, authRole string) {
	if len(r.trust) == 0 {
		return
	}
	if level, ok := r.trustLevel(topic, authRole); ok {
		d.SetUint(codec.KeyTrustlevel, level)
	}
}
