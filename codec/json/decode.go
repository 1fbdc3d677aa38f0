package json

import (
	"math"

	"github.com/zwamp/zwamp/codec"
)

// decoder holds the state of one Decode call. It lives on the caller's
// stack; everything it produces points into the input or into m.Buf.
type decoder struct {
	scanner
	m *codec.Message
	// elem and key name the element (and Options/Details key, -1 for
	// none) being decoded; they are only turned into a string on error.
	elem string
	key  int
}

// Decode parses one WAMP message from data into m; see codec.Codec.
//
// Depth: the message list is depth 1, its Options/Details dict and its
// Arguments/ArgumentsKw are depth 2, and so on; Message.Depth() is the
// deepest allowed (capped at 10000, as the validator recurses).
func Decode(m *codec.Message, data []byte) error {
	m.Reset()
	d := decoder{scanner: scanner{data: data, max: clampDepth(m.Depth())}, m: m, key: -1}
	return d.message()
}

func (d *decoder) field() string {
	if d.key < 0 {
		return d.elem
	}
	return d.elem + "." + codec.KeyNames[d.key]
}

func (d *decoder) fail(err error, off int, field, detail string) error {
	return &codec.Error{Type: d.m.Type, Field: field, Offset: off, Err: err, Detail: detail}
}

// typeErr reports that the value at data[i] has the wrong type. A value
// that is malformed as well is reported as malformed, which is the more
// useful answer (and keeps truncated input classified as truncated).
func (d *decoder) typeErr(i, depth int, detail string) error {
	if end, err := d.skipValue(i, depth); err != nil {
		return d.fail(err, end, d.field(), "")
	}
	return d.fail(codec.ErrType, i, d.field(), detail)
}

func (d *decoder) truncated() error {
	return d.fail(codec.ErrTruncated, len(d.data), d.field(), "")
}

func (d *decoder) message() error {
	data, m := d.data, d.m
	i := skipWS(data, 0)
	if i >= len(data) {
		return d.fail(codec.ErrTruncated, i, "", "empty input")
	}
	if data[i] != '[' {
		return d.typeErr(i, 1, "message must be a list")
	}
	if d.max < 1 {
		return d.fail(codec.ErrDepth, i, "", "")
	}
	i = skipWS(data, i+1)
	if i >= len(data) {
		return d.truncated()
	}
	if data[i] == ']' {
		return d.fail(codec.ErrCount, i, "", "empty list")
	}
	d.elem = "Type"
	start := i
	t, i, err := d.integer(i, 2, math.MaxUint64)
	if err != nil {
		return err
	}
	if t > math.MaxUint16 || !codec.Type(t).Valid() {
		return d.fail(codec.ErrUnknownType, start, "Type", "")
	}
	m.Type = codec.Type(t)
	l := codec.LayoutOf(m.Type)
	count := 1
	for k := range l.Elems {
		i = skipWS(data, i)
		if i >= len(data) {
			return d.truncated()
		}
		if data[i] == ']' {
			if count < l.Min {
				return d.fail(codec.ErrCount, i, "", "too few elements")
			}
			return d.end(i + 1)
		}
		if data[i] != ',' {
			return d.fail(codec.ErrSyntax, i, d.elem, "want ',' or ']'")
		}
		i = skipWS(data, i+1)
		if i >= len(data) {
			return d.truncated()
		}
		e := &l.Elems[k]
		d.elem = e.Name
		switch e.Slot {
		case codec.SlotRequest:
			m.Request, i, err = d.integer(i, 2, codec.MaxID)
		case codec.SlotID:
			m.ID, i, err = d.integer(i, 2, codec.MaxID)
		case codec.SlotPublication:
			m.Publication, i, err = d.integer(i, 2, codec.MaxID)
		case codec.SlotErrorType:
			var v uint64
			v, i, err = d.integer(i, 2, math.MaxUint16)
			m.ErrorType = codec.Type(v)
		case codec.SlotURI:
			m.URI, i, err = d.str(i, 2)
		case codec.SlotDict:
			i, err = d.dict(i)
		case codec.SlotArgs:
			m.Args.Bytes, i, err = d.payload(i, '[', "want list")
			m.Args.Format = codec.JSON
		case codec.SlotKwargs:
			m.Kwargs.Bytes, i, err = d.payload(i, '{', "want dict")
			m.Kwargs.Format = codec.JSON
		}
		if err != nil {
			return err
		}
		count++
	}
	i = skipWS(data, i)
	if i >= len(data) {
		return d.truncated()
	}
	if data[i] == ',' {
		return d.fail(codec.ErrCount, i, "", "too many elements")
	}
	if data[i] != ']' {
		return d.fail(codec.ErrSyntax, i, d.elem, "want ']'")
	}
	return d.end(i + 1)
}

