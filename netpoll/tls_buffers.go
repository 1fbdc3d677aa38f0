package netpoll

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"sync"
	"unsafe"
)

// Idle TLS connections without input buffers.
//
// crypto/tls keeps two buffers in every tls.Conn for the connection's
// whole life: rawInput (ciphertext read from the socket, with the
// plaintext of the current record decrypted in place and viewed by
// input) and hand (handshake messages). Both grow during the handshake to
// the size of the ClientHello — ~1.8 KB with the ML-KEM key share current
// clients send — and bytes.Buffer never shrinks, so an idle session holds
// ~3.5 KB it will not use again (measured with TestTLSIdleMemory: 2.0 KB
// rawInput, 1.5 KB hand per session).
//
// Go offers no way to release them, and forking crypto/tls would give up
// its security fixes. So netpoll reaches the three fields directly, the
// one place it touches crypto/tls's internals, under these rules:
//   - The fields are found by name and exact type with reflect at start-up
//     (tlsBufFields); if a Go release renames or retypes any of them the
//     whole mechanism is off (tlsBufs.ok false) and connections keep the
//     buffers as before: slower to free, never wrong. TestTLSBufferFields
//     fails then, so the loss is seen.
//   - They are touched only while crypto/tls cannot: under tlsStream.mu,
//     which serialises every tls.Conn.Read (the only crypto/tls path that
//     uses them after the handshake; Write and Close use the output side),
//     and only when crypto/tls holds nothing in them (rawInput and hand
//     empty, input drained). Replacing an empty bytes.Buffer by the zero
//     Buffer, or an empty bytes.Reader by Reset(nil), changes no
//     behaviour: crypto/tls grows them again when it needs to (its own
//     readRecordOrCCS starts with input.Reset(nil)).
//
// With that, rawInput is borrowed: each OnData lends the connection a
// pooled buffer (so crypto/tls's Grow does not allocate) and takes it back
// once every complete record is read; a connection keeps a buffer of its
// own, sized to the bytes, only while a partial record is pending (an
// allocation per read that ends inside a record: large messages, which
// allocate anyway). hand is released once, after the handshake.

// tlsBufSize is the pooled rawInput buffer: a full record (16 KiB of
// plaintext plus header and AEAD overhead) plus bytes.MinRead, which is
// what crypto/tls's readFromUntil grows it by.
const (
	tlsBufSize    = 18 << 10
	tlsBufMaxPool = 256 << 10 // larger ones (a burst of big records) are left to the GC
)

type tlsBufFields struct {
	ok                    bool
	rawInput, input, hand uintptr // offsets in tls.Conn
}

var tlsBufs = findTLSBufFields()

func findTLSBufFields() tlsBufFields {
	t := reflect.TypeFor[tls.Conn]()
	field := func(name string, want reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		if !ok || f.Type != want || len(f.Index) != 1 {
			return 0, false
		}
		return f.Offset, true
	}
	buf, rd := reflect.TypeFor[bytes.Buffer](), reflect.TypeFor[bytes.Reader]()
	var f tlsBufFields
	var ok1, ok2, ok3 bool
	f.rawInput, ok1 = field("rawInput", buf)
	f.input, ok2 = field("input", rd)
	f.hand, ok3 = field("hand", buf)
	f.ok = ok1 && ok2 && ok3
	return f
}

func tlsRawInput(tc *tls.Conn) *bytes.Buffer {
	return (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), tlsBufs.rawInput))
}

func tlsInput(tc *tls.Conn) *bytes.Reader {
	return (*bytes.Reader)(unsafe.Add(unsafe.Pointer(tc), tlsBufs.input))
}

func tlsHand(tc *tls.Conn) *bytes.Buffer {
	return (*bytes.Buffer)(unsafe.Add(unsafe.Pointer(tc), tlsBufs.hand))
}

// tlsBufPool holds rawInput buffers between reads. The boxes travel with
// the buffers (tlsStream.box), so lending and taking back allocate
// nothing.
var tlsBufPool = sync.Pool{New: func() any { b := make([]byte, 0, tlsBufSize); return &b }}

// afterHandshake releases what the handshake grew and the connection will
// not use again. The caller holds t.mu (nothing reads yet).
func (t *tlsStream) afterHandshake() {
	if !tlsBufs.ok {
		return
	}
	if h := tlsHand(t.tc); h.Len() == 0 {
		*h = bytes.Buffer{}
	}
	if r := tlsRawInput(t.tc); r.Len() == 0 && tlsInput(t.tc).Len() == 0 {
		*r = bytes.Buffer{} // ClientHello-sized; the first read borrows a pooled one
		tlsInput(t.tc).Reset(nil)
	}
}

// lend gives rawInput a pooled buffer if it has none. The caller holds
// t.mu.
func (t *tlsStream) lend() {
	if !tlsBufs.ok || t.box != nil {
		return
	}
	r := tlsRawInput(t.tc)
	if r.Len() != 0 || r.Cap() != 0 {
		return // its own, holding a partial record
	}
	box := tlsBufPool.Get().(*[]byte)
	if cap(*box) < tlsBufSize {
		*box = make([]byte, 0, tlsBufSize)
	}
	t.box = box
	*r = *bytes.NewBuffer((*box)[:0])
}

// reclaim takes rawInput's buffer back (to the pool, in the box it was
// lent in) once crypto/tls holds nothing in it. The caller holds t.mu.
func (t *tlsStream) reclaim() {
	if !tlsBufs.ok {
		return
	}
	r, in := tlsRawInput(t.tc), tlsInput(t.tc)
	if in.Len() != 0 {
		return // not drained (the connection is closing)
	}
	if r.Len() != 0 {
		// A partial record: the connection keeps it in a buffer of its
		// own, sized to it, so that a peer leaving a byte of a record
		// on every connection does not pin a pooled buffer each.
		if box := t.box; box != nil {
			p := r.Bytes()
			own := make([]byte, len(p), len(p)+bytes.MinRead)
			copy(own, p)
			*r = *bytes.NewBuffer(own)
			in.Reset(nil)
			t.box = nil
			*box = (*box)[:0]
			tlsBufPool.Put(box)
		}
		return
	}
	r.Reset()
	b := r.Bytes()[:0] // the whole backing array, possibly regrown by crypto/tls
	*r = bytes.Buffer{}
	in.Reset(nil)
	if cap(b) < tlsBufSize || cap(b) > tlsBufMaxPool {
		b = nil // the connection's own small one, or a burst's: left to the GC
	}
	box := t.box
	t.box = nil
	if box == nil {
		if b == nil {
			return
		}
		box = new([]byte) // rare: a connection's own grown buffer joins the pool
	}
	*box = b
	tlsBufPool.Put(box)
}
