package codectest

import (
	"fmt"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
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
		alloctest.Zero(t, fmt.Sprintf("Decode %s", c.Name), func() { _ = cd.Decode(&m, data) })
		alloctest.Zero(t, fmt.Sprintf("Append %s", c.Name), func() { dst, _ = cd.Append(dst[:0], &m) })
		m.Dict = codec.Raw{}
		alloctest.Zero(t, fmt.Sprintf("Append from Details %s", c.Name), func() { dst, _ = cd.Append(dst[:0], &m) })
	}
}
