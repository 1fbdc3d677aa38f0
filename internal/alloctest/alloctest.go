package alloctest

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
)

// MinRuns is the least number of runs per round a check accepts: enough for
// a path that allocates once in 5,000 runs to show twice in every round.
const MinRuns = 10000

// Spec says how to measure one operation.
type Spec struct {
	// Runs is the number of operations per round (at least MinRuns; 0
	// means MinRuns).
	Runs int
	// Warmup is the number of unmeasured runs before the first round;
	// 0 means Runs.
	Warmup int
	// Rounds is the most rounds measured before failing; 0 means 5.
	Rounds int
	// Max is the most allocations allowed in one round of Runs (0: none).
	Max uint64
}

func (s Spec) withDefaults() Spec {
	if s.Runs == 0 {
		s.Runs = MinRuns
	}
	if s.Warmup == 0 {
		s.Warmup = s.Runs
	}
	if s.Rounds == 0 {
		s.Rounds = 5
	}
	return s
}

// Result is what Measure saw.
type Result struct {
	Spec   Spec
	Rounds []uint64 // allocations in each measured round, in order
}

// Min is the fewest allocations of any measured round.
func (r Result) Min() uint64 {
	m := ^uint64(0)
	for _, n := range r.Rounds {
		m = min(m, n)
	}
	return m
}

// OK reports whether some round stayed within Spec.Max.
func (r Result) OK() bool { return len(r.Rounds) > 0 && r.Min() <= r.Spec.Max }

func (r Result) String() string {
	return fmt.Sprintf("%d allocations in %d runs (rounds %v, max allowed %d)",
		r.Min(), r.Spec.Runs, r.Rounds, r.Spec.Max)
}

// Measure warms op up and measures it round by round, with the collector
// off, until a round is within s.Max or s.Rounds rounds are done. It works
// under the race detector too, but the counts then mean little.
func Measure(s Spec, op func()) Result {
	s = s.withDefaults()
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)
	for i := 0; i < s.Warmup; i++ {
		op()
	}
	res := Result{Spec: s}
	var before, after runtime.MemStats
	for range s.Rounds {
		runtime.ReadMemStats(&before)
		for i := 0; i < s.Runs; i++ {
			op()
		}
		runtime.ReadMemStats(&after)
		res.Rounds = append(res.Rounds, after.Mallocs-before.Mallocs)
		if res.OK() {
			break
		}
	}
	return res
}

// Zero requires that op, once warm, allocates nothing at all in some round
// of MinRuns runs.
func Zero(t testing.TB, name string, op func()) {
	t.Helper()
	Check(t, name, Spec{}, op)
}

// AtMost requires at most max allocations in some round of runs runs;
// why, which the caller must give, says what is amortised and why it is
// allowed.
func AtMost(t testing.TB, name string, runs int, max uint64, why string, op func()) {
	t.Helper()
	if why == "" {
		t.Fatalf("alloctest: %s: a bound above 0 needs a reason", name)
	}
	Check(t, name, Spec{Runs: runs, Max: max}, op)
}

// Check measures op with s and fails t, naming the allocating stacks, when
// no round stayed within s.Max. It skips under the race detector and
// refuses fewer than MinRuns runs, and a test whose name lacks "Alloc"
// (`go test -run Alloc` would never run it without -race). On success it logs one line starting
// with "alloctest ok:", which `make test` counts.
func Check(t testing.TB, name string, s Spec, op func()) {
	t.Helper()
	// The name check comes first so that the -race run, where every check
	// skips, still fails a test the allocation step would never select.
	if top, _, _ := strings.Cut(t.Name(), "/"); !strings.Contains(top, "Alloc") {
		t.Fatalf("alloctest: %s: the test's name must contain \"Alloc\": make test runs the checks without -race by that name", top)
	}
	if Race {
		t.Skip("allocation counts are not meaningful under -race")
	}
	if s.Runs != 0 && s.Runs < MinRuns {
		t.Fatalf("alloctest: %s: %d runs per round, want at least %d", name, s.Runs, MinRuns)
	}
	res := Measure(s, op)
	if !res.OK() {
		t.Errorf("alloctest: %s: %v\n%s", name, res, Sites(res.Spec.Runs, op))
		return
	}
	t.Logf("alloctest ok: %s: %v", name, res)
}

// Sites runs op runs times with every allocation sampled and returns the
// stacks that allocated, most first (at most 5, 12 frames each).
func Sites(runs int, op func()) string {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = rate }()
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)
	before := profile()
	for i := 0; i < runs; i++ {
		op()
	}
	after := profile()
	type site struct {
		stack [32]uintptr
		n     int64
	}
	var sites []site
	for k, n := range after {
		if d := n - before[k]; d > 0 && !ignored(k) {
			sites = append(sites, site{k, d})
		}
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i].n > sites[j].n })
	var b strings.Builder
	fmt.Fprintf(&b, "allocation sites in %d more runs with MemProfileRate=1 (sync.Pool queue growth after the profile's collection not shown):\n", runs)
	for i, s := range sites {
		if i == 5 {
			fmt.Fprintf(&b, "  ... and %d more sites\n", len(sites)-i)
			break
		}
		fmt.Fprintf(&b, "  %d objects:\n", s.n)
		frames := runtime.CallersFrames(s.stack[:])
		for j := 0; j < 12; j++ {
			f, more := frames.Next()
			if f.Function != "" {
				fmt.Fprintf(&b, "    %s\n      %s:%d\n", f.Function, f.File, f.Line)
			}
			if !more {
				break
			}
		}
	}
	if len(sites) == 0 {
		b.WriteString("  none seen (the allocations came from elsewhere in the process, or stopped)\n")
	}
	return b.String()
}

// ignored reports whether a stack is profile's own bookkeeping or
// sync.Pool rebuilding its per-P queues after profile's collection.
func ignored(stack [32]uintptr) bool {
	frames := runtime.CallersFrames(stack[:])
	for {
		f, more := frames.Next()
		switch f.Function {
		case "github.com/zwamp/zwamp/internal/alloctest.profile",
			"sync.(*poolChain).pushHead", "sync.(*Pool).pinSlow":
			return true
		}
		if !more {
			return false
		}
	}
}

// profile returns the allocation count of every stack in the heap profile,
// brought up to date by a collection (runtime.GC publishes the profile as of
// its mark termination). One, not two: sync.Pool keeps its victim cache
// across one collection, so fewer refills show up as sites.
func profile() map[[32]uintptr]int64 {
	runtime.GC()
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+64)
	n, ok := runtime.MemProfile(recs, true)
	for !ok {
		recs = make([]runtime.MemProfileRecord, 2*len(recs))
		n, ok = runtime.MemProfile(recs, true)
	}
	m := make(map[[32]uintptr]int64, n)
	for _, r := range recs[:n] {
		m[r.Stack0] += r.AllocObjects
	}
	return m
}
