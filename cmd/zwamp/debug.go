package main

import (
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// serveDebug serves expvar's /debug/vars on addr (serve --debug-addr): Go's
// memstats and cmdline, plus "zwamp" with the goroutine count, the router's
// table sizes and counters and the server's counters. It is for
// observation by soak runs and operators on a trusted address (it takes no
// credentials); bench/soak samples it every 10 s. Each request walks the
// router's tables (core.Router.Tables), so it is not for high-rate polling.
func serveDebug(addr string, router *core.Router, srv *netpoll.Server, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	expvar.Publish("zwamp", expvar.Func(func() any {
		return map[string]any{
			"goroutines": runtime.NumGoroutine(),
			"tables":     router.Tables(),
			"router":     router.Stats(),
			"server":     srv.Stats(),
		}
	}))
	mux := http.NewServeMux()
	mux.Handle("/debug/vars", expvar.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("debug server", "error", err)
		}
	}()
	log.Info("debug endpoint", "url", "http://"+ln.Addr().String()+"/debug/vars")
	return func() { _ = hs.Close() }, nil
}
