package cbor

import (
	"encoding/binary"

	"github.com/zwamp/zwamp/codec"
)

// Nesting depths of the parts of a message: the message array is depth 1,
// its dicts and lists depth 2, and so on.
const (
	depthElem     = 2 // Options|Details, Arguments, ArgumentsKw
	depthKeyValue = 3 // a container under an Options key ("exclude", "roles")
)

// decoder is the state of one Decode call; it lives on Decode's stack.
type decoder struct {
	data []byte
	m    *codec.Message
	max  int
}

// Decode parses one complete WAMP message from data into m, which it resets
// first. On success m holds views into data (and into m.Buf for indefinite
// strings, the only thing CBOR needs to copy). It does not allocate on
// success once m's slices have grown to their steady-state capacity.
func Decode(m *codec.Message, data []byte) error {
	m.Reset()
	d := decoder{data: data, m: m, max: m.Depth()}
	return d.message()
}

// fail builds the error returned to the caller. Only error paths allocate.
func (d *decoder) fail(field string, off int, err error, detail string) error {
	return &codec.Error{Type: d.m.Type, Field: field, Offset: off, Err: err, Detail: detail}
}

// failType is fail for an element of the wrong type, naming what was wanted
// when the item was well-formed but of another type.
func (d *decoder) failType(field string, off int, err error, want string) error {
	if err != codec.ErrType {
		want = ""
	}
	return d.fail(field, off, err, want)
}

// message decodes the top-level array: the type code first, then each
// element as the type's layout says, then nothing after it.
func (d *decoder) message() error {
	data, m := d.data, d.m
	var (
		top iter
		p   int
		err error
	)
	// A message is almost always a short definite array (0x82..0x87).
	if len(data) > 0 && data[0]>>5 == majorArray && data[0]&0x1f < 24 {
		top, p = iter{n: uint64(data[0] & 0x1f)}, 1
	} else if top, _, p, err = open(data, 0, majorArray); err != nil {
		return d.failType("", p, err, "message is not a list")
	}
	if !top.indef && top.n == 0 || top.indef && p < len(data) && data[p] == breakByte {
		return d.fail("", p, codec.ErrCount, "empty list")
	}

	var (
		major, ai byte
		arg       uint64
		start, q  int
	)
	// Type codes are one byte below 24, else 0x18 and one byte.
	if p+1 < len(data) && data[p] == 0x18 {
		major, ai, arg, start, q = majorUint, 24, uint64(data[p+1]), p, p+2
	} else if major, ai, arg, start, q, err = head(data, p); err != nil {
		return d.fail("Type", q, err, "")
	}
	switch major {
	case majorUint:
		if arg >= 1<<16 || !codec.Type(arg).Valid() {
			return d.fail("Type", start, codec.ErrUnknownType, "")
		}
	case majorNeg:
		return d.fail("Type", start, codec.ErrUnknownType, "")
	default:
		return d.failType("Type", start, mismatch(major, ai), "want integer")
	}
	m.Type = codec.Type(arg)
	l := codec.LayoutOf(m.Type)
	n := l.Max()
	if !top.indef {
		if top.n < uint64(l.Min) || top.n > uint64(n) {
			return d.fail("", 0, codec.ErrCount, "")
		}
		n = int(top.n)
	}
	p = q

	i := 1
	for ; i < n; i++ {
		if top.indef {
			if p >= len(data) {
				return d.fail("", p, codec.ErrTruncated, "")
			}
			if data[p] == breakByte {
				break
			}
		}
		e := &l.Elems[i-1]
		switch e.Slot {
		case codec.SlotRequest:
			if v, q, ok := fastID(data, p); ok {
				m.Request, p = v, q
			} else {
				m.Request, p, err = d.id(p, e.Name)
			}
		case codec.SlotID:
			if v, q, ok := fastID(data, p); ok {
				m.ID, p = v, q
			} else {
				m.ID, p, err = d.id(p, e.Name)
			}
		case codec.SlotPublication:
			if v, q, ok := fastID(data, p); ok {
				m.Publication, p = v, q
			} else {
				m.Publication, p, err = d.id(p, e.Name)
			}
		case codec.SlotErrorType:
			p, err = d.errorType(p, e.Name)
		case codec.SlotURI:
			var s []byte
			s, p, err = d.text(p)
			if err != nil {
				err = d.failType(e.Name, p, err, "want string")
			}
			m.URI = s
		case codec.SlotDict:
			// Most Options/Details on the hot path are {}.
			if p < len(data) && data[p] == byteEmptyDict && d.max >= depthElem {
				m.Dict = codec.Raw{Format: codec.CBOR, Bytes: data[p : p+1 : p+1]}
				p++
			} else {
				p, err = d.dict(p, e.Name)
			}
		case codec.SlotArgs:
			m.Args.Bytes, p, err = d.payload(p, majorArray, e.Name, "want list")
			m.Args.Format = codec.CBOR
		case codec.SlotKwargs:
			m.Kwargs.Bytes, p, err = d.payload(p, majorMap, e.Name, "want dict")
			m.Kwargs.Format = codec.CBOR
		}
		if err != nil {
			return err
		}
	}
	if top.indef {
		if i < l.Min {
			return d.fail("", p, codec.ErrCount, "")
		}
		if p >= len(data) {
			return d.fail("", p, codec.ErrTruncated, "")
		}
		if data[p] != breakByte {
			return d.fail("", p, codec.ErrCount, "")
		}
		p++
	}
	if p != len(data) {
		return d.fail("", p, codec.ErrTrailing, "")
	}
	return nil
}

