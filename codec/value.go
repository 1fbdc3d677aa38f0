package codec

import (
	"fmt"
	"math"
	"reflect"

	segjson "github.com/segmentio/encoding/json"
)

// This file converts between Raw values and ordinary Go values for the
// client library and the meta API. Allocation is expected here; the router's
// hot path never calls it.

// ToGo decodes r into Go values: nil, bool, int64 (uint64 above MaxInt64),
// float64, string, []byte, []any and map[string]any.
func ToGo(r Raw) (any, error) {
	if r.Bytes == nil {
		return nil, nil
	}
	c := ByFormat(r.Format)
	if c == nil {
		return nil, &Error{Offset: -1, Err: ErrUnsupported, Detail: "no serializer for " + r.Format.String()}
	}
	var b builder
	if err := c.Walk(r.Bytes, &b, DefaultMaxDepth); err != nil {
		return nil, err
	}
	return b.root, nil
}

// ToList decodes a list payload (Arguments) into []any; absent is nil.
func ToList(r Raw) ([]any, error) {
	v, err := ToGo(r)
	if err != nil || v == nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, &Error{Field: "Arguments", Offset: -1, Err: ErrType, Detail: "want list"}
	}
	return l, nil
}

// ToDict decodes a dict payload (ArgumentsKw, Details) into map[string]any.
func ToDict(r Raw) (map[string]any, error) {
	v, err := ToGo(r)
	if err != nil || v == nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Field: "ArgumentsKw", Offset: -1, Err: ErrType, Detail: "want dict"}
	}
	return d, nil
}

// builder is a ValueWriter that assembles Go values.
type builder struct {
	root  any
	stack []frame
}

type frame struct {
	list   []any
	dict   map[string]any
	key    string
	isDict bool
	hasKey bool
}

func (b *builder) put(v any) {
	if len(b.stack) == 0 {
		b.root = v
		return
	}
	f := &b.stack[len(b.stack)-1]
	if !f.isDict {
		f.list = append(f.list, v)
		return
	}
	if !f.hasKey {
		s, _ := v.(string)
		f.key, f.hasKey = s, true
		return
	}
	f.dict[f.key] = v
	f.hasKey = false
}

func (b *builder) WriteNil()            { b.put(nil) }
func (b *builder) WriteBool(v bool)     { b.put(v) }
func (b *builder) WriteInt(v int64)     { b.put(v) }
func (b *builder) WriteFloat(v float64) { b.put(v) }
func (b *builder) WriteString(s []byte) { b.put(string(s)) }
func (b *builder) WriteBytes(p []byte)  { b.put(append([]byte{}, p...)) }
func (b *builder) WriteUint(v uint64) {
	if v <= math.MaxInt64 {
		b.put(int64(v))
	} else {
		b.put(v)
	}
}
func (b *builder) BeginArray(n int) { b.stack = append(b.stack, frame{list: make([]any, 0, n)}) }
func (b *builder) BeginMap(n int) {
	b.stack = append(b.stack, frame{dict: make(map[string]any, n), isDict: true})
}
func (b *builder) End() {
	f := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	if f.isDict {
		b.put(f.dict)
	} else {
		b.put(f.list)
	}
}

// AppendGo encodes the Go value v in format f and appends it to dst. Common
// types are written directly; anything else (structs, typed maps and
// slices) goes through segmentio/encoding/json and is then transcoded, so
// json struct tags apply. []byte is written as binary (JSON: "\u0000"+base64).
func AppendGo(dst []byte, f Format, v any) ([]byte, error) {
	if ByFormat(f) == nil {
		return dst, &Error{Offset: -1, Err: ErrUnsupported, Detail: "no serializer for " + f.String()}
	}
	w := AcquireWriter(f, dst)
	defer ReleaseWriter(f, w)
	if err := writeGo(w, v, 0); err != nil {
		return dst, err
	}
	if err := w.Err(); err != nil {
		return dst, err
	}
	return w.Bytes(), nil
}

// EncodeGo is AppendGo into a new Raw.
func EncodeGo(f Format, v any) (Raw, error) {
	b, err := AppendGo(nil, f, v)
	if err != nil {
		return Raw{}, err
	}
	return Raw{Format: f, Bytes: b}, nil
}

