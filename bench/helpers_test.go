package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/zwamp/zwamp/bench/ceiling"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// startRouter runs the real stack in-process (core.Router behind a
// universal netpoll listener on 127.0.0.1:0) and returns its address.
func startRouter(tb testing.TB) string {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := netpoll.NewServer(r, netpoll.Config{
		Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}},
		Logger:    log,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s.Addrs()[0].String()
}

// startCeiling runs the reference ceiling server on 127.0.0.1:0.
func startCeiling(tb testing.TB) (*ceiling.Server, string) {
	tb.Helper()
	s := ceiling.New(ceiling.Config{Addr: "127.0.0.1:0"})
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s, s.Addr().String()
}

// urlFor builds a --url for addr.
func urlFor(transport, addr string) string {
	if transport == "ws" {
		return "ws://" + addr + "/ws"
	}
	return "rs://" + addr
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
