package msgpack

import (
	"strconv"

	"github.com/zwamp/zwamp/codec"
)

// Decode parses one complete MessagePack-encoded WAMP message from data into
// m, which it resets first. On success m holds views into data; nothing is
// allocated once m's slices have grown to fit. Every malformed, truncated,
// wrong-typed or too-deep input yields a *codec.Error naming the message
// type, the element or Options/Details key, and the byte offset.
func Decode(m *codec.Message, data []byte) error {
	m.Reset()
	d := decoder{b: data, m: m, max: m.Depth()}
	return d.message()
}

// decoder carries one Decode call's input and target. It lives on the
// stack; its methods return the offset reached (or, on error, the offset of
// the problem) so that no position state is shared through memory.
type decoder struct {
	b   []byte
	m   *codec.Message
	max int
}

// fail builds the error for a problem at off. Only failing inputs get here,
// so allocating (and concatenating field names) is fine.
func (d *decoder) fail(err error, off int, field, detail string) error {
	switch err {
	case codec.ErrType:
		if detail == "" {
			detail = "wrong MessagePack type"
		}
	case codec.ErrRange, codec.ErrCount, codec.ErrUnknownType:
	default:
		// Callers pass "want dict" and the like whatever went wrong
		// reading the value; it only explains a type mismatch.
		detail = ""
	}
	return &codec.Error{Type: d.m.Type, Field: field, Offset: off, Err: err, Detail: detail}
}

func (d *decoder) message() error {
	b, m := d.b, d.m
	n, i, isMap, err := containerAt(b, 0)
	if err == nil && isMap {
		err, i = codec.ErrType, 0
	}
	if err != nil {
		return d.fail(err, i, "", "message must be a list")
	}
	if n == 0 {
		return d.fail(codec.ErrCount, 0, "", "empty message list")
	}

	// containerAt guaranteed at least n bytes after the header. Types
	// below 128 are positive fixints.
	v, next, kind := uint64(b[i]), i+1, numUint
	if b[i] >= cFixMapMin {
		v, next, kind = numAt(b, i)
	}
	switch kind {
	case numUint:
	case numNeg:
		return d.fail(codec.ErrUnknownType, i, "Type", "negative message type")
	case numTrunc:
		return d.fail(codec.ErrTruncated, i, "Type", "")
	default:
		if b[i] == cNeverUsed {
			return d.fail(codec.ErrSyntax, i, "Type", "")
		}
		return d.fail(codec.ErrType, i, "Type", "message type must be an integer")
	}
	if v > 0xffff || !codec.Type(v).Valid() {
		return d.fail(codec.ErrUnknownType, i, "Type", "type "+strconv.FormatUint(v, 10))
	}
	m.Type = codec.Type(v)
	l := codec.LayoutOf(m.Type)
	if n < uint64(l.Min) || n > uint64(l.Max()) {
		return d.fail(codec.ErrCount, 0, "", "got "+strconv.FormatUint(n, 10)+" elements, want "+
			strconv.Itoa(l.Min)+".."+strconv.Itoa(l.Max()))
	}
	i = next

	for _, e := range l.Elems[:n-1] {
		switch e.Slot {
		case codec.SlotRequest:
			m.Request, i, err = d.id(i, e.Name, noKey)
		case codec.SlotID:
			m.ID, i, err = d.id(i, e.Name, noKey)
		case codec.SlotPublication:
			m.Publication, i, err = d.id(i, e.Name, noKey)
		case codec.SlotErrorType:
			i, err = d.errorType(i, e.Name)
		case codec.SlotURI:
			var s []byte
			if s, i, err = strAt(b, i); err != nil {
				return d.fail(err, i, e.Name, "want string")
			}
			m.URI = s
		case codec.SlotDict:
			i, err = d.dict(i, e.Name)
		case codec.SlotArgs:
			i, err = d.payload(i, e.Name, false)
		case codec.SlotKwargs:
			i, err = d.payload(i, e.Name, true)
		}
		if err != nil {
			return err
		}
	}
	if i != len(b) {
		return d.fail(codec.ErrTrailing, i, "", "")
	}
	return nil
}

