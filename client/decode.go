package client

import "github.com/zwamp/zwamp/codec"

// The reader goroutine turns payloads into Go values with its own reusable
// codec.Builder, Client.vb.

// readDict decodes a Details/Extra dict, leaving nil for an empty or absent
// one; the codec validated it while decoding the message.
func (c *Client) readDict(r codec.Raw) map[string]any {
	if !r.Present() || isEmptyDict(r) {
		return nil
	}
	d, _ := c.vb.Dict(r)
	return d
}

// readPayload decodes m's Arguments and ArgumentsKw; absent ones are nil.
// Arguments that fail leave ArgumentsKw undecoded.
func (c *Client) readPayload(m *codec.Message) (args []any, kwargs map[string]any, err error) {
	if args, err = c.vb.List(m.Args); err != nil {
		return nil, nil, err
	}
	kwargs, err = c.vb.Dict(m.Kwargs)
	return args, kwargs, err
}

// isEmptyDict reports whether r is an empty dict in its serializer, so the
// reader can skip building a map for the common "{}" Details.
func isEmptyDict(r codec.Raw) bool {
	b := r.Bytes
	switch r.Format {
	case codec.JSON:
		if len(b) == 2 && b[0] == '{' && b[1] == '}' {
			return true
		}
		// Tolerate whitespace: "{ }" and the like.
		if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
			return false
		}
		for _, c := range b[1 : len(b)-1] {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
		}
		return true
	case codec.MsgPack:
		return len(b) == 1 && b[0] == 0x80
	case codec.CBOR:
		return len(b) == 1 && b[0] == 0xa0
	}
	return false
}
