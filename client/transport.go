package client

import (
	"fmt"

	_ "github.com/zwamp/zwamp/codec/cbor"    // register the serializers a Config may name
	_ "github.com/zwamp/zwamp/codec/json"    //
	_ "github.com/zwamp/zwamp/codec/msgpack" //
	"github.com/zwamp/zwamp/core"
)

// Transport carries whole WAMP messages, one in and one out, already
// serialized in the Client's serializer.
//
// Send is called by one goroutine at a time (the Client serialises its
// writes); it must be done with msg when it returns. Recv is called only
// from the Client's reader goroutine and returns a message that stays valid
// until the next Recv. Close must be safe to call more than once and
// concurrently with Send and Recv, and must make a blocked Recv return an
// error; that is how the Client stops its reader.
type Transport interface {
	Send(msg []byte) error
	Recv() ([]byte, error)
	Close() error
}

// ConnectLocal joins a realm of an in-process router: no socket, the
// router handles each message on the sending goroutine (see
// core.Router.ConnectLocal).
func ConnectLocal(r *core.Router, cfg Config) (*Client, error) {
	if _, err := serializer(&cfg); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return New(&localTransport{l: r.ConnectLocal(cfg.Serializer)}, cfg)
}

// ConnectLocalAs is ConnectLocal for the router's own service sessions (an
// HTTP bridge, an authorizer's caller): the session joins cfg.Realm with
// identity id and no authentication, whatever the realm's methods
// (core.Router.ConnectLocalAs). Never hand it anything a remote peer
// chooses.
func ConnectLocalAs(r *core.Router, id core.Identity, cfg Config) (*Client, error) {
	if _, err := serializer(&cfg); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return New(&localTransport{l: r.ConnectLocalAs(cfg.Serializer, id)}, cfg)
}

// localTransport adapts core.Local to Transport.
type localTransport struct{ l *core.Local }

func (t *localTransport) Send(msg []byte) error { return t.l.Write(msg) }
func (t *localTransport) Recv() ([]byte, error) { return t.l.Read() }
func (t *localTransport) Close() error          { t.l.Close(); return nil }
