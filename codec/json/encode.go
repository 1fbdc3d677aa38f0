package json

import (
	"math/bits"
	"strconv"

	"github.com/zwamp/zwamp/codec"
)

// Append encodes m as JSON and appends it to dst; see codec.Codec. On error
// it returns dst with its original length.
func Append(dst []byte, m *codec.Message) ([]byte, error) {
	l := codec.LayoutOf(m.Type)
	if l == nil {
		return dst, &codec.Error{Type: m.Type, Offset: -1, Err: codec.ErrUnknownType}
	}
	n := l.EncodedLen(m)
	b := append(dst, '[')
	b = strconv.AppendUint(b, uint64(m.Type), 10)
	var err error
	for k := 0; k < n-1; k++ {
		e := &l.Elems[k]
		b = append(b, ',')
		switch e.Slot {
		case codec.SlotRequest:
			b, err = appendID(b, m.Request)
		case codec.SlotID:
			b, err = appendID(b, m.ID)
		case codec.SlotPublication:
			b, err = appendID(b, m.Publication)
		case codec.SlotErrorType:
			b = strconv.AppendUint(b, uint64(m.ErrorType), 10)
		case codec.SlotURI:
			var ok bool
			if b, ok = appendString(b, m.URI); !ok {
				err = codec.ErrUTF8
			}
		case codec.SlotDict:
			if m.Dict.Bytes != nil {
				b, err = codec.AppendRaw(b, codec.JSON, m.Dict, m.Depth())
			} else {
				b, err = appendDetails(b, &m.Details, m.Depth())
			}
		case codec.SlotArgs:
			if m.Args.Bytes == nil {
				b = append(b, '[', ']')
			} else {
				b, err = codec.AppendRaw(b, codec.JSON, m.Args, m.Depth())
			}
		case codec.SlotKwargs:
			b, err = codec.AppendRaw(b, codec.JSON, m.Kwargs, m.Depth())
		}
		if err != nil {
			return dst, encodeErr(m.Type, e.Name, err)
		}
	}
	return append(b, ']'), nil
}

// encodeErr names the element in an encoding error, keeping the key path
// of a nested *codec.Error.
func encodeErr(t codec.Type, name string, err error) error {
	if ce, ok := err.(*codec.Error); ok {
		out := *ce
		out.Type = t
		if out.Field == "" || out.Field == "payload" {
			out.Field = name
		} else {
			out.Field = name + "." + out.Field
		}
		return &out
	}
	return &codec.Error{Type: t, Field: name, Offset: -1, Err: err}
}

func appendID(b []byte, v uint64) ([]byte, error) {
	if v > codec.MaxID {
		return b, codec.ErrRange
	}
	return strconv.AppendUint(b, v, 10), nil
}

// appendDetails writes the keys set in det, in Key order.
func appendDetails(b []byte, det *codec.Details, depth int) ([]byte, error) {
	b = append(b, '{')
	first := true
	// Visit only the set bits; bit order is Key order. Bits beyond
	// NumKeys name no key and are ignored.
	for set := det.Set & (1<<codec.NumKeys - 1); set != 0; set &= set - 1 {
		k := codec.Key(bits.TrailingZeros64(set))
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, codec.KeyNames[k]...)
		b = append(b, '"', ':')
		var err error
		switch codec.KeyKinds[k] {
		case codec.KindBool:
			if det.Bool(k, false) {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		case codec.KindInt:
			b = strconv.AppendUint(b, det.Uint(k), 10)
		case codec.KindID:
			b, err = appendID(b, det.Uint(k))
		case codec.KindString:
			b, err = appendDetailString(b, det, k)
		case codec.KindIDList:
			b = append(b, '[')
			for i, v := range *det.IDList(k) {
				if i > 0 {
					b = append(b, ',')
				}
				if b, err = appendID(b, v); err != nil {
					break
				}
			}
			b = append(b, ']')
		case codec.KindStringList:
			b = append(b, '[')
			for i, s := range *det.StringList(k) {
				if i > 0 {
					b = append(b, ',')
				}
				var ok bool
				if b, ok = appendString(b, s); !ok {
					err = codec.ErrUTF8
					break
				}
			}
			b = append(b, ']')
		case codec.KindRoles:
			b = appendRoles(b, det)
		case codec.KindDict:
			if det.AuthExtra.Bytes == nil {
				b = append(b, '{', '}')
			} else {
				b, err = codec.AppendRaw(b, codec.JSON, det.AuthExtra, depth)
			}
		}
		if err != nil {
			return b, encodeErr(0, codec.KeyNames[k], err)
		}
	}
	return append(b, '}'), nil
}

// appendDetailString writes a string key; the enum keys fall back to their
// parsed value's name when no raw string is stored.
func appendDetailString(b []byte, det *codec.Details, k codec.Key) ([]byte, error) {
	s := det.Str[k]
	if s == nil {
		// Values past the *Invalid sentinel have no name: an error, as in
		// the MessagePack and CBOR encoders.
		switch k {
		case codec.KeyMatch:
			if det.Match > codec.MatchInvalid {
				return b, codec.ErrRange
			}
			return appendName(b, det.Match.String()), nil
		case codec.KeyInvoke:
			if det.Invoke > codec.InvokeInvalid {
				return b, codec.ErrRange
			}
			return appendName(b, det.Invoke.String()), nil
		case codec.KeyMode:
			if det.Mode > codec.ModeInvalid {
				return b, codec.ErrRange
			}
			return appendName(b, det.Mode.String()), nil
		}
	}
	b, ok := appendString(b, s)
	if !ok {
		return b, codec.ErrUTF8
	}
	return b, nil
}

// appendName writes a string known to need no escaping.
func appendName(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRoles writes {"<role>": {"features": {"<feature>": true, ...}}} for
// every role bit set, in bit order; "features" is left out when empty.
func appendRoles(b []byte, det *codec.Details) []byte {
	b = append(b, '{')
	first := true
	for r := 0; r < codec.NumRoles; r++ {
		if det.Roles&(1<<r) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendName(b, codec.RoleNames[r])
		b = append(b, ':', '{')
		if f := det.Features[r]; f != 0 {
			b = append(b, `"features":{`...)
			firstF := true
			for i := 0; i < codec.NumFeatures; i++ {
				if f&(1<<i) == 0 {
					continue
				}
				if !firstF {
					b = append(b, ',')
				}
				firstF = false
				b = appendName(b, codec.FeatureNames[i])
				b = append(b, ":true"...)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}