// id decodes a WAMP ID: an integer in any encoding, in [0, codec.MaxID].
// name and k (noKey for a message element) name it in errors; the field
// name is only put together when there is an error to report.
func (d *decoder) id(i int, name string, k codec.Key) (uint64, int, error) {
	if i < len(d.b) && d.b[i] < cFixMapMin {
		return uint64(d.b[i]), i + 1, nil
	}
	return d.idSlow(i, name, k)
}

func (d *decoder) idSlow(i int, name string, k codec.Key) (uint64, int, error) {
	if i >= len(d.b) {
		return 0, i, d.fail(codec.ErrTruncated, i, fieldName(name, k), "")
	}
	v, next, kind := numAt(d.b, i)
	if kind == numUint && v <= codec.MaxID {
		return v, next, nil
	}
	return 0, i, d.numErr(i, kind, fieldName(name, k), "ID out of range [0, 2^53]")
}

// numErr is the error for a value at b[i] that numAt classified as kind and
// that is not an acceptable integer.
func (d *decoder) numErr(i int, kind numKind, field, rangeDetail string) error {
	switch kind {
	case numUint, numNeg:
		return d.fail(codec.ErrRange, i, field, rangeDetail)
	case numTrunc:
		return d.fail(codec.ErrTruncated, i, field, "")
	case numFloat:
		return d.fail(codec.ErrType, i, field, "want integer, got float")
	}
	if d.b[i] == cNeverUsed {
		return d.fail(codec.ErrSyntax, i, field, "")
	}
	return d.fail(codec.ErrType, i, field, "want integer")
}

// errorType decodes ERROR's REQUEST.Type: any integer below 65536; the
// router decides whether it names a request type.
func (d *decoder) errorType(i int, field string) (int, error) {
	if i >= len(d.b) {
		return i, d.fail(codec.ErrTruncated, i, field, "")
	}
	v, next, kind := numAt(d.b, i)
	if kind == numUint && v <= 0xffff {
		d.m.ErrorType = codec.Type(v)
		return next, nil
	}
	return i, d.numErr(i, kind, field, "message type out of range [0, 65535]")
}

// payload validates Arguments (a list) or ArgumentsKw (a dict) completely
// and keeps it as a view.
func (d *decoder) payload(i int, field string, wantMap bool) (int, error) {
	n, next, isMap, err := containerAt(d.b, i)
	if err == nil && isMap != wantMap {
		err, next = codec.ErrType, i
	}
	if err != nil {
		detail := "want list"
		if wantMap {
			detail = "want dict"
		}
		return next, d.fail(err, next, field, detail)
	}
	end, err := skipContainer(d.b, i, next, n, isMap, 2, d.max)
	if err != nil {
		return end, d.fail(err, end, field, "")
	}
	r := codec.Raw{Format: codec.MsgPack, Bytes: d.b[i:end]}
	if wantMap {
		d.m.Kwargs = r
	} else {
		d.m.Args = r
	}
	return end, nil
}

// dict decodes the Options|Details|Extra dict at b[i]: the whole dict
// becomes m.Dict, and the known keys are decoded into m.Details. Unknown
// keys are validated and skipped.
func (d *decoder) dict(i int, name string) (int, error) {
	b := d.b
	start := i
	n, i, isMap, err := containerAt(b, i)
	if err == nil && !isMap {
		err, i = codec.ErrType, start
	}
	if err != nil {
		return i, d.fail(err, i, name, "want dict")
	}
	if d.max < 2 {
		return start, d.fail(codec.ErrDepth, start, name, "")
	}
	det := &d.m.Details
	for ; n > 0; n-- {
		key, next, err := strAt(b, i)
		if err != nil {
			if err == codec.ErrType {
				err = codec.ErrKey
			}
			return next, d.fail(err, next, name, "")
		}
		i = next
		k, known := codec.LookupKey(key)
		if !known {
			if i, err = skip(b, i, 3, d.max); err != nil {
				return i, d.fail(err, i, name+"."+string(key), "")
			}
			continue
		}
		if i < len(b) && b[i] == cNil {
			det.Clear(k)
			i++
			continue
		}
		if isJSUndefined(b, i) {
			// JavaScript MessagePack libraries (wampy's among them) write
			// an undefined option as this extension value; it means what
			// null means, and refusing it would abort every default
			// subscribe of such a client.
			det.Clear(k)
			i += 3
			continue
		}
		if i, err = d.known(i, k, name); err != nil {
			return i, err
		}
	}
	d.m.Dict = codec.Raw{Format: codec.MsgPack, Bytes: b[start:i]}
	det.Finish()
	return i, nil
}