// id reads a WAMP ID: an integer in [0, codec.MaxID], in any encoding.
func (d *decoder) id(p int, field string) (uint64, int, error) {
	// IDs above 2^32 (session and publication IDs, which are random in
	// [1, 2^53]) come as 0x1b and 8 bytes.
	if data := d.data; p < len(data) && data[p] == 0x1b && len(data)-p >= 9 {
		if v := binary.BigEndian.Uint64(data[p+1:]); v <= codec.MaxID {
			return v, p + 9, nil
		}
	}
	major, ai, arg, start, q, err := head(d.data, p)
	if err != nil {
		return 0, q, d.fail(field, q, err, "")
	}
	switch major {
	case majorUint:
		if arg > codec.MaxID {
			return 0, start, d.fail(field, start, codec.ErrRange, "id above 2^53")
		}
		return arg, q, nil
	case majorNeg:
		return 0, start, d.fail(field, start, codec.ErrRange, "negative id")
	}
	return 0, start, d.failType(field, start, mismatch(major, ai), "want integer id")
}

// errorType reads ERROR's REQUEST.Type: an integer below 65536.
func (d *decoder) errorType(p int, field string) (int, error) {
	major, ai, arg, start, q, err := head(d.data, p)
	if err != nil {
		return q, d.fail(field, q, err, "")
	}
	switch major {
	case majorUint:
		if arg >= 1<<16 {
			return start, d.fail(field, start, codec.ErrRange, "message type above 65535")
		}
		d.m.ErrorType = codec.Type(arg)
		return q, nil
	case majorNeg:
		return start, d.fail(field, start, codec.ErrRange, "negative message type")
	}
	return start, d.failType(field, start, mismatch(major, ai), "want integer")
}

// text reads a text string. A definite string is a view into data; the
// chunks of an indefinite one are concatenated into m.Buf. Errors are bare
// sentinels with the offset in next, for the caller to wrap with its field.
func (d *decoder) text(p int) (s []byte, next int, err error) {
	data := d.data
	if c, ok := short(data, p); ok && c>>5 == majorText {
		end := p + 1 + int(c&0x1f)
		if end > len(data) {
			return nil, p + 1, codec.ErrTruncated
		}
		s = data[p+1 : end : end]
		if !validUTF8(s) {
			return nil, p + 1, codec.ErrUTF8
		}
		return s, end, nil
	}
	major, ai, arg, start, q, err := headSlow(data, p)
	if err != nil {
		return nil, q, err
	}
	if major != majorText {
		return nil, start, mismatch(major, ai)
	}
	if ai != aiIndef {
		if arg > uint64(len(data)-q) {
			return nil, q, codec.ErrTruncated
		}
		end := q + int(arg)
		s = data[q:end:end]
		if !validUTF8(s) {
			return nil, q, codec.ErrUTF8
		}
		return s, end, nil
	}
	end, err := str(data, q, majorText, aiIndef, 0)
	if err != nil {
		return nil, end, err
	}
	mark := len(d.m.Buf)
	d.m.Buf, _ = appendChunks(d.m.Buf, data, q)
	if len(d.m.Buf) == mark {
		return data[end:end:end], end, nil // empty but present
	}
	b := d.m.Buf
	return b[mark:len(b):len(b)], end, nil
}

