package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Latency summarises a Histogram in microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

func summarize(h *Histogram) *Latency {
	if h.Count() == 0 {
		return nil
	}
	us := func(ns int64) float64 { return round3(float64(ns) / 1e3) }
	return &Latency{
		Count: h.Count(), Min: us(h.Min()), P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)),
		P99: us(h.Quantile(0.99)), P999: us(h.Quantile(0.999)), Max: us(h.Max()),
		Mean: round3(h.Mean() / 1e3),
	}
}

func round3(v float64) float64 {
	if v >= 1e6 || v <= -1e6 {
		return float64(int64(v))
	}
	return float64(int64(v*1000+0.5)) / 1000
}

// CPU is a process's CPU use over the measured interval.
type CPU struct {
	Seconds float64 `json:"seconds"`
	Percent float64 `json:"percent"` // of one core
	// NsPerMsg is CPU nanoseconds per delivered event or completed call.
	NsPerMsg float64 `json:"ns_per_msg,omitempty"`
}

// Result is the outcome of one run. Rates and CPU figures cover the
// measured interval (after warmup); totals and losses cover the whole run.
type Result struct {
	Mode    string    `json:"mode"`
	Params  Params    `json:"params"`
	Started time.Time `json:"started"`
	// Seconds is the measured interval.
	Seconds float64 `json:"seconds"`
	// Complete is false when the run was cut short (time cap, errors,
	// lost events with flow control on, sessions that did not establish).
	Complete bool `json:"complete"`

	// pubsub
	Publishes      int64   `json:"publishes,omitempty"` // measured interval
	Deliveries     int64   `json:"deliveries,omitempty"`
	PublishRate    float64 `json:"publishes_per_sec,omitempty"`
	DeliveryRate   float64 `json:"deliveries_per_sec,omitempty"`
	TotalPublishes int64   `json:"total_publishes,omitempty"`
	TotalDelivered int64   `json:"total_deliveries,omitempty"`
	// Lost is deliveries expected (every publish to every subscriber) but
	// not seen by the end of the drain.
	Lost int64 `json:"lost"`
	// Gaps counts sequence numbers a subscriber never saw although it saw
	// a later one of the same publisher; OutOfOrder, events that arrived
	// after a later one (filling a gap); Duplicates, events a subscriber
	// had seen already (not counted as deliveries). Any of them makes a
	// lossless run incomplete.
	Gaps       int64 `json:"sequence_gaps,omitempty"`
	OutOfOrder int64 `json:"out_of_order,omitempty"`
	Duplicates int64 `json:"duplicates,omitempty"`
	// Corrupt counts EVENTs and RESULTs whose payload is not, byte for
	// byte, the one sent (or that carry another call's stamp).
	Corrupt int64 `json:"corrupt_payloads,omitempty"`

	// rpc
	// A call counts as completed only when a RESULT with its own
	// outstanding request id arrives carrying its payload.
	Calls      int64   `json:"calls,omitempty"` // completed in the measured interval
	CallRate   float64 `json:"calls_per_sec,omitempty"`
	TotalCalls int64   `json:"total_calls,omitempty"`
	Errors     int64   `json:"errors"` // ERROR answers
	Unanswered int64   `json:"unanswered,omitempty"`
	// Unexpected counts RESULTs (and ERRORs) for no outstanding call: a
	// wrong request id, or a second answer to one call.
	Unexpected int64 `json:"unexpected_results,omitempty"`

	Latency *Latency `json:"latency_us,omitempty"`

	RouterCPU *CPU `json:"router_cpu,omitempty"`
	// RouterCPUEach is, with --pids, each router process's share of
	// RouterCPU: --pid's first, then --pids' in order.
	RouterCPUEach []*CPU `json:"router_cpu_each,omitempty"`
	ToolCPU       *CPU   `json:"tool_cpu,omitempty"`

	// conns
	Conns *ConnsResult `json:"conns,omitempty"`

	// Notes explain anything that went wrong or limits a figure.
	Notes []string `json:"notes,omitempty"`
}