// isJSUndefined reports whether b[i:] starts with fixext1 of type 0 and
// data 0, the encoding of JavaScript's undefined by msgpack-lite and
// @msgpack/msgpack.
func isJSUndefined(b []byte, i int) bool {
	return i+2 < len(b) && b[i] == 0xd4 && b[i+1] == 0 && b[i+2] == 0
}

// known decodes the non-null value of known key k at b[i] (i may be at the
// end of the input) into m.Details.
func (d *decoder) known(i int, k codec.Key, name string) (int, error) {
	b := d.b
	det := &d.m.Details
	if i >= len(b) {
		return i, d.fail(codec.ErrTruncated, i, fieldName(name, k), "")
	}
	switch codec.KeyKinds[k] {
	case codec.KindBool:
		switch b[i] {
		case cTrue:
			det.SetBool(k, true)
		case cFalse:
			det.SetBool(k, false)
		default:
			return i, d.keyErr(i, codec.ErrType, name, k, "want bool")
		}
		return i + 1, nil
	case codec.KindInt:
		v, next, kind := numAt(b, i)
		if kind != numUint {
			return i, d.numErr(i, kind, fieldName(name, k), "negative")
		}
		det.SetUint(k, v)
		return next, nil
	case codec.KindID:
		v, next, err := d.id(i, name, k)
		if err != nil {
			return next, err
		}
		det.SetUint(k, v)
		return next, nil
	case codec.KindString:
		s, next, err := strAt(b, i)
		if err != nil {
			return next, d.keyErr(next, err, name, k, "want string")
		}
		det.SetString(k, s)
		return next, nil
	case codec.KindIDList:
		return d.idList(i, k, name)
	case codec.KindStringList:
		return d.stringList(i, k, name)
	case codec.KindRoles:
		return d.roles(i, name)
	case codec.KindDict:
		n, next, isMap, err := containerAt(b, i)
		if err == nil && !isMap {
			err, next = codec.ErrType, i
		}
		if err != nil {
			return next, d.keyErr(next, err, name, k, "want dict")
		}
		end, err := skipContainer(b, i, next, n, true, 3, d.max)
		if err != nil {
			return end, d.keyErr(end, err, name, k, "")
		}
		det.AuthExtra = codec.Raw{Format: codec.MsgPack, Bytes: b[i:end]}
		det.Mark(k)
		return end, nil
	}
	return skip(b, i, 3, d.max) // unreachable: every key has a kind
}

func (d *decoder) keyErr(off int, err error, name string, k codec.Key, detail string) error {
	if err != codec.ErrType {
		detail = ""
	}
	return d.fail(err, off, fieldName(name, k), detail)
}

// list reads the header of a list-valued key at b[i], at depth 3.
func (d *decoder) list(i int, k codec.Key, name string) (uint64, int, error) {
	n, next, isMap, err := containerAt(d.b, i)
	if err == nil && isMap {
		err, next = codec.ErrType, i
	}
	if err != nil {
		return 0, next, d.keyErr(next, err, name, k, "want list")
	}
	if d.max < 3 {
		return 0, i, d.keyErr(i, codec.ErrDepth, name, k, "")
	}
	return n, next, nil
}

func (d *decoder) idList(i int, k codec.Key, name string) (int, error) {
	n, i, err := d.list(i, k, name)
	if err != nil {
		return i, err
	}
	p := d.m.Details.IDList(k)
	l := (*p)[:0]
	for ; n > 0; n-- {
		var v uint64
		if v, i, err = d.id(i, name, k); err != nil {
			return i, err
		}
		l = append(l, v)
	}
	*p = l
	d.m.Details.Mark(k)
	return i, nil
}

func (d *decoder) stringList(i int, k codec.Key, name string) (int, error) {
	p := d.m.Details.StringList(k)
	l := (*p)[:0]
	if c := d.b[i]; (c >= cFixStrMin && c < cNil) || (c >= cStr8 && c <= cStr32) {
		s, next, err := strAt(d.b, i)
		if err != nil {
			return next, d.keyErr(next, err, name, k, "")
		}
		*p = append(l, s)
		d.m.Details.Mark(k)
		return next, nil
	}
	n, i, err := d.list(i, k, name)
	if err != nil {
		return i, err
	}
	for ; n > 0; n-- {
		var s []byte
		if s, i, err = strAt(d.b, i); err != nil {
			return i, d.keyErr(i, err, name, k, "want list of strings")
		}
		l = append(l, s)
	}
	*p = l
	d.m.Details.Mark(k)
	return i, nil
}

