package client

import "github.com/zwamp/zwamp/codec"

// valueBuilder is the reader goroutine's reusable codec.Builder, plus the
// Details shortcut below.
type valueBuilder struct{ codec.Builder }

func (b *valueBuilder) toList(r codec.Raw) ([]any, error)          { return b.List(r) }
func (b *valueBuilder) toDict(r codec.Raw) (map[string]any, error) { return b.Dict(r) }

// details decodes a Details/Extra dict, leaving nil for an empty or absent
// one; the codec validated it while decoding the message.
func (b *valueBuilder) details(r codec.Raw) map[string]any {
	if !r.Present() || isEmptyDict(r) {
		return nil
	}
	d, _ := b.toDict(r)
	return d
}
