package msgpack

import "github.com/zwamp/zwamp/codec"

// lookupKey is codec.LookupKey through a perfect hash of (length, first,
// second and last byte), found at init for the fixed set of key names: one
// table probe and one comparison instead of a scan of the names of that
// length. Options/Details decoding calls it for every key.
func lookupKey(name []byte) (codec.Key, bool) {
	if len(name) < 2 || keyMul == 0 {
		return codec.LookupKey(name)
	}
	k := keyTable[keyHash(name, keyMul)]
	if k < codec.NumKeys && string(name) == codec.KeyNames[k] {
		return k, true
	}
	return 0, false
}

const keyTableBits = 7

var (
	keyTable [1 << keyTableBits]codec.Key
	keyMul   uint32 // 0 when no perfect hash was found: use codec.LookupKey
)

func keyHash(name []byte, mul uint32) uint32 {
	x := uint32(name[0]) | uint32(name[1])<<8 | uint32(name[len(name)-1])<<16 | uint32(len(name))<<24
	return (x * mul) >> (32 - keyTableBits)
}

func init() {
	// Deterministic search over odd multipliers; the names are fixed, so
	// this finds the same table on every start (in well under a millisecond).
search:
	for mul := uint32(0x9E3779B1); mul < 0x9E3779B1+1<<20; mul += 2 {
		for i := range keyTable {
			keyTable[i] = codec.NumKeys
		}
		for k := codec.Key(0); k < codec.NumKeys; k++ {
			h := keyHash([]byte(codec.KeyNames[k]), mul)
			if keyTable[h] != codec.NumKeys {
				continue search
			}
			keyTable[h] = k
		}
		keyMul = mul
		return
	}
}
