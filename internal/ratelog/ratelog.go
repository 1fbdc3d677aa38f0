package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the summary interval when none is given.
const DefaultInterval = 10 * time.Second

// Logger aggregates repeated lines per kind.
type Logger struct {
	log      *slog.Logger
	interval time.Duration

	mu    sync.Mutex
	kinds map[string]*kind
	stop  bool
}

// kind is the state of one kind of line. A window opens when a line is
// logged in full and lasts one interval; lines inside it are counted and
// summarised when it ends, which opens the next window, until a window
// passes with nothing to report.
type kind struct {
	level      slog.Level
	msg        string
	last       []any // the attributes of the last suppressed line
	suppressed int64 // in the current window
	total      int64 // since the first line
	timer      *time.Timer
}

// New returns a Logger writing to log (nil: slog.Default()) with one
// summary line per interval (<= 0: DefaultInterval) and kind.
func New(log *slog.Logger, interval time.Duration) *Logger {
	if log == nil {
		log = slog.Default()
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Logger{log: log, interval: interval, kinds: make(map[string]*kind)}
}

// Warn logs msg with args at WARN level, aggregated under kind.
func (l *Logger) Warn(kind, msg string, args ...any) { l.Log(slog.LevelWarn, kind, msg, args...) }

// Info logs msg with args at INFO level, aggregated under kind.
func (l *Logger) Info(kind, msg string, args ...any) { l.Log(slog.LevelInfo, kind, msg, args...) }

// Log logs msg with args at level unless a line of the same kind was
// logged less than an interval ago; then it only counts it, and the count
// is reported (with the last suppressed line's attributes) when the
// interval ends. A kind names one cause ("accept", "slow_consumer"); its
// message should not vary, since the summary repeats the first one.
func (l *Logger) Log(level slog.Level, kindName, msg string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.mu.Lock()
	if l.stop {
		l.mu.Unlock()
		l.log.Log(context.Background(), level, msg, args...)
		return
	}
	k := l.kinds[kindName]
	if k == nil {
		k = &kind{}
		l.kinds[kindName] = k
	}
	k.total++
	if k.timer != nil {
		// Inside a window: count only.
		k.suppressed++
		k.last = append(k.last[:0], args...)
		l.mu.Unlock()
		return
	}
	k.level, k.msg = level, msg
	k.timer = time.AfterFunc(l.interval, func() { l.tick(kindName) })
	l.mu.Unlock()
	l.log.Log(context.Background(), level, msg, args...)
}

// Suppressed counts one line of kind and reports true when it falls in
// an open window, where Log would only count it; on false nothing is
// counted and the caller logs the line with Log. It lets a caller on a
// busy path skip building the line's attributes.
func (l *Logger) Suppressed(kindName string) bool {
	l.mu.Lock()
	k := l.kinds[kindName]
	if k == nil || k.timer == nil || l.stop {
		l.mu.Unlock()
		return false
	}
	k.total++
	k.suppressed++
	k.last = k.last[:0]
	l.mu.Unlock()
	return true
}

// tick ends kindName's window: it reports the lines suppressed in it and
// opens the next window, or closes the kind's window if there were none.
func (l *Logger) tick(kindName string) {
	l.mu.Lock()
	k := l.kinds[kindName]
	if k == nil || l.stop {
		l.mu.Unlock()
		return
	}
	if k.suppressed == 0 {
		k.timer = nil
		l.mu.Unlock()
		return
	}
	level, msg, n, total, last := k.level, k.msg, k.suppressed, k.total, k.last
	k.suppressed, k.last = 0, nil
	k.timer = time.AfterFunc(l.interval, func() { l.tick(kindName) })
	l.mu.Unlock()
	l.summary(level, msg, n, total, last)
}

func (l *Logger) summary(level slog.Level, msg string, n, total int64, last []any) {
	args := make([]any, 0, 6+len(last))
	args = append(args, "repeated", n, "total", total, "interval", l.interval.String())
	if len(last) > 0 {
		args = append(args, slog.Group("last", last...))
	}
	l.log.Log(context.Background(), level, msg+" (repeated)", args...)
}

// Total returns how many lines of kind were logged or counted so far.
func (l *Logger) Total(kind string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := l.kinds[kind]; k != nil {
		return k.total
	}
	return 0
}

// Close reports every pending count now and stops aggregating: later
// lines are logged as they come. Call it at shutdown so the last window's
// count is not lost.
func (l *Logger) Close() {
	type pending struct {
		level    slog.Level
		msg      string
		n, total int64
		last     []any
	}
	var out []pending
	l.mu.Lock()
	l.stop = true
	for _, k := range l.kinds {
		if k.timer != nil {
			k.timer.Stop()
			k.timer = nil
		}
		if k.suppressed > 0 {
			out = append(out, pending{k.level, k.msg, k.suppressed, k.total, k.last})
			k.suppressed, k.last = 0, nil
		}
	}
	l.mu.Unlock()
	for _, p := range out {
		l.summary(p.level, p.msg, p.n, p.total, p.last)
	}
}
