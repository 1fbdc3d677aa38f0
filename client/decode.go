package client

import (
	"math"

	"github.com/zwamp/zwamp/codec"
)

// valueBuilder turns a payload into Go values, like codec.ToList and
// codec.ToDict, but is owned by the reader goroutine and reused: its
// container stack keeps its capacity, and the top-level list or dict is
// returned as such rather than boxed in an interface, which saves a few
// allocations on every EVENT, INVOCATION and RESULT.
type valueBuilder struct {
	stack []buildFrame
	limit int            // bytes in the payload: no container can hold more elements
	list  []any          // the finished top-level list
	dict  map[string]any // the finished top-level dict
	top   any            // a finished top-level scalar (a malformed payload)
}

type buildFrame struct {
	list   []any
	dict   map[string]any
	key    string
	isDict bool
	hasKey bool
}

// walk decodes r into the builder; the result is in b.list or b.dict.
func (b *valueBuilder) walk(r codec.Raw) error {
	clear(b.stack[:cap(b.stack)])
	b.stack = b.stack[:0]
	b.list, b.dict, b.top = nil, nil, nil
	b.limit = len(r.Bytes)
	c := codec.ByFormat(r.Format)
	if c == nil {
		return &codec.Error{Offset: -1, Err: codec.ErrUnsupported, Detail: "no serializer for " + r.Format.String()}
	}
	return c.Walk(r.Bytes, b, codec.DefaultMaxDepth)
}

// toList decodes a list payload (Arguments); absent is nil.
func (b *valueBuilder) toList(r codec.Raw) ([]any, error) {
	if r.Bytes == nil {
		return nil, nil
	}
	if err := b.walk(r); err != nil {
		return nil, err
	}
	if b.list == nil {
		return nil, &codec.Error{Field: "Arguments", Offset: -1, Err: codec.ErrType, Detail: "want list"}
	}
	l := b.list
	b.list = nil
	return l, nil
}

// toDict decodes a dict payload (ArgumentsKw, Details); absent is nil.
func (b *valueBuilder) toDict(r codec.Raw) (map[string]any, error) {
	if r.Bytes == nil {
		return nil, nil
	}
	if err := b.walk(r); err != nil {
		return nil, err
	}
	if b.dict == nil {
		return nil, &codec.Error{Field: "ArgumentsKw", Offset: -1, Err: codec.ErrType, Detail: "want dict"}
	}
	d := b.dict
	b.dict = nil
	return d, nil
}

// details decodes a Details/Extra dict, leaving nil for an empty or absent
// one; the codec validated it while decoding the message.
func (b *valueBuilder) details(r codec.Raw) map[string]any {
	if !r.Present() || isEmptyDict(r) {
		return nil
	}
	d, _ := b.toDict(r)
	return d
}

func (b *valueBuilder) put(v any) {
	if len(b.stack) == 0 {
		b.top = v
		return
	}
	f := &b.stack[len(b.stack)-1]
	if !f.isDict {
		f.list = append(f.list, v)
		return
	}
	if !f.hasKey {
		// Codecs report dict keys with WriteString; anything else is
		// not a valid WAMP dict and was rejected by Walk already.
		s, _ := v.(string)
		f.key, f.hasKey = s, true
		return
	}
	f.dict[f.key] = v
	f.hasKey = false
}

// WriteNil implements codec.ValueWriter.
func (b *valueBuilder) WriteNil() { b.put(nil) }

// WriteBool implements codec.ValueWriter.
func (b *valueBuilder) WriteBool(v bool) { b.put(v) }

// WriteInt implements codec.ValueWriter.
func (b *valueBuilder) WriteInt(v int64) { b.put(v) }

// WriteUint implements codec.ValueWriter; values above MaxInt64 stay uint64.
func (b *valueBuilder) WriteUint(v uint64) {
	if v <= math.MaxInt64 {
		b.put(int64(v))
	} else {
		b.put(v)
	}
}

// WriteFloat implements codec.ValueWriter.
func (b *valueBuilder) WriteFloat(v float64) { b.put(v) }

// WriteString implements codec.ValueWriter. A dict key is stored without
// boxing it.
func (b *valueBuilder) WriteString(s []byte) {
	if n := len(b.stack); n > 0 {
		if f := &b.stack[n-1]; f.isDict && !f.hasKey {
			f.key, f.hasKey = string(s), true
			return
		}
	}
	b.put(string(s))
}

// WriteBytes implements codec.ValueWriter; the bytes are copied.
func (b *valueBuilder) WriteBytes(p []byte) { b.put(append([]byte{}, p...)) }

// BeginArray implements codec.ValueWriter.
func (b *valueBuilder) BeginArray(n int) {
	b.stack = append(b.stack, buildFrame{list: make([]any, 0, b.capacity(n))})
}

// capacity bounds a container's announced size by the payload's length,
// so a lying count cannot make the client allocate more than the message.
func (b *valueBuilder) capacity(n int) int {
	return max(0, min(n, b.limit))
}

// BeginMap implements codec.ValueWriter.
func (b *valueBuilder) BeginMap(n int) {
	b.stack = append(b.stack, buildFrame{dict: make(map[string]any, b.capacity(n)), isDict: true})
}

// End implements codec.ValueWriter.
func (b *valueBuilder) End() {
	n := len(b.stack) - 1
	f := b.stack[n]
	b.stack[n] = buildFrame{}
	b.stack = b.stack[:n]
	if n == 0 {
		if f.isDict {
			b.dict = f.dict
		} else {
			b.list = f.list
		}
		return
	}
	if f.isDict {
		b.put(f.dict)
	} else {
		b.put(f.list)
	}
}
