package client

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
)

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
		alloctest.Zero(t, "encodePayload "+f.String(), func() {
			p, _ := encodePayload(f, args, kwargs)
			p.release()
		})
	}
}

// TestPayloadReuse: a pooled payload carries nothing over from its last
// use (whether Arguments are present is the length of their encoding).
func TestPayloadReuse(t *testing.T) {
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
		for i := 0; i < 3; i++ {
			p, err := encodePayload(f, []any{"a"}, map[string]any{"k": 1})
			if err != nil {
				t.Fatal(err)
			}
			p.release()
			p, err = encodePayload(f, nil, map[string]any{"k": 2})
			if err != nil {
				t.Fatal(err)
			}
			var m codec.Message
			p.set(&m)
			if m.Args.Present() || !m.Kwargs.Present() {
				t.Fatalf("%v: kwargs-only payload set Args %q, Kwargs %q", f, m.Args.Bytes, m.Kwargs.Bytes)
			}
			p.release()
			if _, err := encodePayload(f, []any{func() {}}, nil); err == nil {
				t.Fatalf("%v: unencodable argument accepted", f)
			}
		}
	}
}