// end checks that nothing but whitespace follows the message.
func (d *decoder) end(i int) error {
	if i = skipWS(d.data, i); i < len(d.data) {
		return d.fail(codec.ErrTrailing, i, "", "")
	}
	return nil
}

// payload validates an Arguments list or ArgumentsKw dict completely and
// returns it as a view.
func (d *decoder) payload(i int, open byte, want string) ([]byte, int, error) {
	if d.data[i] != open {
		return nil, i, d.typeErr(i, 2, want)
	}
	end, err := d.skipValue(i, 2)
	if err != nil {
		return nil, end, d.fail(err, end, d.elem, "")
	}
	return d.data[i:end:end], end, nil
}

// integer reads a non-negative integer no larger than max at data[i].
func (d *decoder) integer(i, depth int, max uint64) (uint64, int, error) {
	data := d.data
	// Fast path for what nearly every id looks like: up to 16 digits, no
	// leading zero, then a delimiter. Anything else takes the full scan.
	var v uint64
	j := i
	for j < len(data) && j-i < 16 {
		c := data[j] - '0'
		if c > 9 {
			break
		}
		v = v*10 + uint64(c)
		j++
	}
	if j > i && j < len(data) && j-i < 16 && (data[i] != '0' || j == i+1) && v <= max {
		switch data[j] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return v, j, nil
		}
	}
	if c := data[i]; c != '-' && c-'0' > 9 {
		return 0, i, d.typeErr(i, depth, "want integer")
	}
	end, kind, v, err := scanNumber(data, i)
	if err != nil {
		return 0, end, d.fail(err, end, d.field(), "")
	}
	switch kind {
	case numUint:
		if v <= max {
			return v, end, nil
		}
	case numFloat:
		return 0, i, d.fail(codec.ErrType, i, d.field(), "want integer, not float")
	}
	return 0, i, d.fail(codec.ErrRange, i, d.field(), "")
}

// str reads a string at data[i]: a view into data, or into m.Buf when it
// had escapes.
func (d *decoder) str(i, depth int) ([]byte, int, error) {
	data := d.data
	if data[i] != '"' {
		return nil, i, d.typeErr(i, depth, "want string")
	}
	end, esc, err := scanString(data, i)
	if err != nil {
		return nil, end, d.fail(err, end, d.field(), "")
	}
	if !esc {
		return data[i+1 : end-1 : end-1], end, nil
	}
	mark := len(d.m.Buf)
	d.m.Buf = appendUnescaped(d.m.Buf, data[i+1:end-1])
	return d.m.Buf[mark:len(d.m.Buf):len(d.m.Buf)], end, nil
}

// first steps into the list or dict whose opening bracket is at data[i]:
// it returns the position of the first element or key, or the position
// after the closing bracket and false.
func (d *decoder) first(i int, closing byte) (int, bool) {
	i = skipWS(d.data, i+1)
	if i < len(d.data) && d.data[i] == closing {
		return i + 1, false
	}
	return i, true
}

