package msgpack

import (
	"errors"
	"math"
	"math/bits"

	"github.com/zwamp/zwamp/codec"
)

// Append appends the MessagePack encoding of m to dst and returns the
// extended buffer; on error it returns dst unchanged. Elements follow
// m.Type's layout (trailing absent elements dropped, an empty Arguments
// list written when only ArgumentsKw is present). The dict is m.Dict when
// set (verbatim, or transcoded from another format), else the keys set in
// m.Details in Key order. Every integer and length takes its smallest
// encoding. Nothing is allocated when dst has room and payloads are in
// MessagePack already.
func Append(dst []byte, m *codec.Message) ([]byte, error) {
	l := codec.LayoutOf(m.Type)
	if l == nil {
		return dst, &codec.Error{Type: m.Type, Offset: -1, Err: codec.ErrUnknownType}
	}
	n := l.EncodedLen(m)
	out := appendArrayHeader(dst, n)
	out = appendUint(out, uint64(m.Type))
	var err error
	for _, e := range l.Elems[:n-1] {
		switch e.Slot {
		case codec.SlotRequest:
			out, err = appendID(out, m.Request, m, e.Name, noKey)
		case codec.SlotID:
			out, err = appendID(out, m.ID, m, e.Name, noKey)
		case codec.SlotPublication:
			out, err = appendID(out, m.Publication, m, e.Name, noKey)
		case codec.SlotErrorType:
			out = appendUint(out, uint64(m.ErrorType))
		case codec.SlotURI:
			out, err = appendText(out, m.URI, m, e.Name, noKey)
		case codec.SlotDict:
			if m.Dict.Bytes != nil {
				out, err = appendPayload(out, m.Dict, true, m, e.Name, noKey)
			} else {
				out, err = appendDetails(out, &m.Details, m, e.Name)
			}
		case codec.SlotArgs:
			if m.Args.Bytes == nil {
				out = append(out, cFixArrayMin) // implied by ArgumentsKw
			} else {
				out, err = appendPayload(out, m.Args, false, m, e.Name, noKey)
			}
		case codec.SlotKwargs:
			out, err = appendPayload(out, m.Kwargs, true, m, e.Name, noKey)
		}
		if err != nil {
			return dst, err
		}
	}
	return out, nil
}

// noKey says that an element, not an Options/Details key, is being written.
const noKey = codec.NumKeys

// encErr builds an encoding error for element name or, unless k is noKey,
// for key k of dict name. Field names are only put together here, on
// failure, so that the success path does not concatenate strings.
func encErr(m *codec.Message, name string, k codec.Key, err error, detail string) error {
	return &codec.Error{Type: m.Type, Field: fieldName(name, k), Offset: -1, Err: err, Detail: detail}
}

// fieldName names element name or, unless k is noKey, key k of dict name.
func fieldName(name string, k codec.Key) string {
	if k == noKey {
		return name
	}
	return name + "." + codec.KeyNames[k]
}

// appendID refuses IDs a peer would reject, so a bad ID is caught where it
// was made rather than on the other side of the connection.
func appendID(dst []byte, v uint64, m *codec.Message, name string, k codec.Key) ([]byte, error) {
	if v > codec.MaxID {
		return dst, encErr(m, name, k, codec.ErrRange, "ID out of range [0, 2^53]")
	}
	return appendUint(dst, v), nil
}

func appendText(dst []byte, s []byte, m *codec.Message, name string, k codec.Key) ([]byte, error) {
	if !validUTF8(s) {
		return dst, encErr(m, name, k, codec.ErrUTF8, "")
	}
	if uint64(len(s)) > math.MaxUint32 {
		return dst, encErr(m, name, k, codec.ErrUnsupported, "string longer than 4 GiB")
	}
	return append(appendStrHeader(dst, len(s)), s...), nil
}

