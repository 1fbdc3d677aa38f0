package cbor

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/zwamp/zwamp/codec"
)

// Single-byte encodings the encoder writes directly.
const (
	byteFalse     = 0xf4
	byteTrue      = 0xf5
	byteNull      = 0xf6
	byteF64       = 0xfb
	byteEmptyList = 0x80
	byteEmptyDict = 0xa0
)

// appendHead appends the head of an item of the given major type with
// argument n in preferred serialization (the shortest form).
func appendHead(dst []byte, major byte, n uint64) []byte {
	mt := major << 5
	switch {
	case n < 24:
		return append(dst, mt|byte(n))
	case n <= math.MaxUint8:
		return append(dst, mt|24, byte(n))
	case n <= math.MaxUint16:
		return append(dst, mt|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, mt|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, mt|27), n)
	}
}

// appendText appends a text string. The caller vouches for UTF-8.
func appendText(dst, s []byte) []byte {
	return append(appendHead(dst, majorText, uint64(len(s))), s...)
}

// appendName appends a text string given as a Go string constant (key,
// role and feature names, which are ASCII).
func appendName(dst []byte, s string) []byte {
	return append(appendHead(dst, majorText, uint64(len(s))), s...)
}

// appendBool appends false or true.
func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, byteTrue)
	}
	return append(dst, byteFalse)
}

// Append encodes m and appends it to dst. Payloads and a non-nil m.Dict are
// copied verbatim when they are CBOR and transcoded otherwise; when m.Dict
// is nil the keys set in m.Details are written in Key order. IDs above
// codec.MaxID, strings that are not UTF-8 and enum values out of range are
// errors. On error dst is returned with its original length. It does not
// allocate when dst has room (transcoding uses pooled writers).
func Append(dst []byte, m *codec.Message) ([]byte, error) {
	l := codec.LayoutOf(m.Type)
	if l == nil {
		return dst, &codec.Error{Type: m.Type, Offset: -1, Err: codec.ErrUnknownType}
	}
	orig := len(dst)
	n := l.EncodedLen(m)
	dst = appendHead(dst, majorArray, uint64(n))
	dst = appendHead(dst, majorUint, uint64(m.Type))
	var err error
	for _, e := range l.Elems[:n-1] {
		switch e.Slot {
		case codec.SlotRequest, codec.SlotID, codec.SlotPublication:
			v := m.Request
			if e.Slot == codec.SlotID {
				v = m.ID
			} else if e.Slot == codec.SlotPublication {
				v = m.Publication
			}
			if v > codec.MaxID {
				err = encFail(m, e.Name, codec.ErrRange, "id above 2^53")
				break
			}
			dst = appendHead(dst, majorUint, v)
		case codec.SlotErrorType:
			dst = appendHead(dst, majorUint, uint64(m.ErrorType))
		case codec.SlotURI:
			if !validUTF8(m.URI) {
				err = encFail(m, e.Name, codec.ErrUTF8, "")
				break
			}
			dst = appendText(dst, m.URI)
		case codec.SlotDict:
			if m.Dict.Bytes != nil {
				dst, err = appendRaw(dst, m.Dict, m.Depth())
			} else {
				dst, err = appendDetails(dst, m, e.Name)
			}
		case codec.SlotArgs:
			if m.Args.Bytes == nil {
				dst = append(dst, byteEmptyList)
			} else {
				dst, err = appendRaw(dst, m.Args, m.Depth())
			}
		case codec.SlotKwargs:
			dst, err = appendRaw(dst, m.Kwargs, m.Depth())
		}
		if err != nil {
			return dst[:orig], annotate(err, m, e.Name)
		}
	}
	return dst, nil
}

// appendRaw copies a CBOR value verbatim, without a call into codec, and
// transcodes a value in another format through codec.AppendRaw.
func appendRaw(dst []byte, r codec.Raw, maxDepth int) ([]byte, error) {
	if r.Format == codec.CBOR {
		return append(dst, r.Bytes...), nil
	}
	return codec.AppendRaw(dst, codec.CBOR, r, maxDepth)
}

// encFail builds an encode error; there is no input offset.
func encFail(m *codec.Message, field string, err error, detail string) error {
	return &codec.Error{Type: m.Type, Field: field, Offset: -1, Err: err, Detail: detail}
}

// annotate fills in the message type and element of an error coming back
// from a transcode, which knows neither.
func annotate(err error, m *codec.Message, field string) error {
	if ce, ok := err.(*codec.Error); ok {
		if ce.Type == 0 {
			ce.Type = m.Type
		}
		if ce.Field == "" || ce.Field == "payload" {
			ce.Field = field
		}
	}
	return err
}

