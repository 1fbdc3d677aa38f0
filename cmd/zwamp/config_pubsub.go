package main

import (
	"errors"
	"fmt"

	"github.com/zwamp/zwamp/core"
)

// HistoryConfig turns on event history for the topics matching a pattern
// (core.HistoryRule).
type HistoryConfig struct {
	Topic    string `json:"topic"`
	Match    string `json:"match"`     // exact (default), prefix, wildcard
	Limit    int    `json:"limit"`     // events kept per topic, default 1000
	MaxBytes int    `json:"max_bytes"` // encoded bytes kept per topic, default 1 MiB
}

// TrustConfig assigns a publication trust level (core.TrustLevelRule).
type TrustConfig struct {
	Topic    string `json:"topic"`    // empty: every topic
	Match    string `json:"match"`    // exact (default), prefix, wildcard
	AuthRole string `json:"authrole"` // empty: any publisher
	Level    uint64 `json:"level"`
}

// pubsubConfig copies the event history, event store and trust level
// settings into rc.
func (c *Config) pubsubConfig(rc *core.Config) error {
	if c.EventStoreMaxBytes < 0 {
		return errors.New("event_store_max_bytes must not be negative")
	}
	rc.EventStoreMaxBytes = c.EventStoreMaxBytes
	for i, h := range c.History {
		if h.Topic == "" {
			return fmt.Errorf("history rule %d: no topic", i)
		}
		rc.History = append(rc.History, core.HistoryRule{Topic: h.Topic, Match: h.Match, Limit: h.Limit, MaxBytes: h.MaxBytes})
	}
	for _, tr := range c.TrustLevels {
		rc.PublicationTrustLevels = append(rc.PublicationTrustLevels, core.TrustLevelRule(tr))
	}
	return nil
}
