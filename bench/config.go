package bench

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// Config is one run of the load tool. Fields left zero take the default
// given in their comment, except Window, where 0 means "no flow control".
type Config struct {
	// URL of the router: ws://host:port/path, rs://host:port (RawSocket)
	// or tcp://host:port (also RawSocket).
	URL string
	// Serializer is json (default), msgpack or cbor.
	Serializer string
	// Realm to join; default realm1.
	Realm string
	// AllowRemote permits a URL that does not resolve to loopback.
	AllowRemote bool
	// SubURLs, when set, are the routers the receiving side connects to —
	// subscribers (pubsub), callees (rpc), the held sessions (conns) —
	// spread over them in turn, while publishers and callers connect to
	// URL: nodes of one cluster, so that every message crosses nodes.
	// Before the load starts the run waits until a probe publication
	// (pubsub) or call (rpc) from URL's side gets through to every
	// receiver (a cluster propagates interest and registrations
	// asynchronously); probes are not counted.
	SubURLs []string

	// Duration of the measurement, after Warmup; default 10s. When Count
	// is set the run ends when Count messages are done instead, and
	// Duration only caps it.
	Duration time.Duration
	// Warmup runs the load before measuring (duration runs only); default
	// 1s, negative for none.
	Warmup time.Duration
	// Drain is how long to wait, after the load stops, for messages still
	// in flight; default 5s.
	Drain time.Duration
	// Count bounds the messages of a run (publishes, or calls); 0 means
	// Duration bounds it.
	Count int64

	// Payload is the length in bytes of the one string argument every
	// PUBLISH and CALL carries; default 32, at least MinPayload.
	Payload int
	// Topic and Procedure default to names unique to the run, so that a
	// run never sees a previous run's subscriptions or registrations.
	Topic     string
	Procedure string

	// Publishers and Subscribers (pubsub); default 1 each.
	Publishers, Subscribers int
	// Window is how many events may be published and not yet seen by every
	// subscriber (lossless flow control); 0 publishes flat out.
	Window int
	// Batch is the largest number of frames written with one write;
	// default 64.
	Batch int
	// Rate caps the total publish rate in messages per second; 0: none.
	Rate float64

	// Callees, Callers and InFlight calls per caller (rpc); default 1 each.
	Callees, Callers, InFlight int

	// Sessions to hold (conns); default 1000.
	Sessions int
	// Concurrency of session establishment (conns); default 64.
	Concurrency int
	// Events is how many single events are timed reaching every session
	// (conns); default 5.
	Events int

	// Sources spreads connections over the source addresses 127.0.0.1 …
	// 127.0.0.N; default 1.
	Sources int
	// PID of the router process, to read its CPU time and RSS from /proc;
	// 0: unknown.
	PID int
	// PIDs are more router processes (a cluster's other nodes): their CPU
	// time is added to PID's, and reported one by one too.
	PIDs []int

	// Hold (conns) makes the run a holder: it establishes its sessions,
	// publishes nothing, and waits until each of the --events events
	// another process publishes on Topic has reached every one of them, or
	// Hold passes; it reports when the last session received each event
	// (unix ns), to be set against the publisher's send times.
	Hold time.Duration
	// ReadyFile (conns), if set, is created once the sessions are
	// established and subscribed (holding its count), for a script that
	// starts the publisher only when every holder is ready.
	ReadyFile string
	// EventGap (conns) is the pause after each timed event once every
	// local session has it; default 100ms (more when other processes hold
	// sessions that must see it first).
	EventGap time.Duration

	// Progress receives a line per second for long runs; nil: silent.
	Progress io.Writer

	// onStart and onStop, when set, are called on the run's goroutine when
	// the measured interval begins and ends (go test benchmarks reset and
	// stop their timer there, so that setup is not measured).
	onStart, onStop func()
}