// objKey reads `"key":` at data[i] and returns the key (unescaped into
// m.Buf if need be; the caller trims m.Buf back when done with it) and the
// position of the value.
func (d *decoder) objKey(i int) ([]byte, int, error) {
	data := d.data
	if i >= len(data) {
		return nil, i, d.truncated()
	}
	if data[i] != '"' {
		return nil, i, d.fail(keyError(data[i]), i, d.field(), "")
	}
	end, esc, err := scanString(data, i)
	if err != nil {
		return nil, end, d.fail(err, end, d.field(), "")
	}
	key := data[i+1 : end-1]
	if esc {
		mark := len(d.m.Buf)
		d.m.Buf = appendUnescaped(d.m.Buf, key)
		key = d.m.Buf[mark:]
	}
	i = skipWS(data, end)
	if i >= len(data) {
		return nil, i, d.truncated()
	}
	if data[i] != ':' {
		return nil, i, d.fail(codec.ErrSyntax, i, d.field(), "want ':'")
	}
	if i = skipWS(data, i+1); i >= len(data) {
		return nil, i, d.truncated()
	}
	return key, i, nil
}

// next moves past the list element or dict value that ends at data[i]: it
// returns the position of the next element or key, or the position after
// the closing bracket and false.
func (d *decoder) next(i int, closing byte) (int, bool, error) {
	data := d.data
	i = skipWS(data, i)
	if i >= len(data) {
		return i, false, d.truncated()
	}
	switch data[i] {
	case ',':
		if i = skipWS(data, i+1); i >= len(data) {
			return i, false, d.truncated()
		}
		return i, true, nil
	case closing:
		return i + 1, false, nil
	}
	if closing == '}' {
		return i, false, d.fail(codec.ErrSyntax, i, d.field(), "want ',' or '}'")
	}
	return i, false, d.fail(codec.ErrSyntax, i, d.field(), "want ',' or ']'")
}

// dict decodes the Options/Details/Extra dict at data[i] into m.Dict and
// m.Details.
func (d *decoder) dict(i int) (int, error) {
	data := d.data
	if data[i] != '{' {
		return i, d.typeErr(i, 2, "want dict")
	}
	if d.max < 2 {
		return i, d.fail(codec.ErrDepth, i, d.elem, "")
	}
	start := i
	i, more := d.first(i, '}')
	for more {
		mark := len(d.m.Buf)
		key, j, err := d.objKey(i)
		if err != nil {
			return j, err
		}
		if k, ok := codec.LookupKey(key); ok {
			d.m.Buf = d.m.Buf[:mark]
			d.key = int(k)
			j, err = d.value(k, j)
			d.key = -1
		} else if j, err = d.skipValue(j, 3); err != nil {
			err = d.fail(err, j, d.elem+"."+string(key), "")
		} else {
			// Known values may live in m.Buf now; only an unknown key's
			// unescaped name can be dropped.
			d.m.Buf = d.m.Buf[:mark]
		}
		if err != nil {
			return j, err
		}
		if i, more, err = d.next(j, '}'); err != nil {
			return i, err
		}
	}
	d.m.Dict = codec.Raw{Format: codec.JSON, Bytes: data[start:i:i]}
	d.m.Details.Finish()
	return i, nil
}