// key reads a dict key: a text string like text, and a well-formed item of
// another type is codec.ErrKey.
func (d *decoder) key(p int) (s []byte, next int, err error) {
	if s, next, err = d.text(p); err == codec.ErrType {
		err = codec.ErrKey
	}
	return
}

// keyField names Options/Details key k of element field in errors.
func keyField(field string, k codec.Key) string { return field + "." + codec.KeyNames[k] }

// payload validates Arguments or ArgumentsKw completely and returns the
// exact bytes of the list or dict (without any tags in front of it).
func (d *decoder) payload(p int, want byte, field, wantName string) ([]byte, int, error) {
	data := d.data
	start := p
	if p < len(data) && data[p]>>5 == majorTag {
		major, ai, _, tstart, q, err := head(data, p)
		if err != nil {
			return nil, q, d.fail(field, q, err, "")
		}
		if major != want {
			return nil, tstart, d.failType(field, tstart, mismatch(major, ai), wantName)
		}
		start = tstart
	} else if p >= len(data) {
		return nil, p, d.fail(field, p, codec.ErrTruncated, "")
	} else if data[p]>>5 != want {
		major, ai, _, start, q, err := head(data, p)
		if err != nil { // a reserved or truncated head is malformed, not mistyped
			return nil, q, d.fail(field, q, err, "")
		}
		return nil, start, d.failType(field, start, mismatch(major, ai), wantName)
	}
	end, err := skip(data, start, depthElem, d.max)
	if err != nil {
		return nil, end, d.fail(field, end, err, "")
	}
	return data[start:end:end], end, nil
}

// dict reads the Options|Details|Extra dict: a view of the whole dict goes
// to m.Dict, and every known key is decoded into m.Details.
func (d *decoder) dict(p int, field string) (int, error) {
	data, det := d.data, &d.m.Details
	it, start, q, err := open(data, p, majorMap)
	if err != nil {
		return q, d.failType(field, q, err, "want dict")
	}
	if depthElem > d.max {
		return start, d.fail(field, start, codec.ErrDepth, "")
	}
	for {
		more, nq, err := it.more(data, q)
		if err != nil {
			return nq, d.fail(field, nq, err, "")
		}
		if !more {
			q = nq
			break
		}
		mark := len(d.m.Buf)
		name, vq, err := d.key(nq)
		if err != nil {
			return vq, d.fail(field, vq, err, "")
		}
		k, known := codec.LookupKey(name)
		// A key concatenated from chunks into m.Buf is not needed once
		// looked up (skip does not touch m.Buf, so name stays intact for
		// the error path).
		d.m.Buf = d.m.Buf[:mark]
		if !known {
			if q, err = skip(data, vq, depthKeyValue, d.max); err != nil {
				return q, d.fail(field+"."+string(name), q, err, "")
			}
			continue
		}
		if q, err = d.detail(k, vq, field); err != nil {
			return q, err
		}
	}
	d.m.Dict = codec.Raw{Format: codec.CBOR, Bytes: data[start:q:q]}
	det.Finish()
	return q, nil
}

