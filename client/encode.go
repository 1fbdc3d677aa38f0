package client

import (
	"fmt"
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
	args   []byte // encoded Arguments; empty when the message has none
	kwargs []byte // encoded ArgumentsKw; empty when the message has none
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
	var err error
	if len(args) > 0 {
		p.w.Reset(p.args[:0])
		if p.args, err = p.written(codec.WriteList(p.w, args)); err != nil {
			p.release()
			return nil, fmt.Errorf("client: encode arguments: %w", err)
		}
	}
	if len(kwargs) > 0 {
		p.w.Reset(p.kwargs[:0])
		if p.kwargs, err = p.written(codec.WriteDict(p.w, kwargs)); err != nil {
			p.release()
			return nil, fmt.Errorf("client: encode keyword arguments: %w", err)
		}
	}
	return p, nil
}

// written returns what p.w wrote since its Reset, and err or else the
// writer's own error.
func (p *payload) written(err error) ([]byte, error) {
	if err == nil {
		err = p.w.Err()
	}
	return p.w.Bytes(), err
}

// set points m's payload at p's bytes (a nil p leaves m without payload).
func (p *payload) set(m *codec.Message) {
	if p == nil {
		return
	}
	if len(p.args) > 0 {
		m.Args = codec.Raw{Format: p.f, Bytes: p.args}
	}
	if len(p.kwargs) > 0 {
		m.Kwargs = codec.Raw{Format: p.f, Bytes: p.kwargs}
	}
}

// release returns p to its pool, emptied; a nil p is fine.
func (p *payload) release() {
	if p == nil {
		return
	}
	p.args, p.kwargs = p.args[:0], p.kwargs[:0]
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

// view returns the bytes of s without copying. Writers and encoders only
// read them.
func view(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
