package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Engine is one node's membership in the cluster: the embedded NATS server
// (or the connection to an external one), the registry and liveness.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	instance string

	srv    *server.Server // nil with ExternalNATS
	tmpDir string         // removed by Close
	token  string         // the embedded server's client token
	nc     *nats.Conn
	lnc    *nats.Conn    // liveness heartbeats (echoing)
	closed chan struct{} // closed by nc's ClosedHandler
	js     jetstream.JetStream
	reg    *Registry
	live   *Liveness

	ctx    context.Context // ends when Close starts
	cancel context.CancelFunc
	wg     sync.WaitGroup

	resyncCh chan struct{}
	wasDead  map[string]bool // instances declared dead, for onLiveChange

	reapMu  sync.Mutex
	reaping map[string]bool
	suspect map[string]bool // instances seen in the registry, never alive (sweep)

	closeOnce sync.Once
}

// bucketName is the registry's KV bucket for cluster name.
func bucketName(cluster string) string { return "zwamp_reg_" + cluster }

// Start joins the cluster and returns when the engine is usable: the
// embedded server is up (or the external one connected), JetStream has a
// meta leader, the registry bucket exists with a stream leader, the
// replica holds the bucket's content and the first heartbeat is out. It
// retries while the cluster forms (other nodes starting), until ctx ends;
// a one-node cluster is ready in well under a second, a fresh 3-node one
// in a few seconds.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	e := &Engine{
		cfg:      cfg,
		log:      log.With("node", cfg.Node),
		instance: cfg.Node + "-" + hex.EncodeToString(rnd[:]),
		closed:   make(chan struct{}),
		reaping:  make(map[string]bool),
		suspect:  make(map[string]bool),
		resyncCh: make(chan struct{}, 1),
		wasDead:  make(map[string]bool),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if err := e.start(ctx); err != nil {
		e.shutdown(false)
		return nil, fmt.Errorf("cluster: start node %s: %w", cfg.Node, err)
	}
	return e, nil
}

func (e *Engine) start(ctx context.Context) error {
	cfg := e.cfg
	opts := []nats.Option{
		nats.Name("zwamp " + e.instance),
		// A node never needs its own messages back (it delivers its own
		// events itself); without this every local publication would
		// come back through the server to the node's own interest.
		nats.NoEcho(),
		nats.ClosedHandler(func(*nats.Conn) { close(e.closed) }),
		nats.DrainTimeout(2 * time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			e.log.Warn("cluster: NATS connection error", "subject", subj, "err", err)
		}),
	}
	var err error
	if cfg.ExternalNATS != "" {
		e.nc, err = nats.Connect(cfg.ExternalNATS, append(opts, nats.MaxReconnects(-1))...)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", cfg.ExternalNATS, err)
		}
	} else {
		if err := e.startServer(); err != nil {
			return err
		}
		e.nc, err = nats.Connect("", append(opts, nats.InProcessServer(e.srv), nats.Token(e.token))...)
		if err != nil {
			return fmt.Errorf("in-process connection: %w", err)
		}
	}
	// Heartbeats travel on a connection of their own: it echoes (the
	// node's main connection does not), so Liveness hears its own
	// heartbeats and can tell a stall of this process from silent peers,
	// and a flood of forwarded messages on the main connection does not
	// delay them.
	lopts := []nats.Option{nats.Name("zwamp liveness " + e.instance)}
	if cfg.ExternalNATS != "" {
		e.lnc, err = nats.Connect(cfg.ExternalNATS, append(lopts, nats.MaxReconnects(-1))...)
	} else {
		e.lnc, err = nats.Connect("", append(lopts, nats.InProcessServer(e.srv), nats.Token(e.token))...)
	}
	if err != nil {
		return fmt.Errorf("liveness connection: %w", err)
	}
	e.js, err = jetstream.New(e.nc)
	if err != nil {
		return err
	}
	kv, err := e.openBucket(ctx)
	if err != nil {
		return err
	}
	e.reg = newRegistry(kv, e.nc, e.instance, cfg.OpTimeout, e.log)
	if err := e.reg.start(ctx); err != nil {
		return fmt.Errorf("registry watch: %w", err)
	}
	e.live = newLiveness(e.lnc, e.instance, cfg.Heartbeat, cfg.DeadAfter, e.log)
	e.live.OnChange(e.onLiveChange)
	if err := e.live.start(); err != nil {
		return fmt.Errorf("liveness: %w", err)
	}
	e.wg.Add(2)
	go e.sweepLoop()
	go e.resyncLoop()
	return nil
}

