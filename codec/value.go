package codec

import (
	"fmt"
	"reflect"
	"unsafe"

	segjson "github.com/segmentio/encoding/json"
)

// This file converts between Raw values and ordinary Go values for the
// client library and the meta API. Allocation is expected here; the router's
// hot path never calls it.

// ToGo decodes r into Go values: nil, bool, int64 (uint64 above MaxInt64),
// float64, string, []byte, []any and map[string]any.
func ToGo(r Raw) (any, error) {
	var b Builder
	return b.Value(r)
}

// ToList decodes a list payload (Arguments) into []any; absent is nil.
func ToList(r Raw) ([]any, error) {
	var b Builder
	return b.List(r)
}

// ToDict decodes a dict payload (ArgumentsKw, Details) into map[string]any.
func ToDict(r Raw) (map[string]any, error) {
	var b Builder
	return b.Dict(r)
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

// WriteList writes l as a list (WriteGo without boxing the slice).
func WriteList(w ValueWriter, l []any) error { return writeList(w, l, 0) }

// WriteDict writes d as a dict (WriteGo without boxing the map).
func WriteDict(w ValueWriter, d map[string]any) error { return writeDict(w, d, 0) }

func writeList(w ValueWriter, l []any, depth int) error {
	w.BeginArray(len(l))
	for _, e := range l {
		if err := writeGo(w, e, depth+1); err != nil {
			return err
		}
	}
	w.End()
	return nil
}

func writeDict(w ValueWriter, d map[string]any, depth int) error {
	w.BeginMap(len(d))
	for k, e := range d {
		w.WriteString(view(k))
		if err := writeGo(w, e, depth+1); err != nil {
			return err
		}
	}
	w.End()
	return nil
}

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
		w.WriteString(view(x))
	case []byte:
		w.WriteBytes(x)
	case Raw:
		return writeRaw(w, x, depth)
	case []any:
		return writeList(w, x, depth)
	case []string:
		w.BeginArray(len(x))
		for _, e := range x {
			w.WriteString(view(e))
		}
		w.End()
	case map[string]any:
		return writeDict(w, x, depth)
	case map[string]string:
		w.BeginMap(len(x))
		for k, e := range x {
			w.WriteString(view(k))
			w.WriteString(view(e))
		}
		w.End()
	default:
		return writeReflect(w, v, depth)
	}
	return nil
}

// view returns the bytes of s without copying; writers only read them.
func view(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

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
