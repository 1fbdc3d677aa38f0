package bench

import "errors"

// A stamp is the fixed-size tail of every payload the load tool sends: it
// says who sent the message, its sequence number and when it was sent, so
// a receiver can count losses and latencies without decoding the message.
// It is printable ASCII, hence a valid JSON, MessagePack or CBOR string
// unchanged, and it is the last bytes of the payload string, which is the
// last element of the message: receivers find it at a fixed distance from
// the end of the message (see findStamp).
//
//	'#' SSSS QQQQQQQQQQ TTTTTTTTTTTT
//	     |    |          send time, ns since the run's epoch (12 hex digits, 78 h)
//	     |    sequence number per source (10 hex digits)
//	     source: publisher or caller index (4 hex digits)
const (
	stampLen   = 27
	stampMark  = '#'
	srcDigits  = 4
	seqDigits  = 10
	timeDigits = 12

	// MinPayload is the smallest --payload: the stamp must fit.
	MinPayload = stampLen
	// MaxSources bounds the number of publishers or callers of a run.
	MaxSources = 1 << (4 * srcDigits)
)

const hexDigits = "0123456789abcdef"

// unhex maps an ASCII byte to its hex value, or 0xFF.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < 16; i++ {
		t[hexDigits[i]] = byte(i)
	}
	for i := 10; i < 16; i++ {
		t['A'+i-10] = byte(i)
	}
	return t
}()

// putStamp writes a stamp into b (len(b) >= stampLen).
func putStamp(b []byte, src int, seq uint64, ts int64) {
	_ = b[stampLen-1]
	b[0] = stampMark
	putHex(b[1:1+srcDigits], uint64(src))
	putHex(b[1+srcDigits:1+srcDigits+seqDigits], seq)
	putHex(b[1+srcDigits+seqDigits:stampLen], uint64(ts))
}

// putHex writes v as len(b) hex digits, most significant first, dropping
// higher digits.
func putHex(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[v&15]
		v >>= 4
	}
}

// parseHex reads the hex number in b; ok is false for a non-hex byte.
func parseHex(b []byte) (v uint64, ok bool) {
	var bad byte
	for _, c := range b {
		d := unhex[c]
		bad |= d
		v = v<<4 | uint64(d&15)
	}
	return v, bad&0xF0 == 0
}

// errNoStamp is a message whose payload lacks a stamp: not one of ours, or
// a router that changed the payload.
var errNoStamp = errors.New("bench: payload carries no stamp (not sent by this tool, or altered by the router)")

// parseStamp decodes a stamp.
func parseStamp(b []byte) (src int, seq uint64, ts int64, err error) {
	if len(b) != stampLen || b[0] != stampMark {
		return 0, 0, 0, errNoStamp
	}
	s, ok1 := parseHex(b[1 : 1+srcDigits])
	q, ok2 := parseHex(b[1+srcDigits : 1+srcDigits+seqDigits])
	t, ok3 := parseHex(b[1+srcDigits+seqDigits : stampLen])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, errNoStamp
	}
	return int(s), q, int64(t), nil
}