// startServer starts the embedded nats-server: routes on cfg.Listen,
// JetStream, the router's connection in-process.
func (e *Engine) startServer() error {
	cfg := e.cfg
	dir := cfg.JetStreamDir
	if dir == "" {
		d, err := os.MkdirTemp("", "zwamp-js-")
		if err != nil {
			return err
		}
		e.tmpDir, dir = d, d
	}
	// The client port: the router connects in-process, but nats-server
	// v2.15.3 starts routing only after its client accept loop, which
	// DontListen skips (StartRouting waits forever for it), so the server
	// listens on a random loopback port that a random token closes to
	// everyone else.
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	e.token = hex.EncodeToString(tok[:])
	o := &server.Options{
		ServerName:    cfg.Node,
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: e.token,
		JetStream:     true,
		StoreDir:      dir,
		NoSigs:        true,
		// Forwarded WAMP messages go up to the router's largest (16 MiB)
		// plus an envelope; the registry's values (one per registration,
		// all its callees) may be large too.
		MaxPayload: 17 << 20,
	}
	if cfg.Listen != "" {
		host, port, _ := splitHostPort(cfg.Listen)
		if port == 0 {
			port = server.RANDOM_PORT
		}
		o.Cluster = server.ClusterOpts{
			Name: cfg.Name, Host: host, Port: port,
			// A silent route (a blackholed link, a frozen peer) would
			// otherwise stay up for minutes (2 min pings, 2 out).
			PingInterval: max(time.Second, 2*cfg.Heartbeat),
			MaxPingsOut:  3,
		}
		if len(cfg.Routes) > 0 {
			o.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
		}
		if cfg.Secret != "" {
			o.Cluster.Username, o.Cluster.Password = "zwamp", cfg.Secret
			for _, u := range o.Routes {
				u.User = url.UserPassword("zwamp", cfg.Secret)
			}
		} else if host != "127.0.0.1" && host != "localhost" && host != "::1" {
			e.log.Warn("cluster: routes accept any peer: set cluster.secret", "listen", cfg.Listen)
		}
	}
	if cfg.serverOptions != nil {
		cfg.serverOptions(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("nats-server: %w", err)
	}
	s.SetLoggerV2(natsLogger{e.log}, false, false, false)
	e.srv = s
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server not ready after 10s")
	}
	if !s.JetStreamEnabled() {
		return errors.New("nats-server started without JetStream (see its log)")
	}
	if cfg.onServer != nil {
		cfg.onServer(s)
	}
	return nil
}

// openBucket binds the registry bucket, creating its stream if it does not
// exist, and waits until its stream leader answers, retrying while
// JetStream has no meta leader or not enough peers for the replicas.
//
// The stream is created by hand rather than with CreateKeyValue to turn
// direct gets off: with them, any replica (possibly lagging) answers a
// Get, and the registry re-checks refusals with Get. It is in memory: its
// content is session state, meaningless once every node has restarted.
func (e *Engine) openBucket(ctx context.Context) (jetstream.KeyValue, error) {
	bucket := bucketName(e.cfg.Name)
	scfg := jetstream.StreamConfig{
		Name:              "KV_" + bucket,
		Subjects:          []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxConsumers:      -1,
		Storage:           jetstream.MemoryStorage,
		Replicas:          e.cfg.KVReplicas,
		AllowRollup:       true,
		DenyDelete:        true,
		Duplicates:        2 * time.Minute,
		Discard:           jetstream.DiscardNew,
		AllowDirect:       false,
	}
	var last error
	for delay := 50 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		kv, err := e.tryBucket(ctx, bucket, scfg)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, last) {
			e.log.Debug("cluster: registry bucket not ready yet", "err", err)
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("registry bucket %s not ready: %w (last error: %v)", bucket, ctx.Err(), last)
		case <-time.After(delay):
		}
	}
}

