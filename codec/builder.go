package codec

import "math"

// Builder is a ValueWriter that turns one encoded value into Go values: nil,
// bool, int64 (uint64 above MaxInt64), float64, string, []byte, []any and
// map[string]any. It is meant to be owned by one goroutine and reused: its
// container stack keeps its capacity, a top-level list or dict is returned
// as such (not boxed in an interface), and dict keys are stored without
// boxing, which saves allocations on every payload a client decodes.
// The zero value is ready to use.
type Builder struct {
	stack []buildFrame
	limit int            // bytes in the payload: no container can hold more elements
	list  []any          // the finished top-level list
	dict  map[string]any // the finished top-level dict
	top   any            // a finished top-level scalar
	isTop bool
}

type buildFrame struct {
	list   []any
	dict   map[string]any
	key    string
	isDict bool
	hasKey bool
}

// walk decodes r into the builder.
func (b *Builder) walk(r Raw) error {
	clear(b.stack[:cap(b.stack)])
	b.stack = b.stack[:0]
	b.list, b.dict, b.top, b.isTop = nil, nil, nil, false
	b.limit = len(r.Bytes)
	c := ByFormat(r.Format)
	if c == nil {
		return &Error{Offset: -1, Err: ErrUnsupported, Detail: "no serializer for " + r.Format.String()}
	}
	return c.Walk(r.Bytes, b, DefaultMaxDepth)
}

// Value decodes r; absent is nil.
func (b *Builder) Value(r Raw) (any, error) {
	if r.Bytes == nil {
		return nil, nil
	}
	if err := b.walk(r); err != nil {
		return nil, err
	}
	switch {
	case b.list != nil:
		v := b.list
		b.list = nil
		return v, nil
	case b.dict != nil:
		v := b.dict
		b.dict = nil
		return v, nil
	}
	v := b.top
	b.top = nil
	return v, nil
}

// List decodes a list payload (Arguments); absent is nil.
func (b *Builder) List(r Raw) ([]any, error) {
	if r.Bytes == nil {
		return nil, nil
	}
	if err := b.walk(r); err != nil {
		return nil, err
	}
	if b.list == nil {
		return nil, &Error{Field: "Arguments", Offset: -1, Err: ErrType, Detail: "want list"}
	}
	l := b.list
	b.list = nil
	return l, nil
}

// Dict decodes a dict payload (ArgumentsKw, Details); absent is nil.
func (b *Builder) Dict(r Raw) (map[string]any, error) {
	if r.Bytes == nil {
		return nil, nil
	}
	if err := b.walk(r); err != nil {
		return nil, err
	}
	if b.dict == nil {
		return nil, &Error{Field: "ArgumentsKw", Offset: -1, Err: ErrType, Detail: "want dict"}
	}
	d := b.dict
	b.dict = nil
	return d, nil
}

func (b *Builder) put(v any) {
	if len(b.stack) == 0 {
		b.top, b.isTop = v, true
		return
	}
	f := &b.stack[len(b.stack)-1]
	if !f.isDict {
		f.list = append(f.list, v)
		return
	}
	if !f.hasKey {
		// Codecs report dict keys with WriteString; anything else was
		// rejected by Walk already.
		s, _ := v.(string)
		f.key, f.hasKey = s, true
		return
	}
	f.dict[f.key] = v
	f.hasKey = false
}

// WriteNil implements ValueWriter.
func (b *Builder) WriteNil() { b.put(nil) }

// WriteBool implements ValueWriter.
func (b *Builder) WriteBool(v bool) { b.put(v) }

// WriteInt implements ValueWriter.
func (b *Builder) WriteInt(v int64) { b.put(v) }

// WriteUint implements ValueWriter; values above MaxInt64 stay uint64.
func (b *Builder) WriteUint(v uint64) {
	if v <= math.MaxInt64 {
		b.put(int64(v))
	} else {
		b.put(v)
	}
}

// WriteFloat implements ValueWriter.
func (b *Builder) WriteFloat(v float64) { b.put(v) }

// WriteString implements ValueWriter. A dict key is stored without boxing.
func (b *Builder) WriteString(s []byte) {
	if n := len(b.stack); n > 0 {
		if f := &b.stack[n-1]; f.isDict && !f.hasKey {
			f.key, f.hasKey = string(s), true
			return
		}
	}
	b.put(string(s))
}

// WriteBytes implements ValueWriter; the bytes are copied.
func (b *Builder) WriteBytes(p []byte) { b.put(append([]byte{}, p...)) }

// BeginArray implements ValueWriter.
func (b *Builder) BeginArray(n int) {
	b.stack = append(b.stack, buildFrame{list: make([]any, 0, b.capacity(n))})
}

// BeginMap implements ValueWriter.
func (b *Builder) BeginMap(n int) {
	b.stack = append(b.stack, buildFrame{dict: make(map[string]any, b.capacity(n)), isDict: true})
}

// capacity bounds a container's announced size by the payload's length,
// so a lying count cannot make the builder allocate more than the message.
func (b *Builder) capacity(n int) int { return max(0, min(n, b.limit)) }

// End implements ValueWriter.
func (b *Builder) End() {
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