// value decodes the value of known key k at data[i] into m.Details.
func (d *decoder) value(k codec.Key, i int) (int, error) {
	data := d.data
	det := &d.m.Details
	if i >= len(data) {
		return i, d.truncated()
	}
	if data[i] == 'n' {
		// A known key set to null is absent; a duplicate key may have
		// set it before, and the last occurrence wins.
		end, err := scanLiteral(data, i, "null")
		if err != nil {
			return end, d.fail(err, end, d.field(), "")
		}
		det.Clear(k)
		return end, nil
	}
	var err error
	switch codec.KeyKinds[k] {
	case codec.KindBool:
		switch data[i] {
		case 't':
			if i, err = scanLiteral(data, i, "true"); err == nil {
				det.SetBool(k, true)
			}
		case 'f':
			if i, err = scanLiteral(data, i, "false"); err == nil {
				det.SetBool(k, false)
			}
		default:
			return i, d.typeErr(i, 3, "want bool")
		}
		if err != nil {
			return i, d.fail(err, i, d.field(), "")
		}
	case codec.KindInt:
		var v uint64
		if v, i, err = d.integer(i, 3, math.MaxUint64); err == nil {
			det.SetUint(k, v)
		}
	case codec.KindID:
		var v uint64
		if v, i, err = d.integer(i, 3, codec.MaxID); err == nil {
			det.SetUint(k, v)
		}
	case codec.KindString:
		var s []byte
		if s, i, err = d.str(i, 3); err == nil {
			det.SetString(k, s)
		}
	case codec.KindIDList:
		return d.idList(k, i)
	case codec.KindStringList:
		return d.stringList(k, i)
	case codec.KindRoles:
		return d.roles(i)
	case codec.KindDict:
		if data[i] != '{' {
			return i, d.typeErr(i, 3, "want dict")
		}
		end, err := d.skipObject(i, 3)
		if err != nil {
			return end, d.fail(err, end, d.field(), "")
		}
		det.AuthExtra = codec.Raw{Format: codec.JSON, Bytes: data[i:end:end]}
		det.Mark(k)
		return end, nil
	}
	return i, err
}

func (d *decoder) idList(k codec.Key, i int) (int, error) {
	if d.data[i] != '[' {
		return i, d.typeErr(i, 3, "want list of ids")
	}
	if d.max < 3 {
		return i, d.fail(codec.ErrDepth, i, d.field(), "")
	}
	p := d.m.Details.IDList(k)
	list := (*p)[:0]
	i, more := d.first(i, ']')
	for more {
		if i >= len(d.data) {
			return i, d.truncated()
		}
		v, j, err := d.integer(i, 4, codec.MaxID)
		if err != nil {
			return j, err
		}
		list = append(list, v)
		if i, more, err = d.next(j, ']'); err != nil {
			return i, err
		}
	}
	*p = list
	d.m.Details.Mark(k)
	return i, nil
}

// stringList reads a list of strings, or a single string as a list of one.
func (d *decoder) stringList(k codec.Key, i int) (int, error) {
	p := d.m.Details.StringList(k)
	list := (*p)[:0]
	switch d.data[i] {
	case '"':
		s, end, err := d.str(i, 3)
		if err != nil {
			return end, err
		}
		list = append(list, s)
		i = end
	case '[':
		if d.max < 3 {
			return i, d.fail(codec.ErrDepth, i, d.field(), "")
		}
		var more bool
		i, more = d.first(i, ']')
		for more {
			if i >= len(d.data) {
				return i, d.truncated()
			}
			s, j, err := d.str(i, 4)
			if err != nil {
				return j, err
			}
			list = append(list, s)
			if i, more, err = d.next(j, ']'); err != nil {
				return i, err
			}
		}
	default:
		return i, d.typeErr(i, 3, "want string or list of strings")
	}
	*p = list
	d.m.Details.Mark(k)
	return i, nil
}