// detail decodes the value of known key k at p into m.Details.
func (d *decoder) detail(k codec.Key, p int, field string) (int, error) {
	data, det := d.data, &d.m.Details
	major, ai, arg, start, q, err := head(data, p)
	if err != nil {
		return q, d.fail(keyField(field, k), q, err, "")
	}
	if isNull(major, ai) {
		det.Clear(k)
		return q, nil
	}
	kind := codec.KeyKinds[k]
	switch kind {
	case codec.KindBool:
		if major == majorSimple && (ai == aiTrue || ai == aiFalse) {
			det.SetBool(k, ai == aiTrue)
			return q, nil
		}
		return start, d.failType(keyField(field, k), start, mismatch(major, ai), "want bool")
	case codec.KindInt, codec.KindID:
		switch major {
		case majorUint:
			if kind == codec.KindID && arg > codec.MaxID {
				return start, d.fail(keyField(field, k), start, codec.ErrRange, "id above 2^53")
			}
			det.SetUint(k, arg)
			return q, nil
		case majorNeg:
			return start, d.fail(keyField(field, k), start, codec.ErrRange, "negative")
		}
		return start, d.failType(keyField(field, k), start, mismatch(major, ai), "want integer")
	case codec.KindString:
		s, q, err := d.text(start)
		if err != nil {
			return q, d.failType(keyField(field, k), q, err, "want string")
		}
		det.SetString(k, s)
		return q, nil
	case codec.KindIDList:
		return d.idList(k, start, field)
	case codec.KindStringList:
		return d.stringList(k, start, major, field)
	case codec.KindRoles:
		return d.roles(start, field)
	default: // KindDict: authextra, kept as a view
		if major != majorMap {
			return start, d.failType(keyField(field, k), start, mismatch(major, ai), "want dict")
		}
		end, err := skip(data, start, depthKeyValue, d.max)
		if err != nil {
			return end, d.fail(keyField(field, k), end, err, "")
		}
		det.AuthExtra = codec.Raw{Format: codec.CBOR, Bytes: data[start:end:end]}
		det.Mark(k)
		return end, nil
	}
}

// idList decodes a list of IDs, appending into the Details slice so its
// capacity is reused across messages.
func (d *decoder) idList(k codec.Key, p int, field string) (int, error) {
	data := d.data
	it, start, q, err := open(data, p, majorArray)
	if err != nil {
		return q, d.failType(keyField(field, k), q, err, "want list of ids")
	}
	if depthKeyValue > d.max {
		return start, d.fail(keyField(field, k), start, codec.ErrDepth, "")
	}
	l := d.m.Details.IDList(k)
	*l = (*l)[:0]
	for {
		more, nq, err := it.more(data, q)
		if err != nil {
			return nq, d.fail(keyField(field, k), nq, err, "")
		}
		if !more {
			d.m.Details.Mark(k)
			return nq, nil
		}
		var v uint64
		v, q, err = d.id(nq, "")
		if err != nil {
			// The field is named here, not passed in, so that the
			// success path builds no strings.
			if ce, ok := err.(*codec.Error); ok {
				ce.Field = keyField(field, k)
			}
			return q, err
		}
		*l = append(*l, v)
	}
}

// stringList decodes a list of strings; a single string is accepted as a
// one-element list.
func (d *decoder) stringList(k codec.Key, p int, major byte, field string) (int, error) {
	data := d.data
	l := d.m.Details.StringList(k)
	*l = (*l)[:0]
	if major == majorText {
		s, q, err := d.text(p)
		if err != nil {
			return q, d.fail(keyField(field, k), q, err, "")
		}
		*l = append(*l, s)
		d.m.Details.Mark(k)
		return q, nil
	}
	it, start, q, err := open(data, p, majorArray)
	if err != nil {
		return q, d.failType(keyField(field, k), q, err, "want list of strings")
	}
	if depthKeyValue > d.max {
		return start, d.fail(keyField(field, k), start, codec.ErrDepth, "")
	}
	for {
		more, nq, err := it.more(data, q)
		if err != nil {
			return nq, d.fail(keyField(field, k), nq, err, "")
		}
		if !more {
			d.m.Details.Mark(k)
			return nq, nil
		}
		var s []byte
		s, q, err = d.text(nq)
		if err != nil {
			return q, d.failType(keyField(field, k), q, err, "want string")
		}
		*l = append(*l, s)
	}
}

// roles decodes HELLO/WELCOME "roles": {role: {"features": {name: bool}}}.
// Known roles set Details.Roles; known features set to true set
// Details.Features. Unknown roles, features and other keys are validated
// and ignored; null stands for absent at every level. elem is the dict's
// element name; field paths are built only on error paths.
func (d *decoder) roles(p int, elem string) (int, error) {
	data, det := d.data, &d.m.Details
	it, start, q, err := open(data, p, majorMap)
	if err != nil {
		return q, d.failType(elem+".roles", q, err, "want dict")
	}
	if depthKeyValue > d.max {
		return start, d.fail(elem+".roles", start, codec.ErrDepth, "")
	}
	for {
		more, nq, err := it.more(data, q)
		if err != nil {
			return nq, d.fail(elem+".roles", nq, err, "")
		}
		if !more {
			det.Mark(codec.KeyRoles)
			return nq, nil
		}
		mark := len(d.m.Buf)
		name, vq, err := d.key(nq)
		if err != nil {
			return vq, d.fail(elem+".roles", vq, err, "")
		}
		role, known := codec.LookupRole(name)
		if !known {
			if q, err = skip(data, vq, depthKeyValue+1, d.max); err != nil {
				return q, d.fail(elem+".roles."+string(name), q, err, "")
			}
			d.m.Buf = d.m.Buf[:mark]
			continue
		}
		d.m.Buf = d.m.Buf[:mark]
		if q, err = d.role(role, vq, elem); err != nil {
			return q, err
		}
	}
}