func (e *Engine) tryBucket(ctx context.Context, bucket string, scfg jetstream.StreamConfig) (jetstream.KeyValue, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	kv, err := e.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if _, err = e.js.CreateStream(ctx, scfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, err
		}
		kv, err = e.js.KeyValue(ctx, bucket)
	}
	if err != nil {
		return nil, err
	}
	// A Get is answered by the stream leader: proof the stream works.
	if _, err := kv.Get(ctx, "probe"); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	return kv, nil
}

// onLiveChange reaps an instance declared dead, and renews the registry
// watcher when a peer dies or one declared dead comes back (a healed
// partition), see Registry.resync. It runs on Liveness's dispatch
// goroutine only.
func (e *Engine) onLiveChange(inst string, alive bool) {
	if alive && !e.wasDead[inst] {
		return
	}
	if alive {
		delete(e.wasDead, inst)
	} else {
		e.wasDead[inst] = true
	}
	select {
	case e.resyncCh <- struct{}{}:
	default:
	}
	if !alive {
		e.reap(inst)
	}
}

// resyncLoop renews the registry watcher when asked, retrying while the
// cluster elects leaders, coalescing requests that arrive meanwhile.
func (e *Engine) resyncLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.resyncCh:
		}
		for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
			ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
			err := e.reg.resync(ctx)
			cancel()
			if err == nil || e.ctx.Err() != nil {
				break
			}
			e.log.Debug("cluster: registry watcher renewal failed, retrying", "err", err)
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}
}

// reap starts removing inst's callees from the registry unless that is
// already under way, retrying (the bucket may have no leader for a few
// seconds after a node died) until it succeeds, inst is alive again or the
// engine closes.
func (e *Engine) reap(inst string) {
	e.reapMu.Lock()
	defer e.reapMu.Unlock()
	if e.reaping[inst] || e.ctx.Err() != nil {
		return
	}
	e.reaping[inst] = true
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.reapMu.Lock()
			delete(e.reaping, inst)
			e.reapMu.Unlock()
		}()
		minority := false
		for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
			if e.live.Alive(inst) {
				return
			}
			if !e.quorate() {
				// Cut off from most of the cluster: the others are not
				// dead, this node is alone. A reap would commit the moment
				// the partition heals, before their heartbeats are back
				// here, and take the majority's registrations away.
				minority = true
				select {
				case <-e.ctx.Done():
					return
				case <-time.After(delay):
				}
				continue
			}
			if minority {
				// Back in touch with a majority: the peers' heartbeats come
				// back one by one, so give the others a full dead-after
				// window to be heard before taking anyone for dead.
				minority = false
				select {
				case <-e.ctx.Done():
					return
				case <-time.After(time.Duration(e.cfg.DeadAfter+1) * e.cfg.Heartbeat):
				}
				continue
			}
			n, err := e.reg.Reap(e.ctx, inst)
			if err == nil {
				if n > 0 {
					e.log.Info("cluster: reaped dead instance's callees", "instance", inst, "callees", n)
				}
				return
			}
			e.log.Debug("cluster: reap failed, retrying", "instance", inst, "err", err)
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}()
}

// quorate reports whether this node and the peers it hears from are a
// majority of the registry's replicas: only then does it reap others.
func (e *Engine) quorate() bool {
	return len(e.live.Peers())+1 >= e.cfg.KVReplicas/2+1
}

// sweepEvery is how often the registry replica is scanned for callees of
// instances that are not alive.
func (e *Engine) sweepEvery() time.Duration { return max(5*time.Second, 10*e.cfg.Heartbeat) }

