package cluster

import (
	"log/slog"
	"testing"
	"time"
)

// TestLivenessStall: a silent peer is declared dead only while this
// instance hears its own heartbeats and its checks run on time.
func TestLivenessStall(t *testing.T) {
	t0 := time.Now()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	newL := func() *Liveness {
		l := newLiveness(nil, "self-0", 500*time.Millisecond, 3, slog.New(slog.DiscardHandler))
		l.peers["p-1"] = &peer{last: t0, alive: true}
		return l
	}
	for _, c := range []struct {
		name                string
		selfSeen, lastCheck int // ms after t0; -1: never checked
		now                 int
		dead                bool
	}{
		{"healthy, peer silent 1.6s", 1400, 1500, 1600, true},
		{"healthy, peer silent 1.4s", 1300, 1300, 1400, false},
		{"deaf: own heartbeats stopped too", 0, 1500, 1600, false},
		{"late check after a stall", 1600, 0, 1600, false},
	} {
		l := newL()
		l.selfSeen = ms(c.selfSeen)
		l.lastCheck = ms(c.lastCheck)
		l.expire(ms(c.now))
		if dead := !l.peers["p-1"].alive; dead != c.dead {
			t.Errorf("%s: dead %v, want %v", c.name, dead, c.dead)
		}
		if !c.dead && c.name != "healthy, peer silent 1.4s" {
			// After the stall the peer has a fresh DeadAfter: silent until
			// then, it is dead; heard, it is not.
			if got := l.peers["p-1"].last; !got.Equal(ms(c.now)) {
				t.Errorf("%s: peer's last %v after the stall, want the check time", c.name, got.Sub(t0))
			}
			l.selfSeen = ms(c.now + 1400)
			l.lastCheck = ms(c.now + 1500)
			l.expire(ms(c.now + 1600))
			if l.peers["p-1"].alive {
				t.Errorf("%s: peer still alive 1.6 s after the stall ended", c.name)
			}
		}
	}
}