// withDefaults returns c with defaults filled in and checks it.
func (c Config) withDefaults() (Config, error) {
	if c.Serializer == "" {
		c.Serializer = "json"
	}
	if c.Realm == "" {
		c.Realm = "realm1"
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 && c.Count == 0 {
		c.Warmup = time.Second
	}
	if c.Warmup < 0 || c.Count > 0 {
		c.Warmup = 0
	}
	if c.Drain <= 0 {
		c.Drain = 5 * time.Second
	}
	if c.Payload == 0 {
		c.Payload = 32
	}
	if c.Topic == "" || c.Procedure == "" {
		var id [4]byte
		_, _ = crand.Read(id[:])
		if c.Topic == "" {
			c.Topic = "zwamp.bench.t" + hex.EncodeToString(id[:])
		}
		if c.Procedure == "" {
			c.Procedure = "zwamp.bench.p" + hex.EncodeToString(id[:])
		}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Publishers, 1)
	def(&c.Subscribers, 1)
	def(&c.Batch, 64)
	def(&c.Callees, 1)
	def(&c.Callers, 1)
	def(&c.InFlight, 1)
	def(&c.Sessions, 1000)
	def(&c.Concurrency, 64)
	def(&c.Events, 5)
	def(&c.Sources, 1)
	if c.EventGap <= 0 {
		c.EventGap = 100 * time.Millisecond
	}
	switch {
	case c.Payload < MinPayload:
		return c, fmt.Errorf("bench: --payload %d: at least %d bytes (the stamp)", c.Payload, MinPayload)
	case c.Payload > 1<<20:
		return c, fmt.Errorf("bench: --payload %d: at most 1 MiB", c.Payload)
	case c.Window < 0:
		return c, fmt.Errorf("bench: --window %d: must be >= 0", c.Window)
	case c.Count < 0:
		return c, fmt.Errorf("bench: --count %d: must be >= 0", c.Count)
	case c.Rate < 0:
		return c, fmt.Errorf("bench: --rate %v: must be >= 0", c.Rate)
	case c.Publishers > MaxSources || c.Callers > MaxSources:
		return c, fmt.Errorf("bench: at most %d publishers or callers", MaxSources)
	case c.Subscribers > 100000 || c.Callees > 100000 || c.Sessions > 1000000:
		return c, fmt.Errorf("bench: too many connections")
	case c.InFlight > 1<<16:
		return c, fmt.Errorf("bench: --inflight %d: at most 65536", c.InFlight)
	case c.Events > 1000:
		return c, fmt.Errorf("bench: --events %d: at most 1000", c.Events)
	case len(c.SubURLs) > 0 && c.Publishers >= probeSrc:
		return c, fmt.Errorf("bench: --sub-url: at most %d publishers", probeSrc-1)
	case c.Hold < 0:
		return c, fmt.Errorf("bench: --hold %v: must be >= 0", c.Hold)
	}
	return c, nil
}

// Params are the parameters of a run as reported in its JSON line.
type Params struct {
	URL         string   `json:"url"`
	SubURLs     []string `json:"sub_urls,omitempty"`
	Serializer  string   `json:"serializer"`
	Realm       string   `json:"realm"`
	Duration    string   `json:"duration,omitempty"`
	Warmup      string   `json:"warmup,omitempty"`
	Drain       string   `json:"drain,omitempty"`
	Count       int64    `json:"count,omitempty"`
	Payload     int      `json:"payload"`
	Topic       string   `json:"topic,omitempty"`
	Procedure   string   `json:"procedure,omitempty"`
	Publishers  int      `json:"publishers,omitempty"`
	Subscribers int      `json:"subscribers,omitempty"`
	Window      *int     `json:"window,omitempty"`
	Batch       int      `json:"batch,omitempty"`
	Rate        float64  `json:"rate,omitempty"`
	Callees     int      `json:"callees,omitempty"`
	Callers     int      `json:"callers,omitempty"`
	InFlight    int      `json:"inflight,omitempty"`
	Sessions    int      `json:"sessions,omitempty"`
	Concurrency int      `json:"concurrency,omitempty"`
	Events      int      `json:"events,omitempty"`
	Sources     int      `json:"sources"`
	PID         int      `json:"pid,omitempty"`
	PIDs        []int    `json:"pids,omitempty"`
	Hold        string   `json:"hold,omitempty"`
	GOMAXPROCS  int      `json:"tool_gomaxprocs"`
	NoFile      uint64   `json:"tool_nofile"`
}

func (c *Config) params(mode string, gomaxprocs int, nofile uint64) Params {
	p := Params{
		URL: c.URL, SubURLs: c.SubURLs, PIDs: c.PIDs, Serializer: c.Serializer, Realm: c.Realm,
		Duration: c.Duration.String(), Warmup: c.Warmup.String(), Drain: c.Drain.String(),
		Count: c.Count, Payload: c.Payload, Sources: c.Sources, PID: c.PID,
		GOMAXPROCS: gomaxprocs, NoFile: nofile,
	}
	switch mode {
	case "pubsub":
		w := c.Window
		p.Topic, p.Publishers, p.Subscribers, p.Window, p.Batch, p.Rate = c.Topic, c.Publishers, c.Subscribers, &w, c.Batch, c.Rate
	case "rpc":
		p.Procedure, p.Callees, p.Callers, p.InFlight = c.Procedure, c.Callees, c.Callers, c.InFlight
	case "conns":
		p.Topic, p.Sessions, p.Concurrency, p.Events = c.Topic, c.Sessions, c.Concurrency, c.Events
		p.Duration, p.Warmup, p.Drain = "", "", "" // not used: conns is bounded by its counts
		if c.Hold > 0 {
			p.Hold = c.Hold.String()
		}
	}
	return p
}
