package json

// The WAMP binary convention puts standard base64 (RFC 4648 §4) after a
// leading U+0000. encoding/base64 would do the decoding, but it silently
// skips '\r' and '\n' and reports bad input through an error value that
// allocates; a string that is not valid base64 is simply a string here, so
// a small strict decoder that says yes or no is both simpler and cheaper.

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// b64Val maps a base64 character to its 6-bit value and anything else to 0xff.
var b64Val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(b64Alphabet); i++ {
		t[b64Alphabet[i]] = byte(i)
	}
	return
}()

// decodeBase64 appends the bytes encoded by s to dst. It accepts padded
// input (length a multiple of 4, one or two '=') and unpadded input (no
// '=', length not 1 mod 4). Like encoding/base64's default mode, it ignores
// non-zero bits in the unused tail of the last character. ok is false (and
// dst unspecified beyond its original length) when s is not base64.
func decodeBase64(dst, s []byte) ([]byte, bool) {
	n := len(s)
	if n%4 == 0 && n > 0 && s[n-1] == '=' {
		n--
		if s[n-1] == '=' {
			n--
		}
		// Padding must complete the last quantum exactly.
		if n%4 != 4-(len(s)-n) {
			return dst, false
		}
	}
	if n%4 == 1 {
		return dst, false
	}
	s = s[:n]
	for len(s) >= 4 {
		a, b, c, d := b64Val[s[0]], b64Val[s[1]], b64Val[s[2]], b64Val[s[3]]
		if (a|b|c|d)&0xc0 != 0 { // 0xff marks a non-alphabet byte
			return dst, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst = append(dst, byte(v>>16), byte(v>>8), byte(v))
		s = s[4:]
	}
	switch len(s) {
	case 2:
		a, b := b64Val[s[0]], b64Val[s[1]]
		if (a|b)&0xc0 != 0 {
			return dst, false
		}
		dst = append(dst, a<<2|b>>4)
	case 3:
		a, b, c := b64Val[s[0]], b64Val[s[1]], b64Val[s[2]]
		if (a|b|c)&0xc0 != 0 {
			return dst, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
		dst = append(dst, byte(v>>16), byte(v>>8))
	}
	return dst, true
}
