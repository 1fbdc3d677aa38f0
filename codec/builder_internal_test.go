package codec

import "testing"

// TestBuilderBoundsCounts: a container whose announced size exceeds the
// payload does not make the builder reserve that much.
func TestBuilderBoundsCounts(t *testing.T) {
	var b Builder
	b.limit = 5
	b.BeginArray(1 << 40)
	if c := cap(b.stack[0].list); c > 5 {
		t.Fatalf("reserved %d elements for a 5-byte payload", c)
	}
	b.BeginMap(-1)
	b.End()
	b.End()
	if b.list == nil || len(b.list) != 1 {
		t.Fatalf("list %v", b.list)
	}
}