// WriteGo writes the Go value v to w, with the conversions of AppendGo.
func WriteGo(w ValueWriter, v any) error { return writeGo(w, v, 0) }

// WriteRaw writes the encoded value r to w (transcoding it token by token).
func WriteRaw(w ValueWriter, r Raw) error { return writeRaw(w, r, 0) }

func writeGo(w ValueWriter, v any, depth int) error {
	if depth > DefaultMaxDepth {
		return &Error{Offset: -1, Err: ErrDepth}
	}
	switch x := v.(type) {
	case nil:
		w.WriteNil()
	case bool:
		w.WriteBool(x)
	case int:
		writeInt(w, int64(x))
	case int8:
		writeInt(w, int64(x))
	case int16:
		writeInt(w, int64(x))
	case int32:
		writeInt(w, int64(x))
	case int64:
		writeInt(w, x)
	case uint:
		w.WriteUint(uint64(x))
	case uint8:
		w.WriteUint(uint64(x))
	case uint16:
		w.WriteUint(uint64(x))
	case uint32:
		w.WriteUint(uint64(x))
	case uint64:
		w.WriteUint(x)
	case float32:
		w.WriteFloat(float64(x))
	case float64:
		w.WriteFloat(x)
	case string:
		w.WriteString([]byte(x))
	case []byte:
		w.WriteBytes(x)
	case Raw:
		return writeRaw(w, x, depth)
	case []any:
		w.BeginArray(len(x))
		for _, e := range x {
			if err := writeGo(w, e, depth+1); err != nil {
				return err
			}
		}
		w.End()
	case []string:
		w.BeginArray(len(x))
		for _, e := range x {
			w.WriteString([]byte(e))
		}
		w.End()
	case map[string]any:
		w.BeginMap(len(x))
		for k, e := range x {
			w.WriteString([]byte(k))
			if err := writeGo(w, e, depth+1); err != nil {
				return err
			}
		}
		w.End()
	case map[string]string:
		w.BeginMap(len(x))
		for k, e := range x {
			w.WriteString([]byte(k))
			w.WriteString([]byte(e))
		}
		w.End()
	default:
		return writeReflect(w, v, depth)
	}
	return nil
}

func writeInt(w ValueWriter, v int64) {
	if v >= 0 {
		w.WriteUint(uint64(v))
	} else {
		w.WriteInt(v)
	}
}

func writeRaw(w ValueWriter, r Raw, depth int) error {
	c := ByFormat(r.Format)
	if c == nil {
		return &Error{Offset: -1, Err: ErrUnsupported, Detail: "no serializer for " + r.Format.String()}
	}
	return c.Walk(r.Bytes, w, max(1, DefaultMaxDepth-depth))
}

// writeReflect handles values outside the common set by marshalling them to
// JSON with segmentio/encoding and walking the result.
func writeReflect(w ValueWriter, v any, depth int) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		w.WriteNil()
		return nil
	}
	b, err := segjson.Marshal(v)
	if err != nil {
		return fmt.Errorf("codec: encode %T: %w", v, err)
	}
	return writeRaw(w, Raw{Format: JSON, Bytes: b}, depth)
}

// Unmarshal decodes r into the value pointed to by dst. *any, *[]any and
// *map[string]any are filled by ToGo; other targets are filled by
// segmentio/encoding/json from r transcoded to JSON, so json struct tags
// apply.
func Unmarshal(r Raw, dst any) error {
	switch p := dst.(type) {
	case *any:
		v, err := ToGo(r)
		*p = v
		return err
	case *[]any:
		v, err := ToList(r)
		*p = v
		return err
	case *map[string]any:
		v, err := ToDict(r)
		*p = v
		return err
	}
	if r.Bytes == nil {
		return nil
	}
	js, err := Transcode(nil, JSON, r)
	if err != nil {
		return err
	}
	if err := segjson.Unmarshal(js, dst); err != nil {
		return fmt.Errorf("codec: decode into %T: %w", dst, err)
	}
	return nil
}
