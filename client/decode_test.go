package client

import (
	"math"
	"reflect"
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// TestValueBuilderMatchesCodec: the reader's builder decodes payloads to
// the same Go values as codec.ToList/ToDict, in every serializer.
func TestValueBuilderMatchesCodec(t *testing.T) {
	lists := [][]any{
		{},
		{nil, true, false, int64(0), int64(-1), int64(math.MaxInt64), uint64(math.MaxUint64), int64(math.MinInt64)},
		{1.5, -0.0, math.Inf(1), "", "héllo", []byte{}, []byte{0, 255}},
		{[]any{}, map[string]any{}, []any{[]any{[]any{"deep"}}}, map[string]any{"a": map[string]any{"b": []any{int64(1)}}}},
	}
	var b valueBuilder
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
		for _, l := range lists {
			raw, err := codec.EncodeGo(f, l)
			if err != nil {
				if f == codec.JSON {
					continue // Inf has no JSON form
				}
				t.Fatal(err)
			}
			want, werr := codec.ToList(raw)
			got, gerr := b.toList(raw)
			if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("%v %v: builder %#v %v, codec %#v %v", f, l, got, gerr, want, werr)
			}
			d := map[string]any{"l": l, "k": "v"}
			raw, _ = codec.EncodeGo(f, d)
			wantD, _ := codec.ToDict(raw)
			gotD, err := b.toDict(raw)
			if err != nil || !reflect.DeepEqual(gotD, wantD) {
				t.Errorf("%v dict: builder %#v %v, codec %#v", f, gotD, err, wantD)
			}
		}
		// Wrong container types are errors, not panics.
		raw, _ := codec.EncodeGo(f, map[string]any{})
		if _, err := b.toList(raw); err == nil {
			t.Errorf("%v: dict accepted as a list", f)
		}
		raw, _ = codec.EncodeGo(f, []any{})
		if _, err := b.toDict(raw); err == nil {
			t.Errorf("%v: list accepted as a dict", f)
		}
		raw, _ = codec.EncodeGo(f, "scalar")
		if _, err := b.toList(raw); err == nil {
			t.Errorf("%v: scalar accepted as a list", f)
		}
	}
	// Absent is nil.
	if l, err := b.toList(codec.Raw{}); l != nil || err != nil {
		t.Errorf("absent list: %v %v", l, err)
	}
}

// TestValueBuilderBoundsCounts: a container whose announced size exceeds
// the payload does not make the builder reserve that much.
func TestValueBuilderBoundsCounts(t *testing.T) {
	var b valueBuilder
	b.limit = 5
	b.BeginArray(1 << 40)
	if c := cap(b.stack[0].list); c > 5 {
		t.Fatalf("reserved %d elements for a 5-byte payload", c)
	}
	b.BeginMap(-1)
	b.End()
	b.End()
	if b.list == nil || len(b.list) != 1 {
		t.Fatalf("list %v", b.list)
	}
	// A lying MessagePack array32 header, then a truncated payload.
	if _, err := b.toList(codec.Raw{Format: codec.MsgPack, Bytes: []byte{0xdd, 0x7f, 0xff, 0xff, 0xff}}); err == nil {
		t.Fatal("truncated array accepted")
	}
}

func TestIsEmptyDict(t *testing.T) {
	for _, c := range []struct {
		r    codec.Raw
		want bool
	}{
		{codec.Raw{Format: codec.JSON, Bytes: []byte("{}")}, true},
		{codec.Raw{Format: codec.JSON, Bytes: []byte("{ \n}")}, true},
		{codec.Raw{Format: codec.JSON, Bytes: []byte(`{"a":1}`)}, false},
		{codec.Raw{Format: codec.JSON, Bytes: []byte("[]")}, false},
		{codec.Raw{Format: codec.MsgPack, Bytes: []byte{0x80}}, true},
		{codec.Raw{Format: codec.MsgPack, Bytes: []byte{0x81, 0xa1, 'a', 0x01}}, false},
		{codec.Raw{Format: codec.CBOR, Bytes: []byte{0xa0}}, true},
		{codec.Raw{Format: codec.CBOR, Bytes: []byte{0x80}}, false},
	} {
		if got := isEmptyDict(c.r); got != c.want {
			t.Errorf("isEmptyDict(%v %q) = %v", c.r.Format, c.r.Bytes, got)
		}
	}
}

// TestAllocsDecode: once warmed up, the builder's own bookkeeping costs
// nothing; only the Go values themselves are allocated (here: the list and
// one string header per string).
func TestAllocsDecode(t *testing.T) {
	raw, _ := codec.EncodeGo(codec.MsgPack, []any{1, 2, true, nil})
	var b valueBuilder
	_, _ = b.toList(raw)
	n := testing.AllocsPerRun(100, func() { _, _ = b.toList(raw) })
	if n > 1 {
		t.Fatalf("%.1f allocations decoding a 4-element list of small values, want 1 (the list)", n)
	}
}

// TestAllocsEncodePayload: encoding common payloads allocates nothing.
func TestAllocsEncodePayload(t *testing.T) {
	args := []any{"s", 1, -2, 3.5, true, nil, []byte{1}, []any{"x"}, map[string]any{"k": "v"}, []string{"a"}, map[string]string{"a": "b"}, uint64(9)}
	kwargs := map[string]any{"a": 1}
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
		p, err := encodePayload(f, args, kwargs)
		if err != nil {
			t.Fatal(err)
		}
		p.release()
		n := testing.AllocsPerRun(100, func() {
			p, _ := encodePayload(f, args, kwargs)
			p.release()
		})
		if n != 0 && !raceEnabled {
			t.Errorf("%v: %.1f allocations per payload, want 0", f, n)
		}
	}
}
