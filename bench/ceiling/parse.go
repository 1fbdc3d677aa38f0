package ceiling

// The few bytes the ceiling reads of a WAMP message. Every function
// returns ok == false rather than reading out of bounds.

// head reads the start of a message in format f: its type, its element
// count (MessagePack only; 0 for JSON) and the elements after the type.
func head(f int, b []byte) (typ, n int, rest []byte, ok bool) {
	if f == fmtJSON {
		typ, rest, ok = jsonHead(b)
		return typ, 0, rest, ok
	}
	return msgpackHead(b)
}

// jsonHead reads `[TYPE,` and returns the type and what follows the comma
// (rest is empty for a message of one element).
func jsonHead(b []byte) (typ int, rest []byte, ok bool) {
	p := skipWS(b, 0)
	if p >= len(b) || b[p] != '[' {
		return 0, nil, false
	}
	p = skipWS(b, p+1)
	start := p
	for p < len(b) && b[p] >= '0' && b[p] <= '9' && p-start < 5 {
		typ = typ*10 + int(b[p]-'0')
		p++
	}
	if p == start {
		return 0, nil, false
	}
	p = skipWS(b, p)
	if p < len(b) && b[p] == ',' {
		return typ, b[p+1:], true
	}
	return typ, nil, p < len(b) && b[p] == ']'
}

// msgpackHead reads a fixarray header and a positive fixint type.
func msgpackHead(b []byte) (typ, n int, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0xF0 != 0x90 || b[1] >= 0x80 {
		return 0, 0, nil, false
	}
	return int(b[1]), int(b[0] & 0x0F), b[2:], true
}

// requestID returns the encoded request id at the start of rest (its bytes,
// verbatim, for the answer) and what follows it: in JSON after the comma,
// in MessagePack the next element.
func requestID(f int, rest []byte) (req, after []byte, ok bool) {
	if f == fmtJSON {
		p := skipWS(rest, 0)
		start := p
		for p < len(rest) && rest[p] >= '0' && rest[p] <= '9' && p-start < 17 {
			p++
		}
		if p == start {
			return nil, nil, false
		}
		req = rest[start:p]
		p = skipWS(rest, p)
		if p < len(rest) && rest[p] == ',' {
			return req, rest[p+1:], true
		}
		return req, rest[p:], p < len(rest) && rest[p] == ']'
	}
	if len(rest) == 0 {
		return nil, nil, false
	}
	n := 1
	switch c := rest[0]; {
	case c < 0x80:
	case c >= 0xcc && c <= 0xcf:
		n += 1 << (c - 0xcc)
	default:
		return nil, nil, false
	}
	if len(rest) < n {
		return nil, nil, false
	}
	return rest[:n], rest[n:], true
}

// skipTwo skips two elements (Options and the URI) and returns the rest of
// the message: in JSON from the separator after the URI (`,[...]]` or
// `]`), in MessagePack the remaining elements.
func skipTwo(f int, b []byte) (rest []byte, ok bool) {
	if f == fmtJSON {
		p, ok := jsonSkip(b, 0)
		if !ok {
			return nil, false
		}
		p = skipWS(b, p)
		if p >= len(b) || b[p] != ',' {
			return nil, false
		}
		p, ok = jsonSkip(b, p+1)
		if !ok {
			return nil, false
		}
		p = skipWS(b, p)
		if p >= len(b) || (b[p] != ',' && b[p] != ']') {
			return nil, false
		}
		return b[p:], true
	}
	p, ok := msgpackSkip(b, 0, 0)
	if !ok {
		return nil, false
	}
	p, ok = msgpackSkip(b, p, 0)
	if !ok {
		return nil, false
	}
	return b[p:], true
}

func skipWS(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// jsonSkip skips one JSON value starting at p (after optional whitespace)
// by counting brackets outside strings; it does not validate.
func jsonSkip(b []byte, p int) (int, bool) {
	p = skipWS(b, p)
	if p >= len(b) {
		return p, false
	}
	switch b[p] {
	case '"':
		return jsonSkipString(b, p)
	case '{', '[':
		depth := 0
		for p < len(b) {
			switch b[p] {
			case '"':
				q, ok := jsonSkipString(b, p)
				if !ok {
					return q, false
				}
				p = q
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return p + 1, true
				}
			}
			p++
		}
		return p, false
	case ',', ']', '}':
		return p, false
	}
	for p < len(b) && b[p] != ',' && b[p] != ']' && b[p] != '}' && b[p] != ' ' {
		p++
	}
	return p, true
}

// jsonSkipString skips the string whose opening quote is at p.
func jsonSkipString(b []byte, p int) (int, bool) {
	for p++; p < len(b); p++ {
		switch b[p] {
		case '\\':
			p++
		case '"':
			return p + 1, true
		}
	}
	return p, false
}

// msgpackSkip skips one MessagePack value at p. Nesting deeper than 64 is
// refused.
func msgpackSkip(b []byte, p, depth int) (int, bool) {
	if p >= len(b) || depth > 64 {
		return p, false
	}
	c := b[p]
	p++
	var size, items int // bytes to skip, then nested values to skip
	switch {
	case c < 0x80 || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
	case c < 0x90:
		items = 2 * int(c&0x0F)
	case c < 0xa0:
		items = int(c & 0x0F)
	case c < 0xc0:
		size = int(c & 0x1F)
	default:
		var w, extra int // w: length field width; extra: fixed bytes
		switch c {
		case 0xc4, 0xd9:
			w = 1
		case 0xc5, 0xda:
			w = 2
		case 0xc6, 0xdb:
			w = 4
		case 0xc7:
			w, extra = 1, 1
		case 0xc8:
			w, extra = 2, 1
		case 0xc9:
			w, extra = 4, 1
		case 0xca:
			extra = 4
		case 0xcb:
			extra = 8
		case 0xcc, 0xd0:
			extra = 1
		case 0xcd, 0xd1:
			extra = 2
		case 0xce, 0xd2:
			extra = 4
		case 0xcf, 0xd3:
			extra = 8
		case 0xd4:
			extra = 2
		case 0xd5:
			extra = 3
		case 0xd6:
			extra = 5
		case 0xd7:
			extra = 9
		case 0xd8:
			extra = 17
		case 0xdc, 0xde:
			w = 2
		case 0xdd, 0xdf:
			w = 4
		default:
			return p, false // 0xc1, never used
		}
		if len(b)-p < w {
			return p, false
		}
		n := 0
		for _, d := range b[p : p+w] {
			n = n<<8 | int(d)
		}
		p += w
		switch c {
		case 0xdc, 0xdd:
			items = n
		case 0xde, 0xdf:
			items = 2 * n
		default:
			size = n + extra
		}
	}
	if size < 0 || len(b)-p < size {
		return p, false
	}
	p += size
	for i := 0; i < items; i++ {
		var ok bool
		if p, ok = msgpackSkip(b, p, depth+1); !ok {
			return p, false
		}
	}
	return p, true
}