// appendPayload writes a list or dict held as a Raw: copied when it is
// MessagePack already, transcoded otherwise. The first byte written must
// open a container of the expected kind, so a Raw holding a scalar (or
// nothing) cannot produce a message peers would reject.
func appendPayload(dst []byte, r codec.Raw, wantMap bool, m *codec.Message, name string, k codec.Key) ([]byte, error) {
	start := len(dst)
	var out []byte
	var err error
	if r.Format == codec.MsgPack {
		out = append(dst, r.Bytes...) // the forwarding case: skip the call
	} else {
		out, err = codec.AppendRaw(dst, codec.MsgPack, r, m.Depth())
	}
	if err != nil {
		var ce *codec.Error
		if errors.As(err, &ce) {
			if ce.Type == 0 {
				ce.Type = m.Type
			}
			if ce.Field == "" || ce.Field == "payload" {
				ce.Field = fieldName(name, k)
			}
		}
		return dst, err
	}
	if len(out) == start {
		return dst, encErr(m, name, k, codec.ErrType, "empty value")
	}
	c := out[start]
	var ok bool
	if wantMap {
		ok = c&0xf0 == cFixMapMin || c == cMap16 || c == cMap32
	} else {
		ok = c&0xf0 == cFixArrayMin || c == cArray16 || c == cArray32
	}
	if !ok {
		detail := "want list"
		if wantMap {
			detail = "want dict"
		}
		return dst, encErr(m, name, k, codec.ErrType, detail)
	}
	return out, nil
}

// Encoded forms of the constant strings Append writes, built once so that
// writing a key is a single copy.
var (
	keyEnc      [codec.NumKeys][]byte
	roleEnc     [codec.NumRoles][]byte
	featureEnc  [codec.NumFeatures][]byte
	featuresKey = appendStr(nil, "features")
	matchEnc    = encNames(codec.MatchInvalid, func(i int) string { return codec.Match(i).String() })
	invokeEnc   = encNames(codec.InvokeInvalid, func(i int) string { return codec.Invoke(i).String() })
	modeEnc     = encNames(codec.ModeInvalid, func(i int) string { return codec.CancelMode(i).String() })
)

func init() {
	for k := range keyEnc {
		keyEnc[k] = appendStr(nil, codec.KeyNames[k])
	}
	for i := range roleEnc {
		roleEnc[i] = appendStr(nil, codec.RoleNames[i])
	}
	for i := range featureEnc {
		featureEnc[i] = appendStr(nil, codec.FeatureNames[i])
	}
}

// encNames encodes the names of an enum's values 0..last.
func encNames[T ~uint8](last T, name func(int) string) [][]byte {
	out := make([][]byte, last+1)
	for i := range out {
		out[i] = appendStr(nil, name(i))
	}
	return out
}

func appendStr(dst []byte, s string) []byte {
	return append(appendStrHeader(dst, len(s)), s...)
}

// appendDetails writes the keys set in det as a dict, in Key order.
func appendDetails(dst []byte, det *codec.Details, m *codec.Message, name string) ([]byte, error) {
	set := det.Set & (1<<codec.NumKeys - 1)
	out := appendMapHeader(dst, bits.OnesCount64(set))
	var err error
	for s := set; s != 0; s &= s - 1 {
		k := codec.Key(bits.TrailingZeros64(s))
		out = append(out, keyEnc[k]...)
		switch codec.KeyKinds[k] {
		case codec.KindBool:
			if det.Bool(k, false) {
				out = append(out, cTrue)
			} else {
				out = append(out, cFalse)
			}
		case codec.KindInt:
			out = appendUint(out, det.Uint(k))
		case codec.KindID:
			out, err = appendID(out, det.Uint(k), m, name, k)
		case codec.KindString:
			out, err = appendStringKey(out, det, k, m, name)
		case codec.KindIDList:
			l := *det.IDList(k)
			out = appendArrayHeader(out, len(l))
			for _, v := range l {
				if out, err = appendID(out, v, m, name, k); err != nil {
					break
				}
			}
		case codec.KindStringList:
			l := *det.StringList(k)
			out = appendArrayHeader(out, len(l))
			for _, v := range l {
				if out, err = appendText(out, v, m, name, k); err != nil {
					break
				}
			}
		case codec.KindRoles:
			out = appendRoles(out, det)
		case codec.KindDict:
			if det.AuthExtra.Bytes == nil {
				out = append(out, cFixMapMin)
			} else {
				out, err = appendPayload(out, det.AuthExtra, true, m, name, k)
			}
		}
		if err != nil {
			return dst, err
		}
	}
	return out, nil
}

