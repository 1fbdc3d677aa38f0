package client

import (
	"sync"
	"unsafe"

	"github.com/zwamp/zwamp/codec"
)

// payload is the encoded Arguments and ArgumentsKw of one outgoing message.
// It is encoded before the write lock is taken, so that converting large or
// reflective values (which may run user MarshalJSON code) never holds up
// other senders, and pooled per serializer so that steady-state encoding
// does not allocate.
type payload struct {
	f      codec.Format
	w      codec.Writer
	args   []byte
	kwargs []byte
	hasArg bool
	hasKw  bool
}

var payloadPools [codec.NumFormats]sync.Pool

// encodePayload encodes args and kwargs in format f. Empty values are left
// out of the message (an empty Arguments list is still written when
// ArgumentsKw is present; the codec takes care of that). The result must be
// released with release once the message has been written.
func encodePayload(f codec.Format, args []any, kwargs map[string]any) (*payload, error) {
	if len(args) == 0 && len(kwargs) == 0 {
		return nil, nil
	}
	p, _ := payloadPools[f].Get().(*payload)
	if p == nil {
		c := codec.ByFormat(f)
		if c == nil {
			return nil, &codec.Error{Offset: -1, Err: codec.ErrUnsupported, Detail: "no serializer for " + f.String()}
		}
		p = &payload{f: f, w: c.NewWriter()}
	}
	if len(args) > 0 {
		p.w.Reset(p.args[:0])
		err := codec.WriteList(p.w, args)
		p.args = p.w.Bytes()
		if err == nil {
			err = p.w.Err()
		}
		if err != nil {
			p.release()
			return nil, wrapEncodeErr("arguments", err)
		}
		p.hasArg = true
	}
	if len(kwargs) > 0 {
		p.w.Reset(p.kwargs[:0])
		err := codec.WriteDict(p.w, kwargs)
		p.kwargs = p.w.Bytes()
		if err == nil {
			err = p.w.Err()
		}
		if err != nil {
			p.release()
			return nil, wrapEncodeErr("keyword arguments", err)
		}
		p.hasKw = true
	}
	return p, nil
}

// set points m's payload at p's bytes (a nil p leaves m without payload).
func (p *payload) set(m *codec.Message) {
	if p == nil {
		return
	}
	if p.hasArg {
		m.Args = codec.Raw{Format: p.f, Bytes: p.args}
	}
	if p.hasKw {
		m.Kwargs = codec.Raw{Format: p.f, Bytes: p.kwargs}
	}
}

// release returns p to its pool; a nil p is fine.
func (p *payload) release() {
	if p == nil {
		return
	}
	p.hasArg, p.hasKw = false, false
	// Huge payloads are not worth keeping around.
	const keep = 64 << 10
	if cap(p.args) > keep {
		p.args = nil
	}
	if cap(p.kwargs) > keep {
		p.kwargs = nil
	}
	p.w.Reset(nil)
	payloadPools[p.f].Put(p)
}

type encodeError struct {
	what string
	err  error
}

func (e *encodeError) Error() string { return "client: encode " + e.what + ": " + e.err.Error() }
func (e *encodeError) Unwrap() error { return e.err }

func wrapEncodeErr(what string, err error) error { return &encodeError{what, err} }

// view returns the bytes of s without copying. Writers and encoders only
// read them.
func view(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