// sweepLoop reaps instances found in the registry that are not alive: ones
// that died while no survivor was watching (or whose death a survivor's
// Reap raced with their last Register). An instance Liveness declared
// dead is reaped at the first sweep; one it never heard of only if it is
// still in the registry, still unheard of, one sweep later.
func (e *Engine) sweepLoop() {
	defer e.wg.Done()
	t := time.NewTimer(time.Duration(e.cfg.DeadAfter+2) * e.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		e.sweep()
		t.Reset(e.sweepEvery())
	}
}

func (e *Engine) sweep() {
	insts := e.reg.instances()
	for inst := range e.suspect {
		if _, ok := insts[inst]; !ok {
			delete(e.suspect, inst)
		}
	}
	for inst := range insts {
		if inst == e.instance {
			continue
		}
		known, alive := e.live.state(inst)
		switch {
		case alive:
			delete(e.suspect, inst)
		case known || e.suspect[inst]:
			delete(e.suspect, inst)
			e.reap(inst)
		default:
			e.suspect[inst] = true
		}
	}
}

// Conn returns the engine's NATS connection, for the router's forwarding.
// It is shared: do not close or drain it.
func (e *Engine) Conn() *nats.Conn { return e.nc }

// Instance returns this process's unique instance id, "<node>-<16 hex>",
// safe in a subject token.
func (e *Engine) Instance() string { return e.instance }

// Registry returns the cluster-wide registration registry.
func (e *Engine) Registry() *Registry { return e.reg }

// Liveness returns the node liveness tracker.
func (e *Engine) Liveness() *Liveness { return e.live }

// Config returns the configuration in effect (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

// ClusterAddr returns the address the embedded server accepts routes on
// ("" without routes or with an external NATS).
func (e *Engine) ClusterAddr() string {
	if e.srv == nil {
		return ""
	}
	if a := e.srv.ClusterAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Close leaves the cluster: it tells the peers this instance is leaving
// (they declare it dead at once and reap its callees), stops the registry
// watcher and the heartbeats, drains the connection (at most 2 s) and shuts
// the embedded server down. It does not remove this instance's callees
// itself: the router unregisters its sessions before, or the peers reap
// them.
func (e *Engine) Close() { e.shutdown(true) }

// shutdown is Close; with leave false it is a crash as far as the peers
// can tell (no goodbye, no drain), for tests.
func (e *Engine) shutdown(leave bool) {
	e.closeOnce.Do(func() {
		e.cancel()
		if e.live != nil {
			e.live.close(leave)
		}
		if e.lnc != nil {
			e.lnc.Close()
		}
		if e.reg != nil {
			e.reg.close()
		}
		// The reapers and the watcher renewal may be waiting for a
		// JetStream answer that will not come (no quorum left): closing
		// the connection below ends those waits.
		waitGroup(&e.wg, time.Second)
		if e.nc != nil {
			if leave && e.nc.Drain() == nil {
				select {
				case <-e.closed:
				case <-time.After(3 * time.Second):
				}
			}
			e.nc.Close()
		}
		waitGroup(&e.wg, 2*time.Second)
		if e.srv != nil {
			e.srv.Shutdown()
			e.srv.WaitForShutdown()
		}
		if e.tmpDir != "" {
			_ = os.RemoveAll(e.tmpDir)
		}
	})
}

// natsLogger sends the embedded server's log to slog: notices at Debug
// (a server start logs dozens), warnings and errors as such.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(f string, v ...any) { n.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (n natsLogger) Warnf(f string, v ...any)   { n.l.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (n natsLogger) Fatalf(f string, v ...any)  { n.l.Error("nats: fatal: " + fmt.Sprintf(f, v...)) }
func (n natsLogger) Errorf(f string, v ...any)  { n.l.Error("nats: " + fmt.Sprintf(f, v...)) }
func (n natsLogger) Debugf(f string, v ...any)  {}
func (n natsLogger) Tracef(f string, v ...any)  {}

// waitGroup waits for wg at most d.
func waitGroup(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