// appendDetails writes the keys set in m.Details as a dict, in Key order,
// each according to its KeyKind.
func appendDetails(dst []byte, m *codec.Message, elem string) ([]byte, error) {
	d := &m.Details
	set := d.Set & (1<<codec.NumKeys - 1)
	dst = appendHead(dst, majorMap, uint64(bits.OnesCount64(set)))
	for s := set; s != 0; s &= s - 1 {
		k := codec.Key(bits.TrailingZeros64(s))
		dst = appendName(dst, codec.KeyNames[k])
		switch codec.KeyKinds[k] {
		case codec.KindBool:
			dst = appendBool(dst, d.Bool(k, false))
		case codec.KindInt:
			dst = appendHead(dst, majorUint, d.Uint(k))
		case codec.KindID:
			v := d.Uint(k)
			if v > codec.MaxID {
				return dst, encFail(m, elem+"."+codec.KeyNames[k], codec.ErrRange, "id above 2^53")
			}
			dst = appendHead(dst, majorUint, v)
		case codec.KindString:
			v, ok := enumString(d, k)
			if !ok {
				return dst, encFail(m, elem+"."+codec.KeyNames[k], codec.ErrRange, "unknown enum value")
			}
			if v != nil {
				if !validUTF8(v) {
					return dst, encFail(m, elem+"."+codec.KeyNames[k], codec.ErrUTF8, "")
				}
				dst = appendText(dst, v)
			} else {
				dst = appendName(dst, enumName(d, k))
			}
		case codec.KindIDList:
			l := *d.IDList(k)
			dst = appendHead(dst, majorArray, uint64(len(l)))
			for _, v := range l {
				if v > codec.MaxID {
					return dst, encFail(m, elem+"."+codec.KeyNames[k], codec.ErrRange, "id above 2^53")
				}
				dst = appendHead(dst, majorUint, v)
			}
		case codec.KindStringList:
			l := *d.StringList(k)
			dst = appendHead(dst, majorArray, uint64(len(l)))
			for _, v := range l {
				if !validUTF8(v) {
					return dst, encFail(m, elem+"."+codec.KeyNames[k], codec.ErrUTF8, "")
				}
				dst = appendText(dst, v)
			}
		case codec.KindRoles:
			dst = appendRoles(dst, d)
		case codec.KindDict:
			if d.AuthExtra.Bytes == nil {
				dst = append(dst, byteEmptyDict)
				break
			}
			var err error
			if dst, err = appendRaw(dst, d.AuthExtra, m.Depth()); err != nil {
				return dst, annotate(err, m, elem+"."+codec.KeyNames[k])
			}
		}
	}
	return dst, nil
}

// enumString returns the raw string of a string key. For match, invoke and
// mode a nil string means "write the enum's name" (v == nil, ok); ok is
// false when that enum value has no name.
func enumString(d *codec.Details, k codec.Key) (v []byte, ok bool) {
	v = d.Str[k]
	if v != nil {
		return v, true
	}
	switch k {
	case codec.KeyMatch:
		return nil, d.Match <= codec.MatchInvalid
	case codec.KeyInvoke:
		return nil, d.Invoke <= codec.InvokeInvalid
	case codec.KeyMode:
		return nil, d.Mode <= codec.ModeInvalid
	}
	return v, true // an absent string is written as ""
}

// enumName is the wire name of the enum key k, or "" for other keys.
func enumName(d *codec.Details, k codec.Key) string {
	switch k {
	case codec.KeyMatch:
		return d.Match.String()
	case codec.KeyInvoke:
		return d.Invoke.String()
	case codec.KeyMode:
		return d.Mode.String()
	}
	return ""
}

// appendRoles writes {"<role>": {"features": {"<feature>": true, ...}}}
// for each role bit set, in bit order, omitting "features" when a role has
// none.
func appendRoles(dst []byte, d *codec.Details) []byte {
	roles := uint(d.Roles) & (1<<codec.NumRoles - 1)
	dst = appendHead(dst, majorMap, uint64(bits.OnesCount(roles)))
	for r := roles; r != 0; r &= r - 1 {
		i := bits.TrailingZeros(r)
		dst = appendName(dst, codec.RoleNames[i])
		f := uint32(d.Features[i]) & (1<<codec.NumFeatures - 1)
		if f == 0 {
			dst = append(dst, byteEmptyDict)
			continue
		}
		dst = append(dst, byteEmptyDict|1)
		dst = appendName(dst, "features")
		dst = appendHead(dst, majorMap, uint64(bits.OnesCount32(f)))
		for ; f != 0; f &= f - 1 {
			dst = appendName(dst, codec.FeatureNames[bits.TrailingZeros32(f)])
			dst = append(dst, byteTrue)
		}
	}
	return dst
}
