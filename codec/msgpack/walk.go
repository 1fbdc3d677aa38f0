package msgpack

import "github.com/zwamp/zwamp/codec"

// Walk validates the single MessagePack value in data (trailing bytes are
// codec.ErrTrailing) and reports it token by token to w: non-negative
// integers (whatever their encoding) with WriteUint, negative ones with
// WriteInt, float32 and float64 with WriteFloat (float32 widened exactly),
// str with WriteString, bin with WriteBytes, and arrays and maps with their
// exact counts. Extension values are codec.ErrUnsupported: no other format
// can carry them. The top-level value has depth 1; maxDepth ≤ 0 means
// codec.DefaultMaxDepth. Tokens already reported before an error are not
// taken back; callers discard the output. Walk itself does not allocate on
// success.
func Walk(data []byte, w codec.ValueWriter, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = codec.DefaultMaxDepth
	}
	k := walker{b: data, w: w, max: maxDepth}
	i, err := k.value(0, 1)
	if err == nil && i != len(data) {
		err = codec.ErrTrailing
	}
	if err != nil {
		return &codec.Error{Field: "payload", Offset: i, Err: err}
	}
	return nil
}

// walker holds one Walk call's state on the stack. Like skip, its methods
// return the offset reached or, on error, the offset of the problem.
type walker struct {
	b   []byte
	w   codec.ValueWriter
	max int
}

func (k *walker) value(i, depth int) (int, error) {
	b := k.b
	if i >= len(b) {
		return i, codec.ErrTruncated
	}
	c := b[i]
	switch {
	case c < cFixMapMin:
		k.w.WriteUint(uint64(c))
		return i + 1, nil
	case c >= cNegFixMin:
		k.w.WriteInt(int64(int8(c)))
		return i + 1, nil
	case c < cFixStrMin:
		return k.container(i, depth)
	case c < cNil:
		s, next, err := strAt(b, i)
		if err == nil {
			k.w.WriteString(s)
		}
		return next, err
	}
	switch c {
	case cNil:
		k.w.WriteNil()
		return i + 1, nil
	case cFalse:
		k.w.WriteBool(false)
		return i + 1, nil
	case cTrue:
		k.w.WriteBool(true)
		return i + 1, nil
	case cUint8, cUint16, cUint32, cUint64, cInt8, cInt16, cInt32, cInt64:
		v, next, kind := numAt(b, i)
		switch kind {
		case numUint:
			k.w.WriteUint(v)
		case numNeg:
			k.w.WriteInt(int64(v))
		default:
			return i, codec.ErrTruncated
		}
		return next, nil
	case cFloat32, cFloat64:
		if len(b)-i < 5 || (c == cFloat64 && len(b)-i < 9) {
			return i, codec.ErrTruncated
		}
		f, next := floatAt(b, i)
		k.w.WriteFloat(f)
		return next, nil
	case cStr8, cStr16, cStr32:
		s, next, err := strAt(b, i)
		if err == nil {
			k.w.WriteString(s)
		}
		return next, err
	case cBin8, cBin16, cBin32:
		end, err := skipBlob(b, i)
		if err != nil {
			return end, err
		}
		start := i + 1 + 1<<(c-cBin8) // code, then 1, 2 or 4 length bytes
		k.w.WriteBytes(b[start:end])
		return end, nil
	case cArray16, cArray32, cMap16, cMap32:
		return k.container(i, depth)
	case cNeverUsed:
		return i, codec.ErrSyntax
	}
	// ext8/16/32 and fixext1..16: well-formed or not, nothing to map them to.
	return i, codec.ErrUnsupported
}

func (k *walker) container(i, depth int) (int, error) {
	n, next, isMap, err := containerAt(k.b, i)
	if err != nil {
		return next, err
	}
	if depth > k.max {
		return i, codec.ErrDepth
	}
	i = next
	if !isMap {
		k.w.BeginArray(int(n))
		for ; n > 0; n-- {
			if i, err = k.value(i, depth+1); err != nil {
				return i, err
			}
		}
		k.w.End()
		return i, nil
	}
	k.w.BeginMap(int(n))
	for ; n > 0; n-- {
		var key []byte
		if key, i, err = keyAt(k.b, i); err != nil {
			return i, err
		}
		k.w.WriteString(key)
		if i, err = k.value(i, depth+1); err != nil {
			return i, err
		}
	}
	k.w.End()
	return i, nil
}