// role decodes the dict of one known role.
func (d *decoder) role(role codec.Role, p int, elem string) (int, error) {
	data, det := d.data, &d.m.Details
	ri := codec.RoleIndex(role)
	rname := codec.RoleNames[ri]
	major, ai, _, start, q, err := head(data, p)
	if err != nil {
		return q, d.fail(elem+".roles."+rname, q, err, "")
	}
	if isNull(major, ai) {
		return q, nil
	}
	it, start, q, err := open(data, start, majorMap)
	if err != nil {
		return q, d.failType(elem+".roles."+rname, q, err, "want dict")
	}
	if depthKeyValue+1 > d.max {
		return start, d.fail(elem+".roles."+rname, start, codec.ErrDepth, "")
	}
	det.Roles |= role
	for {
		more, nq, err := it.more(data, q)
		if err != nil {
			return nq, d.fail(elem+".roles."+rname, nq, err, "")
		}
		if !more {
			return nq, nil
		}
		mark := len(d.m.Buf)
		name, vq, err := d.key(nq)
		if err != nil {
			return vq, d.fail(elem+".roles."+rname, vq, err, "")
		}
		if string(name) != "features" {
			if q, err = skip(data, vq, depthKeyValue+2, d.max); err != nil {
				return q, d.fail(elem+".roles."+rname+"."+string(name), q, err, "")
			}
			d.m.Buf = d.m.Buf[:mark]
			continue
		}
		d.m.Buf = d.m.Buf[:mark]
		if q, err = d.features(ri, vq, elem); err != nil {
			return q, err
		}
	}
}

// features decodes a role's "features" dict into Details.Features[ri].
func (d *decoder) features(ri, p int, elem string) (int, error) {
	data, det := d.data, &d.m.Details
	major, ai, _, start, q, err := head(data, p)
	if err != nil {
		return q, d.fail(featuresField(elem, ri), q, err, "")
	}
	if isNull(major, ai) {
		return q, nil
	}
	it, start, q, err := open(data, start, majorMap)
	if err != nil {
		return q, d.failType(featuresField(elem, ri), q, err, "want dict")
	}
	if depthKeyValue+2 > d.max {
		return start, d.fail(featuresField(elem, ri), start, codec.ErrDepth, "")
	}
	for {
		more, nq, err := it.more(data, q)
		if err != nil {
			return nq, d.fail(featuresField(elem, ri), nq, err, "")
		}
		if !more {
			return nq, nil
		}
		mark := len(d.m.Buf)
		name, vq, err := d.key(nq)
		if err != nil {
			return vq, d.fail(featuresField(elem, ri), vq, err, "")
		}
		f, known := codec.LookupFeature(name)
		if !known {
			if q, err = skip(data, vq, depthKeyValue+3, d.max); err != nil {
				return q, d.fail(featuresField(elem, ri)+"."+string(name), q, err, "")
			}
			d.m.Buf = d.m.Buf[:mark]
			continue
		}
		major, ai, _, start, nq, err := head(data, vq)
		if err != nil {
			return nq, d.fail(featuresField(elem, ri)+"."+string(name), nq, err, "")
		}
		switch {
		case major == majorSimple && ai == aiTrue:
			det.Features[ri] |= f
		case major == majorSimple && ai == aiFalse, isNull(major, ai):
		default:
			return start, d.failType(featuresField(elem, ri)+"."+string(name), start, mismatch(major, ai), "want bool")
		}
		d.m.Buf = d.m.Buf[:mark]
		q = nq
	}
}

// featuresField names a role's features dict in errors.
func featuresField(elem string, ri int) string {
	return elem + ".roles." + codec.RoleNames[ri] + ".features"
}