// appendStringKey writes a string-valued key; match, invoke and mode fall
// back to their enum's name when no raw string is held.
func appendStringKey(dst []byte, det *codec.Details, k codec.Key, m *codec.Message, name string) ([]byte, error) {
	s := det.Str[k]
	if s == nil {
		var enc [][]byte
		var v int
		switch k {
		case codec.KeyMatch:
			enc, v = matchEnc, int(det.Match)
		case codec.KeyInvoke:
			enc, v = invokeEnc, int(det.Invoke)
		case codec.KeyMode:
			enc, v = modeEnc, int(det.Mode)
		}
		if enc != nil {
			if v >= len(enc) {
				return dst, encErr(m, name, k, codec.ErrRange, "unknown enum value")
			}
			return append(dst, enc[v]...), nil
		}
	}
	return appendText(dst, s, m, name, k)
}

// appendRoles writes {"<role>": {"features": {"<feature>": true, ...}}} for
// each role set, omitting "features" when a role announces none.
func appendRoles(dst []byte, det *codec.Details) []byte {
	roles := uint(det.Roles) & (1<<codec.NumRoles - 1)
	dst = appendMapHeader(dst, bits.OnesCount(roles))
	for r := roles; r != 0; r &= r - 1 {
		i := bits.TrailingZeros(r)
		dst = append(dst, roleEnc[i]...)
		f := uint64(det.Features[i]) & (1<<codec.NumFeatures - 1)
		if f == 0 {
			dst = append(dst, cFixMapMin)
			continue
		}
		dst = append(dst, cFixMapMin|1)
		dst = append(dst, featuresKey...)
		dst = appendMapHeader(dst, bits.OnesCount64(f))
		for ; f != 0; f &= f - 1 {
			dst = append(dst, featureEnc[bits.TrailingZeros64(f)]...)
			dst = append(dst, cTrue)
		}
	}
	return dst
}

// appendUint appends v in its smallest encoding.
func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v < cFixMapMin:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, cUint8, byte(v))
	case v <= math.MaxUint16:
		return append(dst, cUint16, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(dst, cUint32, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, cUint64, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendInt appends v in its smallest encoding; non-negative values take
// the unsigned forms, as most MessagePack encoders do.
func appendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v)) // negative fixint 0xe0..0xff
	case v >= math.MinInt8:
		return append(dst, cInt8, byte(v))
	case v >= math.MinInt16:
		return append(dst, cInt16, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(dst, cInt32, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, cInt64, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendFloat always writes float64: a float32 would round the value, and
// a float written as an integer would stop being a float for the reader.
func appendFloat(dst []byte, f float64) []byte {
	v := math.Float64bits(f)
	return append(dst, cFloat64, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// The header appenders take n ≤ math.MaxUint32; callers check longer values.

func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, cFixStrMin|byte(n))
	case n <= math.MaxUint8:
		return append(dst, cStr8, byte(n))
	case n <= math.MaxUint16:
		return append(dst, cStr16, byte(n>>8), byte(n))
	}
	return append(dst, cStr32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendBinHeader(dst []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(dst, cBin8, byte(n))
	case n <= math.MaxUint16:
		return append(dst, cBin16, byte(n>>8), byte(n))
	}
	return append(dst, cBin32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, cFixArrayMin|byte(n))
	case n <= math.MaxUint16:
		return append(dst, cArray16, byte(n>>8), byte(n))
	}
	return append(dst, cArray32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, cFixMapMin|byte(n))
	case n <= math.MaxUint16:
		return append(dst, cMap16, byte(n>>8), byte(n))
	}
	return append(dst, cMap32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