// roles decodes HELLO/WELCOME "roles": role name → {"features": {name: bool}}.
// Unknown roles, unknown features and other keys are validated and ignored;
// null is treated as absent at every level, as it is for known keys. elem
// names the dict holding "roles"; field names are put together only on
// error paths.
func (d *decoder) roles(i int, elem string) (int, error) {
	b := d.b
	det := &d.m.Details
	n, i, err := mapAt(b, i, 3, d.max)
	if err != nil {
		return i, d.fail(err, i, elem+".roles", "want dict")
	}
	// A repeated "roles" key replaces the earlier one, as for every key.
	det.Mark(codec.KeyRoles)
	det.Roles = 0
	det.Features = [codec.NumRoles]codec.Feature{}
	for ; n > 0; n-- {
		var name []byte
		if name, i, err = keyAt(b, i); err != nil {
			return i, d.fail(err, i, elem+".roles", "")
		}
		role, known := codec.LookupRole(name)
		if !known {
			if i, err = skip(b, i, 4, d.max); err != nil {
				return i, d.fail(err, i, elem+".roles."+string(name), "")
			}
			continue
		}
		if i < len(b) && b[i] == cNil {
			i++
			continue
		}
		idx := codec.RoleIndex(role)
		var attrs uint64
		if attrs, i, err = mapAt(b, i, 4, d.max); err != nil {
			return i, d.fail(err, i, rolePath(elem, idx), "want dict")
		}
		det.Roles |= role
		det.Features[idx] = 0 // a repeated role replaces the earlier one
		for ; attrs > 0; attrs-- {
			var attr []byte
			if attr, i, err = keyAt(b, i); err != nil {
				return i, d.fail(err, i, rolePath(elem, idx), "")
			}
			if string(attr) != "features" || (i < len(b) && b[i] == cNil) {
				if i, err = skip(b, i, 5, d.max); err != nil {
					return i, d.fail(err, i, rolePath(elem, idx)+"."+string(attr), "")
				}
				continue
			}
			if i, err = d.features(i, idx, elem); err != nil {
				return i, err
			}
		}
	}
	return i, nil
}

// rolePath names the dict of known role idx in errors.
func rolePath(elem string, idx int) string { return elem + ".roles." + codec.RoleNames[idx] }

func (d *decoder) features(i, idx int, elem string) (int, error) {
	b := d.b
	n, i, err := mapAt(b, i, 5, d.max)
	if err != nil {
		return i, d.fail(err, i, rolePath(elem, idx)+".features", "want dict")
	}
	for ; n > 0; n-- {
		var name []byte
		if name, i, err = keyAt(b, i); err != nil {
			return i, d.fail(err, i, rolePath(elem, idx)+".features", "")
		}
		f, known := codec.LookupFeature(name)
		if !known {
			if i, err = skip(b, i, 6, d.max); err != nil {
				return i, d.fail(err, i, rolePath(elem, idx)+".features."+string(name), "")
			}
			continue
		}
		if i >= len(b) {
			return i, d.fail(codec.ErrTruncated, i, rolePath(elem, idx)+".features."+string(name), "")
		}
		switch b[i] {
		case cTrue:
			d.m.Details.Features[idx] |= f
		case cFalse, cNil:
		default:
			return i, d.fail(codec.ErrType, i, rolePath(elem, idx)+".features."+string(name), "want bool")
		}
		i++
	}
	return i, nil
}

// mapAt reads the header of a dict that must sit at b[i], at the given
// depth. On error it returns the sentinel and its offset, for the caller to
// name.
func mapAt(b []byte, i, depth, max int) (uint64, int, error) {
	n, next, isMap, err := containerAt(b, i)
	if err == nil && !isMap {
		err, next = codec.ErrType, i
	}
	if err == nil && depth > max {
		err, next = codec.ErrDepth, i
	}
	return n, next, err
}
