package tally

import "github.com/zwamp/zwamp/codec"

// Tally keeps the books of a Writer for a format with definite container
// lengths (MessagePack, CBOR): the element counts promised by BeginArray
// and BeginMap, string map keys, and the first error. Such a format writes
// the count in the container's header, so a token source that miscounts
// would otherwise produce output that reads back as a different value.
//
// A Writer embeds a Tally, calls Item before writing each token, Push after
// writing a container header and Pop from End, and clears it with Reset.
// After the first failure Item reports false, so nothing more is written.
// Once its stack has grown to the deepest nesting seen, a Tally does not
// allocate. The zero value is ready to use.
type Tally struct {
	// err and detail are the first failure, turned into an *codec.Error by Err
	// (so that recording one allocates nothing and stays cheap to inline).
	err    error
	detail string
	// open holds, per open container, the tokens still owed: remaining<<1,
	// with the low bit set for a map (whose even remainders are keys).
	open []uint64
}

// Max is the largest container length Push accepts.
const Max = 1 << 60

// Reset forgets the error and any open containers, keeping capacity.
func (t *Tally) Reset() { t.err, t.detail, t.open = nil, "", t.open[:0] }

// Err returns the first error recorded since Reset or, when there is none
// but a container is still open, an error saying so: the output is not a
// complete value until every Push has its Pop.
func (t *Tally) Err() error {
	switch {
	case t.err != nil:
		return &codec.Error{Field: "payload", Offset: -1, Err: t.err, Detail: t.detail}
	case len(t.open) > 0:
		return &codec.Error{Field: "payload", Offset: -1, Err: codec.ErrCount, Detail: "container not closed"}
	}
	return nil
}

// Fail records err (one of the sentinels) with detail, unless an error is
// recorded already.
func (t *Tally) Fail(err error, detail string) {
	if t.err == nil {
		t.err, t.detail = err, detail
	}
}

// Item accounts for one token about to be written; key says whether it is
// a string, which may serve as a map key. It reports whether to write the
// token: false after an earlier failure, or when the token is one more than
// the innermost container announced, or is a non-string where a map key is
// due (both recorded).
func (t *Tally) Item(key bool) bool {
	if t.err != nil {
		return false
	}
	n := len(t.open) - 1
	if n < 0 {
		return true // a top-level value
	}
	// Kept small enough to inline into the Writers' methods: failures are
	// stored directly (t.err is nil here, and so is t.detail).
	switch top := t.open[n]; {
	case top < 2:
		t.err, t.detail = codec.ErrCount, "more elements than announced"
	case top&3 == 1 && !key:
		// An even number of tokens left in a map: this one is a key.
		t.err = codec.ErrKey
	default:
		t.open[n] = top - 2
		return true
	}
	return false
}

// Push opens a container of n elements (n pairs when isMap). The container
// itself is a token of its parent: call Item(false) first. n outside
// [0, Max] is codec.ErrUnsupported.
func (t *Tally) Push(n int, isMap bool) {
	if n < 0 || n > Max {
		t.Fail(codec.ErrUnsupported, "bad container length")
		return
	}
	tokens := uint64(n) << 1
	if isMap {
		tokens = uint64(n)<<2 | 1
	}
	if t.open == nil {
		t.open = make([]uint64, 0, 16)
	}
	t.open = append(t.open, tokens)
}

// Pop closes the innermost container, which must have received exactly the
// elements it announced; otherwise it records the problem.
func (t *Tally) Pop() {
	if t.err != nil {
		return
	}
	n := len(t.open)
	if n == 0 {
		t.Fail(codec.ErrCount, "End without Begin")
		return
	}
	if t.open[n-1] > 1 {
		t.Fail(codec.ErrCount, "fewer elements than announced")
		return
	}
	t.open = t.open[:n-1]
}
