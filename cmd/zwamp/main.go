package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// hardExitGrace is how long past the configured shutdown timeout the
// daemon waits before exiting regardless.
const hardExitGrace = 3 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var usage = `usage:
  zwamp serve [--config FILE] [--listen ADDR]   run the router
  zwamp version                                 print the version
  zwamp bench <mode> [flags]                    load a WAMP router (zwamp bench help)
  zwamp passwd [--method M] < secret            print a principal's config entry for a secret

WAMP client (common flags --url, --realm, --serializer, --authid, --authmethod,
--ticket, --secret, --private-key, --timeout, --json; env ZWAMP_URL, ...):
` + cliUsage() + `
zwamp COMMAND --help describes a command and its flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "passwd":
		return passwd(args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "zwamp %s\n", core.Version)
		return 0
	case "help", "--help", "-h":
		if len(args) > 1 {
			if c := lookupCLI(args[1]); c != nil {
				return runCLI(c, []string{"--help"}, stdout, stderr)
			}
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	if c := lookupCLI(args[0]); c != nil {
		return runCLI(c, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "zwamp: unknown command %q\n%s", args[0], usage)
	return 2
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON configuration file (see cmd/zwamp/zwamp.example.json)")
	listen := fs.String("listen", "", "override the first listener's address (host:port)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile (pprof) to this file until shutdown")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := defaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = loadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "zwamp: %v\n", err)
			return 1
		}
	}
	if *listen != "" {
		cfg.Listeners[0].Address = *listen
	}
	level, err := cfg.logLevel()
	if err != nil {
		fmt.Fprintf(stderr, "zwamp: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	rc, err := cfg.routerConfig(log)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		return 1
	}
	router, err := core.NewRouter(rc)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		return 1
	}
	if err := cfg.attachRouter(router); err != nil {
		log.Error("invalid configuration", "error", err)
		return 1
	}
	azs, err := startAuthorizers(cfg, router, log)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		return 1
	}
	defer azs.close()
	// Reloaded on SIGHUP: roles, principals, admin.uri_metrics and (once the server exists)
	// the listeners' TLS certificates.
	reloaders := []reloader{azs.reloadRoles, cfg.reloadAuth, reloadURIMetrics}
	for _, w := range originWarnings(cfg, usesCookieAuth) {
		log.Warn(w)
	}
	sc, err := cfg.serverConfig(log)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		return 1
	}
	srv, err := netpoll.NewServer(router, sc)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		return 1
	}
	reloaders = append(reloaders, tlsReloader(srv, cfg))
	// The cluster is joined before the listeners open: a session must
	// never see a router whose registrations are not yet cluster-wide.
	leaveCluster, err := joinCluster(cfg, router, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	defer leaveCluster()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Error("cpu profile", "error", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error("cpu profile", "error", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	// Catch signals before listening, so a SIGTERM that arrives as soon as
	// the port answers still gets the graceful path.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	// SIGUSR1 (or POST /drain on the admin listener) drains: the same
	// shutdown with the GOODBYEs spread over drain_period.
	drainSig := make(chan os.Signal, 1)
	signal.Notify(drainSig, syscall.SIGUSR1)
	// SIGHUP reloads roles and permissions (reload.go) without stopping.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stopReload := make(chan struct{})
	defer close(stopReload)
	go func() {
		for {
			select {
			case <-stopReload:
				return
			case <-hup:
				if err := reloadConfig(*configPath, reloaders); err != nil {
					log.Error("reload refused: the running configuration is kept", "error", err)
				} else {
					log.Info("configuration reloaded", "file", *configPath)
				}
			}
		}
	}()
	if err := srv.Start(); err != nil {
		log.Error("cannot start", "error", err)
		return 1
	}
	ops, err := startOps(cfg, router, srv, log)
	if err != nil {
		log.Error("cannot start", "error", err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		return 1
	}
	log.Info("zwamp started", "version", core.Version, "realms", len(rc.Realms), "auto_create_realms", rc.AutoCreateRealms)

	timeout := cfg.shutdownTimeout()
	var period time.Duration
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String(), "timeout", timeout.String())
	case s := <-drainSig:
		period = cfg.drainPeriod()
		log.Info("draining", "signal", s.String(), "period", period.String(), "timeout", timeout.String())
	case <-ops.drainRequested():
		period = cfg.drainPeriod()
		log.Info("draining", "request", "POST /drain", "period", period.String(), "timeout", timeout.String())
	}
	timeout += period
	ops.draining()
	// A signal must always end the process: a second one, or a shutdown
	// still running past its bound (plus the few seconds netpoll may take
	// to stop nbio's engine), exits at once and says so.
	hard := timeout + hardExitGrace
	go func() {
		select {
		case s2 := <-sig:
			log.Error("second signal: exiting now", "signal", s2.String())
		case <-time.After(hard):
			log.Error("shutdown did not finish in time: exiting anyway", "waited", hard.String())
		}
		os.Exit(1)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer ops.stop(ctx)
	err = srv.Drain(ctx, period)
	router.FlushLogs()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("graceful shutdown timed out: remaining connections closed", "timeout", timeout.String())
	case err != nil:
		log.Error("shutdown", "error", err)
		return 1
	}
	st := srv.Stats()
	log.Info("stopped", "accepted", st.Accepted, "slow_consumer_closes", st.SlowCloses, "slow_consumer_drops", st.SlowDrops)
	return 0
}
