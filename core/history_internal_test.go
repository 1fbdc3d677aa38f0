package core

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/zwamp/zwamp/trie"
)

// TestTopicHistoryRing drives one topic's ring with events of random sizes
// and checks after every add that it holds exactly the newest events that
// fit the count and byte limits, intact and in order.
func TestTopicHistoryRing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lim := range []struct{ count, bytes int }{{5, 1 << 20}, {1000, 3000}, {7, 700}, {1, 100}} {
		st := &eventStore{}
		st.init(1 << 30)
		hr := &historyRule{topic: "t", limit: lim.count, maxBytes: lim.bytes}
		h := st.history([]byte("t"), &historyRules{exact: map[string]*historyRule{"t": hr}})
		var all [][]byte
		for i := 0; i < 3000; i++ {
			msg := bytes.Repeat([]byte{byte(i)}, 1+rng.IntN(min(lim.bytes, 400)))
			all = append(all, msg)
			h.add(msg, storedEvent{seq: uint64(i + 1), pub: uint64(i + 1)})
			got := h.snapshot(nil)
			if len(got) == 0 || len(got) > lim.count {
				t.Fatalf("limit %v, add %d: %d events kept", lim, i, len(got))
			}
			total := 0
			first := i + 1 - len(got)
			for k, e := range got {
				if e.seq != uint64(first+k+1) || !bytes.Equal(e.msg, all[first+k]) {
					t.Fatalf("limit %v, add %d: event %d is seq %d (want %d) or corrupt", lim, i, k, e.seq, first+k+1)
				}
				total += len(e.msg)
			}
			if total > lim.bytes || len(h.data) > lim.bytes {
				t.Fatalf("limit %v: %d live bytes in a %d-byte ring", lim, total, len(h.data))
			}
			// Greedy: the next older event would not have fitted with them
			// by count, or (with slack for a ring wrap) by bytes.
			if first > 0 && len(got) < lim.count && total+len(all[first-1]) <= lim.bytes/2 {
				t.Fatalf("limit %v, add %d: evicted too much (%d events, %d bytes)", lim, i, len(got), total)
			}
		}
		if st.bytes.Load() > int64(lim.bytes+lim.count*histEntrySize+topicOverhead+1) {
			t.Fatalf("limit %v: %d bytes charged", lim, st.bytes.Load())
		}
	}
}

func TestPatternMatches(t *testing.T) {
	for _, c := range []struct {
		pat   string
		wild  bool
		topic string
		want  bool
	}{
		{"a..c", true, "a.b.c", true},
		{"a..c", true, "a.b.d", false},
		{"a..c", true, "a.b.c.d", false},
		{"..", true, "x.y.z", true},
		{"a.", true, "a.b", true},
		{"a.", true, "a", false},
		{"a.b", true, "a.b", true},
	} {
		if got := patternMatches(c.pat, trie.Wildcard, []byte(c.topic)); got != c.want {
			t.Errorf("%q ~ %q = %v, want %v", c.pat, c.topic, got, c.want)
		}
	}
}