// roles decodes HELLO/WELCOME "roles": {role: {"features": {name: bool}}}.
// Unknown roles, unknown features and other keys are validated and
// skipped; a known role or "features" set to null counts as absent.
func (d *decoder) roles(i int) (int, error) {
	data := d.data
	det := &d.m.Details
	if data[i] != '{' {
		return i, d.typeErr(i, 3, "want dict")
	}
	if d.max < 3 {
		return i, d.fail(codec.ErrDepth, i, d.field(), "")
	}
	det.Roles = 0
	det.Features = [codec.NumRoles]codec.Feature{}
	i, more := d.first(i, '}')
	for more {
		mark := len(d.m.Buf)
		name, j, err := d.objKey(i)
		if err != nil {
			return j, err
		}
		role, known := codec.LookupRole(name)
		d.m.Buf = d.m.Buf[:mark]
		switch {
		case !known:
			if j, err = d.skipValue(j, 4); err != nil {
				return j, d.fail(err, j, d.field(), "")
			}
		case data[j] == 'n':
			if j, err = scanLiteral(data, j, "null"); err != nil {
				return j, d.fail(err, j, d.field(), "")
			}
		default:
			if j, err = d.role(role, j); err != nil {
				return j, err
			}
		}
		if i, more, err = d.next(j, '}'); err != nil {
			return i, err
		}
	}
	det.Mark(codec.KeyRoles)
	return i, nil
}

// role decodes one known role's dict at data[i].
func (d *decoder) role(role codec.Role, i int) (int, error) {
	data := d.data
	idx := codec.RoleIndex(role)
	if data[i] != '{' {
		if end, err := d.skipValue(i, 4); err != nil {
			return end, d.fail(err, end, d.rolePath(idx), "")
		}
		return i, d.fail(codec.ErrType, i, d.rolePath(idx), "want dict")
	}
	if d.max < 4 {
		return i, d.fail(codec.ErrDepth, i, d.rolePath(idx), "")
	}
	d.m.Details.Roles |= role
	i, more := d.first(i, '}')
	for more {
		mark := len(d.m.Buf)
		name, j, err := d.objKey(i)
		if err != nil {
			return j, err
		}
		isFeatures := string(name) == "features"
		d.m.Buf = d.m.Buf[:mark]
		switch {
		case !isFeatures:
			if j, err = d.skipValue(j, 5); err != nil {
				return j, d.fail(err, j, d.rolePath(idx), "")
			}
		case data[j] == 'n':
			if j, err = scanLiteral(data, j, "null"); err != nil {
				return j, d.fail(err, j, d.rolePath(idx)+".features", "")
			}
		case data[j] != '{':
			if end, err := d.skipValue(j, 5); err != nil {
				return end, d.fail(err, end, d.rolePath(idx)+".features", "")
			}
			return j, d.fail(codec.ErrType, j, d.rolePath(idx)+".features", "want dict")
		default:
			if j, err = d.features(idx, j); err != nil {
				return j, err
			}
		}
		if i, more, err = d.next(j, '}'); err != nil {
			return i, err
		}
	}
	return i, nil
}

// rolePath names a role's dict in errors.
func (d *decoder) rolePath(idx int) string { return d.field() + "." + codec.RoleNames[idx] }

// features decodes a role's "features" dict at data[i].
func (d *decoder) features(idx int, i int) (int, error) {
	data := d.data
	if d.max < 5 {
		return i, d.fail(codec.ErrDepth, i, d.rolePath(idx)+".features", "")
	}
	i, more := d.first(i, '}')
	for more {
		mark := len(d.m.Buf)
		name, j, err := d.objKey(i)
		if err != nil {
			return j, err
		}
		f, known := codec.LookupFeature(name)
		if known {
			switch data[j] {
			case 't':
				j, err = scanLiteral(data, j, "true")
				d.m.Details.Features[idx] |= f
			case 'f':
				j, err = scanLiteral(data, j, "false")
			case 'n':
				j, err = scanLiteral(data, j, "null")
			default:
				var end int
				if end, err = d.skipValue(j, 6); err != nil {
					j = end
				} else {
					err = codec.ErrType
				}
			}
		} else {
			j, err = d.skipValue(j, 6)
		}
		if err != nil {
			return j, d.fail(err, j, d.rolePath(idx)+".features."+string(name), "")
		}
		d.m.Buf = d.m.Buf[:mark]
		if i, more, err = d.next(j, '}'); err != nil {
			return i, err
		}
	}
	return i, nil
}
