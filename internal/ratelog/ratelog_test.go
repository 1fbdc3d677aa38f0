package ratelog

import (
	"bytes"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := strings.Split(strings.TrimSpace(s.b.String()), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

func newTest(interval time.Duration) (*Logger, *syncBuf) {
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return New(log, interval), &buf
}

var repeatedRe = regexp.MustCompile(`repeated=(\d+) total=(\d+)`)

// sumRepeated adds up the counts in the summary lines and checks every
// other line is a full one.
func sumRepeated(t *testing.T, lines []string) (full int, repeated int64) {
	t.Helper()
	for _, l := range lines {
		if m := repeatedRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			repeated += n
			continue
		}
		full++
	}
	return full, repeated
}

func TestFirstInFullThenCounted(t *testing.T) {
	l, buf := newTest(time.Hour)
	for i := 0; i < 1000; i++ {
		l.Warn("accept", "accept failed", "error", "too many open files", "i", i)
	}
	lines := buf.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `msg="accept failed"`) || !strings.Contains(lines[0], "i=0") {
		t.Fatalf("want the first line only, got %q", lines)
	}
	if got := l.Total("accept"); got != 1000 {
		t.Fatalf("Total = %d, want 1000", got)
	}
	l.Close()
	lines = buf.lines()
	if len(lines) != 2 {
		t.Fatalf("want the first line and one summary, got %q", lines)
	}
	if !strings.Contains(lines[1], `msg="accept failed (repeated)"`) || !strings.Contains(lines[1], "repeated=999 total=1000") ||
		!strings.Contains(lines[1], "last.i=999") {
		t.Fatalf("summary line: %q", lines[1])
	}
	// After Close lines pass through.
	l.Warn("accept", "accept failed", "i", 1000)
	if n := len(buf.lines()); n != 3 {
		t.Fatalf("after Close: %d lines, want 3", n)
	}
}

func TestKindsAreSeparate(t *testing.T) {
	l, buf := newTest(time.Hour)
	defer l.Close()
	l.Warn("a", "first a")
	l.Warn("b", "first b")
	l.Warn("a", "first a")
	if lines := buf.lines(); len(lines) != 2 {
		t.Fatalf("want one full line per kind, got %q", lines)
	}
}

// TestSummaryPerInterval: a steady stream for several intervals produces
// about one line per interval, and the counts add up to the total.
func TestSummaryPerInterval(t *testing.T) {
	const interval = 50 * time.Millisecond
	l, buf := newTest(interval)
	start := time.Now()
	n := 0
	for time.Since(start) < 10*interval {
		l.Warn("slow", "slow consumer", "n", n)
		n++
		time.Sleep(time.Millisecond)
	}
	// Let the last window end by itself, then one quiet window closes it.
	time.Sleep(4 * interval)
	lines := buf.lines()
	full, repeated := sumRepeated(t, lines)
	if full != 1 {
		t.Fatalf("want one full line, got %d: %q", full, lines)
	}
	if int64(full)+repeated != int64(n) {
		t.Fatalf("lines account for %d+%d, want %d", full, repeated, n)
	}
	// ~10 intervals: one summary each (a loaded machine may merge some).
	if len(lines) < 3 || len(lines) > 15 {
		t.Fatalf("%d lines for %d intervals: %q", len(lines), 10, lines)
	}
	// A quiet window closed the kind: the next line is logged in full.
	l.Warn("slow", "slow consumer", "n", "again")
	if last := buf.lines()[len(buf.lines())-1]; !strings.Contains(last, "n=again") || strings.Contains(last, "repeated") {
		t.Fatalf("after a quiet interval the line is not logged in full: %q", last)
	}
	l.Close()
}

func TestConcurrent(t *testing.T) {
	l, buf := newTest(20 * time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				l.Warn("violation", "protocol violation", "peer", g)
			}
		}()
	}
	wg.Wait()
	l.Close()
	full, repeated := sumRepeated(t, buf.lines())
	if int64(full)+repeated != 16000 || l.Total("violation") != 16000 {
		t.Fatalf("counted %d full + %d repeated, Total %d; want 16000", full, repeated, l.Total("violation"))
	}
}

func TestDisabledLevel(t *testing.T) {
	var buf syncBuf
	l := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})), time.Hour)
	l.Warn("x", "hidden")
	l.Close()
	if len(buf.lines()) != 0 || l.Total("x") != 0 {
		t.Fatalf("disabled level logged: %q", buf.lines())
	}
}

func TestSuppressed(t *testing.T) {
	l, buf := newTest(time.Hour)
	if l.Suppressed("drop") {
		t.Fatal("Suppressed before any line")
	}
	l.Warn("drop", "dropping", "n", 1)
	for i := 0; i < 99; i++ {
		if !l.Suppressed("drop") {
			t.Fatal("not suppressed inside the window")
		}
	}
	l.Close()
	lines := buf.lines()
	if len(lines) != 2 || !strings.Contains(lines[1], "repeated=99 total=100") {
		t.Fatalf("lines: %q", lines)
	}
}
