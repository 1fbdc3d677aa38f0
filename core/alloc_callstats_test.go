package core_test

import (
	"strconv"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// TestAllocsCallCanceledAndError: the outcomes counted besides RESULT —
// a callee's ERROR and a CANCEL (skip, then the callee's late YIELD) —
// allocate nothing once warm.
func TestAllocsCallCanceledAndError(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	callee.register("com.echo", nil)
	caller := join(t, r, codec.JSON)
	var m codec.Message
	jc := codec.ByFormat(codec.JSON)
	buf := make([]byte, 0, 128)
	call := func() (req uint64) {
		req = caller.req()
		buf = jsonCall(buf[:0], req, "com.echo")
		_ = caller.l.Write(buf)
		inv, ok := callee.l.TryRead()
		if !ok || jc.Decode(&m, inv) != nil || m.Type != codec.INVOCATION {
			t.Fatal("no INVOCATION")
		}
		return req
	}
	expectError := func() {
		res, ok := caller.l.TryRead()
		if !ok || jc.Decode(&m, res) != nil || m.Type != codec.ERROR {
			t.Fatal("no ERROR")
		}
	}
	run := func() {
		call()
		buf = append(buf[:0], "[8,68,"...)
		buf = strconv.AppendUint(buf, m.Request, 10)
		buf = append(buf, `,{},"com.example.oops"]`...)
		_ = callee.l.Write(buf)
		expectError()

		req := call()
		id := m.Request
		buf = append(buf[:0], "[49,"...)
		buf = strconv.AppendUint(buf, req, 10)
		buf = append(buf, `,{"mode":"skip"}]`...)
		_ = caller.l.Write(buf)
		expectError()
		// The callee's late answer is discarded; it frees the invocation.
		buf = jsonYield(buf[:0], id)
		_ = callee.l.Write(buf)
	}
	alloctest.Zero(t, "CALL → ERROR, CALL → CANCEL", run)
}