// ConnsResult is the outcome of a conns run.
type ConnsResult struct {
	Sessions    int     `json:"sessions"` // established
	Failed      int     `json:"failed"`
	EstablishS  float64 `json:"establish_seconds"`
	EstablishPS float64 `json:"sessions_per_sec"`
	// SetupLatency is one session's dial + handshake + HELLO/WELCOME +
	// SUBSCRIBE/SUBSCRIBED, in µs.
	SetupLatency *Latency `json:"setup_latency_us,omitempty"`
	RSSBefore    int64    `json:"router_rss_before_bytes,omitempty"`
	RSSAfter     int64    `json:"router_rss_after_bytes,omitempty"`
	RSSPerSess   float64  `json:"router_rss_per_session_bytes,omitempty"`
	// RouterCPUPerSession is router CPU time per established session, µs.
	RouterCPUPerSession float64 `json:"router_cpu_per_session_us,omitempty"`
	// Fanout is, per event, the time from the publisher's write to the last
	// session's receipt as the tool saw it (µs): an upper bound that
	// includes the tool waking tens of thousands of goroutines.
	Fanout []float64 `json:"fanout_us"`
	// FanoutKernel is the same to the kernel's receive timestamp of the
	// last session's copy (SO_TIMESTAMPNS): the router's own fan-out time.
	FanoutKernel []float64 `json:"fanout_kernel_us,omitempty"`
	// Missed counts, per event, sessions that did not see it in time.
	Missed []int `json:"missed"`
	// SendUnix is, per event, the wall-clock time (unix ns) just before
	// the publisher's write; LastRxUnix the kernel receive time of the
	// last session's copy (unix ns, 0: none arrived). A holder (--hold)
	// has no SendUnix: set its LastRxUnix against the publishing run's
	// SendUnix (the same clock on one machine) for the fan-out time over
	// every process's sessions.
	SendUnix   []int64 `json:"send_unix_ns,omitempty"`
	LastRxUnix []int64 `json:"last_rx_unix_ns,omitempty"`
	// Got is, per event, how many of the holder's sessions saw it.
	Got []int64 `json:"got,omitempty"`
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// WriteJSON writes r as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bench: encode result: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteTable writes r as a human-readable table.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	p := &r.Params
	row("mode", "%s  %s  %s  payload %d B", r.Mode, p.URL, p.Serializer, p.Payload)
	if len(p.SubURLs) > 0 {
		row("receivers", "%s (subscribers, callees, held sessions)", strings.Join(p.SubURLs, " "))
	}
	if p.Hold != "" {
		row("hold", "%s: publishes nothing, waits for another process's events", p.Hold)
	}
	switch r.Mode {
	case "pubsub":
		win := "off (flat out)"
		if p.Window != nil && *p.Window > 0 {
			win = fmt.Sprint(*p.Window)
		}
		row("load", "%d publishers -> %d subscribers, window %s, batch %d", p.Publishers, p.Subscribers, win, p.Batch)
		row("measured", "%.2f s", r.Seconds)
		row("publishes/s", "%s", human(r.PublishRate))
		row("deliveries/s", "%s", human(r.DeliveryRate))
		row("total", "%d published, %d delivered", r.TotalPublishes, r.TotalDelivered)
		row("lost", "%d (sequence gaps %d, out of order %d, duplicates %d, altered payloads %d)", r.Lost, r.Gaps, r.OutOfOrder, r.Duplicates, r.Corrupt)
	case "rpc":
		row("load", "%d callers x %d in flight -> %d callees", p.Callers, p.InFlight, p.Callees)
		row("measured", "%.2f s", r.Seconds)
		row("calls/s", "%s", human(r.CallRate))
		row("total", "%d calls, %d errors, %d unanswered, %d unexpected results, %d altered payloads", r.TotalCalls, r.Errors, r.Unanswered, r.Unexpected, r.Corrupt)
	case "conns":
		c := r.Conns
		if c != nil {
			row("sessions", "%d established, %d failed, in %.2f s (%s/s)", c.Sessions, c.Failed, c.EstablishS, human(c.EstablishPS))
			if c.SetupLatency != nil {
				row("setup", "p50 %.0f µs  p99 %.0f µs  max %.0f µs", c.SetupLatency.P50, c.SetupLatency.P99, c.SetupLatency.Max)
			}
			if c.RSSAfter > 0 {
				row("router rss", "%s -> %s, %.0f B/session", bytesHuman(c.RSSBefore), bytesHuman(c.RSSAfter), c.RSSPerSess)
			}
			if c.RouterCPUPerSession > 0 {
				row("router cpu", "%.1f µs/session to establish", c.RouterCPUPerSession)
			}
			if p.Hold != "" {
				row("events seen", "%v of %d sessions (last_rx_unix_ns in the JSON line)", c.Got, c.Sessions)
			} else {
				row("fan-out", "median %.0f µs: %s (the tool saw the last copy)", median(c.Fanout), floats(c.Fanout))
			}
			if len(c.FanoutKernel) > 0 {
				row("fan-out kernel", "median %.0f µs: %s (kernel rx timestamp of the last copy)", median(c.FanoutKernel), floats(c.FanoutKernel))
			}
			row("missed", "%v", c.Missed)
		}
	}
	if l := r.Latency; l != nil {
		row("latency µs", "p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (n=%d)", l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
	}
	if c := r.RouterCPU; c != nil {
		s := fmt.Sprintf("%.1f%% of a core", c.Percent)
		if c.NsPerMsg > 0 {
			s += fmt.Sprintf(", %.0f ns/msg", c.NsPerMsg)
		}
		row("router cpu", "%s", s)
		for i, e := range r.RouterCPUEach {
			pid := r.Params.PID
			if i > 0 {
				pid = r.Params.PIDs[i-1]
			}
			row("", "pid %d: %.1f%% of a core, %.0f ns/msg", pid, e.Percent, e.NsPerMsg)
		}
	}
	if c := r.ToolCPU; c != nil {
		s := fmt.Sprintf("%.1f%% of a core (%d procs)", c.Percent, r.Params.GOMAXPROCS)
		if c.NsPerMsg > 0 {
			s += fmt.Sprintf(", %.0f ns/msg", c.NsPerMsg)
		}
		row("tool cpu", "%s", s)
	}
	row("complete", "%v", r.Complete)
	for _, n := range r.Notes {
		row("note", "%s", n)
	}
	return tw.Flush()
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.1f", v)
}

func bytesHuman(v int64) string {
	return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = fmt.Sprintf("%.0f", f)
	}
	return strings.Join(s, " ")
}
