package codectest

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// CheckCaseAllocs requires that, once a Message and an output buffer are
// warm, Decode, Append with the Dict view and Append from the typed
// Details allocate nothing, for every Case as encode writes it: the typed
// keys, roles, lists and payloads of all message types, not only the hot
// ones.
func CheckCaseAllocs(t *testing.T, cd codec.Codec, encode func(t testing.TB, v any) []byte) {
	t.Helper()
	var m codec.Message
	dst := make([]byte, 0, 4096)
	for _, c := range Cases {
		data := encode(t, c.Value)
		if err := cd.Decode(&m, data); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if n := testing.AllocsPerRun(50, func() { _ = cd.Decode(&m, data) }); n != 0 {
			t.Errorf("Decode %s: %v allocs/op", c.Name, n)
		}
		if n := testing.AllocsPerRun(50, func() { dst, _ = cd.Append(dst[:0], &m) }); n != 0 {
			t.Errorf("Append %s: %v allocs/op", c.Name, n)
		}
		m.Dict = codec.Raw{}
		if n := testing.AllocsPerRun(50, func() { dst, _ = cd.Append(dst[:0], &m) }); n != 0 {
			t.Errorf("Append from Details %s: %v allocs/op", c.Name, n)
		}
	}
}
